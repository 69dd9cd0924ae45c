package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/app"
	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/fulfil"
	"github.com/tiffin-dev/tiffin/internal/standardwebhook"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// receiver is a webhook receiver that verifies signatures and keeps what it got.
type receiver struct {
	mu     sync.Mutex
	secret standardwebhook.Secret
	ids    []string
	types  []string
	bad    int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	id, err := standardwebhook.Verify(req.Header, body, r.secret, time.Now(), 5*time.Minute)
	if err != nil {
		r.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var msg struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(body, &msg)
	r.ids = append(r.ids, id)
	r.types = append(r.types, msg.Type)
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) got() ([]string, []string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ids), slices.Clone(r.types), r.bad
}

// TestCustomerToldOnceOnEveryChannel boots the app with the fake carrier and the mail
// catcher: an order ops place for a phone customer (e-mail on record, French) ships by
// carrier through an outage; the customer gets one e-mail per step (exactly one "shipped"),
// the same in the in-app inbox, and a registered integrator endpoint gets each subscribed
// event exactly once, signed, in order.
func TestCustomerToldOnceOnEveryChannel(t *testing.T) {
	t.Parallel()
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			a := apptest.Start(t, d, func(c *app.Config) {
				c.FakeCarrier, c.CatchMail, c.WebhooksAllowLoopback = true, true, true
				c.FakeCarrierPickupAfter, c.FakeCarrierDeliverAfter = time.Second, time.Second
				c.CarrierBreakerOpenFor = 300 * time.Millisecond
				c.CarrierRetry = fulfil.RetrySchedule{Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond, Jitter: 0.2}
				c.CarrierPollEvery = 300 * time.Millisecond
			})
			m := seed(t, a, "r-1", "owner-1")
			ops := a.Token(auth.Ops, "ops-1")
			if r := a.Do("PUT", "/v1/customers/phone-1", ops, map[string]any{
				"name": "Amélie Dupont", "email": "amelie@example.com", "language": "fr",
				"address": map[string]any{"line1": "12 MG Road", "city": "Bengaluru", "postcode": "560001", "country": "IN", "lat": 12.9756, "lng": 77.6050},
			}); r.Status != http.StatusCreated {
				t.Fatalf("put customer: got %d %s", r.Status, r.Body)
			}
			rcv := &receiver{}
			srv := httptest.NewServer(rcv)
			t.Cleanup(srv.Close)
			integrator := a.Token(auth.Ops, "integrator-1")
			r := a.Do("POST", "/v1/webhooks", integrator, map[string]any{
				"url": srv.URL + "/hooks", "events": []string{"order.accepted", "shipment.shipped", "order.delivered"},
			})
			if r.Status != http.StatusCreated {
				t.Fatalf("register webhook: got %d %s", r.Status, r.Body)
			}
			var ep struct {
				ID     string `json:"id"`
				Secret string `json:"secret"`
			}
			r.JSON(t, &ep)
			secret, err := standardwebhook.ParseSecret(ep.Secret)
			if err != nil {
				t.Fatalf("endpoint secret %q: %v", ep.Secret, err)
			}
			rcv.mu.Lock()
			rcv.secret = secret
			rcv.mu.Unlock()

			setCarrierMode(t, a, ops, "down")
			body := carrierOrder("r-1", m.Items[0].ID)
			delete(body, "address") // the customer's on record
			r = a.Do("POST", "/v1/orders", ops, body, "Idempotency-Key", "phone-order-1")
			if r.Status != http.StatusCreated {
				t.Fatalf("place: got %d %s", r.Status, r.Body)
			}
			var o order
			r.JSON(t, &o)
			waitStatus(t, a, ops, o.ID, "paid")
			if r := a.Do("POST", "/v1/orders/"+o.ID+"/accept", a.Token(auth.Restaurant, "owner-1"), nil); r.Status != http.StatusOK {
				t.Fatalf("accept: got %d %s", r.Status, r.Body)
			}
			waitShipment(t, a, ops, o.ID, "retried", func(s shipment) bool { return s.Attempts >= 2 })
			setCarrierMode(t, a, ops, "up")
			waitStatus(t, a, ops, o.ID, "delivered")

			// E-mail: one per step, exactly one "shipped".
			var kinds []string
			deadline := time.Now().Add(15 * time.Second)
			for time.Now().Before(deadline) {
				var mail struct {
					Messages []struct {
						To      string `json:"to"`
						Subject string `json:"subject"`
						OrderID string `json:"order_id"`
						Event   string `json:"event"`
					} `json:"messages"`
				}
				mr := a.Do("GET", "/v1/ops/fakes/mail", ops, nil)
				if mr.Status != http.StatusOK {
					t.Fatalf("mail: got %d %s", mr.Status, mr.Body)
				}
				mr.JSON(t, &mail)
				kinds = kinds[:0]
				for _, msg := range mail.Messages {
					if msg.OrderID == o.ID && msg.To == "amelie@example.com" {
						kinds = append(kinds, msg.Event)
					}
				}
				if len(kinds) >= 3 {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			slices.Sort(kinds)
			if !slices.Equal(kinds, []string{"accepted", "delivered", "shipped"}) {
				t.Errorf("e-mails about %s: %v, want accepted, delivered, shipped once each", o.ID, kinds)
			}

			// In-app: the same three in the customer's inbox, each with a title.
			tiffintest.Eventually(t, 15*time.Second, func() (bool, string) {
				var inbox struct {
					Notifications []struct {
						Kind    string `json:"kind"`
						OrderID string `json:"order_id"`
						Title   string `json:"title"`
					} `json:"notifications"`
				}
				a.Do("GET", "/v1/notifications", a.Token(auth.Customer, "phone-1"), nil).JSON(t, &inbox)
				var inApp []string
				for _, n := range inbox.Notifications {
					if n.OrderID == o.ID && n.Title != "" {
						inApp = append(inApp, n.Kind)
					}
				}
				slices.Sort(inApp)
				return slices.Equal(inApp, []string{"accepted", "delivered", "shipped"}), fmt.Sprintf("inbox %v, want accepted, delivered, shipped", inApp)
			})

			// Webhooks: each event once by webhook-id, in order, every signature good.
			var ids, types []string
			var bad int
			for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
				if ids, types, bad = rcv.got(); len(ids) >= 3 {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if !slices.Equal(types, []string{"order.accepted", "shipment.shipped", "order.delivered"}) || bad != 0 {
				t.Errorf("webhooks: %v (%d badly signed), want order.accepted, shipment.shipped, order.delivered", types, bad)
			}
			if u := slices.Compact(slices.Sorted(slices.Values(ids))); len(u) != len(ids) {
				t.Errorf("webhook ids repeat: %v", ids)
			}
		})
	}
}

