package bus_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/bus"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// testConfig is a Config for an embedded bus in dir, small and quick.
func testConfig(tb testing.TB, dir string) bus.Config {
	tb.Helper()
	return bus.Config{
		StoreDir:     dir,
		MaxMemory:    32 << 20,
		MaxStore:     256 << 20,
		PollInterval: 20 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelError})),
	}
}

// openBus opens a bus with cfg and closes it when the test ends.
func openBus(tb testing.TB, cfg bus.Config) *bus.Bus {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := bus.Open(ctx, cfg)
	if err != nil {
		tb.Fatalf("open bus: %v", err)
	}
	tb.Cleanup(b.Close)
	return b
}

// newBus opens an embedded bus in a fresh directory.
func newBus(tb testing.TB) *bus.Bus {
	tb.Helper()
	return openBus(tb, testConfig(tb, tb.TempDir()))
}

// start runs f in a goroutine until the returned stop is called (or the test ends); stop
// cancels f's context, waits for it and fails the test if f returned an error.
func start(tb testing.TB, name string, f func(context.Context) error) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("%s returned %v, want nil", name, err)
			}
		case <-time.After(30 * time.Second):
			tb.Errorf("%s did not return within 30s of cancel", name)
		}
	}
	tb.Cleanup(stop)
	return stop
}

// emit writes n order.placed events to db's outbox, in transactions of up to perTx events.
func emit(tb testing.TB, db *store.DB, n, perTx int) []event.Envelope {
	tb.Helper()
	ctx := context.Background()
	var all []event.Envelope
	for len(all) < n {
		err := db.InTx(ctx, func(tx *store.Tx) error {
			for i := 0; i < perTx && len(all) < n; i++ {
				e := newEvent(tb, fmt.Sprintf("ord_%d", len(all)))
				if err := tx.Emit(ctx, e); err != nil {
					return err
				}
				all = append(all, e)
			}
			return nil
		})
		if err != nil {
			tb.Fatalf("emit: %v", err)
		}
	}
	return all
}

func newEvent(tb testing.TB, orderID string) event.Envelope {
	tb.Helper()
	e, err := event.New(event.OrderPlaced, "r1", time.Now(), event.Order{OrderID: orderID, Status: "placed"})
	if err != nil {
		tb.Fatalf("new event: %v", err)
	}
	return e
}

// streamMsgs returns the number of messages in stream.
func streamMsgs(tb testing.TB, b *bus.Bus, stream string) uint64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := b.JetStream().Stream(ctx, stream)
	if err != nil {
		tb.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		tb.Fatalf("stream %s info: %v", stream, err)
	}
	return info.State.Msgs
}
