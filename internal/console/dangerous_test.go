package console_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

var onceRe = regexp.MustCompile(`name="once" value="([^"]+)"`)

// TestCreateOnce sends the add form twice with the same one-time token (Back
// after the secret dialog, then Save): one key, and the second answer leads
// to it.
func TestCreateOnce(t *testing.T) {
	s := start(t, false)
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	m := onceRe.FindStringSubmatch(b.get("/console/keys/new").Body)
	if m == nil {
		t.Fatal("the add form has no one-time token")
	}
	form := func() url.Values {
		return url.Values{"name": {"Once"}, "lifespanValue": {"1"}, "lifespanUnit": {"hours"}, "once": {m[1]}}
	}
	bad := form()
	bad.Set("lifespanValue", "99")
	tests := []struct {
		name       string
		form       url.Values
		wantStatus int
		wantKeys   int
	}{
		{"an invalid form does not use the token up", bad, http.StatusBadRequest, 0},
		{"first", form(), http.StatusOK, 1},
		{"again", form(), http.StatusSeeOther, 1},
		{"and again", form(), http.StatusSeeOther, 1},
	}
	var first string
	for _, tt := range tests {
		p := b.post("/console/keys", tt.form)
		list, _ := s.svc.ListAPIKeys(context.Background(), s.admin, keyward.APIKeyFilter{Page: keyward.Page{Number: 1, Size: 10}, Query: "Once"})
		if p.Status != tt.wantStatus || list.TotalCount != tt.wantKeys {
			t.Fatalf("%s: got %d and %d keys, want %d and %d", tt.name, p.Status, list.TotalCount, tt.wantStatus, tt.wantKeys)
		}
		if tt.wantKeys == 1 {
			first = list.Items[0].ID
		}
		if p.Status == http.StatusSeeOther {
			if want := "/console/keys/" + first + "?done=already-created"; p.Location != want {
				t.Errorf("%s: got → %q, want → %q", tt.name, p.Location, want)
			}
			if body := b.get(p.Location).Body; !strings.Contains(body, "already created") || secretRe.MatchString(body) {
				t.Errorf("%s: the key page does not say it was already created, or shows a secret", tt.name)
			}
		}
	}
	// Another session cannot spend or read this session's token.
	other := s.browser()
	other.mustLogin("admin", adminPassword)
	if p := other.post("/console/keys", form()); p.Status != http.StatusOK {
		t.Errorf("the same token in another session: got %d, want 200 (a new key)", p.Status)
	}
}

// TestRotateGrace rotates from the console with each grace choice and checks
// the old secret against the clock.
func TestRotateGrace(t *testing.T) {
	s := start(t, false)
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	tests := []struct {
		name      string
		form      url.Values
		status    int
		oldWorks  []time.Duration // after these, the old secret still works
		oldFailed time.Duration   // after this, it is refused
	}{
		{"none", url.Values{"grace": {"0"}}, http.StatusOK, nil, 0},
		{"no choice is none", url.Values{}, http.StatusOK, nil, 0},
		{"one hour", url.Values{"grace": {"3600"}}, http.StatusOK, []time.Duration{0, 59 * time.Minute}, 61 * time.Minute},
		{"24 hours", url.Values{"grace": {"86400"}}, http.StatusOK, []time.Duration{23 * time.Hour}, 25 * time.Hour},
		{"custom 5 minutes", url.Values{"grace": {"custom"}, "graceMinutes": {"5"}}, http.StatusOK, []time.Duration{4 * time.Minute}, 6 * time.Minute},
		{"custom too long", url.Values{"grace": {"custom"}, "graceMinutes": {"1441"}}, http.StatusBadRequest, nil, 0},
		{"custom not a number", url.Values{"grace": {"custom"}, "graceMinutes": {"soon"}}, http.StatusBadRequest, nil, 0},
		{"unknown choice", url.Values{"grace": {"7"}}, http.StatusBadRequest, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := s.createKey("rotate " + tt.name)
			p := b.post("/console/keys/"+k.ID+"/rotate", tt.form)
			if p.Status != tt.status {
				t.Fatalf("got %d, want %d: %s", p.Status, tt.status, p.Body)
			}
			works := func() bool {
				_, err := s.svc.Authenticate(context.Background(), keyward.Credentials{APIKey: k.ClientSecret})
				return err == nil
			}
			if tt.status != http.StatusOK {
				if !works() {
					t.Error("a refused rotation changed the secret")
				}
				return
			}
			if m := secretRe.FindStringSubmatch(p.Body); m == nil || m[1] == k.ClientSecret {
				t.Fatal("no new secret in the dialog")
			}
			start := s.clock.Now()
			if len(tt.oldWorks) == 0 && works() {
				t.Error("without grace the old secret still works")
			}
			for _, d := range tt.oldWorks {
				s.clock.Set(start.Add(d))
				if !works() {
					t.Errorf("after %v: the old secret is refused, want it working", d)
				}
			}
			if tt.oldFailed > 0 {
				s.clock.Set(start.Add(tt.oldFailed))
				if works() {
					t.Errorf("after %v: the old secret still works", tt.oldFailed)
				}
			}
			s.clock.Set(start)
		})
	}
}

