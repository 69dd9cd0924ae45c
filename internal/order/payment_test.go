package order_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/order"
	"github.com/tiffin-dev/tiffin/internal/payment"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// sagaConfig is the order configuration the payment tests run with, on the fixture's clock
// and provider.
func (f *fixture) sagaConfig(capture order.CaptureAt) order.Config {
	return order.Config{Now: f.clock.Now, Payments: f.pay, RestaurantTimeout: 5 * time.Minute, CaptureAt: capture}
}

// replica is a second order service on its own connection to the fixture's database, as
// another replica of tiffin would be.
func (f *fixture) replica(t *testing.T, capture order.CaptureAt) *order.Service {
	return order.New(tiffintest.OpenStore(t, f.dsn), nil, f.sagaConfig(capture))
}

func (f *fixture) settle(t *testing.T, id string) {
	t.Helper()
	if err := f.svc.SettlePayment(context.Background(), id); err != nil {
		t.Fatalf("settle payment of %s: %v", id, err)
	}
}

// blockFirst returns a hook that holds the first call of op until release is closed, and
// closes entered when that call arrives.
func blockFirst(op payment.Op) (hook func(context.Context, payment.Call) error, entered, release chan struct{}) {
	entered, release = make(chan struct{}), make(chan struct{})
	var n atomic.Int32
	hook = func(ctx context.Context, c payment.Call) error {
		if c.Op == op && n.Add(1) == 1 {
			close(entered)
			<-release
		}
		return nil
	}
	return hook, entered, release
}

// Failure 1: the customer cancels while the provider's authorization is still running. The
// authorization lands after the order ended, and is voided; the cancel's own attempt to settle
// does not act while the call runs.
func TestCancelDuringAuthorizationVoidsIt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		hook, entered, release := blockFirst(payment.Authorize)
		f := newFixture(t, d, payment.FakeConfig{Hook: hook})
		o := f.place(t, "k1")
		done := make(chan error, 1)
		go func() { done <- f.svc.SettlePayment(ctx, o.ID) }()
		<-entered
		if _, err := f.svc.Cancel(ctx, customer, o.ID, ""); err != nil {
			t.Fatal(err)
		}
		f.settle(t, o.ID) // what the order.cancelled consumer does: must wait for the running call
		if err := f.svc.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := f.status(t, o.ID); got != order.Cancelled {
			t.Errorf("order: got %s, want cancelled", got)
		}
		if got := f.paymentStatus(t, o.ID); got != "voided" {
			t.Errorf("payment: got %s, want voided", got)
		}
		if a, v := f.pay.Calls(payment.Authorize), f.pay.Calls(payment.Void); a != 1 || v != 1 {
			t.Errorf("provider calls: authorize %d, void %d; want 1 and 1", a, v)
		}
		if acc, _ := f.pay.Account(ctx, o.ID); acc.Holding() {
			t.Errorf("the provider still holds the customer's money: %+v", acc)
		}
	})
}

// Failure 2: eight concurrent cancels of one paid order, on two replicas, in five trials: one
// void per order. With capture at acceptance, one refund per order.
func TestConcurrentCancelsGiveMoneyBackOnce(t *testing.T) {
	for _, capture := range []order.CaptureAt{order.CaptureOnDelivery, order.CaptureOnAcceptance} {
		t.Run(string(capture), func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, d store.Dialect) {
				ctx := context.Background()
				f := newFixture(t, d, payment.FakeConfig{})
				f.svc = order.New(f.db, nil, f.sagaConfig(capture))
				other := f.replica(t, capture)
				const trials = 5
				for trial := range trials {
					o := f.place(t, "k"+string(rune('a'+trial)))
					f.settle(t, o.ID)
					if capture == order.CaptureOnAcceptance {
						if _, err := f.svc.Restaurant(ctx, owner, o.ID, order.Accept, ""); err != nil {
							t.Fatal(err)
						}
						f.settle(t, o.ID)
					}
					var wg sync.WaitGroup
					for i := range 8 {
						svc := f.svc
						if i%2 == 1 {
							svc = other
						}
						wg.Go(func() {
							svc.Cancel(ctx, customer, o.ID, "")
							svc.SettlePayment(ctx, o.ID)
							svc.Reconcile(ctx)
						})
					}
					wg.Wait()
					want := "voided"
					if capture == order.CaptureOnAcceptance {
						want = "refunded"
					}
					if got := f.paymentStatus(t, o.ID); got != want {
						t.Errorf("trial %d: payment %s, want %s", trial, got, want)
					}
				}
				gave := f.pay.Calls(payment.Void) + f.pay.Calls(payment.Refund)
				if gave != trials {
					t.Errorf("voids+refunds asked of the provider: got %d (void %d, refund %d), want %d",
						gave, f.pay.Calls(payment.Void), f.pay.Calls(payment.Refund), trials)
				}
			})
		})
	}
}

