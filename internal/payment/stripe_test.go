package payment_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/payment"
	"github.com/tiffin-dev/tiffin/internal/payment/stripefake"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// stripeClock is a clock both the fake server and the adapter read, so "created" times and
// the adapter's listing window agree.
type stripeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stripeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stripeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newStripe starts a fake Stripe server and an adapter pointed at it; tweak may change the
// adapter's configuration (its URL, to put a proxy in between).
func newStripe(t testing.TB, cfg stripefake.Config, tweak func(*payment.StripeConfig)) (*stripefake.Server, *payment.Stripe, *httptest.Server) {
	t.Helper()
	fake := stripefake.New(cfg)
	hs := httptest.NewServer(fake)
	t.Cleanup(func() { fake.Close(); hs.Close() })
	// A hang costs the test a second; a loaded machine still answers well within one.
	sc := payment.StripeConfig{Key: fake.Key(), URL: hs.URL, Timeout: time.Second, Now: cfg.Now}
	if tweak != nil {
		tweak(&sc)
	}
	pay, err := payment.NewStripe(sc)
	if err != nil {
		t.Fatal(err)
	}
	return fake, pay, hs
}

func amount(order string, v int64) payment.Amount {
	return payment.Amount{OrderID: order, Value: v, Currency: "INR"}
}

