package catalog_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/geo"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// problem is the part of an RFC 9457 body the tests look at.
type problem struct {
	Status int `json:"status"`
	Errors []struct {
		Location string `json:"location"`
	} `json:"errors"`
}

func decode[T any](tb testing.TB, r response) T {
	tb.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		tb.Fatalf("decode %s: %v", r.body, err)
	}
	return v
}

// locations lists the field locations a problem response names.
func locations(tb testing.TB, r response) []string {
	tb.Helper()
	var out []string
	for _, e := range decode[problem](tb, r).Errors {
		out = append(out, e.Location)
	}
	return out
}

func TestHTTPRestaurants(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, d store.Dialect) {
		a := newAPI(t, d)
		alice := a.token(t, owner("alice"))
		bob := a.token(t, owner("bob"))
		customer := a.token(t, auth.Principal{Subject: "cust", Role: auth.Customer})
		opsTok := a.token(t, ops)
		body := `{"name":"Dosa Corner","lat":12.9716,"lng":77.5946,"timezone":"Asia/Kolkata","opens_minute":540,"closes_minute":1320}`

		res := a.do(t, "PUT", "/v1/restaurants/dosa-1", alice, body)
		if res.status != http.StatusOK {
			t.Fatalf("PUT by owner: got %d %s, want 200", res.status, res.body)
		}
		put := decode[map[string]any](t, res)
		if put["owner_id"] != "alice" || put["prep_minutes"] != 15.0 || put["open_now"] != true {
			t.Errorf("PUT response: got owner_id %v, prep_minutes %v, open_now %v; want alice, 15 (the default), true",
				put["owner_id"], put["prep_minutes"], put["open_now"])
		}

		res = a.do(t, "GET", "/v1/restaurants/dosa-1", "", "")
		if res.status != http.StatusOK {
			t.Fatalf("GET: got %d %s, want 200", res.status, res.body)
		}
		got := decode[map[string]any](t, res)
		want := map[string]any{
			"id": "dosa-1", "name": "Dosa Corner", "lat": 12.9716, "lng": 77.5946, "region": put["region"],
			"timezone": "Asia/Kolkata", "opens_minute": 540.0, "closes_minute": 1320.0, "prep_minutes": 15.0,
			"open_now": true, "delivery_mode": "courier",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("public GET (-want +got):\n%s", diff)
		}

		tests := []struct {
			name, method, path, token, body string
			wantStatus                      int
			wantAt                          []string
		}{
			{"other owner", "PUT", "/v1/restaurants/dosa-1", bob, body, http.StatusForbidden, nil},
			{"customer", "PUT", "/v1/restaurants/dosa-1", customer, body, http.StatusForbidden, nil},
			{"no token", "PUT", "/v1/restaurants/dosa-1", "", body, http.StatusUnauthorized, nil},
			{"ops without owner creates", "PUT", "/v1/restaurants/new-1", opsTok, body, http.StatusUnprocessableEntity, []string{"body.owner_id"}},
			{"ops with owner creates", "PUT", "/v1/restaurants/new-1", opsTok, strings.Replace(body, `{`, `{"owner_id":"carol",`, 1), http.StatusOK, nil},
			{"unknown zone", "PUT", "/v1/restaurants/dosa-1", alice, strings.Replace(body, "Asia/Kolkata", "Asia/Atlantis", 1), http.StatusUnprocessableEntity, []string{"body.timezone"}},
			{"bad latitude", "PUT", "/v1/restaurants/dosa-1", alice, strings.Replace(body, "12.9716", "91", 1), http.StatusUnprocessableEntity, []string{"body.lat"}},
			{"unknown field", "PUT", "/v1/restaurants/dosa-1", alice, strings.Replace(body, `{`, `{"stars":5,`, 1), http.StatusUnprocessableEntity, []string{"body.stars"}},
			{"bad id", "PUT", "/v1/restaurants/a%20b", alice, body, http.StatusUnprocessableEntity, []string{"path.id"}},
			{"unknown restaurant", "GET", "/v1/restaurants/nope", "", "", http.StatusNotFound, nil},
			{"lat without lng", "GET", "/v1/restaurants?lat=12.97", "", "", http.StatusUnprocessableEntity, []string{"query.lng"}},
			{"lng without lat", "GET", "/v1/restaurants?lng=77.59", "", "", http.StatusUnprocessableEntity, []string{"query.lat"}},
			{"radius too big", "GET", "/v1/restaurants?lat=12.97&lng=77.59&radius_m=60000", "", "", http.StatusUnprocessableEntity, []string{"query.radius_m"}},
			{"limit too big", "GET", "/v1/restaurants?limit=101", "", "", http.StatusUnprocessableEntity, []string{"query.limit"}},
			{"bad cursor", "GET", "/v1/restaurants?cursor=zzz", "", "", http.StatusUnprocessableEntity, []string{"query.cursor"}},
			{"NaN latitude", "GET", "/v1/restaurants?lat=NaN&lng=1", "", "", http.StatusUnprocessableEntity, []string{"query.lat"}},
			{"infinite longitude", "GET", "/v1/restaurants?lat=1&lng=-Inf", "", "", http.StatusUnprocessableEntity, []string{"query.lng"}},
			{"NaN radius", "GET", "/v1/restaurants?lat=1&lng=1&radius_m=nan", "", "", http.StatusUnprocessableEntity, []string{"query.radius_m"}},
			{"zero radius", "GET", "/v1/restaurants?lat=1&lng=1&radius_m=0", "", "", http.StatusUnprocessableEntity, []string{"query.radius_m"}},
		}
		for _, tt := range tests {
			res := a.do(t, tt.method, tt.path, tt.token, tt.body)
			if res.status != tt.wantStatus {
				t.Errorf("%s: got %d %s, want %d", tt.name, res.status, res.body, tt.wantStatus)
				continue
			}
			if tt.wantStatus >= 400 {
				if ct := res.header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("%s: got Content-Type %q, want application/problem+json", tt.name, ct)
				}
			}
			if tt.wantAt != nil {
				if diff := cmp.Diff(tt.wantAt, locations(t, res)); diff != "" {
					t.Errorf("%s: error locations (-want +got):\n%s", tt.name, diff)
				}
			}
		}

		// Nearby search carries distance_m; listing by ID does not.
		res = a.do(t, "GET", "/v1/restaurants?lat=12.9716&lng=77.5956&limit=1", "", "")
		if res.status != http.StatusOK {
			t.Fatalf("nearby: got %d %s", res.status, res.body)
		}
		type listed struct {
			Restaurants []map[string]any `json:"restaurants"`
			NextCursor  string           `json:"next_cursor"`
		}
		near := decode[listed](t, res)
		if len(near.Restaurants) != 1 || near.Restaurants[0]["distance_m"] != 108.0 || near.NextCursor == "" {
			t.Errorf("nearby: got %s, want one restaurant 108 m away and a next cursor", res.body)
		}
		res = a.do(t, "GET", "/v1/restaurants?lat=12.9716&lng=77.5956&limit=1&cursor="+near.NextCursor, "", "")
		if next := decode[listed](t, res); len(next.Restaurants) != 1 || next.NextCursor != "" ||
			next.Restaurants[0]["id"] == near.Restaurants[0]["id"] {
			t.Errorf("nearby page 2: got %s, want the other restaurant and no cursor", res.body)
		}
		all := decode[listed](t, a.do(t, "GET", "/v1/restaurants", "", ""))
		if len(all.Restaurants) != 2 || all.Restaurants[0]["distance_m"] != nil || all.Restaurants[0]["owner_id"] != nil {
			t.Errorf("list: got %+v, want 2 restaurants without distance_m or owner_id", all)
		}
	})
}

