package dispatchbench

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/tiffin-dev/tiffin/internal/dispatch/plan"
)

// Size is a round's size.
type Size struct{ Orders, Couriers int }

func (s Size) String() string { return thousands(s.Orders) + " x " + thousands(s.Couriers) }

// DefaultSizes are the sizes measured when Config.Sizes is empty.
var DefaultSizes = []Size{{1_000, 1_000}, {10_000, 10_000}}

// DefaultTargets are the round-time targets at p95 the table checks when Config.Targets is nil.
var DefaultTargets = map[Size]time.Duration{{1_000, 1_000}: 20 * time.Millisecond, {10_000, 10_000}: 500 * time.Millisecond}

// GapTarget is the most the planner's optimum may exceed the dense one by, as a share of it.
const GapTarget = 0.001

// Config configures Run. The zero Config measures DefaultSizes.
type Config struct {
	Sizes []Size
	// Rounds is the number of measured rounds per size, each a fresh draw of orders and
	// couriers in the same city, after one warm-up round. Default 20.
	Rounds int
	// Candidates is the planner's k, couriers per order. Default the planner's, 64.
	Candidates int
	// Hold is the cost of holding an order for a later round. Default plan.DefaultWeights.Hold.
	Hold float64
	// DenseMax is the most orders*couriers a size may have for its rounds to get the dense
	// optimum (it holds 8 bytes per pair and prices every pair). Default 9,000,000 (3,000 x
	// 3,000); negative: none.
	DenseMax int
	// DenseRounds is how many of a size's rounds, the first ones, get the dense optimum.
	// Default all.
	DenseRounds int
	// Targets are round-time targets at p95 by size. Default DefaultTargets.
	Targets map[Size]time.Duration
	// Seed picks the city and its rounds. Default 1.
	Seed uint64
	// Log receives a line per round. Default io.Discard.
	Log io.Writer
}

