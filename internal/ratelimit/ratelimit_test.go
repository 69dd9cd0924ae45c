package ratelimit_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tiffin-dev/tiffin/internal/ratelimit"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

func TestParseRate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want ratelimit.Rate
		err  bool
	}{
		{"20/s:100", ratelimit.Rate{N: 20, Per: time.Second, Burst: 100}, false},
		{"30/m", ratelimit.Rate{N: 30, Per: time.Minute, Burst: 30}, false},
		{"5/10s:2", ratelimit.Rate{N: 5, Per: 10 * time.Second, Burst: 2}, false},
		{"off", ratelimit.Rate{N: -1}, false},
		{"", ratelimit.Rate{}, true},
		{"20", ratelimit.Rate{}, true},
		{"0/s", ratelimit.Rate{}, true},
		{"-1/s", ratelimit.Rate{}, true},
		{"1/fortnight", ratelimit.Rate{}, true},
		{"1/s:0", ratelimit.Rate{}, true},
	} {
		got, err := ratelimit.ParseRate(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseRate(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.err)
		}
		if err == nil && tt.in != "off" {
			if again, _ := ratelimit.ParseRate(got.String()); again != got {
				t.Errorf("ParseRate(%q).String() = %q reads back as %+v", tt.in, got.String(), again)
			}
		}
	}
}

// limiterSuite runs one bucket's story on a limiter: a burst of 3 at 1 per 100ms.
func limiterSuite(t *testing.T, l ratelimit.Limiter, advance func(time.Duration)) {
	t.Helper()
	ctx := context.Background()
	r := ratelimit.Rate{N: 10, Per: time.Second, Burst: 3}
	for i := range 3 {
		d, err := l.Allow(ctx, "k", r, 1)
		if err != nil || !d.Allowed || d.Remaining != 2-i {
			t.Fatalf("take %d: %+v, %v; want allowed with %d left", i, d, err, 2-i)
		}
	}
	d, _ := l.Allow(ctx, "k", r, 1)
	if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > 100*time.Millisecond {
		t.Errorf("fourth take: %+v, want refused, retry within 100ms", d)
	}
	if d, _ := l.Allow(ctx, "k", r, 0); d.Allowed {
		t.Errorf("look at the empty bucket: %+v, want refused", d)
	}
	if d, _ := l.Allow(ctx, "other", r, 1); !d.Allowed {
		t.Errorf("another key: %+v, want its own bucket", d)
	}
	advance(110 * time.Millisecond)
	if d, _ := l.Allow(ctx, "k", r, 0); !d.Allowed {
		t.Errorf("look after a token came back: %+v, want allowed", d)
	}
	if d, _ := l.Allow(ctx, "k", r, 1); !d.Allowed {
		t.Errorf("take after a token came back: %+v, want allowed", d)
	}
	if d, _ := l.Allow(ctx, "k", r, 1); d.Allowed {
		t.Errorf("take again: %+v, want refused", d)
	}
	if d, _ := l.Allow(ctx, "k", ratelimit.Rate{N: -1}, 1); !d.Allowed {
		t.Errorf("an off rate: %+v, want allowed", d)
	}
}

func TestLocal(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	l := ratelimit.NewLocal(func() time.Time { return now })
	limiterSuite(t, l, func(d time.Duration) { now = now.Add(d) })
}

// TestLocalEvictsIdle: buckets full again are dropped, so 100,000 addresses seen once hold no
// memory a minute later.
func TestLocalEvictsIdle(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	l := ratelimit.NewLocal(func() time.Time { return now })
	r := ratelimit.Rate{N: 10, Per: time.Second, Burst: 20}
	for i := range 100_000 {
		l.Allow(context.Background(), fmt.Sprint("ip:", i), r, 1)
	}
	if n := l.Len(); n != 100_000 {
		t.Fatalf("%d buckets, want 100000", n)
	}
	now = now.Add(time.Minute)
	l.Allow(context.Background(), "late", r, 1)
	if n := l.Len(); n != 1 {
		t.Errorf("%d buckets a minute later, want 1 (the idle ones dropped)", n)
	}
}

// TestRedis runs the suite on the real Redis (skipped loudly without one) with real time.
func TestRedis(t *testing.T) {
	t.Parallel()
	url, prefix := tiffintest.Redis(t)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opt)
	t.Cleanup(func() { client.Close() })
	limiterSuite(t, ratelimit.NewRedis(client, prefix), time.Sleep)
	// A full bucket's key expires: nothing is kept for idle clients.
	r := ratelimit.Rate{N: 10, Per: time.Second, Burst: 2}
	ratelimit.NewRedis(client, prefix).Allow(context.Background(), "ttl", r, 1)
	ttl, err := client.PTTL(context.Background(), prefix+"ttl").Result()
	if err != nil || ttl <= 0 || ttl > 300*time.Millisecond {
		t.Errorf("key's time to live %v, %v; want until the bucket is full (~100ms)", ttl, err)
	}
}

// TestFallback: a Redis that does not answer costs the shared count, not the limits.
func TestFallback(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	var told int
	now := time.Unix(1_000_000, 0)
	f := &ratelimit.Fallback{
		Primary:   ratelimit.NewRedis(client, "x:"),
		Secondary: ratelimit.NewLocal(func() time.Time { return now }),
		OnError:   func(error) { told++ },
	}
	limiterSuite(t, f, func(d time.Duration) { now = now.Add(d) })
	if told != 1 {
		t.Errorf("told of Redis's failure %d times, want once a minute", told)
	}
}