// Failure 2, second half: a refund that takes a while is not retried by the reconciler (on
// either replica) while it runs.
func TestSlowRefundIsNotRetriedWhileRunning(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		hook, entered, release := blockFirst(payment.Refund)
		f := newFixture(t, d, payment.FakeConfig{Hook: hook})
		f.svc = order.New(f.db, nil, f.sagaConfig(order.CaptureOnAcceptance))
		other := f.replica(t, order.CaptureOnAcceptance)
		o := f.place(t, "k1")
		f.settle(t, o.ID)
		if _, err := f.svc.Restaurant(ctx, owner, o.ID, order.Accept, ""); err != nil {
			t.Fatal(err)
		}
		f.settle(t, o.ID)
		if _, err := f.svc.Cancel(ctx, customer, o.ID, ""); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- f.svc.SettlePayment(ctx, o.ID) }()
		<-entered
		for range 3 { // three seconds of sweeps on both replicas
			f.clock.Advance(time.Second)
			if err := f.svc.Reconcile(ctx); err != nil {
				t.Fatal(err)
			}
			if err := other.Reconcile(ctx); err != nil {
				t.Fatal(err)
			}
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := f.pay.Calls(payment.Refund); got != 1 {
			t.Errorf("refund calls: got %d, want 1", got)
		}
		if got := f.paymentStatus(t, o.ID); got != "refunded" {
			t.Errorf("payment: got %s, want refunded", got)
		}
	})
}

// Failure 3: at the give-up deadline the order fails, and the saga asks the provider what
// became of the "failed" authorization before deciding: one that went through is voided, one
// that never reached the provider is closed without a call.
func TestPaymentGiveUpAsksTheProvider(t *testing.T) {
	for _, tc := range []struct {
		name       string
		afterWork  bool
		wantStatus string
		wantVoids  int
	}{
		{"charged after all", true, "voided", 1},
		{"never charged", false, "cancelled", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, d store.Dialect) {
				ctx := context.Background()
				f := newFixture(t, d, payment.FakeConfig{})
				o := f.place(t, "k1")
				f.pay.FailNext(1, tc.afterWork)
				if err := f.svc.SettlePayment(ctx, o.ID); err == nil {
					t.Fatal("settle with a failing provider: got nil error")
				}
				if got := f.status(t, o.ID); got != order.Placed {
					t.Fatalf("after an unknown outcome: got %s, want placed", got)
				}
				f.pay.FailNext(1000, false) // the provider is down until the give-up
				for range 10 {
					f.clock.Advance(time.Minute)
					f.svc.Reconcile(ctx)
				}
				f.pay.Recover()
				f.clock.Advance(2 * time.Minute)
				for range 3 {
					f.svc.Reconcile(ctx)
					f.clock.Advance(2 * time.Minute)
				}
				if got := f.status(t, o.ID); got != order.Failed {
					t.Errorf("order: got %s, want failed", got)
				}
				if got := f.paymentStatus(t, o.ID); got != tc.wantStatus {
					t.Errorf("payment: got %s, want %s", got, tc.wantStatus)
				}
				if got := f.pay.Calls(payment.Void); got != tc.wantVoids {
					t.Errorf("voids: got %d, want %d", got, tc.wantVoids)
				}
				if got := f.pay.Effects(payment.Authorize); got != boolToInt(tc.afterWork) {
					t.Errorf("authorizations acted on: got %d, want %d", got, boolToInt(tc.afterWork))
				}
				if acc, _ := f.pay.Account(ctx, o.ID); acc.Holding() {
					t.Errorf("the provider still holds the customer's money: %+v", acc)
				}
			})
		})
	}
}

