package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestIssueVerify(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Roles {
		tok, err := k.Issue(Principal{Subject: "s1", Role: r}, time.Hour)
		if err != nil {
			t.Fatalf("issue %s: %v", r, err)
		}
		p, err := k2.Verify(context.Background(), tok)
		if err != nil {
			t.Fatalf("verify with reloaded key: %v", err)
		}
		if p != (Principal{Subject: "s1", Role: r}) {
			t.Errorf("got %+v, want s1/%s", p, r)
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	k, err := LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	good, _ := k.Issue(Principal{Subject: "c", Role: Customer}, time.Hour)
	foreign, _ := NewKeys(other).Issue(Principal{Subject: "c", Role: Customer}, time.Hour)
	expired, _ := k.Issue(Principal{Subject: "c", Role: Customer}, -time.Hour)
	tests := map[string]string{
		"empty":     "",
		"garbage":   "a.b.c",
		"foreign":   foreign,
		"expired":   expired,
		"tampered":  good[:len(good)-2] + "xx",
		"alg none":  "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + strings.Split(good, ".")[1] + ".",
		"truncated": good[:20],
	}
	for name, tok := range tests {
		if _, err := k.Verify(context.Background(), tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: got %v, want ErrInvalidToken", name, err)
		}
	}
	if _, err := k.Issue(Principal{Subject: "x", Role: "admin"}, time.Hour); err == nil {
		t.Error("issue with unknown role: got nil error")
	}
}

func FuzzVerify(f *testing.F) {
	k := NewKeys(ed25519.NewKeyFromSeed(make([]byte, 32)))
	good, _ := k.Issue(Principal{Subject: "c", Role: Customer}, time.Hour)
	f.Add(good)
	f.Add("")
	f.Add("eyJhbGciOiJFZERTQSJ9.e30.")
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := k.Verify(context.Background(), tok)
		if err == nil && (p.Subject == "" || p.Role == "") {
			t.Fatalf("accepted token without subject or role: %+v", p)
		}
	})
}

// TestVerifyRemembersUntilExpiry: a verified token is served from memory, but never past its
// expiry.
func TestVerifyRemembersUntilExpiry(t *testing.T) {
	t.Parallel()
	k := NewKeys(ed25519.NewKeyFromSeed(make([]byte, 32)))
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	k.now = func() time.Time { return now }
	tok, err := k.Issue(Principal{Subject: "c", Role: Customer}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if p, err := k.Verify(context.Background(), tok); err != nil || p.Subject != "c" {
			t.Fatalf("verify: %+v, %v", p, err)
		}
	}
	now = now.Add(2 * time.Minute) // past expiry and the 30s leeway
	if _, err := k.Verify(context.Background(), tok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("expired remembered token: got %v, want ErrInvalidToken", err)
	}
}
