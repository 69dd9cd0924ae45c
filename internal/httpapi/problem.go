package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/fault"
)

// WriteProblem writes an RFC 9457 problem+json response, for handlers outside huma.
func WriteProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(&huma.ErrorModel{
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
	})
}

// StaleWarning is the Warning header of a response answered from the last copy kept because
// the store could not be reached (RFC 9111 obsoleted Warning, but clients and proxies still
// show it); such responses also carry X-Tiffin-Stale: true.
const StaleWarning = `110 - "Response is Stale"`

// StaleHeaders, embedded in an operation's output, mark a response answered from the last copy
// kept because the store could not be reached. Empty, they are not sent.
type StaleHeaders struct {
	Warning string `header:"Warning" doc:"110 - \"Response is Stale\" when answered from the last copy kept, because the store could not be reached."`
	Stale   string `header:"X-Tiffin-Stale" doc:"true when answered from the last copy kept, because the store could not be reached."`
}

// Stale returns the headers for a response that is stale or not.
func Stale(stale bool) StaleHeaders {
	if !stale {
		return StaleHeaders{}
	}
	return StaleHeaders{Warning: StaleWarning, Stale: "true"}
}

// Status maps an error to its HTTP status and client-safe message: the one place where
// failure kinds (package fault) become status codes. The message is fault.Public's (the
// message of the outermost fault.Error or fault.FieldError, or the kind's own), never the
// error's chain: wrapping context and causes are for the logs. Unknown errors are 500
// "internal error". Every 503, and every 409 of a fault.Busy, is answered with Retry-After
// (retryLater).
func Status(err error) (int, string) {
	var se huma.StatusError
	var down *fault.Down
	var throttled *fault.Throttled
	switch {
	case errors.As(err, &se):
		return se.GetStatus(), se.Error()
	case errors.As(err, &throttled):
		return http.StatusTooManyRequests, throttled.Msg
	case errors.As(err, &down):
		return http.StatusServiceUnavailable, down.Dependency + " unreachable, retry later"
	case errors.Is(err, fault.NotFound):
		return http.StatusNotFound, fault.Public(err)
	case errors.Is(err, fault.Conflict):
		return http.StatusConflict, fault.Public(err)
	case errors.Is(err, fault.Invalid):
		return http.StatusUnprocessableEntity, fault.Public(err)
	case errors.Is(err, fault.Forbidden):
		return http.StatusForbidden, fault.Public(err)
	case errors.Is(err, fault.Unauthenticated):
		return http.StatusUnauthorized, fault.Public(err)
	case errors.Is(err, fault.Gone):
		return http.StatusGone, fault.Public(err)
	case errors.Is(err, fault.Unavailable):
		return http.StatusServiceUnavailable, fault.Public(err)
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "request timed out"
	}
	return http.StatusInternalServerError, "internal error"
}

// retryLater reports whether a 4xx answer tells the client when to retry: a 409 of work still
// running (fault.Busy), which passes on its own, unlike a conflict with the state of things.
func retryLater(status int, err error) bool {
	return status == http.StatusConflict && errors.Is(err, fault.Busy)
}

// toHuma converts a handler error to a huma status error, keeping field locations so the
// problem names the field at fault.
func (s *Server) toHuma(ctx context.Context, err error) error {
	var se huma.StatusError
	if errors.As(err, &se) {
		return err
	}
	err = s.cfg.Classify(err)
	status, msg := Status(err)
	var throttled *fault.Throttled
	switch {
	case status == http.StatusServiceUnavailable:
		s.logUnavailable(ctx, err)
		return huma.ErrorWithHeaders(huma.NewError(status, msg), http.Header{"Retry-After": {s.retryAfter()}})
	case status == http.StatusTooManyRequests && errors.As(err, &throttled):
		return huma.ErrorWithHeaders(huma.NewError(status, msg), http.Header{"Retry-After": {seconds(throttled.RetryAfter)}})
	case status == http.StatusUnauthorized:
		return huma.ErrorWithHeaders(huma.NewError(status, msg), http.Header{"WWW-Authenticate": {`Bearer realm="tiffin"`}})
	case retryLater(status, err):
		return huma.ErrorWithHeaders(huma.NewError(status, msg), http.Header{"Retry-After": {s.retryAfter()}})
	case status >= 500:
		s.logger.ErrorContext(ctx, "request failed", "err", err)
	default:
		s.logRefused(ctx, status, msg, err)
	}
	var fe *fault.FieldError
	if errors.As(err, &fe) {
		return huma.NewError(status, "validation failed", &huma.ErrorDetail{
			Message: fe.Message, Location: fe.Location, Value: shown(fe.Value),
		})
	}
	return huma.NewError(status, msg)
}

