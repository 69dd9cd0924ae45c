package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"golang.org/x/time/rate"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/payment/stripefake"
)

// Chaos scenarios.
const (
	ScenarioKill     = "kill"
	ScenarioPayments = "payments"
	ScenarioBroker   = "broker"
	ScenarioDatabase = "database"
)

// ChaosScenarios lists the scenarios `all` runs, in order.
var ChaosScenarios = []string{ScenarioKill, ScenarioPayments, ScenarioBroker, ScenarioDatabase}

// ChaosConfig says which failures to inflict, on what, for how long.
type ChaosConfig struct {
	// Scenarios to run. Default ChaosScenarios.
	Scenarios []string
	// Backends are the stores: "sqlite" (one `tiffin dev` process, embedded NATS) and/or
	// postgres:// URLs (Replicas `tiffin serve` processes on a fresh schema, with a NATS server
	// run by the bench). Default ["sqlite"].
	Backends []string
	// Binary is the tiffin executable to run. Default: this process's own executable.
	Binary string
	// Duration is how long load runs (and failures are inflicted) per scenario. Default 60s.
	Duration time.Duration
	// Rate is the orders per second offered on SQLite; PostgresRate on PostgreSQL. Defaults 200
	// and 500.
	Rate, PostgresRate float64
	// Kills is how many times the kill and payments scenarios SIGKILL a process. Default 20.
	Kills int
	// PayFailureRate is the share of payment provider requests the payments scenario fails
	// (500s before and after acting, hangs, resets). Default 0.3.
	PayFailureRate float64
	// Replicas is how many processes serve a PostgreSQL backend. Default 2.
	Replicas int
	// Poison is how many poison events the broker scenario dead-letters and redrives after its
	// load. Default 1,000.
	Poison int
	// FateDrivers is how many acknowledged orders the load takes to their fates at once. Each
	// waits (polling) while its order's payment runs, and the replicas' restaurant timeout is
	// 10 s: too few drivers fall behind, and orders meant to be delivered end by that timeout
	// instead; more drive every fate as the orders flow, which adds their writes to the load
	// (on SQLite's one writer, 384 drivers cut the acknowledged rate under kills from 205 to
	// 194/s). Default 64.
	FateDrivers int
	// Drain bounds the wait, after load, for every acknowledged order to end. Default 60s.
	Drain time.Duration
	// Out gets progress and the table. Default io.Discard.
	Out io.Writer
	// Markdown also prints the table as markdown.
	Markdown bool
}

func (c *ChaosConfig) defaults() error {
	if len(c.Scenarios) == 0 || slices.Contains(c.Scenarios, "all") {
		c.Scenarios = ChaosScenarios
	}
	for _, s := range c.Scenarios {
		if !slices.Contains(ChaosScenarios, s) {
			return fmt.Errorf("bench chaos: unknown scenario %q (known: %s, all)", s, strings.Join(ChaosScenarios, ", "))
		}
	}
	if len(c.Backends) == 0 {
		c.Backends = []string{"sqlite"}
	}
	for _, b := range c.Backends {
		if b != "sqlite" && !isPostgres(b) {
			return fmt.Errorf("bench chaos: backend %q is neither sqlite nor a postgres:// URL", b)
		}
	}
	if c.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench chaos: find the tiffin binary: %w", err)
		}
		c.Binary = exe
	}
	if c.Duration <= 0 {
		c.Duration = time.Minute
	}
	if c.Rate <= 0 {
		c.Rate = 200
	}
	if c.PostgresRate <= 0 {
		c.PostgresRate = 500
	}
	if c.Kills <= 0 {
		c.Kills = 20
	}
	if c.PayFailureRate <= 0 {
		c.PayFailureRate = 0.3
	}
	if c.Replicas <= 0 {
		c.Replicas = 2
	}
	if c.Poison <= 0 {
		c.Poison = 1000
	}
	if c.FateDrivers <= 0 {
		c.FateDrivers = 64
	}
	if c.Drain <= 0 {
		c.Drain = time.Minute
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	c.Out = &lockedWriter{w: c.Out} // progress, the killer and the broker loop all write to it
	return nil
}