func TestHTTPMenu(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, d store.Dialect) {
		a := newAPI(t, d)
		a.mustPut(t, "r1", "alice", bengaluru)
		alice := a.token(t, owner("alice"))
		bob := a.token(t, owner("bob"))

		res := a.do(t, "PUT", "/v1/restaurants/r1/menu", alice,
			`{"items":[{"id":"idli","name":"Idli","price":4000},{"name":"Vada","price":3500,"stock":5,"available":false}]}`)
		if res.status != http.StatusOK {
			t.Fatalf("PUT menu: got %d %s, want 200", res.status, res.body)
		}
		if etag := res.header.Get("ETag"); etag != `"r1-1"` {
			t.Errorf("PUT menu ETag: got %s, want %s", etag, `"r1-1"`)
		}

		res = a.do(t, "GET", "/v1/restaurants/r1/menu", "", "")
		if res.status != http.StatusOK {
			t.Fatalf("GET menu: got %d %s", res.status, res.body)
		}
		if etag := res.header.Get("ETag"); etag != `"r1-1"` {
			t.Errorf("GET menu ETag: got %s, want %s", etag, `"r1-1"`)
		}
		menu := decode[map[string]any](t, res)
		items, _ := menu["items"].([]any)
		if menu["restaurant_id"] != "r1" || menu["version"] != 1.0 || menu["currency"] != "INR" || len(items) != 2 {
			t.Fatalf("GET menu: got %s", res.body)
		}
		idli, vada := items[0].(map[string]any), items[1].(map[string]any)
		wantIdli := map[string]any{"id": "idli", "name": "Idli", "description": "", "price": 4000.0, "available": true, "stock": nil}
		if diff := cmp.Diff(wantIdli, idli); diff != "" {
			t.Errorf("idli (-want +got):\n%s", diff)
		}
		if vada["stock"] != 5.0 || vada["available"] != false {
			t.Errorf("vada: got %v, want stock 5, unavailable", vada)
		}

		conditional := []struct {
			name, ifNoneMatch string
			wantStatus        int
		}{
			{"same tag", `"r1-1"`, http.StatusNotModified},
			{"weak form", `W/"r1-1"`, http.StatusNotModified},
			{"in a list", `"r1-0", "r1-1"`, http.StatusNotModified},
			{"star", `*`, http.StatusNotModified},
			{"other tag", `"r1-0"`, http.StatusOK},
			{"unquoted", `r1-1`, http.StatusOK},
		}
		for _, tt := range conditional {
			res := a.do(t, "GET", "/v1/restaurants/r1/menu", "", "", "If-None-Match", tt.ifNoneMatch)
			if res.status != tt.wantStatus {
				t.Errorf("%s: got %d, want %d", tt.name, res.status, tt.wantStatus)
			}
			if etag := res.header.Get("ETag"); etag != `"r1-1"` {
				t.Errorf("%s: got ETag %s, want %s", tt.name, etag, `"r1-1"`)
			}
			if tt.wantStatus == http.StatusNotModified && len(res.body) != 0 {
				t.Errorf("%s: 304 has body %q, want none", tt.name, res.body)
			}
		}

		// A PATCH bumps the version: the old tag no longer matches.
		vadaID := vada["id"].(string)
		res = a.do(t, "PATCH", "/v1/restaurants/r1/menu/items/"+vadaID, alice, `{"available":true,"stock":0}`)
		if res.status != http.StatusOK {
			t.Fatalf("PATCH: got %d %s", res.status, res.body)
		}
		if it := decode[map[string]any](t, res); it["available"] != true || it["stock"] != 0.0 {
			t.Errorf("PATCH: got %s, want available with stock 0", res.body)
		}
		res = a.do(t, "GET", "/v1/restaurants/r1/menu", "", "", "If-None-Match", `"r1-1"`)
		if res.status != http.StatusOK || res.header.Get("ETag") != `"r1-2"` {
			t.Errorf("after PATCH: got %d with ETag %s, want 200 with %s", res.status, res.header.Get("ETag"), `"r1-2"`)
		}

		tests := []struct {
			name, method, path, token, body string
			wantStatus                      int
			wantAt                          []string
		}{
			{"other owner puts", "PUT", "/v1/restaurants/r1/menu", bob, `{"items":[{"name":"x","price":1}]}`, http.StatusForbidden, nil},
			{"other owner patches", "PATCH", "/v1/restaurants/r1/menu/items/idli", bob, `{"available":false}`, http.StatusForbidden, nil},
			{"anonymous put", "PUT", "/v1/restaurants/r1/menu", "", `{"items":[]}`, http.StatusUnauthorized, nil},
			{"unknown restaurant menu", "GET", "/v1/restaurants/nope/menu", "", "", http.StatusNotFound, nil},
			{"unknown item", "PATCH", "/v1/restaurants/r1/menu/items/nope", alice, `{"available":false}`, http.StatusNotFound, nil},
			{"negative price", "PUT", "/v1/restaurants/r1/menu", alice,
				`{"items":[{"name":"a","price":1},{"name":"b","price":2},{"name":"c","price":-1}]}`, http.StatusUnprocessableEntity, []string{"body.items[2].price"}},
			{"duplicate ids", "PUT", "/v1/restaurants/r1/menu", alice,
				`{"items":[{"id":"x","name":"a","price":1},{"id":"x","name":"b","price":2}]}`, http.StatusUnprocessableEntity, []string{"body.items[1].id"}},
			{"negative stock", "PUT", "/v1/restaurants/r1/menu", alice,
				`{"items":[{"name":"a","price":1,"stock":-1}]}`, http.StatusUnprocessableEntity, []string{"body.items[0].stock"}},
			{"missing price", "PUT", "/v1/restaurants/r1/menu", alice,
				`{"items":[{"name":"a"}]}`, http.StatusUnprocessableEntity, []string{"body.items[0]"}}, // huma names the object missing a property,
			{"empty patch", "PATCH", "/v1/restaurants/r1/menu/items/idli", alice, `{}`, http.StatusUnprocessableEntity, []string{"body"}},
			{"patch negative stock", "PATCH", "/v1/restaurants/r1/menu/items/idli", alice, `{"stock":-1}`, http.StatusUnprocessableEntity, []string{"body.stock"}},
			{"patch stock over the cap", "PATCH", "/v1/restaurants/r1/menu/items/idli", alice, `{"stock":1000001}`, http.StatusUnprocessableEntity, []string{"body.stock"}},
			{"patch stock not a number", "PATCH", "/v1/restaurants/r1/menu/items/idli", alice, `{"stock":"5"}`, http.StatusUnprocessableEntity, []string{"body.stock"}},
			{"patch fractional stock", "PATCH", "/v1/restaurants/r1/menu/items/idli", alice, `{"stock":1.5}`, http.StatusUnprocessableEntity, []string{"body.stock"}},
			{"not JSON", "PUT", "/v1/restaurants/r1/menu", alice, `{"items":`, http.StatusBadRequest, nil},
		}
		for _, tt := range tests {
			res := a.do(t, tt.method, tt.path, tt.token, tt.body)
			if res.status != tt.wantStatus {
				t.Errorf("%s: got %d %s, want %d", tt.name, res.status, res.body, tt.wantStatus)
				continue
			}
			if tt.wantAt != nil {
				if diff := cmp.Diff(tt.wantAt, locations(t, res)); diff != "" {
					t.Errorf("%s: error locations (-want +got):\n%s", tt.name, diff)
				}
			}
		}
		if res := a.do(t, "GET", "/v1/restaurants/r1/menu", "", ""); res.header.Get("ETag") != `"r1-2"` {
			t.Errorf("after failed writes: got ETag %s, want %s", res.header.Get("ETag"), `"r1-2"`)
		}

		// "stock": null makes the stock unlimited; a PATCH without stock leaves it as it is.
		patch := func(body string) map[string]any {
			t.Helper()
			res := a.do(t, "PATCH", "/v1/restaurants/r1/menu/items/"+vadaID, alice, body)
			if res.status != http.StatusOK {
				t.Fatalf("PATCH %s: got %d %s", body, res.status, res.body)
			}
			return decode[map[string]any](t, res)
		}
		stockOf := func() any {
			t.Helper()
			m := decode[map[string]any](t, a.do(t, "GET", "/v1/restaurants/r1/menu", "", ""))
			for _, it := range m["items"].([]any) {
				if it := it.(map[string]any); it["id"] == vadaID {
					v, ok := it["stock"]
					if !ok {
						t.Fatalf("menu item %s has no stock field", vadaID)
					}
					return v
				}
			}
			t.Fatalf("menu has no item %s", vadaID)
			return nil
		}
		if it := patch(`{"stock":null}`); it["stock"] != nil || it["available"] != true {
			t.Errorf(`PATCH {"stock":null}: got %v, want unlimited (null) stock, still available`, it)
		}
		if got := stockOf(); got != nil {
			t.Errorf(`menu after {"stock":null}: stock %v, want null`, got)
		}
		patch(`{"stock":4}`)
		if it := patch(`{"available":false}`); it["stock"] != 4.0 || it["available"] != false {
			t.Errorf(`PATCH {"available":false}: got %v, want stock left at 4`, it)
		}
		if it := patch(`{"available":true,"stock":null}`); it["stock"] != nil || it["available"] != true {
			t.Errorf(`PATCH {"available":true,"stock":null}: got %v, want available, unlimited`, it)
		}
		if got := stockOf(); got != nil {
			t.Errorf("menu after the last PATCH: stock %v, want null", got)
		}
	})
}

