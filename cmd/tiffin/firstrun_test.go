package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"github.com/tiffin-dev/tiffin/internal/app"
	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// TestTokenNeedsTheDevKey: token on a data directory without a key refuses, saying where it
// looked and what to pass, and makes no key there; --create-key makes one; the default data
// directory is dev's.
func TestTokenNeedsTheDevKey(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	_, err := run(t, "token", "--data", empty, "--role", "ops", "--subject", "ops-1")
	if err == nil || !strings.Contains(err.Error(), filepath.Join(empty, auth.KeyFile)) || !strings.Contains(err.Error(), "--data") {
		t.Errorf("token on an empty data directory: got %v, want a refusal naming %s and --data", err, filepath.Join(empty, auth.KeyFile))
	}
	if _, err := os.Stat(filepath.Join(empty, auth.KeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("token made a key after all: %v", err)
	}
	out, err := run(t, "token", "--data", empty, "--role", "ops", "--subject", "ops-1", "--create-key")
	if err != nil || strings.Count(strings.TrimSpace(out), ".") != 2 {
		t.Fatalf("token --create-key: got %q, %v, want a token", out, err)
	}
	keys, err := auth.Load(empty)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := keys.Verify(context.Background(), strings.TrimSpace(out)); err != nil || p.Subject != "ops-1" {
		t.Errorf("the token under the key made: %+v, %v", p, err)
	}
	c, _ := parse(t, "token", "--role", "ops", "--subject", "x")
	d, _ := parse(t, "dev")
	s, _ := parse(t, "sim")
	if c.Token.Data != d.Dev.Data || s.Sim.Data != d.Dev.Data {
		t.Errorf("default data directories: token %q, sim %q, dev %q, want one", c.Token.Data, s.Sim.Data, d.Dev.Data)
	}
}

// TestTokenWorksWithDev: a token minted from dev's data directory is accepted by dev.
func TestTokenWorksWithDev(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	a := apptest.Start(t, store.SQLite, func(c *app.Config) { c.DataDir = data })
	out, err := run(t, "token", "--data", data, "--role", "ops", "--subject", "ops-1")
	if err != nil {
		t.Fatal(err)
	}
	if r := a.Do("GET", "/v1/ops/audit", strings.TrimSpace(out), nil); r.Status != http.StatusOK {
		t.Errorf("dev with a token from `tiffin token --data DIR`: got %d %s, want 200", r.Status, r.Body)
	}
}

// TestSimStopsOnARejectedToken: sim against a server whose key it does not hold stops at once
// with an error saying so, instead of running on with errors.
func TestSimStopsOnARejectedToken(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, store.SQLite, nil)
	other := t.TempDir()
	if _, err := auth.LoadOrCreate(other); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := run(t, "sim", "--url", a.URL, "--data", other, "--log-level", "error")
	if err == nil || !strings.Contains(err.Error(), "the server rejected the simulator's token: is --data the server's data directory?") {
		t.Errorf("sim with another key: got %v, want the rejection explained", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("sim took %v to give up", d)
	}
	if _, err := run(t, "sim", "--url", a.URL, "--data", t.TempDir()); err == nil || !strings.Contains(err.Error(), "no dev signing key at") {
		t.Errorf("sim on a data directory without a key: got %v, want a refusal naming where it looked", err)
	}
}

// TestSimAtNothing: sim pointed at an address where no server listens gives up within seconds,
// naming the URL.
func TestSimAtNothing(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	if _, err := auth.LoadOrCreate(data); err != nil {
		t.Fatal(err)
	}
	url := "http://" + freeAddr(t)
	start := time.Now()
	_, err := run(t, "sim", "--url", url, "--data", data, "--ready-within", "2s", "--log-level", "error")
	if err == nil || !strings.Contains(err.Error(), "no tiffin server ready at "+url) || !strings.Contains(err.Error(), "--url") {
		t.Errorf("sim at nothing: got %v, want an error naming %s", err, url)
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("sim took %v to give up (--ready-within 2s)", d)
	}
}

// TestBadDatabaseRefused: a database that is neither a SQLite path nor a PostgreSQL URL is
// refused with an error saying what is accepted, not opened as a SQLite file of that name.
func TestBadDatabaseRefused(t *testing.T) {
	t.Parallel()
	keyFile := newIDPKey(t, "k").pemFile(t)
	for _, db := range []string{"mysql://u@127.0.0.1/tiffin", "postgres//oops"} {
		dir := t.TempDir()
		for _, args := range [][]string{
			{"serve", "--db", db, "--nats", "nats://127.0.0.1:1", "--data", dir, "--pay-provider", "fake",
				"--jwt-public-key", keyFile, "--jwt-issuer", "i", "--jwt-audience", "a", "--log-level", "error"},
			{"dev", "--db", db, "--data", dir, "--log-level", "error"},
		} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := runServe(ctx, t, args...)
			cancel()
			if err == nil || !strings.Contains(err.Error(), "want a postgres:// or postgresql:// URL, or a SQLite file path") {
				t.Errorf("%s --db %s: got %v, want it refused", args[0], db, err)
			}
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("--db %s: the data directory got %d entries, want none", db, len(entries))
		}
	}
}

