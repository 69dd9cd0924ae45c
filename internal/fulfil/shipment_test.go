package fulfil

import "testing"

// TestMachine checks every (from, to) pair of shipment states, so adding or dropping a
// transition is a deliberate change here.
func TestMachine(t *testing.T) {
	t.Parallel()
	legal := map[[2]State]bool{
		{Requested, Booked}: true, {Requested, Shipped}: true, {Requested, Delivered}: true,
		{Requested, Cancelling}: true, {Requested, Cancelled}: true, {Requested, Failed}: true,
		{Booked, Shipped}: true, {Booked, Delivered}: true, {Booked, Cancelling}: true, {Booked, Failed}: true,
		{Booked, Requested}:  true, // the carrier lost the booking: book again
		{Shipped, Delivered}: true, {Shipped, Failed}: true,
		{Cancelling, Cancelled}: true, {Cancelling, Shipped}: true, {Cancelling, Delivered}: true, {Cancelling, Failed}: true,
		{Failed, Requested}: true,
	}
	for _, from := range States {
		for _, to := range States {
			if got, want := CanMove(from, to), legal[[2]State{from, to}]; got != want {
				t.Errorf("CanMove(%s, %s) = %v, want %v", from, to, got, want)
			}
		}
	}
	for _, s := range States {
		want := s == Delivered || s == Cancelled
		if s.Terminal() != want {
			t.Errorf("%s.Terminal() = %v, want %v", s, s.Terminal(), want)
		}
	}
	if State("lost").Valid() || State("lost").Terminal() {
		t.Error("an unknown state is valid or terminal")
	}
}

// TestAdvance: carrier updates move a shipment forward only; duplicates and late updates
// change nothing.
func TestAdvance(t *testing.T) {
	t.Parallel()
	cases := []struct {
		from, to State
		want     bool
	}{
		{Requested, Booked, true},
		{Booked, Booked, false},     // a duplicate webhook
		{Shipped, Booked, false},    // a late poll answer
		{Delivered, Shipped, false}, // after the end
		{Booked, Delivered, true},   // shipped was never heard
		{Shipped, Delivered, true},
		{Shipped, Failed, true},
		{Delivered, Failed, false},
		{Cancelled, Booked, false},
		{Cancelling, Shipped, true}, // the carrier already had the parcel
		{Cancelling, Cancelled, true},
		{Requested, Cancelled, false}, // no carrier says that: our own cancel moves it (CanMove)
		{Failed, Booked, false},       // a dead letter moves only by ops redrive
		{Booked, Requested, false},    // never by a carrier update: a lost booking is found by a poll
	}
	for _, c := range cases {
		if got := Advance(c.from, c.to); got != c.want {
			t.Errorf("Advance(%s, %s) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
}
