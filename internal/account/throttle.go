package account

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tiffin-dev/tiffin/internal/store"
)

// throttleKey is one thing failed logins are counted for: a username ("user:NAME") or a
// client address ("addr:IP"), with its limit and its metric label.
type throttleKey struct {
	key   string
	limit int
	scope string
}

// forgetAfter is how long after its last failure a key's lock-outs in a row are forgotten,
// and its row may be dropped.
const forgetAfter = 24 * time.Hour

// throttle is a login_throttle row.
type throttle struct {
	failures              int
	windowStart           int64 // store time
	lockouts              int
	lockedUntil, lastFail int64
}

// failed counts one failure at now against limit within the window, and reports whether it
// starts a lock-out: the first one in a row lasts lockout, each next twice the last, at most
// maxLockout.
func (r throttle) failed(now time.Time, limit int, window, lockout, maxLockout time.Duration) (throttle, bool) {
	at := store.Now(now)
	if r.lastFail != 0 && at-r.lastFail > forgetAfter.Milliseconds() {
		r.lockouts = 0
	}
	if at-r.windowStart >= window.Milliseconds() {
		r.failures, r.windowStart = 0, at
	}
	r.failures++
	r.lastFail = at
	if r.failures < limit {
		return r, false
	}
	d := lockout << min(r.lockouts, 20)
	if d > maxLockout || d <= 0 {
		d = maxLockout
	}
	r.lockouts++
	r.lockedUntil = at + d.Milliseconds()
	r.failures, r.windowStart = 0, at
	return r, true
}

// lockedFor is how long the longest lock-out of keys still runs at now (0: none).
func (s *Service) lockedFor(ctx context.Context, keys []throttleKey, now time.Time) (time.Duration, error) {
	var wait time.Duration
	err := s.db.Do(ctx, func(ctx context.Context) error {
		for _, k := range keys {
			var until int64
			err := s.db.QueryRowContext(ctx, `SELECT locked_until FROM login_throttle WHERE key = $1`, k.key).Scan(&until)
			if err != nil && !isNoRows(err) {
				return err
			}
			wait = max(wait, time.Duration(until-store.Now(now))*time.Millisecond)
		}
		return nil
	})
	return wait, err
}

// failed records a failed login against every key, in one transaction, counting lock-outs.
// Rows idle for a day and not locked are dropped on the way, so guessed usernames do not pile
// up.
func (s *Service) failed(ctx context.Context, keys []throttleKey, now time.Time) error {
	var locked []string
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		locked = locked[:0]
		at := store.Now(now)
		if _, err := tx.Write(ctx, `DELETE FROM login_throttle WHERE last_failure < $1 AND locked_until < $2`,
			at-forgetAfter.Milliseconds(), at); err != nil {
			return err
		}
		for _, k := range keys {
			if _, err := tx.Write(ctx, `INSERT INTO login_throttle (key) VALUES ($1) ON CONFLICT (key) DO NOTHING`, k.key); err != nil {
				return err
			}
			query := `SELECT failures, window_start, lockouts, locked_until, last_failure FROM login_throttle WHERE key = $1`
			if tx.Dialect() == store.Postgres {
				query += ` FOR UPDATE`
			}
			var r throttle
			if err := tx.QueryRowContext(ctx, query, k.key).Scan(&r.failures, &r.windowStart, &r.lockouts, &r.lockedUntil, &r.lastFail); err != nil {
				return err
			}
			r, lock := r.failed(now, k.limit, s.cfg.Window, s.cfg.Lockout, s.cfg.MaxLockout)
			if lock {
				locked = append(locked, k.scope)
			}
			if _, err := tx.Write(ctx, `UPDATE login_throttle SET failures = $2, window_start = $3, lockouts = $4,
				locked_until = $5, last_failure = $6 WHERE key = $1`,
				k.key, r.failures, r.windowStart, r.lockouts, r.lockedUntil, r.lastFail); err != nil {
				return err
			}
		}
		return nil
	})
	for _, scope := range locked {
		s.lockouts.WithLabelValues(scope).Inc()
	}
	return err
}

// succeeded forgets the failures of key (the username's) after a successful login. A client
// address keeps its count: one good login must not reset a spray over other usernames.
func (s *Service) succeeded(ctx context.Context, tx *store.Tx, key string) error {
	_, err := tx.Write(ctx, `DELETE FROM login_throttle WHERE key = $1`, key)
	return err
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
