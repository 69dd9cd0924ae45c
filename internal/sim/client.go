package sim

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
)

// client sends requests to the server's public API.
type client struct {
	base string
	hc   *http.Client
}

// reply is one response, its body read in full (up to maxBody).
type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

const maxBody = 4 << 20

// ok reports a 2xx status.
func (r reply) ok() bool { return r.Status >= 200 && r.Status < 300 }

// retryable reports a status worth sending again: overload, a timeout or a server fault.
func (r reply) retryable() bool {
	return r.Status == http.StatusTooManyRequests || r.Status == http.StatusRequestTimeout || r.Status >= 500
}

// snippet is the start of the body, for logs.
func (r reply) snippet() string {
	const n = 200
	if len(r.Body) > n {
		return string(r.Body[:n]) + "..."
	}
	return string(r.Body)
}

// send does one request. A nil error means a response arrived, whatever its status.
func (c *client) send(ctx context.Context, token, method, path string, body []byte, hdr http.Header) (reply, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// attempts is how many times call sends a request that fails in a retryable way.
const attempts = 4

// call sends a request, retrying network errors, 408, 429 (honouring Retry-After) and 5xx
// with backoff. in, when not nil, is sent as JSON. Every POST carries an Idempotency-Key that
// stays the same across the retries, so a retried POST never acts twice. The error is set
// only when no response arrived (the last network error, or ctx's).
func (c *client) call(ctx context.Context, token, method, path string, in any, hdr http.Header) (reply, error) {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return reply{}, fmt.Errorf("%s %s: encode: %w", method, path, err)
		}
		body = b
	}
	if method == http.MethodPost && hdr.Get("Idempotency-Key") == "" {
		hdr = hdr.Clone()
		if hdr == nil {
			hdr = http.Header{}
		}
		hdr.Set("Idempotency-Key", newKey())
	}
	wait := 200 * time.Millisecond
	var (
		r   reply
		err error
	)
	for i := range attempts {
		r, err = c.send(ctx, token, method, path, body, hdr)
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		if err == nil && !r.retryable() {
			return r, nil
		}
		if i == attempts-1 {
			break
		}
		d := wait + rand.N(wait/2) // #nosec G404 -- the simulator's seeded, reproducible randomness; no secret
		if ra := retryAfter(r); ra > 0 {
			d = ra
		}
		if serr := sleep(ctx, d); serr != nil {
			return r, serr
		}
		wait *= 2
	}
	return r, err
}

// retryAfter reads a 429's or 503's Retry-After in seconds, capped at 10s.
func retryAfter(r reply) time.Duration {
	if r.Header == nil {
		return 0
	}
	v := r.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0
	}
	return min(time.Duration(n)*time.Second, 10*time.Second)
}

// newKey returns a fresh Idempotency-Key: random, so a restarted simulator with the same Seed
// never replays an earlier run's order.
func newKey() string { return "sim-" + crand.Text() }

// tokens mints and caches one bearer token per principal, re-minting an hour before expiry.
type tokens struct {
	keys  *auth.Keys
	now   func() time.Time
	mu    sync.Mutex
	cache map[auth.Principal]token
}

type token struct {
	s   string
	exp time.Time
}

func (t *tokens) get(p auth.Principal) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if tk, ok := t.cache[p]; ok && now.Before(tk.exp.Add(-time.Hour)) {
		return tk.s, nil
	}
	s, err := t.keys.Issue(p, tokenTTL)
	if err != nil {
		return "", fmt.Errorf("issue token for %s %s: %w", p.Role, p.Subject, err)
	}
	t.cache[p] = token{s: s, exp: now.Add(tokenTTL)}
	return s, nil
}

// as calls the API as principal p; see client.call.
func (s *Sim) as(ctx context.Context, p auth.Principal, method, path string, in any, hdr http.Header) (reply, error) {
	tok, err := s.tokens.get(p)
	if err != nil {
		return reply{}, err
	}
	return s.api.call(ctx, tok, method, path, in, hdr)
}

// trouble counts an unexpected outcome of op and logs it at debug: the simulator moves on.
// Nothing is counted once ctx has ended: those failures are the shutdown, not the server.
func (s *Sim) trouble(ctx context.Context, op string, r reply, err error, attrs ...any) {
	if ctx.Err() != nil {
		return
	}
	s.stats.errors.Add(1)
	if err != nil {
		attrs = append(attrs, "err", err)
	} else {
		attrs = append(attrs, "status", r.Status, "body", r.snippet())
	}
	s.log.Debug(op+" failed", attrs...)
}
