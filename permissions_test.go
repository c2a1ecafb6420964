package keyward_test

import (
	"sync"
	"testing"

	"github.com/keyward/keyward"
)

// TestConcurrentPermissionUpdatesLoseNothing: two PATCHes of different
// fields of one permission, at the same time, both stick.
func TestConcurrentPermissionUpdatesLoseNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		perm, err := e.svc.CreatePermission(e.ctx, e.admin, keyward.PermissionInput{Name: ptr("orders:read")})
		if err != nil {
			t.Fatal(err)
		}
		for round := range 20 {
			desc := "description " + string(rune('a'+round))
			attrs := map[string][]string{"round": {string(rune('a' + round))}}
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				if _, err := e.svc.UpdatePermission(e.ctx, e.admin, perm.ID, keyward.PermissionInput{Description: &desc}); err != nil {
					t.Error(err)
				}
			}()
			go func() {
				defer wg.Done()
				if _, err := e.svc.UpdatePermission(e.ctx, e.admin, perm.ID, keyward.PermissionInput{Attributes: &attrs}); err != nil {
					t.Error(err)
				}
			}()
			wg.Wait()
			got, err := e.svc.GetPermission(e.ctx, e.admin, perm.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Description == nil || *got.Description != desc || len(got.Attributes["round"]) != 1 || got.Attributes["round"][0] != attrs["round"][0] {
				t.Fatalf("round %d: got description %v, attributes %v; want %q and %v", round, got.Description, got.Attributes, desc, attrs)
			}
		}
	})
}
