package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
)

func TestVerifyBatchEndpoint(t *testing.T) {
	backends(t, func(t *testing.T, s *server) {
		var k keyward.IssuedKey
		s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "batch"}, 201, &k)
		items := []map[string]any{{"key": k.ClientSecret}, {"key": secret.NewSecret("kw")}, {"clientId": k.ClientID, "clientSecret": k.ClientSecret, "ip": "::1"}}
		var got struct{ Items []keyward.VerifyResult }
		res := s.do("POST", "/v1/keys/verify:batch", s.admin, map[string]any{"items": items}, 200, &got)
		if res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", res.Header.Get("Cache-Control"))
		}
		for i, item := range items {
			var single keyward.VerifyResult
			s.do("POST", "/v1/keys/verify", s.admin, item, 200, &single)
			a, _ := json.Marshal(got.Items[i])
			b, _ := json.Marshal(single)
			if string(a) != string(b) {
				t.Errorf("item %d: batch %s, single %s", i, a, b)
			}
		}
		many := make([]map[string]any, keyward.MaxVerifyBatch+1)
		for i := range many {
			many[i] = map[string]any{"key": k.ClientSecret}
		}
		res = s.do("POST", "/v1/keys/verify:batch", s.admin, map[string]any{"items": many}, 400, nil)
		if !strings.Contains(string(res.Body), `"field":"items"`) {
			t.Errorf("101 items: %s", res.Body)
		}
		s.do("POST", "/v1/keys/verify:batch", s.admin, map[string]any{"items": many[:100]}, 200, nil)
		res = s.do("POST", "/v1/keys/verify:batch", s.admin, map[string]any{"items": []map[string]any{{"key": k.ClientSecret}, {}}}, 400, nil)
		if !strings.Contains(string(res.Body), `"field":"items[1].key"`) {
			t.Errorf("a malformed item: %s", res.Body)
		}
		s.do("POST", "/v1/keys/verify:batch", k.ClientSecret, map[string]any{"items": items[:1]}, 403, nil)
	})
}
