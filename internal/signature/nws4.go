package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"sort"
	"strings"
)

// NWS4Algorithm names Portos' AWS SigV4-derived request signature scheme.
const NWS4Algorithm = "NWS4-HMAC-SHA256"

// NWS4Auth is the content of an "Authorization: NWS4-HMAC-SHA256 …" header.
type NWS4Auth struct {
	Credential    string   // the client id
	SignedHeaders []string // lower-case header names, sorted
	Timestamp     string   // the x-nd-date value, e.g. 2023-05-30T13:17:01.992Z
	Signature     string   // hex
}

// ParseNWS4Authorization parses "NWS4-HMAC-SHA256 <url-encoded
// Credential=…,SignedHeaders=…,Timestamp=…,Signature=…>".
func ParseNWS4Authorization(h string) (*NWS4Auth, error) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || scheme != NWS4Algorithm {
		return nil, errors.New("not an " + NWS4Algorithm + " authorization")
	}
	decoded, err := url.QueryUnescape(strings.TrimSpace(rest))
	if err != nil {
		return nil, errors.New("the authorization parameters are not validly escaped")
	}
	var a NWS4Auth
	seen := map[string]bool{}
	for _, part := range strings.Split(decoded, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || v == "" || seen[k] {
			return nil, errors.New("malformed authorization parameter")
		}
		// Some clients percent-encode each member's value and then the whole
		// value again (SignedHeaders=host%253Bx-nd-date). No member holds a
		// '%' of its own, so a value still escaped is decoded once more.
		if strings.Contains(v, "%") {
			if v, err = url.PathUnescape(v); err != nil {
				return nil, errors.New("the authorization parameters are not validly escaped")
			}
		}
		seen[k] = true
		switch k {
		case "Credential":
			a.Credential = v
		case "SignedHeaders":
			a.SignedHeaders = strings.Split(strings.ToLower(v), ";")
		case "Timestamp":
			a.Timestamp = v
		case "Signature":
			a.Signature = strings.ToLower(v)
		default:
			return nil, errors.New("unknown authorization parameter " + k)
		}
	}
	if a.Credential == "" || len(a.SignedHeaders) == 0 || a.Timestamp == "" || len(a.Signature) != 64 {
		return nil, errors.New("the authorization needs Credential, SignedHeaders, Timestamp and Signature")
	}
	if _, err := hex.DecodeString(a.Signature); err != nil {
		return nil, errors.New("the Signature must be hex")
	}
	if !sort.StringsAreSorted(a.SignedHeaders) {
		return nil, errors.New("SignedHeaders must be sorted")
	}
	return &a, nil
}

// Format returns the Authorization header value for a.
func (a NWS4Auth) Format() string {
	v := "Credential=" + a.Credential + ",SignedHeaders=" + strings.Join(a.SignedHeaders, ";") +
		",Timestamp=" + a.Timestamp + ",Signature=" + a.Signature
	return NWS4Algorithm + " " + url.QueryEscape(v)
}

// NWS4CanonicalQuery canonicalizes a raw query as Portos' reference clients
// do: each &-separated part is key=value where the value ends at the next
// "=", both are percent-encoded like encodeURIComponent, and the pairs are
// sorted by key, then value.
func NWS4CanonicalQuery(raw string) string {
	var pairs [][2]string
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		fields := strings.Split(part, "=")
		k, v := fields[0], ""
		if len(fields) > 1 {
			v = fields[1]
		}
		pairs = append(pairs, [2]string{encodeURIComponent(unescape(k)), encodeURIComponent(unescape(v))})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i][0] != pairs[j][0] {
			return pairs[i][0] < pairs[j][0]
		}
		return pairs[i][1] < pairs[j][1]
	})
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = p[0] + "=" + p[1]
	}
	return strings.Join(out, "&")
}

// NWS4QueryFullySigned reports whether NWS4CanonicalQuery covers all of
// raw. It does not when a value holds a second raw "=": the reference
// clients (and the published test vector) sign a value only up to it, so
// "q=a=b" and "q=a=c" carry the same signature. A '=' inside a value must be
// sent as %3D.
func NWS4QueryFullySigned(raw string) bool {
	for _, part := range strings.Split(raw, "&") {
		if strings.Count(part, "=") > 1 {
			return false
		}
	}
	return true
}

func unescape(s string) string {
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}

// encodeURIComponent escapes s as JavaScript's encodeURIComponent does.
func encodeURIComponent(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// NWS4CanonicalRequest is METHOD\npath\ncanonicalQuery\ncanonicalHeaders\n
// signedHeaders\nbodyHash, where canonicalHeaders has one "name:value" line
// per signed header (no trailing newline). headers maps lower-case names to
// values.
func NWS4CanonicalRequest(method, path, rawQuery string, headers map[string]string, signed []string, bodyHash string) string {
	lines := make([]string, len(signed))
	for i, name := range signed {
		lines[i] = name + ":" + strings.TrimSpace(headers[name])
	}
	return strings.ToUpper(method) + "\n" + path + "\n" + NWS4CanonicalQuery(rawQuery) + "\n" +
		strings.Join(lines, "\n") + "\n" + strings.Join(signed, ";") + "\n" + bodyHash
}

// NWS4StringToSign is the algorithm, the timestamp, the client id and the
// hex SHA-256 of the canonical request, one per line.
func NWS4StringToSign(timestamp, clientID, canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	return NWS4Algorithm + "\n" + timestamp + "\n" + clientID + "\n" + hex.EncodeToString(sum[:])
}

// NWS4Signature is hex HMAC-SHA256(HMAC-SHA256("NWS4"+secret, date),
// stringToSign), date being the timestamp's yyyy-MM-dd.
func NWS4Signature(secret, date, stringToSign string) string {
	k := hmac.New(sha256.New, []byte("NWS4"+secret))
	k.Write([]byte(date))
	m := hmac.New(sha256.New, k.Sum(nil))
	m.Write([]byte(stringToSign))
	return hex.EncodeToString(m.Sum(nil))
}

// BodySHA256 is the hex SHA-256 of a body, the x-nd-content-sha256 value.
func BodySHA256(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}
