// Package bench measures tiffin: order placement throughput and latency against a real app, with
// PostgreSQL's own pgbench as the yardstick.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// OrdersConfig says what to measure and where to report it.
type OrdersConfig struct {
	// Backends are the stores to boot the app on: "sqlite" and/or postgres:// URLs. Every
	// PostgreSQL run gets a fresh schema in the given database, dropped at the end. Default
	// ["sqlite"].
	Backends []string
	// Duration is how long orders are measured, after Warmup. Default 20s.
	Duration time.Duration
	// Warmup is how long orders are placed, but not measured, first. Zero means none.
	Warmup time.Duration
	// Concurrency is how many clients place orders at once. Default 16.
	Concurrency int
	// Out gets progress, the first few errors and the final table. Default io.Discard.
	Out io.Writer
	// Markdown also prints the results as a markdown block for docs/benchmarks.md.
	Markdown bool
	// SVGPath, when set, is where a plot of the latency histograms is written.
	SVGPath string
	// CPUProfile, when set, is a path prefix: each backend's measured run writes a CPU profile
	// to <prefix>-<backend>.pprof (sqlite, postgres), for `go tool pprof`.
	CPUProfile string
	// PayLatency is how long the fake Stripe API takes to answer each payment write, as a
	// remote provider does. Default 250ms.
	PayLatency time.Duration
	// PaymentConcurrency is the booted app's (app.Config.PaymentConcurrency): how many
	// payments it settles at once while orders are placed. Default: the app's.
	PaymentConcurrency int
	// Logger is the booted apps' logger. Default: warnings and errors, as text, to stderr.
	Logger *slog.Logger
}

func (c *OrdersConfig) defaults() error {
	if c.PayLatency == 0 {
		c.PayLatency = 250 * time.Millisecond
	}
	if len(c.Backends) == 0 {
		c.Backends = []string{"sqlite"}
	}
	for _, b := range c.Backends {
		if b != "sqlite" && !isPostgres(b) {
			return fmt.Errorf("bench: backend %q is neither sqlite nor a postgres:// URL", b)
		}
	}
	if c.Duration <= 0 {
		c.Duration = 20 * time.Second
	}
	if c.Warmup < 0 {
		c.Warmup = 0
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 16
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return nil
}

// Result is one measured run.
type Result struct {
	// Backend names what was measured, e.g. "tiffin POST /v1/orders (sqlite)".
	Backend string
	// Orders is how many orders (for pgbench: transactions) succeeded in the measured window.
	Orders int
	// Errors counts failed requests (non-201 answers and transport errors), warmup included.
	Errors int
	// Duration is the measured window, from the end of warmup until the last request ended.
	Duration  time.Duration
	PerSecond float64
	// Latency percentiles (nearest rank) and maximum of the successful requests.
	P50, P95, P99, Max time.Duration
	// Placed is how many orders the store held when the load stopped, warmup included; Unpaid
	// how many of them were still waiting for their authorization (status placed) then. The
	// payment consumer works behind placement; -1 when not measured (pgbench).
	Placed, Unpaid int

	samples []time.Duration // sorted latencies, for the plot
}

// Orders boots the app on each backend in turn and places orders against it over HTTP for
// Warmup+Duration with Concurrency clients; on PostgreSQL it then runs pgbench's single-row
// insert against the same server as a yardstick. It prints a table of the results to Out, and
// returns them. A backend that fails does not stop the others; its error is returned with the
// results of the rest.
func Orders(ctx context.Context, cfg OrdersConfig) ([]Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	pgbench := ""
	if hasPostgres(cfg.Backends) {
		var err error
		if pgbench, err = findPgbench(); err != nil {
			fmt.Fprintf(cfg.Out, "\n*** pgbench NOT FOUND (%v)\n*** the PostgreSQL yardstick is SKIPPED; install postgresql-client (or postgresql-contrib) to get it.\n\n", err)
		}
	}
	names := backendNames(cfg.Backends)
	var (
		results []Result
		errs    []error
	)
	for i, backend := range cfg.Backends {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		rs, err := runBackend(ctx, cfg, backend, names[i], pgbench)
		results = append(results, rs...)
		if err != nil {
			fmt.Fprintf(cfg.Out, "%s: %v\n", names[i], err)
			errs = append(errs, fmt.Errorf("%s: %w", names[i], err))
		}
	}
	m := describeMachine(time.Now())
	fmt.Fprintln(cfg.Out)
	writeTable(cfg.Out, results, m, cfg)
	for _, r := range results {
		if r.Placed > 0 {
			fmt.Fprintf(cfg.Out, "%s: %d of %d orders (%.0f%%) still waiting for payment when the load stopped\n",
				r.Backend, r.Unpaid, r.Placed, 100*float64(r.Unpaid)/float64(r.Placed))
		}
	}
	if cfg.Markdown {
		fmt.Fprintln(cfg.Out)
		writeMarkdown(cfg.Out, results, m, cfg)
	}
	if cfg.SVGPath != "" {
		if err := writeSVGFile(cfg.SVGPath, results); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Fprintf(cfg.Out, "\nlatency histograms written to %s\n", cfg.SVGPath)
		}
	}
	return results, errors.Join(errs...)
}

