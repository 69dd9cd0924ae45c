// Package sim is the city simulator: a client of tiffin's public HTTP API that plays many
// customers, restaurants and couriers, so a newcomer sees a live city.
//
// It speaks only HTTP (never the store or the bus), so it drives any running server:
// `tiffin dev` starts it in-process and `tiffin sim --url ...` points it at a deployment. Its
// actors are deterministic names ("sim-r-01", "sim-owner-01", "sim-c-001", "sim-u-0001")
// whose world (positions, menus, prep times) follows from Config.Seed, so seeding is
// idempotent and a restarted simulator resumes the orders and deliveries it left in flight.
package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/geo"
)

// Config configures the simulator. BaseURL and Keys are required; every other zero field
// takes the default documented next to it.
type Config struct {
	// BaseURL is the server's root, e.g. "http://localhost:8080".
	BaseURL string
	// Keys mints the bearer tokens the simulated actors present (ops for seeding, restaurant,
	// courier and customer tokens for the actors). It must be the server's signing key.
	Keys *auth.Keys
	// Restaurants is how many restaurants to seed and run. Default 20.
	Restaurants int
	// Couriers is how many couriers go on shift. Default 50.
	Couriers int
	// Customers is how many customers place orders. Default 200.
	Customers int
	// OrdersPerMinute is the real-time rate of new orders (Poisson arrivals). Default 30;
	// a negative rate places no orders.
	OrdersPerMinute float64
	// Speed is how many times faster than the wall clock the actors live: prep, travel and
	// think times are divided by it. Default 20.
	Speed float64
	// Center is the middle of the simulated city. Default Bengaluru (12.9716, 77.5946).
	Center geo.LatLng
	// RadiusM is the city's radius in metres. Default 4000.
	RadiusM float64
	// Seed makes the world (positions, menus, prep times) and the actors' choices repeatable.
	Seed uint64
	// Logger receives the simulator's logs. Default slog.Default().
	Logger *slog.Logger
	// SummaryEvery is how often a summary line goes to Out. Default 5s.
	SummaryEvery time.Duration
	// Out receives the summary lines. Default os.Stderr.
	Out io.Writer
	// HTTPClient talks to the server. Default: a shared client with 20s request timeout and
	// 64 idle connections per host.
	HTTPClient *http.Client
	// ReadyWithin bounds how long Run waits for the server to answer /readyz before it gives
	// up with an error. Default 0: until ctx ends (the server in the same process starts).
	ReadyWithin time.Duration
}

// ErrTokenRejected is returned by Run when the server answers the simulator's token with 401:
// Keys is not the key the server verifies with.
var ErrTokenRejected = errors.New("the server rejected the simulator's token: is --data the server's data directory?")

// Defaults.
const (
	DefaultRestaurants     = 20
	DefaultCouriers        = 50
	DefaultCustomers       = 200
	DefaultOrdersPerMinute = 30
	DefaultSpeed           = 20
	DefaultRadiusM         = 4000
	DefaultSummaryEvery    = 5 * time.Second
)

// DefaultCenter is the middle of Bengaluru.
var DefaultCenter = geo.LatLng{Lat: 12.9716, Lng: 77.5946}

// tokenTTL is how long the actors' tokens live; they are re-minted an hour before expiry.
const tokenTTL = 24 * time.Hour

func (c Config) withDefaults() Config {
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.Restaurants <= 0 {
		c.Restaurants = DefaultRestaurants
	}
	if c.Couriers <= 0 {
		c.Couriers = DefaultCouriers
	}
	if c.Customers <= 0 {
		c.Customers = DefaultCustomers
	}
	if c.OrdersPerMinute == 0 {
		c.OrdersPerMinute = DefaultOrdersPerMinute
	}
	if !(c.Speed > 0) {
		c.Speed = DefaultSpeed
	}
	if c.Center == (geo.LatLng{}) || !c.Center.Valid() {
		c.Center = DefaultCenter
	}
	if !(c.RadiusM > 0) {
		c.RadiusM = DefaultRadiusM
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.SummaryEvery <= 0 {
		c.SummaryEvery = DefaultSummaryEvery
	}
	if c.Out == nil {
		c.Out = os.Stderr
	}
	if c.HTTPClient == nil {
		c.HTTPClient = newHTTPClient()
	}
	return c
}

func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	t.IdleConnTimeout = 90 * time.Second
	t.ResponseHeaderTimeout = 15 * time.Second
	return &http.Client{Transport: t, Timeout: 20 * time.Second}
}

// Sim is one simulated city driving one server.
type Sim struct {
	cfg    Config
	log    *slog.Logger
	api    *client
	tokens *tokens
	stats  *recorder
	ledger *ledger
	world  world
	menus  *menuCache
	nearby *nearbyCache

	// Real-time cadences; tests shorten them.
	poll      time.Duration // offer, paid-order and ready polls
	fixEvery  time.Duration // one GPS fix per courier on the move
	flushFix  int           // fixes per POST /v1/courier/locations
	idleFixes time.Duration // how often an idle courier reports where it is
	checkOpen time.Duration // how often an open order is looked up by its customer
}

