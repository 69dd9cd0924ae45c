package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// TestStore is the store suite. Every case runs on every backend, each on a fresh store.
func TestStore(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		fn   func(t *testing.T, db *store.DB)
	}{
		{"MigrateIsIdempotent", testMigrateIsIdempotent},
		{"InTxCommits", testInTxCommits},
		{"InTxRollsBack", testInTxRollsBack},
		{"Processed", testProcessed},
		{"ProcessedRolledBack", testProcessedRolledBack},
		{"UnsentOutboxAndMarkSent", testUnsentOutboxAndMarkSent},
		{"OldestUnsent", testOldestUnsent},
		{"PruneSent", testPruneSent},
		{"OutboxSignal", testOutboxSignal},
		{"ConcurrentWriters", testConcurrentWriters},
		{"PanicRollsBack", testPanicRollsBack},
		{"PreparedStatementsReused", testPreparedStatementsReused},
	}
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					db := tiffintest.NewStoreOn(t, d)
					if got := db.Dialect(); got != d {
						t.Fatalf("Dialect() = %q, want %q", got, d)
					}
					c.fn(t, db)
				})
			}
		})
	}
}

func testMigrateIsIdempotent(t *testing.T, db *store.DB) {
	ctx := t.Context()
	for i := range 2 {
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("Migrate #%d on an up-to-date store: %v", i+1, err)
		}
	}
	for _, table := range []string{"restaurants", "menu_items", "orders", "stock_reservations", "deliveries", "outbox", "processed_events"} {
		if n := count(t, db, "SELECT COUNT(*) FROM "+table); n != 0 {
			t.Errorf("%s has %d rows after migrating, want 0", table, n)
		}
	}
}

