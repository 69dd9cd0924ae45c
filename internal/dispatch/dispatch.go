// Package dispatch matches orders to couriers: courier shifts and availability, planning
// rounds, offers with expiry, routes of bundled orders, and exactly-one assignment.
//
// Dispatch owns the couriers, deliveries, offers and offer_orders tables. A delivery row is
// created when its order is accepted and moves pending -> offered -> assigned -> picked_up ->
// delivered (or cancelled); a declined, expired or withdrawn offer sends it back to pending.
// Each region's planning loop (one replica at a time, under the region's lease) runs the
// planner (package plan) every Config.Round and when orders or couriers change, and offers
// each due assignment, a route of one or more orders of one restaurant, to ONE courier. A
// courier is off, available, offered (holding one offer) or busy (carrying one route). Every
// move is a compare-and-set in SQL, committed together with the events announcing it, so a
// courier holds at most one offer or route and a delivery is assigned to exactly one courier.
package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/tiffin-dev/tiffin/internal/bus"
	"github.com/tiffin-dev/tiffin/internal/dispatch/plan"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/geo"
	"github.com/tiffin-dev/tiffin/internal/lease"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/telemetry"
)

// Consumer is the durable consumer name dispatch reads order events with, and the name of its
// processed-event records.
const Consumer = "dispatch"

// Config configures the dispatch service. The zero value works.
type Config struct {
	// Logger receives the service's logs. Default: slog.Default().
	Logger *slog.Logger
	// Metrics records offers, consumed events and reconciler moves. Default: a fresh registry.
	Metrics *telemetry.Metrics
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Regions maps courier positions to regions. The zero value uses geo.DefaultResolution.
	Regions geo.Regioner
	// Algorithm is the planner: plan.Optimal (default) or plan.Greedy, the baseline.
	Algorithm plan.Algorithm
	// Round is how often each region's planner runs; it also runs when orders or couriers
	// change. Default 5s.
	Round time.Duration
	// MaxBundle is the most orders of one restaurant one courier carries at once. Default 2.
	MaxBundle int
	// Pace is how many times faster than the wall clock the city moves: 1 in production;
	// `tiffin dev` sets the simulator's speed. Travel, service and prep estimates, the
	// promised click-to-door time and the bundle window are divided by it. Default 1.
	Pace float64
	// Target is the promised click-to-door time (in city time). Default 40 min.
	Target time.Duration
	// PickupService and DropoffService are the minutes a courier spends at the restaurant
	// and at each drop-off (in city time). Default 3 min each.
	PickupService, DropoffService time.Duration
	// PayPerOrder and PayPerKm make a route's pay, in minor units of the orders' currency:
	// PayPerOrder for each order plus PayPerKm per estimated street kilometre from the
	// courier to the restaurant and on to each drop-off. Defaults 300 and 50.
	PayPerOrder, PayPerKm int64
	// GuaranteedPerHour is how many orders an hour a courier's guaranteed minimum pays for:
	// a courier below it costs the planner no pay, so idle couriers are not left to starve.
	// Default 1.5.
	GuaranteedPerHour float64
	// RoundOrders bounds how many waiting orders one round plans, oldest first. Default 2000.
	RoundOrders int
	// OfferTTL is how long a courier has to answer an offer. Default 30s.
	OfferTTL time.Duration
	// DeclineCooldown is how long a courier who declined an order, or let its offer expire, is
	// left out of its planning; after that it may be offered the order again, so that an order
	// every courier nearby turned down once does not wait forever. Default 5 min.
	DeclineCooldown time.Duration
	// SweepInterval is how often the reconciler sweeps each region, and how often it looks for
	// regions with work. Default 1s.
	SweepInterval time.Duration
	// Lead runs fn while this process holds the named lease (lease.Elector.Run), so each
	// region's reconciler (lease LeasePrefix + region) runs in one replica at a time. Default:
	// run fn at once (one process).
	Lead func(ctx context.Context, name string, fn func(context.Context) error) error
	// SearchRadiusM is how far from the pickup, in metres, a courier may be to get an offer.
	// Default 15000.
	SearchRadiusM float64
	// SweepBatch bounds how many rows one reconciler pass handles per step. Default 200.
	SweepBatch int
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = telemetry.NewMetrics()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Algorithm == "" {
		c.Algorithm = plan.Optimal
	}
	if c.Round <= 0 {
		c.Round = 5 * time.Second
	}
	if c.MaxBundle <= 0 {
		c.MaxBundle = 2
	}
	if !(c.Pace > 0) {
		c.Pace = 1
	}
	if c.Target <= 0 {
		c.Target = 40 * time.Minute
	}
	if c.PickupService <= 0 {
		c.PickupService = 3 * time.Minute
	}
	if c.DropoffService <= 0 {
		c.DropoffService = 3 * time.Minute
	}
	if c.PayPerOrder <= 0 {
		c.PayPerOrder = 300
	}
	if c.PayPerKm <= 0 {
		c.PayPerKm = 50
	}
	if !(c.GuaranteedPerHour > 0) {
		c.GuaranteedPerHour = 1.5
	}
	if c.DeclineCooldown <= 0 {
		c.DeclineCooldown = 5 * time.Minute
	}
	if c.RoundOrders <= 0 {
		c.RoundOrders = 2000
	}
	if c.OfferTTL <= 0 {
		c.OfferTTL = 30 * time.Second
	}
	if c.Lead == nil {
		c.Lead = lease.Unshared
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = time.Second
	}
	if c.SearchRadiusM <= 0 {
		c.SearchRadiusM = 15000
	}
	if c.SweepBatch <= 0 {
		c.SweepBatch = 200
	}
	return c
}

