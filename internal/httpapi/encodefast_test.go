package httpapi

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// encodingJSON is what encode wrote before appendAnswer: json.Encoder's
// bytes and newline.
func encodingJSON(v any) string {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		return "error: " + err.Error()
	}
	return buf.String()
}

// answersOf builds one answer of each warm route from the same strings.
func answersOf(s1, s2 string, n int, t time.Time, perms []string) []any {
	return answersWithMeta(s1, s2, n, t, perms, json.RawMessage(`{"a": "<b>"}`))
}

// answersWithMeta is answersOf with meta as a key's meta.
func answersWithMeta(s1, s2 string, n int, t time.Time, perms []string, meta json.RawMessage) []any {
	lvl := n
	return []any{
		&keyward.VerifyResult{Code: keyward.CodeNotFound},
		&keyward.VerifyResult{Valid: true, Code: s1, KeyID: &s1, ClientID: &s2, TenantID: &s1, Name: &s2, Level: &lvl,
			Permissions: perms, ExpiresAt: &t, RateLimit: &keyward.RateStatus{Limit: n, Remaining: -n, Reset: 1},
			Credits: &keyward.CreditStatus{Remaining: int64(n), RefillsAt: &t}, Reason: s2},
		&keyward.VerifyResult{Valid: true, Code: s1, Permissions: perms, Credits: &keyward.CreditStatus{Remaining: 0}},
		&keyward.VerifyResult{Code: s1, Meta: meta},
		&keyward.VerifyResult{Valid: true, Code: s1, KeyID: &s1, ClientID: &s2, TenantID: &s1, Name: &s2, Level: &lvl,
			Permissions: perms, ExpiresAt: &t, Meta: meta},
		&keyward.WhoAmI{Kind: "key", ID: s1, TenantID: s2, Name: s2, Level: n, Permissions: perms, OwnKeyPermissions: []string{}},
		&keyward.WhoAmI{Kind: s2, ID: s1, ClientID: s1, OwnerID: s2, Permissions: nil, OwnKeyPermissions: perms},
		&keyward.TokenResponse{AccessToken: s1 + "." + s2, TokenType: "Bearer", ExpiresIn: n, Scope: s2},
	}
}

// The warm routes' answers appended by hand are encoding/json's bytes; an
// answer with meta or a string that is not plain goes to encoding/json.
func TestAppendAnswer(t *testing.T) {
	times := []time.Time{time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC), time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("x", -5400)),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}
	strs := []string{"", "kw_sk_plain", "key name", `a"b`, `a\b`, "<script>", "a&b", "é", "\u2028", "\x00", "\x7f", "\xff", "tab\t"}
	for _, tm := range times {
		for _, s := range strs {
			for _, perms := range [][]string{nil, {}, {"keys:read", "x"}, {s}} {
				for _, v := range answersOf("id_1", s, 3, tm, perms) {
					var buf bytes.Buffer
					encodeTo(&buf, v)
					if got, want := buf.String(), encodingJSON(v); got != want && !strings.HasPrefix(want, "error") {
						t.Fatalf("%T %q %v: got  %s\nwant %s", v, s, tm, got, want)
					}
				}
			}
		}
	}
	metas := []string{"{}", `{"a":1}`, `{"team":"billing","tier":[1,2.5e3,true,null]}`, "null", `"x"`, "[]", "",
		"{ }", "{}\n", ` {}`, `{"a":"b c"}`, `{"a":"<b>"}`, `{"a":"&"}`, `{"a":">"}`, `{"a":"\u003c"}`, `{"a":"é"}`,
		"{\"a\":\"\u2028\"}", `{"a":"\n"}`, "{\"a\":\"\t\"}", `{"a":`, `{"a":1}x`, `{a:1}`, `{"a":1,}`, `{"a":01}`,
		"\x00", `{"a":"\x"}`, `{"a":1,"a":2}`}
	for _, m := range metas {
		for _, meta := range []json.RawMessage{json.RawMessage(m), nil} {
			for _, v := range answersWithMeta("id_1", "kw_sk_plain", 3, times[0], []string{"keys:read"}, meta) {
				var buf bytes.Buffer
				encodeTo(&buf, v)
				want := encodingJSON(v)
				if strings.HasPrefix(want, "error") {
					if _, ok := appendAnswer(nil, v); ok {
						t.Fatalf("meta %q: appended by hand what encoding/json refuses: %s", m, want)
					}
					continue
				}
				if got := buf.String(); got != want {
					t.Fatalf("meta %q: got  %s\nwant %s", m, got, want)
				}
			}
		}
	}
	if _, ok := appendAnswer(nil, &keyward.VerifyResult{Code: "VALID", Meta: json.RawMessage(`{}`)}); !ok {
		t.Errorf("an answer with meta {} went to encoding/json")
	}
	if _, ok := appendAnswer(nil, &keyward.VerifyResult{Code: "VALID", Meta: json.RawMessage(`{"a": 1}`)}); ok {
		t.Errorf("an answer with meta to compact was appended by hand")
	}
	if _, ok := appendAnswer(nil, &keyward.WhoAmI{Name: "<b>"}); ok {
		t.Errorf("a name to escape was appended by hand")
	}
	if _, ok := appendAnswer(nil, &keyward.WhoAmI{Name: "b", Permissions: []string{}, OwnKeyPermissions: []string{}}); !ok {
		t.Errorf("a plain whoami went to encoding/json")
	}
}

// encodeTo is encode's body: appendAnswer, or encoding/json.
func encodeTo(buf *bytes.Buffer, v any) {
	if b, ok := appendAnswer(buf.AvailableBuffer(), v); ok {
		buf.Write(b)
		return
	}
	json.NewEncoder(buf).Encode(v)
}

// FuzzAppendAnswer: whatever the strings, numbers and meta, the answers
// are encoding/json's bytes.
func FuzzAppendAnswer(f *testing.F) {
	f.Add("kw_abc", "key name", 3, int64(1_900_000_000), "keys:read", []byte("{}"))
	f.Add("<", "\u2028", -1, int64(-62135596801), "", []byte(`{"a": "<b>"}`))
	f.Add("kw_abc", "n", 0, int64(0), "p", []byte(`{"team":"x","n":[1,-2.5e3,true,null,{}]}`))
	f.Add("kw_abc", "n", 0, int64(0), "p", []byte{})
	f.Fuzz(func(t *testing.T, s1, s2 string, n int, unix int64, perm string, meta []byte) {
		tm := time.Unix(unix, int64(n)).UTC()
		for _, v := range answersWithMeta(s1, s2, n, tm, []string{perm, s1}, meta) {
			want := encodingJSON(v)
			if strings.HasPrefix(want, "error") {
				if _, ok := appendAnswer(nil, v); ok {
					t.Fatalf("%T: appended by hand what encoding/json refuses: %s", v, want)
				}
				continue
			}
			var buf bytes.Buffer
			encodeTo(&buf, v)
			if got := buf.String(); got != want {
				t.Fatalf("%T: got  %s\nwant %s", v, got, want)
			}
		}
	})
}
