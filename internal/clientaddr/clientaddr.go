// Package clientaddr says who sent a request: its peer, or the client a
// trusted load balancer forwarded it for. The native API resolves the
// address once per request; the API, the dialects and the console then all
// read it the same way.
package clientaddr

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the load balancers in front of keyward whose
// X-Forwarded-For is believed.
type Proxies []netip.Prefix

// Trusted reports whether a is one of the proxies.
func (p Proxies) Trusted(a netip.Addr) bool {
	for _, pre := range p {
		if pre.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// Resolve replaces r.RemoteAddr with the client's address when a trusted
// proxy forwarded the request: the right-most X-Forwarded-For address that
// is not itself a trusted proxy (a malformed chain keeps the proxy's
// address). Everything downstream (rate limits, audit, logs) then sees the
// client.
func (p Proxies) Resolve(r *http.Request) {
	if len(p) == 0 {
		return
	}
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !p.Trusted(peer.Addr()) {
		return
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return // a malformed chain: keep the proxy's address
		}
		if !p.Trusted(a) {
			r.RemoteAddr = netip.AddrPortFrom(a.Unmap(), 0).String()
			return
		}
	}
}

// IP returns the caller's address without the port (after Resolve, the
// client's).
func IP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
