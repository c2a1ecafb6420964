package httpapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// metricsText returns the server's /metrics.
func (s *server) metricsText() string {
	s.t.Helper()
	return string(s.do("GET", "/metrics", "", nil, 200, nil).Body)
}

// tamper changes one character early in a token's signature (the last
// character may carry only padding bits).
func tamper(tok string) string {
	i := strings.LastIndex(tok, ".") + 3
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

// Every scheme's failure counts once under its own label.
func TestFailedAuthenticationCounters(t *testing.T) {
	s := sqliteServer(t)
	k := s.newKey(map[string]any{"name": "c", "hmacEnabled": true})
	tok := s.tokenFor(k, "")
	tests := []struct {
		scheme string
		send   func() int
	}{
		{keyward.SchemeAPIKey, func() int { return s.raw("GET", "/v1/whoami", "", nil, "X-API-Key", "kw_not_a_key").Status }},
		{keyward.SchemeBasic, func() int { return s.raw("GET", "/v1/whoami", basic(k.ClientID, "wrong"), nil).Status }},
		{keyward.SchemeAccessToken, func() int { return s.raw("GET", "/v1/whoami", "Bearer "+tamper(tok), nil).Status }},
		{keyward.SchemeUserToken, func() int { return s.raw("GET", "/v1/whoami", "Bearer "+tamper(s.admin), nil).Status }},
		{keyward.SchemeSigned, func() int {
			res, err := http.DefaultClient.Do(signed(t, s, "GET", "/v1/whoami", nil, k.ClientID, "wrong-secret", nil))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			return res.StatusCode
		}},
		{keyward.SchemePassword, func() int {
			return s.raw("POST", "/v1/login", "", strings.NewReader(`{"userName":"admin","password":"wrong-password"}`)).Status
		}},
		{keyward.SchemeClientSecret, func() int {
			return s.form("/oauth2/token", basic(k.ClientID, "wrong"), url.Values{"grant_type": {"client_credentials"}}).Status
		}},
		{keyward.SchemeOther, func() int { return s.raw("GET", "/v1/whoami", "Bearer garbage", nil).Status }},
	}
	for _, tt := range tests {
		if got := tt.send(); got != 401 {
			t.Errorf("%s: got status %d, want 401", tt.scheme, got)
		}
		m := s.metricsText()
		line := fmt.Sprintf("keyward_auth_failures_total{scheme=%q} 1\n", tt.scheme)
		if !strings.Contains(m, line) {
			t.Errorf("after a failed %s: metrics lack %q:\n%s", tt.scheme, line, grepLines(m, "keyward_auth_failures_total"))
		}
	}
	// Each failure counted once, under its own scheme only.
	m := s.metricsText()
	for _, tt := range tests {
		if line := fmt.Sprintf("keyward_auth_failures_total{scheme=%q} 1\n", tt.scheme); !strings.Contains(m, line) {
			t.Errorf("at the end: metrics lack %q:\n%s", line, grepLines(m, "keyward_auth_failures_total"))
		}
	}
	promtoolCheck(t, m)
}

// Refusals by the key's limit, the tenant's and the failed-authentication
// block count under their own kinds.
func TestRateLimitCounters(t *testing.T) {
	s := newServer(t, sqltest.SQLite(t), func(c *keyward.Config) {
		c.TenantRateLimit = &keyward.RateLimit{Limit: 3, WindowSeconds: 3600}
		c.FailedAuthLimit = &keyward.RateLimit{Limit: 2, WindowSeconds: 3600}
	})
	noisy := s.newKey(map[string]any{"name": "noisy", "rateLimit": map[string]int{"limit": 1, "windowSeconds": 3600}})
	quiet := s.newKey(map[string]any{"name": "quiet"})
	s.do("GET", "/v1/whoami", noisy.ClientSecret, nil, 200, nil) // tenant 1
	s.do("GET", "/v1/whoami", noisy.ClientSecret, nil, 429, nil) // key
	s.do("GET", "/v1/whoami", noisy.ClientSecret, nil, 429, nil) // key
	s.do("GET", "/v1/whoami", quiet.ClientSecret, nil, 200, nil) // tenant 2
	s.do("GET", "/v1/whoami", quiet.ClientSecret, nil, 200, nil) // tenant 3
	s.do("GET", "/v1/whoami", quiet.ClientSecret, nil, 429, nil) // tenant
	for range 3 {
		s.raw("GET", "/v1/whoami", "Bearer garbage", nil) // 401, 401, then the address is blocked
	}
	s.do("GET", "/v1/whoami", quiet.ClientSecret, nil, 429, nil) // blocked
	m := s.metricsText()
	for _, want := range []string{
		`keyward_rate_limited_total{kind="key"} 2`,
		`keyward_rate_limited_total{kind="tenant"} 1`,
		`keyward_rate_limited_total{kind="limiter_unavailable"} 0`,
	} {
		if !strings.Contains(m, want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, grepLines(m, "keyward_rate_limited_total"))
		}
	}
	if !strings.Contains(m, `keyward_rate_limited_total{kind="failed_auth"} `) || strings.Contains(m, `keyward_rate_limited_total{kind="failed_auth"} 0`) {
		t.Errorf("metrics count no failed_auth refusal:\n%s", grepLines(m, "keyward_rate_limited_total"))
	}
}

