package httpapi_test

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

func TestRateLimitedAnswers(t *testing.T) {
	// A window of a day: the test cannot straddle two.
	s := newServer(t, sqltest.SQLite(t), func(c *keyward.Config) { c.FailedAuthLimit = &keyward.RateLimit{Limit: 2, WindowSeconds: 86400} })
	var k keyward.IssuedKey
	s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "limited", "rateLimit": map[string]int{"limit": 2, "windowSeconds": 86400}}, 201, &k)
	if k.RateLimit == nil || *k.RateLimit != (keyward.RateLimit{Limit: 2, WindowSeconds: 86400}) {
		t.Fatalf("created key's rateLimit: got %+v", k.RateLimit)
	}
	s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "bad", "rateLimit": map[string]int{"limit": 0, "windowSeconds": 60}}, 400, nil)

	for i := 1; i <= 2; i++ {
		res := s.do("GET", "/v1/whoami", k.ClientSecret, nil, 200, nil)
		if got, want := res.Header.Get("RateLimit-Remaining"), strconv.Itoa(2-i); got != want || res.Header.Get("RateLimit-Limit") != "2" {
			t.Errorf("request %d: RateLimit-Limit %q, RateLimit-Remaining %q; want 2, %s", i, res.Header.Get("RateLimit-Limit"), got, want)
		}
	}
	res := s.do("GET", "/v1/whoami", k.ClientSecret, nil, 429, nil)
	var p httpapi.Problem
	json.Unmarshal(res.Body, &p)
	retry, err := strconv.Atoi(res.Header.Get("Retry-After"))
	if p.Code != keyward.ERATELIMITED || err != nil || retry < 1 || retry > 86400 || res.Header.Get("RateLimit-Remaining") != "0" {
		t.Errorf("over the limit: code %q, Retry-After %q, RateLimit-Remaining %q", p.Code, res.Header.Get("Retry-After"), res.Header.Get("RateLimit-Remaining"))
	}
	// Removing the limit lets the key through again.
	s.do("PATCH", "/v1/apikeys/"+k.ID, s.admin, map[string]any{"rateLimit": nil}, 200, nil)
	if res := s.do("GET", "/v1/whoami", k.ClientSecret, nil, 200, nil); res.Header.Get("RateLimit-Limit") != "" {
		t.Errorf("a key without a limit got RateLimit headers")
	}

	// Failed authentications from this address: after two, even a good key
	// is refused until the window ends.
	for range 2 {
		s.do("GET", "/v1/whoami", "kw_sk_0000000000000000000000000000000000000000000", nil, 401, nil)
	}
	res = s.do("GET", "/v1/whoami", k.ClientSecret, nil, 429, nil)
	if res.Header.Get("Retry-After") == "" {
		t.Error("the refused address gets no Retry-After")
	}
}

// TestFailedPasswordsAndClientSecretsCount: wrong passwords at login and
// wrong client secrets at the token endpoint count against the address too.
// A login counts before the password is checked and a client secret once
// it failed; either way, with a limit of 2, two failures close the address
// and the third login is refused whatever its password.
func TestFailedPasswordsAndClientSecretsCount(t *testing.T) {
	for _, tt := range []struct {
		name     string
		failures int
		fail     func(s *server)
	}{
		{"login", 2, func(s *server) {
			s.do("POST", "/v1/login", "", map[string]string{"userName": "admin", "password": "wrong-password"}, 401, nil)
		}},
		{"token", 2, func(s *server) {
			if res := s.form("/oauth2/token", basic("kw_id_unknown", "wrong"), url.Values{"grant_type": {"client_credentials"}}); res.Status != 401 {
				t.Fatalf("wrong client secret: got %d", res.Status)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, sqltest.SQLite(t), func(c *keyward.Config) { c.FailedAuthLimit = &keyward.RateLimit{Limit: 2, WindowSeconds: 86400} })
			for range tt.failures {
				tt.fail(s)
			}
			res := s.raw("POST", "/v1/login", "", strings.NewReader(`{"userName":"admin","password":"`+adminPassword+`"}`))
			if res.Status != 429 || res.Header.Get("Retry-After") == "" {
				t.Errorf("the right password after three failures: got %d, Retry-After %q; want 429", res.Status, res.Header.Get("Retry-After"))
			}
		})
	}
}
