// Package carrierfake is a fake parcel carrier: an HTTP API that books, tracks and cancels
// shipments, advances them on its own clock (booked, picked up, delivered), sends signed status
// webhooks (Standard Webhooks), and fails on demand in the ways a carrier's API fails for days:
// refused connections, slow answers, a share of 5xx, invalid JSON, bookings made and never
// answered, duplicate webhooks, bookings answered and then forgotten. `tiffin fake carrier`
// serves it; tests serve it with httptest. It depends on nothing of tiffin but the webhook
// signing.
//
// The API (JSON; Authorization: Bearer <Config.Key>):
//
//	POST /v1/bookings                 {"reference", "recipient", "address", "parcel"}, Idempotency-Key header
//	                                  -> 201 booking (a repeat of the key -> 200, the same booking)
//	GET  /v1/bookings?reference=R     -> 200 {"bookings": [...]} (the bookings of our reference)
//	GET  /v1/bookings/{id}            -> 200 booking, 404
//	POST /v1/bookings/{id}/cancel     -> 200 booking (cancelled), 409 once picked up
//
// A booking is {"id", "reference", "status": "booked"|"picked_up"|"delivered"|"cancelled",
// "created_at", "updated_at"} (RFC 3339 times). Webhooks are POSTed to Config.WebhookURL as
// {"type": "booking.status", "timestamp", "data": booking} with webhook-id
// "evt_<booking id>_<status>", the same for every copy of one update.
//
// The control route, never failed by a mode: GET or PUT /_fake {"mode": "..."} ->
// {"mode", "bookings", "duplicate_bookings"}.
package carrierfake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tiffin-dev/tiffin/internal/standardwebhook"
)

// Mode is how the fake behaves.
type Mode string

// The modes.
const (
	Up   Mode = "up"
	Down Mode = "down" // connections refused (tiffin fake carrier closes its listener) or reset (a handler cannot refuse)
	Slow Mode = "slow" // every API request waits Config.SlowDelay first
	// Flaky fails Config.FlakyShare of API requests with a 503: reads before acting, bookings
	// half before and half after booking.
	Flaky   Mode = "flaky"
	Garbage Mode = "garbage" // answers 200 with a body that is not JSON (after acting)
	// TimeoutAfterBooking books, then never answers (until the client gives up or HangLimit).
	TimeoutAfterBooking Mode = "timeout-after-booking"
	DuplicateWebhooks   Mode = "duplicate-webhooks" // every webhook is sent twice
	LoseBookings        Mode = "lose-bookings"      // a booking is answered 201 and then forgotten
)

// Modes lists every mode.
var Modes = []Mode{Up, Down, Slow, Flaky, Garbage, TimeoutAfterBooking, DuplicateWebhooks, LoseBookings}

// Booking statuses.
const (
	StatusBooked    = "booked"
	StatusPickedUp  = "picked_up"
	StatusDelivered = "delivered"
	StatusCancelled = "cancelled"
)

// Config configures a Server. The zero value works.
type Config struct {
	// Key is the API key clients present. Default "ck_test_carrierfake".
	Key string
	// Now is the carrier's clock. Default time.Now.
	Now func() time.Time
	// PickupAfter and DeliverAfter are how long after booking a parcel is picked up, and then
	// delivered, by Now. Defaults 2m and 10m.
	PickupAfter, DeliverAfter time.Duration
	// WebhookURL receives status webhooks ("" sends none), signed with WebhookSecret.
	WebhookURL    string
	WebhookSecret standardwebhook.Secret
	// Client sends the webhooks. Default: a client with a 10 s timeout.
	Client *http.Client
	// SlowDelay is Slow's wait (default 5s), FlakyShare Flaky's share of failures (default
	// 0.3), HangLimit how long TimeoutAfterBooking holds a request at most (default 1m).
	SlowDelay  time.Duration
	FlakyShare float64
	HangLimit  time.Duration
	// Seed seeds Flaky's choices.
	Seed uint64
	// IgnoreKeys makes the fake ignore Idempotency-Key, as some carriers' APIs do: a repeated
	// booking books again.
	IgnoreKeys bool
	// Mix, while the mode is Up, fails each API request in the mode drawn by these shares
	// (the rest are up): {TimeoutAfterBooking: 0.3, LoseBookings: 0.1} is a carrier that
	// times out after booking on 30% of requests and forgets 10% of the bookings it answers.
	Mix map[Mode]float64
}

