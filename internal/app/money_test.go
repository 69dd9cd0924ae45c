package app_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/app"
	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/payment"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

type reconciliation struct {
	Checked    int `json:"checked"`
	Unsettled  int `json:"unsettled"`
	Mismatches []struct {
		OrderID string `json:"order_id"`
		Problem string `json:"problem"`
	} `json:"mismatches"`
}

// TestMoneyMovesOnce boots the whole app with a slow payment provider and drives orders over
// HTTP down every money path: cancelled while the authorization runs, cancelled by eight
// concurrent requests once paid, rejected, and delivered. The provider is asked exactly once
// for each void and capture, it holds nothing for an order that ended, and the ops
// reconciliation finds no mismatch.
func TestMoneyMovesOnce(t *testing.T) {
	t.Parallel()
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			a := apptest.Start(t, d, func(c *app.Config) { c.PayLatency = 150 * time.Millisecond })
			pay := a.Payments().(*payment.Fake)
			m := seed(t, a, "r-1", "owner-1")
			customer := a.Token(auth.Customer, "cust-1")
			restaurant := a.Token(auth.Restaurant, "owner-1")
			ops := a.Token(auth.Ops, "ops-1")

			const each = 3
			place := func(i int) string {
				r := a.Do("POST", "/v1/orders", customer, orderBody("r-1", m.Items[0].ID, 1), "Idempotency-Key", fmt.Sprintf("k-%d", i))
				if r.Status != http.StatusCreated {
					t.Fatalf("place: got %d %s", r.Status, r.Body)
				}
				var o order
				r.JSON(t, &o)
				return o.ID
			}
			post := func(path, token string, want int) {
				t.Helper()
				if r := a.Do("POST", path, token, nil); r.Status != want {
					t.Fatalf("POST %s: got %d %s, want %d", path, r.Status, r.Body, want)
				}
			}
			var early, cancelled, rejected, delivered []string
			for i := range each {
				id := place(i)
				post("/v1/orders/"+id+"/cancel", customer, http.StatusOK) // while the authorization runs
				early = append(early, id)
			}
			for i := range each {
				id := place(100 + i)
				waitStatus(t, a, customer, id, "paid")
				var wg sync.WaitGroup
				for range 8 {
					wg.Go(func() {
						if r := a.Do("POST", "/v1/orders/"+id+"/cancel", customer, nil); r.Status != http.StatusOK {
							t.Errorf("one of eight concurrent cancels: got %d %s, want 200", r.Status, r.Body)
						}
					})
				}
				wg.Wait()
				cancelled = append(cancelled, id)
			}
			for i := range each {
				id := place(200 + i)
				waitStatus(t, a, customer, id, "paid")
				post("/v1/orders/"+id+"/reject", restaurant, http.StatusOK)
				rejected = append(rejected, id)
			}
			for i := range each {
				id := place(300 + i)
				waitStatus(t, a, customer, id, "paid")
				for _, step := range []string{"accept", "ready"} {
					post("/v1/orders/"+id+"/"+step, restaurant, http.StatusOK)
				}
				for _, step := range []string{"picked-up", "delivered"} {
					post("/v1/orders/"+id+"/"+step, ops, http.StatusOK)
				}
				delivered = append(delivered, id)
			}

			var rep reconciliation
			deadline := time.Now().Add(30 * time.Second)
			for {
				r := a.Do("GET", "/v1/ops/payments/reconciliation", ops, nil)
				if r.Status != http.StatusOK {
					t.Fatalf("reconciliation: got %d %s", r.Status, r.Body)
				}
				r.JSON(t, &rep)
				if rep.Unsettled == 0 || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if rep.Checked != 4*each || rep.Unsettled != 0 || len(rep.Mismatches) != 0 {
				t.Errorf("reconciliation: got %+v, want %d checked, none unsettled, no mismatches", rep, 4*each)
			}
			if r := a.Do("GET", "/v1/ops/payments/reconciliation", customer, nil); r.Status != http.StatusForbidden {
				t.Errorf("reconciliation as a customer: got %d, want 403", r.Status)
			}

			accounts, err := pay.Accounts(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range append(append(early, cancelled...), rejected...) {
				if accounts[id].Holding() {
					t.Errorf("order %s ended but the provider holds %+v", id, accounts[id])
				}
			}
			for _, id := range delivered {
				if acc := accounts[id]; acc.Captured != 12000+3000 {
					t.Errorf("delivered order %s: provider captured %d, want %d", id, acc.Captured, 15000)
				}
			}
			if got, want := pay.Calls(payment.Capture), each; got != want {
				t.Errorf("captures asked: got %d, want %d", got, want)
			}
			// Every authorized order that ended is voided once; an early cancel either beat the
			// authorization (nothing to void) or was voided once it landed.
			if got, want := pay.Calls(payment.Void), pay.Effects(payment.Authorize)-each; got != want {
				t.Errorf("voids asked: got %d, want %d (authorized %d, delivered %d)", got, want, pay.Effects(payment.Authorize), each)
			}
			if got := pay.Calls(payment.Refund); got != 0 {
				t.Errorf("refunds asked: got %d, want 0 (capture happens at delivery)", got)
			}
		})
	}
}

