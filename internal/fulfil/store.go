package fulfil

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// Shipment is one order's parcel with an outside carrier, as the store keeps it. Its ID is our
// reference at the carrier and its booking's idempotency key.
type Shipment struct {
	ID         string
	OrderID    string
	Carrier    string
	State      State
	CarrierRef string // the carrier's booking ID, once known
	// Attempts counts the calls of the current operation that failed; NextAttemptAt is when
	// the carrier is to be asked next (zero: nothing due).
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Errors of the shipment store.
var (
	ErrNoShipment = errors.New("no such shipment")
	// ErrMoved: the shipment is no longer in the state the change was decided from (another
	// process, or a carrier update, moved it first); read it again.
	ErrMoved = errors.New("shipment moved meanwhile")
)

// Request records a shipment of orderID with carrier in tx (the transaction that decided the
// order ships by carrier), requested and due at once. It is idempotent per order: a second
// request returns the first shipment.
func Request(ctx context.Context, tx *store.Tx, orderID, carrier string, now time.Time) (Shipment, error) {
	id := event.NewID("shp")
	n, err := tx.Write(ctx,
		`INSERT INTO shipments (id, order_id, carrier, state, next_attempt_at, created_at, updated_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (order_id) DO NOTHING`,
		id, orderID, carrier, string(Requested), store.Now(now), store.Now(now), store.Now(now))
	if err != nil {
		return Shipment{}, fmt.Errorf("request shipment of %s: %w", orderID, err)
	}
	if n == 1 {
		if err := appendHistory(ctx, tx, id, Requested, "", now); err != nil {
			return Shipment{}, err
		}
	}
	return scanShipment(tx.QueryRowContext(ctx, `SELECT `+shipmentColumns+` FROM shipments WHERE order_id = $1`, orderID))
}

// Change is what a move sets besides the state.
type Change struct {
	CarrierRef string    // kept when ""
	Next       time.Time // the next attempt; zero: none due
	Failed     bool      // the call failed: attempts + 1, LastError set
	LastError  string
	Detail     string // for the history row
}

// Move moves shipment id from -> to (to may equal from, to record a failed attempt or the
// next attempt time) with change c, if it is still in from; ErrMoved otherwise. The machine
// must allow from -> to.
func Move(ctx context.Context, db *store.DB, id string, from, to State, c Change, now time.Time) error {
	if from != to && !CanMove(from, to) {
		return fmt.Errorf("shipment %s: %s -> %s is not a legal move", id, from, to)
	}
	var next any
	if !c.Next.IsZero() {
		next = store.Now(c.Next)
	}
	msg := c.LastError
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return db.InTx(ctx, func(tx *store.Tx) error {
		n, err := tx.Write(ctx,
			// A failed call counts an attempt and keeps its error; staying put keeps both;
			// a move starts the next operation's count afresh.
			`UPDATE shipments SET state = $1, carrier_ref = CASE WHEN $2 = '' THEN carrier_ref ELSE $2 END,
			   next_attempt_at = $3, updated_at = $4,
			   attempts = CASE WHEN $5 THEN attempts + 1 WHEN $6 THEN attempts ELSE 0 END,
			   last_error = CASE WHEN $5 THEN $7 WHEN $6 THEN last_error ELSE '' END
			 WHERE id = $8 AND state = $9`,
			string(to), c.CarrierRef, next, store.Now(now), c.Failed, from == to, msg, id, string(from))
		if err != nil {
			return fmt.Errorf("move shipment %s: %w", id, err)
		}
		if n == 0 {
			return ErrMoved
		}
		if from == to && c.Detail == "" {
			return nil
		}
		return appendHistory(ctx, tx, id, to, c.Detail, now)
	})
}

// Get returns shipment id.
func Get(ctx context.Context, q store.Querier, id string) (Shipment, error) {
	return scanShipment(q.QueryRowContext(ctx, `SELECT `+shipmentColumns+` FROM shipments WHERE id = $1`, id))
}

// Due returns up to limit shipments whose next attempt is due by now, the oldest due first.
func Due(ctx context.Context, q store.Querier, now time.Time, limit int) ([]Shipment, error) {
	return list(ctx, q, `SELECT `+shipmentColumns+` FROM shipments WHERE next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2`,
		store.Now(now), limit)
}

// InState returns up to limit shipments in state, the longest there first.
func InState(ctx context.Context, q store.Querier, state State, limit int) ([]Shipment, error) {
	return list(ctx, q, `SELECT `+shipmentColumns+` FROM shipments WHERE state = $1 ORDER BY updated_at LIMIT $2`, string(state), limit)
}

// History is a shipment's transitions, oldest first.
type History struct {
	State  State
	Detail string
	At     time.Time
}

// HistoryOf returns shipment id's transitions.
func HistoryOf(ctx context.Context, q store.Querier, id string) ([]History, error) {
	rows, err := q.QueryContext(ctx, `SELECT state, detail, at FROM shipment_transitions WHERE shipment_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("shipment history of %s: %w", id, err)
	}
	defer rows.Close()
	var out []History
	for rows.Next() {
		var h History
		var st string
		var at int64
		if err := rows.Scan(&st, &h.Detail, &at); err != nil {
			return nil, fmt.Errorf("shipment history of %s: %w", id, err)
		}
		h.State, h.At = State(st), store.Time(at)
		out = append(out, h)
	}
	return out, rows.Err()
}

const shipmentColumns = `id, order_id, carrier, state, carrier_ref, attempts, next_attempt_at, last_error, created_at, updated_at`

func scanShipment(row *sql.Row) (Shipment, error) {
	s, err := scan(row.Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return Shipment{}, ErrNoShipment
	}
	return s, err
}

func scan(scan func(...any) error) (Shipment, error) {
	var s Shipment
	var st string
	var next sql.NullInt64
	var created, updated int64
	if err := scan(&s.ID, &s.OrderID, &s.Carrier, &st, &s.CarrierRef, &s.Attempts, &next, &s.LastError, &created, &updated); err != nil {
		return Shipment{}, err
	}
	s.State, s.CreatedAt, s.UpdatedAt = State(st), store.Time(created), store.Time(updated)
	if next.Valid {
		s.NextAttemptAt = store.Time(next.Int64)
	}
	return s, nil
}

func list(ctx context.Context, q store.Querier, query string, args ...any) ([]Shipment, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list shipments: %w", err)
	}
	defer rows.Close()
	var out []Shipment
	for rows.Next() {
		s, err := scan(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("list shipments: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func appendHistory(ctx context.Context, tx *store.Tx, id string, st State, detail string, at time.Time) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO shipment_transitions (shipment_id, seq, state, detail, at)
		 VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM shipment_transitions WHERE shipment_id = $2), $3, $4, $5)`,
		id, id, string(st), detail, store.Now(at))
	if err != nil {
		return fmt.Errorf("shipment history of %s: %w", id, err)
	}
	return nil
}
