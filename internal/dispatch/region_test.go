package dispatch

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/lease"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// replica is one simulated process: a dispatch service with its own connection pool (through
// its own proxy, so the test can cut it off from the store) and its own lease elector.
type replica struct {
	*fixture
	name    string
	elector *lease.Elector
	proxy   *tiffintest.Proxy
	stop    func() error // cancels Run and waits for it; safe to call more than once
}

// replicas starts n dispatch services on one fresh PostgreSQL database, as n replicas of the
// app would be: holders "a", "b", ... with lease TTL ttl, sharing clock.
func replicas(t *testing.T, n int, ttl time.Duration, clock *tiffintest.Clock) []*replica {
	t.Helper()
	dsn := tiffintest.DSN(t, store.Postgres) // skips when there is no server
	var out []*replica
	for i := range n {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		px := tiffintest.NewProxy(t, u.Host)
		u.Host = px.Addr()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		db, err := store.Open(ctx, u.String())
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		name := string(rune('a' + i))
		logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})).With("replica", name)
		e := lease.New(db, lease.Config{Holder: name, TTL: ttl, Logger: logger})
		f := newFixtureOn(t, db, Config{Lead: e.Run, SweepInterval: 20 * time.Millisecond, Now: clock.Now, Logger: logger})
		out = append(out, &replica{fixture: f, name: name, elector: e, proxy: px})
	}
	return out
}

// start runs r's service until r.stop or the end of the test.
func (r *replica) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.svc.Run(ctx) }()
	var once sync.Once
	var err error
	r.stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("replica %s: %v", r.name, err)
		}
	})
}

// seedRegion puts a restaurant in region and n accepted orders from it, none with a delivery
// yet: the reconciler of region has to create and offer them.
func seedRegion(f *fixture, region string, n int) []string {
	f.t.Helper()
	ms := store.Now(f.clock.Now())
	rest := "rest-" + region
	f.exec(`INSERT INTO restaurants (id, owner_id, name, lat, lng, region, created_at, updated_at)
		VALUES ($1, 'owner', $2, $3, $4, $5, $6, $7)`, rest, rest, koramangala.Lat, koramangala.Lng, region, ms, ms)
	var ids []string
	for i := range n {
		id := fmt.Sprintf("%s-o%d", region, i)
		f.exec(`INSERT INTO orders (id, customer_id, restaurant_id, region, status, subtotal, delivery_fee, total,
			currency, delivery_lat, delivery_lng, placed_by, created_at, updated_at)
			VALUES ($1, 'cust', $2, $3, 'accepted', 100, 10, 110, 'INR', $4, $5, 'cust', $6, $7)`,
			id, rest, region, indiranagar.Lat, indiranagar.Lng, ms, ms)
		ids = append(ids, id)
	}
	return ids
}

// offeredOnce reports whether every order's delivery is offered, and was offered exactly once:
// one offer on the row and one delivery.offered event in the outbox.
func offeredOnce(f *fixture, orders []string) (bool, string) {
	f.t.Helper()
	for _, o := range orders {
		var status string
		var offers int
		err := f.db.QueryRow(`SELECT status, offers FROM deliveries WHERE order_id = $1`, o).Scan(&status, &offers)
		if err != nil {
			return false, fmt.Sprintf("delivery of %s: %v", o, err)
		}
		events := countOf(f.outboxTypes(o), string(event.DeliveryOffered))
		if offers > 1 || events > 1 {
			f.t.Fatalf("delivery of %s offered more than once: %d offers, %d delivery.offered events", o, offers, events)
		}
		if status != Offered || offers != 1 || events != 1 {
			return false, fmt.Sprintf("delivery of %s: %s after %d offers, %d events; want offered once", o, status, offers, events)
		}
	}
	return true, ""
}

// holders samples, until stop is called, which replicas' electors hold each lease in names, and
// counts the samples in which more than one did.
type holders struct {
	overlaps atomic.Int64
	stop     func()
}

