package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/catalog"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/geo"
	"github.com/tiffin-dev/tiffin/internal/store"
)

func TestPutRestaurant(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d)
		ctx := context.Background()
		alice, bob := owner("alice"), owner("bob")

		got, err := f.svc.PutRestaurant(ctx, alice, catalog.Restaurant{
			ID: "dosa-1", Name: "  Dosa Corner ", Location: bengaluru, Timezone: "Asia/Kolkata",
			OpensMinute: 8 * 60, ClosesMinute: 22 * 60, PrepMinutes: 12,
		})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		region, _ := geo.Regioner{}.Region(bengaluru)
		want := catalog.Restaurant{
			ID: "dosa-1", OwnerID: "alice", Name: "Dosa Corner", Location: bengaluru, Region: region,
			Timezone: "Asia/Kolkata", OpensMinute: 480, ClosesMinute: 1320, PrepMinutes: 12, DeliveryMode: "courier",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("created restaurant (-want +got):\n%s", diff)
		}
		stored, err := f.svc.Restaurant(ctx, "dosa-1")
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		if diff := cmp.Diff(want, stored); diff != "" {
			t.Errorf("stored restaurant (-want +got):\n%s", diff)
		}

		tests := []struct {
			name      string
			p         auth.Principal
			r         catalog.Restaurant
			wantKind  error
			wantOwner string
		}{
			{"owner replaces", alice, catalog.Restaurant{ID: "dosa-1", Name: "Dosa Corner 2", Location: bengaluru}, nil, "alice"},
			{"other owner", bob, catalog.Restaurant{ID: "dosa-1", Name: "Stolen", Location: bengaluru}, fault.Forbidden, ""},
			{"owner sets someone else as owner", bob, catalog.Restaurant{ID: "bob-1", OwnerID: "carol", Name: "B", Location: bengaluru}, fault.Forbidden, ""},
			{"customer", auth.Principal{Subject: "c", Role: auth.Customer}, catalog.Restaurant{ID: "c-1", Name: "C", Location: bengaluru}, fault.Forbidden, ""},
			{"ops keeps owner", ops, catalog.Restaurant{ID: "dosa-1", Name: "Dosa Corner 3", Location: bengaluru}, nil, "alice"},
			{"ops moves owner", ops, catalog.Restaurant{ID: "dosa-1", OwnerID: "dave", Name: "Dosa Corner 4", Location: bengaluru}, nil, "dave"},
			{"ops creates without owner", ops, catalog.Restaurant{ID: "new-1", Name: "N", Location: bengaluru}, fault.Invalid, ""},
		}
		for _, tt := range tests { // sequential: the cases build on each other
			got, err := f.svc.PutRestaurant(ctx, tt.p, tt.r)
			if tt.wantKind != nil {
				if !errors.Is(err, tt.wantKind) {
					t.Errorf("%s: got error %v, want %v", tt.name, err, tt.wantKind)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
				continue
			}
			if got.OwnerID != tt.wantOwner {
				t.Errorf("%s: got owner %q, want %q", tt.name, got.OwnerID, tt.wantOwner)
			}
		}
		if r, _ := f.svc.Restaurant(ctx, "dosa-1"); r.Name != "Dosa Corner 4" || r.OwnerID != "dave" {
			t.Errorf("after the table: got %q owned by %q, want %q owned by %q", r.Name, r.OwnerID, "Dosa Corner 4", "dave")
		}
		if _, err := f.svc.Restaurant(ctx, "nope"); !errors.Is(err, catalog.ErrRestaurantNotFound) {
			t.Errorf("get unknown: got %v, want ErrRestaurantNotFound", err)
		}
	})
}

func TestPutRestaurantValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, store.SQLite)
	ok := catalog.Restaurant{ID: "r-1", Name: "R", Location: bengaluru}
	tests := []struct {
		name   string
		edit   func(*catalog.Restaurant)
		wantAt string
	}{
		{"bad id", func(r *catalog.Restaurant) { r.ID = "has space" }, "path.id"},
		{"long id", func(r *catalog.Restaurant) { r.ID = strings.Repeat("a", 65) }, "path.id"},
		{"empty name", func(r *catalog.Restaurant) { r.Name = "  " }, "body.name"},
		{"long name", func(r *catalog.Restaurant) { r.Name = strings.Repeat("ü", 201) }, "body.name"},
		{"lat", func(r *catalog.Restaurant) { r.Location.Lat = 90.5 }, "body.lat"},
		{"lng NaN", func(r *catalog.Restaurant) { r.Location.Lng = math.NaN() }, "body.lng"},
		{"unknown zone", func(r *catalog.Restaurant) { r.Timezone = "Mars/Olympus_Mons" }, "body.timezone"},
		{"server zone", func(r *catalog.Restaurant) { r.Timezone = "Local" }, "body.timezone"},
		{"opens", func(r *catalog.Restaurant) { r.OpensMinute = 1441 }, "body.opens_minute"},
		{"closes", func(r *catalog.Restaurant) { r.ClosesMinute = -1 }, "body.closes_minute"},
		{"prep", func(r *catalog.Restaurant) { r.PrepMinutes = -5 }, "body.prep_minutes"},
		{"owner", func(r *catalog.Restaurant) { r.OwnerID = strings.Repeat("o", 129) }, "body.owner_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := ok
			tt.edit(&r)
			_, err := f.svc.PutRestaurant(context.Background(), ops, r)
			if !errors.Is(err, fault.Invalid) {
				t.Fatalf("got error %v, want an Invalid one", err)
			}
			if got := fieldLocation(err); got != tt.wantAt {
				t.Errorf("got location %q, want %q", got, tt.wantAt)
			}
		})
	}
}

func TestOpenAt(t *testing.T) {
	t.Parallel()
	utc := func(h, m int) time.Time { return time.Date(2025, 3, 10, h, m, 0, 0, time.UTC) }
	tests := []struct {
		name          string
		tz            string
		opens, closes int
		at            time.Time
		want          bool
	}{
		{"before opening", "", 540, 1020, utc(8, 59), false},
		{"at opening", "", 540, 1020, utc(9, 0), true},
		{"last minute", "", 540, 1020, utc(16, 59), true},
		{"at closing", "", 540, 1020, utc(17, 0), false},
		{"past midnight, evening", "UTC", 1320, 120, utc(23, 30), true},
		{"past midnight, small hours", "UTC", 1320, 120, utc(1, 59), true},
		{"past midnight, closed at two", "UTC", 1320, 120, utc(2, 0), false},
		{"past midnight, noon", "UTC", 1320, 120, utc(12, 0), false},
		{"always open 0/1440", "UTC", 0, 1440, utc(3, 17), true},
		{"always open 0/0", "UTC", 0, 0, utc(23, 59), true},
		{"Kolkata opens 09:00 IST = 03:30 UTC", "Asia/Kolkata", 540, 1020, utc(3, 30), true},
		{"Kolkata before 09:00 IST", "Asia/Kolkata", 540, 1020, utc(3, 29), false},
		{"Kolkata closes 17:00 IST = 11:30 UTC", "Asia/Kolkata", 540, 1020, utc(11, 30), false},
		{"Kolkata past midnight, 00:30 IST", "Asia/Kolkata", 1200, 60, utc(19, 0), true},
		{"New York in EDT, 09:00 local", "America/New_York", 540, 1020, time.Date(2025, 7, 1, 13, 0, 0, 0, time.UTC), true},
		{"New York in EST, 08:00 local", "America/New_York", 540, 1020, time.Date(2025, 1, 6, 13, 0, 0, 0, time.UTC), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := catalog.Restaurant{Timezone: tt.tz, OpensMinute: tt.opens, ClosesMinute: tt.closes}
			if got := r.OpenAt(tt.at); got != tt.want {
				t.Errorf("OpenAt(%v) = %v, want %v", tt.at, got, tt.want)
			}
		})
	}
}

