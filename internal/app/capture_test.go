package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/app"
	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/payment"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// waitPayment polls the order's payment until its status is want.
func waitPayment(t *testing.T, a *apptest.App, orderID, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := paymentStatus(t, a, orderID)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("payment of %s is %s, want %s", orderID, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCaptureAtAcceptance: with CaptureAt "acceptance" (--capture-at acceptance) the payment
// is captured when the restaurant accepts, so a cancel after that is a refund, not a void; an
// unknown capture point is refused at start.
func TestCaptureAtAcceptance(t *testing.T) {
	t.Parallel()
	if _, err := app.New(context.Background(), app.Config{DataDir: t.TempDir(), CaptureAt: "pickup"}); err == nil ||
		!strings.Contains(err.Error(), "pickup") {
		t.Errorf("capture at pickup: got %v, want an error naming it", err)
	}
	a := apptest.Start(t, store.SQLite, func(c *app.Config) { c.CaptureAt = "acceptance" })
	m := seed(t, a, "r-1", "owner-1")
	customer := a.Token(auth.Customer, "cust-1")
	r := a.Do("POST", "/v1/orders", customer, orderBody("r-1", m.Items[0].ID, 1), "Idempotency-Key", "k-1")
	if r.Status != http.StatusCreated {
		t.Fatalf("place: got %d %s", r.Status, r.Body)
	}
	var o order
	r.JSON(t, &o)
	waitStatus(t, a, customer, o.ID, "paid")
	if r := a.Do("POST", "/v1/orders/"+o.ID+"/accept", a.Token(auth.Restaurant, "owner-1"), nil); r.Status != http.StatusOK {
		t.Fatalf("accept: got %d %s", r.Status, r.Body)
	}
	waitPayment(t, a, o.ID, "captured")
	if r := a.Do("POST", "/v1/orders/"+o.ID+"/cancel", customer, nil); r.Status != http.StatusOK {
		t.Fatalf("cancel after acceptance: got %d %s", r.Status, r.Body)
	}
	waitPayment(t, a, o.ID, "refunded")
	if rep := settled(t, a); rep.Checked != 1 || len(rep.Mismatches) != 0 {
		t.Errorf("reconciliation: got %+v, want 1 checked and no mismatch", rep)
	}
	pay := a.Payments().(*payment.Fake)
	acc, err := pay.Account(context.Background(), o.ID)
	if err != nil || acc.Captured != o.Total || acc.Refunded != o.Total || acc.Voided {
		t.Errorf("at the provider: got %+v, %v; want %d captured and refunded, not voided", acc, err, o.Total)
	}
	if c, rf, v := pay.Effects(payment.Capture), pay.Effects(payment.Refund), pay.Effects(payment.Void); c != 1 || rf != 1 || v != 0 {
		t.Errorf("captures, refunds, voids: got %d, %d, %d, want 1, 1, 0", c, rf, v)
	}
}