// TestStripeCardFlow walks the adapter down every path of the card flow against the fake
// server: repeats under a key act once, the flow's rules come back as ErrRefused, a decline
// as ErrDeclined, and Lookup and Account read what happened.
func TestStripeCardFlow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake, pay, _ := newStripe(t, stripefake.Config{}, nil)
	key := func(o string, op payment.Op) string { return payment.Key(o, op) }

	ref, err := pay.Authorize(ctx, key("o1", payment.Authorize), amount("o1", 500))
	if err != nil {
		t.Fatal(err)
	}
	if again, err := pay.Authorize(ctx, key("o1", payment.Authorize), amount("o1", 500)); err != nil || again != ref {
		t.Errorf("repeat under the key: got %q, %v; want %q", again, err, ref)
	}
	if out, err := pay.Lookup(ctx, key("o1", payment.Authorize), ""); err != nil || out != (payment.Outcome{Op: payment.Authorize, Ref: ref}) {
		t.Errorf("lookup of the authorization: got %+v, %v", out, err)
	}
	for _, op := range []payment.Op{payment.Capture, payment.Void, payment.Refund} {
		for _, by := range []string{"", ref} { // found by search, or read by its reference
			if _, err := pay.Lookup(ctx, key("o1", op), by); !errors.Is(err, payment.ErrUnknownKey) {
				t.Errorf("lookup of %s never made (ref %q): got %v, want ErrUnknownKey", op, by, err)
			}
		}
	}
	if acc, err := pay.Account(ctx, "o1"); err != nil || acc != (payment.Account{Ref: ref, Authorized: 500}) || !acc.Holding() {
		t.Errorf("account while held: got %+v, %v", acc, err)
	}
	// (Stripe keeps a refused request's answer under its key: this one gets a key of its own.)
	if err := pay.Refund(ctx, "o1:early-refund", ref, 500); !errors.Is(err, payment.ErrRefused) {
		t.Errorf("refund before capture: got %v, want ErrRefused", err)
	}
	if err := pay.Capture(ctx, key("o1", payment.Capture), ref, 500); err != nil {
		t.Fatal(err)
	}
	if err := pay.Void(ctx, key("o1", payment.Void), ref); !errors.Is(err, payment.ErrRefused) {
		t.Errorf("void after capture: got %v, want ErrRefused", err)
	}
	if err := pay.Refund(ctx, key("o1", payment.Refund), ref, 500); err != nil {
		t.Fatal(err)
	}
	for _, op := range []payment.Op{payment.Capture, payment.Refund} {
		for _, by := range []string{"", ref} {
			if out, err := pay.Lookup(ctx, key("o1", op), by); err != nil || out.Op != op || out.Ref != ref {
				t.Errorf("lookup of %s (ref %q): got %+v, %v", op, by, out, err)
			}
		}
	}
	if acc, err := pay.Account(ctx, "o1"); err != nil || acc.Captured != 500 || acc.Refunded != 500 || acc.Holding() {
		t.Errorf("account after the refund: got %+v, %v", acc, err)
	}

	ref3, err := pay.Authorize(ctx, key("o3", payment.Authorize), amount("o3", 700))
	if err != nil {
		t.Fatal(err)
	}
	if err := pay.Void(ctx, key("o3", payment.Void), ref3); err != nil {
		t.Fatal(err)
	}
	if out, err := pay.Lookup(ctx, key("o3", payment.Void), ref3); err != nil || out.Op != payment.Void {
		t.Errorf("lookup of the void: got %+v, %v", out, err)
	}
	if _, err := pay.Lookup(ctx, key("o3", payment.Void), ref); !errors.Is(err, payment.ErrRefused) {
		t.Errorf("lookup through another order's payment intent: got %v, want ErrRefused", err)
	}
	if acc, err := pay.Account(ctx, "o3"); err != nil || !acc.Voided || acc.Authorized != 700 || acc.Holding() {
		t.Errorf("account after the void: got %+v, %v", acc, err)
	}
	if err := pay.Capture(ctx, key("o3", payment.Capture), ref3, 700); !errors.Is(err, payment.ErrRefused) {
		t.Errorf("capture of a voided hold: got %v, want ErrRefused", err)
	}

	fake.DeclineNext(1)
	if _, err := pay.Authorize(ctx, key("o2", payment.Authorize), amount("o2", 500)); !errors.Is(err, payment.ErrDeclined) {
		t.Errorf("decline: got %v, want ErrDeclined", err)
	}
	if _, err := pay.Authorize(ctx, key("o2", payment.Authorize), amount("o2", 500)); !errors.Is(err, payment.ErrDeclined) {
		t.Errorf("decline replayed: got %v, want ErrDeclined", err)
	}
	if out, err := pay.Lookup(ctx, key("o2", payment.Authorize), ""); err != nil || !out.Declined {
		t.Errorf("lookup of a decline: got %+v, %v", out, err)
	}
	if acc, err := pay.Account(ctx, "o2"); err != nil || !acc.Declined || acc.Holding() {
		t.Errorf("account of a decline: got %+v, %v", acc, err)
	}
	if _, err := pay.Account(ctx, "nobody"); !errors.Is(err, payment.ErrUnknownKey) {
		t.Errorf("account of an order never seen: got %v, want ErrUnknownKey", err)
	}

	for e, want := range map[stripefake.Effect]int{
		stripefake.Authorized: 2, stripefake.Declined: 1, stripefake.Captured: 1, stripefake.Canceled: 1, stripefake.Refunded: 1,
	} {
		if got := fake.Effects(e); got != want {
			t.Errorf("effects %s: got %d, want %d", e, got, want)
		}
	}
}

// TestStripeErrors: what cannot be a final answer is never reported as one.
func TestStripeErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := payment.NewStripe(payment.StripeConfig{}); err == nil {
		t.Error("NewStripe without a key: got nil error")
	}
	_, wrongKey, _ := newStripe(t, stripefake.Config{}, func(c *payment.StripeConfig) { c.Key = "sk_test_wrong" })
	_, err := wrongKey.Authorize(ctx, "o1:authorize", amount("o1", 500))
	if err == nil || errors.Is(err, payment.ErrDeclined) || errors.Is(err, payment.ErrRefused) {
		t.Errorf("wrong secret key: got %v, want an error with an unknown outcome", err)
	}
	_, gone, hs := newStripe(t, stripefake.Config{}, nil)
	hs.Close()
	if _, err := gone.Lookup(ctx, "o1:authorize", ""); err == nil || errors.Is(err, payment.ErrUnknownKey) {
		t.Errorf("lookup with the provider unreachable: got %v, want an error other than ErrUnknownKey", err)
	}
	_, bad, _ := newStripe(t, stripefake.Config{}, nil)
	if _, err := bad.Authorize(ctx, "o1:authorize", payment.Amount{OrderID: "o1", Value: 500, Currency: "rupees"}); !errors.Is(err, payment.ErrRefused) {
		t.Errorf("invalid currency: got %v, want ErrRefused", err)
	}
}