// New builds a simulator; nothing happens until Run.
func New(cfg Config) *Sim {
	cfg = cfg.withDefaults()
	log := cfg.Logger.With("svc", "sim")
	s := &Sim{
		cfg:       cfg,
		log:       log,
		api:       &client{base: cfg.BaseURL, hc: cfg.HTTPClient},
		tokens:    &tokens{keys: cfg.Keys, now: time.Now, cache: map[auth.Principal]token{}},
		stats:     newRecorder(cfg.Speed),
		ledger:    newLedger(),
		world:     newWorld(cfg),
		menus:     &menuCache{m: map[string]menuEntry{}},
		nearby:    &nearbyCache{m: map[int]nearbyEntry{}},
		poll:      time.Second,
		fixEvery:  250 * time.Millisecond,
		flushFix:  4,
		idleFixes: 5 * time.Second,
		checkOpen: 20 * time.Second,
	}
	return s
}

// Run is New(cfg).Run(ctx).
func Run(ctx context.Context, cfg Config) error { return New(cfg).Run(ctx) }

// Stats returns a snapshot of what the simulator has done so far.
func (s *Sim) Stats() Stats { return s.stats.snapshot() }

// Run waits for the server to be ready, seeds the city and plays it until ctx ends. It returns
// nil when ctx ends and an error only for a configuration it cannot run with: no server ready
// within ReadyWithin, or a server that refuses its token (ErrTokenRejected).
func (s *Sim) Run(ctx context.Context) error {
	if s.cfg.BaseURL == "" {
		return errors.New("sim: Config.BaseURL is required")
	}
	if s.cfg.Keys == nil {
		return errors.New("sim: Config.Keys is required")
	}
	if err := s.waitReady(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if err := s.checkToken(ctx); err != nil {
		return err
	}
	s.log.Info("seeding city", "url", s.cfg.BaseURL, "restaurants", len(s.world.restaurants),
		"couriers", len(s.world.couriers), "customers", len(s.world.customers))
	live := s.seed(ctx)
	if ctx.Err() != nil {
		return nil
	}
	s.log.Info("city seeded", "restaurants", len(live))

	var wg sync.WaitGroup
	for i, r := range live {
		rng := s.rng(streamRestaurant, i)
		wg.Go(func() { s.runRestaurant(ctx, r, rng) })
	}
	for i, c := range s.world.couriers {
		rng := s.rng(streamCourier, i)
		wg.Go(func() { s.runCourier(ctx, c, rng) })
	}
	if s.cfg.OrdersPerMinute > 0 && len(live) > 0 {
		rng := s.rng(streamCustomers, 0)
		wg.Go(func() { s.runCustomers(ctx, live, rng) })
	}
	wg.Go(func() { s.runChecker(ctx) })
	wg.Go(func() { s.runSummary(ctx) })
	wg.Wait()
	fmt.Fprintln(s.cfg.Out, s.Stats().String())
	return nil
}

// Random streams, one per kind of actor, so adding couriers doesn't change the menus.
const (
	streamWorld uint64 = iota + 1
	streamRestaurant
	streamCourier
	streamCustomers
)

func (s *Sim) rng(stream uint64, i int) *rand.Rand {
	return rand.New(rand.NewPCG(s.cfg.Seed, stream<<32|uint64(i))) // #nosec G115 G404 -- the simulator's seeded, reproducible randomness; no secret
}

// waitReady polls /readyz with exponential backoff until it answers 200, ctx ends, or
// ReadyWithin (when set) has passed.
func (s *Sim) waitReady(ctx context.Context) error {
	var deadline time.Time
	if s.cfg.ReadyWithin > 0 {
		deadline = time.Now().Add(s.cfg.ReadyWithin)
	}
	wait := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		rctx, cancel := ctx, context.CancelFunc(func() {})
		if !deadline.IsZero() {
			rctx, cancel = context.WithDeadline(ctx, deadline)
		}
		r, err := s.api.send(rctx, "", http.MethodGet, "/readyz", nil, nil)
		cancel()
		if err == nil && r.Status == http.StatusOK {
			return nil
		}
		if !deadline.IsZero() && time.Now().Add(wait).After(deadline) {
			why := fmt.Sprintf("answered %d", r.Status)
			if err != nil {
				why = err.Error()
			}
			return fmt.Errorf("sim: no tiffin server ready at %s within %v (%s): is it running, and is --url right?", s.cfg.BaseURL, s.cfg.ReadyWithin, why)
		}
		if attempt == 5 {
			s.log.Info("waiting for server to be ready", "url", s.cfg.BaseURL, "status", r.Status, "err", err)
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(wait*2, 5*time.Second)
	}
}

// checkToken asks the server something as ops, once: a 401 means it verifies with another key
// than the simulator signs with, and nothing the simulator would do could succeed.
func (s *Sim) checkToken(ctx context.Context) error {
	r, err := s.as(ctx, opsPrincipal, http.MethodGet, "/v1/ops/audit?limit=1", nil, nil)
	if err == nil && r.Status == http.StatusUnauthorized {
		return fmt.Errorf("sim: %w (%s answered 401)", ErrTokenRejected, s.cfg.BaseURL)
	}
	return nil // another answer, or none: seeding finds out and retries
}

func (s *Sim) runSummary(ctx context.Context) {
	t := time.NewTicker(s.cfg.SummaryEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fmt.Fprintln(s.cfg.Out, s.Stats().String())
		}
	}
}

// sleep waits d or until ctx ends, reporting ctx's error in the latter case.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// jitter returns d scaled by a random factor in [1-f, 1+f].
func jitter(rng *rand.Rand, d time.Duration, f float64) time.Duration {
	return time.Duration(float64(d) * (1 - f + 2*f*rng.Float64()))
}
