package dlq_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/bus"
	"github.com/tiffin-dev/tiffin/internal/dlq"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

func TestParseID(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		id   string
		want uint64
		ok   bool
	}{
		{"bus-1", 1, true},
		{"bus-18446744073709551615", 1<<64 - 1, true},
		{"bus-0", 0, false},
		{"bus-01", 0, false},
		{"bus-+1", 0, false},
		{"bus--1", 0, false},
		{"bus-18446744073709551616", 0, false},
		{"bus-", 0, false},
		{"bus", 0, false},
		{"job-1", 0, false},
		{"BUS-1", 0, false},
		{"", 0, false},
	} {
		got, err := dlq.ParseID(tt.id)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseID(%q) = %d, %v; want %d, ok %v", tt.id, got, err, tt.want, tt.ok)
		}
		if tt.ok && dlq.FormatID(got) != tt.id {
			t.Errorf("FormatID(%d) = %q, want %q", got, dlq.FormatID(got), tt.id)
		}
	}
}

// fixture is a bus with dead letters from one consumer whose handler fails until fixed.
type fixture struct {
	bus     *bus.Bus
	svc     *dlq.Service
	events  []event.Envelope
	fixed   atomic.Bool
	handled atomic.Int64
}

// newFixture dead-letters n events and waits until all are in.
func newFixture(t testing.TB, n int) *fixture {
	t.Helper()
	f := &fixture{bus: tiffintest.NewBus(t)}
	f.svc = dlq.New(f.bus, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})))
	ctx := context.Background()
	for i := range n {
		e, err := event.New(event.OrderPlaced, "r1", time.Now(), event.Order{OrderID: fmt.Sprintf("ord_%d", i), Status: "placed"})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.bus.Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
		f.events = append(f.events, e)
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- f.bus.Consume(cctx, "payments", []string{event.SubjectAll(event.OrderPlaced)}, func(ctx context.Context, e event.Envelope) error {
			if !f.fixed.Load() {
				return errors.New("provider down")
			}
			f.handled.Add(1)
			return nil
		}, bus.WithMaxDeliver(1), bus.WithRetryDelay(100*time.Millisecond, 100*time.Millisecond))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consume: %v", err)
		}
	})
	tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
		got, err := f.svc.Depth(ctx)
		return err == nil && got == n, fmt.Sprintf("%d dead letters, %v; want %d", got, err, n)
	})
	return f
}