// FuzzPutMenuBody sends arbitrary bodies to PUT /v1/restaurants/{id}/menu: whatever arrives,
// the answer is never a server error.
func FuzzPutMenuBody(f *testing.F) {
	seeds := []string{
		`{"items":[]}`,
		`{"items":[{"id":"a","name":"A","price":1,"stock":2,"available":true,"description":"d"}]}`,
		`{"items":[{"name":"A","price":1},{"name":"B","price":10000000,"stock":null}]}`,
		`{"items":[{"id":"a","name":"A","price":1},{"id":"a","name":"A","price":1}]}`,
		`{"items":[{"name":"A","price":-1,"stock":-1}]}`,
		`{"items":[{"name":"A","price":1e300,"stock":99999999999}]}`,
		`{"items":[{"name":"\u0000","price":1.5}]}`,
		`{"items":null}`, `{}`, `[]`, `null`, ``, `{"items":[{"id":"x/y"}]}`, `{"items":"x"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	a := newAPI(f, store.SQLite)
	a.mustPut(f, "r1", "alice", bengaluru)
	tok := a.token(f, owner("alice"))
	f.Fuzz(func(t *testing.T, body []byte) {
		res := a.do(t, "PUT", "/v1/restaurants/r1/menu", tok, string(body))
		if res.status >= 500 || !json.Valid(res.body) {
			t.Fatalf("PUT menu %q: got %d %s", body, res.status, res.body)
		}
	})
}

// FuzzListQuery sends arbitrary query strings to GET /v1/restaurants: the answer is never a
// server error and always JSON.
func FuzzListQuery(f *testing.F) {
	for _, s := range []string{
		"", "lat=12.97&lng=77.59", "lat=12.97&lng=77.59&radius_m=50000&limit=100", "limit=0", "cursor=aWQ6cjE",
		"lat=NaN&lng=1", "lat=1e999&lng=1", "lat=&lng=", "radius_m=5", "cursor=b2ZmOi0x&lat=1&lng=1", "lat=1&lat=2&lng=3",
	} {
		f.Add(s)
	}
	a := newAPI(f, store.SQLite)
	a.mustPut(f, "r1", "alice", bengaluru)
	a.mustPut(f, "r2", "bob", geo.LatLng{})
	f.Fuzz(func(t *testing.T, query string) {
		values, err := url.ParseQuery(query)
		if err != nil {
			t.Skip() // not a query string; send what a client would have encoded
		}
		query = values.Encode()
		res := a.do(t, "GET", "/v1/restaurants?"+query, "", "")
		if res.status >= 500 || !json.Valid(res.body) {
			t.Fatalf("GET ?%s: got %d %s", query, res.status, res.body)
		}
	})
}

// FuzzPutRestaurantBody sends arbitrary bodies to PUT /v1/restaurants/{id}: never a server
// error, always JSON.
func FuzzPutRestaurantBody(f *testing.F) {
	for _, s := range []string{
		`{"name":"A","lat":12.97,"lng":77.59}`,
		`{"name":"A","lat":12.97,"lng":77.59,"timezone":"Asia/Kolkata","opens_minute":1320,"closes_minute":120,"prep_minutes":20}`,
		`{"name":"A","lat":1e999,"lng":-1e999}`, `{"name":"","lat":0,"lng":0,"timezone":"../../etc/passwd"}`,
		`{"name":"A","lat":0,"lng":0,"owner_id":"someone"}`, `{"name":"A","lat":0,"lng":0,"opens_minute":1e20}`, ``, `null`,
	} {
		f.Add([]byte(s))
	}
	a := newAPI(f, store.SQLite)
	tok := a.token(f, owner("alice"))
	f.Fuzz(func(t *testing.T, body []byte) {
		res := a.do(t, "PUT", "/v1/restaurants/r1", tok, string(body))
		if res.status >= 500 || !json.Valid(res.body) {
			t.Fatalf("PUT restaurant %q: got %d %s", body, res.status, res.body)
		}
	})
}
