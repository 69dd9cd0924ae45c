package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/jobs"
	"github.com/tiffin-dev/tiffin/internal/netguard"
	"github.com/tiffin-dev/tiffin/internal/standardwebhook"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/telemetry"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// hookReceiver is a webhook receiver that can be down (answers 500), verifies signatures and
// keeps the webhook-ids and event types it accepted, per order.
type hookReceiver struct {
	mu      sync.Mutex
	down    bool
	secret  standardwebhook.Secret
	now     func() time.Time
	ids     map[string]int
	byOrder map[string][]string
	bad     int
}

func (r *hookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	id, err := standardwebhook.Verify(req.Header, body, r.secret, r.now(), 5*time.Minute)
	if err != nil {
		r.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var msg struct {
		Type string `json:"type"`
		Data struct {
			OrderID string `json:"order_id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &msg)
	r.ids[id]++
	r.byOrder[msg.Data.OrderID] = append(r.byOrder[msg.Data.OrderID], msg.Type)
	w.WriteHeader(http.StatusOK)
}

func (r *hookReceiver) setDown(down bool) {
	r.mu.Lock()
	r.down = down
	r.mu.Unlock()
}

type fixture struct {
	t       *testing.T
	db      *store.DB
	clock   *tiffintest.Clock
	svc     *Service
	metrics *telemetry.Metrics
	rcv     *hookReceiver
	ep      Endpoint
}

// newFixture runs the service (no bus: events are handed in) with River working its jobs, a
// settable clock, and one integrator endpoint at a local receiver.
func newFixture(t *testing.T, d store.Dialect) *fixture {
	t.Helper()
	db := tiffintest.NewStoreOn(t, d)
	clock := tiffintest.NewClock(time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC))
	m := telemetry.NewMetrics()
	q := jobs.New(db, jobs.Config{Workers: 16})
	policy := netguard.Policy{AllowLoopback: true}
	svc, err := New(db, nil, q, Config{
		Senders: map[string]Sender{Webhook: NewWebhookSender(db, policy, 2*time.Second, clock.Now)},
		Policy:  policy, Now: clock.Now, Metrics: m,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Open(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = q.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	rcv := &hookReceiver{now: clock.Now, ids: map[string]int{}, byOrder: map[string][]string{}}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	f := &fixture{t: t, db: db, clock: clock, svc: svc, metrics: m, rcv: rcv}
	f.exec(`INSERT INTO restaurants (id, owner_id, name, lat, lng, region, created_at, updated_at) VALUES ('r1', 'owner-1', 'Dosa Corner', 12.97, 77.59, 'r1', 0, 0)`)
	f.ep, err = svc.CreateEndpoint(context.Background(), auth.Principal{Role: auth.Ops, Subject: "integrator-1"}, srv.URL+"/hooks",
		[]string{"order.accepted", "order.picked_up", "order.delivered"}, "")
	if err != nil {
		t.Fatal(err)
	}
	secret, err := standardwebhook.ParseSecret(f.ep.Secret)
	if err != nil {
		t.Fatal(err)
	}
	rcv.secret = secret
	return f
}

func (f *fixture) exec(q string, args ...any) {
	f.t.Helper()
	if _, err := f.db.ExecContext(context.Background(), q, args...); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
}

// order inserts an order and hands the service its events of types, as the bus would.
func (f *fixture) order(id string, types ...event.Type) {
	f.t.Helper()
	f.exec(`INSERT INTO orders (id, customer_id, restaurant_id, region, status, subtotal, delivery_fee, total,
		currency, delivery_lat, delivery_lng, placed_by, created_at, updated_at)
		VALUES ($1, 'cust-1', 'r1', 'r1', 'accepted', 100, 10, 110, 'INR', 12.9, 77.6, 'cust-1', 0, 0)`, id)
	for _, typ := range types {
		f.event(id, typ)
	}
}

func (f *fixture) event(orderID string, typ event.Type) {
	f.t.Helper()
	e, err := event.New(typ, "r1", f.clock.Now(), event.Order{OrderID: orderID, Status: string(typ)})
	if err != nil {
		f.t.Fatal(err)
	}
	for range 2 { // delivered twice, as a bus may: notified once
		if err := f.svc.handle(context.Background(), e); err != nil {
			f.t.Fatal(err)
		}
	}
}

// step advances the clock by d, sweeps, and waits until every delivery the sweep started
// has recorded its outcome.
func (f *fixture) step(d time.Duration) {
	f.t.Helper()
	f.clock.Advance(d)
	ctx := context.Background()
	if _, err := f.svc.Sweep(ctx); err != nil {
		f.t.Fatal(err)
	}
	tiffintest.Eventually(f.t, 10*time.Second, func() (bool, string) {
		var n int
		if err := f.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM notify_messages WHERE calling = 1`).Scan(&n); err != nil {
			return false, err.Error()
		}
		return n == 0, fmt.Sprintf("%d deliveries under way", n)
	})
}