// A process dies between "the provider said yes" and recording it: once its claim goes stale
// another sweep repeats the call under its idempotency key, which the provider answers with
// the first call's outcome without acting again, and records it. No lookup is needed for that.
func TestCrashAfterProviderSaidYes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		f := newFixture(t, d, payment.FakeConfig{})
		o := f.place(t, "k1")
		// What the dead process left: its claim, and an authorization at the provider.
		mustExec(t, f.db, ctx, `UPDATE payments SET status = 'authorizing', claim_attempt = 1, claimed_at = $1, due_at = $2 WHERE order_id = $3`,
			store.Now(f.clock.Now()), store.Now(f.clock.Now().Add(30*time.Second)), o.ID)
		if _, err := f.pay.Authorize(ctx, payment.Key(o.ID, payment.Authorize), payment.Amount{OrderID: o.ID, Value: o.Total, Currency: o.Currency}); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(20 * time.Second)
		f.svc.Reconcile(ctx)
		if got := f.status(t, o.ID); got != order.Placed {
			t.Fatalf("while the claim is fresh: got %s, want placed", got)
		}
		f.clock.Advance(11 * time.Second)
		if err := f.svc.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		if got := f.status(t, o.ID); got != order.Paid {
			t.Errorf("order: got %s, want paid", got)
		}
		if got := f.paymentStatus(t, o.ID); got != "authorized" {
			t.Errorf("payment: got %s, want authorized", got)
		}
		if got := f.pay.Calls(payment.Authorize); got != 2 {
			t.Errorf("authorize calls: got %d, want 2 (the dead process's, and its repeat)", got)
		}
		if got := f.pay.Effects(payment.Authorize); got != 1 {
			t.Errorf("authorizations acted on: got %d, want 1", got)
		}
		if got := f.pay.Lookups(); got != 0 {
			t.Errorf("lookups: got %d, want 0 (the repeat under the key answers)", got)
		}
	})
}

// A claimer that stalls past its claim is fenced off: the process that took over records the
// outcome, and the stale one's late answer changes nothing.
func TestStaleClaimIsFencedOff(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		hook, entered, release := blockFirst(payment.Authorize)
		f := newFixture(t, d, payment.FakeConfig{Hook: hook})
		o := f.place(t, "k1")
		done := make(chan error, 1)
		go func() { done <- f.svc.SettlePayment(ctx, o.ID) }()
		<-entered
		f.clock.Advance(31 * time.Second)
		other := f.replica(t, order.CaptureOnDelivery)
		if err := other.SettlePayment(ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := other.Restaurant(ctx, owner, o.ID, order.Accept, ""); err != nil {
			t.Fatal(err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := f.status(t, o.ID); got != order.Accepted {
			t.Errorf("order: got %s, want accepted", got)
		}
		if got := f.pay.Effects(payment.Authorize); got != 1 {
			t.Errorf("authorizations acted on: got %d, want 1", got)
		}
		var attempt int
		f.db.QueryRow(`SELECT claim_attempt FROM payments WHERE order_id = $1`, o.ID).Scan(&attempt)
		if attempt != 2 {
			t.Errorf("claim attempt: got %d, want 2 (the takeover's)", attempt)
		}
	})
}

// Delivery captures exactly once, however many times the saga is prompted.
func TestDeliveryCapturesOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		f := newFixture(t, d, payment.FakeConfig{})
		o := f.place(t, "k1")
		f.settle(t, o.ID)
		for _, a := range []order.RestaurantAction{order.Accept, order.MarkReady} {
			if _, err := f.svc.Restaurant(ctx, owner, o.ID, a, ""); err != nil {
				t.Fatal(err)
			}
		}
		f.settle(t, o.ID)
		if got := f.paymentStatus(t, o.ID); got != "authorized" {
			t.Fatalf("before delivery: got %s, want authorized", got)
		}
		for _, a := range []order.CourierAction{order.PickUp, order.Deliver} {
			if _, err := f.svc.Courier(ctx, ops, o.ID, a); err != nil {
				t.Fatal(err)
			}
		}
		other := f.replica(t, order.CaptureOnDelivery)
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				if i%2 == 0 {
					f.svc.SettlePayment(ctx, o.ID)
				} else {
					other.Reconcile(ctx)
				}
			})
		}
		wg.Wait()
		if got := f.paymentStatus(t, o.ID); got != "captured" {
			t.Errorf("payment: got %s, want captured", got)
		}
		if got := f.pay.Calls(payment.Capture); got != 1 {
			t.Errorf("capture calls: got %d, want 1", got)
		}
		if _, err := f.svc.Cancel(ctx, auth.Principal{Role: auth.Ops, Subject: "ops-1"}, o.ID, ""); err == nil {
			t.Error("cancel after delivery: got nil, want an invalid transition")
		}
	})
}

func boolToInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A call the provider refuses is a dead letter at once; one failing with unknown outcomes is
// retried until PaymentDeadAfter and then dead-lettered. Redriving either resumes it (asking the
// provider first) and settles it once.
func TestPaymentDeadLettersAndRedrive(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		f := newFixture(t, d, payment.FakeConfig{})
		o := f.place(t, "k1")
		f.pay.FailNext(100000, false) // down for a day and more
		for range 26 * 60 {           // 26 hours of sweeps, one a minute
			f.clock.Advance(time.Minute)
			f.svc.Reconcile(ctx)
		}
		dead, err := f.svc.DeadPayments(ctx, "", 10)
		if err != nil || len(dead) != 1 || dead[0].OrderID != o.ID || dead[0].Status != payment.Authorizing {
			t.Fatalf("dead payments: got %+v, %v; want the order's, stopped authorizing", dead, err)
		}
		calls := f.pay.Calls(payment.Authorize)
		if dead[0].Attempts != calls {
			t.Errorf("dead letter's tries: got %d, want the %d authorize calls made (lookups not counted)", dead[0].Attempts, calls)
		}
		f.clock.Advance(time.Hour)
		f.svc.Reconcile(ctx)
		if got := f.pay.Calls(payment.Authorize); got != calls {
			t.Errorf("a dead letter was retried: %d calls, then %d", calls, got)
		}
		f.pay.Recover()
		for range 2 {
			if done, err := f.svc.RedrivePayments(ctx, nil); err != nil {
				t.Fatal(err)
			} else if len(done) > 1 {
				t.Errorf("redrove %v, want at most the one payment", done)
			}
		}
		if err := f.svc.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		// The order gave up on its payment long ago; the redriven authorization never reached
		// the provider, so it is closed without one.
		if got := f.paymentStatus(t, o.ID); got != "cancelled" {
			t.Errorf("after redrive: payment %s, want cancelled", got)
		}
		if n, _ := f.svc.DeadPaymentCount(ctx); n != 0 {
			t.Errorf("dead letters after redrive: %d, want 0", n)
		}

		// A refusal is dead at once.
		o2 := f.place(t, "k2")
		f.settle(t, o2.ID)
		mustExec(t, f.db, ctx, `UPDATE payments SET provider_ref = 'pi_nonexistent' WHERE order_id = $1`, o2.ID)
		if _, err := f.svc.Cancel(ctx, customer, o2.ID, ""); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.SettlePayment(ctx, o2.ID); err == nil {
			t.Fatal("void of an unknown reference: got nil error")
		}
		if dead, _ := f.svc.DeadPayments(ctx, "", 10); len(dead) != 1 || dead[0].OrderID != o2.ID || dead[0].Status != payment.Voiding {
			t.Errorf("dead payments after a refusal: got %+v", dead)
		}
	})
}

