package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
)

// TestSignerFromPEM loads Ed25519 (PKCS #8) and P-256 (SEC 1, after openssl's EC PARAMETERS)
// signing keys and checks that a Verifier of the public half accepts what they issue, under
// the configured issuer and audience, and refuses it under others. Other keys are refused.
func TestSignerFromPEM(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKCS8PrivateKey(edPriv)
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ecPriv)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKCS8PrivateKey(p384)
	write := func(name string, blocks ...*pem.Block) string {
		var b []byte
		for _, bl := range blocks {
			b = append(b, pem.EncodeToMemory(bl)...)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := map[string]string{
		"ed25519": write("ed.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: edDER}),
		"p256":    write("ec.pem", &pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}}, &pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{"kid": "acct-1"}, Bytes: ecDER}),
	}
	for name, path := range good {
		t.Run(name, func(t *testing.T) {
			s, err := auth.LoadSigner(path, "https://tiffin.example/", "tiffin")
			if err != nil {
				t.Fatal(err)
			}
			if name == "p256" && s.Public().ID != "acct-1" {
				t.Errorf("kid = %q, want acct-1 from the PEM header", s.Public().ID)
			}
			tok, err := s.Issue(auth.Principal{Subject: "op-1", Role: auth.Ops}, 15*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			v, err := auth.NewVerifier(context.Background(), auth.Config{Keys: []auth.PublicKey{s.Public()}, Issuer: "https://tiffin.example/", Audience: "tiffin"})
			if err != nil {
				t.Fatal(err)
			}
			p, err := v.Verify(context.Background(), tok)
			if err != nil || p != (auth.Principal{Subject: "op-1", Role: auth.Ops}) {
				t.Errorf("Verify = %v, %v; want op-1 ops", p, err)
			}
			other, _ := auth.NewVerifier(context.Background(), auth.Config{Keys: []auth.PublicKey{s.Public()}, Issuer: "https://tiffin.example/", Audience: "other"})
			if _, err := other.Verify(context.Background(), tok); err == nil {
				t.Error("a verifier of another audience accepted the token")
			}
		})
	}
	for name, path := range map[string]string{
		"p384":   write("p384.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: p384DER}),
		"public": write("pub.pem", &pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}),
		"empty":  write("empty.pem"),
	} {
		if _, err := auth.LoadSigner(path, "iss", "aud"); err == nil || !strings.Contains(err.Error(), "auth:") {
			t.Errorf("%s: LoadSigner = %v, want an error", name, err)
		}
	}
}
