// Package cache keeps the last good copy of what readers asked for (menus, restaurant lists,
// orders), so those reads can still be answered, marked stale, while the store can't be
// reached. Copies are kept in process memory (Memory, bounded) or in Redis (Redis, shared by
// every replica); Copies reads through to the store and falls back on them.
package cache

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Copy is one kept value: the JSON of what was read, the version it was read at (a copy is
// never replaced by one of an older version) and when it was kept.
type Copy struct {
	Version int64
	Kept    time.Time
	Value   []byte
}

// Backend keeps copies by key: Memory or Redis.
type Backend interface {
	// Get returns the copy kept under key, if there is one.
	Get(ctx context.Context, key string) (Copy, bool, error)
	// Put keeps c under key unless a copy of a newer version is kept there already.
	Put(ctx context.Context, key string, c Copy) error
}

// Config configures Copies. The zero value works apart from Fallback.
type Config struct {
	// Fallback reports whether a failed read may be answered from the last copy (the store
	// could not be reached); other errors, such as not found, are returned as they are.
	Fallback func(error) bool
	// Timeout bounds each call to the backend. Default 250ms.
	Timeout time.Duration
	// Stale counts reads answered from a copy, by what (the key up to its first colon).
	// Default: not counted.
	Stale *prometheus.CounterVec
	// Logger gets the backend's failures, which never fail a read. Default slog.Default().
	Logger *slog.Logger
}

// Copies reads through to a loader and keeps what it loads in a Backend, to answer from
// when a later load fails in a way Config.Fallback accepts.
type Copies struct {
	backend Backend
	cfg     Config
	logger  *slog.Logger
}

// New returns Copies over b.
func New(b Backend, cfg Config) *Copies {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 250 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Fallback == nil {
		cfg.Fallback = func(error) bool { return false }
	}
	return &Copies{backend: b, cfg: cfg, logger: cfg.Logger.With("svc", "cache")}
}

// Read returns what load returns (its value and that value's version), keeping it under key.
// When load fails with an error Config.Fallback accepts and a copy is kept, Read returns the
// copy instead, with stale true; without a copy it returns load's error.
func Read[T any](ctx context.Context, c *Copies, key string, load func(ctx context.Context) (T, int64, error)) (v T, stale bool, err error) {
	v, version, err := load(ctx)
	if err == nil {
		c.Keep(ctx, key, version, v)
		return v, false, nil
	}
	if !c.cfg.Fallback(err) {
		return v, false, err
	}
	cp, ok := c.get(ctx, key)
	if !ok {
		return v, false, err
	}
	var kept T
	if jerr := json.Unmarshal(cp.Value, &kept); jerr != nil {
		c.logger.WarnContext(ctx, "undecodable copy", "key", key, "err", jerr)
		return v, false, err
	}
	if c.cfg.Stale != nil {
		what, _, _ := strings.Cut(key, ":")
		c.cfg.Stale.WithLabelValues(what).Inc()
	}
	return kept, true, nil
}

// Keep keeps v as key's copy at version. Failures are logged, never returned: a copy is a
// convenience for later, not part of the read that made it.
func (c *Copies) Keep(ctx context.Context, key string, version int64, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		c.logger.WarnContext(ctx, "encode copy", "key", key, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.Timeout)
	defer cancel()
	if err := c.backend.Put(ctx, key, Copy{Version: version, Kept: time.Now(), Value: b}); err != nil {
		c.logger.WarnContext(ctx, "keep copy", "key", key, "err", err)
	}
}

func (c *Copies) get(ctx context.Context, key string) (Copy, bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.Timeout)
	defer cancel()
	cp, ok, err := c.backend.Get(ctx, key)
	if err != nil {
		c.logger.WarnContext(ctx, "read copy", "key", key, "err", err)
		return Copy{}, false
	}
	return cp, ok
}

// errTooLarge is a copy larger than a Memory backend's whole budget.
var errTooLarge = errors.New("cache: copy larger than the budget")
