package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// PublicPEM encodes a public key as a "PUBLIC KEY" PEM block, with headers if given.
func publicPEM(tb testing.TB, pub any, headers map[string]string) []byte {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Headers: headers, Bytes: der})
}

// sign makes a token with method and key; kid is set in the header unless empty.
func sign(tb testing.TB, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	tb.Helper()
	t := jwt.NewWithClaims(method, c)
	if kid != "" {
		t.Header["kid"] = kid
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// TestVerifierRefusesForgeries: a verifier of one configured public key accepts a token signed
// with the matching private key, for the configured issuer and audience, and refuses every
// forged kind.
func TestVerifierRefusesForgeries(t *testing.T) {
	t.Parallel()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	dir := t.TempDir()
	file := filepath.Join(dir, "idp.pem")
	pemBytes := publicPEM(t, pub, nil)
	if err := os.WriteFile(file, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	v, err := NewVerifier(context.Background(), Config{
		PublicKeyFiles: []string{file}, Issuer: "https://idp.example", Audience: "tiffin-prod",
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	kid := thumbprint(pub)
	claims := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{
			"iss": "https://idp.example", "aud": "tiffin-prod", "sub": "cust-1", "role": "customer",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		}
		if change != nil {
			change(c)
		}
		return c
	}
	good := sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(nil))
	if p, err := v.Verify(context.Background(), good); err != nil || p != (Principal{Subject: "cust-1", Role: Customer}) {
		t.Fatalf("good token: got %+v, %v", p, err)
	}
	noKID := sign(t, jwt.SigningMethodEdDSA, priv, "", claims(nil))
	if _, err := v.Verify(context.Background(), noKID); err != nil {
		t.Fatalf("good token without kid: %v", err)
	}
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	payload, _ := json.Marshal(claims(nil))
	for name, tok := range map[string]string{
		"wrong key":                     sign(t, jwt.SigningMethodEdDSA, other, "", claims(nil)),
		"wrong key, kid":                sign(t, jwt.SigningMethodEdDSA, other, kid, claims(nil)),
		"wrong iss":                     sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c jwt.MapClaims) { c["iss"] = "tiffin" })),
		"no iss":                        sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c jwt.MapClaims) { delete(c, "iss") })),
		"wrong aud":                     sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c jwt.MapClaims) { c["aud"] = "tiffin-api" })),
		"no aud":                        sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c jwt.MapClaims) { delete(c, "aud") })),
		"no exp":                        sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c jwt.MapClaims) { delete(c, "exp") })),
		"expired":                       sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })),
		"lifetime 25h":                  sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(25 * time.Hour).Unix() })),
		"100 years no iat":              sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c jwt.MapClaims) { delete(c, "iat"); c["exp"] = now.AddDate(100, 0, 0).Unix() })),
		"issued in future":              sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix(); c["exp"] = now.Add(2 * time.Hour).Unix() })),
		"alg none":                      header + "." + base64.RawURLEncoding.EncodeToString(payload) + ".",
		"HS256 with the public key PEM": sign(t, jwt.SigningMethodHS256, pemBytes, kid, claims(nil)),
		"HS256 with the raw public key": sign(t, jwt.SigningMethodHS256, []byte(pub), "", claims(nil)),
		"unknown kid":                   sign(t, jwt.SigningMethodEdDSA, priv, "not-a-key", claims(nil)),
		"unknown role":                  sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c jwt.MapClaims) { c["role"] = "admin" })),
		"no subject":                    sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c jwt.MapClaims) { delete(c, "sub") })),
		"tampered":                      good[:len(good)-4] + "AAAA",
		"subject with a NUL":            sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c jwt.MapClaims) { c["sub"] = "a\x00b" })),
		"subject with a newline":        sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c jwt.MapClaims) { c["sub"] = "a\nb" })),
		"subject of 5,000 bytes":        sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c jwt.MapClaims) { c["sub"] = strings.Repeat("x", 5000) })),
		"subject with a path":           sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c jwt.MapClaims) { c["sub"] = "../../x" })),
		"subject with SQL":              sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c jwt.MapClaims) { c["sub"] = "'; drop table orders;--" })),
		"exp as a string":               sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c jwt.MapClaims) { c["exp"] = fmt.Sprint(now.Add(time.Hour).Unix()) })),
		"critical extension":            critical(t, priv, kid, claims(nil)),
		"garbage":                       "a.b.c",
		"empty":                         "",
	} {
		if p, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: got %+v, %v, want ErrInvalidToken", name, p, err)
		}
	}
}

