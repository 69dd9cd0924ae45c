package customer_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tiffin-dev/tiffin/internal/audit"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/customer"
	"github.com/tiffin-dev/tiffin/internal/store"
)

const ashaJSON = `{"name":"Asha Rao","email":"asha@example.com","phone":"+919876543210","language":"en-IN",
	"address":{"line1":"12 MG Road","city":"Bengaluru","postcode":"560001","country":"IN","lat":12.9716,"lng":77.5946},
	"notify":{"email":true,"in_app":true}}`

func TestHTTPCustomer(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, d store.Dialect) {
		a := newAPI(t, d)
		opsTok := a.token(t, ops)
		asha := a.token(t, self("c-1"))
		ravi := a.token(t, self("c-2"))
		courier := a.token(t, auth.Principal{Subject: "c-1", Role: auth.Courier})

		res := a.do(t, "PUT", "/v1/customers/c-1", opsTok, ashaJSON)
		if res.status != http.StatusCreated || res.header.Get("Location") != "/v1/customers/c-1" {
			t.Fatalf("create: got %d, Location %q, %s; want 201, /v1/customers/c-1", res.status, res.header.Get("Location"), res.body)
		}
		want := map[string]any{
			"id": "c-1", "name": "Asha Rao", "email": "asha@example.com", "phone": "+919876543210", "language": "en-IN",
			"address":    map[string]any{"line1": "12 MG Road", "city": "Bengaluru", "postcode": "560001", "country": "IN", "lat": 12.9716, "lng": 77.5946},
			"notify":     map[string]any{"email": true, "in_app": true},
			"created_at": "2025-03-10T04:00:00Z", "updated_at": "2025-03-10T04:00:00Z",
		}
		if diff := cmp.Diff(want, decode[map[string]any](t, res)); diff != "" {
			t.Errorf("created (-want +got):\n%s", diff)
		}

		a.clock.Advance(time.Minute)
		res = a.do(t, "PUT", "/v1/customers/c-1", opsTok, `{"name":"Asha Rao","language":"hi"}`)
		if res.status != http.StatusOK || res.header.Get("Location") != "" {
			t.Fatalf("replace: got %d, Location %q, %s; want 200 without Location", res.status, res.header.Get("Location"), res.body)
		}
		want = map[string]any{
			"id": "c-1", "name": "Asha Rao", "email": "", "phone": "", "language": "hi",
			"created_at": "2025-03-10T04:00:00Z", "updated_at": "2025-03-10T04:01:00Z",
		}
		if diff := cmp.Diff(want, decode[map[string]any](t, res)); diff != "" {
			t.Errorf("replaced (-want +got):\n%s", diff)
		}

		for _, tok := range []string{opsTok, asha} {
			res = a.do(t, "GET", "/v1/customers/c-1", tok, "")
			if res.status != http.StatusOK {
				t.Fatalf("GET: got %d %s, want 200", res.status, res.body)
			}
			if diff := cmp.Diff(want, decode[map[string]any](t, res)); diff != "" {
				t.Errorf("GET (-want +got):\n%s", diff)
			}
		}

		tests := []struct {
			name, method, path, token, body string
			wantStatus                      int
		}{
			{"another customer reads", "GET", "/v1/customers/c-1", ravi, "", http.StatusNotFound},
			{"a customer reads itself before it exists", "GET", "/v1/customers/c-2", ravi, "", http.StatusNotFound},
			{"ops reads an unknown customer", "GET", "/v1/customers/nobody", opsTok, "", http.StatusNotFound},
			{"a courier reads", "GET", "/v1/customers/c-1", courier, "", http.StatusForbidden},
			{"anonymous reads", "GET", "/v1/customers/c-1", "", "", http.StatusUnauthorized},
			{"a customer writes itself", "PUT", "/v1/customers/c-1", asha, ashaJSON, http.StatusForbidden},
			{"a customer creates itself", "PUT", "/v1/customers/c-2", ravi, ashaJSON, http.StatusForbidden},
			{"anonymous writes", "PUT", "/v1/customers/c-1", "", ashaJSON, http.StatusUnauthorized},
			{"a customer lists", "GET", "/v1/customers", asha, "", http.StatusForbidden},
			{"a customer reads the audit log", "GET", "/v1/ops/audit", asha, "", http.StatusForbidden},
		}
		for _, tt := range tests {
			res := a.do(t, tt.method, tt.path, tt.token, tt.body)
			if res.status != tt.wantStatus {
				t.Errorf("%s: got %d %s, want %d", tt.name, res.status, res.body, tt.wantStatus)
				continue
			}
			if ct := res.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("%s: got Content-Type %q, want application/problem+json", tt.name, ct)
			}
		}
		if _, err := customer.Get(t.Context(), a.db, "c-2"); err == nil {
			t.Error("a customer's refused PUT created c-2")
		}
	})
}