// lockedWriter serializes writes to w: each Write is one whole line of progress.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// ChaosResult is one scenario on one backend.
type ChaosResult struct {
	Scenario, Backend string
	tally
	// Offered is how many orders were attempted; PerSecond how many were acknowledged per
	// second of load.
	Offered   int
	PerSecond float64
	// Kills is how many processes were SIGKILLed; Recover the longest a restarted one took to
	// serve again. KillsInWindow is how many of the kills came while the provider had acted on
	// a call of the killed process that it had not yet recorded (-1: not aimed).
	Kills, KillsInWindow int
	Recover              time.Duration
	// From the provider's ledger: captures it made per captured PaymentIntent (a delivered
	// order), and voids and refunds per PaymentIntent given back (an order that ended); 1 is
	// exactly once; negative when there were none.
	CapturesPerDelivered, GiveBacksPerEnded float64
	// Mismatches is what the ops payment reconciliation found after the drain (-1: not run).
	Mismatches int
	// DLQIn and DLQOut are dead letters written and redriven (-1: not measured).
	DLQIn, DLQOut int
	// Drained is how long the drain took.
	Drained time.Duration
	// Cancel8 is how many orders were cancelled by eight concurrent requests once paid, and
	// Cancel8GiveBacks how many voids and refunds the provider made for them (exactly Cancel8
	// when each was given back once). GivenTwice counts PaymentIntents captured, or voided and
	// refunded, more than once.
	Cancel8, Cancel8GiveBacks, GivenTwice int
	// Holding counts ended orders whose money the provider still holds or kept;
	// DoubleAuthorized orders with more than one PaymentIntent.
	Holding, DoubleAuthorized int
	// Database is the database scenario's own figures.
	Database *ChaosDatabaseResult
	// poison is the broker scenario's dead-letter round.
	poison *poisonResult
}

// Pass reports whether the run kept every promise: nothing lost, doubled or stuck, and the
// money right where it was measured.
func (r ChaosResult) Pass() bool {
	ok := r.Lost == 0 && r.Duplicated == 0 && r.Stuck == 0 && r.Repeated == 0 && r.Acknowledged > 0
	if d := r.Database; d != nil {
		return ok && d.WritesNoRetry == 0 && d.Other5xx == 0 && d.OutageReadShare() >= 0.99 &&
			d.RecoverySeconds >= 0 && d.RecoverySeconds <= 5
	}
	if r.CapturesPerDelivered >= 0 {
		ok = ok && r.CapturesPerDelivered == 1
	}
	if r.GiveBacksPerEnded >= 0 {
		ok = ok && r.GiveBacksPerEnded == 1
	}
	if r.KillsInWindow == 0 && r.Kills > 0 {
		ok = false // the payments scenario could not kill a replica between "yes" and "recorded"
	}
	if r.poison != nil {
		ok = ok && r.poison.ok()
	}
	return ok && r.Mismatches <= 0 && r.Holding == 0 && r.DoubleAuthorized == 0 && r.GivenTwice == 0 &&
		r.Cancel8GiveBacks == r.Cancel8
}

