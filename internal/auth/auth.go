// Package auth issues and verifies tiffin's bearer tokens (EdDSA JWTs), names the roles, and
// carries the authenticated principal through a request's context.
package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Role is what a principal may do. A restaurant principal acts for the restaurants it owns;
// customers and couriers see only their own objects; ops sees everything.
type Role string

// The roles.
const (
	Customer   Role = "customer"
	Restaurant Role = "restaurant"
	Courier    Role = "courier"
	Ops        Role = "ops"
)

// Roles lists every role.
var Roles = []Role{Customer, Restaurant, Courier, Ops}

// ParseRole validates s as a role name.
func ParseRole(s string) (Role, error) {
	if slices.Contains(Roles, Role(s)) {
		return Role(s), nil
	}
	return "", fmt.Errorf("auth: unknown role %q (want customer, restaurant, courier or ops)", s)
}

// Principal is who is calling: a subject (customer, restaurant owner, courier or operator ID)
// acting in one role.
type Principal struct {
	Subject string
	Role    Role
}

// Is reports whether p acts in one of the roles.
func (p Principal) Is(roles ...Role) bool { return slices.Contains(roles, p.Role) }

// ErrInvalidToken is returned for a token that is malformed, expired, or not ours.
var ErrInvalidToken = errors.New("invalid token")

const (
	issuer   = "tiffin"
	audience = "tiffin-api"
)

// Keys signs and verifies tokens with one Ed25519 key pair.
type Keys struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	now  func() time.Time

	// verified remembers tokens whose signature checked out, until they expire: a client
	// sends the same token with every request, and an Ed25519 verification was a tenth of the
	// CPU time of an order placement.
	mu       sync.Mutex
	verified map[string]verifiedToken
}

type verifiedToken struct {
	p   Principal
	exp time.Time
}

// maxVerified bounds the verified-token memo; it is emptied when full.
const maxVerified = 10000

// NewKeys wraps a key pair.
func NewKeys(priv ed25519.PrivateKey) *Keys {
	return &Keys{priv: priv, pub: priv.Public().(ed25519.PublicKey), now: time.Now, verified: map[string]verifiedToken{}}
}

// KeyFile is the name of the dev signing key inside the data directory.
const KeyFile = "jwt-ed25519.pem"

// LoadOrCreate reads the signing key from dir/KeyFile, creating a new key pair there (mode 0600)
// on first use, so `tiffin dev` and `tiffin token` agree without any setup.
func LoadOrCreate(dir string) (*Keys, error) {
	path := filepath.Join(dir, KeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		_, priv, gerr := ed25519.GenerateKey(rand.Reader)
		if gerr != nil {
			return nil, fmt.Errorf("auth: generate key: %w", gerr)
		}
		der, merr := x509.MarshalPKCS8PrivateKey(priv)
		if merr != nil {
			return nil, fmt.Errorf("auth: encode key: %w", merr)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("auth: create %s: %w", dir, err)
		}
		b = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		f, ferr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(ferr, os.ErrExist) {
			return LoadOrCreate(dir) // another process won the race
		}
		if ferr != nil {
			return nil, fmt.Errorf("auth: write key: %w", ferr)
		}
		if _, err := f.Write(b); err != nil {
			f.Close()
			return nil, fmt.Errorf("auth: write key: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("auth: write key: %w", err)
		}
		return NewKeys(priv), nil
	}
	if err != nil {
		return nil, fmt.Errorf("auth: read key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("auth: %s holds no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("auth: parse key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("auth: %s is not an Ed25519 key", path)
	}
	return NewKeys(priv), nil
}

type claims struct {
	Role string `json:"role"`
	jwt.RegisteredClaims
}

// Issue signs a token for p that expires after ttl.
func (k *Keys) Issue(p Principal, ttl time.Duration) (string, error) {
	if p.Subject == "" {
		return "", errors.New("auth: empty subject")
	}
	if _, err := ParseRole(string(p.Role)); err != nil {
		return "", err
	}
	now := k.now()
	c := claims{
		Role: string(p.Role),
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   p.Subject,
			Audience:  jwt.ClaimStrings{audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SignedString(k.priv)
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	return s, nil
}

// Verify checks a token's signature, issuer, audience and expiry and returns its principal.
func (k *Keys) Verify(token string) (Principal, error) {
	k.mu.Lock()
	v, ok := k.verified[token]
	k.mu.Unlock()
	if ok && k.now().Before(v.exp) {
		return v.p, nil
	}
	p, exp, err := k.verify(token)
	if err != nil {
		return Principal{}, err
	}
	k.mu.Lock()
	if len(k.verified) >= maxVerified {
		clear(k.verified)
	}
	k.verified[token] = verifiedToken{p: p, exp: exp}
	k.mu.Unlock()
	return p, nil
}

func (k *Keys) verify(token string) (Principal, time.Time, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return k.pub, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(issuer), jwt.WithAudience(audience),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(k.now), jwt.WithLeeway(30*time.Second))
	if err != nil {
		return Principal{}, time.Time{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	role, err := ParseRole(c.Role)
	if err != nil || c.Subject == "" {
		return Principal{}, time.Time{}, fmt.Errorf("%w: bad role or subject", ErrInvalidToken)
	}
	return Principal{Subject: c.Subject, Role: role}, c.ExpiresAt.Time, nil
}

type ctxKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal in ctx, if the request was authenticated.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}