func watchHolders(rs []*replica, names []string) *holders {
	h := &holders{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			for _, name := range names {
				n := 0
				for _, r := range rs {
					if _, ok := r.elector.Held(name); ok {
						n++
					}
				}
				if n > 1 {
					h.overlaps.Add(1)
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	h.stop = func() { cancel(); <-done }
	return h
}

// holderOf returns the replica whose elector holds lease name, if exactly one does.
func holderOf(rs []*replica, name string) (*replica, bool) {
	var held []*replica
	for _, r := range rs {
		if _, ok := r.elector.Held(name); ok {
			held = append(held, r)
		}
	}
	if len(held) != 1 {
		return nil, false
	}
	return held[0], true
}

// leaseRows returns the leases table as name -> holder, for names with prefix.
func leaseRows(f *fixture, prefix string) map[string]string {
	f.t.Helper()
	rows, err := f.db.Query(`SELECT name, holder FROM leases ORDER BY name`)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, holder string
		if err := rows.Scan(&name, &holder); err != nil {
			f.t.Fatal(err)
		}
		if strings.HasPrefix(name, prefix) {
			out[name] = holder
		}
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	return out
}

// TestRegionsAcrossReplicas runs two replicas over one PostgreSQL store with work in two
// regions: each region's reconciler runs under its own lease, held by one replica at a time,
// and every delivery is offered exactly once.
func TestRegionsAcrossReplicas(t *testing.T) {
	t.Parallel()
	clock := tiffintest.NewClock(time.Now())
	rs := replicas(t, 2, 5*time.Second, clock)
	f := rs[0].fixture
	regions := []string{"r1", "r2"}
	var orders []string
	for _, region := range regions {
		orders = append(orders, seedRegion(f, region, 3)...)
	}
	for i := range len(orders) {
		f.courierOn(fmt.Sprintf("c%d", i), hsrLayout)
	}
	names := []string{LeasePrefix + "r1", LeasePrefix + "r2"}
	h := watchHolders(rs, names)
	defer h.stop()
	for _, r := range rs {
		r.start(t)
	}

	tiffintest.Eventually(t, 15*time.Second, func() (bool, string) { return offeredOnce(f, orders) })
	tiffintest.Eventually(t, 15*time.Second, func() (bool, string) {
		for _, name := range names {
			if _, ok := holderOf(rs, name); !ok {
				return false, fmt.Sprintf("lease %s is not held by exactly one replica", name)
			}
		}
		return true, ""
	})
	h.stop()
	if n := h.overlaps.Load(); n > 0 {
		t.Errorf("%d samples saw two replicas holding one region's lease", n)
	}
	got := leaseRows(f, "dispatch-reconciler")
	for _, name := range names {
		if holder := got[name]; holder != "a" && holder != "b" {
			t.Errorf("lease %s: holder %q, want a or b", name, holder)
		}
	}
	if _, ok := got["dispatch-reconciler"]; ok {
		t.Errorf("leases %v include the whole city's dispatch-reconciler", got)
	}
	// Nothing more happens: a second look finds no delivery offered twice.
	if ok, msg := offeredOnce(f, orders); !ok {
		t.Error(msg)
	}
}

// TestDeadReplicasRegionMoves stops the replica holding region r1's lease without releasing it
// (cut off from the store, then stopped, as a killed process): once the lease's TTL passes, the
// other replica takes r1 over, with a larger fencing token, and offers its pending deliveries.
func TestDeadReplicasRegionMoves(t *testing.T) {
	t.Parallel()
	clock := tiffintest.NewClock(time.Now())
	rs := replicas(t, 2, time.Second, clock)
	f := rs[0].fixture
	var orders []string
	for _, region := range []string{"r1", "r2"} {
		orders = append(orders, seedRegion(f, region, 2)...)
	}
	for _, r := range rs {
		r.start(t)
	}
	r1 := LeasePrefix + "r1"
	var dead *replica
	tiffintest.Eventually(t, 15*time.Second, func() (bool, string) {
		var ok bool
		dead, ok = holderOf(rs, r1)
		return ok, "nobody holds " + r1
	})
	deadToken, _ := dead.elector.Held(r1)
	// No courier is on shift yet, so nothing has been offered: r1's deliveries wait for its
	// reconciler.
	dead.proxy.Refuse()
	if err := dead.stop(); err != nil {
		t.Fatalf("stop replica %s: %v", dead.name, err)
	}
	var live *replica
	for _, r := range rs {
		if r != dead {
			live = r
		}
	}
	// The kill left the lease to expire: not released (a release sets expires_at to 0), unless
	// the other replica has already taken it over.
	var holder string
	var expires int64
	if err := live.db.QueryRow(`SELECT holder, expires_at FROM leases WHERE name = $1`, r1).Scan(&holder, &expires); err != nil {
		t.Fatal(err)
	}
	if holder == dead.name && expires == 0 {
		t.Fatalf("lease %s was released by the killed replica %s", r1, dead.name)
	}
	for i := range len(orders) {
		live.courierOn(fmt.Sprintf("c%d", i), hsrLayout)
	}

	tiffintest.Eventually(t, 15*time.Second, func() (bool, string) { return offeredOnce(live.fixture, orders) })
	token, ok := live.elector.Held(r1)
	if !ok {
		t.Fatalf("replica %s does not hold %s after taking over its deliveries", live.name, r1)
	}
	if token <= deadToken {
		t.Errorf("token of %s's new term: %d, want more than the dead holder's %d", r1, token, deadToken)
	}
	if got := leaseRows(live.fixture, r1)[r1]; got != live.name {
		t.Errorf("lease %s: holder %q, want %q", r1, got, live.name)
	}
}

// TestRegionsUnshared: on one process without leases (lease.Unshared, the default), Run
// reconciles every region with work, and stops promptly when its context ends.
func TestRegionsUnshared(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, Config{SweepInterval: 20 * time.Millisecond})
		var orders []string
		for _, region := range []string{"r1", "r2", "r3"} {
			orders = append(orders, seedRegion(f, region, 1)...)
		}
		for i := range len(orders) {
			f.courierOn(fmt.Sprintf("c%d", i), hsrLayout)
		}
		f.run("dispatch", f.svc.Run)
		tiffintest.Eventually(t, 15*time.Second, func() (bool, string) { return offeredOnce(f, orders) })
		regions, err := f.svc.activeRegions(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"r1", "r2", "r3"}; !slices.Equal(regions, want) {
			t.Errorf("regions with work: %v, want %v", regions, want)
		}
		var leases int
		if err := f.db.QueryRow(`SELECT COUNT(*) FROM leases`).Scan(&leases); err != nil || leases != 0 {
			t.Errorf("leases taken without an elector: %d (%v), want 0", leases, err)
		}
	})
}

