package sim

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
)

// fakeAPI is an in-memory stand-in for the parts of tiffin's public API the simulator uses. It
// is a unit test of the client only: the end-to-end test drives the real app.
type fakeAPI struct {
	t    testing.TB
	keys *auth.Keys

	mu          sync.Mutex
	notReady    int // /readyz answers 503 this many more times
	puts        []putRequest
	restaurants map[string]restaurantBody
	menus       map[string][]menuItem
	orders      map[string]*fakeOrder
	keysSeen    map[string]string // Idempotency-Key -> order id
	offers      map[string]*fakeOffer
	shifts      map[string]bool
	fixes       int
	seq         int
}

type putRequest struct {
	Path    string
	Role    auth.Role
	Subject string
	Body    string // canonical JSON
}

type fakeOrder struct {
	ID, Status, CustomerID, RestaurantID, CourierID string
	Delivery                                        point
	CreatedAt                                       time.Time
}

type fakeOffer struct{ ID, OrderID, CourierID string }

func newFakeAPI(t testing.TB) (*fakeAPI, *httptest.Server) {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	f := &fakeAPI{
		t:           t,
		keys:        auth.NewKeys(ed25519.NewKeyFromSeed(seed)),
		restaurants: map[string]restaurantBody{},
		menus:       map[string][]menuItem{},
		orders:      map[string]*fakeOrder{},
		keysSeen:    map[string]string{},
		offers:      map[string]*fakeOffer{},
		shifts:      map[string]bool{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", f.readyz)
	mux.HandleFunc("PUT /v1/restaurants/{id}", f.putRestaurant)
	mux.HandleFunc("PUT /v1/restaurants/{id}/menu", f.putMenu)
	mux.HandleFunc("GET /v1/restaurants", f.listRestaurants)
	mux.HandleFunc("GET /v1/restaurants/{id}/menu", f.getMenu)
	mux.HandleFunc("PATCH /v1/restaurants/{id}/menu/items/{item}", f.patchItem)
	mux.HandleFunc("POST /v1/orders", f.placeOrder)
	mux.HandleFunc("GET /v1/orders", f.listOrders)
	mux.HandleFunc("GET /v1/orders/{id}", f.getOrder)
	mux.HandleFunc("POST /v1/orders/{id}/{action}", f.transition)
	mux.HandleFunc("PUT /v1/courier/shift", f.shift)
	mux.HandleFunc("POST /v1/courier/locations", f.locations)
	mux.HandleFunc("GET /v1/courier/offer", f.getOffer)
	mux.HandleFunc("POST /v1/courier/offers/{id}/{answer}", f.answerOffer)
	mux.HandleFunc("GET /v1/courier/route", f.getRoute)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeAPI) principal(w http.ResponseWriter, r *http.Request, roles ...auth.Role) (auth.Principal, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		http.Error(w, "no token", http.StatusUnauthorized)
		return auth.Principal{}, false
	}
	p, err := f.keys.Verify(r.Context(), tok)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return auth.Principal{}, false
	}
	if !p.Is(roles...) {
		http.Error(w, "wrong role "+string(p.Role), http.StatusForbidden)
		return auth.Principal{}, false
	}
	return p, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// decodeStrict reads a body the way huma does by default (unknown fields are refused) and
// returns its bytes.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) ([]byte, bool) {
	body, _ := io.ReadAll(r.Body)
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return nil, false
	}
	return body, true
}

func (f *fakeAPI) readyz(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.notReady > 0 {
		f.notReady--
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte(`{"status":"ready"}`))
}

func (f *fakeAPI) record(r *http.Request, p auth.Principal, body []byte) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		f.t.Errorf("PUT %s: body is not JSON: %v", r.URL.Path, err)
	}
	canon, _ := json.Marshal(v)
	f.puts = append(f.puts, putRequest{Path: r.URL.Path, Role: p.Role, Subject: p.Subject, Body: string(canon)})
}

func (f *fakeAPI) putRestaurant(w http.ResponseWriter, r *http.Request) {
	p, ok := f.principal(w, r, auth.Ops)
	if !ok {
		return
	}
	var in restaurantBody
	body, ok := decodeStrict(w, r, &in)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(r, p, body)
	f.restaurants[r.PathValue("id")] = in
	writeJSON(w, http.StatusOK, in)
}

func (f *fakeAPI) putMenu(w http.ResponseWriter, r *http.Request) {
	p, ok := f.principal(w, r, auth.Restaurant)
	if !ok {
		return
	}
	var in menuBody
	body, ok := decodeStrict(w, r, &in)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rest, ok := f.restaurants[r.PathValue("id")]
	if !ok {
		http.Error(w, "no such restaurant", http.StatusNotFound)
		return
	}
	if rest.OwnerID != p.Subject {
		http.Error(w, "not the owner", http.StatusForbidden)
		return
	}
	f.record(r, p, body)
	f.menus[r.PathValue("id")] = in.Items
	writeJSON(w, http.StatusOK, in)
}