// TestH3ResolutionFlag: the README's --h3-resolution and TIFFIN_H3_RESOLUTION set it, and
// kong's derived --h-3-resolution is not a flag.
func TestH3ResolutionFlag(t *testing.T) {
	c, _ := parse(t, "dev", "--h3-resolution", "7")
	if got := c.Dev.config(c.Log).H3Resolution; got != 7 {
		t.Errorf("dev --h3-resolution 7: got %d", got)
	}
	c, _ = parse(t, "serve", "--db", "x", "--nats", "y", "--h3-resolution", "6")
	if c.Serve.H3Resolution != 6 {
		t.Errorf("serve --h3-resolution 6: got %d", c.Serve.H3Resolution)
	}
	t.Setenv("TIFFIN_H3_RESOLUTION", "8")
	c, _ = parse(t, "dev")
	if c.Dev.H3Resolution != 8 {
		t.Errorf("TIFFIN_H3_RESOLUTION=8: got %d", c.Dev.H3Resolution)
	}
	var cl cli
	p, err := kong.New(&cl, options()...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse([]string{"dev", "--h-3-resolution", "7"}); err == nil {
		t.Error("--h-3-resolution: got no error")
	}
}

// TestUsageErrorsAreOneLine: a bad command line prints what is wrong and where the usage is,
// not the whole help.
func TestUsageErrorsAreOneLine(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		want, hint string
	}{
		{[]string{"token", "--role", "ops"}, "missing flags: --subject", "Run 'tiffin token --help' for usage."},
		{[]string{"dev", "--no-such-flag"}, "unknown flag --no-such-flag", "Run 'tiffin dev --help' for usage."},
		{[]string{"dlq", "show"}, "expected \"<id>\"", "Run 'tiffin dlq show --help' for usage."},
		{[]string{"frobnicate"}, "unexpected argument frobnicate", "Run 'tiffin --help' for usage."},
	} {
		var c cli
		p, err := kong.New(&c, options()...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Parse(tc.args)
		if err == nil {
			t.Fatalf("%v: parsed", tc.args)
		}
		var out bytes.Buffer
		usageError(&out, err)
		lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
		if len(lines) != 2 || !strings.Contains(lines[0], tc.want) || lines[1] != tc.hint {
			t.Errorf("%v: printed %q, want %q then %q", tc.args, out.String(), tc.want, tc.hint)
		}
	}
}

// TestTwoDevsOnOneDataDirectory: a second dev on a data directory in use refuses to start,
// naming the holder; once the first stops, the directory is free again. The first serves the
// home page and the API reference from the binary.
func TestTwoDevsOnOneDataDirectory(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	devArgs := func(addr string) []string {
		return []string{"dev", "--addr", addr, "--data", data, "--sim=false", "--no-fake-carrier", "--no-catch-mail", "--log-level", "error"}
	}
	start := func() (base string, stop func()) {
		addr := freeAddr(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- runServe(ctx, t, devArgs(addr)...) }()
		base = "http://" + addr
		waitReady(t, base)
		return base, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("dev stopped with: %v", err)
			}
		}
	}
	base, stop := start()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	err := runServe(ctx, t, devArgs(freeAddr(t))...)
	cancel()
	want := "is in use by another process: process " + strconv.Itoa(os.Getpid()) + " holds it"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--data") {
		t.Errorf("second dev: got %v, want a refusal saying %q", err, want)
	}
	for path, want := range map[string]string{"/": `href="/v1/docs"`, "/v1/docs": "/v1/docs/assets/web-components.min.js"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: got %d, want a page with %s", path, resp.StatusCode, want)
		}
	}
	stop()
	_, stop = start() // the lock went with the first
	stop()
}
