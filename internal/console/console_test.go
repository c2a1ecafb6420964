package console_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/console"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
	"github.com/keyward/keyward/internal/wire/wiretest"
)

const adminPassword = "console-admin-password"

type server struct {
	URL   string
	svc   *keyward.Service
	clock *wiretest.Clock
	admin *keyward.Principal
	t     *testing.T
}

// start runs the native API and the console on loopback over a fresh
// SQLite database; tls serves it over HTTPS.
func start(t *testing.T, useTLS bool) *server {
	t.Helper()
	w := wiretest.Start(t, sqltest.SQLite(t), wiretest.Options{Clock: wiretest.NewFrozenClock(time.Now().UTC()),
		AdminPassword: adminPassword, TLS: useTLS,
		Mount: func(api *httpapi.Server, svc *keyward.Service) { console.Mount(api.Mux(), svc, nil) }})
	svc, clk := w.Svc, w.Clock
	res, err := svc.Login(context.Background(), "", "admin", adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := svc.AuthenticateUser(context.Background(), res.AccessToken, "127.0.0.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	return &server{URL: w.URL, svc: svc, clock: clk, admin: admin, t: t}
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	s      *server
	c      *http.Client
	origin string
}

type page struct {
	Status   int
	Location string
	Header   http.Header
	Body     string
}

func (s *server) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{s: s, origin: s.URL, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values, header ...string) page {
	b.s.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.s.URL+path, body)
	if err != nil {
		b.s.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method == http.MethodPost {
		req.Header.Set("Origin", b.origin)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.s.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return page{Status: res.StatusCode, Location: res.Header.Get("Location"), Header: res.Header, Body: string(out)}
}

func (b *browser) get(path string) page { return b.do(http.MethodGet, path, nil) }

// post sends a form with the page's form token.
func (b *browser) post(path string, form url.Values) page {
	b.s.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", b.csrf())
	return b.do(http.MethodPost, path, form)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) csrf() string {
	b.s.t.Helper()
	p := b.get("/console/keys")
	m := csrfRe.FindStringSubmatch(p.Body)
	if m == nil {
		b.s.t.Fatalf("no form token on the keys page (status %d)", p.Status)
	}
	return m[1]
}

func (b *browser) login(user, password string) page {
	b.s.t.Helper()
	return b.do(http.MethodPost, "/console/login", url.Values{"userName": {user}, "password": {password}})
}

func (b *browser) mustLogin(user, password string) {
	b.s.t.Helper()
	if p := b.login(user, password); p.Status != http.StatusSeeOther || p.Location != "/console/keys" {
		b.s.t.Fatalf("login as %s: got %d → %q, want 303 → /console/keys: %s", user, p.Status, p.Location, p.Body)
	}
}

func (b *browser) sessionCookie() *http.Cookie {
	u, _ := url.Parse(b.s.URL + "/console/")
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "keyward_session" || c.Name == "__Host-keyward_session" {
			return c
		}
	}
	return nil
}

func (s *server) createUser(name string, level int) {
	s.t.Helper()
	pw := "password-of-" + name
	if _, err := s.svc.CreateUser(context.Background(), s.admin, keyward.UserInput{UserName: &name, Password: &pw, Level: &level}); err != nil {
		s.t.Fatal(err)
	}
}

func (s *server) createKey(name string) *keyward.IssuedKey {
	s.t.Helper()
	k, err := s.svc.CreateAPIKey(context.Background(), s.admin, keyward.APIKeyInput{Name: &name})
	if err != nil {
		s.t.Fatal(err)
	}
	return k
}

func TestSignInSetsASafeSessionCookie(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		s := start(t, useTLS)
		b := s.browser()
		res := b.login("admin", adminPassword)
		if res.Status != http.StatusSeeOther {
			t.Fatalf("tls=%v: login got %d, want 303", useTLS, res.Status)
		}
		sc := res.Header.Get("Set-Cookie")
		name, path := "keyward_session=", "Path=/console"
		if useTLS { // __Host-: Secure, the whole host, no Domain
			name, path = "__Host-keyward_session=", "Path=/;"
		}
		if strings.Contains(sc, "Domain") {
			t.Errorf("tls=%v: Set-Cookie %q names a domain", useTLS, sc)
		}
		for _, want := range []string{name, path, "HttpOnly", "SameSite=Lax", "Max-Age=3600"} {
			if !strings.Contains(sc, want) {
				t.Errorf("tls=%v: Set-Cookie %q lacks %q", useTLS, sc, want)
			}
		}
		if got := strings.Contains(sc, "Secure"); got != useTLS {
			t.Errorf("tls=%v: Set-Cookie %q: Secure got %v, want %v", useTLS, sc, got, useTLS)
		}
	}
}

func TestSignInFailures(t *testing.T) {
	s := start(t, false)
	s.createUser("inactive-user", 3)
	tests := []struct{ name, user, password string }{
		{"wrong password", "admin", "not-the-password"},
		{"unknown user", "nobody", adminPassword},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := s.browser()
			res := b.login(tt.user, tt.password)
			if res.Status != http.StatusUnauthorized && res.Status != http.StatusBadRequest {
				t.Errorf("got %d, want 401 or 400", res.Status)
			}
			if !strings.Contains(res.Body, "The user name or password is not right.") {
				t.Errorf("the page does not explain the failure: %s", res.Body)
			}
			if b.sessionCookie() != nil || res.Header.Get("Set-Cookie") != "" {
				t.Errorf("a failed sign-in set a cookie: %q", res.Header.Get("Set-Cookie"))
			}
		})
	}
}

