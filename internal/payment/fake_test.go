package payment_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/tiffin-dev/tiffin/internal/payment"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// TestFakeBehavesLikeAProvider: idempotent keys, the card flow enforced, failures before and
// after acting, Lookup telling them apart.
func TestFakeBehavesLikeAProvider(t *testing.T) {
	t.Parallel()
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := tiffintest.NewStoreOn(t, d)
			f := payment.NewFake(db, payment.FakeConfig{})
			key := func(op payment.Op) string { return payment.Key("o1", op) }
			ref, err := f.Authorize(ctx, key(payment.Authorize), payment.Amount{OrderID: "o1", Value: 500, Currency: "INR"})
			if err != nil {
				t.Fatal(err)
			}
			again, err := f.Authorize(ctx, key(payment.Authorize), payment.Amount{OrderID: "o1", Value: 500, Currency: "INR"})
			if err != nil || again != ref {
				t.Fatalf("repeat under the same key: got %q, %v; want %q", again, err, ref)
			}
			if got := f.Effects(payment.Authorize); got != 1 {
				t.Errorf("authorizations acted on: got %d, want 1", got)
			}
			if _, err := f.Authorize(ctx, "o1:authorize-again", payment.Amount{OrderID: "o1", Value: 500}); !errors.Is(err, payment.ErrRefused) {
				t.Errorf("a second authorization of one order: got %v, want ErrRefused", err)
			}
			if err := f.Capture(ctx, key(payment.Authorize), ref, 500); !errors.Is(err, payment.ErrRefused) {
				t.Errorf("a capture under the authorization's key: got %v, want ErrRefused", err)
			}
			if err := f.Refund(ctx, key(payment.Refund), ref, 500); !errors.Is(err, payment.ErrRefused) {
				t.Errorf("refund before capture: got %v, want ErrRefused", err)
			}
			if err := f.Capture(ctx, key(payment.Capture), ref, 501); !errors.Is(err, payment.ErrRefused) {
				t.Errorf("capture of more than the hold: got %v, want ErrRefused", err)
			}
			if err := f.Capture(ctx, key(payment.Capture), "pi_nope", 500); !errors.Is(err, payment.ErrRefused) {
				t.Errorf("capture of an unknown payment: got %v, want ErrRefused", err)
			}
			f.FailNext(1, true)
			if err := f.Capture(ctx, key(payment.Capture), ref, 500); !errors.Is(err, payment.ErrTimedOut) {
				t.Fatalf("capture failing after acting: got %v, want ErrTimedOut", err)
			}
			if out, err := f.Lookup(ctx, key(payment.Capture), ""); err != nil || out.Op != payment.Capture || out.Ref != ref {
				t.Errorf("lookup of a capture that acted: got %+v, %v", out, err)
			}
			if err := f.Void(ctx, key(payment.Void), ref); !errors.Is(err, payment.ErrRefused) {
				t.Errorf("void after capture: got %v, want ErrRefused", err)
			}
			f.FailNext(1, false)
			if err := f.Refund(ctx, key(payment.Refund), ref, 500); !errors.Is(err, payment.ErrUnavailable) {
				t.Fatalf("refund failing before acting: got %v, want ErrUnavailable", err)
			}
			if _, err := f.Lookup(ctx, key(payment.Refund), ""); !errors.Is(err, payment.ErrUnknownKey) {
				t.Errorf("lookup of a refund that never acted: got %v, want ErrUnknownKey", err)
			}
			if err := f.Refund(ctx, key(payment.Refund), ref, 300); err != nil {
				t.Fatal(err)
			}
			if err := f.Refund(ctx, "o1:refund-2", ref, 201); !errors.Is(err, payment.ErrRefused) {
				t.Errorf("refund beyond the capture: got %v, want ErrRefused", err)
			}
			if err := f.Refund(ctx, "o1:refund-2", ref, 200); err != nil {
				t.Errorf("refund of the rest: %v", err)
			}
			acc, err := f.Account(ctx, "o1")
			if err != nil || acc.Ref != ref || acc.Authorized != 500 || acc.Captured != 500 || acc.Refunded != 500 || acc.Holding() {
				t.Errorf("account: got %+v, %v; want captured and refunded 500, holding nothing", acc, err)
			}
			if _, err := f.Account(ctx, "o-never"); !errors.Is(err, payment.ErrUnknownKey) {
				t.Errorf("account of an order never seen: got %v, want ErrUnknownKey", err)
			}

			decl := payment.NewFake(db, payment.FakeConfig{DeclineRate: 1})
			if _, err := decl.Authorize(ctx, "o2:authorize", payment.Amount{OrderID: "o2", Value: 1}); !errors.Is(err, payment.ErrDeclined) {
				t.Errorf("decline: got %v, want ErrDeclined", err)
			}
			if _, err := f.Authorize(ctx, "o2:authorize", payment.Amount{OrderID: "o2", Value: 1}); !errors.Is(err, payment.ErrDeclined) {
				t.Errorf("decline replayed through another instance: got %v, want ErrDeclined", err)
			}
			if out, err := f.Lookup(ctx, "o2:authorize", ""); err != nil || !out.Declined {
				t.Errorf("lookup of a decline: got %+v, %v", out, err)
			}
			if acc, err := f.Account(ctx, "o2"); err != nil || !acc.Declined || acc.Holding() {
				t.Errorf("account of a decline: got %+v, %v", acc, err)
			}

			// A saga step run under a lease calls the provider with the lease's fence; the
			// provider's ledger is not the lease's work and must not be refused by it.
			fenced := store.WithFence(ctx, store.Fence{Lease: "no-such-lease", Token: 7})
			if _, err := f.Authorize(fenced, "o3:authorize", payment.Amount{OrderID: "o3", Value: 9}); err != nil {
				t.Errorf("authorize under a stale fence: %v", err)
			}
			all, err := f.Accounts(ctx)
			if err != nil || len(all) != 3 || all["o3"].Authorized != 9 {
				t.Errorf("accounts: got %+v, %v; want o1, o2 and o3", all, err)
			}
		})
	}
}

