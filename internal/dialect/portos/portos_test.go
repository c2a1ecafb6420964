package portos_test

// The Portos fidelity suite: every endpoint, member, status and error shape
// of shared/seeds/001_*, asserted against a real server on SQLite and
// PostgreSQL.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect/dialecttest"
	"github.com/keyward/keyward/internal/dialect/portos"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

func fields(m map[string]any) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// documented are the ApiKey members of the document, less clientSecret.
const documented = "_v,clientId,createdAt,description,deviceName,id,isActive,name,permissions,userName"

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// checkModel asserts each member's JSON type and format as the document
// shows them: strings (id a UUID, createdAt an RFC 3339 time), isActive a
// boolean, permissions an array of strings, _v a number; none is null.
func checkModel(t *testing.T, what string, k map[string]any, withSecret bool) {
	t.Helper()
	want := documented
	if withSecret {
		want = "_v,clientId,clientSecret,createdAt,description,deviceName,id,isActive,name,permissions,userName"
	}
	if got := fields(k); got != want {
		t.Errorf("%s: got members %s, want %s", what, got, want)
	}
	for _, m := range []string{"id", "clientId", "createdAt", "name", "description", "userName", "deviceName"} {
		if _, ok := k[m].(string); !ok {
			t.Errorf("%s: got %s = %#v, want a string", what, m, k[m])
		}
	}
	if withSecret {
		if s, _ := k["clientSecret"].(string); s == "" {
			t.Errorf("%s: got clientSecret %#v, want a string", what, k["clientSecret"])
		}
	}
	if id, _ := k["id"].(string); !uuidRE.MatchString(id) {
		t.Errorf("%s: got id %q, want a UUID", what, id)
	}
	if at, _ := k["createdAt"].(string); at != "" {
		if _, err := time.Parse(time.RFC3339Nano, at); err != nil {
			t.Errorf("%s: got createdAt %q, want an RFC 3339 time", what, at)
		}
	}
	if _, ok := k["isActive"].(bool); !ok {
		t.Errorf("%s: got isActive %#v, want a boolean", what, k["isActive"])
	}
	if v, ok := k["_v"].(float64); !ok || v < 1 || v != float64(int(v)) {
		t.Errorf("%s: got _v %#v, want a whole number from 1", what, k["_v"])
	}
	perms, ok := k["permissions"].([]any)
	if !ok {
		t.Errorf("%s: got permissions %#v, want an array", what, k["permissions"])
	}
	for _, p := range perms {
		if _, ok := p.(string); !ok {
			t.Errorf("%s: got permission %#v, want a string", what, p)
		}
	}
}

// checkNotFound asserts Portos' 404: {title, status: 404}.
func checkNotFound(t *testing.T, what string, res dialecttest.Response) {
	t.Helper()
	var nf map[string]any
	json.Unmarshal(res.Body, &nf)
	if title, _ := nf["title"].(string); res.Status != 404 || nf["status"] != float64(404) || title == "" {
		t.Errorf("%s: got %d %s, want 404 {title, status: 404}", what, res.Status, res.Body)
	}
}

