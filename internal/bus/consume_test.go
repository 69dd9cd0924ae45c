package bus_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tiffin-dev/tiffin/internal/bus"
	"github.com/tiffin-dev/tiffin/internal/event"
)

// fast makes retries quick enough for tests.
var fast = []bus.ConsumeOption{bus.WithRetryDelay(10*time.Millisecond, 40*time.Millisecond), bus.WithMaxDeliver(3)}

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

func TestConsumeRedeliversAfterError(t *testing.T) {
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

func TestConsumeDeadLetters(t *testing.T) {
	t.Parallel()
	b := newBus(t)
	ctx := context.Background()
	const name = "doomed"

	bad := newEvent(t, "ord_bad")
	publish(t, b, bad)
	// Not an envelope at all: dead-lettered on first sight, never handed to the handler.
	if _, err := b.JetStream().Publish(ctx, event.Subject("r1", event.OrderPlaced), []byte("{not json")); err != nil {
		t.Fatal(err)
	}

	var seen calls
	start(t, "consume", func(ctx context.Context) error {
		return b.Consume(ctx, name, []string{event.SubjectAll(event.OrderPlaced)}, func(ctx context.Context, e event.Envelope) error {
			seen.add(e.ID)
			return errors.New("kitchen on fire\nreally")
		}, fast...)
	})

	eventually(t, 30*time.Second, func() (bool, string) {
		n := streamMsgs(t, b, bus.DLQStream)
		return n == 2, fmt.Sprintf("dead-letter stream holds %d messages, want 2", n)
	})
	s, err := b.JetStream().Stream(ctx, bus.DLQStream)
	if err != nil {
		t.Fatal(err)
	}
	byDeliveries := map[string]*jetstream.RawStreamMsg{}
	for seq := uint64(1); seq <= 2; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != bus.DLQSubject(name) {
			t.Errorf("dead letter on %q, want %q", m.Subject, bus.DLQSubject(name))
		}
		if got := m.Header.Get(bus.HeaderDLQConsumer); got != name {
			t.Errorf("%s = %q, want %q", bus.HeaderDLQConsumer, got, name)
		}
		if got, want := m.Header.Get(bus.HeaderDLQSubject), event.Subject("r1", event.OrderPlaced); got != want {
			t.Errorf("%s = %q, want %q", bus.HeaderDLQSubject, got, want)
		}
		byDeliveries[m.Header.Get(bus.HeaderDLQDeliveries)] = m
	}

	failed := byDeliveries["3"]
	if failed == nil {
		t.Fatalf("no dead letter after 3 deliveries; got deliveries %v", keys(byDeliveries))
	}
	if got, want := failed.Header.Get(bus.HeaderDLQError), "kitchen on fire really"; got != want {
		t.Errorf("%s = %q, want %q", bus.HeaderDLQError, got, want)
	}
	if got := failed.Header.Get(bus.HeaderDLQMsgID); got != bad.ID {
		t.Errorf("%s = %q, want %q", bus.HeaderDLQMsgID, got, bad.ID)
	}
	if e, err := event.Decode(failed.Data); err != nil || e.ID != bad.ID {
		t.Errorf("dead letter decodes to %+v, %v; want event %s", e, err, bad.ID)
	}
	if n := seen.get(bad.ID); n != 3 {
		t.Errorf("handler called %d times, want 3", n)
	}

	garbage := byDeliveries["1"]
	if garbage == nil {
		t.Fatalf("no dead letter after 1 delivery; got deliveries %v", keys(byDeliveries))
	}
	if string(garbage.Data) != "{not json" {
		t.Errorf("dead letter data %q, want the original bytes", garbage.Data)
	}
	if garbage.Header.Get(bus.HeaderDLQError) == "" {
		t.Errorf("undecodable dead letter has no %s", bus.HeaderDLQError)
	}

	// Terminated messages are not redelivered: the consumer has nothing pending.
	eventually(t, 30*time.Second, func() (bool, string) {
		c, err := b.JetStream().Consumer(ctx, bus.Stream, name)
		if err != nil {
			return false, err.Error()
		}
		info, err := c.Info(ctx)
		if err != nil {
			return false, err.Error()
		}
		return info.NumAckPending == 0 && info.NumPending == 0,
			fmt.Sprintf("consumer has %d unacked and %d pending, want 0 and 0", info.NumAckPending, info.NumPending)
	})
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// A durable consumer resumes where it left off: events handled before a restart are not
// handed out again, events published while it was down are.
func TestConsumeResumes(t *testing.T) {
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
	eventually(t, 30*time.Second, func() (bool, string) {
		return seen.get(first.ID) == 1, "first event not handled"
	})
	stop()

	second := newEvent(t, "ord_2")
	publish(t, b, second)
	start(t, "consume again", func(ctx context.Context) error {
		return b.Consume(ctx, "resumer", subjects, handler, bus.WithConcurrency(1))
	})
	eventually(t, 30*time.Second, func() (bool, string) {
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

func TestPublishDedupes(t *testing.T) {
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
