// Package httpapi is tiffin's HTTP edge: the mux and huma API under /v1 with its OpenAPI 3.1
// document, authentication and role checks, request limits, metrics, health endpoints, and the
// one mapping from errors to RFC 9457 problem+json responses.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"path"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/telemetry"
	"github.com/tiffin-dev/tiffin/internal/web"
)

// Config configures the edge. The zero value works apart from Keys, which is required.
type Config struct {
	// Version is reported in the OpenAPI document. Default "dev".
	Version string
	// Keys verifies bearer tokens: an auth.Verifier of configured public keys, or the dev
	// key pair (auth.Keys).
	Keys Verifier
	// Metrics records request metrics and is served at /metrics. Default: a fresh registry.
	Metrics *telemetry.Metrics
	// Logger receives access-level errors. Default: slog.Default().
	Logger *slog.Logger
	// RequestTimeout bounds each non-streaming request. Default 15s.
	RequestTimeout time.Duration
	// MaxBodyBytes bounds request bodies. Default 1 MiB.
	MaxBodyBytes int64
	// ReadTimeout bounds how long a request's body may take to arrive, counted from when the
	// request reaches the edge, whoever reads it; a body still arriving then is cut off (408
	// when a handler was reading it). The app's http.Server has the same ReadTimeout for the
	// whole request, headers included. Default 30s.
	ReadTimeout time.Duration
	// MetricsApart leaves /metrics off this server's mux: the app serves MetricsHandler on a
	// listener of its own (--metrics-addr). Default false: /metrics is served here, to ops
	// tokens only.
	MetricsApart bool
	// Ready reports whether the app can serve all of its traffic; /readyz answers 503 with
	// Retry-After and a reason while it errors. A fault.Down (or several, joined) is named as
	// the reason without its cause: "degraded: database unreachable".
	Ready func(ctx context.Context) error
	// Classify gives errors from outside tiffin's code (a database driver's) their fault kind
	// before Status maps them, e.g. store.Classify, which makes "connection refused" a
	// fault.Down. Default: errors are taken as they are.
	Classify func(error) error
	// RetryAfter is the Retry-After of every 503. Default 1s.
	RetryAfter time.Duration
	// Access is the route x role table the edge enforces before any handler runs (the app's
	// is app.Access). Every route registered must have a row: Handle panics on a route
	// without one or whose roles differ from its row, a plain route without one answers 403
	// to everyone, and Undeclared lists them. Default nil: no table, each Handle's roles only.
	Access Access
	// Limits are the rate limits and stream caps; see Limits for the defaults.
	Limits Limits
}

// Verifier checks a bearer token and says whose it is; every refusal wraps auth.ErrInvalidToken.
type Verifier interface {
	Verify(ctx context.Context, token string) (auth.Principal, error)
}

// Server holds the mux and the huma API that services register their routes on.
type Server struct {
	cfg    Config
	mux    *Mux
	api    huma.API
	logger *slog.Logger

	// streams ends, through EndStreams, the contexts of event streams in flight.
	streams    context.Context
	endStreams context.CancelFunc

	streamSlots streamSlots
}

// New builds the edge with /healthz, /readyz, /metrics and /v1/openapi.json in place.
func New(cfg Config) *Server {
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.Metrics == nil {
		cfg.Metrics = telemetry.NewMetrics()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 15 * time.Second
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.Classify == nil {
		cfg.Classify = func(err error) error { return err }
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = time.Second
	}
	cfg.Limits.setDefaults()
	installBoundedErrors()
	mux := &Mux{ServeMux: http.NewServeMux()}
	hc := huma.DefaultConfig("tiffin", cfg.Version)
	hc.Info.Description = "tiffin: an open-source food-delivery platform. Errors are RFC 9457 problem+json."
	hc.OpenAPIPath = "/v1/openapi"
	hc.DocsPath = "" // the reference is served from the binary (web.Docs), not from a CDN
	hc.SchemasPath = "/v1/schemas"
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", BearerFormat: "JWT"},
	}
	hc.CreateHooks = nil // no $schema links in bodies: clients see plain resources
	hc.Formats = map[string]huma.Format{"application/json": jsonFormat, "json": jsonFormat}
	hc.Components.Schemas = huma.NewMapRegistry("#/components/schemas/", schemaName)
	api := humago.New(mux, hc)
	s := &Server{cfg: cfg, mux: mux, api: api, logger: cfg.Logger.With("svc", "api")}
	s.streams, s.endStreams = context.WithCancel(context.Background())
	web.Docs(mux, hc.OpenAPIPath+".yaml")

	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	if !cfg.MetricsApart {
		mux.Handle("GET /metrics", opsOnly(s.MetricsHandler()))
	}
	return s
}

