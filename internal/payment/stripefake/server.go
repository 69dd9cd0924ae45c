// Package stripefake is a fake Stripe API server for tests: an http.Handler (serve it with
// httptest.Server) that speaks the subset of Stripe's v1 API a PaymentIntents integration with
// manual capture needs, keeps Stripe's rules on idempotency keys, and fails on demand in every
// way a real provider does: a 500 before acting, a 500 after acting, an answer that never comes,
// a connection reset, a declined card.
//
// The subset: POST /v1/payment_intents (create, with confirm=true), GET /v1/payment_intents
// (list, newest first, filtered by created), GET /v1/payment_intents/search (exact matches on
// metadata and status), GET /v1/payment_intents/{id}, POST /v1/payment_intents/{id}/capture,
// POST /v1/payment_intents/{id}/cancel, POST /v1/refunds and GET /v1/refunds. Requests are
// form-encoded and authenticated with the secret key (Bearer or Basic); unknown parameters are
// refused as Stripe refuses them.
//
// Idempotency follows Stripe's v1 rules: the first response of a POST that began executing is
// kept under its Idempotency-Key and replayed (with Idempotent-Replayed: true) to every later
// request with that key, 500s included; the same key with other parameters is a 400
// idempotency_error; a key whose first request is still running is a 409. A request refused
// before it began executing (bad parameters, a fault injected before acting) keeps nothing.
//
// It does not depend on tiffin: any Go test can use it.
package stripefake

import (
	"encoding/base64"
	"errors"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Config configures a Server. The zero value works.
type Config struct {
	// Key is the secret key clients must present. Default "sk_test_stripefake".
	Key string
	// Now is the server's clock (object creation times, search visibility). Default time.Now.
	Now func() time.Time
	// SearchLag hides a PaymentIntent from search for this long after its creation, as
	// Stripe's search index lags behind writes (under a minute usually, up to an hour during
	// incidents). Retrieve and list always see it. Default 0.
	SearchLag time.Duration
	// NoSearch answers search with a 400, as Stripe does for accounts it offers no search to
	// (accounts in India).
	NoSearch bool
	// Latency holds every POST this long after it claimed its idempotency key and before it
	// acts, so tests can overlap two requests with one key. Default 0.
	Latency time.Duration
	// HangLimit bounds how long a HangAfter fault holds a request. Default one minute.
	HangLimit time.Duration
	// FailureRate makes this share of requests (0..1), besides the faults Fail queues, fail in
	// one of the five ways, chosen evenly: a 500 before or after acting, a hang or a reset after
	// acting, a reset before. Seed seeds the choice.
	FailureRate float64
	Seed        uint64
}

// Op names an endpoint.
type Op string

// The endpoints.
const (
	OpCreate      Op = "create_payment_intent"
	OpCapture     Op = "capture_payment_intent"
	OpCancel      Op = "cancel_payment_intent"
	OpRetrieve    Op = "retrieve_payment_intent"
	OpSearch      Op = "search_payment_intents"
	OpList        Op = "list_payment_intents"
	OpRefund      Op = "create_refund"
	OpListRefunds Op = "list_refunds"
)

// Effect is a change of money the server made.
type Effect string

// The effects.
const (
	Authorized Effect = "authorized" // a PaymentIntent confirmed and its amount held (or taken)
	Declined   Effect = "declined"   // a confirmation declined
	Captured   Effect = "captured"
	Canceled   Effect = "canceled" // a PaymentIntent cancelled: a hold released
	Refunded   Effect = "refunded"
)

// Server is a fake Stripe API. Its methods are safe for concurrent use.
type Server struct {
	cfg    Config
	closed chan struct{}
	once   sync.Once

	mu          sync.Mutex
	seq         int
	intents     map[string]*intent
	order       []*intent            // creation order
	byMetadata  map[string][]*intent // by metadata key and value (metaKey), creation order: search's index
	refunds     []*refund            // creation order
	keys        map[string]*keyed
	faults      []Fault
	declineNext int
	requests    map[Op]int
	effects     map[Effect]int
	rnd         *rand.Rand
}

// keyed is what an idempotency key holds.
type keyed struct {
	params string // method, path and canonical parameters of the first request
	done   bool   // false while the first request runs
	reply  reply
}

// New returns a server.
func New(cfg Config) *Server {
	if cfg.Key == "" {
		cfg.Key = "sk_test_stripefake"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HangLimit == 0 {
		cfg.HangLimit = time.Minute
	}
	return &Server{
		cfg: cfg, closed: make(chan struct{}), intents: map[string]*intent{}, keys: map[string]*keyed{},
		requests: map[Op]int{}, effects: map[Effect]int{}, rnd: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed+1)), // #nosec G404 -- a fake provider's seeded failures and references; moves no money, no secret
	}
}