func TestPortos(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := dialecttest.Start(t, db, portos.Mount)
		s.Do("POST", "/v1/permissions", s.Admin, map[string]any{"name": "orders_read"}, 201, nil)
		var jane keyward.User
		s.Do("POST", "/v1/users", s.Admin, map[string]any{"userName": "jane.ro", "password": "jane-password-1", "level": 4}, 201, &jane)
		// A user the creator key covers (level 0, no permissions): Portos
		// keys act as their user, so only a caller covering the user may
		// make one for it.
		s.Do("POST", "/v1/users", s.Admin, map[string]any{"userName": "john.doe", "password": "john-password-1"}, 201, nil)
		var janeLogin keyward.LoginResult
		s.Do("POST", "/v1/login", "", map[string]string{"userName": "jane.ro", "password": "jane-password-1"}, 200, &janeLogin)
		var creator, deleter keyward.IssuedKey
		s.Do("POST", "/v1/apikeys", s.Admin, map[string]any{"name": "creator",
			"permissions": []map[string]string{{"name": "apiKeyCreate"}, {"name": "apiKeyUpdate"}, {"name": "apikeys:read"}}}, 201, &creator)
		s.Do("POST", "/v1/apikeys", s.Admin, map[string]any{"name": "deleter",
			"permissions": []map[string]string{{"name": "apiKeyDelete"}, {"name": "apikeys:read"}}}, 201, &deleter)

		// Create, as the document's model (isActive absent: the key starts
		// inactive, "to enable API key usage ... set isActive to true").
		var k map[string]any
		s.Do("POST", "/apikeys", creator.ClientSecret, map[string]any{"name": "acting as admin"}, 403, nil) // the caller's owner: admin
		res := s.Do("POST", "/apikeys", creator.ClientSecret, map[string]any{"name": "My API key", "userName": "john.doe",
			"description": "This is an API key description", "deviceName": "BackOffice", "permissions": []string{}}, 201, &k)
		checkModel(t, "create", k, true)
		if k["isActive"] != false || k["_v"] != float64(1) || k["userName"] != "john.doe" || k["deviceName"] != "BackOffice" {
			t.Errorf("create: got %v, want inactive, _v 1, userName john.doe", k)
		}
		if res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("create: got Cache-Control %q, want no-store", res.Header.Get("Cache-Control"))
		}
		id := k["id"].(string)
		var native keyward.APIKey
		s.Do("GET", "/v1/apikeys/"+id, s.Admin, nil, 200, &native)
		if !native.HMACEnabled || native.IsActive {
			t.Errorf("native view: got hmacEnabled %v isActive %v, want a signing key, inactive", native.HMACEnabled, native.IsActive)
		}

		// userName sets the owner: an unknown one is 400 naming it; another
		// user only for a caller who may act for that user.
		var owned map[string]any
		s.Do("POST", "/apikeys", creator.ClientSecret, map[string]any{"name": "jane's", "userName": "jane.ro", "isActive": true}, 403, nil)
		s.Do("POST", "/apikeys", s.Admin, map[string]any{"name": "jane's", "userName": "jane.ro", "isActive": true}, 201, &owned)
		s.Do("GET", "/v1/apikeys/"+owned["id"].(string), s.Admin, nil, 200, &native)
		if owned["userName"] != "jane.ro" || owned["isActive"] != true || native.OwnerID != jane.ID {
			t.Errorf("userName jane.ro: got %v (owner %s), want owned by jane, active", owned, native.OwnerID)
		}
		res = s.Raw("POST", "/apikeys", "Bearer "+creator.ClientSecret, map[string]any{"name": "x", "userName": "nobody"})
		if res.Status != 400 || !strings.Contains(string(res.Body), `"field":"userName"`) || !strings.Contains(string(res.Body), "nobody") {
			t.Errorf("unknown userName: got %d %s, want 400 naming userName and the name", res.Status, res.Body)
		}
		s.Do("POST", "/apikeys", janeLogin.AccessToken, map[string]any{"name": "x", "userName": "admin"}, 403, nil)
		s.Do("POST", "/apikeys", janeLogin.AccessToken, map[string]any{"name": "mine", "userName": "jane.ro"}, 201, nil)

		// Unknown members are ignored, as the original does; the rights as
		// the document spells them are the built-in aliases.
		var extra map[string]any
		s.Do("POST", "/apikeys", s.Admin, map[string]any{"name": "extra", "isActive": true, "color": "blue",
			"permissions": []string{"ApiKeyCreate", "APIKEYDELETE"}}, 201, &extra)
		if p := extra["permissions"].([]any); len(p) != 2 || p[0] != "ApiKeyCreate" || p[1] != "ApiKeyDelete" {
			t.Errorf("PascalCase rights: got %v, want [ApiKeyCreate ApiKeyDelete], as the document spells them", p)
		}
		var withRight struct{ Items []map[string]any }
		s.Do("GET", "/apikeys?permissions=eq:ApiKeyDelete", s.Admin, nil, 200, &withRight)
		if len(withRight.Items) != 2 { // deleter and extra
			t.Errorf("permissions=eq:ApiKeyDelete: got %d keys, want 2", len(withRight.Items))
		}
		s.Do("POST", "/apikeys", janeLogin.AccessToken, map[string]any{"name": "x", "permissions": []string{"orders_read"}}, 403, nil)
		s.Do("POST", "/apikeys", deleter.ClientSecret, map[string]any{"name": "x"}, 403, nil)

		// Get, and 404 in Portos' shape for every id that names no key.
		var got map[string]any
		s.Do("GET", "/apikeys/"+id, creator.ClientSecret, nil, 200, &got)
		checkModel(t, "get", got, false)
		s.Do("POST", "/v1/tenants", s.Admin, map[string]any{"name": "other"}, 201, nil)
		var foreign keyward.IssuedKey
		s.Do("POST", "/v1/apikeys?tenant=other", s.Admin, map[string]any{"name": "foreign"}, 201, &foreign)
		for _, bad := range []string{"not-a-uuid", "64b00bc5ba312b6744126a87", "00000000-0000-4000-8000-000000000000", foreign.ID} {
			for _, m := range []string{"GET", "DELETE", "PUT"} {
				var body any
				if m == "PUT" {
					body = map[string]any{"name": "x", "_v": 1, "userName": "john.doe"}
				}
				if m == "PUT" && (bad == "00000000-0000-4000-8000-000000000000" || bad == foreign.ID) {
					continue // a PUT of an unused id creates; ids are per tenant (below)
				}
				who := creator.ClientSecret
				if m == "DELETE" {
					who = deleter.ClientSecret
				}
				checkNotFound(t, m+" "+bad, s.Raw(m, "/apikeys/"+bad, "Bearer "+who, body))
			}
		}

		// PUT updates: without _v (last writer wins), with the current _v,
		// and 409 with a stale one.
		got["name"] = "Renamed"
		delete(got, "_v")
		var updated map[string]any
		s.Do("PUT", "/apikeys/"+id, creator.ClientSecret, got, 200, &updated)
		checkModel(t, "PUT update", updated, false)
		if updated["name"] != "Renamed" || updated["_v"] != float64(2) {
			t.Errorf("PUT without _v: got %v, want renamed, _v 2", updated)
		}
		got["_v"], got["isActive"] = float64(2), true
		s.Do("PUT", "/apikeys/"+id, creator.ClientSecret, got, 200, &updated)
		if updated["_v"] != float64(3) || updated["isActive"] != true {
			t.Errorf("PUT with _v 2: got %v, want active, _v 3", updated)
		}
		res = s.Raw("PUT", "/apikeys/"+id, "Bearer "+creator.ClientSecret, got)
		if res.Status != 409 || !strings.Contains(string(res.Body), "_v") {
			t.Errorf("stale _v: got %d %s, want 409 naming _v", res.Status, res.Body)
		}

		// PUT's userName moves the key under the domain's owner rules.
		got["userName"], got["_v"] = "jane.ro", float64(3)
		s.Do("PUT", "/apikeys/"+id, creator.ClientSecret, got, 403, nil) // the creator does not cover jane
		s.Do("PUT", "/apikeys/"+id, s.Admin, got, 200, &updated)
		s.Do("GET", "/v1/apikeys/"+id, s.Admin, nil, 200, &native)
		if updated["userName"] != "jane.ro" || native.OwnerID != jane.ID {
			t.Errorf("PUT userName: got %v (owner %s), want jane's", updated, native.OwnerID)
		}
		delete(got, "_v")
		got["userName"] = "nobody"
		if res := s.Raw("PUT", "/apikeys/"+id, "Bearer "+creator.ClientSecret, got); res.Status != 400 || !strings.Contains(string(res.Body), `"field":"userName"`) {
			t.Errorf("PUT unknown userName: got %d %s, want 400 naming userName", res.Status, res.Body)
		}
		got["userName"] = "admin"
		s.Do("PUT", "/apikeys/"+id, janeLogin.AccessToken, got, 403, nil) // jane may not give her key to admin
		got["userName"] = "jane.ro"

		// PUT creates at an unused id, as POST does, with the secret.
		newID := "7d9e2f5c-3b0a-4c1e-9f6d-2a8b4c6d8e0f"
		var made map[string]any
		s.Do("PUT", "/apikeys/"+newID, creator.ClientSecret, map[string]any{"name": "made by PUT", "userName": "john.doe"}, 200, &made)
		checkModel(t, "PUT create", made, true)
		if made["id"] != newID || made["isActive"] != false {
			t.Errorf("PUT create: got %v, want id %s, inactive", made, newID)
		}

		// DELETE needs ApiKeyDelete and returns the deleted key.
		s.Do("DELETE", "/apikeys/"+id, creator.ClientSecret, nil, 403, nil)
		var deleted map[string]any
		s.Do("DELETE", "/apikeys/"+id, deleter.ClientSecret, nil, 200, &deleted)
		checkModel(t, "delete", deleted, false)
		if deleted["id"] != id {
			t.Errorf("delete: got %v", deleted)
		}
		checkNotFound(t, "GET after delete", s.Raw("GET", "/apikeys/"+id, "Bearer "+creator.ClientSecret, nil))

		// Lists never show another tenant's keys.
		var list struct {
			Items      []map[string]any `json:"items"`
			Count      int              `json:"count"`
			TotalCount int              `json:"totalCount"`
		}
		s.Do("GET", "/apikeys?id=eq:"+foreign.ID, creator.ClientSecret, nil, 200, &list)
		if list.TotalCount != 0 || list.Count != 0 || list.Items == nil {
			t.Errorf("another tenant's key: got %+v, want an empty list", list)
		}

		// Key ids are scoped per tenant: a PUT of another tenant's key's
		// id creates a key here, as for an id never used, and leaves that
		// key alone.
		var sameID map[string]any
		s.Do("PUT", "/apikeys/"+foreign.ID, creator.ClientSecret, map[string]any{"name": "same id", "userName": "john.doe"}, 200, &sameID)
		if sameID["id"] != foreign.ID || sameID["clientSecret"] == nil || sameID["clientId"] == foreign.ClientID || sameID["_v"] != float64(1) {
			t.Errorf("PUT of another tenant's key's id: got %v, want a new key with its secret", sameID)
		}
		var still keyward.APIKey
		s.Do("GET", "/v1/apikeys/"+foreign.ID+"?tenant=other", s.Admin, nil, 200, &still)
		if still.Name != "foreign" || still.Version != 1 {
			t.Errorf("the other tenant's key: got %+v, want it unchanged", still)
		}
	})
}

