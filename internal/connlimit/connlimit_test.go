package connlimit_test

import (
	"net"
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