// TestFakeIsOneAccount: two fakes over one database, each with its own connections as two
// replicas would have, are one provider account: what one did the other sees, replays and
// refuses; and the same key sent through both at the same moment acts once.
func TestFakeIsOneAccount(t *testing.T) {
	t.Parallel()
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := tiffintest.DSN(t, d)
			a := payment.NewFake(tiffintest.OpenStore(t, dsn), payment.FakeConfig{Seed: 1})
			b := payment.NewFake(tiffintest.OpenStore(t, dsn), payment.FakeConfig{Seed: 1})

			ref, err := a.Authorize(ctx, "o1:authorize", payment.Amount{OrderID: "o1", Value: 700, Currency: "INR"})
			if err != nil {
				t.Fatal(err)
			}
			if again, err := b.Authorize(ctx, "o1:authorize", payment.Amount{OrderID: "o1", Value: 700, Currency: "INR"}); err != nil || again != ref {
				t.Errorf("replay through the other: got %q, %v; want %q", again, err, ref)
			}
			if out, err := b.Lookup(ctx, "o1:authorize", ""); err != nil || out.Ref != ref {
				t.Errorf("lookup through the other: got %+v, %v", out, err)
			}
			if err := b.Capture(ctx, "o1:capture", ref, 700); err != nil {
				t.Fatalf("capture through the other: %v", err)
			}
			if err := a.Void(ctx, "o1:void", ref); !errors.Is(err, payment.ErrRefused) {
				t.Errorf("void of a hold the other captured: got %v, want ErrRefused", err)
			}
			if acc, err := a.Account(ctx, "o1"); err != nil || acc.Captured != 700 {
				t.Errorf("account through the first: got %+v, %v; want captured 700", acc, err)
			}

			ref2, err := b.Authorize(ctx, "o2:authorize", payment.Amount{OrderID: "o2", Value: 300})
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Void(ctx, "o2:void", ref2); err != nil {
				t.Fatalf("void through the other: %v", err)
			}
			if err := b.Capture(ctx, "o2:capture", ref2, 300); !errors.Is(err, payment.ErrRefused) {
				t.Errorf("capture of a hold the other voided: got %v, want ErrRefused", err)
			}

			// Races: every order is authorized through both at once under one key, then
			// captured through one while voided through the other.
			const orders, each = 10, 4
			fakes := []*payment.Fake{a, b}
			before := a.Effects(payment.Authorize) + b.Effects(payment.Authorize)
			for i := range orders {
				id := fmt.Sprintf("race-%d", i)
				refs := make([]string, 2*each)
				errs := make([]error, 2*each)
				var wg sync.WaitGroup
				for j := range 2 * each {
					wg.Go(func() {
						refs[j], errs[j] = fakes[j%2].Authorize(ctx, id+":authorize", payment.Amount{OrderID: id, Value: 100})
					})
				}
				wg.Wait()
				for j := range refs {
					if errs[j] != nil || refs[j] != refs[0] {
						t.Fatalf("%s: concurrent authorization %d: got %q, %v; want %q from every one", id, j, refs[j], errs[j], refs[0])
					}
				}
				var capErr, voidErr error
				wg.Go(func() { capErr = fakes[i%2].Capture(ctx, id+":capture", refs[0], 100) })
				wg.Go(func() { voidErr = fakes[(i+1)%2].Void(ctx, id+":void", refs[0]) })
				wg.Wait()
				if (capErr == nil) == (voidErr == nil) {
					t.Errorf("%s: capture %v and void %v raced; want exactly one to succeed", id, capErr, voidErr)
				}
				acc, err := a.Account(ctx, id)
				if err != nil || (acc.Captured == 100) == acc.Voided {
					t.Errorf("%s: account %+v, %v; want captured or voided, not both", id, acc, err)
				}
				if capErr == nil && acc.Captured != 100 || voidErr == nil && !acc.Voided {
					t.Errorf("%s: account %+v disagrees with capture %v, void %v", id, acc, capErr, voidErr)
				}
			}
			if got := a.Effects(payment.Authorize) + b.Effects(payment.Authorize) - before; got != orders {
				t.Errorf("authorizations acted on: got %d, want %d (one per key)", got, orders)
			}
			if got := a.Calls(payment.Authorize) + b.Calls(payment.Authorize); got != 3+orders*2*each {
				t.Errorf("authorizations asked: got %d, want %d", got, 3+orders*2*each)
			}
		})
	}
}

