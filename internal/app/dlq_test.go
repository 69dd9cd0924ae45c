package app_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/bus"
	"github.com/tiffin-dev/tiffin/internal/dlq"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// TestDeadLettersOverHTTP boots the whole app, makes a consumer on its bus dead-letter events
// (each after exactly two tries), and has ops read and redrive them over HTTP: every redriven
// event is processed exactly once (its processed-event record and its effect written once),
// the dead-letter view and the metric end at zero.
func TestDeadLettersOverHTTP(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, store.SQLite, nil)
	ops := a.Token(auth.Ops, "ops-1")
	ctx := context.Background()
	const n = 25
	const consumer = "test-kitchen"

	var broken atomic.Bool
	broken.Store(true)
	var tries, effects atomic.Int64
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- a.Bus().Consume(cctx, consumer, []string{event.SubjectAll(event.DeliveryOffered)}, func(ctx context.Context, e event.Envelope) error {
			tries.Add(1)
			if broken.Load() {
				return errors.New("kitchen printer jammed")
			}
			// The pattern every tiffin consumer follows: a processed-event record and the
			// effect in one transaction.
			return a.DB().InTx(ctx, func(tx *store.Tx) error {
				first, err := tx.Processed(ctx, consumer, e.ID)
				if err != nil || !first {
					return err
				}
				effects.Add(1)
				return nil
			})
		}, bus.WithMaxDeliver(2), bus.WithRetryDelay(400*time.Millisecond, 400*time.Millisecond))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consume: %v", err)
		}
	})
	for i := range n {
		e, err := event.New(event.DeliveryOffered, "r1", time.Now(), map[string]string{"order_id": fmt.Sprintf("ord_%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Bus().Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
	}

	var page dlq.Page
	tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
		r := a.Do("GET", "/v1/ops/dlq?limit=10", ops, nil)
		if r.Status != http.StatusOK {
			return false, fmt.Sprintf("list: %d %s", r.Status, r.Body)
		}
		page = dlq.Page{}
		r.JSON(t, &page)
		return page.Total == n, fmt.Sprintf("%d dead letters listed, want %d", page.Total, n)
	})
	if got := tries.Load(); got != 2*n {
		t.Errorf("handler tried %d times before dead-lettering, want exactly %d (2 each)", got, 2*n)
	}
	if len(page.Entries) != 10 || page.NextCursor != page.Entries[9].ID {
		t.Errorf("first page: %d entries, next cursor %q; want 10 and the last ID", len(page.Entries), page.NextCursor)
	}
	first := page.Entries[0]
	if first.Source != "bus" || first.Consumer != consumer || first.Tries != 2 || first.Reason != "kitchen printer jammed" ||
		!strings.HasPrefix(first.Subject, "tiffin.r1.delivery.offered") {
		t.Errorf("entry %+v", first)
	}
	if got := metric(t, a, `tiffin_dead_letters{source="bus"}`); got != fmt.Sprint(n) {
		t.Errorf("dead-letter metric %s, want %d", got, n)
	}
	for _, tok := range []string{a.Token(auth.Customer, "cust-1"), a.Token(auth.Restaurant, "owner-1")} {
		if r := a.Do("POST", "/v1/ops/dlq/redrive", tok, map[string]any{"all": true}); r.Status != http.StatusForbidden {
			t.Errorf("non-ops redrive: got %d, want 403", r.Status)
		}
	}
	var d dlq.Detail
	a.Do("GET", "/v1/ops/dlq/"+first.ID, ops, nil).JSON(t, &d)
	if e, err := event.Decode([]byte(d.Payload)); err != nil || d.ID != first.ID || d.MsgID != e.ID || d.Headers[bus.HeaderDLQConsumer] != consumer {
		t.Errorf("detail %+v", d)
	}
	if r := a.Do("GET", "/v1/ops/dlq/bus-99999", ops, nil); r.Status != http.StatusNotFound {
		t.Errorf("unknown dead letter: got %d, want 404", r.Status)
	}
	for _, body := range []string{`{}`, `{"ids":[]}`, `{"ids":["bus-1"],"all":true}`, `{"ids":["nope"]}`} {
		if r := a.Do("POST", "/v1/ops/dlq/redrive", ops, body); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("redrive %s: got %d %s, want 422", body, r.Status, r.Body)
		}
	}

	broken.Store(false)
	var res dlq.RedriveResult
	a.Do("POST", "/v1/ops/dlq/redrive", ops, map[string]any{"ids": []string{first.ID, "bus-99999"}}).JSON(t, &res)
	if len(res.Redriven) != 1 || res.Redriven[0] != first.ID || len(res.NotFound) != 1 || res.Remaining != n-1 {
		t.Errorf("redrive one: %+v", res)
	}
	res = dlq.RedriveResult{}
	a.Do("POST", "/v1/ops/dlq/redrive", ops, map[string]any{"all": true}).JSON(t, &res)
	if len(res.Redriven) != n-1 || len(res.Failed) != 0 || res.Remaining != 0 {
		t.Errorf("redrive all: %d redriven, %d failed, %d remaining; want %d, 0, 0", len(res.Redriven), len(res.Failed), res.Remaining, n-1)
	}

	tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
		return effects.Load() == n, fmt.Sprintf("%d effects, want %d", effects.Load(), n)
	})
	time.Sleep(500 * time.Millisecond) // time for any second delivery to show
	var records int
	if err := a.DB().QueryRow(`SELECT COUNT(*) FROM processed_events WHERE consumer = $1`, consumer).Scan(&records); err != nil {
		t.Fatal(err)
	}
	// Delivery stays at least once (a handler that outlives its deadline on a starved machine
	// is handed out again); the effect is once.
	if got := tries.Load(); effects.Load() != n || records != n || got < 3*n {
		t.Errorf("after redrive: %d effects, %d processed records, %d tries; want %d, %d, at least %d", effects.Load(), records, got, n, n, 3*n)
	}
	page = dlq.Page{}
	a.Do("GET", "/v1/ops/dlq", ops, nil).JSON(t, &page)
	if page.Total != 0 || len(page.Entries) != 0 {
		t.Errorf("after redrive the view holds %d (%d listed), want 0", page.Total, len(page.Entries))
	}
	if got := metric(t, a, `tiffin_dead_letters{source="bus"}`); got != "0" {
		t.Errorf("dead-letter metric %s after redrive, want 0", got)
	}
}

// metric returns the value of the sample named exactly series on /metrics.
func metric(t *testing.T, a *apptest.App, series string) string {
	t.Helper()
	for line := range strings.Lines(a.Metrics()) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), series+" "); ok {
			return v
		}
	}
	t.Fatalf("no %s on /metrics", series)
	return ""
}
