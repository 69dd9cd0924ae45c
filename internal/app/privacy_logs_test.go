package app_test

import (
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/tiffin-dev/tiffin/internal/app"
	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// jwtLike is three base64url segments, as a bearer token is.
var jwtLike = regexp.MustCompile(`[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`)

// TestNoPersonalDataInLogs boots the whole app logging at debug level into a buffer, carries an
// order from checkout to the door (notifications included), sends forged tokens and invalid
// bodies carrying the customer's details, and finds none of the customer's name, phone,
// e-mail, street address or exact coordinates, and no bearer token, in the logs.
func TestNoPersonalDataInLogs(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	a := apptest.Start(t, store.SQLite, func(c *app.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	j := runJourney(t, a, func(*journey, string) {})
	tokens := []string{j.ops, j.customer, j.restaurant, j.courier}

	// Forged and malformed tokens.
	other := a.Token(auth.Customer, "cust-priv")
	forged := other[:len(other)-4] + "AAAA"
	unsigned := "eyJhbGciOiJub25lIn0.eyJzdWIiOiJjdXN0LXByaXYiLCJyb2xlIjoib3BzIn0.c2lnbmF0dXJlZm9yZ2Vk"
	tokens = append(tokens, other, forged, unsigned)
	for _, tok := range []string{forged, unsigned, "Basic " + privEmail} {
		if r := a.Do("GET", "/v1/orders", tok, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("forged token: got %d, want 401", r.Status)
		}
	}
	// Invalid bodies carrying the customer's details, with a good token.
	bad := []any{
		map[string]any{"name": privName, "email": privEmail + "@@", "phone": privPhone + "x",
			"address": map[string]any{"line1": privStreet, "city": "", "postcode": privPostcode, "country": "INDIA", "lat": privLat, "lng": privLng}},
		`{"name": "` + privName + `", "phone": ` + privPhone + `}`,
	}
	for _, b := range bad {
		if r := a.Do("PUT", "/v1/customers/cust-priv", j.ops, b); r.Status < 400 || r.Status >= 500 {
			t.Errorf("invalid customer body: got %d %s, want 4xx", r.Status, r.Body)
		}
	}
	body := orderBody("r-priv", "nothing-such", 1)
	body["delivery"] = map[string]any{"lat": privLat, "lng": 999}
	body["note"] = privName + " " + privPhone
	if r := a.Do("POST", "/v1/orders", j.customer, body, "Idempotency-Key", "priv-bad"); r.Status < 400 || r.Status >= 500 {
		t.Errorf("invalid order: got %d %s, want 4xx", r.Status, r.Body)
	}
	a.Stop()

	out := logs.String()
	if len(out) < 1000 {
		t.Fatalf("only %d bytes of logs: is the buffer the app's logger?", len(out))
	}
	for _, s := range append(privateValues(), privPostcode) {
		if i := strings.Index(out, s); i >= 0 {
			t.Errorf("the logs carry the customer's %q: ...%s...", s, excerpt(out, i))
		}
	}
	for _, tok := range tokens {
		if i := strings.Index(out, tok); i >= 0 {
			t.Errorf("the logs carry a bearer token: ...%s...", excerpt(out, i))
		}
	}
	if loc := jwtLike.FindStringIndex(out); loc != nil {
		t.Errorf("the logs carry something shaped like a JWT: ...%s...", excerpt(out, loc[0]))
	}
}

func excerpt(s string, i int) string {
	return s[max(0, i-200):min(len(s), i+200)]
}
