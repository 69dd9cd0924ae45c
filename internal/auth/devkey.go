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
	"time"
)

// KeyFile is the name of the dev signing key inside the data directory.
const KeyFile = "jwt-ed25519.pem"

// The issuer and audience of the dev key's tokens.
const (
	DevIssuer   = "tiffin"
	DevAudience = "tiffin-api"
)

// ErrNoKey is returned by Load for a data directory without a dev signing key.
var ErrNoKey = errors.New("no dev signing key")

// Keys is the dev key pair (`tiffin dev`, `tiffin token`): it signs tokens and verifies them as
// a Verifier of its public key would, with no lifetime maximum. Production (`tiffin serve`)
// never holds one: it verifies with a Verifier of configured public keys.
type Keys struct {
	signer   *Signer
	pub      PublicKey
	now      func() time.Time
	verifier *Verifier
}

// NewKeys wraps a key pair.
func NewKeys(priv ed25519.PrivateKey) *Keys {
	k := &Keys{now: time.Now}
	k.signer, _ = NewSigner(priv, DevIssuer, DevAudience, func() time.Time { return k.now() }) // an Ed25519 key always suits
	k.pub = k.signer.Public()
	k.verifier = newVerifier(Config{
		Issuer: DevIssuer, Audience: DevAudience, MaxLifetime: -1, Now: func() time.Time { return k.now() },
	}, []PublicKey{k.pub})
	return k
}

// KeyPath is where the dev signing key of data directory dir is kept.
func KeyPath(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return filepath.Join(dir, KeyFile)
}

// Load reads the dev signing key from dir/KeyFile; a directory without one is ErrNoKey.
func Load(dir string) (*Keys, error) {
	path := KeyPath(dir)
	b, err := os.ReadFile(path) // #nosec G304 -- the dev key in the data directory the operator names (--data)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("auth: %w at %s", ErrNoKey, path)
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

// LoadOrCreate reads the dev signing key from dir/KeyFile, creating a new key pair there (mode
// 0600) on first use. Only `tiffin dev` (and `tiffin token --create-key`) create one.
func LoadOrCreate(dir string) (*Keys, error) {
	k, err := Load(dir)
	if !errors.Is(err, ErrNoKey) {
		return k, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("auth: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("auth: encode key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: create %s: %w", dir, err)
	}
	f, err := os.OpenFile(KeyPath(dir), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return Load(dir) // another process won the race
	}
	if err != nil {
		return nil, fmt.Errorf("auth: write key: %w", err)
	}
	if _, err := f.Write(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		f.Close()
		return nil, fmt.Errorf("auth: write key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("auth: write key: %w", err)
	}
	return NewKeys(priv), nil
}

// Public is the key pair's public half, as a Verifier takes it.
func (k *Keys) Public() PublicKey { return k.pub }

// PublicPEM is the key pair's public half as a PEM block naming its key ID, for a server that
// verifies the dev key's tokens with --jwt-public-key (benchmarks and tests run serve so).
func (k *Keys) PublicPEM() []byte {
	der, _ := x509.MarshalPKIXPublicKey(k.pub.Key) // an Ed25519 key always marshals
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Headers: map[string]string{"kid": k.pub.ID}, Bytes: der})
}

// Issue signs a token for p that expires after ttl, naming the key by its ID.
func (k *Keys) Issue(p Principal, ttl time.Duration) (string, error) {
	return k.signer.Issue(p, ttl)
}

// Signer is the key pair's signer: dev's local accounts sign their access tokens with it.
func (k *Keys) Signer() *Signer { return k.signer }

// Verify checks a token signed with the key pair (see Verifier.Verify).
func (k *Keys) Verify(ctx context.Context, token string) (Principal, error) {
	return k.verifier.Verify(ctx, token)
}
