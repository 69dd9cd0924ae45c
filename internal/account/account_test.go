package account_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/account"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/telemetry"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// cheap are argon2id costs for tests: the race detector makes OWASP's ~20x slower.
var cheap = account.Params{Memory: 64, Time: 1, Threads: 1}

const password = "correct horse battery staple"

// env is the account routes on an edge of their own over a real store, with a fake clock
// shared by the accounts, the signer and the verifier.
type env struct {
	t       testing.TB
	db      *store.DB
	clock   *tiffintest.Clock
	url     string
	verify  *auth.Verifier
	metrics *telemetry.Metrics
}

func newEnv(t testing.TB, d store.Dialect) *env {
	t.Helper()
	db := tiffintest.NewStoreOn(t, d)
	clock := tiffintest.NewClock(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC))
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := auth.NewSigner(priv, "iss", "aud", clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(context.Background(), auth.Config{Keys: []auth.PublicKey{signer.Public()}, Issuer: "iss", Audience: "aud", Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	m := telemetry.NewMetrics()
	svc, err := account.New(db, account.Config{Signer: signer, Params: cheap, Now: clock.Now, Metrics: m, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.New(httpapi.Config{Keys: v, Metrics: m, Logger: slog.New(slog.DiscardHandler)})
	account.Register(srv, svc)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	e := &env{t: t, db: db, clock: clock, url: hs.URL, verify: v, metrics: m}
	e.add("ops-ana", auth.Ops, "op-1")
	return e
}

func (e *env) add(username string, role auth.Role, subject string) {
	e.t.Helper()
	if err := account.Add(context.Background(), e.db, username, role, subject, password, cheap, e.clock.Now()); err != nil {
		e.t.Fatal(err)
	}
}

type answer struct {
	status int
	header http.Header
	body   []byte
	tokens account.Tokens
}

func (e *env) post(path string, body any) answer {
	e.t.Helper()
	var rd io.Reader
	if s, ok := body.(string); ok {
		rd = strings.NewReader(s)
	} else {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	resp, err := http.Post(e.url+path, "application/json", rd)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, body: b}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &a.tokens); err != nil {
			e.t.Fatalf("decode %s: %v", b, err)
		}
	}
	return a
}

func (e *env) login(username, pw string) answer {
	return e.post("/v1/auth/login", map[string]string{"username": username, "password": pw})
}

func (e *env) refresh(token string) answer {
	return e.post("/v1/auth/refresh", map[string]string{"refresh_token": token})
}

func want(t testing.TB, what string, a answer, status int) {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s: got %d %s, want %d", what, a.status, a.body, status)
	}
}

// TestLogin: the right password gets an access token of the account's role and subject,
// signed for the configured issuer and audience, and a refresh token; a wrong password, an
// unknown username and a disabled account are answered alike (401, one body).
func TestLogin(t *testing.T) {
	t.Parallel()
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, d)
			e.add("dosa-staff", auth.Restaurant, "owner-1")
			e.add("gone", auth.Ops, "op-2")
			if err := account.Disable(context.Background(), e.db, "gone", e.clock.Now()); err != nil {
				t.Fatal(err)
			}
			ok := e.login("OPS-ana", password) // usernames are lower case
			want(t, "login", ok, http.StatusOK)
			if ok.tokens.TokenType != "Bearer" || ok.tokens.ExpiresIn != 900 || !strings.HasPrefix(ok.tokens.RefreshToken, "tfr_") {
				t.Errorf("tokens = %+v, want Bearer, 900 s, tfr_...", ok.tokens)
			}
			if cc := ok.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			p, err := e.verify.Verify(context.Background(), ok.tokens.AccessToken)
			if err != nil || p != (auth.Principal{Subject: "op-1", Role: auth.Ops}) {
				t.Errorf("access token: %v, %v; want op-1 ops", p, err)
			}
			r := e.login("dosa-staff", password)
			want(t, "restaurant login", r, http.StatusOK)
			if p, _ := e.verify.Verify(context.Background(), r.tokens.AccessToken); p.Role != auth.Restaurant || p.Subject != "owner-1" {
				t.Errorf("restaurant access token: %v", p)
			}

			wrong := e.login("ops-ana", password+"!")
			unknown := e.login("nobody", password)
			disabled := e.login("gone", password)
			for name, a := range map[string]answer{"wrong password": wrong, "unknown username": unknown, "disabled account": disabled} {
				want(t, name, a, http.StatusUnauthorized)
				if !bytes.Equal(a.body, wrong.body) {
					t.Errorf("%s answered %s, the wrong password %s: they must not differ", name, a.body, wrong.body)
				}
			}
			if !strings.Contains(string(wrong.body), "invalid username or password") {
				t.Errorf("401 body = %s", wrong.body)
			}
		})
	}
}

