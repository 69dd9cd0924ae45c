// Package jobs is tiffin's durable job queue: River (riverqueue.com) on the store's own write
// connections, for partner work that must survive restarts and outages of days (carrier
// calls, and the notifications' e-mails and webhook deliveries). A job is inserted in the
// transaction of the state change that calls for it (InsertTx / InsertManyTx on the store
// Tx's *sql.Tx), so it exists exactly when that change committed; River works it on any
// replica, retries it with backoff when its worker returns an error, rescues it from a
// process that died, and discards it after its last attempt. Why River and how it is wired:
// docs/decisions/river.md.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/tiffin-dev/tiffin/internal/store"
)

// Queue names. Each has its own worker pool, so a slow carrier never holds up e-mail.
const (
	QueueFulfil = "fulfil"
	QueueNotify = "notify"
)

// Config configures the queue.
type Config struct {
	// Workers is how many jobs of each queue one process works at once. Default 64: partner
	// calls are slow (up to the client's timeout), cheap in CPU, and River's producer fetches
	// at most this many per fetch.
	Workers int
	// JobTimeout bounds one attempt. Default 2 minutes.
	JobTimeout time.Duration
	// Logger receives River's own warnings. Default slog.Default().
	Logger *slog.Logger
}

// Queue is the job queue of one process. Services add their workers (Register) before Open;
// jobs are inserted only after Open, and worked between Start and Stop.
type Queue struct {
	db      *store.DB
	cfg     Config
	workers *river.Workers
	client  *river.Client[*sql.Tx]
}

// New returns a queue on db's connections, with no workers yet.
func New(db *store.DB, cfg Config) *Queue {
	if cfg.Workers <= 0 {
		cfg.Workers = 64
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 2 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Queue{db: db, cfg: cfg, workers: river.NewWorkers()}
}

// Register adds w as the worker of its job kind. Call before Open.
func Register[T river.JobArgs](q *Queue, w river.Worker[T]) { river.AddWorker(q.workers, w) }

// Open builds River's client. Call once, after every Register.
func (q *Queue) Open() error {
	// River logs every job error at error level; the services log what matters themselves.
	logger := slog.New(levelFloor{q.cfg.Logger.Handler(), slog.LevelWarn})
	c, err := river.NewClient(q.db.River(), &river.Config{
		Queues: map[string]river.QueueConfig{
			QueueFulfil: {MaxWorkers: q.cfg.Workers},
			QueueNotify: {MaxWorkers: q.cfg.Workers},
		},
		Workers: q.workers,
		// A fetch at most every 20 ms (River's default is 100 ms): with 64 workers that is a
		// ceiling of 3,200 jobs/s per queue (docs/decisions/river.md, the throughput trap).
		FetchCooldown:        20 * time.Millisecond,
		FetchPollInterval:    500 * time.Millisecond,
		JobTimeout:           q.cfg.JobTimeout,
		RescueStuckJobsAfter: q.cfg.JobTimeout + time.Minute,
		Logger:               logger,
	})
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	q.client = c
	return nil
}

// Client is River's client: InsertTx and InsertManyTx with a store Tx's *sql.Tx (never a
// method without Tx inside a transaction on SQLite: it would wait for the connection the
// transaction holds), JobList, JobRetry.
func (q *Queue) Client() *river.Client[*sql.Tx] { return q.client }

// Run works jobs until ctx ends, then stops: jobs under way get until the context River's
// Stop is given (10 s) to finish, and are cancelled after that (River rescues them later).
func (q *Queue) Run(ctx context.Context) error {
	if q.client == nil {
		return errors.New("jobs: Run before Open")
	}
	// River cancels the jobs under way when its start context ends; they get a graceful
	// stop first.
	// Starting needs the database; while it cannot be reached the process serves anyway
	// (degraded) and the queue starts once it answers.
	for {
		err := q.client.Start(context.WithoutCancel(ctx))
		if err == nil {
			break
		}
		q.cfg.Logger.Warn("job queue cannot start yet; retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	<-ctx.Done()
	stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := q.client.Stop(stop); err != nil {
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("jobs: stop: %w", err)
		}
		hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return q.client.StopAndCancel(hard)
	}
	return nil
}

// levelFloor passes on only records at or above min.
type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (h levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelFloor) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFloor{h.Handler.WithAttrs(a), h.min}
}

func (h levelFloor) WithGroup(name string) slog.Handler {
	return levelFloor{h.Handler.WithGroup(name), h.min}
}
