package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/payment/stripefake"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// run parses args as the command line and runs the command, as main does.
func runServe(ctx context.Context, t *testing.T, args ...string) error {
	t.Helper()
	var c cli
	p, err := kong.New(&c, options()...)
	if err != nil {
		t.Fatal(err)
	}
	kctx, err := p.Parse(args)
	if err != nil {
		return err
	}
	kctx.BindTo(ctx, (*context.Context)(nil))
	kctx.Bind(&c.Log)
	return kctx.Run()
}

// TestServeRefusesAMissingPaymentProvider: serve running the orders service will not start
// without a payment provider named, nor on Stripe without a key; it says what to pass. It
// refuses before touching the database or the broker (both unreachable here).
func TestServeRefusesAMissingPaymentProvider(t *testing.T) {
	t.Setenv("TIFFIN_STRIPE_KEY", "")
	base := []string{"--db", "postgres://nobody@127.0.0.1:1/x", "--nats", "nats://127.0.0.1:1", "--log-level", "error",
		"--jwt-public-key", newIDPKey(t, "k").pemFile(t), "--jwt-issuer", testIssuer, "--jwt-audience", testAudience}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{append([]string{"serve"}, base...), "serve: no payment provider: pass --pay-provider stripe"},
		{append([]string{"serve", "--pay-provider", "stripe"}, base...), "serve: --pay-provider stripe needs a secret key: pass --stripe-key or set TIFFIN_STRIPE_KEY"},
		{[]string{"dev", "--pay-provider", "stripe", "--data", t.TempDir()}, "dev: --pay-provider stripe needs a secret key"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := runServe(ctx, t, tc.args...)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("tiffin %s: got %v, want an error saying %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
	if err := runServe(context.Background(), t, "serve", "--pay-provider", "paypal"); err == nil || !strings.Contains(err.Error(), "stripe") {
		t.Errorf("unknown provider: got %v, want the known ones listed", err)
	}
}

// startNATS runs a NATS server with JetStream on a free loopback port, as `serve` expects one.
func startNATS(t *testing.T) string {
	t.Helper()
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(ns.Shutdown)
	return ns.ClientURL()
}

// TestServeWithStripe runs `tiffin serve --pay-provider stripe` against PostgreSQL, a NATS
// server and a fake Stripe server, and takes one order from placement to a cancellation: the
// order is paid by a Stripe authorization and the cancel voids it at Stripe, once.
func TestServeWithStripe(t *testing.T) {
	t.Parallel()
	dsn := tiffintest.DSN(t, store.Postgres)
	natsURL := startNATS(t)
	fake := stripefake.New(stripefake.Config{})
	hs := httptest.NewServer(fake)
	t.Cleanup(func() { fake.Close(); hs.Close() })
	// The tokens' issuer: serve verifies them with its public half.
	keys, err := auth.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(t.TempDir(), "issuer.pem")
	if err := os.WriteFile(pub, keys.PublicPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	base := startCommand(t, "serve", "--data", t.TempDir(), "--db", dsn, "--nats", natsURL,
		"--jwt-public-key", pub, "--jwt-issuer", auth.DevIssuer, "--jwt-audience", auth.DevAudience,
		"--pay-provider", "stripe", "--stripe-key", fake.Key(), "--stripe-url", hs.URL, "--log-level", "error")

	token := func(role auth.Role, subject string) string {
		tok, err := keys.Issue(auth.Principal{Subject: subject, Role: role}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	ops, owner, customer := token(auth.Ops, "ops-1"), token(auth.Restaurant, "owner-1"), token(auth.Customer, "cust-1")
	// send makes one request and checks its status (want 0: any 2xx).
	send := func(method, path, tok string, body any, want int) []byte {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Idempotency-Key", "serve-stripe-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want && (want != 0 || resp.StatusCode/100 != 2) {
			t.Fatalf("%s %s: got %d %s, want %d", method, path, resp.StatusCode, out, want)
		}
		return out
	}
	send("PUT", "/v1/restaurants/r-1", ops, map[string]any{
		"owner_id": "owner-1", "name": "Dosa Corner", "lat": 12.9716, "lng": 77.5946, "prep_minutes": 10,
	}, 0)
	send("PUT", "/v1/restaurants/r-1/menu", owner, map[string]any{"items": []map[string]any{
		{"id": "dosa", "name": "Masala dosa", "price": 12000},
	}}, http.StatusOK)
	var placed struct {
		ID    string `json:"id"`
		Total int64  `json:"total"`
	}
	json.Unmarshal(send("POST", "/v1/orders", customer, map[string]any{
		"restaurant_id": "r-1", "items": []map[string]any{{"menu_item_id": "dosa", "quantity": 1}},
		"delivery": map[string]any{"lat": 12.9352, "lng": 77.6245},
	}, http.StatusCreated), &placed)

	waitFor(t, "the order paid", func() bool { return orderStatus(t, base, customer, placed.ID) == "paid" })
	pis := fake.Intents()
	if len(pis) != 1 || pis[0].Status != "requires_capture" || pis[0].Amount != placed.Total ||
		pis[0].Currency != "inr" || pis[0].Metadata["tiffin_order"] != placed.ID {
		t.Fatalf("payment intents at Stripe once paid: got %+v, want one held for %d inr of %s", pis, placed.Total, placed.ID)
	}
	send("POST", "/v1/orders/"+placed.ID+"/cancel", customer, nil, http.StatusOK)
	waitFor(t, "the hold voided at Stripe", func() bool { return fake.Intents()[0].Status == "canceled" })
	if got := orderStatus(t, base, customer, placed.ID); got != "cancelled" {
		t.Errorf("order: got %s, want cancelled", got)
	}
	if a, v := fake.Effects(stripefake.Authorized), fake.Effects(stripefake.Canceled); a != 1 || v != 1 {
		t.Errorf("at Stripe: %d authorizations and %d voids, want 1 and 1", a, v)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
