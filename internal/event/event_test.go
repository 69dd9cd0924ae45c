package event

import (
	"encoding/json"
	"testing"
	"time"
)

func TestSubjectRoundTrip(t *testing.T) {
	t.Parallel()
	for _, typ := range []Type{OrderPlaced, OrderPickedUp, DeliveryAssigned, CourierLocation} {
		s := Subject("8560145ffffffff", typ)
		region, got, err := ParseSubject(s)
		if err != nil || region != "8560145ffffffff" || got != typ {
			t.Errorf("ParseSubject(%q) = %q, %q, %v; want the region and %q", s, region, got, err, typ)
		}
	}
	if Subject("", OrderPaid) != "tiffin.global.order.paid" {
		t.Errorf("empty region: got %q", Subject("", OrderPaid))
	}
	for _, bad := range []string{"", "tiffin", "tiffin..order.paid", "other.r.order.paid", "tiffin.r."} {
		if _, _, err := ParseSubject(bad); err == nil {
			t.Errorf("ParseSubject(%q): got nil error", bad)
		}
	}
}

func TestEnvelope(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	e, err := New(OrderPaid, "r1", at, Order{OrderID: "ord_1", Status: "paid", At: at})
	if err != nil {
		t.Fatal(err)
	}
	if e.Version != 1 || e.ID == "" || e.Subject() != "tiffin.r1.order.paid" {
		t.Errorf("envelope %+v: want version 1, an id, subject tiffin.r1.order.paid", e)
	}
	b, _ := json.Marshal(e)
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	var p Order
	if err := got.Payload(&p); err != nil || p.OrderID != "ord_1" || !p.At.Equal(at) {
		t.Errorf("payload %+v, %v: want ord_1 at %v", p, err, at)
	}
	if a, b := NewID("x"), NewID("x"); a == b || a[:2] != "x_" {
		t.Errorf("NewID: got %q and %q, want distinct x_ ids", a, b)
	}
}

func TestIsID(t *testing.T) {
	t.Parallel()
	id := NewID("ord")
	if !IsID("ord", id) {
		t.Errorf("IsID(ord, %q) = false, want true", id)
	}
	for _, bad := range []string{"", "ord", "ord_", "zzz", "2026-01-01", NewID("evt"), id[:len(id)-1],
		"ORD" + id[3:], id[:10] + "G" + id[11:], id + "00000", "ord_" + id} {
		if IsID("ord", bad) {
			t.Errorf("IsID(ord, %q) = true, want false", bad)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"id":"evt_1","type":"order.paid","v":1,"region":"r","time":"2026-11-21T06:00:00Z","data":{"order_id":"o"}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			return
		}
		if e.ID == "" || e.Type == "" {
			t.Fatalf("decoded an envelope without id or type: %+v", e)
		}
		var p Order
		_ = e.Payload(&p)
	})
}
