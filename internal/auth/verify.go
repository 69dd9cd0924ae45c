package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultMaxLifetime is Config.MaxLifetime's default: no token living longer is accepted.
const DefaultMaxLifetime = 24 * time.Hour

// leeway is the clock skew allowed on exp, nbf and iat.
const leeway = 30 * time.Second

// algorithms are the JWS algorithms a key may verify: asymmetric ones only, so neither "none"
// nor an HMAC keyed with a public key's bytes is ever accepted.
var algorithms = []string{"EdDSA", "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}

// Config says how a Verifier checks tokens. Issuer, Audience and at least one key (Keys,
// PublicKeyFiles or JWKSURL) are required.
type Config struct {
	// Keys are keys tokens may be signed with, given directly.
	Keys []PublicKey
	// PublicKeyFiles are PEM files holding keys tokens may be signed with (ParsePublicKeys).
	PublicKeyFiles []string
	// JWKSURL is an identity provider's JSON Web Key Set, fetched at New, every JWKSRefresh
	// (default DefaultJWKSRefresh) and when a token names a key ID the set lacks (at most once
	// per JWKSUnknownKID, default DefaultJWKSUnknownKID), each fetch within JWKSTimeout (default
	// DefaultJWKSTimeout) through HTTPClient (default: a new http.Client).
	JWKSURL                                  string
	JWKSRefresh, JWKSTimeout, JWKSUnknownKID time.Duration
	HTTPClient                               *http.Client
	// Issuer must equal a token's iss; Audience must be one of its aud.
	Issuer, Audience string
	// MaxLifetime refuses a token meant to live longer: exp - iat, or exp - now for a token
	// without iat. Default DefaultMaxLifetime; negative: no maximum (the dev key's tokens).
	MaxLifetime time.Duration
	// Logger receives JWKS fetch failures. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Verifier checks bearer tokens against configured public keys: the signature with the key
// the token's kid names (every key, when it names none) under that key's one algorithm, iss,
// aud, exp (required), nbf, iat and the token's lifetime. It holds no signing key.
type Verifier struct {
	static      []PublicKey
	jwks        *jwks // nil without a JWKS URL
	issuer      string
	audience    string
	maxLifetime time.Duration
	now         func() time.Time
	parser      *jwt.Parser

	// verified remembers tokens whose signature checked out, for at most memoFor and never
	// past their expiry: a client sends the same token with every request, and a signature
	// check was a tenth of the CPU time of an order placement.
	mu       sync.Mutex
	verified map[string]verifiedToken
}

type verifiedToken struct {
	p     Principal
	until time.Time
}

// maxVerified bounds the verified-token memo; it is emptied when full.
const maxVerified = 10000

// memoFor bounds how long a verified token is remembered, so a key the identity provider
// withdraws stops working within it.
const memoFor = time.Minute

// NewVerifier builds a Verifier from cfg, reading its key files and fetching its JWKS (a
// failed first fetch is logged; the set is fetched again when a token needs it). Run keeps a
// JWKS fresh.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("auth: a token issuer and audience are required (--jwt-issuer, --jwt-audience)")
	}
	if len(cfg.Keys) == 0 && len(cfg.PublicKeyFiles) == 0 && cfg.JWKSURL == "" {
		return nil, errors.New("auth: no key to verify tokens with: give a PEM public key (--jwt-public-key FILE) or a JWKS URL (--jwks-url URL)")
	}
	if cfg.MaxLifetime == 0 {
		cfg.MaxLifetime = DefaultMaxLifetime
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.JWKSRefresh <= 0 {
		cfg.JWKSRefresh = DefaultJWKSRefresh
	}
	if cfg.JWKSTimeout <= 0 {
		cfg.JWKSTimeout = DefaultJWKSTimeout
	}
	if cfg.JWKSUnknownKID <= 0 {
		cfg.JWKSUnknownKID = DefaultJWKSUnknownKID
	}
	files, err := LoadPublicKeys(cfg.PublicKeyFiles...)
	if err != nil {
		return nil, err
	}
	v := newVerifier(cfg, slices.Concat(cfg.Keys, files))
	if cfg.JWKSURL != "" {
		if v.jwks, err = newJWKS(cfg.JWKSURL, cfg); err != nil {
			return nil, err
		}
		if err := v.jwks.fetch(ctx); err != nil {
			cfg.Logger.Warn("jwks: first fetch failed: tokens are refused until a fetch succeeds", "url", cfg.JWKSURL, "err", err)
		}
	}
	return v, nil
}

// newVerifier is a Verifier of the keys static; cfg's defaults are already applied, and the
// caller sets the JWKS, if any.
func newVerifier(cfg Config, static []PublicKey) *Verifier {
	v := &Verifier{
		static: static, issuer: cfg.Issuer, audience: cfg.Audience, maxLifetime: cfg.MaxLifetime, now: cfg.Now,
		verified: map[string]verifiedToken{},
	}
	v.parser = jwt.NewParser(jwt.WithValidMethods(algorithms), jwt.WithIssuer(v.issuer), jwt.WithAudience(v.audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(v.now), jwt.WithLeeway(leeway))
	return v
}

// Run keeps the JWKS fresh until ctx ends; without one it returns at once.
func (v *Verifier) Run(ctx context.Context) error {
	if v.jwks == nil {
		return nil
	}
	return v.jwks.Run(ctx)
}

type claims struct {
	Role string `json:"role"`
	jwt.RegisteredClaims
}

// Verify checks token and returns its principal. Every refusal wraps ErrInvalidToken.
func (v *Verifier) Verify(ctx context.Context, token string) (Principal, error) {
	now := v.now()
	v.mu.Lock()
	m, ok := v.verified[token]
	v.mu.Unlock()
	if ok && now.Before(m.until) {
		return m.p, nil
	}
	p, exp, err := v.verify(ctx, token, now)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	v.mu.Lock()
	if len(v.verified) >= maxVerified {
		clear(v.verified)
	}
	until := now.Add(memoFor)
	if exp.Before(until) {
		until = exp
	}
	v.verified[token] = verifiedToken{p: p, until: until}
	v.mu.Unlock()
	return p, nil
}

func (v *Verifier) verify(ctx context.Context, token string, now time.Time) (Principal, time.Time, error) {
	var c claims
	_, err := v.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		if _, ok := t.Header["crit"]; ok {
			// RFC 7515 4.1.11: extensions named critical must be understood; tiffin knows none.
			return nil, errors.New("critical header extensions are not supported")
		}
		kid, ok := t.Header["kid"].(string)
		if !ok && t.Header["kid"] != nil {
			return nil, errors.New("kid is not a string")
		}
		alg := t.Method.Alg()
		var keys []jwt.VerificationKey
		for _, k := range v.lookup(ctx, kid) {
			if k.Alg == alg {
				keys = append(keys, k.Key)
			}
		}
		if len(keys) == 0 {
			return nil, fmt.Errorf("no key with kid %q for %s", clip(kid), alg)
		}
		return jwt.VerificationKeySet{Keys: keys}, nil
	})
	if err != nil {
		return Principal{}, time.Time{}, err
	}
	if err := numericDates(token); err != nil {
		return Principal{}, time.Time{}, err
	}
	exp := c.ExpiresAt.Time
	if v.maxLifetime > 0 {
		if c.IssuedAt != nil && exp.Sub(c.IssuedAt.Time) > v.maxLifetime {
			return Principal{}, time.Time{}, fmt.Errorf("lifetime %v is longer than the %v allowed", exp.Sub(c.IssuedAt.Time), v.maxLifetime)
		}
		if exp.Sub(now) > v.maxLifetime+leeway {
			return Principal{}, time.Time{}, fmt.Errorf("expires in %v, later than the %v allowed", exp.Sub(now).Round(time.Second), v.maxLifetime)
		}
	}
	role, err := ParseRole(c.Role)
	if err != nil || !SubjectPattern.MatchString(c.Subject) {
		return Principal{}, time.Time{}, errors.New("bad role or subject")
	}
	return Principal{Subject: c.Subject, Role: role}, exp, nil
}

