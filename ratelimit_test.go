package keyward_test

import (
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

func TestRateLimitField(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		tests := []struct {
			limit      keyward.RateLimit
			wantFields []string
		}{
			{keyward.RateLimit{Limit: 100, WindowSeconds: 60}, nil},
			{keyward.RateLimit{Limit: 1, WindowSeconds: 86400}, nil},
			{keyward.RateLimit{Limit: 0, WindowSeconds: 60}, []string{"rateLimit.limit"}},
			{keyward.RateLimit{Limit: 1_000_000_001, WindowSeconds: 60}, []string{"rateLimit.limit"}},
			{keyward.RateLimit{Limit: 10, WindowSeconds: 0}, []string{"rateLimit.windowSeconds"}},
			{keyward.RateLimit{Limit: -1, WindowSeconds: 86401}, []string{"rateLimit.limit", "rateLimit.windowSeconds"}},
		}
		for _, tt := range tests {
			l := tt.limit
			k, err := e.svc.CreateAPIKey(e.ctx, e.admin, keyward.APIKeyInput{Name: ptr("limited"), RateLimit: keyward.Some(l)})
			if tt.wantFields == nil {
				if err != nil {
					t.Errorf("%+v: %v", l, err)
					continue
				}
				got, _ := e.svc.GetAPIKey(e.ctx, e.admin, k.ID)
				if got.RateLimit == nil || *got.RateLimit != l {
					t.Errorf("%+v: stored %+v", l, got.RateLimit)
				}
				continue
			}
			var ke *keyward.Error
			if !errors.As(err, &ke) || ke.Code != keyward.EINVALID {
				t.Errorf("%+v: got %v, want invalid", l, err)
				continue
			}
			var fields []string
			for _, f := range ke.Fields {
				fields = append(fields, f.Field)
			}
			if len(fields) != len(tt.wantFields) || fields[0] != tt.wantFields[0] {
				t.Errorf("%+v: got fields %v, want %v", l, fields, tt.wantFields)
			}
		}
		// PATCH sets and clears it; other changes keep it.
		k := e.key(t, e.admin, keyward.APIKeyInput{Name: ptr("patched")})
		got, err := e.svc.UpdateAPIKey(e.ctx, e.admin, k.ID, keyward.APIKeyInput{RateLimit: keyward.Some(keyward.RateLimit{Limit: 5, WindowSeconds: 10})}, nil)
		if err != nil || got.RateLimit == nil || got.RateLimit.Limit != 5 {
			t.Fatalf("PATCH rateLimit: got %+v, %v", got, err)
		}
		got, _ = e.svc.UpdateAPIKey(e.ctx, e.admin, k.ID, keyward.APIKeyInput{Name: ptr("renamed")}, nil)
		if got.RateLimit == nil {
			t.Error("renaming dropped the rate limit")
		}
		got, _ = e.svc.UpdateAPIKey(e.ctx, e.admin, k.ID, keyward.APIKeyInput{RateLimit: keyward.Null[keyward.RateLimit]()}, nil)
		if got.RateLimit != nil {
			t.Errorf("PATCH rateLimit null: got %+v", got.RateLimit)
		}
	})
}

func TestKeyRateLimitEveryScheme(t *testing.T) {
	e := newEnv(t, sqltest.SQLite(t))
	k := e.key(t, e.admin, keyward.APIKeyInput{Name: ptr("three a minute"), RateLimit: keyward.Some(keyward.RateLimit{Limit: 3, WindowSeconds: 60}),
		Permissions: &[]keyward.PermissionRef{{Name: keyward.PermKeysVerify}}})
	free := e.key(t, e.admin, keyward.APIKeyInput{Name: ptr("unlimited")})
	// Start at the beginning of a window so that the test does not straddle two.
	e.clock.Add(time.Duration(60-e.clock.Now().Unix()%60) * time.Second)
	auth := func() (*keyward.Principal, error) {
		return e.svc.Authenticate(e.ctx, keyward.Credentials{APIKey: k.ClientSecret, IP: "192.0.2.1"})
	}
	for i := 1; i <= 3; i++ {
		p, err := auth()
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if p.Rate == nil || p.Rate.Limit != 3 || p.Rate.Remaining != 3-i || p.Rate.Reset < 1 || p.Rate.Reset > 60 {
			t.Errorf("request %d: rate status %+v", i, p.Rate)
		}
	}
	_, err := auth()
	var ke *keyward.Error
	if !errors.As(err, &ke) || ke.Code != keyward.ERATELIMITED || ke.Rate == nil || ke.Rate.Remaining != 0 {
		t.Fatalf("request 4: got %v, want rate_limited with a status", err)
	}
	// Tokens and verifications count against the same limit.
	if _, err := e.svc.IssueToken(e.ctx, k.ClientID, k.ClientSecret, ""); keyward.ErrorCode(err) != keyward.ERATELIMITED {
		t.Errorf("token endpoint over the limit: got %v", err)
	}
	v, err := e.svc.VerifyKey(e.ctx, e.admin, keyward.VerifyRequest{Key: k.ClientSecret})
	if err != nil || v.Valid || v.Code != keyward.CodeRateLimited || v.RateLimit == nil || v.RateLimit.Remaining != 0 {
		t.Errorf("verify over the limit: got %+v, %v", v, err)
	}
	// Other keys are not affected.
	for range 10 {
		p, err := e.svc.Authenticate(e.ctx, keyward.Credentials{APIKey: free.ClientSecret})
		if err != nil || p.Rate != nil {
			t.Fatalf("an unlimited key: got %+v, %v", p, err)
		}
	}
	// The next window starts afresh.
	e.clock.Add(60 * time.Second)
	v, err = e.svc.VerifyKey(e.ctx, e.admin, keyward.VerifyRequest{Key: k.ClientSecret})
	if err != nil || !v.Valid || v.RateLimit == nil || v.RateLimit.Remaining != 2 {
		t.Errorf("verify in the next window: got %+v, %v", v, err)
	}
	if _, err := e.svc.IssueToken(e.ctx, k.ClientID, k.ClientSecret, ""); err != nil {
		t.Errorf("token in the next window: %v", err)
	}
}

