package tiffintest

import (
	"sync"
	"time"
)

// Clock is a settable clock for tests: pass its Now wherever a service takes a clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock standing at t (truncated to milliseconds, the store's precision).
func NewClock(t time.Time) *Clock { return &Clock{t: t.UTC().Truncate(time.Millisecond)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
