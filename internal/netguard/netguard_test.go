package netguard_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/netguard"
)

func TestRefused(t *testing.T) {
	var p netguard.Policy
	refused := []string{
		"127.0.0.1", "127.8.9.10", "::1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
		"fe80::1", "fd00:ec2::254", "0.0.0.0", "::", "100.64.0.1", "255.255.255.255", "224.0.0.1",
		"::ffff:10.0.0.1", "::ffff:127.0.0.1", "64:ff9b::a00:1", "2002:a9fe:a9fe::", "2002:7f00:1::", "198.18.0.1", "192.0.0.8", "ff02::1",
	}
	for _, s := range refused {
		if why := p.Refused(netip.MustParseAddr(s)); why == "" {
			t.Errorf("%s: allowed, want refused", s)
		}
	}
	allowed := []string{"93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::1", "172.32.0.1"}
	for _, s := range allowed {
		if why := p.Refused(netip.MustParseAddr(s)); why != "" {
			t.Errorf("%s: refused (%s), want allowed", s, why)
		}
	}
	dev := netguard.Policy{AllowLoopback: true}
	if why := dev.Refused(netip.MustParseAddr("127.0.0.1")); why != "" {
		t.Errorf("loopback with AllowLoopback: refused (%s)", why)
	}
	if why := dev.Refused(netip.MustParseAddr("10.0.0.1")); why == "" {
		t.Error("10.0.0.1 with AllowLoopback: allowed, want refused")
	}
	partner := netguard.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}
	if why := partner.Refused(netip.MustParseAddr("10.1.2.3")); why != "" {
		t.Errorf("an allowed prefix: refused (%s)", why)
	}
}

// The client refuses by the address it dials: an IP, a name that resolves to loopback, and a
// redirect from an allowed address to a refused one.
func TestClientRefusesWhatItDials(t *testing.T) {
	hit := make(chan string, 4)
	inside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit <- "inside" }))
	defer inside.Close()
	_, port, _ := net.SplitHostPort(inside.Listener.Addr().String())

	p := netguard.Policy{}
	c := p.Client(5 * time.Second)
	for _, u := range []string{inside.URL, "http://localhost:" + port + "/", "http://[::1]:" + port + "/"} {
		resp, err := c.Get(u)
		if err == nil {
			resp.Body.Close()
			t.Errorf("GET %s: answered %d, want refused", u, resp.StatusCode)
			continue
		}
		if !errors.Is(err, netguard.ErrRefused) {
			t.Errorf("GET %s: %v, want ErrRefused", u, err)
		}
	}

	// An "outside" server (allowed by an exception: tests have only loopback) that redirects
	// to the inside one.
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 on this machine: %v", err)
	}
	outside := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit <- "outside"
		http.Redirect(w, r, inside.URL+"/metadata", http.StatusFound)
	})}}
	outside.Start()
	defer outside.Close()
	c = netguard.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}.Client(5 * time.Second)
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, outside.URL, nil)
	resp, err := c.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("redirect to loopback: answered %d, want refused", resp.StatusCode)
	}
	if !errors.Is(err, netguard.ErrRefused) {
		t.Errorf("redirect to loopback: %v, want ErrRefused", err)
	}
	close(hit)
	for h := range hit {
		if h == "inside" {
			t.Error("a refused server was reached")
		}
	}
}
