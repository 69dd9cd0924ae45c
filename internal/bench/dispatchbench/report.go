package dispatchbench

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/tiffin-dev/tiffin/internal/dispatch/plan"
)

// Report writes the results as a table: per size and planner the round time (p50, p95, max),
// the optimal round's split, pairs priced per order, orders held per round, the cost per order
// and, over the rounds with a dense optimum, how far each planner's total cost is above it and
// its worst round; then the targets, met or missed.
func Report(w io.Writer, results []Result) {
	if len(results) == 0 {
		return
	}
	r0 := results[0]
	fmt.Fprintf(w, "dispatch rounds in a synthetic city: %.0f km square, %d restaurant hubs, travel %.0f m/min rounded up to whole minutes, service %v at each end, MaxBundle 1, k = %d, hold %g\n",
		citySide/1000, hubs, speed, service, r0.Candidates, r0.Hold)
	fmt.Fprintf(w, "%d rounds per size after a warm-up; GOMAXPROCS %d, %s; times are wall clock, heap collected before each\n\n",
		len(r0.Rounds), runtime.GOMAXPROCS(0), runtime.Version())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "orders x couriers\tplanner\tp50\tp95\tmax\tsearch\tpricing\tsolve\tpairs/order\theld/round\tcost/order\tvs dense\tworst round\t")
	for _, res := range results {
		rows := []struct {
			name   string
			of     func(Round) Outcome
			phases func(Round) plan.Phases // nil: not split
		}{
			{fmt.Sprintf("optimal, k=%d", res.Candidates), func(r Round) Outcome { return r.Optimal }, func(r Round) plan.Phases { return r.Phases }},
			{"order side", func(r Round) Outcome { return r.OrderSide }, func(r Round) plan.Phases { return r.OrderSidePhases }},
			{"greedy", func(r Round) Outcome { return r.Greedy }, nil},
			{"dense", func(r Round) Outcome { return r.Dense }, nil},
		}
		for k, row := range rows {
			label := ""
			if k == 0 {
				label = res.Size.String()
			}
			rounds := res.Rounds
			if row.name == "dense" {
				rounds = withDense(rounds)
				if len(rounds) == 0 {
					fmt.Fprintf(tw, "%s\tdense\t\t\t\t\t\t\t\t\t\tnot computed\t\t\n", label)
					continue
				}
			}
			var times, search, pricing, solve []time.Duration
			var cost, held, edges float64
			for _, r := range rounds {
				o := row.of(r)
				times = append(times, o.Time)
				cost += o.Cost
				held += float64(o.Held)
				if row.phases != nil {
					ph := row.phases(r)
					search, pricing, solve = append(search, ph.Candidates), append(pricing, ph.Pricing), append(solve, ph.Solve)
					edges += float64(ph.Edges)
				}
			}
			n := float64(len(rounds))
			split := "\t\t\t\t"
			if row.phases != nil {
				split = fmt.Sprintf("%s\t%s\t%s\t%.1f\t", ms(percentile(search, 0.5)), ms(percentile(pricing, 0.5)), ms(percentile(solve, 0.5)),
					edges/n/float64(max(1, res.Size.Orders)))
			}
			vs, worst := "", ""
			if row.name == "dense" {
				vs, worst = "0", "0"
			} else if d := withDense(res.Rounds); len(d) > 0 {
				var sum, dense, w float64
				for _, r := range d {
					sum += row.of(r).Cost
					dense += r.Dense.Cost
					w = max(w, gap(row.of(r).Cost, r.Dense.Cost))
				}
				vs, worst = pct(gap(sum, dense)), pct(w)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s%.1f\t%.1f\t%s\t%s\t\n", label, row.name,
				ms(percentile(times, 0.5)), ms(percentile(times, 0.95)), ms(percentile(times, 1)), split,
				held/n, cost/n/float64(max(1, res.Size.Orders)), vs, worst)
		}
	}
	tw.Flush()
	fmt.Fprintln(w, "search, pricing, solve: p50 of each phase (PlanTimed); vs dense: total cost over the rounds with a dense optimum against theirs; worst round: the largest such gap of one round")
	fmt.Fprintln(w)
	for _, res := range results {
		var times []time.Duration
		for _, r := range res.Rounds {
			times = append(times, r.Optimal.Time)
		}
		p95 := percentile(times, 0.95)
		line := fmt.Sprintf("%v: optimal round p95 %v", res.Size, ms(p95))
		if res.Target > 0 {
			line += fmt.Sprintf(", target %v: %s", ms(res.Target), metOrMissed(p95 <= res.Target))
		}
		if d := withDense(res.Rounds); len(d) > 0 {
			var sum, dense float64
			for _, r := range d {
				sum += r.Optimal.Cost
				dense += r.Dense.Cost
			}
			line += fmt.Sprintf("; cost %s above the dense optimum over %d of %d rounds, target %s: %s", pct(gap(sum, dense)), len(d), len(res.Rounds), pct(GapTarget), metOrMissed(gap(sum, dense) <= GapTarget))
		} else {
			line += "; dense optimum not computed at this size"
		}
		if res.LoadBefore != "" {
			line += fmt.Sprintf("; load %s before, %s after", res.LoadBefore, res.LoadAfter)
		}
		fmt.Fprintln(w, line)
	}
}

func withDense(rounds []Round) []Round {
	var out []Round
	for _, r := range rounds {
		if r.HasDense {
			out = append(out, r)
		}
	}
	return out
}

func metOrMissed(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// ms formats d in milliseconds, to three significant figures (seconds from 10 s).
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	case v >= 10_000:
		return fmt.Sprintf("%.1f s", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

// pct formats a share as a signed percentage.
func pct(x float64) string {
	switch a := math.Abs(x); {
	case a >= 10:
		return fmt.Sprintf("%+.0f%%", 100*x)
	case a >= 0.01:
		return fmt.Sprintf("%+.2f%%", 100*x)
	default:
		return fmt.Sprintf("%+.3f%%", 100*x)
	}
}

// thousands formats n with commas every three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}