// Bad input answers 422 naming the field, whether the schema (huma) or the service catches it.
func TestHTTPValidation(t *testing.T) {
	t.Parallel()
	a := newAPI(t, store.SQLite)
	opsTok := a.token(t, ops)
	put := func(from, to string) string { return strings.Replace(ashaJSON, from, to, 1) }
	tests := []struct {
		name, path, body string
		want             string
	}{
		{"bad id", "/v1/customers/a%20b", ashaJSON, "path.id"},
		{"long id", "/v1/customers/" + strings.Repeat("c", 65), ashaJSON, "path.id"},
		// huma names a missing property in the message ("expected required property name to
		// be present"), at location body, as on every route.
		{"no name", "/v1/customers/c-1", put(`"name":"Asha Rao",`, ""), "body"},
		{"blank name", "/v1/customers/c-1", put(`"Asha Rao"`, `"   "`), "body.name"},
		{"long name", "/v1/customers/c-1", put(`Asha Rao`, strings.Repeat("a", 201)), "body.name"},
		{"bad email", "/v1/customers/c-1", put(`asha@example.com`, `asha@`), "body.email"},
		{"email with a display name", "/v1/customers/c-1", put(`"asha@example.com"`, `"Asha <asha@example.com>"`), "body.email"},
		{"notify by email without one", "/v1/customers/c-1", put(`"email":"asha@example.com",`, ""), "body.email"},
		{"bad phone", "/v1/customers/c-1", put(`+919876543210`, `98765`), "body.phone"},
		{"bad language", "/v1/customers/c-1", put(`"en-IN"`, `"klingon!"`), "body.language"},
		{"lat out of range", "/v1/customers/c-1", put(`12.9716`, `91`), "body.address.lat"},
		{"lat without lng", "/v1/customers/c-1", put(`,"lng":77.5946`, ""), "body.address.lng"},
		{"bad country", "/v1/customers/c-1", put(`"IN"`, `"XQ"`), "body.address.country"},
		{"postal address without country", "/v1/customers/c-1", put(`"country":"IN",`, ""), "body.address.country"},
		{"long city", "/v1/customers/c-1", put(`Bengaluru`, strings.Repeat("b", 101)), "body.address.city"},
		{"notify not a boolean", "/v1/customers/c-1", put(`"in_app":true`, `"in_app":"yes"`), "body.notify.in_app"},
		{"unknown field", "/v1/customers/c-1", put(`{`, `{"vip":true,`), "body.vip"},
	}
	for _, tt := range tests {
		res := a.do(t, "PUT", tt.path, opsTok, tt.body)
		if res.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: got %d %s, want 422", tt.name, res.status, res.body)
			continue
		}
		if diff := cmp.Diff([]string{tt.want}, locations(t, res)); diff != "" {
			t.Errorf("%s: error locations (-want +got):\n%s", tt.name, diff)
		}
	}
	if res := a.do(t, "GET", "/v1/customers?limit=101", opsTok, ""); res.status != http.StatusUnprocessableEntity {
		t.Errorf("limit 101: got %d %s, want 422", res.status, res.body)
	}
}

func TestHTTPListCustomers(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, d store.Dialect) {
		a := newAPI(t, d)
		opsTok := a.token(t, ops)
		var want []string
		for i := range 5 {
			id := fmt.Sprintf("c-%d", i)
			want = append(want, id)
			if res := a.do(t, "PUT", "/v1/customers/"+id, opsTok, `{"name":"Customer `+id+`"}`); res.status != http.StatusCreated {
				t.Fatalf("create %s: got %d %s", id, res.status, res.body)
			}
		}
		type page struct {
			Customers []customer.Customer `json:"customers"`
			Next      string              `json:"next"`
		}
		var got []string
		var pages int
		for after := ""; ; {
			res := a.do(t, "GET", "/v1/customers?limit=2&after="+after, opsTok, "")
			if res.status != http.StatusOK {
				t.Fatalf("list after %q: got %d %s", after, res.status, res.body)
			}
			p := decode[page](t, res)
			pages++
			for _, c := range p.Customers {
				got = append(got, c.ID)
				if c.Name != "Customer "+c.ID {
					t.Errorf("listed %s with name %q", c.ID, c.Name)
				}
			}
			if p.Next == "" {
				break
			}
			if pages > 5 {
				t.Fatalf("more than 5 pages of 2 for 5 customers: next %q", p.Next)
			}
			after = p.Next
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("listed IDs (-want +got):\n%s", diff)
		}
		if pages != 3 {
			t.Errorf("got %d pages of 2 for 5 customers, want 3", pages)
		}
	})
}

