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
	types := map[string]string{"access_token": "string", "expires_in": "number", "refresh_expires_in": "number",
		"token_type": "string", "not-before-policy": "number", "session_state": "string", "scope": "string"}
	for f, typ := range types {
		var got string
		switch ok.Data[f].(type) {
		case string:
			got = "string"
		case float64:
			got = "number"
		}
		if got != typ {
			t.Errorf("data.%s: got %#v, want a %s", f, ok.Data[f], typ)
		}
	}
	if len(ok.Data) != len(types) {
		t.Errorf("data: got %v, want exactly %d members", ok.Data, len(types))
	}
	s.Do("GET", "/v1/whoami", ok.Data["access_token"].(string), nil, 200, nil)

	tests := []struct {
		name string
		body any
		want int
		code string
	}{
		{"malformed", `{"client_id":`, 400, piercloud.CodeBadRequest},
		{"missing secret", map[string]string{"client_id": k.ClientID}, 400, piercloud.CodeBadRequest},
		{"wrong secret", map[string]string{"client_id": k.ClientID, "client_secret": off.ClientSecret}, 401, piercloud.CodeFailed},
		{"inactive key", map[string]string{"client_id": off.ClientID, "client_secret": off.ClientSecret}, 401, piercloud.CodeFailed},
	}
	// Unknown members are ignored, as the original does.
	s.Do("POST", "/auth", "", map[string]string{"client_id": k.ClientID, "client_secret": k.ClientSecret, "grant_type": "x"}, 201, nil)
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
