package customer_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tiffin-dev/tiffin/internal/audit"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/customer"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/store"
)

func asha() customer.Profile {
	return customer.Profile{
		Name: "  Asha Rao ", Email: "asha@example.com", Phone: "+919876543210", Language: "en_in",
		Address: &customer.Address{Line1: "12 MG Road", City: "Bengaluru", Postcode: "560001", Country: "in",
			Lat: ptr(12.9716), Lng: ptr(77.5946)},
		Notify: &customer.Notify{Email: true, InApp: true},
	}
}

// auditOf lists target's audit entries, newest first.
func auditOf(tb testing.TB, db *store.DB, target string) []audit.Entry {
	tb.Helper()
	es, err := audit.List(context.Background(), db, audit.Query{Target: target})
	if err != nil {
		tb.Fatalf("audit of %s: %v", target, err)
	}
	return es
}

func TestPutCreatesThenReplaces(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d)
		ctx := context.Background()

		got, created, err := f.svc.Put(ctx, ops, "c-1", asha())
		if err != nil || !created {
			t.Fatalf("create: got created %v, err %v; want true, nil", created, err)
		}
		want := customer.Customer{ID: "c-1", Profile: customer.Profile{
			Name: "Asha Rao", Email: "asha@example.com", Phone: "+919876543210", Language: "en-IN",
			Address: &customer.Address{Line1: "12 MG Road", City: "Bengaluru", Postcode: "560001", Country: "IN",
				Lat: ptr(12.9716), Lng: ptr(77.5946)},
			Notify: &customer.Notify{Email: true, InApp: true},
		}, CreatedAt: t0, UpdatedAt: t0}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("created (-want +got):\n%s", diff)
		}
		read, err := customer.Get(ctx, f.db, "c-1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, read); diff != "" {
			t.Errorf("read back (-want +got):\n%s", diff)
		}

		f.clock.Advance(time.Minute)
		replacement := asha()
		replacement.Email, replacement.Address, replacement.Notify = "asha.rao@example.com", nil, nil
		got, created, err = f.svc.Put(ctx, ops, "c-1", replacement)
		if err != nil || created {
			t.Fatalf("replace: got created %v, err %v; want false, nil", created, err)
		}
		want.Email, want.Address, want.Notify, want.UpdatedAt = "asha.rao@example.com", nil, nil, t0.Add(time.Minute)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("replaced (-want +got):\n%s", diff)
		}
		if read, err = customer.Get(ctx, f.db, "c-1"); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, read); diff != "" {
			t.Errorf("read back after replace (-want +got):\n%s", diff)
		}

		entries := auditOf(t, f.db, "customer:c-1")
		type row struct {
			Actor, Action, Detail string
			At                    time.Time
		}
		var rows []row
		for _, e := range entries {
			rows = append(rows, row{e.Actor, e.Action, string(e.Detail), e.At})
		}
		wantRows := []row{
			{"ops:op-1", customer.ActionUpdate, `{"fields":["email","address","notify"]}`, t0.Add(time.Minute)},
			{"ops:op-1", customer.ActionCreate, `{"fields":["name","email","phone","language","address","notify"]}`, t0},
		}
		if diff := cmp.Diff(wantRows, rows); diff != "" {
			t.Errorf("audit entries, newest first (-want +got):\n%s", diff)
		}
	})
}

// A customer whose first order created the row (an ID alone) reads as an empty profile, and
// a PUT then updates it rather than creating it.
func TestCheckoutRow(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d)
		ctx := context.Background()
		placed := t0.Add(-time.Hour)
		// As order.Service does at checkout.
		if _, err := f.db.Write(ctx, `INSERT INTO customers (id, created_at) VALUES ($1, $2)`, "c-9", store.Now(placed)); err != nil {
			t.Fatal(err)
		}
		got, err := customer.Get(ctx, f.db, "c-9")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(customer.Customer{ID: "c-9", CreatedAt: placed, UpdatedAt: placed}, got); diff != "" {
			t.Errorf("checkout's row (-want +got):\n%s", diff)
		}
		c, created, err := f.svc.Put(ctx, ops, "c-9", customer.Profile{Name: "Ravi"})
		if err != nil || created {
			t.Fatalf("put: got created %v, err %v; want false, nil", created, err)
		}
		if !c.CreatedAt.Equal(placed) || !c.UpdatedAt.Equal(t0) {
			t.Errorf("put: got created_at %v, updated_at %v; want %v, %v", c.CreatedAt, c.UpdatedAt, placed, t0)
		}
		if es := auditOf(t, f.db, "customer:c-9"); len(es) != 1 || es[0].Action != customer.ActionUpdate {
			t.Errorf("audit: got %+v, want one %s", es, customer.ActionUpdate)
		}
	})
}

