package account_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tiffin-dev/tiffin/internal/store"
)

// FuzzAuthBodies sends arbitrary bodies to the login, refresh and logout routes: every answer
// is a success or a client error (never a 5xx), problem+json when it is an error, and small.
func FuzzAuthBodies(f *testing.F) {
	for _, seed := range []string{
		`{"username":"ops-ana","password":"correct horse battery staple"}`,
		`{"username":"ops-ana","password":"x"}`, `{"refresh_token":"tfr_x"}`, `{}`, `[]`, `null`, ``,
		`{"username":1,"password":true}`, `{"username":"` + strings.Repeat("a", 70) + `","password":"p"}`,
		`{"refresh_token":"` + strings.Repeat("\u0000", 10) + `"}`, `{"username":"a","password":"b","role":"ops"}`,
		`{"username":"\ud800","password":"\udfff"}`, `{"refresh_token":{"$ne":null}}`,
	} {
		f.Add(seed)
	}
	e := newEnv(f, store.SQLite)
	e.add("ops-bo", "ops", "op-2") // not throttled by the seeds
	f.Fuzz(func(t *testing.T, body string) {
		e.t = t
		for _, path := range []string{"/v1/auth/login", "/v1/auth/refresh", "/v1/auth/logout"} {
			a := e.post(path, body)
			if a.status >= 500 || a.status < 200 {
				t.Fatalf("%s %q: %d %s", path, body, a.status, a.body)
			}
			if a.status >= 400 && !strings.HasPrefix(a.header.Get("Content-Type"), "application/problem+json") {
				t.Errorf("%s %q: %d with Content-Type %q", path, body, a.status, a.header.Get("Content-Type"))
			}
			if len(a.body) > 64<<10 {
				t.Errorf("%s %q: a %d-byte answer", path, body, len(a.body))
			}
			if a.status == http.StatusOK && path == "/v1/auth/login" && !strings.Contains(body, "correct horse") {
				t.Errorf("login %q succeeded", body)
			}
		}
	})
}
