// Package app wires tiffin together: it opens the store and the bus, builds the chosen services
// and the HTTP edge, runs the outbox relay, and (in dev) the city simulator, until its context
// ends. Everything is wired by hand here; no service knows another.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

	"github.com/tiffin-dev/tiffin/internal/account"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/bus"
	"github.com/tiffin-dev/tiffin/internal/cache"
	"github.com/tiffin-dev/tiffin/internal/catalog"
	"github.com/tiffin-dev/tiffin/internal/connlimit"
	"github.com/tiffin-dev/tiffin/internal/customer"
	"github.com/tiffin-dev/tiffin/internal/dispatch"
	"github.com/tiffin-dev/tiffin/internal/dispatch/plan"
	"github.com/tiffin-dev/tiffin/internal/dlq"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/fulfil"
	"github.com/tiffin-dev/tiffin/internal/fulfil/carrierfake"
	"github.com/tiffin-dev/tiffin/internal/geo"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
	"github.com/tiffin-dev/tiffin/internal/jobs"
	"github.com/tiffin-dev/tiffin/internal/lease"
	"github.com/tiffin-dev/tiffin/internal/mailcatch"
	"github.com/tiffin-dev/tiffin/internal/order"
	"github.com/tiffin-dev/tiffin/internal/payment"
	"github.com/tiffin-dev/tiffin/internal/ratelimit"
	"github.com/tiffin-dev/tiffin/internal/sim"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/telemetry"
	"github.com/tiffin-dev/tiffin/internal/tracking"
	"github.com/tiffin-dev/tiffin/internal/web"
)

// Services every process can run; api is the HTTP edge itself.
var AllServices = []string{"api", "catalog", "orders", "dispatch", "tracking", "fulfil", "notify"}

