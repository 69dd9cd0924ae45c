package carrierfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/fulfil/carrierfake"
	"github.com/tiffin-dev/tiffin/internal/standardwebhook"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type fixture struct {
	fake  *carrierfake.Server
	srv   *httptest.Server
	clock *clock
	hc    *http.Client
}

func newFixture(t *testing.T, cfg carrierfake.Config) *fixture {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	cfg.Now = c.Now
	fake := carrierfake.New(cfg)
	srv := httptest.NewServer(fake)
	t.Cleanup(func() { fake.Close(); srv.Close() })
	return &fixture{fake: fake, srv: srv, clock: c, hc: &http.Client{Timeout: 2 * time.Second}}
}

// do sends a request and decodes a JSON answer into out (when given).
func (f *fixture) do(t *testing.T, method, path, key string, body any, out any) (int, error) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, f.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+f.fake.Key())
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, err
		}
	}
	return resp.StatusCode, nil
}

func (f *fixture) book(t *testing.T, ref, key string) (carrierfake.Booking, int) {
	t.Helper()
	var b carrierfake.Booking
	code, err := f.do(t, http.MethodPost, "/v1/bookings", key, map[string]any{"reference": ref}, &b)
	if err != nil {
		t.Fatalf("book %s: %v", ref, err)
	}
	return b, code
}

func (f *fixture) lookup(t *testing.T, ref string) []carrierfake.Booking {
	t.Helper()
	var out struct{ Bookings []carrierfake.Booking }
	if code, err := f.do(t, http.MethodGet, "/v1/bookings?reference="+ref, "", nil, &out); err != nil || code != 200 {
		t.Fatalf("lookup %s: %d, %v", ref, code, err)
	}
	return out.Bookings
}

func TestBookingsAreIdempotentAndTracked(t *testing.T) {
	f := newFixture(t, carrierfake.Config{})
	b, code := f.book(t, "shp_1", "k1")
	if code != http.StatusCreated || b.Status != carrierfake.StatusBooked || b.ID == "" {
		t.Fatalf("book: %d %+v", code, b)
	}
	again, code := f.book(t, "shp_1", "k1")
	if code != http.StatusOK || again.ID != b.ID {
		t.Errorf("repeat under the key: %d %+v, want 200 and the same booking", code, again)
	}
	if st := f.fake.Stats(); st.Bookings != 1 || st.DuplicateBookings != 0 {
		t.Errorf("after a repeat: %+v", st)
	}
	f.book(t, "shp_1", "k2") // a client that rebooks without looking first
	if st := f.fake.Stats(); st.Bookings != 2 || st.DuplicateBookings != 1 {
		t.Errorf("after a second booking of one reference: %+v, want 2 bookings, 1 duplicate", st)
	}
	if got := f.lookup(t, "shp_1"); len(got) != 2 {
		t.Errorf("lookup: %d bookings, want 2", len(got))
	}
	f.clock.add(3 * time.Minute)
	var polled carrierfake.Booking
	if _, err := f.do(t, http.MethodGet, "/v1/bookings/"+b.ID, "", nil, &polled); err != nil || polled.Status != carrierfake.StatusPickedUp {
		t.Errorf("poll after pickup time: %+v, %v", polled, err)
	}
	if code, _ := f.do(t, http.MethodPost, "/v1/bookings/"+b.ID+"/cancel", "", nil, nil); code != http.StatusConflict {
		t.Errorf("cancel once picked up: %d, want 409", code)
	}
	other, _ := f.book(t, "shp_2", "k3")
	var cancelled carrierfake.Booking
	if code, err := f.do(t, http.MethodPost, "/v1/bookings/"+other.ID+"/cancel", "", nil, &cancelled); err != nil || code != 200 || cancelled.Status != carrierfake.StatusCancelled {
		t.Errorf("cancel: %d %+v %v", code, cancelled, err)
	}
	if code, _ := f.do(t, http.MethodGet, "/v1/bookings/bk_nope", "", nil, nil); code != http.StatusNotFound {
		t.Errorf("unknown booking: %d", code)
	}
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/v1/bookings?reference=x", nil)
	if resp, err := f.hc.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no key: %v %v", resp, err)
	}
}