// Key is the secret key the server accepts.
func (s *Server) Key() string { return s.cfg.Key }

// Close releases requests held by HangAfter faults.
func (s *Server) Close() { s.once.Do(func() { close(s.closed) }) }

// DeclineNext declines the next n confirmations. Payment methods whose name contains
// "chargeDeclined" (Stripe's test pm_card_chargeDeclined and its kin) are always declined.
func (s *Server) DeclineNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.declineNext += n
}

// Requests is how many requests reached op, failed and replayed ones included.
func (s *Server) Requests(op Op) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[op]
}

// Effects is how many times the server made effect e; replays don't count.
func (s *Server) Effects(e Effect) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.effects[e]
}

// effect counts effect e, made on pi. The caller holds s.mu.
func (s *Server) effect(pi *intent, e Effect) {
	s.effects[e]++
	if pi.effects == nil {
		pi.effects = map[Effect]int{}
	}
	pi.effects[e]++
}

// Intent is a snapshot of one PaymentIntent.
type Intent struct {
	ID         string
	Status     string
	Amount     int64
	Capturable int64
	Received   int64
	Refunded   int64
	Currency   string
	Declined   bool
	Metadata   map[string]string
	Created    time.Time
	// Effects counts what the server did to it (authorized, captured, canceled, refunded...),
	// replays not counted.
	Effects map[Effect]int
}

// Intents returns every PaymentIntent, oldest first.
func (s *Server) Intents() []Intent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Intent, 0, len(s.order))
	for _, pi := range s.order {
		md := maps.Clone(pi.metadata)
		if md == nil {
			md = map[string]string{}
		}
		out = append(out, Intent{
			ID: pi.id, Status: pi.status, Amount: pi.amount, Capturable: pi.capturable, Received: pi.received,
			Refunded: pi.refunded, Currency: pi.currency, Declined: pi.lastError != nil, Metadata: md, Created: pi.created,
			Effects: maps.Clone(pi.effects),
		})
	}
	return out
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, id, ok := route(r.Method, r.URL.Path)
	if !ok {
		s.send(w, errorReply(&apiError{Type: invalidRequest, Message: "Unrecognized request URL (" + r.Method + ": " + r.URL.Path + ").", status: http.StatusNotFound}), false)
		return
	}
	s.mu.Lock()
	s.requests[op]++
	fault := s.takeFault(op)
	if fault == 0 && s.cfg.FailureRate > 0 && s.rnd.Float64() < s.cfg.FailureRate {
		fault = FaultKind(1 + s.rnd.IntN(int(ResetBefore)))
	}
	s.mu.Unlock()
	if !s.authorized(r) {
		s.send(w, errorReply(&apiError{Type: invalidRequest, Message: "Invalid API Key provided.", status: http.StatusUnauthorized}), false)
		return
	}
	switch fault {
	case FailBefore:
		s.send(w, internalError, false)
		return
	case ResetBefore:
		reset(w)
		return
	}
	rep, replayed := s.handle(r, op, id, fault)
	switch fault {
	case HangAfter:
		t := time.NewTimer(s.cfg.HangLimit)
		defer t.Stop()
		select {
		case <-r.Context().Done():
		case <-s.closed:
		case <-t.C:
		}
		return
	case ResetAfter:
		reset(w)
		return
	case FailAfter:
		rep = internalError
	}
	s.send(w, rep, replayed)
}

