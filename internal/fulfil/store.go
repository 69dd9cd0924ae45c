package fulfil

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tiffin-dev/tiffin/internal/audit"
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
	// Claim is the fencing token of the latest claimed attempt; Calling says that attempt's
	// call may have reached the carrier without its outcome being recorded.
	Claim   int64
	Calling bool
	// Booking is what the booking asks the carrier to carry; Region is the order's.
	Booking   BookingRequest
	Region    string
	CreatedAt time.Time
	UpdatedAt time.Time // when it entered its state
}

// Errors of the shipment store.
var (
	ErrNoShipment = errors.New("no such shipment")
	// ErrMoved: the shipment is no longer in the state the change was decided from (another
	// process, or a carrier update, moved it first); read it again.
	ErrMoved = errors.New("shipment moved meanwhile")
)

// NewShipment is what Request records.
type NewShipment struct {
	OrderID, Carrier, Region string
	Booking                  BookingRequest // its Reference is set to the shipment's ID
}

// Request records a shipment in tx (the transaction that decided the order ships by carrier),
// requested and due at once. It is idempotent per order: a second request returns the first
// shipment.
func Request(ctx context.Context, tx *store.Tx, r NewShipment, now time.Time) (Shipment, error) {
	orderID := r.OrderID
	id := event.NewID("shp")
	r.Booking.Reference = id
	booking, err := json.Marshal(r.Booking)
	if err != nil {
		return Shipment{}, fmt.Errorf("request shipment of %s: %w", orderID, err)
	}
	n, err := tx.Write(ctx,
		`INSERT INTO shipments (id, order_id, carrier, state, next_attempt_at, request, region, created_at, updated_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (order_id) DO NOTHING`,
		id, orderID, r.Carrier, string(Requested), store.Now(now), string(booking), r.Region, store.Now(now), store.Now(now))
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
	// Claim, when not zero, fences the move: it applies only while the shipment's claim is
	// still this one (the attempt that made the call records its outcome; a later claim has
	// taken over otherwise), and it clears Calling.
	Claim int64
}

// Move moves shipment id from -> to (to may equal from, to record a failed attempt or the
// next attempt time) with change c, if it is still in from (and, with c.Claim, still under
// that claim); ErrMoved otherwise. The machine must allow from -> to. A move into Shipped,
// Delivered, Cancelled or Failed emits shipment.<state> in the same transaction.
func Move(ctx context.Context, db *store.DB, id string, from, to State, c Change, now time.Time) error {
	return db.InTx(ctx, func(tx *store.Tx) error { return MoveTx(ctx, tx, id, from, to, c, now) })
}

// MoveTx is Move inside tx. A parcel reported delivered before anyone heard it shipped moves
// through Shipped first, so that shipment.shipped (the customer's "shipped" notice) comes
// exactly once whatever the carrier skipped.
func MoveTx(ctx context.Context, tx *store.Tx, id string, from, to State, c Change, now time.Time) error {
	if to == Delivered && from != Shipped && from != Delivered && CanMove(from, Shipped) {
		step := c
		step.Detail = "shipped (implied: the carrier reported it delivered)"
		if err := MoveTx(ctx, tx, id, from, Shipped, step, now); err != nil {
			return err
		}
		from = Shipped
	}
	if from != to && !CanMove(from, to) {
		return fmt.Errorf("shipment %s: %s -> %s is not a legal move", id, from, to)
	}
	var next any
	if !c.Next.IsZero() {
		next = store.Now(c.Next)
	}
	msg := clipMiddle(c.LastError, 300)
	n, err := tx.Write(ctx,
		// A failed call counts an attempt and keeps its error; staying put keeps both;
		// a move starts the next operation's count afresh.
		// updated_at is when the shipment entered its state: a failed attempt leaves it.
		`UPDATE shipments SET state = $1, carrier_ref = CASE WHEN $2 = '' THEN carrier_ref ELSE $2 END,
		   next_attempt_at = $3, updated_at = CASE WHEN $6 THEN updated_at ELSE $4 END,
		   attempts = CASE WHEN $5 THEN attempts + 1 WHEN $6 THEN attempts ELSE 0 END,
		   last_error = CASE WHEN $5 THEN $7 WHEN $6 THEN last_error ELSE '' END,
		   calling = CASE WHEN $8 = 0 THEN calling ELSE 0 END
		 WHERE id = $9 AND state = $10 AND ($11 = 0 OR claim = $12)`,
		string(to), c.CarrierRef, next, store.Now(now), c.Failed, from == to, msg, c.Claim, id, string(from), c.Claim, c.Claim)
	if err != nil {
		return fmt.Errorf("move shipment %s: %w", id, err)
	}
	if n == 0 {
		return ErrMoved
	}
	if from == to && c.Detail == "" {
		return nil
	}
	if err := appendHistory(ctx, tx, id, to, c.Detail, now); err != nil {
		return err
	}
	if t, ok := stateEvents[to]; ok && from != to {
		s, err := scanShipment(tx.QueryRowContext(ctx, `SELECT `+shipmentColumns+` FROM shipments WHERE id = $1`, id))
		if err != nil {
			return fmt.Errorf("move shipment %s: %w", id, err)
		}
		return tx.EmitNew(ctx, t, s.Region, now, event.Shipment{
			ShipmentID: s.ID, OrderID: s.OrderID, Carrier: s.Carrier, CarrierRef: s.CarrierRef,
			State: string(to), PrevState: string(from), Detail: c.Detail, At: now,
		})
	}
	return nil
}

