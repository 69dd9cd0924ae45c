// Package connlimit caps how many connections a listener has open at once, so that clients
// holding connections (slowly, or in great numbers) cannot take every file descriptor the
// process has: past the cap, new connections wait in the kernel's accept queue until one
// closes, and the database, the bus and the files the process needs keep theirs.
package connlimit

import (
	"net"
	"sync"
)

// Listener is a net.Listener with at most a fixed number of its connections open at once.
type Listener struct {
	net.Listener
	slots chan struct{} // one token per open connection
	done  chan struct{} // closed by Close: Accept stops waiting for a slot
	once  sync.Once
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
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &conn{Conn: c, free: func() { <-l.slots }}, nil
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