// A call whose repeat under its key goes unanswered too is looked up (a provider may keep a
// failure under the key); a lookup that cannot tell (it fails) does not leave the payment
// hanging: the saga repeats the call under its key again later, which the provider answers
// with the first call's outcome, acting once.
func TestInconclusiveLookupRepeatsTheCall(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		f := newFixture(t, d, payment.FakeConfig{})
		o := f.place(t, "k1")
		f.pay.FailNext(1, true) // the authorization acts, the answer is lost
		if err := f.svc.SettlePayment(ctx, o.ID); err == nil {
			t.Fatal("settle: got nil, want the lost answer's error")
		}
		f.pay.FailNext(2, false) // its repeat is lost too, and so is the lookup that follows
		f.clock.Advance(2 * time.Second)
		if err := f.svc.SettlePayment(ctx, o.ID); err == nil {
			t.Fatal("settle: got nil, want the lost repeat's error")
		}
		if got := f.pay.Lookups(); got != 1 {
			t.Errorf("lookups after a repeat went unanswered: got %d, want 1", got)
		}
		f.clock.Advance(5 * time.Second)
		f.settle(t, o.ID)
		if got := f.pay.Lookups(); got != 1 {
			t.Errorf("lookups: got %d, want 1 (the repeat answered)", got)
		}
		if got := f.status(t, o.ID); got != order.Paid {
			t.Errorf("order: got %s, want paid", got)
		}
		if got := f.pay.Effects(payment.Authorize); got != 1 {
			t.Errorf("authorizations acted on: got %d, want 1", got)
		}
	})
}

// An unknown outcome older than the provider keeps idempotency keys is not resolved by
// repeating the call (the provider might act again): when the lookup cannot tell, the payment
// becomes a dead letter, and a redrive does not repeat the call either.
func TestInconclusiveLookupOfAnOldKeyIsADeadLetter(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		f := newFixture(t, d, payment.FakeConfig{})
		cfg := f.sagaConfig(order.CaptureOnDelivery)
		cfg.PaymentDeadAfter = 72 * time.Hour // keep the give-up deadline out of the way
		svc := order.New(f.db, nil, cfg)
		o := f.place(t, "k1")
		f.pay.FailNext(1, true) // the authorization acts, the answer is lost
		if err := svc.SettlePayment(ctx, o.ID); err == nil {
			t.Fatal("settle: got nil, want the lost answer's error")
		}
		f.clock.Advance(30 * time.Hour) // the provider has forgotten the key by now
		for round := range 2 {
			f.pay.FailNext(1, false) // the lookup fails
			if err := svc.SettlePayment(ctx, o.ID); err == nil {
				t.Fatalf("round %d: settle: got nil, want the dead letter's error", round)
			}
			dead, ok, err := svc.DeadPaymentOf(ctx, o.ID)
			if err != nil || !ok || dead.Status != payment.Authorizing {
				t.Fatalf("round %d: dead payment: %+v %v %v; want the authorization, dead", round, dead, ok, err)
			}
			if got := f.pay.Calls(payment.Authorize); got != 1 {
				t.Errorf("round %d: authorize calls %d, want 1 (never repeated under an old key)", round, got)
			}
			if _, err := svc.RedrivePayments(ctx, []string{o.ID}); err != nil {
				t.Fatal(err)
			}
		}
		if got := f.pay.Effects(payment.Authorize); got != 1 {
			t.Errorf("authorizations acted on: got %d, want 1", got)
		}
	})
}

