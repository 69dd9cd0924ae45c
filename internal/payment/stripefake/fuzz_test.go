package stripefake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// FuzzParseForm: any body either is refused or decodes to parameters whose canonical form
// decodes to the same parameters (so two requests compare equal exactly when their parameters
// do).
func FuzzParseForm(f *testing.F) {
	for _, s := range []string{
		"", "amount=500&currency=inr", "metadata%5Btiffin_order%5D=o%3A1&confirm=true",
		"payment_method_types[0]=card&payment_method_types[1]=card", "a=1&a=2", "a[b][c]=1", "%zz=1",
		"created[gte]=-5&limit=100", "=x", "&&&", "expand[]=latest_charge", "metadata[k]=%C3%28",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := parseForm(raw)
		if err != nil {
			return
		}
		for _, k := range p.keys() {
			if err := checkKey(k); err != nil {
				t.Fatalf("accepted a malformed key %q", k)
			}
		}
		c := p.canonical()
		q, err := parseForm(c)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", c, raw, err)
		}
		if q.canonical() != c || len(q.vals) != len(p.vals) {
			t.Fatalf("canonical form is not stable: %q -> %q", c, q.canonical())
		}
		for k, v := range p.vals {
			if q.vals[k] != v {
				t.Fatalf("key %q: %q became %q", k, v, q.vals[k])
			}
		}
		if _, err := p.list("payment_method_types"); err != nil {
			return
		}
		_ = p.hash("metadata")
	})
}

// FuzzParseQuery: any search query either is refused or parses to clauses that, written back,
// parse to the same clauses.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		`metadata['tiffin_order']:'o1'`, `metadata["k"]:"v" AND status:'succeeded'`, `status:'a\'b\\c'`,
		`metadata:'x'`, `status:'open`, `amount>5`, `a:'1'AND b:'2'`, ``, `metadata['k']'v'`, `x:"\`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		cs, err := parseQuery(q)
		if err != nil {
			return
		}
		parts := make([]string, len(cs))
		for i, c := range cs {
			parts[i] = c.String()
		}
		again, err := parseQuery(strings.Join(parts, " AND "))
		if err != nil {
			t.Fatalf("%q parsed to %v, which written back does not parse: %v", q, cs, err)
		}
		if !slices.Equal(cs, again) {
			t.Fatalf("%q: %v written back parsed to %v", q, cs, again)
		}
	})
}

// FuzzServer sends arbitrary requests (no faults injected): the server never panics, answers
// JSON with a status a Stripe client knows, and keeps every PaymentIntent's money consistent.
func FuzzServer(f *testing.F) {
	f.Add(true, "/v1/payment_intents", "amount=500&currency=inr&capture_method=manual&confirm=true&payment_method=pm_card_visa", "k1", "/v1/payment_intents/pi_fake00000001/capture", "amount_to_capture=400")
	f.Add(true, "/v1/payment_intents", "amount=500&currency=inr&confirm=true&payment_method=pm_card_chargeDeclined", "", "/v1/refunds", "payment_intent=pi_fake00000001")
	f.Add(false, "/v1/payment_intents/search", "query=metadata%5B%27a%27%5D%3A%27b%27", "", "/v1/payment_intents", "limit=0")
	f.Add(true, "/v1/payment_intents", "amount=99999999&currency=usd&confirm=true&payment_method=pm_card_visa", "k", "/v1/payment_intents/pi_fake00000001/cancel", "cancellation_reason=abandoned")
	f.Fuzz(func(t *testing.T, post bool, path1, params1, key, path2, params2 string) {
		s := New(Config{})
		for _, req := range [][2]string{{path1, params1}, {path2, params2}, {path1, params1}} {
			method, body := http.MethodGet, ""
			if post {
				method, body = http.MethodPost, req[1]
			}
			r := httptest.NewRequest(method, "http://stripe.test/", strings.NewReader(body))
			r.URL.Path = req[0]
			if !post {
				r.URL.RawQuery = req[1]
			}
			r.Header.Set("Authorization", "Bearer "+s.Key())
			if key != "" && !strings.ContainsAny(key, "\r\n") {
				r.Header.Set("Idempotency-Key", key)
			}
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			switch w.Code {
			case 200, 400, 402, 404, 409:
			default:
				t.Fatalf("%s %s %q: status %d", method, req[0], req[1], w.Code)
			}
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s %s: not JSON: %q", method, req[0], w.Body.String())
			}
		}
		for _, pi := range s.Intents() {
			if pi.Amount < 1 || pi.Received < 0 || pi.Received > pi.Amount || pi.Refunded > pi.Received ||
				pi.Capturable < 0 || pi.Capturable > pi.Amount || (pi.Capturable > 0 && pi.Status != statusRequiresCapture) {
				t.Fatalf("inconsistent intent: %+v", pi)
			}
		}
	})
}
