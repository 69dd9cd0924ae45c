package standardwebhook_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/standardwebhook"
)

// The signing example the specification's reference libraries test against
// (standard-webhooks/standard-webhooks, libraries/go/webhook_test.go, TestWebhookSign).
const (
	exampleSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	exampleID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	exampleUnix      = 1614265330
	exampleBody      = `{"test": 2432232314}`
	exampleSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesTheSpecificationsExample(t *testing.T) {
	s, err := standardwebhook.ParseSecret(exampleSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := standardwebhook.Sign(exampleID, time.Unix(exampleUnix, 0), []byte(exampleBody), s); got != exampleSignature {
		t.Errorf("signature: got %s, want %s", got, exampleSignature)
	}
	if s.String() != exampleSecret {
		t.Errorf("secret text: got %s, want %s", s, exampleSecret)
	}
}

func TestVerify(t *testing.T) {
	s, _ := standardwebhook.ParseSecret(exampleSecret)
	old := standardwebhook.NewSecret()
	at := time.Unix(exampleUnix, 0)
	signed := func() http.Header {
		h := http.Header{}
		standardwebhook.SetHeaders(h, exampleID, at, []byte(exampleBody), old, s) // rotating: both
		return h
	}
	const tol = 5 * time.Minute
	if id, err := standardwebhook.Verify(signed(), []byte(exampleBody), s, at.Add(time.Minute), tol); err != nil || id != exampleID {
		t.Fatalf("valid: got %q, %v", id, err)
	}
	if _, err := standardwebhook.Verify(signed(), []byte(exampleBody), old, at, tol); err != nil {
		t.Errorf("under the previous secret while rotating: %v", err)
	}
	cases := []struct {
		name string
		edit func(h http.Header) (body string, now time.Time)
		want error
	}{
		{"body changed", func(h http.Header) (string, time.Time) { return exampleBody + " ", at }, standardwebhook.ErrSignature},
		{"id changed", func(h http.Header) (string, time.Time) { h.Set("webhook-id", "msg_other"); return exampleBody, at }, standardwebhook.ErrSignature},
		{"too old", func(h http.Header) (string, time.Time) { return exampleBody, at.Add(tol + time.Second) }, standardwebhook.ErrTimestamp},
		{"from the future", func(h http.Header) (string, time.Time) { return exampleBody, at.Add(-tol - time.Second) }, standardwebhook.ErrTimestamp},
		{"timestamp not a number", func(h http.Header) (string, time.Time) { h.Set("webhook-timestamp", "1e9"); return exampleBody, at }, standardwebhook.ErrTimestamp},
		{"no signature", func(h http.Header) (string, time.Time) { h.Del("webhook-signature"); return exampleBody, at }, standardwebhook.ErrMissingHeader},
		{"only another version", func(h http.Header) (string, time.Time) {
			h.Set("webhook-signature", strings.Replace(standardwebhook.Sign(exampleID, at, []byte(exampleBody), s), "v1,", "v2,", 1))
			return exampleBody, at
		}, standardwebhook.ErrSignature},
	}
	for _, c := range cases {
		h := signed()
		body, now := c.edit(h)
		if _, err := standardwebhook.Verify(h, []byte(body), s, now, tol); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func TestParseSecret(t *testing.T) {
	for _, bad := range []string{"whsec_", "whsec_not base64!", "whsec_c2hvcnQ=", "whsec_" + strings.Repeat("QUFB", 30)} {
		if _, err := standardwebhook.ParseSecret(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
	s := standardwebhook.NewSecret()
	back, err := standardwebhook.ParseSecret(s.String())
	if err != nil || string(back) != string(s) {
		t.Errorf("round trip of a new secret: %v", err)
	}
}

// Verify reads headers from outside: whatever they hold, it answers with an error or an ID,
// never a panic, and accepts only what was signed.
func FuzzVerify(f *testing.F) {
	f.Add(exampleID, "1614265330", exampleSignature, exampleBody)
	f.Add("", "", "", "")
	f.Add("a.b", "-1", "v1, v1,,, v2,x", "{")
	f.Add("x", "99999999999999999999", "v1,"+strings.Repeat("A", 100), "")
	s, _ := standardwebhook.ParseSecret(exampleSecret)
	f.Fuzz(func(t *testing.T, id, ts, sig, body string) {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sig)
		got, err := standardwebhook.Verify(h, []byte(body), s, time.Unix(exampleUnix, 0), 5*time.Minute)
		if err == nil && (got != id || !strings.Contains(sig, "v1,")) {
			t.Fatalf("accepted %q %q %q", id, ts, sig)
		}
	})
}