// TestIdleRegionLetGo: a region whose work is done keeps its reconciler for idleReads region
// reads, then stops it and releases its lease; new work in the region takes the lease again.
func TestIdleRegionLetGo(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		db := tiffintest.NewStoreOn(t, d)
		e := lease.New(db, lease.Config{Holder: "solo", TTL: 5 * time.Second})
		f := newFixtureOn(t, db, Config{Lead: e.Run, SweepInterval: 10 * time.Millisecond})
		name := LeasePrefix + "r1"
		orders := seedRegion(f, "r1", 1)
		f.courierOn("c1", hsrLayout)
		f.run("dispatch", f.svc.Run)
		tiffintest.Eventually(t, 15*time.Second, func() (bool, string) { return offeredOnce(f, orders) })
		if _, ok := e.Held(name); !ok {
			t.Fatalf("%s not held while its delivery is offered", name)
		}

		// The order is cancelled (its event lost): the sweep cancels the delivery, and r1 has
		// no more work.
		f.exec(`UPDATE orders SET status = 'cancelled' WHERE id = $1`, orders[0])
		tiffintest.Eventually(t, 15*time.Second, func() (bool, string) {
			var expires int64
			if err := f.db.QueryRow(`SELECT expires_at FROM leases WHERE name = $1`, name).Scan(&expires); err != nil {
				return false, err.Error()
			}
			_, held := e.Held(name)
			return !held && expires == 0, fmt.Sprintf("%s: held %v, expires_at %d; want released", name, held, expires)
		})
		if got := f.delivery(orders[0]).status; got != Cancelled {
			t.Errorf("delivery of %s: %s, want cancelled", orders[0], got)
		}

		// New work in r1 brings its reconciler back.
		f.exec(`INSERT INTO orders (id, customer_id, restaurant_id, region, status, subtotal, delivery_fee, total,
			currency, delivery_lat, delivery_lng, placed_by, created_at, updated_at)
			VALUES ('r1-late', 'cust', 'rest-r1', 'r1', 'ready', 100, 10, 110, 'INR', $1, $2, 'cust', 0, 0)`,
			indiranagar.Lat, indiranagar.Lng)
		tiffintest.Eventually(t, 15*time.Second, func() (bool, string) { return offeredOnce(f, []string{"r1-late"}) })
		if _, ok := e.Held(name); !ok {
			t.Errorf("%s not held again after new work in r1", name)
		}
	})
}
