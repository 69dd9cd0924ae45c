package sim

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/geo"
)

func TestNextArrivalIsPoisson(t *testing.T) {
	t.Parallel()
	for _, perMinute := range []float64{1, 30, 600} {
		rng := rand.New(rand.NewPCG(42, 1))
		// Count arrivals in a simulated 10,000 minutes: a Poisson process has mean and
		// variance rate*T, so the count lies within a few standard deviations of it.
		const minutes = 10_000
		horizon := time.Duration(minutes) * time.Minute
		var elapsed time.Duration
		n := 0
		for {
			elapsed += nextArrival(rng, perMinute)
			if elapsed > horizon {
				break
			}
			n++
		}
		want := perMinute * minutes
		if sd := math.Sqrt(want); math.Abs(float64(n)-want) > 4*sd {
			t.Errorf("%v/min: %d arrivals in %d minutes, want %.0f ± %.0f", perMinute, n, minutes, want, 4*sd)
		}
	}
}

func TestNextArrivalIsMemoryless(t *testing.T) {
	t.Parallel()
	// The exponential's coefficient of variation is 1: gaps are as spread as they are long.
	rng := rand.New(rand.NewPCG(7, 7))
	const n = 50_000
	var sum, sumSq float64
	for range n {
		g := nextArrival(rng, 30).Seconds()
		sum += g
		sumSq += g * g
	}
	mean := sum / n
	sd := math.Sqrt(sumSq/n - mean*mean)
	if math.Abs(mean-2) > 0.05 || math.Abs(sd/mean-1) > 0.05 {
		t.Errorf("gaps at 30/min: mean %.3fs, cv %.3f; want 2s and 1", mean, sd/mean)
	}
}

func TestNextArrivalWithoutRate(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 1))
	for _, r := range []float64{0, -1, math.NaN()} {
		if got := nextArrival(rng, r); got < 24*time.Hour {
			t.Errorf("nextArrival(%v/min) = %v, want never", r, got)
		}
	}
}

func TestStepReachesTarget(t *testing.T) {
	t.Parallel()
	from := geo.LatLng{Lat: 12.9716, Lng: 77.5946}
	tests := []struct {
		name   string
		to     geo.LatLng
		metres float64
	}{
		{"bike at speed 10 across town", geo.Move(from, 60, 3500), geo.StreetSpeed(geo.Bike) * 10},
		{"scooter short hop", geo.Move(from, 200, 90), geo.StreetSpeed(geo.Scooter) * 10},
		{"step longer than the trip", geo.Move(from, 10, 5), 100},
		{"exact multiple", geo.Move(from, 300, 1000), 250},
		{"already there", from, 42},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			total := geo.Distance(from, tt.to)
			wantSteps := int(math.Ceil(total/tt.metres - 1e-6))
			pos, arrived, steps := from, from == tt.to, 0
			for !arrived {
				if steps > wantSteps+1 {
					t.Fatalf("not there after %d steps of %.1f m (%.1f m to go)", steps, tt.metres, geo.Distance(pos, tt.to))
				}
				before := geo.Distance(pos, tt.to)
				pos, arrived = step(pos, tt.to, tt.metres)
				steps++
				if after := geo.Distance(pos, tt.to); after > before || before-after > tt.metres+1e-6 {
					t.Fatalf("step %d went from %.2f m to %.2f m away with steps of %.1f m", steps, before, after, tt.metres)
				}
			}
			if pos != tt.to {
				t.Errorf("arrived at %v, want exactly %v", pos, tt.to)
			}
			if steps < wantSteps || steps > wantSteps+1 {
				t.Errorf("took %d steps, want %d", steps, wantSteps)
			}
		})
	}
}

func TestPickItems(t *testing.T) {
	t.Parallel()
	no, yes := new(false), new(true)
	menu := []menuItem{
		{ID: "off", Available: no},
		{ID: "sold-out", Stock: new(int64(0))},
		{ID: "last-one", Stock: new(int64(1))},
		{ID: "plenty", Available: yes},
		{ID: "default"},
		{ID: ""},
	}
	allowed := map[string]int{"last-one": 1, "plenty": maxQuantity, "default": maxQuantity}
	rng := rand.New(rand.NewPCG(3, 3))
	for range 500 {
		lines := pickItems(rng, menu)
		if len(lines) < 1 || len(lines) > maxLines {
			t.Fatalf("picked %d lines, want 1..%d", len(lines), maxLines)
		}
		seen := map[string]bool{}
		for _, l := range lines {
			most, ok := allowed[l.MenuItemID]
			if !ok || l.Quantity < 1 || l.Quantity > most || seen[l.MenuItemID] {
				t.Fatalf("picked %+v from %v", l, lines)
			}
			seen[l.MenuItemID] = true
		}
	}
	if got := pickItems(rng, menu[:2]); got != nil {
		t.Errorf("pickItems with nothing orderable = %v, want nil", got)
	}
}

