package httpapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect"
	"github.com/keyward/keyward/internal/dialect/freesewing"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestBoundedKeyGivesNoLooserBounds: a key with an expiry, a rate limit
// and an allowlist gives no key (one it creates, imports or changes) a
// later expiry, a looser rate limit or a wider allowlist than its own; a
// key it makes without them gets its own. Found by an attacker: a trial
// key made an unbounded child, which then lifted the trial's bounds.
func TestBoundedKeyGivesNoLooserBounds(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServerWith(t, db, []func(*http.ServeMux, *keyward.Service, dialect.Host){freesewing.Mount})
		_, user := s.user("trialuser", 4)
		trialBounds := map[string]any{"expiresIn": 300, "rateLimit": map[string]any{"limit": 10, "windowSeconds": 3600},
			"allowedCidrs": []string{"127.0.0.1"}}
		trial := s.keyAs(user, with(map[string]any{"name": "trial", "level": 4}, trialBounds))
		free := s.keyAs(user, map[string]any{"name": "free", "level": 4})
		// The tables below use a key bound alike, but with room for their
		// requests.
		trialBounds["rateLimit"] = map[string]any{"limit": 1000, "windowSeconds": 3600}
		bounded := s.keyAs(user, with(map[string]any{"name": "bounded", "level": 4}, trialBounds))

		// The attacker's sequence: the child gets the trial's bounds, and
		// cannot lift them.
		var child keyward.IssuedKey
		s.do("POST", "/v1/apikeys", trial.ClientSecret, map[string]any{"name": "child", "level": 4}, 201, &child)
		wantBounds(t, "child", child.APIKey, trial.APIKey)
		res := s.do("PATCH", "/v1/apikeys/"+trial.ID, child.ClientSecret, map[string]any{"expiresAt": nil, "rateLimit": nil, "allowedCidrs": []string{}}, 403, nil)
		wantCode(t, "child lifts the trial's bounds", res, keyward.EFORBIDDEN)
		var after keyward.APIKey
		s.do("GET", "/v1/apikeys/"+trial.ID, s.admin, nil, 200, &after)
		wantBounds(t, "trial after the child's PATCH", &after, trial.APIKey)

		later := bounded.ExpiresAt.Add(3600e9).Format("2006-01-02T15:04:05Z")
		for _, tt := range []struct {
			name string
			body map[string]any
			want int
		}{
			{"inherits every bound", nil, 201},
			{"an expiresIn past the caller's: ends with it", map[string]any{"expiresIn": 3600}, 201},
			{"a later expiresAt", map[string]any{"expiresAt": later}, 403},
			{"no expiry", map[string]any{"expiresAt": nil}, 403},
			{"an earlier expiry", map[string]any{"expiresIn": 60}, 201},
			{"a faster rate", map[string]any{"rateLimit": map[string]any{"limit": 100, "windowSeconds": 60}}, 403},
			{"more in the window", map[string]any{"rateLimit": map[string]any{"limit": 1001, "windowSeconds": 3600}}, 403},
			{"no rate limit", map[string]any{"rateLimit": nil}, 403},
			{"the same rate, a longer window: a larger burst", map[string]any{"rateLimit": map[string]any{"limit": 2000, "windowSeconds": 7200}}, 403},
			{"the same limit, a longer window", map[string]any{"rateLimit": map[string]any{"limit": 1000, "windowSeconds": 7200}}, 201},
			{"a slower rate", map[string]any{"rateLimit": map[string]any{"limit": 500, "windowSeconds": 3600}}, 201},
			{"any address", map[string]any{"allowedCidrs": []string{}}, 403},
			{"other addresses", map[string]any{"allowedCidrs": []string{"10.0.0.0/8"}}, 403},
			{"a wider prefix", map[string]any{"allowedCidrs": []string{"127.0.0.0/8"}}, 403},
			{"the same address", map[string]any{"allowedCidrs": []string{"127.0.0.1/32"}}, 201},
		} {
			{
				body := with(map[string]any{"name": "child", "level": 4}, tt.body)
				res := s.send("POST", "/v1/apikeys", bounded.ClientSecret, body)
				if res.Status != tt.want {
					t.Fatalf("create, %s: got %d %s, want %d", tt.name, res.Status, res.Body, tt.want)
				}
				line := with(map[string]any{"name": "imported", "level": 4, "secretHash": sha256Hex("line " + tt.name)}, tt.body)
				a, _ := s.importKeys("Bearer "+bounded.ClientSecret, ndjson(line), 200)
				if tt.want != 201 {
					wantCode(t, "create, "+tt.name, res, keyward.EFORBIDDEN)
					if p := a.Items[0].Problem; p == nil || p.Code != keyward.EFORBIDDEN {
						t.Errorf("import, %s: got %+v, want %s", tt.name, p, keyward.EFORBIDDEN)
					}
					continue
				}
				var k keyward.APIKey
				if err := json.Unmarshal(res.Body, &k); err != nil {
					t.Fatal(err)
				}
				var imported keyward.APIKey
				s.do("GET", "/v1/apikeys/"+importedID(t, a), s.admin, nil, 200, &imported)
				if tt.body == nil {
					wantBounds(t, "created", &k, bounded.APIKey)
					wantBounds(t, "imported", &imported, bounded.APIKey)
				}
				for what, k := range map[string]*keyward.APIKey{"created": &k, "imported": &imported} {
					if k.ExpiresAt == nil || k.ExpiresAt.After(*bounded.ExpiresAt) || k.RateLimit == nil || len(k.AllowedCIDRs) == 0 {
						t.Errorf("%s, %s: got expiresAt %v, rateLimit %v, allowedCidrs %v; want them all within the caller's", what, tt.name, k.ExpiresAt, k.RateLimit, k.AllowedCIDRs)
					}
				}
			}
		}

		// Changing another key: no bound it sets may be looser than the
		// caller's; what it leaves as it was is not its doing.
		for _, tt := range []struct {
			name   string
			target string
			body   map[string]any
			want   int
		}{
			{"the child: no expiry", child.ID, map[string]any{"expiresAt": nil}, 403},
			{"the child: a later expiry", child.ID, map[string]any{"expiresAt": later}, 403},
			{"the child: no rate limit", child.ID, map[string]any{"rateLimit": nil}, 403},
			{"the child: any address", child.ID, map[string]any{"allowedCidrs": nil}, 403},
			{"the child: a slower rate", child.ID, map[string]any{"rateLimit": map[string]any{"limit": 1, "windowSeconds": 3600}}, 200},
			{"the child: an earlier expiry", child.ID, map[string]any{"expiresAt": bounded.ExpiresAt.Add(-60e9).Format("2006-01-02T15:04:05Z")}, 200},
			{"an unbounded key: renamed", free.ID, map[string]any{"name": "renamed"}, 200},
			{"an unbounded key: a later expiry", free.ID, map[string]any{"expiresAt": later}, 403},
			{"an unbounded key: an address", free.ID, map[string]any{"allowedCidrs": []string{"10.0.0.1"}}, 403},
		} {
			res := s.send("PATCH", "/v1/apikeys/"+tt.target, bounded.ClientSecret, tt.body)
			if res.Status != tt.want {
				t.Errorf("update, %s: got %d %s, want %d", tt.name, res.Status, res.Body, tt.want)
			} else if tt.want == 403 {
				wantCode(t, "update, "+tt.name, res, keyward.EFORBIDDEN)
			}
		}

		// A rotation hands over the key's secret: only of a key within the
		// caller's bounds.
		s.do("POST", "/v1/apikeys/"+free.ID+"/rotate", bounded.ClientSecret, map[string]any{}, 403, nil)
		s.do("POST", "/v1/apikeys/"+child.ID+"/rotate", bounded.ClientSecret, map[string]any{}, 200, nil)

		// FreeSewing's create needs an expiry: one past the key's ends with
		// it.
		fs := basic(bounded.ClientID, bounded.ClientSecret)
		for _, tt := range []struct {
			expiresIn int
			want      int
		}{{365 * 24 * 3600, 201}, {60, 201}} {
			res := s.raw("POST", "/apikeys/key", fs, strings.NewReader(`{"name":"fs","level":4,"expiresIn":`+strconv.Itoa(tt.expiresIn)+`}`))
			if res.Status != tt.want {
				t.Fatalf("freesewing create, expiresIn %d: got %d %s, want %d", tt.expiresIn, res.Status, res.Body, tt.want)
			}
			if tt.want != 201 {
				continue
			}
			var out struct {
				APIKey struct {
					ID string `json:"id"`
				} `json:"apikey"`
			}
			if err := json.Unmarshal(res.Body, &out); err != nil {
				t.Fatal(err)
			}
			var k keyward.APIKey
			s.do("GET", "/v1/apikeys/"+out.APIKey.ID, s.admin, nil, 200, &k)
			if tt.expiresIn > 3600 && (k.ExpiresAt == nil || !k.ExpiresAt.Equal(*bounded.ExpiresAt)) {
				t.Errorf("freesewing child, expiresIn %d: got expiresAt %v, want the caller's %v", tt.expiresIn, k.ExpiresAt, bounded.ExpiresAt)
			}
			if k.ExpiresAt == nil || k.ExpiresAt.After(*bounded.ExpiresAt) || !sameJSON(k.RateLimit, bounded.RateLimit) || !slices.Equal(k.AllowedCIDRs, bounded.AllowedCIDRs) {
				t.Errorf("freesewing child: got expiresAt %v, rateLimit %v, allowedCidrs %v; want the caller's (%v, %v, %v)", k.ExpiresAt, k.RateLimit, k.AllowedCIDRs, bounded.ExpiresAt, bounded.RateLimit, bounded.AllowedCIDRs)
			}
		}

		// Named rate limits are bounds too. The attacker's sequence: a key
		// with a daily quota made a child with none, then PATCHed its
		// rateLimits away. (At most 5 requests with the daily key.)
		daily := []map[string]any{{"name": "daily", "limit": 5, "windowSeconds": 86400}}
		quota := s.keyAs(user, map[string]any{"name": "quota", "level": 4, "rateLimits": daily})
		var qchild keyward.IssuedKey
		s.do("POST", "/v1/apikeys", quota.ClientSecret, map[string]any{"name": "qchild", "level": 4}, 201, &qchild)
		if !sameJSON(qchild.RateLimits, quota.RateLimits) {
			t.Errorf("quota's child: got rateLimits %v, want the caller's %v", qchild.RateLimits, quota.RateLimits)
		}
		for _, tt := range []struct {
			name   string
			method string
			path   string
			body   map[string]any
			want   int
		}{
			{"lift the child's rateLimits", "PATCH", "/v1/apikeys/" + qchild.ID, map[string]any{"rateLimits": []any{}}, 403},
			{"create with a larger daily limit", "POST", "/v1/apikeys", map[string]any{"name": "q", "level": 4,
				"rateLimits": []map[string]any{{"name": "daily", "limit": 6, "windowSeconds": 86400}}}, 403},
			{"rotate a key without them", "POST", "/v1/apikeys/" + free.ID + "/rotate", map[string]any{}, 403},
			{"create with a tighter daily limit and another", "POST", "/v1/apikeys", map[string]any{"name": "q", "level": 4,
				"rateLimits": []map[string]any{{"name": "daily", "limit": 3, "windowSeconds": 86400}, {"name": "burst", "limit": 1, "windowSeconds": 1}}}, 201},
		} {
			res := s.send(tt.method, tt.path, quota.ClientSecret, tt.body)
			if res.Status != tt.want {
				t.Errorf("quota, %s: got %d %s, want %d", tt.name, res.Status, res.Body, tt.want)
			} else if tt.want == 403 {
				wantCode(t, "quota, "+tt.name, res, keyward.EFORBIDDEN)
			}
		}

		// A user's keys are bounded by nothing of the key that made the user:
		// a bounded key hands out no user credential. The attacker's
		// sequence: KUS made mallory, who logged in and made an unbounded key.
		kusOwner, kusToken := s.user("kusowner", 5, "users:write", "users:read", "apikeys:write")
		userPerms := refs("users:write", "users:read", "apikeys:write")
		kusBody := func(more map[string]any) map[string]any {
			return with(map[string]any{"name": "kus", "level": 5, "permissions": userPerms}, more)
		}
		open := s.keyAs(kusToken, kusBody(nil))
		var victim keyward.User
		s.do("POST", "/v1/users", open.ClientSecret, map[string]any{"userName": "victim", "password": "password-victim", "level": 1}, 201, &victim)
		for _, tt := range []struct {
			name   string
			bounds map[string]any
		}{
			{"the attacker's KUS", map[string]any{"expiresIn": 3600, "rateLimit": map[string]any{"limit": 100, "windowSeconds": 60}, "allowedCidrs": []string{"127.0.0.1"}}},
			{"an expiry", map[string]any{"expiresIn": 3600}},
			{"a rate limit", map[string]any{"rateLimit": map[string]any{"limit": 100, "windowSeconds": 60}}},
			{"named rate limits", map[string]any{"rateLimits": []map[string]any{{"name": "daily", "limit": 100, "windowSeconds": 86400}}}},
			{"allowedCidrs", map[string]any{"allowedCidrs": []string{"127.0.0.1"}}},
			{"credits", map[string]any{"credits": map[string]any{"remaining": 100}}},
		} {
			kus := s.keyAs(kusToken, kusBody(tt.bounds))
			res := s.send("POST", "/v1/users", kus.ClientSecret, map[string]any{"userName": "mallory", "password": "password-mallory",
				"level": 5, "permissions": refs("apikeys:write")})
			if res.Status != 403 {
				t.Errorf("%s: create a user: got %d %s, want 403", tt.name, res.Status, res.Body)
				if res.Status == 201 {
					mallory := s.login("", "mallory", "password-mallory")
					s.do("POST", "/v1/apikeys", mallory, map[string]any{"name": "escaped", "level": 5}, 201, nil)
				}
				continue
			}
			wantCode(t, tt.name+": create a user", res, keyward.EFORBIDDEN)
			res = s.send("PATCH", "/v1/users/"+victim.ID, kus.ClientSecret, map[string]any{"password": "password-taken"})
			if res.Status != 403 {
				t.Errorf("%s: set a password: got %d %s, want 403", tt.name, res.Status, res.Body)
			} else {
				wantCode(t, tt.name+": set a password", res, keyward.EFORBIDDEN)
			}
			res = s.send("PATCH", "/v1/users/"+kusOwner, kus.ClientSecret, map[string]any{"password": "password-taken"})
			if res.Status != 403 {
				t.Errorf("%s: set its owner's password: got %d %s, want 403", tt.name, res.Status, res.Body)
			}
			// What hands out no credential works as before.
			s.do("PATCH", "/v1/users/"+victim.ID, kus.ClientSecret, map[string]any{"level": 2}, 200, nil)
		}
		// Keys without bounds, and users, work as before.
		s.do("PATCH", "/v1/users/"+victim.ID, open.ClientSecret, map[string]any{"password": "password-victim-2"}, 200, nil)
		s.do("PATCH", "/v1/users/"+victim.ID, kusToken, map[string]any{"password": "password-victim-3"}, 200, nil)
		s.do("POST", "/v1/users", kusToken, map[string]any{"userName": "carol", "password": "password-carol", "level": 1}, 201, nil)
		s.login("", "victim", "password-victim-3")

		// Users are not bound by this: the owner lifts the trial's bounds.
		s.do("PATCH", "/v1/apikeys/"+trial.ID, user, map[string]any{"expiresAt": nil, "rateLimit": nil, "allowedCidrs": []string{}}, 200, nil)
	})
}

