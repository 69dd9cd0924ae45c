package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tiffin-dev/tiffin/internal/fault"
)

// Dependency is how store errors name the database to clients ("database unreachable").
const Dependency = "database"

// errDown is the cause an operation is cancelled with when the server is found unreachable.
var errDown = errors.New("the database server stopped answering")

// health knows whether the PostgreSQL server can be reached: a circuit breaker that asks the
// server instead of counting failures. An operation that fails at the connection level, or
// runs longer than suspectAfter, has the server probed on a fresh connection (not the pool's,
// which a busy app may have exhausted). A failed probe marks the server down: operations in
// flight are cancelled (they would otherwise wait for a server that no longer answers) and new
// ones are refused at once, while the probe repeats every interval; the first probe that
// succeeds marks it up again. Nothing is cached across an outage: pgxpool drops the
// connections that failed and dials new ones.
type health struct {
	probeCfg     *pgconn.Config
	suspectAfter time.Duration
	probeTimeout time.Duration
	interval     time.Duration
	logger       *slog.Logger

	closing context.Context // ends when the store closes
	close   context.CancelFunc
	wg      sync.WaitGroup

	mu      sync.Mutex
	down    bool
	cause   error
	since   time.Time
	probing bool
	epoch   context.Context // cancelled (cause errDown) when the server is found down
	cancel  context.CancelCauseFunc
}

func newHealth(probeCfg *pgconn.Config, cfg Config) *health {
	h := &health{
		probeCfg: probeCfg, suspectAfter: cfg.SuspectAfter, probeTimeout: cfg.ProbeTimeout,
		interval: cfg.ProbeInterval, logger: cfg.Logger.With("svc", "store"),
	}
	h.closing, h.close = context.WithCancel(context.Background())
	h.epoch, h.cancel = context.WithCancelCause(context.Background())
	return h
}

// stop ends probing and waits for the prober.
func (h *health) stop() {
	h.mu.Lock()
	h.close() // under mu, so no probe starts after it
	h.mu.Unlock()
	h.wg.Wait()
	h.cancel(errors.New("store closed"))
}

// refusal is the error of an operation refused while the server is down. h.mu must be held.
func (h *health) refusal() error {
	return &fault.Down{Dependency: Dependency, Err: &downError{since: h.since, cause: h.cause}}
}

// downError says since when the server has been down and why.
type downError struct {
	since time.Time
	cause error
}

func (e *downError) Error() string {
	return "down since " + e.since.Format(time.RFC3339) + ": " + e.cause.Error()
}

func (e *downError) Unwrap() error { return e.cause }

// check returns the refusal while the server is known down, nil otherwise.
func (h *health) check() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down {
		return h.refusal()
	}
	return nil
}

// enter starts an operation whose work ends before leave is called. It refuses at once while
// the server is down; otherwise it returns the context to run the operation under (ctx, also
// cancelled when the server is found down) and leave, which must get the operation's error and
// returns it, as a fault.Down when it means the server can't be reached.
func (h *health) enter(ctx context.Context) (context.Context, func(error) error, error) {
	h.mu.Lock()
	if h.down {
		err := h.refusal()
		h.mu.Unlock()
		return nil, nil, err
	}
	epoch := h.epoch
	h.mu.Unlock()
	op, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(epoch, func() { cancel(context.Cause(epoch)) })
	slow := time.AfterFunc(h.suspectAfter, func() { h.probe() })
	leave := func(err error) error {
		slow.Stop()
		stop()
		cut := errors.Is(context.Cause(op), errDown)
		cancel(nil)
		if err == nil {
			return nil
		}
		if cut && ctx.Err() == nil {
			return &fault.Down{Dependency: Dependency, Err: errors.Join(errDown, err)}
		}
		return h.classify(err)
	}
	return op, leave, nil
}

// watch has the server probed if the work started now runs past suspectAfter; the returned
// function ends the watch and classifies the work's error. It is for reads whose rows are read
// after the call returns, so they can't be cancelled with the rest when the server is found
// down; their deadline bounds them instead.
func (h *health) watch() func(error) error {
	slow := time.AfterFunc(h.suspectAfter, func() { h.probe() })
	return func(err error) error {
		slow.Stop()
		return h.classify(err)
	}
}

// classify has the server probed when err is a connection-level failure and returns err as a
// fault.Down; other errors come back as they are.
func (h *health) classify(err error) error {
	if err == nil || !connectionFailure(err) {
		return err
	}
	h.probe()
	var d *fault.Down
	if errors.As(err, &d) {
		return err
	}
	return &fault.Down{Dependency: Dependency, Err: err}
}

// probe starts the prober unless it runs already. The prober asks the server once; if that
// fails it marks the server down and asks again every interval until it answers.
func (h *health) probe() {
	h.mu.Lock()
	if h.probing || h.closing.Err() != nil {
		h.mu.Unlock()
		return
	}
	h.probing = true
	h.wg.Add(1)
	h.mu.Unlock()
	go func() {
		defer h.wg.Done()
		for {
			err := h.ask()
			h.mu.Lock()
			if err == nil {
				if h.down {
					h.logger.Info("database reachable again", "down_for", time.Since(h.since).Round(time.Millisecond).String())
					h.down, h.cause = false, nil
					h.epoch, h.cancel = context.WithCancelCause(context.Background())
				}
				h.probing = false
				h.mu.Unlock()
				return
			}
			if !h.down {
				h.logger.Error("database unreachable: refusing writes until it answers again", "err", err)
				h.down, h.cause, h.since = true, err, time.Now()
				h.cancel(errDown)
			}
			h.mu.Unlock()
			select {
			case <-h.closing.Done():
				h.mu.Lock()
				h.probing = false
				h.mu.Unlock()
				return
			case <-time.After(h.interval):
			}
		}
	}()
}

// ask connects to the server afresh and pings it. An error the server itself sends (too many
// connections, say) still proves it reachable.
func (h *health) ask() error {
	ctx, cancel := context.WithTimeout(h.closing, h.probeTimeout)
	defer cancel()
	conn, err := pgconn.ConnectConfig(ctx, h.probeCfg)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return nil
		}
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return conn.Ping(ctx)
}

// Unreachable reports whether err means the database server could not be reached: the store
// found it down, or the error is a connection-level failure (refused, reset, timed out, closed
// under a statement). Such errors are fault.Down ("database unreachable") when they come out
// of the store's own methods; Classify marks those that surface elsewhere (a row's Scan).
func Unreachable(err error) bool {
	var d *fault.Down
	if errors.As(err, &d) && d.Dependency == Dependency {
		return true
	}
	return connectionFailure(err)
}

// Classify returns err as a fault.Down when it means the database server could not be
// reached, and unchanged otherwise. The HTTP edge applies it (through DB.Classify) to every
// handler error. It takes any connection-level failure for the database's: tiffin's request
// handlers reach no other server while they run (payment calls and the like are background
// work).
func Classify(err error) error {
	if err == nil || !connectionFailure(err) {
		return err
	}
	var d *fault.Down
	if errors.As(err, &d) {
		return err
	}
	return &fault.Down{Dependency: Dependency, Err: err}
}

// connectionFailure reports whether err is a failure to reach or keep talking to the server,
// as opposed to an answer from it (a constraint violation, a serialization failure).
func connectionFailure(err error) bool {
	if err == nil {
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), pgconn.Timeout(err), errors.As(err, &ne),
		errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08 is connection exception; 57P01-57P03 are the server shutting down or
		// starting up.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	return false
}
