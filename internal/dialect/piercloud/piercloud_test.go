package piercloud_test

import (
	"encoding/json"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect/dialecttest"
	"github.com/keyward/keyward/internal/dialect/piercloud"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

func TestPierCloudAuth(t *testing.T) {
	s := dialecttest.Start(t, sqltest.SQLite(t), piercloud.Mount)
	var k, off keyward.IssuedKey
	s.Do("POST", "/v1/apikeys", s.Admin, map[string]any{"name": "pier", "tokenLifespanSeconds": 55 * 60}, 201, &k)
	s.Do("POST", "/v1/apikeys", s.Admin, map[string]any{"name": "off", "isActive": false}, 201, &off)

	var ok struct {
		Code string         `json:"code"`
		Data map[string]any `json:"data"`
	}
	s.Do("POST", "/auth", "", map[string]string{"client_id": k.ClientID, "client_secret": k.ClientSecret}, 201, &ok)
	if ok.Code != "success" || ok.Data["expires_in"] != float64(3300) || ok.Data["token_type"] != "Bearer" {
		t.Fatalf("got %+v, want success with expires_in 3300 (55 minutes)", ok)
	}
	for _, f := range []string{"access_token", "expires_in", "refresh_expires_in", "token_type", "scope"} {
		if _, present := ok.Data[f]; !present {
			t.Errorf("data lacks %s", f)
		}
	}
	s.Do("GET", "/v1/whoami", ok.Data["access_token"].(string), nil, 200, nil)

	tests := []struct {
		name string
		body any
		want int
		code string
	}{
		{"malformed", `{"client_id":`, 400, "invalid_request"},
		{"missing secret", map[string]string{"client_id": k.ClientID}, 400, "invalid_request"},
		{"unknown field", map[string]string{"client_id": k.ClientID, "client_secret": k.ClientSecret, "grant": "x"}, 400, "invalid_request"},
		{"wrong secret", map[string]string{"client_id": k.ClientID, "client_secret": off.ClientSecret}, 401, "invalid_client"},
		{"inactive key", map[string]string{"client_id": off.ClientID, "client_secret": off.ClientSecret}, 401, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := s.Raw("POST", "/auth", "", tt.body)
			var e map[string]string
			json.Unmarshal(res.Body, &e)
			if res.Status != tt.want || e["code"] != tt.code || e["message"] == "" {
				t.Errorf("got %d %s, want %d {code: %s, message}", res.Status, res.Body, tt.want, tt.code)
			}
		})
	}
}
