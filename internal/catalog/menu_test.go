package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tiffin-dev/tiffin/internal/catalog"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/store"
)

func ptr[T any](v T) *T { return &v }

func TestMenu(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d)
		ctx := context.Background()
		alice := owner("alice")
		f.mustPut(t, "r1", "alice", bengaluru)
		f.mustPut(t, "r2", "bob", bengaluru)

		empty, err := f.svc.Menu(ctx, "r1")
		if err != nil {
			t.Fatalf("empty menu: %v", err)
		}
		if diff := cmp.Diff(catalog.Menu{RestaurantID: "r1", Currency: "INR", Items: []catalog.Item{}}, empty); diff != "" {
			t.Errorf("empty menu (-want +got):\n%s", diff)
		}

		m, err := f.svc.PutMenu(ctx, alice, "r1", []catalog.ItemInput{
			{ID: "idli", Name: "Idli", Description: "two, steamed", Price: 4000},
			{Name: "Vada", Price: 3500, Stock: ptr(10)},
			{ID: "coffee", Name: "Filter coffee", Price: 2500, Available: ptr(false)},
		})
		if err != nil {
			t.Fatalf("put menu: %v", err)
		}
		if m.Version != 1 || len(m.Items) != 3 {
			t.Fatalf("put menu: got version %d with %d items, want version 1 with 3", m.Version, len(m.Items))
		}
		vada := m.Items[1].ID
		if !strings.HasPrefix(vada, "itm_") {
			t.Errorf("new item: got id %q, want an itm_ id", vada)
		}
		want := catalog.Menu{RestaurantID: "r1", Version: 1, Currency: "INR", Items: []catalog.Item{
			{ID: "idli", RestaurantID: "r1", Name: "Idli", Description: "two, steamed", Price: 4000, Available: true, Position: 0},
			{ID: vada, RestaurantID: "r1", Name: "Vada", Price: 3500, Available: true, Stock: ptr(10), Position: 1},
			{ID: "coffee", RestaurantID: "r1", Name: "Filter coffee", Price: 2500, Available: false, Position: 2},
		}}
		if diff := cmp.Diff(want, m); diff != "" {
			t.Errorf("put menu (-want +got):\n%s", diff)
		}
		assertMenu(t, f, want) // primes the cache
		if got := want.ETag(); got != `"r1-1"` {
			t.Errorf("ETag: got %s, want %s", got, `"r1-1"`)
		}

		// An upsert replaces named items, adds new ones and leaves the rest, invalidating the cache.
		if _, err := f.svc.PutMenu(ctx, alice, "r1", []catalog.ItemInput{
			{ID: "coffee", Name: "Filter coffee", Price: 3000},
			{ID: "chai", Name: "Chai", Price: 2000},
		}); err != nil {
			t.Fatalf("second put: %v", err)
		}
		want.Version = 2
		want.Items = []catalog.Item{
			{ID: "coffee", RestaurantID: "r1", Name: "Filter coffee", Price: 3000, Available: true, Position: 0},
			{ID: "idli", RestaurantID: "r1", Name: "Idli", Description: "two, steamed", Price: 4000, Available: true, Position: 0},
			{ID: "chai", RestaurantID: "r1", Name: "Chai", Price: 2000, Available: true, Position: 1},
			{ID: vada, RestaurantID: "r1", Name: "Vada", Price: 3500, Available: true, Stock: ptr(10), Position: 1},
		}
		assertMenu(t, f, want)

		it, err := f.svc.PatchItem(ctx, alice, "r1", vada, catalog.ItemPatch{Available: ptr(false), SetStock: true, Stock: ptr(0)})
		if err != nil {
			t.Fatalf("patch: %v", err)
		}
		if it.Available || it.Stock == nil || *it.Stock != 0 {
			t.Errorf("patched item: got available %v stock %v, want false and 0", it.Available, it.Stock)
		}
		want.Version = 3
		want.Items[3].Available, want.Items[3].Stock = false, ptr(0)
		assertMenu(t, f, want)
		if _, err := f.svc.PatchItem(ctx, ops, "r1", vada, catalog.ItemPatch{SetStock: true, Stock: ptr(7)}); err != nil {
			t.Fatalf("patch stock only: %v", err)
		}
		want.Version = 4
		want.Items[3].Stock = ptr(7)
		assertMenu(t, f, want)
		if it, err := f.svc.PatchItem(ctx, alice, "r1", vada, catalog.ItemPatch{SetStock: true}); err != nil || it.Stock != nil {
			t.Fatalf("patch stock to unlimited: got %+v, %v", it, err)
		}
		want.Version = 5
		want.Items[3].Stock = nil
		assertMenu(t, f, want)
		if it, err := f.svc.PatchItem(ctx, alice, "r1", vada, catalog.ItemPatch{Available: ptr(true), SetStock: true, Stock: ptr(7)}); err != nil || it.Stock == nil || *it.Stock != 7 {
			t.Fatalf("patch stock back to 7: got %+v, %v", it, err)
		}
		if it, err := f.svc.PatchItem(ctx, alice, "r1", vada, catalog.ItemPatch{Available: ptr(false)}); err != nil || it.Stock == nil || *it.Stock != 7 {
			t.Fatalf("patch availability only: got %+v, %v; want the stock left at 7", it, err)
		}
		want.Version = 7
		want.Items[3].Stock, want.Items[3].Available = ptr(7), false
		assertMenu(t, f, want)

		errs := []struct {
			name     string
			run      func() error
			wantKind error
			wantAt   string
		}{
			{"menu of unknown restaurant", func() error { _, err := f.svc.Menu(ctx, "nope"); return err }, catalog.ErrRestaurantNotFound, ""},
			{"put unknown restaurant", func() error {
				_, err := f.svc.PutMenu(ctx, ops, "nope", []catalog.ItemInput{{Name: "x"}})
				return err
			}, catalog.ErrRestaurantNotFound, ""},
			{"put other owner's menu", func() error {
				_, err := f.svc.PutMenu(ctx, alice, "r2", []catalog.ItemInput{{Name: "x"}})
				return err
			}, catalog.ErrNotOwner, ""},
			{"take another restaurant's item", func() error {
				_, err := f.svc.PutMenu(ctx, owner("bob"), "r2", []catalog.ItemInput{{Name: "mine", ID: "r2-a"}, {ID: "idli", Name: "Idli"}})
				return err
			}, fault.Invalid, "body.items[1].id"},
			{"patch unknown item", func() error {
				_, err := f.svc.PatchItem(ctx, alice, "r1", "nope", catalog.ItemPatch{Available: ptr(true)})
				return err
			}, catalog.ErrItemNotFound, ""},
			{"patch another restaurant's item", func() error {
				_, err := f.svc.PatchItem(ctx, ops, "r2", "idli", catalog.ItemPatch{Available: ptr(true)})
				return err
			}, catalog.ErrItemNotFound, ""},
			{"patch other owner's item", func() error {
				_, err := f.svc.PatchItem(ctx, owner("bob"), "r1", "idli", catalog.ItemPatch{Available: ptr(true)})
				return err
			}, catalog.ErrNotOwner, ""},
			{"patch nothing", func() error { _, err := f.svc.PatchItem(ctx, alice, "r1", "idli", catalog.ItemPatch{}); return err }, fault.Invalid, "body"},
			{"patch negative stock", func() error {
				_, err := f.svc.PatchItem(ctx, alice, "r1", "idli", catalog.ItemPatch{SetStock: true, Stock: ptr(-1)})
				return err
			}, fault.Invalid, "body.stock"},
		}
		for _, tt := range errs {
			err := tt.run()
			if !errors.Is(err, tt.wantKind) {
				t.Errorf("%s: got error %v, want %v", tt.name, err, tt.wantKind)
			}
			if got := fieldLocation(err); got != tt.wantAt {
				t.Errorf("%s: got location %q, want %q", tt.name, got, tt.wantAt)
			}
		}
		// Failed writes changed nothing.
		assertMenu(t, f, want)
		if m, err := f.svc.Menu(ctx, "r2"); err != nil || len(m.Items) != 0 || m.Version != 0 {
			t.Errorf("r2 after failed writes: got version %d, %d items, err %v; want version 0, no items", m.Version, len(m.Items), err)
		}
	})
}

