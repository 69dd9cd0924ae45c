package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// fate is what the chaos load does with an order once it is acknowledged.
type fate int

const (
	fateLeave     fate = iota // nobody answers: the restaurant timeout cancels it
	fateDeliver               // accept, ready, picked up, delivered
	fateCancel8               // once paid, eight concurrent cancels
	fateReject                // the restaurant rejects it
	fateCancelNow             // cancelled at once, likely while the authorization runs
)

// fateOf spreads fates over order numbers: 30% delivered, 15% cancelled by eight requests once
// paid, 10% rejected, 10% cancelled at once, 35% left to the restaurant timeout.
func fateOf(i int64) fate {
	switch i % 20 {
	case 0, 1, 2, 3, 4, 5:
		return fateDeliver
	case 6, 7, 8:
		return fateCancel8
	case 9, 10:
		return fateReject
	case 11, 12:
		return fateCancelNow
	}
	return fateLeave
}

// chaosLoad places orders at a steady rate against whichever replicas are up, retrying each
// with its own Idempotency-Key until it is acknowledged, and drives each acknowledged order
// to its fate, retrying through crashes.
type chaosLoad struct {
	c       *client
	bases   func() []string // replicas' base URLs, in the order to try them
	ops     string          // an ops token: places orders on customers' behalf, drives fates
	owner   string          // the restaurant owner's token
	run     string
	limiter *rate.Limiter

	next      atomic.Int64 // next order number
	attempts  atomic.Int64
	failures  atomic.Int64 // requests that failed and were retried
	rejected  atomic.Int64 // orders refused with a 4xx (never retried)
	fateFails atomic.Int64
	fated     atomic.Int64 // orders taken to their fate

	mu    sync.Mutex
	acked map[string]ackedOrder // by order ID
	fates chan ackedOrder
}

type ackedOrder struct {
	n    int64
	id   string
	at   time.Time
	fate fate
}

// key is order n's Idempotency-Key; customerID is whose order it is. One customer per order
// makes a duplicate visible as a customer with two orders.
func (l *chaosLoad) key(n int64) string        { return fmt.Sprintf("%s-%d", l.run, n) }
func (l *chaosLoad) customerID(n int64) string { return "chaos-" + l.key(n) }

// place runs workers placing orders until ctx ends.
func (l *chaosLoad) place(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				if err := l.limiter.Wait(ctx); err != nil {
					return
				}
				n := l.next.Add(1)
				l.placeOne(ctx, n)
			}
		})
	}
	wg.Wait()
}

// placeOne retries order n until it is acknowledged or refused, or ctx ends. A replica that is
// down answers nothing; the next try goes to another.
func (l *chaosLoad) placeOne(ctx context.Context, n int64) {
	body, _ := json.Marshal(map[string]any{
		"restaurant_id": restaurantID, "customer_id": l.customerID(n),
		"items":    []map[string]any{{"menu_item_id": menuItems[n%int64(len(menuItems))].ID, "quantity": 1 + n%3}},
		"delivery": map[string]any{"lat": restaurantLat - 0.03, "lng": restaurantLng + 0.03},
	})
	hdr := http.Header{"Idempotency-Key": {l.key(n)}}
	for try := 0; ; try++ {
		bases := l.bases()
		base := bases[try%len(bases)]
		l.attempts.Add(1)
		status, resp, err := l.c.doAt(ctx, base, http.MethodPost, "/v1/orders", l.ops, body, hdr)
		switch {
		case err == nil && status == http.StatusCreated:
			var o struct{ ID string }
			if json.Unmarshal(resp, &o) != nil || o.ID == "" {
				l.failures.Add(1)
				continue
			}
			a := ackedOrder{n: n, id: o.ID, at: time.Now(), fate: fateOf(n)}
			l.mu.Lock()
			l.acked[o.ID] = a
			l.mu.Unlock()
			select {
			case l.fates <- a:
			default: // the fate drivers are behind: this one is left to the timeout
			}
			return
		case err == nil && status >= 400 && status < 500 && status != http.StatusConflict && status != http.StatusTooManyRequests:
			l.rejected.Add(1)
			return
		}
		if ctx.Err() != nil {
			return
		}
		l.failures.Add(1)
		sleep(ctx, time.Duration(20+10*min(try, 20))*time.Millisecond)
	}
}

