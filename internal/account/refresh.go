package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/tiffin-dev/tiffin/internal/store"
)

// refreshPrefix starts every refresh token, so one is recognised in a leak scan.
const refreshPrefix = "tfr_"

// newFamily names a login's chain of refresh tokens.
func newFamily() string { return "fam_" + rand.Text() }

// hashToken is what the store keeps of a refresh token: its SHA-256, in hex. A token is 256
// random bits, so a plain hash is enough (no salt, no stretching).
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// storeRefresh makes a refresh token of family for username and stores its hash. It drops
// username's expired tokens first, so they do not pile up.
func storeRefresh(ctx context.Context, tx *store.Tx, username, family string, now, expires time.Time) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	token := refreshPrefix + base64.RawURLEncoding.EncodeToString(b)
	if _, err := tx.Write(ctx, `DELETE FROM refresh_tokens WHERE username = $1 AND expires_at < $2`, username, store.Now(now)); err != nil {
		return "", fmt.Errorf("drop expired refresh tokens: %w", err)
	}
	if _, err := tx.Write(ctx, `INSERT INTO refresh_tokens (token_hash, family, username, issued_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, hashToken(token), family, username, store.Now(now), store.Now(expires)); err != nil {
		return "", fmt.Errorf("store refresh token: %w", err)
	}
	return token, nil
}

type refreshRow struct {
	family, username           string
	expiresAt, usedAt, revoked int64
}

func getRefresh(ctx context.Context, tx *store.Tx, token string) (refreshRow, error) {
	query := `SELECT family, username, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1`
	if tx.Dialect() == store.Postgres {
		query += ` FOR UPDATE`
	}
	var r refreshRow
	err := tx.QueryRowContext(ctx, query, hashToken(token)).Scan(&r.family, &r.username, &r.expiresAt, &r.usedAt, &r.revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return refreshRow{}, ErrBadRefresh
	}
	return r, err
}

func revokeFamily(ctx context.Context, tx *store.Tx, family string, now time.Time) error {
	_, err := tx.Write(ctx, `UPDATE refresh_tokens SET revoked_at = $2 WHERE family = $1 AND revoked_at = 0`, family, store.Now(now))
	return err
}

// Refresh trades a refresh token for a new access token and the family's next refresh token,
// using the one presented up. A token presented again after it was used (stolen, or replayed)
// revokes its whole family, so the thief's and the owner's newer tokens stop working alike,
// and is refused. Every refusal is ErrBadRefresh.
func (s *Service) Refresh(ctx context.Context, token string) (Tokens, error) {
	now := s.cfg.Now()
	var t Tokens
	var reused, disabled bool
	var row refreshRow
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if row, err = getRefresh(ctx, tx, token); err != nil {
			return err
		}
		switch {
		case row.revoked != 0:
			return ErrBadRefresh
		case row.usedAt != 0:
			reused = true
			return revokeFamily(ctx, tx, row.family, now) // committed, then refused
		case store.Now(now) >= row.expiresAt:
			return ErrBadRefresh
		}
		a, err := get(ctx, tx, row.username)
		if err != nil {
			return err
		}
		if a.DisabledAt != 0 {
			disabled = true
			return revokeFamily(ctx, tx, row.family, now)
		}
		if _, err := tx.Write(ctx, `UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1`, hashToken(token), store.Now(now)); err != nil {
			return err
		}
		t, err = s.issue(ctx, tx, a, row.family, now)
		return err
	})
	if err != nil {
		return Tokens{}, fmt.Errorf("refresh: %w", err)
	}
	if reused {
		s.reuses.Inc()
		s.log.Warn("a used refresh token was presented again: its family is revoked", "username", row.username, "family", row.family)
		return Tokens{}, ErrBadRefresh
	}
	if disabled {
		return Tokens{}, ErrBadRefresh
	}
	return t, nil
}

// Logout revokes the family of refresh token token: every refresh token of its login. An
// unknown token is no error (there is nothing to revoke, and nothing is told).
func (s *Service) Logout(ctx context.Context, token string) error {
	now := s.cfg.Now()
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		row, err := getRefresh(ctx, tx, token)
		if errors.Is(err, ErrBadRefresh) {
			return nil
		}
		if err != nil {
			return err
		}
		return revokeFamily(ctx, tx, row.family, now)
	})
	if err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}
