package console_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

func TestKeyFormAllowedAddresses(t *testing.T) {
	s := start(t, false)
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	form := func(cidrs string) url.Values {
		return url.Values{"name": {"office"}, "lifespanValue": {"1"}, "lifespanUnit": {"hours"}, "allowedCidrs": {cidrs}}
	}
	for _, bad := range []string{"nope", "10.0.0.0/33", strings.Repeat("10.0.0.1\n", keyward.MaxAllowedCIDRs+1)} {
		res := b.post("/console/keys", form(bad))
		if res.Status != http.StatusBadRequest || !strings.Contains(res.Body, `id="allowedCidrs-error"`) {
			t.Errorf("allowlist %.20q: got %d without the error next to the field", bad, res.Status)
		}
	}
	res := b.post("/console/keys", form("203.0.113.0/24\r\n\r\n  2001:db8::1 \n"))
	m := secretRe.FindStringSubmatch(res.Body)
	if m == nil {
		t.Fatalf("create with an allowlist: got %d", res.Status)
	}
	if _, err := s.svc.Authenticate(context.Background(), keyward.Credentials{APIKey: m[1], IP: "198.51.100.1"}); keyward.ErrorCode(err) != keyward.EIPNOTALLOWED {
		t.Fatalf("the key from elsewhere: got %v, want %s", err, keyward.EIPNOTALLOWED)
	}
	p, err := s.svc.Authenticate(context.Background(), keyward.Credentials{APIKey: m[1], IP: "203.0.113.8"})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := s.svc.GetAPIKey(context.Background(), s.admin, p.ID)
	if want := []string{"203.0.113.0/24", "2001:db8::1/128"}; !slices.Equal(k.AllowedCIDRs, want) {
		t.Fatalf("stored: got %v, want %v", k.AllowedCIDRs, want)
	}
	if body := b.get("/console/keys/" + k.ID).Body; !strings.Contains(body, "<code>2001:db8::1/128</code>") {
		t.Error("the key page does not show the allowlist")
	}
	if body := b.get("/console/keys/" + k.ID + "/edit").Body; !strings.Contains(body, "203.0.113.0/24\n2001:db8::1/128</textarea>") {
		t.Error("the edit form does not show the allowlist one per line")
	}
	edit := form("")
	edit.Set("version", strconv.Itoa(k.Version))
	if res := b.post("/console/keys/"+k.ID+"/edit", edit); res.Status != http.StatusSeeOther {
		t.Fatalf("clearing the allowlist: got %d %s", res.Status, res.Body)
	}
	if k, _ := s.svc.GetAPIKey(context.Background(), s.admin, p.ID); len(k.AllowedCIDRs) != 0 {
		t.Errorf("after clearing: got %v", k.AllowedCIDRs)
	}
}