// Booking is a booking as the API shows it.
type Booking struct {
	ID        string    `json:"id"`
	Reference string    `json:"reference"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type booking struct {
	Booking
	notified string // the last status a webhook was sent for
}

// Server is the fake carrier. Its methods are safe for concurrent use.
type Server struct {
	cfg    Config
	closed chan struct{}
	once   sync.Once

	mu          sync.Mutex
	mode        Mode
	seq         int
	bookings    map[string]*booking   // by ID
	byReference map[string][]*booking // creation order
	keys        map[string]string     // Idempotency-Key -> booking ID
	duplicates  int                   // bookings made for a reference that already had one
	rnd         *rand.Rand
}

// New returns a server in mode Up.
func New(cfg Config) *Server {
	if cfg.Key == "" {
		cfg.Key = "ck_test_carrierfake"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PickupAfter <= 0 {
		cfg.PickupAfter = 2 * time.Minute
	}
	if cfg.DeliverAfter <= 0 {
		cfg.DeliverAfter = 10 * time.Minute
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.SlowDelay <= 0 {
		cfg.SlowDelay = 5 * time.Second
	}
	if cfg.FlakyShare <= 0 {
		cfg.FlakyShare = 0.3
	}
	if cfg.HangLimit <= 0 {
		cfg.HangLimit = time.Minute
	}
	return &Server{
		cfg: cfg, closed: make(chan struct{}), mode: Up, bookings: map[string]*booking{},
		byReference: map[string][]*booking{}, keys: map[string]string{},
		rnd: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed+1)), // #nosec G404 -- a fake provider's seeded failures and references; moves no money, no secret
	}
}

// Key is the API key the server accepts.
func (s *Server) Key() string { return s.cfg.Key }

// Close releases requests held by TimeoutAfterBooking.
func (s *Server) Close() { s.once.Do(func() { close(s.closed) }) }

// SetMode switches the mode.
func (s *Server) SetMode(m Mode) error {
	if !slices.Contains(Modes, m) {
		return fmt.Errorf("carrierfake: unknown mode %q (known: %v)", m, Modes)
	}
	s.mu.Lock()
	s.mode = m
	s.mu.Unlock()
	return nil
}

// Mode is the current mode.
func (s *Server) Mode() Mode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mode
}

// Stats is what the fake holds.
type Stats struct {
	Mode Mode `json:"mode"`
	// Bookings is how many bookings the fake holds (forgotten ones not counted).
	Bookings int `json:"bookings"`
	// DuplicateBookings is how many bookings were made for a reference that already had a
	// booking the fake held: a client that books twice.
	DuplicateBookings int `json:"duplicate_bookings"`
}

// Stats returns the counts.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Mode: s.mode, Bookings: len(s.bookings), DuplicateBookings: s.duplicates}
}

// ServeHTTP serves the API and the control route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_fake" {
		s.control(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.cfg.Key {
		writeJSON(w, http.StatusUnauthorized, apiError{"unauthorized", "a valid API key is required"})
		return
	}
	mode := s.Mode()
	if mode == Up && len(s.cfg.Mix) > 0 {
		mode = s.draw()
	}
	switch mode {
	case Down:
		reset(w)
		return
	case Slow:
		select {
		case <-time.After(s.cfg.SlowDelay):
		case <-r.Context().Done():
			return
		}
	}
	booking := r.Method == http.MethodPost && r.URL.Path == "/v1/bookings"
	flaky := mode == Flaky && s.chance(s.cfg.FlakyShare)
	if flaky && (!booking || s.chance(0.5)) {
		writeJSON(w, http.StatusServiceUnavailable, apiError{"unavailable", "try again later (injected by carrierfake)"})
		return
	}
	status, body := s.route(r, mode)
	switch {
	case flaky: // a booking made, then a 5xx
		writeJSON(w, http.StatusBadGateway, apiError{"bad_gateway", "upstream failed (injected by carrierfake, after booking)"})
	case mode == Garbage:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(`{"id": "bk_` + "\x00\xff" + `, <html>`))
	case mode == TimeoutAfterBooking && booking && status < 300:
		t := time.NewTimer(s.cfg.HangLimit)
		defer t.Stop()
		select {
		case <-r.Context().Done():
		case <-t.C:
		case <-s.closed:
		}
		reset(w)
	default:
		writeJSON(w, status, body)
	}
}

