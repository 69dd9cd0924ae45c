// Package tiffintest holds test helpers shared by tiffin's packages: real stores on SQLite and
// PostgreSQL, a real embedded NATS bus, and the whole app booted on a free port.
package tiffintest

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver for schema setup

	"github.com/tiffin-dev/tiffin/internal/store"
)

// PostgresEnv names the variable holding the PostgreSQL server tests use. When unset the
// project machines' server is tried: postgres://postgres@127.0.0.1:5432/test.
const PostgresEnv = "TIFFIN_TEST_POSTGRES"

// RequirePostgresEnv, when set to 1, turns a missing PostgreSQL server into a test failure
// instead of a skip. CI sets it.
const RequirePostgresEnv = "TIFFIN_REQUIRE_POSTGRES"

// Backends lists the store backends every store suite runs on.
var Backends = []store.Dialect{store.SQLite, store.Postgres}

// NewStore opens a fresh, migrated SQLite store in a temporary directory.
func NewStore(tb testing.TB) *store.DB {
	tb.Helper()
	return NewStoreOn(tb, store.SQLite)
}

// NewStoreOn opens a fresh, migrated store on the given backend. For PostgreSQL every call gets
// its own schema, dropped at cleanup, so tests run in parallel without seeing each other.
func NewStoreOn(tb testing.TB, d store.Dialect) *store.DB {
	tb.Helper()
	return OpenStore(tb, DSN(tb, d))
}

// OpenStore opens (and migrates) the store at dsn and closes it when the test ends. Each call
// has connections of its own, as another process on the same database would.
func OpenStore(tb testing.TB, dsn string) *store.DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		tb.Fatalf("open store %s: %v", dsn, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// DSN returns a data source name for a fresh, empty database on backend d: a file in a temporary
// directory for SQLite, a new schema for PostgreSQL (dropped when the test ends). It skips the
// test, loudly, when PostgreSQL can't be reached and RequirePostgresEnv is not set.
func DSN(tb testing.TB, d store.Dialect) string {
	tb.Helper()
	if d == store.SQLite {
		return filepath.Join(tb.TempDir(), "tiffin.db")
	}
	base := PostgresURL()
	admin, err := sql.Open("pgx", base)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = admin.PingContext(ctx)
		cancel()
	}
	if err != nil {
		if admin != nil {
			admin.Close()
		}
		msg := fmt.Sprintf("\n*** PostgreSQL NOT AVAILABLE at %s: %v\n*** PostgreSQL tests SKIPPED. Set %s or run .ci/run, which starts a server.\n", base, err, PostgresEnv)
		skipLoudly(tb, "postgres", RequirePostgresEnv, msg)
	}
	schema := fmt.Sprintf("t_%d_%d", time.Now().UnixNano(), rand.IntN(1_000_000)) // #nosec G404 -- a unique name for a test's schema or key prefix; no secret
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		admin.Close()
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			tb.Logf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("parse %s: %v", base, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// PostgresURL returns the server tests use for PostgreSQL.
func PostgresURL() string {
	if v := strings.TrimSpace(os.Getenv(PostgresEnv)); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}