// Chaos runs every scenario on every backend and prints one table.
func Chaos(ctx context.Context, cfg ChaosConfig) ([]ChaosResult, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	m := describeMachine(time.Now())
	fmt.Fprintf(cfg.Out, "tiffin bench chaos: %s; %s each, %d kills\n", m, cfg.Duration, cfg.Kills)
	var results []ChaosResult
	var errs []error
	for _, sc := range cfg.Scenarios {
		for _, b := range cfg.Backends {
			r, err := runScenario(ctx, cfg, sc, b)
			if errors.Is(err, errSkipped) {
				continue
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s on %s: %w", sc, backendLabel(b), err))
				fmt.Fprintf(cfg.Out, "%s on %s: %v\n", sc, backendLabel(b), err)
				continue
			}
			results = append(results, r)
		}
	}
	writeChaosTable(cfg.Out, results)
	if cfg.Markdown {
		writeChaosMarkdown(cfg.Out, results, m, cfg)
	}
	for _, r := range results {
		if !r.Pass() {
			errs = append(errs, fmt.Errorf("%s on %s broke a promise: lost %d, duplicated %d, stuck %d (%s)",
				r.Scenario, r.Backend, r.Lost, r.Duplicated, r.Stuck, strings.Join(r.Examples, "; ")))
		}
	}
	return results, errors.Join(errs...)
}

func backendLabel(b string) string {
	if isPostgres(b) {
		return "postgres"
	}
	return b
}

// errSkipped is a scenario that does not apply to a backend.
var errSkipped = errors.New("skipped")

// runDatabase is the database scenario on w: mixed load while the database is blackholed
// for the scenario's duration (ChaosDatabase).
func runDatabase(ctx context.Context, cfg ChaosConfig, w *world, res ChaosResult) (ChaosResult, error) {
	d, err := ChaosDatabase(ctx, ChaosDatabaseConfig{
		URL: w.replicas[0].URL(), Keys: w.keys, Outage: cfg.Duration, Out: cfg.Out,
		Cut:     func(context.Context) error { return w.proxy.blackhole() },
		Restore: func(context.Context) error { return w.proxy.restore() },
	})
	if err != nil {
		return res, err
	}
	res.Acknowledged, res.Lost, res.Offered = d.WritesAcked, d.AckedLost, d.Writes
	res.Recover = time.Duration(d.RecoverySeconds * float64(time.Second))
	res.Kills = 1 // one outage; Recover is from its end to full service
	res.Database = &d
	return res, nil
}

// world is the processes one scenario runs against.
type world struct {
	cfg      ChaosConfig
	backend  string
	dir      string
	schema   *schema
	nats     *natsServer
	replicas []*replica
	keys     *auth.Keys
	db       *sql.DB // the store, read to verify
	pay      *stripefake.Server
	payHTTP  []*httptest.Server // one listener per replica, each behind its gate
	gates    []*payGate         // gates[i] stands between replicas[i] and the provider
	proxy    *dbProxy           // between the replicas and PostgreSQL, for the database scenario
}

