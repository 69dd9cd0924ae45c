package sim

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeOrder(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)
	tests := []struct {
		name    string
		in      string
		want    order
		wantErr bool
	}{
		{
			name: "contract shape with RFC 3339 times",
			in: `{"id":"ord_1","status":"ready","customer_id":"u","restaurant_id":"r","items":[{"menu_item_id":"i","name":"Dosa","unit_price":9000,"quantity":2}],
				"subtotal":18000,"delivery_fee":2000,"total":20000,"currency":"INR","delivery":{"lat":12.9,"lng":77.6},
				"courier_id":"c","created_at":"2026-03-01T12:30:00Z","updated_at":"2026-03-01T12:31:00Z","history":[{"status":"paid","at":"2026-03-01T12:30:01Z"}]}`,
			want: order{ID: "ord_1", Status: "ready", CustomerID: "u", RestaurantID: "r", CourierID: "c",
				Delivery: point{12.9, 77.6}, CreatedAt: stamp{created}},
		},
		{
			name: "unix milliseconds",
			in:   `{"id":"o","status":"paid","created_at":1772368200000}`,
			want: order{ID: "o", Status: "paid", CreatedAt: stamp{time.UnixMilli(1772368200000)}},
		},
		{
			name: "unix seconds",
			in:   `{"id":"o","status":"paid","created_at":1772368200}`,
			want: order{ID: "o", Status: "paid", CreatedAt: stamp{time.Unix(1772368200, 0)}},
		},
		{name: "null time", in: `{"id":"o","status":"paid","created_at":null}`, want: order{ID: "o", Status: "paid"}},
		{name: "no id", in: `{"status":"paid"}`, wantErr: true},
		{name: "not an object", in: `[1,2]`, wantErr: true},
		{name: "garbage time", in: `{"id":"o","status":"paid","created_at":"yesterday"}`, wantErr: true},
		{name: "huge time", in: `{"id":"o","status":"paid","created_at":1e300}`, wantErr: true},
		{name: "wrong type", in: `{"id":7,"status":"paid"}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeOrder([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("decodeOrder error = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b stamp) bool { return a.Equal(b.Time) })); diff != "" {
				t.Errorf("decodeOrder (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeOffer(t *testing.T) {
	t.Parallel()
	good := `{"offer_id":"off_1","order_id":"ord_1","restaurant_id":"r","pickup":{"lat":12.9,"lng":77.5},"orders":[{"order_id":"ord_1"}],"expires_at":"2026-03-01T12:30:00Z"}`
	o, err := decodeOffer([]byte(good))
	if err != nil || o.OfferID != "off_1" || o.OrderID != "ord_1" || o.Pickup != (point{12.9, 77.5}) || len(o.Orders) != 1 {
		t.Errorf("decodeOffer(good) = %+v, %v", o, err)
	}
	for _, bad := range []string{
		`{}`, `null`, `{"offer_id":"x"}`,
		`{"offer_id":"x","order_id":"y","pickup":{"lat":91,"lng":0}}`,
		`{"offer_id":"x","order_id":"y","pickup":{"lat":"north"}}`,
	} {
		if o, err := decodeOffer([]byte(bad)); err == nil {
			t.Errorf("decodeOffer(%s) = %+v, want an error", bad, o)
		}
	}
}

func TestDecodeList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		wantIDs  []string
		wantNext string
	}{
		{"items and cursor", `{"items":[{"id":"a"},{"id":"b"}],"next_cursor":"c2"}`, []string{"a", "b"}, "c2"},
		{"bare array", `[{"id":"a"}]`, []string{"a"}, ""},
		{"named key", `{"orders":[{"id":"a"}],"next":"n"}`, []string{"a"}, "n"},
		{"null cursor", `{"items":[],"next_cursor":null}`, nil, ""},
		{"empty object", `{}`, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			items, next, err := decodeList[order]([]byte(tt.in), "orders")
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, it := range items {
				ids = append(ids, it.ID)
			}
			if diff := cmp.Diff(tt.wantIDs, ids); diff != "" || next != tt.wantNext {
				t.Errorf("ids (-want +got):\n%s next = %q, want %q", diff, next, tt.wantNext)
			}
		})
	}
}

// FuzzDecode feeds the decoders of the server's answers anything: they may refuse it, never
// panic, and what they accept is usable.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"id":"o","status":"paid","created_at":"2026-03-01T12:30:00Z","delivery":{"lat":1,"lng":2}}`,
		`{"id":"o","status":"paid","created_at":1772368200000}`,
		`{"offer_id":"a","order_id":"b","pickup":{"lat":1,"lng":2},"orders":[{"order_id":"b"}],"expires_at":"2026-03-01T12:30:00Z"}`,
		`{"route_id":"r","pickup":{"lat":1,"lng":2},"stops":[{"order_id":"b","status":"assigned","dropoff":{"lat":3,"lng":4}}]}`,
		`{"items":[{"id":"i","name":"n","price":9000,"available":true,"stock":null}],"next_cursor":"x"}`,
		`[{"id":"i","price":1}]`, `null`, `"`, `{"created_at":-1e15}`, `{"id":"o","status":"s","created_at":"9999-99-99"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if o, err := decodeOrder(b); err == nil && (o.ID == "" || o.Status == "") {
			t.Errorf("decodeOrder accepted %q without id or status", b)
		}
		if o, err := decodeOffer(b); err == nil && (o.OfferID == "" || !o.Pickup.latLng().Valid()) {
			t.Errorf("decodeOffer accepted %q: %+v", b, o)
		}
		if r, err := decodeRoute(b); err == nil {
			for _, st := range r.Stops {
				if st.OrderID == "" || !st.Dropoff.latLng().Valid() {
					t.Errorf("decodeRoute accepted %q: %+v", b, r)
				}
			}
		}
		if items, err := decodeMenu(b); err == nil {
			for _, it := range items {
				it.orderable()
			}
		}
		decodeList[order](b, "orders")
		decodeList[restaurantSummary](b, "restaurants")
	})
}