// Service is the dispatch service.
type Service struct {
	db  *store.DB
	bus *bus.Bus
	cfg Config
	log *slog.Logger

	// ready is closed once Run has subscribed to courier locations (tests wait on it).
	ready     chan struct{}
	readyOnce sync.Once

	mu        sync.Mutex
	positions map[string]fix           // courier ID -> last known position from the location stream
	pokes     map[string]chan struct{} // region -> its planning loop's wake-up, while it runs
	newWork   chan struct{}            // a region without a loop here has work: read the regions now
	planners  map[string]*regionPlanner
}

// regionPlanner is one region's planner: plan.Planner keeps scratch space between rounds and
// is not safe for concurrent use, so a round holds mu.
type regionPlanner struct {
	mu sync.Mutex
	pl *plan.Planner
}

// fix is a courier position and when it was taken.
type fix struct {
	at  time.Time
	pos geo.LatLng
}

// New returns the dispatch service on db and b.
func New(db *store.DB, b *bus.Bus, cfg Config) *Service {
	cfg = cfg.withDefaults()
	return &Service{
		db:        db,
		bus:       b,
		cfg:       cfg,
		log:       cfg.Logger.With("svc", "dispatch"),
		ready:     make(chan struct{}),
		positions: make(map[string]fix),
		pokes:     make(map[string]chan struct{}),
		newWork:   make(chan struct{}, 1),
		planners:  make(map[string]*regionPlanner),
	}
}

// Run consumes order events (for the whole city), follows courier locations and reconciles
// deliveries (region by region, each under its own lease) until ctx ends. It returns nil when
// ctx ends and an error if a part of it fails for good.
func (s *Service) Run(ctx context.Context) error {
	unsubscribe, err := s.bus.Subscribe(event.SubjectAll(event.CourierLocation), s.onLocation)
	if err != nil {
		return err
	}
	defer unsubscribe()
	// Make sure the server has the subscription before going on; while the broker is away it
	// is registered when the connection comes back.
	if nc := s.bus.Conn(); nc.IsConnected() {
		if err := nc.Flush(); err != nil && nc.IsConnected() {
			return err
		}
	}
	s.readyOnce.Do(func() { close(s.ready) })

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() {
		subjects := []string{
			event.SubjectAll(event.OrderAccepted),
			event.SubjectAll(event.OrderReady),
			event.SubjectAll(event.OrderCancelled),
			event.SubjectAll(event.OrderPickedUp),
			event.SubjectAll(event.OrderDelivered),
		}
		errc <- s.bus.Consume(ctx, Consumer, subjects, s.handle)
	}()
	go func() { errc <- s.reconcileRegions(ctx) }()
	var first error
	for range 2 {
		err := <-errc
		if err != nil && ctx.Err() == nil && first == nil {
			first = err
		}
		cancel()
	}
	return first
}

// onLocation records a courier.location fix published on core NATS.
func (s *Service) onLocation(_ string, data []byte) {
	var l event.Location
	if err := json.Unmarshal(data, &l); err != nil || l.CourierID == "" {
		return
	}
	p := geo.LatLng{Lat: l.Lat, Lng: l.Lng}
	if !p.Valid() {
		return
	}
	s.setPosition(l.CourierID, p, l.At)
}

func (s *Service) setPosition(courierID string, p geo.LatLng, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.positions[courierID]; ok && old.at.After(at) {
		return
	}
	s.positions[courierID] = fix{at: at, pos: p}
}

// position returns the courier's last known position from the location stream.
func (s *Service) position(courierID string) (geo.LatLng, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.positions[courierID]
	return f.pos, ok
}

// errSkip rolls back a transaction whose compare-and-set lost a race; nothing is wrong.
var errSkip = errors.New("dispatch: lost a race, skipped")