// newWorld starts the processes of one scenario: the payment provider (a fake Stripe API in
// this process, so its ledger outlives the tiffin processes it kills, failing payFailure of
// its requests), NATS for PostgreSQL, and the tiffin replicas.
func newWorld(ctx context.Context, cfg ChaosConfig, backend string, payFailure float64, proxied, ownNATS bool, extra ...string) (*world, error) {
	dir, err := os.MkdirTemp("", "tiffin-chaos-")
	if err != nil {
		return nil, err
	}
	w := &world{cfg: cfg, backend: backend, dir: dir}
	w.pay = stripefake.New(stripefake.Config{FailureRate: payFailure, Seed: uint64(time.Now().UnixNano()), HangLimit: 3 * time.Second})
	// Each replica reaches the provider through its own listener and gate, so the bench can
	// hold calls of exactly the replica it is about to kill.
	payArgs := func(i int) []string {
		for len(w.gates) <= i {
			g := newPayGate(w.pay)
			w.gates = append(w.gates, g)
			w.payHTTP = append(w.payHTTP, httptest.NewServer(g))
		}
		return []string{"--pay-provider", "stripe", "--stripe-key", w.pay.Key(), "--stripe-url", w.payHTTP[i].URL}
	}
	data := filepath.Join(dir, "data")
	if w.keys, err = auth.LoadOrCreate(data); err != nil {
		return w, err
	}
	// --no-rate-limit: one ops token places 200-500 orders a second from one address.
	common := append([]string{"--data", data, "--restaurant-timeout", "10s", "--log-format", "json", "--log-level", "warn", "--no-rate-limit"}, extra...)
	if !isPostgres(backend) {
		args := []string{"dev", "--sim=false"}
		if ownNATS {
			if w.nats, err = startNATS(filepath.Join(dir, "nats")); err != nil {
				return w, err
			}
			args = append(args, "--nats", w.nats.URL())
		}
		r, err := newReplica("tiffin", cfg.Binary, dir, slices.Concat(args, common, payArgs(0))...)
		if err != nil {
			return w, err
		}
		w.replicas = []*replica{r}
		if w.db, err = sql.Open("sqlite", "file:"+filepath.Join(data, "tiffin.db")+"?mode=ro&_pragma=busy_timeout(10000)"); err != nil {
			return w, err
		}
	} else {
		if w.schema, err = newSchema(ctx, backend); err != nil {
			return w, err
		}
		if w.nats, err = startNATS(filepath.Join(dir, "nats")); err != nil {
			return w, err
		}
		dsn, replicas := w.schema.dsn, cfg.Replicas
		if proxied {
			if w.proxy, dsn, err = newDBProxy(dsn); err != nil {
				return w, err
			}
			replicas = 1
		}
		// serve holds no signing key: it verifies the run's tokens with the key's public half.
		pub := filepath.Join(dir, "jwt-public.pem")
		if err := os.WriteFile(pub, w.keys.PublicPEM(), 0o644); err != nil { // #nosec G306 -- a public key (no secret) for the bench's serve replicas
			return w, err
		}
		verify := []string{"--jwt-public-key", pub, "--jwt-issuer", auth.DevIssuer, "--jwt-audience", auth.DevAudience}
		for i := range replicas {
			r, err := newReplica(fmt.Sprintf("replica-%d", i+1), cfg.Binary, dir,
				slices.Concat([]string{"serve", "--db", dsn, "--nats", w.nats.URL()}, verify, common, payArgs(i))...)
			if err != nil {
				return w, err
			}
			w.replicas = append(w.replicas, r)
		}
		if w.db, err = sql.Open("pgx", w.schema.dsn); err != nil { // the run's schema on its search_path
			return w, err
		}
	}
	for _, r := range w.replicas {
		if _, err := r.start(ctx); err != nil {
			return w, err
		}
	}
	return w, nil
}

func (w *world) close(keep bool) {
	for _, r := range w.replicas {
		r.stop()
	}
	if w.nats != nil {
		w.nats.stop()
	}
	for _, g := range w.gates {
		g.disarm()
	}
	if w.pay != nil {
		w.pay.Close()
	}
	for _, h := range w.payHTTP {
		h.Close()
	}
	if w.proxy != nil {
		w.proxy.stop()
	}
	if w.db != nil {
		w.db.Close()
	}
	if w.schema != nil && !keep {
		_ = w.schema.drop(context.Background())
	}
	if keep {
		fmt.Fprintf(w.cfg.Out, "    kept the run's data and logs in %s\n", w.dir)
		return
	}
	os.RemoveAll(w.dir)
}

// up returns the base URLs of the replicas now running, the first one first; all of them if
// none is (the requests fail and are retried).
func (w *world) up(mu *sync.Mutex) []string {
	mu.Lock()
	defer mu.Unlock()
	var out, all []string
	for _, r := range w.replicas {
		all = append(all, r.URL())
		if r.running.Load() {
			out = append(out, r.URL())
		}
	}
	if len(out) == 0 {
		return all
	}
	return out
}