func TestListPagination(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d)
		ctx := context.Background()
		const n = 47
		want := map[string]bool{}
		for i := range n {
			id := fmt.Sprintf("r-%03d", (i*31)%n) // inserted out of order
			f.mustPut(t, id, "o", bengaluru)
			want[id] = true
		}
		for _, limit := range []int{1, 10, 47, 100} {
			seen := map[string]bool{}
			cursor, pages := "", 0
			for {
				page, err := f.svc.List(ctx, catalog.ListQuery{Cursor: cursor, Limit: limit})
				if err != nil {
					t.Fatalf("limit %d, page %d: %v", limit, pages, err)
				}
				pages++
				if len(page.Restaurants) > limit {
					t.Fatalf("limit %d: got %d restaurants on a page", limit, len(page.Restaurants))
				}
				for _, l := range page.Restaurants {
					if seen[l.ID] {
						t.Errorf("limit %d: %s listed twice", limit, l.ID)
					}
					seen[l.ID] = true
					if !l.OpenNow {
						t.Errorf("limit %d: %s not open now, want always open", limit, l.ID)
					}
				}
				if page.Next == "" {
					break
				}
				cursor = page.Next
			}
			if len(seen) != n {
				t.Errorf("limit %d: got %d restaurants, want %d", limit, len(seen), n)
			}
			if wantPages := (n + limit - 1) / limit; pages != wantPages {
				t.Errorf("limit %d: got %d pages, want %d", limit, pages, wantPages)
			}
		}
		first, err := f.svc.List(ctx, catalog.ListQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(first.Restaurants); got != catalog.DefaultListLimit {
			t.Errorf("default limit: got %d, want %d", got, catalog.DefaultListLimit)
		}
		nearby, err := f.svc.List(ctx, catalog.ListQuery{Near: &bengaluru, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		bad := []struct {
			name   string
			q      catalog.ListQuery
			wantAt string
		}{
			{"limit too big", catalog.ListQuery{Limit: 101}, "query.limit"},
			{"negative limit", catalog.ListQuery{Limit: -1}, "query.limit"},
			{"garbage cursor", catalog.ListQuery{Cursor: "!!"}, "query.cursor"},
			{"nearby cursor by id", catalog.ListQuery{Cursor: nearby.Next}, "query.cursor"},
			{"id cursor nearby", catalog.ListQuery{Near: &bengaluru, Cursor: first.Next}, "query.cursor"},
			{"radius too big", catalog.ListQuery{Near: &bengaluru, RadiusM: 50001}, "query.radius_m"},
			{"negative radius", catalog.ListQuery{Near: &bengaluru, RadiusM: -1}, "query.radius_m"},
			{"bad lat", catalog.ListQuery{Near: &geo.LatLng{Lat: -91}}, "query.lat"},
			{"bad lng", catalog.ListQuery{Near: &geo.LatLng{Lng: 181}}, "query.lng"},
		}
		for _, tt := range bad {
			_, err := f.svc.List(ctx, tt.q)
			if got := fieldLocation(err); got != tt.wantAt {
				t.Errorf("%s: got error %v at %q, want a field error at %q", tt.name, err, got, tt.wantAt)
			}
		}
	})
}