// TestVerifierPinsTheKeysAlgorithm: an RSA key verifies RS256 only (or the alg its PEM block
// names), an ECDSA key its curve's algorithm, and a token under another algorithm of the same
// family is refused.
func TestVerifierPinsTheKeysAlgorithm(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys, err := ParsePublicKeys(append(append(publicPEM(t, &rsaKey.PublicKey, map[string]string{"kid": "rsa-1"}),
		publicPEM(t, &ecKey.PublicKey, nil)...), publicPEM(t, &rsaKey.PublicKey, map[string]string{"kid": "rsa-ps", "alg": "PS256"})...))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 || keys[0].ID != "rsa-1" || keys[0].Alg != "RS256" || keys[1].Alg != "ES256" || keys[2].Alg != "PS256" {
		t.Fatalf("keys: got %+v", keys)
	}
	v, err := NewVerifier(context.Background(), Config{Keys: keys, Issuer: "i", Audience: "a"})
	if err != nil {
		t.Fatal(err)
	}
	c := jwt.MapClaims{"iss": "i", "aud": "a", "sub": "s", "role": "ops", "exp": time.Now().Add(time.Hour).Unix()}
	for _, tc := range []struct {
		name string
		tok  string
		ok   bool
	}{
		{"RS256 kid rsa-1", sign(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", c), true},
		{"RS512 kid rsa-1", sign(t, jwt.SigningMethodRS512, rsaKey, "rsa-1", c), false},
		{"PS256 kid rsa-1", sign(t, jwt.SigningMethodPS256, rsaKey, "rsa-1", c), false},
		{"PS256 kid rsa-ps", sign(t, jwt.SigningMethodPS256, rsaKey, "rsa-ps", c), true},
		{"RS256 no kid", sign(t, jwt.SigningMethodRS256, rsaKey, "", c), true},
		{"ES256 no kid", sign(t, jwt.SigningMethodES256, ecKey, "", c), true},
		{"ES256 with the RSA kid", sign(t, jwt.SigningMethodES256, ecKey, "rsa-1", c), false},
	} {
		_, err := v.Verify(context.Background(), tc.tok)
		if (err == nil) != tc.ok {
			t.Errorf("%s: got %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// TestParsePublicKeysRefuses: what is not a usable public key is refused with a message that
// says why; a private key is refused, never used.
func TestParsePublicKeysRefuses(t *testing.T) {
	t.Parallel()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, tc := range map[string]struct {
		in   []byte
		want string
	}{
		"empty":        {nil, "no PEM public key"},
		"not PEM":      {[]byte("hello"), "no PEM public key"},
		"private key":  {pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), "private key"},
		"garbage DER":  {pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("xx")}), "PEM block 1"},
		"RSA 1024":     {publicPEM(t, &small.PublicKey, nil), "shorter than 2048"},
		"alg mismatch": {publicPEM(t, &ec.PublicKey, map[string]string{"alg": "RS256"}), `"RS256" does not suit`},
		"HMAC alg":     {publicPEM(t, &ec.PublicKey, map[string]string{"alg": "HS256"}), `"HS256" does not suit`},
	} {
		_, err := ParsePublicKeys(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error saying %q", name, err, tc.want)
		}
	}
	if _, err := NewVerifier(context.Background(), Config{PublicKeyFiles: []string{filepath.Join(t.TempDir(), "missing.pem")}, Issuer: "i", Audience: "a"}); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("missing file: got %v, want an error naming it", err)
	}
	if _, err := NewVerifier(context.Background(), Config{Issuer: "i", Audience: "a"}); err == nil || !strings.Contains(err.Error(), "--jwt-public-key") {
		t.Errorf("no key: got %v, want an error saying what to pass", err)
	}
}

// idp is an identity provider's JWKS endpoint under test: it serves the public halves of the
// keys it holds and counts its fetches.
type idp struct {
	mu      sync.Mutex
	keys    map[string]ed25519.PrivateKey
	fetches atomic.Int32
	srv     *httptest.Server
}

func newIDP(t *testing.T) *idp {
	p := &idp{keys: map[string]ed25519.PrivateKey{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fetches.Add(1)
		p.mu.Lock()
		defer p.mu.Unlock()
		var set struct {
			Keys []map[string]string `json:"keys"`
		}
		for kid, k := range p.keys {
			set.Keys = append(set.Keys, map[string]string{
				"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": kid,
				"x": base64.RawURLEncoding.EncodeToString(k.Public().(ed25519.PublicKey)),
			})
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// rotate adds a key under kid, dropping the others when only is set.
func (p *idp) rotate(kid string, only bool) ed25519.PrivateKey {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	p.mu.Lock()
	defer p.mu.Unlock()
	if only {
		clear(p.keys)
	}
	p.keys[kid] = priv
	return priv
}

// TestVerifierJWKS: keys come from the provider's JWKS by kid; a token under a key rotated in
// since the last fetch has the set fetched again, at most once per interval however many
// unknown kids arrive; a key withdrawn stops working after the next fetch.
func TestVerifierJWKS(t *testing.T) {
	t.Parallel()
	p := newIDP(t)
	k1 := p.rotate("k1", true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := NewVerifier(ctx, Config{JWKSURL: p.srv.URL, Issuer: "https://idp", Audience: "tiffin", JWKSRefresh: time.Hour, JWKSUnknownKID: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c := jwt.MapClaims{"iss": "https://idp", "aud": "tiffin", "sub": "ops-1", "role": "ops", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodEdDSA, k1, "k1", c)); err != nil {
		t.Fatalf("token under k1: %v", err)
	}
	if got := p.fetches.Load(); got != 1 {
		t.Fatalf("fetches after the first token: got %d, want 1 (at start only)", got)
	}
	k2 := p.rotate("k2", false)
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodEdDSA, k2, "k2", c)); err != nil {
		t.Fatalf("token under k2, rotated in: %v", err)
	}
	if got := p.fetches.Load(); got != 2 {
		t.Fatalf("fetches after the rotated key: got %d, want 2", got)
	}
	for i := range 20 {
		tok := sign(t, jwt.SigningMethodEdDSA, k2, "forged-"+string(rune('a'+i)), c)
		if _, err := v.Verify(ctx, tok); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("unknown kid: got %v, want ErrInvalidToken", err)
		}
	}
	if got := p.fetches.Load(); got != 2 {
		t.Errorf("fetches after 20 unknown kids within the interval: got %d, want still 2", got)
	}
	// k1 is withdrawn; after a fetch its tokens are refused (the memo forgets within a minute,
	// so a fresh token is used).
	p.rotate("k3", true)
	if err := v.jwks.fetch(ctx); err != nil {
		t.Fatal(err)
	}
	c["sub"] = "ops-2"
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodEdDSA, k1, "k1", c)); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("token under withdrawn k1: got %v, want ErrInvalidToken", err)
	}
}

// TestVerifierJWKSRefreshes: Run fetches the set periodically, so a key rotated in is known
// before any token names it; a provider answering garbage keeps the keys held.
func TestVerifierJWKSRefreshes(t *testing.T) {
	t.Parallel()
	p := newIDP(t)
	p.rotate("k1", true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := NewVerifier(ctx, Config{JWKSURL: p.srv.URL, Issuer: "i", Audience: "a", JWKSRefresh: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- v.Run(ctx) }()
	p.rotate("k2", false)
	deadline := time.Now().Add(10 * time.Second)
	for len(pick(*v.jwks.keys.Load(), "k2")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("k2 never fetched by the periodic refresh")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestVerifierJWKSUnreachable: a provider that does not answer costs the start a bounded wait
// and a warning, not a hang; its tokens are refused until it answers.
func TestVerifierJWKSUnreachable(t *testing.T) {
	t.Parallel()
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	start := time.Now()
	v, err := NewVerifier(context.Background(), Config{JWKSURL: hang.URL, Issuer: "i", Audience: "a", JWKSTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("start waited %v for a provider that hangs", d)
	}
	if _, err := NewVerifier(context.Background(), Config{JWKSURL: "ftp://x", Issuer: "i", Audience: "a"}); err == nil || !strings.Contains(err.Error(), "http(s)") {
		t.Errorf("ftp URL: got %v, want refused", err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	tok := sign(t, jwt.SigningMethodEdDSA, priv, "", jwt.MapClaims{"iss": "i", "aud": "a", "sub": "s", "role": "ops", "exp": time.Now().Add(time.Hour).Unix()})
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("token with no keys fetched: got %v, want ErrInvalidToken", err)
	}
}

// TestParseJWKS: signing keys are taken, the rest left out; a set with none is an error.
func TestParseJWKS(t *testing.T) {
	t.Parallel()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	x := base64.RawURLEncoding.EncodeToString(pub)
	keys, err := ParseJWKS([]byte(`{"keys":[
		{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"a"},
		{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"enc","use":"enc"},
		{"kty":"oct","k":"c2VjcmV0","kid":"hmac","alg":"HS256"},
		{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"bad-alg","alg":"RS256"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].ID != "a" || keys[0].Alg != "EdDSA" {
		t.Errorf("got %+v, want the one Ed25519 signing key", keys)
	}
	for _, in := range []string{``, `{}`, `{"keys":[]}`, `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`, `[1,2]`} {
		if _, err := ParseJWKS([]byte(in)); err == nil {
			t.Errorf("%q: got no error", in)
		}
	}
}

func FuzzParseJWKS(f *testing.F) {
	pub := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `","kid":"a"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParseJWKS(data)
		if err == nil && len(keys) == 0 {
			t.Fatal("no error and no keys")
		}
		for _, k := range keys {
			if _, err := newPublicKey(k.Key, k.Alg, k.ID); err != nil {
				t.Fatalf("accepted a key it would refuse: %v", err)
			}
		}
	})
}

func FuzzParsePublicKeys(f *testing.F) {
	pub := ed25519.NewKeyFromSeed(make([]byte, 32)).Public()
	der, _ := x509.MarshalPKIXPublicKey(pub)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Headers: map[string]string{"kid": "k", "alg": "EdDSA"}, Bytes: der}))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParsePublicKeys(data)
		if err == nil && len(keys) == 0 {
			t.Fatal("no error and no keys")
		}
		for _, k := range keys {
			if k.ID == "" || k.Alg == "" {
				t.Fatalf("key without ID or algorithm: %+v", k)
			}
		}
	})
}

// critical signs c with a header naming a critical extension ("crit", RFC 7515 4.1.11).
func critical(t *testing.T, priv ed25519.PrivateKey, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = kid
	tok.Header["crit"] = []string{"x"}
	s, err := tok.SignedString(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
