package account

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// TestUnknownUsernameCostsTheSame: a login naming an unknown username checks one hash made
// under the same argon2id parameters as a known username's, so its time does not tell which
// usernames exist. (The work is compared, not the clock: the same hash computation takes the
// same time, and a timed comparison would fail on a busy machine.)
func TestUnknownUsernameCostsTheSame(t *testing.T) {
	t.Parallel()
	params := Params{Memory: 64, Time: 1, Threads: 1}
	db := tiffintest.NewStoreOn(t, store.SQLite)
	signer, _ := auth.NewSigner(ed25519.NewKeyFromSeed(make([]byte, 32)), "iss", "aud", nil)
	svc, err := New(db, Config{Signer: signer, Params: params, MaxFailures: 1000, MaxAddressFailures: 1000, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := Add(context.Background(), db, "ana", auth.Ops, "op-1", "a password long enough", params, time.Now()); err != nil {
		t.Fatal(err)
	}
	var seen []Params
	svc.checked = func(p Params) { seen = append(seen, p) }
	for _, user := range []string{"ana", "nobody"} {
		seen = nil
		if _, err := svc.Login(context.Background(), user, "wrong password, long enough", ""); err != ErrBadCredentials {
			t.Fatalf("login %s: %v, want ErrBadCredentials", user, err)
		}
		if len(seen) != 1 || seen[0] != params {
			t.Errorf("login %s checked hashes under %+v, want one under %+v", user, seen, params)
		}
	}
}