// draw picks a request's mode by Config.Mix.
func (s *Server) draw() Mode {
	s.mu.Lock()
	x := s.rnd.Float64()
	s.mu.Unlock()
	for _, m := range Modes { // a fixed order, so a seed gives one sequence
		if p, ok := s.cfg.Mix[m]; ok {
			if x < p {
				return m
			}
			x -= p
		}
	}
	return Up
}

func (s *Server) chance(p float64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rnd.Float64() < p
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// bookingRequest is the booking call's body: the reference is required, the rest is kept as
// given (the fake delivers anywhere).
type bookingRequest struct {
	Reference string          `json:"reference"`
	Recipient json.RawMessage `json:"recipient"`
	Address   json.RawMessage `json:"address"`
	Parcel    json.RawMessage `json:"parcel"`
}

func (s *Server) route(r *http.Request, mode Mode) (int, any) {
	path := strings.TrimPrefix(r.URL.Path, "/v1/bookings")
	if path == r.URL.Path {
		return http.StatusNotFound, apiError{"not_found", "no such route"}
	}
	now := s.cfg.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(now)
	switch {
	case path == "" && r.Method == http.MethodPost:
		var req bookingRequest
		if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10)).Decode(&req); err != nil || req.Reference == "" || len(req.Reference) > 128 {
			return http.StatusBadRequest, apiError{"invalid_request", "a JSON body with a reference (at most 128 characters) is required"}
		}
		key := r.Header.Get("Idempotency-Key")
		if s.cfg.IgnoreKeys {
			key = ""
		}
		if id, ok := s.keys[key]; ok && key != "" {
			if b, ok := s.bookings[id]; ok {
				return http.StatusOK, b.Booking
			}
		}
		s.seq++
		b := &booking{Booking: Booking{ID: fmt.Sprintf("bk_%08d", s.seq), Reference: req.Reference, Status: StatusBooked, CreatedAt: now, UpdatedAt: now}, notified: StatusBooked}
		if mode == LoseBookings {
			return http.StatusCreated, b.Booking // answered, never kept
		}
		for _, old := range s.byReference[req.Reference] {
			if old.Status != StatusCancelled {
				s.duplicates++
				break
			}
		}
		s.bookings[b.ID] = b
		s.byReference[req.Reference] = append(s.byReference[req.Reference], b)
		if key != "" {
			s.keys[key] = b.ID
		}
		return http.StatusCreated, b.Booking
	case path == "" && r.Method == http.MethodGet:
		ref := r.URL.Query().Get("reference")
		out := []Booking{}
		for _, b := range s.byReference[ref] {
			out = append(out, b.Booking)
		}
		return http.StatusOK, map[string]any{"bookings": out}
	case strings.HasSuffix(path, "/cancel") && r.Method == http.MethodPost:
		b, ok := s.bookings[strings.TrimSuffix(strings.TrimPrefix(path, "/"), "/cancel")]
		switch {
		case !ok:
			return http.StatusNotFound, apiError{"not_found", "no such booking"}
		case b.Status == StatusBooked:
			b.Status, b.UpdatedAt = StatusCancelled, now
		case b.Status != StatusCancelled:
			return http.StatusConflict, apiError{"already_" + b.Status, "the parcel is " + b.Status + ": too late to cancel"}
		}
		return http.StatusOK, b.Booking
	case r.Method == http.MethodGet:
		b, ok := s.bookings[strings.TrimPrefix(path, "/")]
		if !ok {
			return http.StatusNotFound, apiError{"not_found", "no such booking"}
		}
		return http.StatusOK, b.Booking
	}
	return http.StatusMethodNotAllowed, apiError{"method_not_allowed", "no such route"}
}

