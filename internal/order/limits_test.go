package order_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
	"github.com/tiffin-dev/tiffin/internal/order"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// TestQuantityCapCountsEveryLine is failure 5's first half: the per-item cap counts every line
// that names the item, and a refused checkout takes nothing.
func TestQuantityCapCountsEveryLine(t *testing.T) {
	fifty := make([]order.LineInput, order.MaxLines)
	for i := range fifty {
		fifty[i] = line("thali", order.MaxQuantity)
	}
	cases := []struct {
		name  string
		items []order.LineInput
		want  string // field at fault; "" for success
	}{
		{"50 lines of 99", fifty, "body.items[1].quantity"},
		{"50 and 49 of one item", []order.LineInput{line("thali", 50), line("laddu", 1), line("thali", 49)}, ""},
		{"50 and 50 of one item", []order.LineInput{line("thali", 50), line("laddu", 1), line("thali", 50)}, "body.items[2].quantity"},
		{"99 of one item beside others", []order.LineInput{line("thali", 99), line("laddu", 5), line("vada", 5)}, ""},
	}
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		f := newStockFixture(t, d, order.Config{MaxOrderValue: 1 << 40})
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := f.place(context.Background(), customer, fmt.Sprint("cap-", i), c.items...)
				if c.want == "" {
					if err != nil {
						t.Fatalf("got %v, want an order", err)
					}
					return
				}
				var fe *fault.FieldError
				if !errors.As(err, &fe) || fe.Location != c.want {
					t.Fatalf("got %v, want a field error at %s", err, c.want)
				}
			})
		}
	})
}

// TestMaxOrderValue is failure 5's second half: the total, delivery included, is capped, and
// no price or quantity can overflow the arithmetic into an accepted order.
func TestMaxOrderValue(t *testing.T) {
	const maxInt64 = 1<<63 - 1
	cases := []struct {
		name  string
		max   int64 // order.Config.MaxOrderValue; 0 is the default
		price int64 // thali's price
		qty   int
		ok    bool
	}{
		{"default allows a total of exactly 10,000,000", 0, 9_995_000, 1, true},
		{"default refuses one more", 0, 9_995_001, 1, false},
		{"default refuses 99 x 10,000,000", 0, 10_000_000, 99, false},
		{"configured: 3 fit", 50_000, 12_000, 3, true},
		{"configured: 4 do not", 50_000, 12_000, 4, false},
		{"overflowing price", 0, maxInt64, 2, false},
		{"overflowing price with a huge cap", maxInt64, maxInt64 / 2, 3, false},
	}
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				f := newStockFixture(t, d, order.Config{MaxOrderValue: c.max})
				mustExec(t, f.db, context.Background(), `UPDATE menu_items SET price = $1 WHERE id = 'thali'`, c.price)
				o, err := f.place(context.Background(), customer, "k", line("thali", c.qty), line("laddu", 1))
				if c.ok {
					if err != nil {
						t.Fatalf("got %v, want an order", err)
					}
					if want := c.price*int64(c.qty) + 2000 + 3000; o.Total != want {
						t.Errorf("total: got %d, want %d", o.Total, want)
					}
					return
				}
				var fe *fault.FieldError
				if !errors.As(err, &fe) || fe.Location != "body.items" {
					t.Fatalf("got %v, want a field error at body.items", err)
				}
				if got := f.stock(t, "laddu"); got != "10" {
					t.Errorf("laddu after a refused checkout: got %s, want 10", got)
				}
			})
		}
	})
}

// TestCapsAnswerSmallProblems posts both of failure 5's orders over HTTP: each is a 422
// problem naming the field at fault, small, echoing no large value.
func TestCapsAnswerSmallProblems(t *testing.T) {
	t.Parallel()
	f := newStockFixture(t, store.SQLite, order.Config{})
	mustExec(t, f.db, context.Background(), `UPDATE menu_items SET price = 10000000 WHERE id = 'thali'`)
	keys, err := auth.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.New(httpapi.Config{Keys: keys})
	f.svc.Register(srv)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	tok, _ := keys.Issue(customer, time.Hour)
	fifty := strings.Repeat(`{"menu_item_id":"laddu","quantity":99},`, order.MaxLines)
	cases := []struct{ name, items, location string }{
		{"50 lines of 99", fifty[:len(fifty)-1], "body.items[1].quantity"},
		{"over the maximum value", `{"menu_item_id":"thali","quantity":2}`, "body.items"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := `{"restaurant_id":"r-1","items":[` + c.items + `],"delivery":{"lat":12.95,"lng":77.6}}`
			req, _ := http.NewRequest("POST", ts.URL+"/v1/orders", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", fmt.Sprint("caps-", i))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusUnprocessableEntity || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("got %d %s, want 422 problem+json", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			var p struct {
				Errors []struct{ Location string }
			}
			if err := json.Unmarshal(got, &p); err != nil || len(p.Errors) != 1 || p.Errors[0].Location != c.location {
				t.Errorf("problem %s: want one error at %s", got, c.location)
			}
			if len(got) > 512 || strings.Contains(string(got), "4950") || strings.Contains(string(got), "20000000") {
				t.Errorf("problem %s: want a small answer echoing no large value", got)
			}
		})
	}
}
