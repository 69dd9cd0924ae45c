package catalog

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tiffin-dev/tiffin/internal/audit"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/cache"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// Item is one dish on a menu. Price is in minor units of the menu's currency; a nil Stock is
// unlimited.
type Item struct {
	ID           string
	RestaurantID string
	Name         string
	Description  string
	Price        int64
	Available    bool
	Stock        *int
	Position     int
}

// Menu is a restaurant's items in menu order. Version changes with every menu write. Stale
// marks the last copy read, answered because the store could not be reached.
type Menu struct {
	RestaurantID string
	Version      int64
	Currency     string
	Items        []Item
	Stale        bool `json:"-"`
}

// ETag is the menu's strong entity tag: "<restaurant id>-<version>", quotes included.
func (m Menu) ETag() string { return fmt.Sprintf(`"%s-%d"`, m.RestaurantID, m.Version) }

// ItemInput is one item of a PutMenu request. An empty ID creates a new item; Available
// defaults to true; a nil Stock is unlimited.
type ItemInput struct {
	ID          string
	Name        string
	Description string
	Price       int64
	Available   *bool
	Stock       *int
}

// Menu limits.
const (
	MaxItems          = 500
	MaxPrice          = 10_000_000
	MaxStock          = 1_000_000
	maxDescriptionLen = 2000
)

// Menu returns restaurant restaurantID's menu, from the cache when it is fresh, or else from
// the store; when the store can't be reached, the last copy read, marked Stale.
func (s *Service) Menu(ctx context.Context, restaurantID string) (Menu, error) {
	now := s.now()
	if m, ok := s.cache.get(restaurantID, now); ok {
		return m, nil
	}
	gen := s.cache.generation()
	m, stale, err := cache.Read(ctx, s.copies, "menu:"+restaurantID, func(ctx context.Context) (Menu, int64, error) {
		var m Menu
		err := s.db.Do(ctx, func(ctx context.Context) error {
			var err error
			m, err = readMenu(ctx, s.db, restaurantID)
			return err
		})
		return m, m.Version, err
	})
	if err != nil {
		return Menu{}, fmt.Errorf("menu of %s: %w", restaurantID, err)
	}
	m.Currency = s.currency
	if stale {
		m.Stale = true
		return m, nil
	}
	s.cache.put(restaurantID, m, gen, now)
	return m, nil
}

// PutMenu upserts items, by ID, into restaurant restaurantID's menu, placing them in the
// order given; items not named keep their place. It bumps the menu version and returns the
// whole menu as written.
func (s *Service) PutMenu(ctx context.Context, p auth.Principal, restaurantID string, items []ItemInput) (Menu, error) {
	if err := mayWrite(p); err != nil {
		return Menu{}, err
	}
	if err := validateItems(items); err != nil {
		return Menu{}, err
	}
	now := store.Now(s.now())
	var m Menu
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := bumpMenu(ctx, tx, p, restaurantID, now); err != nil {
			return err
		}
		for i, in := range items {
			it := Item{
				ID: in.ID, RestaurantID: restaurantID, Name: strings.TrimSpace(in.Name),
				Description: in.Description, Price: in.Price, Available: true, Stock: in.Stock, Position: i,
			}
			if it.ID == "" {
				it.ID = event.NewID("itm")
			}
			if in.Available != nil {
				it.Available = *in.Available
			}
			ok, err := upsertItem(ctx, tx, it, now)
			if err != nil {
				return err
			}
			if !ok {
				return fault.Field(fmt.Sprintf("body.items[%d].id", i), it.ID, "is taken by another restaurant's item")
			}
		}
		tx.AfterCommit(func() { s.cache.invalidate(restaurantID) })
		var err error
		m, err = readMenu(ctx, tx, restaurantID)
		return err
	})
	if err != nil {
		return Menu{}, fmt.Errorf("put menu of %s: %w", restaurantID, err)
	}
	m.Currency = s.currency
	return m, nil
}

// ItemPatch is a partial update of a menu item; its zero value changes nothing.
type ItemPatch struct {
	// Available, when not nil, sets whether the item can be ordered.
	Available *bool
	// SetStock replaces the item's stock with Stock: a count, or nil for unlimited.
	SetStock bool
	Stock    *int
}

