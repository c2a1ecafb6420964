package portos_test

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

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

const documented = "_v,clientId,createdAt,description,deviceName,id,isActive,name,permissions,userName"

func TestPortos(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := dialecttest.Start(t, db, portos.Mount)
		s.Do("POST", "/v1/permissions", s.Admin, map[string]any{"name": "orders_read"}, 201, nil)
		var creator, deleter keyward.IssuedKey
		s.Do("POST", "/v1/apikeys", s.Admin, map[string]any{"name": "creator",
			"permissions": []map[string]string{{"name": "apiKeyCreate"}, {"name": "apiKeyUpdate"}, {"name": "apikeys:read"}}}, 201, &creator)
		s.Do("POST", "/v1/apikeys", s.Admin, map[string]any{"name": "deleter",
			"permissions": []map[string]string{{"name": "apiKeyDelete"}, {"name": "apikeys:read"}}}, 201, &deleter)

		var k map[string]any
		s.Do("POST", "/apikeys", creator.ClientSecret, map[string]any{"name": "My API key",
			"description": "This is an API key description", "deviceName": "BackOffice", "isActive": true}, 201, &k)
		if fields(k) != "_v,clientId,clientSecret,createdAt,description,deviceName,id,isActive,name,permissions,userName" ||
			k["deviceName"] != "BackOffice" || k["_v"] != float64(1) || k["userName"] != "admin" {
			t.Fatalf("create answered %v", k)
		}
		id := k["id"].(string)
		s.Do("POST", "/apikeys", creator.ClientSecret, map[string]any{"name": "x", "permissions": []string{"orders_read"}}, 403, nil)
		s.Do("POST", "/apikeys", deleter.ClientSecret, map[string]any{"name": "x"}, 403, nil)

		var got map[string]any
		s.Do("GET", "/apikeys/"+id, creator.ClientSecret, nil, 200, &got)
		if fields(got) != documented {
			t.Errorf("get: %v (a read never shows clientSecret)", got)
		}
		res := s.Raw("GET", "/apikeys/not-a-uuid", "Bearer "+creator.ClientSecret, nil)
		if res.Status != 400 {
			t.Errorf("malformed id: %d", res.Status)
		}
		res = s.Raw("GET", "/apikeys/00000000-0000-4000-8000-000000000000", "Bearer "+creator.ClientSecret, nil)
		var nf map[string]any
		json.Unmarshal(res.Body, &nf)
		if res.Status != 404 || nf["status"] != float64(404) || nf["title"] == nil {
			t.Errorf("404: %d %s, want {title, status: 404}", res.Status, res.Body)
		}

		// NData, with ";" exactly as Portos clients write it.
		var list struct {
			Items      []map[string]any `json:"items"`
			Count      int              `json:"count"`
			TotalCount int              `json:"totalCount"`
		}
		s.Do("GET", "/apikeys?isActive=eq:true;neq:false&name=contains:api&$sort=name:desc", creator.ClientSecret, nil, 200, &list)
		if list.TotalCount != 1 || list.Count != 1 || list.Items[0]["id"] != id {
			t.Errorf("filtered list: %+v", list)
		}
		s.Do("GET", "/apikeys?id=in:"+id+","+creator.ID+"&$sort=-createdAt&$skip=1&$take=1", creator.ClientSecret, nil, 200, &list)
		if list.TotalCount != 2 || list.Count != 1 || list.Items[0]["id"] != creator.ID {
			t.Errorf("skip/take: %+v", list)
		}
		var counted map[string]any
		s.Do("GET", "/apikeys?$count=true", creator.ClientSecret, nil, 200, &counted)
		if fields(counted) != "count,totalCount" || counted["totalCount"] != float64(3) {
			t.Errorf("$count=true: %v", counted)
		}
		res = s.Raw("GET", "/apikeys?isActive=eq:maybe", "Bearer "+creator.ClientSecret, nil)
		if res.Status != 400 || !strings.Contains(string(res.Body), `"field":"isActive"`) {
			t.Errorf("bad NData: %d %s, want 400 naming isActive", res.Status, res.Body)
		}

		// PUT: update with a matching _v, conflict with a stale one, create.
		got["name"], got["_v"] = "Renamed", float64(1)
		var updated map[string]any
		s.Do("PUT", "/apikeys/"+id, creator.ClientSecret, got, 200, &updated)
		if updated["name"] != "Renamed" || updated["_v"] != float64(2) || updated["clientSecret"] != nil {
			t.Errorf("PUT update: %v", updated)
		}
		res = s.Raw("PUT", "/apikeys/"+id, "Bearer "+creator.ClientSecret, got)
		if res.Status != 409 || !strings.Contains(string(res.Body), "version") {
			t.Errorf("stale _v: %d %s, want 409", res.Status, res.Body)
		}
		newID := "7d9e2f5c-3b0a-4c1e-9f6d-2a8b4c6d8e0f"
		var made map[string]any
		s.Do("PUT", "/apikeys/"+newID, creator.ClientSecret, map[string]any{"name": "made by PUT"}, 200, &made)
		if made["id"] != newID || made["clientSecret"] == nil {
			t.Errorf("PUT create: %v", made)
		}

		// DELETE needs apiKeyDelete and returns the deleted key.
		s.Do("DELETE", "/apikeys/"+id, creator.ClientSecret, nil, 403, nil)
		var deleted map[string]any
		s.Do("DELETE", "/apikeys/"+id, deleter.ClientSecret, nil, 200, &deleted)
		if deleted["id"] != id || fields(deleted) != documented {
			t.Errorf("delete: %v", deleted)
		}
		s.Do("GET", "/apikeys/"+id, creator.ClientSecret, nil, 404, nil)

		// Another tenant's keys are invisible.
		s.Do("POST", "/v1/tenants", s.Admin, map[string]any{"name": "other"}, 201, nil)
		var foreign keyward.IssuedKey
		s.Do("POST", "/v1/apikeys?tenant=other", s.Admin, map[string]any{"name": "foreign"}, 201, &foreign)
		s.Do("GET", "/apikeys/"+foreign.ID, creator.ClientSecret, nil, 404, nil)
		s.Do("DELETE", "/apikeys/"+foreign.ID, deleter.ClientSecret, nil, 404, nil)
		s.Do("GET", "/apikeys?id=eq:"+foreign.ID, creator.ClientSecret, nil, 200, &list)
		if list.TotalCount != 0 {
			t.Errorf("a list shows another tenant's key")
		}
	})
}
