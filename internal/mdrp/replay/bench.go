package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/tiffin-dev/tiffin/internal/dispatch/plan"
	"github.com/tiffin-dev/tiffin/internal/mdrp"
)

// BenchConfig configures Bench.
type BenchConfig struct {
	Instances  string           // a directory of instance directories
	Out        string           // the first algorithm's solutions go to Out/<instance>/ (empty: none)
	Algorithms []plan.Algorithm // each is replayed on every instance; default optimal
	Params     plan.Params      // planner parameters other than Algorithm
	Workers    int              // instances replayed at once; default GOMAXPROCS
	Log        io.Writer        // progress; default io.Discard
}

// BenchRun is one algorithm's replay of one instance.
type BenchRun struct {
	Algorithm  plan.Algorithm
	Metrics    mdrp.Metrics
	Violations []mdrp.Violation
	Compute    time.Duration
	Rounds     int
}

// Bench replays every instance with every algorithm, checks each solution against the rules,
// measures it and writes it in the public evaluator's format. It returns the runs per
// algorithm, in instance order. A solution the checker rejects is reported and counted, not an
// error; failing to read an instance or write a file is.
func Bench(ctx context.Context, cfg BenchConfig) (map[plan.Algorithm][]BenchRun, error) {
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []plan.Algorithm{plan.Optimal}
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	insts, err := mdrp.ReadAll(cfg.Instances)
	if err != nil {
		return nil, err
	}
	out := make(map[plan.Algorithm][]BenchRun)
	for _, algo := range cfg.Algorithms {
		runs := make([]BenchRun, len(insts))
		p := cfg.Params
		p.Algorithm = algo
		var (
			mu   sync.Mutex
			done int
			errs []error
			wg   sync.WaitGroup
			next = make(chan int)
		)
		started := time.Now()
		for range cfg.Workers {
			wg.Go(func() {
				for i := range next {
					inst := insts[i]
					res := Run(inst, Config{Params: p})
					run := BenchRun{
						Algorithm:  algo,
						Metrics:    mdrp.Measure(inst, &res.Solution),
						Violations: mdrp.Check(inst, &res.Solution),
						Compute:    res.Compute,
						Rounds:     res.Rounds,
					}
					var werr error
					if cfg.Out != "" && algo == cfg.Algorithms[0] {
						werr = mdrp.WriteSolution(filepath.Join(cfg.Out, inst.Name), inst, &res.Solution)
					}
					mu.Lock()
					runs[i] = run
					done++
					if werr != nil {
						errs = append(errs, werr)
					}
					fmt.Fprintf(cfg.Log, "\r%s: %d/%d instances replayed (%s)", algo, done, len(insts), time.Since(started).Round(time.Second))
					mu.Unlock()
				}
			})
		}
	feed:
		for i := range insts {
			select {
			case next <- i:
			case <-ctx.Done():
				break feed
			}
		}
		close(next)
		wg.Wait()
		fmt.Fprintln(cfg.Log)
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out[algo] = runs
	}
	return out, nil
}

// Target is one of the figures the replay must reach, as a mean over the instances.
type Target struct {
	Name   string
	Value  func(BenchRun) float64
	Limit  float64
	AtMost bool // the mean must be at most Limit (else at least)
	Format string
}

// Targets are the published state of the art the optimal planner must beat (FoodMatch and the
// rolling-horizon method of Reyes et al., as tiffin's issue 7 quotes them), averaged over the
// instances.
var Targets = []Target{
	{"orders delivered %", func(r BenchRun) float64 { return 100 * r.Metrics.DeliveredFraction }, 99.7, false, "%.2f"},
	{"mean click-to-door (min)", func(r BenchRun) float64 { return r.Metrics.ClickToDoor.Mean }, 31.6, true, "%.3f"},
	{"mean overage over target (min)", func(r BenchRun) float64 { return r.Metrics.Overage.Mean }, 1.97, true, "%.3f"},
	{"mean ready-to-pickup (min)", func(r BenchRun) float64 { return r.Metrics.ReadyToPickup.Mean }, 1.8, true, "%.2f"},
	{"courier pay per order", func(r BenchRun) float64 { return r.Metrics.PayPerOrder }, 11.30, true, "%.2f"},
	{"compute per instance (s)", func(r BenchRun) float64 { return r.Compute.Seconds() }, 1, true, "%.3f"},
}

// Report writes, for each algorithm, the table of every instance's metrics; then the means
// of every algorithm against the targets and the count of infeasible solutions. It reports
// whether the first algorithm met every target with every solution feasible.
func Report(w io.Writer, algos []plan.Algorithm, runs map[plan.Algorithm][]BenchRun, markdown bool) bool {
	for _, algo := range algos {
		var t mdrp.Table
		for _, r := range runs[algo] {
			t = append(t, r.Metrics)
		}
		fmt.Fprintf(w, "\n%s:\n", algo)
		if markdown {
			t.WriteMarkdown(w)
		} else {
			t.WriteText(w)
		}
	}
	fmt.Fprintf(w, "\nmeans over instances  ")
	for _, algo := range algos {
		fmt.Fprintf(w, "%12s", algo)
	}
	fmt.Fprintf(w, "  target\n")
	met := true
	for _, tg := range Targets {
		fmt.Fprintf(w, "%-32s", tg.Name)
		for i, algo := range algos {
			rs := runs[algo]
			sum := 0.0
			for _, r := range rs {
				sum += tg.Value(r)
			}
			mean := sum / float64(max(1, len(rs)))
			ok := mean <= tg.Limit
			if !tg.AtMost {
				ok = mean >= tg.Limit
			}
			mark := " "
			if !ok {
				mark = "!"
				if i == 0 {
					met = false
				}
			}
			fmt.Fprintf(w, "%11s%s", fmt.Sprintf(tg.Format, mean), mark)
		}
		cmpSign := ">="
		if tg.AtMost {
			cmpSign = "<="
		}
		fmt.Fprintf(w, "  %s %s\n", cmpSign, fmt.Sprintf(tg.Format, tg.Limit))
	}
	fmt.Fprintf(w, "%-32s", "solutions feasible")
	for i, algo := range algos {
		ok := 0
		for _, r := range runs[algo] {
			if len(r.Violations) == 0 {
				ok++
			}
		}
		if i == 0 && ok != len(runs[algo]) {
			met = false
		}
		fmt.Fprintf(w, "%12s", fmt.Sprintf("%d/%d", ok, len(runs[algo])))
	}
	fmt.Fprintf(w, "  all\n")
	for _, algo := range algos {
		shown := 0
		for _, r := range runs[algo] {
			for _, v := range r.Violations {
				if shown < 5 {
					fmt.Fprintf(w, "%s %s: %v\n", algo, r.Metrics.Instance, v)
				}
				shown++
			}
		}
	}
	return met
}

// WriteChart draws every instance's mean click-to-door for each algorithm against the lower
// bound, as SVG.
func WriteChart(w io.Writer, algos []plan.Algorithm, runs map[plan.Algorithm][]BenchRun) error {
	var rows []mdrp.ChartRow
	for i, r := range runs[algos[0]] {
		row := mdrp.ChartRow{Instance: r.Metrics.Instance, LowerBound: r.Metrics.LowerBound, ClickToDoor: map[string]float64{}}
		for _, algo := range algos {
			row.ClickToDoor[string(algo)] = runs[algo][i].Metrics.ClickToDoor.Mean
		}
		rows = append(rows, row)
	}
	return mdrp.Chart(w, rows)
}