func testInTxCommits(t *testing.T, db *store.DB) {
	ctx := t.Context()
	var emitted []string
	afterCommit := 0
	var visibleAfterCommit int
	err := db.InTx(ctx, func(tx *store.Tx) error {
		if got := tx.Dialect(); got != db.Dialect() {
			t.Errorf("tx.Dialect() = %q, want %q", got, db.Dialect())
		}
		if err := insertRestaurant(ctx, tx, "rst_1"); err != nil {
			return err
		}
		for i := range 2 {
			e := newEvent(t, fmt.Sprintf("ord_%d", i))
			if err := tx.Emit(ctx, e); err != nil {
				return err
			}
			emitted = append(emitted, e.ID)
		}
		if err := tx.EmitNew(ctx, event.OrderPaid, "r1", time.Now(), event.Order{OrderID: "ord_0"}); err != nil {
			return err
		}
		tx.AfterCommit(func() {
			afterCommit++
			// After commit the write is visible to readers outside the transaction.
			visibleAfterCommit = count(t, db, "SELECT COUNT(*) FROM restaurants")
		})
		tx.AfterCommit(func() { afterCommit++ })
		if afterCommit != 0 {
			t.Errorf("AfterCommit ran before commit")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
	if afterCommit != 2 {
		t.Errorf("%d AfterCommit functions ran, want 2", afterCommit)
	}
	if visibleAfterCommit != 1 {
		t.Errorf("AfterCommit saw %d restaurants, want 1", visibleAfterCommit)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM restaurants"); n != 1 {
		t.Errorf("%d restaurants after commit, want 1", n)
	}
	rows, err := db.UnsentOutbox(ctx, 10)
	if err != nil {
		t.Fatalf("UnsentOutbox: %v", err)
	}
	if len(rows) != 3 {
		t.Fatalf("UnsentOutbox returned %d rows, want 3", len(rows))
	}
	for i, id := range emitted {
		r := rows[i]
		if r.ID != id {
			t.Errorf("outbox row %d has ID %q, want %q", i, r.ID, id)
		}
		if want := event.Subject("r1", event.OrderPlaced); r.Subject != want {
			t.Errorf("outbox row %d has subject %q, want %q", i, r.Subject, want)
		}
		e, err := event.Decode(r.Payload)
		if err != nil {
			t.Errorf("outbox row %d payload: %v", i, err)
			continue
		}
		if e.ID != id || e.Type != event.OrderPlaced || e.Region != "r1" {
			t.Errorf("outbox row %d decodes to %+v, want ID %s, type %s, region r1", i, e, id, event.OrderPlaced)
		}
		if age := time.Since(r.CreatedAt); age < -time.Second || age > time.Minute {
			t.Errorf("outbox row %d created at %v, want about now", i, r.CreatedAt)
		}
	}
	if want := event.Subject("r1", event.OrderPaid); rows[2].Subject != want {
		t.Errorf("EmitNew row has subject %q, want %q", rows[2].Subject, want)
	}
}

func testInTxRollsBack(t *testing.T, db *store.DB) {
	ctx := t.Context()
	errBoom := errors.New("boom")
	ran := false
	err := db.InTx(ctx, func(tx *store.Tx) error {
		if err := insertRestaurant(ctx, tx, "rst_1"); err != nil {
			return err
		}
		if err := tx.Emit(ctx, newEvent(t, "ord_1")); err != nil {
			return err
		}
		if ok, err := tx.Processed(ctx, "notify", "evt_1"); err != nil || !ok {
			return fmt.Errorf("Processed = %v, %v", ok, err)
		}
		tx.AfterCommit(func() { ran = true })
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx returned %v, want %v", err, errBoom)
	}
	if ran {
		t.Errorf("AfterCommit ran after a rollback")
	}
	for _, table := range []string{"restaurants", "outbox", "processed_events"} {
		if n := count(t, db, "SELECT COUNT(*) FROM "+table); n != 0 {
			t.Errorf("%s has %d rows after a rollback, want 0", table, n)
		}
	}
	select {
	case <-db.OutboxSignal():
		t.Errorf("OutboxSignal fired after a rollback")
	default:
	}
	// The store is still usable: the failed transaction released the writer.
	if err := db.InTx(ctx, func(tx *store.Tx) error { return insertRestaurant(ctx, tx, "rst_1") }); err != nil {
		t.Fatalf("InTx after a rollback: %v", err)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM restaurants"); n != 1 {
		t.Errorf("%d restaurants, want 1", n)
	}
}

func testProcessed(t *testing.T, db *store.DB) {
	ctx := t.Context()
	tests := []struct {
		consumer, event string
		want            bool
	}{
		{"notify", "evt_1", true},
		{"notify", "evt_1", false}, // redelivery
		{"dispatch", "evt_1", true},
		{"notify", "evt_2", true},
		{"dispatch", "evt_1", false},
	}
	for i, tt := range tests {
		var got bool
		err := db.InTx(ctx, func(tx *store.Tx) error {
			var err error
			got, err = tx.Processed(ctx, tt.consumer, tt.event)
			return err
		})
		if err != nil {
			t.Fatalf("step %d: Processed(%s, %s): %v", i, tt.consumer, tt.event, err)
		}
		if got != tt.want {
			t.Errorf("step %d: Processed(%s, %s) = %v, want %v", i, tt.consumer, tt.event, got, tt.want)
		}
	}
	// Twice in one transaction: the second sees the first.
	err := db.InTx(ctx, func(tx *store.Tx) error {
		for i, want := range []bool{true, false} {
			got, err := tx.Processed(ctx, "tracking", "evt_3")
			if err != nil {
				return err
			}
			if got != want {
				t.Errorf("call %d in one tx: Processed = %v, want %v", i, got, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
}

func testProcessedRolledBack(t *testing.T, db *store.DB) {
	ctx := t.Context()
	errBoom := errors.New("handler failed")
	err := db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Processed(ctx, "notify", "evt_1"); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx returned %v, want %v", err, errBoom)
	}
	// The handler failed, so the redelivery must be handled again.
	err = db.InTx(ctx, func(tx *store.Tx) error {
		ok, err := tx.Processed(ctx, "notify", "evt_1")
		if err == nil && !ok {
			t.Errorf("Processed after a rolled-back record = false, want true")
		}
		return err
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
}

func testUnsentOutboxAndMarkSent(t *testing.T, db *store.DB) {
	ctx := t.Context()
	if rows, err := db.UnsentOutbox(ctx, 10); err != nil || len(rows) != 0 {
		t.Fatalf("UnsentOutbox on an empty store = %v, %v; want none", rows, err)
	}
	var ids []string
	for tx := range 3 {
		err := db.InTx(ctx, func(stx *store.Tx) error {
			for range 2 {
				e := newEvent(t, fmt.Sprintf("ord_%d", tx))
				if err := stx.Emit(ctx, e); err != nil {
					return err
				}
				ids = append(ids, e.ID)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("InTx %d: %v", tx, err)
		}
	}
	rows, err := db.UnsentOutbox(ctx, 100)
	if err != nil {
		t.Fatalf("UnsentOutbox: %v", err)
	}
	if got := rowIDs(rows); !slices.Equal(got, ids) {
		t.Fatalf("UnsentOutbox IDs = %v, want %v (emission order)", got, ids)
	}
	if !slices.IsSortedFunc(rows, func(a, b store.OutboxRow) int { return int(a.Seq - b.Seq) }) {
		t.Errorf("UnsentOutbox is not in seq order: %v", rowSeqs(rows))
	}
	if seqs := rowSeqs(rows); len(slices.Compact(slices.Clone(seqs))) != len(seqs) {
		t.Errorf("duplicate seqs: %v", seqs)
	}

	first, err := db.UnsentOutbox(ctx, 2)
	if err != nil {
		t.Fatalf("UnsentOutbox(2): %v", err)
	}
	if got := rowIDs(first); !slices.Equal(got, ids[:2]) {
		t.Errorf("UnsentOutbox(2) IDs = %v, want %v", got, ids[:2])
	}

	if err := db.MarkSent(ctx, nil, time.Now()); err != nil {
		t.Errorf("MarkSent(nil): %v", err)
	}
	// Mark the first and the fourth row sent; the rest stay, in order.
	if err := db.MarkSent(ctx, []int64{rows[0].Seq, rows[3].Seq}, time.Now()); err != nil {
		t.Fatalf("MarkSent: %v", err)
	}
	left, err := db.UnsentOutbox(ctx, 100)
	if err != nil {
		t.Fatalf("UnsentOutbox: %v", err)
	}
	want := []string{ids[1], ids[2], ids[4], ids[5]}
	if got := rowIDs(left); !slices.Equal(got, want) {
		t.Errorf("after MarkSent, UnsentOutbox IDs = %v, want %v", got, want)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM outbox"); n != 6 {
		t.Errorf("outbox has %d rows, want 6 (MarkSent keeps rows)", n)
	}
	// Marking a row sent again is harmless.
	if err := db.MarkSent(ctx, []int64{rows[0].Seq}, time.Now()); err != nil {
		t.Errorf("MarkSent again: %v", err)
	}
}

func testOldestUnsent(t *testing.T, db *store.DB) {
	ctx := t.Context()
	if at, ok, err := db.OldestUnsent(ctx); err != nil || ok {
		t.Fatalf("OldestUnsent on an empty outbox = %v, %v, %v; want false", at, ok, err)
	}
	before := time.Now().Add(-time.Millisecond)
	emit(t, db, 2)
	at, ok, err := db.OldestUnsent(ctx)
	if err != nil || !ok {
		t.Fatalf("OldestUnsent = %v, %v, %v; want a time", at, ok, err)
	}
	if at.Before(before.Truncate(time.Millisecond)) || at.After(time.Now()) {
		t.Errorf("OldestUnsent = %v, want between %v and now", at, before)
	}
	rows, err := db.UnsentOutbox(ctx, 10)
	if err != nil {
		t.Fatalf("UnsentOutbox: %v", err)
	}
	if !at.Equal(rows[0].CreatedAt) {
		t.Errorf("OldestUnsent = %v, want the first row's %v", at, rows[0].CreatedAt)
	}
	if err := db.MarkSent(ctx, rowSeqs(rows), time.Now()); err != nil {
		t.Fatalf("MarkSent: %v", err)
	}
	if at, ok, err := db.OldestUnsent(ctx); err != nil || ok {
		t.Errorf("OldestUnsent with everything sent = %v, %v, %v; want false", at, ok, err)
	}
}

func testPruneSent(t *testing.T, db *store.DB) {
	ctx := t.Context()
	emit(t, db, 4)
	rows, err := db.UnsentOutbox(ctx, 10)
	if err != nil {
		t.Fatalf("UnsentOutbox: %v", err)
	}
	sentAt := time.Now().Add(-2 * time.Hour)
	if err := db.MarkSent(ctx, rowSeqs(rows[:2]), sentAt); err != nil {
		t.Fatalf("MarkSent: %v", err)
	}
	processed := func(consumer, id string) bool {
		t.Helper()
		var ok bool
		err := db.InTx(ctx, func(tx *store.Tx) error {
			var err error
			ok, err = tx.Processed(ctx, consumer, id)
			return err
		})
		if err != nil {
			t.Fatalf("Processed: %v", err)
		}
		return ok
	}
	processed("notify", "evt_1")

	// A cutoff before everything removes nothing.
	if err := db.PruneSent(ctx, sentAt.Add(-time.Hour)); err != nil {
		t.Fatalf("PruneSent: %v", err)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM outbox"); n != 4 {
		t.Errorf("outbox has %d rows after pruning with an early cutoff, want 4", n)
	}
	if processed("notify", "evt_1") {
		t.Errorf("processed record gone after pruning with an early cutoff")
	}

	// A cutoff after the sends but before the records removes the sent rows only.
	if err := db.PruneSent(ctx, sentAt.Add(time.Hour)); err != nil {
		t.Fatalf("PruneSent: %v", err)
	}
	left, err := db.UnsentOutbox(ctx, 10)
	if err != nil {
		t.Fatalf("UnsentOutbox: %v", err)
	}
	if got, want := rowIDs(left), rowIDs(rows[2:]); !slices.Equal(got, want) {
		t.Errorf("unsent rows after pruning = %v, want %v", got, want)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM outbox"); n != 2 {
		t.Errorf("outbox has %d rows after pruning, want the 2 unsent", n)
	}
	if processed("notify", "evt_1") {
		t.Errorf("processed record newer than the cutoff was pruned")
	}

	// A cutoff in the future removes the processed records too, but never unsent rows.
	if err := db.PruneSent(ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("PruneSent: %v", err)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM processed_events"); n != 0 {
		t.Errorf("processed_events has %d rows after pruning, want 0", n)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM outbox"); n != 2 {
		t.Errorf("outbox has %d rows after pruning, want the 2 unsent", n)
	}
}

func testOutboxSignal(t *testing.T, db *store.DB) {
	ctx := t.Context()
	signalled := func() bool {
		select {
		case <-db.OutboxSignal():
			return true
		default:
			return false
		}
	}
	if signalled() {
		t.Fatalf("OutboxSignal fired on a fresh store")
	}
	if err := db.InTx(ctx, func(tx *store.Tx) error { return insertRestaurant(ctx, tx, "rst_1") }); err != nil {
		t.Fatalf("InTx: %v", err)
	}
	if signalled() {
		t.Errorf("OutboxSignal fired after a commit that emitted nothing")
	}
	emit(t, db, 1)
	if !signalled() {
		t.Errorf("OutboxSignal did not fire after a commit that emitted")
	}
	// Commits while nobody listens coalesce into one signal and never block the writer.
	emit(t, db, 1)
	emit(t, db, 1)
	if !signalled() {
		t.Errorf("OutboxSignal did not fire after two emitting commits")
	}
	if signalled() {
		t.Errorf("OutboxSignal fired twice for commits made while nobody listened")
	}
}

func testConcurrentWriters(t *testing.T, db *store.DB) {
	ctx := t.Context()
	const writers, txs = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range txs {
				err := db.InTx(ctx, func(tx *store.Tx) error {
					id := fmt.Sprintf("rst_%d_%d", w, i)
					if err := insertRestaurant(ctx, tx, id); err != nil {
						return err
					}
					return tx.EmitNew(ctx, event.OrderPlaced, "r1", time.Now(), event.Order{RestaurantID: id})
				})
				if err != nil {
					errs <- fmt.Errorf("writer %d tx %d: %w", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM restaurants"); n != writers*txs {
		t.Errorf("%d restaurants, want %d", n, writers*txs)
	}
	if n := count(t, db, "SELECT COUNT(DISTINCT seq) FROM outbox"); n != writers*txs {
		t.Errorf("%d distinct outbox seqs, want %d", n, writers*txs)
	}
	rows, err := db.UnsentOutbox(ctx, 2*writers*txs)
	if err != nil {
		t.Fatalf("UnsentOutbox: %v", err)
	}
	if len(rows) != writers*txs {
		t.Errorf("UnsentOutbox returned %d rows, want %d", len(rows), writers*txs)
	}
}

func TestTimeRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 14, 15, 9, 26, 535_897_932, time.FixedZone("x", 3600))
	got := store.Time(store.Now(at))
	if want := at.Truncate(time.Millisecond).UTC(); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("Time(Now(%v)) = %v, want %v in UTC", at, got, want)
	}
}

// insertRestaurant writes a minimal restaurant row in tx.
func insertRestaurant(ctx context.Context, tx *store.Tx, id string) error {
	now := store.Now(time.Now())
	_, err := tx.ExecContext(ctx,
		`INSERT INTO restaurants (id, owner_id, name, lat, lng, region, created_at, updated_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		id, "usr_owner", "Tiffin "+id, 51.5074, -0.1278, "r1", now, now)
	if err != nil {
		return fmt.Errorf("insert restaurant %s: %w", id, err)
	}
	return nil
}

// newEvent builds an order.placed event in region r1.
func newEvent(tb testing.TB, orderID string) event.Envelope {
	tb.Helper()
	e, err := event.New(event.OrderPlaced, "r1", time.Now(), event.Order{OrderID: orderID, Status: "placed"})
	if err != nil {
		tb.Fatalf("new event: %v", err)
	}
	return e
}

// emit commits n events, one transaction each.
func emit(tb testing.TB, db *store.DB, n int) {
	tb.Helper()
	for i := range n {
		err := db.InTx(context.Background(), func(tx *store.Tx) error {
			return tx.Emit(context.Background(), newEvent(tb, fmt.Sprintf("ord_%d", i)))
		})
		if err != nil {
			tb.Fatalf("emit: %v", err)
		}
	}
}

// count runs a SELECT COUNT(*) query on db's readers.
func count(tb testing.TB, db *store.DB, query string) int {
	tb.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), query).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return n
}

func rowIDs(rows []store.OutboxRow) []string {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}

func rowSeqs(rows []store.OutboxRow) []int64 {
	seqs := make([]int64, len(rows))
	for i, r := range rows {
		seqs[i] = r.Seq
	}
	return seqs
}

// testPanicRollsBack: a panicking transaction writes nothing and leaves the store usable.
func testPanicRollsBack(t *testing.T, db *store.DB) {
	ctx := t.Context()
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("InTx swallowed the panic")
			}
		}()
		db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO customers (id, created_at) VALUES ('c-panic', 1)`); err != nil {
				t.Fatal(err)
			}
			panic("boom")
		})
	}()
	if n := count(t, db, "SELECT COUNT(*) FROM customers"); n != 0 {
		t.Errorf("customers after a panicking tx: got %d, want 0", n)
	}
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO customers (id, created_at) VALUES ('c-after', 1)`)
		return err
	}); err != nil {
		t.Fatalf("InTx after a panic: %v", err)
	}
}

// testPreparedStatementsReused runs the same statements in many transactions (prepared after
// first use on SQLite) and checks every result.
func testPreparedStatementsReused(t *testing.T, db *store.DB) {
	ctx := t.Context()
	for i := range 50 {
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO customers (id, created_at) VALUES ($1, $2)`, fmt.Sprintf("c-%d", i), i); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM customers WHERE created_at <= $1`, i).Scan(&n); err != nil {
				return err
			}
			if n != i+1 {
				return fmt.Errorf("count in tx %d: got %d, want %d", i, n, i+1)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestConcurrentOpenPostgres: replicas starting together on one fresh PostgreSQL database all
// come up (the migrations take an advisory lock).
func TestConcurrentOpenPostgres(t *testing.T) {
	t.Parallel()
	dsn := tiffintest.DSN(t, store.Postgres)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Go(func() {
			db, err := store.Open(t.Context(), dsn)
			if err == nil {
				db.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
}
