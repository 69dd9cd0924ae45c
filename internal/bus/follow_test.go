package bus_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tiffin-dev/tiffin/internal/bus"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// follower collects the order IDs of the events a Follow call hands it.
type follower struct {
	mu  sync.Mutex
	ids []string
}

func (f *follower) add(e event.Envelope) {
	var o event.Order
	_ = e.Payload(&o)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids = append(f.ids, string(e.Type)+":"+o.OrderID)
}

func (f *follower) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ids)
}

// follow follows subjects on b until the test ends.
func follow(tb testing.TB, b *bus.Bus, subjects []string) *follower {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f := &follower{}
	stop, err := b.Follow(ctx, subjects, f.add)
	if err != nil {
		tb.Fatalf("follow: %v", err)
	}
	tb.Cleanup(stop)
	return f
}

func orderEvent(tb testing.TB, t event.Type, orderID string) event.Envelope {
	tb.Helper()
	e, err := event.New(t, "r1", time.Now(), event.Order{OrderID: orderID})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// TestFollow checks a follower gets the events stored after it started, on its subjects only,
// in order.
func TestFollow(t *testing.T) { testFollow(t, newBus) }

func testFollow(t *testing.T, newBus func(testing.TB) *bus.Bus) {
	t.Parallel()
	b := newBus(t)
	publish(t, b, orderEvent(t, event.OrderPaid, "before"))
	f := follow(t, b, []string{event.SubjectAll(event.OrderPaid), event.SubjectAll(event.DeliveryAssigned)})

	var want []string
	for i := range 5 {
		id := fmt.Sprint("o", i)
		publish(t, b, orderEvent(t, event.OrderPaid, id), orderEvent(t, event.OrderPlaced, id))
		want = append(want, "order.paid:"+id)
	}
	publish(t, b, orderEvent(t, event.DeliveryAssigned, "d1"))
	tiffintest.Eventually(t, 10*time.Second, func() (bool, string) {
		got := f.got()
		return len(got) == 6, fmt.Sprintf("got %v, want 6 events", got)
	})
	// Each subject has its own ordered consumer: events keep their order within a subject,
	// not across subjects.
	var paid, assigned []string
	for _, e := range f.got() {
		if strings.HasPrefix(e, "order.paid:") {
			paid = append(paid, e)
		} else {
			assigned = append(assigned, e)
		}
	}
	if diff := cmp.Diff(want, paid); diff != "" {
		t.Errorf("order.paid events (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"delivery.assigned:d1"}, assigned); diff != "" {
		t.Errorf("delivery.assigned events (-want +got):\n%s", diff)
	}

}

// TestFollowSurvivesExternalRestart restarts the server under a follower while another
// connection publishes as soon as it can: the follower picks up where it left off, so it gets
// every event once and in order, where a core subscription could miss those published before
// it resubscribed.
func TestFollowSurvivesExternalRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := startServer(t, dir, -1)
	port := srv.Addr().(*net.TCPAddr).Port
	cfg := testConfig(t, "")
	cfg.URL = srv.ClientURL()
	watcher := openBus(t, cfg)
	publisher := openBus(t, cfg)
	f := follow(t, watcher, []string{event.SubjectAll(event.OrderPaid)})

	var want []string
	send := func(id string) {
		t.Helper()
		e := orderEvent(t, event.OrderPaid, id)
		want = append(want, "order.paid:"+id)
		tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			err := publisher.Publish(ctx, e)
			return err == nil, fmt.Sprintf("publish %s: %v", id, err)
		})
	}
	for i := range 3 {
		send(fmt.Sprint("a", i))
	}
	srv.Shutdown()
	srv.WaitForShutdown()
	startServer(t, dir, port)
	for i := range 3 {
		send(fmt.Sprint("b", i))
	}
	tiffintest.Eventually(t, 30*time.Second, func() (bool, string) {
		return len(f.got()) >= len(want), fmt.Sprintf("got %v, want %v", f.got(), want)
	})
	if diff := cmp.Diff(want, f.got()); diff != "" {
		t.Errorf("followed events (-want +got):\n%s", diff)
	}
}
