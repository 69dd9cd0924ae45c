// Package audit owns the ops audit log: one row per change an operator (or anyone acting on
// someone else's data) made, saying who did what to which object and when. A row is written in
// the transaction that makes the change (Record), so the log holds exactly the changes that
// committed; List reads it newest first. Details should name what changed, not copy personal
// data into a log that is never edited.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// Entry is one row of the log.
type Entry struct {
	Seq    int64           `json:"seq" doc:"Position in the log; larger is newer."`
	Actor  string          `json:"actor" doc:"Who acted, as role:subject (ops:op-1)."`
	Action string          `json:"action" doc:"What was done, as object.verb (customer.update)."`
	Target string          `json:"target" doc:"What it was done to, as kind:id (customer:c-1)."`
	Detail json.RawMessage `json:"detail,omitempty" doc:"What the action's author chose to record, as JSON."`
	At     time.Time       `json:"at"`
}

// Record writes one entry in tx, so it commits or rolls back with the change it describes.
// detail is encoded as JSON; nil records no detail.
func Record(ctx context.Context, tx *store.Tx, actor, action, target string, detail any, at time.Time) error {
	text := ""
	if detail != nil {
		b, err := json.Marshal(detail)
		if err != nil {
			return fmt.Errorf("audit %s %s: encode detail: %w", action, target, err)
		}
		text = string(b)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO audit_log (actor, action, target, detail, at) VALUES ($1, $2, $3, $4, $5)`,
		actor, action, target, text, store.Now(at)); err != nil {
		return fmt.Errorf("audit %s %s: %w", action, target, err)
	}
	return nil
}

// List limits.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// Query selects entries. Empty fields select everything.
type Query struct {
	Target string // only entries about this target
	Actor  string // only entries by this actor
	Before int64  // only entries older than this Seq: the last Seq of the previous page
	Limit  int    // default DefaultLimit, at most MaxLimit
}

// List returns the entries q selects, newest first. A Limit or Before out of range is a
// fault.FieldError naming the query parameter.
func List(ctx context.Context, q store.Querier, query Query) ([]Entry, error) {
	if query.Limit == 0 {
		query.Limit = DefaultLimit
	}
	if query.Limit < 1 || query.Limit > MaxLimit {
		return nil, fault.Field("query.limit", query.Limit, "must be in [1, %d]", MaxLimit)
	}
	if query.Before < 0 {
		return nil, fault.Field("query.before", query.Before, "must be a seq from this log")
	}
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if query.Target != "" {
		where = append(where, "target = "+arg(query.Target))
	}
	if query.Actor != "" {
		where = append(where, "actor = "+arg(query.Actor))
	}
	if query.Before > 0 {
		where = append(where, "seq < "+arg(query.Before))
	}
	sqlText := `SELECT seq, actor, action, target, detail, at FROM audit_log`
	if len(where) > 0 {
		sqlText += " WHERE " + strings.Join(where, " AND ")
	}
	sqlText += " ORDER BY seq DESC LIMIT " + arg(query.Limit)
	rows, err := q.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		var e Entry
		var detail string
		var at int64
		if err := rows.Scan(&e.Seq, &e.Actor, &e.Action, &e.Target, &detail, &at); err != nil {
			return nil, fmt.Errorf("scan audit entry: %w", err)
		}
		if detail != "" {
			e.Detail = json.RawMessage(detail)
		}
		e.At = store.Time(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	return out, nil
}
