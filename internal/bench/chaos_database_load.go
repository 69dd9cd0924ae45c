package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// chaos is the state the workers share.
type chaos struct {
	*client
	run   string
	phase atomic.Int32

	writes, acked, refused, noRetry, inFlight atomic.Int64
	other5xx, otherFailures                   atomic.Int64
	outageReads, outageAnswered, outageStale  atomic.Int64
	maxOutageWrite                            atomic.Int64 // nanoseconds
}

// answer is one HTTP exchange.
type answer struct {
	status int
	header http.Header
	body   []byte
	took   time.Duration
	err    error
}

func (a answer) stale() bool { return a.header.Get("X-Tiffin-Stale") == "true" }

// retryAfter is the answer's Retry-After, capped at 5s; 1s when absent or unreadable.
func (a answer) retryAfter() time.Duration {
	n, err := strconv.Atoi(a.header.Get("Retry-After"))
	if err != nil || n < 0 {
		return time.Second
	}
	return min(time.Duration(n)*time.Second, 5*time.Second)
}

func (ch *chaos) call(ctx context.Context, method, path, token string, body []byte, hdr http.Header) answer {
	start := time.Now()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, ch.base+path, rd)
	if err != nil {
		return answer{err: err}
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := ch.hc.Do(req)
	if err != nil {
		return answer{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return answer{status: resp.StatusCode, header: resp.Header, body: b, err: err, took: time.Since(start)}
}

// recovery probes every 100ms, as a fresh customer, until a checkout is acknowledged and
// /readyz, the menu and that order all answer fresh; it returns the seconds since the restore,
// or -1 if that did not happen by until.
func (ch *chaos) recovery(ctx context.Context, token string, until time.Time) float64 {
	restored := time.Now()
	rng := rand.New(rand.NewPCG(1, 2)) // #nosec G404 -- the benchmark's load randomness; no secret
	for n := 0; time.Now().Before(until) && ctx.Err() == nil; n++ {
		w := ch.call(ctx, http.MethodPost, "/v1/orders", token, orderBody(rng),
			http.Header{"Idempotency-Key": {fmt.Sprintf("chaos-%s-probe-%d", ch.run, n)}})
		var o struct {
			ID string `json:"id"`
		}
		ok := w.status == http.StatusCreated && json.Unmarshal(w.body, &o) == nil
		if ok {
			ready := ch.call(ctx, http.MethodGet, "/readyz", "", nil, nil)
			menu := ch.call(ctx, http.MethodGet, "/v1/restaurants/"+restaurantID+"/menu", "", nil, nil)
			own := ch.call(ctx, http.MethodGet, "/v1/orders/"+o.ID, token, nil, nil)
			ok = ready.status == http.StatusOK && menu.status == http.StatusOK && !menu.stale() &&
				own.status == http.StatusOK && !own.stale()
		}
		if ok {
			return time.Since(restored).Seconds()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return -1
}

// chaosWorker is one customer: it checks out, reads the menu and reads its own orders.
type chaosWorker struct {
	*chaos
	id    int
	token string
	rng   *rand.Rand
	n     int

	pending   []byte    // a checkout refused, to retry with the same key
	pendingAt time.Time // not before
	key       string
	orders    []string // IDs of its acknowledged orders
}

func (w *chaosWorker) loop(ctx context.Context) {
	for ctx.Err() == nil {
		switch op := w.rng.IntN(5); {
		case op == 0 && !time.Now().Before(w.pendingAt):
			w.write(ctx)
		case op <= 2 || len(w.orders) == 0:
			w.read(ctx, "/v1/restaurants/"+restaurantID+"/menu")
		default:
			w.read(ctx, "/v1/orders/"+w.orders[w.rng.IntN(len(w.orders))])
		}
	}
}

func (w *chaosWorker) write(ctx context.Context) {
	if w.pending == nil {
		w.n++
		w.pending, w.key = orderBody(w.rng), fmt.Sprintf("chaos-%s-%d-%d", w.run, w.id, w.n)
	}
	outage := w.phase.Load() == phaseOutage
	a := w.call(ctx, http.MethodPost, "/v1/orders", w.token, w.pending, http.Header{"Idempotency-Key": {w.key}})
	if ctx.Err() != nil {
		return
	}
	w.writes.Add(1)
	if outage {
		for d := int64(a.took); ; {
			cur := w.maxOutageWrite.Load()
			if d <= cur || w.maxOutageWrite.CompareAndSwap(cur, d) {
				break
			}
		}
	}
	switch {
	case a.err == nil && a.status == http.StatusCreated:
		var o struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(a.body, &o) != nil || o.ID == "" {
			w.otherFailures.Add(1)
			return
		}
		w.orders = append(w.orders, o.ID)
		w.acked.Add(1)
		w.pending = nil
	case a.err == nil && a.status == http.StatusServiceUnavailable:
		if a.header.Get("Retry-After") == "" {
			w.noRetry.Add(1)
		} else {
			w.refused.Add(1)
		}
		w.pendingAt = time.Now().Add(a.retryAfter())
	case a.err == nil && a.status == http.StatusConflict:
		w.inFlight.Add(1)
		w.pendingAt = time.Now().Add(a.retryAfter())
	case a.err == nil && a.status >= 500:
		w.other5xx.Add(1)
		w.pendingAt = time.Now().Add(time.Second)
	default:
		w.otherFailures.Add(1)
		w.pending = nil // a 4xx will not change on retry
	}
}

func (w *chaosWorker) read(ctx context.Context, path string) {
	outage := w.phase.Load() == phaseOutage
	a := w.call(ctx, http.MethodGet, path, w.token, nil, nil)
	if ctx.Err() != nil {
		return
	}
	answered := a.err == nil && (a.status == http.StatusOK || a.status == http.StatusNotModified)
	if outage {
		w.outageReads.Add(1)
		if answered {
			w.outageAnswered.Add(1)
			if a.stale() {
				w.outageStale.Add(1)
			}
		}
	}
	switch {
	case answered:
	case a.err == nil && a.status >= 500 && a.status != http.StatusServiceUnavailable:
		w.other5xx.Add(1)
	case a.err == nil && a.status == http.StatusServiceUnavailable:
		// Counted among the outage reads not answered.
	default:
		w.otherFailures.Add(1)
	}
}
