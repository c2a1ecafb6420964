package keyward

import (
	"context"
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"
)

// CodeIPNotAllowed is verify's answer for a key presented on behalf of a
// client outside the key's allowedCidrs (or with no client address given).
const CodeIPNotAllowed = "IP_NOT_ALLOWED"

// MaxAllowedCIDRs bounds a key's allowedCidrs.
const MaxAllowedCIDRs = 100

type clientIPKey struct{}

// WithClientIP returns ctx carrying the address of the client a request
// comes from (after trusted proxies): the address a key's allowedCidrs is
// checked against wherever its credential becomes a principal.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

// IsClientIPKey reports whether key is the one WithClientIP keeps the
// address under: a surface whose context type carries the address itself
// (one allocation per request instead of a context.WithValue) answers it
// from Value with the address as a string.
func IsClientIPKey(key any) bool {
	_, ok := key.(clientIPKey)
	return ok
}

// ClientIPFrom returns the client address ctx carries (WithClientIP, or
// a surface's own context answering IsClientIPKey), or "".
func ClientIPFrom(ctx context.Context) string { return clientIP(ctx) }

// clientIP returns the client address ctx carries, or "".
func clientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}

// ParseAllowedCIDRs validates and normalises an allowlist: each entry an
// IPv4 or IPv6 prefix (a bare address is a /32 or /128), at most
// MaxAllowedCIDRs, duplicates removed, order kept. field names the input
// in errors.
func ParseAllowedCIDRs(field string, in []string) ([]string, []FieldError) {
	var errs []FieldError
	if len(in) > MaxAllowedCIDRs {
		return nil, []FieldError{{Field: field, Message: "at most " + strconv.Itoa(MaxAllowedCIDRs) + " entries"}}
	}
	out := make([]string, 0, len(in))
	seen := map[netip.Prefix]bool{}
	for i, s := range in {
		p, ok := parsePrefix(strings.TrimSpace(s))
		if !ok {
			errs = append(errs, FieldError{Field: field + "[" + strconv.Itoa(i) + "]",
				Message: "must be an IPv4 or IPv6 address or CIDR prefix, e.g. 203.0.113.0/24 or 2001:db8::/32"})
			continue
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p.String())
		}
	}
	return out, errs
}

// parsePrefix parses an address or a prefix, masked; an IPv4-mapped IPv6
// address is its IPv4 address, as clients are compared.
func parsePrefix(s string) (netip.Prefix, bool) {
	if s == "" || strings.Contains(s, "%") {
		return netip.Prefix{}, false
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), true
}

// prefixes parses stored, normalised allowlist entries; an entry that does
// not parse (never written by keyward) allows nothing.
func prefixes(cidrs []string) []netip.Prefix {
	if len(cidrs) == 0 {
		return nil
	}
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, s := range cidrs {
		if p, ok := parsePrefix(s); ok {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		// Entries were given but none parses: allow nothing rather than all.
		out = append(out, netip.Prefix{})
	}
	return out
}

// allowList is a key's allowedCidrs as the verify path checks them: IPv4
// prefixes as network and mask, compared as integers, IPv6 as prefixes.
type allowList struct {
	set bool        // the key has an allowlist (which may allow nothing)
	v4  [][2]uint32 // network, mask
	v6  []netip.Prefix
}

// newAllowList compiles stored, normalised allowlist entries.
func newAllowList(cidrs []string) allowList {
	l := allowList{set: len(cidrs) > 0}
	for _, p := range prefixes(cidrs) {
		switch {
		case !p.IsValid():
		case p.Addr().Is4():
			b := p.Addr().As4()
			mask := uint32(0)
			if p.Bits() > 0 {
				mask = ^uint32(0) << (32 - p.Bits())
			}
			l.v4 = append(l.v4, [2]uint32{binary.BigEndian.Uint32(b[:]) & mask, mask})
		default:
			l.v6 = append(l.v6, p)
		}
	}
	return l
}

// ipAllowed reports whether ip may use a key with allowlist l (none: any
// address). An allowlisted key is refused when the address is unknown or
// does not parse.
func ipAllowed(l allowList, ip string) bool {
	if !l.set {
		return true
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		b := a.As4()
		x := binary.BigEndian.Uint32(b[:])
		for _, e := range l.v4 {
			if x&e[1] == e[0] {
				return true
			}
		}
		return false
	}
	for _, p := range l.v6 {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// checkIP refuses snap's key for a request from the client address ctx
// carries when the address is outside the key's allowedCidrs.
func (snap *keySnapshot) checkIP(ctx context.Context) error {
	if !snap.allowed.set || ipAllowed(snap.allowed, clientIP(ctx)) {
		return nil
	}
	return Errorf(EIPNOTALLOWED, "this key may not be used from this address")
}

// widensAllowlist reports whether next lets in an address prev did not.
// An empty list allows every address. A prefix of next counts as covered
// only when one prefix of prev contains it whole.
func widensAllowlist(prev, next []string) bool {
	if len(prev) == 0 {
		return false
	}
	if len(next) == 0 {
		return true
	}
	pp := prefixes(prev)
	for _, q := range prefixes(next) {
		covered := false
		for _, p := range pp {
			if p.IsValid() && q.IsValid() && p.Addr().Is4() == q.Addr().Is4() && p.Bits() <= q.Bits() && p.Contains(q.Addr()) {
				covered = true
				break
			}
		}
		if !covered {
			return true
		}
	}
	return false
}

// validIP reports whether s is an IPv4 or IPv6 address.
func validIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}
