package fulfil_test

import (
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/fulfil"
)

func TestRetrySchedule(t *testing.T) {
	r := fulfil.DefaultRetrySchedule
	within := func(d, want time.Duration) bool {
		return d >= time.Duration(float64(want)*(1-r.Jitter)) && d <= time.Duration(float64(want)*(1+r.Jitter))
	}
	cases := map[int]time.Duration{0: 5 * time.Second, 1: 5 * time.Second, 2: 10 * time.Second, 3: 20 * time.Second, 7: 5 * time.Minute, 1000: 5 * time.Minute}
	for attempts, want := range cases {
		seen := map[time.Duration]bool{}
		for range 50 {
			d := r.Delay(attempts)
			if !within(d, want) {
				t.Errorf("Delay(%d) = %v, want %v ±20%%", attempts, d, want)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Errorf("Delay(%d): %d distinct delays in 50, want jitter", attempts, len(seen))
		}
	}
	if d := (fulfil.RetrySchedule{Initial: time.Second, Max: time.Minute}).Delay(3); d != 4*time.Second {
		t.Errorf("without jitter: Delay(3) = %v, want 4s", d)
	}
}