// TestFakeOutlivesTheProcess: the account is the database's, not the process's: a fake built
// over a store opened afresh (tiffin restarted) captures what the first authorized, and both
// Account and Lookup answer from what the first did.
func TestFakeOutlivesTheProcess(t *testing.T) {
	t.Parallel()
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := tiffintest.DSN(t, d)
			first := tiffintest.OpenStore(t, dsn)
			ref, err := payment.NewFake(first, payment.FakeConfig{}).
				Authorize(ctx, "o1:authorize", payment.Amount{OrderID: "o1", Value: 900, Currency: "INR"})
			if err != nil {
				t.Fatal(err)
			}
			first.Close()

			f := payment.NewFake(tiffintest.OpenStore(t, dsn), payment.FakeConfig{})
			if out, err := f.Lookup(ctx, "o1:authorize", ""); err != nil || out.Ref != ref || out.Op != payment.Authorize {
				t.Errorf("lookup after a restart: got %+v, %v; want the authorization of %s", out, err, ref)
			}
			if err := f.Capture(ctx, "o1:capture", ref, 900); err != nil {
				t.Fatalf("capture after a restart: %v", err)
			}
			if err := f.Capture(ctx, "o1:capture", ref, 900); err != nil {
				t.Errorf("capture replayed: %v", err)
			}
			if acc, err := f.Account(ctx, "o1"); err != nil || acc.Ref != ref || acc.Authorized != 900 || acc.Captured != 900 {
				t.Errorf("account after a restart: got %+v, %v; want 900 authorized and captured under %s", acc, err, ref)
			}
			if got := f.Effects(payment.Capture); got != 1 {
				t.Errorf("captures acted on: got %d, want 1", got)
			}
		})
	}
}
