package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/account"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/store"
)

const testPassword = "correct horse battery staple"

// TestAccountCommands: account add takes the password from TIFFIN_ACCOUNT_PASSWORD (never a
// flag) or stdin, refuses a short one and a username taken; account disable stops the login.
func TestAccountCommands(t *testing.T) {
	data := t.TempDir()
	t.Setenv(passwordEnv, testPassword)
	out, err := run(t, "account", "add", "--data", data, "--username", "ana", "--role", "ops", "--subject", "op-1")
	if err != nil || !strings.Contains(out, "added ops account ana") {
		t.Fatalf("account add: %q, %v", out, err)
	}
	if _, err := run(t, "account", "add", "--data", data, "--username", "ana", "--role", "ops", "--subject", "op-1"); err == nil {
		t.Error("a second account ana was added")
	}
	t.Setenv(passwordEnv, "too short")
	if _, err := run(t, "account", "add", "--data", data, "--username", "bo", "--role", "restaurant", "--subject", "owner-1"); err == nil || !strings.Contains(err.Error(), "15") {
		t.Errorf("a short password: %v, want a refusal naming the minimum", err)
	}
	if pw, err := readPassword(strings.NewReader("from stdin\nrest")); err != nil || pw != "too short" {
		t.Errorf("with %s set: %q, %v; want the variable's", passwordEnv, pw, err)
	}
	os.Unsetenv(passwordEnv) // t.Setenv restores it at the end
	if pw, err := readPassword(strings.NewReader("from stdin, long enough\r\nrest")); err != nil || pw != "from stdin, long enough" {
		t.Errorf("stdin: %q, %v", pw, err)
	}
	if _, err := readPassword(strings.NewReader("")); err == nil {
		t.Error("no password at all: no error")
	}
	if out, err := run(t, "account", "disable", "--data", data, "--username", "ana"); err != nil || !strings.Contains(out, "disabled account ana") {
		t.Errorf("account disable: %q, %v", out, err)
	}
	if _, err := run(t, "account", "disable", "--data", data, "--username", "nobody"); err == nil {
		t.Error("disabling an unknown account: no error")
	}
}

// signingKeyFile writes a new Ed25519 private key as PKCS #8 PEM and returns its path.
func signingKeyFile(t *testing.T) string {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	path := filepath.Join(t.TempDir(), "accounts.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func postJSON(t *testing.T, url string, body any) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// TestServeLocalAccounts: serve with --accounts-signing-key logs a local account in, accepts
// its access token on an ops route and refreshes it, and still accepts the identity provider's
// tokens from --jwt-public-key; serve without it has no local login (404 saying so).
func TestServeLocalAccounts(t *testing.T) {
	t.Parallel()
	idp := newIDPKey(t, "idp-1")
	dbPath := filepath.Join(t.TempDir(), "t.db")
	db, err := store.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	err = account.Add(context.Background(), db, "ana", auth.Ops, "op-1", testPassword, account.Params{Memory: 64, Time: 1, Threads: 1}, time.Now())
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	base := startCommand(t, "serve", "--data", t.TempDir(), "--db", dbPath, "--nats", startNATS(t), "--services", "api", "--log-level", "error",
		"--jwt-public-key", idp.pemFile(t), "--jwt-issuer", testIssuer, "--jwt-audience", testAudience,
		"--accounts-signing-key", signingKeyFile(t))

	status, body := postJSON(t, base+"/v1/auth/login", map[string]string{"username": "ana", "password": testPassword})
	if status != http.StatusOK {
		t.Fatalf("login: %d %s", status, body)
	}
	var tok account.Tokens
	if err := json.Unmarshal(body, &tok); err != nil {
		t.Fatal(err)
	}
	if got := statusWith(t, base, tok.AccessToken); got != http.StatusOK {
		t.Errorf("the local account's access token on an ops route: %d, want 200", got)
	}
	if got := statusWith(t, base, idp.token(t, nil)); got != http.StatusOK {
		t.Errorf("the identity provider's token beside local accounts: %d, want 200", got)
	}
	if status, body := postJSON(t, base+"/v1/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken}); status != http.StatusOK {
		t.Errorf("refresh: %d %s", status, body)
	}
	if status, _ := postJSON(t, base+"/v1/auth/login", map[string]string{"username": "ana", "password": "wrong password, long"}); status != http.StatusUnauthorized {
		t.Errorf("a wrong password: %d, want 401", status)
	}

	plain, _ := startServe(t, "--jwt-public-key", idp.pemFile(t), "--jwt-issuer", testIssuer, "--jwt-audience", testAudience)
	status, body = postJSON(t, plain+"/v1/auth/login", map[string]string{"username": "ana", "password": testPassword})
	if status != http.StatusNotFound || !strings.Contains(string(body), "--accounts-signing-key") {
		t.Errorf("login on serve without a signing key: %d %s, want 404 naming --accounts-signing-key", status, body)
	}
}

// TestServeRefusesABadSigningKey: a public key, or an access token lifetime beyond
// --jwt-max-lifetime, is refused at start.
func TestServeRefusesABadSigningKey(t *testing.T) {
	t.Parallel()
	idp := newIDPKey(t, "idp-1")
	common := []string{"serve", "--data", t.TempDir(), "--db", filepath.Join(t.TempDir(), "t.db"), "--nats", "nats://127.0.0.1:1",
		"--services", "api", "--jwt-public-key", idp.pemFile(t), "--jwt-issuer", testIssuer, "--jwt-audience", testAudience}
	err := runServe(context.Background(), t, append(common, "--accounts-signing-key", idp.pemFile(t))...)
	if err == nil || !strings.Contains(err.Error(), "signing key") {
		t.Errorf("a public key as the signing key: %v", err)
	}
	err = runServe(context.Background(), t, append(common, "--accounts-signing-key", signingKeyFile(t), "--access-token-ttl", "25h")...)
	if err == nil || !strings.Contains(err.Error(), "--access-token-ttl") {
		t.Errorf("an access token lifetime beyond the maximum: %v", err)
	}
}