// TestPortosRoundTripKeepsWhatPortosCannotSay: a GET → PUT round trip (the
// way Portos clients update) changes only Portos' members; expiry, rate
// limit, level, token lifespan and meta stay.
func TestPortosRoundTripKeepsWhatPortosCannotSay(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := dialecttest.Start(t, db, portos.Mount)
		var k keyward.IssuedKey
		s.Do("POST", "/v1/apikeys", s.Admin, map[string]any{"name": "rich", "level": 3, "expiresIn": 86400,
			"tokenLifespanSeconds": 600, "rateLimit": map[string]int{"limit": 10, "windowSeconds": 60},
			"meta": map[string]string{"team": "billing"}, "deviceName": "POS"}, 201, &k)
		var before keyward.APIKey
		s.Do("GET", "/v1/apikeys/"+k.ID, s.Admin, nil, 200, &before)

		var m map[string]any
		s.Do("GET", "/apikeys/"+k.ID, s.Admin, nil, 200, &m)
		m["description"] = "now described"
		s.Do("PUT", "/apikeys/"+k.ID, s.Admin, m, 200, nil)
		var after keyward.APIKey
		s.Do("GET", "/v1/apikeys/"+k.ID, s.Admin, nil, 200, &after)
		if after.Description != "now described" || after.Version != before.Version+1 {
			t.Errorf("got description %q version %d, want the change at version %d", after.Description, after.Version, before.Version+1)
		}
		if after.ExpiresAt == nil || !after.ExpiresAt.Equal(*before.ExpiresAt) || after.Level != 3 || after.TokenLifespanSeconds != 600 ||
			after.RateLimit == nil || *after.RateLimit != *before.RateLimit || string(after.Meta) != string(before.Meta) ||
			after.DeviceName != "POS" || after.HMACEnabled != before.HMACEnabled || after.IsActive != before.IsActive {
			t.Errorf("after the round trip:\ngot  %+v\nwant %+v (only description changed)", after, before)
		}
	})
}