// handle runs one request through the idempotency layer and the endpoint.
func (s *Server) handle(r *http.Request, op Op, id string, fault FaultKind) (rep reply, replayed bool) {
	var raw string
	if r.Method == http.MethodPost {
		var err error
		if raw, err = readBody(r); err != nil {
			return errorReply(errInvalid("", "", "The request body could not be read: "+err.Error())), false
		}
	} else {
		raw = r.URL.RawQuery
	}
	f, err := parseForm(raw)
	if err != nil {
		return errorReply(errInvalid("parameter_invalid", "", "Invalid request: "+err.Error())), false
	}
	if r.Method != http.MethodPost {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.read(op, id, f), false
	}
	key := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
	if len(key) > 255 {
		return errorReply(errInvalid("", "", "Idempotency-Key must be at most 255 characters.")), false
	}
	params := r.Method + " " + r.URL.Path + "?" + f.canonical()
	s.mu.Lock()
	if key != "" {
		if kept, ok := s.keys[key]; ok {
			k := *kept // the first request may still be writing it
			s.mu.Unlock()
			switch {
			case k.params != params:
				return errorReply(&apiError{Type: idempotency, Message: "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '" + key + "' if you meant to execute a different request.", status: http.StatusBadRequest}), false
			case !k.done:
				return errorReply(&apiError{Type: idempotency, Code: "idempotency_key_in_use", Message: "There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): " + key + ". Please try again later.", status: http.StatusConflict}), false
			}
			return k.reply, true
		}
		s.keys[key] = &keyed{params: params}
	}
	s.mu.Unlock()
	if s.cfg.Latency > 0 {
		t := time.NewTimer(s.cfg.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rep, keep := s.write(op, id, f)
	if fault == FailAfter && keep {
		rep = internalError // what the key keeps: the endpoint ran, then failed
	}
	if key != "" {
		if keep {
			s.keys[key].done, s.keys[key].reply = true, rep
		} else {
			delete(s.keys, key)
		}
	}
	return rep, false
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
		return tok == s.cfg.Key
	}
	if enc, ok := strings.CutPrefix(h, "Basic "); ok {
		b, err := base64.StdEncoding.DecodeString(enc)
		user, _, _ := strings.Cut(string(b), ":")
		return err == nil && user == s.cfg.Key
	}
	return false
}

func (s *Server) send(w http.ResponseWriter, rep reply, replayed bool) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Request-Id", "req_stripefake")
	if replayed {
		h.Set("Idempotent-Replayed", "true")
	}
	w.WriteHeader(rep.status)
	w.Write(rep.body)
}

// route maps a request to its endpoint and the PaymentIntent ID in its path.
func route(method, path string) (Op, string, bool) {
	rest, ok := strings.CutPrefix(path, "/v1/")
	if !ok {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	switch {
	case method == http.MethodPost && rest == "payment_intents":
		return OpCreate, "", true
	case method == http.MethodGet && rest == "payment_intents":
		return OpList, "", true
	case method == http.MethodGet && rest == "payment_intents/search":
		return OpSearch, "", true
	case method == http.MethodGet && len(parts) == 2 && parts[0] == "payment_intents" && parts[1] != "":
		return OpRetrieve, parts[1], true
	case method == http.MethodPost && len(parts) == 3 && parts[0] == "payment_intents" && parts[1] != "" && parts[2] == "capture":
		return OpCapture, parts[1], true
	case method == http.MethodPost && len(parts) == 3 && parts[0] == "payment_intents" && parts[1] != "" && parts[2] == "cancel":
		return OpCancel, parts[1], true
	case method == http.MethodPost && rest == "refunds":
		return OpRefund, "", true
	case method == http.MethodGet && rest == "refunds":
		return OpListRefunds, "", true
	}
	return "", "", false
}

// readBody reads a request body of at most 64 KiB.
func readBody(r *http.Request) (string, error) {
	const limit = 64 << 10
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return "", err
	}
	if len(b) > limit {
		return "", errors.New("request body too large")
	}
	return string(b), nil
}
