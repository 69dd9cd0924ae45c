package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/geo"
)

func testConfig(t testing.TB, f *fakeAPI, srv *httptest.Server, out *bytes.Buffer) Config {
	t.Helper()
	return Config{
		BaseURL:         srv.URL + "/",
		Keys:            f.keys,
		Restaurants:     3,
		Couriers:        4,
		Customers:       6,
		OrdersPerMinute: 600,
		Speed:           600,
		RadiusM:         1000,
		Seed:            7,
		Logger:          slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
		SummaryEvery:    200 * time.Millisecond,
		Out:             out,
	}
}

// fast shortens the simulator's real-time cadences for tests.
func fast(s *Sim) *Sim {
	s.poll = 50 * time.Millisecond
	s.fixEvery = 20 * time.Millisecond
	s.idleFixes = 200 * time.Millisecond
	s.checkOpen = 200 * time.Millisecond
	return s
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// start runs s until the returned stop is called, which fails the test if Run doesn't return
// promptly or returns an error.
func start(t testing.TB, s *Sim) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run() = %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return within 10s of ctx ending")
		}
	}
}

func sortedPuts(ps []putRequest) []putRequest {
	ps = slices.Clone(ps)
	slices.SortStableFunc(ps, func(a, b putRequest) int { return strings.Compare(a.Path, b.Path) })
	return ps
}

func TestSeedIsIdempotent(t *testing.T) {
	t.Parallel()
	f, srv := newFakeAPI(t)
	f.notReady = 2
	cfg := testConfig(t, f, srv, &bytes.Buffer{})
	ctx := t.Context()

	s := fast(New(cfg))
	if err := s.waitReady(ctx); err != nil {
		t.Fatalf("waitReady: %v", err)
	}
	if live := s.seed(ctx); len(live) != cfg.Restaurants {
		t.Fatalf("seed() seeded %d restaurants, want %d", len(live), cfg.Restaurants)
	}
	_, first := f.snapshot()
	first = sortedPuts(first)
	if len(first) != 2*cfg.Restaurants {
		t.Fatalf("seeding sent %d PUTs, want %d", len(first), 2*cfg.Restaurants)
	}

	s.seed(ctx)              // the same simulator again
	fast(New(cfg)).seed(ctx) // a restarted simulator with the same seed
	_, all := f.snapshot()
	if len(all) != 3*len(first) {
		t.Fatalf("three seedings sent %d PUTs, want %d", len(all), 3*len(first))
	}
	for i := 1; i < 3; i++ {
		again := sortedPuts(all[i*len(first) : (i+1)*len(first)])
		if diff := cmp.Diff(first, again); diff != "" {
			t.Errorf("seeding #%d differs from the first (-first +again):\n%s", i+1, diff)
		}
	}

	wantPaths := []string{
		"/v1/restaurants/sim-r-01", "/v1/restaurants/sim-r-01/menu",
		"/v1/restaurants/sim-r-02", "/v1/restaurants/sim-r-02/menu",
		"/v1/restaurants/sim-r-03", "/v1/restaurants/sim-r-03/menu",
	}
	var gotPaths []string
	for _, p := range first {
		gotPaths = append(gotPaths, p.Path)
	}
	if diff := cmp.Diff(wantPaths, gotPaths); diff != "" {
		t.Errorf("PUT paths (-want +got):\n%s", diff)
	}

	for i := 0; i < len(first); i += 2 {
		rp, mp := first[i], first[i+1]
		var rb restaurantBody
		if err := json.Unmarshal([]byte(rp.Body), &rb); err != nil {
			t.Fatal(err)
		}
		id := strings.TrimPrefix(rp.Path, "/v1/restaurants/")
		wantOwner := "sim-owner-" + strings.TrimPrefix(id, "sim-r-")
		if rp.Role != auth.Ops || rb.OwnerID != wantOwner {
			t.Errorf("PUT %s as %s with owner_id %q, want as ops with owner_id %q", rp.Path, rp.Role, rb.OwnerID, wantOwner)
		}
		if rb.OpensMinute != 0 || rb.ClosesMinute != 1440 {
			t.Errorf("%s opens %d closes %d, want 0 and 1440", id, rb.OpensMinute, rb.ClosesMinute)
		}
		if rb.PrepMinutes < minPrep || rb.PrepMinutes > maxPrep {
			t.Errorf("%s prep_minutes = %d, want %d..%d", id, rb.PrepMinutes, minPrep, maxPrep)
		}
		if d := geo.Distance(s.cfg.Center, geo.LatLng{Lat: rb.Lat, Lng: rb.Lng}); d > cfg.RadiusM {
			t.Errorf("%s is %.0f m from the centre, want within %.0f", id, d, cfg.RadiusM)
		}
		if !strings.Contains(rb.Name, strings.TrimPrefix(id, "sim-r-")) {
			t.Errorf("%s is named %q, want its number in the name", id, rb.Name)
		}

		if mp.Role != auth.Restaurant || mp.Subject != wantOwner {
			t.Errorf("PUT %s as %s %s, want as restaurant %s", mp.Path, mp.Role, mp.Subject, wantOwner)
		}
		var mb menuBody
		if err := json.Unmarshal([]byte(mp.Body), &mb); err != nil {
			t.Fatal(err)
		}
		if n := len(mb.Items); n < minItems || n > maxItems {
			t.Errorf("%s menu has %d items, want %d..%d", id, n, minItems, maxItems)
		}
		for j, it := range mb.Items {
			if want := id + "-i" + twoDigits(j+1); it.ID != want {
				t.Errorf("%s item %d id = %q, want %q", id, j, it.ID, want)
			}
			if it.Price < minPrice || it.Price > maxPrice {
				t.Errorf("%s price = %d, want %d..%d", it.ID, it.Price, minPrice, maxPrice)
			}
		}
	}
}