func TestListShowRedrive(t *testing.T) {
	t.Parallel()
	const n = 12
	f := newFixture(t, n)
	ctx := context.Background()

	var entries []dlq.Entry
	cursor, pages := "", 0
	for {
		p, err := f.svc.List(ctx, cursor, 5)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if p.Total != n {
			t.Errorf("page %d: total %d, want %d", pages, p.Total, n)
		}
		entries = append(entries, p.Entries...)
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	if pages != 3 || len(entries) != n {
		t.Fatalf("listed %d entries in %d pages, want %d in 3", len(entries), pages, n)
	}
	ids := map[string]bool{}
	for _, e := range f.events {
		ids[e.ID] = true
	}
	for i, e := range entries {
		if e.Source != dlq.SourceBus || e.Consumer != "payments" || e.Tries != 1 || e.Reason != "provider down" ||
			e.Subject != event.Subject("r1", event.OrderPlaced) || e.FirstFailedAt.IsZero() || e.LastFailedAt.Before(e.FirstFailedAt) {
			t.Errorf("entry %d: %+v", i, e)
		}
		d, err := f.svc.Show(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(e, d.Entry); diff != "" {
			t.Errorf("Show's entry differs from List's (-list +show):\n%s", diff)
		}
		got, err := event.Decode([]byte(d.Payload))
		if err != nil || !ids[got.ID] || d.MsgID != got.ID || d.Headers[bus.HeaderDLQConsumer] != "payments" {
			t.Errorf("Show(%s): payload %q, msg id %q, headers %v", e.ID, d.Payload, d.MsgID, d.Headers)
		}
		for k := range d.Headers {
			if strings.HasPrefix(k, "Nats-") {
				t.Errorf("Show(%s): header %s: %s is the dead letter's own publish's, not the message's", e.ID, k, d.Headers[k])
			}
		}
		delete(ids, got.ID)
		if p, ok := strings.CutSuffix(e.Preview, "…"); !strings.HasPrefix(d.Payload, p) || len(p) > dlq.PreviewBytes || (!ok && p != d.Payload) {
			t.Errorf("Show(%s): preview %q is not the start of payload %q", e.ID, e.Preview, d.Payload)
		}
	}
	if len(ids) > 0 {
		t.Errorf("events not dead-lettered: %v", ids)
	}
	if _, err := f.svc.Show(ctx, "bus-999"); !errors.Is(err, dlq.ErrNotFound) {
		t.Errorf("Show(bus-999) = %v, want ErrNotFound", err)
	}
	if _, err := f.svc.Show(ctx, "999"); !errors.Is(err, fault.Invalid) {
		t.Errorf("Show(999) = %v, want an invalid-input error", err)
	}
	if _, err := f.svc.Redrive(ctx, []string{"bus-1", "nope"}); !errors.Is(err, fault.Invalid) {
		t.Errorf("Redrive with a malformed ID = %v, want an invalid-input error", err)
	}
	if got, err := f.svc.Depth(ctx); err != nil || got != n {
		t.Errorf("a refused redrive left %d dead letters, %v; want %d", got, err, n)
	}

	f.fixed.Store(true)
	res, err := f.svc.Redrive(ctx, []string{entries[0].ID, entries[0].ID, "bus-999"})
	if err != nil {
		t.Fatal(err)
	}
	want := dlq.RedriveResult{Redriven: []string{entries[0].ID}, NotFound: []string{"bus-999"}, Failed: []dlq.Failure{}, Remaining: n - 1}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("Redrive mismatch (-want +got):\n%s", diff)
	}
	res, err = f.svc.RedriveAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Redriven) != n-1 || len(res.NotFound)+len(res.Failed) != 0 || res.Remaining != 0 {
		t.Errorf("RedriveAll = %+v, want %d redriven and 0 remaining", res, n-1)
	}
	tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
		return f.handled.Load() == n, fmt.Sprintf("redriven messages handled %d times, want %d", f.handled.Load(), n)
	})
	time.Sleep(300 * time.Millisecond) // time for any second delivery to show
	if got := f.handled.Load(); got != n {
		t.Errorf("redriven messages handled %d times, want %d", got, n)
	}
}

// FuzzRedriveBody throws arbitrary bodies at POST /v1/ops/dlq/redrive: whatever comes in, the
// answer is 200 or a 4xx problem, never a 5xx, and a refused body redrives nothing.
func FuzzRedriveBody(f *testing.F) {
	b := tiffintest.NewBus(f)
	keys, err := auth.LoadOrCreate(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	srv := httpapi.New(httpapi.Config{Keys: keys, Logger: slog.New(slog.DiscardHandler)})
	dlq.New(b, nil).Register(srv)
	h := srv.Handler()
	tok, err := keys.Issue(auth.Principal{Subject: "ops-1", Role: auth.Ops}, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		`{"ids":["bus-1"]}`, `{"ids":["bus-1","bus-2","bus-1"]}`, `{"all":true}`, `{"all":false}`,
		`{"ids":[],"all":true}`, `{"ids":["bus-1"],"all":true}`, `{"ids":[]}`, `{}`,
		`{"ids":["bus-0"]}`, `{"ids":["bus-18446744073709551616"]}`, `{"ids":["job-1"]}`,
		`{"ids":[1]}`, `{"ids":"bus-1"}`, `{"ids":null}`, `{"all":"yes"}`, `{"all":true,"x":1}`,
		`{"ids":["` + strings.Repeat("9", 100) + `"]}`, `[]`, `null`, `""`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/v1/ops/dlq/redrive", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("body %q: status %d %s", body, rec.Code, rec.Body)
		}
		if rec.Code != http.StatusOK && rec.Code < 400 {
			t.Fatalf("body %q: status %d, want 200 or 4xx", body, rec.Code)
		}
		if rec.Code >= 400 && !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") {
			t.Fatalf("body %q: %d answered as %q, want a problem", body, rec.Code, rec.Header().Get("Content-Type"))
		}
		_, _ = io.Copy(io.Discard, rec.Body)
	})
}
