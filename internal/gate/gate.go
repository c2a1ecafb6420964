// Package gate is the one check every string passes on its way in: valid
// UTF-8 without NUL. PostgreSQL refuses anything else (a 500 where the
// caller sent bad input), SQLite would store it and serve it back, and
// encoding/json would silently replace it with U+FFFD. Every surface (the
// native API, the dialects, the console) calls it before a string reaches
// the Service, and answers its error, a keyward EINVALID naming the field,
// in its own shape.
package gate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/keyward/keyward"
)

// Message is the field message of a refused string.
const Message = "must be valid UTF-8 without NUL characters"

// Clean reports whether s is valid UTF-8 without NUL.
func Clean(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// Text returns EINVALID naming field unless s is Clean.
func Text(field, s string) error {
	if Clean(s) {
		return nil
	}
	return keyward.Invalid(keyward.FieldError{Field: field, Message: Message})
}

// PlainJSON reports whether s is printable ASCII that encoding/json writes
// as its bytes between quotes (not '"', '\\', nor the HTML-escaped '<',
// '>', '&'): a string that may be appended to JSON by hand. Other strings
// (some of which encoding/json writes as they are too) are left to it.
// It reads a table per byte (the answers and token claims it checks are
// hundreds of bytes: an access token alone is some 650).
func PlainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if !plainJSONByte[s[i]] {
			return false
		}
	}
	return true
}

// plainJSONByte tells PlainJSON's bytes. Read only.
var plainJSONByte = func() (t [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// keptHeaders are the request headers whose values keyward reads, stores
// or looks up.
var keptHeaders = []string{
	"User-Agent", "Authorization", "X-API-Key", "Signature-Input", "Signature", "Content-Digest",
	"X-Nd-Date", "X-Nd-Content-Sha256", "If-Match", "X-Forwarded-For",
}

// keptKeys are keptHeaders' canonical keys in http.Header, in the same
// order: Request reads the map directly instead of canonicalizing each
// name on every request.
var keptKeys = func() []string {
	keys := make([]string, len(keptHeaders))
	for i, name := range keptHeaders {
		keys[i] = http.CanonicalHeaderKey(name)
	}
	return keys
}()

// Request checks what a request carries before its body: the path (each
// wildcard of the matched pattern by name), every query member (split on
// "&" only, as NData does, and unescaped; a member that is not validly
// escaped is left to the handler) and the headers keyward keeps.
func Request(r *http.Request) error {
	if !Clean(r.URL.Path) {
		field := "path"
		for _, name := range wildcards(r.Pattern) {
			if !Clean(r.PathValue(name)) {
				field = name
				break
			}
		}
		return Text(field, "\x00")
	}
	for pair := range strings.SplitSeq(r.URL.RawQuery, "&") {
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			key = k
		}
		if !Clean(key) {
			return Text("query", key)
		}
		if val, err := url.QueryUnescape(v); err == nil {
			if err := Text(key, val); err != nil {
				return err
			}
		} else if err := Text(key, v); err != nil {
			return err
		}
	}
	for i, name := range keptHeaders {
		for _, v := range r.Header[keptKeys[i]] {
			if err := Text(name, v); err != nil {
				return err
			}
		}
	}
	return basic(r.Header.Get("Authorization"))
}

// basic checks the user and password Basic credentials decode to, as they
// are read (raw, and form-decoded as OAuth2 clients send them, RFC 6749
// §2.3.1): base64 is always clean, what it carries need not be. Credentials
// that do not decode are left to the authentication that reads them.
func basic(auth string) error {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(auth), " ")
	if !strings.EqualFold(scheme, "basic") {
		return nil
	}
	rest = strings.TrimSpace(rest)
	// Credentials of usual length are decoded on the stack; those without
	// '%' or '+', which form-decoding leaves as they are, are checked there
	// too: no allocation on a token request.
	var src [256]byte
	var dst [192]byte
	if len(rest) <= len(src) {
		n, err := base64.StdEncoding.Decode(dst[:], append(src[:0], rest...))
		if err != nil {
			return nil
		}
		if raw := dst[:n]; bytes.IndexByte(raw, '%') < 0 && bytes.IndexByte(raw, '+') < 0 {
			if utf8.Valid(raw) && bytes.IndexByte(raw, 0) < 0 { // Clean
				return nil
			}
			return Text("Authorization", "\x00")
		}
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil
	}
	s := string(raw)
	if d, err := url.QueryUnescape(s); err == nil && !Clean(d) {
		return Text("Authorization", d)
	}
	return Text("Authorization", s)
}

