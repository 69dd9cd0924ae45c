package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/account"
	"github.com/tiffin-dev/tiffin/internal/app"
	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// TestLocalAccounts drives local accounts through the whole app (dev's key signs): a login's
// access token works on an ops route and a restaurant's on none of ops'; a wrong password and
// an unknown username get one answer; 5 failures lock the username out (429, Retry-After);
// refresh rotates, a reused refresh token revokes its family, logout revokes; a disabled
// account can neither log in nor refresh; the counts are in /metrics.
func TestLocalAccounts(t *testing.T) {
	t.Parallel()
	cheap := account.Params{Memory: 64, Time: 1, Threads: 1}
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			a := apptest.Start(t, d, func(c *app.Config) { c.Accounts.Params = cheap })
			ctx := context.Background()
			for _, acct := range []struct {
				user    string
				role    auth.Role
				subject string
			}{{"ana", auth.Ops, "op-1"}, {"dosa", auth.Restaurant, "owner-1"}, {"bo", auth.Ops, "op-2"}} {
				if err := account.Add(ctx, a.DB(), acct.user, acct.role, acct.subject, "correct horse battery staple", cheap, time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			login := func(user, pw string) (apptest.Response, account.Tokens) {
				r := a.Do("POST", "/v1/auth/login", "", map[string]string{"username": user, "password": pw})
				var tok account.Tokens
				if r.Status == http.StatusOK {
					r.JSON(t, &tok)
				}
				return r, tok
			}
			refresh := func(token string) (apptest.Response, account.Tokens) {
				r := a.Do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": token})
				var tok account.Tokens
				if r.Status == http.StatusOK {
					r.JSON(t, &tok)
				}
				return r, tok
			}

			r, ana := login("ana", "correct horse battery staple")
			if r.Status != http.StatusOK || ana.ExpiresIn != 900 {
				t.Fatalf("login: %d %s", r.Status, r.Body)
			}
			if r := a.Do("GET", "/v1/ops/audit", ana.AccessToken, nil); r.Status != http.StatusOK {
				t.Errorf("ops route with the access token: %d %s", r.Status, r.Body)
			}
			_, dosa := login("dosa", "correct horse battery staple")
			if r := a.Do("GET", "/v1/ops/audit", dosa.AccessToken, nil); r.Status != http.StatusForbidden {
				t.Errorf("ops route with a restaurant's access token: %d, want 403", r.Status)
			}

			wrong, _ := login("bo", "wrong password, long enough")
			unknown, _ := login("nobody", "correct horse battery staple")
			if wrong.Status != http.StatusUnauthorized || unknown.Status != http.StatusUnauthorized || string(wrong.Body) != string(unknown.Body) {
				t.Errorf("wrong password %d %s, unknown username %d %s: want one 401", wrong.Status, wrong.Body, unknown.Status, unknown.Body)
			}
			for range 4 {
				login("bo", "wrong password, long enough")
			}
			locked, _ := login("bo", "correct horse battery staple")
			if locked.Status != http.StatusTooManyRequests || locked.Header.Get("Retry-After") == "" {
				t.Errorf("after 5 failures: %d Retry-After %q, want 429 with Retry-After", locked.Status, locked.Header.Get("Retry-After"))
			}

			r, next := refresh(ana.RefreshToken)
			if r.Status != http.StatusOK || next.RefreshToken == ana.RefreshToken {
				t.Fatalf("refresh: %d %s", r.Status, r.Body)
			}
			if r, _ := refresh(ana.RefreshToken); r.Status != http.StatusUnauthorized {
				t.Errorf("reuse: %d, want 401", r.Status)
			}
			if r, _ := refresh(next.RefreshToken); r.Status != http.StatusUnauthorized {
				t.Errorf("the newer token after a reuse: %d, want 401", r.Status)
			}
			_, again := login("ana", "correct horse battery staple")
			if r := a.Do("POST", "/v1/auth/logout", "", map[string]string{"refresh_token": again.RefreshToken}); r.Status != http.StatusNoContent {
				t.Errorf("logout: %d %s", r.Status, r.Body)
			}
			if r, _ := refresh(again.RefreshToken); r.Status != http.StatusUnauthorized {
				t.Errorf("refresh after logout: %d, want 401", r.Status)
			}

			_, held := login("dosa", "correct horse battery staple")
			if err := account.Disable(ctx, a.DB(), "dosa", time.Now()); err != nil {
				t.Fatal(err)
			}
			if r, _ := login("dosa", "correct horse battery staple"); r.Status != http.StatusUnauthorized {
				t.Errorf("a disabled account's login: %d, want 401", r.Status)
			}
			if r, _ := refresh(held.RefreshToken); r.Status != http.StatusUnauthorized {
				t.Errorf("a disabled account's refresh: %d, want 401", r.Status)
			}
			m := a.Metrics()
			for _, want := range []string{`tiffin_logins_total{result="ok"}`, `tiffin_logins_total{result="failed"}`,
				`tiffin_login_lockouts_total{scope="username"} 1`, `tiffin_refresh_token_reuses_total 1`,
				`route="/v1/auth/login"`} {
				if !strings.Contains(m, want) {
					t.Errorf("metrics lack %s", want)
				}
			}
		})
	}
}