// TestRefundIsNotified: an order cancelled after its payment was captured (capture at
// acceptance) is refunded, and the customer is told both, once each, in-app and by e-mail.
func TestRefundIsNotified(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, store.SQLite, func(c *app.Config) {
		c.CatchMail, c.CaptureAt = true, "acceptance"
	})
	m := seed(t, a, "r-1", "owner-1")
	ops := a.Token(auth.Ops, "ops-1")
	if r := a.Do("PUT", "/v1/customers/cust-r", ops, map[string]any{"name": "Ravi", "email": "ravi@example.com"}); r.Status != http.StatusCreated {
		t.Fatalf("put customer: got %d %s", r.Status, r.Body)
	}
	customer := a.Token(auth.Customer, "cust-r")
	r := a.Do("POST", "/v1/orders", customer, orderBody("r-1", m.Items[0].ID, 1), "Idempotency-Key", "refund-1")
	if r.Status != http.StatusCreated {
		t.Fatalf("place: got %d %s", r.Status, r.Body)
	}
	var o order
	r.JSON(t, &o)
	waitStatus(t, a, customer, o.ID, "paid")
	if r := a.Do("POST", "/v1/orders/"+o.ID+"/accept", a.Token(auth.Restaurant, "owner-1"), nil); r.Status != http.StatusOK {
		t.Fatalf("accept: got %d %s", r.Status, r.Body)
	}
	tiffintest.Eventually(t, 15*time.Second, func() (bool, string) {
		var st string
		_ = a.DB().QueryRowContext(t.Context(), `SELECT status FROM payments WHERE order_id = $1`, o.ID).Scan(&st)
		return st == "captured", "payment " + st
	})
	if r := a.Do("POST", "/v1/orders/"+o.ID+"/cancel", customer, nil); r.Status != http.StatusOK {
		t.Fatalf("cancel: got %d %s", r.Status, r.Body)
	}
	tiffintest.Eventually(t, 20*time.Second, func() (bool, string) {
		var mail struct {
			Messages []struct {
				OrderID string `json:"order_id"`
				Event   string `json:"event"`
			} `json:"messages"`
		}
		a.Do("GET", "/v1/ops/fakes/mail", ops, nil).JSON(t, &mail)
		var kinds []string
		for _, msg := range mail.Messages {
			if msg.OrderID == o.ID {
				kinds = append(kinds, msg.Event)
			}
		}
		slices.Sort(kinds)
		return slices.Equal(kinds, []string{"accepted", "cancelled", "refunded"}), fmt.Sprint("e-mails ", kinds)
	})
}
