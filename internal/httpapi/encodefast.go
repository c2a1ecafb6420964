package httpapi

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/gate"
)

// appendAnswer appends the JSON encode writes for the answers of the warm
// routes (whoami, verify, token) — json.Encoder's bytes and newline — by
// hand, when every string in it is plain (gate.PlainJSON) and its meta, if
// any, is what encoding/json writes as it is (plainMeta): no reflection. It
// reports false for any other value, which encode then gives to
// encoding/json (TestAppendAnswer and FuzzAppendAnswer compare both).
func appendAnswer(b []byte, v any) ([]byte, bool) {
	o := jsonObject{b: b, ok: true}
	switch v := v.(type) {
	case *keyward.VerifyResult:
		if v.Meta != nil && !plainMeta(v.Meta) {
			return nil, false // encoding/json compacts and escapes it
		}
		o.open()
		o.boolean("valid", v.Valid)
		o.str("code", v.Code)
		o.strPtr("keyId", v.KeyID)
		o.strPtr("clientId", v.ClientID)
		o.strPtr("tenantId", v.TenantID)
		o.strPtr("name", v.Name)
		o.member("level")
		if v.Level == nil {
			o.null()
		} else {
			o.b = strconv.AppendInt(o.b, int64(*v.Level), 10)
		}
		o.strs("permissions", v.Permissions)
		o.timePtr("expiresAt", v.ExpiresAt)
		o.member("meta")
		if v.Meta == nil {
			o.null()
		} else {
			o.b = append(o.b, v.Meta...)
		}
		o.member("ratelimit")
		if v.RateLimit == nil {
			o.null()
		} else {
			o.b = append(o.b, `{"limit":`...)
			o.b = strconv.AppendInt(o.b, int64(v.RateLimit.Limit), 10)
			o.b = append(o.b, `,"remaining":`...)
			o.b = strconv.AppendInt(o.b, int64(v.RateLimit.Remaining), 10)
			o.b = append(o.b, `,"reset":`...)
			o.b = strconv.AppendInt(o.b, int64(v.RateLimit.Reset), 10)
			o.b = append(o.b, '}')
		}
		if v.Credits != nil {
			o.member("credits")
			o.b = append(o.b, `{"remaining":`...)
			o.b = strconv.AppendInt(o.b, v.Credits.Remaining, 10)
			o.b = append(o.b, `,"refillsAt":`...)
			o.time(v.Credits.RefillsAt)
			o.b = append(o.b, '}')
		}
		if v.Reason != "" {
			o.str("reason", v.Reason)
		}
	case *keyward.WhoAmI:
		o.open()
		o.str("kind", v.Kind)
		o.str("id", v.ID)
		o.str("tenantId", v.TenantID)
		o.str("name", v.Name)
		if v.ClientID != "" {
			o.str("clientId", v.ClientID)
		}
		if v.OwnerID != "" {
			o.str("ownerId", v.OwnerID)
		}
		o.member("level")
		o.b = strconv.AppendInt(o.b, int64(v.Level), 10)
		o.strs("permissions", v.Permissions)
		o.strs("ownKeyPermissions", v.OwnKeyPermissions)
	case *keyward.TokenResponse:
		o.open()
		o.str("access_token", v.AccessToken)
		o.str("token_type", v.TokenType)
		o.member("expires_in")
		o.b = strconv.AppendInt(o.b, int64(v.ExpiresIn), 10)
		o.str("scope", v.Scope)
	default:
		return nil, false
	}
	if !o.ok {
		return nil, false
	}
	return append(o.b, '}', '\n'), true
}

// plainMeta reports whether encoding/json writes meta as it is: valid JSON
// (encoding/json refuses the answer otherwise) of printable ASCII without
// a space (compacting removes whitespace outside strings) nor '<', '>' or
// '&' (which it escapes; U+2028 and U+2029, which it escapes too, are not
// ASCII). A key's meta is usually "{}" or a small compact object.
func plainMeta(meta []byte) bool {
	for _, c := range meta {
		if c <= ' ' || c > 0x7e || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return json.Valid(meta)
}

// jsonObject appends one JSON object's members; ok turns false at the
// first value it cannot write as encoding/json would.
type jsonObject struct {
	b  []byte
	ok bool
	n  int
}

func (o *jsonObject) open() { o.b = append(o.b, '{') }

func (o *jsonObject) null() { o.b = append(o.b, "null"...) }

func (o *jsonObject) member(name string) {
	if o.n > 0 {
		o.b = append(o.b, ',')
	}
	o.n++
	o.b = append(o.b, '"')
	o.b = append(o.b, name...)
	o.b = append(o.b, '"', ':')
}

// value appends s quoted, when plain.
func (o *jsonObject) value(s string) {
	if !gate.PlainJSON(s) {
		o.ok = false
		return
	}
	o.b = append(o.b, '"')
	o.b = append(o.b, s...)
	o.b = append(o.b, '"')
}

func (o *jsonObject) str(name, s string) {
	o.member(name)
	o.value(s)
}

func (o *jsonObject) strPtr(name string, s *string) {
	o.member(name)
	if s == nil {
		o.null()
		return
	}
	o.value(*s)
}

func (o *jsonObject) boolean(name string, v bool) {
	o.member(name)
	o.b = strconv.AppendBool(o.b, v)
}

// strs appends a list of strings: null when nil, as encoding/json.
func (o *jsonObject) strs(name string, list []string) {
	o.member(name)
	if list == nil {
		o.null()
		return
	}
	o.b = append(o.b, '[')
	for i, s := range list {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.value(s)
	}
	o.b = append(o.b, ']')
}

func (o *jsonObject) timePtr(name string, t *time.Time) {
	o.member(name)
	o.time(t)
}

// time appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds, quoted), or null; a time MarshalJSON refuses is not
// written.
func (o *jsonObject) time(t *time.Time) {
	if t == nil {
		o.null()
		return
	}
	o.b = append(o.b, '"')
	var err error
	if o.b, err = t.AppendText(o.b); err != nil {
		o.ok = false
		return
	}
	o.b = append(o.b, '"')
}
