package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/tiffin-dev/tiffin/internal/bench"
	"github.com/tiffin-dev/tiffin/internal/telemetry"
)

type benchCmd struct {
	Orders benchOrdersCmd `cmd:"" help:"Measure order placement throughput and latency against an in-process app on each database, with pgbench as the PostgreSQL yardstick."`
	Chaos  benchChaosCmd  `cmd:"" help:"Run tiffin processes under load while killing them (and their dependencies), then count what was acknowledged, lost, duplicated and stuck."`
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