func TestWorldIsDeterministic(t *testing.T) {
	t.Parallel()
	cfg := Config{Restaurants: 30, Couriers: 20, Customers: 40, Seed: 9}.withDefaults()
	a, b := newWorld(cfg), newWorld(cfg)
	if a.restaurants[29].ID != "sim-r-30" || a.couriers[19].ID != "sim-c-020" || a.customers[39].ID != "sim-u-0040" {
		t.Errorf("ids: %s %s %s", a.restaurants[29].ID, a.couriers[19].ID, a.customers[39].ID)
	}
	for i := range a.restaurants {
		if a.restaurants[i].Pos != b.restaurants[i].Pos || len(a.restaurants[i].Menu) != len(b.restaurants[i].Menu) {
			t.Fatalf("restaurant %d differs between two worlds of the same seed", i)
		}
	}
	counted, bikes := 0, 0
	for _, r := range a.restaurants {
		for _, it := range r.Menu {
			if it.Stock != nil {
				counted++
			}
		}
	}
	for _, c := range a.couriers {
		if d := geo.Distance(cfg.Center, c.Start); d > cfg.RadiusM {
			t.Errorf("%s starts %.0f m out, want within %.0f", c.ID, d, cfg.RadiusM)
		}
		if c.Vehicle == geo.Bike {
			bikes++
		}
	}
	if counted == 0 {
		t.Error("no menu item has a stock count")
	}
	if bikes <= len(a.couriers)/2 || bikes == len(a.couriers) {
		t.Errorf("%d of %d couriers ride bikes, want most but not all", bikes, len(a.couriers))
	}
	other := newWorld(Config{Restaurants: 30, Seed: 10}.withDefaults())
	if other.restaurants[0].Pos == a.restaurants[0].Pos {
		t.Error("a different seed placed sim-r-01 at the same spot")
	}
}

func TestCallRetriesWithTheSameKey(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		keys []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		n := len(keys)
		mu.Unlock()
		switch n {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
		case 3:
			// A dropped connection: the client sees a network error.
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
		default:
			w.WriteHeader(http.StatusCreated)
		}
	}))
	t.Cleanup(srv.Close)
	c := &client{base: srv.URL, hc: &http.Client{Timeout: 10 * time.Second}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := c.call(ctx, "", http.MethodPost, "/v1/orders", map[string]int{"x": 1}, nil)
	if err != nil || r.Status != http.StatusCreated {
		t.Fatalf("call = %d, %v; want 201", r.Status, err)
	}
	sent := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(keys)
	}
	got := sent()
	if len(got) != 4 {
		t.Fatalf("sent %d times, want 4", len(got))
	}
	for _, k := range got {
		if k == "" || k != got[0] {
			t.Fatalf("Idempotency-Keys %q, want one non-empty key throughout", got)
		}
	}

	r, err = c.call(ctx, "", http.MethodPost, "/v1/orders", nil, nil)
	if err != nil || r.Status != http.StatusCreated {
		t.Fatalf("second call = %d, %v; want 201", r.Status, err)
	}
	if got = sent(); got[4] == got[0] {
		t.Error("a new order reused the previous Idempotency-Key")
	}
}

func TestCallDoesNotRetry4xx(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		w.WriteHeader(http.StatusConflict)
	}))
	t.Cleanup(srv.Close)
	c := &client{base: srv.URL, hc: srv.Client()}
	r, err := c.call(context.Background(), "", http.MethodPost, "/v1/orders/o1/accept", nil, nil)
	if err != nil || r.Status != http.StatusConflict {
		t.Fatalf("call = %d, %v; want 409", r.Status, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if n != 1 {
		t.Errorf("sent %d times, want 1", n)
	}
}
