package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/bus"
	"github.com/tiffin-dev/tiffin/internal/geo"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/telemetry"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// Places in Bengaluru the tests put restaurants, customers and couriers at.
var (
	koramangala = geo.LatLng{Lat: 12.9352, Lng: 77.6245}
	indiranagar = geo.LatLng{Lat: 12.9784, Lng: 77.6408}
	hsrLayout   = geo.LatLng{Lat: 12.9116, Lng: 77.6474}
	whitefield  = geo.LatLng{Lat: 12.9698, Lng: 77.7500}
	mysuru      = geo.LatLng{Lat: 12.2958, Lng: 76.6394} // ~140 km away
)

// fixture is a dispatch service on a real store and a real embedded bus, with its routes on a
// test HTTP server.
type fixture struct {
	t       testing.TB
	db      *store.DB
	bus     *bus.Bus
	svc     *Service
	clock   *tiffintest.Clock
	metrics *telemetry.Metrics
	keys    *auth.Keys
	url     string
}

func newFixture(t testing.TB, d store.Dialect, cfg Config) *fixture {
	t.Helper()
	return newFixtureOn(t, tiffintest.NewStoreOn(t, d), cfg)
}

// newFixtureOn is newFixture on db, which several fixtures (replicas) may share.
func newFixtureOn(t testing.TB, db *store.DB, cfg Config) *fixture {
	t.Helper()
	b := tiffintest.NewBus(t)
	f := &fixture{t: t, db: db, bus: b, clock: tiffintest.NewClock(time.Now()), metrics: telemetry.NewMetrics()}
	if cfg.Now == nil {
		cfg.Now = f.clock.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg.Metrics = f.metrics
	f.svc = New(db, b, cfg)
	var err error
	if f.keys, err = auth.LoadOrCreate(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	srv := httpapi.New(httpapi.Config{Keys: f.keys, Metrics: f.metrics})
	f.svc.Register(srv)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	f.url = hs.URL
	return f
}

// run starts fn (the service's Run, the relay) until the test ends, failing it on an error.
func (f *fixture) run(name string, fn func(context.Context) error) {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	f.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			f.t.Errorf("%s: %v", name, err)
		}
	})
}

func (f *fixture) exec(query string, args ...any) {
	f.t.Helper()
	if _, err := f.db.ExecContext(context.Background(), query, args...); err != nil {
		f.t.Fatalf("%s: %v", query, err)
	}
}

// restaurant inserts a restaurant at p.
func (f *fixture) restaurant(id string, p geo.LatLng) {
	f.t.Helper()
	ms := store.Now(f.clock.Now())
	f.exec(`INSERT INTO restaurants (id, owner_id, name, lat, lng, region, created_at, updated_at)
		VALUES ($1, 'owner', $2, $3, $4, 'r1', $5, $6)`, id, id, p.Lat, p.Lng, ms, ms)
}

// order inserts an order from restaurant in status, delivered to dropoff.
func (f *fixture) order(id, restaurant, status string, dropoff geo.LatLng) {
	f.t.Helper()
	ms := store.Now(f.clock.Now())
	f.exec(`INSERT INTO orders (id, customer_id, restaurant_id, region, status, subtotal, delivery_fee, total,
		currency, delivery_lat, delivery_lng, placed_by, created_at, updated_at)
		VALUES ($1, 'cust', $2, 'r1', $3, 100, 10, 110, 'INR', $4, $5, 'cust', $6, $7)`,
		id, restaurant, status, dropoff.Lat, dropoff.Lng, ms, ms)
}

// courierOn puts a courier on shift at p.
func (f *fixture) courierOn(id string, p geo.LatLng) {
	f.t.Helper()
	if _, err := f.svc.SetShift(context.Background(), id, Shift{OnShift: true, Lat: &p.Lat, Lng: &p.Lng}); err != nil {
		f.t.Fatalf("shift on %s: %v", id, err)
	}
}

// sweep makes one reconciler pass over every region with work, as the reconcilers would.
func (f *fixture) sweep() {
	f.t.Helper()
	ctx := context.Background()
	regions, err := f.svc.activeRegions(ctx)
	if err != nil {
		f.t.Fatalf("sweep: %v", err)
	}
	for _, r := range regions {
		if err := f.svc.sweep(ctx, r); err != nil {
			f.t.Fatalf("sweep %s: %v", r, err)
		}
	}
}

func (f *fixture) courierStatus(id string) string {
	f.t.Helper()
	var s string
	if err := f.db.QueryRow(`SELECT status FROM couriers WHERE id = $1`, id).Scan(&s); err != nil {
		f.t.Fatalf("courier %s: %v", id, err)
	}
	return s
}

func (f *fixture) delivery(orderID string) delivery {
	f.t.Helper()
	d, err := getDelivery(context.Background(), f.db, `order_id = $1`, orderID)
	if err != nil {
		f.t.Fatalf("delivery %s: %v", orderID, err)
	}
	return d
}

// outboxTypes lists the event types in the outbox for orderID, in order.
func (f *fixture) outboxTypes(orderID string) []string {
	f.t.Helper()
	rows, err := f.db.Query(`SELECT subject, payload FROM outbox ORDER BY seq`)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var subject, payload string
		if err := rows.Scan(&subject, &payload); err != nil {
			f.t.Fatal(err)
		}
		var e struct {
			Type string `json:"type"`
			Data struct {
				OrderID string `json:"order_id"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(payload), &e); err != nil {
			f.t.Fatal(err)
		}
		if e.Data.OrderID == orderID {
			out = append(out, e.Type)
		}
	}
	return out
}

func (f *fixture) token(subject string, role auth.Role) string {
	f.t.Helper()
	tok, err := f.keys.Issue(auth.Principal{Subject: subject, Role: role}, time.Hour)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// call makes an HTTP request as a courier and decodes a JSON response into out (when not nil).
func (f *fixture) call(method, path, courier string, body, out any) int {
	f.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			f.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, f.url+path, r)
	if err != nil {
		f.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if courier != "" {
		req.Header.Set("Authorization", "Bearer "+f.token(courier, auth.Courier))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			f.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	if resp.StatusCode >= 300 {
		f.t.Logf("%s %s as %s: %d %s", method, path, courier, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func backendName(d store.Dialect) string { return fmt.Sprint(d) }

// counter returns the value of the counter name whose label has value.
func (f *fixture) counter(name, label, value string) float64 {
	f.t.Helper()
	if m := f.metric(name, label, value); m != nil {
		return m.GetCounter().GetValue()
	}
	return 0
}

// histogramCount returns the sample count of the histogram name whose label has value (the
// first series of name when label is "").
func (f *fixture) histogramCount(name, label, value string) uint64 {
	f.t.Helper()
	if m := f.metric(name, label, value); m != nil {
		return m.GetHistogram().GetSampleCount()
	}
	return 0
}

// metric returns the series of name whose label has value (the first when label is ""), or
// nil.
func (f *fixture) metric(name, label, value string) *dto.Metric {
	f.t.Helper()
	mfs, err := f.metrics.Registry.Gather()
	if err != nil {
		f.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" {
				return m
			}
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m
				}
			}
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
