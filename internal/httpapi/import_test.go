package httpapi_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/signature"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// importAnswer is the answer of POST /v1/apikeys:import.
type importAnswer struct {
	Items []struct {
		Line     int              `json:"line"`
		ID       string           `json:"id"`
		ClientID string           `json:"clientId"`
		Problem  *httpapi.Problem `json:"problem"`
	} `json:"items"`
	Created int `json:"created"`
	Failed  int `json:"failed"`
}

// ndjson joins lines, each value encoded as JSON (strings as they are).
func ndjson(lines ...any) string {
	var b strings.Builder
	for _, l := range lines {
		if s, ok := l.(string); ok {
			b.WriteString(s)
		} else {
			j, _ := json.Marshal(l)
			b.Write(j)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// importKeys posts body to /v1/apikeys:import with auth and returns the
// answer, failing unless the status is want.
func (s *server) importKeys(auth, body string, want int, header ...string) (importAnswer, response) {
	s.t.Helper()
	res := s.raw("POST", "/v1/apikeys:import", auth, strings.NewReader(body), append([]string{"Content-Type", "application/x-ndjson"}, header...)...)
	if res.Status != want {
		s.t.Fatalf("import: got %d %s, want %d", res.Status, res.Body, want)
	}
	var a importAnswer
	if want == 200 {
		if err := json.Unmarshal(res.Body, &a); err != nil {
			s.t.Fatal(err)
		}
	}
	return a, res
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestImportAPIKeys: keys imported with their secrets in clear or hashed
// verify in their own format through /v1/keys/verify (not at keyward's own
// API), an invalid line fails alone,
// a secret that is taken is refused, and nothing echoes a secret.
func TestImportAPIKeys(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db)
		unkey := "unkey_3ZbFhWkQ9xYpLmN2aB7cDe" + secret.NewID()[:8]
		stripe := "sk_live_51HxYz0AbCdEfGhIjKlMnOp" + secret.NewID()[:8]
		body := ndjson(
			map[string]any{"name": "from-unkey", "level": 2, "meta": map[string]any{"plan": "pro"}, "secret": unkey},
			map[string]any{"name": "from-stripe", "clientId": "stripe-moved", "secretHash": sha256Hex(stripe),
				"rateLimit": map[string]any{"limit": 100, "windowSeconds": 60}},
			map[string]any{"name": "too-short", "secret": "short_secret"},
			"",
			`{"name": "broken"`,
			map[string]any{"name": "same-secret", "secret": unkey},
			map[string]any{"name": "hmac-by-hash", "hmacEnabled": true, "secretHash": sha256Hex("x" + stripe)},
			map[string]any{"name": "both", "secret": unkey + "x", "secretHash": sha256Hex(stripe)},
		)
		a, res := s.importKeys("Bearer "+s.admin, body, 200)
		if a.Created != 2 || a.Failed != 5 || len(a.Items) != 7 {
			t.Fatalf("got %s", res.Body)
		}
		wantLines := []struct {
			line int
			code string
		}{{1, ""}, {2, ""}, {3, keyward.EINVALID}, {5, keyward.EINVALID}, {6, keyward.ECONFLICT}, {7, keyward.EINVALID}, {8, keyward.EINVALID}}
		for i, w := range wantLines {
			it := a.Items[i]
			code := ""
			if it.Problem != nil {
				code = it.Problem.Code
			}
			if it.Line != w.line || code != w.code || (code == "") != (it.ID != "") {
				t.Errorf("item %d: got %+v, want line %d code %q", i, it, w.line, w.code)
			}
		}
		if a.Items[1].ClientID != "kw_stripe-moved" {
			t.Errorf("clientId: got %q", a.Items[1].ClientID)
		}
		for _, sec := range []string{unkey, stripe} {
			if strings.Contains(string(res.Body), sec) || strings.Contains(s.logs.String(), sec) {
				t.Errorf("a secret is echoed or logged")
			}
		}

		// The imported secrets verify as they did through /v1/keys/verify (the
		// verifier's tenant is theirs); keyward's own API, which knows no
		// tenant, refuses them as unknown on X-API-Key, Bearer and Basic.
		for i, sec := range []string{unkey, stripe} {
			var v keyward.VerifyResult
			s.do("POST", "/v1/keys/verify", s.admin, map[string]any{"key": sec}, 200, &v)
			if !v.Valid || v.KeyID == nil || *v.KeyID != a.Items[i].ID {
				t.Errorf("verify %d: got %+v", i, v)
			}
			for _, auth := range [][]string{{"Bearer " + sec}, {"", "X-API-Key", sec}, {basic(a.Items[i].ClientID, sec)}} {
				if r := s.raw("GET", "/v1/whoami", auth[0], nil, auth[1:]...); r.Status != 401 {
					t.Errorf("key %d with %q: got %d %s, want 401", i, auth, r.Status, r.Body)
				}
			}
		}
		var k keyward.APIKey
		s.do("GET", "/v1/apikeys/"+a.Items[0].ID, s.admin, nil, 200, &k)
		if k.Level != 2 || string(k.Meta) != `{"plan":"pro"}` || !k.IsActive || k.SecretHint != unkey[len(unkey)-4:] {
			t.Errorf("imported key: %+v", k)
		}
		// A wrong foreign secret, and a keyward one with a bad checksum, are refused.
		for _, bad := range []string{stripe + "x", "sk_live_" + strings.Repeat("Q7", 12)} {
			if r := s.raw("GET", "/v1/whoami", "Bearer "+bad, nil); r.Status != 401 {
				t.Errorf("%q: got %d", bad, r.Status)
			}
			var v keyward.VerifyResult
			s.do("POST", "/v1/keys/verify", s.admin, map[string]any{"key": bad}, 200, &v)
			if v.Valid || v.Code != keyward.CodeNotFound {
				t.Errorf("verify %q: %+v", bad, v)
			}
		}

		// One audit entry, with the counts.
		var audit struct{ Items []keyward.AuditEntry }
		s.do("GET", "/v1/audit?action=apikey.import", s.admin, nil, 200, &audit)
		if len(audit.Items) != 1 || !strings.Contains(string(audit.Items[0].Details), `"created":2`) ||
			!strings.Contains(string(audit.Items[0].Details), `"failed":5`) {
			t.Errorf("audit: %+v", audit.Items)
		}

		// Not NDJSON, nothing to import, too many lines.
		if r := s.raw("POST", "/v1/apikeys:import", "Bearer "+s.admin, strings.NewReader(body)); r.Status != 400 {
			t.Errorf("as application/json: got %d", r.Status)
		}
		s.importKeys("Bearer "+s.admin, "\n\n", 400)
		s.importKeys("Bearer "+s.admin, strings.Repeat("{}\n", keyward.MaxImportLines+1), 413)
	})
}

// TestImportNoEscalation: a caller with apikeys:write imports only keys
// within its own rights; each other line is forbidden on its own.
func TestImportNoEscalation(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db)
		s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "orders_read"}, 201, nil)
		low := s.newKey(map[string]any{"name": "low", "level": 3, "permissions": refs("apikeys:write")})
		sec := func() string { return "legacy_" + secret.NewID() }
		a, _ := s.importKeys("Bearer "+low.ClientSecret, ndjson(
			map[string]any{"name": "within", "level": 2, "secret": sec()},
			map[string]any{"name": "above-level", "level": 7, "secret": sec()},
			map[string]any{"name": "foreign-permission", "level": 1, "permissions": refs("orders_read"), "secret": sec()},
			map[string]any{"name": "ownerless", "level": 1, "ownerId": "", "secretHash": sha256Hex(sec())},
		), 200)
		if a.Created != 1 || a.Items[0].ID == "" {
			t.Fatalf("got %+v", a)
		}
		for _, it := range a.Items[1:] {
			if it.Problem == nil || it.Problem.Code != keyward.EFORBIDDEN || it.ID != "" {
				t.Errorf("line %d: got %+v, want forbidden", it.Line, it)
			}
		}
		var audit struct{ Items []keyward.AuditEntry }
		s.do("GET", "/v1/audit?action=apikey.import", s.admin, nil, 200, &audit)
		if len(audit.Items) != 1 || !strings.Contains(string(audit.Items[0].Details), `"forbidden":3`) {
			t.Errorf("audit: %+v", audit.Items)
		}
		none := s.newKey(map[string]any{"name": "reader", "level": 3, "permissions": refs("apikeys:read")})
		s.importKeys("Bearer "+none.ClientSecret, ndjson(map[string]any{"name": "x", "secret": sec()}), 403)
	})
}

