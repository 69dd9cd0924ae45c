package store

import (
	"context"
	"strings"
	"testing"
)

// TestParseDSN: PostgreSQL URLs and SQLite paths are told apart; other schemes, and what looks
// like a PostgreSQL URL but is not one, are refused instead of becoming a SQLite file.
func TestParseDSN(t *testing.T) {
	t.Parallel()
	for dsn, want := range map[string]Dialect{
		"postgres://u@h:5432/db": Postgres,
		"postgresql://u@h/db":    Postgres,
		"data/tiffin.db":         SQLite,
		"/var/lib/tiffin/t.db":   SQLite,
		"./t.db":                 SQLite,
		"sqlite:///tmp/t.db":     SQLite,
		"file:t.db?cache=shared": SQLite,
		"dir.v2/with:colon.db":   SQLite,
	} {
		if got, err := ParseDSN(dsn); err != nil || got != want {
			t.Errorf("%q: got %q, %v, want %q", dsn, got, err, want)
		}
	}
	for dsn, msg := range map[string]string{
		"mysql://u@h/db":   `scheme "mysql" is not supported`,
		"postgres//oops":   "looks like a PostgreSQL URL but is not one",
		"postgres:/h/db":   "looks like a PostgreSQL URL but is not one",
		"PostgreSQL//h":    "looks like a PostgreSQL URL but is not one",
		"redis://h:6379/0": `scheme "redis" is not supported`,
		"":                 "empty database",
	} {
		_, err := ParseDSN(dsn)
		if err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), "postgres://") {
			t.Errorf("%q: got %v, want an error saying %q and what is accepted", dsn, err, msg)
		}
		if _, err := Open(context.Background(), dsn); err == nil {
			t.Errorf("Open(%q): got no error", dsn)
		}
	}
}
