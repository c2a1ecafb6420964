package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/keyward/keyward"
)

// TestAmbiguousRequestsRefused (F10): a key with apikeys:read that sends a
// list position twice (cursor and page, cursor or page twice) and a key that sends
// two credentials (X-API-Key and Bearer, two Authorization fields, one of
// them beside a signature) get 400 naming the problem, instead of keyward
// picking one.
func TestAmbiguousRequestsRefused(t *testing.T) {
	backends(t, func(t *testing.T, s *server) {
		reader := s.newKey(map[string]any{"name": "reader", "level": 1, "permissions": refs("apikeys:read")})
		other := s.newKey(map[string]any{"name": "other", "level": 8, "permissions": refs("apikeys:read", "apikeys:write")})
		hmacKey := s.newKey(map[string]any{"name": "signer", "level": 1, "hmacEnabled": true})
		for i := 0; i < 3; i++ {
			s.newKey(map[string]any{"name": "filler", "level": 1})
		}
		var first struct {
			NextCursor string `json:"nextCursor"`
		}
		s.do("GET", "/v1/apikeys?page-size=2", reader.ClientSecret, nil, 200, &first)
		if first.NextCursor == "" {
			t.Fatal("no nextCursor")
		}
		c := url.QueryEscape(first.NextCursor)
		for _, tt := range []struct{ query, field string }{
			{"cursor=" + c + "&page=2", "cursor"},
			{"page=2&cursor=" + c, "cursor"},
			{"cursor=" + c + "&cursor=" + c, "cursor"},
			{"page=1&page=2", "page"},
			{"page-size=2&page-size=3", "page-size"},
		} {
			res := s.raw("GET", "/v1/apikeys?"+tt.query, "Bearer "+reader.ClientSecret, nil)
			if res.Status != 400 || !problemField(res.Body, tt.field) {
				t.Errorf("%s: got %d %s, want 400 naming %s", tt.query, res.Status, res.Body, tt.field)
			}
		}
		if res := s.raw("GET", "/v1/apikeys?page-size=2&cursor="+c, "Bearer "+reader.ClientSecret, nil); res.Status != 200 {
			t.Errorf("a cursor alone: got %d %s", res.Status, res.Body)
		}

		whoami := func(name string, header http.Header) {
			t.Helper()
			req, _ := http.NewRequest("GET", s.URL+"/v1/whoami", nil)
			for k, vs := range header {
				req.Header[k] = vs
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var p struct{ Code, Detail string }
			_ = json.NewDecoder(res.Body).Decode(&p)
			if res.StatusCode != 400 || p.Code != keyward.EINVALID {
				t.Errorf("%s: got %d %+v, want 400 %s", name, res.StatusCode, p, keyward.EINVALID)
			}
		}
		bearer := func(sec string) string { return "Bearer " + sec }
		whoami("X-API-Key and Bearer", http.Header{"X-Api-Key": {reader.ClientSecret}, "Authorization": {bearer(other.ClientSecret)}})
		whoami("X-API-Key and Bearer of the same key", http.Header{"X-Api-Key": {reader.ClientSecret}, "Authorization": {bearer(reader.ClientSecret)}})
		whoami("two Authorization", http.Header{"Authorization": {bearer(reader.ClientSecret), bearer(other.ClientSecret)}})
		whoami("Bearer and Basic", http.Header{"Authorization": {bearer(reader.ClientSecret), basic(other.ClientID, other.ClientSecret)}})
		whoami("two X-API-Key", http.Header{"X-Api-Key": {reader.ClientSecret, other.ClientSecret}})
		req := signed(t, s, "GET", "/v1/whoami", nil, hmacKey.ClientID, hmacKey.ClientSecret, nil)
		whoami("a signature and Bearer", http.Header{"Signature-Input": req.Header["Signature-Input"], "Signature": req.Header["Signature"],
			"Authorization": {bearer(other.ClientSecret)}})
		whoami("a signature and X-API-Key", http.Header{"Signature-Input": req.Header["Signature-Input"], "Signature": req.Header["Signature"],
			"X-Api-Key": {other.ClientSecret}})
		// One credential still works, each way.
		for _, h := range []http.Header{{"X-Api-Key": {reader.ClientSecret}}, {"Authorization": {bearer(reader.ClientSecret)}}} {
			req, _ := http.NewRequest("GET", s.URL+"/v1/whoami", nil)
			for k, vs := range h {
				req.Header[k] = vs
			}
			if st, code := send(t, req); st != 200 {
				t.Errorf("%v: got %d %s", h, st, code)
			}
		}
		if st, code := send(t, signed(t, s, "GET", "/v1/whoami", nil, hmacKey.ClientID, hmacKey.ClientSecret, nil)); st != 200 {
			t.Errorf("a signature alone: got %d %s", st, code)
		}
	})
}
