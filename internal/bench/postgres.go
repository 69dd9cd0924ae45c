package bench

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// schema is a fresh PostgreSQL schema for one run: the app migrates into it and the yardstick's
// table lives in it.
type schema struct {
	name  string
	base  *url.URL // the server as given
	dsn   string   // base with search_path set to the schema
	admin *sql.DB
}

// newSchema creates a schema named after the current time on the server at rawURL.
func newSchema(ctx context.Context, rawURL string) (*schema, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse postgres URL: %w", err)
	}
	admin, err := sql.Open("pgx", rawURL)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	s := &schema{name: fmt.Sprintf("bench_%d", time.Now().UnixNano()), base: u, admin: admin}
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+s.name); err != nil {
		admin.Close()
		return nil, fmt.Errorf("create schema on %s: %w", serverName(rawURL), err)
	}
	withPath := *u
	q := withPath.Query()
	q.Set("search_path", s.name)
	withPath.RawQuery = q.Encode()
	s.dsn = withPath.String()
	return s, nil
}

// drop removes the schema and everything in it.
func (s *schema) drop(ctx context.Context) error {
	defer s.admin.Close()
	if _, err := s.admin.ExecContext(ctx, `DROP SCHEMA `+s.name+` CASCADE`); err != nil {
		return fmt.Errorf("drop schema %s: %w", s.name, err)
	}
	return nil
}

// serverName is host:port/db of a postgres URL, for labels and messages (no credentials).
func serverName(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "postgres"
	}
	return u.Host + u.Path
}
