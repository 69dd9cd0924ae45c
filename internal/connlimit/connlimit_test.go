package connlimit_test

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/connlimit"
)

// TestCap: with the cap reached, the next connection is not accepted until one closes; closing
// a connection twice frees one slot; Close ends an Accept waiting for a slot.
func TestCap(t *testing.T) {
	t.Parallel()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := connlimit.Listen(inner, 2)
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	wait := func(want bool) net.Conn {
		t.Helper()
		select {
		case c := <-accepted:
			if !want {
				t.Fatalf("accepted a connection past the cap (%d open)", ln.Open())
			}
			return c
		case <-time.After(300 * time.Millisecond):
			if want {
				t.Fatalf("no connection accepted within 300ms (%d open)", ln.Open())
			}
			return nil
		}
	}
	dial()
	dial()
	first := wait(true)
	wait(true)
	dial()
	wait(false)
	first.Close()
	first.Close() // a second Close frees nothing more
	third := wait(true)
	if got := ln.Open(); got != 2 {
		t.Errorf("open after one of three closed: got %d, want 2", got)
	}
	dial()
	wait(false)
	third.Close()
	wait(true)
	dial()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-accepted:
		if ok {
			t.Errorf("accepted past the cap after Close")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Accept still waiting for a slot 2s after Close")
	}
}

// TestPerAddress: one address holds at most its cap of connections (the next is closed at
// once), another address is served meanwhile, an exempt address is not capped, and a closed
// connection gives its address the slot back.
func TestPerAddress(t *testing.T) {
	t.Parallel()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	exempt := netip.MustParseAddr("127.0.0.3")
	ln := connlimit.Listen(inner, 100).PerAddress(2, func(a netip.Addr) bool { return a == exempt })
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 100)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dialFrom := func(ip string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		c, err := d.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// closedByServer reports whether the server closed c (a read sees EOF or a reset).
	closedByServer := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		return !(errors.As(err, &ne) && ne.Timeout())
	}
	a1, a2, a3 := dialFrom("127.0.0.2"), dialFrom("127.0.0.2"), dialFrom("127.0.0.2")
	if closedByServer(a1) || closedByServer(a2) {
		t.Fatal("a connection within its address's cap was closed")
	}
	if !closedByServer(a3) {
		t.Fatal("the third connection from one address was kept, want it closed at once")
	}
	if b := dialFrom("127.0.0.4"); closedByServer(b) {
		t.Fatal("another address was refused while the first was at its cap")
	}
	for range 5 {
		if e := dialFrom("127.0.0.3"); closedByServer(e) {
			t.Fatal("an exempt address was capped")
		}
	}
	// The server side closes one of 127.0.0.2's: its slot comes back.
	for c := range accepted {
		if c.RemoteAddr().(*net.TCPAddr).IP.String() == "127.0.0.2" {
			c.Close()
			break
		}
	}
	if again := dialFrom("127.0.0.2"); closedByServer(again) {
		t.Fatal("a connection closed did not give its address the slot back")
	}
}
