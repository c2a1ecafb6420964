package httpapi

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

// FuzzCredentialsFrom: any Authorization header yields either nothing, a
// bearer value or basic credentials, never a panic; a header that is present
// but unusable never turns into "no credentials".
func FuzzCredentialsFrom(f *testing.F) {
	for _, seed := range []string{
		"", "Bearer kw_sk_abc", "bearer   x", "Basic " + base64.StdEncoding.EncodeToString([]byte("id:secret")),
		"Basic !!!", "Basic " + base64.StdEncoding.EncodeToString([]byte("no-colon")), "Digest x", "Bearer", "Basic",
		"Basic " + base64.StdEncoding.EncodeToString([]byte(":")),
	} {
		f.Add(seed, "")
		f.Add(seed, "kw_sk_x")
	}
	f.Fuzz(func(t *testing.T, auth, apiKey string) {
		r := httptest.NewRequest("GET", "/v1/whoami", nil)
		r.Header["Authorization"] = []string{auth}
		if apiKey != "" {
			r.Header["X-Api-Key"] = []string{apiKey}
		}
		c := CredentialsFrom(r)
		if strings.TrimSpace(auth) != "" && c.Bearer == "" && !c.HasBasic {
			t.Fatalf("Authorization %q yields no credentials", auth)
		}
		if c.HasBasic && c.Bearer != "" {
			t.Fatalf("both basic and bearer from %q", auth)
		}
	})
}

// FuzzDecodeAPIKeyInput: decoding any body either fails with an EINVALID
// error or yields an input; it never panics or fails with another code.
func FuzzDecodeAPIKeyInput(f *testing.F) {
	for _, seed := range []string{
		`{"name":"x"}`, `{"name":"x","level":3,"permissions":[{"name":"a"}],"meta":{"a":1}}`,
		`{"expiresAt":"2030-01-01T00:00:00Z"}`, `{"name":5}`, `{`, `[]`, `null`, `{"name":"x"} {}`,
		`{"unknown":1}`, `{"permissions":[{"id":"x","name":"y","z":1}]}`, "",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in keyward.APIKeyInput
		err := decodeBytes(body, &in)
		if err != nil && keyward.ErrorCode(err) != keyward.EINVALID {
			t.Fatalf("decode %q: got code %s, want invalid", body, keyward.ErrorCode(err))
		}
	})
}

// FuzzIfMatch: an If-Match header parses to a version or a 412, never a
// panic or another error.
func FuzzIfMatch(f *testing.F) {
	for _, seed := range []string{`"3"`, `W/"3"`, `*`, ``, `"x"`, `3`, `"99999999999999999999"`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r, _ := http.NewRequest("PATCH", "/", bytes.NewReader(nil))
		r.Header.Set("If-Match", h)
		_, err := ifMatch(r)
		if err != nil && keyward.ErrorCode(err) != keyward.EPRECONDITION {
			t.Fatalf("If-Match %q: got code %s", h, keyward.ErrorCode(err))
		}
	})
}

// lowerIs answers as strings.ToLower(s) == lower, Unicode included (the
// scheme of an Authorization header).
func TestLowerIs(t *testing.T) {
	for _, s := range []string{"bearer", "Bearer", "BEARER", "bEaReR", "bearer ", "beare", "basic", "Basic", "BASİC",
		"ba\u017fic", "\u212Aey", "", "Ｂearer", "bearer\xff", "b"} {
		for _, lower := range []string{"bearer", "basic", "", "key"} {
			if got, want := lowerIs(s, lower), strings.ToLower(s) == lower; got != want {
				t.Errorf("lowerIs(%q, %q): got %v, want %v", s, lower, got, want)
			}
		}
	}
}

// FuzzLowerIs: lowerIs is strings.ToLower(s) == lower for any s.
func FuzzLowerIs(f *testing.F) {
	f.Add("Bearer", "bearer")
	f.Add("BASİC", "basic")
	f.Fuzz(func(t *testing.T, s, lower string) {
		if got, want := lowerIs(s, lower), strings.ToLower(s) == lower; got != want {
			t.Fatalf("lowerIs(%q, %q): got %v, want %v", s, lower, got, want)
		}
	})
}
