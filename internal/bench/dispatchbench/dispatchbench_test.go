package dispatchbench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tiffin-dev/tiffin/internal/dispatch/plan"
)

func TestRunSmallCity(t *testing.T) {
	t.Parallel()
	const eps = 1e-9
	sizes := []Size{{200, 200}, {300, 150}}
	var log strings.Builder
	results, err := Run(context.Background(), Config{Sizes: sizes, Rounds: 3, Candidates: 16, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(sizes) {
		t.Fatalf("got %d results, want %d", len(results), len(sizes))
	}
	for _, res := range results {
		if len(res.Rounds) != 3 {
			t.Fatalf("%v: got %d rounds, want 3", res.Size, len(res.Rounds))
		}
		for i, r := range res.Rounds {
			if !r.HasDense {
				t.Fatalf("%v round %d: no dense optimum, want one at this size", res.Size, i)
			}
			d := r.Dense.Cost
			for _, c := range []struct {
				name string
				o    Outcome
			}{{"optimal", r.Optimal}, {"order side", r.OrderSide}, {"greedy", r.Greedy}} {
				if c.o.Cost < d-eps*d {
					t.Errorf("%v round %d: %s cost %v below the dense optimum %v", res.Size, i, c.name, c.o.Cost, d)
				}
				if c.o.Time <= 0 || c.o.Held < 0 || c.o.Held > res.Size.Orders {
					t.Errorf("%v round %d: %s outcome %+v, want a positive time and 0..%d held", res.Size, i, c.name, c.o, res.Size.Orders)
				}
			}
			if r.OrderSide.Cost < r.Optimal.Cost-eps*r.Optimal.Cost {
				t.Errorf("%v round %d: costs optimal %v, order side %v; want the order side's no lower (fewer pairs)", res.Size, i, r.Optimal.Cost, r.OrderSide.Cost)
			}
			if perOrder := d / float64(res.Size.Orders); perOrder < 10 || perOrder > 1000 {
				t.Errorf("%v round %d: dense cost %.1f per order, want minutes of click-to-door, not holds", res.Size, i, perOrder)
			}
			ph := r.Phases
			if ph.Candidates <= 0 || ph.Pricing <= 0 || ph.Solve <= 0 {
				t.Errorf("%v round %d: phases %+v, want each timed", res.Size, i, ph)
			}
			if ph.Edges == 0 || ph.Edges > res.Size.Orders*res.Size.Couriers || r.OrderSidePhases.Edges > ph.Edges {
				t.Errorf("%v round %d: %d pairs priced (order side %d), want 1..%d and no more on the order side", res.Size, i, ph.Edges, r.OrderSidePhases.Edges, res.Size.Orders*res.Size.Couriers)
			}
		}
	}
	if got := strings.Count(log.String(), "\n"); got != 6 {
		t.Errorf("log has %d lines, want one per round (6):\n%s", got, log.String())
	}
	var table strings.Builder
	Report(&table, results)
	for _, want := range []string{"200 x 200", "300 x 150", "optimal, k=16", "order side", "greedy", "dense"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, table.String())
		}
	}
}

func TestRunSkipsDenseBeyondDenseMax(t *testing.T) {
	t.Parallel()
	results, err := Run(context.Background(), Config{Sizes: []Size{{100, 100}}, Rounds: 2, DenseMax: 100*100 - 1,
		Targets: map[Size]time.Duration{{100, 100}: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results[0].Rounds {
		if r.HasDense {
			t.Errorf("round %d has a dense optimum beyond DenseMax", i)
		}
	}
	var table strings.Builder
	Report(&table, results)
	for _, want := range []string{"not computed", "target 1 h: met"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, table.String())
		}
	}
}

func TestRunStopsWithItsContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, Config{Sizes: []Size{{50, 50}}}); err != context.Canceled {
		t.Fatalf("Run on an ended context: err = %v, want context.Canceled", err)
	}
}

func TestCityIsReproducible(t *testing.T) {
	t.Parallel()
	a, b := newCity(7, 400).round(3, 400, 300), newCity(7, 400).round(3, 400, 300)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("two draws of one seed and round differ (-first +second):\n%s", diff)
	}
	if c := newCity(7, 400).round(4, 400, 300); cmp.Equal(a, c) {
		t.Fatal("rounds 3 and 4 are the same draw")
	}
	in := a
	for _, o := range in.Orders {
		if !inside(o.Pickup) || !inside(o.Dropoff) {
			t.Errorf("order %s outside the city: %+v", o.ID, o)
		}
		if o.Placed > in.Now || o.Ready < in.Now || o.Ready > in.Now+25*time.Minute {
			t.Errorf("order %s placed %v, ready %v; want placed by %v and ready within 25 minutes", o.ID, o.Placed, o.Ready, in.Now)
		}
	}
	for _, c := range in.Couriers {
		if !inside(c.At) || c.FreeAt > in.Now+20*time.Minute || c.OffAt < in.Now+10*time.Minute {
			t.Errorf("courier %s: %+v; want inside the city, free within 20 minutes, on shift for 10 more", c.ID, c)
		}
	}
}

func inside(p plan.Point) bool { return p.X >= 0 && p.X <= citySide && p.Y >= 0 && p.Y <= citySide }
