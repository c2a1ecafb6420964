package freesewing_test

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect/dialecttest"
	"github.com/keyward/keyward/internal/dialect/freesewing"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

type created struct {
	Result string `json:"result"`
	Error  string `json:"error"`
	APIKey struct {
		Key       string     `json:"key"`
		Secret    string     `json:"secret"`
		Level     int        `json:"level"`
		ExpiresAt *time.Time `json:"expiresAt"`
		Name      string     `json:"name"`
		UserID    *int64     `json:"userId"`
		ID        string     `json:"id"`
	} `json:"apikey"`
}

func sameNumber(a, b *int64) bool { return a != nil && b != nil && *a == *b }

func basic(key, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(key+":"+secret))
}

func call(t *testing.T, s *dialecttest.Server, method, path, auth string, body any) (int, created) {
	t.Helper()
	res := s.Raw(method, path, auth, body)
	var out created
	if err := json.Unmarshal(res.Body, &out); err != nil {
		t.Fatalf("%s %s: %d %s", method, path, res.Status, res.Body)
	}
	if res.Status >= 400 {
		var m map[string]any
		json.Unmarshal(res.Body, &m)
		dialecttest.CheckMembers(t, method+" "+path+" error", m, map[string]string{"result": "string", "error": "string"})
		if out.Result != "error" || out.Error == "" {
			t.Errorf("%s %s: %d %s, want {result: error, error}", method, path, res.Status, res.Body)
		}
	}
	return res.Status, out
}

func TestFreeSewing(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := dialecttest.Start(t, db, freesewing.Mount)
		var alice keyward.User
		s.Do("POST", "/v1/users", s.Admin, map[string]any{"userName": "alice", "password": "alice-password", "level": 4}, 201, &alice)
		var login keyward.LoginResult
		s.Do("POST", "/v1/login", "", map[string]string{"userName": "alice", "password": "alice-password"}, 200, &login)
		jwt := "Bearer " + login.AccessToken

		// The seed's example request.
		code, k2 := call(t, s, "POST", "/apikeys/jwt", jwt, map[string]any{"name": "My first API key", "level": 2, "expiresIn": 3600})
		if code != 201 || k2.Result != "success" || k2.APIKey.Level != 2 || k2.APIKey.Name != "My first API key" ||
			!sameNumber(k2.APIKey.UserID, freesewing.UserNumber(alice.TenantID, alice.ID)) || !regexp.MustCompile(`^kw_sk_`).MatchString(k2.APIKey.Secret) || k2.APIKey.Key == "" {
			t.Fatalf("create: %d %+v", code, k2)
		}
		if d := time.Until(*k2.APIKey.ExpiresAt); d < 3590*time.Second || d > 3601*time.Second {
			t.Errorf("expiresAt in %v, want one hour", d)
		}
		code, k4 := call(t, s, "POST", "/apikeys/jwt", jwt, map[string]any{"name": "four", "level": 4, "expiresIn": 3600})
		if code != 201 {
			t.Fatalf("create level 4: %d", code)
		}
		k4auth := basic(k4.APIKey.Key, k4.APIKey.Secret)

		tests := []struct {
			name, auth string
			body       any
			want       int
		}{
			{"key at its own level", k4auth, map[string]any{"name": "k", "level": 4, "expiresIn": 60}, 201},
			{"level 0 is valid", k4auth, map[string]any{"name": "k", "level": 0, "expiresIn": 60}, 201},
			{"key above its own level", k4auth, map[string]any{"name": "k", "level": 5, "expiresIn": 60}, 403},
			{"level 2 key cannot create", basic(k2.APIKey.Key, k2.APIKey.Secret), map[string]any{"name": "k", "level": 0, "expiresIn": 60}, 403},
			{"expiresIn over a year", k4auth, map[string]any{"name": "k", "level": 0, "expiresIn": 366 * 24 * 3600}, 400},
			{"expiresIn zero", k4auth, map[string]any{"name": "k", "level": 0, "expiresIn": 0}, 400},
			{"missing level", k4auth, map[string]any{"name": "k", "expiresIn": 60}, 400},
			{"level out of range", k4auth, map[string]any{"name": "k", "level": 9, "expiresIn": 60}, 400},
			{"malformed", k4auth, `{"name":`, 400},
			{"wrong secret: authentication failed", basic(k4.APIKey.Key, k2.APIKey.Secret), map[string]any{"name": "k", "level": 0, "expiresIn": 60}, 403},
			{"level 2.0 and expiresIn 3600.0 (Python floats)", k4auth, `{"name":"k","level":2.0,"expiresIn":3600.0}`, 201},
			{"expiresIn 1e3", k4auth, `{"name":"k","level":1,"expiresIn":1e3}`, 201},
			{"level 2.5", k4auth, `{"name":"k","level":2.5,"expiresIn":60}`, 400},
			{"expiresIn 0.5", k4auth, `{"name":"k","level":1,"expiresIn":0.5}`, 400},
			{"unknown members are ignored", k4auth, map[string]any{"name": "k", "level": 0, "expiresIn": 60, "color": "blue"}, 201},
			{"no credentials", "", map[string]any{"name": "k", "level": 0, "expiresIn": 60}, 401},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if code, out := call(t, s, "POST", "/apikeys/key", tt.auth, tt.body); code != tt.want {
					t.Errorf("got %d %+v, want %d", code, out, tt.want)
				}
			})
		}
		if code, _ := call(t, s, "POST", "/apikeys/jwt", k4auth, map[string]any{"name": "k", "level": 0, "expiresIn": 60}); code != 401 {
			t.Errorf("Basic on the jwt route: got %d, want 401", code)
		}
		if code, _ := call(t, s, "POST", "/apikeys/key", jwt, map[string]any{"name": "k", "level": 0, "expiresIn": 60}); code != 401 {
			t.Errorf("a JWT on the key route: got %d, want 401", code)
		}

		var list struct {
			Result  string           `json:"result"`
			APIKeys []map[string]any `json:"apikeys"`
		}
		s.Do("GET", "/apikeys/jwt", login.AccessToken, nil, 200, &list)
		if list.Result != "success" || len(list.APIKeys) != 7 {
			t.Errorf("alice lists %d keys, want her 7", len(list.APIKeys))
		}
		for _, k := range list.APIKeys {
			// The secret never again; the rest as in the create answer.
			dialecttest.CheckMembers(t, "listed apikey", k, map[string]string{"key": "string", "level": "int",
				"expiresAt": "time", "name": "string", "userId": "int", "id": "uuid"})
		}
		var raw map[string]any
		s.Do("GET", "/whoami/key", "", nil, 401, nil)
		res := s.Raw("GET", "/whoami/key", basic(k2.APIKey.Key, k2.APIKey.Secret), nil)
		json.Unmarshal(res.Body, &raw)
		dialecttest.CheckMembers(t, "whoami", raw, map[string]string{"result": "string", "apikey": "object"})
		dialecttest.CheckMembers(t, "whoami apikey", raw["apikey"].(map[string]any), map[string]string{"key": "string", "level": "int",
			"name": "string", "userId": "int", "id": "uuid"})
		code, got := call(t, s, "GET", "/apikeys/"+k2.APIKey.ID+"/key", k4auth, nil)
		if code != 200 || got.APIKey.Key != k2.APIKey.Key || got.APIKey.Secret != "" {
			t.Errorf("read: %d %+v", code, got)
		}
		code, who := call(t, s, "GET", "/whoami/key", basic(k2.APIKey.Key, k2.APIKey.Secret), nil)
		if code != 200 || who.APIKey.Key != k2.APIKey.Key || who.APIKey.Level != 2 || !sameNumber(who.APIKey.UserID, freesewing.UserNumber(alice.TenantID, alice.ID)) {
			t.Errorf("whoami: %d %+v", code, who)
		}
		if code, _ := call(t, s, "DELETE", "/apikeys/"+k2.APIKey.ID+"/jwt", jwt, nil); code != 200 {
			t.Errorf("delete: %d", code)
		}
		if code, _ := call(t, s, "GET", "/apikeys/"+k2.APIKey.ID+"/jwt", jwt, nil); code != 404 {
			t.Errorf("read after delete: %d, want 404", code)
		}
		if code, _ := call(t, s, "GET", "/whoami/key", basic(k2.APIKey.Key, k2.APIKey.Secret), nil); code != 403 {
			t.Errorf("a deleted key: %d, want 403 (authentication failed)", code)
		}
		// The key (clientId) FreeSewing clients hold works as the id.
		code, byKey := call(t, s, "GET", "/apikeys/"+k4.APIKey.Key+"/jwt", jwt, nil)
		if code != 200 || byKey.APIKey.ID != k4.APIKey.ID {
			t.Errorf("GET by key: got %d %+v, want the key", code, byKey)
		}
		for _, bad := range []string{"kw_id_unknown", "not a key", "00000000-0000-4000-8000-000000000000"} {
			if code, _ := call(t, s, "GET", "/apikeys/"+url.PathEscape(bad)+"/jwt", jwt, nil); code != 404 {
				t.Errorf("GET %q: got %d, want 404", bad, code)
			}
		}
		// Another user's key is invisible to alice's level-4 key.
		var admins keyward.IssuedKey
		s.Do("POST", "/v1/apikeys", s.Admin, map[string]any{"name": "admin's"}, 201, &admins)
		if code, _ := call(t, s, "GET", "/apikeys/"+admins.ID+"/key", k4auth, nil); code != 404 {
			t.Errorf("another owner's key: %d, want 404", code)
		}
		// A key of another tenant sees nothing of this one.
		s.Do("POST", "/v1/tenants", s.Admin, map[string]any{"name": "other"}, 201, nil)
		var foreign keyward.IssuedKey
		s.Do("POST", "/v1/apikeys?tenant=other", s.Admin, map[string]any{"name": "foreign", "level": 8}, 201, &foreign)
		fauth := basic(foreign.ClientID, foreign.ClientSecret)
		if code, _ := call(t, s, "GET", "/apikeys/"+k4.APIKey.ID+"/key", fauth, nil); code != 404 {
			t.Errorf("another tenant's key: %d, want 404", code)
		}
		if code, _ := call(t, s, "DELETE", "/apikeys/"+k4.APIKey.ID+"/key", fauth, nil); code != 404 {
			t.Errorf("deleting another tenant's key: %d, want 404", code)
		}
		if code, _ := call(t, s, "DELETE", "/apikeys/"+k4.APIKey.Key+"/key", fauth, nil); code != 404 {
			t.Errorf("deleting another tenant's key by its key: %d, want 404", code)
		}
		if code, _ := call(t, s, "DELETE", "/apikeys/"+k4.APIKey.Key+"/jwt", jwt, nil); code != 200 {
			t.Errorf("DELETE by key: %d, want 200", code)
		}
	})
}