// drive runs workers taking acknowledged orders to their fates until the queue is closed and
// empty or ctx ends.
func (l *chaosLoad) drive(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for a := range l.fates {
				if ctx.Err() != nil {
					return
				}
				if err := l.fulfil(ctx, a); err != nil {
					l.fateFails.Add(1)
				} else {
					l.fated.Add(1)
				}
			}
		})
	}
	wg.Wait()
}

// fulfil takes one order to its fate.
func (l *chaosLoad) fulfil(ctx context.Context, a ackedOrder) error {
	path := "/v1/orders/" + a.id
	switch a.fate {
	case fateDeliver:
		for _, step := range []struct{ action, token string }{
			{"accept", l.owner}, {"ready", l.owner}, {"picked-up", l.ops}, {"delivered", l.ops},
		} {
			if err := l.until(ctx, path+"/"+step.action, step.token); err != nil {
				return err
			}
		}
	case fateReject:
		return l.until(ctx, path+"/reject", l.owner)
	case fateCancelNow:
		return l.until(ctx, path+"/cancel", l.ops)
	case fateCancel8:
		if err := l.waitPaid(ctx, path); err != nil {
			return err
		}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() { l.until(ctx, path+"/cancel", l.ops) })
		}
		wg.Wait()
	}
	return nil
}

// until posts action until it answers 200, retrying through conflicts (the order is not
// there yet: still placed) and crashes, for at most two minutes.
func (l *chaosLoad) until(ctx context.Context, path, token string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for try := 0; time.Now().Before(deadline); try++ {
		bases := l.bases()
		status, body, err := l.c.doAt(ctx, bases[try%len(bases)], http.MethodPost, path, token, nil, nil)
		if err == nil && status == http.StatusOK {
			return nil
		}
		if err == nil && status == http.StatusConflict && ended(body) {
			return nil // the order ended another way (declined, timed out)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		sleep(ctx, pollDelay(try))
	}
	return fmt.Errorf("POST %s: gave up", path)
}

// waitPaid polls the order until it is paid (or ended).
func (l *chaosLoad) waitPaid(ctx context.Context, path string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for try := 0; time.Now().Before(deadline); try++ {
		bases := l.bases()
		status, body, err := l.c.doAt(ctx, bases[try%len(bases)], http.MethodGet, path, l.ops, nil, nil)
		if err == nil && status == http.StatusOK {
			var o struct{ Status string }
			if json.Unmarshal(body, &o) == nil && o.Status != "placed" {
				return nil
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		sleep(ctx, pollDelay(try))
	}
	return fmt.Errorf("GET %s: never paid", path)
}

// pollDelay is the wait after the try-th poll of an order that is not there yet: 100 ms,
// growing by half each time to a second, so hundreds of drivers waiting on slow payments
// do not flood the replicas.
func pollDelay(try int) time.Duration {
	d := 100 * time.Millisecond
	for range min(try, 6) {
		d = d * 3 / 2
	}
	return min(d, time.Second)
}

// ended reports whether a 409's problem says the order is already in an end status.
func ended(problem []byte) bool {
	var p struct{ Detail string }
	_ = json.Unmarshal(problem, &p)
	for _, s := range []string{"order is cancelled", "order is rejected", "order is failed", "order is delivered"} {
		if strings.Contains(p.Detail, s) {
			return true
		}
	}
	return false
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// snapshot returns the acknowledged orders so far.
func (l *chaosLoad) snapshot() []ackedOrder {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]ackedOrder, 0, len(l.acked))
	for _, a := range l.acked {
		out = append(out, a)
	}
	return out
}
