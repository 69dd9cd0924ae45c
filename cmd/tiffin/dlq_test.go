package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"github.com/tiffin-dev/tiffin/internal/app"
	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/bus"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// run runs the command line args as main would and returns what it printed.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var c cli
	p, err := kong.New(&c, options()...)
	if err != nil {
		t.Fatal(err)
	}
	kctx, err := p.Parse(args)
	if err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	var out bytes.Buffer
	kctx.BindTo(context.Background(), (*context.Context)(nil))
	kctx.BindTo(&out, (*io.Writer)(nil))
	kctx.Bind(&c.Log)
	err = kctx.Run()
	return out.String(), err
}

func TestDLQFlags(t *testing.T) {
	t.Setenv("TIFFIN_URL", "http://127.0.0.1:9999")
	t.Setenv("TIFFIN_TOKEN", "tok")
	c, cmd := parse(t, "dlq", "redrive", "bus-1", "bus-7")
	if cmd != "dlq redrive <id>" || c.DLQ.Redrive.URL != "http://127.0.0.1:9999" || c.DLQ.Redrive.Token != "tok" ||
		strings.Join(c.DLQ.Redrive.IDs, ",") != "bus-1,bus-7" || c.DLQ.Redrive.All {
		t.Errorf("dlq redrive: command %q, flags %+v", cmd, c.DLQ.Redrive)
	}
	c, _ = parse(t, "dlq", "redrive", "--all", "--data", "/tmp/d")
	if !c.DLQ.Redrive.All || c.DLQ.Redrive.Data != "/tmp/d" {
		t.Errorf("dlq redrive --all: flags %+v", c.DLQ.Redrive)
	}
	c, _ = parse(t, "dlq", "list", "--limit", "5", "--cursor", "bus-3")
	if c.DLQ.List.Limit != 5 || c.DLQ.List.Cursor != "bus-3" {
		t.Errorf("dlq list: flags %+v", c.DLQ.List)
	}
	if _, err := run(t, "dlq", "redrive", "--url", "http://127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "--all") {
		t.Errorf("redrive with neither IDs nor --all: %v, want a usage error", err)
	}
}

