package order_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
	"github.com/tiffin-dev/tiffin/internal/order"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// FuzzPlaceOrderBody posts arbitrary bodies to POST /v1/orders: the answer is a 201 or a 4xx,
// never a 5xx or a panic.
func FuzzPlaceOrderBody(f *testing.F) {
	f.Add([]byte(`{"restaurant_id":"r-1","items":[{"menu_item_id":"dosa","quantity":1}],"delivery":{"lat":12.95,"lng":77.6}}`))
	f.Add([]byte(`{"restaurant_id":"r-1","items":[{"menu_item_id":"coffee","quantity":99}],"delivery":{"lat":12.95,"lng":77.6}}`))
	f.Add([]byte(`{"restaurant_id":"r-1","items":[],"delivery":{"lat":1e400,"lng":77.6}}`))
	f.Add([]byte(`{"restaurant_id":"","items":[{"menu_item_id":"dosa","quantity":-1}]}`))
	f.Add([]byte(`[`))
	fx := newFixture(f, store.SQLite, orderFakeOK)
	keys, err := auth.LoadOrCreate(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	srv := httpapi.New(httpapi.Config{Keys: keys})
	fx.svc.Register(srv)
	ts := httptest.NewServer(srv.Handler())
	f.Cleanup(ts.Close)
	tok, _ := keys.Issue(auth.Principal{Subject: "cust-1", Role: auth.Customer}, time.Hour)
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, body []byte) {
		req, _ := http.NewRequest("POST", ts.URL+"/v1/orders", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", fmt.Sprintf("fuzz-%d", n.Add(1)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("body %q: got %d", body, resp.StatusCode)
		}
		if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("body %q: %d with content type %q, want problem+json", body, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})
}

// FuzzReasonBody posts arbitrary bodies to the routes that take an optional reason (cancel,
// reject): never a 5xx.
func FuzzReasonBody(f *testing.F) {
	f.Add([]byte(`{"reason":"changed my mind"}`))
	f.Add([]byte(``))
	f.Add([]byte(`{"reason":5}`))
	f.Add([]byte(`{"why":"x"}`))
	fx := newFixture(f, store.SQLite, orderFakeOK)
	o := fx.place(f, "seed")
	keys, err := auth.LoadOrCreate(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	srv := httpapi.New(httpapi.Config{Keys: keys})
	fx.svc.Register(srv)
	ts := httptest.NewServer(srv.Handler())
	f.Cleanup(ts.Close)
	cust, _ := keys.Issue(auth.Principal{Subject: "cust-2", Role: auth.Customer}, time.Hour)
	owner, _ := keys.Issue(auth.Principal{Subject: "owner-1", Role: auth.Restaurant}, time.Hour)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, c := range []struct{ path, token string }{{"/cancel", cust}, {"/reject", owner}} {
			req, _ := http.NewRequest("POST", ts.URL+"/v1/orders/"+o.ID+c.path, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+c.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Fatalf("%s with body %q: got %d", c.path, body, resp.StatusCode)
			}
		}
	})
}

// TestReconciliationBefore: before must be an order ID, as next gives it; anything else is a
// 422 naming query.before that quotes at most the start of what was sent. A well-formed ID
// pages as usual.
func TestReconciliationBefore(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		fx := newFixture(t, d, orderFakeOK)
		o := fx.place(t, "k1")
		keys, err := auth.LoadOrCreate(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		srv := httpapi.New(httpapi.Config{Keys: keys})
		fx.svc.Register(srv)
		ts := httptest.NewServer(srv.Handler())
		t.Cleanup(ts.Close)
		ops, _ := keys.Issue(auth.Principal{Subject: "ops-1", Role: auth.Ops}, time.Hour)
		get := func(before string) (int, []byte) {
			t.Helper()
			req, _ := http.NewRequest("GET", ts.URL+"/v1/ops/payments/reconciliation?before="+url.QueryEscape(before), nil)
			req.Header.Set("Authorization", "Bearer "+ops)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("before=%.40q: %d with content type %q, want problem+json", before, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			return resp.StatusCode, body
		}
		for _, before := range []string{
			"zzz", "2026-01-01", "ord_", "ord_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", strings.ToUpper(o.ID), o.ID + "'--",
			"ord_" + strings.Repeat("0", 60), strings.Repeat("x", 5000),
		} {
			status, body := get(before)
			var p struct {
				Errors []struct {
					Location string `json:"location"`
					Value    any    `json:"value"`
				} `json:"errors"`
			}
			if err := json.Unmarshal(body, &p); err != nil || status != http.StatusUnprocessableEntity ||
				len(p.Errors) != 1 || p.Errors[0].Location != "query.before" {
				t.Errorf("before=%.40q: got %d %.200s, want 422 naming query.before", before, status, body)
				continue
			}
			if v, _ := p.Errors[0].Value.(string); len(v) > 70 || len(body) > 1000 {
				t.Errorf("before=%.40q: the answer quotes %d bytes of it (%d in all), want at most its start", before, len(v), len(body))
			}
		}
		var rep order.Reconciliation
		for before, want := range map[string]int{"": 1, o.ID: 0, "ord_ffffffffffffffffffffffffffffffff": 1, "ord_00000000000000000000000000000000": 0} {
			status, body := get(before)
			if err := json.Unmarshal(body, &rep); err != nil || status != http.StatusOK || rep.Checked != want {
				t.Errorf("before=%q: got %d %s, want 200 checking %d", before, status, body, want)
			}
		}
	})
}
