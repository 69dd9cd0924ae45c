package account_test

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/account"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// TestUnknownUsernameTakesAsLong: a login naming an unknown username takes about as long as a
// wrong password for a known one (a dummy hash under the same parameters is checked), so the
// time does not tell which usernames exist. The hash is made costly enough to dominate; the
// bound is loose, for a shared machine.
func TestUnknownUsernameTakesAsLong(t *testing.T) {
	params := account.Params{Memory: 8 * 1024, Time: 3, Threads: 1}
	db := tiffintest.NewStoreOn(t, store.SQLite)
	signer, _ := auth.NewSigner(ed25519.NewKeyFromSeed(make([]byte, 32)), "iss", "aud", nil)
	svc, err := account.New(db, account.Config{Signer: signer, Params: params, MaxFailures: 1000, MaxAddressFailures: 1000, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := account.Add(context.Background(), db, "ana", auth.Ops, "op-1", password, params, time.Now()); err != nil {
		t.Fatal(err)
	}
	timeOf := func(user string) time.Duration {
		start := time.Now()
		if _, err := svc.Login(context.Background(), user, "wrong password, long enough", ""); err != account.ErrBadCredentials {
			t.Fatalf("login %s: %v", user, err)
		}
		return time.Since(start)
	}
	timeOf("nobody") // the dummy hash is made on first use
	var known, unknown []time.Duration
	for range 7 {
		known = append(known, timeOf("ana"))
		unknown = append(unknown, timeOf("nobody"))
	}
	slices.Sort(known)
	slices.Sort(unknown)
	k, u := known[3], unknown[3]
	t.Logf("median: known %v, unknown %v", k, u)
	if u < k/2 || u > 2*k {
		t.Errorf("median login time: unknown username %v, known username with a wrong password %v: want them alike", u, k)
	}
}

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
