package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/gate"
)

// oauthError is an RFC 6749 §5.2 error body.
type oauthError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// writeOAuthError answers an OAuth2 endpoint's error in RFC 6749's shape,
// mapping keyward errors to its codes. Internal errors carry no detail.
func (s *Server) writeOAuthError(w http.ResponseWriter, r *http.Request, err error, basicAuth bool) {
	code, status := "invalid_request", http.StatusBadRequest
	desc := keyward.ErrorMessage(err)
	switch keyward.ErrorCode(err) {
	case keyward.EINVALIDCLIENT, keyward.EUNAUTHORIZED:
		code, status = "invalid_client", http.StatusUnauthorized
	case keyward.EINVALIDSCOPE:
		code = "invalid_scope"
	case "unsupported_grant_type":
		code = "unsupported_grant_type"
	case keyward.EFORBIDDEN, keyward.EIPNOTALLOWED:
		code, status = "unauthorized_client", http.StatusForbidden
	case keyward.ETOOLARGE:
		status = http.StatusRequestEntityTooLarge
	case keyward.EINVALID:
	default:
		s.writeError(w, r, err)
		return
	}
	if status == http.StatusUnauthorized {
		scheme := `Basic realm="keyward"`
		if !basicAuth {
			scheme = `Basic realm="keyward", Bearer realm="keyward"`
		}
		w.Header().Set("WWW-Authenticate", scheme)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	encode(w, status, oauthError{Error: code, ErrorDescription: desc})
}

// readForm parses an application/x-www-form-urlencoded body of at most
// MaxBodyBytes. A parameter given twice is an error (RFC 6749 §3.2).
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, keyward.Errorf(keyward.EINVALID, "the body must be application/x-www-form-urlencoded")
	}
	body, err := readBodyRaw(w, r)
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, keyward.Errorf(keyward.EINVALID, "the body is not a valid form")
	}
	if err := gate.Form(form); err != nil {
		return nil, err
	}
	for name, vals := range form {
		if len(vals) > 1 {
			return nil, keyward.Errorf(keyward.EINVALID, "parameter %s is given more than once", name)
		}
	}
	return form, nil
}

// clientCredentials returns the client id and secret of a token or
// revocation request: client_secret_basic (form-encoded inside Basic, RFC
// 6749 §2.3.1) or client_secret_post, never both.
func clientCredentials(r *http.Request, form url.Values) (id, secret string, basic bool, err error) {
	auth := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, rest, _ := strings.Cut(auth, " ")
	if strings.EqualFold(scheme, "basic") {
		raw, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		u, p, ok := strings.Cut(string(raw), ":")
		if derr != nil || !ok {
			return "", "", true, keyward.Errorf(keyward.EINVALIDCLIENT, "malformed Basic credentials")
		}
		if id, err = url.QueryUnescape(u); err == nil {
			secret, err = url.QueryUnescape(p)
		}
		if err != nil {
			return "", "", true, keyward.Errorf(keyward.EINVALIDCLIENT, "malformed Basic credentials")
		}
		if form.Has("client_secret") {
			return "", "", true, keyward.Errorf(keyward.EINVALID, "use one client authentication method, not two")
		}
		if form.Has("client_id") && form.Get("client_id") != id {
			return "", "", true, keyward.Errorf(keyward.EINVALID, "client_id does not match the Basic credentials")
		}
		return id, secret, true, nil
	}
	if auth != "" {
		return "", "", false, keyward.Errorf(keyward.EINVALIDCLIENT, "unsupported client authentication")
	}
	if form.Get("client_id") == "" || form.Get("client_secret") == "" {
		return "", "", false, keyward.Errorf(keyward.EINVALIDCLIENT, "client authentication is required")
	}
	return form.Get("client_id"), form.Get("client_secret"), false, nil
}

