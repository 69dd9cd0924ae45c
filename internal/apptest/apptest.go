// Package apptest boots the whole tiffin app (store, bus, every service, the HTTP edge) on a
// free port for end-to-end tests, and gives them a small HTTP client that speaks as any role.
// It lives apart from tiffintest so that service packages' own tests can use tiffintest
// without importing the app (and so themselves).
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/app"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// App is a running app under test.
type App struct {
	*app.App
	URL    string
	Client *http.Client
	tb     testing.TB
	stop   func()
}

// Start boots the app on backend d with the given config tweaks, waits until it is ready, and
// stops it at cleanup. On PostgreSQL the app gets a fresh schema, unless tweak sets DB itself.
func Start(tb testing.TB, d store.Dialect, tweak func(*app.Config)) *App {
	tb.Helper()
	a := StartServing(tb, d, tweak)
	a.WaitReady()
	return a
}

// StartServing is Start without waiting for readiness: the app may be serving degraded (its
// broker away, say). The edge's rate limits are off unless tweak turns them on.
func StartServing(tb testing.TB, d store.Dialect, tweak func(*app.Config)) *App {
	tb.Helper()
	cfg := app.Config{
		Addr:    "127.0.0.1:0",
		DataDir: tb.TempDir(),
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	// Tests poll in tight loops and place many orders as one customer, as no client should:
	// the edge's rate limits and stream caps are off unless a test turns them on
	// (c.RateLimits.Off = false), as the limits' own tests do.
	cfg.RateLimits.Off = true
	if os.Getenv("TIFFIN_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if tweak != nil {
		tweak(&cfg)
	}
	if d == store.Postgres && cfg.DB == "" {
		cfg.DB = tiffintest.DSN(tb, d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg)
	if err != nil {
		cancel()
		tb.Fatalf("start app: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					tb.Errorf("app stopped with error: %v", err)
				}
			case <-time.After(30 * time.Second):
				tb.Errorf("app did not stop within 30s")
			}
		})
	}
	tb.Cleanup(stop)
	return &App{App: a, URL: a.URL(), Client: &http.Client{Timeout: 20 * time.Second}, tb: tb, stop: stop}
}

// Stop shuts the app down cleanly now (as at cleanup) and waits for it, failing the test if it
// errors or hangs; its store and bus are closed afterwards.
func (a *App) Stop() { a.stop() }

// WaitReady polls /readyz until it answers 200.
func (a *App) WaitReady() {
	a.tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := a.Client.Get(a.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	a.tb.Fatalf("app at %s never became ready", a.URL)
}

// Token mints a token for role and subject.
func (a *App) Token(role auth.Role, subject string) string {
	a.tb.Helper()
	tok, err := a.Keys().Issue(auth.Principal{Subject: subject, Role: role}, time.Hour)
	if err != nil {
		a.tb.Fatalf("issue token: %v", err)
	}
	return tok
}

// Metrics scrapes /metrics as an operator would: on the metrics listener when the app has
// one (Config.MetricsAddr), else on the edge with an ops token.
func (a *App) Metrics() string {
	a.tb.Helper()
	if u := a.MetricsURL(); u != "" {
		resp, err := a.Client.Get(u + "/metrics")
		if err != nil {
			a.tb.Fatalf("scrape %s/metrics: %v", u, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			a.tb.Fatalf("scrape %s/metrics: %d (%v)", u, resp.StatusCode, err)
		}
		return string(b)
	}
	r := a.Do("GET", "/metrics", a.Token(auth.Ops, "metrics-scraper"), nil)
	if r.Status != http.StatusOK {
		a.tb.Fatalf("scrape /metrics: %d %s", r.Status, r.Body)
	}
	return string(r.Body)
}

// Response is a decoded HTTP answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test on error.
func (r Response) JSON(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		tb.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Do sends a request with an optional bearer token, JSON body (any value, or a string/[]byte
// sent verbatim) and extra headers (pairs of name, value).
func (a *App) Do(method, path, token string, body any, headers ...string) Response {
	a.tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			a.tb.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, a.URL+path, rd)
	if err != nil {
		a.tb.Fatalf("new request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := a.Client.Do(req)
	if err != nil {
		a.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.tb.Fatalf("read %s %s: %v", method, path, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}
