package httpapi_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestReplayRefusedOnAnotherReplica: two replicas on one PostgreSQL keep
// the nonces of signed requests in it, so a signed request accepted by
// one is refused as a replay by the other (behind one load balancer both
// see the same authority).
func TestReplayRefusedOnAnotherReplica(t *testing.T) {
	dsn := sqltest.PostgresDSN(t)
	master := secret.RandomBytes(32)
	var replicas []*server
	for i := range 2 {
		db := sqltest.Open(t, dsn, i == 0)
		replicas = append(replicas, newServer(t, db, func(c *keyward.Config) {
			c.MasterKey, c.NonceStore, c.Changes = master, db.NonceStore(nil), db.ChangeFeed()
		}))
	}
	a, b := replicas[0], replicas[1]
	var k keyward.IssuedKey
	a.do("POST", "/v1/apikeys", a.admin, map[string]any{"name": "signer", "hmacEnabled": true}, 201, &k)

	req := signed(t, a, "GET", "/v1/whoami", nil, k.ClientID, k.ClientSecret, nil)
	replay := req.Clone(req.Context())
	if got, code := send(t, req); got != http.StatusOK {
		t.Fatalf("the signed request on A: got %d %s", got, code)
	}
	bu, _ := url.Parse(b.URL)
	replay.URL.Host = bu.Host // to B, still for A's authority
	if got, code := send(t, replay); got != http.StatusUnauthorized || code != keyward.EREPLAY {
		t.Errorf("the same request replayed on B: got %d %q, want 401 %q", got, code, keyward.EREPLAY)
	}
	// A fresh signature is fine on B.
	fresh := signed(t, a, "GET", "/v1/whoami", nil, k.ClientID, k.ClientSecret, nil)
	fresh.URL.Host = bu.Host
	if got, code := send(t, fresh); got != http.StatusOK {
		t.Errorf("a new signed request on B: got %d %s", got, code)
	}
}
