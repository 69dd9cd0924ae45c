package order

import (
	"errors"
	"testing"
)

// TestMachine checks every (from, to) pair of statuses against the legal moves of the
// architecture's lifecycle, so adding or dropping a transition is a deliberate change here.
func TestMachine(t *testing.T) {
	t.Parallel()
	legal := map[[2]Status]bool{
		{Placed, Paid}: true, {Placed, Failed}: true, {Placed, Cancelled}: true,
		{Paid, Accepted}: true, {Paid, Rejected}: true, {Paid, Cancelled}: true,
		{Accepted, Preparing}: true, {Accepted, Ready}: true, {Accepted, Cancelled}: true,
		{Preparing, Ready}: true, {Preparing, Cancelled}: true,
		{Ready, PickedUp}: true, {Ready, Cancelled}: true,
		{PickedUp, Delivered}: true,
	}
	for _, from := range Statuses {
		for _, to := range Statuses {
			want := legal[[2]Status{from, to}]
			if got := CanMove(from, to); got != want {
				t.Errorf("CanMove(%s, %s) = %v, want %v", from, to, got, want)
			}
			err := checkMove(from, to)
			if want && err != nil {
				t.Errorf("checkMove(%s, %s) = %v, want nil", from, to, err)
			}
			if !want && !errors.Is(err, ErrInvalidTransition) {
				t.Errorf("checkMove(%s, %s) = %v, want ErrInvalidTransition", from, to, err)
			}
		}
	}
	for _, s := range []Status{Delivered, Rejected, Cancelled, Failed} {
		if !s.Terminal() {
			t.Errorf("%s.Terminal() = false, want true", s)
		}
	}
	for _, s := range []Status{Placed, Paid, Accepted, Preparing, Ready, PickedUp} {
		if s.Terminal() {
			t.Errorf("%s.Terminal() = true, want false", s)
		}
	}
	if Status("lost").Valid() || Status("lost").Terminal() {
		t.Error("unknown status reported valid or terminal")
	}
}