// stateEvents are the events moves into these states emit.
var stateEvents = map[State]event.Type{
	Booked: event.ShipmentBooked, Shipped: event.ShipmentShipped, Delivered: event.ShipmentDelivered,
	Cancelled: event.ShipmentCancelled, Failed: event.ShipmentFailed,
}

// Claim takes shipment s's due attempt for one worker, in tx: the claim goes up by one (the
// attempt's fencing token, returned), Calling is set, and the next attempt moves to hold (when
// a claim whose worker died may be taken over). ok is false when s moved or was claimed since
// it was read.
func Claim(ctx context.Context, tx *store.Tx, s Shipment, hold time.Time) (token int64, ok bool, err error) {
	n, err := tx.Write(ctx,
		`UPDATE shipments SET claim = claim + 1, calling = 1, next_attempt_at = $1
		 WHERE id = $2 AND state = $3 AND claim = $4`,
		store.Now(hold), s.ID, string(s.State), s.Claim)
	if err != nil {
		return 0, false, fmt.Errorf("claim shipment %s: %w", s.ID, err)
	}
	return s.Claim + 1, n == 1, nil
}

// Retry makes shipment id due now; a Failed one goes back to Requested (an ops redrive, with
// its attempts counted afresh). ErrNoShipment when there is none; a shipment in an end state
// is returned unchanged with ok false.
func Retry(ctx context.Context, db *store.DB, id, actor string, now time.Time) (s Shipment, ok bool, err error) {
	err = db.InTx(ctx, func(tx *store.Tx) error {
		s, err = scanShipment(tx.QueryRowContext(ctx, `SELECT `+shipmentColumns+` FROM shipments WHERE id = $1`, id))
		if err != nil {
			return err
		}
		switch {
		case s.State == Failed:
			if err := MoveTx(ctx, tx, id, Failed, Requested, Change{Next: now, Detail: "retried by " + actor}, now); err != nil {
				return err
			}
		case s.State.Terminal():
			return nil
		default:
			if _, err := tx.Write(ctx, `UPDATE shipments SET next_attempt_at = $1 WHERE id = $2`,
				store.Now(now), id); err != nil {
				return fmt.Errorf("retry shipment %s: %w", id, err)
			}
		}
		ok = true
		if err := audit.Record(ctx, tx, actor, "shipment.retry", "shipment:"+id, map[string]string{"state": string(s.State)}, now); err != nil {
			return err
		}
		s, err = scanShipment(tx.QueryRowContext(ctx, `SELECT `+shipmentColumns+` FROM shipments WHERE id = $1`, id))
		return err
	})
	return s, ok, err
}

// ByOrder returns the shipment of order id.
func ByOrder(ctx context.Context, q store.Querier, orderID string) (Shipment, error) {
	return scanShipment(q.QueryRowContext(ctx, `SELECT `+shipmentColumns+` FROM shipments WHERE order_id = $1`, orderID))
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

// Backlog counts shipments by state, and reports the longest any not in an end state has
// waited since its last change (zero when none waits).
func Backlog(ctx context.Context, q store.Querier, now time.Time) (map[State]int, time.Duration, error) {
	rows, err := q.QueryContext(ctx, `SELECT state, COUNT(*), MIN(updated_at) FROM shipments GROUP BY state`)
	if err != nil {
		return nil, 0, fmt.Errorf("shipment backlog: %w", err)
	}
	defer rows.Close()
	counts := map[State]int{}
	var oldest time.Duration
	for rows.Next() {
		var st string
		var n int
		var first int64
		if err := rows.Scan(&st, &n, &first); err != nil {
			return nil, 0, fmt.Errorf("shipment backlog: %w", err)
		}
		counts[State(st)] = n
		if s := State(st); !s.Terminal() && s != Failed {
			oldest = max(oldest, now.Sub(store.Time(first)))
		}
	}
	return counts, oldest, rows.Err()
}

// History is a shipment's transitions, oldest first.
type History struct {
	State  State     `json:"state"`
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at"`
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

const shipmentColumns = `id, order_id, carrier, state, carrier_ref, attempts, next_attempt_at, last_error, claim, calling, request, region, created_at, updated_at`

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
	var calling int
	var booking string
	if err := scan(&s.ID, &s.OrderID, &s.Carrier, &st, &s.CarrierRef, &s.Attempts, &next, &s.LastError,
		&s.Claim, &calling, &booking, &s.Region, &created, &updated); err != nil {
		return Shipment{}, err
	}
	s.Calling = calling != 0
	if booking != "" {
		if err := json.Unmarshal([]byte(booking), &s.Booking); err != nil {
			return Shipment{}, fmt.Errorf("shipment %s: booking request: %w", s.ID, err)
		}
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

// clipMiddle shortens s to about n bytes by cutting its middle: an error chain's head says
// what was tried, its tail why it failed.
func clipMiddle(s string, n int) string {
	if len(s) <= n {
		return s
	}
	head := n / 3
	return strings.ToValidUTF8(s[:head]+" … "+s[len(s)-(n-head-5):], "")
}
