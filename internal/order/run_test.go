package order_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/order"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// TestRunReturnsDuringSlowReconcile shuts the service down many times while a reconcile pass
// runs that outlives the consumer's last fetch (about 2s): by the time the pass ends the
// consumer has long returned, and Run must return too rather than wait for it a second time.
func TestRunReturnsDuringSlowReconcile(t *testing.T) {
	t.Parallel()
	db := tiffintest.NewStore(t)
	b := tiffintest.NewBus(t)
	const shutdowns = 8
	var wg sync.WaitGroup
	for i := range shutdowns {
		wg.Go(func() {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			inPass := make(chan struct{}, 1)
			// The reconciler reads the clock first thing in a pass: this clock makes the pass
			// last until shutdown and then 2.5s more.
			slow := func() time.Time {
				select {
				case inPass <- struct{}{}:
				default:
				}
				<-ctx.Done()
				time.Sleep(2500 * time.Millisecond)
				return time.Now()
			}
			svc := order.New(db, b, order.Config{Now: slow, SweepInterval: 10 * time.Millisecond})
			done := make(chan error, 1)
			go func() { done <- svc.Run(ctx) }()
			select {
			case <-inPass:
			case <-time.After(10 * time.Second):
				t.Errorf("shutdown %d: no reconcile pass began", i)
				return
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("shutdown %d: Run = %v, want nil", i, err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("shutdown %d: Run did not return within 30s of cancel (a pass takes 2.5s)", i)
			}
		})
	}
	wg.Wait()
}
