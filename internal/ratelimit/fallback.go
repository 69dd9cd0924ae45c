package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Fallback asks Primary (Redis) and, when it fails, Secondary (this process's buckets), so an
// unreachable Redis costs replicas their shared count, never the limits or the service. OnError
// hears of Primary's failures, at most once a minute.
type Fallback struct {
	Primary, Secondary Limiter
	OnError            func(error)

	mu     sync.Mutex
	logged time.Time
}

// Allow asks Primary, else Secondary.
func (f *Fallback) Allow(ctx context.Context, key string, r Rate, n int) (Decision, error) {
	d, err := f.Primary.Allow(ctx, key, r, n)
	if err == nil {
		return d, nil
	}
	f.mu.Lock()
	tell := time.Since(f.logged) >= time.Minute
	if tell {
		f.logged = time.Now()
	}
	f.mu.Unlock()
	if tell && f.OnError != nil {
		f.OnError(err)
	}
	return f.Secondary.Allow(ctx, key, r, n)
}
