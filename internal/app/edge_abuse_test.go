package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tiffin-dev/tiffin/internal/app"
	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// openAPIOp is what these tests read of an operation in the app's OpenAPI document.
type openAPIOp struct {
	OperationID string                `json:"operationId"`
	Security    []map[string][]string `json:"security"`
	RequestBody *struct {
		Content map[string]struct {
			Schema struct {
				Ref string `json:"$ref"`
			} `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
}

// route is one operation of the running app: its method, its path with every parameter
// filled in, and the properties of its JSON body's schema (name -> JSON type), if it takes one.
type route struct {
	method, path, id string
	body             map[string]string
	takesBody        bool
}

// routes lists every operation the app's OpenAPI document declares.
func routes(t *testing.T, a *apptest.App) []route {
	t.Helper()
	var doc struct {
		Paths      map[string]map[string]openAPIOp `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Type any `json:"type"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	a.Do("GET", "/v1/openapi.json", "", nil).JSON(t, &doc)
	fill := strings.NewReplacer("{id}", "x-1", "{item_id}", "y-1", "{offer_id}", "z-1", "{carrier}", "carrier")
	var out []route
	for path, ops := range doc.Paths {
		for method, op := range ops {
			r := route{method: strings.ToUpper(method), path: fill.Replace(path), id: op.OperationID}
			if op.RequestBody != nil {
				r.takesBody = true
				r.body = map[string]string{}
				ref := op.RequestBody.Content["application/json"].Schema.Ref
				for name, p := range doc.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")].Properties {
					r.body[name] = fmt.Sprint(p.Type)
				}
			}
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(x, y route) int { return strings.Compare(x.method+x.path, y.method+y.path) })
	return out
}

// roleTokens are a token for each role, the ones allowed most often first.
func roleTokens(a *apptest.App) []string {
	return []string{
		a.Token(auth.Customer, "cust-1"), a.Token(auth.Restaurant, "owner-1"),
		a.Token(auth.Courier, "courier-1"), a.Token(auth.Ops, "ops-1"),
	}
}

// largeBody builds a body of about size bytes meant to draw as many errors as it can: every
// property of the schema given a value of the wrong kind (arrays filled with wrong items),
// the rest unknown properties.
func largeBody(props map[string]string, size int, unknown bool) string {
	var b strings.Builder
	b.WriteString("{")
	sep := func() {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
	}
	if !unknown {
		names := slices.Sorted(func(yield func(string) bool) {
			for n := range props {
				if !yield(n) {
					return
				}
			}
		})
		for _, name := range names {
			sep()
			switch props[name] {
			case "array":
				fmt.Fprintf(&b, "%q:[true", name)
				for i := 0; i < 20_000 && b.Len() < size/2; i++ {
					b.WriteString(",true")
				}
				b.WriteString("]")
			case "string":
				fmt.Fprintf(&b, "%q:%d", name, 7)
			default:
				fmt.Fprintf(&b, "%q:%q", name, strings.Repeat("x", 5000))
			}
		}
	}
	for i := 0; b.Len() < size-64; i++ {
		sep()
		fmt.Fprintf(&b, `"unknown_%d":[%d,{"n":%d}]`, i, i, i)
	}
	b.WriteString("}")
	return b.String()
}

// TestLargestInvalidBodies sends every route that takes a body (read from the OpenAPI
// document) the largest body the edge accepts, full of unknown properties or of values of the
// wrong kind, with a token of a role the route allows: each answer is a 4xx problem under
// 64 KB (issue 8, failure 1: 45 KB of unknown properties were once answered with 17.8 MB).
func TestLargestInvalidBodies(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, store.SQLite, nil)
	tokens := roleTokens(a)
	const size = 1<<20 - 4096 // the edge's limit is 1 MiB
	checked := 0
	for _, r := range routes(t, a) {
		if !r.takesBody {
			continue
		}
		for _, unknown := range []bool{true, false} {
			body := largeBody(r.body, size, unknown)
			validated := false
			for _, tok := range tokens {
				resp := a.Do(r.method, r.path, tok, body)
				if resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden {
					continue // not this role's route: try the next
				}
				validated = true
				if resp.Status < 400 || resp.Status >= 500 {
					t.Errorf("%s %s (%d-byte body, unknown=%v): got %d, want a 4xx", r.method, r.path, len(body), unknown, resp.Status)
				}
				if len(resp.Body) >= 64<<10 {
					t.Errorf("%s %s (%d-byte body, unknown=%v): answer of %d bytes, want under 64 KB", r.method, r.path, len(body), unknown, len(resp.Body))
				}
				var p problem
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") || json.Unmarshal(resp.Body, &p) != nil {
					t.Errorf("%s %s: answer is not problem+json (%s): %.200s", r.method, r.path, ct, resp.Body)
				}
				if len(p.Errors) > 20 {
					t.Errorf("%s %s: %d errors listed, want at most 20", r.method, r.path, len(p.Errors))
				}
				break
			}
			if !validated {
				t.Errorf("%s %s: every role was refused, so its body was never validated", r.method, r.path)
			}
		}
		checked++
	}
	if checked < 10 {
		t.Errorf("only %d routes take a body, want at least 10: is the OpenAPI document read right?", checked)
	}
}

// leaks are what a client-facing message must never contain: internal chains of fault kinds,
// Go types from decoding, wrapping context.
var leaks = []string{
	": not found", ": conflict", ": forbidden", ": invalid", ": gone", ": unavailable",
	"invalid transition: conflict", "Go struct", "Go value", "of type", "json: ", "sql:", "SQLSTATE",
	"dispatch: ",
}

// leaked returns the first of leaks in a problem's detail or error messages, or "".
func leaked(body []byte) string {
	var p problem
	if json.Unmarshal(body, &p) != nil {
		return ""
	}
	texts := []string{p.Detail}
	for _, e := range p.Errors {
		texts = append(texts, e.Message)
	}
	for _, s := range texts {
		for _, l := range leaks {
			if strings.Contains(s, l) {
				return l
			}
		}
	}
	return ""
}

// TestClientErrorsWithoutChains: the cases issue 8 (failure 7) lists answer with their client
// message alone, and a sweep of every route with every role, on objects that do not exist or
// are in the wrong state and with bodies of the wrong kinds, finds no internal chain, Go type
// or wrapping context in any problem.
func TestClientErrorsWithoutChains(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, store.SQLite, func(c *app.Config) { c.NoRelay = true })
	m := seed(t, a, "r-1", "owner-1")
	customer := a.Token(auth.Customer, "cust-1")
	owner := a.Token(auth.Restaurant, "owner-1")
	placed := a.Do("POST", "/v1/orders", customer, orderBody("r-1", m.Items[0].ID, 1), "Idempotency-Key", "k-placed")
	if placed.Status != http.StatusCreated {
		t.Fatalf("place: %d %s", placed.Status, placed.Body)
	}
	var o order
	placed.JSON(t, &o)

	for _, tt := range []struct {
		name, method, path, token string
		body                      any
		status                    int
		detail                    string
	}{
		{"transition from placed", "POST", "/v1/orders/" + o.ID + "/accept", owner, nil, 409, "order is placed, cannot become accepted"},
		{"order not found", "GET", "/v1/orders/o-nope", customer, nil, 404, "order not found"},
		{"restaurant not found", "GET", "/v1/restaurants/r-nope", "", nil, 404, "restaurant not found"},
		{"decode error", "POST", "/v1/orders", customer, `{"restaurant_id":"r-1","items":[{"menu_item_id":"x","quantity":1e30}],"delivery":{"lat":1,"lng":1}}`, 422, ""},
		{"wrong kind", "POST", "/v1/orders", customer, `{"restaurant_id":7,"items":"many","delivery":[]}`, 422, ""},
	} {
		r := a.Do(tt.method, tt.path, tt.token, tt.body, "Idempotency-Key", "k-"+tt.name)
		var p problem
		if json.Unmarshal(r.Body, &p) != nil || r.Status != tt.status {
			t.Errorf("%s: got %d %s, want a %d problem", tt.name, r.Status, r.Body, tt.status)
			continue
		}
		if tt.detail != "" && p.Detail != tt.detail {
			t.Errorf("%s: detail %q, want %q", tt.name, p.Detail, tt.detail)
		}
		if l := leaked(r.Body); l != "" {
			t.Errorf("%s: problem %s contains %q", tt.name, r.Body, l)
		}
	}

	// The sweep: every route, every role, fake IDs, an empty body and a body of wrong kinds.
	answers := 0
	for _, rt := range routes(t, a) {
		if strings.HasSuffix(rt.path, "/events") {
			continue // event streams answer with a stream, not a problem, when allowed
		}
		for _, tok := range append(roleTokens(a), "") {
			for _, body := range []any{nil, "{}", largeBody(rt.body, 4096, false)} {
				r := a.Do(rt.method, rt.path, tok, body, "Idempotency-Key", "k-sweep")
				answers++
				if r.Status >= 500 && r.Status != http.StatusServiceUnavailable {
					t.Errorf("%s %s: got %d %s, want no server error", rt.method, rt.path, r.Status, r.Body)
				}
				if l := leaked(r.Body); l != "" {
					t.Errorf("%s %s: problem %s contains %q", rt.method, rt.path, r.Body, l)
				}
			}
		}
	}
	if answers < 300 {
		t.Errorf("the sweep got %d answers, want at least 300", answers)
	}
}
