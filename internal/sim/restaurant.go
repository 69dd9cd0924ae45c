package sim

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
)

// Restaurant behaviour.
const (
	rejectRate   = 0.01             // share of paid orders a kitchen turns down
	prepJitter   = 0.2              // ± share of prep time
	resumeWait   = 3 * time.Second  // real wait before readying an order found in the kitchen at startup
	restockEvery = 60 * time.Second // real time between stock checks
	restock      = 50               // counted items below this are topped up to twice it
	maxPages     = 10               // pages of a list read per poll
)

var rejectReasons = []string{"kitchen is too busy", "out of an ingredient", "closing early"}

// kitchen is one restaurant actor's memory: the orders it is cooking and when each is ready.
type kitchen struct {
	r       simRestaurant
	me      auth.Principal
	rng     *rand.Rand
	cooking map[string]time.Time // order id -> ready at (real)
}

// runRestaurant plays one restaurant: it accepts paid orders, cooks them for its prep time
// divided by Speed and marks them ready. It first picks up the orders a previous run left in
// the kitchen, so a restart never strands one.
func (s *Sim) runRestaurant(ctx context.Context, r simRestaurant, rng *rand.Rand) {
	k := &kitchen{r: r, me: ownerPrincipal(r), rng: rng, cooking: map[string]time.Time{}}
	log := s.log.With("restaurant", r.ID)

	now := time.Now()
	for _, st := range []string{statusAccepted, statusPreparing} {
		for _, o := range s.listOrders(ctx, k.me, st) {
			if o.RestaurantID != "" && o.RestaurantID != r.ID {
				continue
			}
			if st == statusAccepted && !s.transition(ctx, k.me, o.ID, "preparing", nil) {
				continue
			}
			k.cooking[o.ID] = now.Add(jitter(rng, resumeWait, 0.5))
			log.Debug("resuming order", "order", o.ID, "status", st)
		}
	}

	nextRestock := time.Now().Add(jitter(rng, restockEvery, 0.5))
	for {
		if sleep(ctx, jitter(rng, s.poll, 0.2)) != nil {
			return
		}
		for _, o := range s.listOrders(ctx, k.me, statusPaid) {
			if _, ok := k.cooking[o.ID]; ok || (o.RestaurantID != "" && o.RestaurantID != r.ID) {
				continue
			}
			s.take(ctx, k, o)
		}
		now := time.Now()
		for id, at := range k.cooking {
			if now.Before(at) {
				continue
			}
			delete(k.cooking, id)
			if s.transition(ctx, k.me, id, "ready", nil) {
				log.Debug("order ready", "order", id)
			}
		}
		if now.After(nextRestock) {
			s.restock(ctx, k)
			nextRestock = now.Add(jitter(rng, restockEvery, 0.2))
		}
	}
}

// take accepts (or now and then rejects) a paid order and starts cooking it.
func (s *Sim) take(ctx context.Context, k *kitchen, o order) {
	if k.rng.Float64() < rejectRate {
		reason := rejectReasons[k.rng.IntN(len(rejectReasons))]
		if s.transition(ctx, k.me, o.ID, "reject", reasonBody{Reason: reason}) {
			s.finish(o.ID, statusRejected)
		}
		return
	}
	if !s.transition(ctx, k.me, o.ID, "accept", nil) {
		return
	}
	s.stats.accepted.Add(1)
	if !s.transition(ctx, k.me, o.ID, "preparing", nil) {
		return
	}
	prep := time.Duration(float64(k.r.PrepMinutes) * float64(time.Minute) / s.cfg.Speed)
	k.cooking[o.ID] = time.Now().Add(jitter(k.rng, prep, prepJitter))
}

// transition POSTs /v1/orders/{id}/{action} as p. When the server refuses (409 and the like)
// it looks the order up, so a cancelled order is counted and dropped.
func (s *Sim) transition(ctx context.Context, p auth.Principal, id, action string, body any) bool {
	r, err := s.as(ctx, p, http.MethodPost, "/v1/orders/"+url.PathEscape(id)+"/"+action, body, nil)
	if err == nil && r.ok() {
		return true
	}
	if ctx.Err() != nil {
		return false
	}
	if err == nil && r.Status >= 400 && r.Status < 500 {
		if o, ok := s.getOrder(ctx, p, id); ok && terminal(o.Status) {
			s.finish(o.ID, o.Status)
			return false
		}
	}
	s.trouble(ctx, "order "+action, r, err, "order", id, "as", p.Subject)
	return false
}

// getOrder reads one order as p.
func (s *Sim) getOrder(ctx context.Context, p auth.Principal, id string) (order, bool) {
	r, err := s.as(ctx, p, http.MethodGet, "/v1/orders/"+url.PathEscape(id), nil, nil)
	if err != nil || !r.ok() {
		if ctx.Err() == nil && (err != nil || r.Status != http.StatusNotFound && r.Status != http.StatusForbidden) {
			s.trouble(ctx, "get order", r, err, "order", id, "as", p.Subject)
		}
		return order{}, false
	}
	o, derr := decodeOrder(r.Body)
	if derr != nil {
		s.trouble(ctx, "get order", r, derr, "order", id)
		return order{}, false
	}
	return o, true
}

// listOrders reads every page (up to maxPages) of GET /v1/orders?status= as p.
func (s *Sim) listOrders(ctx context.Context, p auth.Principal, status string) []order {
	var all []order
	cursor := ""
	for range maxPages {
		q := url.Values{"status": {status}, "limit": {"100"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		r, err := s.as(ctx, p, http.MethodGet, "/v1/orders?"+q.Encode(), nil, nil)
		if err != nil || !r.ok() {
			s.trouble(ctx, "list orders", r, err, "as", p.Subject, "status", status)
			return all
		}
		page, next, derr := decodeList[order](r.Body, "orders")
		if derr != nil {
			s.trouble(ctx, "list orders", r, derr, "as", p.Subject)
			return all
		}
		for _, o := range page {
			if o.ID != "" && (o.Status == "" || o.Status == status) {
				all = append(all, o)
			}
		}
		if next == "" || next == cursor {
			return all
		}
		cursor = next
	}
	return all
}

// restock tops up the restaurant's counted items that are running low, so a long run never
// sells out.
func (s *Sim) restock(ctx context.Context, k *kitchen) {
	items, ok := s.menu(ctx, k.r.ID)
	if !ok {
		return
	}
	for _, it := range items {
		if it.Stock == nil || *it.Stock >= restock {
			continue
		}
		path := "/v1/restaurants/" + url.PathEscape(k.r.ID) + "/menu/items/" + url.PathEscape(it.ID)
		body := struct {
			Available bool  `json:"available"`
			Stock     int64 `json:"stock"`
		}{true, 2 * restock}
		r, err := s.as(ctx, k.me, http.MethodPatch, path, body, nil)
		if err != nil || !r.ok() {
			s.trouble(ctx, "restock", r, err, "restaurant", k.r.ID, "item", it.ID)
		}
	}
}
