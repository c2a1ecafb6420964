package freesewing_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect/dialecttest"
	"github.com/keyward/keyward/internal/dialect/freesewing"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestSeedRequestWithAxios replays the seed document's axios request and
// checks every documented response field.
func TestSeedRequestWithAxios(t *testing.T) {
	dir, _ := filepath.Abs("../../../test/node")
	if _, err := exec.LookPath("node"); err != nil || !exists(filepath.Join(dir, "node_modules", "axios")) {
		if os.Getenv("KEYWARD_TEST_NODE") != "" {
			t.Fatal("KEYWARD_TEST_NODE is set but node or test/node/node_modules/axios is missing (npm ci in test/node)")
		}
		t.Skip("node or test/node/node_modules missing (npm ci in test/node): skipping the axios seed replay")
	}
	s := dialecttest.Start(t, sqltest.SQLite(t), freesewing.Mount)
	var u keyward.User
	s.Do("POST", "/v1/users", s.Admin, map[string]any{"userName": "maker", "password": "maker-password", "level": 4}, 201, &u)
	var login keyward.LoginResult
	s.Do("POST", "/v1/login", "", map[string]string{"userName": "maker", "password": "maker-password"}, 200, &login)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "freesewing.cjs", s.URL, login.AccessToken)
	cmd.Dir = dir
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v: %s", err, b)
	}
	var got struct {
		Status int `json:"status"`
		Data   struct {
			Result string         `json:"result"`
			APIKey map[string]any `json:"apikey"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("node printed %s", b)
	}
	k := got.Data.APIKey
	if got.Status != 201 || got.Data.Result != "success" || k["level"] != float64(2) || k["name"] != "My first API key" || k["userId"] != u.ID {
		t.Fatalf("got %d %+v", got.Status, got.Data)
	}
	for _, f := range []string{"key", "secret", "level", "expiresAt", "name", "userId"} {
		if v, ok := k[f]; !ok || v == "" {
			t.Errorf("apikey.%s missing", f)
		}
	}
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }
