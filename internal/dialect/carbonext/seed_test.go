package carbonext_test

import (
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect/carbonext"
	"github.com/keyward/keyward/internal/dialect/dialecttest"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestSeedRequestsWithAxios replays the seed document's axios requests
// against a real server and checks every documented response field.
func TestSeedRequestsWithAxios(t *testing.T) {
	s := dialecttest.Start(t, sqltest.SQLite(t), carbonext.Mount)
	var tn keyward.Tenant
	s.Do("POST", "/v1/tenants", s.Admin, map[string]any{"name": "co2free", "prefix": "cbx_b2b"}, 201, &tn)
	var p1, p2 keyward.Permission
	s.Do("POST", "/v1/permissions?tenant=co2free", s.Admin, map[string]any{"name": "default-roles-co2free"}, 201, &p1)
	s.Do("POST", "/v1/permissions?tenant=co2free", s.Admin, map[string]any{"name": "orders_read"}, 201, &p2)
	var k keyward.IssuedKey
	s.Do("POST", "/v1/apikeys?tenant=co2free", s.Admin, map[string]any{"name": "integration", "level": 8,
		"permissions": []map[string]string{{"name": "customer_applications_write"}, {"name": "default-roles-co2free"}, {"name": "orders_read"}}}, 201, &k)

	var got map[string]struct {
		Status int            `json:"status"`
		Data   map[string]any `json:"data"`
	}
	dialecttest.RunNode(t, "carbonext.cjs", &got, s.URL, k.ClientSecret, tn.ID, p1.ID, p2.ID)
	c := got["create"]
	dialecttest.CheckMembers(t, "create", c.Data, createdMembers)
	if c.Status != 201 || c.Data["clientId"] != "cbx_b2b_myapp_name" {
		t.Errorf("create: %d %v", c.Status, c.Data)
	}
	for _, name := range []string{"list", "listPage2"} {
		l := got[name]
		dialecttest.CheckMembers(t, name, l.Data, listMembers)
		if l.Status != 200 {
			t.Errorf("%s: %d %v", name, l.Status, l.Data)
		}
		for _, it := range l.Data["items"].([]any) {
			dialecttest.CheckMembers(t, name+" item", it.(map[string]any), itemMembers)
		}
	}
	if got["list"].Data["totalCount"] != float64(2) || got["listPage2"].Data["pageIndex"] != float64(2) {
		t.Errorf("list totals: %v / %v", got["list"].Data, got["listPage2"].Data)
	}
	f := got["fetch"]
	perms, _ := f.Data["permissions"].([]any)
	if f.Status != 200 || f.Data["displayName"] != "My test app" || len(perms) != 2 {
		t.Fatalf("fetch: %d %v", f.Status, f.Data)
	}
	role := perms[0].(map[string]any)
	dialecttest.CheckMembers(t, "role object", role, roleMembers)
	if role["name"] != "default-roles-co2free" {
		t.Errorf("role object %v", role)
	}
}
