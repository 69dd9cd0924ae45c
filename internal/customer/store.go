package customer

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tiffin-dev/tiffin/internal/audit"
	"github.com/tiffin-dev/tiffin/internal/store"
)

const columns = `id, name, email, phone, language, address, notify, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scan(row scanner) (Customer, error) {
	var c Customer
	var address, notify string
	var created, updated int64
	if err := row.Scan(&c.ID, &c.Name, &c.Email, &c.Phone, &c.Language, &address, &notify, &created, &updated); err != nil {
		return Customer{}, err
	}
	if address != "" {
		c.Address = new(Address)
		if err := json.Unmarshal([]byte(address), c.Address); err != nil {
			return Customer{}, fmt.Errorf("decode stored address of %s: %w", c.ID, err)
		}
	}
	if notify != "" {
		c.Notify = new(Notify)
		if err := json.Unmarshal([]byte(notify), c.Notify); err != nil {
			return Customer{}, fmt.Errorf("decode stored notify of %s: %w", c.ID, err)
		}
	}
	if updated == 0 { // checkout's bare row: no profile written yet
		updated = created
	}
	c.CreatedAt, c.UpdatedAt = store.Time(created), store.Time(updated)
	return c, nil
}

// get reads customer id; lock takes the row lock on PostgreSQL (SQLite's one writer
// serialises writes anyway).
func get(ctx context.Context, q store.Querier, id string, lock bool) (Customer, error) {
	query := `SELECT ` + columns + ` FROM customers WHERE id = $1`
	if lock {
		query += ` FOR UPDATE`
	}
	c, err := scan(q.QueryRowContext(ctx, query, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Customer{}, ErrNotFound
	}
	if err != nil {
		return Customer{}, fmt.Errorf("read customer: %w", err)
	}
	return c, nil
}

func list(ctx context.Context, q store.Querier, after string, limit int) ([]Customer, error) {
	rows, err := q.QueryContext(ctx,
		`SELECT `+columns+` FROM customers WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Customer{}
	for rows.Next() {
		c, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// encodeJSON is v as stored: the empty string for nil.
func encodeJSON[T any](v *T) (string, error) {
	if v == nil {
		return "", nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// put writes pr as customer id in tx and records it in the audit log. It inserts first, so
// two requests creating one customer at once make one create and one update.
func (s *Service) put(ctx context.Context, tx *store.Tx, actor, id string, pr Profile, now time.Time) (Customer, bool, error) {
	address, err := encodeJSON(pr.Address)
	if err != nil {
		return Customer{}, false, fmt.Errorf("encode address: %w", err)
	}
	notify, err := encodeJSON(pr.Notify)
	if err != nil {
		return Customer{}, false, fmt.Errorf("encode notify: %w", err)
	}
	at := store.Now(now)
	n, err := tx.Write(ctx, `INSERT INTO customers (`+columns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (id) DO NOTHING`,
		id, pr.Name, pr.Email, pr.Phone, pr.Language, address, notify, at)
	if err != nil {
		return Customer{}, false, fmt.Errorf("insert customer: %w", err)
	}
	c := Customer{ID: id, Profile: pr, CreatedAt: now, UpdatedAt: now}
	if n == 1 {
		err := audit.Record(ctx, tx, actor, ActionCreate, Target(id), change{Fields: setFields(pr)}, now)
		return c, true, err
	}
	prev, err := get(ctx, tx, id, tx.Dialect() == store.Postgres)
	if err != nil {
		return Customer{}, false, err
	}
	if _, err := tx.Write(ctx, `UPDATE customers SET name = $2, email = $3, phone = $4, language = $5,
		address = $6, notify = $7, updated_at = $8 WHERE id = $1`,
		id, pr.Name, pr.Email, pr.Phone, pr.Language, address, notify, at); err != nil {
		return Customer{}, false, fmt.Errorf("update customer: %w", err)
	}
	c.CreatedAt = prev.CreatedAt
	err = audit.Record(ctx, tx, actor, ActionUpdate, Target(id), change{Fields: changedFields(prev.Profile, pr)}, now)
	return c, false, err
}

// change is the audit detail of a customer write: the names of the fields it set (create) or
// changed (update), never their values, so the log holds no personal data to erase later.
type change struct {
	Fields []string `json:"fields"`
}

// setFields names the fields a new profile sets.
func setFields(pr Profile) []string {
	return changedFields(Profile{}, pr)
}

// changedFields names the fields that differ between a and b, in body order.
func changedFields(a, b Profile) []string {
	out := []string{}
	add := func(name string, differ bool) {
		if differ {
			out = append(out, name)
		}
	}
	add("name", a.Name != b.Name)
	add("email", a.Email != b.Email)
	add("phone", a.Phone != b.Phone)
	add("language", a.Language != b.Language)
	add("address", !sameJSON(a.Address, b.Address))
	add("notify", !sameJSON(a.Notify, b.Notify))
	return out
}

func sameJSON[T any](a, b *T) bool {
	x, errA := encodeJSON(a)
	y, errB := encodeJSON(b)
	return errA == nil && errB == nil && x == y
}
