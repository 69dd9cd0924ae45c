package sim

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/geo"
)

// Courier behaviour.
const (
	declineRate   = 0.05            // share of offers a courier turns down, to exercise re-offers
	checkEnRoute  = 3 * time.Second // real time between looks at the order while moving
	offShiftGrace = 2 * time.Second // how long going off shift may take once ctx has ended
)

// rider is one courier actor's state; only its goroutine touches it.
type rider struct {
	c     simCourier
	me    auth.Principal
	rng   *rand.Rand
	pos   geo.LatLng
	fixes []fix
	log   *slog.Logger
}

// job is one order of the route a courier is carrying out.
type job struct {
	orderID   string
	dropoff   geo.LatLng
	pickedUp  bool
	gone      bool      // cancelled, or no longer the courier's: skipped
	createdAt time.Time // the order's, once known
}

// trip is the route a courier is carrying out: one restaurant, then drop-offs in sequence.
type trip struct {
	routeID string
	pickup  geo.LatLng
	jobs    []job
}

// runCourier plays one courier: on shift, it polls for offers, accepts most, rides to the
// restaurant, waits for the food of each order of the route, rides to each customer in turn
// and delivers, reporting its position every second while it moves. It first resumes a route
// a previous run left it on.
func (s *Sim) runCourier(ctx context.Context, c simCourier, rng *rand.Rand) {
	k := &rider{
		c: c, me: auth.Principal{Subject: c.ID, Role: auth.Courier}, rng: rng, pos: c.Start,
		log: s.log.With("courier", c.ID),
	}
	// Spread the couriers' first requests over a poll interval.
	if sleep(ctx, time.Duration(rng.Int64N(int64(s.poll)+1))) != nil {
		return
	}
	for !s.goOnShift(ctx, k) {
		if sleep(ctx, jitter(rng, 5*s.poll, 0.2)) != nil {
			return
		}
	}
	s.report(ctx, k, k.here(0, 0))
	if t, ok := s.currentRoute(ctx, k); ok {
		k.log.Debug("resuming route", "route", t.routeID, "orders", len(t.jobs))
		if !s.carry(ctx, k, t) {
			return // still carrying it: stay on shift for the next run
		}
	}
	lastFix := time.Now()
	for {
		if sleep(ctx, jitter(rng, s.poll, 0.2)) != nil {
			s.goOffShift(ctx, k)
			return
		}
		o, ok := s.pollOffer(ctx, k)
		if !ok {
			if time.Since(lastFix) >= s.idleFixes {
				s.report(ctx, k, k.here(0, 0))
				lastFix = time.Now()
			}
			continue
		}
		if rng.Float64() < declineRate {
			s.answerOffer(ctx, k, o, "decline")
			continue
		}
		if !s.answerOffer(ctx, k, o, "accept") {
			continue
		}
		t, ok := s.currentRoute(ctx, k)
		if !ok {
			continue
		}
		if !s.carry(ctx, k, t) {
			return
		}
		lastFix = time.Now()
	}
}

func (s *Sim) goOnShift(ctx context.Context, k *rider) bool {
	body := shiftBody{OnShift: true, Vehicle: k.c.Vehicle, Lat: &k.pos.Lat, Lng: &k.pos.Lng}
	r, err := s.as(ctx, k.me, http.MethodPut, "/v1/courier/shift", body, nil)
	if err != nil || !r.ok() {
		s.trouble(ctx, "go on shift", r, err, "courier", k.c.ID)
		return false
	}
	return true
}

// goOffShift tells the server an idle courier has stopped, once ctx has ended, so dispatch
// doesn't offer orders to it. It tries once, briefly.
func (s *Sim) goOffShift(ctx context.Context, k *rider) {
	tok, err := s.tokens.get(k.me)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), offShiftGrace)
	defer cancel()
	s.api.send(ctx, tok, http.MethodPut, "/v1/courier/shift", []byte(`{"on_shift":false}`), nil)
}

// here is a fix at the courier's position now.
func (k *rider) here(speed, heading float64) fix {
	return fix{Lat: k.pos.Lat, Lng: k.pos.Lng, At: time.Now().UTC(), SpeedMPS: speed, Heading: heading}
}

// report posts fixes (a batch) to the tracking ingest.
func (s *Sim) report(ctx context.Context, k *rider, fixes ...fix) {
	if len(fixes) == 0 {
		return
	}
	r, err := s.as(ctx, k.me, http.MethodPost, "/v1/courier/locations", fixesBody{Fixes: fixes}, nil)
	if err != nil || !r.ok() {
		s.trouble(ctx, "post locations", r, err, "courier", k.c.ID)
	}
}