// assertMenu checks Menu twice: the second read may come from the cache.
func assertMenu(t *testing.T, f *fixture, want catalog.Menu) {
	t.Helper()
	for i := range 2 {
		got, err := f.svc.Menu(context.Background(), want.RestaurantID)
		if err != nil {
			t.Fatalf("menu: %v", err)
		}
		if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b catalog.Item) bool {
			return a.Position < b.Position || a.Position == b.Position && a.ID < b.ID
		})); diff != "" {
			t.Errorf("menu read %d (-want +got):\n%s", i+1, diff)
		}
	}
}

func TestMenuCache(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d)
		ctx := context.Background()
		f.mustPut(t, "r1", "alice", bengaluru)
		if _, err := f.svc.PutMenu(ctx, ops, "r1", []catalog.ItemInput{{ID: "a", Name: "A", Price: 1}}); err != nil {
			t.Fatal(err)
		}
		m, err := f.svc.Menu(ctx, "r1")
		if err != nil {
			t.Fatal(err)
		}
		m.Items[0].Name = "scribbled on by a caller"

		// Another instance writes behind this one's back.
		if _, err := f.db.ExecContext(ctx, `UPDATE menu_items SET price = 99 WHERE id = 'a'`); err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.ExecContext(ctx, `UPDATE restaurants SET menu_version = menu_version + 1 WHERE id = 'r1'`); err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			advance     time.Duration
			wantVersion int64
			wantPrice   int64
		}{
			{0, 1, 1},
			{4999 * time.Millisecond, 1, 1},
			{time.Millisecond, 2, 99},
		}
		for _, s := range steps {
			f.clock.Advance(s.advance)
			m, err := f.svc.Menu(ctx, "r1")
			if err != nil {
				t.Fatal(err)
			}
			if m.Version != s.wantVersion || m.Items[0].Price != s.wantPrice || m.Items[0].Name != "A" {
				t.Errorf("after %v: got version %d, price %d, name %q; want version %d, price %d, name %q",
					s.advance, m.Version, m.Items[0].Price, m.Items[0].Name, s.wantVersion, s.wantPrice, "A")
			}
		}
	})
}

func TestPutMenuValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, store.SQLite)
	f.mustPut(t, "r1", "alice", bengaluru)
	good := func(n int) []catalog.ItemInput {
		items := make([]catalog.ItemInput, n)
		for i := range items {
			items[i] = catalog.ItemInput{ID: fmt.Sprintf("i%d", i), Name: "Dish", Price: 100}
		}
		return items
	}
	tests := []struct {
		name   string
		edit   func([]catalog.ItemInput) []catalog.ItemInput
		wantAt string
	}{
		{"negative price", func(it []catalog.ItemInput) []catalog.ItemInput { it[2].Price = -1; return it }, "body.items[2].price"},
		{"price too high", func(it []catalog.ItemInput) []catalog.ItemInput { it[0].Price = 10_000_001; return it }, "body.items[0].price"},
		{"negative stock", func(it []catalog.ItemInput) []catalog.ItemInput { it[1].Stock = ptr(-3); return it }, "body.items[1].stock"},
		{"empty name", func(it []catalog.ItemInput) []catalog.ItemInput { it[3].Name = " "; return it }, "body.items[3].name"},
		{"long name", func(it []catalog.ItemInput) []catalog.ItemInput { it[3].Name = strings.Repeat("x", 201); return it }, "body.items[3].name"},
		{"bad id", func(it []catalog.ItemInput) []catalog.ItemInput { it[1].ID = "a/b"; return it }, "body.items[1].id"},
		{"duplicate id", func(it []catalog.ItemInput) []catalog.ItemInput { it[3].ID = it[1].ID; return it }, "body.items[3].id"},
		{"too many", func([]catalog.ItemInput) []catalog.ItemInput { return good(501) }, "body.items"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := f.svc.PutMenu(context.Background(), ops, "r1", tt.edit(good(4)))
			if !errors.Is(err, fault.Invalid) {
				t.Fatalf("got error %v, want an Invalid one", err)
			}
			if got := fieldLocation(err); got != tt.wantAt {
				t.Errorf("got location %q, want %q", got, tt.wantAt)
			}
		})
	}
	if m, err := f.svc.PutMenu(context.Background(), ops, "r1", good(500)); err != nil || len(m.Items) != 500 {
		t.Errorf("500 items: got %d items, err %v; want 500 items", len(m.Items), err)
	}
}

func TestConcurrentWrites(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d)
		ctx := context.Background()
		f.mustPut(t, "r1", "alice", bengaluru)
		const writers = 8
		errs := make(chan error, 2*writers)
		for i := range writers {
			go func() {
				_, err := f.svc.PutMenu(ctx, owner("alice"), "r1", []catalog.ItemInput{{ID: "a", Name: fmt.Sprint("A", i), Price: int64(i)}})
				errs <- err
			}()
			go func() {
				// Rivals race to create the same restaurant: one owns it, the others are refused.
				_, err := f.svc.PutRestaurant(ctx, owner(fmt.Sprint("o", i)), catalog.Restaurant{ID: "contested", Name: "C", Location: bengaluru})
				errs <- err
			}()
		}
		var refused int
		for range 2 * writers {
			err := <-errs
			switch {
			case err == nil:
			case errors.Is(err, fault.Forbidden) || errors.Is(err, fault.Conflict):
				refused++
			default:
				t.Errorf("concurrent write: %v", err)
			}
		}
		if refused != writers-1 {
			t.Errorf("contested creation: got %d refused, want %d", refused, writers-1)
		}
		m, err := f.svc.Menu(ctx, "r1")
		if err != nil {
			t.Fatal(err)
		}
		if m.Version != writers {
			t.Errorf("got menu version %d after %d writes, want %d", m.Version, writers, writers)
		}
	})
}
