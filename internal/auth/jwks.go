package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"golang.org/x/time/rate"
)

// JWKS defaults.
const (
	// DefaultJWKSRefresh is how often a JWKS is fetched again.
	DefaultJWKSRefresh = 15 * time.Minute
	// DefaultJWKSTimeout bounds one fetch.
	DefaultJWKSTimeout = 5 * time.Second
	// DefaultJWKSUnknownKID is the least time between two fetches for tokens naming a key ID
	// the set does not have (a key the identity provider just rotated in).
	DefaultJWKSUnknownKID = 30 * time.Second
	// maxJWKSBytes bounds a JWKS document.
	maxJWKSBytes = 1 << 20
	// retryFailedFetch is how soon a failed periodic fetch is tried again.
	retryFailedFetch = 10 * time.Second
)

// jwks is an identity provider's JSON Web Key Set, fetched from its URL, kept in memory, fetched
// again periodically (Run) and when a token names a key ID it does not have, at most once per
// unknownKID interval.
type jwks struct {
	url     string
	client  *http.Client
	timeout time.Duration // bounds each fetch
	refresh time.Duration
	logger  *slog.Logger

	keys       atomic.Pointer[[]PublicKey]
	fetchMu    sync.Mutex // one fetch at a time
	unknownKID *rate.Limiter
}

func newJWKS(rawURL string, cfg Config) (*jwks, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("auth: --jwks-url %q: want an http(s) URL", rawURL)
	}
	j := &jwks{
		url: rawURL, client: cfg.HTTPClient, timeout: cfg.JWKSTimeout, refresh: cfg.JWKSRefresh, logger: cfg.Logger,
		unknownKID: rate.NewLimiter(rate.Every(cfg.JWKSUnknownKID), 1),
	}
	if j.client == nil {
		j.client = &http.Client{}
	}
	j.keys.Store(&[]PublicKey{})
	return j, nil
}

// lookup returns the keys named kid (every key when kid is ""). A kid the set lacks has the set
// fetched again, unless a fetch for an unknown kid was made within the limiter's interval.
func (j *jwks) lookup(ctx context.Context, kid string) []PublicKey {
	if ks := pick(*j.keys.Load(), kid); len(ks) > 0 || kid == "" {
		return ks
	}
	if !j.unknownKID.Allow() {
		return nil
	}
	if err := j.fetch(ctx); err != nil {
		j.logger.Warn("jwks: fetch for an unknown key ID failed", "url", j.url, "kid", kid, "err", err)
		return nil
	}
	return pick(*j.keys.Load(), kid)
}

// pick returns the keys named kid, or all of them when kid is "".
func pick(keys []PublicKey, kid string) []PublicKey {
	if kid == "" {
		return keys
	}
	var out []PublicKey
	for _, k := range keys {
		if k.ID == kid {
			out = append(out, k)
		}
	}
	return out
}

// fetch reads the set from its URL, within the timeout, and replaces the keys held. On failure
// the keys held stay.
func (j *jwks) fetch(ctx context.Context) error {
	j.fetchMu.Lock()
	defer j.fetchMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, j.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := j.client.Do(req)
	if err != nil {
		return fmt.Errorf("jwks: fetch %s: %w", j.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("jwks: fetch %s: status %d", j.url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return fmt.Errorf("jwks: read %s: %w", j.url, err)
	}
	if len(body) > maxJWKSBytes {
		return fmt.Errorf("jwks: %s is larger than %d bytes", j.url, maxJWKSBytes)
	}
	keys, err := ParseJWKS(body)
	if err != nil {
		return fmt.Errorf("jwks: %s: %w", j.url, err)
	}
	j.keys.Store(&keys)
	return nil
}

// Run fetches the set every refresh interval (sooner again after a failure) until ctx ends.
func (j *jwks) Run(ctx context.Context) error {
	wait := j.refresh
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		if err := j.fetch(ctx); err != nil && ctx.Err() == nil {
			j.logger.Warn("jwks: refresh failed; the keys held stay in use", "url", j.url, "err", err)
			wait = min(retryFailedFetch, j.refresh)
			continue
		}
		wait = j.refresh
	}
}

// ParseJWKS decodes a JSON Web Key Set (RFC 7517) into the signing keys it holds. Keys for
// encryption ("use": "enc"), symmetric keys, private keys and key types tiffin does not verify
// with are left out; a set with no usable signing key is an error. Each key's algorithm is its
// "alg", or its type's own (see ParsePublicKeys).
func ParseJWKS(data []byte) ([]PublicKey, error) {
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	var keys []PublicKey
	var skipped []error
	for i, m := range set.Keys {
		if m.USE != "" && m.USE != jwkset.UseSig {
			continue
		}
		if m.D != "" || m.K != "" {
			skipped = append(skipped, fmt.Errorf("key %d holds private or symmetric key material", i))
			continue
		}
		jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %d: %w", i, err))
			continue
		}
		k, err := newPublicKey(jwk.Key(), string(m.ALG), m.KID)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %d (kid %q): %w", i, m.KID, err))
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.Join(append([]error{errors.New("no usable signing key in the set")}, skipped...)...)
	}
	return keys, nil
}
