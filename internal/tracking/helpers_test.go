package tracking

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/bus"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/telemetry"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// fixture is a tracking service on a real store and a real embedded bus, with its routes on
// a test HTTP server.
type fixture struct {
	t       testing.TB
	db      *store.DB
	bus     *bus.Bus
	svc     *Service
	srv     *httpapi.Server
	keys    *auth.Keys
	metrics *telemetry.Metrics
	url     string
}

func newFixture(t testing.TB, d store.Dialect, cfg Config) *fixture {
	t.Helper()
	db := tiffintest.NewStoreOn(t, d)
	b := tiffintest.NewBus(t)
	f := &fixture{t: t, db: db, bus: b, metrics: telemetry.NewMetrics()}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	cfg.Metrics = f.metrics
	f.svc = New(db, b, cfg)
	var err error
	if f.keys, err = auth.LoadOrCreate(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	f.srv = httpapi.New(httpapi.Config{Keys: f.keys, Metrics: f.metrics, Logger: cfg.Logger})
	f.svc.Register(f.srv)
	hs := httptest.NewServer(f.srv.Handler())
	t.Cleanup(hs.Close)
	f.url = hs.URL
	return f
}

// run starts the service until the test ends and waits until it follows the bus.
func (f *fixture) run() {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.svc.Run(ctx) }()
	f.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			f.t.Errorf("run: %v", err)
		}
	})
	select {
	case <-f.svc.ready:
	case err := <-done:
		f.t.Fatalf("run ended early: %v", err)
	}
}

func (f *fixture) exec(query string, args ...any) {
	f.t.Helper()
	if _, err := f.db.ExecContext(context.Background(), query, args...); err != nil {
		f.t.Fatalf("%s: %v", query, err)
	}
}

func (f *fixture) token(subject string, role auth.Role) string {
	f.t.Helper()
	tok, err := f.keys.Issue(auth.Principal{Subject: subject, Role: role}, time.Hour)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// post sends body as principal and returns the status and response body.
func (f *fixture) post(path, token string, body []byte) (int, []byte) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.url+path, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// publish publishes an event on the bus, as the outbox relay would.
func (f *fixture) publish(t event.Type, payload any) {
	f.t.Helper()
	e, err := event.New(t, "r1", time.Now(), payload)
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.bus.Publish(ctx, e); err != nil {
		f.t.Fatal(err)
	}
}

// sse is one server-sent event as a client reads it.
type sse struct {
	ID, Event, Data string
}

// stream is an open event stream.
type stream struct {
	t      testing.TB
	resp   *http.Response
	cancel context.CancelFunc
	events chan sse
	done   chan struct{} // closed when the server ends the stream

	heartbeats atomic.Int64 // comment lines seen
}

// openStream opens GET /v1/orders/{id}/events with token.
func (f *fixture) openStream(orderID, token string) (*stream, int) {
	f.t.Helper()
	return f.resumeStream(orderID, token, "")
}

// resumeStream opens the order's event stream as a client reconnecting with a Last-Event-ID
// (none when lastEventID is empty).
func (f *fixture) resumeStream(orderID, token, lastEventID string) (*stream, int) {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url+"/v1/orders/"+orderID+"/events", nil)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode
	}
	s := &stream{t: f.t, resp: resp, cancel: cancel, events: make(chan sse, 64), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		r := bufio.NewReader(resp.Body)
		var cur sse
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "":
				if cur.Event != "" {
					select {
					case s.events <- cur:
					case <-ctx.Done():
						return
					}
				}
				cur = sse{}
			case strings.HasPrefix(line, ":"):
				s.heartbeats.Add(1)
			case strings.HasPrefix(line, "id: "):
				cur.ID = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				cur.Event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				cur.Data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return s, resp.StatusCode
}

// next returns the next event, failing the test if none comes in time.
func (s *stream) next() sse {
	s.t.Helper()
	return s.nextWithin(15 * time.Second)
}

// nextWithin returns the next event, failing the test if none comes within d.
func (s *stream) nextWithin(d time.Duration) sse {
	s.t.Helper()
	select {
	case e := <-s.events:
		return e
	case <-time.After(d):
		s.t.Fatalf("no event within %v", d)
		return sse{}
	}
}

// close hangs up, as a client that loses its connection.
func (s *stream) close() {
	s.cancel()
	<-s.done
}

// ended waits for the server to end the stream, with no event left unread.
func (s *stream) ended() {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.t.Fatal("stream did not end")
	}
	select {
	case e := <-s.events:
		s.t.Errorf("unexpected event after the end: %+v", e)
	default:
	}
}

func decode[T any](t testing.TB, data string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(data), &v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return v
}
