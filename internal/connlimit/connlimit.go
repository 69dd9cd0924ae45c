// Package connlimit caps how many connections a listener has open at once, so that clients
// holding connections (slowly, or in great numbers) cannot take every file descriptor the
// process has: past the cap, new connections wait in the kernel's accept queue until one
// closes, and the database, the bus and the files the process needs keep theirs.
package connlimit

import (
	"net"
	"net/netip"
	"sync"
)

// Listener is a net.Listener with at most a fixed number of its connections open at once.
type Listener struct {
	net.Listener
	slots chan struct{} // one token per open connection
	done  chan struct{} // closed by Close: Accept stops waiting for a slot
	once  sync.Once

	// Per client address (PerAddress): at most perAddr open from one address, unless exempt.
	perAddr int
	exempt  func(netip.Addr) bool
	mu      sync.Mutex
	byAddr  map[netip.Addr]int
}

// PerAddress caps the connections one client address may hold open at n (0: no cap), so that
// one client cannot take every slot and make everyone else wait; a connection past it is
// closed as soon as it is accepted. Addresses exempt reports (proxies that carry many
// clients' connections) are not capped. It returns l, and must be called before Accept.
func (l *Listener) PerAddress(n int, exempt func(netip.Addr) bool) *Listener {
	l.perAddr, l.exempt, l.byAddr = n, exempt, make(map[netip.Addr]int)
	return l
}

// Listen caps ln at limit open connections (limit < 1 is taken as 1).
func Listen(ln net.Listener, limit int) *Listener {
	return &Listener{Listener: ln, slots: make(chan struct{}, max(1, limit)), done: make(chan struct{})}
}

// Accept waits for a free slot, then for the next connection; the slot is freed when that
// connection is closed.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			<-l.slots
			return nil, err
		}
		addr, counted := l.take(c)
		if counted && addr == (netip.Addr{}) {
			c.Close() // over its address's cap: the slot stays ours for the next one
			continue
		}
		return &conn{Conn: c, free: func() {
			if counted {
				l.release(addr)
			}
			<-l.slots
		}}, nil
	}
}

// take counts c against its client address. counted is false when addresses are not capped
// (or c's is exempt or unknown); addr is the zero Addr when c is over the cap.
func (l *Listener) take(c net.Conn) (addr netip.Addr, counted bool) {
	if l.perAddr <= 0 {
		return netip.Addr{}, false
	}
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}, false
	}
	addr = ap.Addr().Unmap()
	if l.exempt != nil && l.exempt(addr) {
		return netip.Addr{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byAddr[addr] >= l.perAddr {
		return netip.Addr{}, true
	}
	l.byAddr[addr]++
	return addr, true
}

func (l *Listener) release(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byAddr[addr]--; l.byAddr[addr] <= 0 {
		delete(l.byAddr, addr)
	}
}

// Close closes the listener; an Accept waiting for a slot returns net.ErrClosed.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// Open is how many of the listener's connections are open now.
func (l *Listener) Open() int { return len(l.slots) }

// conn frees its slot once, on its first Close.
type conn struct {
	net.Conn
	once sync.Once
	free func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.free)
	return err
}
