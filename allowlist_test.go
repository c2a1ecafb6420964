package keyward

import (
	"slices"
	"strconv"
	"testing"
)

func TestParseAllowedCIDRs(t *testing.T) {
	tests := []struct {
		in   []string
		want []string
		bad  int // how many entries are refused
	}{
		{[]string{"10.1.2.3/8", " 192.0.2.1 ", "2001:DB8::1", "::ffff:198.51.100.0/120", "::/0"},
			[]string{"10.0.0.0/8", "192.0.2.1/32", "2001:db8::1/128", "198.51.100.0/24", "::/0"}, 0},
		{[]string{"10.0.0.0/8", "10.9.9.9/8"}, []string{"10.0.0.0/8"}, 0},
		{[]string{"nope", "10.0.0.0/33", "", "fe80::1%eth0", "1.2.3.4/-1"}, []string{}, 5},
		{nil, []string{}, 0},
	}
	for _, tt := range tests {
		got, errs := ParseAllowedCIDRs("allowedCidrs", tt.in)
		if len(errs) != tt.bad || (tt.bad == 0 && !slices.Equal(got, tt.want)) {
			t.Errorf("%q: got %q, %d errors; want %q, %d errors", tt.in, got, len(errs), tt.want, tt.bad)
		}
	}
	if _, errs := ParseAllowedCIDRs("allowedCidrs", make([]string, MaxAllowedCIDRs+1)); len(errs) != 1 || errs[0].Field != "allowedCidrs" {
		t.Errorf("101 entries: got %v, want one error on allowedCidrs", errs)
	}
}

func TestIPAllowed(t *testing.T) {
	list := newAllowList([]string{"10.0.0.0/8", "2001:db8::/32"})
	for ip, want := range map[string]bool{
		"10.1.2.3": true, "11.0.0.1": false, "::ffff:10.0.0.1": true, "2001:db8::5": true, "2001:db9::5": false,
		"": false, "garbage": false, "fe80::1%eth0": false,
	} {
		if got := ipAllowed(list, ip); got != want {
			t.Errorf("%q: got %v, want %v", ip, got, want)
		}
	}
	if !ipAllowed(newAllowList(nil), "") {
		t.Errorf("no allowlist: an unknown address must be allowed")
	}
	for _, tt := range []struct {
		list []string
		ip   string
		want bool
	}{
		{[]string{"0.0.0.0/0"}, "203.0.113.1", true},
		{[]string{"0.0.0.0/0"}, "2001:db8::1", false},
		{[]string{"::/0"}, "203.0.113.1", false},
		{[]string{"192.0.2.7/32"}, "192.0.2.7", true},
		{[]string{"192.0.2.7/32"}, "192.0.2.6", false},
		{[]string{"192.0.2.0/31"}, "192.0.2.1", true},
		{[]string{"192.0.2.0/31"}, "192.0.2.2", false},
		{[]string{"garbage"}, "192.0.2.2", false},
	} {
		if got := ipAllowed(newAllowList(tt.list), tt.ip); got != tt.want {
			t.Errorf("%v, %s: got %v, want %v", tt.list, tt.ip, got, tt.want)
		}
	}
}

func TestWidensAllowlist(t *testing.T) {
	tests := []struct {
		prev, next []string
		want       bool
	}{
		{nil, []string{"10.0.0.0/8"}, false},
		{nil, nil, false},
		{[]string{"10.0.0.0/8"}, nil, true},
		{[]string{"10.0.0.0/8"}, []string{"10.1.0.0/16"}, false},
		{[]string{"10.1.0.0/16"}, []string{"10.0.0.0/8"}, true},
		{[]string{"10.0.0.0/8"}, []string{"10.1.0.0/16", "192.0.2.1/32"}, true},
		{[]string{"0.0.0.0/0"}, []string{"::/0"}, true},
		{[]string{"2001:db8::/32", "10.0.0.0/8"}, []string{"2001:db8:1::/48"}, false},
	}
	for _, tt := range tests {
		if got := widensAllowlist(tt.prev, tt.next); got != tt.want {
			t.Errorf("%v -> %v: got %v, want %v", tt.prev, tt.next, got, tt.want)
		}
	}
}

// BenchmarkIPAllowed is the allowlist check alone: the client matches the
// last of 100 IPv4 prefixes, or an IPv6 one.
func BenchmarkIPAllowed(b *testing.B) {
	cidrs := make([]string, 100)
	for i := range cidrs {
		cidrs[i] = "10." + strconv.Itoa(i) + ".0.0/16"
	}
	cidrs[99] = "203.0.113.0/24"
	cidrs[98] = "2001:db8::/32"
	l := newAllowList(cidrs)
	for _, ip := range []string{"203.0.113.9", "2001:db8::7"} {
		b.Run(ip, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !ipAllowed(l, ip) {
					b.Fatal("refused")
				}
			}
		})
	}
}
