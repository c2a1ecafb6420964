package keyward_test

import (
	"fmt"
	"testing"

	"github.com/keyward/keyward"
)

// BenchmarkVerifyAllowlist compares POST /v1/keys/verify's Service call
// (cache hit) for a key without an allowlist and for keys with one, the
// client matching the last of n prefixes:
//
//	go test -run '^$' -bench VerifyAllowlist -benchmem .
func BenchmarkVerifyAllowlist(b *testing.B) {
	e := benchEnv(b)
	v, err := e.svc.CreateAPIKey(e.ctx, e.admin, keyward.APIKeyInput{Name: ptr("verifier"), Permissions: perms("keys:verify")})
	if err != nil {
		b.Fatal(err)
	}
	verifier, err := e.svc.Authenticate(e.ctx, keyward.Credentials{Bearer: v.ClientSecret})
	if err != nil {
		b.Fatal(err)
	}
	cidrs := func(n int) *[]string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("10.%d.0.0/16", i)
		}
		out[n-1] = "203.0.113.0/24"
		return &out
	}
	cases := []struct {
		name string
		in   keyward.APIKeyInput
	}{
		{"plain", keyward.APIKeyInput{Name: ptr("plain")}},
		{"allowlist-3", keyward.APIKeyInput{Name: ptr("three"), AllowedCIDRs: keyward.OptionalOf(cidrs(3))}},
		{"allowlist-100", keyward.APIKeyInput{Name: ptr("hundred"), AllowedCIDRs: keyward.OptionalOf(cidrs(100))}},
	}
	for _, c := range cases {
		k, err := e.svc.CreateAPIKey(e.ctx, e.admin, c.in)
		if err != nil {
			b.Fatal(err)
		}
		req := keyward.VerifyRequest{Key: k.ClientSecret, IP: "203.0.113.9"}
		b.Run("verify/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := e.svc.VerifyKey(e.ctx, verifier, req)
				if err != nil || !res.Valid {
					b.Fatalf("verify: %v %+v", err, res)
				}
			}
		})
		cred := keyward.Credentials{Bearer: k.ClientSecret, IP: "203.0.113.9"}
		b.Run("authenticate/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.svc.Authenticate(e.ctx, cred); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
