package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/dirlock"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// devKey reports whether the process uses the dev key pair: Config.Auth names no keys.
func (c *Config) devKey() bool {
	return len(c.Auth.Keys) == 0 && len(c.Auth.PublicKeyFiles) == 0 && c.Auth.JWKSURL == ""
}

// usesDataDir reports whether the process writes state to DataDir: the SQLite database or the
// embedded NATS store. (The dev key alone is only read once it exists, and replicas on one
// PostgreSQL and one NATS may share it.) A database that is neither is refused.
func (c *Config) usesDataDir() (bool, error) {
	d, err := store.ParseDSN(c.DB)
	if err != nil {
		return false, fmt.Errorf("app: %w", err)
	}
	return c.NATS == "" || d == store.SQLite, nil
}

// lockData gives this process the data directory, when it uses one: a second process on it
// (another `tiffin dev`) is refused at once, naming the holder, instead of both writing to one
// SQLite database and one key.
func (a *App) lockData() error {
	uses, err := a.cfg.usesDataDir()
	if err != nil || !uses {
		return err
	}
	unlock, err := dirlock.Lock(a.cfg.DataDir)
	if errors.Is(err, dirlock.ErrLocked) {
		return fmt.Errorf("app: data directory %w (another tiffin dev?): stop that process, or pass another --data", err)
	}
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	a.unlock = unlock
	return nil
}

// openAuth sets up token verification: with configured keys, a Verifier of them (and a runner
// keeping a JWKS fresh), holding no signing key; without, the dev key pair in the data
// directory, created on first use.
func (a *App) openAuth(ctx context.Context) error {
	if a.cfg.devKey() {
		keys, err := auth.LoadOrCreate(a.cfg.DataDir)
		if err != nil {
			return err
		}
		if a.cfg.AccountsSigningKey != "" {
			return errors.New("app: an accounts signing key needs the issuer and audience of configured keys (serve); dev signs local accounts' tokens with the dev key")
		}
		a.keys, a.devKeys, a.signer = keys, keys, keys.Signer()
		return nil
	}
	if a.cfg.Sim {
		return errors.New("app: the simulator mints tokens with the dev key, and this process verifies with configured public keys: run it with `tiffin sim` against a dev server")
	}
	c := a.cfg.Auth
	if c.Logger == nil {
		c.Logger = a.logger.With("svc", "auth")
	}
	if a.cfg.AccountsSigningKey != "" {
		signer, err := auth.LoadSigner(a.cfg.AccountsSigningKey, c.Issuer, c.Audience)
		if err != nil {
			return fmt.Errorf("app: accounts signing key: %w", err)
		}
		a.signer = signer
		c.Keys = append(slices.Clone(c.Keys), signer.Public())
	}
	v, err := auth.NewVerifier(ctx, c)
	if err != nil {
		return err
	}
	a.keys = v
	if c.JWKSURL != "" {
		a.runners = append(a.runners, runner{"jwks", v.Run})
	}
	return nil
}

// servingAttrs are the startup line's attributes: the URLs that matter, and in dev where the
// signing key is and how to mint a token with it.
func (a *App) servingAttrs() []any {
	u := a.URL()
	metrics := u + "/metrics"
	if m := a.MetricsURL(); m != "" {
		metrics = m + "/metrics"
	}
	attrs := []any{"url", u, "api", u + "/v1", "docs", u + "/v1/docs", "metrics", metrics,
		"services", strings.Join(a.cfg.Services, ","), "db", string(a.db.Dialect())}
	if a.devKeys != nil {
		dir, err := filepath.Abs(a.cfg.DataDir)
		if err != nil {
			dir = a.cfg.DataDir
		}
		attrs = append(attrs, "signing_key", auth.KeyPath(dir),
			"token", "tiffin token --data "+dir+" --role ops --subject ops-1")
	} else {
		attrs = append(attrs, "auth", "configured public keys")
	}
	return attrs
}
