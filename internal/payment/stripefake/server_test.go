package stripefake

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// client speaks to a Server over HTTP as a Stripe client would.
type client struct {
	t    testing.TB
	base string
	key  string
	hc   *http.Client
}

func start(t testing.TB, cfg Config) (*Server, *client) {
	t.Helper()
	s := New(cfg)
	hs := httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); hs.Close() })
	return s, &client{t: t, base: hs.URL, key: s.Key(), hc: &http.Client{Timeout: 2 * time.Second}}
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	err    error
}

func (a answer) str(path ...string) string {
	var v any = a.body
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

func (c *client) do(method, path, idemKey string, params url.Values) answer {
	c.t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(params.Encode())
	} else if len(params) > 0 {
		path += "?" + params.Encode()
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	if err := json.NewDecoder(resp.Body).Decode(&a.body); err != nil {
		c.t.Fatalf("%s %s: undecodable answer: %v", method, path, err)
	}
	return a
}

func authorizeParams(order string, amount string) url.Values {
	return url.Values{
		"amount": {amount}, "currency": {"inr"}, "capture_method": {"manual"}, "confirm": {"true"},
		"payment_method": {"pm_card_visa"}, "payment_method_types[0]": {"card"}, "metadata[tiffin_order]": {order},
	}
}

func TestCardFlow(t *testing.T) {
	t.Parallel()
	s, c := start(t, Config{})
	a := c.do("POST", "/v1/payment_intents", "o1:authorize", authorizeParams("o1", "500"))
	if a.status != 200 || a.str("status") != "requires_capture" {
		t.Fatalf("authorize: got %d %v", a.status, a.body)
	}
	id := a.str("id")
	steps := []struct {
		path, key  string
		params     url.Values
		wantStatus int
		wantCode   string
	}{
		{"/v1/refunds", "o1:refund-early", url.Values{"payment_intent": {id}}, 400, "charge_not_refundable"},
		{"/v1/payment_intents/" + id + "/capture", "o1:capture", url.Values{"amount_to_capture": {"600"}}, 400, "amount_too_large"},
		{"/v1/payment_intents/" + id + "/capture", "o1:capture2", url.Values{"amount_to_capture": {"500"}}, 200, ""},
		{"/v1/payment_intents/" + id + "/capture", "o1:capture3", nil, 400, "payment_intent_unexpected_state"},
		{"/v1/payment_intents/" + id + "/cancel", "o1:void", nil, 400, "payment_intent_unexpected_state"},
		{"/v1/refunds", "o1:refund", url.Values{"payment_intent": {id}, "amount": {"200"}}, 200, ""},
		{"/v1/refunds", "o1:refund2", url.Values{"payment_intent": {id}, "amount": {"400"}}, 400, "amount_too_large"},
		{"/v1/refunds", "o1:refund3", url.Values{"payment_intent": {id}}, 200, ""},
		{"/v1/refunds", "o1:refund4", url.Values{"payment_intent": {id}}, 400, "charge_already_refunded"},
		{"/v1/payment_intents/pi_nope/capture", "o1:capture4", nil, 404, "resource_missing"},
	}
	for i, st := range steps {
		a := c.do("POST", st.path, st.key, st.params)
		if a.status != st.wantStatus || a.str("error", "code") != st.wantCode {
			t.Errorf("step %d POST %s: got %d %v, want %d %s", i, st.path, a.status, a.body, st.wantStatus, st.wantCode)
		}
	}
	got := s.Intents()
	if len(got) != 1 || got[0].Received != 500 || got[0].Refunded != 500 || got[0].Status != "succeeded" {
		t.Errorf("intent after the flow: got %+v", got)
	}
	for e, want := range map[Effect]int{Authorized: 1, Captured: 1, Refunded: 2, Canceled: 0} {
		if n := s.Effects(e); n != want {
			t.Errorf("effects %s: got %d, want %d", e, n, want)
		}
	}

	a = c.do("POST", "/v1/payment_intents", "o2:authorize", authorizeParams("o2", "700"))
	void := c.do("POST", "/v1/payment_intents/"+a.str("id")+"/cancel", "o2:void", nil)
	if void.status != 200 || void.str("status") != "canceled" {
		t.Errorf("void: got %d %v", void.status, void.body)
	}
	if a := c.do("POST", "/v1/payment_intents/"+a.str("id")+"/capture", "o2:capture", nil); a.status != 400 {
		t.Errorf("capture of a cancelled intent: got %d, want 400", a.status)
	}
}

func TestIdempotencyKeys(t *testing.T) {
	t.Parallel()
	s, c := start(t, Config{Latency: 200 * time.Millisecond})
	first := c.do("POST", "/v1/payment_intents", "k1", authorizeParams("o1", "500"))
	again := c.do("POST", "/v1/payment_intents", "k1", authorizeParams("o1", "500"))
	if again.str("id") != first.str("id") || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: got id %q replayed %q, want id %q replayed true", again.str("id"), again.header.Get("Idempotent-Replayed"), first.str("id"))
	}
	other := c.do("POST", "/v1/payment_intents", "k1", authorizeParams("o1", "501"))
	if other.status != 400 || other.str("error", "type") != "idempotency_error" {
		t.Errorf("same key, other parameters: got %d %v, want 400 idempotency_error", other.status, other.body)
	}
	// Two requests with one key at once: the second finds the first still running.
	var wg sync.WaitGroup
	answers := make([]answer, 2)
	for i := range answers {
		wg.Go(func() {
			if i == 1 {
				time.Sleep(50 * time.Millisecond)
			}
			answers[i] = c.do("POST", "/v1/payment_intents", "k2", authorizeParams("o2", "500"))
		})
	}
	wg.Wait()
	if answers[0].status != 200 || answers[1].status != 409 || answers[1].str("error", "code") != "idempotency_key_in_use" {
		t.Errorf("concurrent use of a key: got %d and %d %v, want 200 and 409", answers[0].status, answers[1].status, answers[1].body)
	}
	// A request refused for its parameters keeps nothing: the key can be used again.
	bad := authorizeParams("o3", "500")
	bad.Set("colour", "blue")
	if a := c.do("POST", "/v1/payment_intents", "k3", bad); a.status != 400 || a.str("error", "code") != "parameter_unknown" {
		t.Errorf("unknown parameter: got %d %v", a.status, a.body)
	}
	if a := c.do("POST", "/v1/payment_intents", "k3", authorizeParams("o3", "500")); a.status != 200 {
		t.Errorf("key after a refused request: got %d %v, want 200", a.status, a.body)
	}
	if n := s.Effects(Authorized); n != 3 {
		t.Errorf("authorizations: got %d, want 3", n)
	}
}

