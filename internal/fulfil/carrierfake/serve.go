package carrierfake

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// ServeAPI serves the carrier's API on addr (HOST:PORT; port 0 picks a free one, kept for
// the fake's life) until ctx ends, with the port closed while the mode is Down, so that
// connections are refused as they are when a carrier's API is down. It returns the address
// once it listens; serving goes on in the background. The control route is served too (it
// is part of the handler); serve s elsewhere as well to reach it while the API is down.
func (s *Server) ServeAPI(ctx context.Context, addr string) (string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("fake carrier: listen: %w", err)
	}
	bound := l.Addr().String()
	a := &apiPort{addr: bound, handler: s}
	a.serve(l)
	go func() {
		defer a.set(false) //nolint:errcheck // closing never fails
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := a.set(s.Mode() != Down); err != nil {
				// The port was taken meanwhile: try again on the next tick.
				continue
			}
		}
	}()
	return bound, nil
}

// apiPort opens and closes the fake's API port.
type apiPort struct {
	addr    string
	handler http.Handler
	mu      sync.Mutex
	srv     *http.Server
}

func (a *apiPort) serve(l net.Listener) {
	a.srv = &http.Server{Handler: a.handler, ReadHeaderTimeout: 5 * time.Second}
	go a.srv.Serve(l) //nolint:errcheck // ends with Close
}

func (a *apiPort) set(up bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case up && a.srv == nil:
		l, err := net.Listen("tcp", a.addr)
		if err != nil {
			return fmt.Errorf("fake carrier: listen: %w", err)
		}
		a.serve(l)
	case !up && a.srv != nil:
		a.srv.Close()
		a.srv = nil
	}
	return nil
}
