package httpapi

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/ratelimit"
)

// Limits are the edge's rate limits and stream caps. Each Rate left zero takes its default;
// a Rate of N -1 (ratelimit.ParseRate("off")) turns that one limit off, Off all of them.
type Limits struct {
	// Off turns every rate limit and stream cap off (benchmarks that are meant to saturate).
	Off bool
	// IP is every request's bucket per client address (an IPv6 client's /64). Default
	// 1000/s, burst 2000: an office, or the simulator's 50 couriers, 20 restaurants and 200
	// customers (about 100 requests a second) behind one address stay well under it.
	IP ratelimit.Rate
	// Anonymous is requests without a token, per client address. Default 100/s, burst 200.
	Anonymous ratelimit.Rate
	// Principal is requests with a valid token, per principal (role and subject). Default
	// 50/s, burst 200: a courier app sends about 5 a second.
	Principal ratelimit.Rate
	// Orders is order placement (POST /v1/orders), per principal. Default 30/m, burst 10.
	Orders ratelimit.Rate
	// BadTokens is requests answered 401 for their token, per client address; once empty,
	// requests with a token are answered 429 before the token is verified. Default 1/s, burst 30.
	BadTokens ratelimit.Rate
	// StreamsPerPrincipal caps a principal's event streams open at once (per replica).
	// Default 8.
	StreamsPerPrincipal int
	// StreamsPerObject caps the event streams open at once on one object, e.g. one order's
	// (per replica). Default 16.
	StreamsPerObject int
	// TrustedProxies are the addresses whose X-Forwarded-For is believed: the client address
	// is the last one in it not in these prefixes. Default none: the socket's address.
	TrustedProxies []netip.Prefix
	// Limiter holds the buckets. Default: this process's memory (ratelimit.Local).
	Limiter ratelimit.Limiter
}

// The defaults of Limits.
var (
	DefaultIPRate        = ratelimit.Rate{N: 1000, Per: time.Second, Burst: 2000}
	DefaultAnonymousRate = ratelimit.Rate{N: 100, Per: time.Second, Burst: 200}
	DefaultPrincipalRate = ratelimit.Rate{N: 50, Per: time.Second, Burst: 200}
	DefaultOrdersRate    = ratelimit.Rate{N: 30, Per: time.Minute, Burst: 10}
	DefaultBadTokensRate = ratelimit.Rate{N: 1, Per: time.Second, Burst: 30}
)

// Default stream caps.
const (
	DefaultStreamsPerPrincipal = 8
	DefaultStreamsPerObject    = 16
)

func (l *Limits) setDefaults() {
	set := func(r *ratelimit.Rate, d ratelimit.Rate) {
		if *r == (ratelimit.Rate{}) {
			*r = d
		}
	}
	set(&l.IP, DefaultIPRate)
	set(&l.Anonymous, DefaultAnonymousRate)
	set(&l.Principal, DefaultPrincipalRate)
	set(&l.Orders, DefaultOrdersRate)
	set(&l.BadTokens, DefaultBadTokensRate)
	if l.StreamsPerPrincipal == 0 {
		l.StreamsPerPrincipal = DefaultStreamsPerPrincipal
	}
	if l.StreamsPerObject == 0 {
		l.StreamsPerObject = DefaultStreamsPerObject
	}
	if l.Limiter == nil {
		l.Limiter = ratelimit.NewLocal(nil)
	}
}

// placeOrder is the route with the Orders limit.
const placeOrder = "POST /v1/orders"

