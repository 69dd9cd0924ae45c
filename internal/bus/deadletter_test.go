package bus_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tiffin-dev/tiffin/internal/bus"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// A poison message is tried exactly the configured number of times, then kept in the
// dead-letter stream with its reason, consumer, subject, tries and failure times; the server
// holds the consumer's schedule (MaxDeliver, BackOff).
func TestConsumeDeadLetters(t *testing.T) { testConsumeDeadLetters(t, newBus) }

func testConsumeDeadLetters(t *testing.T, newBus func(testing.TB) *bus.Bus) {
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
	began := time.Now()
	start(t, "consume", func(ctx context.Context) error {
		return b.Consume(ctx, name, []string{event.SubjectAll(event.OrderPlaced)}, func(ctx context.Context, e event.Envelope) error {
			seen.add(e.ID)
			return errors.New("kitchen on fire\nreally")
		}, fast...)
	})

	tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
		n := streamMsgs(t, b, bus.DLQStream)
		return n == 2, fmt.Sprintf("dead-letter stream holds %d messages, want 2", n)
	})
	letters, err := b.DeadLetters(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	byTries := map[int]bus.DeadLetter{}
	for _, d := range letters {
		if d.Consumer != name {
			t.Errorf("dead letter of consumer %q, want %q", d.Consumer, name)
		}
		if want := event.Subject("r1", event.OrderPlaced); d.Subject != want {
			t.Errorf("dead letter from subject %q, want %q", d.Subject, want)
		}
		if d.FirstFailed.Before(began) || d.LastFailed.Before(d.FirstFailed) || time.Since(d.LastFailed) > time.Minute {
			t.Errorf("dead letter failed first at %v and last at %v; want both after %v, first <= last", d.FirstFailed, d.LastFailed, began)
		}
		byTries[d.Tries] = d
	}

	failed, ok := byTries[3]
	if !ok {
		t.Fatalf("no dead letter after 3 tries; got %+v", letters)
	}
	if got, want := failed.Reason, "kitchen on fire really"; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
	if failed.MsgID != bad.ID {
		t.Errorf("original Msg-Id %q, want %q", failed.MsgID, bad.ID)
	}
	if !failed.FirstFailed.Before(failed.LastFailed) {
		t.Errorf("three tries failed first at %v and last at %v, want first < last", failed.FirstFailed, failed.LastFailed)
	}
	if e, err := event.Decode(failed.Data); err != nil || e.ID != bad.ID {
		t.Errorf("dead letter decodes to %+v, %v; want event %s", e, err, bad.ID)
	}
	if n := seen.get(bad.ID); n != 3 {
		t.Errorf("handler called %d times, want exactly 3", n)
	}

	garbage, ok := byTries[1]
	if !ok {
		t.Fatalf("no dead letter after 1 try; got %+v", letters)
	}
	if string(garbage.Data) != "{not json" {
		t.Errorf("dead letter data %q, want the original bytes", garbage.Data)
	}
	if garbage.Reason == "" {
		t.Error("undecodable dead letter has no reason")
	}

	c, err := b.JetStream().Consumer(ctx, bus.Stream, name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.MaxDeliver != 3+3 || len(info.Config.BackOff) != 2 {
		t.Errorf("consumer MaxDeliver %d, BackOff %v; want 6 (3 tries and 3 spare deliveries) and 2 steps", info.Config.MaxDeliver, info.Config.BackOff)
	}
	// Terminated messages are not redelivered: the consumer has nothing pending.
	tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
		info, err := c.Info(ctx)
		if err != nil {
			return false, err.Error()
		}
		return info.NumAckPending == 0 && info.NumPending == 0,
			fmt.Sprintf("consumer has %d unacked and %d pending, want 0 and 0", info.NumAckPending, info.NumPending)
	})
	if n := seen.get(bad.ID); n != 3 {
		t.Errorf("handler called %d times in the end, want exactly 3", n)
	}
	// And the server stopped at the terminate: no spare delivery was spent on either message
	// (a server that ignored the terminate would hand them out up to MaxDeliver, and every
	// late copy would be dead-lettered again once the dead-letter stream's dedupe window ends).
	if info, err := c.Info(ctx); err != nil || info.Delivered.Consumer != 3+1 {
		t.Errorf("consumer delivered %d messages, want 4 (3 tries, 1 undecodable); err %v", info.Delivered.Consumer, err)
	}
}

