package sim

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
)

// Stats is a snapshot of what the simulator has done since it started.
type Stats struct {
	Placed    int64 // orders the customers placed
	Accepted  int64 // orders the restaurants accepted
	Rejected  int64 // orders the restaurants turned down
	Delivered int64 // orders the couriers delivered
	Cancelled int64 // orders seen cancelled (by the server or ops)
	Failed    int64 // orders seen failed (payment)
	Errors    int64 // requests that failed or were answered unexpectedly
	// ClickToDoor holds the real time from order creation to delivery of the most recent
	// deliveries (up to a few thousand), oldest first.
	ClickToDoor []time.Duration
	// Speed is the simulator's Speed: simulated time is real time times Speed.
	Speed float64
}

// ClickToDoorPercentile returns the p-th percentile (0-100, nearest rank) of ClickToDoor in
// real time, and false when nothing has been delivered.
func (s Stats) ClickToDoorPercentile(p float64) (time.Duration, bool) {
	return percentile(s.ClickToDoor, p)
}

// String is the summary line, e.g.
// "sim: placed=123 accepted=120 rejected=1 delivered=98 cancelled=1 failed=2 errors=0 click-to-door p50=27m (sim) / 2m42s (real)".
func (s Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sim: placed=%d accepted=%d rejected=%d delivered=%d cancelled=%d failed=%d errors=%d click-to-door p50=",
		s.Placed, s.Accepted, s.Rejected, s.Delivered, s.Cancelled, s.Failed, s.Errors)
	p50, ok := s.ClickToDoorPercentile(50)
	if !ok {
		b.WriteString("-")
		return b.String()
	}
	speed := s.Speed
	if !(speed > 0) {
		speed = 1
	}
	simulated := time.Duration(math.Min(float64(p50)*speed, math.MaxInt64))
	fmt.Fprintf(&b, "%s (sim) / %s (real)", shortDuration(simulated, time.Minute), shortDuration(p50, time.Second))
	return b.String()
}

// shortDuration rounds d to unit (but never below a second, and to seconds under a minute)
// and drops zero trailing units: 27m, 1h5m, 2m42s, 45s.
func shortDuration(d, unit time.Duration) string {
	if d < time.Minute {
		unit = time.Second
	}
	d = d.Round(unit)
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// percentile is the nearest-rank p-th percentile (0-100) of ds, which it does not modify.
func percentile(ds []time.Duration, p float64) (time.Duration, bool) {
	if len(ds) == 0 {
		return 0, false
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	p = math.Max(0, math.Min(100, p))
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[max(rank-1, 0)], true
}

// keepDurations is how many click-to-door samples the recorder keeps.
const keepDurations = 4096

// recorder counts what happens; safe for concurrent use.
type recorder struct {
	speed                                 float64
	placed, accepted, rejected, delivered atomic.Int64
	cancelled, failed, errors             atomic.Int64

	mu    sync.Mutex
	ring  []time.Duration
	start int // index of the oldest sample once the ring is full
}

func newRecorder(speed float64) *recorder { return &recorder{speed: speed} }

func (r *recorder) clickToDoor(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ring) < keepDurations {
		r.ring = append(r.ring, d)
		return
	}
	r.ring[r.start] = d
	r.start = (r.start + 1) % keepDurations
}

func (r *recorder) snapshot() Stats {
	r.mu.Lock()
	ds := make([]time.Duration, 0, len(r.ring))
	ds = append(ds, r.ring[r.start:]...)
	ds = append(ds, r.ring[:r.start]...)
	r.mu.Unlock()
	return Stats{
		Placed: r.placed.Load(), Accepted: r.accepted.Load(), Rejected: r.rejected.Load(),
		Delivered: r.delivered.Load(), Cancelled: r.cancelled.Load(), Failed: r.failed.Load(),
		Errors: r.errors.Load(), ClickToDoor: ds, Speed: r.speed,
	}
}

// ledger remembers the orders this run placed until they end, and which orders it has seen
// end, so each end is counted once whoever notices it.
type ledger struct {
	mu   sync.Mutex
	open map[string]*openOrder
	done map[string]time.Time // order id -> when it was seen to end
}

type openOrder struct {
	id, customer string
	placedAt     time.Time
	checked      time.Time // placed or last looked up
}

// forgetAfter is how long ledger keeps ended orders (and open ones no one resolves).
const forgetAfter = 2 * time.Hour

func newLedger() *ledger {
	return &ledger{open: map[string]*openOrder{}, done: map[string]time.Time{}}
}

func (l *ledger) placed(id, customer string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.done[id]; ok {
		return
	}
	l.open[id] = &openOrder{id: id, customer: customer, placedAt: now, checked: now}
}

// end records that order id ended and reports whether this is the first time it is seen.
func (l *ledger) end(id string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.open, id)
	if _, ok := l.done[id]; ok {
		return false
	}
	l.done[id] = now
	return true
}

// due returns up to n open orders last looked up before now-every, oldest first, marking them
// checked; it also forgets orders older than forgetAfter.
func (l *ledger) due(now time.Time, every time.Duration, n int) []openOrder {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, at := range l.done {
		if now.Sub(at) > forgetAfter {
			delete(l.done, id)
		}
	}
	var out []openOrder
	for _, o := range l.open {
		if now.Sub(o.checked) >= every {
			out = append(out, *o)
		}
	}
	slices.SortFunc(out, func(a, b openOrder) int { return a.checked.Compare(b.checked) })
	out = out[:min(n, len(out))]
	for _, o := range out {
		l.open[o.id].checked = now
	}
	return out
}

// finish counts an order's end once, whoever saw it.
func (s *Sim) finish(id, status string) {
	if !terminal(status) || !s.ledger.end(id, time.Now()) {
		return
	}
	switch status {
	case statusRejected:
		s.stats.rejected.Add(1)
	case statusCancelled:
		s.stats.cancelled.Add(1)
	case statusFailed:
		s.stats.failed.Add(1)
	}
	// delivered is counted by the courier that delivered it
}

// checkBatch bounds the order lookups per sweep.
const checkBatch = 25

// runChecker plays the customers watching their orders: every few seconds it looks up, as
// their customers, the open orders not looked at for a while, so payment failures and
// cancellations nobody else sees are counted.
func (s *Sim) runChecker(ctx context.Context) {
	every := max(s.checkOpen/4, 100*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		for _, o := range s.ledger.due(now, s.checkOpen, checkBatch) {
			if now.Sub(o.placedAt) > forgetAfter {
				s.ledger.end(o.id, now)
				continue
			}
			me := auth.Principal{Subject: o.customer, Role: auth.Customer}
			r, err := s.as(ctx, me, http.MethodGet, "/v1/orders/"+url.PathEscape(o.id), nil, nil)
			if err != nil || !r.ok() {
				s.trouble(ctx, "check order", r, err, "order", o.id)
				continue
			}
			got, derr := decodeOrder(r.Body)
			if derr != nil {
				s.trouble(ctx, "check order", r, derr, "order", o.id)
				continue
			}
			s.finish(got.ID, got.Status)
		}
	}
}