// The reconciliation pages: limit payments at a time, newest first, continuing from next.
func TestReconciliationPages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		f := newFixture(t, d, payment.FakeConfig{})
		for i := range 5 {
			o := f.place(t, fmt.Sprintf("k%d", i))
			f.settle(t, o.ID)
		}
		before, pages := "", 0
		for {
			rep, err := f.svc.ReconcilePayments(ctx, before, 2)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(rep.Mismatches) != 0 || rep.Checked > 2 {
				t.Errorf("page %d: %+v", pages, rep)
			}
			if rep.Next == "" {
				break
			}
			if rep.Next >= before && before != "" {
				t.Fatalf("page %d: next %s does not move past %s", pages, rep.Next, before)
			}
			before = rep.Next
		}
		if pages != 3 {
			t.Errorf("pages: got %d, want 3 (2+2+1)", pages)
		}
	})
}

// A dead letter's tries are the calls made for the operation that died, not the payment's
// calls in all: one refused capture, after an authorization that went through at once, is one
// try. Its log line says when the failing began: this failure, as there was none before.
func TestDeadLetterTriesCountItsOperation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		f := newFixture(t, d, payment.FakeConfig{})
		var logs bytes.Buffer
		cfg := f.sagaConfig(order.CaptureOnAcceptance)
		cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		svc := order.New(f.db, nil, cfg)
		o := f.place(t, "k1")
		if err := svc.SettlePayment(ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		mustExec(t, f.db, ctx, `UPDATE payments SET provider_ref = 'pi_nonexistent' WHERE order_id = $1`, o.ID)
		if _, err := svc.Restaurant(ctx, owner, o.ID, order.Accept, ""); err != nil {
			t.Fatal(err)
		}
		if err := svc.SettlePayment(ctx, o.ID); err == nil {
			t.Fatal("capture of an unknown reference: got nil error")
		}
		dead, err := svc.DeadPayments(ctx, "", 10)
		if err != nil || len(dead) != 1 || dead[0].Status != payment.Capturing {
			t.Fatalf("dead payments: got %+v, %v; want the order's, stopped capturing", dead, err)
		}
		if calls := f.pay.Calls(payment.Capture); dead[0].Attempts != 1 || calls != 1 {
			t.Errorf("one refused capture: dead letter's tries %d, capture calls %d; want 1 and 1", dead[0].Attempts, calls)
		}
		if !dead[0].FirstFailedAt.Equal(f.clock.Now()) {
			t.Errorf("first failed at %v, want %v (this failure)", dead[0].FirstFailedAt, f.clock.Now())
		}
		var line struct {
			Msg          string    `json:"msg"`
			Tries        int       `json:"tries"`
			FailingSince time.Time `json:"failing_since"`
		}
		for l := range strings.SplitSeq(logs.String(), "\n") {
			if strings.Contains(l, "payment dead-lettered") {
				if err := json.Unmarshal([]byte(l), &line); err != nil {
					t.Fatal(err)
				}
			}
		}
		if line.Msg == "" || line.Tries != 1 || !line.FailingSince.Equal(f.clock.Now()) {
			t.Errorf("dead-letter log line: %+v, want tries 1 and failing_since %v; the log:\n%s", line, f.clock.Now(), logs.String())
		}
	})
}

// The sweep settles due payments without waiting for the slowest of them: while one
// authorization hangs at the provider, a payment that fell due after it is settled all the
// same (a sweep that waited for its whole batch was held up by every hanging call).
func TestSweepDoesNotWaitForAHangingCall(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		hook, entered, release := blockFirst(payment.Authorize)
		f := newFixture(t, d, payment.FakeConfig{Hook: hook})
		sweeper := order.New(f.db, nil, order.Config{Now: f.clock.Now, Payments: f.pay, SweepInterval: 10 * time.Millisecond})
		done := make(chan error, 1)
		go func() { done <- sweeper.Run(ctx) }()
		hanging := f.place(t, "k1")
		f.clock.Advance(11 * time.Second) // no event came: the payment is due for the sweep
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the sweep never took up the first payment")
		}
		next := f.place(t, "k2")
		f.clock.Advance(11 * time.Second) // the first claim (30s) is still fresh
		deadline := time.Now().Add(10 * time.Second)
		for f.status(t, next.ID) != order.Paid && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := f.status(t, next.ID); got != order.Paid {
			t.Errorf("the payment behind a hanging call: order %s, want paid", got)
		}
		if got := f.status(t, hanging.ID); got != order.Placed {
			t.Errorf("the hanging payment's order: got %s, want placed", got)
		}
		close(release)
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
}