func twoDigits(n int) string { return string([]byte{byte('0' + n/10), byte('0' + n%10)}) }

func TestRunDeliversOrders(t *testing.T) {
	t.Parallel()
	f, srv := newFakeAPI(t)
	var out bytes.Buffer
	s := fast(New(testConfig(t, f, srv, &out)))
	stop := start(t, s)
	waitFor(t, 30*time.Second, "5 deliveries", func() bool { return s.Stats().Delivered >= 5 })
	stop()

	st := s.Stats()
	if st.Placed == 0 || st.Accepted == 0 {
		t.Errorf("placed=%d accepted=%d, want both > 0", st.Placed, st.Accepted)
	}
	if st.Errors != 0 {
		t.Errorf("errors = %d, want 0 against a well-behaved server", st.Errors)
	}
	if len(st.ClickToDoor) < int(st.Delivered) {
		t.Errorf("%d click-to-door samples for %d deliveries", len(st.ClickToDoor), st.Delivered)
	}
	f.mu.Lock()
	fixes, shifts := f.fixes, len(f.shifts)
	f.mu.Unlock()
	if fixes == 0 {
		t.Error("no GPS fixes were posted")
	}
	if shifts != 4 {
		t.Errorf("%d couriers went on shift, want 4", shifts)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "sim: placed=") || !strings.Contains(last, "(sim) / ") {
		t.Errorf("last summary line = %q, want a summary with click-to-door times", last)
	}
}

func TestRestartStrandsNoOrder(t *testing.T) {
	t.Parallel()
	f, srv := newFakeAPI(t)
	cfg := testConfig(t, f, srv, &bytes.Buffer{})

	s1 := fast(New(cfg))
	stop := start(t, s1)
	waitFor(t, 30*time.Second, "orders in every state", func() bool {
		orders, _ := f.snapshot()
		var carried, cooking bool
		for _, o := range orders {
			carried = carried || (o.CourierID != "" && !terminal(o.Status))
			cooking = cooking || o.Status == statusPreparing
		}
		return carried && cooking && s1.Stats().Delivered > 0
	})
	stop()

	// A restarted simulator that places no new orders must finish every one left in flight.
	cfg.OrdersPerMinute = -1
	s2 := fast(New(cfg))
	stop = start(t, s2)
	waitFor(t, 60*time.Second, "every order to end", func() bool {
		orders, _ := f.snapshot()
		for _, o := range orders {
			if !terminal(o.Status) {
				return false
			}
		}
		return true
	})
	stop()
	if got := s2.Stats().Placed; got != 0 {
		t.Errorf("restarted simulator placed %d orders, want 0", got)
	}
}

func TestRunNeedsKeysAndURL(t *testing.T) {
	t.Parallel()
	if err := Run(t.Context(), Config{BaseURL: "http://localhost:1"}); err == nil {
		t.Error("Run without Keys succeeded, want an error")
	}
	f, _ := newFakeAPI(t)
	if err := Run(t.Context(), Config{Keys: f.keys}); err == nil {
		t.Error("Run without BaseURL succeeded, want an error")
	}
}

func TestRunStopsWhileServerIsDown(t *testing.T) {
	t.Parallel()
	f, srv := newFakeAPI(t)
	f.notReady = 1 << 30
	s := fast(New(testConfig(t, f, srv, &bytes.Buffer{})))
	stop := start(t, s)
	time.Sleep(300 * time.Millisecond)
	stop()
}
