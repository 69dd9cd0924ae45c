// Package web serves tiffin's embedded pages: the API reference at /v1/docs (Stoplight
// Elements, vendored under assets/elements and served from the binary, so the page works
// offline) and, in development, a small home page at / linking it.
package web

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed assets/home.html assets/elements/web-components.min.js assets/elements/styles.min.css assets/elements/LICENSE assets/elements/web-components.min.js.LICENSE.txt
var assets embed.FS

// DocsPath is where the API reference is served; its assets are under DocsPath + "/assets/".
const DocsPath = "/v1/docs"

// csp keeps the reference to this server: its scripts, styles and API calls.
const csp = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; " +
	"script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'"

var docsPage = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tiffin API</title>
<link rel="stylesheet" href="{{.Assets}}styles.min.css">
<script src="{{.Assets}}web-components.min.js"></script>
</head>
<body style="height: 100vh;">
<elements-api apiDescriptionUrl="{{.OpenAPI}}" router="hash" layout="sidebar" tryItCredentialsPolicy="same-origin"></elements-api>
</body>
</html>
`))

// Mux is where pages are registered: an *http.ServeMux, or the edge's mux.
type Mux interface {
	Handle(pattern string, handler http.Handler)
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}

// Docs serves the API reference at DocsPath on mux, rendering the OpenAPI document at openAPI.
func Docs(mux Mux, openAPI string) {
	elements, _ := fs.Sub(assets, "assets/elements") // a literal path of the embedded FS: cannot fail
	files := http.StripPrefix(DocsPath+"/assets/", http.FileServerFS(elements))
	mux.Handle("GET "+DocsPath+"/assets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // files only: no directory listing
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET "+DocsPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", csp)
		docsPage.Execute(w, struct{ Assets, OpenAPI string }{DocsPath + "/assets/", openAPI})
	})
}

// Home serves the home page at / (exactly) on mux.
func Home(mux Mux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", csp)
		http.ServeFileFS(w, r, assets, "assets/home.html")
	})
}
