package payment

import "testing"

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
