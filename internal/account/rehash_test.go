package account_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/tiffin-dev/tiffin/internal/account"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// TestRehash: a password hashed under other parameters is stored anew under the current ones
// at the next successful login.
func TestRehash(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite)
	old := account.Params{Memory: 128, Time: 1, Threads: 1}
	if err := account.Add(context.Background(), e.db, "old-hash", auth.Ops, "op-9", password, old, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	want(t, "login", e.login("old-hash", password), http.StatusOK)
	var h string
	if err := e.db.QueryRowContext(context.Background(), `SELECT password_hash FROM accounts WHERE username = 'old-hash'`).Scan(&h); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h, "$m=64,t=1,p=1$") {
		t.Errorf("hash after login = %s, want the current parameters (m=64)", h)
	}
	want(t, "login under the new hash", e.login("old-hash", password), http.StatusOK)
}
