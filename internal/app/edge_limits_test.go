package app_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/app"
	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// slowConn is one connection of a slow flood: it sends its request's head (all of it, or for
// a slow-headers connection only part of its headers) and then a byte at a time; opened and
// closed record when it was dialled and when the server closed it, answered the status of the
// server's answer before it closed it (0 for none).
type slowConn struct {
	c              net.Conn
	opened, closed time.Time
	answered       int
}

// TestSlowFlood (issue 8, failure 2): connections that declare a body and send it a byte at a
// time, anonymously or with a token, and connections that send their headers a byte at a time,
// are cut off: the anonymous ones at once (their answer, 401, does not wait for the body, which
// is closed, not drained), the others at the read deadline; while they are all open, a
// legitimate client is served within 1 s, and nothing answers 5xx. 300 connections (1,000 with
// TIFFIN_SLOW=1, as CI runs it). Not parallel: the 1 s is measured with the machine's two
// cores shared with this test's flood, not with every other app the package boots.
func TestSlowFlood(t *testing.T) {
	n := 300
	if os.Getenv("TIFFIN_SLOW") == "1" {
		n = 1000
	}
	const deadline = 3 * time.Second
	// The flood comes from one address here, as it would from many in an attack: with the rate
	// limits on, this address's anonymous requests past 200 would be refused at once (429),
	// which TestBurstFromOneClient covers. This test is about what the read deadline does to
	// the requests the limits let in, so they stay off (apptest's default).
	a := apptest.Start(t, store.SQLite, func(c *app.Config) { c.ReadTimeout = deadline })
	m := seed(t, a, "r-1", "owner-1")
	customer := a.Token(auth.Customer, "cust-flood")
	addr := strings.TrimPrefix(a.URL, "http://")

	kinds := []struct {
		name string
		head string
		cut  time.Duration // how long after it was dialled the server must have closed it
	}{
		{"anonymous body", "POST /v1/orders HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", time.Second},
		{"anonymous body, no route", "POST /v1/nowhere HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n{", time.Second},
		{"body with a token", "POST /v1/orders HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nIdempotency-Key: k\r\nAuthorization: Bearer " + customer + "\r\nContent-Length: 100000\r\n\r\n{", deadline + 2*time.Second},
		{"slow headers", "GET /v1/restaurants HTTP/1.1\r\nHost: t\r\nX-Slow: ", deadline + 2*time.Second},
	}
	conns := make([][]*slowConn, len(kinds))
	var open atomic.Int64 // flood connections the server has not closed yet
	var wg sync.WaitGroup
	for i := range n {
		k := i % len(kinds)
		opened := time.Now()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, kinds[k].head); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		sc := &slowConn{c: c, opened: opened}
		open.Add(1)
		conns[k] = append(conns[k], sc)
		wg.Go(func() {
			c.SetReadDeadline(time.Now().Add(deadline + 10*time.Second))
			br := bufio.NewReader(c)
			if resp, err := http.ReadResponse(br, nil); err == nil {
				sc.answered = resp.StatusCode
				io.Copy(io.Discard, resp.Body)
			}
			for {
				if _, err := br.ReadByte(); err != nil {
					break
				}
			}
			sc.closed = time.Now()
			open.Add(-1)
		})
	}
	stop := make(chan struct{})
	trickled := make(chan struct{})
	go func() { // a byte every 250ms on every connection until it is closed
		defer close(trickled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
			for _, cs := range conns {
				for _, sc := range cs {
					sc.c.Write([]byte("a"))
				}
			}
		}
	}()

	// While the flood is open, a legitimate client is served within 1 s: a read and a checkout.
	time.Sleep(500 * time.Millisecond)
	if got := open.Load(); got < int64(n/2) {
		t.Fatalf("only %d of %d flood connections open when the legitimate client came, want the slow half at least", got, n)
	}
	for i, req := range []func() apptest.Response{
		func() apptest.Response { return a.Do("GET", "/v1/restaurants/r-1/menu", "", nil) },
		func() apptest.Response {
			return a.Do("POST", "/v1/orders", a.Token(auth.Customer, "cust-1"), orderBody("r-1", m.Items[0].ID, 1), "Idempotency-Key", "legit")
		},
	} {
		t0 := time.Now()
		r := req()
		if took := time.Since(t0); took > time.Second || r.Status >= 300 {
			t.Errorf("legitimate request %d during the flood: %d after %v, want served within 1s", i, r.Status, took)
		}
	}
	wg.Wait()
	close(stop)
	<-trickled

	for k, kind := range kinds {
		late := 0
		var worst time.Duration
		for _, sc := range conns[k] {
			took := sc.closed.Sub(sc.opened)
			worst = max(worst, took)
			if took > kind.cut {
				late++
			}
		}
		if late > 0 {
			t.Errorf("%s: %d of %d connections still open %v after they were dialled (the last closed after %v)", kind.name, late, len(conns[k]), kind.cut, worst)
		}
	}
	for _, sc := range conns[0] {
		if sc.answered != http.StatusUnauthorized {
			t.Errorf("anonymous body: answered %d, want 401 before the body arrives", sc.answered)
			break
		}
	}
	if fives := grepMetric(a.Metrics(), `code="5`); fives != "" {
		t.Errorf("server errors during the flood:\n%s", fives)
	}
}

