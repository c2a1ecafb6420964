package keyward_test

import (
	"sync"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestLoginFloodDoesNotStarveOthers: 150 simultaneous wrong logins from one
// address are checked at most as often as the limit allows and mostly
// refused at once, and a login from another address still gets through.
func TestLoginFloodDoesNotStarveOthers(t *testing.T) {
	e := newEnv(t, sqltest.SQLite(t), func(c *keyward.Config) {
		c.FailedAuthLimit = &keyward.RateLimit{Limit: 20, WindowSeconds: 60}
	})
	const n = 150
	codes := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := e.svc.LoginFrom(e.ctx, keyward.LoginRequest{UserName: "admin", Password: "wrong-password", IP: "192.0.2.1"})
			codes[i] = keyward.ErrorCode(err)
		}()
	}
	close(start)
	res, err := e.svc.LoginFrom(e.ctx, keyward.LoginRequest{UserName: "admin", Password: adminPassword, IP: "192.0.2.2"})
	if err != nil || res.AccessToken == "" {
		t.Errorf("a login from another address during the flood: %v", err)
	}
	wg.Wait()
	counts := map[string]int{}
	for _, c := range codes {
		counts[c]++
	}
	if counts[keyward.EUNAUTHORIZED] > 20 || counts[keyward.ERATELIMITED] < n-20 || counts[keyward.EUNAUTHORIZED]+counts[keyward.ERATELIMITED] != n {
		t.Errorf("the flood's answers: %v; want at most 20 checked (unauthorized), the rest rate_limited", counts)
	}
}
