package store

import (
	"context"
	"errors"
	"fmt"
)

// ErrFenced is the error of a write made under a lease that has since passed to another
// holder: the writer's fencing token is stale, so its transaction is refused.
var ErrFenced = errors.New("store: fenced off: the lease passed to another holder")

// Fence is a lease's name and the fencing token of one term of it.
type Fence struct {
	Lease string
	Token int64
}

type fenceKey struct{}

// WithFence returns a context under which every InTx first checks that f is still the lease's
// current term, and refuses the transaction with ErrFenced if it is not. On PostgreSQL the
// check locks the lease row (FOR SHARE), so a takeover waits for the transaction to commit.
func WithFence(ctx context.Context, f Fence) context.Context {
	return context.WithValue(ctx, fenceKey{}, f)
}

// FenceFrom returns the fence ctx carries, if any.
func FenceFrom(ctx context.Context) (Fence, bool) {
	f, ok := ctx.Value(fenceKey{}).(Fence)
	return f, ok
}

// checkFence refuses tx unless the fence in ctx (if any) is the lease's current term.
func (tx *Tx) checkFence(ctx context.Context) error {
	f, ok := FenceFrom(ctx)
	if !ok {
		return nil
	}
	q := `SELECT token FROM leases WHERE name = $1`
	if tx.dialect == Postgres {
		q += ` FOR SHARE`
	}
	var token int64
	if err := tx.QueryRowContext(ctx, q, f.Lease).Scan(&token); err != nil {
		return fmt.Errorf("store: check lease %s: %w", f.Lease, err)
	}
	if token != f.Token {
		return fmt.Errorf("%w (lease %s: token %d, current %d)", ErrFenced, f.Lease, f.Token, token)
	}
	return nil
}

// WithoutFence returns ctx without the fence it may carry, for transactions that are not the
// lease's work even when a leased worker starts them (the fake payment provider's ledger,
// which stands for a service outside tiffin and must not depend on tiffin's leases).
func WithoutFence(ctx context.Context) context.Context {
	if _, ok := FenceFrom(ctx); !ok {
		return ctx
	}
	return context.WithValue(ctx, fenceKey{}, nil)
}