func grepMetric(scrape, substr string) string {
	var out []string
	for line := range strings.Lines(scrape) {
		if strings.HasPrefix(line, "tiffin_http_requests_total") && strings.Contains(line, substr) {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return strings.Join(out, "\n")
}

// TestMetricsOnTheEdge (issue 8, failure 4): without --metrics-addr, /metrics refuses anonymous
// callers and non-ops tokens while /healthz and /readyz stay public; a real route is labelled
// with its pattern; 3,000 requests with invented methods grow a scrape by one series.
func TestMetricsOnTheEdge(t *testing.T) {
	t.Parallel()
	// 3,000 requests from one address at once are refused by the rate limits past a point
	// (TestBurstFromOneClient); here they stay off (apptest's default), so all 3,000 reach the mux.
	a := apptest.Start(t, store.SQLite, nil)
	for _, tt := range []struct {
		path, token string
		status      int
	}{
		{"/metrics", "", 401},
		{"/metrics", "garbage", 401},
		{"/metrics", a.Token(auth.Customer, "c-1"), 403},
		{"/metrics", a.Token(auth.Restaurant, "owner-1"), 403},
		{"/metrics", a.Token(auth.Courier, "k-1"), 403},
		{"/metrics", a.Token(auth.Ops, "ops-1"), 200},
		{"/healthz", "", 200},
		{"/readyz", "", 200},
	} {
		if r := a.Do("GET", tt.path, tt.token, nil); r.Status != tt.status {
			t.Errorf("GET %s with token %.12q: got %d, want %d", tt.path, tt.token, r.Status, tt.status)
		}
	}
	seed(t, a, "r-1", "owner-1")
	a.Do("GET", "/v1/restaurants/r-1/menu", "", nil)
	before := a.Metrics()
	for i := range 3000 {
		a.Do(fmt.Sprintf("INVENTED%d", i), "/v1/restaurants", "", nil)
	}
	after := a.Metrics()
	if grown := len(after) - len(before); grown > 8<<10 {
		t.Errorf("3,000 invented methods grew the scrape by %d bytes (%d -> %d), want one series", grown, len(before), len(after))
	}
	for _, want := range []string{
		`code="200",method="GET",route="/v1/restaurants/{id}/menu"`,
		`code="405",method="other",route="unmatched"} 3000`,
	} {
		if !strings.Contains(after, want) {
			t.Errorf("scrape lacks %s:\n%s", want, grepMetric(after, ""))
		}
	}
	if strings.Contains(after, "INVENTED") {
		t.Error("an invented method is a label value")
	}
}

// TestMetricsApart: with --metrics-addr, /metrics is served there to anyone and not on the
// edge, even to ops.
func TestMetricsApart(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	a := apptest.Start(t, store.SQLite, func(c *app.Config) {
		c.MetricsAddr = "127.0.0.1:0"
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	line := ""
	for l := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(l, "tiffin is serving") {
			line = l
		}
	}
	if !strings.Contains(line, "metrics="+a.MetricsURL()+"/metrics") {
		t.Errorf("startup line %q does not give the metrics listener's URL %s/metrics", line, a.MetricsURL())
	}
	if r := a.Do("GET", "/metrics", a.Token(auth.Ops, "ops-1"), nil); r.Status != http.StatusNotFound {
		t.Errorf("GET /metrics on the edge with ops: got %d, want 404", r.Status)
	}
	a.Do("GET", "/v1/restaurants", "", nil)
	if got := a.Metrics(); !strings.Contains(got, `route="/v1/restaurants"`) {
		t.Errorf("the metrics listener's scrape lacks route=\"/v1/restaurants\":\n%s", grepMetric(got, ""))
	}
	if r := a.Do("GET", "/healthz", "", nil); r.Status != http.StatusOK {
		t.Errorf("GET /healthz: got %d, want 200", r.Status)
	}
}

// TestConnectionsPerAddress: one client address holding its cap of connections open cannot
// take the edge from others: its next connection is closed at once, while a client at another
// address is served.
func TestConnectionsPerAddress(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, store.SQLite, func(c *app.Config) {
		c.RateLimits.Off = false
		c.MaxConnsPerAddr = 4
	})
	host := strings.TrimPrefix(a.URL, "http://")
	dialFrom := func(ip string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		c, err := d.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	for range 4 {
		c := dialFrom("127.0.0.2")
		c.Write([]byte("GET /v1/restaurants HTTP/1.1\r\nHost: x\r\n")) // headers never finished
	}
	extra := dialFrom("127.0.0.2")
	extra.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a fifth connection from one address: read %v, want it closed at once", err)
	}
	other := dialFrom("127.0.0.3")
	start := time.Now()
	other.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(other, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	line, err := bufio.NewReader(other).ReadString('\n')
	if err != nil || !strings.Contains(line, " 200 ") {
		t.Fatalf("another address while the first holds its cap: %q, %v (after %v)", line, err, time.Since(start))
	}
}