func TestPagesNeedASession(t *testing.T) {
	s := start(t, false)
	key := s.createKey("k")
	for _, path := range []string{"/console/keys", "/console/keys/new", "/console/keys/" + key.ID, "/console/users", "/console/permissions", "/console/audit"} {
		b := s.browser()
		res := b.get(path)
		if want := "/console/login?next=" + url.QueryEscape(path); res.Status != http.StatusSeeOther || res.Location != want {
			t.Errorf("GET %s without a session: got %d → %q, want 303 → %q", path, res.Status, res.Location, want)
		}
	}
	// An API key (or a login token of another kind) in the cookie is no session.
	for name, value := range map[string]string{"api key": key.ClientSecret, "garbage": "a.b.c"} {
		b := s.browser()
		u, _ := url.Parse(s.URL + "/console/")
		b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "keyward_session", Value: value, Path: "/console"}})
		if res := b.get("/console/keys"); res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Location, "/console/login") {
			t.Errorf("%s as the session: got %d → %q, want a redirect to the login", name, res.Status, res.Location)
		}
	}
	// After login, ?next= brings the user back; an outside URL is ignored.
	b := s.browser()
	res := b.do(http.MethodPost, "/console/login", url.Values{"userName": {"admin"}, "password": {adminPassword}, "next": {"/console/audit"}})
	if res.Location != "/console/audit" {
		t.Errorf("next=/console/audit: got %q", res.Location)
	}
	res = s.browser().do(http.MethodPost, "/console/login", url.Values{"userName": {"admin"}, "password": {adminPassword}, "next": {"//evil.example/x"}})
	if res.Location != "/console/keys" {
		t.Errorf("next=//evil.example/x: got %q, want /console/keys", res.Location)
	}
}

func TestSessionsExpireAndSignOutEndsThem(t *testing.T) {
	s := start(t, false)
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	if res := b.get("/console/keys"); res.Status != http.StatusOK {
		t.Fatalf("signed in: got %d", res.Status)
	}
	s.clock.Add(keyward.UserTokenLifetime + time.Second)
	if res := b.get("/console/keys"); res.Status != http.StatusSeeOther {
		t.Errorf("after the session lifetime: got %d, want 303 to the login", res.Status)
	}

	b = s.browser()
	b.mustLogin("admin", adminPassword)
	stolen := b.sessionCookie().Value
	res := b.post("/console/logout", nil)
	if res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Location, "/console/login") {
		t.Fatalf("sign out: got %d → %q", res.Status, res.Location)
	}
	if !strings.Contains(res.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("sign out does not clear the cookie: %q", res.Header.Get("Set-Cookie"))
	}
	// The token of the ended session no longer works, anywhere.
	replay := s.browser()
	u, _ := url.Parse(s.URL + "/console/")
	replay.c.Jar.SetCookies(u, []*http.Cookie{{Name: "keyward_session", Value: stolen, Path: "/console"}})
	if res := replay.get("/console/keys"); res.Status != http.StatusSeeOther {
		t.Errorf("the signed-out session: got %d, want 303 to the login", res.Status)
	}
	if _, err := s.svc.AuthenticateUser(context.Background(), stolen, "", ""); keyward.ErrorCode(err) != keyward.EUNAUTHORIZED {
		t.Errorf("the signed-out token authenticates: %v", err)
	}
}