// TestImportIdempotencyKey: an import retried with its Idempotency-Key
// answers the first answer again and creates nothing more; the key with
// another body is 422.
func TestImportIdempotencyKey(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db)
		body := ndjson(map[string]any{"name": "idem-import", "secret": "legacy_" + secret.NewID()})
		key := secret.NewID()
		first, _ := s.importKeys("Bearer "+s.admin, body, 200, "Idempotency-Key", key)
		again, res := s.importKeys("Bearer "+s.admin, body, 200, "Idempotency-Key", key)
		if res.Header.Get("Idempotent-Replayed") != "true" || again.Items[0].ID != first.Items[0].ID || first.Created != 1 {
			t.Errorf("replay: %s", res.Body)
		}
		if n := s.countKeys("idem-import"); n != 1 {
			t.Errorf("keys: got %d, want 1", n)
		}
		s.importKeys("Bearer "+s.admin, body+"\n", 422, "Idempotency-Key", key)
	})
}

// TestImportForeignSecretScopedByTenant: an imported secret is found only
// in its tenant. Importing a secret (or its hash) that another tenant's key
// has succeeds (a 409 would tell the importer which secrets other tenants
// use, and let a leaked hash list block their migration); each tenant's
// verifier gets its own key, never the other's; within a tenant the secret
// stays unique; keyward's own API, which knows no tenant, refuses it.
func TestImportForeignSecretScopedByTenant(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db)
		const weak = "Summer2024!Password" // weak, but CheckImported accepts it
		admin := func(tenant string) (token, verifier string) {
			s.do("POST", "/v1/tenants", s.admin, map[string]any{"name": tenant}, 201, nil)
			s.do("POST", "/v1/users?tenant="+tenant, s.admin, map[string]any{"userName": "admin-" + tenant, "password": "pw-" + tenant + "-123", "level": 8}, 201, nil)
			token = s.login(tenant, "admin-"+tenant, "pw-"+tenant+"-123")
			var k keyward.IssuedKey
			s.do("POST", "/v1/apikeys", token, map[string]any{"name": "verifier", "level": 8, "permissions": refs("keys:verify")}, 201, &k)
			return token, k.ClientSecret
		}
		bAdmin, bVerifier := admin("tenant-b")
		cAdmin, cVerifier := admin("tenant-c")

		// Tenant B has the weak secret; A imports it in clear, C by its hash:
		// both succeed.
		b, res := s.importKeys("Bearer "+bAdmin, ndjson(map[string]any{"name": "b-weak", "secret": weak}), 200)
		if b.Created != 1 {
			t.Fatalf("B's import: %s", res.Body)
		}
		a, res := s.importKeys("Bearer "+s.admin, ndjson(map[string]any{"name": "a-weak", "secret": weak}), 200)
		if a.Created != 1 || a.Items[0].Problem != nil {
			t.Fatalf("A's import of B's secret must succeed (no oracle): %s", res.Body)
		}
		c, res := s.importKeys("Bearer "+cAdmin, ndjson(map[string]any{"name": "c-weak", "secretHash": sha256Hex(weak)}), 200)
		if c.Created != 1 || c.Items[0].Problem != nil {
			t.Fatalf("C's import of B's secret hash must succeed: %s", res.Body)
		}

		// Within a tenant the secret stays unique, in clear or hashed.
		again, res := s.importKeys("Bearer "+s.admin, ndjson(
			map[string]any{"name": "a-weak-again", "secret": weak},
			map[string]any{"name": "a-weak-hash", "secretHash": sha256Hex(weak)},
		), 200)
		if again.Created != 0 || len(again.Items) != 2 {
			t.Fatalf("A's second import: %s", res.Body)
		}
		for _, it := range again.Items {
			if it.Problem == nil || it.Problem.Code != keyward.ECONFLICT {
				t.Errorf("line %d: got %+v, want conflict", it.Line, it)
			}
		}

		// Each tenant's verifier gets its own key, on verify and verify:batch.
		for _, w := range []struct {
			name, verifier, id string
		}{{"A", s.admin, a.Items[0].ID}, {"B", bVerifier, b.Items[0].ID}, {"C", cVerifier, c.Items[0].ID}} {
			var v keyward.VerifyResult
			s.do("POST", "/v1/keys/verify", w.verifier, map[string]any{"key": weak}, 200, &v)
			if !v.Valid || v.KeyID == nil || *v.KeyID != w.id {
				t.Errorf("verify in %s: got %+v, want key %s", w.name, v, w.id)
			}
			var batch struct{ Items []keyward.VerifyResult }
			s.do("POST", "/v1/keys/verify:batch", w.verifier, map[string]any{"items": []map[string]any{{"key": weak}, {"key": weak + "x"}}}, 200, &batch)
			if len(batch.Items) != 2 || !batch.Items[0].Valid || batch.Items[0].KeyID == nil || *batch.Items[0].KeyID != w.id ||
				batch.Items[1].Code != keyward.CodeNotFound {
				t.Errorf("verify:batch in %s: got %+v, want key %s", w.name, batch.Items, w.id)
			}
		}

		// keyward's own API knows no tenant: the secret is an unknown key.
		for _, auth := range [][]string{{"", "X-API-Key", weak}, {"Bearer " + weak}, {basic(b.Items[0].ClientID, weak)}} {
			if r := s.raw("GET", "/v1/whoami", auth[0], nil, auth[1:]...); r.Status != 401 {
				t.Errorf("%q: got %d %s, want 401", auth[0], r.Status, r.Body)
			}
		}
	})
}

