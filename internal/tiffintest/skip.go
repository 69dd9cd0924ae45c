package tiffintest

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// skipLoudly skips tb with msg, or fails it when the variable require is set to 1 (CI sets
// them). go test prints a passing package's output only under -v, so a skip would pass
// unseen: the notice also goes, once per test binary and kind, straight to the terminal the
// tests run from (/dev/tty), or to stderr where there is none.
func skipLoudly(tb testing.TB, kind, require, msg string) {
	tb.Helper()
	if os.Getenv(require) == "1" {
		tb.Fatal(msg)
	}
	if _, done := announced.LoadOrStore(kind, true); !done {
		var w io.Writer = os.Stderr
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			defer tty.Close()
			w = tty
		}
		fmt.Fprintf(w, "%s (in %s)\n", strings.TrimRight(msg, "\n"), filepath.Base(os.Args[0]))
	}
	tb.Skip(msg)
}

// announced holds the kinds of skip already announced by this test binary: the one state a
// process of tests shares, so that each says so once.
var announced sync.Map
