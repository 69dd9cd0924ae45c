package tiffintest

import (
	"context"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/bus"
)

// NewBus starts a real embedded NATS JetStream server in a temporary directory, with small
// limits and a fast relay poll, and closes it when the test ends.
func NewBus(tb testing.TB) *bus.Bus {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := bus.Open(ctx, bus.Config{StoreDir: tb.TempDir(), MaxMemory: 32 << 20, MaxStore: 256 << 20, PollInterval: 20 * time.Millisecond})
	if err != nil {
		tb.Fatalf("open bus: %v", err)
	}
	tb.Cleanup(b.Close)
	return b
}