// TestImportRefusesDuplicateMembers: a line naming a member twice (at the
// top or inside meta, however spelled) fails alone with a problem naming
// it, instead of taking the last value; the create body is refused alike.
func TestImportRefusesDuplicateMembers(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db)
		sec := func() string { return "legacy_" + secret.NewID() }
		a, res := s.importKeys("Bearer "+s.admin, ndjson(
			map[string]any{"name": "fine", "level": 1, "secret": sec()},
			`{"name": "twice", "level": 1, "level": 4, "secret": "`+sec()+`"}`,
			`{"name": "spelled", "n\u0061me": "other", "secret": "`+sec()+`"}`,
			`{"name": "in-meta", "meta": {"plan": "pro", "plan": "free"}, "secret": "`+sec()+`"}`,
			`{"name": "hash-twice", "secretHash": "`+sha256Hex(sec())+`", "secretHash": "`+sha256Hex(sec())+`"}`,
		), 200)
		if a.Created != 1 || a.Failed != 4 || a.Items[0].ID == "" {
			t.Fatalf("got %s, want line 1 created and 4 failed", res.Body)
		}
		for i, want := range []keyward.FieldError{
			{Field: "level", Message: "is given more than once"},
			{Field: "name", Message: "is given more than once"},
			{Field: "meta", Message: `names the member "plan" more than once`},
			{Field: "secretHash", Message: "is given more than once"},
		} {
			it := a.Items[i+1]
			if it.ID != "" || it.Problem == nil || it.Problem.Code != keyward.EINVALID || len(it.Problem.Errors) != 1 || it.Problem.Errors[0] != want {
				t.Errorf("line %d: got %+v, want %s %+v", it.Line, it, keyward.EINVALID, want)
			}
		}
		if n := s.countKeys("twice"); n != 0 {
			t.Errorf("keys named twice: got %d, want 0", n)
		}

		r := s.raw("POST", "/v1/apikeys", "Bearer "+s.admin, strings.NewReader(`{"name": "created", "level": 1, "level": 4}`))
		var p httpapi.Problem
		json.Unmarshal(r.Body, &p)
		if r.Status != 400 || p.Code != keyward.EINVALID || len(p.Errors) != 1 || p.Errors[0].Field != "level" {
			t.Errorf("create with level twice: got %d %s, want 400 naming level", r.Status, r.Body)
		}
	})
}

