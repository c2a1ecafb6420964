package freesewing_test

import (
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect/dialecttest"
	"github.com/keyward/keyward/internal/dialect/freesewing"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestSeedRequestWithAxios replays the seed document's axios request and
// checks every documented response field.
func TestSeedRequestWithAxios(t *testing.T) {
	s := dialecttest.Start(t, sqltest.SQLite(t), freesewing.Mount)
	var u keyward.User
	s.Do("POST", "/v1/users", s.Admin, map[string]any{"userName": "maker", "password": "maker-password", "level": 4}, 201, &u)
	var login keyward.LoginResult
	s.Do("POST", "/v1/login", "", map[string]string{"userName": "maker", "password": "maker-password"}, 200, &login)

	var got struct {
		Status int `json:"status"`
		Data   struct {
			Result string         `json:"result"`
			APIKey map[string]any `json:"apikey"`
		} `json:"data"`
	}
	dialecttest.RunNode(t, "freesewing.cjs", &got, s.URL, login.AccessToken)
	k := got.Data.APIKey
	if got.Status != 201 || got.Data.Result != "success" || k["level"] != float64(2) || k["name"] != "My first API key" || k["userId"] != float64(*freesewing.UserNumber(u.TenantID, u.ID)) {
		t.Fatalf("got %d %+v", got.Status, got.Data)
	}
	dialecttest.CheckMembers(t, "apikey", k, map[string]string{"key": "string", "secret": "string", "level": "int",
		"expiresAt": "time", "name": "string", "userId": "int", "id": "uuid"})
}
