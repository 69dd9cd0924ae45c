package app_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// TestBundleJourney boots the whole app and carries two orders of one restaurant by one
// courier over HTTP: both are offered as one route (pickup, drop-off areas, distance, pay),
// accepted, picked up and delivered one by one; the offer's id answers 409 afterwards, an
// id never issued 404.
func TestBundleJourney(t *testing.T) {
	t.Parallel()
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			a := apptest.Start(t, d, nil)
			m := seed(t, a, "r-1", "owner-1")
			restaurant := a.Token(auth.Restaurant, "owner-1")
			courier := a.Token(auth.Courier, "courier-1")
			if r := a.Do("PUT", "/v1/courier/shift", courier, map[string]any{"on_shift": true, "lat": 12.97, "lng": 77.59}); r.Status != http.StatusOK {
				t.Fatalf("shift on: got %d %s", r.Status, r.Body)
			}
			var ids []string
			for i, cust := range []string{"cust-1", "cust-2"} {
				customer := a.Token(auth.Customer, cust)
				r := a.Do("POST", "/v1/orders", customer, orderBody("r-1", m.Items[0].ID, 1), "Idempotency-Key", "bundle-"+cust)
				if r.Status != http.StatusCreated {
					t.Fatalf("place order %d: got %d %s", i, r.Status, r.Body)
				}
				var o order
				r.JSON(t, &o)
				waitStatus(t, a, customer, o.ID, "paid")
				ids = append(ids, o.ID)
			}
			// Both accepted before either is ready: a ready order with nobody to share its
			// courier with would be offered alone at once.
			for _, step := range []string{"accept", "preparing", "ready"} {
				for _, id := range ids {
					if r := a.Do("POST", "/v1/orders/"+id+"/"+step, restaurant, nil); r.Status != http.StatusOK {
						t.Fatalf("restaurant %s %s: got %d %s", step, id, r.Status, r.Body)
					}
				}
			}

			var offer struct {
				OfferID string `json:"offer_id"`
				Orders  []struct {
					OrderID     string         `json:"order_id"`
					DropoffArea map[string]any `json:"dropoff_area"`
					Dropoff     map[string]any `json:"dropoff"`
				} `json:"orders"`
				DistanceM float64 `json:"distance_m"`
				Pay       struct {
					Amount int64 `json:"amount"`
				} `json:"pay"`
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				r := a.Do("GET", "/v1/courier/offer", courier, nil)
				if r.Status == http.StatusOK {
					r.JSON(t, &offer)
					if len(offer.Orders) == 2 {
						break
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("no offer of both orders: last %d %s", r.Status, r.Body)
				}
				time.Sleep(50 * time.Millisecond)
			}
			for _, st := range offer.Orders {
				if st.DropoffArea["h3_cell"] == nil || st.Dropoff != nil {
					t.Errorf("offer stop %+v: want the drop-off's area, not its address", st)
				}
			}
			if offer.DistanceM <= 0 || offer.Pay.Amount <= 0 {
				t.Errorf("offer distance %v m, pay %d: want both positive", offer.DistanceM, offer.Pay.Amount)
			}

			var route struct {
				RouteID string `json:"route_id"`
				Stops   []struct {
					OrderID string `json:"order_id"`
					Status  string `json:"status"`
				} `json:"stops"`
			}
			r := a.Do("POST", "/v1/courier/offers/"+offer.OfferID+"/accept", courier, nil)
			if r.Status != http.StatusOK {
				t.Fatalf("accept: got %d %s", r.Status, r.Body)
			}
			r.JSON(t, &route)
			if route.RouteID != offer.OfferID || len(route.Stops) != 2 {
				t.Fatalf("route %+v, want the offer's two stops", route)
			}
			for _, st := range route.Stops {
				if r := a.Do("POST", "/v1/orders/"+st.OrderID+"/picked-up", courier, nil); r.Status != http.StatusOK {
					t.Fatalf("picked up %s: got %d %s", st.OrderID, r.Status, r.Body)
				}
			}
			for i, st := range route.Stops {
				if r := a.Do("POST", "/v1/orders/"+st.OrderID+"/delivered", courier, nil); r.Status != http.StatusOK {
					t.Fatalf("delivered %s: got %d %s", st.OrderID, r.Status, r.Body)
				}
				if i == 0 {
					// One stop left: the courier is still on the route.
					tiffintest.Eventually(t, 20*time.Second, func() (bool, string) {
						var now struct {
							Stops []struct {
								Status string `json:"status"`
							} `json:"stops"`
						}
						r := a.Do("GET", "/v1/courier/route", courier, nil)
						if r.Status != http.StatusOK {
							return false, fmt.Sprintf("route: %d %s", r.Status, r.Body)
						}
						r.JSON(t, &now)
						return len(now.Stops) == 2 && now.Stops[0].Status == "delivered" && now.Stops[1].Status != "delivered",
							fmt.Sprintf("route after the first drop-off: %d %s", r.Status, r.Body)
					})
				}
			}
			tiffintest.Eventually(t, 20*time.Second, func() (bool, string) {
				r := a.Do("GET", "/v1/courier/route", courier, nil)
				return r.Status == http.StatusNotFound, fmt.Sprintf("route after the last drop-off: %d %s", r.Status, r.Body)
			})
			if r := a.Do("POST", "/v1/courier/offers/"+offer.OfferID+"/accept", courier, nil); r.Status != http.StatusConflict {
				t.Errorf("accept the delivered route's offer again: got %d %s, want 409", r.Status, r.Body)
			}
			if r := a.Do("POST", "/v1/courier/offers/ofr_never_issued/accept", courier, nil); r.Status != http.StatusNotFound {
				t.Errorf("accept an offer never issued: got %d %s, want 404", r.Status, r.Body)
			}
		})
	}
}