func TestListNearby(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d)
		ctx := context.Background()
		// Restaurants at known distances from bengaluru, in every direction, inserted far-first.
		dists := map[string]float64{
			"far-20k": 20000, "out-5100": 5100, "in-4900": 4900, "in-2500": 2500,
			"in-0900": 900, "in-0100": 100, "in-0000": 0,
		}
		bearing := 0.0
		for id, m := range dists {
			f.mustPut(t, id, "o", geo.Move(bengaluru, bearing, m))
			bearing += 47
		}
		f.mustPut(t, "elsewhere", "o", geo.LatLng{Lat: 28.6, Lng: 77.2}) // Delhi

		tests := []struct {
			name   string
			radius float64
			want   []string
		}{
			{"default radius", 0, []string{"in-0000", "in-0100", "in-0900", "in-2500", "in-4900"}},
			{"1 km", 1000, []string{"in-0000", "in-0100", "in-0900"}},
			{"50 km", 50000, []string{"in-0000", "in-0100", "in-0900", "in-2500", "in-4900", "out-5100", "far-20k"}},
		}
		for _, tt := range tests {
			for _, limit := range []int{2, 100} {
				var got []string
				cursor := ""
				for {
					page, err := f.svc.List(ctx, catalog.ListQuery{Near: &bengaluru, RadiusM: tt.radius, Cursor: cursor, Limit: limit})
					if err != nil {
						t.Fatalf("%s: %v", tt.name, err)
					}
					for _, l := range page.Restaurants {
						got = append(got, l.ID)
						if want := dists[l.ID]; math.Abs(l.DistanceM-want) > 1 {
							t.Errorf("%s: %s at %.1f m, want %.0f m", tt.name, l.ID, l.DistanceM, want)
						}
					}
					if cursor = page.Next; cursor == "" {
						break
					}
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("%s, limit %d (-want +got):\n%s", tt.name, limit, diff)
				}
			}
		}
	})
}

// TestListNearbyEdges covers searches whose bounding box would cross the antimeridian or a pole.
func TestListNearbyEdges(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d)
		ctx := context.Background()
		tests := []struct {
			name         string
			center, spot geo.LatLng
		}{
			{"antimeridian", geo.LatLng{Lat: -17.7, Lng: 179.999}, geo.LatLng{Lat: -17.7, Lng: -179.999}},
			{"north pole", geo.LatLng{Lat: 89.9999, Lng: 0}, geo.LatLng{Lat: 89.9999, Lng: 180}},
			{"south pole", geo.LatLng{Lat: -89.999, Lng: 10}, geo.LatLng{Lat: -89.999, Lng: -100}},
			{"high latitude", geo.LatLng{Lat: 78.22, Lng: 15.65}, geo.Move(geo.LatLng{Lat: 78.22, Lng: 15.65}, 90, 4900)},
		}
		for i, tt := range tests {
			f.mustPut(t, fmt.Sprintf("edge-%d", i), "o", tt.spot)
		}
		for i, tt := range tests {
			page, err := f.svc.List(ctx, catalog.ListQuery{Near: &tt.center})
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			want := fmt.Sprintf("edge-%d", i)
			if len(page.Restaurants) != 1 || page.Restaurants[0].ID != want {
				var got []string
				for _, l := range page.Restaurants {
					got = append(got, l.ID)
				}
				t.Errorf("%s: got %v, want [%s] (%.0f m away)", tt.name, got, want, geo.Distance(tt.center, tt.spot))
			}
		}
	})
}

func TestListOpenNow(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d)
		ctx := context.Background()
		put := func(id, tz string, opens, closes int) {
			t.Helper()
			if _, err := f.svc.PutRestaurant(ctx, owner("o"), catalog.Restaurant{
				ID: id, Name: id, Location: bengaluru, Timezone: tz, OpensMinute: opens, ClosesMinute: closes,
			}); err != nil {
				t.Fatalf("put %s: %v", id, err)
			}
		}
		// The clock reads 04:00 UTC, 09:30 in Kolkata.
		put("breakfast-ist", "Asia/Kolkata", 9*60, 11*60)
		put("breakfast-utc", "UTC", 9*60, 11*60)
		put("late-night-ist", "Asia/Kolkata", 22*60, 10*60)
		put("late-night-utc", "UTC", 22*60, 3*60)
		want := map[string]bool{"breakfast-ist": true, "breakfast-utc": false, "late-night-ist": true, "late-night-utc": false}
		page, err := f.svc.List(ctx, catalog.ListQuery{Near: &bengaluru})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, l := range page.Restaurants {
			got[l.ID] = l.OpenNow
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("open now (-want +got):\n%s", diff)
		}
	})
}