// TestImportRefusesHashOfOwnTenantsKey: a secretHash that is the SHA-256
// of a key of the tenant (its keyward secret, current or previous, or one
// imported in clear on another line) is refused on its line: the secret
// finds that key, so the imported one would never verify. The hash of
// another tenant's key is not refused (nothing of other tenants shows),
// and the existing key keeps verifying.
func TestImportRefusesHashOfOwnTenantsKey(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db)
		own := s.newKey(map[string]any{"name": "own", "level": 1})
		rotated := s.newKey(map[string]any{"name": "rotated", "level": 1})
		var fresh keyward.IssuedKey
		s.do("POST", "/v1/apikeys/"+rotated.ID+"/rotate", s.admin, map[string]any{"gracePeriodSeconds": 3600}, 200, &fresh)
		otherAdmin := s.secondTenant("other")
		var other keyward.IssuedKey
		s.do("POST", "/v1/apikeys", otherAdmin, map[string]any{"name": "other-tenant", "level": 1}, 201, &other)
		inClear := secret.NewSecret("kw")

		a, res := s.importKeys("Bearer "+s.admin, ndjson(
			map[string]any{"name": "hash-of-own", "secretHash": sha256Hex(own.ClientSecret)},
			map[string]any{"name": "hash-of-previous", "secretHash": sha256Hex(rotated.ClientSecret)},
			map[string]any{"name": "hash-of-later-line", "secretHash": sha256Hex(inClear)},
			map[string]any{"name": "in-clear", "secret": inClear},
			map[string]any{"name": "hash-of-other-tenant", "secretHash": sha256Hex(other.ClientSecret)},
		), 200)
		for i, want := range []string{keyward.ECONFLICT, keyward.ECONFLICT, keyward.ECONFLICT, "", ""} {
			it, code := a.Items[i], ""
			if it.Problem != nil {
				code = it.Problem.Code
			}
			if code != want || (code == "") != (it.ID != "") {
				t.Errorf("line %d: got %+v, want code %q", it.Line, it, want)
			}
			if code != "" && !strings.Contains(it.Problem.Detail, "never verify") {
				t.Errorf("line %d: got detail %q, want it to say why", it.Line, it.Problem.Detail)
			}
		}
		if strings.Contains(string(res.Body), own.ID) || strings.Contains(string(res.Body), other.ID) {
			t.Errorf("the answer names another key: %s", res.Body)
		}
		for _, k := range []struct{ secret, id string }{{own.ClientSecret, own.ID}, {rotated.ClientSecret, rotated.ID}, {inClear, a.Items[3].ID}} {
			var v keyward.VerifyResult
			s.do("POST", "/v1/keys/verify", s.admin, map[string]any{"key": k.secret}, 200, &v)
			if !v.Valid || v.KeyID == nil || *v.KeyID != k.id {
				t.Errorf("verify a secret of key %s: got %+v", k.id, v)
			}
		}
	})
}