func TestGetUnknown(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d)
		_, err := customer.Get(context.Background(), f.db, "nobody")
		if !errors.Is(err, customer.ErrNotFound) || !errors.Is(err, fault.NotFound) {
			t.Errorf("got %v, want customer.ErrNotFound (a fault.NotFound)", err)
		}
	})
}

// Requests creating the same customer at once make one create; the others update.
func TestConcurrentCreate(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d)
		const n = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		creates := 0
		for i := range n {
			wg.Go(func() {
				_, created, err := f.svc.Put(context.Background(), ops, "c-race", customer.Profile{Name: strings.Repeat("x", i+1)})
				if err != nil {
					t.Errorf("put %d: %v", i, err)
				}
				mu.Lock()
				defer mu.Unlock()
				if created {
					creates++
				}
			})
		}
		wg.Wait()
		if creates != 1 {
			t.Errorf("got %d creates, want 1", creates)
		}
		actions := map[string]int{}
		for _, e := range auditOf(t, f.db, "customer:c-race") {
			actions[e.Action]++
		}
		if diff := cmp.Diff(map[string]int{customer.ActionCreate: 1, customer.ActionUpdate: n - 1}, actions); diff != "" {
			t.Errorf("audit actions (-want +got):\n%s", diff)
		}
	})
}

func TestWhoMayDoWhat(t *testing.T) {
	t.Parallel()
	f := newFixture(t, store.SQLite)
	ctx := context.Background()
	if _, _, err := f.svc.Put(ctx, ops, "c-1", asha()); err != nil {
		t.Fatal(err)
	}
	reads := []struct {
		who  auth.Principal
		want error
	}{
		{ops, nil},
		{self("c-1"), nil},
		{self("c-2"), customer.ErrNotFound},
		{auth.Principal{Subject: "c-1", Role: auth.Courier}, customer.ErrNotFound},
	}
	for _, tt := range reads {
		c, err := f.svc.Customer(ctx, tt.who, "c-1")
		if !errors.Is(err, tt.want) {
			t.Errorf("%+v reads c-1: got %v, want %v", tt.who, err, tt.want)
		}
		if err == nil && c.ID != "c-1" {
			t.Errorf("%+v reads c-1: got customer %q", tt.who, c.ID)
		}
	}
	if _, _, err := f.svc.Put(ctx, self("c-1"), "c-1", asha()); !errors.Is(err, fault.Forbidden) {
		t.Errorf("customer writes itself: got %v, want fault.Forbidden", err)
	}
	if _, _, err := f.svc.List(ctx, self("c-1"), "", 0); !errors.Is(err, fault.Forbidden) {
		t.Errorf("customer lists customers: got %v, want fault.Forbidden", err)
	}
	if _, _, err := f.svc.AuditLog(ctx, self("c-1"), audit.Query{}); !errors.Is(err, fault.Forbidden) {
		t.Errorf("customer reads the audit log: got %v, want fault.Forbidden", err)
	}
}

