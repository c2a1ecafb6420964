package storetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

// testAPIKeysBySecretHashes checks the batched lookup: current and previous
// hashes, across tenants, each key once, unknown and empty hashes left out.
func testAPIKeysBySecretHashes(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := createTenant(t, s, "batch-a"), createTenant(t, s, "batch-b")
	k1 := createKey(t, s, a.ID)
	k2 := createKey(t, s, b.ID, func(k *keyward.APIKey) { k.PrevSecretHash = randomBytes(32) })
	k3 := createKey(t, s, a.ID)
	ids := func(keys []*keyward.APIKey) string {
		var out []string
		for _, k := range keys {
			out = append(out, k.ID)
		}
		slices.Sort(out)
		return strings.Join(out, ",")
	}
	want := func(keys ...*keyward.APIKey) string { return ids(keys) }
	tests := []struct {
		name   string
		hashes [][]byte
		want   string
	}{
		{"none", nil, ""},
		{"one current", [][]byte{k1.SecretHash}, want(k1)},
		{"a previous secret", [][]byte{k2.PrevSecretHash}, want(k2)},
		{"across tenants with unknown and empty hashes", [][]byte{k1.SecretHash, randomBytes(32), nil, k2.SecretHash, k3.SecretHash}, want(k1, k2, k3)},
		{"a key named twice comes once", [][]byte{k2.SecretHash, k2.PrevSecretHash, k2.SecretHash}, want(k2)},
		{"only unknown", [][]byte{randomBytes(32)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.GetAPIKeysBySecretHashes(ctx, tt.hashes)
			must(t, "GetAPIKeysBySecretHashes", err)
			if got == nil || ids(got) != tt.want {
				t.Errorf("got %q (nil %v), want %q", ids(got), got == nil, tt.want)
			}
		})
	}
	got, err := s.GetAPIKeysBySecretHashes(ctx, [][]byte{k1.SecretHash})
	must(t, "GetAPIKeysBySecretHashes", err)
	check(t, "the key read in a batch", got[0], k1)
	many := make([][]byte, 100)
	for i := range many {
		many[i] = randomBytes(32)
	}
	many[99] = k3.SecretHash
	got, err = s.GetAPIKeysBySecretHashes(ctx, many)
	must(t, "GetAPIKeysBySecretHashes of 100", err)
	if ids(got) != want(k3) {
		t.Errorf("100 hashes: got %q", ids(got))
	}
}
