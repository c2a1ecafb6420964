package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// TestPatchNulls: on PATCH a null clears expiresAt, rateLimit, credits and
// allowedCidrs, a member left out keeps its value, and clientId is refused
// even as null; a value's unknown members are refused as anywhere.
func TestPatchNulls(t *testing.T) {
	backends(t, func(t *testing.T, s *server) {
		var k keyward.IssuedKey
		s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "nulls", "expiresAt": time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339),
			"rateLimit": map[string]any{"limit": 5, "windowSeconds": 60}, "credits": map[string]any{"remaining": 3},
			"allowedCidrs": []string{"127.0.0.1"}}, 201, &k)
		path := "/v1/apikeys/" + k.ID

		var got keyward.APIKey
		s.do("PATCH", path, s.admin, map[string]any{"description": "kept"}, 200, &got)
		if got.ExpiresAt == nil || got.RateLimit == nil || got.Credits == nil || len(got.AllowedCIDRs) != 1 {
			t.Fatalf("a PATCH without them changed them: %+v", got)
		}
		got = keyward.APIKey{} // allowedCidrs is left out when empty
		s.do("PATCH", path, s.admin, map[string]any{"expiresAt": nil, "rateLimit": nil, "credits": nil, "allowedCidrs": nil}, 200, &got)
		if got.ExpiresAt != nil || got.RateLimit != nil || got.Credits != nil || len(got.AllowedCIDRs) != 0 {
			t.Errorf("null did not clear them: %+v", got)
		}
		for _, body := range []string{`{"clientId":null}`, `{"clientId":"other"}`} {
			res := s.raw("PATCH", path, "Bearer "+s.admin, strings.NewReader(body))
			if res.Status != 400 || !strings.Contains(string(res.Body), `"field":"clientId"`) {
				t.Errorf("%s: got %d %s, want 400 naming clientId", body, res.Status, res.Body)
			}
		}
		res := s.raw("PATCH", path, "Bearer "+s.admin, strings.NewReader(`{"rateLimit":{"limit":1,"windowSeconds":1,"burst":2}}`))
		if res.Status != 400 || !strings.Contains(string(res.Body), `"field":"rateLimit.burst"`) {
			t.Errorf("unknown member: got %d %s, want 400 naming rateLimit.burst (its path)", res.Status, res.Body)
		}
	})
}