// send sends in as JSON with a bearer token, whatever the answer.
func (s *server) send(method, path, token string, in any) response {
	s.t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		s.t.Fatal(err)
	}
	return s.raw(method, path, "Bearer "+token, strings.NewReader(string(b)))
}

// with returns body with the fields of more added.
func with(body, more map[string]any) map[string]any {
	for k, v := range more {
		body[k] = v
	}
	return body
}

// wantBounds fails unless k has the expiry, rate limit and allowlist of want.
func wantBounds(t *testing.T, what string, k, want *keyward.APIKey) {
	t.Helper()
	if !sameJSON(k.ExpiresAt, want.ExpiresAt) || !sameJSON(k.RateLimit, want.RateLimit) || !slices.Equal(k.AllowedCIDRs, want.AllowedCIDRs) {
		t.Errorf("%s: got expiresAt %v, rateLimit %v, allowedCidrs %v; want %v, %v, %v", what, k.ExpiresAt, k.RateLimit, k.AllowedCIDRs, want.ExpiresAt, want.RateLimit, want.AllowedCIDRs)
	}
}

// wantCode fails unless res is a problem with the machine code want.
func wantCode(t *testing.T, what string, res response, want string) {
	t.Helper()
	var p httpapi.Problem
	if err := json.Unmarshal(res.Body, &p); err != nil || p.Code != want {
		t.Errorf("%s: got %s, want code %s", what, res.Body, want)
	}
}

func sameJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