func runScenario(ctx context.Context, cfg ChaosConfig, sc, backend string) (res ChaosResult, err error) {
	res = ChaosResult{Scenario: sc, Backend: backendLabel(backend), CapturesPerDelivered: -1, GiveBacksPerEnded: -1, Mismatches: -1, DLQIn: -1, DLQOut: -1, KillsInWindow: -1}
	fmt.Fprintf(cfg.Out, "--- %s on %s\n", sc, res.Backend)
	payFailure := 0.0
	if sc == ScenarioPayments {
		payFailure = cfg.PayFailureRate
	}
	if sc == ScenarioDatabase {
		if !isPostgres(backend) {
			fmt.Fprintf(cfg.Out, "    skipped: SQLite is a file on the same machine, it cannot become unreachable\n")
			return res, errSkipped
		}
	}
	var w *world
	w, err = newWorld(ctx, cfg, backend, payFailure, sc == ScenarioDatabase, sc == ScenarioBroker)
	if w != nil {
		defer func() { w.close(err != nil || !res.Pass()) }()
	}
	if err != nil {
		return res, err
	}
	ttl := cfg.Duration + cfg.Drain + time.Hour
	ops, err := w.keys.Issue(auth.Principal{Subject: "chaos-ops", Role: auth.Ops}, ttl)
	if err != nil {
		return res, err
	}
	owner, err := w.keys.Issue(auth.Principal{Subject: "bench-owner", Role: auth.Restaurant}, ttl)
	if err != nil {
		return res, err
	}
	if sc == ScenarioDatabase {
		return runDatabase(ctx, cfg, w, res)
	}
	hc := &http.Client{Transport: transport(256), Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	c := &client{base: w.replicas[0].URL(), hc: hc}
	if err := seed(ctx, c, w.keys, ttl); err != nil {
		return res, fmt.Errorf("seed: %w", err)
	}
	r := cfg.Rate
	if isPostgres(backend) {
		r = cfg.PostgresRate
	}
	var mu sync.Mutex // guards the replicas' running state between the killer and the load
	l := &chaosLoad{
		c: c, bases: func() []string { return w.up(&mu) }, ops: ops, owner: owner, run: newRunID(),
		limiter: rate.NewLimiter(rate.Limit(r), max(1, int(r/20))), acked: map[string]ackedOrder{},
		fates: make(chan ackedOrder, 1<<16),
	}

	loadCtx, stopLoad := context.WithTimeout(ctx, cfg.Duration)
	defer stopLoad()
	driveCtx, stopDrive := context.WithTimeout(ctx, cfg.Duration+cfg.Drain+2*time.Minute)
	defer stopDrive()
	var wg sync.WaitGroup
	wg.Go(func() { l.place(loadCtx, 64) })
	var driving sync.WaitGroup
	driving.Go(func() { l.drive(driveCtx, cfg.FateDrivers) })
	start := time.Now()
	progressDone := make(chan struct{})
	var progress sync.WaitGroup
	progress.Go(func() { chaosProgress(cfg.Out, l, start, progressDone) })

	var injectErr error
	switch sc {
	case ScenarioKill:
		res.Kills, res.Recover, injectErr = killLoop(loadCtx, cfg, w, &mu, cfg.Kills, nil)
	case ScenarioPayments:
		// Every kill waits (up to 2 s) for a call the provider acted on and the replica has
		// not heard back from: at least those kills land between "provider said yes" and
		// "recorded".
		inWindow := 0
		res.Kills, res.Recover, injectErr = killLoop(loadCtx, cfg, w, &mu, cfg.Kills, func(i int) func() {
			if w.gates[i].holdNext(loadCtx, 4, 2*time.Second) {
				inWindow++
			}
			return w.gates[i].disarm
		})
		res.KillsInWindow = inWindow
	case ScenarioBroker:
		var bwg sync.WaitGroup
		bwg.Go(func() { injectErr = brokerLoop(loadCtx, cfg, w) })
		res.Kills, res.Recover, err = killLoop(loadCtx, cfg, w, &mu, 5, nil)
		bwg.Wait()
		injectErr = errors.Join(injectErr, err)
	}
	if injectErr != nil {
		stopLoad()
		stopDrive() // the run is void: don't wait for the fates
	}
	wg.Wait()
	loadTime := time.Since(start)
	close(l.fates)
	driving.Wait()
	fmt.Fprintf(cfg.Out, "    load over after %.0fs; every fate driven %.0fs later (the drain below starts then, the provider healthy)\n",
		loadTime.Seconds(), time.Since(start).Seconds()-loadTime.Seconds())
	close(progressDone)
	progress.Wait()
	if injectErr != nil {
		return res, injectErr
	}

	acked := l.snapshot()
	res.Offered = int(l.next.Load())
	res.PerSecond = float64(len(acked)) / loadTime.Seconds()
	w.pay.SetFailureRate(0) // the provider recovers for the drain, as providers do
	drainStart := time.Now()
	var t tally
	for {
		t, err = verify(ctx, w.db, l.run, acked)
		if err != nil {
			return res, err
		}
		if t.Stuck == 0 && t.Lost == 0 && t.Unsettled == 0 || time.Since(drainStart) > cfg.Drain {
			break
		}
		sleep(ctx, 500*time.Millisecond)
	}
	res.tally, res.Drained = t, time.Since(drainStart)
	cancel8 := map[string]bool{}
	for _, a := range acked {
		if a.fate == fateCancel8 {
			cancel8[a.id] = true
		}
	}
	money := checkLedger(w.pay, cancel8)
	res.Cancel8, res.Cancel8GiveBacks, res.GivenTwice = money.cancel8, money.cancel8Back, money.twice
	fmt.Fprintf(cfg.Out, "    orders cancelled by 8 concurrent requests once paid: %d, voided or refunded %d times in all\n",
		money.cancel8, money.cancel8Back)
	res.CapturesPerDelivered, res.GiveBacksPerEnded = money.capturesPerDelivered, money.giveBacksPerEnded
	res.tally.Examples = append(res.tally.Examples, money.examples...)
	res.Holding, res.DoubleAuthorized = money.holding, money.doubleAuthorized
	if n, err := reconcile(ctx, cfg.Out, c, w.up(&mu), ops); err == nil {
		res.Mismatches = n
	} else {
		fmt.Fprintf(cfg.Out, "    reconciliation: %v\n", err)
	}
	fmt.Fprintf(cfg.Out, "    drained in %.1fs: acknowledged %d, in store %d, lost %d, duplicated %d, stuck %d\n",
		res.Drained.Seconds(), t.Acknowledged, t.InStore, t.Lost, t.Duplicated, t.Stuck)
	fmt.Fprintf(cfg.Out, "    reconciler actions %d; order transitions made twice %d\n", t.ReconcilerActions, t.Repeated)
	if sc == ScenarioBroker {
		p, err := poisonRound(ctx, cfg.Out, w.nats.URL(), w.up(&mu)[0], ops, cfg.Poison)
		if err != nil {
			return res, err
		}
		res.poison, res.DLQIn, res.DLQOut = &p, p.in, p.out
		res.tally.Examples = append(res.tally.Examples, p.examples...)
	}
	for _, e := range t.Examples {
		fmt.Fprintf(cfg.Out, "    %s\n", e)
	}
	return res, nil
}

// killLoop SIGKILLs a replica at a random moment in each of n equal slots of the load,
// restarts it at once, and returns the kills made and the longest restart-to-serving time.
// aim, when not nil, is called with the index of the replica about to be killed and may delay
// the kill to a moment of its choosing; what it returns runs right after the kill.
func killLoop(ctx context.Context, cfg ChaosConfig, w *world, mu *sync.Mutex, n int, aim func(replica int) (after func())) (int, time.Duration, error) {
	slot := cfg.Duration / time.Duration(n+1)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7)) // #nosec G404 -- the benchmark's load randomness; no secret
	var worst time.Duration
	kills := 0
	began := time.Now()
	for k := range n {
		// The k-th kill falls in the second half of its slot, on a schedule: time spent
		// aiming and restarting comes out of the wait, so all n fit in the duration.
		at := began.Add(slot*time.Duration(k) + slot/2 + time.Duration(rng.Int64N(int64(slot/2)+1)))
		sleep(ctx, time.Until(at))
		if ctx.Err() != nil {
			break
		}
		i := k % len(w.replicas)
		r := w.replicas[i]
		after := func() {}
		if aim != nil {
			after = aim(i)
		}
		mu.Lock()
		r.kill()
		mu.Unlock()
		after()
		kills++
		took, err := r.start(context.WithoutCancel(ctx))
		if err != nil {
			return kills, worst, fmt.Errorf("restart after kill %d: %w", kills, err)
		}
		worst = max(worst, took)
		fmt.Fprintf(w.cfg.Out, "    kill %d: %s serving again in %.2fs\n", kills, r.name, took.Seconds())
	}
	return kills, worst, nil
}

