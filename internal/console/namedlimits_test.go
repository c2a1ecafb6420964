package console_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

func TestKeyFormNamedLimits(t *testing.T) {
	s := start(t, false)
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	ctx := context.Background()
	form := func(limits string) url.Values {
		return url.Values{"name": {"limited"}, "lifespanValue": {"1"}, "lifespanUnit": {"hours"}, "rateLimits": {limits}}
	}
	for _, bad := range []string{"burst", "burst 10/1w", "a 1/1s\na 2/1s", "-bad 1/1s"} {
		res := b.post("/console/keys", form(bad))
		if res.Status != http.StatusBadRequest || !strings.Contains(res.Body, `id="rateLimits-error"`) ||
			!strings.Contains(res.Body, `data-focus="rateLimits"`) {
			t.Errorf("limits %q: got %d without the error next to the field", bad, res.Status)
		}
	}
	res := b.post("/console/keys", form("daily 10000/1d\nburst 10/1s"))
	m := secretRe.FindStringSubmatch(res.Body)
	if m == nil {
		t.Fatalf("create with named limits: got %d: %s", res.Status, res.Body)
	}
	p, err := s.svc.Authenticate(ctx, keyward.Credentials{APIKey: m[1]})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := s.svc.GetAPIKey(ctx, s.admin, p.ID)
	want := []keyward.NamedRateLimit{{Name: "burst", Limit: 10, WindowSeconds: 1}, {Name: "daily", Limit: 10000, WindowSeconds: 86400}}
	if !slices.Equal(k.RateLimits, want) {
		t.Fatalf("stored limits: got %+v, want %+v", k.RateLimits, want)
	}
	if body := b.get("/console/keys/" + k.ID).Body; !strings.Contains(body, "burst: 10 per second, daily: 10000 per day") {
		t.Error("the key page does not show the named limits")
	}
	edit := html.UnescapeString(b.get("/console/keys/" + k.ID + "/edit").Body)
	if !strings.Contains(edit, "burst 10/1s\ndaily 10000/1d</textarea>") || !strings.Contains(edit, `name="rateLimitsWas" value="burst 10/1s`) {
		t.Fatalf("the edit form does not hold the named limits: %s", edit)
	}
	// Changed meanwhile: saving another change leaves the limits alone.
	meanwhile := []keyward.NamedRateLimit{{Name: "hourly", Limit: 500, WindowSeconds: 3600}}
	if _, err := s.svc.UpdateAPIKey(ctx, s.admin, k.ID, keyward.APIKeyInput{RateLimits: &meanwhile}, nil); err != nil {
		t.Fatal(err)
	}
	k, _ = s.svc.GetAPIKey(ctx, s.admin, k.ID)
	v := form("burst 10/1s\ndaily 10000/1d")
	v.Set("rateLimitsWas", "burst 10/1s\r\ndaily 10000/1d")
	v.Set("name", "renamed")
	v.Set("version", strconv.Itoa(k.Version))
	if res := b.post("/console/keys/"+k.ID+"/edit", v); res.Status != http.StatusSeeOther {
		t.Fatalf("renaming: got %d", res.Status)
	}
	if k, _ = s.svc.GetAPIKey(ctx, s.admin, k.ID); k.Name != "renamed" || !slices.Equal(k.RateLimits, meanwhile) {
		t.Fatalf("after renaming: got %q %+v, want %+v", k.Name, k.RateLimits, meanwhile)
	}
	// Edited: replaced; an invalid edit is refused next to the field.
	v = form("hourly 500/1h\nminute 60/1m")
	v.Set("rateLimitsWas", "hourly 500/1h")
	v.Set("version", strconv.Itoa(k.Version))
	if res := b.post("/console/keys/"+k.ID+"/edit", v); res.Status != http.StatusSeeOther {
		t.Fatalf("editing the limits: got %d", res.Status)
	}
	k, _ = s.svc.GetAPIKey(ctx, s.admin, k.ID)
	if want := []keyward.NamedRateLimit{{Name: "hourly", Limit: 500, WindowSeconds: 3600}, {Name: "minute", Limit: 60, WindowSeconds: 60}}; !slices.Equal(k.RateLimits, want) {
		t.Fatalf("after editing: got %+v, want %+v", k.RateLimits, want)
	}
	v = form("hourly 0/1h")
	v.Set("rateLimitsWas", "hourly 500/1h\nminute 60/1m")
	v.Set("version", strconv.Itoa(k.Version))
	if res := b.post("/console/keys/"+k.ID+"/edit", v); res.Status != http.StatusBadRequest || !strings.Contains(res.Body, `id="rateLimits-error"`) {
		t.Errorf("an invalid edit: got %d, want 400 with the error at the field", res.Status)
	}
	// Cleared.
	v = form("")
	v.Set("rateLimitsWas", "hourly 500/1h\nminute 60/1m")
	v.Set("version", strconv.Itoa(k.Version))
	if res := b.post("/console/keys/"+k.ID+"/edit", v); res.Status != http.StatusSeeOther {
		t.Fatalf("clearing the limits: got %d", res.Status)
	}
	if k, _ = s.svc.GetAPIKey(ctx, s.admin, k.ID); len(k.RateLimits) != 0 {
		t.Errorf("after clearing: got %+v", k.RateLimits)
	}
	if body := b.get("/console/keys/" + k.ID).Body; !strings.Contains(body, "<dt>Named rate limits</dt><dd><span class=\"muted\">none</span>") {
		t.Error("the key page does not say the key has no named limits")
	}
}

