// Package store opens tiffin's SQL store (SQLite by default, PostgreSQL for clusters), applies
// the embedded migrations, and runs transactions that carry the outbox: a state change and the
// events announcing it are committed together or not at all.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations
var migrations embed.FS

// Dialect names the SQL engine behind a DB.
type Dialect string

// The two supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is the store. Reads go through the embedded *sql.DB; writes go through InTx. On SQLite the
// writer is a separate single-connection pool, so writers queue in Go instead of spinning on
// SQLITE_BUSY, while readers keep using WAL snapshots concurrently.
type DB struct {
	*sql.DB
	writer      *sql.DB
	dialect     Dialect
	pool        *pgxpool.Pool
	outbox      chan struct{}
	stmts       stmtCache
	health      *health // PostgreSQL only: nil on SQLite, whose file can't become unreachable
	readTimeout time.Duration
}

// Config tunes how the store reaches PostgreSQL and notices when it can't; SQLite ignores it.
// The zero value works.
type Config struct {
	// Logger gets the database's outages and recoveries. Default slog.Default().
	Logger *slog.Logger
	// ConnectTimeout bounds dialling and authenticating a new connection, unless the URL sets
	// connect_timeout. Default 1s.
	ConnectTimeout time.Duration
	// SuspectAfter is how long an operation may run before the server is probed to tell a
	// slow statement from a server that stopped answering. Default 500ms.
	SuspectAfter time.Duration
	// ProbeTimeout bounds one probe (a fresh connection and a ping); ProbeInterval spaces
	// probes while the server is down. Defaults 750ms and 250ms.
	ProbeTimeout, ProbeInterval time.Duration
	// ReadTimeout bounds reads through QueryContext and QueryRowContext, whose rows outlive the
	// call and so can't be cancelled when an outage is found. Default 5s.
	ReadTimeout time.Duration
	// MaxConns is how many PostgreSQL connections the process keeps at most. Default
	// DefaultMaxConns; a pool_max_conns parameter in the URL wins over both.
	MaxConns int32
}

// DefaultMaxConns is the PostgreSQL connection pool's default size. pgx's own default (the
// number of CPUs, at least 4) suits a CPU-bound client; tiffin's work is short transactions
// interleaved with waits on partners (a payment call holds no connection, the transactions
// around it do), and four connections queued 30 payment workers and the HTTP edge behind
// each other on a two-core machine while the server sat idle (docs/benchmarks.md, the
// PostgreSQL payments drain).
const DefaultMaxConns = 16

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = time.Second
	}
	if c.SuspectAfter <= 0 {
		c.SuspectAfter = 500 * time.Millisecond
	}
	if c.ProbeTimeout <= 0 {
		c.ProbeTimeout = 750 * time.Millisecond
	}
	if c.ProbeInterval <= 0 {
		c.ProbeInterval = 250 * time.Millisecond
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 5 * time.Second
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
}

// Dialect reports which engine this store runs on.
func (db *DB) Dialect() Dialect { return db.dialect }

// OutboxSignal is signalled (without blocking) after every commit that wrote outbox rows, so the
// relay can publish at once instead of waiting for its next poll.
func (db *DB) OutboxSignal() <-chan struct{} { return db.outbox }

// Open connects to dsn and migrates the schema to the newest version. A dsn starting with
// postgres:// or postgresql:// selects PostgreSQL; a SQLite file path (optionally prefixed with
// sqlite:// or file:) selects SQLite; anything else is refused (see ParseDSN).
func Open(ctx context.Context, dsn string) (*DB, error) {
	return OpenConfig(ctx, dsn, Config{})
}