// brokerLoop restarts the NATS server twice during the load, each time down for 3 s.
func brokerLoop(ctx context.Context, cfg ChaosConfig, w *world) error {
	for i := range 2 {
		sleep(ctx, cfg.Duration/3-3*time.Second/2)
		if ctx.Err() != nil {
			return nil
		}
		w.nats.stop()
		fmt.Fprintf(cfg.Out, "    broker stopped (%d of 2)\n", i+1)
		sleep(context.WithoutCancel(ctx), 3*time.Second)
		if err := w.nats.start(); err != nil {
			return fmt.Errorf("restart the broker: %w", err)
		}
		fmt.Fprintf(cfg.Out, "    broker back\n")
	}
	return nil
}

func chaosProgress(out io.Writer, l *chaosLoad, start time.Time, done <-chan struct{}) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			l.mu.Lock()
			n := len(l.acked)
			l.mu.Unlock()
			fmt.Fprintf(out, "    %4.0fs acknowledged %d, attempts %d, retried %d, fates done %d, given up %d\n",
				time.Since(start).Seconds(), n, l.attempts.Load(), l.failures.Load(), l.fated.Load(), l.fateFails.Load())
		}
	}
}

func writeChaosTable(w io.Writer, results []ChaosResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tbackend\tacknowledged\tlost\tduplicated\tstuck\tcaptures/delivered\tgive-backs/ended\tmismatches\tDLQ in/out\tkills\trecover s\torders/s\t")
	for _, r := range results {
		cells := chaosRow(r)
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	tw.Flush()
}

func chaosRow(r ChaosResult) []string {
	ratio := func(v float64) string {
		if v < 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.3f", v)
	}
	count := func(v int) string {
		if v < 0 {
			return "n/a"
		}
		return fmt.Sprint(v)
	}
	dlq := "n/a"
	if r.DLQIn >= 0 {
		dlq = fmt.Sprintf("%d/%d", r.DLQIn, r.DLQOut)
	}
	kills := fmt.Sprint(r.Kills)
	if r.KillsInWindow >= 0 {
		kills = fmt.Sprintf("%d (%d mid-call)", r.Kills, r.KillsInWindow)
	}
	rec := "n/a"
	if r.Kills > 0 {
		rec = fmt.Sprintf("%.2f", r.Recover.Seconds())
	}
	return []string{r.Scenario, r.Backend, fmt.Sprint(r.Acknowledged), fmt.Sprint(r.Lost), fmt.Sprint(r.Duplicated),
		fmt.Sprint(r.Stuck), ratio(r.CapturesPerDelivered), ratio(r.GiveBacksPerEnded), count(r.Mismatches), dlq, kills, rec,
		fmt.Sprintf("%.0f", r.PerSecond)}
}

func writeChaosMarkdown(w io.Writer, results []ChaosResult, m machine, cfg ChaosConfig) {
	fmt.Fprintf(w, "\n### %s\n\n", m)
	fmt.Fprintln(w, "| scenario | backend | acknowledged | lost | duplicated | stuck | captures/delivered | give-backs/ended | mismatches | DLQ in/out | kills | recover s | orders/s |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range results {
		fmt.Fprintln(w, "| "+strings.Join(chaosRow(r), " | ")+" |")
	}
}
