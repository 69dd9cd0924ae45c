package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/httpapi"
)

// running is an app under test with extra routes, run until stop.
type running struct {
	*App
	cancel context.CancelFunc
	done   chan error
}

// runApp runs only the HTTP edge (and the relay) with the given grace, after register has added
// test routes to its mux.
func runApp(t *testing.T, grace time.Duration, register func(*httpapi.Mux)) *running {
	t.Helper()
	a, err := New(context.Background(), Config{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), Services: []string{"api"}, ShutdownGrace: grace,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	register(a.srv.Mux())
	for _, p := range a.srv.Undeclared() {
		a.srv.Declare(p) // the test's own routes: anyone may call them
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{App: a, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx) }()
	t.Cleanup(cancel)
	return r
}

// stop cancels the run and returns how long Run took to return, failing if it errors or hangs.
func (r *running) stop(t *testing.T) time.Duration {
	t.Helper()
	began := time.Now()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s of cancel")
	}
	return time.Since(began)
}

type reply struct {
	status int
	body   string
	err    error
}

func get(url string, header ...string) <-chan reply {
	out := make(chan reply, 1)
	go func() {
		req, _ := http.NewRequest("GET", url, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			out <- reply{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		out <- reply{status: resp.StatusCode, body: string(b), err: err}
	}()
	return out
}

// A request in flight when shutdown begins runs to the end, uncancelled, and gets its answer;
// an event stream open at the same time ends at once instead of holding the drain.
func TestShutdownDrainsInFlightRequests(t *testing.T) {
	t.Parallel()
	started, streaming := make(chan struct{}), make(chan struct{})
	const work = time.Second
	a := runApp(t, 10*time.Second, func(mux *httpapi.Mux) {
		mux.HandleFunc("GET /test/slow", func(w http.ResponseWriter, r *http.Request) {
			close(started)
			select {
			case <-time.After(work):
				io.WriteString(w, "done")
			case <-r.Context().Done():
				http.Error(w, "cancelled", http.StatusServiceUnavailable)
			}
		})
		mux.HandleFunc("GET /test/events", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			http.NewResponseController(w).Flush()
			close(streaming)
			<-r.Context().Done()
		})
	})
	stream := get(a.URL()+"/test/events", "Accept", "text/event-stream")
	<-streaming
	slow := get(a.URL() + "/test/slow")
	<-started
	took := a.stop(t)
	if r := <-slow; r.err != nil || r.status != http.StatusOK || r.body != "done" {
		t.Errorf("request in flight at shutdown: got %d %q, %v; want 200 \"done\"", r.status, r.body, r.err)
	}
	if r := <-stream; r.err != nil || r.status != http.StatusOK {
		t.Errorf("event stream: got %d, %v; want 200 ended cleanly", r.status, r.err)
	}
	if took > work+5*time.Second {
		t.Errorf("shutdown took %v: the event stream held the drain (grace 10s)", took)
	}
	if r := <-get(a.URL() + "/healthz"); r.err == nil {
		t.Errorf("a request after shutdown got %d, want no connection", r.status)
	}
}

// A request that outlives the grace is cancelled and cut off, and one that ignores its context
// is left behind: shutdown takes the grace, not forever.
func TestShutdownNeverHangs(t *testing.T) {
	t.Parallel()
	const grace = 300 * time.Millisecond
	longStarted, cancelled, stuck := make(chan struct{}), make(chan struct{}), make(chan struct{})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	a := runApp(t, grace, func(mux *httpapi.Mux) {
		mux.HandleFunc("GET /test/long", func(w http.ResponseWriter, r *http.Request) {
			close(longStarted)
			select {
			case <-time.After(time.Minute):
			case <-r.Context().Done():
				close(cancelled)
			}
		})
		mux.HandleFunc("GET /test/stuck", func(w http.ResponseWriter, r *http.Request) {
			close(stuck)
			<-release
		})
	})
	long := get(a.URL() + "/test/long")
	stuckReply := get(a.URL() + "/test/stuck")
	<-longStarted
	<-stuck
	took := a.stop(t)
	if took > grace+10*time.Second {
		t.Errorf("shutdown took %v with a %v grace", took, grace)
	}
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Error("the long request was never cancelled")
	}
	<-long // answered by its handler once cancelled, or cut off: either way, over
	if r := <-stuckReply; r.err == nil {
		t.Errorf("request cut off by shutdown: got %d %q, want a closed connection", r.status, r.body)
	}
}
