// Package dispatch matches orders to couriers: courier shifts and availability, offers with
// expiry, and exactly-one assignment.
//
// Dispatch owns the couriers and deliveries tables. A delivery row is created when its order
// is accepted and moves pending -> offered -> assigned -> picked_up -> delivered (or
// cancelled); a declined or expired offer sends it back to pending. A courier is off, available,
// offered (holding one offer) or busy (carrying one delivery). Every move is a compare-and-set
// in SQL, committed together with the event announcing it, so a courier holds at most one offer
// or delivery and a delivery is assigned to exactly one courier.
package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/tiffin-dev/tiffin/internal/bus"
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
	// Matcher chooses the courier for each offer. Default Nearest{}.
	Matcher Matcher
	// OfferTTL is how long a courier has to answer an offer. Default 30s.
	OfferTTL time.Duration
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
	if c.Matcher == nil {
		c.Matcher = Nearest{}
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
	positions map[string]fix // courier ID -> last known position from the location stream
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