// TestThrottle: 5 failures for one username lock it out (429 with Retry-After, even with the
// right password, and for an unknown username alike); after the lock-out the right password
// works and resets the count; lock-outs in a row double. 20 failures from one address over
// many usernames lock the address out.
func TestThrottle(t *testing.T) {
	t.Parallel()
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, d)
			fail := func(user string, n int) {
				t.Helper()
				for i := range n {
					want(t, "failure "+string(rune('1'+i)), e.login(user, "wrong password, long enough"), http.StatusUnauthorized)
				}
			}
			locked := func(user string, retryAfter string) {
				t.Helper()
				a := e.login(user, password)
				want(t, "locked out "+user, a, http.StatusTooManyRequests)
				if got := a.header.Get("Retry-After"); got != retryAfter {
					t.Errorf("Retry-After = %q, want %q", got, retryAfter)
				}
			}
			fail("ops-ana", 5)
			locked("ops-ana", "60")
			fail("nobody", 5)
			locked("nobody", "60")
			e.clock.Advance(30 * time.Second)
			locked("ops-ana", "30")
			e.clock.Advance(31 * time.Second)
			want(t, "after the lock-out", e.login("ops-ana", password), http.StatusOK)
			fail("ops-ana", 4)
			want(t, "the count was reset", e.login("ops-ana", password), http.StatusOK)

			e.clock.Advance(15 * time.Minute) // past the address's window, not past a day
			fail("nobody", 5)                 // the second lock-out in a row: twice as long
			locked("nobody", "120")
			e.clock.Advance(2 * time.Minute)
			fail("nobody", 5)
			locked("nobody", "240")

			e.clock.Advance(time.Hour)
			for i := range 20 { // one address, many usernames
				want(t, "spray", e.login("user-"+string(rune('a'+i)), "wrong password, long enough"), http.StatusUnauthorized)
			}
			locked("ops-ana", "60") // the address is locked out, whichever username
			m := scrape(t, e.metrics)
			for _, line := range []string{`tiffin_logins_total{result="failed"}`, `tiffin_logins_total{result="throttled"}`,
				`tiffin_login_lockouts_total{scope="username"} 4`, `tiffin_login_lockouts_total{scope="address"}`} {
				if !strings.Contains(m, line) {
					t.Errorf("metrics lack %s", line)
				}
			}
		})
	}
}