// Config is everything a tiffin process needs. The zero value runs every service on
// 127.0.0.1:8080 with SQLite and an embedded NATS under ./data.
type Config struct {
	// Addr is where the HTTP edge listens. Default "127.0.0.1:8080"; ":0" picks a free port.
	Addr string
	// MetricsAddr, when set, is where /metrics is served, to anyone who reaches it (a network
	// only operators and the scraper reach), and the edge no longer serves it. Without it the
	// edge serves /metrics to ops tokens only.
	MetricsAddr string
	// ReadTimeout bounds the reading of each request, headers and body: a client that has not
	// sent it all by then is cut off. Headers alone get at most 10s of it. Default 30s.
	ReadTimeout time.Duration
	// MaxConns caps the edge's open connections; past it, new ones wait to be accepted until
	// one closes. Keep it under the process's file descriptor limit, less what the store, the
	// bus and the data directory need. Default DefaultMaxConns.
	MaxConns int
	// MaxConnsPerAddr caps the edge's open connections from one client address (0: no cap),
	// so that one client cannot hold every one of MaxConns; the RateLimits' trusted proxies
	// are not capped, and RateLimits.Off turns it off too. Default DefaultMaxConnsPerAddr;
	// negative: no cap.
	MaxConnsPerAddr int
	// DataDir holds the SQLite database, the embedded NATS store and the dev signing key.
	// Default "data".
	DataDir string
	// DB is a postgres:// URL or a SQLite path. Default DataDir/tiffin.db.
	DB string
	// NATS is an external server's URL. Default: an embedded server storing in DataDir/nats.
	NATS string
	// Redis is a Redis server's URL (redis://host:6379/0) where the last copies of menus,
	// restaurant lists and orders read are kept, shared by every replica, to answer from while
	// the database can't be reached. Default: each process keeps its own copies in memory.
	Redis string
	// RedisPrefix starts every key the app writes in Redis. Default "tiffin:".
	RedisPrefix string
	// RateLimits are the edge's rate limits and stream caps; httpapi.Limits documents each
	// default, and RateLimits.Off turns them all off (benchmarks meant to saturate). With Redis
	// set, the rate limits' buckets are kept there (under RedisPrefix+"rl:"), shared by every
	// replica; each process falls back to its own while Redis is unreachable. Stream caps are
	// per process.
	RateLimits httpapi.Limits
	// Services to run. Default AllServices. Routes of services not run are not served.
	Services []string
	// NoRelay leaves the outbox unpublished: committed events wait in the store and nothing
	// reaches the bus, as when the broker takes nothing. Tests use it; off by default.
	NoRelay bool
	// Version is reported by the API.
	Version string
	// H3Resolution of regions. Default 5.
	H3Resolution int
	// Auth, when it names keys (PEM files, a JWKS URL), is how bearer tokens are verified: the
	// issuer and audience they must carry, their longest lifetime; the process then holds no
	// signing key (tiffin serve). Without keys, the dev key pair in DataDir (auth.KeyFile,
	// created on first use) signs and verifies, and `tiffin token --data DIR` mints with it.
	Auth auth.Config
	// AccountsSigningKey is a PEM file holding the private key (Ed25519 or ECDSA P-256) that
	// local accounts' access tokens are signed with, for Auth's issuer and audience (tiffin
	// serve --accounts-signing-key); its public half joins the keys tokens are verified with.
	// With the dev key pair, local accounts sign with it instead. With neither, the login
	// routes answer 404: the process never makes a signing key of its own.
	AccountsSigningKey string
	// Accounts tunes local accounts (token lifetimes, throttling, argon2id costs, clock); the
	// app sets its Signer, Metrics and Logger.
	Accounts account.Config
	// HomePage serves a small page at / linking the API docs (tiffin dev).
	HomePage bool

	// PayProvider names the payment provider: "fake" (the default: a sandbox account kept in
	// tiffin's own database, shared by every replica on it; moves no money) or "stripe"
	// (Stripe PaymentIntents with manual capture; needs StripeKey).
	PayProvider string
	// StripeKey is the Stripe secret key. StripeURL is the API's base URL (default
	// https://api.stripe.com). StripePaymentMethod is what authorizations are confirmed with
	// (default pm_card_visa, a test card: the checkout collects no card yet).
	StripeKey, StripeURL, StripePaymentMethod string
	// Payments, when set, is the payment provider, whatever PayProvider says (for embedding
	// tiffin, and for tests that count what reached the provider).
	Payments payment.Provider
	// PayDeclineRate, PayFailureRate and PayLatency tune the fake provider: the share of
	// authorizations declined, the share of calls failing with an unknown outcome, the delay
	// of every call.
	PayDeclineRate, PayFailureRate float64
	PayLatency                     time.Duration
	// CaptureAt is when an authorized payment is captured: "delivery" (the default) or
	// "acceptance" (when the restaurant accepts; an order cancelled after that is refunded).
	CaptureAt string
	// PaymentConcurrency is how many payment events a process settles at once (see
	// order.Config.PaymentConcurrency). Default: 256 on PostgreSQL, SQLitePaymentConcurrency on SQLite.
	PaymentConcurrency int
	// RestaurantTimeout cancels paid orders no restaurant accepted. Default 5m.
	RestaurantTimeout time.Duration
	// MaxOrderValue caps an order's total in minor units. Default: the order service's
	// (10,000,000).
	MaxOrderValue int64
	// OfferTTL is how long a courier has to answer an offer. Default 30s.
	OfferTTL time.Duration
	// Dispatch names the dispatch planner: "optimal" (default) or "greedy".
	Dispatch string
	// DispatchRound is how often each region's planner runs. Default 5s.
	DispatchRound time.Duration
	// MaxBundle is the most orders one courier carries at once. Default 2.
	MaxBundle int
	// ShutdownGrace bounds how long shutdown waits for requests in flight to finish; those
	// still running then are cancelled and cut off. Default 10s.
	ShutdownGrace time.Duration

	// CarrierName names the outside carrier carrier orders ship through (default "carrier");
	// its webhooks arrive at /v1/carriers/{CarrierName}/webhooks. CarrierURL is its API's base
	// URL and CarrierKey its API key; CarrierWebhookSecret (whsec_...) verifies its webhooks.
	// Without CarrierURL (and without FakeCarrier) the fulfil service does not run.
	CarrierName, CarrierURL, CarrierKey, CarrierWebhookSecret string
	// FakeCarrier runs the fake carrier in this process (dev), sending its webhooks here; ops
	// read and switch its mode at /v1/ops/fakes/carrier. FakeCarrierPickupAfter and
	// FakeCarrierDeliverAfter are its pace (defaults 2m and 10m).
	FakeCarrier                                     bool
	FakeCarrierPickupAfter, FakeCarrierDeliverAfter time.Duration
	// CarrierBreakerOpenFor is how long the carrier's breaker stays open before one probe
	// (default 30s); CarrierRetry when a failed call is tried again (default 5s doubling to
	// 5m); CarrierPollEvery how often a shipment's status is asked (default 5m). Tests and
	// time-compressed runs shorten them.
	CarrierBreakerOpenFor time.Duration
	CarrierRetry          fulfil.RetrySchedule
	CarrierPollEvery      time.Duration
	// CarrierSweepEvery is how often due shipments are claimed (default 1s); CarrierClient
	// makes the carrier calls (default: a client with a 10 s timeout; benchmarks count the
	// calls through it). FakeCarrierOptions tune the fake carrier (Mix, IgnoreKeys,
	// HangLimit, Seed); the app sets its webhook URL, secret and pace.
	CarrierSweepEvery time.Duration
	CarrierClient     *http.Client
	// OnCarrierBreaker, when set, is told every change of the carrier's breaker too.
	OnCarrierBreaker   func(from, to gobreaker.State)
	FakeCarrierOptions carrierfake.Config

	// SMTPHost, SMTPPort, SMTPUsername, SMTPPassword, SMTPTLS (none, starttls, tls) and
	// SMTPFrom say where e-mail notifications go (see email.Config); without SMTPHost (and
	// without CatchMail) none are sent.
	SMTPHost, SMTPUsername, SMTPPassword, SMTPTLS, SMTPFrom string
	SMTPPort                                                int
	// CatchMail (dev) runs a mail catcher in this process and sends every e-mail to it, never
	// out; ops read what it caught at /v1/ops/fakes/mail.
	CatchMail bool
	// WebhooksAllowLoopback (dev) lets webhook endpoints be on this machine (127.0.0.1, ::1).
	WebhooksAllowLoopback bool

	// Sim runs the city simulator against this process.
	Sim bool
	// SimSpeed, SimOrdersPerMinute, SimRestaurants, SimCouriers tune the simulator (its
	// defaults apply when zero).
	SimSpeed           float64
	SimOrdersPerMinute float64
	SimRestaurants     int
	SimCouriers        int

	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.DataDir == "" {
		c.DataDir = "data"
	}
	if c.DB == "" {
		c.DB = filepath.Join(c.DataDir, "tiffin.db")
	}
	if len(c.Services) == 0 {
		c.Services = AllServices
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.PayProvider == "" {
		c.PayProvider = "fake"
	}
	if c.CaptureAt == "" {
		c.CaptureAt = string(order.CaptureOnDelivery)
	}
	if c.H3Resolution == 0 {
		c.H3Resolution = 5
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = httpapi.DefaultReadTimeout
	}
	if c.MaxConnsPerAddr == 0 {
		c.MaxConnsPerAddr = DefaultMaxConnsPerAddr
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// App is a running tiffin process.
type App struct {
	cfg     Config
	logger  *slog.Logger
	db      *store.DB
	copies  cache.Backend
	redis   *cache.Redis
	bus     *bus.Bus
	keys    httpapi.Verifier // verifies bearer tokens
	devKeys *auth.Keys       // the dev key pair; nil when Config.Auth names keys
	signer  *auth.Signer     // signs local accounts' access tokens; nil: no local accounts
	unlock  func()           // releases the data directory
	metrics *telemetry.Metrics
	leases  *lease.Elector
	// instance is this boot's ID (order.Config.Instance); alive closes once its liveness
	// lease is held. Both are unset when the orders service does not run.
	instance string
	alive    chan struct{}
	srv      *httpapi.Server
	payments payment.Provider // nil unless the orders service runs
	ln       net.Listener
	// metricsLn serves /metrics alone when Config.MetricsAddr is set.
	metricsLn net.Listener
	runners   []runner
	// fakeCarrier is the fake carrier this process runs (dev), or nil; mail its mail catcher.
	fakeCarrier *carrierfake.Server
	mail        *mailcatch.Catcher
	deadLetters *dlq.Service
}

// addDeadLetters joins src to the operators' dead-letter view and to tiffin_dead_letters.
func (a *App) addDeadLetters(src dlq.Source) {
	a.deadLetters.WithSources(src)
	a.metrics.GaugeFunc("tiffin_dead_letters", "Dead letters waiting for an operator, by source (-1: unknown).", func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n, err := src.Count(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	}, prometheus.Labels{"source": src.Name()})
}

type runner struct {
	name string
	run  func(ctx context.Context) error
}

// New opens the store and the bus, migrates, builds the services and binds the listener. Call
// Run to serve, or Close to release everything without running.
func New(ctx context.Context, cfg Config) (_ *App, err error) {
	cfg.defaults()
	for _, s := range cfg.Services {
		if !slices.Contains(AllServices, s) {
			return nil, fmt.Errorf("app: unknown service %q (known: %s)", s, strings.Join(AllServices, ","))
		}
	}
	if err := validCaptureAt(cfg.CaptureAt); err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	a := &App{cfg: cfg, logger: cfg.Logger, metrics: telemetry.NewMetrics()}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := a.lockData(); err != nil {
		return nil, err
	}
	if err := a.openAuth(ctx); err != nil {
		return nil, err
	}
	if a.db, err = store.OpenConfig(ctx, cfg.DB, store.Config{Logger: cfg.Logger}); err != nil {
		return nil, err
	}
	a.metrics.GaugeFunc("tiffin_database_up", "1 while the database answers, 0 while it is known to be unreachable.", func() float64 {
		if a.db.Down() != nil {
			return 0
		}
		return 1
	})
	if err := a.openCopies(ctx); err != nil {
		return nil, err
	}
	a.bus, err = bus.Open(ctx, bus.Config{
		URL: cfg.NATS, StoreDir: filepath.Join(cfg.DataDir, "nats"), Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	relay := bus.NewRelay(a.db, a.bus, cfg.Logger.With("svc", "relay"))
	a.metrics.GaugeFunc("tiffin_outbox_age_seconds", "Age of the oldest unpublished outbox event.", func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		age, err := relay.OutboxAge(ctx)
		if err != nil {
			return -1
		}
		return age.Seconds()
	})
	a.leases = lease.New(a.db, lease.Config{Logger: cfg.Logger, Holder: leaseHolder(a.db)})
	if !cfg.NoRelay {
		a.runners = append(a.runners, runner{"relay", func(ctx context.Context) error {
			return a.leases.Run(ctx, "outbox-relay", relay.Run)
		}})
	}

	a.srv = httpapi.New(httpapi.Config{
		Version: cfg.Version, Keys: a.keys, Metrics: a.metrics, Logger: cfg.Logger, Ready: a.ready,
		Classify: a.db.Classify, ReadTimeout: cfg.ReadTimeout, MetricsApart: cfg.MetricsAddr != "",
		Access: maps.Clone(Access), Limits: a.limits(),
	})
	deadLetters := dlq.New(a.bus, cfg.Logger)
	deadLetters.AuditIn(a.db)
	a.deadLetters = deadLetters
	deadLetters.Register(a.srv)
	customer.New(a.db, customer.Config{}).Register(a.srv)
	if err := a.registerAccounts(); err != nil {
		return nil, err
	}
	if cfg.HomePage {
		web.Home(a.srv.Mux())
	}
	a.metrics.GaugeFunc("tiffin_dead_letters", "Dead letters waiting for an operator, by source (-1: unknown).", func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n, err := deadLetters.Depth(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	}, prometheus.Labels{"source": dlq.SourceBus})
	regions := geo.Regioner{Resolution: cfg.H3Resolution}
	run := func(s string) bool { return slices.Contains(cfg.Services, s) }
	if run("catalog") {
		c := catalog.New(a.db, catalog.Config{Logger: cfg.Logger, Metrics: a.metrics, Regions: regions, Copies: a.copies})
		c.Register(a.srv)
	}
	if run("orders") {
		if a.payments, err = paymentProvider(cfg, a.db); err != nil {
			return nil, err
		}
		a.startInstance(ctx)
		o := order.New(a.db, a.bus, order.Config{
			Logger: cfg.Logger, Metrics: a.metrics, Regions: regions, RestaurantTimeout: cfg.RestaurantTimeout,
			MaxOrderValue: cfg.MaxOrderValue, Payments: a.payments, Lead: a.leases.Run, Copies: a.copies,
			Instance: a.instance, CaptureAt: order.CaptureAt(cfg.CaptureAt), PaymentConcurrency: paymentConcurrency(cfg, a.db),
		})
		o.Register(a.srv)
		a.addDeadLetters(paymentDeadLetters{orders: o})
		a.runners = append(a.runners, runner{"orders", o.Run})
	}
	if run("dispatch") {
		d := dispatch.New(a.db, a.bus, dispatch.Config{
			Logger: cfg.Logger, Metrics: a.metrics, Regions: regions, OfferTTL: cfg.OfferTTL, Lead: a.leases.Run,
			Algorithm: plan.Algorithm(cfg.Dispatch), Round: cfg.DispatchRound, MaxBundle: cfg.MaxBundle, Pace: dispatchPace(cfg),
		})
		d.Register(a.srv)
		a.runners = append(a.runners, runner{"dispatch", d.Run})
	}
	if run("tracking") {
		t := tracking.New(a.db, a.bus, tracking.Config{Logger: cfg.Logger, Metrics: a.metrics, Regions: regions})
		t.Register(a.srv)
		a.runners = append(a.runners, runner{"tracking", t.Run})
	}
	if run("api") {
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("app: listen on %s: %w", cfg.Addr, err)
		}
		perAddr := max(0, cfg.MaxConnsPerAddr)
		if cfg.RateLimits.Off {
			perAddr = 0 // a per-client limit like the others: off with them
		}
		capped := connlimit.Listen(ln, cfg.MaxConns).PerAddress(perAddr, func(a netip.Addr) bool {
			for _, p := range cfg.RateLimits.TrustedProxies {
				if p.Contains(a) {
					return true
				}
			}
			return false
		})
		a.ln = capped
		a.metrics.GaugeFunc("tiffin_http_connections", "Connections open on the HTTP edge (at most --max-conns).", func() float64 {
			return float64(capped.Open())
		})
	}
	if cfg.MetricsAddr != "" {
		if a.metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return nil, fmt.Errorf("app: listen for metrics on %s: %w", cfg.MetricsAddr, err)
		}
	}
	if run("fulfil") || run("notify") {
		q := jobs.New(a.db, jobs.Config{Logger: cfg.Logger})
		working := false
		if run("fulfil") {
			if working, err = a.startFulfil(ctx, q); err != nil {
				return nil, err
			}
			a.registerFakes()
		}
		if run("notify") {
			if err := a.startNotify(q); err != nil {
				return nil, err
			}
			working = true
		}
		if working {
			if err := q.Open(); err != nil {
				return nil, err
			}
			a.runners = append(a.runners, runner{"jobs", q.Run})
		}
	}
	if u := a.srv.Undeclared(); len(u) > 0 {
		return nil, fmt.Errorf("app: routes without a row in app.Access: %v", u)
	}
	return a, nil
}

// validCaptureAt refuses a capture point other than "delivery" and "acceptance".
func validCaptureAt(s string) error {
	switch order.CaptureAt(s) {
	case order.CaptureOnDelivery, order.CaptureOnAcceptance:
		return nil
	}
	return fmt.Errorf("unknown capture point %q (known: %s, %s)", s, order.CaptureOnDelivery, order.CaptureOnAcceptance)
}

// paymentProvider is cfg.Payments, or the provider cfg.PayProvider names. The fake keeps its
// ledger in db, so it outlives the process and replicas on one database share it.
func paymentProvider(cfg Config, db *store.DB) (payment.Provider, error) {
	if cfg.Payments != nil {
		return cfg.Payments, nil
	}
	switch cfg.PayProvider {
	case "fake":
		cfg.Logger.Warn("payments go to the fake provider, a sandbox account in tiffin's database: no money moves")
		return payment.NewFake(db, payment.FakeConfig{
			DeclineRate: cfg.PayDeclineRate, FailureRate: cfg.PayFailureRate, Latency: cfg.PayLatency, Seed: uint64(time.Now().UnixNano()),
		}), nil
	case "stripe":
		s, err := payment.NewStripe(payment.StripeConfig{Key: cfg.StripeKey, URL: cfg.StripeURL, PaymentMethod: cfg.StripePaymentMethod})
		if err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
		cfg.Logger.Info("payments go to Stripe", "url", cmp.Or(cfg.StripeURL, "https://api.stripe.com"))
		return s, nil
	}
	return nil, fmt.Errorf("app: unknown payment provider %q (known: fake, stripe)", cfg.PayProvider)
}

// leaseHolder names this process in the leases table. A SQLite store belongs to one process
// (the embedded NATS server locks the data directory too), so there the name is fixed and a
// restarted process takes its leases back at once instead of waiting for them to expire.
func leaseHolder(db *store.DB) string {
	if db.Dialect() == store.SQLite {
		return "sqlite-local"
	}
	return ""
}

// instanceTTL is the term of a process's liveness lease: the longest a crashed process's
// Idempotency-Key claims stay its own. Shorter than the background leases' 5s so that a client
// retrying every second (Retry-After: 1) is served within 5s of a crash; a renewal (every
// second) costs one small write.
const instanceTTL = 3 * time.Second

// instanceWait bounds how long Run waits for the instance lease before serving anyway.
const instanceWait = 5 * time.Second

// startInstance gives this boot an instance ID (order.Config.Instance) and a runner holding
// its liveness lease, order.InstanceLease(id), for as long as the services run (released on a
// clean stop, left to expire within instanceTTL on a crash): Idempotency-Key claims left
// pending by a process whose lease is gone are taken over by the next retry. It first deletes
// the lease rows of instances gone for over an hour; on SQLite, where one process owns the
// store, every other instance is a previous boot of this one, so all of theirs go at once and
// a restarted process serves retries of its crashed requests without waiting for the TTL.
func (a *App) startInstance(ctx context.Context) {
	a.instance = event.NewID("inst")
	a.alive = make(chan struct{})
	cutoff := time.Now().Add(-time.Hour)
	if a.db.Dialect() == store.SQLite {
		cutoff = time.Now().Add(time.Hour) // beyond any term's end: every row goes
	}
	if n, err := a.leases.Prune(ctx, order.InstanceLease(""), cutoff); err != nil {
		a.logger.Warn("prune the leases of instances gone", "err", err)
	} else if n > 0 {
		a.logger.Debug("pruned the leases of instances gone", "leases", n)
	}
	liveness := lease.New(a.db, lease.Config{Logger: a.logger, Holder: leaseHolder(a.db), TTL: instanceTTL})
	var once sync.Once
	a.runners = append(a.runners, runner{"instance", func(ctx context.Context) error {
		return liveness.Run(ctx, order.InstanceLease(a.instance), func(ctx context.Context) error {
			once.Do(func() { close(a.alive) })
			<-ctx.Done()
			return nil
		})
	}})
}

// DefaultMaxConns is Config.MaxConns's default: well under the 20,000 file descriptors a
// process of ours may usually open, and far above what one process serves well.
const DefaultMaxConns = 4096

// DefaultMaxConnsPerAddr is Config.MaxConnsPerAddr's default: far more than a browser (6 per
// host) or a mobile client keeps, a sixteenth of DefaultMaxConns, so sixteen clients at least
// must join to fill the edge.
const DefaultMaxConnsPerAddr = 256

// MetricsURL is the base URL /metrics is served on when Config.MetricsAddr is set, else "".
func (a *App) MetricsURL() string {
	if a.metricsLn == nil {
		return ""
	}
	return "http://" + a.metricsLn.Addr().String()
}

// URL is the base URL the HTTP edge serves on.
func (a *App) URL() string {
	if a.ln == nil {
		return ""
	}
	return "http://" + a.ln.Addr().String()
}

// Keys is the dev key pair, which signs tokens the app accepts; nil when Config.Auth names the
// keys tokens are verified with.
func (a *App) Keys() *auth.Keys { return a.devKeys }

// Routes lists every route the edge serves ("GET /v1/orders/{id}"), sorted.
func (a *App) Routes() []string { return a.srv.Routes() }

// DB is the app's store.
func (a *App) DB() *store.DB { return a.db }

// Payments is the payment provider the orders service uses (nil when it doesn't run).
func (a *App) Payments() payment.Provider { return a.payments }

// Bus is the app's bus.
func (a *App) Bus() *bus.Bus { return a.bus }

// openCopies sets up where the last copies of what readers asked for are kept: Redis when
// cfg.Redis names one, else this process's memory.
func (a *App) openCopies(ctx context.Context) error {
	if a.cfg.Redis == "" {
		a.copies = cache.NewMemory(cache.MemoryConfig{})
		return nil
	}
	r, err := cache.NewRedis(cache.RedisConfig{URL: a.cfg.Redis, Prefix: a.cfg.RedisPrefix})
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	a.redis, a.copies = r, r
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := r.Ping(pctx); err != nil {
		// Redis down costs reads their fallback, never the service: start anyway.
		a.logger.Warn("redis unreachable: reads have no kept copies to fall back on until it answers", "err", err)
	}
	return nil
}

// limits are the edge's limits: cfg.RateLimits, with buckets in Redis when the app uses one.
func (a *App) limits() httpapi.Limits {
	l := a.cfg.RateLimits
	if a.redis != nil && l.Limiter == nil && !l.Off {
		log := a.logger.With("svc", "api")
		prefix := a.cfg.RedisPrefix
		if prefix == "" {
			prefix = "tiffin:"
		}
		l.Limiter = &ratelimit.Fallback{
			Primary:   ratelimit.NewRedis(a.redis.Client(), prefix+"rl:"),
			Secondary: ratelimit.NewLocal(nil),
			OnError: func(err error) {
				log.Warn("redis unreachable: rate limits counted per process until it answers", "err", err)
			},
		}
	}
	return l
}

// ready reports every dependency that can't serve, each as a fault.Down, database first: the
// database (while it is known down, or when it doesn't answer a ping) and the broker. /readyz
// then says "degraded: database unreachable; broker unreachable" (docs/contract.md).
func (a *App) ready(ctx context.Context) error {
	var errs []error
	if err := a.db.Down(); err != nil {
		errs = append(errs, err)
	} else if err := a.db.PingContext(ctx); err != nil {
		// A database that does not answer a ping can't serve, whatever the error says (a
		// deadline is not a driver's connection error).
		errs = append(errs, &fault.Down{Dependency: store.Dependency, Err: fmt.Errorf("store: ping: %w", err)})
	}
	if err := a.bus.Ready(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Run serves until ctx ends or a part fails, then shuts down in order: the HTTP edge stops
// taking requests, ends event streams and drains the requests in flight (for up to
// ShutdownGrace, then cancels and cuts off the rest); then the services stop, and the bus and
// the store close. It returns the first failure of any part.
func (a *App) Run(ctx context.Context) error {
	defer a.Close()
	// stop ends when ctx does or a part fails; the services run on until the edge has drained,
	// since the requests in flight may need them.
	stop, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	svcCtx, stopServices := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServices()
	var wg sync.WaitGroup
	for _, r := range a.runners {
		wg.Go(func() {
			if err := r.run(svcCtx); err != nil && svcCtx.Err() == nil {
				a.logger.Error("service stopped", "svc", r.name, "err", err)
				fail(fmt.Errorf("%s: %w", r.name, err))
			}
		})
	}
	var hs *http.Server
	// Requests are not cancelled when ctx ends, only when the grace runs out.
	base, cutOff := context.WithCancel(context.WithoutCancel(ctx))
	defer cutOff()
	if a.alive != nil {
		// Until this process's instance lease is held, a retry elsewhere would take its
		// requests' Idempotency-Key claims for a dead process's.
		select {
		case <-a.alive:
		case <-stop.Done():
		case <-time.After(instanceWait):
			a.logger.Warn("serving before this process's instance lease is held: a retry on another replica may take over a request in flight here, which then answers 409", "instance", a.instance)
		}
	}
	if a.ln != nil {
		// No WriteTimeout: event streams write for as long as they run; every other request
		// is bounded by the edge's RequestTimeout.
		hs = &http.Server{
			Handler: a.srv.Handler(), ReadTimeout: a.cfg.ReadTimeout, ReadHeaderTimeout: min(a.cfg.ReadTimeout, 10*time.Second),
			IdleTimeout: 2 * time.Minute, BaseContext: func(net.Listener) context.Context { return base },
		}
		wg.Go(func() {
			if err := hs.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fail(fmt.Errorf("http: %w", err))
			}
		})
		a.logger.Info("tiffin is serving", a.servingAttrs()...)
	}
	var ms *http.Server
	if a.metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.srv.MetricsHandler())
		ms = &http.Server{Handler: mux, ReadTimeout: 10 * time.Second, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
		wg.Go(func() {
			if err := ms.Serve(a.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fail(fmt.Errorf("metrics http: %w", err))
			}
		})
		a.logger.Info("metrics are served apart", "url", a.MetricsURL()+"/metrics")
	}
	if a.cfg.Sim && a.ln != nil {
		s := sim.New(sim.Config{
			BaseURL: a.URL(), Keys: a.devKeys, Speed: a.cfg.SimSpeed, OrdersPerMinute: a.cfg.SimOrdersPerMinute,
			Restaurants: a.cfg.SimRestaurants, Couriers: a.cfg.SimCouriers, Logger: a.logger,
		})
		wg.Go(func() {
			if err := s.Run(stop); err != nil && stop.Err() == nil {
				a.logger.Error("simulator stopped", "err", err)
			}
		})
	}
	<-stop.Done()
	if hs != nil {
		a.drain(hs, cutOff)
	}
	if ms != nil {
		ms.Close() // scrapes are short and nothing waits on them
	}
	stopServices()
	wg.Wait()
	if err := context.Cause(stop); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// drain shuts the HTTP server down: no new connections, event streams ended, requests in flight
// given ShutdownGrace to finish; then cutOff cancels the rest and their connections are closed.
// It never waits longer than the grace: a handler that ignores its context is left behind.
func (a *App) drain(hs *http.Server, cutOff context.CancelFunc) {
	a.srv.EndStreams()
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownGrace)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		a.logger.Warn("requests still running after the shutdown grace: cancelling them", "grace", a.cfg.ShutdownGrace)
		cutOff()
		hs.Close()
	}
}

// Close releases the store and the bus. Run calls it on the way out.
func (a *App) Close() {
	if a.ln != nil {
		a.ln.Close()
	}
	if a.metricsLn != nil {
		a.metricsLn.Close()
	}
	if a.mail != nil {
		a.mail.Close()
		a.mail = nil
	}
	if a.bus != nil {
		a.bus.Close()
		a.bus = nil
	}
	if a.db != nil {
		a.db.Close()
		a.db = nil
	}
	if a.redis != nil {
		a.redis.Close()
		a.redis = nil
	}
	if a.unlock != nil {
		a.unlock()
		a.unlock = nil
	}
}

// SQLitePaymentConcurrency is the default number of payments a process settles at once on
// SQLite. Every payment step writes through SQLite's one writer connection, whose waiters are
// served in random order (database/sql): 256 payment workers there starved checkouts (the
// chaos kill scenario acknowledged 184 orders/s of 210 offered, against 208 with 32), while 64
// still pay 250 orders/s against a provider answering in 250 ms.
const SQLitePaymentConcurrency = 64

// paymentConcurrency is cfg.PaymentConcurrency, or the default for db's engine.
func paymentConcurrency(cfg Config, db *store.DB) int {
	if cfg.PaymentConcurrency > 0 || db.Dialect() != store.SQLite {
		return cfg.PaymentConcurrency // 0: the order service's default
	}
	return SQLitePaymentConcurrency
}

// dispatchPace is how many times faster than the wall clock the city dispatch plans for
// moves: the simulator's speed when it runs in this process (`tiffin dev`), else 1.
func dispatchPace(cfg Config) float64 {
	if cfg.Sim {
		if cfg.SimSpeed > 0 {
			return cfg.SimSpeed
		}
		return sim.DefaultSpeed
	}
	return 1
}
