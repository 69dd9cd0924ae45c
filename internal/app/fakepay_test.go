package app_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/app"
	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/payment"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// settled polls the ops reconciliation until no payment is left unsettled, and returns it.
func settled(t *testing.T, a *apptest.App) reconciliation {
	t.Helper()
	ops := a.Token(auth.Ops, "ops-1")
	deadline := time.Now().Add(30 * time.Second)
	for {
		var rep reconciliation
		r := a.Do("GET", "/v1/ops/payments/reconciliation", ops, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("reconciliation: got %d %s", r.Status, r.Body)
		}
		r.JSON(t, &rep)
		if rep.Unsettled == 0 {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("payments still unsettled after 30s: %+v", rep)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// deadLetters is how many dead letters (of any source) the app lists.
func deadLetters(t *testing.T, a *apptest.App) int {
	t.Helper()
	var page struct {
		Total int `json:"total"`
	}
	r := a.Do("GET", "/v1/ops/dlq", a.Token(auth.Ops, "ops-1"), nil)
	if r.Status != http.StatusOK {
		t.Fatalf("dlq: got %d %s", r.Status, r.Body)
	}
	r.JSON(t, &page)
	return page.Total
}

// paymentStatus reads an order's payment status from the store.
func paymentStatus(t *testing.T, a *apptest.App, orderID string) string {
	t.Helper()
	var st string
	if err := a.DB().QueryRow(`SELECT status FROM payments WHERE order_id = $1`, orderID).Scan(&st); err != nil {
		t.Fatalf("payment of %s: %v", orderID, err)
	}
	return st
}

// TestFakePaymentsOutliveARestart is `tiffin dev` stopped and started again on its data
// directory (and a `serve` restarted on its PostgreSQL): orders paid by the fake provider
// before the restart are captured, voided on a cancel and voided on a restaurant timeout after
// it, each once, with no dead letter, and the reconciliation finds nothing wrong.
func TestFakePaymentsOutliveARestart(t *testing.T) {
	t.Parallel()
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			dir, dsn := t.TempDir(), ""
			if d == store.Postgres {
				dsn = tiffintest.DSN(t, d)
			}
			on := func(c *app.Config) { c.DataDir, c.DB = dir, dsn }
			first := apptest.Start(t, d, on)
			m := seed(t, first, "r-1", "owner-1")
			customer := first.Token(auth.Customer, "cust-1")
			restaurant := first.Token(auth.Restaurant, "owner-1")
			place := func(a *apptest.App, key string) order {
				t.Helper()
				r := a.Do("POST", "/v1/orders", customer, orderBody("r-1", m.Items[0].ID, 1), "Idempotency-Key", key)
				if r.Status != http.StatusCreated {
					t.Fatalf("place: got %d %s", r.Status, r.Body)
				}
				var o order
				r.JSON(t, &o)
				return waitStatus(t, a, customer, o.ID, "paid")
			}
			delivered, cancelled, timedOut := place(first, "k-1"), place(first, "k-2"), place(first, "k-3")
			for _, step := range []string{"accept", "preparing", "ready"} {
				if r := first.Do("POST", "/v1/orders/"+delivered.ID+"/"+step, restaurant, nil); r.Status != http.StatusOK {
					t.Fatalf("%s: got %d %s", step, r.Status, r.Body)
				}
			}
			first.Stop()

			second := apptest.Start(t, d, on)
			// The restaurant's time to accept the third order runs out (its deadline was set
			// when it was paid, before the restart).
			if _, err := second.DB().Write(context.Background(), `UPDATE orders SET deadline_at = $1 WHERE id = $2`,
				store.Now(time.Now().Add(-time.Second)), timedOut.ID); err != nil {
				t.Fatal(err)
			}
			ops := second.Token(auth.Ops, "ops-1")
			for _, step := range []string{"picked-up", "delivered"} {
				if r := second.Do("POST", "/v1/orders/"+delivered.ID+"/"+step, ops, nil); r.Status != http.StatusOK {
					t.Fatalf("%s after the restart: got %d %s", step, r.Status, r.Body)
				}
			}
			if r := second.Do("POST", "/v1/orders/"+cancelled.ID+"/cancel", customer, nil); r.Status != http.StatusOK {
				t.Fatalf("cancel after the restart: got %d %s", r.Status, r.Body)
			}
			waitStatus(t, second, customer, timedOut.ID, "cancelled") // the restaurant never accepted it
			rep := settled(t, second)
			if rep.Checked != 3 || len(rep.Mismatches) != 0 {
				t.Errorf("reconciliation after the restart: got %+v, want 3 checked and no mismatch", rep)
			}
			for id, want := range map[string]string{delivered.ID: "captured", cancelled.ID: "voided", timedOut.ID: "voided"} {
				if got := paymentStatus(t, second, id); got != want {
					t.Errorf("payment of %s: got %s, want %s", id, got, want)
				}
			}
			if n := deadLetters(t, second); n != 0 {
				t.Errorf("dead letters: got %d, want none", n)
			}
			pay := second.Payments().(*payment.Fake)
			accounts, err := pay.Accounts(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if acc := accounts[delivered.ID]; acc.Captured != delivered.Total || acc.Authorized != delivered.Total {
				t.Errorf("delivered order at the provider: got %+v, want %d authorized and captured", acc, delivered.Total)
			}
			for _, id := range []string{cancelled.ID, timedOut.ID} {
				if acc := accounts[id]; !acc.Voided || acc.Holding() {
					t.Errorf("ended order %s at the provider: got %+v, want voided", id, acc)
				}
			}
			if c, v := pay.Effects(payment.Capture), pay.Effects(payment.Void); c != 1 || v != 2 {
				t.Errorf("after the restart the provider captured %d and voided %d times, want 1 and 2", c, v)
			}
			if n := pay.Effects(payment.Authorize); n != 0 {
				t.Errorf("after the restart the provider authorized %d times, want 0", n)
			}
		})
	}
}

// TestFakePaymentsSharedByReplicas runs two `serve` replicas on one PostgreSQL and one NATS
// with the fake provider: orders placed and paid through one and cancelled through the other
// are voided once each, no payment becomes a dead letter, and both replicas' reconciliations
// agree there is nothing wrong.
func TestFakePaymentsSharedByReplicas(t *testing.T) {
	t.Parallel()
	dsn := tiffintest.DSN(t, store.Postgres)
	ns := natsOn(t, t.TempDir(), -1)
	t.Cleanup(ns.Shutdown)
	dir := t.TempDir()
	on := func(c *app.Config) { c.DataDir, c.DB, c.NATS = dir, dsn, ns.ClientURL() }
	one := apptest.Start(t, store.Postgres, on)
	other := apptest.Start(t, store.Postgres, on)
	m := seed(t, one, "r-1", "owner-1")
	customer := one.Token(auth.Customer, "cust-1")
	const orders = 6
	var ids []string
	for i := range orders {
		r := one.Do("POST", "/v1/orders", customer, orderBody("r-1", m.Items[0].ID, 1), "Idempotency-Key", fmt.Sprintf("k-%d", i))
		if r.Status != http.StatusCreated {
			t.Fatalf("place: got %d %s", r.Status, r.Body)
		}
		var o order
		r.JSON(t, &o)
		waitStatus(t, one, customer, o.ID, "paid")
		ids = append(ids, o.ID)
	}
	for _, id := range ids {
		if r := other.Do("POST", "/v1/orders/"+id+"/cancel", customer, nil); r.Status != http.StatusOK {
			t.Fatalf("cancel through the other replica: got %d %s", r.Status, r.Body)
		}
	}
	for _, a := range []*apptest.App{one, other} {
		rep := settled(t, a)
		if rep.Checked != orders || len(rep.Mismatches) != 0 {
			t.Errorf("reconciliation on %s: got %+v, want %d checked and no mismatch", a.URL, rep, orders)
		}
		if n := deadLetters(t, a); n != 0 {
			t.Errorf("dead letters on %s: got %d, want none", a.URL, n)
		}
	}
	for _, id := range ids {
		if got := paymentStatus(t, one, id); got != "voided" {
			t.Errorf("payment of %s: got %s, want voided", id, got)
		}
	}
	p1, p2 := one.Payments().(*payment.Fake), other.Payments().(*payment.Fake)
	if a := p1.Effects(payment.Authorize) + p2.Effects(payment.Authorize); a != orders {
		t.Errorf("authorizations acted on by both replicas: got %d, want %d", a, orders)
	}
	if v := p1.Effects(payment.Void) + p2.Effects(payment.Void); v != orders {
		t.Errorf("voids acted on by both replicas: got %d, want %d", v, orders)
	}
	accounts, err := p2.Accounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if acc := accounts[id]; !acc.Voided || acc.Holding() {
			t.Errorf("order %s at the provider: got %+v, want voided", id, acc)
		}
	}
}
