package oauth

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// issued is an access token's claims and the issuer SignAccessToken adds.
type issued struct {
	iss string
	a   *keyward.AccessTokenClaims
}

// claimsOf builds access token claims the way issueToken does.
func claimsOf(iss, sub string, aud []string, id, scope, tenant, keyID string, level, gen int, iat, exp time.Time) issued {
	return issued{iss, &keyward.AccessTokenClaims{
		ID: id, Subject: sub, Audience: keyward.Audience(aud), IssuedAt: iat, NotBefore: iat, Expiry: exp,
		ClientID: sub, Scope: scope, Tenant: tenant, Level: level, Generation: gen, KeyID: keyID,
	}}
}

// The hand-written claims are byte for byte json.Marshal's, and every
// claims whose strings are not plain go through json.Marshal.
func TestAccessClaimsJSON(t *testing.T) {
	now := time.Unix(1_795_000_000, 500)
	cases := []struct {
		name  string
		c     issued
		plain bool
	}{
		{"typical", claimsOf("https://keyward.example.com", "kw_abc", []string{"https://keyward.example.com"}, "01JABC", "keys:read keys:verify", "tnt_1", "key_1", 3, 1, now, now.Add(time.Hour)), true},
		{"no audience", claimsOf("http://127.0.0.1:8080", "kw_abc", nil, "id", "", "t", "k", 0, 0, now, now.Add(time.Hour)), true},
		{"empty audience", claimsOf("i", "s", []string{}, "id", "", "t", "k", 0, 0, now, now), true},
		{"two audiences", claimsOf("i", "s", []string{"a", "b:c/d"}, "id", "x", "t", "k", -1, 7, now, now), true},
		{"three audiences", claimsOf("i", "s", []string{"a", "b", "c"}, "id", "x", "t", "k", 1, 1, now, now), true},
		{"empty strings", claimsOf("", "", nil, "", "", "", "", 0, 0, now, now), true},
		{"zero times", claimsOf("i", "s", nil, "id", "", "t", "k", 0, 0, time.Time{}, time.Time{}), true},
		{"before 1970", claimsOf("i", "s", nil, "id", "", "t", "k", 0, 0, time.Unix(-5, 0), time.Unix(-1, 999)), true},
		{"html in the issuer", claimsOf("https://a.example/?x=1&y=<2>", "s", nil, "id", "", "t", "k", 0, 0, now, now), false},
		{"quote in the scope", claimsOf("i", "s", nil, "id", `a"b`, "t", "k", 0, 0, now, now), false},
		{"control in an audience", claimsOf("i", "s", []string{"a\bb", "c"}, "id", "", "t", "k", 0, 0, now, now), false},
		{"form feed in the one audience", claimsOf("i", "s", []string{"a\fb"}, "id", "", "t", "k", 0, 0, now, now), false},
		{"unicode in the tenant", claimsOf("i", "s", nil, "id", "", "tënant\u2028", "k", 0, 0, now, now), false},
		{"invalid utf-8 in the key id", claimsOf("i", "s", nil, "id", "", "t", "k\xff", 0, 0, now, now), false},
		{"backslash in the subject", claimsOf("i", `s\`, nil, "id", "", "t", "k", 0, 0, now, now), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, ok := appendAccessClaims(nil, c.c.iss, c.c.a); ok != c.plain {
				t.Errorf("appended by hand: got %v, want %v", ok, c.plain)
			}
			got, err := accessClaimsJSON(nil, c.c.iss, c.c.a)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(accessClaimsOf(c.c.iss, c.c.a))
			if string(got) != string(want) {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
		})
	}
}

// FuzzAccessClaimsJSON: whatever the strings and numbers, the claims are
// json.Marshal's bytes.
func FuzzAccessClaimsJSON(f *testing.F) {
	f.Add("https://keyward.example.com", "kw_abc", "aud1\naud2", "01JABC", "keys:read", "tnt_1", "key_1", 3, 1, int64(1_795_000_000), int64(3600))
	f.Add("i<", "s&", "", "", "", "", "", 0, 0, int64(0), int64(0))
	f.Fuzz(func(t *testing.T, iss, sub, aud, id, scope, tenant, keyID string, level, gen int, iat, life int64) {
		var auds []string
		if aud != "" {
			auds = strings.Split(aud, "\n")
		}
		c := claimsOf(iss, sub, auds, id, scope, tenant, keyID, level, gen, time.Unix(iat, 0), time.Unix(iat+life, 0))
		got, err := accessClaimsJSON(nil, c.iss, c.a)
		want, werr := json.Marshal(accessClaimsOf(c.iss, c.a))
		if (err != nil) != (werr != nil) || string(got) != string(want) {
			t.Fatalf("got  %s (%v)\nwant %s (%v)", got, err, want, werr)
		}
	})
}
