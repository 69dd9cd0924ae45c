package bench

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOrdersSQLite boots the app on SQLite and places orders against it for a second.
func TestOrdersSQLite(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("boots the app and measures it for a second")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out strings.Builder
	svg := filepath.Join(t.TempDir(), "latency.svg")
	results, err := Orders(ctx, OrdersConfig{
		// 3 s, not 1: on a loaded CI machine a second has seen no placement finish.
		Backends: []string{"sqlite"}, Duration: 3 * time.Second, Warmup: 500 * time.Millisecond, Concurrency: 4,
		Out: &out, Markdown: true, SVGPath: svg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatalf("Orders: %v", err)
	}
	if len(results) != 1 {
		t.Fatalf("got %d results, want 1", len(results))
	}
	r := results[0]
	if r.Orders <= 0 || r.Errors != 0 {
		t.Errorf("got %d orders and %d errors, want some orders and no errors", r.Orders, r.Errors)
	}
	if r.PerSecond <= 0 || r.P50 <= 0 || r.P50 > r.P95 || r.P95 > r.P99 || r.P99 > r.Max {
		t.Errorf("got %.1f/s, p50 %v p95 %v p99 %v max %v, want a positive rate and ordered percentiles",
			r.PerSecond, r.P50, r.P95, r.P99, r.Max)
	}
	if r.Duration < time.Second {
		t.Errorf("measured for %v, want at least 1s", r.Duration)
	}
	for _, want := range []string{"tiffin POST /v1/orders (sqlite)", "| backend |", "latency.svg"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestOrdersRejectsUnknownBackend(t *testing.T) {
	t.Parallel()
	_, err := Orders(context.Background(), OrdersConfig{Backends: []string{"mysql://x"}})
	if err == nil || !strings.Contains(err.Error(), "mysql://x") {
		t.Errorf("got %v, want an error naming the backend", err)
	}
}