func TestDeclinesAndAuth(t *testing.T) {
	t.Parallel()
	s, c := start(t, Config{})
	s.DeclineNext(1)
	for i, p := range []url.Values{authorizeParams("o1", "500"), authorizeParams("o2", "500")} {
		if i == 1 {
			p.Set("payment_method", "pm_card_chargeDeclined")
		}
		a := c.do("POST", "/v1/payment_intents", "", p)
		if a.status != 402 || a.str("error", "type") != "card_error" || a.str("error", "payment_intent", "status") != "requires_payment_method" {
			t.Errorf("decline %d: got %d %v", i, a.status, a.body)
		}
	}
	if a := c.do("POST", "/v1/payment_intents", "", authorizeParams("o3", "500")); a.status != 200 {
		t.Errorf("after the declines: got %d, want 200", a.status)
	}
	if n := s.Effects(Declined); n != 2 {
		t.Errorf("declines: got %d, want 2", n)
	}
	c.key = "sk_test_wrong"
	if a := c.do("GET", "/v1/payment_intents/x", "", nil); a.status != 401 {
		t.Errorf("wrong key: got %d, want 401", a.status)
	}
	req, _ := http.NewRequest("GET", c.base+"/v1/payment_intents?limit=1", nil)
	req.SetBasicAuth(s.Key(), "")
	resp, err := c.hc.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("basic auth: got %v %v, want 200", resp, err)
	}
	resp.Body.Close()
}

