package account

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// subjectPattern is what client-chosen IDs match (docs/contract.md): a subject names a
// restaurant owner or an operator in the rows other services keep.
var subjectPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

// Account is a local account as stored.
type Account struct {
	Username     string
	Role         auth.Role
	Subject      string
	PasswordHash string
	DisabledAt   int64 // store time; 0 while enabled
}

// get reads account username; lock takes its row lock on PostgreSQL.
func get(ctx context.Context, q store.Querier, username string, lock ...bool) (Account, error) {
	query := `SELECT username, role, subject, password_hash, disabled_at FROM accounts WHERE username = $1`
	if len(lock) > 0 && lock[0] {
		query += ` FOR UPDATE`
	}
	var a Account
	err := q.QueryRowContext(ctx, query, username).Scan(&a.Username, &a.Role, &a.Subject, &a.PasswordHash, &a.DisabledAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, ErrNotFound
	}
	if err != nil {
		return Account{}, fmt.Errorf("read account: %w", err)
	}
	return a, nil
}

// Add creates an account: username (lower case letters, digits and . _ @ -, at most 64),
// role ops or restaurant, the subject its tokens carry (the operator's ID, or the restaurant
// owner's ID its restaurants name), and password, hashed with argon2id under params (zero:
// DefaultParams).
func Add(ctx context.Context, db *store.DB, username string, role auth.Role, subject, password string, params Params, now time.Time) error {
	if !usernamePattern.MatchString(username) {
		return fault.Field("username", username, "want 1 to 64 lower-case letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
	}
	if !slices.Contains(Roles, role) {
		return fault.Field("role", string(role), "want ops or restaurant")
	}
	if !subjectPattern.MatchString(subject) {
		return fault.Field("subject", subject, "want 1 to 64 letters, digits, '_', '.', ':' or '-'")
	}
	if err := CheckPassword(password); err != nil {
		return fault.Field("password", nil, "%v", err)
	}
	if params == (Params{}) {
		params = DefaultParams
	}
	hash, err := HashPassword(password, params)
	if err != nil {
		return err
	}
	n, err := db.Write(ctx, `INSERT INTO accounts (username, role, subject, password_hash, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (username) DO NOTHING`,
		username, string(role), subject, hash, store.Now(now))
	if err != nil {
		return fmt.Errorf("add account %s: %w", username, err)
	}
	if n == 0 {
		return ErrExists
	}
	return nil
}

// Disable stops account username from logging in and revokes every refresh token it holds;
// its access tokens still live out their (short) lifetimes. Disabling a disabled account is
// no error.
func Disable(ctx context.Context, db *store.DB, username string, now time.Time) error {
	err := db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := get(ctx, tx, username, tx.Dialect() == store.Postgres); err != nil {
			return err
		}
		at := store.Now(now)
		if _, err := tx.Write(ctx, `UPDATE accounts SET disabled_at = $2, updated_at = $2 WHERE username = $1 AND disabled_at = 0`, username, at); err != nil {
			return err
		}
		_, err := tx.Write(ctx, `UPDATE refresh_tokens SET revoked_at = $2 WHERE username = $1 AND revoked_at = 0`, username, at)
		return err
	})
	if err != nil {
		return fmt.Errorf("disable account %s: %w", username, err)
	}
	return nil
}