// TestImportedSecretsAreNoCredentials (F2): the holder of a secret imported
// in a foreign format (in clear, or by its hash) gets no access token for
// it at a realm's token endpoint, as at /oauth2/token, and a keyward-v1
// signature made with it does not authenticate to keyward's own API: such
// a secret only verifies, in its tenant. A keyward secret imported in
// clear works at both endpoints, and so does a created key.
func TestImportedSecretsAreNoCredentials(t *testing.T) {
	backends(t, func(t *testing.T, s *server) {
		foreign := "legacy_9fQ2xLmR7tWz" + secret.NewID()[:8]
		hashed := "sk_live_51HxYz0AbCdEfGhIjKlMnOp" + secret.NewID()[:8]
		own := secret.NewSecret("kw")
		a, res := s.importKeys("Bearer "+s.admin, ndjson(
			map[string]any{"name": "legacy", "level": 4, "permissions": refs("apikeys:write"), "secretHash": sha256Hex(hashed)},
			map[string]any{"name": "legacy hmac", "level": 4, "permissions": refs("apikeys:write"), "secret": foreign, "hmacEnabled": true},
			map[string]any{"name": "own", "level": 1, "secret": own},
		), 200)
		if a.Created != 3 {
			t.Fatalf("import: %s", res.Body)
		}
		created := s.newKey(map[string]any{"name": "created", "level": 1})
		realm := "/auth/realms/" + keyward.RootTenantName + "/protocol/openid-connect/token"
		grant := url.Values{"grant_type": {"client_credentials"}}
		for _, c := range []struct {
			name, clientID, secret string
			want                   int
		}{
			{"hash-only", a.Items[0].ClientID, hashed, 401},
			{"foreign in clear", a.Items[1].ClientID, foreign, 401},
			{"keyward secret in clear", a.Items[2].ClientID, own, 200},
			{"created", created.ClientID, created.ClientSecret, 200},
		} {
			for _, path := range []string{"/oauth2/token", realm} {
				res := s.form(path, basic(url.QueryEscape(c.clientID), url.QueryEscape(c.secret)), grant)
				if res.Status != c.want {
					t.Errorf("%s at %s (Basic): got %d %s, want %d", c.name, path, res.Status, res.Body, c.want)
				}
				res = s.form(path, "", url.Values{"grant_type": {"client_credentials"}, "client_id": {c.clientID}, "client_secret": {c.secret}})
				if res.Status != c.want {
					t.Errorf("%s at %s (form): got %d %s, want %d", c.name, path, res.Status, res.Body, c.want)
				}
				if c.want == 401 && strings.Contains(string(res.Body), "access_token") {
					t.Errorf("%s at %s: a token: %s", c.name, path, res.Body)
				}
			}
		}

		// keyward-v1 with the imported secret: refused at keyward's own API,
		// still verified for a verifier of its tenant.
		if st, code := send(t, signed(t, s, "GET", "/v1/whoami", nil, a.Items[1].ClientID, foreign, nil)); st != 401 {
			t.Errorf("signed with an imported secret: got %d %s, want 401", st, code)
		}
		body := []byte(`{"name":"minted"}`)
		if st, code := send(t, signed(t, s, "POST", "/v1/apikeys", body, a.Items[1].ClientID, foreign, nil)); st != 401 {
			t.Errorf("signed create with an imported secret: got %d %s, want 401", st, code)
		}
		req, _ := http.NewRequest("GET", "https://api.example.com/orders", nil)
		nonce := base64.RawURLEncoding.EncodeToString(secret.RandomBytes(18))
		if err := signature.SignKeywardV1(req, a.Items[1].ClientID, []byte(foreign), time.Now(), time.Minute, nonce); err != nil {
			t.Fatal(err)
		}
		headers := map[string]string{}
		for k := range req.Header {
			headers[k] = req.Header.Get(k)
		}
		var v keyward.VerifyResult
		s.do("POST", "/v1/signatures/verify", s.admin, map[string]any{"method": "GET", "authority": "api.example.com",
			"path": "/orders", "headers": headers}, 200, &v)
		if !v.Valid || v.KeyID == nil || *v.KeyID != a.Items[1].ID {
			t.Errorf("a verifier's check of the imported key's signature: got %+v, want valid", v)
		}
	})
}
