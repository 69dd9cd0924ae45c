package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush on the real writer (for SSE).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// instrument counts and times every request by route, method and status. The route is the
// pattern the mux matched ("/v1/orders/{id}"), which only the request the mux saw carries, so
// routed notes it in a routeNote this puts in the context; requests no route took are
// "unmatched". The method is one of the standard ones or "other": label values stay bounded
// whatever clients send.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		note := &routeNote{}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), routeNoteKey{}, note)))
		route := note.pattern
		if route == "" {
			route = "unmatched"
		} else if i := strings.IndexByte(route, ' '); i >= 0 {
			route = route[i+1:]
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		method := methodLabel(r.Method)
		s.cfg.Metrics.HTTPRequests.WithLabelValues(route, method, strconv.Itoa(rec.status)).Inc()
		s.cfg.Metrics.HTTPDuration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
	})
}

// routeNote carries the pattern the mux matched out to instrument.
type routeNote struct{ pattern string }

type routeNoteKey struct{}

// methodLabel is method as a metric label: the standard methods as they are, anything else
// "other".
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

// limit bounds request bodies (MaxBodyBytes, and ReadTimeout: see readBody) and, except for
// event streams, request time; event streams end when EndStreams is called. A body the
// handler did not read to its end is closed when the answer starts, never drained, and the
// connection with it.
func (s *Server) limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := newReadBody(w, r, s.cfg.MaxBodyBytes, time.Now().Add(s.cfg.ReadTimeout))
		r.Body = body
		bw := &bodyWriter{ResponseWriter: w, body: body}
		defer bw.start() // a handler that wrote nothing: net/http answers 200, and must not drain
		w = bw
		if isStream(r) {
			ctx, cancel := context.WithCancel(r.Context())
			defer cancel()
			defer context.AfterFunc(s.streams, cancel)()
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func isStream(r *http.Request) bool {
	return strings.HasSuffix(r.URL.Path, "/events") || strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				s.logger.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v)
				WriteProblem(w, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}