// TestRefreshRotation: a refresh token is traded once for a new pair; presenting it again
// revokes the whole family, so the newer refresh token stops working too; another login's
// family is untouched. Logout revokes a family; a disabled account cannot refresh.
func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, d)
			first := e.login("ops-ana", password)
			other := e.login("ops-ana", password)
			want(t, "login", first, http.StatusOK)
			second := e.refresh(first.tokens.RefreshToken)
			want(t, "refresh", second, http.StatusOK)
			if second.tokens.RefreshToken == first.tokens.RefreshToken {
				t.Fatal("the refresh token did not rotate")
			}
			if p, err := e.verify.Verify(context.Background(), second.tokens.AccessToken); err != nil || p.Subject != "op-1" {
				t.Errorf("refreshed access token: %v, %v", p, err)
			}
			third := e.refresh(second.tokens.RefreshToken)
			want(t, "refresh again", third, http.StatusOK)

			reuse := e.refresh(first.tokens.RefreshToken)
			want(t, "reuse of a used refresh token", reuse, http.StatusUnauthorized)
			want(t, "the family's newest after a reuse", e.refresh(third.tokens.RefreshToken), http.StatusUnauthorized)
			if !strings.Contains(scrape(t, e.metrics), "tiffin_refresh_token_reuses_total 1") {
				t.Error("the reuse is not counted")
			}
			want(t, "another login's family", e.refresh(other.tokens.RefreshToken), http.StatusOK)
			want(t, "an unknown refresh token", e.refresh("tfr_nothing"), http.StatusUnauthorized)

			out := e.login("ops-ana", password)
			if a := e.post("/v1/auth/logout", map[string]string{"refresh_token": out.tokens.RefreshToken}); a.status != http.StatusNoContent {
				t.Fatalf("logout: %d %s", a.status, a.body)
			}
			want(t, "refresh after logout", e.refresh(out.tokens.RefreshToken), http.StatusUnauthorized)
			if a := e.post("/v1/auth/logout", map[string]string{"refresh_token": "tfr_unknown"}); a.status != http.StatusNoContent {
				t.Errorf("logout of an unknown token: %d", a.status)
			}

			kept := e.login("ops-ana", password)
			if err := account.Disable(context.Background(), e.db, "ops-ana", e.clock.Now()); err != nil {
				t.Fatal(err)
			}
			want(t, "refresh of a disabled account", e.refresh(kept.tokens.RefreshToken), http.StatusUnauthorized)
			want(t, "login of a disabled account", e.login("ops-ana", password), http.StatusUnauthorized)
		})
	}
}

// TestExpiry: access tokens expire after 15 minutes (and the verifier's 30 s leeway), refresh
// tokens after 30 days.
func TestExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite)
	a := e.login("ops-ana", password)
	want(t, "login", a, http.StatusOK)
	e.clock.Advance(14 * time.Minute)
	if _, err := e.verify.Verify(context.Background(), a.tokens.AccessToken); err != nil {
		t.Errorf("a 14-minute-old access token: %v", err)
	}
	e.clock.Advance(2 * time.Minute)
	if _, err := e.verify.Verify(context.Background(), a.tokens.AccessToken); err == nil {
		t.Error("a 16-minute-old access token was accepted")
	}
	b := e.refresh(a.tokens.RefreshToken)
	want(t, "refresh within 30 days", b, http.StatusOK)
	e.clock.Advance(30*24*time.Hour + time.Second)
	want(t, "refresh after 30 days", e.refresh(b.tokens.RefreshToken), http.StatusUnauthorized)
}

// TestAdd refuses what an account must not be.
func TestAdd(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite)
	ctx := context.Background()
	for name, c := range map[string]struct {
		user, subject, pw string
		role              auth.Role
	}{
		"upper case":    {"Ana", "op", password, auth.Ops},
		"customer role": {"cust", "c-1", password, auth.Customer},
		"courier role":  {"cour", "c-1", password, auth.Courier},
		"no subject":    {"ana2", "", password, auth.Ops},
		"short":         {"ana3", "op", "fourteen chars", auth.Ops},
		"exists":        {"ops-ana", "op", password, auth.Ops},
	} {
		if err := account.Add(ctx, e.db, c.user, c.role, c.subject, c.pw, cheap, e.clock.Now()); err == nil {
			t.Errorf("%s: Add accepted it", name)
		}
	}
	if err := account.Disable(ctx, e.db, "nobody", e.clock.Now()); err == nil {
		t.Error("Disable of an unknown account: no error")
	}
}

// TestNotEnabled: without a service the routes are still there, and answer 404 saying why.
func TestNotEnabled(t *testing.T) {
	t.Parallel()
	srv := httpapi.New(httpapi.Config{Keys: auth.NewKeys(ed25519.NewKeyFromSeed(make([]byte, 32)))})
	account.Register(srv, nil)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	for path, body := range map[string]string{
		"/v1/auth/login":   `{"username":"a","password":"b"}`,
		"/v1/auth/refresh": `{"refresh_token":"c"}`,
		"/v1/auth/logout":  `{"refresh_token":"c"}`,
	} {
		resp, err := http.Post(hs.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), "local accounts are not enabled") {
			t.Errorf("%s: %d %s, want 404 saying local accounts are not enabled", path, resp.StatusCode, b)
		}
	}
}

func scrape(t testing.TB, m *telemetry.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	srv := httpapi.New(httpapi.Config{Metrics: m, MetricsApart: true})
	srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}