// TestPortosKeySigns: a key made through the Portos API signs NWS4
// requests from creation, with the published algorithm, once activated.
func TestPortosKeySigns(t *testing.T) {
	s := dialecttest.Start(t, sqltest.SQLite(t), portos.Mount)
	var k map[string]any
	s.Do("POST", "/apikeys", s.Admin, map[string]any{"name": "signer", "isActive": true, "permissions": []string{"apikeys:read"}}, 201, &k)
	clientID, sec := k["clientId"].(string), k["clientSecret"].(string)

	req, _ := http.NewRequest("GET", s.URL+"/apikeys/"+k["id"].(string), nil)
	dialecttest.SignNWS4(req, nil, clientID, sec, time.Now())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("NWS4-signed GET by the new key: got %d, want 200", res.StatusCode)
	}
	var who keyward.WhoAmI
	req, _ = http.NewRequest("GET", s.URL+"/v1/whoami", nil)
	dialecttest.SignNWS4(req, nil, clientID, sec, time.Now())
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(res.Body).Decode(&who)
	res.Body.Close()
	if res.StatusCode != 200 || who.ClientID != clientID || who.Kind != keyward.KindAPIKey {
		t.Errorf("whoami signed: got %d %+v, want the key", res.StatusCode, who)
	}

	// An inactive Portos key (the default) does not sign.
	var off map[string]any
	s.Do("POST", "/apikeys", s.Admin, map[string]any{"name": "off"}, 201, &off)
	req, _ = http.NewRequest("GET", s.URL+"/v1/whoami", nil)
	dialecttest.SignNWS4(req, nil, off["clientId"].(string), off["clientSecret"].(string), time.Now())
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Errorf("an inactive key signs: got %d, want 401", res.StatusCode)
	}
}

