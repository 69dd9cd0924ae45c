// Package netguard keeps outbound requests to addresses that outsiders give tiffin (webhook
// endpoints a restaurant or an integrator registers) off the platform's own network: loopback,
// private, link-local (cloud metadata at 169.254.169.254), shared, reserved and multicast
// addresses are refused.
//
// The check runs on the address actually dialled, after name resolution (net.Dialer.Control),
// so a name that resolves to a refused address, or is re-resolved to one between a check and
// the dial (DNS rebinding), is refused as well, and so is every redirect, whose connection is
// dialled the same way. The ranges are those of the IANA special-purpose address registries
// (RFC 6890 and its updates) that are not globally reachable.
package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrRefused is returned (wrapped) by a dial to a refused address.
var ErrRefused = errors.New("netguard: destination address refused")

// Policy says which destinations a dial may reach. The zero value refuses every address that
// is not globally reachable.
type Policy struct {
	// AllowLoopback lets dials reach 127.0.0.0/8 and ::1: a development setting, for a
	// receiver run on the same machine.
	AllowLoopback bool
	// Allow lists prefixes reachable even though they would be refused (a partner on a
	// private network the operator trusts).
	Allow []netip.Prefix
}

// notGlobal are the special-purpose ranges netip's predicates do not cover.
var notGlobal = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (carrier-grade NAT)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments
}

// nat64 is the well-known NAT64 prefix: its addresses carry an IPv4 address in their last
// 32 bits, which is judged in their place. sixToFour is the 6to4 prefix, whose addresses
// carry one in bits 16-47.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// Refused says why ip may not be dialled under p, or "" if it may.
func (p Policy) Refused(ip netip.Addr) string {
	ip = ip.Unmap() // ::ffff:10.0.0.1 is 10.0.0.1
	if ip.Is6() && nat64.Contains(ip) {
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	if ip.Is6() && sixToFour.Contains(ip) {
		// 2002:AABB:CCDD::/48 is the 6to4 prefix of IPv4 AA.BB.CC.DD (RFC 3056): judge that.
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
	}
	for _, a := range p.Allow {
		if a.Contains(ip) {
			return ""
		}
	}
	switch {
	case !ip.IsValid():
		return "not an IP address"
	case ip.IsLoopback():
		if p.AllowLoopback {
			return ""
		}
		return "loopback"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast():
		return "link-local (cloud metadata lives there)"
	case ip.IsMulticast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast():
		return "multicast"
	}
	for _, n := range notGlobal {
		if n.Contains(ip) {
			return "not globally reachable (" + n.String() + ")"
		}
	}
	return ""
}

// Control is a net.Dialer.Control function: it refuses a connection to an address p refuses,
// before the connection is made.
func (p Policy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s %q: %w", ErrRefused, network, address, err)
	}
	if why := p.Refused(ap.Addr()); why != "" {
		return fmt.Errorf("%w: %s is %s", ErrRefused, ap.Addr(), why)
	}
	return nil
}

// Client returns an HTTP client whose every connection, redirects included, is dialled under
// p, that follows at most 3 redirects, uses no proxy from the environment (a proxy would dial
// in our place), and gives up on a request after timeout.
func (p Policy) Client(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout, Control: p.Control}
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Transport: t,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return fmt.Errorf("netguard: stopped after %d redirects", len(via))
			}
			return nil
		},
	}
}
