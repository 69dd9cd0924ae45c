package account_test

import (
	"strings"
	"testing"

	"github.com/tiffin-dev/tiffin/internal/account"
)

// TestPasswordHash: a PHC argon2id string under the given parameters, a fresh salt each time,
// only the right password matches, and malformed or unbounded hashes are refused.
func TestPasswordHash(t *testing.T) {
	t.Parallel()
	h, err := account.HashPassword(password, account.DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash = %s, want OWASP's parameters in PHC form", h)
	}
	h2, _ := account.HashPassword(password, cheap)
	if h2 == h || !strings.HasPrefix(h2, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("second hash %s", h2)
	}
	for _, c := range []struct {
		pw   string
		want bool
	}{{password, true}, {password + " ", false}, {"", false}} {
		ok, p, err := account.CheckHash(c.pw, h)
		if err != nil || ok != c.want || p != account.DefaultParams {
			t.Errorf("CheckHash(%q) = %v, %+v, %v; want %v", c.pw, ok, p, err, c.want)
		}
	}
	for _, bad := range []string{
		"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw", // 4 GiB
		"$argon2id$v=19$m=64,t=1000,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=19$m=64,t=1,p=1$!!$a2V5a2V5a2V5a2V5a2V5aw",
	} {
		if ok, _, err := account.CheckHash(password, bad); ok || err == nil {
			t.Errorf("CheckHash(%q) = %v, %v; want an error", bad, ok, err)
		}
	}
	for pw, ok := range map[string]bool{"fourteen chars": false, "fifteen chars!!": true, strings.Repeat("é", 15): true, strings.Repeat("a", 257): false} {
		if err := account.CheckPassword(pw); (err == nil) != ok {
			t.Errorf("CheckPassword(%q) = %v", pw, err)
		}
	}
}
