package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
)

// PublicKey is one key tokens are verified with: the key, the one algorithm tokens signed with
// it must name (never "none", never an HMAC), and its key ID.
type PublicKey struct {
	// ID is the key ID ("kid") tokens signed with it may name.
	ID string
	// Alg is the JWS algorithm the key verifies: EdDSA, ES256, ES384, ES512, RS256, RS384,
	// RS512, PS256, PS384 or PS512.
	Alg string
	// Key is an ed25519.PublicKey, *ecdsa.PublicKey or *rsa.PublicKey.
	Key any
}

// minRSABits is the smallest RSA modulus accepted.
const minRSABits = 2048

// newPublicKey checks key and names its algorithm: alg when given (it must suit the key),
// else the key type's own (EdDSA for Ed25519, ES256/ES384/ES512 by curve, RS256 for RSA).
func newPublicKey(key any, alg, kid string) (PublicKey, error) {
	var family []string
	switch k := key.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return PublicKey{}, errors.New("Ed25519 key of the wrong size")
		}
		family = []string{"EdDSA"}
	case *ecdsa.PublicKey:
		if k.Curve == nil || k.X == nil || k.Y == nil {
			return PublicKey{}, errors.New("incomplete ECDSA key")
		}
		switch k.Curve {
		case elliptic.P256():
			family = []string{"ES256"}
		case elliptic.P384():
			family = []string{"ES384"}
		case elliptic.P521():
			family = []string{"ES512"}
		default:
			return PublicKey{}, fmt.Errorf("ECDSA curve %s is not supported (P-256, P-384, P-521)", k.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		if k.N == nil || k.N.BitLen() < minRSABits {
			return PublicKey{}, fmt.Errorf("RSA key shorter than %d bits", minRSABits)
		}
		family = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	default:
		return PublicKey{}, fmt.Errorf("key of type %T is not an Ed25519, ECDSA or RSA public key", key)
	}
	if alg == "" {
		alg = family[0]
	}
	for _, a := range family {
		if a == alg {
			if kid == "" {
				kid = thumbprint(key)
			}
			return PublicKey{ID: kid, Alg: alg, Key: key}, nil
		}
	}
	return PublicKey{}, fmt.Errorf("algorithm %q does not suit this key (want one of %s)", alg, strings.Join(family, ", "))
}

// thumbprint is the key's RFC 7638 JWK thumbprint (SHA-256, base64url): the key ID of a key
// that names none. It is "" for a key newPublicKey would refuse.
func thumbprint(key any) string {
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	// The members in lexicographic order, as RFC 7638 requires; encoding/json sorts map keys.
	var m map[string]string
	switch k := key.(type) {
	case ed25519.PublicKey:
		m = map[string]string{"crv": "Ed25519", "kty": "OKP", "x": b64(k)}
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		m = map[string]string{"crv": k.Curve.Params().Name, "kty": "EC", "x": b64(k.X.FillBytes(make([]byte, size))), "y": b64(k.Y.FillBytes(make([]byte, size)))}
	case *rsa.PublicKey:
		m = map[string]string{"e": b64(big.NewInt(int64(k.E)).Bytes()), "kty": "RSA", "n": b64(k.N.Bytes())}
	default:
		return ""
	}
	j, _ := json.Marshal(m)
	sum := sha256.Sum256(j)
	return b64(sum[:])
}

// LoadPublicKeys reads every public key in the PEM files at paths (see ParsePublicKeys).
func LoadPublicKeys(paths ...string) ([]PublicKey, error) {
	var keys []PublicKey
	for _, p := range paths {
		b, err := os.ReadFile(p) // #nosec G304 -- a public key file the operator names (--jwt-public-key)
		if err != nil {
			return nil, fmt.Errorf("auth: read public key: %w", err)
		}
		ks, err := ParsePublicKeys(b)
		if err != nil {
			return nil, fmt.Errorf("auth: %s: %w", p, err)
		}
		keys = append(keys, ks...)
	}
	return keys, nil
}

// maxPEMBlocks bounds the keys one file may hold.
const maxPEMBlocks = 64

// ParsePublicKeys decodes one or more PEM blocks, each a public key ("PUBLIC KEY", PKIX), an
// RSA public key ("RSA PUBLIC KEY", PKCS #1) or a certificate ("CERTIFICATE", its key). A
// block may carry the headers "kid" (the key ID tokens name; default the key's RFC 7638
// thumbprint) and "alg" (default the key type's own: EdDSA, ES256/384/512 by curve, RS256).
// A private key is refused: tiffin verifies, it never signs with an outside key.
func ParsePublicKeys(data []byte) ([]PublicKey, error) {
	var keys []PublicKey
	rest := data
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if n > maxPEMBlocks {
			return nil, fmt.Errorf("more than %d PEM blocks", maxPEMBlocks)
		}
		var key any
		var err error
		switch block.Type {
		case "PUBLIC KEY":
			key, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			key, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				key = cert.PublicKey
			}
		default:
			if strings.Contains(block.Type, "PRIVATE KEY") {
				return nil, fmt.Errorf("PEM block %d is a private key: give the public key (openssl pkey -pubout)", n)
			}
			return nil, fmt.Errorf("PEM block %d is a %q, not a public key or certificate", n, block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		k, err := newPublicKey(key, block.Headers["alg"], block.Headers["kid"])
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM public key found")
	}
	return keys, nil
}