func TestUserFormNamedLimits(t *testing.T) {
	s := start(t, false)
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	ctx := context.Background()
	find := func(name string) *keyward.User {
		t.Helper()
		list, err := s.svc.ListUsers(ctx, s.admin, keyward.UserFilter{Page: keyward.Page{Number: 1, Size: 10}, Query: name})
		if err != nil || len(list.Items) != 1 {
			t.Fatal(list, err)
		}
		return list.Items[0]
	}
	add := url.Values{"userName": {"customer"}, "password": {"password-of-customer"}, "level": {"4"}}
	for _, bad := range []string{"plan", "plan 0/1d", "plan 1/1w", "p 1/1s\np 1/1s", "-p 1/1s"} {
		v := url.Values{"rateLimits": {bad}}
		for k, vs := range add {
			v[k] = vs
		}
		res := b.post("/console/users", v)
		if res.Status != http.StatusBadRequest || !strings.Contains(res.Body, `id="rateLimits-error"`) ||
			!strings.Contains(res.Body, `data-focus="rateLimits"`) {
			t.Errorf("limits %q: got %d without the error next to the field", bad, res.Status)
		}
	}
	add.Set("rateLimits", "plan 1000/1d")
	if res := b.post("/console/users", add); res.Status != http.StatusSeeOther {
		t.Fatalf("adding a user with limits: got %d: %s", res.Status, res.Body)
	}
	u := find("customer")
	if want := []keyward.NamedRateLimit{{Name: "plan", Limit: 1000, WindowSeconds: 86400}}; !slices.Equal(u.RateLimits, want) {
		t.Fatalf("stored limits: got %+v, want %+v", u.RateLimits, want)
	}
	if body := b.get("/console/users").Body; !strings.Contains(body, "Rate limits: plan: 1000 per day") {
		t.Error("the users page does not show the limits")
	}
	edit := html.UnescapeString(b.get("/console/users/" + u.ID + "/edit").Body)
	if !strings.Contains(edit, "plan 1000/1d</textarea>") || !strings.Contains(edit, `name="rateLimitsWas" value="plan 1000/1d"`) ||
		!strings.Contains(edit, "Shared by all of this user's keys") {
		t.Fatalf("the edit form does not hold the limits: %s", edit)
	}
	// Changed meanwhile: saving another change leaves the limits alone.
	meanwhile := []keyward.NamedRateLimit{{Name: "plan", Limit: 5000, WindowSeconds: 86400}}
	if _, err := s.svc.UpdateUser(ctx, s.admin, u.ID, keyward.UserInput{RateLimits: &meanwhile}); err != nil {
		t.Fatal(err)
	}
	post := func(limits, was string) page {
		return b.post("/console/users/"+u.ID+"/edit", url.Values{"level": {"3"}, "rateLimits": {limits}, "rateLimitsWas": {was}})
	}
	if res := post("plan 1000/1d", "plan 1000/1d"); res.Status != http.StatusSeeOther {
		t.Fatalf("changing the level: got %d", res.Status)
	}
	if u = find("customer"); u.Level != 3 || !slices.Equal(u.RateLimits, meanwhile) {
		t.Fatalf("after changing the level: got %d %+v, want 3 %+v", u.Level, u.RateLimits, meanwhile)
	}
	if res := post("plan 0/1d", "plan 5000/1d"); res.Status != http.StatusBadRequest || !strings.Contains(res.Body, `id="rateLimits-error"`) {
		t.Errorf("an invalid edit: got %d, want 400 with the error at the field", res.Status)
	}
	if res := post("plan 5000/1d\nburst 20/1s", "plan 5000/1d"); res.Status != http.StatusSeeOther {
		t.Fatalf("editing the limits: got %d", res.Status)
	}
	want := []keyward.NamedRateLimit{{Name: "burst", Limit: 20, WindowSeconds: 1}, {Name: "plan", Limit: 5000, WindowSeconds: 86400}}
	if u = find("customer"); !slices.Equal(u.RateLimits, want) {
		t.Fatalf("after editing: got %+v, want %+v", u.RateLimits, want)
	}
	if res := post("", "burst 20/1s\nplan 5000/1d"); res.Status != http.StatusSeeOther {
		t.Fatalf("clearing the limits: got %d", res.Status)
	}
	if u = find("customer"); len(u.RateLimits) != 0 {
		t.Errorf("after clearing: got %+v", u.RateLimits)
	}
	// Nobody changes their own limits, not even an administrator.
	me := find("admin")
	res := b.post("/console/users/"+me.ID+"/edit", url.Values{"level": {strconv.Itoa(me.Level)}, "rateLimits": {"mine 1/1s"}, "rateLimitsWas": {""}})
	if res.Status != http.StatusForbidden {
		t.Errorf("changing one's own limits: got %d, want 403", res.Status)
	}
	if me = find("admin"); len(me.RateLimits) != 0 {
		t.Errorf("the refused edit set %+v", me.RateLimits)
	}
}
