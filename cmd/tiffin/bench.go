package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tiffin-dev/tiffin/internal/bench"
	"github.com/tiffin-dev/tiffin/internal/bench/dispatchbench"
	"github.com/tiffin-dev/tiffin/internal/dispatch/plan"
	"github.com/tiffin-dev/tiffin/internal/mdrp/replay"
	"github.com/tiffin-dev/tiffin/internal/telemetry"
)

type benchCmd struct {
	Orders   benchOrdersCmd   `cmd:"" help:"Measure order placement throughput and latency against an in-process app on each database, with pgbench as the PostgreSQL yardstick."`
	Chaos    benchChaosCmd    `cmd:"" help:"Run tiffin processes under load while killing them (and their dependencies), then count what was acknowledged, lost, duplicated and stuck."`
	MDRP     benchMDRPCmd     `cmd:"" name:"mdrp" help:"Replay the public Meal Delivery Routing Problem instances through the dispatch planner with a simulated clock, write each solution in the public evaluator's format, and print every metric against the published state of the art."`
	Carrier  benchCarrierCmd  `cmd:"" help:"Ship carrier orders through the fake carrier while it is down for days (time-compressed) or failing in a mix of ways, then count lost shipments, double bookings, probes and e-mails."`
	Dispatch benchDispatchCmd `cmd:"" help:"Time dispatch planning rounds of N orders and M couriers in a synthetic city and set the optimal planner's cost against the dense optimum and the greedy planner on the same rounds."`
}

type benchDispatchCmd struct {
	Orders      []int   `placeholder:"N" help:"Orders per round, repeatable or comma-separated, one size each (default: 1000 and 10000)."`
	Couriers    []int   `placeholder:"M" help:"Couriers per round, one for each --orders (default: as many as orders)."`
	Rounds      int     `default:"20" help:"Measured rounds per size, each a fresh draw of orders and couriers, after one warm-up round."`
	Candidates  int     `default:"64" help:"Couriers the optimal planner considers per order (k)."`
	Hold        float64 `default:"0" help:"Cost of holding an order for a later round (0: the planner's default weight, 1000)."`
	DenseMax    int     `default:"9000000" help:"Most orders*couriers a size may have for its rounds to get the dense optimum, 8 bytes a pair in memory (negative: none)."`
	DenseRounds int     `default:"0" help:"How many of a size's rounds, the first ones, get the dense optimum (0: all)."`
	Seed        uint64  `default:"1" help:"Seed of the city and its rounds."`
}

