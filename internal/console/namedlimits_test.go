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
