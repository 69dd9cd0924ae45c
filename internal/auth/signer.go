package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Signer issues tokens with one private key (Ed25519, or ECDSA on P-256) for one issuer and
// audience, naming the key by its ID: the dev key pair's tokens, and local accounts' access
// tokens (package account) under `tiffin serve --accounts-signing-key`. Its public half
// (Public) is what a Verifier checks them with.
type Signer struct {
	key      crypto.Signer
	method   jwt.SigningMethod
	pub      PublicKey
	issuer   string
	audience string
	now      func() time.Time
}

// NewSigner wraps key (an ed25519.PrivateKey or a P-256 *ecdsa.PrivateKey) to sign tokens
// carrying issuer and audience; now is the clock (default time.Now).
func NewSigner(key crypto.Signer, issuer, audience string, now func() time.Time) (*Signer, error) {
	if issuer == "" || audience == "" {
		return nil, errors.New("auth: a signer needs an issuer and an audience")
	}
	if now == nil {
		now = time.Now
	}
	s := &Signer{key: key, issuer: issuer, audience: audience, now: now}
	switch k := key.(type) {
	case ed25519.PrivateKey:
		s.method = jwt.SigningMethodEdDSA
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("auth: an ECDSA signing key must be on P-256 (ES256)")
		}
		s.method = jwt.SigningMethodES256
	default:
		return nil, fmt.Errorf("auth: a signing key must be Ed25519 or ECDSA P-256, not %T", key)
	}
	pub, err := newPublicKey(key.Public(), s.method.Alg(), "")
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	s.pub = pub
	return s, nil
}

// LoadSigner reads a private key from the PEM file at path ("PRIVATE KEY", PKCS #8, or "EC
// PRIVATE KEY", SEC 1, as `openssl genpkey -algorithm ed25519` and `openssl ecparam -genkey
// -name prime256v1` write them) and returns a Signer of it for issuer and audience. A "kid"
// header on the block names the key; by default its ID is its RFC 7638 thumbprint.
func LoadSigner(path, issuer, audience string) (*Signer, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the operator names the key file (--accounts-signing-key)
	if err != nil {
		return nil, fmt.Errorf("auth: read signing key: %w", err)
	}
	var block *pem.Block
	for rest := b; ; {
		block, rest = pem.Decode(rest)
		if block == nil || block.Type != "EC PARAMETERS" { // openssl ecparam writes these first
			break
		}
	}
	if block == nil {
		return nil, fmt.Errorf("auth: %s holds no PEM private key", path)
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("auth: %s: PEM block %q is not a private key (want PRIVATE KEY or EC PRIVATE KEY)", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: parse signing key %s: %w", path, err)
	}
	cs, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("auth: %s: %T is not a signing key", path, key)
	}
	s, err := NewSigner(cs, issuer, audience, nil)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	if kid := block.Headers["kid"]; kid != "" {
		s.pub.ID = kid
	}
	return s, nil
}

// Public is the key's public half, with its algorithm and ID, as a Verifier takes it.
func (s *Signer) Public() PublicKey { return s.pub }

// Issue signs a token for p that expires after ttl, naming the key by its ID.
func (s *Signer) Issue(p Principal, ttl time.Duration) (string, error) {
	if p.Subject == "" {
		return "", errors.New("auth: empty subject")
	}
	if _, err := ParseRole(string(p.Role)); err != nil {
		return "", err
	}
	now := s.now()
	c := claims{
		Role: string(p.Role),
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.issuer,
			Subject:   p.Subject,
			Audience:  jwt.ClaimStrings{s.audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	t := jwt.NewWithClaims(s.method, c)
	t.Header["kid"] = s.pub.ID
	tok, err := t.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	return tok, nil
}