// SubjectPattern is the one rule a token's subject follows, whoever signed it: the IDs tiffin
// stores (customers, restaurant owners, couriers, operators) are 1-64 of A-Z a-z 0-9 _ . : -,
// so a subject that could not be stored, logged or shown safely never gets past the edge.
var SubjectPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

// lookup returns the keys kid names (every key when kid is ""): the configured ones first,
// then the JWKS's, fetched again for a kid neither has.
func (v *Verifier) lookup(ctx context.Context, kid string) []PublicKey {
	keys := pick(v.static, kid)
	if v.jwks != nil && (kid == "" || len(keys) == 0) {
		return slices.Concat(keys, v.jwks.lookup(ctx, kid))
	}
	return keys
}

// clip shortens what a token claims before it goes into an error.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// numericDates checks that the token's exp, iat and nbf are JSON numbers, as RFC 7519 4.1.4
// has them: the JWT library also takes a string holding a number ("exp": "1796000000").
// token has passed the signature check, so its payload is well-formed base64url JSON.
func numericDates(token string) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errors.New("not a signed JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	for _, name := range []string{"exp", "iat", "nbf"} {
		if v, ok := fields[name]; ok && (len(v) == 0 || v[0] == '"') {
			return fmt.Errorf("%s is not a number", name)
		}
	}
	return nil
}