func (s *Sim) flush(ctx context.Context, k *rider) {
	s.report(ctx, k, k.fixes...)
	k.fixes = k.fixes[:0]
}

// pollOffer returns the courier's current offer, if any.
func (s *Sim) pollOffer(ctx context.Context, k *rider) (offer, bool) {
	r, err := s.as(ctx, k.me, http.MethodGet, "/v1/courier/offer", nil, nil)
	if err == nil && (r.Status == http.StatusNotFound || r.Status == http.StatusNoContent) {
		return offer{}, false
	}
	if err != nil || !r.ok() {
		s.trouble(ctx, "poll offer", r, err, "courier", k.c.ID)
		return offer{}, false
	}
	o, derr := decodeOffer(r.Body)
	if derr != nil {
		s.trouble(ctx, "poll offer", r, derr, "courier", k.c.ID)
		return offer{}, false
	}
	return o, true
}

// answerOffer accepts or declines an offer. An offer that expired or went to someone else in
// the meantime is an ordinary race, not an error.
func (s *Sim) answerOffer(ctx context.Context, k *rider, o offer, answer string) bool {
	path := "/v1/courier/offers/" + url.PathEscape(o.OfferID) + "/" + answer
	r, err := s.as(ctx, k.me, http.MethodPost, path, nil, nil)
	if err == nil && r.ok() {
		k.log.Debug("offer answered", "answer", answer, "offer", o.OfferID, "order", o.OrderID)
		return true
	}
	if err == nil && (r.Status == http.StatusGone || r.Status == http.StatusConflict) {
		k.log.Debug("offer lost", "offer", o.OfferID, "status", r.Status)
		return false
	}
	s.trouble(ctx, answer+" offer", r, err, "courier", k.c.ID, "offer", o.OfferID)
	return false
}

// currentRoute returns the route the server has the courier on, if any, without the stops
// already ended.
func (s *Sim) currentRoute(ctx context.Context, k *rider) (trip, bool) {
	r, err := s.as(ctx, k.me, http.MethodGet, "/v1/courier/route", nil, nil)
	if err == nil && (r.Status == http.StatusNotFound || r.Status == http.StatusNoContent) {
		return trip{}, false
	}
	if err != nil || !r.ok() {
		s.trouble(ctx, "get route", r, err, "courier", k.c.ID)
		return trip{}, false
	}
	rt, derr := decodeRoute(r.Body)
	if derr != nil {
		s.trouble(ctx, "get route", r, derr, "courier", k.c.ID)
		return trip{}, false
	}
	t := trip{routeID: rt.RouteID, pickup: rt.Pickup.latLng()}
	for _, st := range rt.Stops {
		switch st.Status {
		case "assigned", statusPickedUp, "at_customer":
			t.jobs = append(t.jobs, job{orderID: st.OrderID, dropoff: st.Dropoff.latLng(), pickedUp: st.Status != "assigned"})
		}
	}
	return t, len(t.jobs) > 0
}

// carry carries out t: to the restaurant for the orders not yet picked up, then to each
// drop-off in sequence. An order cancelled or taken away on the way is skipped. It returns
// false only when ctx ended first.
func (s *Sim) carry(ctx context.Context, k *rider, t trip) bool {
	var waiting []string
	for _, j := range t.jobs {
		if !j.pickedUp {
			waiting = append(waiting, j.orderID)
		}
	}
	if len(waiting) > 0 {
		left := s.travel(ctx, k, t.pickup, waiting...)
		if ctx.Err() != nil {
			return false
		}
		for i := range t.jobs {
			j := &t.jobs[i]
			if j.pickedUp {
				continue
			}
			if !slices.Contains(left, j.orderID) || !s.pickUp(ctx, k, j) {
				j.gone = true
			}
			if ctx.Err() != nil {
				return false
			}
		}
	}
	for i := range t.jobs {
		j := &t.jobs[i]
		if j.gone {
			continue
		}
		if len(s.travel(ctx, k, j.dropoff, j.orderID)) == 0 {
			if ctx.Err() != nil {
				return false
			}
			continue
		}
		s.handOver(ctx, k, j)
	}
	return ctx.Err() == nil
}

