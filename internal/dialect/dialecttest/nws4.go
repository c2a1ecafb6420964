package dialecttest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// SignNWS4 signs req as Portos' reference clients do (SPEC §7's NWS4
// note), written here from the published description and independently of
// keyward's verifier: it signs host, every header already set on req, and
// the x-nd-date and x-nd-content-sha256 headers it adds. body is req's body.
func SignNWS4(req *http.Request, body []byte, clientID, secret string, at time.Time) {
	ts := at.UTC().Format("2006-01-02T15:04:05.000Z")
	sum := sha256.Sum256(body)
	bodyHash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Nd-Date", ts)
	req.Header.Set("X-Nd-Content-Sha256", bodyHash)
	headers := map[string]string{"host": req.URL.Host}
	for name, v := range req.Header {
		headers[strings.ToLower(name)] = strings.TrimSpace(strings.Join(v, ", "))
	}
	req.Header.Set("Authorization", NWS4Authorization(req.Method, req.URL.EscapedPath(), req.URL.RawQuery, headers, bodyHash, clientID, secret, ts))
}

// NWS4Authorization is the Authorization value for a request with these
// parts; headers (lower-case names) are all signed.
func NWS4Authorization(method, path, rawQuery string, headers map[string]string, bodyHash, clientID, secret, ts string) string {
	var names []string
	for n := range headers {
		names = append(names, n)
	}
	sort.Strings(names)
	var canon strings.Builder
	canon.WriteString(strings.ToUpper(method) + "\n" + path + "\n" + nws4Query(rawQuery) + "\n")
	for _, n := range names {
		canon.WriteString(n + ":" + headers[n] + "\n")
	}
	canon.WriteString(strings.Join(names, ";") + "\n" + bodyHash)
	crHash := sha256.Sum256([]byte(canon.String()))
	toSign := "NWS4-HMAC-SHA256\n" + ts + "\n" + clientID + "\n" + hex.EncodeToString(crHash[:])
	key := hmacSHA256([]byte("NWS4"+secret), ts[:10])
	sig := hex.EncodeToString(hmacSHA256(key, toSign))
	v := "Credential=" + clientID + ",SignedHeaders=" + strings.Join(names, ";") + ",Timestamp=" + ts + ",Signature=" + sig
	return "NWS4-HMAC-SHA256 " + url.QueryEscape(v)
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// nws4Query is the reference clients' canonical query: pairs split at "=",
// a value ending at its second "=", each part encoded like JavaScript's
// encodeURIComponent, sorted.
func nws4Query(raw string) string {
	var pairs []string
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		kv := strings.Split(part, "=")
		v := ""
		if len(kv) > 1 {
			v = kv[1]
		}
		k, _ := url.QueryUnescape(kv[0])
		v, _ = url.QueryUnescape(v)
		pairs = append(pairs, encodeURIComponent(k)+"="+encodeURIComponent(v))
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

func encodeURIComponent(s string) string {
	e := url.QueryEscape(s)
	e = strings.ReplaceAll(e, "+", "%20")
	for _, c := range []string{"!", "'", "(", ")", "*"} {
		e = strings.ReplaceAll(e, url.QueryEscape(c), c)
	}
	return e
}
