package signature

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"time"
)

// Profile is the tag of keyward's RFC 9421 profile.
const Profile = "keyward-v1"

// Label is the signature label keyward's signer uses.
const Label = "kw"

// RequiredComponents are covered by every keyward-v1 signature; a request
// with a body also covers content-type and content-digest.
var RequiredComponents = []string{"@method", "@authority", "@path", "@query"}

// ContentDigest returns the RFC 9530 Content-Digest value of body (sha-256).
func ContentDigest(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
}

// ComponentValues returns the value of every component a request offers:
// the derived components and each header (lower-case names, values joined
// with ", ").
func ComponentValues(method, authority, path, rawQuery string, header http.Header) map[string]string {
	if path == "" {
		path = "/"
	}
	v := map[string]string{
		"@method":    strings.ToUpper(method),
		"@authority": strings.ToLower(authority),
		"@path":      path,
		"@query":     "?" + rawQuery,
	}
	for name, values := range header {
		trimmed := make([]string, len(values))
		for i, s := range values {
			trimmed[i] = strings.TrimSpace(s)
		}
		v[strings.ToLower(name)] = strings.Join(trimmed, ", ")
	}
	return v
}

// SignKeywardV1 signs req for keyid with secret, as profile keyward-v1:
// it sets Content-Digest (when there is a body), Signature-Input and
// Signature. nonce must hold at least 128 random bits.
func SignKeywardV1(req *http.Request, keyid string, secret []byte, now time.Time, lifetime time.Duration, nonce string) error {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return err
		}
		req.Body.Close()
		body = b
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	components := append([]string(nil), RequiredComponents...)
	if len(body) > 0 {
		req.Header.Set("Content-Digest", ContentDigest(body))
		if req.Header.Get("Content-Type") == "" {
			req.Header.Set("Content-Type", "application/octet-stream")
		}
		components = append(components, "content-type", "content-digest")
	}
	in := &Input{Label: Label, Components: components, Params: []Param{
		{"created", now.Unix()}, {"expires", now.Add(lifetime).Unix()}, {"nonce", nonce},
		{"keyid", keyid}, {"alg", "hmac-sha256"}, {"tag", Profile},
	}}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	base, err := SignatureBase(in, ComponentValues(req.Method, host, req.URL.EscapedPath(), req.URL.RawQuery, req.Header))
	if err != nil {
		return err
	}
	req.Header.Set("Signature-Input", Label+"="+in.Serialize())
	req.Header.Set("Signature", Label+"=:"+base64.StdEncoding.EncodeToString(HMACSHA256(secret, base))+":")
	return nil
}

// Int returns an integer parameter.
func (in *Input) Int(name string) (int64, bool) {
	v, ok := in.Param(name)
	n, isInt := v.(int64)
	return n, ok && isInt
}

// String returns a string parameter.
func (in *Input) String(name string) (string, bool) {
	v, ok := in.Param(name)
	s, isStr := v.(string)
	return s, ok && isStr
}

// Covers reports whether the signature covers component c.
func (in *Input) Covers(c string) bool {
	for _, x := range in.Components {
		if x == c {
			return true
		}
	}
	return false
}
