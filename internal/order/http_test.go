package order_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
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