// Every fault, then a retry under the same key: the money moved once, and the retry answers
// what Stripe would (a kept 500 replays, a kept success replays, a fault before acting kept
// nothing).
func TestFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		kind       FaultKind
		acts       bool
		retryCode  int
		connBroken bool
	}{
		{"500 before acting", FailBefore, false, 200, false},
		{"500 after acting", FailAfter, true, 500, false},
		{"hang after acting", HangAfter, true, 200, true},
		{"reset after acting", ResetAfter, true, 200, true},
		{"reset before acting", ResetBefore, false, 200, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, c := start(t, Config{})
			c.hc.Timeout = time.Second
			s.Fail(1, Fault{Kind: tc.kind, Op: OpCreate})
			s.Fail(1, Fault{Kind: FailBefore, Op: OpCapture}) // another endpoint's fault is not taken
			a := c.do("POST", "/v1/payment_intents", "k", authorizeParams("o1", "500"))
			if broken := a.err != nil; broken != tc.connBroken || (!broken && a.status != 500) {
				t.Errorf("faulty call: got %d %v, want a broken connection %v or a 500", a.status, a.err, tc.connBroken)
			}
			if got, want := s.Effects(Authorized), boolInt(tc.acts); got != want {
				t.Errorf("acted: got %d, want %d", got, want)
			}
			r := c.do("POST", "/v1/payment_intents", "k", authorizeParams("o1", "500"))
			if r.err != nil || r.status != tc.retryCode {
				t.Errorf("retry: got %d %v, want %d", r.status, r.err, tc.retryCode)
			}
			if got := s.Effects(Authorized); got != 1 {
				t.Errorf("authorizations after the retry: got %d, want 1", got)
			}
			if n := len(s.Intents()); n != 1 {
				t.Errorf("intents: got %d, want 1", n)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestSearchAndList(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	s, c := start(t, Config{Now: clock, SearchLag: time.Minute})
	for i, o := range []string{"o1", "o'2", "o1", "o3"} {
		c.do("POST", "/v1/payment_intents", "", authorizeParams(o, "100"))
		if i == 2 {
			advance(2 * time.Minute) // the first three become searchable
		}
	}
	search := func(q string) []string {
		a := c.do("GET", "/v1/payment_intents/search", "", url.Values{"query": {q}})
		if a.status != 200 {
			t.Fatalf("search %s: got %d %v", q, a.status, a.body)
		}
		var ids []string
		for _, d := range a.body["data"].([]any) {
			ids = append(ids, d.(map[string]any)["id"].(string))
		}
		return ids
	}
	ids := s.Intents()
	if got := search(`metadata['tiffin_order']:'o1'`); len(got) != 2 || got[0] != ids[2].ID {
		t.Errorf("search o1: got %v, want the third then the first", got)
	}
	if got := search(`metadata["tiffin_order"]:"o'2" AND status:'requires_capture'`); len(got) != 1 || got[0] != ids[1].ID {
		t.Errorf("search o'2: got %v, want %s", got, ids[1].ID)
	}
	if got := search(`metadata['tiffin_order']:'o3'`); len(got) != 0 {
		t.Errorf("search within the lag: got %v, want nothing", got)
	}
	if a := c.do("GET", "/v1/payment_intents/search", "", url.Values{"query": {"amount>5"}}); a.status != 400 {
		t.Errorf("unsupported query: got %d, want 400", a.status)
	}
	// List: newest first, two a page, only the recent ones.
	var listed []string
	after := ""
	for range 5 {
		p := url.Values{"limit": {"2"}, "created[gte]": {"0"}}
		if after != "" {
			p.Set("starting_after", after)
		}
		a := c.do("GET", "/v1/payment_intents", "", p)
		for _, d := range a.body["data"].([]any) {
			after = d.(map[string]any)["id"].(string)
			listed = append(listed, after)
		}
		if more, _ := a.body["has_more"].(bool); !more {
			break
		}
	}
	if len(listed) != 4 || listed[0] != ids[3].ID || listed[3] != ids[0].ID {
		t.Errorf("list: got %v, want all four newest first", listed)
	}
	a := c.do("GET", "/v1/payment_intents", "", url.Values{"created[gte]": {"1"}, "created[lt]": {"0"}})
	if a.status != 200 || len(a.body["data"].([]any)) != 0 {
		t.Errorf("empty range: got %d %v", a.status, a.body)
	}
	_, c2 := start(t, Config{NoSearch: true})
	if a := c2.do("GET", "/v1/payment_intents/search", "", url.Values{"query": {`status:'x'`}}); a.status != 400 {
		t.Errorf("search on an account without it: got %d, want 400", a.status)
	}
}

// The server's answers are the JSON Stripe clients decode: every field the subset promises is
// there with its type.
func TestIntentJSON(t *testing.T) {
	t.Parallel()
	_, c := start(t, Config{})
	a := c.do("POST", "/v1/payment_intents", "", authorizeParams("o1", "500"))
	for _, f := range []string{"id", "object", "status", "currency", "capture_method", "latest_charge", "payment_method"} {
		if a.str(f) == "" {
			t.Errorf("field %s: missing from %v", f, a.body)
		}
	}
	for _, f := range []string{"amount", "amount_capturable", "amount_received", "created"} {
		if _, ok := a.body[f].(float64); !ok {
			t.Errorf("field %s: not a number in %v", f, a.body)
		}
	}
	if md, _ := a.body["metadata"].(map[string]any); md["tiffin_order"] != "o1" {
		t.Errorf("metadata: got %v", a.body["metadata"])
	}
}

func TestUnknownRoutes(t *testing.T) {
	t.Parallel()
	_, c := start(t, Config{})
	for _, p := range []string{"/v1/charges", "/v1/payment_intents/pi_1/confirm", "/v2/core/events", "/"} {
		if a := c.do("POST", p, "", nil); a.status != 404 || a.str("error", "type") != "invalid_request_error" {
			t.Errorf("POST %s: got %d %v, want 404 invalid_request_error", p, a.status, a.body)
		}
	}
}
