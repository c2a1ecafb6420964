package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestCreditLeasesThroughTheAPI: verifications from 16 clients at once
// spend a key's credits from the server's lease, a request refused as not
// allowed (403) gives its credit back to the lease, and stopping the
// Service gives the lease back: the database then has exactly what was
// not answered VALID. With leases on and off.
func TestCreditLeasesThroughTheAPI(t *testing.T) {
	for _, leases := range []bool{true, false} {
		t.Run(map[bool]string{true: "leases", false: "exact"}[leases], func(t *testing.T) {
			sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
				s := newServer(t, db, func(c *keyward.Config) { c.NoCreditLeases = !leases })
				var verifier, k keyward.IssuedKey
				s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "verifier", "permissions": []map[string]string{{"name": "keys:verify"}}}, 201, &verifier)
				s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "metered", "credits": map[string]any{"remaining": 1000}}, 201, &k)
				body, _ := json.Marshal(map[string]any{"key": k.ClientSecret})
				var valid atomic.Int64
				var wg sync.WaitGroup
				for range 16 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range 25 {
							req, _ := http.NewRequest("POST", s.URL+"/v1/keys/verify", bytes.NewReader(body))
							req.Header.Set("Authorization", "Bearer "+verifier.ClientSecret)
							req.Header.Set("Content-Type", "application/json")
							res, err := http.DefaultClient.Do(req)
							if err != nil {
								t.Error(err)
								return
							}
							var out keyward.VerifyResult
							err = json.NewDecoder(res.Body).Decode(&out)
							res.Body.Close()
							if err != nil || !out.Valid {
								t.Errorf("verify: %+v, %v", out, err)
								return
							}
							valid.Add(1)
						}
					}()
				}
				wg.Wait()
				for range 10 {
					s.do("GET", "/v1/users", k.ClientSecret, nil, 403, nil) // refunded
				}
				s.do("GET", "/v1/whoami", k.ClientSecret, nil, 200, nil)
				if err := s.svc.Close(); err != nil {
					t.Fatal(err)
				}
				got, err := db.GetAPIKey(t.Context(), k.TenantID, k.ID)
				if err != nil {
					t.Fatal(err)
				}
				if want := 1000 - valid.Load() - 1; got.Credits.Remaining != want {
					t.Fatalf("stored %d after Close, want %d (%d VALID and 1 request)", got.Credits.Remaining, want, valid.Load())
				}
			})
		})
	}
}