func TestHTTPAuditLog(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, d store.Dialect) {
		a := newAPI(t, d)
		alice := a.token(t, auth.Principal{Subject: "alice", Role: auth.Ops})
		bob := a.token(t, auth.Principal{Subject: "bob", Role: auth.Ops})
		steps := []struct {
			token, id string
		}{{alice, "c-1"}, {bob, "c-2"}, {bob, "c-1"}, {alice, "c-1"}}
		for i, s := range steps {
			if res := a.do(t, "PUT", "/v1/customers/"+s.id, s.token, fmt.Sprintf(`{"name":"Name %d"}`, i)); res.status >= 300 {
				t.Fatalf("step %d: got %d %s", i, res.status, res.body)
			}
			a.clock.Advance(time.Second)
		}
		// A refused write is not recorded.
		if res := a.do(t, "PUT", "/v1/customers/c-1", alice, `{"name":"x","phone":"1"}`); res.status != http.StatusUnprocessableEntity {
			t.Fatalf("refused write: got %d %s", res.status, res.body)
		}

		type page struct {
			Entries []audit.Entry `json:"entries"`
			Next    int64         `json:"next"`
		}
		type row struct {
			Actor, Action, Target, Detail string
			At                            time.Time
		}
		rows := func(es []audit.Entry) []row {
			var out []row
			for _, e := range es {
				out = append(out, row{e.Actor, e.Action, e.Target, string(e.Detail), e.At})
			}
			return out
		}
		var got []audit.Entry
		for before := int64(0); ; {
			res := a.do(t, "GET", fmt.Sprintf("/v1/ops/audit?target=customer:c-1&limit=2&before=%d", before), alice, "")
			if res.status != http.StatusOK {
				t.Fatalf("audit before %d: got %d %s", before, res.status, res.body)
			}
			p := decode[page](t, res)
			got = append(got, p.Entries...)
			if p.Next == 0 {
				break
			}
			if len(got) > 3 {
				t.Fatalf("more pages than entries: next %d after %d entries", p.Next, len(got))
			}
			before = p.Next
		}
		want := []row{
			{"ops:alice", customer.ActionUpdate, "customer:c-1", `{"fields":["name"]}`, t0.Add(3 * time.Second)},
			{"ops:bob", customer.ActionUpdate, "customer:c-1", `{"fields":["name"]}`, t0.Add(2 * time.Second)},
			{"ops:alice", customer.ActionCreate, "customer:c-1", `{"fields":["name"]}`, t0},
		}
		if diff := cmp.Diff(want, rows(got)); diff != "" {
			t.Errorf("c-1's audit log, paged by 2 (-want +got):\n%s", diff)
		}

		res := a.do(t, "GET", "/v1/ops/audit?actor=ops:bob", alice, "")
		if res.status != http.StatusOK {
			t.Fatalf("audit by actor: got %d %s", res.status, res.body)
		}
		p := decode[page](t, res)
		want = []row{
			{"ops:bob", customer.ActionUpdate, "customer:c-1", `{"fields":["name"]}`, t0.Add(2 * time.Second)},
			{"ops:bob", customer.ActionCreate, "customer:c-2", `{"fields":["name"]}`, t0.Add(time.Second)},
		}
		if diff := cmp.Diff(want, rows(p.Entries)); diff != "" || p.Next != 0 {
			t.Errorf("bob's entries (-want +got):\n%s\nnext %d, want 0", diff, p.Next)
		}
		for _, q := range []string{"limit=501", "limit=-1", "before=-1"} {
			if res := a.do(t, "GET", "/v1/ops/audit?"+q, alice, ""); res.status != http.StatusUnprocessableEntity {
				t.Errorf("audit ?%s: got %d %s, want 422", q, res.status, res.body)
			}
		}
	})
}