func TestModes(t *testing.T) {
	f := newFixture(t, carrierfake.Config{SlowDelay: 50 * time.Millisecond, FlakyShare: 1, HangLimit: 5 * time.Second})
	set := func(m carrierfake.Mode) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, f.srv.URL+"/_fake", strings.NewReader(`{"mode": "`+string(m)+`"}`))
		resp, err := f.hc.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("set mode %s: %v %v", m, resp, err)
		}
		resp.Body.Close()
	}

	set(carrierfake.Down)
	if _, err := f.do(t, http.MethodGet, "/v1/bookings?reference=x", "", nil, nil); err == nil {
		t.Error("down: answered")
	}

	set(carrierfake.Garbage)
	if _, err := f.do(t, http.MethodPost, "/v1/bookings", "g1", map[string]any{"reference": "shp_g"}, &carrierfake.Booking{}); err == nil {
		t.Error("garbage: decoded")
	}

	set(carrierfake.LoseBookings)
	if _, code := f.book(t, "shp_lost", "l1"); code != http.StatusCreated {
		t.Errorf("lose-bookings: %d, want 201", code)
	}
	set(carrierfake.Up)
	if got := f.lookup(t, "shp_lost"); len(got) != 0 {
		t.Errorf("a lost booking is found: %+v", got)
	}
	if _, code := f.book(t, "shp_g", "g2"); code != http.StatusCreated || f.fake.Stats().DuplicateBookings != 1 {
		t.Errorf("rebooking a reference garbage had booked: %d, stats %+v", code, f.fake.Stats())
	}

	set(carrierfake.TimeoutAfterBooking)
	f.hc.Timeout = 300 * time.Millisecond
	if _, err := f.do(t, http.MethodPost, "/v1/bookings", "t1", map[string]any{"reference": "shp_t"}, nil); err == nil {
		t.Error("timeout-after-booking: answered")
	}
	f.hc.Timeout = 2 * time.Second
	set(carrierfake.Up)
	if got := f.lookup(t, "shp_t"); len(got) != 1 {
		t.Errorf("the unanswered booking: lookup found %d, want 1", len(got))
	}

	set(carrierfake.Flaky) // FlakyShare 1: every request fails, bookings half after acting
	for range 10 {
		if code, _ := f.do(t, http.MethodGet, "/v1/bookings?reference=x", "", nil, nil); code < 500 {
			t.Errorf("flaky read: %d, want 5xx", code)
		}
	}

	set(carrierfake.Slow)
	began := time.Now()
	f.lookup(t, "x")
	if time.Since(began) < 50*time.Millisecond {
		t.Error("slow: answered at once")
	}

	req, _ := http.NewRequest(http.MethodPut, f.srv.URL+"/_fake", strings.NewReader(`{"mode": "sideways"}`))
	if resp, err := f.hc.Do(req); err != nil || resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("unknown mode: %v %v", resp, err)
	}
}

// Status webhooks are signed per Standard Webhooks, one per change, each twice in
// duplicate-webhooks with the same webhook-id.
func TestWebhooks(t *testing.T) {
	secret := standardwebhook.NewSecret()
	var mu sync.Mutex
	var got []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id, err := standardwebhook.Verify(r.Header, body, secret, time.Date(2026, 11, 29, 12, 5, 0, 0, time.UTC), time.Hour)
		if err != nil {
			t.Errorf("webhook signature: %v", err)
		}
		mu.Lock()
		got = append(got, id)
		mu.Unlock()
	}))
	defer recv.Close()
	f := newFixture(t, carrierfake.Config{WebhookURL: recv.URL, WebhookSecret: secret})
	b, _ := f.book(t, "shp_w", "w1")
	ctx := context.Background()
	if n := f.fake.Tick(ctx); n != 0 {
		t.Errorf("tick before any change: %d sent", n)
	}
	f.clock.add(3 * time.Minute)
	if n := f.fake.Tick(ctx); n != 1 {
		t.Errorf("tick after pickup: %d sent, want 1", n)
	}
	if err := f.fake.SetMode(carrierfake.DuplicateWebhooks); err != nil {
		t.Fatal(err)
	}
	f.clock.add(10 * time.Minute)
	if n := f.fake.Tick(ctx); n != 2 {
		t.Errorf("tick after delivery, duplicating: %d sent, want 2", n)
	}
	want := []string{"evt_" + b.ID + "_picked_up", "evt_" + b.ID + "_delivered", "evt_" + b.ID + "_delivered"}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("webhook ids: got %v, want %v", got, want)
	}
}

// TestMix: while up, a mix fails requests in its modes by their shares: 40% of 400 bookings
// forgotten, the rest kept.
func TestMix(t *testing.T) {
	t.Parallel()
	f := newFixture(t, carrierfake.Config{Mix: map[carrierfake.Mode]float64{carrierfake.LoseBookings: 0.4}, Seed: 7})
	for i := range 400 {
		if _, code := f.book(t, fmt.Sprint("shp_", i), fmt.Sprint("k", i)); code != http.StatusCreated && code != http.StatusOK {
			t.Fatalf("booking %d: %d", i, code)
		}
	}
	kept := f.fake.Stats().Bookings
	if kept < 200 || kept > 280 {
		t.Errorf("%d of 400 bookings kept with 40%% lost, want about 240", kept)
	}
}
