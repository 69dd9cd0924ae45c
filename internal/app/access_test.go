package app_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/app"
	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/ratelimit"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// startEveryRoute boots the app with every route it can serve: every service, dev's fakes and
// home page.
func startEveryRoute(t *testing.T, tweak func(*app.Config)) *apptest.App {
	t.Helper()
	return apptest.Start(t, store.SQLite, func(c *app.Config) {
		c.HomePage, c.FakeCarrier, c.CatchMail = true, true, true
		if tweak != nil {
			tweak(c)
		}
	})
}

// TestAccessTable (issue 8, build item 2): every route the app serves, read from its mux, has
// a row in app.Access, and every row is a route served, so a route added without declaring who
// may call it fails here (and stops the app from starting), as does a row left behind. The
// OpenAPI document agrees: each operation has a row, and declares bearer security exactly
// when its row names roles.
func TestAccessTable(t *testing.T) {
	t.Parallel()
	a := startEveryRoute(t, nil)
	served := map[string]bool{}
	for _, p := range a.Routes() {
		served[p] = true
		if _, ok := app.Access[p]; !ok {
			t.Errorf("route %q has no row in app.Access", p)
		}
	}
	for p := range app.Access {
		if !served[p] {
			t.Errorf("app.Access has a row for %q, which no route serves", p)
		}
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Security []map[string][]string `json:"security"`
		} `json:"paths"`
	}
	a.Do("GET", "/v1/openapi.json", "", nil).JSON(t, &doc)
	n := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			n++
			pattern := strings.ToUpper(method) + " " + path
			roles, ok := app.Access[pattern]
			if !ok {
				t.Errorf("OpenAPI operation %s has no row in app.Access", pattern)
				continue
			}
			bearer := slices.ContainsFunc(op.Security, func(m map[string][]string) bool { _, ok := m["bearer"]; return ok })
			if bearer != (len(roles) > 0) {
				t.Errorf("%s: OpenAPI security %v, app.Access roles %v", pattern, op.Security, roles)
			}
		}
	}
	if n < 45 {
		t.Errorf("only %d OpenAPI operations, want every route's", n)
	}
}

// TestEveryRouteEveryRole (issue 8, build item 2) calls every route the app serves (from its
// mux) without a token, with a forged one, and with a token of each role, on objects that do
// not exist or are someone else's: without a token a route with roles answers 401, a forged
// token 401, a role the route's row leaves out 403 from the edge, a role it allows anything
// but 401 and the edge's 403 (an object-level 403 or 404 is the handler's business), and
// nothing ever 5xx.
func TestEveryRouteEveryRole(t *testing.T) {
	t.Parallel()
	a := startEveryRoute(t, func(c *app.Config) {
		c.RateLimits.Off = false // the sweep goes through the limits as clients do
		// One forged token per route: more than the bad-token bucket holds, whose own test is
		// TestBadTokenBurst.
		c.RateLimits.BadTokens = ratelimit.Rate{N: 1000, Per: time.Second, Burst: 1000}
	})
	tokens := map[auth.Role]string{}
	for _, r := range auth.Roles {
		tokens[r] = a.Token(r, "sweep-"+string(r))
	}
	concrete := strings.NewReplacer("{id}", "x-1", "{item_id}", "i-1", "{offer_id}", "o-1",
		"{carrier}", "carrier", "{schema}", "Nothing", "{$}", "")
	routes := a.Routes()
	if len(routes) < 50 {
		t.Fatalf("only %d routes served, want every service's", len(routes))
	}
	// Routes that need no token but authenticate their callers their own way: carriers sign
	// their webhooks, and an unsigned one is the handler's 401 whatever token comes with it.
	ownAuth := map[string]bool{"POST /v1/carriers/{carrier}/webhooks": true}
	refusedByRole := func(body []byte) bool {
		var p problem
		return json.Unmarshal(body, &p) == nil && strings.HasPrefix(p.Detail, "role ")
	}
	for _, pattern := range routes {
		method, path, _ := strings.Cut(pattern, " ")
		path = concrete.Replace(path)
		if strings.HasSuffix(path, "/") && path != "/" {
			path += "x"
		}
		var body any
		if method != http.MethodGet && method != http.MethodDelete {
			body = "{}"
		}
		allowed := app.Access[pattern]
		call := func(token string) apptest.Response {
			r := a.Do(method, path, token, body, "Idempotency-Key", "sweep", "Last-Event-ID", "999999")
			if r.Status >= 500 {
				t.Errorf("%s with token %.12q: got %d %s", pattern, token, r.Status, r.Body)
			}
			return r
		}
		if len(allowed) > 0 {
			if r := call(""); r.Status != http.StatusUnauthorized {
				t.Errorf("%s without a token: got %d, want 401", pattern, r.Status)
			}
		}
		if r := call("not-a-token"); r.Status != http.StatusUnauthorized {
			t.Errorf("%s with a forged token: got %d, want 401", pattern, r.Status)
		}
		for _, role := range auth.Roles {
			r := call(tokens[role])
			switch {
			case len(allowed) == 0 || slices.Contains(allowed, role):
				if (r.Status == http.StatusUnauthorized && !ownAuth[pattern]) || (r.Status == http.StatusForbidden && refusedByRole(r.Body)) {
					t.Errorf("%s as %s (allowed): got %d %s", pattern, role, r.Status, r.Body)
				}
			case r.Status != http.StatusForbidden:
				t.Errorf("%s as %s (not allowed): got %d, want 403", pattern, role, r.Status)
			case !refusedByRole(r.Body):
				t.Errorf("%s as %s: 403 %s does not say the role is refused", pattern, role, r.Body)
			}
		}
	}
}
