package payment

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
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
	// Seed seeds the randomness.
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

// Fake is a payment provider in memory that behaves as real ones do: idempotent on keys,
// strict about the card flow (no capture of a voided hold, no refund of more than was taken),
// and failing, when asked to, before or after acting. It counts calls and effects so tests
// can assert that money moved exactly once.
type Fake struct {
	cfg FakeConfig

	mu       sync.Mutex
	rnd      *rand.Rand
	keys     map[string]Outcome
	accounts map[string]*Account // by order ID
	refs     map[string]string   // ref -> order ID
	calls    map[Op]int
	effects  map[Op]int
	failNext []bool // forced failures of the next calls: true fails after acting
}

// NewFake returns a fake provider.
func NewFake(cfg FakeConfig) *Fake {
	return &Fake{
		cfg: cfg, rnd: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		keys: map[string]Outcome{}, accounts: map[string]*Account{}, refs: map[string]string{},
		calls: map[Op]int{}, effects: map[Op]int{},
	}
}

// FailNext makes the next n calls fail with an unknown outcome: after the provider acted
// (ErrTimedOut) when after is true, before it acted (ErrUnavailable) otherwise.
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

// Calls is how many times op was called, failures and repeats included.
func (f *Fake) Calls(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// Effects is how many times op actually moved money (or declined): repeats under a key it
// already acted on don't count.
func (f *Fake) Effects(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.effects[op]
}

// Accounts returns a copy of every order's ledger.
func (f *Fake) Accounts() map[string]Account {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]Account, len(f.accounts))
	for id, a := range f.accounts {
		out[id] = *a
	}
	return out
}

// Authorize implements Provider.
func (f *Fake) Authorize(ctx context.Context, key string, a Amount) (string, error) {
	out, err := f.do(ctx, Call{Op: Authorize, Key: key, Value: a.Value}, func() (Outcome, error) {
		if acc, ok := f.accounts[a.OrderID]; ok && acc.Ref != "" {
			return Outcome{}, fmt.Errorf("%w: order %s already has an authorization", ErrRefused, a.OrderID)
		}
		ref := fmt.Sprintf("pi_%d_%s", len(f.refs)+1, a.OrderID)
		acc := &Account{Ref: ref}
		if a.Value <= 0 || f.rnd.Float64() < f.cfg.DeclineRate {
			acc.Declined = true
		} else {
			acc.Authorized = a.Value
		}
		f.accounts[a.OrderID], f.refs[ref] = acc, a.OrderID
		return Outcome{Op: Authorize, Ref: ref, Declined: acc.Declined}, nil
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
	_, err := f.do(ctx, Call{Op: Capture, Key: key, Ref: ref, Value: amount}, func() (Outcome, error) {
		acc, err := f.account(ref)
		if err != nil {
			return Outcome{}, err
		}
		if acc.Voided || acc.Captured > 0 || amount > acc.Authorized || amount <= 0 {
			return Outcome{}, fmt.Errorf("%w: capture %d of %s (authorized %d, captured %d, voided %v)",
				ErrRefused, amount, ref, acc.Authorized, acc.Captured, acc.Voided)
		}
		acc.Captured = amount
		return Outcome{Op: Capture, Ref: ref}, nil
	})
	return err
}

// Void implements Provider.
func (f *Fake) Void(ctx context.Context, key, ref string) error {
	_, err := f.do(ctx, Call{Op: Void, Key: key, Ref: ref}, func() (Outcome, error) {
		acc, err := f.account(ref)
		if err != nil {
			return Outcome{}, err
		}
		if acc.Captured > 0 || acc.Voided {
			return Outcome{}, fmt.Errorf("%w: void %s (captured %d, voided %v)", ErrRefused, ref, acc.Captured, acc.Voided)
		}
		acc.Voided = true
		return Outcome{Op: Void, Ref: ref}, nil
	})
	return err
}

// Refund implements Provider.
func (f *Fake) Refund(ctx context.Context, key, ref string, amount int64) error {
	_, err := f.do(ctx, Call{Op: Refund, Key: key, Ref: ref, Value: amount}, func() (Outcome, error) {
		acc, err := f.account(ref)
		if err != nil {
			return Outcome{}, err
		}
		if amount <= 0 || acc.Refunded+amount > acc.Captured {
			return Outcome{}, fmt.Errorf("%w: refund %d of %s (captured %d, refunded %d)", ErrRefused, amount, ref, acc.Captured, acc.Refunded)
		}
		acc.Refunded += amount
		return Outcome{Op: Refund, Ref: ref}, nil
	})
	return err
}

// Lookup implements Provider. It fails as calls do (a lookup is a call too), never after
// acting since it acts on nothing.
func (f *Fake) Lookup(ctx context.Context, key string) (Outcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fail := f.rnd.Float64() < f.cfg.FailureRate
	if len(f.failNext) > 0 {
		fail, f.failNext = true, f.failNext[1:]
	}
	if fail {
		return Outcome{}, ErrUnavailable
	}
	out, ok := f.keys[key]
	if !ok {
		return Outcome{}, ErrUnknownKey
	}
	return out, nil
}

// Account implements Provider.
func (f *Fake) Account(ctx context.Context, orderID string) (Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	acc, ok := f.accounts[orderID]
	if !ok {
		return Account{}, ErrUnknownKey
	}
	return *acc, nil
}

func (f *Fake) account(ref string) (*Account, error) {
	id, ok := f.refs[ref]
	if !ok {
		return nil, fmt.Errorf("%w: no payment %q", ErrRefused, ref)
	}
	return f.accounts[id], nil
}

// do runs one call: latency, the hook, the idempotency check, a possible failure before
// acting, the act, a possible failure after acting.
func (f *Fake) do(ctx context.Context, c Call, act func() (Outcome, error)) (Outcome, error) {
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
	defer f.mu.Unlock()
	f.calls[c.Op]++
	fail := f.rnd.Float64() < f.cfg.FailureRate
	after := f.rnd.IntN(2) == 0
	if len(f.failNext) > 0 {
		fail, after, f.failNext = true, f.failNext[0], f.failNext[1:]
	}
	if fail && !after {
		return Outcome{}, ErrUnavailable // down: nothing answered, replays included
	}
	if out, ok := f.keys[c.Key]; ok {
		if out.Op != c.Op {
			return Outcome{}, fmt.Errorf("%w: key %q was used for %s", ErrRefused, c.Key, out.Op)
		}
		if fail {
			return Outcome{}, ErrTimedOut
		}
		return out, nil
	}
	out, err := act()
	if err != nil {
		return Outcome{}, err
	}
	f.keys[c.Key] = out
	f.effects[c.Op]++
	if fail {
		return Outcome{}, ErrTimedOut
	}
	return out, nil
}