// runBackend measures the app on one backend and, on PostgreSQL, the yardstick.
func runBackend(ctx context.Context, cfg OrdersConfig, backend, name, pgbench string) ([]Result, error) {
	label := "tiffin POST /v1/orders (" + name + ")"
	fmt.Fprintf(cfg.Out, "== %s: %d clients, %s warmup, %s measured\n", label, cfg.Concurrency, cfg.Warmup, cfg.Duration)
	if !isPostgres(backend) {
		r, err := benchApp(ctx, cfg, "", label)
		return []Result{r}, err
	}
	s, err := newSchema(ctx, backend)
	if err != nil {
		return nil, err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := s.drop(dctx); err != nil {
			fmt.Fprintf(cfg.Out, "%s: %v\n", label, err)
		}
	}()
	r, err := benchApp(ctx, cfg, s.dsn, label)
	if err != nil {
		return []Result{r}, err
	}
	results := []Result{r}
	if pgbench == "" {
		return results, nil
	}
	fmt.Fprintf(cfg.Out, "== pgbench yardstick: %d clients, %s\n", cfg.Concurrency, pgbenchDuration(cfg.Duration))
	y, err := runPgbench(ctx, pgbench, s, cfg.Concurrency, cfg.Duration)
	if err != nil {
		return results, fmt.Errorf("pgbench: %w", err)
	}
	y.Backend = "pgbench single-row insert (" + name + ")"
	fmt.Fprintf(cfg.Out, "   %d transactions, %.0f/s\n", y.Orders, y.PerSecond)
	return append(results, y), nil
}

// backendNames names each backend for the results: "sqlite", "postgres", or
// "postgres host:port/db" when several servers are measured.
func backendNames(backends []string) []string {
	pg := 0
	for _, b := range backends {
		if isPostgres(b) {
			pg++
		}
	}
	names := make([]string, len(backends))
	seen := map[string]int{}
	for i, b := range backends {
		name := "sqlite"
		if isPostgres(b) {
			name = "postgres"
			if pg > 1 {
				name += " " + serverName(b)
			}
		}
		seen[name]++
		if n := seen[name]; n > 1 {
			name += fmt.Sprintf(" #%d", n)
		}
		names[i] = name
	}
	return names
}

func isPostgres(backend string) bool {
	return strings.HasPrefix(backend, "postgres://") || strings.HasPrefix(backend, "postgresql://")
}

func hasPostgres(backends []string) bool {
	for _, b := range backends {
		if isPostgres(b) {
			return true
		}
	}
	return false
}
