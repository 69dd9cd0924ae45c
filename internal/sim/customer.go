package sim

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
)

// Customer behaviour.
const (
	nearbyRadiusM = 3000            // customers prefer restaurants this close to home
	nearbyTTL     = 5 * time.Minute // how long a customer remembers what is nearby
	placeParallel = 32              // orders being placed at once; arrivals beyond are dropped
	maxLines      = 3               // distinct items per order
	maxQuantity   = 2               // of each item
)

// nextArrival draws the wait until the next order of a Poisson process with perMinute
// arrivals a minute: exponentially distributed with mean 1/rate.
func nextArrival(rng *rand.Rand, perMinute float64) time.Duration {
	if !(perMinute > 0) {
		return time.Duration(1<<63 - 1)
	}
	secs := rng.ExpFloat64() * 60 / perMinute
	return time.Duration(min(secs, 1e9) * float64(time.Second))
}

// runCustomers lets random customers place orders at Poisson arrivals until ctx ends.
func (s *Sim) runCustomers(ctx context.Context, live []simRestaurant, rng *rand.Rand) {
	if len(s.world.customers) == 0 || len(live) == 0 {
		return
	}
	byID := make(map[string]simRestaurant, len(live))
	for _, r := range live {
		byID[r.ID] = r
	}
	sem := make(chan struct{}, placeParallel)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		if sleep(ctx, nextArrival(rng, s.cfg.OrdersPerMinute)) != nil {
			return
		}
		ci := rng.IntN(len(s.world.customers))
		orng := rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())) // #nosec G404 -- the simulator's seeded, reproducible randomness; no secret
		select {
		case sem <- struct{}{}:
		default:
			s.log.Debug("too many orders being placed; dropping an arrival")
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			s.placeOrder(ctx, ci, live, byID, orng)
		})
	}
}

// placeOrder is one customer's order: pick a restaurant near home, read its menu, pick a few
// items and check out with a fresh Idempotency-Key (kept across retries).
func (s *Sim) placeOrder(ctx context.Context, ci int, live []simRestaurant, byID map[string]simRestaurant, rng *rand.Rand) {
	c := s.world.customers[ci]
	var choices []string
	for _, id := range s.nearbyFor(ctx, ci) {
		if _, ok := byID[id]; ok {
			choices = append(choices, id)
		}
	}
	rid := ""
	if len(choices) > 0 {
		rid = choices[rng.IntN(len(choices))]
	} else {
		rid = live[rng.IntN(len(live))].ID
	}
	menu, ok := s.menu(ctx, rid)
	if !ok {
		return
	}
	lines := pickItems(rng, menu)
	if len(lines) == 0 {
		s.log.Debug("nothing orderable", "restaurant", rid)
		return
	}
	me := auth.Principal{Subject: c.ID, Role: auth.Customer}
	body := placeBody{RestaurantID: rid, Items: lines, Delivery: pointOf(c.Home)}
	r, err := s.as(ctx, me, http.MethodPost, "/v1/orders", body, nil)
	if err != nil || !r.ok() {
		if err == nil && (r.Status == http.StatusConflict || r.Status == http.StatusUnprocessableEntity) {
			s.menus.forget(rid) // likely sold out since we read the menu
		}
		s.trouble(ctx, "place order", r, err, "customer", c.ID, "restaurant", rid)
		return
	}
	s.stats.placed.Add(1)
	o, derr := decodeOrder(r.Body)
	if derr != nil {
		s.trouble(ctx, "place order", r, derr, "customer", c.ID)
		return
	}
	s.ledger.placed(o.ID, c.ID, time.Now())
	if terminal(o.Status) {
		s.finish(o.ID, o.Status)
	}
	s.log.Debug("order placed", "order", o.ID, "customer", c.ID, "restaurant", rid, "status", o.Status)
}

