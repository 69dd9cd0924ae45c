package catalog

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// maxCachedMenus bounds the cache; past it, expired menus are dropped, then all of them.
const maxCachedMenus = 10_000

// menuCache holds menus by restaurant ID for a TTL. Writes invalidate their restaurant's
// entry after commit. A read that started before an invalidation must not store what it read
// afterwards (it may predate the write), so every invalidation bumps a generation and put
// refuses values loaded under an older one.
type menuCache struct {
	ttl     time.Duration
	results *prometheus.CounterVec

	mu      sync.Mutex
	gen     uint64
	entries map[string]cachedMenu
}

type cachedMenu struct {
	menu    Menu
	expires time.Time
}

func newMenuCache(ttl time.Duration, results *prometheus.CounterVec) *menuCache {
	return &menuCache{ttl: ttl, results: results, entries: map[string]cachedMenu{}}
}

// get returns a copy of the fresh menu for id, if there is one.
func (c *menuCache) get(id string, now time.Time) (Menu, bool) {
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if !ok || !now.Before(e.expires) {
		c.results.WithLabelValues("miss").Inc()
		return Menu{}, false
	}
	c.results.WithLabelValues("hit").Inc()
	return cloneMenu(e.menu), true
}

// generation is read before loading a menu and handed to put.
func (c *menuCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put stores a copy of m for id unless an invalidation happened since gen was read.
func (c *menuCache) put(id string, m Menu, gen uint64, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	m = cloneMenu(m)
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.entries) >= maxCachedMenus {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxCachedMenus {
			clear(c.entries)
		}
	}
	c.entries[id] = cachedMenu{menu: m, expires: now.Add(c.ttl)}
}

// invalidate drops id's menu and fences off loads that started before now.
func (c *menuCache) invalidate(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.entries, id)
}

// cloneMenu copies m deeply enough that callers can't change what the cache holds.
func cloneMenu(m Menu) Menu {
	items := make([]Item, len(m.Items))
	for i, it := range m.Items {
		if it.Stock != nil {
			v := *it.Stock
			it.Stock = &v
		}
		items[i] = it
	}
	m.Items = items
	return m
}
