package bench

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// dbProxy is a Toxiproxy in the bench's process between tiffin and PostgreSQL, so the database
// scenario can take the database away (as a network partition would) without touching the
// server, which others may be using.
type dbProxy struct {
	proxy *toxiproxy.Proxy
	holed bool
}

// newDBProxy starts a proxy to the server of the postgres URL dsn and returns it with dsn
// rewritten to go through it.
func newDBProxy(dsn string) (*dbProxy, string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, "", fmt.Errorf("parse postgres URL: %w", err)
	}
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(server, "postgres", "127.0.0.1:0", u.Host)
	if err := p.Start(); err != nil {
		return nil, "", fmt.Errorf("start a proxy to %s: %w", u.Host, err)
	}
	u.Host = p.Listen
	return &dbProxy{proxy: p}, u.String(), nil
}

// blackhole lets nothing through either way while connections stay open, so every read waits.
func (d *dbProxy) blackhole() error {
	for _, dir := range []string{"upstream", "downstream"} {
		body := `{"name":"blackhole_` + dir + `","type":"timeout","stream":"` + dir + `","toxicity":1,"attributes":{"timeout":0}}`
		if _, err := d.proxy.Toxics.AddToxicJson(strings.NewReader(body)); err != nil {
			return fmt.Errorf("blackhole: %w", err)
		}
	}
	d.holed = true
	return nil
}

// restore lifts the blackhole.
func (d *dbProxy) restore() error {
	if !d.holed {
		return nil
	}
	for _, dir := range []string{"upstream", "downstream"} {
		if err := d.proxy.Toxics.RemoveToxic(context.Background(), "blackhole_"+dir); err != nil {
			return fmt.Errorf("lift the blackhole: %w", err)
		}
	}
	d.holed = false
	return nil
}

func (d *dbProxy) stop() { d.proxy.Stop() }