// A process dies mid-call: the reconciler of a live one releases the dead process's payment
// claims as soon as its instance lease is gone, not after PaymentClaimTimeout, and resumes the
// call under its key (the provider acted once). A claim of a process whose lease is alive is
// left to it.
func TestDeadProcessClaimIsReleasedAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f := newFixture(t, d, payment.FakeConfig{})
		dead, alive := f.place(t, "k1"), f.place(t, "k2")
		now := f.clock.Now()
		// Both claimed their authorization a moment ago, and the provider acted on both.
		for id, by := range map[string]string{dead.ID: "i-dead", alive.ID: "i-alive"} {
			mustExec(t, f.db, ctx, `UPDATE payments SET status = 'authorizing', claim_attempt = 1, claimed_at = $1, due_at = $2, claimed_by = $3 WHERE order_id = $4`,
				store.Now(now), store.Now(now.Add(30*time.Second)), by, id)
			o, err := f.svc.Get(ctx, ops, id)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.pay.Authorize(ctx, payment.Key(id, payment.Authorize), payment.Amount{OrderID: id, Value: o.Total, Currency: o.Currency}); err != nil {
				t.Fatal(err)
			}
		}
		mustExec(t, f.db, ctx, `INSERT INTO leases (name, holder, token, expires_at) VALUES ($1, 'i-alive', 1, $2)`,
			order.InstanceLease("i-alive"), store.Now(now.Add(time.Minute)))
		sweeper := order.New(f.db, nil, order.Config{Now: f.clock.Now, Payments: f.pay, SweepInterval: 10 * time.Millisecond, Instance: "i-sweeper"})
		done := make(chan error, 1)
		go func() { done <- sweeper.Run(ctx) }()
		deadline := time.Now().Add(10 * time.Second)
		for f.status(t, dead.ID) != order.Paid && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := f.status(t, dead.ID); got != order.Paid {
			t.Errorf("the dead process's payment, its claim 0s old: order %s, want paid", got)
		}
		time.Sleep(100 * time.Millisecond) // several more sweeps
		if got := f.paymentStatus(t, alive.ID); got != "authorizing" {
			t.Errorf("the live process's payment: got %s, want authorizing (its claim left alone)", got)
		}
		if got := f.pay.Effects(payment.Authorize); got != 2 {
			t.Errorf("authorizations acted on: got %d, want 2 (one per order)", got)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// An order accepted while payments were captured at delivery, reconciled by a process that
// captures at acceptance (--capture-at changed, or replicas disagree): its authorization is
// held money, not a mismatch. Delivered and not captured still is one.
func TestReconciliationAcrossCapturePoints(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		f := newFixture(t, d, payment.FakeConfig{})
		o := f.place(t, "k1")
		f.settle(t, o.ID)
		if _, err := f.svc.Restaurant(ctx, owner, o.ID, order.Accept, ""); err != nil {
			t.Fatal(err)
		}
		f.settle(t, o.ID)
		atAcceptance := f.replica(t, order.CaptureOnAcceptance)
		rep, err := atAcceptance.ReconcilePayments(ctx, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Mismatches) != 0 {
			t.Errorf("accepted and authorized, reconciled capturing at acceptance: mismatches %+v", rep.Mismatches)
		}
		mustExec(t, f.db, ctx, `UPDATE orders SET status = 'delivered' WHERE id = $1`, o.ID)
		if rep, err = atAcceptance.ReconcilePayments(ctx, "", 0); err != nil {
			t.Fatal(err)
		}
		if len(rep.Mismatches) != 1 || rep.Mismatches[0].Problem != "the order was delivered but not captured" {
			t.Errorf("delivered and only authorized: mismatches %+v, want one", rep.Mismatches)
		}
	})
}