func TestTenantRateLimit(t *testing.T) {
	e := newEnv(t, sqltest.SQLite(t), func(c *keyward.Config) { c.TenantRateLimit = &keyward.RateLimit{Limit: 5, WindowSeconds: 3600} })
	e.clock.Add(time.Duration(3600-e.clock.Now().Unix()%3600) * time.Second)
	a := e.key(t, e.admin, keyward.APIKeyInput{Name: ptr("a")})
	b := e.key(t, e.admin, keyward.APIKeyInput{Name: ptr("b")})
	allowed := 0
	for i := range 10 {
		sec := a.ClientSecret
		if i%2 == 1 {
			sec = b.ClientSecret
		}
		_, err := e.svc.Authenticate(e.ctx, keyward.Credentials{APIKey: sec})
		switch keyward.ErrorCode(err) {
		case "":
			allowed++
		case keyward.ERATELIMITED:
		default:
			t.Fatal(err)
		}
	}
	if allowed != 5 {
		t.Errorf("two keys of one tenant: got %d allowed, want 5", allowed)
	}
	v, err := e.svc.VerifyKey(e.ctx, e.admin, keyward.VerifyRequest{Key: a.ClientSecret})
	if err != nil || v.Code != keyward.CodeRateLimited || v.RateLimit == nil || v.RateLimit.Limit != 5 || v.RateLimit.Remaining != 0 {
		t.Errorf("verify over the tenant's limit: got %+v, %v; want RATE_LIMITED with the tenant's status", v, err)
	}
	// Users (the console, management) are not held by the keys' tenant limit.
	if _, err := e.svc.ListAPIKeys(e.ctx, e.admin, keyward.APIKeyFilter{Page: keyward.Page{Number: 1, Size: 10}}); err != nil {
		t.Error(err)
	}
}

func TestFailedAuthenticationsLimitTheAddress(t *testing.T) {
	e := newEnv(t, sqltest.SQLite(t), func(c *keyward.Config) { c.FailedAuthLimit = &keyward.RateLimit{Limit: 3, WindowSeconds: 60} })
	e.clock.Add(time.Duration(60-e.clock.Now().Unix()%60) * time.Second)
	k := e.key(t, e.admin, keyward.APIKeyInput{Name: ptr("good")})
	try := func(ip, sec string) string {
		_, err := e.svc.Authenticate(e.ctx, keyward.Credentials{APIKey: sec, IP: ip})
		return keyward.ErrorCode(err)
	}
	wrong := "kw_sk_" + "0000000000000000000000000000000000000000000"
	tests := []struct {
		ip, secret, want string
	}{
		{"198.51.100.7", k.ClientSecret, ""}, // successes do not count
		{"198.51.100.7", wrong, keyward.EUNAUTHORIZED},
		{"198.51.100.7", wrong, keyward.EUNAUTHORIZED},
		{"198.51.100.7", k.ClientSecret, ""},
		{"198.51.100.7", wrong, keyward.EUNAUTHORIZED}, // the third failure reaches the limit: it blocks
		{"198.51.100.7", wrong, keyward.ERATELIMITED},  // a fourth is not checked
		{"198.51.100.7", k.ClientSecret, keyward.ERATELIMITED},
		{"198.51.100.8", k.ClientSecret, ""}, // another address
	}
	for i, tt := range tests {
		if got := try(tt.ip, tt.secret); got != tt.want {
			t.Errorf("step %d (%s): got %q, want %q", i, tt.ip, got, tt.want)
		}
	}
	e.clock.Add(61 * time.Second)
	if got := try("198.51.100.7", k.ClientSecret); got != "" {
		t.Errorf("after the window: got %q, want success", got)
	}
}

func TestParseRateLimit(t *testing.T) {
	tests := []struct {
		in   string
		want keyward.RateLimit
		ok   bool
	}{
		{"1000/1s", keyward.RateLimit{Limit: 1000, WindowSeconds: 1}, true},
		{"20/1m", keyward.RateLimit{Limit: 20, WindowSeconds: 60}, true},
		{"5/24h", keyward.RateLimit{Limit: 5, WindowSeconds: 86400}, true},
		{"5/25h", keyward.RateLimit{}, false},
		{"5/500ms", keyward.RateLimit{}, false},
		{"0/1s", keyward.RateLimit{}, false},
		{"x/1s", keyward.RateLimit{}, false},
		{"100", keyward.RateLimit{}, false},
	}
	for _, tt := range tests {
		got, err := keyward.ParseRateLimit(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseRateLimit(%q) = %+v, %v; want %+v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