// TestPaymentDeadLettersInTheOneView: a payment call the provider refuses is a dead letter;
// ops find it in GET /v1/ops/dlq beside the bus's, read it, fix its cause and redrive it, and
// the payment settles once.
func TestPaymentDeadLettersInTheOneView(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, store.SQLite, nil)
	pay := a.Payments().(*payment.Fake)
	m := seed(t, a, "r-1", "owner-1")
	customer := a.Token(auth.Customer, "cust-1")
	ops := a.Token(auth.Ops, "ops-1")
	r := a.Do("POST", "/v1/orders", customer, orderBody("r-1", m.Items[0].ID, 1), "Idempotency-Key", "k-1")
	var o order
	r.JSON(t, &o)
	waitStatus(t, a, customer, o.ID, "paid")
	var ref string
	if err := a.DB().QueryRow(`SELECT provider_ref FROM payments WHERE order_id = $1`, o.ID).Scan(&ref); err != nil {
		t.Fatal(err)
	}
	if _, err := a.DB().Write(context.Background(), `UPDATE payments SET provider_ref = 'pi_lost' WHERE order_id = $1`, o.ID); err != nil {
		t.Fatal(err)
	}
	if r := a.Do("POST", "/v1/orders/"+o.ID+"/cancel", customer, nil); r.Status != http.StatusOK {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	id := "payment-" + o.ID
	var page struct {
		Entries []struct{ ID, Source, Reason string } `json:"entries"`
		Total   int                                   `json:"total"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		a.Do("GET", "/v1/ops/dlq", ops, nil).JSON(t, &page)
		if page.Total == 1 && len(page.Entries) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dead letters: got %+v, want the payment's", page)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if e := page.Entries[0]; e.ID != id || e.Source != "payment" || e.Reason == "" {
		t.Errorf("entry: got %+v, want %s from source payment with a reason", e, id)
	}
	if r := a.Do("GET", "/v1/ops/dlq/"+id, ops, nil); r.Status != http.StatusOK {
		t.Errorf("show %s: %d %s", id, r.Status, r.Body)
	}
	if _, err := a.DB().Write(context.Background(), `UPDATE payments SET provider_ref = $1 WHERE order_id = $2`, ref, o.ID); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Redriven  []string `json:"redriven"`
		NotFound  []string `json:"not_found"`
		Remaining int      `json:"remaining"`
	}
	a.Do("POST", "/v1/ops/dlq/redrive", ops, map[string]any{"ids": []string{id, "payment-ord_nope"}}).JSON(t, &res)
	if len(res.Redriven) != 1 || res.Redriven[0] != id || len(res.NotFound) != 1 || res.Remaining != 0 {
		t.Errorf("redrive: got %+v, want %s redriven, the other not found, none remaining", res, id)
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		var st string
		a.DB().QueryRow(`SELECT status FROM payments WHERE order_id = $1`, o.ID).Scan(&st)
		if st == "voided" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("payment after redrive: %s, want voided", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := pay.Effects(payment.Void); got != 1 {
		t.Errorf("voids: got %d, want 1", got)
	}
}