// advance moves every booking along by the clock. The caller holds s.mu.
func (s *Server) advance(now time.Time) {
	for _, b := range s.bookings {
		switch {
		case b.Status == StatusBooked && !now.Before(b.CreatedAt.Add(s.cfg.PickupAfter+s.cfg.DeliverAfter)):
			b.Status, b.UpdatedAt = StatusDelivered, b.CreatedAt.Add(s.cfg.PickupAfter+s.cfg.DeliverAfter)
		case b.Status == StatusBooked && !now.Before(b.CreatedAt.Add(s.cfg.PickupAfter)):
			b.Status, b.UpdatedAt = StatusPickedUp, b.CreatedAt.Add(s.cfg.PickupAfter)
		case b.Status == StatusPickedUp && !now.Before(b.CreatedAt.Add(s.cfg.PickupAfter+s.cfg.DeliverAfter)):
			b.Status, b.UpdatedAt = StatusDelivered, b.CreatedAt.Add(s.cfg.PickupAfter+s.cfg.DeliverAfter)
		}
	}
}

// Tick moves bookings along by the clock and sends a webhook for each status change not yet
// announced (twice in DuplicateWebhooks), returning how many were sent (answered 2xx). A
// webhook that fails is not retried: the client's polls are the fallback, as with carriers
// whose webhooks are best effort.
func (s *Server) Tick(ctx context.Context) int {
	type update struct {
		b    Booking
		copy int
	}
	var updates []update
	s.mu.Lock()
	s.advance(s.cfg.Now().UTC())
	copies := 1
	if s.mode == DuplicateWebhooks {
		copies = 2
	}
	down := s.mode == Down
	for _, b := range s.bookings {
		if b.Status != b.notified && !down {
			b.notified = b.Status
			for i := range copies {
				updates = append(updates, update{b.Booking, i})
			}
		}
	}
	s.mu.Unlock()
	if s.cfg.WebhookURL == "" {
		return 0
	}
	sent := 0
	for _, u := range updates {
		if s.send(ctx, u.b) {
			sent++
		}
	}
	return sent
}

func (s *Server) send(ctx context.Context, b Booking) bool {
	now := s.cfg.Now().UTC()
	body, _ := json.Marshal(map[string]any{"type": "booking.status", "timestamp": now, "data": b})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	standardwebhook.SetHeaders(req.Header, "evt_"+b.ID+"_"+b.Status, now, body, s.cfg.WebhookSecret)
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode/100 == 2
}

// Run calls Tick every interval until ctx ends.
func (s *Server) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Tick(ctx)
		}
	}
}

func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPut:
		var req struct {
			Mode Mode `json:"mode"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{"invalid_request", "a JSON body {\"mode\": ...} is required"})
			return
		}
		if err := s.SetMode(req.Mode); err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, apiError{"unknown_mode", err.Error()})
			return
		}
	default:
		writeJSON(w, http.StatusMethodNotAllowed, apiError{"method_not_allowed", "GET or PUT"})
		return
	}
	writeJSON(w, http.StatusOK, s.Stats())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// reset drops the client's connection without an answer.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	conn.Close()
}