// handOver delivers j at its drop-off and records its click-to-door time. It reports whether
// the order was delivered.
func (s *Sim) handOver(ctx context.Context, k *rider, j *job) bool {
	if j.createdAt.IsZero() {
		if o, v := s.lookup(ctx, k, j.orderID); v == verdictMine {
			j.createdAt = o.CreatedAt.Time
		}
	}
	if !s.transition(ctx, k.me, j.orderID, "delivered", nil) {
		return false
	}
	s.stats.delivered.Add(1)
	s.ledger.end(j.orderID, time.Now())
	if !j.createdAt.IsZero() {
		if d := time.Since(j.createdAt); d > 0 {
			s.stats.clickToDoor(d)
		}
	}
	k.log.Debug("order delivered", "order", j.orderID)
	return true
}

// step moves from toward to by at most metres; arrived reports reaching to.
func step(from, to geo.LatLng, metres float64) (next geo.LatLng, arrived bool) {
	next = geo.Toward(from, to, metres)
	return next, next == to
}

// travel moves the courier to `to` at its vehicle's street speed times Speed, one fix every
// fixEvery, posted in batches; every few seconds it checks the orders it rides for are still
// its to carry. It returns those still its own (none when ctx ended, or when every one of
// them went away, which stops the ride).
func (s *Sim) travel(ctx context.Context, k *rider, to geo.LatLng, orderIDs ...string) []string {
	live := slices.Clone(orderIDs)
	speed := geo.StreetSpeed(k.c.Vehicle) * s.cfg.Speed // metres per real second
	t := time.NewTicker(s.fixEvery)
	defer t.Stop()
	lastCheck := time.Now()
	arrived := k.pos == to
	for !arrived {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		heading := geo.Bearing(k.pos, to)
		k.pos, arrived = step(k.pos, to, speed*s.fixEvery.Seconds())
		k.fixes = append(k.fixes, k.here(speed, heading))
		if len(k.fixes) >= s.flushFix || arrived {
			s.flush(ctx, k)
		}
		if !arrived && time.Since(lastCheck) >= checkEnRoute {
			lastCheck = time.Now()
			live = slices.DeleteFunc(live, func(id string) bool { _, v := s.lookup(ctx, k, id); return v == verdictGone })
			if len(live) == 0 {
				k.fixes = k.fixes[:0]
				return nil
			}
		}
	}
	return live
}

// pickUp waits at the restaurant until the order is ready and picks it up.
func (s *Sim) pickUp(ctx context.Context, k *rider, j *job) bool {
	lastFix := time.Now()
	for {
		o, v := s.lookup(ctx, k, j.orderID)
		switch v {
		case verdictGone:
			return false
		case verdictMine:
			j.createdAt = o.CreatedAt.Time
			switch o.Status {
			case statusPickedUp:
				j.pickedUp = true
				return true
			case statusReady:
				if s.transition(ctx, k.me, j.orderID, "picked-up", nil) {
					j.pickedUp = true
					return true
				}
			}
		}
		if time.Since(lastFix) >= s.idleFixes {
			s.report(ctx, k, k.here(0, 0))
			lastFix = time.Now()
		}
		if sleep(ctx, jitter(k.rng, s.poll, 0.2)) != nil {
			return false
		}
	}
}

// What a look at an order while carrying it says.
type verdict int

const (
	verdictUnknown verdict = iota // the lookup failed; carry on
	verdictMine                   // still the courier's to deliver
	verdictGone                   // cancelled, ended, or someone else's now: drop it
)

func (s *Sim) lookup(ctx context.Context, k *rider, id string) (order, verdict) {
	r, err := s.as(ctx, k.me, http.MethodGet, "/v1/orders/"+url.PathEscape(id), nil, nil)
	if err == nil && (r.Status == http.StatusNotFound || r.Status == http.StatusForbidden) {
		k.log.Debug("order no longer ours", "order", id, "status", r.Status)
		return order{}, verdictGone
	}
	if err != nil || !r.ok() {
		s.trouble(ctx, "look up order", r, err, "courier", k.c.ID, "order", id)
		return order{}, verdictUnknown
	}
	o, derr := decodeOrder(r.Body)
	if derr != nil {
		s.trouble(ctx, "look up order", r, derr, "courier", k.c.ID, "order", id)
		return order{}, verdictUnknown
	}
	if terminal(o.Status) && o.Status != statusDelivered {
		s.finish(o.ID, o.Status)
		k.log.Debug("order ended while en route", "order", id, "status", o.Status)
		return o, verdictGone
	}
	if o.Status == statusDelivered || (o.CourierID != "" && o.CourierID != k.c.ID) {
		return o, verdictGone
	}
	return o, verdictMine
}