// Each refused profile names its field and writes nothing: no row, no audit entry.
func TestPutRefuses(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d)
		ctx := context.Background()
		with := func(change func(*customer.Profile)) customer.Profile {
			p := asha()
			change(&p)
			return p
		}
		address := func(change func(*customer.Address)) customer.Profile {
			return with(func(p *customer.Profile) { change(p.Address) })
		}
		tests := []struct {
			name string
			id   string
			p    customer.Profile
			want string
		}{
			{"bad id", "a b", asha(), "path.id"},
			{"long id", strings.Repeat("c", 65), asha(), "path.id"},
			{"no name", "c-1", with(func(p *customer.Profile) { p.Name = "   " }), "body.name"},
			{"long name", "c-1", with(func(p *customer.Profile) { p.Name = strings.Repeat("é", 201) }), "body.name"},
			{"name with newline", "c-1", with(func(p *customer.Profile) { p.Name = "Asha\nRao" }), "body.name"},
			{"name not UTF-8", "c-1", with(func(p *customer.Profile) { p.Name = "Asha\xff" }), "body.name"},
			{"email without @", "c-1", with(func(p *customer.Profile) { p.Email = "asha.example.com" }), "body.email"},
			{"email with a display name", "c-1", with(func(p *customer.Profile) { p.Email = "Asha <asha@example.com>" }), "body.email"},
			{"long email", "c-1", with(func(p *customer.Profile) { p.Email = strings.Repeat("a", 250) + "@x.io" }), "body.email"},
			{"notify by email without one", "c-1", with(func(p *customer.Profile) { p.Email = "" }), "body.email"},
			{"phone without +", "c-1", with(func(p *customer.Profile) { p.Phone = "919876543210" }), "body.phone"},
			{"phone too short", "c-1", with(func(p *customer.Profile) { p.Phone = "+123456" }), "body.phone"},
			{"phone too long", "c-1", with(func(p *customer.Profile) { p.Phone = "+1234567890123456" }), "body.phone"},
			{"phone with spaces", "c-1", with(func(p *customer.Profile) { p.Phone = "+91 98765 43210" }), "body.phone"},
			{"language not a tag", "c-1", with(func(p *customer.Profile) { p.Language = "english please" }), "body.language"},
			{"language unknown", "c-1", with(func(p *customer.Profile) { p.Language = "xx-QQ" }), "body.language"},
			{"language und", "c-1", with(func(p *customer.Profile) { p.Language = "und" }), "body.language"},
			{"lat without lng", "c-1", address(func(a *customer.Address) { a.Lng = nil }), "body.address.lng"},
			{"lng without lat", "c-1", address(func(a *customer.Address) { a.Lat = nil }), "body.address.lat"},
			{"lat out of range", "c-1", address(func(a *customer.Address) { a.Lat = ptr(90.5) }), "body.address.lat"},
			{"lng out of range", "c-1", address(func(a *customer.Address) { a.Lng = ptr(-181.0) }), "body.address.lng"},
			{"null island", "c-1", address(func(a *customer.Address) { a.Lat, a.Lng = ptr(0.0), ptr(0.0) }), "body.address.lat"},
			{"country of three letters", "c-1", address(func(a *customer.Address) { a.Country = "IND" }), "body.address.country"},
			{"country unknown", "c-1", address(func(a *customer.Address) { a.Country = "QQ" }), "body.address.country"},
			{"country a number", "c-1", address(func(a *customer.Address) { a.Country = "356" }), "body.address.country"},
			{"postal address without country", "c-1", address(func(a *customer.Address) { a.Country = "" }), "body.address.country"},
			{"long line1", "c-1", address(func(a *customer.Address) { a.Line1 = strings.Repeat("x", 201) }), "body.address.line1"},
			{"long city", "c-1", address(func(a *customer.Address) { a.City = strings.Repeat("x", 101) }), "body.address.city"},
			{"long postcode", "c-1", address(func(a *customer.Address) { a.Postcode = strings.Repeat("9", 17) }), "body.address.postcode"},
		}
		for _, tt := range tests {
			_, _, err := f.svc.Put(ctx, ops, tt.id, tt.p)
			if !errors.Is(err, fault.Invalid) || fieldLocation(err) != tt.want {
				t.Errorf("%s: got %v, want a field error at %s", tt.name, err, tt.want)
			}
		}
		if _, err := customer.Get(ctx, f.db, "c-1"); !errors.Is(err, customer.ErrNotFound) {
			t.Errorf("after refusals: got %v, want no customer c-1", err)
		}
		if es, err := audit.List(ctx, f.db, audit.Query{}); err != nil || len(es) != 0 {
			t.Errorf("after refusals: got audit %+v, %v; want none", es, err)
		}
	})
}

// What a refusal leaves out is accepted: the optional fields, an empty address.
func TestPutMinimal(t *testing.T) {
	t.Parallel()
	f := newFixture(t, store.SQLite)
	ctx := context.Background()
	c, _, err := f.svc.Put(ctx, ops, "c-2", customer.Profile{Name: "Ravi", Address: &customer.Address{}, Notify: &customer.Notify{InApp: true}})
	if err != nil {
		t.Fatal(err)
	}
	want := customer.Customer{ID: "c-2", Profile: customer.Profile{Name: "Ravi", Notify: &customer.Notify{InApp: true}}, CreatedAt: t0, UpdatedAt: t0}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("minimal profile (-want +got):\n%s", diff)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON := `{"id":"c-2","name":"Ravi","email":"","phone":"","language":"","notify":{"email":false,"in_app":true},"created_at":"2025-03-10T04:00:00Z","updated_at":"2025-03-10T04:00:00Z"}`
	if string(b) != wantJSON {
		t.Errorf("JSON:\n got %s\nwant %s", b, wantJSON)
	}
	// Only a position, no postal lines: no country needed.
	if _, _, err := f.svc.Put(ctx, ops, "c-3", customer.Profile{Name: "Mira", Address: &customer.Address{Lat: ptr(12.9), Lng: ptr(77.6)}}); err != nil {
		t.Errorf("address with a position only: %v", err)
	}
}