// failOnce makes the next call to endpoint fail as kind says. The fault is armed twice:
// Go's transport repeats a request that carries an Idempotency-Key once, on a new
// connection, when a reused connection breaks before the answer; the caller drops the
// second with Recover once the call failed.
func failOnce(fake *stripefake.Server, kind stripefake.FaultKind, endpoint stripefake.Op) {
	fake.Fail(2, stripefake.Fault{Kind: kind, Op: endpoint})
}

// TestStripeUnknownOutcomes fails each call in every way a provider fails. The error never
// claims a final answer; Lookup then tells whether the call acted; a repeat under the same key
// never acts twice.
func TestStripeUnknownOutcomes(t *testing.T) {
	t.Parallel()
	kinds := []struct {
		name string
		kind stripefake.FaultKind
		acts bool
	}{
		{"500 before acting", stripefake.FailBefore, false},
		{"500 after acting", stripefake.FailAfter, true},
		{"timeout after acting", stripefake.HangAfter, true},
		{"reset after acting", stripefake.ResetAfter, true},
		{"reset before acting", stripefake.ResetBefore, false},
	}
	ops := []struct {
		op       payment.Op
		endpoint stripefake.Op
		effect   stripefake.Effect
	}{
		{payment.Authorize, stripefake.OpCreate, stripefake.Authorized},
		{payment.Capture, stripefake.OpCapture, stripefake.Captured},
		{payment.Void, stripefake.OpCancel, stripefake.Canceled},
		{payment.Refund, stripefake.OpRefund, stripefake.Refunded},
	}
	for _, k := range kinds {
		for _, o := range ops {
			t.Run(string(o.op)+"/"+k.name, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				fake, pay, _ := newStripe(t, stripefake.Config{}, nil)
				call := func() error {
					key := payment.Key("o1", o.op)
					switch o.op {
					case payment.Authorize:
						_, err := pay.Authorize(ctx, key, amount("o1", 500))
						return err
					case payment.Capture:
						return pay.Capture(ctx, key, fake.Intents()[0].ID, 500)
					case payment.Void:
						return pay.Void(ctx, key, fake.Intents()[0].ID)
					}
					return pay.Refund(ctx, key, fake.Intents()[0].ID, 500)
				}
				if o.op != payment.Authorize {
					ref, err := pay.Authorize(ctx, payment.Key("o1", payment.Authorize), amount("o1", 500))
					if err != nil {
						t.Fatal(err)
					}
					if o.op == payment.Refund {
						if err := pay.Capture(ctx, payment.Key("o1", payment.Capture), ref, 500); err != nil {
							t.Fatal(err)
						}
					}
				}
				failOnce(fake, k.kind, o.endpoint)
				err := call()
				fake.Recover()
				if err == nil || errors.Is(err, payment.ErrDeclined) || errors.Is(err, payment.ErrRefused) {
					t.Fatalf("failed call: got %v, want an error with an unknown outcome", err)
				}
				out, err := pay.Lookup(ctx, payment.Key("o1", o.op), "")
				switch {
				case k.acts && (err != nil || out.Op != o.op || out.Ref != fake.Intents()[0].ID):
					t.Errorf("lookup of a call that acted: got %+v, %v", out, err)
				case !k.acts && !errors.Is(err, payment.ErrUnknownKey):
					t.Errorf("lookup of a call that never acted: got %+v, %v; want ErrUnknownKey", out, err)
				}
				err = call() // the saga repeats a call only when Lookup says it never acted; repeat anyway
				if k.kind == stripefake.FailAfter {
					if err == nil || errors.Is(err, payment.ErrRefused) {
						t.Errorf("repeat of a call whose 500 Stripe kept: got %v, want the 500 replayed", err)
					}
				} else if err != nil {
					t.Errorf("repeat under the same key: got %v", err)
				}
				if got := fake.Effects(o.effect); got != 1 {
					t.Errorf("%s effects: got %d, want 1", o.effect, got)
				}
			})
		}
	}
}

