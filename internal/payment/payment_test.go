package payment

import (
	"context"
	"errors"
	"testing"
)

// TestMachine checks every (from, to) pair of payment statuses against the card flow's legal
// moves, so adding or dropping a transition is a deliberate change here.
func TestMachine(t *testing.T) {
	t.Parallel()
	legal := map[[2]Status]bool{
		{Pending, Authorizing}: true, {Pending, Cancelled}: true,
		{Authorizing, Authorizing}: true, {Authorizing, Authorized}: true, {Authorizing, Declined}: true, {Authorizing, Cancelled}: true,
		{Authorized, Capturing}: true, {Authorized, Voiding}: true,
		{Capturing, Capturing}: true, {Capturing, Captured}: true,
		{Voiding, Voiding}: true, {Voiding, Voided}: true,
		{Captured, Refunding}:  true,
		{Refunding, Refunding}: true, {Refunding, Refunded}: true,
	}
	for _, from := range Statuses {
		for _, to := range Statuses {
			if got, want := CanMove(from, to), legal[[2]Status{from, to}]; got != want {
				t.Errorf("CanMove(%s, %s) = %v, want %v", from, to, got, want)
			}
		}
	}
	for _, s := range []Status{Declined, Voided, Refunded, Cancelled} {
		if !s.Terminal() {
			t.Errorf("%s.Terminal() = false, want true", s)
		}
	}
	for _, op := range []Op{Authorize, Capture, Void, Refund} {
		if !CanMove(op.From(), op.InFlight()) || !CanMove(op.InFlight(), op.Done()) || !CanMove(op.InFlight(), op.InFlight()) {
			t.Errorf("%s: %s -> %s -> %s is not a path of the machine", op, op.From(), op.InFlight(), op.Done())
		}
		if got, ok := op.InFlight().InFlight(); !ok || got != op {
			t.Errorf("%s.InFlight().InFlight() = %s, %v", op, got, ok)
		}
		id, gotOp, err := ParseKey(Key("ord_1:x", op))
		if err != nil || id != "ord_1:x" || gotOp != op {
			t.Errorf("ParseKey(Key(ord_1:x, %s)) = %q, %q, %v", op, id, gotOp, err)
		}
	}
	if _, _, err := ParseKey("ord_1:teleport"); err == nil {
		t.Error("ParseKey accepted an unknown operation")
	}
}

// TestFakeBehavesLikeAProvider: idempotent keys, the card flow enforced, failures before and
// after acting, Lookup telling them apart.
func TestFakeBehavesLikeAProvider(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := NewFake(FakeConfig{})
	ref, err := f.Authorize(ctx, Key("o1", Authorize), Amount{OrderID: "o1", Value: 500, Currency: "INR"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.Authorize(ctx, Key("o1", Authorize), Amount{OrderID: "o1", Value: 500, Currency: "INR"})
	if err != nil || again != ref {
		t.Fatalf("repeat under the same key: got %q, %v; want %q", again, err, ref)
	}
	if got := f.Effects(Authorize); got != 1 {
		t.Errorf("authorizations acted on: got %d, want 1", got)
	}
	if err := f.Refund(ctx, Key("o1", Refund), ref, 500); !errors.Is(err, ErrRefused) {
		t.Errorf("refund before capture: got %v, want ErrRefused", err)
	}
	f.FailNext(1, true)
	if err := f.Capture(ctx, Key("o1", Capture), ref, 500); !errors.Is(err, ErrTimedOut) {
		t.Fatalf("capture failing after acting: got %v, want ErrTimedOut", err)
	}
	if out, err := f.Lookup(ctx, Key("o1", Capture)); err != nil || out.Op != Capture {
		t.Errorf("lookup of a capture that acted: got %+v, %v", out, err)
	}
	if err := f.Void(ctx, Key("o1", Void), ref); !errors.Is(err, ErrRefused) {
		t.Errorf("void after capture: got %v, want ErrRefused", err)
	}
	f.FailNext(1, false)
	if err := f.Refund(ctx, Key("o1", Refund), ref, 500); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("refund failing before acting: got %v, want ErrUnavailable", err)
	}
	if _, err := f.Lookup(ctx, Key("o1", Refund)); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("lookup of a refund that never acted: got %v, want ErrUnknownKey", err)
	}
	if err := f.Refund(ctx, Key("o1", Refund), ref, 500); err != nil {
		t.Fatal(err)
	}
	acc, err := f.Account(ctx, "o1")
	if err != nil || acc.Captured != 500 || acc.Refunded != 500 || acc.Holding() {
		t.Errorf("account: got %+v, %v; want captured and refunded 500, holding nothing", acc, err)
	}
	if _, err := NewFake(FakeConfig{DeclineRate: 1}).Authorize(ctx, "o2:authorize", Amount{OrderID: "o2", Value: 1}); !errors.Is(err, ErrDeclined) {
		t.Errorf("decline: got %v, want ErrDeclined", err)
	}
}
