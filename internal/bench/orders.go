package bench

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tiffin-dev/tiffin/internal/app"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
	"github.com/tiffin-dev/tiffin/internal/payment/stripefake"
)

// The seeded restaurant: one place in Bengaluru with a small menu nothing runs out of.
const (
	restaurantID  = "bench-r"
	restaurantLat = 12.9716
	restaurantLng = 77.5946
)

var menuItems = []struct {
	ID    string
	Name  string
	Price int64
}{
	{"bench-r-dosa", "Masala dosa", 12000},
	{"bench-r-idli", "Idli vada", 8000},
	{"bench-r-bath", "Kesari bath", 6000},
	{"bench-r-coffee", "Filter coffee", 4000},
}

// maxShownErrors is how many failed requests are printed in full.
const maxShownErrors = 5

// benchApp boots the app on dsn ("" for SQLite in a temporary directory), seeds it, and
// measures order placement.
func benchApp(ctx context.Context, cfg OrdersConfig, dsn, label string) (Result, error) {
	res := Result{Backend: label}
	dir, err := os.MkdirTemp("", "tiffin-bench-")
	if err != nil {
		return res, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)

	// The payment provider is remote in a deployment, keeps its ledger elsewhere and takes a
	// while to answer: the bench pays through the Stripe adapter against the fake Stripe API in
	// this process (as the chaos bench does), answering each write after cfg.PayLatency, not
	// through the dev sandbox, whose ledger would share tiffin's database.
	pay := stripefake.New(stripefake.Config{Seed: 1, Latency: cfg.PayLatency})
	payHTTP := httptest.NewServer(pay)
	defer func() { pay.Close(); payHTTP.Close() }()

	actx, stop := context.WithCancel(ctx)
	defer stop()
	a, err := app.New(actx, app.Config{
		Addr: "127.0.0.1:0", DataDir: dir, DB: dsn, Version: "bench", Logger: cfg.Logger,
		PayProvider: "stripe", StripeKey: pay.Key(), StripeURL: payHTTP.URL, PaymentConcurrency: cfg.PaymentConcurrency,
		// The bench saturates one address with 64 customers' checkouts: what it measures is
		// placement, not the edge's rate limits.
		RateLimits: httpapi.Limits{Off: true},
	})
	if err != nil {
		return res, fmt.Errorf("start app: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(actx) }()
	defer func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				fmt.Fprintf(cfg.Out, "%s: app stopped with error: %v\n", label, err)
			}
		case <-time.After(30 * time.Second):
			fmt.Fprintf(cfg.Out, "%s: app did not stop within 30s\n", label)
		}
	}()

	hc := &http.Client{Timeout: 30 * time.Second, Transport: transport(cfg.Concurrency)}
	defer hc.CloseIdleConnections()
	c := &client{base: a.URL(), hc: hc}
	if err := c.waitReady(ctx, done); err != nil {
		return res, err
	}
	ttl := cfg.Warmup + cfg.Duration + time.Hour
	if err := seed(ctx, c, a.Keys(), ttl); err != nil {
		return res, fmt.Errorf("seed: %w", err)
	}
	customers, err := customerTokens(a.Keys(), max(4*cfg.Concurrency, 32), ttl)
	if err != nil {
		return res, err
	}
	l := &load{client: c, customers: customers, out: cfg.Out, run: newRunID()}
	if cfg.CPUProfile != "" {
		f, err := os.Create(fmt.Sprintf("%s-%s.pprof", cfg.CPUProfile, profileName(label)))
		if err != nil {
			return res, fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return res, fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	res, err = l.measure(ctx, cfg, label)
	if err != nil {
		return res, err
	}
	res.Placed, res.Unpaid = -1, -1
	err = a.DB().QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 'placed' THEN 1 ELSE 0 END), 0) FROM orders`).
		Scan(&res.Placed, &res.Unpaid)
	if err != nil {
		return res, fmt.Errorf("count unpaid orders: %w", err)
	}
	return res, nil
}

// transport keeps a connection per client alive between requests.
func transport(concurrency int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 2 * concurrency
	t.MaxIdleConnsPerHost = concurrency
	t.MaxConnsPerHost = 0
	return t
}

// client talks to the app's public API.
type client struct {
	base string
	hc   *http.Client
}

// do sends one request with a JSON body (when body is not nil) and returns the status and the
// response body.
func (c *client) do(ctx context.Context, method, path, token string, body []byte, hdr http.Header) (int, []byte, error) {
	return c.doAt(ctx, c.base, method, path, token, body, hdr)
}

// doAt is do against another base URL (another replica).
func (c *client) doAt(ctx context.Context, base, method, path, token string, body []byte, hdr http.Header) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return 0, nil, err
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
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return resp.StatusCode, b, nil
}

// waitReady polls /readyz until it answers 200, the app stops, or 30s pass.
func (c *client) waitReady(ctx context.Context, stopped <-chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body, err := c.do(ctx, http.MethodGet, "/readyz", "", nil, nil)
		if err == nil && status == http.StatusOK {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("app not ready after 30s: status %d %s, err %v", status, snippet(body), err)
		}
		select {
		case err := <-stopped:
			return fmt.Errorf("app stopped before it was ready: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// seed creates the restaurant and its menu through the public API, as ops.
func seed(ctx context.Context, c *client, keys *auth.Keys, ttl time.Duration) error {
	ops, err := keys.Issue(auth.Principal{Subject: "bench-ops", Role: auth.Ops}, ttl)
	if err != nil {
		return err
	}
	put := func(path string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		status, body, err := c.do(ctx, http.MethodPut, path, ops, b, nil)
		if err != nil {
			return fmt.Errorf("PUT %s: %w", path, err)
		}
		if status != http.StatusOK && status != http.StatusCreated {
			return fmt.Errorf("PUT %s: got %d %s", path, status, snippet(body))
		}
		return nil
	}
	if err := put("/v1/restaurants/"+restaurantID, map[string]any{
		"owner_id": "bench-owner", "name": "Bench Dosa Corner", "lat": restaurantLat, "lng": restaurantLng,
	}); err != nil {
		return err
	}
	var items []map[string]any
	for _, it := range menuItems {
		items = append(items, map[string]any{"id": it.ID, "name": it.Name, "price": it.Price})
	}
	return put("/v1/restaurants/"+restaurantID+"/menu", map[string]any{"items": items})
}

// customerTokens signs tokens for n customers.
func customerTokens(keys *auth.Keys, n int, ttl time.Duration) ([]string, error) {
	tokens := make([]string, n)
	for i := range tokens {
		t, err := keys.Issue(auth.Principal{Subject: fmt.Sprintf("bench-customer-%d", i), Role: auth.Customer}, ttl)
		if err != nil {
			return nil, err
		}
		tokens[i] = t
	}
	return tokens, nil
}

// newRunID is a random prefix that keeps this run's Idempotency-Keys apart from any other's.
func newRunID() string {
	var b [6]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// load is one measurement: clients placing orders as fast as the app answers.
type load struct {
	*client
	customers []string
	out       io.Writer
	run       string

	placed atomic.Int64 // 201s so far, warmup included
	failed atomic.Int64 // failures so far, warmup included

	mu    sync.Mutex
	shown int
}

// measure runs cfg.Concurrency workers for Warmup+Duration, printing progress every second.
func (l *load) measure(ctx context.Context, cfg OrdersConfig, label string) (Result, error) {
	start := time.Now()
	from := start.Add(cfg.Warmup)
	end := from.Add(cfg.Duration)
	samples := make([][]time.Duration, cfg.Concurrency)
	var wg sync.WaitGroup
	for w := range cfg.Concurrency {
		wg.Go(func() { samples[w] = l.worker(ctx, w, from, end) })
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	l.progress(finished, start, from)
	elapsed := time.Since(from)

	all := slices.Concat(samples...)
	res := Result{Backend: label, Orders: len(all), Errors: int(l.failed.Load()), Duration: elapsed}
	if elapsed > 0 {
		res.PerSecond = float64(len(all)) / elapsed.Seconds()
	}
	summarize(&res, all)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if res.Orders == 0 {
		return res, errors.New("no order succeeded")
	}
	return res, nil
}

// progress prints a line a second until finished is closed.
func (l *load) progress(finished <-chan struct{}, start, from time.Time) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last, lastAt := int64(0), start
	for {
		select {
		case <-finished:
			return
		case now := <-tick.C:
			n := l.placed.Load()
			rate := float64(n-last) / now.Sub(lastAt).Seconds()
			last, lastAt = n, now
			phase := ""
			if now.Before(from) {
				phase = " (warmup)"
			}
			fmt.Fprintf(l.out, "   %5.1fs  %8d orders  %8.0f/s  %d errors%s\n",
				now.Sub(start).Seconds(), n, rate, l.failed.Load(), phase)
		}
	}
}

// worker places orders back to back until end and returns the latencies of those started at
// or after from that succeeded.
func (l *load) worker(ctx context.Context, w int, from, end time.Time) []time.Duration {
	rng := rand.New(rand.NewPCG(uint64(w), 0x7fff_1ffe)) // #nosec G115 G404 -- the benchmark's load randomness; no secret
	var samples []time.Duration
	for n := 0; ctx.Err() == nil; n++ {
		t0 := time.Now()
		if !t0.Before(end) {
			break
		}
		body := orderBody(rng)
		token := l.customers[rng.IntN(len(l.customers))]
		hdr := http.Header{"Idempotency-Key": {fmt.Sprintf("bench-%s-%d-%d", l.run, w, n)}}
		status, resp, err := l.do(ctx, http.MethodPost, "/v1/orders", token, body, hdr)
		lat := time.Since(t0)
		if err == nil && status == http.StatusCreated {
			l.placed.Add(1)
			if !t0.Before(from) {
				samples = append(samples, lat)
			}
			continue
		}
		if ctx.Err() != nil {
			break
		}
		l.failed.Add(1)
		l.show(status, resp, err)
	}
	return samples
}

// show prints one of the first few failures.
func (l *load) show(status int, body []byte, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.shown++
	switch {
	case l.shown > maxShownErrors:
		return
	case err != nil:
		fmt.Fprintf(l.out, "   error: POST /v1/orders: %v\n", err)
	default:
		fmt.Fprintf(l.out, "   error: POST /v1/orders: got %d %s\n", status, snippet(body))
	}
	if l.shown == maxShownErrors {
		fmt.Fprintln(l.out, "   (further errors are counted, not shown)")
	}
}

// orderBody is a checkout of one to three dishes, delivered within about 1.5 km of the
// restaurant.
func orderBody(rng *rand.Rand) []byte {
	type line struct {
		MenuItemID string `json:"menu_item_id"`
		Quantity   int    `json:"quantity"`
	}
	var req struct {
		RestaurantID string `json:"restaurant_id"`
		Items        []line `json:"items"`
		Delivery     struct {
			Lat float64 `json:"lat"`
			Lng float64 `json:"lng"`
		} `json:"delivery"`
	}
	req.RestaurantID = restaurantID
	for _, i := range rng.Perm(len(menuItems))[:1+rng.IntN(3)] {
		req.Items = append(req.Items, line{menuItems[i].ID, 1 + rng.IntN(2)})
	}
	req.Delivery.Lat = restaurantLat + (rng.Float64()-0.5)*0.02
	req.Delivery.Lng = restaurantLng + (rng.Float64()-0.5)*0.02
	b, _ := json.Marshal(req) // plain structs always encode
	return b
}

// snippet is the start of a response body, for messages.
func snippet(b []byte) string {
	const n = 300
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// profileName turns a result label into a file-name part: "tiffin POST /v1/orders (sqlite)"
// becomes "sqlite".
func profileName(label string) string {
	if i, j := strings.LastIndexByte(label, '('), strings.LastIndexByte(label, ')'); i >= 0 && j > i {
		label = label[i+1 : j]
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, label)
}
