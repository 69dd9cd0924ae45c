// Package lease gives background work one owner across replicas: the outbox relay, the
// reconcilers and the sweeps each run in the one process that holds their lease. A lease is a
// row in the store (name, holder, fencing token, expiry); a holder renews it well before it
// expires, a dead holder's lease is taken over once it expires, and every term gets a new,
// larger fencing token. The work runs under store.WithFence, so each of its transactions
// checks the token and a stale holder's writes are refused (store.ErrFenced) even if it has
// not yet noticed it lost the lease. This is the pattern of river's leadership elector and of
// Kleppmann's fencing tokens ("How to do distributed locking", 2016), on the store tiffin
// already has, so it needs no extra setup on SQLite or PostgreSQL.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/tiffin-dev/tiffin/internal/store"
)

// Config tunes an Elector. The zero value works.
type Config struct {
	// Holder names this process in the leases table. Default hostname-pid-random.
	Holder string
	// TTL is how long a lease lasts without renewal: the longest a dead holder's work waits
	// for a new owner. Default 5s.
	TTL time.Duration
	// Renew is how often a holder renews, and how often others try to take an expired
	// lease. Default TTL/3.
	Renew time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Elector acquires and renews leases for one process.
type Elector struct {
	db     *store.DB
	cfg    Config
	logger *slog.Logger

	mu   sync.Mutex
	held map[string]int64 // lease name -> token of the term this process holds
}

// New returns an elector over db's leases table.
func New(db *store.DB, cfg Config) *Elector {
	if cfg.Holder == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		cfg.Holder = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 5 * time.Second
	}
	if cfg.Renew <= 0 || cfg.Renew >= cfg.TTL {
		cfg.Renew = cfg.TTL / 3
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Elector{db: db, cfg: cfg, logger: cfg.Logger.With("svc", "lease", "holder", cfg.Holder), held: map[string]int64{}}
}

// Unshared runs fn at once, holding no lease: the default for a service's Config.Lead when it
// runs as the only process.
func Unshared(ctx context.Context, _ string, fn func(context.Context) error) error { return fn(ctx) }

// Holder is this process's name in the leases table.
func (e *Elector) Holder() string { return e.cfg.Holder }

// Held reports the fencing token of lease name if this process holds it.
func (e *Elector) Held(name string) (int64, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.held[name]
	return t, ok
}

// Run runs fn whenever this process holds lease name, until ctx ends. fn gets a context that
// carries the term's fence (store.WithFence) and ends when the lease is lost; fn should return
// when it ends. If fn returns while the lease is held, Run releases the lease and returns fn's
// error (nil when ctx ended). Run returns nil when ctx ends.
func (e *Elector) Run(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	t := time.NewTicker(e.cfg.Renew)
	defer t.Stop()
	for {
		token, ok, err := e.acquire(ctx, name)
		if err != nil && ctx.Err() == nil {
			e.logger.WarnContext(ctx, "acquire lease", "lease", name, "err", err)
		}
		if ok {
			err := e.lead(ctx, name, token, fn, t)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// lead runs fn for one term and renews the lease until fn returns, ctx ends, or a renewal
// finds the lease gone. It returns fn's error when fn stopped on its own.
func (e *Elector) lead(ctx context.Context, name string, token int64, fn func(context.Context) error, t *time.Ticker) error {
	e.setHeld(name, token, true)
	defer e.setHeld(name, token, false)
	e.logger.InfoContext(ctx, "lease acquired", "lease", name, "token", token)
	term, cancel := context.WithCancel(store.WithFence(ctx, store.Fence{Lease: name, Token: token}))
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- fn(term) }()
	for {
		select {
		case err := <-done:
			e.release(context.WithoutCancel(ctx), name, token)
			if err != nil && !errors.Is(err, store.ErrFenced) {
				return fmt.Errorf("lease %s: %w", name, err)
			}
			return nil
		case <-ctx.Done():
			cancel()
			<-done
			e.release(context.WithoutCancel(ctx), name, token)
			return nil
		case <-t.C:
			ok, err := e.renew(ctx, name, token)
			if err != nil {
				// The store is unreachable: keep the term until the lease would expire, as
				// nobody else can take it without the store either.
				e.logger.WarnContext(ctx, "renew lease", "lease", name, "err", err)
				continue
			}
			if !ok {
				e.logger.WarnContext(ctx, "lease lost", "lease", name, "token", token)
				cancel()
				<-done
				return nil
			}
		}
	}
}

func (e *Elector) setHeld(name string, token int64, held bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if held {
		e.held[name] = token
	} else if e.held[name] == token {
		delete(e.held, name)
	}
}

// acquire takes lease name if it is free, expired, or already this holder's (a restarted
// process keeps no memory of its terms, so that starts a new term too).
func (e *Elector) acquire(ctx context.Context, name string) (token int64, ok bool, err error) {
	now := e.cfg.Now()
	err = e.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO leases (name, holder, token, expires_at) VALUES ($1, $2, 1, $3)
			 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, token = leases.token + 1, expires_at = excluded.expires_at
			 WHERE leases.expires_at < $4 OR leases.holder = excluded.holder`,
			name, e.cfg.Holder, store.Now(now.Add(e.cfg.TTL)), store.Now(now))
		if err != nil {
			return fmt.Errorf("acquire lease %s: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil
		}
		ok = true
		return tx.QueryRowContext(ctx, `SELECT token FROM leases WHERE name = $1`, name).Scan(&token)
	})
	return token, ok, err
}

// renew extends this holder's term; false means another holder has taken the lease.
func (e *Elector) renew(ctx context.Context, name string, token int64) (bool, error) {
	n, err := e.db.Write(ctx, `UPDATE leases SET expires_at = $1 WHERE name = $2 AND holder = $3 AND token = $4`,
		store.Now(e.cfg.Now().Add(e.cfg.TTL)), name, e.cfg.Holder, token)
	if err != nil {
		return false, fmt.Errorf("renew lease %s: %w", name, err)
	}
	return n == 1, nil
}

// release ends this holder's term at once, so another replica takes over without waiting for
// the expiry (a clean shutdown moves work immediately). It gives up after the lease's renew
// interval: a database that does not answer (a partition) must not hold up a shutdown, and the
// lease then simply expires.
func (e *Elector) release(ctx context.Context, name string, token int64) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Renew)
	defer cancel()
	if _, err := e.db.Write(ctx, `UPDATE leases SET expires_at = 0 WHERE name = $1 AND holder = $2 AND token = $3`,
		name, e.cfg.Holder, token); err != nil {
		e.logger.WarnContext(ctx, "release lease", "lease", name, "err", err)
	}
}

// Prune deletes the leases whose names start with prefix (matched literally) and whose terms
// ended before cutoff, and returns how many it deleted. It is for leases named by something no
// later process reuses (a process's per-boot liveness lease), whose rows nobody would ever
// renew or take again.
func (e *Elector) Prune(ctx context.Context, prefix string, cutoff time.Time) (int64, error) {
	n, err := e.db.Write(ctx, `DELETE FROM leases WHERE substr(name, 1, $1) = $2 AND expires_at < $3`,
		len(prefix), prefix, store.Now(cutoff))
	if err != nil {
		return 0, fmt.Errorf("prune leases %s*: %w", prefix, err)
	}
	return n, nil
}
