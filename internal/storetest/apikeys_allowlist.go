package storetest

import (
	"testing"

	"github.com/keyward/keyward"
)

// testAPIKeyAllowlist checks that a key's allowedCidrs come back as stored,
// in order, by every read, and that an update replaces or removes them
// (none comes back nil).
func testAPIKeyAllowlist(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	tn := createTenant(t, s, "allow")
	cidrs := []string{"10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32", "::1/128"}
	k := createKey(t, s, tn.ID, func(k *keyward.APIKey) { k.AllowedCIDRs = cidrs })
	read := func(t *testing.T, want []string) {
		t.Helper()
		for name, get := range map[string]func() (*keyward.APIKey, error){
			"GetAPIKey":             func() (*keyward.APIKey, error) { return s.GetAPIKey(ctx, tn.ID, k.ID) },
			"GetAPIKeyByClientID":   func() (*keyward.APIKey, error) { return s.GetAPIKeyByClientID(ctx, k.ClientID) },
			"GetAPIKeyBySecretHash": func() (*keyward.APIKey, error) { return s.GetAPIKeyBySecretHash(ctx, k.SecretHash) },
			"ListAPIKeys": func() (*keyward.APIKey, error) {
				l, err := s.ListAPIKeys(ctx, tn.ID, keyward.APIKeyFilter{Page: keyward.Page{Number: 1, Size: 10}})
				if err != nil || len(l.Items) != 1 {
					t.Fatalf("ListAPIKeys: got %d keys, %v, want 1", len(l.Items), err)
				}
				return l.Items[0], nil
			},
		} {
			got, err := get()
			must(t, name, err)
			check(t, name+" allowedCidrs", got.AllowedCIDRs, want)
		}
	}
	read(t, cidrs)

	steps := []struct {
		name string
		set  []string
		want []string
	}{
		{"replaced", []string{"2001:db8:1::/48"}, []string{"2001:db8:1::/48"}},
		{"removed", nil, nil},
		{"removed as empty", []string{}, nil},
		{"set again", []string{"198.51.100.0/24"}, []string{"198.51.100.0/24"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			cur, err := s.GetAPIKey(ctx, tn.ID, k.ID)
			must(t, "GetAPIKey", err)
			next := *cur
			next.AllowedCIDRs, next.Version = st.set, cur.Version+1
			must(t, "UpdateAPIKey", s.UpdateAPIKey(ctx, &next, cur.Version))
			read(t, st.want)
		})
	}
}
