package lease_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/lease"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

func forEachBackend(t *testing.T, fn func(t *testing.T, d store.Dialect)) {
	t.Parallel()
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

// open returns n stores on one fresh database, one per simulated replica.
func open(t *testing.T, d store.Dialect, n int) []*store.DB {
	t.Helper()
	dsn := tiffintest.DSN(t, d)
	var dbs []*store.DB
	for range n {
		db, err := store.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	return dbs
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOneHolderAtATime runs three replicas' electors for one lease: at every moment at most
// one runs the work, and when the holder dies (its context ends without a release, as a
// kill -9 would) another takes over within the TTL, with a larger fencing token.
func TestOneHolderAtATime(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		dbs := open(t, d, 3)
		var running, maxRunning atomic.Int32
		var tokens sync.Map
		var cancels []context.CancelFunc
		var wg sync.WaitGroup
		electors := make([]*lease.Elector, len(dbs))
		for i, db := range dbs {
			electors[i] = lease.New(db, lease.Config{TTL: 300 * time.Millisecond})
			ctx, cancel := context.WithCancel(context.Background())
			cancels = append(cancels, cancel)
			wg.Go(func() {
				electors[i].Run(ctx, "relay", func(ctx context.Context) error {
					n := running.Add(1)
					for {
						m := maxRunning.Load()
						if n <= m || maxRunning.CompareAndSwap(m, n) {
							break
						}
					}
					f, _ := store.FenceFrom(ctx)
					tokens.Store(f.Token, i)
					<-ctx.Done()
					running.Add(-1)
					return nil
				})
			})
		}
		t.Cleanup(func() {
			for _, c := range cancels {
				c()
			}
			wg.Wait()
		})
		holder := func() int {
			for i, e := range electors {
				if _, ok := e.Held("relay"); ok {
					return i
				}
			}
			return -1
		}
		waitFor(t, "a first holder", func() bool { return holder() >= 0 })
		first := holder()
		firstToken, _ := electors[first].Held("relay")
		// Stop the holder: a clean stop releases the lease, so another replica takes over.
		cancels[first]()
		waitFor(t, "a new holder", func() bool { h := holder(); return h >= 0 && h != first })
		next := holder()
		nextToken, _ := electors[next].Held("relay")
		if nextToken <= firstToken {
			t.Errorf("new term's token %d, want more than %d", nextToken, firstToken)
		}
		if got := maxRunning.Load(); got != 1 {
			t.Errorf("most holders running at once: got %d, want 1", got)
		}
	})
}

// TestDeadHolderMovesWithinTTL: a holder that stops renewing (frozen or killed, no release)
// loses the work to another replica once the TTL passes.
func TestDeadHolderMovesWithinTTL(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		dbs := open(t, d, 2)
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		// The dead holder's row: held until 400ms from now, never renewed.
		if _, err := dbs[0].Write(ctx, `INSERT INTO leases (name, holder, token, expires_at) VALUES ('sweep', 'dead', 7, $1)`,
			store.Now(time.Now().Add(400*time.Millisecond))); err != nil {
			t.Fatal(err)
		}
		e := lease.New(dbs[1], lease.Config{TTL: 300 * time.Millisecond})
		started := make(chan int64, 1)
		go e.Run(ctx, "sweep", func(ctx context.Context) error {
			f, _ := store.FenceFrom(ctx)
			started <- f.Token
			<-ctx.Done()
			return nil
		})
		select {
		case tok := <-started:
			if tok != 8 {
				t.Errorf("token of the new term: got %d, want 8", tok)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the expired lease was not taken over")
		}
	})
}

// TestStaleHolderIsFenced: a holder whose lease passed to another (it was paused past its
// TTL) has its writes refused.
func TestStaleHolderIsFenced(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		dbs := open(t, d, 2)
		ctx := context.Background()
		if _, err := dbs[0].Write(ctx, `INSERT INTO leases (name, holder, token, expires_at) VALUES ('relay', 'a', 1, 0)`); err != nil {
			t.Fatal(err)
		}
		stale := store.WithFence(ctx, store.Fence{Lease: "relay", Token: 1})
		write := func(ctx context.Context, db *store.DB) error {
			return db.InTx(ctx, func(tx *store.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO customers (id, created_at) VALUES ($1, 0) ON CONFLICT (id) DO NOTHING`, "c")
				return err
			})
		}
		if err := write(stale, dbs[0]); err != nil {
			t.Fatalf("write in the current term: %v", err)
		}
		// b takes the expired lease.
		b := lease.New(dbs[1], lease.Config{Holder: "b", TTL: time.Second})
		bctx, cancel := context.WithCancel(ctx)
		defer cancel()
		took := make(chan context.Context, 1)
		go b.Run(bctx, "relay", func(ctx context.Context) error { took <- ctx; <-ctx.Done(); return nil })
		termCtx := <-took
		if err := write(stale, dbs[0]); !errors.Is(err, store.ErrFenced) {
			t.Errorf("stale holder's write: got %v, want ErrFenced", err)
		}
		if err := write(termCtx, dbs[1]); err != nil {
			t.Errorf("new holder's write: %v", err)
		}
	})
}

// TestPrune deletes the leases under a prefix whose terms ended before the cutoff, and no
// others: not a live one, not one under another name, not one whose name merely looks alike.
func TestPrune(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		db := open(t, d, 1)[0]
		now := time.Now()
		for name, expires := range map[string]time.Time{
			"instance/old":      now.Add(-2 * time.Hour),
			"instance/released": time.UnixMilli(0),
			"instance/recent":   now.Add(-time.Minute),
			"instance/live":     now.Add(5 * time.Second),
			"instanceXold":      now.Add(-2 * time.Hour),
			"INSTANCE/old":      now.Add(-2 * time.Hour),
			"outbox-relay":      now.Add(-2 * time.Hour),
		} {
			if _, err := db.Write(ctx, `INSERT INTO leases (name, holder, token, expires_at) VALUES ($1, 'h', 1, $2)`,
				name, store.Now(expires)); err != nil {
				t.Fatal(err)
			}
		}
		n, err := lease.New(db, lease.Config{}).Prune(ctx, "instance/", now.Add(-time.Hour))
		if err != nil || n != 2 {
			t.Fatalf("Prune = %d, %v; want 2 deleted", n, err)
		}
		rows, err := db.QueryContext(ctx, `SELECT name FROM leases`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var left []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			left = append(left, name)
		}
		slices.Sort(left)
		want := []string{"INSTANCE/old", "instance/live", "instance/recent", "instanceXold", "outbox-relay"}
		if !slices.Equal(left, want) {
			t.Errorf("left %v, want %v", left, want)
		}
	})
}
