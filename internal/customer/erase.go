package customer

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tiffin-dev/tiffin/internal/audit"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// ActionErase is the audit action of an erasure.
const ActionErase = "customer.erase"

// ErrOrderInProgress refuses an erasure while one of the customer's orders is under way: its
// restaurant and courier still need where it goes.
var ErrOrderInProgress = fault.New(fault.Conflict, "an order of this customer is in progress: erase once it has ended")

// Erasure is what an erasure did.
type Erasure struct {
	ID       string    `json:"id"`
	ErasedAt time.Time `json:"erased_at"`
	Orders   int       `json:"orders" doc:"Orders anonymised (kept, for accounting, without drop-off, address or notes)."`
}

// endedStatuses are the order statuses after which nobody needs the drop-off any more
// (order.Status.Terminal; spelt out, as the package imports no service).
const endedStatuses = `'delivered', 'rejected', 'cancelled', 'failed'`

// Erase anonymises customer id on behalf of p (the customer itself, or ops): the profile's
// name, e-mail, phone, language, address and preferences are blanked; its orders keep their
// items, money and history but lose their drop-off point, postal address and reason; its
// deliveries lose their drop-off and its shipments their booking request (recipient and
// address); its notifications and the messages that carried them are deleted; stored checkout
// answers lose the drop-off and address. Orders, payments and money records stay for
// accounting. Every request is recorded in the audit log (without personal data). Erasure is
// idempotent: erasing again changes nothing more and answers the first erasure's time.
func (s *Service) Erase(ctx context.Context, p auth.Principal, id string) (Erasure, error) {
	switch {
	case p.Role == auth.Customer && p.Subject == id:
	case p.Role == auth.Ops:
	default:
		return Erasure{}, ErrNotFound
	}
	now := store.Time(store.Now(s.now()))
	var e Erasure
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		e, err = s.erase(ctx, tx, actorOf(p), id, p.Role == auth.Customer, now)
		return err
	})
	if err != nil {
		return Erasure{}, fmt.Errorf("erase customer %s: %w", id, err)
	}
	return e, nil
}

func (s *Service) erase(ctx context.Context, tx *store.Tx, actor, id string, self bool, now time.Time) (Erasure, error) {
	if self { // a customer with orders has a row; one without gets one, marked erased
		if _, err := tx.ExecContext(ctx, `INSERT INTO customers (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`,
			id, store.Now(now)); err != nil {
			return Erasure{}, fmt.Errorf("customer row: %w", err)
		}
	}
	lock := ""
	if tx.Dialect() == store.Postgres {
		lock = " FOR UPDATE"
	}
	var email string
	var erased sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT email, erased_at FROM customers WHERE id = $1`+lock, id).Scan(&email, &erased)
	if errors.Is(err, sql.ErrNoRows) {
		return Erasure{}, ErrNotFound
	}
	if err != nil {
		return Erasure{}, fmt.Errorf("read customer: %w", err)
	}
	var active int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM orders WHERE customer_id = $1 AND status NOT IN (`+endedStatuses+`)`,
		id).Scan(&active); err != nil {
		return Erasure{}, fmt.Errorf("count orders in progress: %w", err)
	}
	if active > 0 {
		return Erasure{}, ErrOrderInProgress
	}
	e := Erasure{ID: id, ErasedAt: now}
	if erased.Valid {
		e.ErasedAt = store.Time(erased.Int64)
	}
	at := store.Now(e.ErasedAt)
	if _, err := tx.Write(ctx, `UPDATE customers SET name = '', email = '', phone = '', language = '', address = '',
		notify = '', updated_at = $2, erased_at = $2 WHERE id = $1`, id, at); err != nil {
		return Erasure{}, fmt.Errorf("blank profile: %w", err)
	}
	n, err := tx.Write(ctx, `UPDATE orders SET delivery_lat = 0, delivery_lng = 0, delivery_address = '', reason = ''
		WHERE customer_id = $1`, id)
	if err != nil {
		return Erasure{}, fmt.Errorf("anonymise orders: %w", err)
	}
	e.Orders = int(n)
	if _, err := tx.Write(ctx, `UPDATE deliveries SET dropoff_lat = 0, dropoff_lng = 0
		WHERE order_id IN (SELECT id FROM orders WHERE customer_id = $1)`, id); err != nil {
		return Erasure{}, fmt.Errorf("anonymise deliveries: %w", err)
	}
	if _, err := tx.Write(ctx, `UPDATE shipments SET request = ''
		WHERE order_id IN (SELECT id FROM orders WHERE customer_id = $1)`, id); err != nil {
		return Erasure{}, fmt.Errorf("anonymise shipments: %w", err)
	}
	inbox := "customer:" + id
	if _, err := tx.Write(ctx, `DELETE FROM notifications WHERE recipient = $1`, inbox); err != nil {
		return Erasure{}, fmt.Errorf("delete notifications: %w", err)
	}
	if _, err := tx.Write(ctx, `DELETE FROM notify_messages WHERE calling = 0 AND channel IN ('in_app', 'email')
		AND (recipient = $1 OR recipient = $2)`, inbox, email); err != nil {
		return Erasure{}, fmt.Errorf("delete messages: %w", err)
	}
	if err := eraseCheckoutAnswers(ctx, tx, id); err != nil {
		return Erasure{}, err
	}
	detail := map[string]any{"orders": e.Orders, "again": erased.Valid}
	if err := audit.Record(ctx, tx, actor, ActionErase, Target(id), detail, now); err != nil {
		return Erasure{}, err
	}
	return e, nil
}

// eraseCheckoutAnswers takes the drop-off and address out of the stored answers of checkouts
// for customer id (a retried Idempotency-Key replays the anonymised order).
func eraseCheckoutAnswers(ctx context.Context, tx *store.Tx, id string) error {
	rows, err := tx.QueryContext(ctx, `SELECT principal, key, response_body FROM idempotency_keys
		WHERE state = 'done' AND response_body LIKE $1 ESCAPE '!'`, `%"customer_id":"`+likeEscape(id)+`"%`)
	if err != nil {
		return fmt.Errorf("read checkout answers: %w", err)
	}
	type answer struct{ principal, key, body string }
	var answers []answer
	for rows.Next() {
		var a answer
		if err := rows.Scan(&a.principal, &a.key, &a.body); err != nil {
			rows.Close()
			return fmt.Errorf("read checkout answers: %w", err)
		}
		answers = append(answers, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read checkout answers: %w", err)
	}
	for _, a := range answers {
		var m map[string]json.RawMessage
		if json.Unmarshal([]byte(a.body), &m) != nil || string(m["customer_id"]) != `"`+id+`"` {
			continue
		}
		delete(m, "delivery")
		delete(m, "address")
		delete(m, "reason")
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		if _, err := tx.Write(ctx, `UPDATE idempotency_keys SET response_body = $1 WHERE principal = $2 AND key = $3`,
			string(b), a.principal, a.key); err != nil {
			return fmt.Errorf("anonymise checkout answer: %w", err)
		}
	}
	return nil
}

// likeEscape escapes s for a LIKE pattern with ESCAPE '!'.
func likeEscape(s string) string {
	return strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(s)
}
