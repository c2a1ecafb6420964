package httpapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestRecreatedKeyStartsWithoutUsage (F5): a key used, deleted and at once
// re-created with its id (PUT) does not inherit the deleted key's usage
// when the usage flush runs: neither its lastUsedAt (which would be before
// its createdAt) nor its request counts and verification outcomes. On the replica that deleted it the
// pending usage is dropped (its clock stands still, so that only the drop
// can keep the uses out); a replica that recorded uses and missed the
// delete has them skipped by the flush, being older than the new key.
func TestRecreatedKeyStartsWithoutUsage(t *testing.T) {
	sqltest.BackendDSNs(t, func(t *testing.T, dsn string) {
		master := secret.RandomBytes(32)
		var replicas []*server
		for i := range 2 {
			db := sqltest.Open(t, dsn, i == 0)
			replicas = append(replicas, newServer(t, db, func(c *keyward.Config) {
				c.MasterKey, c.Changes = master, db.ChangeFeed()
			}))
		}
		a, b := replicas[0], replicas[1]
		for _, tt := range []struct {
			name     string
			user     *server // records the uses
			deleter  *server // deletes and re-creates the key
			freezeAt bool    // stop the user's clock: uses and re-creation at one instant
		}{
			{"another replica", a, b, false},
			{"same replica", a, a, true}, // last: a's clock stays stopped
		} {
			t.Run(tt.name, func(t *testing.T) {
				var k keyward.IssuedKey
				tt.deleter.do("POST", "/v1/apikeys", tt.deleter.admin, map[string]any{"name": "rec", "level": 1}, 201, &k)
				if tt.freezeAt {
					tt.user.clock.Set(time.Now())
				}
				for range 3 {
					tt.user.do("GET", "/v1/whoami", k.ClientSecret, nil, 200, nil)
					tt.user.do("POST", "/v1/keys/verify", tt.user.admin, map[string]any{"key": k.ClientSecret}, 200, nil)
				}
				time.Sleep(2 * time.Millisecond) // the new key is created after the uses (another replica's clock runs)
				tt.deleter.do("DELETE", "/v1/apikeys/"+k.ID, tt.deleter.admin, nil, 200, nil)
				tt.deleter.do("PUT", "/v1/apikeys/"+k.ID, tt.deleter.admin, map[string]any{"name": "rec2", "level": 1}, 201, nil)
				for _, s := range replicas {
					if err := s.svc.FlushLastUsed(context.Background()); err != nil {
						t.Fatal(err)
					}
				}
				var got keyward.APIKey
				tt.deleter.do("GET", "/v1/apikeys/"+k.ID, tt.deleter.admin, nil, 200, &got)
				if got.LastUsedAt != nil {
					t.Errorf("the re-created key: got lastUsedAt %s (createdAt %s), want none", got.LastUsedAt, got.CreatedAt)
				}
				var u struct {
					Total    int64            `json:"total"`
					Outcomes map[string]int64 `json:"outcomes"`
				}
				tt.deleter.do("GET", "/v1/apikeys/"+k.ID+"/usage", tt.deleter.admin, nil, 200, &u)
				if u.Total != 0 {
					t.Errorf("the re-created key: got usage total %d, want 0", u.Total)
				}
				for outcome, n := range u.Outcomes {
					if n != 0 {
						t.Errorf("the re-created key: got %d %s verifications, want none", n, outcome)
					}
				}
			})
		}
	})
}