// WriteError answers err for handlers outside huma (event streams) as Handle's handlers are
// answered: classified, mapped by Status, logged when it is the server's fault, with
// Retry-After on a 503 and on a fault.Busy 409.
func (s *Server) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	err = s.cfg.Classify(err)
	status, msg := Status(err)
	var throttled *fault.Throttled
	switch {
	case status == http.StatusServiceUnavailable:
		s.logUnavailable(r.Context(), err)
		w.Header().Set("Retry-After", s.retryAfter())
	case status == http.StatusTooManyRequests && errors.As(err, &throttled):
		w.Header().Set("Retry-After", seconds(throttled.RetryAfter))
	case retryLater(status, err):
		w.Header().Set("Retry-After", s.retryAfter())
	case status >= 500:
		s.logger.ErrorContext(r.Context(), "request failed", "err", err)
	default:
		s.logRefused(r.Context(), status, msg, err)
	}
	WriteProblem(w, status, msg)
}

// Public marks a route that needs no token.
var Public []auth.Role

// Handle registers op on the server's API. When roles is non-empty the caller must hold a token
// for one of them (401 without a valid token, 403 with the wrong role); the handler receives the
// principal. Errors are mapped by Status, with field errors kept as problem details.
func Handle[I, O any](s *Server, op huma.Operation, roles []auth.Role,
	h func(ctx context.Context, p auth.Principal, in *I) (*O, error)) {
	s.checkDeclared(strings.ToUpper(op.Method)+" "+op.Path, roles)
	if len(roles) > 0 {
		op.Security = []map[string][]string{{"bearer": {}}}
		if op.Metadata == nil {
			op.Metadata = map[string]any{}
		}
		op.Metadata["roles"] = roles
		op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusForbidden)
		// Authorization runs before huma reads and validates the input, so an anonymous
		// caller learns nothing about a route's input rules.
		op.Middlewares = append(op.Middlewares, func(ctx huma.Context, next func(huma.Context)) {
			if status, msg := authorize(ctx.Context(), roles, op.Summary); status != 0 {
				huma.WriteErr(s.api, ctx, status, msg)
				return
			}
			next(ctx)
		})
	}
	huma.Register(s.api, op, func(ctx context.Context, in *I) (*O, error) {
		var p auth.Principal
		if len(roles) > 0 {
			if status, msg := authorize(ctx, roles, op.Summary); status != 0 {
				return nil, huma.NewError(status, msg)
			}
			p, _ = auth.FromContext(ctx)
		}
		out, err := h(ctx, p, in)
		if err != nil {
			return nil, s.toHuma(ctx, err)
		}
		return out, nil
	})
}

func authorize(ctx context.Context, roles []auth.Role, what string) (int, string) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return http.StatusUnauthorized, "a bearer token is required"
	}
	if !p.Is(roles...) {
		return http.StatusForbidden, "role " + string(p.Role) + " may not " + what
	}
	return 0, ""
}

// Require checks the principal in ctx for handlers outside huma (event streams).
func Require(ctx context.Context, roles ...auth.Role) (auth.Principal, int, string) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return p, http.StatusUnauthorized, "a bearer token is required"
	}
	if !p.Is(roles...) {
		return p, http.StatusForbidden, "role " + string(p.Role) + " may not use this route"
	}
	return p, 0, ""
}

// logUnavailable logs a 503: at debug level when a dependency is down (its outage is logged
// once where it is found), as a warning otherwise.
func (s *Server) logUnavailable(ctx context.Context, err error) {
	var down *fault.Down
	if errors.As(err, &down) {
		s.logger.DebugContext(ctx, "request refused: dependency down", "err", err)
		return
	}
	s.logger.WarnContext(ctx, "request refused: unavailable", "err", err)
}

// logRefused logs, at debug level, the cause of a refusal whose error says more than the
// client was told (msg): the client's message and the logged cause are kept apart, and the
// cause is not lost.
func (s *Server) logRefused(ctx context.Context, status int, msg string, err error) {
	if err.Error() != msg {
		s.logger.DebugContext(ctx, "request refused", "status", status, "told", msg, "err", err)
	}
}

// seconds is d as a Retry-After value: whole seconds, rounded up, at least 1.
func seconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}
