package store

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps prepared statements on SQLite's single writer connection. The modernc driver
// parses every statement it runs afresh, which was a fifth of the CPU time of an order
// placement; a statement prepared once on the writer is reused by every later transaction
// (database/sql's Tx.StmtContext finds it already prepared on that connection). A statement
// first seen inside a transaction runs unprepared and is prepared after the transaction ends,
// because the transaction holds the writer's only connection. PostgreSQL needs none of this:
// pgx caches prepared statements per connection itself.
type stmtCache struct {
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// maxCachedStmts bounds the cache; the store's statements are a fixed set of query texts.
const maxCachedStmts = 512

// lookup returns the prepared statement for query, if there is one.
func (c *stmtCache) lookup(query string) (*sql.Stmt, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.stmts[query]
	return s, ok
}

// prepare prepares queries on db. It must run outside any transaction: on SQLite's
// single-connection writer, the transaction holds the connection a Prepare needs.
func (c *stmtCache) prepare(ctx context.Context, db *sql.DB, queries []string) {
	for _, q := range queries {
		c.mu.Lock()
		_, ok := c.stmts[q]
		full := len(c.stmts) >= maxCachedStmts
		c.mu.Unlock()
		if ok || full {
			continue
		}
		s, err := db.PrepareContext(ctx, q)
		if err != nil {
			continue // the unprepared path reports errors
		}
		c.mu.Lock()
		if c.stmts == nil {
			c.stmts = map[string]*sql.Stmt{}
		}
		if _, ok := c.stmts[q]; ok {
			s.Close()
		} else {
			c.stmts[q] = s
		}
		c.mu.Unlock()
	}
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.stmts {
		s.Close()
	}
	c.stmts = nil
}

// stmt returns query prepared for this transaction, or nil to run it unprepared this time
// (it is then prepared once the transaction has ended).
func (tx *Tx) stmt(ctx context.Context, query string) *sql.Stmt {
	if tx.cache == nil {
		return nil
	}
	s, ok := tx.cache.lookup(query)
	if !ok {
		tx.unprepared = append(tx.unprepared, query)
		return nil
	}
	return tx.Tx.StmtContext(ctx, s)
}

// ExecContext runs a statement in the transaction.
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = tx.bind(ctx)
	if s := tx.stmt(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return tx.Tx.ExecContext(ctx, query, args...)
}

// QueryContext runs a query in the transaction.
func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = tx.bind(ctx)
	if s := tx.stmt(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return tx.Tx.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a query expected to return at most one row in the transaction.
func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = tx.bind(ctx)
	if s := tx.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return tx.Tx.QueryRowContext(ctx, query, args...)
}
