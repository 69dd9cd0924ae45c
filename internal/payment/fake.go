package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tiffin-dev/tiffin/internal/store"
)

// FakeConfig configures the fake provider.
type FakeConfig struct {
	// DeclineRate is the share of authorizations declined, 0..1.
	DeclineRate float64
	// FailureRate is the share of calls that fail with an unknown outcome, 0..1. Half of
	// them fail before the provider acts (ErrUnavailable), half after it acted
	// (ErrTimedOut): the caller cannot tell which without Lookup.
	FailureRate float64
	// Latency delays every call.
	Latency time.Duration
	// Seed seeds the randomness of failures and declines.
	Seed uint64
	// Hook, when set, runs at the start of every call (after Latency); an error fails the
	// call before the provider acts. Tests block in it to hold a call in flight.
	Hook func(ctx context.Context, c Call) error
}

// Call describes one call made to the fake.
type Call struct {
	Op    Op
	Key   string
	Ref   string
	Value int64
}

// Errors of the fake provider, both with unknown outcomes.
var (
	ErrUnavailable = errors.New("payment provider unavailable")
	ErrTimedOut    = errors.New("payment provider timed out")
)

// Fake is a sandbox payment provider account that moves no money but behaves as real
// providers do: idempotent on keys, strict about the card flow (no capture of a voided hold,
// no refund of more than was taken), and failing, when asked to, before or after acting.
//
// Its ledger (the accounts and the outcome of every key it acted on) is kept in tiffin's own
// database (tables fake_payment_accounts and fake_payment_keys), not in the process: like an
// account at a real provider it outlives a restart, and every Fake over the same database
// (the replicas of one deployment, or a process and its successor) is the same account. A key
// acts at most once however many of them send it at the same moment: its row's primary key
// decides, in the transaction that acts.
//
// What stays in the process is the test instrumentation: the failures FailNext forces, and
// the counts of Calls and Effects, which are this instance's own.
type Fake struct {
	db  *store.DB
	cfg FakeConfig

	mu       sync.Mutex
	rnd      *rand.Rand
	calls    map[Op]int
	effects  map[Op]int
	lookups  int
	failNext []bool // forced failures of the next calls: true fails after acting
}

// NewFake returns the fake provider whose ledger is kept in db.
func NewFake(db *store.DB, cfg FakeConfig) *Fake {
	return &Fake{
		db: db, cfg: cfg, rnd: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), // #nosec G404 -- a fake provider's seeded failures and references; moves no money, no secret
		calls: map[Op]int{}, effects: map[Op]int{},
	}
}

// FailNext makes the next n calls of this instance fail with an unknown outcome: after the
// provider acted (ErrTimedOut) when after is true, before it acted (ErrUnavailable) otherwise.
func (f *Fake) FailNext(n int, after bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.failNext = append(f.failNext, after)
	}
}

// Recover drops the failures FailNext forced that have not happened yet.
func (f *Fake) Recover() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext = nil
}

// Calls is how many times op was called through this instance, failures and repeats included.
func (f *Fake) Calls(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// Lookups is how many times Lookup was called through this instance, failures included.
func (f *Fake) Lookups() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lookups
}

// Effects is how many times op, called through this instance, actually moved money (or
// declined): repeats under a key the account already acted on don't count. Effects through
// other instances over the same database are theirs.
func (f *Fake) Effects(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.effects[op]
}

// Accounts returns every order's ledger.
func (f *Fake) Accounts(ctx context.Context) (map[string]Account, error) {
	rows, err := f.db.QueryContext(ctx, `SELECT order_id, `+accountColumns+` FROM fake_payment_accounts`)
	if err != nil {
		return nil, fmt.Errorf("fake payment provider: read accounts: %w", err)
	}
	defer rows.Close()
	out := map[string]Account{}
	for rows.Next() {
		var id string
		var a Account
		if err := rows.Scan(&id, &a.Ref, &a.Authorized, &a.Captured, &a.Refunded, &a.Voided, &a.Declined); err != nil {
			return nil, fmt.Errorf("fake payment provider: read accounts: %w", err)
		}
		out[id] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fake payment provider: read accounts: %w", err)
	}
	return out, nil
}

const accountColumns = `ref, authorized, captured, refunded, voided, declined`