// guard authenticates each request and holds it to the limits and the Access table, in the
// order that costs an abuser most and the edge least: the client address's bucket; for a
// request with a token, the address's bad-token bucket (looked at before verifying: once
// empty, 429 without verifying), then the token (a 401 takes one from that bucket); the
// anonymous or the principal's bucket; the route's roles; order placement's bucket; the
// stream caps. Each rate-limited answer says where its client stands in the IETF RateLimit
// fields, draft-ietf-httpapi-ratelimit-headers-10:
//
//	RateLimit-Policy: "principal";q=200;w=4
//	RateLimit: "principal";r=0;t=1
//
// q is the bucket's burst and w (seconds) the time an empty one takes to fill, r what is left
// and t (seconds) until it is full; a 429 carries them for the bucket that refused, with
// Retry-After (seconds) until one more request would be taken; other answers carry them for
// the most specific bucket that counted the request.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lim := &s.cfg.Limits
		ip := s.clientIP(r)
		r = r.WithContext(context.WithValue(r.Context(), clientIPKey{}, ip))
		if !s.take(w, r, "ip", "ip:"+ip, lim.IP, 1) {
			return
		}
		p, ok, token := s.verify(w, r, ip)
		if !ok {
			return
		}
		if token {
			r = r.WithContext(auth.WithPrincipal(r.Context(), p))
			if !s.take(w, r, "principal", "p:"+string(p.Role)+":"+p.Subject, lim.Principal, 1) {
				return
			}
		} else if !s.take(w, r, "anonymous", "anon:"+ip, lim.Anonymous, 1) {
			return
		}
		_, pattern := s.mux.Handler(r)
		if status, msg := s.roleFor(r, pattern); status != 0 {
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="tiffin"`)
			}
			WriteProblem(w, status, msg)
			return
		}
		if pattern == placeOrder && token && !s.take(w, r, "orders", "o:"+string(p.Role)+":"+p.Subject, lim.Orders, 1) {
			return
		}
		if pattern != "" && isStream(r) && !lim.Off {
			who := "anon:" + ip
			if token {
				who = string(p.Role) + ":" + p.Subject
			}
			release, ok := s.streamSlots.acquire(who, r.URL.Path, lim.StreamsPerPrincipal, lim.StreamsPerObject)
			if !ok {
				w.Header().Set("Retry-After", "5")
				WriteProblem(w, http.StatusTooManyRequests, fmt.Sprintf(
					"too many event streams open: at most %d per caller and %d per object; close one first",
					lim.StreamsPerPrincipal, lim.StreamsPerObject))
				return
			}
			defer release()
		}
		next.ServeHTTP(w, r)
	})
}

// verify authenticates r's bearer token, if it has one: ok false when it wrote the answer
// (401, or 429 once the address's bad-token bucket is empty), token whether p is a principal.
func (s *Server) verify(w http.ResponseWriter, r *http.Request, ip string) (p auth.Principal, ok, token bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return p, true, false
	}
	bad := s.cfg.Limits.BadTokens
	if !s.take(w, r, "bad-tokens", "bad:"+ip, bad, 0) {
		return p, false, false
	}
	refuse := func(msg, challenge string) {
		s.take(w, r, "bad-tokens", "bad:"+ip, bad, 1)
		w.Header().Set("WWW-Authenticate", challenge)
		WriteProblem(w, http.StatusUnauthorized, msg)
	}
	raw, found := strings.CutPrefix(h, "Bearer ")
	if !found {
		refuse("Authorization header must be 'Bearer <token>'", `Bearer realm="tiffin"`)
		return p, false, false
	}
	p, err := s.cfg.Keys.Verify(r.Context(), strings.TrimSpace(raw))
	if err != nil {
		refuse("invalid or expired bearer token", `Bearer realm="tiffin", error="invalid_token"`)
		return p, false, false
	}
	return p, true, true
}

// take takes n (0: looks) from key's bucket of rate and sets the RateLimit fields for it; when
// the bucket refuses, it answers 429 and returns false. With limits off it takes nothing.
func (s *Server) take(w http.ResponseWriter, r *http.Request, name, key string, rate ratelimit.Rate, n int) bool {
	if s.cfg.Limits.Off || rate.Off() {
		return true
	}
	d, err := s.cfg.Limits.Limiter.Allow(r.Context(), key, rate, n)
	if err != nil {
		s.logger.WarnContext(r.Context(), "rate limit unavailable: request let through", "err", err)
		return true
	}
	h := w.Header()
	h.Set("RateLimit-Policy", fmt.Sprintf("%q;q=%d;w=%d", name, rate.Quota(), ratelimit.Seconds(rate.Window(), 1)))
	h.Set("RateLimit", fmt.Sprintf("%q;r=%d;t=%d", name, max(0, d.Remaining), ratelimit.Seconds(d.Reset, 0)))
	if d.Allowed {
		return true
	}
	h.Set("Retry-After", strconv.Itoa(ratelimit.Seconds(d.RetryAfter, 1)))
	WriteProblem(w, http.StatusTooManyRequests, "too many requests: slow down and retry after the time in Retry-After")
	return false
}

// clientIP is the address r's client is counted by: the socket's peer or, when that is a
// trusted proxy, the last address in X-Forwarded-For that is not one; an IPv6 client's /64
// (one subscriber's usual share).
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap()
	if s.trusted(addr) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break
			}
			addr = hop.Unmap()
			if !s.trusted(addr) {
				break
			}
		}
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.Limits.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// streamSlots counts the event streams open per caller and per object.
type streamSlots struct {
	mu     sync.Mutex
	counts map[string]int
}

// acquire takes a slot for who and for object unless either is at its cap; release gives
// them back.
func (c *streamSlots) acquire(who, object string, perWho, perObject int) (release func(), ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	kw, ko := "w:"+who, "o:"+object
	if (perWho > 0 && c.counts[kw] >= perWho) || (perObject > 0 && c.counts[ko] >= perObject) {
		return nil, false
	}
	c.counts[kw]++
	c.counts[ko]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, k := range []string{kw, ko} {
				if c.counts[k]--; c.counts[k] <= 0 {
					delete(c.counts, k)
				}
			}
		})
	}, true
}

// Streams is how many event streams are open through the edge now.
func (s *Server) Streams() int {
	s.streamSlots.mu.Lock()
	defer s.streamSlots.mu.Unlock()
	n := 0
	for k, v := range s.streamSlots.counts {
		if strings.HasPrefix(k, "o:") {
			n += v
		}
	}
	return n
}

type clientIPKey struct{}

// ClientIP is the address the edge counts the request of ctx by (see clientIP: a trusted
// proxy's X-Forwarded-For, an IPv6 client's /64), or "" outside a request the edge guarded.
func ClientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}