// DefaultReadTimeout is Config.ReadTimeout's default.
const DefaultReadTimeout = 30 * time.Second

// MetricsHandler serves the metrics registry in Prometheus' text format, to anyone: for a
// listener of its own (Config.MetricsApart), which only the operators' network reaches.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.cfg.Metrics.Registry, promhttp.HandlerOpts{})
}

// opsOnly lets only ops tokens through to next: 401 without a token, 403 with another role.
func opsOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, status, msg := Require(r.Context(), auth.Ops); status != 0 {
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="tiffin"`)
			}
			WriteProblem(w, status, msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// schemaName prefixes huma's default schema name with the Go package of named types, so two
// services may both have an ItemJSON without colliding in the OpenAPI document.
func schemaName(t reflect.Type, hint string) string {
	name := huma.DefaultSchemaNamer(t, hint)
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Name() == "" || t.PkgPath() == "" {
		return name
	}
	pkg := path.Base(t.PkgPath())
	return strings.ToUpper(pkg[:1]) + pkg[1:] + name
}

// API is the huma API that services register operations on (use Handle).
func (s *Server) API() huma.API { return s.api }

// Mux is the underlying mux, for plain handlers such as event streams; each needs a row in
// Config.Access.
func (s *Server) Mux() *Mux { return s.mux }

// Logger is the edge's logger.
func (s *Server) Logger() *slog.Logger { return s.logger }

// EndStreams ends every event stream in flight, and any that starts later, by cancelling its
// request context. Call it when shutting down: other requests are drained, but a stream would
// hold the drain until the grace runs out.
func (s *Server) EndStreams() { s.endStreams() }

// Handler returns the mux wrapped in the edge middleware.
func (s *Server) Handler() http.Handler {
	return secureHeaders(s.recoverer(s.instrument(s.limit(s.guard(http.HandlerFunc(s.routed))))))
}

// routed serves r on the mux. It notes the pattern the mux matched for instrument (the mux
// sets it on the request it is given, not on the ones the middleware before it saw), and has
// the mux's own answers for paths no route takes (404) or methods a path does not take (405)
// written as problem+json like every other error.
func (s *Server) routed(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(&muxWriter{ResponseWriter: w, r: r}, r)
	if note, ok := r.Context().Value(routeNoteKey{}).(*routeNote); ok {
		note.pattern = r.Pattern
	}
}

// muxWriter turns the mux's plain-text 404 and 405 into problem+json. It acts only on
// requests no pattern matched: a route's own 404 is already a problem.
type muxWriter struct {
	http.ResponseWriter
	r       *http.Request
	swallow bool // the mux's text is not sent: the problem was written instead
}

func (w *muxWriter) WriteHeader(code int) {
	if w.r.Pattern == "" && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
		detail := "no route for this path"
		if code == http.StatusMethodNotAllowed {
			detail = "this path does not take this method; the Allow header lists those it takes"
		}
		w.Header().Del("Content-Length")
		WriteProblem(w.ResponseWriter, code, detail)
		w.swallow = true
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *muxWriter) Write(p []byte) (int, error) {
	if w.swallow {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *muxWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.cfg.Ready(ctx); err != nil {
			w.Header().Set("Retry-After", s.retryAfter())
			WriteProblem(w, http.StatusServiceUnavailable, readiness(err))
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"status":"ready"}`))
}

// readiness is /readyz's reason: "degraded: database unreachable" for each dependency down
// (a fault.Down; the cause is left to the logs), "not ready: ..." for anything else.
func readiness(err error) string {
	var down []string
	var other []string
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var d *fault.Down
		if errors.As(e, &d) {
			down = append(down, d.Dependency+" unreachable")
		} else {
			other = append(other, e.Error())
		}
	}
	if len(other) > 0 {
		return "not ready: " + strings.Join(append(down, other...), "; ")
	}
	return "degraded: " + strings.Join(down, "; ")
}

// retryAfter is the Retry-After header value: whole seconds, at least 1.
func (s *Server) retryAfter() string {
	return strconv.Itoa(max(1, int(math.Ceil(s.cfg.RetryAfter.Seconds()))))
}