func TestFormsRefuseCrossSiteRequests(t *testing.T) {
	s := start(t, false)
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	token := b.csrf()
	form := func(withToken bool) url.Values {
		v := url.Values{"name": {"forged"}, "lifespanValue": {"1"}, "lifespanUnit": {"hours"}}
		if withToken {
			v.Set("csrf", token)
		}
		return v
	}
	tests := []struct {
		name   string
		token  bool
		header []string
		want   int
	}{
		{"no form token", false, nil, http.StatusForbidden},
		{"wrong form token", false, []string{"X-Ignored", "1"}, http.StatusForbidden},
		{"another site (Sec-Fetch-Site)", true, []string{"Sec-Fetch-Site", "cross-site", "Origin", "http://evil.example"}, http.StatusForbidden},
		{"another port of this host", true, []string{"Sec-Fetch-Site", "same-site", "Origin", "http://127.0.0.1:1"}, http.StatusForbidden},
		{"an old browser from another origin", true, []string{"Sec-Fetch-Site", "", "Origin", "http://evil.example"}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := form(tt.token)
			if tt.name == "wrong form token" {
				f.Set("csrf", "AAAAAAAAAAAAAAAAAAAAAAAA")
			}
			res := b.do(http.MethodPost, "/console/keys", f, tt.header...)
			if res.Status != tt.want {
				t.Errorf("got %d, want %d", res.Status, tt.want)
			}
		})
	}
	list, err := s.svc.ListAPIKeys(context.Background(), s.admin, keyward.APIKeyFilter{Page: keyward.Page{Number: 1, Size: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if list.TotalCount != 0 {
		t.Errorf("refused requests created %d keys", list.TotalCount)
	}
	if res := b.do(http.MethodPost, "/console/keys", form(true)); res.Status != http.StatusOK {
		t.Errorf("the genuine form: got %d, want 200 (the secret dialog)", res.Status)
	}
}

var secretRe = regexp.MustCompile(`id="issued-secret" value="([^"]+)"`)

func TestSecretIsShownOnceAndNeverStored(t *testing.T) {
	s := start(t, false)
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	res := b.post("/console/keys", url.Values{"name": {"Billing"}, "description": {"billing service"}, "scopes": {"apikeys:read"},
		"lifespanValue": {"2"}, "lifespanUnit": {"hours"}})
	m := secretRe.FindStringSubmatch(res.Body)
	if res.Status != http.StatusOK || m == nil {
		t.Fatalf("create: got %d without a secret dialog: %s", res.Status, res.Body)
	}
	sec := m[1]
	if !strings.Contains(res.Body, "It will not be shown again") {
		t.Error("the dialog does not warn that the secret is shown once")
	}
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control of the secret page: got %q, want no-store", got)
	}
	p, err := s.svc.Authenticate(context.Background(), keyward.Credentials{APIKey: sec})
	if err != nil {
		t.Fatalf("the shown secret does not authenticate: %v", err)
	}
	k, err := s.svc.GetAPIKey(context.Background(), s.admin, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if k.Name != "Billing" || k.TokenLifespanSeconds != 7200 || len(k.Permissions) != 1 || k.Permissions[0].Name != "apikeys:read" {
		t.Errorf("created key: got %+v", k)
	}
	for _, path := range []string{"/console/keys", "/console/keys/" + k.ID, "/console/keys/" + k.ID + "/edit", "/console/audit"} {
		if body := b.get(path).Body; strings.Contains(body, sec) || strings.Contains(body, sec[len(sec)-12:]) {
			t.Errorf("GET %s shows the secret", path)
		}
	}
	// Rotation shows a new secret once; the old one stops.
	res = b.post("/console/keys/"+k.ID+"/rotate", nil)
	m = secretRe.FindStringSubmatch(res.Body)
	if m == nil || m[1] == sec {
		t.Fatalf("rotate: got %d without a new secret", res.Status)
	}
	if _, err := s.svc.Authenticate(context.Background(), keyward.Credentials{APIKey: sec}); err == nil {
		t.Error("the old secret still works after a new one was generated")
	}
	if _, err := s.svc.Authenticate(context.Background(), keyward.Credentials{APIKey: m[1]}); err != nil {
		t.Errorf("the new secret does not work: %v", err)
	}
}

func TestKeyFormBounds(t *testing.T) {
	s := start(t, false)
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	tests := []struct {
		value, unit string
		wantSeconds int    // 0: refused
		wantMessage string // next to the field
	}{
		{"1", "hours", 3600, ""},
		{"24", "hours", 86400, ""},
		{"25", "hours", 0, "In hours, the token lifespan is 1 to 24."},
		{"0", "hours", 0, "In hours, the token lifespan is 1 to 24."},
		{"1", "minutes", 60, ""},
		{"55", "minutes", 3300, ""},
		{"56", "minutes", 0, "In minutes, the token lifespan is 1 to 55."},
		{"1.5", "hours", 0, "Enter a whole number."},
		{"1", "days", 0, "Choose hours or minutes."},
	}
	for _, tt := range tests {
		t.Run(tt.value+" "+tt.unit, func(t *testing.T) {
			res := b.post("/console/keys", url.Values{"name": {"k " + tt.value + tt.unit}, "lifespanValue": {tt.value}, "lifespanUnit": {tt.unit}})
			m := secretRe.FindStringSubmatch(res.Body)
			if tt.wantSeconds == 0 {
				if res.Status != http.StatusBadRequest || m != nil {
					t.Fatalf("got %d (secret shown: %v), want 400", res.Status, m != nil)
				}
				if !strings.Contains(res.Body, `<p class="error" id="lifespan-error">`+tt.wantMessage) {
					t.Errorf("the message %q is not next to the field", tt.wantMessage)
				}
				return
			}
			if m == nil {
				t.Fatalf("got %d without a secret: %s", res.Status, res.Body)
			}
			p, err := s.svc.Authenticate(context.Background(), keyward.Credentials{APIKey: m[1]})
			if err != nil {
				t.Fatal(err)
			}
			k, _ := s.svc.GetAPIKey(context.Background(), s.admin, p.ID)
			if k.TokenLifespanSeconds != tt.wantSeconds {
				t.Errorf("tokenLifespanSeconds: got %d, want %d", k.TokenLifespanSeconds, tt.wantSeconds)
			}
		})
	}
	res := b.post("/console/keys", url.Values{"name": {""}, "lifespanValue": {"1"}, "lifespanUnit": {"hours"}, "expiresOn": {"2001-01-01"}})
	if res.Status != http.StatusBadRequest || !strings.Contains(res.Body, "Enter a name.") || !strings.Contains(res.Body, "Choose today or a later day.") {
		t.Errorf("empty name and past expiry: got %d: %s", res.Status, res.Body)
	}
}

func TestEditKeepsClientIDAndDetectsConcurrentChanges(t *testing.T) {
	s := start(t, false)
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	k := s.createKey("Before")
	page := b.get("/console/keys/" + k.ID + "/edit")
	if !strings.Contains(page.Body, `value="`+k.ClientID+`" readonly`) {
		t.Errorf("the edit form does not show the client ID read-only")
	}
	res := b.post("/console/keys/"+k.ID+"/edit", url.Values{"version": {"1"}, "name": {"After"}, "description": {"d"},
		"lifespanValue": {"30"}, "lifespanUnit": {"minutes"}, "expiresOn": {time.Now().AddDate(0, 1, 0).Format("2006-01-02")}, "clientId": {"changed"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("edit: got %d: %s", res.Status, res.Body)
	}
	got, _ := s.svc.GetAPIKey(context.Background(), s.admin, k.ID)
	if got.Name != "After" || got.TokenLifespanSeconds != 1800 || got.ClientID != k.ClientID || got.ExpiresAt == nil {
		t.Errorf("after edit: got name %q lifespan %d clientId %q expiresAt %v", got.Name, got.TokenLifespanSeconds, got.ClientID, got.ExpiresAt)
	}
	// A form loaded before that change must not overwrite it.
	res = b.post("/console/keys/"+k.ID+"/edit", url.Values{"version": {"1"}, "name": {"Stale"}, "lifespanValue": {"1"}, "lifespanUnit": {"hours"}})
	if res.Status != http.StatusConflict || !strings.Contains(res.Body, "Someone changed this key") {
		t.Errorf("stale edit: got %d, want 409 with an explanation", res.Status)
	}
	if got, _ := s.svc.GetAPIKey(context.Background(), s.admin, k.ID); got.Name != "After" {
		t.Errorf("the stale edit overwrote the name: %q", got.Name)
	}
}

func TestLowLevelUserSeesNoWriteButtonsAndIsRefused(t *testing.T) {
	s := start(t, false)
	s.createUser("viewer", 2)
	other := s.createKey("admin's key")
	b := s.browser()
	b.mustLogin("viewer", "password-of-viewer")
	keys := b.get("/console/keys")
	if keys.Status != http.StatusOK {
		t.Fatalf("keys page: got %d", keys.Status)
	}
	for _, button := range []string{`href="/console/keys/new"`, "/active", "/edit", "/rotate", "/delete", "admin&#39;s key"} {
		if strings.Contains(keys.Body, button) {
			t.Errorf("a level-2 user's keys page contains %q", button)
		}
	}
	for _, nav := range []string{`href="/console/users"`, `href="/console/audit"`} {
		if strings.Contains(keys.Body, nav) {
			t.Errorf("a level-2 user sees the menu entry %s", nav)
		}
	}
	tests := []struct {
		method, path string
		form         url.Values
		want         int
	}{
		{"GET", "/console/keys/new", nil, http.StatusForbidden},
		{"POST", "/console/keys", url.Values{"name": {"mine"}, "lifespanValue": {"1"}, "lifespanUnit": {"hours"}}, http.StatusForbidden},
		{"POST", "/console/keys/" + other.ID + "/active", url.Values{"active": {"false"}}, http.StatusNotFound},
		{"POST", "/console/keys/" + other.ID + "/delete", nil, http.StatusNotFound},
		{"POST", "/console/keys/" + other.ID + "/rotate", nil, http.StatusNotFound},
		{"GET", "/console/users", nil, http.StatusForbidden},
		{"POST", "/console/users", url.Values{"userName": {"x"}, "password": {"password-12345"}, "level": {"1"}}, http.StatusForbidden},
		{"POST", "/console/permissions", url.Values{"name": {"x:y"}}, http.StatusForbidden},
		{"GET", "/console/audit", nil, http.StatusForbidden},
	}
	for _, tt := range tests {
		var res page
		if tt.method == "GET" {
			res = b.get(tt.path)
		} else {
			res = b.post(tt.path, tt.form)
		}
		if res.Status != tt.want {
			t.Errorf("%s %s: got %d, want %d", tt.method, tt.path, res.Status, tt.want)
		}
	}
	if k, _ := s.svc.GetAPIKey(context.Background(), s.admin, other.ID); !k.IsActive {
		t.Error("the refused request deactivated the key")
	}
	list, _ := s.svc.ListAPIKeys(context.Background(), s.admin, keyward.APIKeyFilter{Page: keyward.Page{Number: 1, Size: 10}})
	if list.TotalCount != 1 {
		t.Errorf("keys after the refused create: got %d, want 1", list.TotalCount)
	}
}

func TestTenantsDoNotSeeEachOther(t *testing.T) {
	s := start(t, false)
	ctx := context.Background()
	name := "acme"
	tenant, err := s.svc.CreateTenant(ctx, s.admin, keyward.TenantInput{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	inAcme, err := s.svc.InTenant(ctx, s.admin, tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	user, pw, level := "acme-admin", "password-of-acme-admin", 8
	if _, err := s.svc.CreateUser(ctx, inAcme, keyward.UserInput{UserName: &user, Password: &pw, Level: &level}); err != nil {
		t.Fatal(err)
	}
	rootKey := s.createKey("root tenant key")
	b := s.browser()
	if res := b.do(http.MethodPost, "/console/login", url.Values{"tenant": {"acme"}, "userName": {user}, "password": {pw}}); res.Status != http.StatusSeeOther {
		t.Fatalf("login to acme: got %d", res.Status)
	}
	if body := b.get("/console/keys").Body; strings.Contains(body, "root tenant key") {
		t.Error("acme's admin sees the root tenant's key")
	}
	for _, path := range []string{"/console/keys/" + rootKey.ID, "/console/keys/" + rootKey.ID + "/edit"} {
		if res := b.get(path); res.Status != http.StatusNotFound {
			t.Errorf("GET %s from acme: got %d, want 404", path, res.Status)
		}
	}
	if res := b.post("/console/keys/"+rootKey.ID+"/delete", nil); res.Status != http.StatusNotFound {
		t.Errorf("delete from acme: got %d, want 404", res.Status)
	}
	if _, err := s.svc.GetAPIKey(ctx, s.admin, rootKey.ID); err != nil {
		t.Errorf("the root tenant's key is gone: %v", err)
	}
}

func TestKeysListFiltersAndPages(t *testing.T) {
	s := start(t, false)
	ctx := context.Background()
	for i := range 25 {
		k := s.createKey("Batch " + string(rune('A'+i)))
		if i%5 == 0 {
			off := false
			if _, err := s.svc.UpdateAPIKey(ctx, s.admin, k.ID, keyward.APIKeyInput{IsActive: &off}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.createKey("Other")
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	rows := regexp.MustCompile(`<tr data-client-id=`)
	tests := []struct {
		query    string
		wantRows int
		want     []string
		notWant  []string
	}{
		{"", 20, []string{"1–20 of 26", `href="/console/keys?page=2&amp;cursor=`}, nil},
		{"?page=2", 6, []string{"21–26 of 26", `rel="prev"`}, nil},
		{"?page=2&cursor=not-a-cursor", 6, []string{"21–26 of 26", `href="/console/keys" rel="prev"`}, nil},
		{"?q=batch+c", 1, []string{"Batch C"}, []string{"Batch D", "Other"}},
		{"?status=inactive", 5, []string{"Batch A", "Batch F"}, []string{"Batch B", `state-Active`}},
		{"?status=active&q=Other", 1, []string{"Other"}, nil},
		{"?q=nothing-matches", 0, []string{"No API keys match"}, nil},
	}
	// Next carries page 1's cursor: page 2 starts after it, and its
	// Previous goes back to page 1.
	next := regexp.MustCompile(`href="(/console/keys\?page=2&amp;sort=name&amp;cursor=[^"]+)" rel="next"`).FindStringSubmatch(b.get("/console/keys?sort=name").Body)
	if next == nil {
		t.Fatalf("page 1 sorted by name has no Next link with a cursor")
	}
	tests = append(tests, struct {
		query    string
		wantRows int
		want     []string
		notWant  []string
	}{strings.TrimPrefix(html.UnescapeString(next[1]), "/console/keys"), 6, []string{"21–26 of 26", "Other", `href="/console/keys?sort=name" rel="prev"`}, []string{"Batch T"}})
	for _, tt := range tests {
		res := b.get("/console/keys" + tt.query)
		if got := len(rows.FindAllString(res.Body, -1)); got != tt.wantRows {
			t.Errorf("%s: got %d rows, want %d", tt.query, got, tt.wantRows)
		}
		for _, w := range tt.want {
			if !strings.Contains(res.Body, w) {
				t.Errorf("%s: the page lacks %q", tt.query, w)
			}
		}
		for _, w := range tt.notWant {
			if strings.Contains(res.Body, w) {
				t.Errorf("%s: the page contains %q", tt.query, w)
			}
		}
	}
}

func TestKeyFormRateLimit(t *testing.T) {
	s := start(t, false)
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	base := url.Values{"name": {"limited"}, "lifespanValue": {"1"}, "lifespanUnit": {"hours"}}
	with := func(limit, window string) url.Values {
		v := url.Values{}
		for k, vs := range base {
			v[k] = vs
		}
		v.Set("rateLimit", limit)
		v.Set("rateWindow", window)
		return v
	}
	for _, bad := range [][2]string{{"0", "60"}, {"ten", "60"}, {"10", "0"}, {"10", "86401"}} {
		res := b.post("/console/keys", with(bad[0], bad[1]))
		if res.Status != http.StatusBadRequest || !strings.Contains(res.Body, `id="rateLimit-error"`) {
			t.Errorf("rate limit %v: got %d without the error next to the field", bad, res.Status)
		}
	}
	res := b.post("/console/keys", with("100", "60"))
	m := secretRe.FindStringSubmatch(res.Body)
	if m == nil {
		t.Fatalf("create with a rate limit: got %d", res.Status)
	}
	p, err := s.svc.Authenticate(context.Background(), keyward.Credentials{APIKey: m[1]})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := s.svc.GetAPIKey(context.Background(), s.admin, p.ID)
	if k.RateLimit == nil || *k.RateLimit != (keyward.RateLimit{Limit: 100, WindowSeconds: 60}) {
		t.Fatalf("stored rate limit: got %+v", k.RateLimit)
	}
	if body := b.get("/console/keys/" + k.ID).Body; !strings.Contains(body, "100 per minute") {
		t.Error("the key page does not show the rate limit")
	}
	edit := with("", "60")
	edit.Set("version", strconv.Itoa(k.Version))
	if res := b.post("/console/keys/"+k.ID+"/edit", edit); res.Status != http.StatusSeeOther {
		t.Fatalf("clearing the limit: got %d", res.Status)
	}
	if k, _ := s.svc.GetAPIKey(context.Background(), s.admin, p.ID); k.RateLimit != nil {
		t.Errorf("after clearing: got %+v", k.RateLimit)
	}
}

func TestAuditNamesActorsAndTargets(t *testing.T) {
	s := start(t, false)
	k := s.createKey("Named in the audit")
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	body := b.get("/console/audit?action=apikey.create").Body
	for _, want := range []string{`<a href="/console/keys/` + k.ID + `">Named in the audit</a>`, `<span class="strong">admin</span>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the audit page lacks %s", want)
		}
	}
	if _, err := s.svc.DeleteAPIKey(context.Background(), s.admin, k.ID, nil); err != nil {
		t.Fatal(err)
	}
	if body := b.get("/console/audit?action=apikey.create").Body; !strings.Contains(body, "(gone, or not visible to you)") {
		t.Error("a deleted key's entry does not say so")
	}
}

// TestConfirmationPagesWithoutScript: without script the row buttons lead
// to confirmation pages whose forms do the work.
func TestConfirmationPagesWithoutScript(t *testing.T) {
	s := start(t, false)
	k := s.createKey("confirm me")
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	for _, what := range []string{"rotate", "delete"} {
		page := b.get("/console/keys/" + k.ID + "/" + what)
		if page.Status != http.StatusOK || !strings.Contains(page.Body, `<form method="post" action="/console/keys/`+k.ID+`/`+what+`">`) ||
			!strings.Contains(page.Body, "confirm me") {
			t.Errorf("GET %s confirmation: got %d without its form", what, page.Status)
		}
	}
	if res := b.post("/console/keys/"+k.ID+"/delete", nil); res.Status != http.StatusSeeOther || !strings.Contains(res.Location, "done=deleted") {
		t.Errorf("confirmed delete: got %d → %q", res.Status, res.Location)
	}
	if _, err := s.svc.GetAPIKey(context.Background(), s.admin, k.ID); keyward.ErrorCode(err) != keyward.ENOTFOUND {
		t.Errorf("the key survived its deletion: %v", err)
	}
}

func TestStaticAssets(t *testing.T) {
	s := start(t, false)
	b := s.browser()
	for path, want := range map[string]int{"/console/static/console.css": 200, "/console/static/console.js": 200,
		"/console/static/": 404, "/console/static/nope.js": 404} {
		if got := b.get(path).Status; got != want {
			t.Errorf("GET %s: got %d, want %d", path, got, want)
		}
	}
}

func TestEditUser(t *testing.T) {
	s := start(t, false)
	s.createUser("editable", 2)
	list, err := s.svc.ListUsers(context.Background(), s.admin, keyward.UserFilter{Page: keyward.Page{Number: 1, Size: 10}, Query: "editable"})
	if err != nil || len(list.Items) != 1 {
		t.Fatal(list, err)
	}
	id := list.Items[0].ID
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	if page := b.get("/console/users/" + id + "/edit"); page.Status != http.StatusOK || !strings.Contains(page.Body, `value="editable" readonly`) {
		t.Fatalf("edit form: got %d", page.Status)
	}
	tests := []struct {
		name string
		form url.Values
		want int
		msg  string
	}{
		{"short password", url.Values{"level": {"4"}, "password": {"short"}}, http.StatusBadRequest, `Use at least 8 characters`},
		{"unknown permission", url.Values{"level": {"4"}, "scopes": {"no:such"}}, http.StatusBadRequest, "no longer in the catalog"},
		{"level and permission and password", url.Values{"level": {"4"}, "scopes": {"audit:read"}, "password": {"a-new-password-1"}}, http.StatusSeeOther, ""},
	}
	for _, tt := range tests {
		res := b.post("/console/users/"+id+"/edit", tt.form)
		if res.Status != tt.want || !strings.Contains(res.Body, tt.msg) {
			t.Errorf("%s: got %d, want %d with %q", tt.name, res.Status, tt.want, tt.msg)
		}
	}
	u, _ := s.svc.GetUser(context.Background(), s.admin, id)
	if u.Level != 4 || len(u.Permissions) != 1 || u.Permissions[0].Name != "audit:read" {
		t.Errorf("after the edit: level %d, permissions %v", u.Level, u.Permissions)
	}
	if _, err := s.svc.Login(context.Background(), "", "editable", "a-new-password-1"); err != nil {
		t.Errorf("the new password does not sign in: %v", err)
	}
	// A user without users:write cannot edit anyone.
	viewer := s.browser()
	viewer.mustLogin("editable", "a-new-password-1")
	if res := viewer.get("/console/users/" + id + "/edit"); res.Status != http.StatusForbidden {
		t.Errorf("edit form for a level-4 user: got %d, want 403", res.Status)
	}
	if res := viewer.post("/console/users/"+id+"/edit", url.Values{"level": {"8"}}); res.Status != http.StatusForbidden && res.Status != http.StatusNotFound {
		t.Errorf("a level-4 user raising their own level: got %d, want 403", res.Status)
	}
	if u, _ := s.svc.GetUser(context.Background(), s.admin, id); u.Level != 4 {
		t.Errorf("the refused edit changed the level to %d", u.Level)
	}
}

// TestKeyFormAudiences: the key form sets, shows, changes and clears a
// key's token audiences, and explains an invalid one next to the field.
func TestKeyFormAudiences(t *testing.T) {
	s := start(t, false)
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	res := b.post("/console/keys", url.Values{"name": {"Orders"}, "audiences": {"https://orders.example.com\r\nbilling"},
		"lifespanValue": {"1"}, "lifespanUnit": {"hours"}})
	m := secretRe.FindStringSubmatch(res.Body)
	if res.Status != http.StatusOK || m == nil {
		t.Fatalf("create: got %d without a secret dialog: %s", res.Status, res.Body)
	}
	p, err := s.svc.Authenticate(context.Background(), keyward.Credentials{APIKey: m[1]})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := s.svc.GetAPIKey(context.Background(), s.admin, p.ID)
	if strings.Join(k.Audiences, " ") != "https://orders.example.com billing" {
		t.Fatalf("created with audiences %v", k.Audiences)
	}
	if body := b.get("/console/keys/" + k.ID).Body; !strings.Contains(body, "<code>https://orders.example.com</code>") {
		t.Error("the key page does not show its audiences")
	}
	if body := b.get("/console/keys/" + k.ID + "/edit").Body; !strings.Contains(body, "https://orders.example.com\nbilling</textarea>") {
		t.Error("the edit form does not hold the audiences")
	}
	res = b.post("/console/keys/"+k.ID+"/edit", url.Values{"version": {"1"}, "name": {"Orders"}, "audiences": {"has#hash://x"},
		"lifespanValue": {"1"}, "lifespanUnit": {"hours"}})
	if res.Status != http.StatusBadRequest || !strings.Contains(res.Body, `id="audiences-error"`) {
		t.Errorf("an invalid audience: got %d, want 400 with the error at the field", res.Status)
	}
	res = b.post("/console/keys/"+k.ID+"/edit", url.Values{"version": {"1"}, "name": {"Orders"}, "audiences": {""},
		"lifespanValue": {"1"}, "lifespanUnit": {"hours"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("clearing: got %d: %s", res.Status, res.Body)
	}
	if k, _ = s.svc.GetAPIKey(context.Background(), s.admin, k.ID); len(k.Audiences) != 0 {
		t.Errorf("after clearing: %v", k.Audiences)
	}
}

func TestKeyFormCredits(t *testing.T) {
	s := start(t, false)
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	form := func(credits, refill, amount, day string) url.Values {
		return url.Values{"name": {"metered"}, "lifespanValue": {"1"}, "lifespanUnit": {"hours"},
			"credits": {credits}, "refill": {refill}, "refillAmount": {amount}, "refillDay": {day}}
	}
	for _, bad := range [][4]string{{"-1", "", "", ""}, {"ten", "", "", ""}, {"", "daily", "5", ""}, {"5", "daily", "0", ""},
		{"5", "weekly", "5", ""}, {"5", "monthly", "5", "32"}} {
		res := b.post("/console/keys", form(bad[0], bad[1], bad[2], bad[3]))
		if res.Status != http.StatusBadRequest || !strings.Contains(res.Body, `id="credits-error"`) {
			t.Errorf("credits %v: got %d without the error next to the field", bad, res.Status)
		}
	}
	res := b.post("/console/keys", form("5", "monthly", "10", "31"))
	m := secretRe.FindStringSubmatch(res.Body)
	if m == nil {
		t.Fatalf("create with credits: got %d", res.Status)
	}
	ctx := context.Background()
	p, err := s.svc.Authenticate(ctx, keyward.Credentials{APIKey: m[1]}) // spends 1
	if err != nil {
		t.Fatal(err)
	}
	k, _ := s.svc.GetAPIKey(ctx, s.admin, p.ID)
	if k.Credits == nil || k.Credits.Remaining != 4 || k.Credits.Refill == nil || *k.Credits.Refill != (keyward.Refill{Amount: 10, Interval: "monthly", DayOfMonth: 31}) {
		t.Fatalf("stored credits: got %+v", k.Credits)
	}
	if body := b.get("/console/keys/" + k.ID).Body; !strings.Contains(body, "4 left, refilled to 10 monthly on day 31") {
		t.Error("the key page does not show the credits")
	}
	edit := b.get("/console/keys/" + k.ID + "/edit").Body
	if !strings.Contains(edit, `name="creditsWas" value="4|monthly|10|31"`) {
		t.Fatalf("the edit form does not carry the credits it shows")
	}
	// Spent meanwhile: saving another change leaves the credits alone.
	if _, err := s.svc.Authenticate(ctx, keyward.Credentials{APIKey: m[1]}); err != nil {
		t.Fatal(err)
	}
	v := form("4", "monthly", "10", "31")
	v.Set("creditsWas", "4|monthly|10|31")
	v.Set("name", "renamed")
	v.Set("version", strconv.Itoa(k.Version))
	if res := b.post("/console/keys/"+k.ID+"/edit", v); res.Status != http.StatusSeeOther {
		t.Fatalf("renaming: got %d", res.Status)
	}
	if k, _ := s.svc.GetAPIKey(ctx, s.admin, p.ID); k.Name != "renamed" || k.Credits == nil || k.Credits.Remaining != 3 {
		t.Fatalf("after renaming: got %q %+v, want 3 left", k.Name, k.Credits)
	}
	k, _ = s.svc.GetAPIKey(ctx, s.admin, p.ID)
	v = form("", "", "", "")
	v.Set("creditsWas", "3|monthly|10|31")
	v.Set("version", strconv.Itoa(k.Version))
	if res := b.post("/console/keys/"+k.ID+"/edit", v); res.Status != http.StatusSeeOther {
		t.Fatalf("removing the credits: got %d", res.Status)
	}
	if k, _ := s.svc.GetAPIKey(ctx, s.admin, p.ID); k.Credits != nil {
		t.Errorf("after removing: got %+v", k.Credits)
	}
}

// TestKeysListEstimatedCount lists more matches than the store counts
// exactly:
// the pager says the count is about, Next carries the cursor, and the
// page it leads to starts where page 1 ended.
func TestKeysListEstimatedCount(t *testing.T) {
	s := start(t, false)
	lines := make([]keyward.ImportLine, 1100)
	for i := range lines {
		name, sum := fmt.Sprintf("Bulk %04d", i), sha256.Sum256([]byte(fmt.Sprintf("legacy-secret-%d", i)))
		lines[i] = keyward.ImportLine{APIKeyInput: keyward.APIKeyInput{Name: &name}, SecretHash: hex.EncodeToString(sum[:])}
	}
	res, err := s.svc.ImportAPIKeys(context.Background(), s.admin, lines)
	if err != nil || res[0].Err != nil {
		t.Fatalf("import: %v %v", err, res[0].Err)
	}
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	page1 := b.get("/console/keys?q=bulk&sort=name").Body // a filtered list: the unfiltered one counts exactly
	if !strings.Contains(page1, "1–20 of about ") || !strings.Contains(page1, "Bulk 0019") {
		t.Errorf("page 1: want 1–20 of about … and Bulk 0019:\n%s", page1)
	}
	next := regexp.MustCompile(`href="(/console/keys\?page=2&amp;q=bulk&amp;sort=name&amp;cursor=[^"]+)" rel="next"`).FindStringSubmatch(page1)
	if next == nil {
		t.Fatalf("page 1 has no Next link with a cursor")
	}
	page2 := b.get(html.UnescapeString(next[1])).Body
	if !strings.Contains(page2, "21–40 of about ") || !strings.Contains(page2, "Bulk 0020") || strings.Contains(page2, "Bulk 0019") {
		t.Errorf("page 2: want 21–40 of about …, from Bulk 0020 on")
	}
}