// A message whose last try never answered (the process died mid-try) comes back on a spare
// delivery and is dead-lettered without another try.
func TestConsumeDeadLettersUnansweredTries(t *testing.T) {
	testConsumeDeadLettersUnansweredTries(t, newBus)
}

func testConsumeDeadLettersUnansweredTries(t *testing.T, newBus func(testing.TB) *bus.Bus) {
	t.Parallel()
	b := newBus(t)
	ctx := context.Background()
	const name = "ghost"
	subject := event.SubjectAll(event.OrderPlaced)
	e := newEvent(t, "ord_1")
	publish(t, b, e)

	// A process that takes the message three times and dies each time.
	step := 100 * time.Millisecond
	cons, err := b.JetStream().CreateOrUpdateConsumer(ctx, bus.Stream, jetstream.ConsumerConfig{
		Durable: name, AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: subject,
		AckWait: step, BackOff: []time.Duration{step}, MaxDeliver: 6,
	})
	if err != nil {
		t.Fatal(err)
	}
	for want := uint64(1); want <= 3; {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			meta, err := m.Metadata()
			if err != nil || meta.NumDelivered != want {
				t.Fatalf("delivery %d: metadata %+v, %v", want, meta, err)
			}
			want++
		}
	}

	var seen calls
	start(t, "consume", func(ctx context.Context) error {
		return b.Consume(ctx, name, []string{subject}, func(ctx context.Context, e event.Envelope) error {
			seen.add(e.ID)
			return nil
		}, bus.WithMaxDeliver(3), bus.WithRetryDelay(step, step))
	})
	tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
		n := streamMsgs(t, b, bus.DLQStream)
		return n == 1, fmt.Sprintf("dead-letter stream holds %d messages, want 1", n)
	})
	letters, err := b.DeadLetters(ctx, 0, 10)
	if err != nil || len(letters) != 1 {
		t.Fatalf("DeadLetters = %+v, %v; want one", letters, err)
	}
	if d := letters[0]; d.Tries != 3 || !strings.Contains(d.Reason, "no answer") || d.MsgID != e.ID {
		t.Errorf("dead letter: tries %d, reason %q, Msg-Id %q; want 3, \"no answer ...\", %s", d.Tries, d.Reason, d.MsgID, e.ID)
	}
	if n := seen.get(e.ID); n != 0 {
		t.Errorf("handler called %d times after the last try, want 0", n)
	}
}

// A handler that runs for several ack deadlines keeps its message: the consumer reports
// progress, so the server never hands it out again and the handler runs exactly once.
func TestConsumeExtendsAckDeadline(t *testing.T) { testConsumeExtendsAckDeadline(t, newBus) }

func testConsumeExtendsAckDeadline(t *testing.T, newBus func(testing.TB) *bus.Bus) {
	t.Parallel()
	b := newBus(t)
	ctx := context.Background()
	const name = "slowpoke"
	e := newEvent(t, "ord_1")
	publish(t, b, e)

	step := 300 * time.Millisecond
	var seen calls
	done := make(chan struct{})
	start(t, "consume", func(ctx context.Context) error {
		return b.Consume(ctx, name, []string{event.SubjectAll(event.OrderPlaced)}, func(ctx context.Context, e event.Envelope) error {
			if seen.add(e.ID) == 1 {
				time.Sleep(6 * step)
				close(done)
			}
			return nil
		}, bus.WithRetryDelay(step, step), bus.WithMaxDeliver(3))
	})
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("slow handler never finished")
	}
	c, err := b.JetStream().Consumer(ctx, bus.Stream, name)
	if err != nil {
		t.Fatal(err)
	}
	tiffintest.Eventually(t, 10*time.Second, func() (bool, string) {
		info, err := c.Info(ctx)
		if err != nil {
			return false, err.Error()
		}
		return info.NumAckPending == 0, fmt.Sprintf("%d messages unacknowledged", info.NumAckPending)
	})
	time.Sleep(2 * step) // a redelivery, had there been one, would be handled by now
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The consumer sequence counts deliveries, redeliveries included.
	if n := seen.get(e.ID); n != 1 || info.Delivered.Consumer != 1 {
		t.Errorf("handler ran %d times and the server made %d deliveries; want 1 and 1", n, info.Delivered.Consumer)
	}
	if n := streamMsgs(t, b, bus.DLQStream); n != 0 {
		t.Errorf("dead-letter stream holds %d messages, want 0", n)
	}
}
