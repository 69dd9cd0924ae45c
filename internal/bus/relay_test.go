package bus_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tiffin-dev/tiffin/internal/bus"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

func TestRelay(t *testing.T) {
	t.Parallel()
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db := tiffintest.NewStoreOn(t, d)
			b := newBus(t)
			ctx := context.Background()

			// More than one relay batch, in transactions of several events each.
			const n = 600
			want := emit(t, db, n, 7)
			relay := bus.NewRelay(db, b, nil)
			stopRelay := start(t, "relay", relay.Run)
			tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
				got := relay.Published()
				return got == n, fmt.Sprintf("relay published %d rows, want %d", got, n)
			})
			if got := streamMsgs(t, b, bus.Stream); got != n {
				t.Fatalf("stream holds %d messages, want %d", got, n)
			}
			if age, err := relay.OutboxAge(ctx); err != nil || age != 0 {
				t.Errorf("OutboxAge = %v, %v; want 0, nil", age, err)
			}

			// Every row went out verbatim, in order, with its event ID as Nats-Msg-Id.
			s, err := b.JetStream().Stream(ctx, bus.Stream)
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range want {
				m, err := s.GetMsg(ctx, uint64(i+1))
				if err != nil {
					t.Fatalf("get message %d: %v", i+1, err)
				}
				if got := m.Header.Get(jetstream.MsgIDHeader); got != e.ID {
					t.Fatalf("message %d: Nats-Msg-Id %q, want %q", i+1, got, e.ID)
				}
				if m.Subject != e.Subject() {
					t.Fatalf("message %d: subject %q, want %q", i+1, m.Subject, e.Subject())
				}
				got, err := event.Decode(m.Data)
				if err != nil || got.ID != e.ID || string(got.Data) != string(e.Data) {
					t.Fatalf("message %d: decoded %+v, %v; want %+v", i+1, got, err, e)
				}
			}

			// A relay that published but died before marking rows sent publishes them again;
			// the stream's dedupe window stores each once.
			stopRelay()
			if _, err := db.ExecContext(ctx, `UPDATE outbox SET sent_at = NULL`); err != nil {
				t.Fatalf("unmark outbox: %v", err)
			}
			relay = bus.NewRelay(db, b, nil)
			start(t, "relay", relay.Run)
			tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
				got := relay.Published()
				return got == n, fmt.Sprintf("second relay published %d rows, want %d", got, n)
			})
			if got := streamMsgs(t, b, bus.Stream); got != n {
				t.Errorf("after republishing, stream holds %d messages, want %d", got, n)
			}

			// New commits wake the relay.
			emit(t, db, 3, 1)
			tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
				got := streamMsgs(t, b, bus.Stream)
				return got == n+3, fmt.Sprintf("stream holds %d messages, want %d", got, n+3)
			})
		})
	}
}

// An embedded bus closed and reopened on the same store directory keeps what it had, and rows
// written while it was down are published once it is back.
func TestRelaySurvivesEmbeddedRestart(t *testing.T) {
	t.Parallel()
	db := tiffintest.NewStore(t)
	cfg := testConfig(t, t.TempDir())
	ctx := context.Background()

	b1, err := bus.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b1.Close)
	relay1 := bus.NewRelay(db, b1, nil)
	stop1 := start(t, "relay on first bus", relay1.Run)
	emit(t, db, 10, 1)
	tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
		return relay1.Published() == 10, fmt.Sprintf("published %d, want 10", relay1.Published())
	})

	b1.Close()
	emit(t, db, 5, 1) // the relay keeps running against a closed bus: nothing may be lost
	tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
		age, err := relay1.OutboxAge(ctx)
		return err == nil && age > 0, fmt.Sprintf("OutboxAge = %v, %v; want > 0", age, err)
	})
	stop1()
	if got := relay1.Published(); got != 10 {
		t.Fatalf("relay on a closed bus published %d rows, want 10", got)
	}

	b2 := openBus(t, cfg)
	if got := streamMsgs(t, b2, bus.Stream); got != 10 {
		t.Fatalf("reopened stream holds %d messages, want 10", got)
	}
	relay2 := bus.NewRelay(db, b2, nil)
	start(t, "relay on second bus", relay2.Run)
	tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
		got := streamMsgs(t, b2, bus.Stream)
		return got == 15, fmt.Sprintf("stream holds %d messages, want 15", got)
	})
	tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
		age, err := relay2.OutboxAge(ctx)
		return err == nil && age == 0, fmt.Sprintf("OutboxAge = %v, %v; want 0", age, err)
	})
}

// Against an external server the connection reconnects forever, so one relay rides out a
// server restart.
func TestRelaySurvivesExternalRestart(t *testing.T) {
	t.Parallel()
	db := tiffintest.NewStore(t)
	dir := t.TempDir()
	srv := startServer(t, dir, -1)
	port := srv.Addr().(*net.TCPAddr).Port

	cfg := testConfig(t, "")
	cfg.URL = srv.ClientURL()
	b := openBus(t, cfg)
	relay := bus.NewRelay(db, b, nil)
	start(t, "relay", relay.Run)
	emit(t, db, 10, 2)
	tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
		return relay.Published() == 10, fmt.Sprintf("published %d, want 10", relay.Published())
	})

	srv.Shutdown()
	srv.WaitForShutdown()
	emit(t, db, 10, 2)
	startServer(t, dir, port)
	tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
		return relay.Published() == 20, fmt.Sprintf("published %d, want 20", relay.Published())
	})
	if got := streamMsgs(t, b, bus.Stream); got != 20 {
		t.Errorf("stream holds %d messages, want 20", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Ready(ctx); err != nil {
		t.Errorf("Ready after reconnect: %v", err)
	}
}

// startServer starts a listening JetStream server on 127.0.0.1:port (-1 picks one) storing in
// dir, shut down when the test ends.
func startServer(tb testing.TB, dir string, port int) *server.Server {
	tb.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoSigs: true,
		JetStreamMaxMemory: 32 << 20, JetStreamMaxStore: 256 << 20,
	})
	if err != nil {
		tb.Fatalf("new server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		tb.Fatalf("server on port %s not ready", strconv.Itoa(port))
	}
	tb.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv
}