// wildcards returns the names of the {wildcards} of a ServeMux pattern.
func wildcards(pattern string) []string {
	var out []string
	for {
		i := strings.IndexByte(pattern, '{')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(pattern[i:], '}')
		if j < 0 {
			return out
		}
		out = append(out, strings.TrimSuffix(pattern[i+1:i+j], "..."))
		pattern = pattern[i+j+1:]
	}
}

// Form checks every name and value of a form.
func Form(form url.Values) error {
	for k, vs := range form {
		if !Clean(k) {
			return Text("form", k)
		}
		for _, v := range vs {
			if err := Text(k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// JSON checks a JSON body before it is decoded: its bytes must be valid
// UTF-8, and no string (member name or value) may hold NUL, written raw or
// as \u0000. The error names the member holding the bad string ("body" at
// the top level). A body that is not JSON passes: the decoder says why.
func JSON(body []byte) error {
	valid := utf8.Valid(body)
	if valid && bytes.IndexByte(body, 0) < 0 && !bytes.Contains(body, []byte(`\u0000`)) && !mayHoldSurrogate(body) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	// stack holds, per open container, the member name being read
	// (objects); expectKey tells whether the next string of an object is a
	// member name.
	type level struct {
		object    bool
		key       string
		expectKey bool
	}
	var stack []level
	// field names the top-level member being read: the API's field.
	field := func() string {
		if len(stack) > 0 && stack[0].object && stack[0].key != "" && Clean(stack[0].key) {
			return stack[0].key
		}
		return "body"
	}
	prev := int64(0)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// Not JSON: refuse bytes the decoder would have replaced,
			// and leave syntax errors to the decoder.
			if !valid || bytes.IndexByte(body, 0) >= 0 {
				return Text(field(), "\x00")
			}
			return nil
		}
		end := dec.InputOffset()
		raw := body[prev:end]
		prev = end
		top := len(stack) - 1
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, level{object: true, expectKey: true})
			case '[':
				stack = append(stack, level{})
			default:
				stack = stack[:top]
				if top > 0 && stack[top-1].object {
					stack[top-1].expectKey = true
				}
			}
			continue
		case string:
			if replaced(t, raw) {
				return Text(field(), "\x00")
			}
			if top >= 0 && stack[top].object && stack[top].expectKey {
				if !Clean(t) || !utf8.Valid(raw) {
					return Text(field(), "\x00")
				}
				stack[top].key, stack[top].expectKey = t, false
				continue
			}
			if !Clean(t) || !utf8.Valid(raw) {
				return Text(field(), "\x00")
			}
		}
		if !utf8.Valid(raw) || bytes.IndexByte(raw, 0) >= 0 {
			return Text(field(), "\x00")
		}
		if top >= 0 && stack[top].object {
			stack[top].expectKey = true
		}
	}
	if !valid || bytes.IndexByte(body, 0) >= 0 {
		return Text("body", "\x00")
	}
	return nil
}

// mayHoldSurrogate reports whether body has a \uD800-\uDFFF escape, which
// the decoder turns into U+FFFD when it is not half of a pair.
func mayHoldSurrogate(body []byte) bool {
	for i := bytes.Index(body, []byte(`\u`)); i >= 0 && i+2 < len(body); {
		if c := body[i+2] | 0x20; c == 'd' {
			return true
		}
		j := bytes.Index(body[i+2:], []byte(`\u`))
		if j < 0 {
			return false
		}
		i += 2 + j
	}
	return false
}

// replaced reports whether decoding put a U+FFFD into s that the raw token
// did not spell: an invalid byte or a lone surrogate was replaced.
func replaced(s string, raw []byte) bool {
	if !strings.ContainsRune(s, utf8.RuneError) {
		return false
	}
	lower := bytes.ToLower(raw)
	return strings.Count(s, string(utf8.RuneError)) > bytes.Count(raw, []byte(string(utf8.RuneError)))+bytes.Count(lower, []byte(`\ufffd`))
}

// Truncate returns at most n bytes of s, never cutting a character in two.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
