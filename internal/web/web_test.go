package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path string) (int, http.Header, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, rec.Result().Header, string(b)
}

// TestDocsOffline: the reference page loads its script and styles from this server, never
// from another host, and both are served from the binary.
func TestDocsOffline(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	Docs(mux, "/v1/openapi.yaml")
	code, h, page := get(t, mux, "/v1/docs")
	if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("/v1/docs: got %d %s", code, h.Get("Content-Type"))
	}
	if strings.Contains(page, "//") && strings.Contains(page, "http") {
		t.Errorf("/v1/docs names another host:\n%s", page)
	}
	for _, want := range []string{`src="/v1/docs/assets/web-components.min.js"`, `href="/v1/docs/assets/styles.min.css"`, `apiDescriptionUrl="/v1/openapi.yaml"`} {
		if !strings.Contains(page, want) {
			t.Errorf("/v1/docs lacks %s", want)
		}
	}
	if !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("CSP: got %q, want scripts from this server only", h.Get("Content-Security-Policy"))
	}
	for path, want := range map[string]string{
		"/v1/docs/assets/web-components.min.js": "javascript",
		"/v1/docs/assets/styles.min.css":        "text/css",
		"/v1/docs/assets/LICENSE":               "text/plain",
	} {
		code, h, body := get(t, mux, path)
		if code != http.StatusOK || !strings.Contains(h.Get("Content-Type"), want) || len(body) < 1000 {
			t.Errorf("%s: got %d %q, %d bytes", path, code, h.Get("Content-Type"), len(body))
		}
	}
	if code, _, _ := get(t, mux, "/"); code != http.StatusNotFound {
		t.Errorf("/ without the home page: got %d, want 404", code)
	}
	if code, _, body := get(t, mux, "/v1/docs/assets/"); code != http.StatusNotFound {
		t.Errorf("/v1/docs/assets/: got %d, want 404 (no directory listing):\n%s", code, body)
	}
}

// TestHome: / answers a page linking the reference; other paths stay unrouted.
func TestHome(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	Docs(mux, "/v1/openapi.yaml")
	Home(mux)
	code, h, page := get(t, mux, "/")
	if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(page, `href="/v1/docs"`) {
		t.Errorf("/: got %d %s %q, want a page linking /v1/docs", code, h.Get("Content-Type"), page)
	}
	if code, _, _ := get(t, mux, "/nothing"); code != http.StatusNotFound {
		t.Errorf("/nothing: got %d, want 404", code)
	}
}
