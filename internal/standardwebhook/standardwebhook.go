// Package standardwebhook signs and verifies webhooks as the Standard Webhooks specification
// (https://www.standardwebhooks.com, version 1.0.0) says: the sender signs
// "{webhook-id}.{webhook-timestamp}.{body}" with HMAC-SHA256 under a secret shared with the
// receiver and sends three headers, webhook-id (the event's ID, the same on every retry: the
// receiver's idempotency key), webhook-timestamp (the attempt's Unix time in seconds) and
// webhook-signature ("v1,<base64>", space-separated when a secret is being rotated and the
// body is signed under the old and the new one). Secrets are shown to people as "whsec_"
// followed by their base64.
//
// Verify is what tiffin's own tests and the fake carrier's webhook receiver use; a receiver
// of tiffin's webhooks can use any implementation of the specification.
package standardwebhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// secretPrefix starts a secret's text form.
const secretPrefix = "whsec_"

// Secret is a signing secret: 24 to 64 random bytes (the specification's bounds).
type Secret []byte

// NewSecret returns a fresh 32-byte secret.
func NewSecret() Secret {
	s := make(Secret, 32)
	rand.Read(s) // never fails (crypto/rand)
	return s
}

// ParseSecret reads a secret's text form, "whsec_<base64>" (the prefix may be left out).
func ParseSecret(text string) (Secret, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(text, secretPrefix))
	if err != nil {
		return nil, fmt.Errorf("standardwebhook: secret is not base64: %w", err)
	}
	if len(b) < 24 || len(b) > 64 {
		return nil, fmt.Errorf("standardwebhook: secret has %d bytes, want 24 to 64", len(b))
	}
	return b, nil
}

// String is the secret's text form, "whsec_<base64>".
func (s Secret) String() string { return secretPrefix + base64.StdEncoding.EncodeToString(s) }

// Sign returns the webhook-signature value of body sent as message id at t, signed under
// every secret given (the current one and, while rotating, the previous ones).
func Sign(id string, t time.Time, body []byte, secrets ...Secret) string {
	sigs := make([]string, len(secrets))
	for i, s := range secrets {
		sigs[i] = "v1," + base64.StdEncoding.EncodeToString(mac(s, id, t.Unix(), body))
	}
	return strings.Join(sigs, " ")
}

// SetHeaders sets the three headers of body sent as message id at t on h.
func SetHeaders(h http.Header, id string, t time.Time, body []byte, secrets ...Secret) {
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(t.Unix(), 10))
	h.Set(HeaderSignature, Sign(id, t, body, secrets...))
}

func mac(s Secret, id string, unix int64, body []byte) []byte {
	m := hmac.New(sha256.New, s)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(nil, unix, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Errors of Verify.
var (
	ErrMissingHeader = errors.New("standardwebhook: missing webhook-id, webhook-timestamp or webhook-signature")
	ErrTimestamp     = errors.New("standardwebhook: webhook-timestamp is not a Unix time within the tolerance")
	ErrSignature     = errors.New("standardwebhook: no signature matches")
)

// Verify checks the headers h of body received at now: the timestamp within tolerance of now
// (either way: a replayed old message, or one from a skewed clock), and at least one "v1"
// signature made under secret (compared in constant time). Signatures of other versions are
// skipped, as the specification asks. It returns the message ID on success.
func Verify(h http.Header, body []byte, secret Secret, now time.Time, tolerance time.Duration) (id string, err error) {
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return "", ErrMissingHeader
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || unix < 0 {
		return "", ErrTimestamp
	}
	if d := now.Sub(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
		return "", ErrTimestamp
	}
	want := mac(secret, id, unix, body)
	for _, sig := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return id, nil
		}
	}
	return "", ErrSignature
}
