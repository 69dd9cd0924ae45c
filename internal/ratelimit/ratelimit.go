// Package ratelimit owns token buckets by key: a Rate (so many events per period, with a
// burst), this process's buckets (Local, golang.org/x/time/rate, idle buckets evicted) and
// buckets shared by replicas in Redis (Redis, GCRA in a Lua script). The HTTP edge keys them by
// client address and principal.
package ratelimit

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Rate is a token bucket: N events per Per, up to Burst at once. A Rate with N <= 0 limits
// nothing (ParseRate("off") is N -1, so that a zero Rate can stand for "the default").
type Rate struct {
	N     int
	Per   time.Duration
	Burst int
}

// Off reports whether r limits nothing.
func (r Rate) Off() bool { return r.N <= 0 || r.Per <= 0 }

// perSecond is r's refill rate in events per second.
func (r Rate) perSecond() float64 { return float64(r.N) / r.Per.Seconds() }

// burst is r's bucket size, at least 1.
func (r Rate) burst() int { return max(1, r.Burst) }

// interval is the time one event's token takes to come back.
func (r Rate) interval() time.Duration { return r.Per / time.Duration(r.N) }

// Window is the time an empty bucket takes to fill: the window of RateLimit-Policy's quota.
func (r Rate) Window() time.Duration { return time.Duration(r.burst()) * r.interval() }

// Quota is how many events a full bucket allows at once.
func (r Rate) Quota() int { return r.burst() }

// String is r in ParseRate's syntax.
func (r Rate) String() string {
	if r.Off() {
		return "off"
	}
	unit := map[time.Duration]string{time.Second: "s", time.Minute: "m", time.Hour: "h"}[r.Per]
	if unit == "" {
		unit = r.Per.String()
	}
	return fmt.Sprintf("%d/%s:%d", r.N, unit, r.burst())
}

// ParseRate reads "N/UNIT:BURST" (UNIT s, m, h or a Go duration such as 10s; ":BURST"
// optional, default N), or "off".
func ParseRate(s string) (Rate, error) {
	if s == "off" || s == "0" {
		return Rate{N: -1}, nil
	}
	spec, burst, hasBurst := strings.Cut(s, ":")
	n, unit, ok := strings.Cut(spec, "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want N/UNIT[:BURST], e.g. 20/s:100, or off", s)
	}
	var r Rate
	var err error
	if r.N, err = strconv.Atoi(n); err != nil || r.N <= 0 {
		return Rate{}, fmt.Errorf("rate %q: %q is not a positive count", s, n)
	}
	switch unit {
	case "s":
		r.Per = time.Second
	case "m":
		r.Per = time.Minute
	case "h":
		r.Per = time.Hour
	default:
		if r.Per, err = time.ParseDuration(unit); err != nil || r.Per <= 0 {
			return Rate{}, fmt.Errorf("rate %q: unit %q: want s, m, h or a duration", s, unit)
		}
	}
	r.Burst = r.N
	if hasBurst {
		if r.Burst, err = strconv.Atoi(burst); err != nil || r.Burst <= 0 {
			return Rate{}, fmt.Errorf("rate %q: burst %q is not a positive count", s, burst)
		}
	}
	return r, nil
}

// UnmarshalText reads ParseRate's syntax (for flags).
func (r *Rate) UnmarshalText(b []byte) error {
	v, err := ParseRate(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Decision is a bucket's answer.
type Decision struct {
	// Allowed reports whether the event may go ahead.
	Allowed bool
	// Remaining is how many more events the bucket allows now.
	Remaining int
	// RetryAfter is, when refused, how long until the event would be allowed.
	RetryAfter time.Duration
	// Reset is how long until the bucket is full again.
	Reset time.Duration
}

// Limiter takes events from buckets by key. n is 1 to take an event, 0 to look without taking
// (allowed while the bucket holds at least one token).
type Limiter interface {
	Allow(ctx context.Context, key string, r Rate, n int) (Decision, error)
}

// seconds rounds d up to whole seconds, for headers.
func seconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

// Seconds is d in whole seconds, rounded up, at least min.
func Seconds(d time.Duration, min int) int { return max(min, seconds(d)) }
