package tiffintest

import (
	"testing"
	"time"
)

// Eventually polls cond every 10ms until it reports true, or fails the test with cond's last
// message once timeout has passed.
func Eventually(tb testing.TB, timeout time.Duration, cond func() (ok bool, msg string)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %v: %s", timeout, msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