func (f *fakeAPI) listRestaurants(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	type entry struct {
		ID        string  `json:"id"`
		Name      string  `json:"name"`
		DistanceM float64 `json:"distance_m"`
	}
	var items []entry
	for id, rest := range f.restaurants {
		items = append(items, entry{ID: id, Name: rest.Name, DistanceM: 100})
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": ""})
}

func menuETag(items []menuItem) string {
	b, _ := json.Marshal(items)
	h := fnv.New64a()
	h.Write(b)
	return fmt.Sprintf(`"%x"`, h.Sum64())
}

func (f *fakeAPI) getMenu(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	items, ok := f.menus[r.PathValue("id")]
	if !ok {
		http.Error(w, "no menu", http.StatusNotFound)
		return
	}
	etag := menuETag(items)
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"restaurant_id": r.PathValue("id"), "items": items})
}

func (f *fakeAPI) patchItem(w http.ResponseWriter, r *http.Request) {
	if _, ok := f.principal(w, r, auth.Restaurant); !ok {
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (f *fakeAPI) placeOrder(w http.ResponseWriter, r *http.Request) {
	p, ok := f.principal(w, r, auth.Customer)
	if !ok {
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		http.Error(w, "Idempotency-Key required", http.StatusBadRequest)
		return
	}
	var in placeBody
	if _, ok := decodeStrict(w, r, &in); !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if id, ok := f.keysSeen[key]; ok {
		writeJSON(w, http.StatusCreated, f.orders[id].json())
		return
	}
	if _, ok := f.restaurants[in.RestaurantID]; !ok || len(in.Items) == 0 {
		http.Error(w, "bad order", http.StatusUnprocessableEntity)
		return
	}
	for _, it := range in.Items {
		if it.Quantity < 1 || !strings.HasPrefix(it.MenuItemID, in.RestaurantID+"-i") {
			http.Error(w, "bad item", http.StatusUnprocessableEntity)
			return
		}
	}
	f.seq++
	o := &fakeOrder{
		ID: fmt.Sprintf("ord-%d", f.seq), Status: statusPaid, CustomerID: p.Subject,
		RestaurantID: in.RestaurantID, Delivery: in.Delivery, CreatedAt: time.Now(),
	}
	f.orders[o.ID] = o
	f.keysSeen[key] = o.ID
	writeJSON(w, http.StatusCreated, o.json())
}

func (o *fakeOrder) json() map[string]any {
	m := map[string]any{
		"id": o.ID, "status": o.Status, "customer_id": o.CustomerID, "restaurant_id": o.RestaurantID,
		"items": []any{}, "subtotal": 10000, "delivery_fee": 2000, "total": 12000, "currency": "INR",
		"delivery": o.Delivery, "created_at": o.CreatedAt.UTC().Format(time.RFC3339Nano),
		"updated_at": o.CreatedAt.UTC().Format(time.RFC3339Nano), "history": []any{},
	}
	if o.CourierID != "" {
		m["courier_id"] = o.CourierID
	}
	return m
}

// visible mirrors the contract's visibility: customers their own, restaurants their
// restaurants', couriers those assigned to them.
func (f *fakeAPI) visible(p auth.Principal, o *fakeOrder) bool {
	switch p.Role {
	case auth.Customer:
		return o.CustomerID == p.Subject
	case auth.Restaurant:
		return f.restaurants[o.RestaurantID].OwnerID == p.Subject
	case auth.Courier:
		return o.CourierID == p.Subject
	}
	return true
}

func (f *fakeAPI) listOrders(w http.ResponseWriter, r *http.Request) {
	p, ok := f.principal(w, r, auth.Roles...)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	status := r.URL.Query().Get("status")
	items := []map[string]any{}
	for _, o := range f.orders {
		if f.visible(p, o) && (status == "" || o.Status == status) {
			items = append(items, o.json())
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (f *fakeAPI) getOrder(w http.ResponseWriter, r *http.Request) {
	p, ok := f.principal(w, r, auth.Roles...)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.orders[r.PathValue("id")]
	if !ok || !f.visible(p, o) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	writeJSON(w, http.StatusOK, o.json())
}

func (f *fakeAPI) transition(w http.ResponseWriter, r *http.Request) {
	p, ok := f.principal(w, r, auth.Restaurant, auth.Courier)
	if !ok {
		return
	}
	if r.Header.Get("Idempotency-Key") == "" {
		http.Error(w, "Idempotency-Key required", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.orders[r.PathValue("id")]
	if !ok || !f.visible(p, o) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	moves := map[string][2]string{
		"accept":    {statusPaid, statusAccepted},
		"reject":    {statusPaid, statusRejected},
		"preparing": {statusAccepted, statusPreparing},
		"ready":     {statusPreparing, statusReady},
		"picked-up": {statusReady, statusPickedUp},
		"delivered": {statusPickedUp, statusDelivered},
	}
	m, ok := moves[r.PathValue("action")]
	if !ok {
		http.Error(w, "no such action", http.StatusNotFound)
		return
	}
	courierMove := m[1] == statusPickedUp || m[1] == statusDelivered
	if courierMove != (p.Role == auth.Courier) {
		http.Error(w, "wrong role", http.StatusForbidden)
		return
	}
	if o.Status != m[0] {
		http.Error(w, o.Status+" cannot go to "+m[1], http.StatusConflict)
		return
	}
	o.Status = m[1]
	writeJSON(w, http.StatusOK, o.json())
}

func (f *fakeAPI) shift(w http.ResponseWriter, r *http.Request) {
	p, ok := f.principal(w, r, auth.Courier)
	if !ok {
		return
	}
	var in shiftBody
	if _, ok := decodeStrict(w, r, &in); !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shifts[p.Subject] = in.OnShift
	writeJSON(w, http.StatusOK, map[string]any{"courier_id": p.Subject, "on_shift": in.OnShift})
}

func (f *fakeAPI) locations(w http.ResponseWriter, r *http.Request) {
	if _, ok := f.principal(w, r, auth.Courier); !ok {
		return
	}
	var in fixesBody
	if _, ok := decodeStrict(w, r, &in); !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fixes += len(in.Fixes)
	w.WriteHeader(http.StatusAccepted)
}

func (f *fakeAPI) offerJSON(of *fakeOffer) map[string]any {
	o := f.orders[of.OrderID]
	rest := f.restaurants[o.RestaurantID]
	return map[string]any{
		"offer_id": of.ID, "order_id": o.ID, "restaurant_id": o.RestaurantID,
		"pickup": point{rest.Lat, rest.Lng}, "orders": []map[string]any{{"order_id": o.ID}},
		"expires_at": time.Now().Add(time.Minute).UTC().Format(time.RFC3339),
	}
}

// getOffer offers each accepted, unassigned order to the first on-shift courier that asks.
func (f *fakeAPI) getOffer(w http.ResponseWriter, r *http.Request) {
	p, ok := f.principal(w, r, auth.Courier)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, of := range f.offers {
		if of.CourierID == p.Subject {
			writeJSON(w, http.StatusOK, f.offerJSON(of))
			return
		}
	}
	if !f.shifts[p.Subject] {
		http.Error(w, "off shift", http.StatusNotFound)
		return
	}
	for _, o := range f.orders {
		if o.CourierID != "" || (o.Status != statusAccepted && o.Status != statusPreparing && o.Status != statusReady) {
			continue
		}
		taken := false
		for _, of := range f.offers {
			taken = taken || of.OrderID == o.ID
		}
		if taken {
			continue
		}
		f.seq++
		of := &fakeOffer{ID: fmt.Sprintf("off-%d", f.seq), OrderID: o.ID, CourierID: p.Subject}
		f.offers[of.ID] = of
		writeJSON(w, http.StatusOK, f.offerJSON(of))
		return
	}
	http.Error(w, "no offer", http.StatusNotFound)
}

func (f *fakeAPI) answerOffer(w http.ResponseWriter, r *http.Request) {
	p, ok := f.principal(w, r, auth.Courier)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	of, ok := f.offers[r.PathValue("id")]
	switch {
	case !ok:
		http.Error(w, "expired", http.StatusGone)
		return
	case of.CourierID != p.Subject:
		http.Error(w, "not yours", http.StatusForbidden)
		return
	}
	delete(f.offers, of.ID)
	switch r.PathValue("answer") {
	case "accept":
		f.orders[of.OrderID].CourierID = p.Subject
	case "decline":
	default:
		http.Error(w, "no such answer", http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// getRoute answers the courier's route: its orders not yet ended, one stop each (the fake
// offers one order at a time).
func (f *fakeAPI) getRoute(w http.ResponseWriter, r *http.Request) {
	p, ok := f.principal(w, r, auth.Courier)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.orders {
		if o.CourierID != p.Subject || terminal(o.Status) {
			continue
		}
		rest := f.restaurants[o.RestaurantID]
		status := "assigned"
		if o.Status == statusPickedUp {
			status = statusPickedUp
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"route_id": "rt-" + o.ID, "pickup": point{rest.Lat, rest.Lng},
			"stops": []map[string]any{{"order_id": o.ID, "status": status, "dropoff": o.Delivery}},
		})
		return
	}
	http.Error(w, "no route", http.StatusNotFound)
}

// snapshot returns copies of the orders and the PUTs so far.
func (f *fakeAPI) snapshot() (orders []fakeOrder, puts []putRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.orders {
		orders = append(orders, *o)
	}
	return orders, append([]putRequest(nil), f.puts...)
}
