package httpapi

import "net/http"

// secureHeaders marks every answer X-Content-Type-Options: nosniff (a browser never guesses a
// type other than the one sent), and every answer to a request carrying a token
// Cache-Control: no-store (what one principal reads is kept by no cache on the way, nor by the
// browser). Handlers set their own Cache-Control on public answers only (menus' no-cache).
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Header.Get("Authorization") != "" {
			h.Set("Cache-Control", "no-store")
			w = &noStoreWriter{ResponseWriter: w}
		}
		next.ServeHTTP(w, r)
	})
}

// noStoreWriter keeps Cache-Control: no-store whatever a handler set before writing.
type noStoreWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *noStoreWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		w.Header().Set("Cache-Control", "no-store")
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *noStoreWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer (SSE flushes, deadlines).
func (w *noStoreWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
