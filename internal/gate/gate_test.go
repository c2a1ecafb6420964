package gate

import (
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

func TestJSON(t *testing.T) {
	tests := []struct {
		body, field string
	}{
		{`{"name":"ok","meta":{"a":[1,"é"]}}`, ""},
		{"{\"name\":\"bad\xff\"}", "name"},
		{`{"name":"nul\u0000"}`, "name"},
		{"{\"name\":\"raw\x00\"}", "name"},
		{`{"name":"x","meta":{"team":"a\u0000"}}`, "meta"},
		{"{\"name\":\"x\",\"meta\":{\"te\xffam\":1}}", "meta"},
		{"{\"na\xffme\":\"x\"}", "body"},
		{`{"permissions":[{"name":"ok"},{"name":"b\u0000"}]}`, "permissions"},
		{`{"name":"escaped backslash \\u0000 is text"}`, ""},
		{"\"top\xff\"", "body"},
		{"{\"name\":\"x\" garbage \xff", "name"},
		{`not json`, ""},
		{`{"name":"lone \ud800 surrogate"}`, "name"},
		{`{"name":"pair \ud83d\ude00 is fine","meta":{"a":"\ufffd spelt"}}`, ""},
		{"{\"name\":\"\xef\xbf\xbd raw replacement char\"}", ""},
	}
	for _, tt := range tests {
		err := JSON([]byte(tt.body))
		if tt.field == "" {
			if err != nil {
				t.Errorf("JSON(%q): got %v, want nil", tt.body, err)
			}
			continue
		}
		e, ok := err.(*keyward.Error)
		if !ok || len(e.Fields) != 1 || e.Fields[0].Field != tt.field {
			t.Errorf("JSON(%q): got %v, want an error naming %s", tt.body, err, tt.field)
		}
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abcé", 4, "abc"},
		{"abcé", 5, "abcé"},
		{"日本", 4, "日"},
	}
	for _, tt := range tests {
		if got := Truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("Truncate(%q, %d): got %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

// FuzzJSON: whatever JSON passes the gate decodes to clean strings only.
func FuzzJSON(f *testing.F) {
	for _, seed := range []string{`{"name":"x","meta":{"a":[1,"b"]}}`, "{\"n\":\"\xff\"}", `{"n":"\u0000"}`, `{"n":"\ud800"}`,
		`{"n":"\ud83d\ude00"}`, `["a",{"b":"\ufffd"}]`, `"x"`, `{"a":{"b":{"c":"\\u0000"}}}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if JSON(body) != nil || !json.Valid(body) {
			return
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return
		}
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case string:
				if !Clean(x) {
					t.Fatalf("JSON(%q) passed, but it decodes to %q", body, x)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			case map[string]any:
				for k, e := range x {
					walk(k)
					walk(e)
				}
			}
		}
		walk(v)
	})
}

// TestRequest refuses a NUL or invalid UTF-8 in the query and in each kept
// header however the client spelt its name, naming the field as keyward
// spells it; other headers and clean values pass.
func TestRequest(t *testing.T) {
	tests := []struct {
		name, query, header, value, field string
	}{
		{"clean", "a=1&b=two", "X-API-Key", "kw_sk_x", ""},
		{"no query", "", "Authorization", "Bearer x", ""},
		{"query value", "a=1&b=%00", "", "", "b"},
		{"query key", "a%FF=1", "", "", "query"},
		{"api key", "", "X-API-Key", "k\x00", "X-API-Key"},
		{"api key lower case", "", "x-api-key", "k\xff", "X-API-Key"},
		{"authorization", "", "Authorization", "Bearer \x00", "Authorization"},
		{"forwarded", "", "X-Forwarded-For", "1.2.3.4\x00", "X-Forwarded-For"},
		{"nws4 date", "", "X-Nd-Date", "\xff", "X-Nd-Date"},
		{"basic password", "", "Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("id:p\x00w")), "Authorization"},
		{"other header", "", "X-Other", "\x00", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/whoami", nil)
			r.URL.RawQuery = tt.query
			if tt.header != "" {
				r.Header.Set(tt.header, tt.value)
			}
			err := Request(r)
			if tt.field == "" {
				if err != nil {
					t.Errorf("got %v, want nil", err)
				}
				return
			}
			e, ok := err.(*keyward.Error)
			if !ok || len(e.Fields) != 1 || e.Fields[0].Field != tt.field {
				t.Errorf("got %v, want an error naming %s", err, tt.field)
			}
		})
	}
}

// TestPlainJSON: PlainJSON holds for printable ASCII that encoding/json
// writes as its bytes between quotes, and never for a string it escapes
// (the callers append those strings by hand).
func TestPlainJSON(t *testing.T) {
	for _, c := range []struct {
		s    string
		want bool
	}{
		{"", true}, {"kw_abc", true}, {"a b", true}, {"~", true}, {"keys:verify", true},
		{"\x7f", false}, {"\x1f", false}, {`"`, false}, {`\`, false}, {"<", false}, {">", false},
		{"&", false}, {"é", false}, {"\u2028", false}, {"\xff", false},
	} {
		b, err := json.Marshal(c.s)
		if err != nil {
			t.Fatal(err)
		}
		got := PlainJSON(c.s)
		if got != c.want {
			t.Errorf("%q: got %v, want %v", c.s, got, c.want)
		}
		if got && string(b) != `"`+c.s+`"` {
			t.Errorf("%q: plain, but encoding/json writes %s", c.s, b)
		}
	}
	// Every byte, alone and at each place of a longer plain string.
	for c := range 256 {
		want := c >= 0x20 && c <= 0x7e && !strings.ContainsRune(`"\<>&`, rune(c))
		for _, at := range []int{0, 1, 7, 8, 30} {
			s := strings.Repeat("a", at) + string([]byte{byte(c)}) + "bc"
			if got := PlainJSON(s); got != want {
				t.Errorf("byte %#02x at %d: got %v, want %v", c, at, got, want)
			}
		}
		if want {
			if b, _ := json.Marshal(string([]byte{byte(c)})); string(b) != `"`+string([]byte{byte(c)})+`"` {
				t.Errorf("byte %#02x: plain, but encoding/json writes %s", c, b)
			}
		}
	}
}

// basicByDecodeString is basic as written with base64.DecodeString and
// strings throughout: basic, which decodes on the stack, answers alike.
func basicByDecodeString(auth string) error {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(auth), " ")
	if !strings.EqualFold(scheme, "basic") {
		return nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return nil
	}
	s := string(raw)
	if d, err := url.QueryUnescape(s); err == nil && !Clean(d) {
		return Text("Authorization", d)
	}
	return Text("Authorization", s)
}

// The Basic credentials' check refuses exactly what a check of the
// decoded strings refuses, with the same error, whatever their length.
func TestBasicCredentials(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	var cases []string
	for _, cred := range []string{"kw_id_abc:kw_sk_def", "a\x00b:c", "a:b\xff", "a%00:b", "a+b:c", "a%zz:b\x00",
		"a%2:b", "é:ü", "%C3%A9:x", "", ":", strings.Repeat("x", 190) + ":\x00", strings.Repeat("y", 300), strings.Repeat("z", 300) + "\x00"} {
		cases = append(cases, "Basic "+b64([]byte(cred)), "basic  "+b64([]byte(cred))+" ", "BASIC "+b64([]byte(cred))+"=")
	}
	cases = append(cases, "Basic !!!", "Bearer "+b64([]byte("a\x00:b")), "Basic", "")
	for _, auth := range cases {
		if got, want := basic(auth), basicByDecodeString(auth); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %v, want %v", auth, got, want)
		}
	}
}

// FuzzBasicCredentials: basic answers any Authorization as
// basicByDecodeString.
func FuzzBasicCredentials(f *testing.F) {
	f.Add("kw_id_abc:kw_sk_def")
	f.Add("a%00:b")
	f.Fuzz(func(t *testing.T, cred string) {
		auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(cred))
		if got, want := basic(auth), basicByDecodeString(auth); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: got %v, want %v", cred, got, want)
		}
	})
}