// Authorize implements Provider.
func (f *Fake) Authorize(ctx context.Context, key string, a Amount) (string, error) {
	out, err := f.do(ctx, Call{Op: Authorize, Key: key, Value: a.Value}, func(ctx context.Context, tx *store.Tx, now int64) (Outcome, error) {
		ref := fmt.Sprintf("pi_%016x_%s", rand.Uint64(), a.OrderID) // #nosec G404 -- a fake provider's seeded failures and references; moves no money, no secret
		declined := a.Value <= 0 || f.decline()
		var authorized int64
		if !declined {
			authorized = a.Value
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO fake_payment_accounts
			(order_id, ref, currency, authorized, declined, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)
			ON CONFLICT (order_id) DO NOTHING`, a.OrderID, ref, a.Currency, authorized, declined, now)
		if err := changedOne(res, err); errors.Is(err, errNoRow) {
			return Outcome{}, fmt.Errorf("%w: order %s already has an authorization", ErrRefused, a.OrderID)
		} else if err != nil {
			return Outcome{}, err
		}
		return Outcome{Op: Authorize, Ref: ref, Declined: declined}, nil
	})
	if err != nil {
		return "", err
	}
	if out.Declined {
		return "", ErrDeclined
	}
	return out.Ref, nil
}

// Capture implements Provider.
func (f *Fake) Capture(ctx context.Context, key, ref string, amount int64) error {
	_, err := f.do(ctx, Call{Op: Capture, Key: key, Ref: ref, Value: amount}, func(ctx context.Context, tx *store.Tx, now int64) (Outcome, error) {
		res, err := tx.ExecContext(ctx, `UPDATE fake_payment_accounts SET captured = $2, updated_at = $3
			WHERE ref = $1 AND NOT voided AND captured = 0 AND $2 > 0 AND $2 <= authorized`, ref, amount, now)
		if err := changedOne(res, err); errors.Is(err, errNoRow) {
			return Outcome{}, refusal(ctx, tx, ref, fmt.Sprintf("capture %d", amount))
		} else if err != nil {
			return Outcome{}, err
		}
		return Outcome{Op: Capture, Ref: ref}, nil
	})
	return err
}

// Void implements Provider.
func (f *Fake) Void(ctx context.Context, key, ref string) error {
	_, err := f.do(ctx, Call{Op: Void, Key: key, Ref: ref}, func(ctx context.Context, tx *store.Tx, now int64) (Outcome, error) {
		res, err := tx.ExecContext(ctx, `UPDATE fake_payment_accounts SET voided = $2, updated_at = $3
			WHERE ref = $1 AND NOT voided AND captured = 0`, ref, true, now)
		if err := changedOne(res, err); errors.Is(err, errNoRow) {
			return Outcome{}, refusal(ctx, tx, ref, "void")
		} else if err != nil {
			return Outcome{}, err
		}
		return Outcome{Op: Void, Ref: ref}, nil
	})
	return err
}

// Refund implements Provider.
func (f *Fake) Refund(ctx context.Context, key, ref string, amount int64) error {
	_, err := f.do(ctx, Call{Op: Refund, Key: key, Ref: ref, Value: amount}, func(ctx context.Context, tx *store.Tx, now int64) (Outcome, error) {
		res, err := tx.ExecContext(ctx, `UPDATE fake_payment_accounts SET refunded = refunded + $2, updated_at = $3
			WHERE ref = $1 AND $2 > 0 AND refunded + $2 <= captured`, ref, amount, now)
		if err := changedOne(res, err); errors.Is(err, errNoRow) {
			return Outcome{}, refusal(ctx, tx, ref, fmt.Sprintf("refund %d", amount))
		} else if err != nil {
			return Outcome{}, err
		}
		return Outcome{Op: Refund, Ref: ref}, nil
	})
	return err
}

// Lookup implements Provider. It fails as calls do (a lookup is a call too), never after
// acting since it acts on nothing.
func (f *Fake) Lookup(ctx context.Context, key, _ string) (Outcome, error) {
	f.mu.Lock()
	f.lookups++
	fail := f.rnd.Float64() < f.cfg.FailureRate
	if len(f.failNext) > 0 {
		fail, f.failNext = true, f.failNext[1:]
	}
	f.mu.Unlock()
	if fail {
		return Outcome{}, ErrUnavailable
	}
	var op, ref string
	var declined bool
	err := f.db.QueryRowContext(ctx, `SELECT op, ref, declined FROM fake_payment_keys WHERE idempotency_key = $1`, key).
		Scan(&op, &ref, &declined)
	if errors.Is(err, sql.ErrNoRows) {
		return Outcome{}, ErrUnknownKey
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("fake payment provider: lookup %q: %w", key, err)
	}
	return Outcome{Op: Op(op), Ref: ref, Declined: declined}, nil
}

// Account implements Provider.
func (f *Fake) Account(ctx context.Context, orderID string) (Account, error) {
	var a Account
	err := f.db.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM fake_payment_accounts WHERE order_id = $1`, orderID).
		Scan(&a.Ref, &a.Authorized, &a.Captured, &a.Refunded, &a.Voided, &a.Declined)
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, ErrUnknownKey
	}
	if err != nil {
		return Account{}, fmt.Errorf("fake payment provider: account of %s: %w", orderID, err)
	}
	return a, nil
}

func (f *Fake) decline() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rnd.Float64() < f.cfg.DeclineRate
}