func (b *benchDispatchCmd) Run(ctx context.Context, out io.Writer) error {
	if len(b.Couriers) > 0 && len(b.Couriers) != len(b.Orders) {
		return fmt.Errorf("bench dispatch: %d --couriers for %d --orders, want one each", len(b.Couriers), len(b.Orders))
	}
	var sizes []dispatchbench.Size
	for i, n := range b.Orders {
		m := n
		if len(b.Couriers) > 0 {
			m = b.Couriers[i]
		}
		if n <= 0 || m <= 0 {
			return fmt.Errorf("bench dispatch: %d orders x %d couriers: want positive sizes", n, m)
		}
		sizes = append(sizes, dispatchbench.Size{Orders: n, Couriers: m})
	}
	results, err := dispatchbench.Run(ctx, dispatchbench.Config{
		Sizes: sizes, Rounds: b.Rounds, Candidates: b.Candidates, Hold: b.Hold,
		DenseMax: b.DenseMax, DenseRounds: b.DenseRounds, Seed: b.Seed, Log: os.Stderr,
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(out)
	dispatchbench.Report(out, results)
	return nil
}

type benchCarrierCmd struct {
	Scenario     []string      `default:"outage,mix" help:"Scenarios, repeatable or comma-separated: outage (the carrier down for --outage of carrier time), mix (timeouts after booking and lost bookings at a carrier that ignores idempotency keys)."`
	DB           string        `name:"db" env:"TIFFIN_BENCH_DB" default:"sqlite" help:"Database: sqlite (a temporary file) or a postgres:// URL (a fresh schema)."`
	Shipments    int           `default:"0" help:"Carrier orders placed (0: 5,000 for outage, 2,000 for mix)."`
	Outage       time.Duration `default:"72h" help:"The carrier's downtime, in carrier time."`
	Speedup      float64       `default:"720" help:"Time compression: the carrier's and tiffin's carrier timings run this many times faster (720: 72 h in 6 min)."`
	TimeoutShare float64       `default:"0.3" help:"Mix: share of requests that time out after booking."`
	LoseShare    float64       `default:"0.1" help:"Mix: share of bookings answered and then forgotten."`
	Drain        time.Duration `default:"10m" help:"Longest real wait after the outage (or the load) for every shipment to be delivered."`
}

func (b *benchCarrierCmd) Run(ctx context.Context) error {
	var failed []string
	for _, sc := range splitList(b.Scenario) {
		r, err := bench.Carrier(ctx, bench.CarrierConfig{
			Scenario: sc, DB: b.DB, Shipments: b.Shipments, Outage: b.Outage, Speedup: b.Speedup,
			TimeoutShare: b.TimeoutShare, LoseShare: b.LoseShare, Drain: b.Drain, Out: os.Stdout,
		})
		if err != nil {
			return err
		}
		if r.Lost != 0 || r.Duplicates != 0 || r.Delivered != r.Accepted {
			failed = append(failed, sc)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("bench carrier: shipments lost, doubled or undelivered in %v", failed)
	}
	return nil
}

type benchMDRPCmd struct {
	Instances string   `required:"" type:"existingdir" help:"Directory of MDRP instance directories (e.g. ../shared/benchmarks/mdrp/instances)."`
	Out       string   `required:"" help:"Output directory: OUT/<instance>/solution_info_{assignments,orders,couriers}.txt for --algo, plus table.txt and click-to-door.svg."`
	Algo      string   `default:"optimal" enum:"optimal,greedy" help:"Planner whose solutions are written: optimal or greedy."`
	Yardstick []string `default:"greedy" help:"Planners also replayed and measured in the same run for comparison (none: no yardstick)."`
	MaxBundle int      `default:"2" help:"Most orders of one restaurant a courier carries at once, 1 to 4."`
	Markdown  bool     `help:"Print the tables as markdown."`
}

func (b *benchMDRPCmd) Run(ctx context.Context) error {
	if b.MaxBundle < 1 || b.MaxBundle > plan.MaxBundleLimit {
		return fmt.Errorf("bench mdrp: --max-bundle %d: want 1 to %d", b.MaxBundle, plan.MaxBundleLimit)
	}
	algos := []plan.Algorithm{plan.Algorithm(b.Algo)}
	for _, y := range splitList(b.Yardstick) {
		if y != "none" && y != b.Algo {
			if y != string(plan.Optimal) && y != string(plan.Greedy) {
				return fmt.Errorf("--yardstick: unknown planner %q (optimal, greedy, none)", y)
			}
			algos = append(algos, plan.Algorithm(y))
		}
	}
	if err := os.MkdirAll(b.Out, 0o755); err != nil { // #nosec G301 -- benchmark results and scripts, meant to be read and shared: 0755/0644 on purpose
		return err
	}
	runs, err := replay.Bench(ctx, replay.BenchConfig{
		Instances: b.Instances, Out: b.Out, Algorithms: algos,
		Params: plan.Params{MaxBundle: b.MaxBundle}, Log: os.Stderr,
	})
	if err != nil {
		return err
	}
	var table strings.Builder
	met := replay.Report(io.MultiWriter(os.Stdout, &table), algos, runs, b.Markdown)
	if err := os.WriteFile(filepath.Join(b.Out, "table.txt"), []byte(table.String()), 0o644); err != nil { // #nosec G306 -- benchmark results and scripts, meant to be read and shared: 0755/0644 on purpose
		return err
	}
	var chart bytes.Buffer
	if err := replay.WriteChart(&chart, algos, runs); err != nil {
		return err
	}
	svg := filepath.Join(b.Out, "click-to-door.svg")
	if err := os.WriteFile(svg, chart.Bytes(), 0o644); err != nil { // #nosec G306 -- benchmark results and scripts, meant to be read and shared: 0755/0644 on purpose
		return err
	}
	fmt.Printf("\nsolutions in %s/<instance>/, table in %s, chart in %s\n", b.Out, filepath.Join(b.Out, "table.txt"), svg)
	if !met {
		fmt.Printf("%s missed a target (marked !)\n", b.Algo)
	}
	return nil
}

func splitList(in []string) []string {
	var out []string
	for _, s := range in {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

type benchChaosCmd struct {
	Scenario     []string      `default:"all" help:"Scenarios, repeatable or comma-separated: kill, payments, broker, database (PostgreSQL only), or all."`
	DB           []string      `name:"db" env:"TIFFIN_BENCH_DB" default:"sqlite" help:"Databases: sqlite (one tiffin dev process) and/or postgres:// URLs (replicas of tiffin serve on a fresh schema)."`
	Duration     time.Duration `default:"60s" help:"How long load runs, and failures are inflicted, per scenario."`
	Rate         float64       `default:"200" help:"Orders per second offered on SQLite."`
	PostgresRate float64       `default:"500" help:"Orders per second offered on PostgreSQL."`
	Kills        int           `default:"20" help:"SIGKILLs in the kill and payments scenarios."`
	PayFailure   float64       `default:"0.3" help:"Share of payment provider requests the payments scenario fails (0..1)."`
	Replicas     int           `default:"2" help:"tiffin serve processes on a PostgreSQL backend."`
	Drain        time.Duration `default:"60s" help:"Longest wait after the load for every acknowledged order to end."`
	Poison       int           `default:"1000" help:"Poison events the broker scenario dead-letters and then redrives."`
	FateDrivers  int           `default:"64" help:"Acknowledged orders taken to their fates at once (accept, ready, pick-up, delivery, cancels); fewer leave more to the restaurant timeout."`
	Binary       string        `placeholder:"PATH" help:"The tiffin executable to run (default: this one)."`
	Markdown     bool          `help:"Also print the results as a markdown table for docs/benchmarks.md."`
}

func (b *benchChaosCmd) Run(ctx context.Context) error {
	_, err := bench.Chaos(ctx, bench.ChaosConfig{
		Scenarios: b.Scenario, Backends: b.DB, Binary: b.Binary, Duration: b.Duration, Rate: b.Rate,
		PostgresRate: b.PostgresRate, Kills: b.Kills, PayFailureRate: b.PayFailure, Replicas: b.Replicas, Drain: b.Drain, Poison: b.Poison, FateDrivers: b.FateDrivers,
		Out: os.Stdout, Markdown: b.Markdown,
	})
	return err
}

type benchOrdersCmd struct {
	DB                 []string      `name:"db" env:"TIFFIN_BENCH_DB" default:"sqlite,postgres://postgres@127.0.0.1:5432/test?sslmode=disable" help:"Databases to measure, repeatable or comma-separated: sqlite and/or postgres:// URLs (each run gets a fresh schema, dropped afterwards)."`
	Duration           time.Duration `env:"TIFFIN_BENCH_DURATION" default:"20s" help:"How long to measure, after the warmup."`
	Concurrency        int           `default:"16" help:"Clients placing orders at once."`
	Warmup             time.Duration `default:"2s" help:"How long to place orders before measuring."`
	SVG                string        `name:"svg" placeholder:"PATH" type:"path" help:"Write a plot of the latency histograms to this SVG file."`
	CPUProfile         string        `name:"cpuprofile" placeholder:"PREFIX" help:"Write a CPU profile of each measured run to PREFIX-<backend>.pprof."`
	Markdown           bool          `help:"Also print the results as a markdown block for docs/benchmarks.md."`
	PayLatency         time.Duration `default:"250ms" help:"How long the bench's fake Stripe API takes to answer each payment write, as a remote provider does."`
	PaymentConcurrency int           `default:"0" help:"Payments the app settles at once while orders are placed (0: the app's default, as tiffin dev and serve run)."`
}

func (b *benchOrdersCmd) Run(ctx context.Context, log *logFlags) error {
	// The booted apps log warnings and errors only, unless asked for less.
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(log.Level))
	_, err := bench.Orders(ctx, bench.OrdersConfig{
		Backends: b.DB, Duration: b.Duration, Warmup: b.Warmup, Concurrency: b.Concurrency,
		Out: os.Stdout, Markdown: b.Markdown, SVGPath: b.SVG, CPUProfile: b.CPUProfile, PayLatency: b.PayLatency, PaymentConcurrency: b.PaymentConcurrency,
		Logger: telemetry.NewLogger(os.Stderr, log.Format, max(lvl, slog.LevelWarn)),
	})
	return err
}
