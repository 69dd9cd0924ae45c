package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tiffin-dev/tiffin/internal/auth"
)

// The issuer and audience the serve tests configure.
const (
	testIssuer   = "https://id.example.test/"
	testAudience = "tiffin-test"
)

// idpKey is a key an identity provider under test signs with.
type idpKey struct {
	kid  string
	priv ed25519.PrivateKey
}

func newIDPKey(t *testing.T, kid string) idpKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return idpKey{kid: kid, priv: priv}
}

// pemFile writes the key's public half to a PEM file, its kid as a header, and returns the path.
func (k idpKey) pemFile(t *testing.T) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "idp.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Headers: map[string]string{"kid": k.kid}, Bytes: der})
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// token signs claims for an ops principal, valid for an hour, changed by change.
func (k idpKey) token(t *testing.T, change func(h map[string]any, c jwt.MapClaims)) string {
	t.Helper()
	now := time.Now()
	c := jwt.MapClaims{"iss": testIssuer, "aud": testAudience, "sub": "ops-1", "role": "ops", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = k.kid
	if change != nil {
		change(tok.Header, c)
	}
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// startServe runs `tiffin serve` with args on SQLite and a NATS server of its own, the API
// only, until the test ends, and returns its base URL and data directory.
func startServe(t *testing.T, args ...string) (base, data string) {
	t.Helper()
	data = t.TempDir()
	return startCommand(t, append([]string{"serve", "--data", data, "--db", filepath.Join(t.TempDir(), "t.db"),
		"--nats", startNATS(t), "--services", "api", "--log-level", "error"}, args...)...), data
}

// startCommand runs the command line args (dev or serve) on a free address until the test
// ends, and returns its base URL once it is ready.
func startCommand(t *testing.T, args ...string) (base string) {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, t, append(args, "--addr", addr)...) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s stopped with: %v", args[0], err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop within 30s", args[0])
		}
	})
	base = "http://" + addr
	waitReady(t, base)
	return base
}

// statusWith is the status of an ops-only route asked with token.
func statusWith(t *testing.T, base, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/ops/audit", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServeVerifiesWithAPublicKey: serve with a PEM public key accepts a token the matching
// private key signed for the configured issuer and audience, refuses every forged kind with
// 401, and never makes or reads a signing key of its own.
func TestServeVerifiesWithAPublicKey(t *testing.T) {
	t.Parallel()
	key := newIDPKey(t, "idp-2026")
	base, data := startServe(t, "--jwt-public-key", key.pemFile(t), "--jwt-issuer", testIssuer, "--jwt-audience", testAudience)

	if got := statusWith(t, base, key.token(t, nil)); got != http.StatusOK {
		t.Fatalf("good token: got %d, want 200", got)
	}
	other := newIDPKey(t, "idp-2026")
	devKeys, err := auth.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	devToken, _ := devKeys.Issue(auth.Principal{Subject: "ops-1", Role: auth.Ops}, time.Hour)
	pubDER, _ := x509.MarshalPKIXPublicKey(key.priv.Public())
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	claims, _ := json.Marshal(map[string]any{"iss": testIssuer, "aud": testAudience, "sub": "ops-1", "role": "ops", "exp": time.Now().Add(time.Hour).Unix()})
	hmac := func(secret []byte) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": testIssuer, "aud": testAudience, "sub": "ops-1", "role": "ops",
			"exp": time.Now().Add(time.Hour).Unix()}).SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for name, tok := range map[string]string{
		"wrong key (same kid)": other.token(t, nil),
		"the dev key's token":  devToken,
		"wrong iss":            key.token(t, func(_ map[string]any, c jwt.MapClaims) { c["iss"] = "https://evil.example/" }),
		"wrong aud":            key.token(t, func(_ map[string]any, c jwt.MapClaims) { c["aud"] = "someone-else" }),
		"no iss":               key.token(t, func(_ map[string]any, c jwt.MapClaims) { delete(c, "iss") }),
		"no aud":               key.token(t, func(_ map[string]any, c jwt.MapClaims) { delete(c, "aud") }),
		"issued in the future": key.token(t, func(_ map[string]any, c jwt.MapClaims) { c["iat"] = time.Now().Add(time.Hour).Unix() }),
		"no exp":               key.token(t, func(_ map[string]any, c jwt.MapClaims) { delete(c, "exp") }),
		"expired":              key.token(t, func(_ map[string]any, c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() }),
		"lifetime too long":    key.token(t, func(_ map[string]any, c jwt.MapClaims) { c["exp"] = time.Now().Add(25 * time.Hour).Unix() }),
		"100 years":            key.token(t, func(_ map[string]any, c jwt.MapClaims) { c["exp"] = time.Now().AddDate(100, 0, 0).Unix() }),
		"unknown kid":          key.token(t, func(h map[string]any, _ jwt.MapClaims) { h["kid"] = "not-ours" }),
		"alg none": base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
			base64.RawURLEncoding.EncodeToString(claims) + ".",
		"HS256 keyed with the public key PEM": hmac(pubPEM),
		"HS256 keyed with the public key":     hmac(key.priv.Public().(ed25519.PublicKey)),
	} {
		if got := statusWith(t, base, tok); got != http.StatusUnauthorized {
			t.Errorf("%s: got %d, want 401", name, got)
		}
	}
	if _, err := os.Stat(filepath.Join(data, auth.KeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("serve left a signing key in its data directory: %v", err)
	}
}