// TestStripeLookupOutlivesSearchLag: search does not see a new PaymentIntent yet (or the
// account has no search at all); Lookup and Account still find it by listing recent ones, so
// a hold made by a call whose answer was lost is never taken for "never made".
func TestStripeLookupOutlivesSearchLag(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]stripefake.Config{
		"search lags":  {SearchLag: 5 * time.Minute},
		"no search":    {NoSearch: true},
		"search is up": {},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clock := &stripeClock{now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
			cfg.Now = clock.Now
			fake, pay, _ := newStripe(t, cfg, nil)
			for _, o := range []string{"o0", "o1", "o2"} {
				if o == "o1" {
					fake.Fail(1, stripefake.Fault{Kind: stripefake.FailAfter, Op: stripefake.OpCreate})
				}
				pay.Authorize(ctx, payment.Key(o, payment.Authorize), amount(o, 500))
				clock.Advance(time.Second)
			}
			if out, err := pay.Lookup(ctx, payment.Key("o1", payment.Authorize), ""); err != nil || out.Ref == "" {
				t.Errorf("lookup: got %+v, %v; want the authorization", out, err)
			}
			if acc, err := pay.Account(ctx, "o1"); err != nil || acc.Authorized != 500 {
				t.Errorf("account: got %+v, %v", acc, err)
			}
			if _, err := pay.Lookup(ctx, payment.Key("o9", payment.Authorize), ""); !errors.Is(err, payment.ErrUnknownKey) {
				t.Errorf("lookup of an order never seen: got %v, want ErrUnknownKey", err)
			}
		})
	}
	// More recent PaymentIntents than the adapter may read: it says it cannot tell.
	ctx := context.Background()
	fake, pay, _ := newStripe(t, stripefake.Config{NoSearch: true}, func(c *payment.StripeConfig) { c.MaxScan = 3 })
	for _, o := range []string{"a", "b", "c", "d"} {
		pay.Authorize(ctx, payment.Key(o, payment.Authorize), amount(o, 100))
	}
	if _, err := pay.Lookup(ctx, payment.Key("never", payment.Authorize), ""); err == nil || errors.Is(err, payment.ErrUnknownKey) {
		t.Errorf("lookup past MaxScan: got %v, want an unknown outcome", err)
	}
	if out, err := pay.Lookup(ctx, payment.Key("d", payment.Authorize), ""); err != nil || out.Ref != fake.Intents()[3].ID {
		t.Errorf("lookup of the newest: got %+v, %v", out, err)
	}

	// A call first tried after those PaymentIntents were made cannot have made them: the
	// adapter reads only what was created since (less the clocks' skew) and can tell.
	clock := tiffintest.NewClock(time.Now())
	fake2, pay2, _ := newStripe(t, stripefake.Config{NoSearch: true, Now: clock.Now}, func(c *payment.StripeConfig) { c.MaxScan = 3 })
	for _, o := range []string{"a", "b", "c", "d"} {
		pay2.Authorize(ctx, payment.Key(o, payment.Authorize), amount(o, 100))
	}
	clock.Advance(time.Minute)
	first := clock.Now()
	if _, err := pay2.Lookup(payment.WithFirstTried(ctx, first), payment.Key("never", payment.Authorize), ""); !errors.Is(err, payment.ErrUnknownKey) {
		t.Errorf("lookup of a call first tried after every PaymentIntent: got %v, want ErrUnknownKey", err)
	}
	pay2.Authorize(ctx, payment.Key("e", payment.Authorize), amount("e", 100))
	if out, err := pay2.Lookup(payment.WithFirstTried(ctx, first), payment.Key("e", payment.Authorize), ""); err != nil || out.Ref != fake2.Intents()[4].ID {
		t.Errorf("lookup of a call made since it was first tried: got %+v, %v", out, err)
	}
}