// TestExpiredKeyRejected: unlike the original, an expired key fails.
func TestExpiredKeyRejected(t *testing.T) {
	var clock atomic.Int64 // nanoseconds the test has moved the clock on
	s := dialecttest.StartWith(t, sqltest.SQLite(t), func(c *keyward.Config) {
		c.Now = func() time.Time { return time.Now().Add(time.Duration(clock.Load())) }
	}, freesewing.Mount)
	var k keyward.IssuedKey
	s.Do("POST", "/v1/apikeys", s.Admin, map[string]any{"name": "short", "level": 4, "expiresIn": 1}, 201, &k)
	if code, _ := call(t, s, "GET", "/whoami/key", basic(k.ClientID, k.ClientSecret), nil); code != 200 {
		t.Fatalf("fresh key: %d", code)
	}
	clock.Store(int64(2 * time.Second))
	if code, out := call(t, s, "GET", "/whoami/key", basic(k.ClientID, k.ClientSecret), nil); code != 403 {
		t.Errorf("expired key: %d %+v, want 403 (authentication failed)", code, out)
	}
}

// TestRateLimitedAndUnavailable: a rate-limited key is 429 with
// Retry-After in FreeSewing's shape, never 500.
func TestRateLimited(t *testing.T) {
	s := dialecttest.Start(t, sqltest.SQLite(t), freesewing.Mount)
	var k keyward.IssuedKey
	s.Do("POST", "/v1/apikeys", s.Admin, map[string]any{"name": "limited", "level": 4,
		"rateLimit": map[string]int{"limit": 1, "windowSeconds": 60}}, 201, &k)
	auth := basic(k.ClientID, k.ClientSecret)
	if code, _ := call(t, s, "GET", "/whoami/key", auth, nil); code != 200 {
		t.Fatalf("first request: %d", code)
	}
	res := s.Raw("GET", "/whoami/key", auth, nil)
	var e map[string]any
	json.Unmarshal(res.Body, &e)
	if res.Status != 429 || res.Header.Get("Retry-After") == "" || e["result"] != "error" || e["error"] == "" {
		t.Errorf("over the limit: got %d Retry-After %q %s, want 429 with Retry-After and {result: error, error}",
			res.Status, res.Header.Get("Retry-After"), res.Body)
	}
}