// TestServeVerifiesWithJWKS: serve with --jwks-url takes its keys from the identity provider,
// by kid, and a key rotated in after the start is fetched when a token first names it.
func TestServeVerifiesWithJWKS(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	keys := []idpKey{newIDPKey(t, "k1")}
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		var set []map[string]string
		for _, k := range keys {
			set = append(set, map[string]string{"kty": "OKP", "crv": "Ed25519", "kid": k.kid, "use": "sig",
				"x": base64.RawURLEncoding.EncodeToString(k.priv.Public().(ed25519.PublicKey))})
		}
		json.NewEncoder(w).Encode(map[string]any{"keys": set})
	}))
	t.Cleanup(idp.Close)
	base, _ := startServe(t, "--jwks-url", idp.URL, "--jwt-issuer", testIssuer, "--jwt-audience", testAudience)

	if got := statusWith(t, base, keys[0].token(t, nil)); got != http.StatusOK {
		t.Fatalf("token under k1: got %d, want 200", got)
	}
	k2 := newIDPKey(t, "k2")
	mu.Lock()
	keys = append(keys, k2) // the provider rotates a key in
	mu.Unlock()
	if got := statusWith(t, base, k2.token(t, nil)); got != http.StatusOK {
		t.Errorf("token under k2, rotated in after the start: got %d, want 200", got)
	}
	if got := statusWith(t, base, keys[0].token(t, func(h map[string]any, _ jwt.MapClaims) { h["kid"] = "k9" })); got != http.StatusUnauthorized {
		t.Errorf("unknown kid: got %d, want 401", got)
	}
}

// TestServeRefusesToStartWithoutKeys: serve without public keys, or without the issuer and
// audience, refuses to start with one line saying what to pass, before it touches the database
// or the broker (both unreachable here).
func TestServeRefusesToStartWithoutKeys(t *testing.T) {
	t.Parallel()
	base := []string{"serve", "--db", "postgres://nobody@127.0.0.1:1/x", "--nats", "nats://127.0.0.1:1", "--pay-provider", "fake", "--log-level", "error"}
	pemFile := newIDPKey(t, "k").pemFile(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{base, "serve: no keys to verify tokens with: pass --jwt-public-key FILE (PEM) or --jwks-url URL, with --jwt-issuer and --jwt-audience"},
		{append(base, "--jwt-public-key", pemFile), "serve: pass --jwt-issuer ISS and --jwt-audience AUD"},
		{append(base, "--jwks-url", "http://127.0.0.1:1/jwks", "--jwt-issuer", "i"), "serve: pass --jwt-issuer ISS and --jwt-audience AUD"},
		{append(base, "--jwt-public-key", filepath.Join(t.TempDir(), "missing.pem"), "--jwt-issuer", "i", "--jwt-audience", "a"), "missing.pem"},
		{append(base, "--jwt-public-key", pemFile, "--jwt-issuer", "i", "--jwt-audience", "a", "--jwt-max-lifetime", "0s"), "--jwt-max-lifetime 0s"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := runServe(ctx, t, tc.args...)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("tiffin %s: got %v, want one line saying %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}
