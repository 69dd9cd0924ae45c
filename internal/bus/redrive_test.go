package bus_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/bus"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// idempotent is a handler's store: effects keyed by event ID, as processed_events keys them.
type idempotent struct {
	mu      sync.Mutex
	done    map[string]int // effects per event ID
	skipped int            // deliveries of events already done
}

func (s *idempotent) apply(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		s.done = map[string]int{}
	}
	if s.done[id] > 0 {
		s.skipped++
		return
	}
	s.done[id]++
}

func (s *idempotent) effects(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done[id]
}

// Poison messages are dead-lettered after exactly their tries; once the cause is fixed, a
// redrive hands each to its consumer once, and to no other consumer of the subject, and leaves
// the dead-letter stream empty. Redriving happens well within the stream's dedupe window, which
// would drop a republish under the original Msg-Id. With TIFFIN_SLOW=1 it takes 1,000 messages
// (the figure of issue 5), else 60.
func TestRedrive(t *testing.T) { testRedrive(t, newBus) }

func testRedrive(t *testing.T, newBus func(testing.TB) *bus.Bus) {
	t.Parallel()
	b := newBus(t)
	ctx := context.Background()
	n := 60
	if os.Getenv("TIFFIN_SLOW") == "1" {
		n = 1000
	}
	var events []event.Envelope
	for i := range n {
		events = append(events, newEvent(t, fmt.Sprintf("ord_%d", i)))
	}
	publish(t, b, events...)
	subjects := []string{event.SubjectAll(event.OrderPlaced)}

	// A healthy consumer of the same subject handles every event once.
	var healthy idempotent
	var healthyCalls atomic.Int64
	start(t, "healthy", func(ctx context.Context) error {
		return b.Consume(ctx, "healthy", subjects, func(ctx context.Context, e event.Envelope) error {
			healthyCalls.Add(1)
			healthy.apply(e.ID)
			return nil
		}, fast...)
	})

	// A broken one gives up on every event after two tries.
	var broken atomic.Bool
	broken.Store(true)
	var fixed idempotent
	var tries calls
	start(t, "broken", func(ctx context.Context) error {
		return b.Consume(ctx, "broken", subjects, func(ctx context.Context, e event.Envelope) error {
			tries.add(e.ID)
			if broken.Load() {
				return errors.New("menu service unreachable")
			}
			fixed.apply(e.ID)
			return nil
		}, bus.WithRetryDelay(300*time.Millisecond, 300*time.Millisecond), bus.WithMaxDeliver(2), bus.WithConcurrency(8))
	})
	tiffintest.Eventually(t, 60*time.Second, func() (bool, string) {
		st, err := b.DeadLetterStats(ctx)
		return err == nil && st.Count == uint64(n), fmt.Sprintf("dead letters: %+v, %v; want %d", st, err, n)
	})
	for _, e := range events {
		if got := tries.get(e.ID); got != 2 {
			t.Errorf("event %s tried %d times before dead-lettering, want exactly 2", e.ID, got)
		}
	}

	// Paging walks every dead letter once, oldest first.
	var all []bus.DeadLetter
	for from := uint64(0); ; {
		page, err := b.DeadLetters(ctx, from, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, d := range page {
			if len(all) > 0 && d.Seq <= all[len(all)-1].Seq {
				t.Fatalf("dead letter %d listed after %d", d.Seq, all[len(all)-1].Seq)
			}
			all = append(all, d)
		}
		from = page[len(page)-1].Seq + 1
	}
	if len(all) != n {
		t.Fatalf("paging found %d dead letters, want %d", len(all), n)
	}
	first, err := b.DeadLetter(ctx, all[0].Seq)
	if err != nil || first.Consumer != "broken" || first.Tries != 2 || first.Reason != "menu service unreachable" {
		t.Fatalf("DeadLetter(%d) = %+v, %v", all[0].Seq, first, err)
	}

	broken.Store(false)
	// Two operators redrive the first one at once: it is republished once.
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if err := b.Redrive(ctx, all[0].Seq); err != nil && !errors.Is(err, bus.ErrDeadLetterNotFound) {
				t.Errorf("concurrent redrive: %v", err)
			}
		})
	}
	wg.Wait()
	for _, d := range all[1:] {
		if err := b.Redrive(ctx, d.Seq); err != nil {
			t.Fatalf("redrive %d: %v", d.Seq, err)
		}
	}
	if err := b.Redrive(ctx, all[1].Seq); !errors.Is(err, bus.ErrDeadLetterNotFound) {
		t.Errorf("redriving %d again: got %v, want ErrDeadLetterNotFound", all[1].Seq, err)
	}
	st, err := b.DeadLetterStats(ctx)
	if err != nil || st.Count != 0 {
		t.Errorf("after redriving: %+v, %v; want no dead letters", st, err)
	}

	tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
		for _, e := range events {
			if fixed.effects(e.ID) != 1 {
				return false, fmt.Sprintf("event %s has %d effects, want 1", e.ID, fixed.effects(e.ID))
			}
		}
		return true, ""
	})
	// Let any stray second delivery arrive before counting.
	time.Sleep(500 * time.Millisecond)
	for _, e := range events {
		if got := tries.get(e.ID); got != 3 {
			t.Errorf("event %s: broken consumer called %d times, want 2 failures and 1 redriven success", e.ID, got)
		}
	}
	if fixed.skipped != 0 {
		t.Errorf("broken consumer saw %d events it had already handled, want 0", fixed.skipped)
	}
	// Delivery is at least once: on a loaded machine a late ack can bring the healthy consumer
	// an event twice (its effect still once). What must not happen is the redrive reaching it:
	// that would be n more calls.
	for _, e := range events {
		if got := healthy.effects(e.ID); got != 1 {
			t.Errorf("healthy consumer: event %s has %d effects, want 1", e.ID, got)
		}
	}
	if got := healthyCalls.Load(); got < int64(n) || got > int64(n+n/20) {
		t.Errorf("healthy consumer called %d times, want %d (a few more at most): redriven messages are for their consumer alone", got, n)
	}
	if n := streamMsgs(t, b, bus.DLQStream); n != 0 {
		t.Errorf("dead-letter stream holds %d messages, want 0", n)
	}
}

// A redriven message that fails again is dead-lettered again, under its original Msg-Id.
func TestRedriveFailsAgain(t *testing.T) { testRedriveFailsAgain(t, newBus) }

func testRedriveFailsAgain(t *testing.T, newBus func(testing.TB) *bus.Bus) {
	t.Parallel()
	b := newBus(t)
	ctx := context.Background()
	e := newEvent(t, "ord_1")
	publish(t, b, e)
	var tries calls
	start(t, "consume", func(ctx context.Context) error {
		return b.Consume(ctx, "always-broken", []string{event.SubjectAll(event.OrderPlaced)}, func(ctx context.Context, e event.Envelope) error {
			tries.add(e.ID)
			return errors.New("still broken")
		}, bus.WithRetryDelay(100*time.Millisecond, 100*time.Millisecond), bus.WithMaxDeliver(1))
	})
	var seq uint64
	tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
		letters, err := b.DeadLetters(ctx, 0, 10)
		if err != nil || len(letters) != 1 {
			return false, fmt.Sprintf("dead letters %+v, %v; want 1", letters, err)
		}
		seq = letters[0].Seq
		return true, ""
	})
	if err := b.Redrive(ctx, seq); err != nil {
		t.Fatal(err)
	}
	tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
		letters, err := b.DeadLetters(ctx, 0, 10)
		if err != nil || len(letters) != 1 || letters[0].Seq == seq {
			return false, fmt.Sprintf("dead letters %+v, %v; want a new one", letters, err)
		}
		if d := letters[0]; d.MsgID != e.ID || d.Header.Get(bus.HeaderRedriveFor) != "" {
			t.Errorf("second dead letter: Msg-Id %q, redrive header %q; want %q and none", d.MsgID, d.Header.Get(bus.HeaderRedriveFor), e.ID)
		}
		return true, ""
	})
	if got := tries.get(e.ID); got != 2 {
		t.Errorf("handler called %d times, want 2 (one try, one redriven try)", got)
	}
}

// Two processes never run an embedded server on one store: the second is told who holds it.
func TestEmbeddedStoreLocked(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, t.TempDir())
	ctx := context.Background()
	first, err := bus.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = bus.Open(ctx, cfg)
	if !errors.Is(err, bus.ErrStoreLocked) || !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Fatalf("second Open = %v, want ErrStoreLocked naming process %d", err, os.Getpid())
	}
	first.Close()
	openBus(t, cfg) // free again
}