// OpenConfig is Open with cfg.
func OpenConfig(ctx context.Context, dsn string, cfg Config) (*DB, error) {
	cfg.defaults()
	db, err := connect(ctx, dsn, cfg)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// ParseDSN says which engine dsn selects: PostgreSQL for a postgres:// or postgresql:// URL,
// SQLite for a file path, optionally prefixed with sqlite:// or file:. Another scheme
// (mysql://...), or what looks like a PostgreSQL URL but is not one (postgres//host), is
// refused rather than taken for a SQLite file of that name.
func ParseDSN(dsn string) (Dialect, error) {
	want := "want a postgres:// or postgresql:// URL, or a SQLite file path"
	switch {
	case strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://"):
		return Postgres, nil
	case strings.TrimSpace(dsn) == "":
		return "", fmt.Errorf("store: empty database: %s", want)
	case strings.HasPrefix(dsn, "sqlite://") || strings.HasPrefix(dsn, "file:"):
		return SQLite, nil
	case strings.HasPrefix(strings.ToLower(dsn), "postgres"):
		return "", fmt.Errorf("store: database %q looks like a PostgreSQL URL but is not one: %s, e.g. postgres://user@host:5432/tiffin", dsn, want)
	}
	if i := strings.Index(dsn, ":"); i > 0 && !strings.ContainsAny(dsn[:i], "/\\.") {
		return "", fmt.Errorf("store: database %q: scheme %q is not supported: %s", dsn, dsn[:i], want)
	}
	return SQLite, nil
}

func connect(ctx context.Context, dsn string, cfg Config) (*DB, error) {
	dialect, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if dialect == Postgres {
		pcfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("store: open postgres: %w", err)
		}
		if pcfg.ConnConfig.ConnectTimeout == 0 {
			pcfg.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
		}
		// A connection idle for a second is pinged before use; the ping must not wait longer
		// than a new connection would.
		pcfg.PingTimeout = pcfg.ConnConfig.ConnectTimeout
		if !strings.Contains(dsn, "pool_max_conns") {
			pcfg.MaxConns = cfg.MaxConns
		}
		pool, err := pgxpool.NewWithConfig(ctx, pcfg)
		if err != nil {
			return nil, fmt.Errorf("store: open postgres: %w", err)
		}
		if err := pool.Ping(ctx); err != nil {
			pool.Close()
			return nil, fmt.Errorf("store: ping postgres: %w", err)
		}
		sdb := stdlib.OpenDBFromPool(pool)
		return &DB{
			DB: sdb, writer: sdb, dialect: Postgres, pool: pool, outbox: make(chan struct{}, 1),
			health: newHealth(pcfg.ConnConfig.Config.Copy(), cfg), readTimeout: cfg.ReadTimeout,
		}, nil
	}
	path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "file:")
	if path == "" {
		return nil, errors.New("store: empty database path")
	}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	base := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)"
	reader, err := sql.Open("sqlite", base)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	reader.SetMaxOpenConns(8)
	writer, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		reader.Close()
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetConnMaxIdleTime(0)
	if err := writer.PingContext(ctx); err != nil {
		reader.Close()
		writer.Close()
		return nil, fmt.Errorf("store: ping sqlite %s: %w", path, err)
	}
	return &DB{DB: reader, writer: writer, dialect: SQLite, outbox: make(chan struct{}, 1)}, nil
}

// Migrate applies every embedded migration not yet applied, then River's (the job queue's).
func (db *DB) Migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations/"+string(db.dialect))
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	gd := goose.DialectPostgres
	if db.dialect == SQLite {
		gd = goose.DialectSQLite3
	}
	// A migration numbered below one already applied (branches merged in another order than
	// they were numbered: 00015 applied before 00014 lands) is applied, not refused.
	opts := []goose.ProviderOption{goose.WithAllowOutofOrder(true)}
	if db.dialect == Postgres {
		// Replicas starting together must not migrate at once: an advisory lock serialises them.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("store: migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gd, db.writer, sub, opts...)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate %s: %w", db.dialect, err)
	}
	return db.migrateRiver(ctx)
}

// Close releases every connection.
func (db *DB) Close() error {
	if db.health != nil {
		db.health.stop()
	}
	db.stmts.close()
	err := db.DB.Close()
	if db.writer != db.DB {
		err = errors.Join(err, db.writer.Close())
	}
	if db.pool != nil {
		db.pool.Close()
	}
	return err
}

// Now is the store's time format: unix milliseconds, the same on both dialects.
func Now(t time.Time) int64 { return t.UnixMilli() }

// Time converts a stored unix-millisecond value back to a time.
func Time(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
