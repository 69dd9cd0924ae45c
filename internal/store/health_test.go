package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// waitFor polls cond every 10ms until it holds or within passes, and returns how long it took.
func waitFor(tb testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	tb.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			tb.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// TestDatabaseOutage takes PostgreSQL away behind a proxy, as a stopped server (connections
// refused) and as a network partition (nothing answers), and checks that the store fails
// fast with a fault.Down instead of hanging, refuses at once once it knows, and comes back
// by itself.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"refused", "blackhole"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			dsn, px := tiffintest.PostgresBehindProxy(t)
			ctx := t.Context()
			db, err := store.OpenConfig(ctx, dsn, store.Config{Logger: quiet})
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			insert := func(id string) error {
				return db.InTx(ctx, func(tx *store.Tx) error { return insertRestaurant(ctx, tx, id) })
			}
			if err := insert("before"); err != nil {
				t.Fatalf("insert before the outage: %v", err)
			}

			if mode == "refused" {
				px.Refuse()
			} else {
				px.Blackhole()
			}
			start := time.Now()
			err = insert("during")
			took := time.Since(start)
			if !errors.Is(err, fault.Unavailable) || !store.Unreachable(err) {
				t.Fatalf("write during the outage: got %v, want a fault.Down", err)
			}
			var down *fault.Down
			if !errors.As(err, &down) || down.Dependency != "database" {
				t.Errorf("write during the outage: got %v, want a fault.Down naming the database", err)
			}
			if took > 2*time.Second {
				t.Errorf("write during the outage failed after %v, want under 2s", took)
			}
			t.Logf("%s: first write failed after %v", mode, took.Round(time.Millisecond))
			waitFor(t, 3*time.Second, "store knows the database is down", func() bool { return db.Down() != nil })

			// Known down: everything is refused at once.
			for name, op := range map[string]func() error{
				"InTx":  func() error { return insert("refused") },
				"Write": func() error { _, err := db.Write(ctx, `DELETE FROM restaurants WHERE id = 'x'`); return err },
				"QueryContext": func() error {
					_, err := db.QueryContext(ctx, `SELECT id FROM restaurants`)
					return err
				},
				"QueryRowContext": func() error {
					var n int
					return db.QueryRowContext(ctx, `SELECT count(*) FROM restaurants`).Scan(&n)
				},
				"PingContext": func() error { return db.PingContext(ctx) },
			} {
				start := time.Now()
				err := op()
				if err == nil {
					t.Errorf("%s while down: got no error", name)
				}
				if d := time.Since(start); d > 100*time.Millisecond {
					t.Errorf("%s while down took %v, want an immediate refusal", name, d)
				}
				if name != "QueryRowContext" && !store.Unreachable(err) {
					t.Errorf("%s while down: got %v, want a fault.Down", name, err)
				}
			}

			px.Restore()
			back := waitFor(t, 5*time.Second, "store sees the database again", func() bool { return db.Down() == nil })
			t.Logf("%s: back %v after the restore", mode, back.Round(time.Millisecond))
			waitFor(t, 5*time.Second, "a write succeeds again", func() bool { return insert("after") == nil })
			var ids []string
			rows, err := db.QueryContext(ctx, `SELECT id FROM restaurants ORDER BY id`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			if fmt.Sprint(ids) != "[after before]" {
				t.Errorf("restaurants after the outage: got %v, want [after before]", ids)
			}
		})
	}
}

// TestSlowStatementIsNotAnOutage: a statement that runs past SuspectAfter has the server
// probed, and the server answering means nothing is refused or cancelled.
func TestSlowStatementIsNotAnOutage(t *testing.T) {
	t.Parallel()
	dsn := tiffintest.DSN(t, store.Postgres)
	ctx := t.Context()
	db, err := store.OpenConfig(ctx, dsn, store.Config{Logger: quiet, SuspectAfter: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	err = db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `SELECT pg_sleep(0.6)`)
		return err
	})
	if err != nil {
		t.Fatalf("slow transaction: %v", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT 1 FROM (SELECT pg_sleep(0.3)) s`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("slow read: n %d, err %v", n, err)
	}
	if err := db.Down(); err != nil {
		t.Errorf("after slow statements on a live server: Down() = %v, want nil", err)
	}
}

func TestUnreachableErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"no rows", sql.ErrNoRows, false},
		{"cancelled by the caller", context.Canceled, false},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"serialization failure", fmt.Errorf("save: %w", &pgconn.PgError{Code: "40001"}), false},
		{"not found", fault.NotFound, false},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"reset, wrapped", fmt.Errorf("read order: %w", syscall.ECONNRESET), true},
		{"unexpected EOF", fmt.Errorf("load: %w", io.ErrUnexpectedEOF), true},
		{"conn closed", fmt.Errorf("x: %w", pgconn.ErrConnClosed), true},
		{"down", &fault.Down{Dependency: "database", Err: errors.New("x")}, true},
		{"another dependency down", &fault.Down{Dependency: "broker", Err: errors.New("x")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := store.Unreachable(tt.err); got != tt.want {
				t.Errorf("Unreachable(%v) = %v, want %v", tt.err, got, tt.want)
			}
			got := store.Classify(tt.err)
			var d *fault.Down
			if isDown := errors.As(got, &d) && d.Dependency == "database"; isDown != tt.want {
				t.Errorf("Classify(%v) = %v: a database fault.Down %v, want %v", tt.err, got, isDown, tt.want)
			}
			if tt.err != nil && !errors.Is(got, tt.err) {
				t.Errorf("Classify(%v) = %v: lost the cause", tt.err, got)
			}
		})
	}
}

// TestTransactionStatementsAreCut: a statement run inside InTx with a context of its own
// (not the one given to InTx) still ends when the server is found down.
func TestTransactionStatementsAreCut(t *testing.T) {
	t.Parallel()
	dsn, px := tiffintest.PostgresBehindProxy(t)
	ctx := t.Context()
	db, err := store.OpenConfig(ctx, dsn, store.Config{Logger: quiet})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	start := time.Now()
	err = db.InTx(ctx, func(tx *store.Tx) error {
		px.Blackhole()
		_, err := tx.ExecContext(context.Background(), `SELECT 1`)
		return err
	})
	if !store.Unreachable(err) {
		t.Errorf("statement into a blackhole: got %v, want a fault.Down", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("statement into a blackhole ended after %v, want under 2s", d)
	}
	px.Restore()
}
