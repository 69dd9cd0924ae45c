package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"github.com/tiffin-dev/tiffin/internal/httpapi"
	"github.com/tiffin-dev/tiffin/internal/ratelimit"
)

func parse(t *testing.T, args ...string) (*cli, string) {
	t.Helper()
	var c cli
	p, err := kong.New(&c, options()...)
	if err != nil {
		t.Fatal(err)
	}
	kctx, err := p.Parse(args)
	if err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return &c, kctx.Command()
}

func TestFlagsAndEnvironment(t *testing.T) {
	t.Setenv("TIFFIN_ADDR", "0.0.0.0:9999")
	t.Setenv("TIFFIN_OFFER_TTL", "45s")
	t.Setenv("TIFFIN_SIM", "false")
	c, cmd := parse(t, "dev", "--data", "/tmp/x")
	if cmd != "dev" {
		t.Fatalf("command %q, want dev", cmd)
	}
	if c.Dev.Addr != "0.0.0.0:9999" || c.Dev.OfferTTL != 45*time.Second || c.Dev.Sim || c.Dev.Data != "/tmp/x" {
		t.Errorf("dev flags from the environment: got addr %q ttl %v sim %v data %q", c.Dev.Addr, c.Dev.OfferTTL, c.Dev.Sim, c.Dev.Data)
	}
	c, _ = parse(t, "dev", "--addr", "127.0.0.1:1", "--sim=true")
	if c.Dev.Addr != "127.0.0.1:1" || !c.Dev.Sim {
		t.Errorf("flags override the environment: got addr %q sim %v", c.Dev.Addr, c.Dev.Sim)
	}
	c, _ = parse(t, "token", "--role", "courier", "--subject", "c-1")
	if c.Token.Role != "courier" || c.Token.Subject != "c-1" {
		t.Errorf("token flags: got %+v", c.Token)
	}
}

type exited struct{}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, cmd := range []string{"dev", "serve", "migrate", "token", "sim", "version", "bench", "bench orders", "dlq", "dlq list", "dlq show", "dlq redrive"} {
		var out bytes.Buffer
		var c cli
		p, err := kong.New(&c, append(options(), kong.Writers(&out, &out), kong.Exit(func(int) { panic(exited{}) }))...)
		if err != nil {
			t.Fatal(err)
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					if _, ok := r.(exited); !ok {
						panic(r)
					}
				}
			}()
			p.Parse(append(strings.Fields(cmd), "--help"))
		}()
		if !strings.Contains(out.String(), "Usage: tiffin "+cmd) {
			t.Errorf("%s --help printed %q, want its usage", cmd, out.String())
		}
	}
}

// TestCaptureAtFlag: --capture-at (TIFFIN_CAPTURE_AT) reaches the app's config for dev and
// serve, defaults to delivery, and anything but delivery or acceptance is refused.
func TestCaptureAtFlag(t *testing.T) {
	c, _ := parse(t, "dev")
	if got := c.Dev.config(c.Log).CaptureAt; got != "delivery" {
		t.Errorf("default: got %q, want delivery", got)
	}
	c, _ = parse(t, "serve", "--db", "postgres://x", "--nats", "nats://x", "--capture-at", "acceptance")
	if got := c.Serve.config(c.Log).CaptureAt; got != "acceptance" {
		t.Errorf("serve --capture-at acceptance: got %q", got)
	}
	t.Setenv("TIFFIN_CAPTURE_AT", "acceptance")
	c, _ = parse(t, "dev")
	if got := c.Dev.config(c.Log).CaptureAt; got != "acceptance" {
		t.Errorf("TIFFIN_CAPTURE_AT=acceptance: got %q", got)
	}
	for _, args := range [][]string{{"dev", "--capture-at", "payment"}, {"serve", "--db", "postgres://x", "--nats", "nats://x", "--capture-at", "Delivery"}} {
		var c cli
		p, err := kong.New(&c, options()...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Parse(args); err == nil || !strings.Contains(err.Error(), "--capture-at") {
			t.Errorf("%v: got %v, want an error naming --capture-at", args, err)
		}
	}
	t.Setenv("TIFFIN_CAPTURE_AT", "shipping")
	var cl cli
	p, err := kong.New(&cl, options()...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse([]string{"dev"}); err == nil || !strings.Contains(err.Error(), "capture-at") {
		t.Errorf("TIFFIN_CAPTURE_AT=shipping: got %v, want an error naming --capture-at", err)
	}
}

// TestDispatchFlags: the dispatch flags parse, and values outside what works are refused
// before anything starts.
func TestDispatchFlags(t *testing.T) {
	c, _ := parse(t, "dev", "--dispatch", "greedy", "--dispatch-round", "2s", "--max-bundle", "3")
	if c.Dev.Dispatch != "greedy" || c.Dev.DispatchRound != 2*time.Second || c.Dev.MaxBundle != 3 {
		t.Fatalf("dispatch flags: got %q %v %d", c.Dev.Dispatch, c.Dev.DispatchRound, c.Dev.MaxBundle)
	}
	if err := c.Dev.checkDispatch("dev"); err != nil {
		t.Errorf("good dispatch flags refused: %v", err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-bundle", "1000"}, "--max-bundle 1000: want 1 to 4"},
		{[]string{"--max-bundle", "0"}, "--max-bundle 0: want 1 to 4"},
		{[]string{"--dispatch-round", "1ns"}, "--dispatch-round 1ns: want 100ms to 1h"},
		{[]string{"--offer-ttl", "0s"}, "--offer-ttl 0s: want 1s to 1h"},
	} {
		c, _ := parse(t, append([]string{"serve", "--db", "x", "--nats", "y"}, tt.args...)...)
		if err := c.Serve.checkDispatch("serve"); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want an error saying %q", tt.args, err, tt.want)
		}
	}
}

// TestRateLimitFlags: the rate limit flags default to the edge's defaults, take N/UNIT:BURST
// or off, and --no-rate-limit turns everything off.
func TestRateLimitFlags(t *testing.T) {
	c, _ := parse(t, "dev")
	l := c.Dev.config(c.Log).RateLimits
	if l.Off || l.IP != httpapi.DefaultIPRate || l.Orders != httpapi.DefaultOrdersRate || l.BadTokens != httpapi.DefaultBadTokensRate ||
		l.StreamsPerPrincipal != httpapi.DefaultStreamsPerPrincipal || l.StreamsPerObject != httpapi.DefaultStreamsPerObject {
		t.Errorf("defaults: %+v", l)
	}
	c, _ = parse(t, "dev", "--rate-limit-orders", "5/m:2", "--rate-limit-ip", "off", "--trusted-proxies", "10.0.0.0/8,::1/128", "--max-streams-per-order", "4")
	l = c.Dev.config(c.Log).RateLimits
	if l.Orders != (ratelimit.Rate{N: 5, Per: time.Minute, Burst: 2}) || !l.IP.Off() || len(l.TrustedProxies) != 2 || l.StreamsPerObject != 4 {
		t.Errorf("set: %+v", l)
	}
	c, _ = parse(t, "dev", "--no-rate-limit")
	if !c.Dev.config(c.Log).RateLimits.Off {
		t.Error("--no-rate-limit left the limits on")
	}
	var cl cli
	p, err := kong.New(&cl, options()...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse([]string{"dev", "--rate-limit-orders", "lots"}); err == nil || !strings.Contains(err.Error(), "--rate-limit-orders") {
		t.Errorf("--rate-limit-orders lots: got %v, want an error naming the flag", err)
	}
}