// TestNWS4SignerReproducesVector: the suite's own NWS4 signer reproduces
// the published test vector, so what it signs is what Portos clients sign.
func TestNWS4SignerReproducesVector(t *testing.T) {
	body := []byte(`{"name":"John"}`)
	sum := sha256.Sum256(body)
	bodyHash := hex.EncodeToString(sum[:])
	if bodyHash != "f498513cc6d902a32254a1d795e2031636dea18dce65ba10e94e83189e50cbb8" {
		t.Fatalf("got body hash %s", bodyHash)
	}
	ts := "2023-05-30T13:17:01.992Z"
	headers := map[string]string{"accept": "application/json", "content-type": "application/json", "host": "example.com:8080",
		"x-nd-content-sha256": bodyHash, "x-nd-date": ts}
	got := dialecttest.NWS4Authorization("POST", "/api/user", "i=1$ref=1&validate", headers, bodyHash,
		"d948ec22e47790caacce234b792a0f117d85c365", "5070adfb2bedf1c0c97d5c8cfa8c794d513249b802ea10596a175d88828abc19", ts)
	dec, _ := url.QueryUnescape(strings.TrimPrefix(got, "NWS4-HMAC-SHA256 "))
	want := "Credential=d948ec22e47790caacce234b792a0f117d85c365,SignedHeaders=accept;content-type;host;x-nd-content-sha256;x-nd-date," +
		"Timestamp=2023-05-30T13:17:01.992Z,Signature=87c7a2057285f0db8dc3b7c95c15fe5476f5ab44b73b3e15990d8b1a837d4ddb"
	if dec != want {
		t.Errorf("got  %s\nwant %s", dec, want)
	}
}

// TestPortosReadableSecrets: with the tenant setting off (the default) a
// secret is shown once; on, Portos answers carry it for the HMAC keys the
// caller covers, each read audited.
func TestPortosReadableSecrets(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := dialecttest.Start(t, db, portos.Mount)
		s.Do("POST", "/v1/permissions", s.Admin, map[string]any{"name": "orders_read"}, 201, nil)
		var jane keyward.User
		s.Do("POST", "/v1/users", s.Admin, map[string]any{"userName": "jane.ro", "password": "jane-password-1", "level": 4}, 201, &jane)
		var login keyward.LoginResult
		s.Do("POST", "/v1/login", "", map[string]string{"userName": "jane.ro", "password": "jane-password-1"}, 200, &login)

		var k, janes, beyond map[string]any
		s.Do("POST", "/apikeys", s.Admin, map[string]any{"name": "signer"}, 201, &k)
		s.Do("POST", "/apikeys", login.AccessToken, map[string]any{"name": "jane's"}, 201, &janes)
		s.Do("POST", "/apikeys", s.Admin, map[string]any{"name": "beyond jane", "userName": "jane.ro", "permissions": []string{"orders_read"}}, 201, &beyond)
		var plain keyward.IssuedKey
		s.Do("POST", "/v1/apikeys", s.Admin, map[string]any{"name": "plain"}, 201, &plain)

		read := func(token, id string) map[string]any {
			t.Helper()
			var got map[string]any
			s.Do("GET", "/apikeys/"+id, token, nil, 200, &got)
			return got
		}
		if got := read(s.Admin, k["id"].(string)); got["clientSecret"] != nil {
			t.Fatalf("setting off: got clientSecret in a read: %v", got)
		}

		var who keyward.WhoAmI
		s.Do("GET", "/v1/whoami", s.Admin, nil, 200, &who)
		var tn keyward.Tenant
		s.Do("PATCH", "/v1/tenants/"+who.TenantID, s.Admin, map[string]any{"portosReadableSecrets": true}, 200, &tn)
		if !tn.PortosReadableSecrets {
			t.Fatalf("got tenant %+v, want portosReadableSecrets on", tn)
		}
		tests := []struct {
			name, token string
			key         map[string]any
			want        any // the secret, or nil
		}{
			{"admin reads a key it covers", s.Admin, k, k["clientSecret"]},
			{"jane reads her own key", login.AccessToken, janes, janes["clientSecret"]},
			{"admin reads jane's key", s.Admin, janes, janes["clientSecret"]},
			{"jane does not cover a key holding orders_read", login.AccessToken, beyond, nil},
			{"a key without HMAC has no sealed copy", s.Admin, map[string]any{"id": plain.ID}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := read(tt.token, tt.key["id"].(string))
				if got["clientSecret"] != tt.want {
					t.Errorf("got clientSecret %v, want %v", got["clientSecret"], tt.want)
				}
			})
		}
		var list struct{ Items []map[string]any }
		s.Do("GET", "/apikeys?id=in:"+k["id"].(string)+":"+beyond["id"].(string)+"&$sort=name", s.Admin, nil, 200, &list)
		if len(list.Items) != 2 || list.Items[0]["clientSecret"] != beyond["clientSecret"] || list.Items[1]["clientSecret"] != k["clientSecret"] {
			t.Errorf("list: got %v, want both secrets", list.Items)
		}
		var audit struct {
			Items []keyward.AuditEntry `json:"items"`
		}
		s.Do("GET", "/v1/audit?action=apikey.secret.read&page-size=100", s.Admin, nil, 200, &audit)
		if len(audit.Items) != 5 {
			t.Errorf("got %d apikey.secret.read audit entries, want 5 (one per secret shown)", len(audit.Items))
		}
	})
}

