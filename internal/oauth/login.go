package oauth

import (
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/keyward/keyward"
)

// loginClaims are the claims of a login token as written in the JWT.
type loginClaims struct {
	jwt.Claims
	Tenant     string `json:"tenant"`
	Kind       string `json:"kind"`
	Generation int    `json:"sgen"`
}

// SignLoginToken signs l with the login key, for this issuer.
func (t *Tokens) SignLoginToken(l *keyward.LoginTokenClaims) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: t.loginKey},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	claims := loginClaims{
		Claims: jwt.Claims{
			Issuer: t.loginIssuer, Subject: l.Subject, Audience: jwt.Audience{t.loginIssuer}, ID: l.ID,
			IssuedAt: jwt.NewNumericDate(l.IssuedAt), NotBefore: jwt.NewNumericDate(l.NotBefore),
			Expiry: jwt.NewNumericDate(l.Expiry),
		},
		Tenant: l.Tenant, Kind: l.Kind, Generation: l.Generation,
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

// ParseLoginToken returns the claims of raw if the login key signed it.
func (t *Tokens) ParseLoginToken(raw string) (*keyward.LoginTokenClaims, bool) {
	c, ok := t.parseLogin(raw)
	if !ok {
		return nil, false
	}
	return c.token(), true
}

// VerifyLoginToken is ParseLoginToken for a token of this issuer, valid now.
func (t *Tokens) VerifyLoginToken(raw string) (*keyward.LoginTokenClaims, bool) {
	c, ok := t.parseLogin(raw)
	if !ok {
		return nil, false
	}
	exp := jwt.Expected{Issuer: t.loginIssuer, AnyAudience: jwt.Audience{t.loginIssuer}, Time: t.now()}
	if err := c.Claims.ValidateWithLeeway(exp, 0); err != nil {
		return nil, false
	}
	return c.token(), true
}

func (t *Tokens) parseLogin(raw string) (*loginClaims, bool) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return nil, false
	}
	var c loginClaims
	if err := tok.Claims(t.loginKey.Public(), &c); err != nil {
		return nil, false
	}
	return &c, true
}

func (c *loginClaims) token() *keyward.LoginTokenClaims {
	return &keyward.LoginTokenClaims{
		ID: c.ID, Subject: c.Subject, Tenant: c.Tenant, Kind: c.Kind, Generation: c.Generation,
		IssuedAt: c.IssuedAt.Time(), NotBefore: c.NotBefore.Time(), Expiry: c.Expiry.Time(),
	}
}
