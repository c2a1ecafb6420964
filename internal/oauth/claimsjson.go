package oauth

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/gate"
)

// accessClaimsJSON returns the claims SignAccessToken signs for a (issued
// by issuer) as json.Marshal writes accessClaimsOf(issuer, a), appended to
// dst. The common case — every string plain (gate.PlainJSON), as keyward's
// ids, client ids, scopes, audiences and issuers are — is appended by hand
// from a, without reflection, the claims' MarshalJSON methods or their
// pointers; any other goes through json.Marshal. TestAccessClaimsJSON and
// FuzzAccessClaimsJSON compare both. dst is not kept: a caller's buffer on
// its stack stays there.
func accessClaimsJSON(dst []byte, issuer string, a *keyward.AccessTokenClaims) ([]byte, error) {
	if b, ok := appendAccessClaims(dst, issuer, a); ok {
		return b, nil
	}
	return json.Marshal(accessClaimsOf(issuer, a))
}

// accessClaimsOf returns the claims of an access token for a, issued by
// issuer, as they serialize.
func accessClaimsOf(issuer string, a *keyward.AccessTokenClaims) *accessClaims {
	return &accessClaims{
		Claims: jwt.Claims{
			Issuer: issuer, Subject: a.Subject, Audience: jwt.Audience(a.Audience), ID: a.ID,
			IssuedAt: jwt.NewNumericDate(a.IssuedAt), NotBefore: jwt.NewNumericDate(a.NotBefore), Expiry: jwt.NewNumericDate(a.Expiry),
		},
		ClientID: a.ClientID, Scope: a.Scope, Tenant: a.Tenant, Level: a.Level, Generation: a.Generation, KeyID: a.KeyID,
	}
}

// appendAccessClaims appends the JSON of accessClaimsOf(issuer, a), or
// reports false when a string is not plain.
func appendAccessClaims(b []byte, issuer string, a *keyward.AccessTokenClaims) ([]byte, bool) {
	for _, s := range [...]string{issuer, a.Subject, a.ID, a.ClientID, a.Scope, a.Tenant, a.KeyID} {
		if !gate.PlainJSON(s) {
			return nil, false
		}
	}
	for _, aud := range a.Audience {
		if !gate.PlainJSON(aud) {
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
	date := func(name string, t time.Time) {
		if !t.IsZero() { // jwt.NewNumericDate: none for the zero time, else the second
			member(name)
			b = strconv.AppendInt(b, t.Unix(), 10)
		}
	}
	// jwt.Claims, each member omitempty, then keyward's own.
	if issuer != "" {
		str("iss", issuer)
	}
	if a.Subject != "" {
		str("sub", a.Subject)
	}
	switch len(a.Audience) {
	case 0:
	case 1: // jwt.Audience writes one audience as a string
		str("aud", a.Audience[0])
	default:
		member("aud")
		for i, aud := range a.Audience {
			if i > 0 {
				b = append(b, ',')
			} else {
				b = append(b, '[')
			}
			b = append(b, '"')
			b = append(b, aud...)
			b = append(b, '"')
		}
		b = append(b, ']')
	}
	date("exp", a.Expiry)
	date("nbf", a.NotBefore)
	date("iat", a.IssuedAt)
	if a.ID != "" {
		str("jti", a.ID)
	}
	str("client_id", a.ClientID)
	str("scope", a.Scope)
	str("tenant", a.Tenant)
	member("level")
	b = strconv.AppendInt(b, int64(a.Level), 10)
	member("sgen")
	b = strconv.AppendInt(b, int64(a.Generation), 10)
	str("key_id", a.KeyID)
	return append(b, '}'), true
}
