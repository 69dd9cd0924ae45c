package httpapi_test

import (
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/httpapi"
	"github.com/tiffin-dev/tiffin/internal/ratelimit"
)

// TestLimitsByAddress: clients are counted by the socket's address unless it is a trusted
// proxy, whose X-Forwarded-For then names the client (the last address in it that is not
// itself a trusted proxy); an untrusted peer's X-Forwarded-For changes nothing.
func TestLimitsByAddress(t *testing.T) {
	t.Parallel()
	one := ratelimit.Rate{N: 1, Per: time.Hour, Burst: 1}
	for _, tt := range []struct {
		name    string
		trusted []netip.Prefix
		xff     []string
		want    []int
	}{
		{"no trusted proxy", nil,
			[]string{"198.51.100.1", "198.51.100.2"}, []int{200, 429}},
		{"behind a trusted proxy", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			[]string{"198.51.100.1", "198.51.100.1", "198.51.100.2", "198.51.100.3, 127.0.0.2", "203.0.113.7, 198.51.100.3"},
			[]int{200, 429, 200, 200, 429}},
		{"an IPv6 client's /64", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
			[]string{"2001:db8:1:2::1", "2001:db8:1:2::ffff", "2001:db8:1:3::1"}, []int{200, 429, 200}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEdge(t, httpapi.Config{Limits: httpapi.Limits{Anonymous: one, TrustedProxies: tt.trusted}})
			for i, xff := range tt.xff {
				req, _ := http.NewRequest("GET", e.URL+"/v1/things/t-1", nil)
				req.Header.Set("X-Forwarded-For", xff)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tt.want[i] {
					t.Errorf("request %d (X-Forwarded-For %s): got %d, want %d", i, xff, resp.StatusCode, tt.want[i])
				}
				if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
					t.Errorf("request %d: 429 without Retry-After", i)
				}
			}
		})
	}
}