// TestUserActiveConfirm: deactivating a user first names the keys that stop
// with them; reactivating offers those keys back, chosen already.
func TestUserActiveConfirm(t *testing.T) {
	s := start(t, false)
	s.createUser("ops", 7)
	res, err := s.svc.Login(context.Background(), "", "ops", "password-of-ops")
	if err != nil {
		t.Fatal(err)
	}
	ops, err := s.svc.AuthenticateUser(context.Background(), res.AccessToken, "127.0.0.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	var keys []*keyward.IssuedKey
	for _, name := range []string{"ops one", "ops two", "ops off"} {
		n := name
		k, err := s.svc.CreateAPIKey(context.Background(), ops, keyward.APIKeyInput{Name: &n})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	off := false
	if _, err := s.svc.UpdateAPIKey(context.Background(), s.admin, keys[2].ID, keyward.APIKeyInput{IsActive: &off}, nil); err != nil {
		t.Fatal(err)
	}
	s.clock.Add(time.Minute) // the user goes later
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	path := "/console/users/" + ops.ID + "/active"

	p := b.get(path)
	for _, want := range []string{"Deactivate user and 2 keys", "ops one", "ops two", `name="active" value="false"`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("deactivation page: want %q in it", want)
		}
	}
	if strings.Contains(p.Body, "ops off") {
		t.Error("deactivation page lists a key that is off already")
	}
	if p := b.post(path, url.Values{"active": {"false"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("deactivate: got %d", p.Status)
	}

	p = b.get(path)
	checked := regexp.MustCompile(`value="([0-9a-f-]{36})" checked`).FindAllStringSubmatch(p.Body, -1)
	var ids []string
	for _, m := range checked {
		ids = append(ids, m[1])
	}
	if got, want := strings.Join(ids, ","), keys[0].ID+","+keys[1].ID; got != want && got != keys[1].ID+","+keys[0].ID {
		t.Errorf("activation page: checked %v, want the two keys turned off with the user", ids)
	}
	if !strings.Contains(p.Body, "ops off") {
		t.Error("activation page does not offer the key that was off before")
	}
	if p := b.post(path, url.Values{"active": {"true"}, "keys": {keys[0].ID}}); p.Status != http.StatusSeeOther || !strings.Contains(p.Location, "user-on-keys") {
		t.Fatalf("activate: got %d → %s", p.Status, p.Location)
	}
	for i, want := range []bool{true, false, false} {
		k, _ := s.svc.GetAPIKey(context.Background(), s.admin, keys[i].ID)
		if k.IsActive != want {
			t.Errorf("%s: got active %v, want %v", k.Name, k.IsActive, want)
		}
	}
}

// TestKeyFormLevelOwner sets a key's level and owner in the form, within
// the caller's rights, and lands on the key after the edit.
func TestKeyFormLevelOwner(t *testing.T) {
	s := start(t, false)
	s.createUser("low", 2)
	users, _ := s.svc.ListUsers(context.Background(), s.admin, keyward.UserFilter{Page: keyward.Page{Number: 1, Size: 10}, Query: "low"})
	low := users.Items[0].ID
	k := s.createKey("levels")
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	if body := b.get("/console/keys/" + k.ID + "/edit").Body; !strings.Contains(body, `name="ownerId"`) || !strings.Contains(body, `id="level"`) {
		t.Fatal("the edit form has no level or owner")
	}
	base := func(extra ...string) url.Values {
		v := url.Values{"name": {"levels"}, "lifespanValue": {"1"}, "lifespanUnit": {"hours"}, "version": {"1"}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v
	}
	tests := []struct {
		name      string
		form      url.Values
		status    int
		msg       string
		wantLevel int
		wantOwner string
	}{
		{"above the owner's level", base("level", "5", "ownerId", low), http.StatusForbidden, "above the owner&#39;s level (2)", 0, s.admin.ID},
		{"level 3 to admin", base("level", "3"), http.StatusSeeOther, "", 3, s.admin.ID},
		{"a level that is not one", base("level", "9", "version", "2"), http.StatusBadRequest, "Choose a level", 3, s.admin.ID},
		{"owner low at level 2", base("level", "2", "ownerId", low, "version", "2"), http.StatusSeeOther, "", 2, low},
		{"an owner that is not a user", base("ownerId", "nobody", "version", "3"), http.StatusBadRequest, "Choose an owner from the list", 2, low},
	}
	for _, tt := range tests {
		p := b.post("/console/keys/"+k.ID+"/edit", tt.form)
		if p.Status != tt.status || !strings.Contains(p.Body, tt.msg) {
			t.Errorf("%s: got %d → %q, want %d with %q", tt.name, p.Status, p.Location, tt.status, tt.msg)
		}
		if p.Status == http.StatusSeeOther && p.Location != "/console/keys/"+k.ID+"?done=updated" {
			t.Errorf("%s: got → %q, want the key's page", tt.name, p.Location)
		}
		got, _ := s.svc.GetAPIKey(context.Background(), s.admin, k.ID)
		if got.Level != tt.wantLevel || got.OwnerID != tt.wantOwner {
			t.Errorf("%s: got level %d owner %s, want %d %s", tt.name, got.Level, got.OwnerID, tt.wantLevel, tt.wantOwner)
		}
	}
}

// TestTenantsScreen: root admins list, add, deactivate and activate tenants;
// others see neither the menu entry nor the page.
func TestTenantsScreen(t *testing.T) {
	s := start(t, false)
	s.createUser("ops", 7)
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	if p := b.get("/console/keys"); !strings.Contains(p.Body, `href="/console/tenants"`) {
		t.Error("a root admin has no Tenants menu entry")
	}
	tests := []struct {
		name   string
		form   url.Values
		status int
		msg    string
	}{
		{"no name", url.Values{"prefix": {"kw"}}, http.StatusBadRequest, "Enter a name."},
		{"a bad name", url.Values{"name": {"Not OK"}}, http.StatusBadRequest, "Use up to 63 lowercase letters"},
		{"a bad prefix", url.Values{"name": {"acme"}, "prefix": {"A-B"}}, http.StatusBadRequest, "Use up to 16 lowercase letters"},
		{"added", url.Values{"name": {"acme"}, "prefix": {"acme"}}, http.StatusSeeOther, ""},
		{"taken", url.Values{"name": {"acme"}}, http.StatusConflict, "Tenant acme already exists."},
	}
	for _, tt := range tests {
		p := b.post("/console/tenants", tt.form)
		if p.Status != tt.status || !strings.Contains(p.Body, tt.msg) {
			t.Errorf("%s: got %d, want %d with %q", tt.name, p.Status, tt.status, tt.msg)
		}
	}
	list, _ := s.svc.ListTenants(context.Background(), s.admin, keyward.Page{Number: 1, Size: 10})
	var acme, root string
	for _, tn := range list.Items {
		if tn.Name == "acme" {
			acme = tn.ID
		} else {
			root = tn.ID
		}
	}
	if p := b.get("/console/tenants/" + acme + "/active"); !strings.Contains(p.Body, "stops working now") {
		t.Errorf("deactivation asks nothing: %d", p.Status)
	}
	for _, step := range []struct {
		id, active string
		status     int
		want       bool
	}{{acme, "false", http.StatusSeeOther, false}, {acme, "true", http.StatusSeeOther, true}, {root, "false", http.StatusBadRequest, true}} {
		p := b.post("/console/tenants/"+step.id+"/active", url.Values{"active": {step.active}})
		tn, _ := s.svc.GetTenant(context.Background(), s.admin, step.id)
		if p.Status != step.status || tn.IsActive != step.want {
			t.Errorf("active=%s on %s: got %d, active %v; want %d, %v", step.active, tn.Name, p.Status, tn.IsActive, step.status, step.want)
		}
	}
	ops := s.browser()
	ops.mustLogin("ops", "password-of-ops")
	if p := ops.get("/console/keys"); strings.Contains(p.Body, `href="/console/tenants"`) {
		t.Error("a level-7 user sees the Tenants menu entry")
	}
	if p := ops.get("/console/tenants"); p.Status != http.StatusForbidden {
		t.Errorf("a level-7 user opening tenants: got %d, want 403", p.Status)
	}
}

// TestRedirectsStayInTheConsole: login's next and the row forms' back are
// normalized and must stay under /console.
func TestRedirectsStayInTheConsole(t *testing.T) {
	s := start(t, false)
	k := s.createKey("redirects")
	tests := []struct{ target, want string }{
		{"/console/keys?q=a", "/console/keys?q=a"},
		{"/console/users", "/console/users"},
		{"/console/../\\evil.example", "/console/keys"},
		{"/console/..\\evil.example", "/console/keys"},
		{"/console/../../evil.example", "/console/keys"},
		{"/console/./keys/../audit", "/console/audit"},
		{"//evil.example/console/", "/console/keys"},
		{"https://evil.example/console/keys", "/console/keys"},
		{"/console\\@evil.example", "/console/keys"},
		{"/consolex", "/console/keys"},
		{"/console/%2e%2e/evil", "/console/keys"},
	}
	for _, tt := range tests {
		b := s.browser()
		res := b.do(http.MethodPost, "/console/login", url.Values{"userName": {"admin"}, "password": {adminPassword}, "next": {tt.target}})
		if res.Status != http.StatusSeeOther || res.Location != tt.want {
			t.Errorf("login next=%q: got %d → %q, want → %q", tt.target, res.Status, res.Location, tt.want)
		}
		res = b.post("/console/keys/"+k.ID+"/active", url.Values{"active": {"true"}, "back": {tt.target}})
		if want := tt.want; res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Location, want) {
			t.Errorf("back=%q: got %d → %q, want → %q…", tt.target, res.Status, res.Location, want)
		}
	}
}

// TestRefusalsCarrySecurityHeaders: a cross-origin post is refused with the
// console's headers, so the refusal cannot be framed either.
func TestRefusalsCarrySecurityHeaders(t *testing.T) {
	s := start(t, false)
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	res := b.do(http.MethodPost, "/console/keys", url.Values{"name": {"x"}}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if res.Status != http.StatusForbidden {
		t.Fatalf("cross-site post: got %d, want 403", res.Status)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Cache-Control"} {
		if res.Header.Get(h) == "" {
			t.Errorf("the 403 lacks %s", h)
		}
	}
}

// TestBulkActions: keys chosen in the list are deactivated, activated or
// deleted after one confirmation that names them all.
func TestBulkActions(t *testing.T) {
	s := start(t, false)
	a, b2, keep := s.createKey("bulk a"), s.createKey("bulk b"), s.createKey("bulk keep")
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	ids := []string{a.ID, b2.ID}
	tests := []struct {
		action     string
		wantActive map[string]bool // nil: deleted
	}{
		{"deactivate", map[string]bool{a.ID: false, b2.ID: false}},
		{"activate", map[string]bool{a.ID: true, b2.ID: true}},
		{"delete", nil},
	}
	for _, tt := range tests {
		form := url.Values{"action": {tt.action}, "ids": ids, "back": {"/console/keys?q=bulk"}}
		p := b.post("/console/keys/bulk", form)
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "bulk a (") || !strings.Contains(p.Body, "bulk b (") || strings.Contains(p.Body, "bulk keep") {
			t.Fatalf("%s: the confirmation does not name exactly the chosen keys (%d)", tt.action, p.Status)
		}
		for _, id := range ids {
			if k, err := s.svc.GetAPIKey(context.Background(), s.admin, id); err != nil || tt.action == "deactivate" && !k.IsActive {
				t.Fatalf("%s: changed before the confirmation", tt.action)
			}
		}
		form.Set("confirm", "1")
		if p = b.post("/console/keys/bulk", form); p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/console/keys?q=bulk&done=bulk-") {
			t.Fatalf("%s: got %d → %q", tt.action, p.Status, p.Location)
		}
		if !strings.Contains(b.get(p.Location).Body, "The chosen keys") {
			t.Errorf("%s: the list does not say what was done", tt.action)
		}
		for _, id := range ids {
			k, err := s.svc.GetAPIKey(context.Background(), s.admin, id)
			switch {
			case tt.wantActive == nil && err == nil:
				t.Errorf("%s: %s still exists", tt.action, k.Name)
			case tt.wantActive != nil && (err != nil || k.IsActive != tt.wantActive[id]):
				t.Errorf("%s: %s: got %v, want active %v", tt.action, id, err, tt.wantActive[id])
			}
		}
	}
	if k, err := s.svc.GetAPIKey(context.Background(), s.admin, keep.ID); err != nil || !k.IsActive {
		t.Error("a key not chosen was changed")
	}
	for _, form := range []url.Values{{"action": {"delete"}}, {"action": {"explode"}, "ids": {keep.ID}}} {
		if p := b.post("/console/keys/bulk", form); p.Status != http.StatusBadRequest {
			t.Errorf("%v: got %d, want 400", form, p.Status)
		}
	}
	s.createUser("viewer", 2)
	v := s.browser()
	v.mustLogin("viewer", "password-of-viewer")
	if p := v.post("/console/keys/bulk", url.Values{"action": {"delete"}, "ids": {keep.ID}, "confirm": {"1"}}); p.Status != http.StatusNotFound && p.Status != http.StatusForbidden {
		t.Errorf("a level-2 user deleting another's key in bulk: got %d, want 403 or 404", p.Status)
	}
	if _, err := s.svc.GetAPIKey(context.Background(), s.admin, keep.ID); err != nil {
		t.Error("the level-2 user's bulk delete went through")
	}
}

// TestPlantedSessionCookie: a sibling subdomain plants its own session on a
// longer path, which the browser sends first. The console uses neither
// session, so the victim's key cannot land in the attacker's account.
func TestPlantedSessionCookie(t *testing.T) {
	s := start(t, false)
	s.createUser("attacker", 4)
	attacker := s.browser()
	attacker.mustLogin("attacker", "password-of-attacker")
	planted := attacker.sessionCookie().Value

	victim := s.browser()
	victim.mustLogin("admin", adminPassword)
	form := url.Values{"csrf": {victim.csrf()}, "name": {"victim key"}, "lifespanValue": {"1"}, "lifespanUnit": {"hours"}}
	u, _ := url.Parse(s.URL + "/console/keys/")
	victim.c.Jar.SetCookies(u, []*http.Cookie{{Name: "keyward_session", Value: planted, Path: "/console/keys"}})
	for _, tt := range []struct {
		method, path string
	}{{http.MethodGet, "/console/keys/new"}, {http.MethodPost, "/console/keys"}, {http.MethodGet, "/console/keys"}} {
		var res page
		if tt.method == http.MethodPost {
			res = victim.do(tt.method, tt.path, form)
		} else {
			res = victim.get(tt.path)
		}
		if res.Status != http.StatusBadRequest || !strings.Contains(res.Body, "two console sessions") {
			t.Errorf("%s %s with a planted cookie: got %d, want 400 explaining it", tt.method, tt.path, res.Status)
		}
	}
	list, _ := s.svc.ListAPIKeys(context.Background(), s.admin, keyward.APIKeyFilter{Page: keyward.Page{Number: 1, Size: 10}})
	if list.TotalCount != 0 {
		t.Errorf("a key was made with a planted session: %d keys", list.TotalCount)
	}
}