func (f *fixture) count(where string) int {
	f.t.Helper()
	var n int
	if err := f.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM notify_messages WHERE `+where).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// TestReceiverDownForADay: a webhook receiver down for 24 h (of the service's clock) while
// ten orders move, then back: every event is delivered exactly once by webhook-id, each
// order's in order, the endpoint is never disabled, and redelivered events notified no one
// twice.
func TestReceiverDownForADay(t *testing.T) {
	t.Parallel()
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, d)
			f.rcv.setDown(true)
			steps := []event.Type{event.OrderAccepted, event.OrderPickedUp, event.OrderDelivered}
			for i := range 10 {
				f.order(fmt.Sprint("ord-", i))
			}
			for _, typ := range steps {
				for i := range 10 {
					f.event(fmt.Sprint("ord-", i), typ)
				}
				f.step(10 * time.Minute)
			}
			for elapsed := 30 * time.Minute; elapsed < 24*time.Hour; elapsed += 15 * time.Minute {
				f.step(15 * time.Minute)
			}
			if sent := f.count(`channel = 'webhook' AND state = 'sent'`); sent != 0 {
				t.Fatalf("%d delivered while the receiver was down", sent)
			}
			// Each order's first event is retried all day; the later ones wait behind it, so
			// that the receiver gets every order's events in order.
			if heads := f.count(`channel = 'webhook' AND state = 'pending' AND kind = 'order.accepted' AND attempts > 5`); heads != 10 {
				t.Errorf("%d of 10 first events retried more than 5 times in the day", heads)
			}
			if waiting := f.count(`channel = 'webhook' AND state = 'pending' AND kind <> 'order.accepted' AND attempts = 0`); waiting != 20 {
				t.Errorf("%d of 20 later events waiting untried behind their order's first", waiting)
			}
			f.rcv.setDown(false)
			// Up to RetryMax (1 h, +20% jitter) for each order's first event, then one sweep
			// (a step) for each event queued behind it.
			for range 24 {
				f.step(5 * time.Minute)
			}
			if sent := f.count(`channel = 'webhook' AND state = 'sent'`); sent != 30 {
				t.Fatalf("%d of 30 delivered after the receiver came back; %d dead", sent, f.count(`state = 'dead'`))
			}
			// The customer's in-app notifications: one per event, however often it came.
			if inApp := f.count(`channel = 'in_app'`); inApp != 30 {
				t.Errorf("%d in-app notifications for 30 events delivered twice each, want 30", inApp)
			}
			f.rcv.mu.Lock()
			defer f.rcv.mu.Unlock()
			for id, n := range f.rcv.ids {
				if n != 1 {
					t.Errorf("webhook %s delivered %d times", id, n)
				}
			}
			if len(f.rcv.ids) != 30 || f.rcv.bad != 0 {
				t.Errorf("receiver took %d webhooks (%d badly signed), want 30", len(f.rcv.ids), f.rcv.bad)
			}
			for i := range 10 {
				got := f.rcv.byOrder[fmt.Sprint("ord-", i)]
				if strings.Join(got, " ") != "order.accepted order.picked_up order.delivered" {
					t.Errorf("ord-%d reached the receiver as %v, want accepted, picked_up, delivered", i, got)
				}
			}
			if eps, _ := f.svc.endpoints(context.Background(), `id = $1`, f.ep.ID); !eps[0].Enabled || !eps[0].FailingSince.IsZero() {
				t.Errorf("endpoint after recovery: %+v, want enabled and not failing", eps[0])
			}
		})
	}
}

// TestAlwaysFailingEndpointIsDisabled: a receiver that always answers 500 is disabled once it
// has failed for DisableAfter (72 h): its messages are dead, its owner has an in-app notice,
// the metric counts it; a replay once it is fixed delivers them.
func TestAlwaysFailingEndpointIsDisabled(t *testing.T) {
	t.Parallel()
	f := newFixture(t, store.SQLite)
	f.rcv.setDown(true)
	f.order("ord-1", event.OrderAccepted, event.OrderDelivered)
	for elapsed := time.Duration(0); elapsed <= 73*time.Hour; elapsed += 30 * time.Minute {
		f.step(30 * time.Minute)
	}
	eps, err := f.svc.endpoints(context.Background(), `id = $1`, f.ep.ID)
	if err != nil || len(eps) != 1 {
		t.Fatal(err)
	}
	if eps[0].Enabled || !strings.Contains(eps[0].DisabledReason, "failed since") {
		t.Fatalf("endpoint failing for 73 h: %+v, want disabled with its reason", eps[0])
	}
	if dead := f.count(`channel = 'webhook' AND state = 'dead'`); dead != 2 {
		t.Errorf("%d messages dead, want 2", dead)
	}
	if n := testutil.ToFloat64(f.metrics.WebhookEndpointsDisabled); n != 1 {
		t.Errorf("tiffin_webhook_endpoints_disabled_total = %v, want 1", n)
	}
	var title string
	if err := f.db.QueryRowContext(context.Background(),
		`SELECT title FROM notifications WHERE recipient = 'ops:integrator-1' AND kind = 'webhook_disabled'`).Scan(&title); err != nil {
		t.Fatalf("owner's in-app notice: %v", err)
	}
	// No more attempts while disabled.
	before := f.count(`attempts > 0`)
	f.order("ord-2", event.OrderAccepted)
	f.step(time.Hour)
	if f.count(`channel = 'webhook' AND state = 'sent'`) != 0 || f.count(`attempts > 0`) != before {
		t.Error("a disabled endpoint was still tried")
	}
	f.rcv.setDown(false)
	n, err := f.svc.Replay(context.Background(), f.ep.ID, f.clock.Now().Add(-100*time.Hour), "ops:integrator-1")
	if err != nil || n != 2 {
		t.Fatalf("replay: %d, %v; want 2 (ord-2's was never written: the endpoint was disabled)", n, err)
	}
	f.step(time.Second)
	f.step(time.Second)
	if sent := f.count(`channel = 'webhook' AND state = 'sent'`); sent != 2 {
		t.Errorf("%d sent after the replay, want 2", sent)
	}
}

// TestEndpointsRefusedInward: URLs at loopback, private, link-local and metadata addresses, a
// name resolving to loopback, and a redirect inward are all refused (the first at
// registration, the redirect at delivery, where the dialled address is checked).
func TestEndpointsRefusedInward(t *testing.T) {
	t.Parallel()
	db := tiffintest.NewStoreOn(t, store.SQLite)
	q := jobs.New(db, jobs.Config{})
	svc, err := New(db, nil, q, Config{})
	if err != nil {
		t.Fatal(err)
	}
	ops := auth.Principal{Role: auth.Ops, Subject: "integrator-1"}
	for _, u := range []string{
		"http://127.0.0.1/hook", "http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data",
		"http://[::1]:8080/hook", "http://localhost:9000/hook", "https://192.168.1.20/hook", "http://[fd00::1]/hook",
		"ftp://example.com/hook", "http://user:pw@example.com/hook",
	} {
		_, err := svc.CreateEndpoint(context.Background(), ops, u, []string{"order.accepted"}, "")
		var fe *fault.FieldError
		if !errors.As(err, &fe) || fe.Location != "body.url" {
			t.Errorf("register %s: %v, want a field error on body.url", u, err)
		}
	}
	if _, err := svc.CreateEndpoint(context.Background(), ops, "https://93.184.215.14/hook", []string{"order.sent-to-mars"}, ""); err == nil {
		t.Error("an unknown event type was accepted")
	}
	if _, err := svc.CreateEndpoint(context.Background(), ops, "https://93.184.215.14/hook", nil, ""); err == nil {
		t.Error("an endpoint for no events was accepted")
	}
	for _, u := range []string{"https://93.184.215.14:99999/hook", "http://93.184.215.14:0/hook", "http://[2002:a9fe:a9fe::]/hook"} {
		if _, err := svc.CreateEndpoint(context.Background(), ops, u, []string{"order.accepted"}, ""); err == nil {
			t.Errorf("%s was accepted", u)
		}
	}

	// A redirect inward: the first hop is allowed (a trusted prefix), the redirect's target,
	// loopback, is not.
	inner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(inner.Close)
	outer := httptest.NewServer(http.RedirectHandler(strings.Replace(inner.URL, "127.0.0.1", "127.0.0.2", 1), http.StatusFound))
	t.Cleanup(outer.Close)
	policy := netguard.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	f := &fixture{t: t, db: db}
	f.exec(`INSERT INTO webhook_endpoints (id, owner, url, events, secret, created_at, updated_at) VALUES ('whe_1', 'ops:x', $1, '[]', $2, 0, 0)`,
		outer.URL, standardwebhook.NewSecret().String())
	err = NewWebhookSender(db, policy, time.Second, nil).Send(context.Background(), Message{ID: "ntf_1", Recipient: "whe_1", Payload: []byte(`{}`)})
	if !errors.Is(err, netguard.ErrRefused) {
		t.Errorf("redirect to loopback: %v, want refused", err)
	}
}