// deadLetter makes a consumer on b dead-letter n events (one try each) and waits for them.
func deadLetter(t *testing.T, b *bus.Bus, n int) (fix func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var fixed atomic.Bool
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(ctx, "cli-test", []string{event.SubjectAll(event.DeliveryOffered)}, func(context.Context, event.Envelope) error {
			if !fixed.Load() {
				return errors.New("not today")
			}
			return nil
		}, bus.WithMaxDeliver(1))
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	for i := range n {
		e, err := event.New(event.DeliveryOffered, "r1", time.Now(), map[string]string{"order_id": fmt.Sprintf("ord_%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
		st, err := b.DeadLetterStats(ctx)
		return err == nil && st.Count == uint64(n), fmt.Sprintf("dead letters %+v, %v; want %d", st, err, n)
	})
	return func() { fixed.Store(true) }
}

// Against the data directory: the commands open the embedded store when no server holds it,
// and say clearly when one does.
func TestDLQOnDataDir(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	cfg := bus.Config{StoreDir: filepath.Join(data, "nats"), MaxStore: 256 << 20, MaxMemory: 32 << 20, Logger: slog.New(slog.DiscardHandler)}
	b, err := bus.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	deadLetter(t, b, 3)

	_, err = run(t, "dlq", "list", "--data", data)
	if !errors.Is(err, bus.ErrStoreLocked) || !strings.Contains(err.Error(), "--url") {
		t.Errorf("list while a server holds the store: %v, want a locked-store error pointing to --url", err)
	}
	b.Close()

	out, err := run(t, "dlq", "list", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "bus-1") || !strings.Contains(out, "cli-test") || !strings.Contains(out, "not today") || !strings.Contains(out, "3 dead letters in all") {
		t.Errorf("list printed:\n%s", out)
	}
	out, err = run(t, "dlq", "show", "bus-2", "--data", data)
	if err != nil || !regexp.MustCompile(`reason: +not today`).MatchString(out) || !strings.Contains(out, `"order_id": "ord_`) {
		t.Errorf("show: %v, printed:\n%s", err, out)
	}
	if _, err := run(t, "dlq", "show", "bus-9", "--data", data); err == nil {
		t.Error("show of an unknown dead letter succeeded")
	}
	out, err = run(t, "dlq", "redrive", "bus-1", "bus-9", "--data", data)
	if err != nil || !strings.Contains(out, "redriven: 1") || !strings.Contains(out, "not found (redriven already?): bus-9") || !strings.Contains(out, "left: 2") {
		t.Errorf("redrive bus-1 bus-9: %v, printed:\n%s", err, out)
	}
	out, err = run(t, "dlq", "redrive", "--all", "--data", data)
	if err != nil || !strings.Contains(out, "redriven: 2") || !strings.Contains(out, "left: 0") {
		t.Errorf("redrive --all: %v, printed:\n%s", err, out)
	}
	if _, err := run(t, "dlq", "list", "--data", filepath.Join(data, "nope")); err == nil || !strings.Contains(err.Error(), "no embedded NATS store") {
		t.Errorf("list on a directory without a store: %v", err)
	}
}

// Against a running server: the commands go through the ops routes with a token minted from
// the server's data directory.
func TestDLQThroughServer(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	a := apptest.Start(t, store.SQLite, func(c *app.Config) { c.DataDir = data })
	fix := deadLetter(t, a.Bus(), 2)

	out, err := run(t, "dlq", "list", "--url", a.URL, "--data", data, "--json")
	if err != nil || !strings.Contains(out, `"total": 2`) || !strings.Contains(out, `"consumer": "cli-test"`) {
		t.Errorf("list --json: %v, printed:\n%s", err, out)
	}
	if _, err := run(t, "dlq", "list", "--url", a.URL, "--token", "nope"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("list with a bad token: %v, want the server's 401", err)
	}
	fix()
	out, err = run(t, "dlq", "redrive", "--all", "--url", a.URL, "--data", data)
	if err != nil || !strings.Contains(out, "redriven: 2") || !strings.Contains(out, "left: 0") {
		t.Errorf("redrive --all: %v, printed:\n%s", err, out)
	}
}

// TestDLQShowMsgID: show prints the message's Nats-Msg-Id (the event ID) when it had one, says
// so when it had none (published by hand), and never shows the dead letter's own Nats-Msg-Id
// (<consumer>-<seq>) among the headers, where it passed for the message's.
func TestDLQShowMsgID(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	cfg := bus.Config{StoreDir: filepath.Join(data, "nats"), MaxStore: 256 << 20, MaxMemory: 32 << 20, Logger: slog.New(slog.DiscardHandler)}
	b, err := bus.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	deadLetter(t, b, 1)
	// A message published by hand: no Nats-Msg-Id, and not an envelope (a decoding failure).
	if err := b.Conn().Publish(event.Subject("r1", event.DeliveryOffered), []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
		st, err := b.DeadLetterStats(context.Background())
		return err == nil && st.Count == 2, fmt.Sprintf("dead letters %+v, %v; want 2", st, err)
	})
	b.Close()

	out, err := run(t, "dlq", "show", "bus-1", "--data", data)
	if err != nil || !regexp.MustCompile(`(?m)^msg id: +evt_[0-9a-f]+$`).MatchString(out) {
		t.Errorf("show of an event: %v, want its msg id; printed:\n%s", err, out)
	}
	if strings.Contains(out, "Nats-Msg-Id") || strings.Contains(out, "cli-test-1") {
		t.Errorf("show of an event lists the dead letter's own Nats-Msg-Id among the headers:\n%s", out)
	}
	out, err = run(t, "dlq", "show", "bus-2", "--data", data)
	if err != nil || !regexp.MustCompile(`(?m)^msg id: +none \(published without a Nats-Msg-Id\)$`).MatchString(out) ||
		regexp.MustCompile(`(?m)^msg id: *$`).MatchString(out) || strings.Contains(out, "cli-test-2") {
		t.Errorf("show of a message published by hand: %v, want msg id none and no Nats-Msg-Id header; printed:\n%s", err, out)
	}
	out, err = run(t, "dlq", "show", "bus-2", "--data", data, "--json")
	if err != nil || strings.Contains(out, "msg_id") || strings.Contains(out, "Nats-Msg-Id") {
		t.Errorf("show --json of a message published by hand: %v, want no msg_id and no Nats-Msg-Id; printed:\n%s", err, out)
	}
}
