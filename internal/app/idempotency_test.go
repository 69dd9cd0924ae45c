package app_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/app"
	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/auth"
	orders "github.com/tiffin-dev/tiffin/internal/order"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// leavePending places an order under key through a, then puts the key's claim back to pending,
// as a request that died before committing leaves it, held by instance ("" keeps the claim's
// own, that of the process that placed it). It returns the claim's instance.
func leavePending(t *testing.T, a *apptest.App, token, key string, body any, instance string) string {
	t.Helper()
	if r := a.Do("POST", "/v1/orders", token, body, "Idempotency-Key", key); r.Status != http.StatusCreated {
		t.Fatalf("place %s: got %d %s", key, r.Status, r.Body)
	}
	if instance == "" {
		if err := a.DB().QueryRow(`SELECT instance FROM idempotency_keys WHERE key = $1`, key).Scan(&instance); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(instance, "inst_") {
			t.Fatalf("the claim of %s names instance %q, want this app's", key, instance)
		}
	}
	if _, err := a.DB().Write(context.Background(),
		`UPDATE idempotency_keys SET state = 'pending', response_body = '', instance = $1 WHERE key = $2`, instance, key); err != nil {
		t.Fatal(err)
	}
	return instance
}

// retryUntilPlaced retries a checkout under key through a, as a client does, until it is placed
// (201): after a 409 "in progress" it waits for the Retry-After (which must be there). It fails
// the test if any other answer comes, or if being placed takes longer than within. It returns
// how long it took and how many 409s it got.
func retryUntilPlaced(t *testing.T, a *apptest.App, token, key string, body any, within time.Duration) (time.Duration, int) {
	t.Helper()
	began := time.Now()
	conflicts := 0
	for {
		r := a.Do("POST", "/v1/orders", token, body, "Idempotency-Key", key)
		switch {
		case r.Status == http.StatusCreated && r.Header.Get("Idempotent-Replayed") == "":
			if took := time.Since(began); took > within {
				t.Errorf("retry of %s: placed after %v, want within %v", key, took.Round(time.Millisecond), within)
			}
			return time.Since(began), conflicts
		case r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "still in progress"):
			t.Fatalf("retry of %s: got %d %s, want 201, or 409 in progress", key, r.Status, r.Body)
		case r.Header.Get("Retry-After") != "1":
			t.Fatalf("retry of %s: 409 with Retry-After %q, want \"1\"", key, r.Header.Get("Retry-After"))
		}
		conflicts++
		if time.Since(began) > within {
			t.Fatalf("retry of %s: still 409 after %v, want it placed within %v", key, time.Since(began).Round(time.Millisecond), within)
		}
		time.Sleep(time.Second)
	}
}

// TestIdempotencyAfterCrash: a checkout whose process died while holding its Idempotency-Key
// is served to a retry with the same key within 5s, and until then the retry is told 409 with
// Retry-After. On PostgreSQL with two replicas: a live replica's claim stays its own; a claim of
// a replica that crashed (its liveness lease left to expire, as kill -9 leaves it) is taken over
// once the lease expires; a replica stopped cleanly releases its lease, so its claims are
// taken over at once. On SQLite (one process): a process restarted after a crash takes its
// previous boot's claims over at once.
func TestIdempotencyAfterCrash(t *testing.T) {
	t.Parallel()
	t.Run("postgres replicas", func(t *testing.T) {
		t.Parallel()
		dsn := tiffintest.DSN(t, store.Postgres)
		tweak := func(c *app.Config) { c.DB = dsn }
		a, b := apptest.Start(t, store.Postgres, tweak), apptest.Start(t, store.Postgres, tweak)
		m := seed(t, a, "r-1", "owner-1")
		// Each replica signs its own tokens (its own data directory); the principal is the same.
		cust, custB := a.Token(auth.Customer, "cust-1"), b.Token(auth.Customer, "cust-1")
		body := orderBody("r-1", m.Items[0].ID, 1)

		// A live replica's request in flight: the retry elsewhere waits for it.
		leavePending(t, a, cust, "on-a", body, "")
		r := b.Do("POST", "/v1/orders", custB, body, "Idempotency-Key", "on-a")
		if r.Status != http.StatusConflict || r.Header.Get("Retry-After") != "1" {
			t.Fatalf("retry on b of a's request in flight: got %d (Retry-After %q) %s, want 409 with Retry-After 1",
				r.Status, r.Header.Get("Retry-After"), r.Body)
		}

		// A replica killed just after renewing its liveness lease: the lease runs its full
		// term (3s), and a client retrying every Retry-After is served within 5s of the kill.
		killed := time.Now()
		if _, err := a.DB().Write(context.Background(), `INSERT INTO leases (name, holder, token, expires_at) VALUES ($1, 'killed', 1, $2)`,
			orders.InstanceLease("inst_killed"), store.Now(killed.Add(3*time.Second))); err != nil {
			t.Fatal(err)
		}
		leavePending(t, a, cust, "on-killed", body, "inst_killed")
		_, conflicts := retryUntilPlaced(t, b, custB, "on-killed", body, 5*time.Second-time.Since(killed))
		took := time.Since(killed)
		t.Logf("a killed replica's claim: served %v after the kill, after %d 409s", took.Round(time.Millisecond), conflicts)
		if conflicts == 0 {
			t.Errorf("a killed replica's claim was taken over while its lease was live")
		}

		// A replica stopped cleanly: its lease is released, its claims are free at once.
		a.Stop()
		if took, conflicts := retryUntilPlaced(t, b, custB, "on-a", body, 5*time.Second); conflicts != 0 {
			t.Errorf("a stopped replica's claim: %d 409s over %v, want it taken over at once", conflicts, took)
		}
	})
	t.Run("sqlite restart", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		tweak := func(c *app.Config) { c.DataDir = dir }
		a := apptest.Start(t, store.SQLite, tweak)
		m := seed(t, a, "r-1", "owner-1")
		cust := a.Token(auth.Customer, "cust-1")
		body := orderBody("r-1", m.Items[0].ID, 1)
		instance := leavePending(t, a, cust, "k", body, "")
		a.Stop()
		// Stop released the lease; a kill -9 just after a renewal would have left it live.
		ctx := context.Background()
		db, err := store.Open(ctx, filepath.Join(dir, "tiffin.db"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Write(ctx, `UPDATE leases SET expires_at = $1 WHERE name = $2`,
			store.Now(time.Now().Add(5*time.Second)), orders.InstanceLease(instance)); err != nil {
			t.Fatal(err)
		}
		db.Close()

		restarted := apptest.Start(t, store.SQLite, tweak)
		if took, conflicts := retryUntilPlaced(t, restarted, cust, "k", body, 5*time.Second); conflicts != 0 {
			t.Errorf("the crashed boot's claim after a restart: %d 409s over %v, want it taken over at once", conflicts, took)
		}
	})
}