// pickItems chooses 1 to maxLines orderable items, 1 to maxQuantity of each (within stock).
func pickItems(rng *rand.Rand, menu []menuItem) []placeItem {
	var avail []menuItem
	var most []int64
	for _, it := range menu {
		if ok, n := it.orderable(); ok {
			avail = append(avail, it)
			most = append(most, n)
		}
	}
	if len(avail) == 0 {
		return nil
	}
	n := 1 + rng.IntN(min(maxLines, len(avail)))
	lines := make([]placeItem, 0, n)
	for _, i := range rng.Perm(len(avail))[:n] {
		q := int64(1 + rng.IntN(maxQuantity))
		lines = append(lines, placeItem{MenuItemID: avail[i].ID, Quantity: int(min(q, most[i]))})
	}
	return lines
}

// nearbyFor returns the ids of restaurants within nearbyRadiusM of customer ci's home,
// nearest first, remembered for nearbyTTL.
func (s *Sim) nearbyFor(ctx context.Context, ci int) []string {
	if ids, ok := s.nearby.get(ci, time.Now()); ok {
		return ids
	}
	home := s.world.customers[ci].Home
	q := url.Values{
		"lat":      {strconv.FormatFloat(home.Lat, 'f', 6, 64)},
		"lng":      {strconv.FormatFloat(home.Lng, 'f', 6, 64)},
		"radius_m": {strconv.Itoa(nearbyRadiusM)},
		"limit":    {"50"},
	}
	r, err := s.api.call(ctx, "", http.MethodGet, "/v1/restaurants?"+q.Encode(), nil, nil)
	if err != nil || !r.ok() {
		s.trouble(ctx, "nearby restaurants", r, err)
		return nil
	}
	list, _, derr := decodeList[restaurantSummary](r.Body, "restaurants")
	if derr != nil {
		s.trouble(ctx, "nearby restaurants", r, derr)
		return nil
	}
	ids := make([]string, 0, len(list))
	for _, x := range list {
		if x.ID != "" {
			ids = append(ids, x.ID)
		}
	}
	s.nearby.put(ci, ids, time.Now())
	return ids
}

type nearbyCache struct {
	mu sync.Mutex
	m  map[int]nearbyEntry
}

type nearbyEntry struct {
	ids []string
	at  time.Time
}

func (c *nearbyCache) get(ci int, now time.Time) ([]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[ci]
	return e.ids, ok && now.Sub(e.at) < nearbyTTL
}

func (c *nearbyCache) put(ci int, ids []string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[ci] = nearbyEntry{ids: ids, at: now}
}

// menu reads a restaurant's menu, revalidating the cached copy with If-None-Match.
func (s *Sim) menu(ctx context.Context, rid string) ([]menuItem, bool) {
	cached, have := s.menus.get(rid)
	var hdr http.Header
	if have && cached.etag != "" {
		hdr = http.Header{"If-None-Match": {cached.etag}}
	}
	r, err := s.api.call(ctx, "", http.MethodGet, "/v1/restaurants/"+url.PathEscape(rid)+"/menu", nil, hdr)
	switch {
	case err == nil && r.Status == http.StatusNotModified && have:
		return cached.items, true
	case err == nil && r.ok():
		items, derr := decodeMenu(r.Body)
		if derr != nil {
			s.trouble(ctx, "get menu", r, derr, "restaurant", rid)
			return nil, false
		}
		s.menus.put(rid, menuEntry{etag: r.Header.Get("ETag"), items: items})
		return items, true
	}
	s.trouble(ctx, "get menu", r, err, "restaurant", rid)
	return nil, false
}

type menuCache struct {
	mu sync.Mutex
	m  map[string]menuEntry
}

type menuEntry struct {
	etag  string
	items []menuItem
}

func (c *menuCache) get(rid string) (menuEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[rid]
	return e, ok
}

func (c *menuCache) put(rid string, e menuEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[rid] = e
}

func (c *menuCache) forget(rid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, rid)
}
