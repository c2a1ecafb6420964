package carbonext_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect/carbonext"
	"github.com/keyward/keyward/internal/dialect/dialecttest"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

func TestCarbonextApplications(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := dialecttest.Start(t, db, carbonext.Mount)
		// A Carbonext customer: a tenant with the cbx_b2b prefix, its own
		// permissions, and an integration key holding the documented rights.
		var tn keyward.Tenant
		s.Do("POST", "/v1/tenants", s.Admin, map[string]any{"name": "co2free", "prefix": "cbx_b2b"}, 201, &tn)
		var p1, p2 keyward.Permission
		s.Do("POST", "/v1/permissions?tenant=co2free", s.Admin, map[string]any{"name": "orders_read"}, 201, &p1)
		s.Do("POST", "/v1/permissions?tenant=co2free", s.Admin, map[string]any{"name": "orders_write"}, 201, &p2)
		var writer, reader keyward.IssuedKey
		s.Do("POST", "/v1/apikeys?tenant=co2free", s.Admin, map[string]any{"name": "integration", "level": 7,
			"permissions": []map[string]string{{"name": "customer_applications_write"}, {"name": "customer_applications_read"}, {"name": "orders_read"}}}, 201, &writer)
		s.Do("POST", "/v1/apikeys?tenant=co2free", s.Admin, map[string]any{"name": "reader",
			"permissions": []map[string]string{{"name": "customer_applications_read"}}}, 201, &reader)

		// Create, exactly as the seed's request.
		body := map[string]any{"clientId": "myapp_name", "displayName": "My test app",
			"permissions": []map[string]string{{"id": p1.ID}}}
		var created map[string]any
		s.Do("POST", "/v1/customers/applications?customer-id="+tn.ID, writer.ClientSecret, body, 201, &created)
		dialecttest.CheckMembers(t, "create", created, createdMembers)
		if created["clientId"] != "cbx_b2b_myapp_name" {
			t.Fatalf("create answered %v, want {id, clientId: cbx_b2b_myapp_name, clientSecret}", created)
		}
		// The documented rights are enforced, and so is no escalation.
		s.Do("POST", "/v1/customers/applications?customer-id="+tn.ID, reader.ClientSecret,
			map[string]any{"clientId": "x", "displayName": "x", "permissions": []map[string]string{}}, 403, nil)
		s.Do("POST", "/v1/customers/applications?customer-id="+tn.ID, writer.ClientSecret,
			map[string]any{"clientId": "y", "displayName": "y", "permissions": []map[string]string{{"id": p2.ID}}}, 403, nil)
		// Another customer's id is not found.
		s.Do("POST", "/v1/customers/applications?customer-id=default", writer.ClientSecret, body, 404, nil)
		res := s.Raw("POST", "/v1/customers/applications?customer-id="+tn.ID, "Bearer "+writer.ClientSecret,
			map[string]any{"clientId": "z", "permissions": []map[string]string{}})
		if res.Status != 400 || !strings.Contains(string(res.Body), "displayName") {
			t.Errorf("missing displayName: got %d %s, want 400 naming displayName", res.Status, res.Body)
		}

		// List, with the seed's paging parameters.
		var list map[string]any
		s.Do("GET", "/v1/customers/applications?page=1&page-size=10", reader.ClientSecret, nil, 200, &list)
		dialecttest.CheckMembers(t, "list", list, listMembers)
		if list["aggregations"] != nil || list["totalCount"] != float64(3) {
			t.Errorf("got aggregations %v totalCount %v, want null and 3", list["aggregations"], list["totalCount"])
		}
		item := list["items"].([]any)[2].(map[string]any)
		dialecttest.CheckMembers(t, "list item", item, itemMembers)
		if item["displayName"] != "My test app" {
			t.Errorf("list item %v, want {id, clientId, displayName}", item)
		}
		s.Do("GET", "/v1/customers/applications?page=2&page-size=10", reader.ClientSecret, nil, 200, &list)
		if len(list["items"].([]any)) != 0 || list["hasPreviousPage"] != true || list["pageIndex"] != float64(2) {
			t.Errorf("page 2: %v", list)
		}

		// Fetch: permissions as Keycloak role objects.
		var app map[string]any
		s.Do("GET", "/v1/customers/applications/"+created["id"].(string), reader.ClientSecret, nil, 200, &app)
		perms := app["permissions"].([]any)
		role := perms[0].(map[string]any)
		dialecttest.CheckMembers(t, "fetch", app, map[string]string{"id": "uuid", "clientId": "string", "displayName": "string", "permissions": "array"})
		dialecttest.CheckMembers(t, "role object", role, roleMembers)
		if role["id"] != p1.ID || role["name"] != "orders_read" || role["containerId"] != "co2free" || app["displayName"] != "My test app" {
			t.Errorf("fetched %v", app)
		}
		if strings.Contains(string(mustJSON(app)), "clientSecret") {
			t.Error("fetch shows a secret")
		}

		// Fidelity beyond the examples (issue 18 #5).
		var writeOnly keyward.IssuedKey
		s.Do("POST", "/v1/apikeys?tenant=co2free", s.Admin, map[string]any{"name": "write only",
			"permissions": []map[string]string{{"name": "customer_applications_write"}, {"name": "orders_read"}}}, 201, &writeOnly)
		s.Do("GET", "/v1/customers/applications", writeOnly.ClientSecret, nil, 200, nil)
		s.Do("GET", "/v1/customers/applications/"+created["id"].(string), writeOnly.ClientSecret, nil, 200, nil)
		// Full role objects, as Fetch returns them, name the roles by id.
		roleObjects := app["permissions"]
		var mixed map[string]any
		s.Do("POST", "/v1/customers/applications?customer-id="+tn.ID, writer.ClientSecret, map[string]any{
			"clientId": "MyApp.Name", "displayName": "Case kept", "permissions": roleObjects, "color": "ignored"}, 201, &mixed)
		if mixed["clientId"] != "cbx_b2b_MyApp.Name" {
			t.Errorf("got clientId %v, want cbx_b2b_MyApp.Name (case kept)", mixed["clientId"])
		}
		var fetched map[string]any
		s.Do("GET", "/v1/customers/applications/"+mixed["id"].(string), reader.ClientSecret, nil, 200, &fetched)
		if ps := fetched["permissions"].([]any); len(ps) != 1 || ps[0].(map[string]any)["id"] != p1.ID {
			t.Errorf("role objects as permissions: got %v, want orders_read", fetched["permissions"])
		}
		s.Do("POST", "/v1/customers/applications?customer-id="+tn.ID, writer.ClientSecret, map[string]any{
			"clientId": "by_name", "displayName": "by name", "permissions": []map[string]string{{"name": "orders_read"}}}, 201, nil)
		// A clientId taken in another tenant with the same prefix: 409, and
		// nothing of the other tenant is named.
		var other keyward.Tenant
		s.Do("POST", "/v1/tenants", s.Admin, map[string]any{"name": "twin", "prefix": "cbx_b2b"}, 201, &other)
		var twin keyward.IssuedKey
		s.Do("POST", "/v1/apikeys?tenant=twin", s.Admin, map[string]any{"name": "twin", "clientId": "taken"}, 201, &twin)
		res = s.Raw("POST", "/v1/customers/applications?customer-id="+tn.ID, "Bearer "+writer.ClientSecret,
			map[string]any{"clientId": "taken", "displayName": "x", "permissions": []any{}})
		if res.Status != 409 || strings.Contains(string(res.Body), other.ID) || strings.Contains(string(res.Body), "twin") || strings.Contains(string(res.Body), twin.ID) {
			t.Errorf("taken clientId: got %d %s, want 409 naming no other tenant", res.Status, res.Body)
		}
		for _, bad := range []string{"not-a-uuid", "00000000-0000-4000-8000-000000000000", twin.ID} {
			res = s.Raw("GET", "/v1/customers/applications/"+bad, "Bearer "+reader.ClientSecret, nil)
			var p map[string]any
			json.Unmarshal(res.Body, &p)
			if res.Status != 404 || p["status"] != float64(404) || res.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("GET %s: got %d %s, want a 404 problem", bad, res.Status, res.Body)
			}
		}

		// The Keycloak-style token endpoint of the customer's realm.
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"cbx_b2b_myapp_name"}, "client_secret": {created["clientSecret"].(string)}}
		res = s.Raw("POST", "/auth/realms/co2free/protocol/openid-connect/token", "", form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
		var tok map[string]any
		json.Unmarshal(res.Body, &tok)
		if res.Status != 200 || tok["refresh_expires_in"] != float64(0) || tok["not-before-policy"] != float64(0) || tok["token_type"] != "Bearer" {
			t.Fatalf("realm token: %d %s", res.Status, res.Body)
		}
		dialecttest.CheckMembers(t, "token", tok, map[string]string{"access_token": "string", "expires_in": "int",
			"refresh_expires_in": "int", "token_type": "string", "not-before-policy": "int", "scope": "string"})
		if res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("token: got Cache-Control %q, want no-store", res.Header.Get("Cache-Control"))
		}
		// Errors of the management routes: problem details with the status.
		for _, tt := range []struct {
			name, method, path, auth string
			body                     any
			want                     int
		}{
			{"no credentials", "GET", "/v1/customers/applications", "", nil, 401},
			{"bad credentials", "GET", "/v1/customers/applications", "Bearer kw_sk_wrong", nil, 401},
			{"page not a number", "GET", "/v1/customers/applications?page=two", "Bearer " + reader.ClientSecret, nil, 400},
			{"page-size too large", "GET", "/v1/customers/applications?page-size=501", "Bearer " + reader.ClientSecret, nil, 400},
			{"malformed body", "POST", "/v1/customers/applications?customer-id=" + tn.ID, "Bearer " + writer.ClientSecret, `{"clientId":`, 400},
			{"unknown permission", "POST", "/v1/customers/applications?customer-id=" + tn.ID, "Bearer " + writer.ClientSecret,
				map[string]any{"clientId": "u", "displayName": "u", "permissions": []map[string]string{{"id": "00000000-0000-4000-8000-000000000000"}}}, 400},
			{"unknown customer", "GET", "/v1/customers/applications?customer-id=nobody", "Bearer " + reader.ClientSecret, nil, 404},
		} {
			res := s.Raw(tt.method, tt.path, tt.auth, tt.body)
			var p map[string]any
			json.Unmarshal(res.Body, &p)
			if res.Status != tt.want || p["status"] != float64(tt.want) || p["title"] == nil || p["detail"] == nil {
				t.Errorf("%s: got %d %s, want a %d problem", tt.name, res.Status, res.Body, tt.want)
			}
		}
		s.Do("GET", "/v1/whoami", tok["access_token"].(string), nil, 200, nil)
		res = s.Raw("POST", "/auth/realms/default/protocol/openid-connect/token", "", form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
		if res.Status != 401 || !strings.Contains(string(res.Body), "unauthorized_client") {
			t.Errorf("another realm: got %d %s, want 401 unauthorized_client", res.Status, res.Body)
		}
	})
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

// The documented members and their types.
var (
	createdMembers = map[string]string{"id": "uuid", "clientId": "string", "clientSecret": "string"}
	listMembers    = map[string]string{"items": "array", "pageIndex": "int", "pageSize": "int", "totalPages": "int",
		"totalCount": "int", "aggregations": "null", "hasPreviousPage": "bool", "hasNextPage": "bool"}
	itemMembers = map[string]string{"id": "uuid", "clientId": "string", "displayName": "string"}
	roleMembers = map[string]string{"id": "uuid", "name": "string", "description": "string|null", "composite": "bool",
		"clientRole": "bool", "containerId": "string", "attributes": "object|null"}
)
