package dialecttest_test

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect/carbonext"
	"github.com/keyward/keyward/internal/dialect/dialecttest"
	"github.com/keyward/keyward/internal/dialect/freesewing"
	"github.com/keyward/keyward/internal/dialect/piercloud"
	"github.com/keyward/keyward/internal/dialect/portos"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestBlockedAddressEveryDialect: once an address has failed to
// authenticate too often, every dialect answers 429 with Retry-After in its
// own shape — never 500 (issue 12 #6).
func TestBlockedAddressEveryDialect(t *testing.T) {
	s := dialecttest.StartWith(t, sqltest.SQLite(t), func(c *keyward.Config) {
		c.FailedAuthLimit = &keyward.RateLimit{Limit: 2, WindowSeconds: 60}
	}, carbonext.Mount, freesewing.Mount, piercloud.Mount, portos.Mount)
	for range 3 {
		s.Raw("GET", "/apikeys", "Bearer kw_sk_wrong", nil)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"x"}, "client_secret": {"y"}}.Encode()
	tests := []struct {
		dialect, method, path, auth string
		body                        any
		header                      []string
		shape                       func(m map[string]any) bool
	}{
		{"portos", "GET", "/apikeys", "Bearer kw_sk_wrong", nil, nil,
			func(m map[string]any) bool { return m["status"] == float64(429) && m["title"] != nil }},
		{"carbonext", "GET", "/v1/customers/applications", "Bearer kw_sk_wrong", nil, nil,
			func(m map[string]any) bool { return m["status"] == float64(429) && m["title"] != nil }},
		{"carbonext token", "POST", "/auth/realms/default/protocol/openid-connect/token", "", form,
			[]string{"Content-Type", "application/x-www-form-urlencoded"},
			func(m map[string]any) bool {
				return m["error"] == "temporarily_unavailable" && m["error_description"] != ""
			}},
		{"freesewing", "GET", "/whoami/key", "Basic eDp5", nil, nil,
			func(m map[string]any) bool { return m["result"] == "error" && m["error"] != "" }},
		{"piercloud", "POST", "/auth", "", map[string]string{"client_id": "x", "client_secret": "y"}, nil,
			func(m map[string]any) bool { return m["code"] == "too-many-requests" && m["message"] != "" }},
	}
	for _, tt := range tests {
		t.Run(tt.dialect, func(t *testing.T) {
			res := s.Raw(tt.method, tt.path, tt.auth, tt.body, tt.header...)
			var m map[string]any
			json.Unmarshal(res.Body, &m)
			if res.Status != 429 || res.Header.Get("Retry-After") == "" || !tt.shape(m) {
				t.Errorf("got %d Retry-After %q %s, want 429 with Retry-After in %s's shape",
					res.Status, res.Header.Get("Retry-After"), res.Body, tt.dialect)
			}
		})
	}
}
