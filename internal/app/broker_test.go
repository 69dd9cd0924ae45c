package app_test

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tiffin-dev/tiffin/internal/app"
	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// natsOn starts a listening JetStream server on port (0 picks one) storing in dir.
func natsOn(t *testing.T, dir string, port int) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoSigs: true,
		JetStreamMaxMemory: 64 << 20, JetStreamMaxStore: 8 << 30,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatalf("nats on port %d not ready", port)
	}
	return srv
}

// TestBrokerDownServiceUp runs the app against an external NATS server and stops the server
// under it: orders are still accepted (their events wait in the outbox), /readyz says why it is
// degraded, and once the broker is back the backlog flows and every order is paid, with no
// operator action.
func TestBrokerDownServiceUp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ns := natsOn(t, dir, -1)
	port := ns.Addr().(*net.TCPAddr).Port
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	a := apptest.Start(t, store.SQLite, func(c *app.Config) { c.NATS = url })
	t.Cleanup(func() { ns.Shutdown() })
	m := seed(t, a, "r-1", "owner-1")
	customer := a.Token(auth.Customer, "cust-1")
	place := func(key string) string {
		t.Helper()
		r := a.Do("POST", "/v1/orders", customer, orderBody("r-1", m.Items[0].ID, 1), "Idempotency-Key", key)
		if r.Status != http.StatusCreated {
			t.Fatalf("place %s: got %d %s", key, r.Status, r.Body)
		}
		var o order
		r.JSON(t, &o)
		return o.ID
	}
	before := place("before")
	waitStatus(t, a, customer, before, "paid")

	ns.Shutdown()
	ns.WaitForShutdown()
	var during []string
	for i := range 5 {
		during = append(during, place(fmt.Sprintf("during-%d", i)))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := a.Do("GET", "/readyz", "", nil)
		if r.Status == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz with the broker down: got %d %s, want 503", r.Status, r.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}

	ns = natsOn(t, dir, port)
	t.Cleanup(func() { ns.Shutdown() })
	for _, id := range during {
		waitStatus(t, a, customer, id, "paid")
	}
	deadline = time.Now().Add(15 * time.Second)
	for {
		var unsent int
		a.DB().QueryRow(`SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL`).Scan(&unsent)
		r := a.Do("GET", "/readyz", "", nil)
		if unsent == 0 && r.Status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the broker came back: %d events unsent, /readyz %d", unsent, r.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestStartWithBrokerDown starts the app while its external broker is away (a replica
// restarting during a broker outage): it serves and accepts orders at once, and when the
// broker comes up the streams are set up and every order is paid.
func TestStartWithBrokerDown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ns := natsOn(t, dir, -1)
	port := ns.Addr().(*net.TCPAddr).Port
	ns.Shutdown()
	ns.WaitForShutdown()
	a := apptest.StartServing(t, store.SQLite, func(c *app.Config) { c.NATS = "nats://127.0.0.1:" + strconv.Itoa(port) })
	m := seed(t, a, "r-1", "owner-1")
	customer := a.Token(auth.Customer, "cust-1")
	var ids []string
	for i := range 3 {
		r := a.Do("POST", "/v1/orders", customer, orderBody("r-1", m.Items[0].ID, 1), "Idempotency-Key", fmt.Sprintf("k-%d", i))
		if r.Status != http.StatusCreated {
			t.Fatalf("place with the broker down: got %d %s", r.Status, r.Body)
		}
		var o order
		r.JSON(t, &o)
		ids = append(ids, o.ID)
	}
	if r := a.Do("GET", "/readyz", "", nil); r.Status != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the broker down: got %d, want 503", r.Status)
	}
	ns = natsOn(t, dir, port)
	t.Cleanup(func() { ns.Shutdown() })
	for _, id := range ids {
		waitStatus(t, a, customer, id, "paid")
	}
}

// TestReadyzNamesWhatIsDown runs the app on PostgreSQL behind a proxy with an external NATS
// server and takes each away in turn: /readyz answers 503 with Retry-After and exactly the
// contract's detail for the broker down, both down, and the database down, and 200 again once
// both are back.
func TestReadyzNamesWhatIsDown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ns := natsOn(t, dir, -1)
	port := ns.Addr().(*net.TCPAddr).Port
	dsn, px := tiffintest.PostgresBehindProxy(t)
	a := apptest.Start(t, store.Postgres, func(c *app.Config) {
		c.DB, c.NATS = dsn, "nats://127.0.0.1:"+strconv.Itoa(port)
	})
	t.Cleanup(func() { ns.Shutdown() })
	expect := func(when string, status int, detail string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			r := a.Do("GET", "/readyz", "", nil)
			var p struct {
				Detail string `json:"detail"`
			}
			if r.Status == http.StatusServiceUnavailable {
				r.JSON(t, &p)
			}
			if r.Status == status && p.Detail == detail && (status == http.StatusOK || r.Header.Get("Retry-After") == "1") {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz with %s: got %d (Retry-After %q) %s, want %d %q", when, r.Status, r.Header.Get("Retry-After"), r.Body, status, detail)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	expect("everything up", http.StatusOK, "")
	ns.Shutdown()
	ns.WaitForShutdown()
	expect("the broker down", http.StatusServiceUnavailable, "degraded: broker unreachable")
	px.Refuse()
	expect("both down", http.StatusServiceUnavailable, "degraded: database unreachable; broker unreachable")
	ns = natsOn(t, dir, port)
	t.Cleanup(func() { ns.Shutdown() })
	expect("the database down", http.StatusServiceUnavailable, "degraded: database unreachable")
	px.Restore()
	expect("everything back", http.StatusOK, "")
}
