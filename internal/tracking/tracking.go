// Package tracking ingests courier GPS, keeps last known positions in memory and streams an
// order's status and its courier's position to watchers over SSE.
//
// Fixes arrive over HTTP and travel on core NATS as courier.location; they never touch SQL.
// Every replica follows the location stream and the order and delivery events, so a watcher
// connected anywhere sees a courier reporting anywhere. A courier's position reaches a
// watcher only while that courier carries the watched order.
//
// Statuses converge on the store: the order and delivery events are followed from the event
// stream (which replays what a dropped connection missed), and each stream also reads its
// order's row when it opens and every StatusPoll, so a lost event, a stopped relay or a broker
// outage delays a status by seconds and never loses it. Each status event's id is the order's
// version, so a watcher sees each status once, never an older one after a newer, and a client
// that reconnects with Last-Event-ID resumes where it was.
package tracking

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/tiffin-dev/tiffin/internal/bus"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/geo"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/telemetry"
)

// Config configures the tracking service. The zero value works.
type Config struct {
	// Logger receives the service's logs. Default: slog.Default().
	Logger *slog.Logger
	// Metrics records ingested fixes. Default: a fresh registry.
	Metrics *telemetry.Metrics
	// Now is the clock; fixes without a time are stamped with it. Default time.Now.
	Now func() time.Time
	// Regions maps fixes to the region whose subject they are published on. The zero value uses
	// geo.DefaultResolution.
	Regions geo.Regioner
	// MaxFixesPerRequest bounds the fixes in one POST /v1/courier/locations. Default 100.
	MaxFixesPerRequest int
	// Heartbeat is how often an idle event stream gets a comment line. Default 15s.
	Heartbeat time.Duration
	// StatusPoll is how often an open event stream re-reads its order's status (one row) from
	// the store, bounding how late a status whose event was lost can be. Default 2s.
	StatusPoll time.Duration
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
	if c.MaxFixesPerRequest <= 0 {
		c.MaxFixesPerRequest = 100
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 15 * time.Second
	}
	if c.StatusPoll <= 0 {
		c.StatusPoll = 2 * time.Second
	}
	return c
}

// Service is the tracking service.
type Service struct {
	db  *store.DB
	bus *bus.Bus
	cfg Config
	log *slog.Logger
	hub *hub

	// ready is closed once Run follows the bus (tests wait on it).
	ready     chan struct{}
	readyOnce sync.Once

	mu        sync.Mutex
	positions map[string]event.Location // courier ID -> last known fix
}

// New returns the tracking service on db and b.
func New(db *store.DB, b *bus.Bus, cfg Config) *Service {
	cfg = cfg.withDefaults()
	return &Service{
		db:        db,
		bus:       b,
		cfg:       cfg,
		log:       cfg.Logger.With("svc", "tracking"),
		hub:       newHub(),
		ready:     make(chan struct{}),
		positions: make(map[string]event.Location),
	}
}

// Run follows courier locations on core NATS, and order and delivery events from the event
// stream, feeding positions and watchers, until ctx ends; then it returns nil. While the event
// stream can't be followed it tries again every second, and watchers get statuses from the
// store meanwhile.
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
	stop := s.follow(ctx)
	if stop == nil {
		return nil
	}
	defer stop()
	s.readyOnce.Do(func() { close(s.ready) })
	<-ctx.Done()
	return nil
}

// follow starts following order events and delivery.assigned from the event stream, trying
// again every second until it works; it returns nil only when ctx ends first.
func (s *Service) follow(ctx context.Context) (stop func()) {
	subjects := []string{event.Prefix + ".*.order.>", event.SubjectAll(event.DeliveryAssigned)}
	for {
		stop, err := s.bus.Follow(ctx, subjects, s.onEvent)
		if err == nil {
			return stop
		}
		if ctx.Err() != nil {
			return nil
		}
		s.log.WarnContext(ctx, "follow order events; watchers read the store meanwhile", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (s *Service) onLocation(_ string, data []byte) {
	var l event.Location
	if err := json.Unmarshal(data, &l); err != nil || l.CourierID == "" || !(geo.LatLng{Lat: l.Lat, Lng: l.Lng}).Valid() {
		return
	}
	if s.remember(l) {
		s.hub.location(l)
	}
}

// onEvent takes an event from the stream: order events move watchers, delivery.assigned tells
// who carries an order.
func (s *Service) onEvent(e event.Envelope) {
	switch {
	case e.Type == event.DeliveryAssigned:
		s.onAssigned(e)
	case strings.HasPrefix(string(e.Type), "order."):
		s.onOrder(e)
	}
}

func (s *Service) onOrder(e event.Envelope) {
	var o event.Order
	if err := e.Payload(&o); err != nil || o.OrderID == "" || o.Status == "" {
		return
	}
	at := o.At
	if at.IsZero() {
		at = e.Time
	}
	s.hub.status(o.OrderID, o.Status, o.OrderVersion, at)
}

func (s *Service) onAssigned(e event.Envelope) {
	var d event.Delivery
	if err := e.Payload(&d); err != nil || d.OrderID == "" || d.CourierID == "" {
		return
	}
	s.hub.carry(d.OrderID, d.CourierID)
	if l, ok := s.position(d.CourierID); ok {
		s.hub.location(l)
	}
}

// remember keeps l as its courier's last known position unless a newer one is known. It
// reports whether l is now the latest.
func (s *Service) remember(l event.Location) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.positions[l.CourierID]; ok && old.At.After(l.At) {
		return false
	}
	s.positions[l.CourierID] = l
	return true
}

// position returns the courier's last known position.
func (s *Service) position(courierID string) (event.Location, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.positions[courierID]
	return l, ok
}