// TestPortosConcurrentPutCreate: PUTs racing to create one id all succeed
// (without _v the losers update); exactly one answer carries the secret.
func TestPortosConcurrentPutCreate(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := dialecttest.Start(t, db, portos.Mount)
		const id = "3f1c9a2e-8b7d-4e6f-a5c4-1d2e3f4a5b6c"
		const n = 8
		type result struct {
			status int
			secret bool
		}
		results := make(chan result, n)
		for i := range n {
			go func() {
				req, _ := http.NewRequest("PUT", s.URL+"/apikeys/"+id, strings.NewReader(`{"name":"racer `+string(rune('a'+i))+`"}`))
				req.Header.Set("Authorization", "Bearer "+s.Admin)
				req.Header.Set("Content-Type", "application/json")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					results <- result{}
					return
				}
				var m map[string]any
				json.NewDecoder(res.Body).Decode(&m)
				res.Body.Close()
				if res.StatusCode != 200 {
					t.Logf("%d %v", res.StatusCode, m)
				}
				results <- result{res.StatusCode, m["clientSecret"] != nil}
			}()
		}
		secrets := 0
		for range n {
			r := <-results
			if r.status != 200 {
				t.Errorf("a racing PUT: got %d, want 200", r.status)
			}
			if r.secret {
				secrets++
			}
		}
		if secrets != 1 {
			t.Errorf("got %d answers with the secret, want exactly 1 (the creator's)", secrets)
		}
	})
}

// TestPortosKeyActsAsItsUser: "the request will be executed within the
// context of the user specified by their userName". A key made exactly as
// the document's example (permissions: []) lists its user's keys when it
// signs a request. Waits for the owner's-rights grant of the authorization
// rewrite; actAsOwner in portos.go is where it is set.
func TestPortosKeyActsAsItsUser(t *testing.T) {
	s := dialecttest.Start(t, sqltest.SQLite(t), portos.Mount)
	s.Do("POST", "/v1/users", s.Admin, map[string]any{"userName": "john.doe", "password": "john-password-1", "level": 4}, 201, nil)
	var login keyward.LoginResult
	s.Do("POST", "/v1/login", "", map[string]string{"userName": "john.doe", "password": "john-password-1"}, 200, &login)
	var k map[string]any
	s.Do("POST", "/apikeys", login.AccessToken, map[string]any{"name": "My API key", "description": "This is an API key description",
		"isActive": true, "userName": "john.doe", "deviceName": "BackOffice", "permissions": []string{}}, 201, &k)
	req, _ := http.NewRequest("GET", s.URL+"/apikeys", nil)
	dialecttest.SignNWS4(req, nil, k["clientId"].(string), k["clientSecret"].(string), time.Now())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Items []map[string]any }
	json.NewDecoder(res.Body).Decode(&list)
	res.Body.Close()
	if res.StatusCode != 200 || len(list.Items) != 1 || list.Items[0]["userName"] != "john.doe" {
		t.Errorf("got %d %v, want 200 listing john.doe's key", res.StatusCode, list.Items)
	}
}