// The route label is the pattern without its method.
func TestRouteLabelWithoutMethod(t *testing.T) {
	s := sqliteServer(t)
	k := s.newKey(map[string]any{"name": "r"})
	s.do("GET", "/v1/apikeys/"+k.ID, s.admin, nil, 200, nil)
	s.do("GET", "/nowhere", "", nil, 404, nil)
	m := s.metricsText()
	for _, want := range []string{
		`keyward_http_requests_total{method="GET",route="/v1/apikeys/{id}",status="200"} 1`,
		`keyward_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`keyward_http_request_duration_seconds_count{route="/v1/apikeys/{id}"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, grepLines(m, "keyward_http_requests_total"))
		}
	}
	if strings.Contains(m, `route="GET `) {
		t.Errorf("a route label repeats the method:\n%s", grepLines(m, `route="GET `))
	}
	promtoolCheck(t, m)
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// promtoolCheck lints m as "promtool check metrics" does (promlint).
func promtoolCheck(t *testing.T, m string) {
	t.Helper()
	problems, err := promlint.New(strings.NewReader(m)).Lint()
	if err != nil {
		t.Fatalf("promlint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// Successful logins are audited once per user and address per window, with
// a count; failed ones as before.
func TestLoginsAuditedPerWindow(t *testing.T) {
	s := sqliteServer(t) // logs admin in once
	for range 2 {
		s.login("", "admin", adminPassword)
	}
	s.do("POST", "/v1/users", s.admin, map[string]any{"userName": "ops", "level": 3, "password": "a-long-password-for-ops"}, 201, nil)
	s.login("", "ops", "a-long-password-for-ops")
	var audit struct{ Items []keyward.AuditEntry }
	s.do("GET", "/v1/audit?action=login", s.admin, nil, 200, &audit)
	if len(audit.Items) != 2 {
		t.Fatalf("got %d login entries, want 2 (admin, ops): %+v", len(audit.Items), audit.Items)
	}
	counts := map[string]int{}
	for _, e := range audit.Items {
		var d struct {
			Count    int    `json:"count"`
			UserName string `json:"userName"`
		}
		json.Unmarshal(e.Details, &d)
		if e.Result != keyward.AuditSuccess || e.ActorKind != keyward.KindUser || e.ActorID != e.TargetID || e.IP == "" {
			t.Errorf("got entry %+v, want a success by the user, on the user, with the address", e)
		}
		counts[d.UserName] = d.Count
	}
	if counts["admin"] != 3 || counts["ops"] != 1 {
		t.Errorf("got login counts %v, want admin 3 and ops 1", counts)
	}
}