var errNoRow = errors.New("no row changed")

// changedOne reports errNoRow when the statement that returned res changed nothing.
func changedOne(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return errNoRow
	}
	return nil
}

// refusal explains why the account of ref refused what: it does not exist, or its state
// forbids it.
func refusal(ctx context.Context, tx *store.Tx, ref, what string) error {
	var a Account
	err := tx.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM fake_payment_accounts WHERE ref = $1`, ref).
		Scan(&a.Ref, &a.Authorized, &a.Captured, &a.Refunded, &a.Voided, &a.Declined)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: no payment %q", ErrRefused, ref)
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: %s of %s (authorized %d, captured %d, refunded %d, voided %v)",
		ErrRefused, what, ref, a.Authorized, a.Captured, a.Refunded, a.Voided)
}

// do runs one call: latency, the hook, a possible failure before acting, then one transaction
// that claims the key (or finds the outcome it already has) and acts, then a possible failure
// after acting. A refused act rolls the key's claim back with it, so a refusal is not kept
// under the key (the same request may succeed later, as with the in-memory ledger before).
func (f *Fake) do(ctx context.Context, c Call, act func(ctx context.Context, tx *store.Tx, now int64) (Outcome, error)) (Outcome, error) {
	if f.cfg.Latency > 0 {
		t := time.NewTimer(f.cfg.Latency)
		select {
		case <-ctx.Done():
			t.Stop()
			return Outcome{}, ctx.Err()
		case <-t.C:
		}
	}
	if f.cfg.Hook != nil {
		if err := f.cfg.Hook(ctx, c); err != nil {
			f.mu.Lock()
			f.calls[c.Op]++
			f.mu.Unlock()
			return Outcome{}, err
		}
	}
	f.mu.Lock()
	f.calls[c.Op]++
	fail := f.rnd.Float64() < f.cfg.FailureRate
	after := f.rnd.IntN(2) == 0
	if len(f.failNext) > 0 {
		fail, after, f.failNext = true, f.failNext[0], f.failNext[1:]
	}
	f.mu.Unlock()
	if fail && !after {
		return Outcome{}, ErrUnavailable // down: nothing answered, replays included
	}
	var out Outcome
	// The provider is not part of the work a lease fences: a saga step run under the
	// reconciler's lease calls it with that lease's fence in ctx.
	err := f.db.InTx(store.WithoutFence(ctx), func(tx *store.Tx) error {
		now := store.Now(time.Now())
		res, err := tx.ExecContext(ctx, `INSERT INTO fake_payment_keys (idempotency_key, op, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (idempotency_key) DO NOTHING`, c.Key, string(c.Op), now)
		switch err := changedOne(res, err); {
		case errors.Is(err, errNoRow):
			// The key acted before (or another process's call under it just committed): replay.
			var op string
			if err := tx.QueryRowContext(ctx, `SELECT op, ref, declined FROM fake_payment_keys WHERE idempotency_key = $1`, c.Key).
				Scan(&op, &out.Ref, &out.Declined); err != nil {
				return fmt.Errorf("read key %q: %w", c.Key, err)
			}
			if out.Op = Op(op); out.Op != c.Op {
				return fmt.Errorf("%w: key %q was used for %s", ErrRefused, c.Key, out.Op)
			}
			return nil
		case err != nil:
			return fmt.Errorf("claim key %q: %w", c.Key, err)
		}
		if out, err = act(ctx, tx, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE fake_payment_keys SET ref = $2, declined = $3 WHERE idempotency_key = $1`,
			c.Key, out.Ref, out.Declined); err != nil {
			return fmt.Errorf("record key %q: %w", c.Key, err)
		}
		tx.AfterCommit(func() {
			f.mu.Lock()
			f.effects[c.Op]++
			f.mu.Unlock()
		})
		return nil
	})
	switch {
	case err != nil && (errors.Is(err, ErrRefused) || errors.Is(err, ErrDeclined)):
		return Outcome{}, err
	case err != nil:
		// The ledger could not be read or written: to the caller, a provider that did not
		// answer (it may not know whether the commit happened).
		return Outcome{}, fmt.Errorf("fake payment provider: %s: %w", c.Op, err)
	case fail:
		return Outcome{}, ErrTimedOut
	}
	return out, nil
}
