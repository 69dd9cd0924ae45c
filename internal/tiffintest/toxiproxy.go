package tiffintest

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tiffin-dev/tiffin/internal/store"
)

// Proxy is an in-process Toxiproxy between the code under test and a server (PostgreSQL, say),
// to take the server away without touching it: the shared servers on the project machines
// must never be stopped.
type Proxy struct {
	tb    testing.TB
	proxy *toxiproxy.Proxy

	mu    sync.Mutex
	state string // "up", "refused" or "blackhole"
}

// NewProxy starts a proxy on a free local port forwarding to upstream (host:port) and stops
// it when the test ends.
func NewProxy(tb testing.TB, upstream string) *Proxy {
	tb.Helper()
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(server, "upstream", "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		tb.Fatalf("start toxiproxy to %s: %v", upstream, err)
	}
	tb.Cleanup(p.Stop)
	return &Proxy{tb: tb, proxy: p, state: "up"}
}

// Addr is where the proxy listens (host:port).
func (p *Proxy) Addr() string { return p.proxy.Listen }

// Refuse takes the server away as a stopped server would: connections through the proxy are
// closed and new ones refused.
func (p *Proxy) Refuse() {
	p.tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.proxy.Stop()
	p.state = "refused"
}

// Blackhole takes the server away as a network partition would: connections stay open and
// new ones are accepted, but nothing passes either way, so every read waits.
func (p *Proxy) Blackhole() {
	p.tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, dir := range []string{"upstream", "downstream"} {
		body := `{"name":"blackhole_` + dir + `","type":"timeout","stream":"` + dir + `","toxicity":1,"attributes":{"timeout":0}}`
		if _, err := p.proxy.Toxics.AddToxicJson(strings.NewReader(body)); err != nil {
			p.tb.Fatalf("add blackhole toxic: %v", err)
		}
	}
	p.state = "blackhole"
}

// Restore brings the server back: the proxy listens again, or the blackhole is lifted (which
// closes the connections it held, as a healed partition's peers would find them reset).
func (p *Proxy) Restore() {
	p.tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.state {
	case "refused":
		if err := p.proxy.Start(); err != nil {
			p.tb.Fatalf("restart toxiproxy: %v", err)
		}
	case "blackhole":
		for _, dir := range []string{"upstream", "downstream"} {
			if err := p.proxy.Toxics.RemoveToxic(context.Background(), "blackhole_"+dir); err != nil {
				p.tb.Fatalf("remove blackhole toxic: %v", err)
			}
		}
	}
	p.state = "up"
}

// PostgresBehindProxy returns a DSN for a fresh PostgreSQL schema (as DSN does) that reaches
// the server through a new Proxy, and the proxy. It skips like DSN when there is no server.
func PostgresBehindProxy(tb testing.TB) (string, *Proxy) {
	tb.Helper()
	dsn := DSN(tb, store.Postgres)
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("parse %s: %v", dsn, err)
	}
	p := NewProxy(tb, u.Host)
	u.Host = p.Addr()
	return u.String(), p
}
