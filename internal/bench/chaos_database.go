package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
)

// ChaosDatabaseConfig says how to run the database scenario against a running app.
type ChaosDatabaseConfig struct {
	// URL is the app's base URL.
	URL string
	// Keys signs the clients' tokens: the app's own.
	Keys *auth.Keys
	// Cut takes the database away from the app; Restore brings it back.
	Cut, Restore func(ctx context.Context) error
	// Before is how long the load runs before the cut (orders placed and read, copies kept).
	// Default 5s.
	Before time.Duration
	// Outage is how long the database stays away. Default 60s.
	Outage time.Duration
	// After is how long the load runs after the restore; full service must come back in it.
	// Default 10s.
	After time.Duration
	// Clients is how many customers load the app at once. Default 8.
	Clients int
	// Out gets progress and the final table. Default io.Discard.
	Out io.Writer
}

func (c *ChaosDatabaseConfig) defaults() error {
	if c.URL == "" || c.Keys == nil || c.Cut == nil || c.Restore == nil {
		return fmt.Errorf("bench: chaos database: URL, Keys, Cut and Restore are required")
	}
	if c.Before <= 0 {
		c.Before = 5 * time.Second
	}
	if c.Outage <= 0 {
		c.Outage = 60 * time.Second
	}
	if c.After <= 0 {
		c.After = 10 * time.Second
	}
	if c.Clients <= 0 {
		c.Clients = 8
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	return nil
}

// ChaosDatabaseResult is what the database scenario saw. Reads are menu reads and customers'
// reads of their own orders; "answered" is 200 or 304.
type ChaosDatabaseResult struct {
	Writes          int     // checkout attempts, retries included
	WritesAcked     int     // answered 201: these orders must exist afterwards
	WritesRefused   int     // answered 503 with Retry-After (retried later with the same Idempotency-Key)
	WritesNoRetry   int     // answered 503 without Retry-After: a broken promise
	WritesInFlight  int     // answered 409: the same key was still held (retried later)
	Other5xx        int     // any other 5xx, reads and writes
	OtherFailures   int     // transport errors and unexpected 4xx, reads and writes
	MaxOutageWrite  float64 // seconds: the slowest write answer while the database was away
	OutageReads     int     // reads sent while the database was away
	OutageAnswered  int     // of those, answered
	OutageStale     int     // of those answered, from a kept copy
	RecoverySeconds float64 // from the restore until checkout, /readyz and fresh reads all work; -1 if never within After
	AckedChecked    int     // acknowledged orders read back at the end
	AckedLost       int     // of those, not found (or not readable)
}

// OutageReadShare is the share of reads answered while the database was away.
func (r ChaosDatabaseResult) OutageReadShare() float64 {
	if r.OutageReads == 0 {
		return 1
	}
	return float64(r.OutageAnswered) / float64(r.OutageReads)
}

// chaos phases.
const (
	phaseBefore int32 = iota
	phaseOutage
	phaseAfter
)

// ChaosDatabase runs mixed load against a running app (checkouts, menu reads, customers
// reading their own orders) for Before, calls Cut, keeps the load up for Outage, calls
// Restore, measures how long until full service is back, keeps the load up for After, then
// reads back every order that was acknowledged. A checkout refused with 503 is retried with
// the same Idempotency-Key after its Retry-After, as a client would. It prints a table to Out
// and returns the counts; what they must be is the caller's to judge.
func ChaosDatabase(ctx context.Context, cfg ChaosDatabaseConfig) (ChaosDatabaseResult, error) {
	var res ChaosDatabaseResult
	if err := cfg.defaults(); err != nil {
		return res, err
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: transport(cfg.Clients + 1)}
	defer hc.CloseIdleConnections()
	c := &client{base: cfg.URL, hc: hc}
	ttl := cfg.Before + cfg.Outage + cfg.After + time.Hour
	if err := seed(ctx, c, cfg.Keys, ttl); err != nil {
		return res, fmt.Errorf("seed: %w", err)
	}
	ch := &chaos{client: c, run: newRunID()}
	tokens, err := customerTokens(cfg.Keys, cfg.Clients+1, ttl)
	if err != nil {
		return res, err
	}
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	workers := make([]*chaosWorker, cfg.Clients)
	for i := range workers {
		workers[i] = &chaosWorker{chaos: ch, id: i, token: tokens[i], rng: rand.New(rand.NewPCG(uint64(i), 0xdb))} // #nosec G404 -- the benchmark's load randomness; no secret
		wg.Go(func() { workers[i].loop(lctx) })
	}
	progress := func(what string) {
		fmt.Fprintf(cfg.Out, "   %-8s writes %d (201: %d, 503: %d)  outage reads %d answered %d (stale %d)  other 5xx %d\n", what,
			ch.writes.Load(), ch.acked.Load(), ch.refused.Load(), ch.outageReads.Load(), ch.outageAnswered.Load(),
			ch.outageStale.Load(), ch.other5xx.Load())
	}
	sleep := func(d time.Duration) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return nil
		}
	}

	fmt.Fprintf(cfg.Out, "== chaos database: %d clients, %s before, %s outage, %s after\n", cfg.Clients, cfg.Before, cfg.Outage, cfg.After)
	err = sleep(cfg.Before)
	if err == nil {
		progress("before")
		if err = cfg.Cut(ctx); err != nil {
			err = fmt.Errorf("cut: %w", err)
		}
	}
	if err == nil {
		ch.phase.Store(phaseOutage)
		err = sleep(cfg.Outage)
	}
	if err == nil {
		progress("outage")
		if err = cfg.Restore(ctx); err != nil {
			err = fmt.Errorf("restore: %w", err)
		}
	}
	if err == nil {
		ch.phase.Store(phaseAfter)
		restored := time.Now()
		res.RecoverySeconds = ch.recovery(ctx, tokens[cfg.Clients], restored.Add(cfg.After))
		err = sleep(time.Until(restored.Add(cfg.After)))
		progress("after")
	}
	stop()
	wg.Wait()
	if err != nil {
		return res, err
	}

	for _, w := range workers {
		for _, id := range w.orders {
			res.AckedChecked++
			r := ch.call(ctx, http.MethodGet, "/v1/orders/"+id, w.token, nil, nil)
			if r.status != http.StatusOK || r.stale() {
				res.AckedLost++
				if res.AckedLost <= maxShownErrors {
					fmt.Fprintf(cfg.Out, "   lost: order %s: got %d (stale %v) %s %v\n", id, r.status, r.stale(), snippet(r.body), r.err)
				}
			}
		}
	}
	res.Writes, res.WritesAcked, res.WritesRefused = int(ch.writes.Load()), int(ch.acked.Load()), int(ch.refused.Load())
	res.WritesNoRetry, res.WritesInFlight = int(ch.noRetry.Load()), int(ch.inFlight.Load())
	res.Other5xx, res.OtherFailures = int(ch.other5xx.Load()), int(ch.otherFailures.Load())
	res.MaxOutageWrite = time.Duration(ch.maxOutageWrite.Load()).Seconds()
	res.OutageReads, res.OutageAnswered, res.OutageStale = int(ch.outageReads.Load()), int(ch.outageAnswered.Load()), int(ch.outageStale.Load())
	writeChaosDatabase(cfg.Out, res)
	return res, nil
}

// writeChaosDatabase prints the result as a table.
func writeChaosDatabase(out io.Writer, r ChaosDatabaseResult) {
	rec := "never"
	if r.RecoverySeconds >= 0 {
		rec = fmt.Sprintf("%.2f s", r.RecoverySeconds)
	}
	fmt.Fprintf(out, `
| measure | value |
| --- | ---: |
| checkouts sent (retries included) | %d |
| acknowledged (201) | %d |
| refused with 503 + Retry-After | %d |
| 503 without Retry-After | %d |
| 409 (key still held) | %d |
| slowest checkout answer while down | %.2f s |
| other 5xx | %d |
| other failures (transport, 4xx) | %d |
| reads while down | %d |
| answered while down | %d (%.2f%%), %d from kept copies |
| full service after the restore | %s |
| acknowledged orders lost | %d of %d |
`, r.Writes, r.WritesAcked, r.WritesRefused, r.WritesNoRetry, r.WritesInFlight, r.MaxOutageWrite, r.Other5xx,
		r.OtherFailures, r.OutageReads, r.OutageAnswered, 100*r.OutageReadShare(), r.OutageStale, rec, r.AckedLost, r.AckedChecked)
}
