package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/tiffin-dev/tiffin/internal/auth"
)

// Access is a route x role table: for each mux pattern ("GET /v1/orders/{id}"), the roles that
// may call it. A route whose roles are empty (Anyone) takes anonymous callers and every role.
type Access map[string][]auth.Role

// Anyone marks a route in an Access table that needs no token.
var Anyone = []auth.Role{}

// Mux is the edge's http.ServeMux, noting every pattern registered on it so the edge can tell
// which routes its Access table leaves out.
type Mux struct {
	*http.ServeMux

	mu       sync.Mutex
	patterns []string
}

// Handle registers handler for pattern.
func (m *Mux) Handle(pattern string, handler http.Handler) {
	m.note(pattern)
	m.ServeMux.Handle(pattern, handler)
}

// HandleFunc registers handler for pattern.
func (m *Mux) HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request)) {
	m.note(pattern)
	m.ServeMux.HandleFunc(pattern, handler)
}

func (m *Mux) note(pattern string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.patterns = append(m.patterns, pattern)
}

// Patterns lists every pattern registered, sorted.
func (m *Mux) Patterns() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := slices.Clone(m.patterns)
	sort.Strings(p)
	return p
}

// Routes lists every pattern the server's mux serves, sorted.
func (s *Server) Routes() []string { return s.mux.Patterns() }

// Undeclared lists the routes served that Config.Access has no row for (none when the server
// has no table: Handle's roles are then the only ones checked).
func (s *Server) Undeclared() []string {
	if s.cfg.Access == nil {
		return nil
	}
	var out []string
	for _, p := range s.Routes() {
		if _, ok := s.cfg.Access[p]; !ok {
			out = append(out, p)
		}
	}
	return out
}

// Declare adds a row to the server's Access table, for routes registered outside the services
// (tests' own routes).
func (s *Server) Declare(pattern string, roles ...auth.Role) {
	if s.cfg.Access == nil {
		s.cfg.Access = Access{}
	}
	s.cfg.Access[pattern] = append(Anyone, roles...)
}

// checkDeclared panics unless the Access table has pattern with exactly roles: a route whose
// handler and table disagree is a programming error found at startup.
func (s *Server) checkDeclared(pattern string, roles []auth.Role) {
	if s.cfg.Access == nil {
		return
	}
	declared, ok := s.cfg.Access[pattern]
	if !ok {
		panic(fmt.Sprintf("httpapi: route %q has no row in the Access table", pattern))
	}
	a, b := slices.Clone(declared), slices.Clone(roles)
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) {
		panic(fmt.Sprintf("httpapi: route %q allows %v in the Access table but its handler %v", pattern, declared, roles))
	}
}

// roleFor checks the principal in r against the Access table's row for pattern: 0 when it may
// go on, else 401 (no token) or 403 (a role the row leaves out, or a route without a row).
func (s *Server) roleFor(r *http.Request, pattern string) (int, string) {
	if s.cfg.Access == nil || pattern == "" {
		return 0, ""
	}
	roles, ok := s.cfg.Access[pattern]
	if !ok {
		return http.StatusForbidden, "this route has no declared roles"
	}
	if len(roles) == 0 {
		return 0, ""
	}
	p, ok := auth.FromContext(r.Context())
	if !ok {
		return http.StatusUnauthorized, "a bearer token is required"
	}
	if !p.Is(roles...) {
		return http.StatusForbidden, "role " + string(p.Role) + " may not use " + strings.TrimSpace(pattern)
	}
	return 0, ""
}
