package payment_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tiffin-dev/tiffin/internal/payment"
	"github.com/tiffin-dev/tiffin/internal/payment/stripefake"
)

// canned answers every request with one status and body.
type canned struct {
	status int
	body   []byte
}

func (c canned) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode: c.status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(c.body)), Request: r,
	}, nil
}

// FuzzStripeAnswers feeds the adapter arbitrary answers from "Stripe". Whatever comes back,
// the adapter never panics, and it never reads more into an answer than it says: success and
// "no record" only from a 2xx/3xx answer, a decline only from a 402, a refusal only from a
// 400, 402 or 404 (or a refund that failed). Anything else is an unknown outcome, which the
// saga resolves by asking again.
func FuzzStripeAnswers(f *testing.F) {
	seeds := []struct {
		status int
		body   string
	}{
		{200, `{"id":"pi_1","object":"payment_intent","status":"requires_capture","amount":500,"metadata":{"tiffin_order":"o1"}}`},
		{200, `{"id":"pi_1","status":"succeeded","amount":500,"amount_received":500}`},
		{200, `{"id":"pi_1","status":"canceled","last_payment_error":{"type":"card_error"}}`},
		{200, `{"id":"re_1","object":"refund","status":"failed","amount":500}`},
		{402, `{"error":{"type":"card_error","code":"card_declined","message":"Your card was declined.","payment_intent":{"id":"pi_1","status":"requires_payment_method"}}}`},
		{400, `{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state","message":"no"}}`},
		{400, `{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters"}}`},
		{409, `{"error":{"type":"idempotency_error","code":"idempotency_key_in_use"}}`},
		{500, `{"error":{"type":"api_error","message":"boom"}}`},
		{200, `{"object":"search_result","data":[{"id":"pi_1","metadata":{"tiffin_order":"o1"},"created":1}],"has_more":false}`},
		{200, `{"object":"list","data":[],"has_more":true}`},
		{200, `{"object":"list","data":[null],"has_more":true}`},
		{200, `{"object":"search_result","data":[],"has_more":true,"next_page":"x"}`},
		{200, `not json`},
		{502, `<html>bad gateway</html>`},
	}
	for i, s := range seeds {
		for op := range 6 {
			f.Add(uint8(op+6*i), uint16(s.status-200), []byte(s.body))
		}
	}
	f.Fuzz(func(t *testing.T, op uint8, status uint16, body []byte) {
		st := 200 + int(status)%400
		pay, err := payment.NewStripe(payment.StripeConfig{
			Key: "sk_test_fuzz", URL: "http://stripe.invalid", MaxScan: 300,
			HTTPClient: &http.Client{Transport: canned{st, body}},
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		answered := st < 400
		refusal := st == 400 || st == 402 || st == 404
		check := func(call string, err error, declinable, refundable bool) {
			switch {
			case err == nil && !answered:
				t.Fatalf("%s: success from a %d answer %q", call, st, body)
			case errors.Is(err, payment.ErrDeclined) && !(declinable && (st == 402 || answered)):
				t.Fatalf("%s: decline from a %d answer %q", call, st, body)
			case errors.Is(err, payment.ErrRefused) && !refusal && !(refundable && answered):
				t.Fatalf("%s: refusal from a %d answer %q: %v", call, st, body, err)
			case errors.Is(err, payment.ErrUnknownKey) && !answered:
				t.Fatalf("%s: no record from a %d answer %q", call, st, body)
			}
		}
		switch op % 6 {
		case 0:
			ref, err := pay.Authorize(ctx, "o1:authorize", payment.Amount{OrderID: "o1", Value: 500, Currency: "INR"})
			if err == nil && ref == "" {
				t.Fatalf("authorize: success without a reference from %q", body)
			}
			check("authorize", err, true, false)
		case 1:
			check("capture", pay.Capture(ctx, "o1:capture", "pi_1", 500), false, false)
		case 2:
			check("void", pay.Void(ctx, "o1:void", "pi_1"), false, false)
		case 3:
			check("refund", pay.Refund(ctx, "o1:refund", "pi_1", 500), false, true)
		case 4:
			_, err := pay.Lookup(ctx, "o1:capture", "")
			check("lookup", err, false, false)
		case 5:
			_, err := pay.Account(ctx, "o1")
			check("account", err, false, false)
		}
	})
}

// FuzzStripeFindsAnyOrder: whatever an order ID holds (quotes, backslashes, operators of the
// search language), the adapter's search query finds exactly that order's PaymentIntent. The
// adapter's clock runs ahead so its fallback listing sees nothing: only search can find it.
func FuzzStripeFindsAnyOrder(f *testing.F) {
	for _, s := range []string{"ord_01J", `o'1`, `o\'1`, `a' OR metadata['tiffin_order']:'b`, `"`, `\`, "ordé", "x AND y"} {
		f.Add(s)
	}
	start := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	fake := stripefake.New(stripefake.Config{Now: func() time.Time { return start }})
	hs := httptest.NewServer(fake)
	f.Cleanup(hs.Close)
	pay, err := payment.NewStripe(payment.StripeConfig{
		Key: fake.Key(), URL: hs.URL, SearchLag: time.Minute, Now: func() time.Time { return start.Add(time.Hour) },
	})
	if err != nil {
		f.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]bool{} // the server outlives one input
	f.Fuzz(func(t *testing.T, id string) {
		mu.Lock()
		defer mu.Unlock()
		seen[id] = true
		if id == "" || len(id) > 100 || !utf8.ValidString(id) || strings.TrimSpace(id) != id ||
			strings.ContainsFunc(id, unicode.IsControl) {
			return
		}
		ctx := context.Background()
		ref, err := pay.Authorize(ctx, payment.Key(id, payment.Authorize), payment.Amount{OrderID: id, Value: 100, Currency: "inr"})
		if err != nil {
			t.Fatalf("authorize %q: %v", id, err)
		}
		acc, err := pay.Account(ctx, id)
		if err != nil || acc.Ref != ref {
			t.Fatalf("account of %q: got %+v, %v; want %s", id, acc, err, ref)
		}
		if other := id + "'"; seen[other] {
			return
		}
		if acc, err := pay.Account(ctx, id+"'"); !errors.Is(err, payment.ErrUnknownKey) {
			t.Fatalf("account of %q: got %+v, %v; want ErrUnknownKey", id+"'", acc, err)
		}
	})
}
