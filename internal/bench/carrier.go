package bench

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/sync/errgroup"

	"github.com/tiffin-dev/tiffin/internal/app"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/fulfil"
	"github.com/tiffin-dev/tiffin/internal/fulfil/carrierfake"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// CarrierConfig configures `tiffin bench carrier`.
type CarrierConfig struct {
	// Scenario is "outage" (the carrier down for Outage of carrier time while Shipments
	// orders are placed, then back) or "mix" (the carrier up, timing out after booking on
	// TimeoutShare of requests and forgetting LoseShare of the bookings it answers, and
	// ignoring idempotency keys, over Shipments orders).
	Scenario string
	// DB is "sqlite" (a temporary file) or a postgres:// URL (a fresh schema, dropped after).
	DB string
	// Shipments is how many carrier orders are placed. Defaults: 5,000 (outage), 2,000 (mix).
	Shipments int
	// Outage is the carrier's downtime in carrier time. Default 72h.
	Outage time.Duration
	// Speedup compresses time: every duration of the carrier and of tiffin's carrier path
	// (breaker 30 s, retries 5 s to 5 min, polls 5 min, pickup 2 min, delivery 10 min) runs
	// this many times faster, and the outage lasts Outage/Speedup of real time. Default 720
	// (72 h in 6 min). Time after the recovery is reported in both.
	Speedup float64
	// TimeoutShare and LoseShare are the mix's failure shares. Defaults 0.3 and 0.1.
	TimeoutShare, LoseShare float64
	// Drain bounds the wait, in real time, for every shipment to be delivered. Default 10 min.
	Drain time.Duration
	Out   io.Writer
}

// CarrierResult is what one run measured.
type CarrierResult struct {
	Scenario                        string
	Orders, Accepted, Shipments     int
	Booked, Delivered               int
	Lost, BookingsHeld, Duplicates  int
	Probes, MaxProbesPer30s         int
	TrippedAfter                    int // requests sent after the carrier went down, before the breaker opened
	Calls                           int64
	RecoveryToBooked, RecoveryToAll time.Duration // real time from the carrier's return
	ShippedMails                    map[int]int   // customers by how many "shipped" e-mails they got
	Elapsed                         time.Duration
}

// countingTransport counts the requests tiffin sends the carrier (those the breaker let
// through), with their times.
type countingTransport struct {
	next  http.RoundTripper
	mu    sync.Mutex
	times []time.Time
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.mu.Lock()
	t.times = append(t.times, time.Now())
	t.mu.Unlock()
	return t.next.RoundTrip(r)
}

func (t *countingTransport) between(from, to time.Time) []time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []time.Time
	for _, at := range t.times {
		if !at.Before(from) && at.Before(to) {
			out = append(out, at)
		}
	}
	return out
}

