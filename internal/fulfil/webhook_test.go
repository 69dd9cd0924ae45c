package fulfil_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/fulfil"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
	"github.com/tiffin-dev/tiffin/internal/jobs"
	"github.com/tiffin-dev/tiffin/internal/standardwebhook"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// webhookServer serves the fulfil routes over a SQLite store holding one requested shipment,
// "shp_1", and returns the server, the secret the carrier signs with, and the store.
func webhookServer(tb testing.TB) (*httptest.Server, standardwebhook.Secret, *store.DB) {
	tb.Helper()
	db := tiffintest.NewStoreOn(tb, store.SQLite)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `INSERT INTO shipments (id, order_id, carrier, state, created_at, updated_at) VALUES ('shp_1', 'ord_1', 'carrier', 'requested', 0, 0)`); err != nil {
		tb.Fatal(err)
	}
	secret := standardwebhook.NewSecret()
	keys, err := auth.LoadOrCreate(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	srv := httpapi.New(httpapi.Config{Keys: keys})
	svc := fulfil.New(db, nil, jobs.New(db, jobs.Config{}), nil, fulfil.Config{WebhookSecret: secret})
	svc.Register(srv)
	hs := httptest.NewServer(srv.Handler())
	tb.Cleanup(hs.Close)
	return hs, secret, db
}

func postWebhook(tb testing.TB, url string, secret standardwebhook.Secret, id string, body []byte) int {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/carriers/carrier/webhooks", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secret != nil {
		standardwebhook.SetHeaders(req.Header, id, time.Now(), body, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestCarrierWebhook: a signed status webhook moves the shipment forward; a duplicate, an older
// update, one for a reference not ours, an unsigned one and a forged one change nothing.
func TestCarrierWebhook(t *testing.T) {
	t.Parallel()
	hs, secret, db := webhookServer(t)
	ctx := context.Background()
	booking := func(status string) []byte {
		return fmt.Appendf(nil, `{"type":"booking.status","data":{"id":"bk_9","reference":"shp_1","status":%q}}`, status)
	}
	state := func() fulfil.State {
		s, err := fulfil.Get(ctx, db, "shp_1")
		if err != nil {
			t.Fatal(err)
		}
		return s.State
	}
	for _, c := range []struct {
		name   string
		secret standardwebhook.Secret
		body   []byte
		code   int
		want   fulfil.State
	}{
		{"unsigned", nil, booking("picked_up"), http.StatusUnauthorized, fulfil.Requested},
		{"forged", standardwebhook.NewSecret(), booking("picked_up"), http.StatusUnauthorized, fulfil.Requested},
		{"no booking", secret, []byte(`{"type":"booking.status"}`), http.StatusUnprocessableEntity, fulfil.Requested},
		{"not JSON", secret, []byte(`<html>`), http.StatusUnprocessableEntity, fulfil.Requested},
		{"picked up", secret, booking("picked_up"), http.StatusNoContent, fulfil.Shipped},
		{"duplicate", secret, booking("picked_up"), http.StatusNoContent, fulfil.Shipped},
		{"older", secret, booking("booked"), http.StatusNoContent, fulfil.Shipped},
		{"not ours", secret, []byte(`{"type":"booking.status","data":{"id":"bk_1","reference":"shp_other","status":"delivered"}}`), http.StatusNoContent, fulfil.Shipped},
		{"unknown status", secret, booking("teleported"), http.StatusNoContent, fulfil.Shipped},
		{"another booking", secret, []byte(`{"type":"booking.status","data":{"id":"bk_7","reference":"shp_1","status":"delivered"}}`), http.StatusNoContent, fulfil.Shipped},
		{"delivered", secret, booking("delivered"), http.StatusNoContent, fulfil.Delivered},
	} {
		if code := postWebhook(t, hs.URL, c.secret, "evt_"+c.name, c.body); code != c.code {
			t.Errorf("%s: got %d, want %d", c.name, code, c.code)
		}
		if got := state(); got != c.want {
			t.Errorf("%s: shipment %s, want %s", c.name, got, c.want)
		}
	}
	if code := postWebhook(t, hs.URL, secret, "evt_big", bytes.Repeat([]byte("x"), 70<<10)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a 70 KiB body: got %d, want 413", code)
	}
}

// FuzzCarrierWebhook: any signed body gets 204 or 422 and never a 5xx or a panic.
func FuzzCarrierWebhook(f *testing.F) {
	hs, secret, _ := webhookServer(f)
	for _, seed := range []string{
		`{"type":"booking.status","data":{"id":"bk_9","reference":"shp_1","status":"picked_up"}}`,
		`{"data":{"reference":"shp_1","status":"delivered","updated_at":"2026-11-30T00:00:00Z"}}`,
		`{"data":{"reference":"` + string(bytes.Repeat([]byte("a"), 200)) + `"}}`,
		`{"data":null}`, `[]`, `{"data":{"reference":"shp_1","status":"cancelled"}}`, "\x00\xff",
	} {
		f.Add([]byte(seed))
	}
	n := 0
	f.Fuzz(func(t *testing.T, body []byte) {
		n++
		code := postWebhook(t, hs.URL, secret, fmt.Sprint("evt_", n), body)
		if code != http.StatusNoContent && code != http.StatusUnprocessableEntity && code != http.StatusRequestEntityTooLarge {
			t.Fatalf("body %q: got %d", body, code)
		}
	})
}
