package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// payGate stands between one replica and the fake payment provider. Armed, it lets the next
// calls reach the provider (which acts on them: authorizes, captures, voids, refunds) and then
// withholds the answers until the caller goes away: the window between "the provider said yes"
// and "tiffin recorded it". The payments scenario arms the gate of the replica it is about to
// kill and kills it only once a call is held there, so every such kill lands in that window.
type payGate struct {
	next http.Handler

	mu       sync.Mutex
	armed    int // calls still to hold
	holding  int // calls acted on and held now
	released chan struct{}
}

func newPayGate(next http.Handler) *payGate {
	return &payGate{next: next, released: make(chan struct{})}
}

func (g *payGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	hold := g.armed > 0 && r.Method == http.MethodPost // writes move money; reads are lookups
	if hold {
		g.armed--
	}
	g.mu.Unlock()
	if !hold {
		g.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	g.next.ServeHTTP(rec, r) // the provider acts and keeps the answer under the idempotency key
	g.mu.Lock()
	g.holding++
	released := g.released
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.holding--
		g.mu.Unlock()
	}()
	select {
	case <-r.Context().Done(): // the caller died (or gave up): it never hears the answer
	case <-released:
	}
	panic(http.ErrAbortHandler) // drop the connection without answering
}

// holdNext arms the gate for n calls and waits until at least one is held (true) or wait
// passes (false).
func (g *payGate) holdNext(ctx context.Context, n int, wait time.Duration) bool {
	g.mu.Lock()
	g.armed = n
	g.mu.Unlock()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		g.mu.Lock()
		h := g.holding
		g.mu.Unlock()
		if h > 0 {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// disarm stops holding new calls and lets the held ones go (unanswered).
func (g *payGate) disarm() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed = 0
	close(g.released)
	g.released = make(chan struct{})
}
