package oauth

import (
	"encoding/json"
	"strconv"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/keyward/keyward/internal/gate"
)

// accessClaimsJSON returns c as json.Marshal writes it. The common case —
// every string plain (gate.PlainJSON), as keyward's ids, client ids, scopes,
// audiences and issuers are — is appended by hand, without reflection or
// the claims' MarshalJSON methods; any other goes through json.Marshal.
// TestAccessClaimsJSON and FuzzAccessClaimsJSON compare both.
func accessClaimsJSON(c *accessClaims) ([]byte, error) {
	if b, ok := appendAccessClaims(make([]byte, 0, 512), c); ok {
		return b, nil
	}
	return json.Marshal(c)
}

// appendAccessClaims appends c's JSON, or reports false when a string is
// not plain.
func appendAccessClaims(b []byte, c *accessClaims) ([]byte, bool) {
	for _, s := range [...]string{c.Issuer, c.Subject, c.ID, c.ClientID, c.Scope, c.Tenant, c.KeyID} {
		if !gate.PlainJSON(s) {
			return nil, false
		}
	}
	for _, a := range c.Audience {
		if !gate.PlainJSON(a) {
			return nil, false
		}
	}
	b = append(b, '{')
	first := true
	member := func(name string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
	}
	str := func(name, v string) {
		member(name)
		b = append(b, '"')
		b = append(b, v...)
		b = append(b, '"')
	}
	date := func(name string, d *jwt.NumericDate) {
		if d != nil {
			member(name)
			b = strconv.AppendInt(b, int64(*d), 10)
		}
	}
	// jwt.Claims, each member omitempty, then keyward's own.
	if c.Issuer != "" {
		str("iss", c.Issuer)
	}
	if c.Subject != "" {
		str("sub", c.Subject)
	}
	switch len(c.Audience) {
	case 0:
	case 1: // jwt.Audience writes one audience as a string
		str("aud", c.Audience[0])
	default:
		member("aud")
		for i, a := range c.Audience {
			if i > 0 {
				b = append(b, ',')
			} else {
				b = append(b, '[')
			}
			b = append(b, '"')
			b = append(b, a...)
			b = append(b, '"')
		}
		b = append(b, ']')
	}
	date("exp", c.Expiry)
	date("nbf", c.NotBefore)
	date("iat", c.IssuedAt)
	if c.ID != "" {
		str("jti", c.ID)
	}
	str("client_id", c.ClientID)
	str("scope", c.Scope)
	str("tenant", c.Tenant)
	member("level")
	b = strconv.AppendInt(b, int64(c.Level), 10)
	member("sgen")
	b = strconv.AppendInt(b, int64(c.Generation), 10)
	str("key_id", c.KeyID)
	return append(b, '}'), true
}
