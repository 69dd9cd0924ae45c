package order

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/tiffin-dev/tiffin/internal/bus"
	"github.com/tiffin-dev/tiffin/internal/cache"
	"github.com/tiffin-dev/tiffin/internal/geo"
	"github.com/tiffin-dev/tiffin/internal/lease"
	"github.com/tiffin-dev/tiffin/internal/payment"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/telemetry"
)

// Config tunes the order service. The zero value works.
type Config struct {
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics defaults to a private registry.
	Metrics *telemetry.Metrics
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Regions assigns orders to regions. Default H3 resolution 5.
	Regions geo.Regioner
	// Payments is the payment provider. Default: a payment.Fake that always succeeds, its
	// ledger kept in the service's store.
	Payments payment.Provider
	// CaptureAt is when an authorized payment is captured. Default CaptureOnDelivery.
	CaptureAt CaptureAt
	// PaymentCallTimeout bounds one provider call. Default 10s.
	PaymentCallTimeout time.Duration
	// PaymentClaimTimeout is how long a claimed provider call is left to its claimer before
	// another process may take it over (resuming it under its key). It must exceed
	// PaymentCallTimeout. Default 30s.
	PaymentClaimTimeout time.Duration
	// PaymentRetryBase and PaymentRetryMax bound the backoff between attempts of a call whose
	// outcome was unknown: base after the first, doubling, capped at max. Default 1s and 30s:
	// a provider that recovers sees every waiting payment again within 30 s (with a 1 m cap the
	// chaos payments drain on PostgreSQL took 71 s), and a provider down for hours gets one
	// call per waiting payment per 30 s.
	PaymentRetryBase, PaymentRetryMax time.Duration
	// PaymentDeadAfter is how long a payment call may keep failing with unknown outcomes
	// before the saga stops retrying and leaves it as a dead letter for ops. A call the
	// provider refuses as invalid is a dead letter at once. Default 24h.
	PaymentDeadAfter time.Duration
	// PaymentKeyTTL is how long the provider is trusted to keep an idempotency key. A call
	// whose outcome is unknown and which the provider's lookup cannot resolve is repeated
	// under its key only while the key is younger than this (a repeat after the provider
	// forgot the key could act twice); an older one becomes a dead letter for ops to check at
	// the provider. Default 23h (Stripe keeps keys at least 24 hours).
	PaymentKeyTTL time.Duration
	// PaymentConcurrency is how many payments a process settles at once (events, and due
	// payments the sweep takes up). Provider calls wait on the network and hold no database
	// connection, so throughput is this divided by the provider's latency: Stripe answers in
	// hundreds of ms, a struggling provider hangs calls until PaymentCallTimeout, and 32 paid
	// fewer than 130 orders/s per replica against a 250 ms provider. Default 256.
	PaymentConcurrency int
	// Currency of every price. Default "INR".
	Currency string
	// DeliveryFee in minor units added to every order. Default 3000.
	DeliveryFee int64
	// MaxOrderValue caps an order's total, delivery included, in minor units; checkout refuses
	// more with a 422 naming body.items. Default 10,000,000 (100,000.00 INR).
	MaxOrderValue int64
	// MaxDeliveryM is the farthest drop-off from the restaurant. Default 15 km.
	MaxDeliveryM float64
	// PaymentRetryAfter is how long a placed order's payment waits for its order.placed event
	// before the sweep starts it anyway. Default 10s.
	PaymentRetryAfter time.Duration
	// PaymentGiveUp fails an order still unpaid this long after placement. Default 10m.
	PaymentGiveUp time.Duration
	// RestaurantTimeout cancels and refunds a paid order no restaurant accepted in time; the
	// order is escalated (logged, counted) at half of it. Default 5m.
	RestaurantTimeout time.Duration
	// SweepInterval is how often the reconciler runs. Default 1s.
	SweepInterval time.Duration
	// Lead runs fn while this process holds the named lease (lease.Elector.Run), so the
	// reconciler runs in one replica at a time. Default: run fn at once (one process).
	Lead func(ctx context.Context, name string, fn func(context.Context) error) error
	// IdempotencyStale is when a pending Idempotency-Key claim may be taken over by a retry
	// whatever its process. Default 30s.
	IdempotencyStale time.Duration
	// Instance is this process's ID for this boot (random, never reused), recorded with every
	// Idempotency-Key claim it makes. The process must hold the lease InstanceLease(Instance)
	// (lease.Elector.Run) before it serves and while it runs: a pending claim whose instance
	// holds no live lease was left by a process that died (or stopped), and a retry takes it
	// over at once instead of after IdempotencyStale. Default "": claims name no instance and
	// are taken over only after IdempotencyStale.
	Instance string
	// Copies keeps the last copy of every order read or placed, for Get to answer from
	// (marked stale) while the store can't be reached. Default: a cache.Memory of the
	// service's own.
	Copies cache.Backend
}

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = telemetry.NewMetrics()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	// The store keeps milliseconds: a clock of the same precision makes what a write answers
	// equal to what a later read returns, and the events agree with both.
	clock := c.Now
	c.Now = func() time.Time { return clock().UTC().Truncate(time.Millisecond) }
	if c.CaptureAt == "" {
		c.CaptureAt = CaptureOnDelivery
	}
	if c.PaymentCallTimeout == 0 {
		c.PaymentCallTimeout = 10 * time.Second
	}
	if c.PaymentClaimTimeout <= c.PaymentCallTimeout {
		c.PaymentClaimTimeout = 3 * c.PaymentCallTimeout
	}
	if c.PaymentRetryBase == 0 {
		c.PaymentRetryBase = time.Second
	}
	if c.PaymentRetryMax == 0 {
		c.PaymentRetryMax = 30 * time.Second
	}
	if c.PaymentDeadAfter == 0 {
		c.PaymentDeadAfter = 24 * time.Hour
	}
	if c.PaymentConcurrency <= 0 {
		c.PaymentConcurrency = 256
	}
	if c.PaymentKeyTTL == 0 {
		c.PaymentKeyTTL = 23 * time.Hour
	}
	if c.Currency == "" {
		c.Currency = "INR"
	}
	if c.DeliveryFee == 0 {
		c.DeliveryFee = 3000
	}
	if c.MaxOrderValue <= 0 {
		c.MaxOrderValue = 10_000_000
	}
	if c.MaxDeliveryM == 0 {
		c.MaxDeliveryM = 15000
	}
	if c.PaymentRetryAfter == 0 {
		c.PaymentRetryAfter = 10 * time.Second
	}
	if c.PaymentGiveUp == 0 {
		c.PaymentGiveUp = 10 * time.Minute
	}
	if c.RestaurantTimeout == 0 {
		c.RestaurantTimeout = 5 * time.Minute
	}
	if c.Lead == nil {
		c.Lead = lease.Unshared
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = time.Second
	}
	if c.IdempotencyStale == 0 {
		c.IdempotencyStale = 30 * time.Second
	}
	if c.Copies == nil {
		c.Copies = cache.NewMemory(cache.MemoryConfig{})
	}
}

// Service runs checkout and the order lifecycle.
type Service struct {
	db     *store.DB
	bus    *bus.Bus
	cfg    Config
	logger *slog.Logger
	copies *cache.Copies

	mu        sync.Mutex
	escalated map[string]bool
	unclaimed map[claim]bool  // Idempotency-Key claims to release once the store answers
	settling  map[string]bool // payments the sweep is settling now, by order ID
	settlers  sync.WaitGroup  // the sweep's settling goroutines
}

// New returns the order service. b may be nil in tests that drive payments by hand.
func New(db *store.DB, b *bus.Bus, cfg Config) *Service {
	cfg.defaults()
	if cfg.Payments == nil {
		cfg.Payments = payment.NewFake(db, payment.FakeConfig{})
	}
	return &Service{
		db: db, bus: b, cfg: cfg, logger: cfg.Logger.With("svc", "orders"), escalated: map[string]bool{},
		copies: cache.New(cfg.Copies, cache.Config{
			Fallback: store.Unreachable, Stale: cfg.Metrics.StaleReads, Logger: cfg.Logger,
		}),
		unclaimed: map[claim]bool{}, settling: map[string]bool{},
	}
}
