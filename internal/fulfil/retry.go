package fulfil

import (
	"time"

	"github.com/cenkalti/backoff/v5"
)

// RetrySchedule says when a carrier call that failed is tried again: Initial after the first
// failure, doubling with each further one up to Max, every delay jittered by ±Jitter (a share)
// so shipments that failed together (an outage) do not all come back in the same second. The
// delays come from cenkalti/backoff's exponential backoff. While the carrier's breaker is open
// the attempts that fall due send nothing (see HTTPCarrier), so a long Max only delays the
// backlog after a recovery: with Max 5 minutes every waiting shipment is tried within about
// 6 minutes of the carrier's return.
type RetrySchedule struct {
	Initial, Max time.Duration
	Jitter       float64
}

// DefaultRetrySchedule is 5 s doubling to 5 min, ±20%.
var DefaultRetrySchedule = RetrySchedule{Initial: 5 * time.Second, Max: 5 * time.Minute, Jitter: 0.2}

// Delay is the wait after the attempts-th failed call in a row (1 for the first).
func (r RetrySchedule) Delay(attempts int) time.Duration {
	b := &backoff.ExponentialBackOff{InitialInterval: r.Initial, RandomizationFactor: r.Jitter, Multiplier: 2, MaxInterval: r.Max}
	b.Reset()
	var d time.Duration
	for range min(max(attempts, 1), 64) { // the interval reaches Max long before 64 doublings
		d = b.NextBackOff()
	}
	return d
}
