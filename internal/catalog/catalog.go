// Package catalog owns restaurants, their menus and item stock, nearby search and the menu cache.
// While the store can't be reached, menus, restaurants and restaurant lists are answered from
// the last copy read (marked Stale); writes fail with a fault.Down.
//
// Other services read the restaurants and menu_items tables themselves; catalog exports no read
// helpers for them. Whoever changes menu_items outside this package (stock taken by orders, say)
// must bump restaurants.menu_version in the same transaction so menu ETags stay truthful.
package catalog

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/cache"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/geo"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/telemetry"
)

// Errors callers branch on. Their messages are what clients are told.
var (
	ErrRestaurantNotFound = fault.New(fault.NotFound, "restaurant not found")
	ErrItemNotFound       = fault.New(fault.NotFound, "menu item not found")
	// ErrNotOwner is a restaurant principal writing a restaurant it does not own.
	ErrNotOwner = fault.New(fault.Forbidden, "the restaurant belongs to another owner")
	// ErrConcurrentWrite is a write that lost a race with another writer; retrying is safe.
	ErrConcurrentWrite = fault.New(fault.Conflict, "the restaurant changed concurrently, retry")
)

// Config configures the catalog. The zero value works.
type Config struct {
	// Logger is tagged svc=catalog. Default: slog.Default().
	Logger *slog.Logger
	// Metrics receives the menu cache hit/miss counter. Default: a fresh registry.
	Metrics *telemetry.Metrics
	// Now is the clock for open hours, timestamps and cache expiry. Default: time.Now.
	Now func() time.Time
	// Regions assigns each restaurant its region. The zero value uses geo.DefaultResolution.
	Regions geo.Regioner
	// Currency is the currency menus are priced in. Default "INR".
	Currency string
	// MenuCacheTTL bounds how long a menu is served from memory. Writes through this Service
	// invalidate at once; the TTL bounds staleness from writes made by other instances.
	// Default 5s; negative disables the cache.
	MenuCacheTTL time.Duration
	// Copies keeps the last menus, restaurants and restaurant lists read from the store, to
	// answer from, marked stale, while the store can't be reached. Default: a cache.Memory of
	// the service's own.
	Copies cache.Backend
}

// Service is the catalog: restaurants, menus and the menu cache.
type Service struct {
	db       *store.DB
	logger   *slog.Logger
	now      func() time.Time
	regions  geo.Regioner
	currency string
	cache    *menuCache
	copies   *cache.Copies
}

// New returns a catalog service over db.
func New(db *store.DB, cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = telemetry.NewMetrics()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Currency == "" {
		cfg.Currency = "INR"
	}
	if cfg.MenuCacheTTL == 0 {
		cfg.MenuCacheTTL = 5 * time.Second
	}
	if cfg.Copies == nil {
		cfg.Copies = cache.NewMemory(cache.MemoryConfig{})
	}
	return &Service{
		db:       db,
		logger:   cfg.Logger.With("svc", "catalog"),
		now:      cfg.Now,
		regions:  cfg.Regions,
		currency: cfg.Currency,
		cache:    newMenuCache(cfg.MenuCacheTTL, cacheCounter(cfg.Metrics)),
		copies: cache.New(cfg.Copies, cache.Config{
			Fallback: store.Unreachable, Stale: cfg.Metrics.StaleReads, Logger: cfg.Logger,
		}),
	}
}

// cacheCounter registers the menu cache counter on m, reusing it when another Service on the
// same registry registered it first.
func cacheCounter(m *telemetry.Metrics) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tiffin_menu_cache_total", Help: "Menu reads by cache result (hit, miss).",
	}, []string{"result"})
	if err := m.Registry.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing
			}
		}
		// Registration failed for another reason: count into an unregistered vector.
	}
	return c
}

// mayWrite reports whether p's role may write catalog data at all.
func mayWrite(p auth.Principal) error {
	if p.Is(auth.Restaurant, auth.Ops) {
		return nil
	}
	return fault.Errorf(fault.Forbidden, "role %q may not edit restaurants", p.Role)
}

// canWrite reports whether p may write a restaurant owned by owner: ops may write any, a
// restaurant principal only its own.
func canWrite(p auth.Principal, owner string) error {
	if err := mayWrite(p); err != nil {
		return err
	}
	if p.Role == auth.Restaurant && owner != p.Subject {
		return ErrNotOwner
	}
	return nil
}
