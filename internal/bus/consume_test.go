package bus_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/bus"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// fast makes retries quick enough for tests. Each step is also an ack deadline, which a
// process starved of CPU (the race detector on a busy machine) must not miss, so not too quick.
var fast = []bus.ConsumeOption{bus.WithRetryDelay(100*time.Millisecond, 200*time.Millisecond), bus.WithMaxDeliver(3)}

// calls counts handler calls per event ID.
type calls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *calls) add(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[id]++
	return c.n[id]
}

func (c *calls) get(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[id]
}

func publish(tb testing.TB, b *bus.Bus, events ...event.Envelope) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, e := range events {
		if err := b.Publish(ctx, e); err != nil {
			tb.Fatalf("publish: %v", err)
		}
	}
}

func TestConsumeRedeliversAfterError(t *testing.T) { testConsumeRedeliversAfterError(t, newBus) }

func testConsumeRedeliversAfterError(t *testing.T, newBus func(testing.TB) *bus.Bus) {
	t.Parallel()
	b := newBus(t)
	var events []event.Envelope
	for i := range 20 {
		events = append(events, newEvent(t, fmt.Sprintf("ord_%d", i)))
	}
	publish(t, b, events...)

	var seen calls
	done := make(chan string, len(events))
	start(t, "consume", func(ctx context.Context) error {
		return b.Consume(ctx, "orders-test", []string{event.SubjectAll(event.OrderPlaced)}, func(ctx context.Context, e event.Envelope) error {
			if seen.add(e.ID) == 1 {
				return errors.New("first attempt fails")
			}
			done <- e.ID
			return nil
		}, fast...)
	})

	got := map[string]bool{}
	timeout := time.After(30 * time.Second)
	for len(got) < len(events) {
		select {
		case id := <-done:
			if got[id] {
				t.Errorf("event %s handled successfully twice", id)
			}
			got[id] = true
		case <-timeout:
			if c, err := b.JetStream().Consumer(context.Background(), bus.Stream, "orders-test"); err == nil {
				info, err := c.Info(context.Background())
				t.Logf("consumer info: %+v, %v", info, err)
			}
			t.Fatalf("handled %d of %d events", len(got), len(events))
		}
	}
	for _, e := range events {
		if n := seen.get(e.ID); n != 2 {
			t.Errorf("event %s: handler called %d times, want 2", e.ID, n)
		}
	}
	if n := streamMsgs(t, b, bus.DLQStream); n != 0 {
		t.Errorf("dead-letter stream holds %d messages, want 0", n)
	}
}

// A durable consumer resumes where it left off: events handled before a restart are not
// handed out again, events published while it was down are.
func TestConsumeResumes(t *testing.T) { testConsumeResumes(t, newBus) }

func testConsumeResumes(t *testing.T, newBus func(testing.TB) *bus.Bus) {
	t.Parallel()
	b := newBus(t)
	subjects := []string{event.SubjectAll(event.OrderPlaced)}
	var seen calls
	handler := func(ctx context.Context, e event.Envelope) error {
		seen.add(e.ID)
		return nil
	}

	first := newEvent(t, "ord_1")
	publish(t, b, first)
	stop := start(t, "consume", func(ctx context.Context) error {
		return b.Consume(ctx, "resumer", subjects, handler, bus.WithConcurrency(1))
	})
	tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
		return seen.get(first.ID) == 1, "first event not handled"
	})
	stop()

	second := newEvent(t, "ord_2")
	publish(t, b, second)
	start(t, "consume again", func(ctx context.Context) error {
		return b.Consume(ctx, "resumer", subjects, handler, bus.WithConcurrency(1))
	})
	tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
		return seen.get(second.ID) == 1, "second event not handled"
	})
	if n := seen.get(first.ID); n != 1 {
		t.Errorf("first event handled %d times, want 1", n)
	}
}

func TestConsumeRejectsBadName(t *testing.T) {
	t.Parallel()
	b := newBus(t)
	for _, name := range []string{"", "a.b", "a*", "a>", "a b"} {
		err := b.Consume(context.Background(), name, []string{"tiffin.*.order.>"}, func(context.Context, event.Envelope) error { return nil })
		if err == nil {
			t.Errorf("Consume(%q) = nil, want an error", name)
		}
	}
}

func TestPublishDedupes(t *testing.T) { testPublishDedupes(t, newBus) }

func testPublishDedupes(t *testing.T, newBus func(testing.TB) *bus.Bus) {
	t.Parallel()
	b := newBus(t)
	e := newEvent(t, "ord_1")
	publish(t, b, e, e, e)
	if n := streamMsgs(t, b, bus.Stream); n != 1 {
		t.Errorf("stream holds %d messages after publishing one event thrice, want 1", n)
	}
}

func TestCore(t *testing.T) {
	t.Parallel()
	b := newBus(t)
	got := make(chan string, 10)
	unsubscribe, err := b.Subscribe("tiffin.*.courier.location", func(subject string, data []byte) {
		got <- subject + " " + string(data)
	})
	if err != nil {
		t.Fatal(err)
	}
	subject := event.Subject("r1", event.CourierLocation)
	for i := range 3 {
		if err := b.PublishCore(subject, []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		select {
		case m := <-got:
			if want := subject + " " + strconv.Itoa(i); m != want {
				t.Errorf("got %q, want %q", m, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("got %d of 3 messages", i)
		}
	}
	// Courier locations are ephemeral: the event stream doesn't keep them.
	if n := streamMsgs(t, b, bus.Stream); n != 0 {
		t.Errorf("stream holds %d messages, want 0", n)
	}
	unsubscribe()
	if err := b.PublishCore(subject, []byte("late")); err != nil {
		t.Fatal(err)
	}
	if err := b.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		t.Errorf("got %q after unsubscribe", m)
	default:
	}
}

func TestReady(t *testing.T) {
	t.Parallel()
	b := newBus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Ready(ctx); err != nil {
		t.Fatalf("Ready = %v, want nil", err)
	}
	b.Close()
	if err := b.Ready(ctx); err == nil {
		t.Error("Ready after Close = nil, want an error")
	}
}