// token serves POST /oauth2/token: the client credentials grant.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	form, err := readForm(w, r)
	if err != nil {
		s.writeOAuthError(w, r, err, false)
		return
	}
	switch gt := form.Get("grant_type"); gt {
	case "":
		s.writeOAuthError(w, r, keyward.Errorf(keyward.EINVALID, "grant_type is required"), false)
		return
	case "client_credentials":
	default:
		s.writeOAuthError(w, r, keyward.Errorf("unsupported_grant_type", "only client_credentials is supported"), false)
		return
	}
	id, sec, basic, err := clientCredentials(r, form)
	if err != nil {
		s.writeOAuthError(w, r, err, basic)
		return
	}
	var res *keyward.TokenResponse
	err = s.svc.Attempt(r.Context(), ClientIP(r), func() (err error) {
		res, err = s.svc.IssueToken(r.Context(), id, sec, form.Get("scope"))
		return err
	})
	if err != nil {
		s.writeOAuthError(w, r, err, basic)
		return
	}
	s.metrics.tokens.Inc()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	encode(w, http.StatusOK, res)
}

// introspect serves POST /oauth2/introspect (RFC 7662). The caller
// authenticates like on /v1 and needs keys:verify.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request, p *keyward.Principal) {
	form, err := readForm(w, r)
	if err != nil {
		s.writeOAuthError(w, r, err, false)
		return
	}
	if form.Get("token") == "" {
		s.writeOAuthError(w, r, keyward.Errorf(keyward.EINVALID, "token is required"), false)
		return
	}
	res, err := s.svc.IntrospectToken(r.Context(), p, form.Get("token"))
	if err != nil {
		s.writeOAuthError(w, r, err, false)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	encode(w, http.StatusOK, res)
}

// revoke serves POST /oauth2/revoke (RFC 7009). The client authenticates
// with its credentials (Basic or post) or any /v1 credentials.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	form, err := readForm(w, r)
	if err != nil {
		s.writeOAuthError(w, r, err, false)
		return
	}
	creds := CredentialsFrom(r)
	if creds.Empty() && form.Get("client_id") != "" {
		creds.HasBasic, creds.BasicUser, creds.BasicPass = true, form.Get("client_id"), form.Get("client_secret")
	} else if creds.HasBasic {
		id, sec, _, err := clientCredentials(r, form)
		if err != nil {
			s.writeOAuthError(w, r, err, true)
			return
		}
		creds.BasicUser, creds.BasicPass = id, sec
	}
	p, err := s.svc.Authenticate(r.Context(), creds)
	if code := keyward.ErrorCode(err); code == keyward.ERATELIMITED || code == keyward.ELIMITERDOWN || code == keyward.EUNAVAILABLE {
		s.writeOAuthError(w, r, err, false) // a refused address learns when to come back
		return
	} else if err != nil {
		s.writeOAuthError(w, r, keyward.Errorf(keyward.EINVALIDCLIENT, "client authentication failed"), creds.HasBasic)
		return
	}
	if form.Get("token") == "" {
		s.writeOAuthError(w, r, keyward.Errorf(keyward.EINVALID, "token is required"), false)
		return
	}
	if err := s.svc.RevokeToken(r.Context(), p, form.Get("token")); err != nil {
		s.writeOAuthError(w, r, err, false)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// jwks serves GET /.well-known/jwks.json.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	set, err := s.svc.JWKS(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	b, err := json.Marshal(set)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(b)
}

// metadata serves RFC 8414 authorization server metadata, also at the
// OpenID Connect discovery path.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	base := s.svc.PublicURL()
	authMethods := []string{"client_secret_basic", "client_secret_post"}
	encode(w, http.StatusOK, map[string]any{
		"issuer":                                base,
		"token_endpoint":                        base + "/oauth2/token",
		"jwks_uri":                              base + "/.well-known/jwks.json",
		"introspection_endpoint":                base + "/oauth2/introspect",
		"revocation_endpoint":                   base + "/oauth2/revoke",
		"grant_types_supported":                 []string{"client_credentials"},
		"response_types_supported":              []string{"token"},
		"token_endpoint_auth_methods_supported": authMethods,
		"introspection_endpoint_auth_methods_supported":    []string{"client_secret_basic", "bearer"},
		"revocation_endpoint_auth_methods_supported":       authMethods,
		"token_endpoint_auth_signing_alg_values_supported": []string{},
		"access_token_signing_alg_values_supported":        []string{keyward.AlgEdDSA, keyward.AlgES256},
	})
}