func (c Config) withDefaults() Config {
	if len(c.Sizes) == 0 {
		c.Sizes = DefaultSizes
	}
	if c.Rounds <= 0 {
		c.Rounds = 20
	}
	if c.Candidates <= 0 {
		c.Candidates = plan.New(plan.Params{}).Params().Candidates
	}
	if c.Hold <= 0 {
		c.Hold = plan.DefaultWeights.Hold
	}
	if c.DenseMax == 0 {
		c.DenseMax = 3_000 * 3_000
	}
	if c.DenseRounds <= 0 {
		c.DenseRounds = c.Rounds
	}
	if c.Targets == nil {
		c.Targets = DefaultTargets
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}

// Outcome is one planner's plan of one round: how long it took, its cost (held orders at the
// hold cost) and the orders it held.
type Outcome struct {
	Time time.Duration
	Cost float64
	Held int
}

// Round is one round's measurements.
type Round struct {
	// Optimal is Plan's, the planner as it runs; Phases is the same round planned again by
	// PlanTimed, phase by phase.
	Optimal Outcome
	Phases  plan.Phases
	// OrderSide is PlanTimed's with plan.OrderSide candidates (each order's own couriers only,
	// the planner's until 2026-11-30), for comparison.
	OrderSide       Outcome
	OrderSidePhases plan.Phases
	// Greedy is the greedy planner's.
	Greedy Outcome
	// Dense is the dense optimum, when HasDense; its Time is DenseCost's: pricing every pair,
	// solving densely and planning the round once more as the planner does.
	Dense    Outcome
	HasDense bool
}

// Result is one size's measurements.
type Result struct {
	Size       Size
	Candidates int
	Hold       float64
	Target     time.Duration // the p95 round-time target, 0 when none
	Rounds     []Round
	// Load is the system's load average (1 minute) before and after, when known.
	LoadBefore, LoadAfter string
}

// Run measures cfg.Sizes in turn and returns a Result per size. Each round is planned by the
// optimal planner (timed as Plan runs), again phase by phase (PlanTimed), with order-side
// candidates only (PlanTimed), by the greedy planner and, for sizes within DenseMax, densely (DenseCost); the
// heap is collected before each timed plan, so that one planner's garbage does not bill the
// next. It returns ctx's error when ctx ends, with the sizes measured so far, and an error
// when the planner's optima disagree between its entry points (a bug).
func Run(ctx context.Context, cfg Config) ([]Result, error) {
	cfg = cfg.withDefaults()
	var out []Result
	for _, size := range cfg.Sizes {
		if size.Orders < 0 || size.Couriers < 0 {
			return out, fmt.Errorf("dispatch bench: size %v: want no negative counts", size)
		}
		res, err := run(ctx, cfg, size)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

func run(ctx context.Context, cfg Config, size Size) (Result, error) {
	res := Result{Size: size, Candidates: cfg.Candidates, Hold: cfg.Hold, Target: cfg.Targets[size], LoadBefore: loadavg()}
	p := params(plan.Optimal, cfg.Candidates)
	p.Weights = plan.DefaultWeights
	p.Weights.Hold = cfg.Hold
	optimal := plan.New(p)
	p.Algorithm = plan.Greedy
	greedy := plan.New(p)
	dense := cfg.DenseMax >= 0 && size.Couriers > 0 && size.Orders <= cfg.DenseMax/size.Couriers
	c := newCity(cfg.Seed, size.Orders)

	// Warm-up: the planners' scratch space and the heap reach their working size.
	warm := c.round(0, size.Orders, size.Couriers)
	optimal.Plan(warm)
	greedy.Plan(warm)

	for i := 1; i <= cfg.Rounds; i++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		in := c.round(i, size.Orders, size.Couriers)
		var r Round
		r.Optimal = timed(func() plan.Plan { return optimal.Plan(in) })
		runtime.GC()
		tp, ph := optimal.PlanTimed(in, plan.BothSides, time.Now)
		r.Phases = ph
		if !same(tp.Cost, r.Optimal.Cost) {
			return res, fmt.Errorf("dispatch bench %v round %d: PlanTimed's cost %v, Plan's %v", size, i, tp.Cost, r.Optimal.Cost)
		}
		r.OrderSide = timed(func() plan.Plan {
			op, oph := optimal.PlanTimed(in, plan.OrderSide, time.Now)
			r.OrderSidePhases = oph
			return op
		})
		r.Greedy = timed(func() plan.Plan { return greedy.Plan(in) })
		if dense && i <= cfg.DenseRounds {
			runtime.GC()
			start := time.Now()
			o, err := optimal.DenseCost(in)
			if err != nil {
				return res, fmt.Errorf("dispatch bench %v round %d: %w", size, i, err)
			}
			if !same(o.Sparse, r.Optimal.Cost) {
				return res, fmt.Errorf("dispatch bench %v round %d: DenseCost's sparse optimum %v, Plan's cost %v", size, i, o.Sparse, r.Optimal.Cost)
			}
			r.Dense, r.HasDense = Outcome{Time: time.Since(start), Cost: o.Dense, Held: o.DenseHeld}, true
		}
		res.Rounds = append(res.Rounds, r)
		logRound(cfg.Log, size, i, cfg.Rounds, r)
	}
	res.LoadAfter = loadavg()
	return res, nil
}

// timed collects the heap, then times plan.
func timed(f func() plan.Plan) Outcome {
	runtime.GC()
	start := time.Now()
	p := f()
	return Outcome{Time: time.Since(start), Cost: p.Cost, Held: len(p.Held)}
}

// same reports whether two optima are equal but for rounding.
func same(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(a), math.Abs(b)) }

func logRound(w io.Writer, size Size, i, n int, r Round) {
	var b strings.Builder
	fmt.Fprintf(&b, "%v round %d/%d: optimal %v (search %v, pricing %v, solve %v), held %d",
		size, i, n, ms(r.Optimal.Time), ms(r.Phases.Candidates), ms(r.Phases.Pricing), ms(r.Phases.Solve), r.Optimal.Held)
	fmt.Fprintf(&b, "; order side %v, held %d; greedy %v, held %d", ms(r.OrderSide.Time), r.OrderSide.Held,
		ms(r.Greedy.Time), r.Greedy.Held)
	if r.HasDense {
		fmt.Fprintf(&b, "; dense %v, held %d; gap optimal %s, order side %s, greedy %s", ms(r.Dense.Time), r.Dense.Held,
			pct(gap(r.Optimal.Cost, r.Dense.Cost)), pct(gap(r.OrderSide.Cost, r.Dense.Cost)),
			pct(gap(r.Greedy.Cost, r.Dense.Cost)))
	}
	fmt.Fprintln(w, b.String())
}

// gap is how much cost exceeds the optimum, as a share of it.
func gap(cost, optimum float64) float64 { return (cost - optimum) / math.Abs(optimum) }

// loadavg is the system's one-minute load average, or "" when it cannot be read.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// percentile returns the q-quantile of ds by nearest rank (q in (0, 1]), 0 for none.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[max(0, int(math.Ceil(q*float64(len(s))))-1)]
}