// Carrier runs one carrier scenario against an in-process app with the fake carrier and the
// mail catcher, and reports what became of every shipment.
func Carrier(ctx context.Context, cfg CarrierConfig) (CarrierResult, error) {
	if cfg.Speedup <= 0 {
		cfg.Speedup = 720
	}
	if cfg.Outage <= 0 {
		cfg.Outage = 72 * time.Hour
	}
	if cfg.Shipments <= 0 {
		cfg.Shipments = map[string]int{"mix": 2000}[cfg.Scenario]
		if cfg.Shipments == 0 {
			cfg.Shipments = 5000
		}
	}
	if cfg.TimeoutShare == 0 && cfg.LoseShare == 0 {
		cfg.TimeoutShare, cfg.LoseShare = 0.3, 0.1
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 10 * time.Minute
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	res := CarrierResult{Scenario: cfg.Scenario, ShippedMails: map[int]int{}}
	if cfg.Scenario != "outage" && cfg.Scenario != "mix" {
		return res, fmt.Errorf("bench carrier: unknown scenario %q (outage, mix)", cfg.Scenario)
	}
	scale := func(d time.Duration) time.Duration { return time.Duration(float64(d) / cfg.Speedup) }
	dir, err := os.MkdirTemp("", "tiffin-bench-carrier-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	dsn := ""
	if isPostgres(cfg.DB) {
		sc, err := newSchema(ctx, cfg.DB)
		if err != nil {
			return res, err
		}
		defer sc.drop(context.WithoutCancel(ctx))
		dsn = sc.dsn
	}
	counter := &countingTransport{next: http.DefaultTransport.(*http.Transport).Clone()}
	fake := carrierfake.Config{Seed: 42, HangLimit: 20 * time.Second}
	if cfg.Scenario == "mix" {
		fake.IgnoreKeys = true
		fake.Mix = map[carrierfake.Mode]float64{carrierfake.TimeoutAfterBooking: cfg.TimeoutShare, carrierfake.LoseBookings: cfg.LoseShare}
	}
	var openedMu sync.Mutex
	var opened time.Time // the breaker's first opening
	onBreaker := func(_, to gobreaker.State) {
		openedMu.Lock()
		defer openedMu.Unlock()
		if to == gobreaker.StateOpen && opened.IsZero() {
			opened = time.Now()
		}
	}
	actx, stop := context.WithCancel(ctx)
	defer stop()
	a, err := app.New(actx, app.Config{
		OnCarrierBreaker: onBreaker,
		Addr:             "127.0.0.1:0", DataDir: dir, DB: dsn, Version: "bench", Logger: quietLogger(),
		FakeCarrier: true, CatchMail: true, FakeCarrierOptions: fake,
		// Thousands of orders from one ops token on compressed time: the edge's rate limits
		// would measure themselves.
		RateLimits:             httpapi.Limits{Off: true},
		FakeCarrierPickupAfter: scale(2 * time.Minute), FakeCarrierDeliverAfter: scale(10 * time.Minute),
		CarrierBreakerOpenFor: scale(30 * time.Second),
		CarrierRetry:          fulfil.RetrySchedule{Initial: scale(5 * time.Second), Max: scale(5 * time.Minute), Jitter: 0.2},
		// Polls every 5 min compressed would be 12,000/s for 5,000 parcels: they stay at one
		// per 5 s of real time (webhooks bring every change first anyway).
		CarrierPollEvery:  max(scale(5*time.Minute), 5*time.Second),
		CarrierSweepEvery: max(scale(time.Second), 10*time.Millisecond),
		CarrierClient:     &http.Client{Timeout: 10 * time.Second, Transport: counter},
		RestaurantTimeout: time.Hour,
	})
	if err != nil {
		return res, fmt.Errorf("start app: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(actx) }()
	defer func() {
		stop()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			fmt.Fprintln(cfg.Out, "app did not stop within 30s")
		}
	}()
	hc := &http.Client{Timeout: 30 * time.Second, Transport: transport(64)}
	c := &client{base: a.URL(), hc: hc}
	if err := c.waitReady(ctx, done); err != nil {
		return res, err
	}
	keys := a.Keys()
	ops, _ := keys.Issue(auth.Principal{Subject: "bench-ops", Role: auth.Ops}, 24*time.Hour)
	owner, _ := keys.Issue(auth.Principal{Subject: "bench-owner", Role: auth.Restaurant}, 24*time.Hour)
	call := func(method, path, token string, body any) (int, []byte, error) {
		var b []byte
		var hdr http.Header
		if body != nil {
			b, _ = json.Marshal(body)
		}
		if method == "POST" && path == "/v1/orders" {
			hdr = http.Header{"Idempotency-Key": {fmt.Sprintf("bench-%x", sha256.Sum256(b))}}
		}
		return c.do(ctx, method, path, token, b, hdr)
	}
	must := func(method, path, token string, body any, ok ...int) ([]byte, error) {
		status, b, err := call(method, path, token, body)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(ok, status) {
			return nil, fmt.Errorf("%s %s: %d %s", method, path, status, snippet(b))
		}
		return b, nil
	}
	if _, err := must("PUT", "/v1/restaurants/bench-carrier", ops, map[string]any{
		"owner_id": "bench-owner", "name": "Bench Parcel Kitchen", "lat": restaurantLat, "lng": restaurantLng, "delivery_mode": "carrier",
	}, 200, 201); err != nil {
		return res, err
	}
	if _, err := must("PUT", "/v1/restaurants/bench-carrier/menu", owner, map[string]any{"items": []map[string]any{
		{"id": "bench-carrier-tiffin", "name": "Tiffin box", "price": 25000}}}, 200); err != nil {
		return res, err
	}
	start := time.Now()
	fmt.Fprintf(cfg.Out, "carrier %s on %s: %d customers with e-mail...\n", cfg.Scenario, backendNames([]string{cfg.DB})[0], cfg.Shipments)
	if err := forEach(ctx, cfg.Shipments, 32, func(i int) error {
		_, err := must("PUT", fmt.Sprintf("/v1/customers/bc-%05d", i), ops, map[string]any{
			"name": fmt.Sprintf("Customer %d", i), "email": fmt.Sprintf("bc-%05d@example.com", i),
			"address": map[string]any{"line1": fmt.Sprintf("%d Long Road", i), "city": "Mysuru", "postcode": "570001", "country": "IN",
				"lat": restaurantLat + 0.5, "lng": restaurantLng + 0.5},
		}, 200, 201)
		return err
	}); err != nil {
		return res, err
	}

	var downAt, upAt time.Time
	if cfg.Scenario == "outage" {
		if _, err := must("PUT", "/v1/ops/fakes/carrier", ops, map[string]any{"mode": "down"}, 200); err != nil {
			return res, err
		}
		downAt = time.Now()
	}
	// Orders: placed evenly over the outage (or as fast as they go in the mix), each accepted
	// once paid.
	window := scale(cfg.Outage)
	if cfg.Scenario == "mix" {
		window = 0
	}
	var placed, accepted atomic.Int64
	progressDone := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-progressDone:
				return
			case <-t.C:
				counts, _ := shipmentCounts(ctx, a.DB())
				fmt.Fprintf(cfg.Out, "  %5.0fs: %d placed, %d accepted; shipments %v; %d carrier calls\n",
					time.Since(start).Seconds(), placed.Load(), accepted.Load(), counts, len(counter.between(start, time.Now())))
			}
		}
	}()
	defer close(progressDone)
	err = forEach(ctx, cfg.Shipments, 32, func(i int) error {
		if window > 0 {
			at := downAt.Add(time.Duration(float64(window) * float64(i) / float64(cfg.Shipments)))
			if d := time.Until(at); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		b, err := must("POST", "/v1/orders", ops, map[string]any{
			"restaurant_id": "bench-carrier", "customer_id": fmt.Sprintf("bc-%05d", i),
			"items": []map[string]any{{"menu_item_id": "bench-carrier-tiffin", "quantity": 1}},
		}, 201)
		if err != nil {
			return err
		}
		placed.Add(1)
		var o struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(b, &o)
		for try := 0; ; try++ {
			status, body, err := call("POST", "/v1/orders/"+o.ID+"/accept", owner, nil)
			if err == nil && status == 200 {
				accepted.Add(1)
				return nil
			}
			if try > 600 {
				return fmt.Errorf("accept %s: %d %s %v", o.ID, status, snippet(body), err)
			}
			time.Sleep(50 * time.Millisecond) // not paid yet
		}
	})
	if err != nil {
		return res, err
	}
	res.Orders, res.Accepted = int(placed.Load()), int(accepted.Load())
	if cfg.Scenario == "outage" {
		if d := time.Until(downAt.Add(window)); d > 0 {
			time.Sleep(d)
		}
		if _, err := must("PUT", "/v1/ops/fakes/carrier", ops, map[string]any{"mode": "up"}, 200); err != nil {
			return res, err
		}
		upAt = time.Now()
		// Probes: the requests sent while the breaker was open or half-open, from its first
		// opening (BreakerTrips failed calls after the carrier went down) to the carrier's
		// return, counted in windows of 30 s of carrier time.
		openedMu.Lock()
		from := opened
		openedMu.Unlock()
		res.TrippedAfter = len(counter.between(downAt, from))
		probes := counter.between(from, upAt)
		res.Probes = len(probes)
		win := scale(30 * time.Second)
		for i := range probes {
			n := 0
			for _, p := range probes[i:] {
				if p.Sub(probes[i]) >= win {
					break
				}
				n++
			}
			res.MaxProbesPer30s = max(res.MaxProbesPer30s, n)
		}
		fmt.Fprintf(cfg.Out, "  carrier back after %s real (%s carrier time): %d requests sent during the outage\n",
			upAt.Sub(downAt).Round(time.Second), cfg.Outage, res.Probes)
	} else {
		upAt = start
	}
	// Drain: every shipment booked, then delivered, and the customers' e-mails sent.
	deadline := time.Now().Add(cfg.Drain)
	for time.Now().Before(deadline) {
		counts, err := shipmentCounts(ctx, a.DB())
		if err != nil {
			return res, err
		}
		if counts[string(fulfil.Requested)] == 0 && res.RecoveryToBooked == 0 && counts["total"] == res.Accepted {
			res.RecoveryToBooked = time.Since(upAt)
			fmt.Fprintf(cfg.Out, "  every shipment booked %.1fs after the carrier's return\n", res.RecoveryToBooked.Seconds())
		}
		var mails int
		_ = a.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM notify_messages WHERE channel = 'email' AND kind = 'shipped' AND state = 'sent'`).Scan(&mails)
		if counts[string(fulfil.Delivered)] == res.Accepted && mails >= res.Accepted {
			res.RecoveryToAll = time.Since(upAt)
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	counts, err := shipmentCounts(ctx, a.DB())
	if err != nil {
		return res, err
	}
	res.Shipments, res.Delivered = counts["total"], counts[string(fulfil.Delivered)]
	res.Booked = res.Shipments - counts[string(fulfil.Requested)] - counts[string(fulfil.Failed)]
	var lost int
	if err := a.DB().QueryRowContext(ctx,
		`SELECT COUNT(*) FROM orders o WHERE o.status NOT IN ('cancelled','rejected','failed')
		   AND NOT EXISTS (SELECT 1 FROM shipments s WHERE s.order_id = o.id AND s.state = 'delivered')`).Scan(&lost); err != nil {
		return res, err
	}
	res.Lost = lost
	status, body, err := call("GET", "/v1/ops/fakes/carrier", ops, nil)
	if err != nil || status != 200 {
		return res, fmt.Errorf("fake carrier stats: %d %v", status, err)
	}
	var st carrierfake.Stats
	_ = json.Unmarshal(body, &st)
	res.BookingsHeld, res.Duplicates = st.Bookings, st.DuplicateBookings
	res.Calls = int64(len(counter.between(start, time.Now())))
	rows, err := a.DB().QueryContext(ctx,
		`SELECT n, COUNT(*) FROM (SELECT c.id, (SELECT COUNT(*) FROM notify_messages m WHERE m.channel = 'email' AND m.kind = 'shipped'
		   AND m.state = 'sent' AND m.recipient = c.email) AS n FROM customers c WHERE c.id LIKE 'bc-%') per GROUP BY n`)
	if err != nil {
		return res, err
	}
	for rows.Next() {
		var n, k int
		if err := rows.Scan(&n, &k); err != nil {
			rows.Close()
			return res, err
		}
		res.ShippedMails[n] = k
	}
	rows.Close()
	res.Elapsed = time.Since(start)
	printCarrier(cfg, res)
	return res, nil
}

// shipmentCounts counts shipments by state, and in all ("total").
func shipmentCounts(ctx context.Context, db *store.DB) (map[string]int, error) {
	counts, _, err := fulfil.Backlog(ctx, db, time.Now())
	out := map[string]int{}
	for st, n := range counts {
		out[string(st)] = n
		out["total"] += n
	}
	return out, err
}

func forEach(ctx context.Context, n, workers int, fn func(i int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	next := atomic.Int64{}
	for range workers {
		g.Go(func() error {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return ctx.Err()
				}
				if err := fn(i); err != nil {
					return err
				}
			}
		})
	}
	err := g.Wait()
	if errors.Is(err, context.Canceled) && ctx.Err() == nil {
		return nil
	}
	return err
}

func printCarrier(cfg CarrierConfig, r CarrierResult) {
	w := cfg.Out
	fmt.Fprintf(w, "\ncarrier %s, %s, speedup %.0fx (%s)\n", r.Scenario, backendNames([]string{cfg.DB})[0], cfg.Speedup, describeMachine(time.Now()))
	fmt.Fprintf(w, "  orders placed %d, accepted %d; shipments %d, booked %d, delivered %d\n", r.Orders, r.Accepted, r.Shipments, r.Booked, r.Delivered)
	fmt.Fprintf(w, "  lost (accepted, not delivered) %d; bookings the carrier holds %d; references booked twice %d\n", r.Lost, r.BookingsHeld, r.Duplicates)
	if r.Scenario == "outage" {
		fmt.Fprintf(w, "  outage %s carrier time: breaker open after %d failed requests; then %d probes, at most %d in any 30 s of carrier time\n",
			cfg.Outage, r.TrippedAfter, r.Probes, r.MaxProbesPer30s)
		fmt.Fprintf(w, "  after the return: all booked in %.1fs real (%s carrier), all delivered and e-mailed in %.1fs real\n",
			r.RecoveryToBooked.Seconds(), time.Duration(float64(r.RecoveryToBooked)*cfg.Speedup).Round(time.Second), r.RecoveryToAll.Seconds())
	} else {
		fmt.Fprintf(w, "  timeout-after-booking %.0f%%, lose-bookings %.0f%%, keys ignored: all delivered in %.1fs real\n",
			cfg.TimeoutShare*100, cfg.LoseShare*100, r.RecoveryToAll.Seconds())
	}
	fmt.Fprintf(w, "  carrier requests %d; customers by shipped e-mails received: %v\n", r.Calls, r.ShippedMails)
	fmt.Fprintf(w, "  elapsed %s\n", r.Elapsed.Round(time.Second))
}

// quietLogger is the booted app's logger: warnings and errors only, to stderr.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