// PatchItem sets an item's availability, its stock (a count, or unlimited), or both, and
// bumps the menu version. Making the stock unlimited leaves the stock reservations of open
// orders as they are: they are released as usual when their order ends, giving nothing back
// to an item that is unlimited then (see internal/order/stock.go).
func (s *Service) PatchItem(ctx context.Context, p auth.Principal, restaurantID, itemID string, patch ItemPatch) (Item, error) {
	if err := mayWrite(p); err != nil {
		return Item{}, err
	}
	if patch.Available == nil && !patch.SetStock {
		return Item{}, fault.Field("body", nil, "must set available or stock")
	}
	if patch.SetStock && patch.Stock != nil {
		if err := checkStock("body.stock", *patch.Stock); err != nil {
			return Item{}, err
		}
	}
	now := store.Now(s.now())
	var it Item
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := bumpMenu(ctx, tx, p, restaurantID, now); err != nil {
			return err
		}
		var err error
		if it, err = getItem(ctx, tx, restaurantID, itemID); err != nil {
			return err
		}
		if patch.Available != nil {
			it.Available = *patch.Available
		}
		if patch.SetStock {
			it.Stock = nil
			if patch.Stock != nil {
				v := *patch.Stock
				it.Stock = &v
			}
		}
		tx.AfterCommit(func() { s.cache.invalidate(restaurantID) })
		return updateItemStock(ctx, tx, it, now)
	})
	if err != nil {
		return Item{}, fmt.Errorf("patch item %s of %s: %w", itemID, restaurantID, err)
	}
	return it, nil
}

// bumpMenu increments the restaurant's menu version, which also locks its row until the
// transaction ends, and checks that p may write it (the transaction rolls back if not).
func bumpMenu(ctx context.Context, tx *store.Tx, p auth.Principal, restaurantID string, now int64) error {
	owner, err := bumpMenuVersion(ctx, tx, restaurantID, now)
	if err != nil {
		return err
	}
	if err := canWrite(p, owner); err != nil {
		return err
	}
	if p.Role != auth.Ops {
		return nil // an owner's writes of its own menu are not someone else's data
	}
	return audit.Record(ctx, tx, string(p.Role)+":"+p.Subject, "menu.write", "restaurant:"+restaurantID, nil, store.Time(now))
}

func validateItems(items []ItemInput) error {
	if len(items) > MaxItems {
		return fault.Field("body.items", len(items), "must hold at most %d items", MaxItems)
	}
	seen := make(map[string]int, len(items))
	for i, in := range items {
		at := func(f string) string { return fmt.Sprintf("body.items[%d].%s", i, f) }
		if in.ID != "" {
			if !idPattern.MatchString(in.ID) {
				return fault.Field(at("id"), in.ID, "must match %s", idPattern)
			}
			if j, dup := seen[in.ID]; dup {
				return fault.Field(at("id"), in.ID, "duplicates items[%d].id", j)
			}
			seen[in.ID] = i
		}
		name := strings.TrimSpace(in.Name)
		switch {
		case name == "":
			return fault.Field(at("name"), in.Name, "must not be empty")
		case utf8.RuneCountInString(name) > maxNameLen:
			return fault.Field(at("name"), in.Name, "must be at most %d characters", maxNameLen)
		}
		if utf8.RuneCountInString(in.Description) > maxDescriptionLen {
			return fault.Field(at("description"), in.Description, "must be at most %d characters", maxDescriptionLen)
		}
		if in.Price < 0 {
			return fault.Field(at("price"), in.Price, "must be >= 0")
		}
		if in.Price > MaxPrice {
			return fault.Field(at("price"), in.Price, "must be <= %d", MaxPrice)
		}
		if in.Stock != nil {
			if err := checkStock(at("stock"), *in.Stock); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkStock(loc string, v int) error {
	if v < 0 {
		return fault.Field(loc, v, "must be >= 0")
	}
	if v > MaxStock {
		return fault.Field(loc, v, "must be <= %d", MaxStock)
	}
	return nil
}
