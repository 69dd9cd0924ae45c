package catalog

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tiffin-dev/tiffin/internal/geo"
)

// TestBoxAroundHoldsTheCircle checks that the SQL prefilter never drops a point within the radius.
func TestBoxAroundHoldsTheCircle(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		c := geo.LatLng{Lat: rng.Float64()*180 - 90, Lng: rng.Float64()*360 - 180}
		if i%4 == 0 { // crowd the poles and the antimeridian
			c.Lat = (89.5 + rng.Float64()/2) * float64(1-2*(i/4%2))
		} else if i%4 == 1 {
			c.Lng = 179.9 + rng.Float64()/10
		}
		radius := rng.Float64() * MaxRadiusM
		p := geo.Move(c, rng.Float64()*360, radius*rng.Float64())
		if geo.Distance(c, p) > radius {
			continue
		}
		b := boxAround(c, radius)
		if p.Lat < b.minLat || p.Lat > b.maxLat || p.Lng < b.minLng || p.Lng > b.maxLng {
			t.Fatalf("point %v, %.0f m from %v, is outside box %+v for radius %.0f m", p, geo.Distance(c, p), c, b, radius)
		}
	}
}

func TestMenuCacheFencesStaleLoads(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	c := newMenuCache(time.Second, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x"}, []string{"result"}))
	stale := Menu{RestaurantID: "r", Version: 1}

	gen := c.generation() // a load starts...
	c.invalidate("r")     // ...a write commits meanwhile...
	c.put("r", stale, gen, now)
	if m, ok := c.get("r", now); ok {
		t.Errorf("got cached version %d after an invalidation during its load, want a miss", m.Version)
	}

	c.put("r", stale, c.generation(), now)
	if _, ok := c.get("r", now); !ok {
		t.Errorf("got a miss right after put, want a hit")
	}
	if _, ok := c.get("r", now.Add(time.Second)); ok {
		t.Errorf("got a hit at the TTL, want a miss")
	}
}
