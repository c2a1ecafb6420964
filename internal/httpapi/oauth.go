package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
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
//
// invalid_client is 401. A client that authenticated with the Authorization
// header gets the challenge of its scheme (RFC 6749 §5.2: Basic after
// Basic); one that sent client_secret_post gets none, as §5.2 leaves it
// open: clients such as openid-client treat any challenge as an HTTP
// authentication problem and would not read the error in the body: such a
// client's errors are marked by fromPost. An error marked asProblem is
// answered as on the rest of the API.
func (s *Server) writeOAuthError(w http.ResponseWriter, r *http.Request, err error) {
	var post clientPostError
	postAuth := errors.As(err, &post)
	if postAuth {
		err = post.error
	}
	var problem asProblem
	if errors.As(err, &problem) {
		s.writeError(w, r, problem.error)
		return
	}
	// The status is the table's; the code is RFC 6749's name for it.
	var code string
	switch c := keyward.ErrorCode(err); c {
	case keyward.EINVALIDCLIENT, keyward.EUNAUTHORIZED:
		code = "invalid_client"
	case keyward.EINVALIDSCOPE, keyward.EINVALIDTARGET, keyward.EUNSUPPORTEDGRANT:
		code = c // named as in RFC 6749 and RFC 8707
	case keyward.EFORBIDDEN, keyward.EIPNOTALLOWED:
		code = "unauthorized_client"
	case keyward.EINVALID, keyward.ETOOLARGE:
		code = "invalid_request"
	default:
		s.writeError(w, r, err)
		return
	}
	status, desc := StatusOf(err), keyward.ErrorMessage(err)
	if status == http.StatusUnauthorized && !postAuth {
		scheme, _, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
		challenge := `Basic realm="keyward"`
		if !strings.EqualFold(scheme, "basic") {
			challenge = `Basic realm="keyward", Bearer realm="keyward"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	encode(w, status, oauthError{Error: code, ErrorDescription: desc})
}

// clientPostError marks the error of a client that sent its credentials in
// the form (client_secret_post).
type clientPostError struct{ error }

func (e clientPostError) Unwrap() error { return e.error }

// fromPost marks err as the error of a client_secret_post client if post.
func fromPost(err error, post bool) error {
	if post {
		return clientPostError{err}
	}
	return err
}

// asProblem marks an error an OAuth2 endpoint answers as a problem, as the
// native API does: a blocked address, an outage, an internal error.
type asProblem struct{ error }

func (e asProblem) Unwrap() error { return e.error }

// readForm parses an application/x-www-form-urlencoded body of at most
// MaxBodyBytes. A parameter given twice is an error (RFC 6749 §3.2).
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	// The media type as clients send it needs no parsing (ParseMediaType
	// allocates its parameters' map).
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return nil, keyward.Errorf(keyward.EINVALID, "the body must be application/x-www-form-urlencoded")
		}
	}
	// Into a reused buffer: the form keeps a string copy of the body.
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer putBodyBuffer(buf)
	buf.Reset()
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err := bodyReadError(err); err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(buf.String())
	if err != nil {
		return nil, keyward.Errorf(keyward.EINVALID, "the body is not a valid form")
	}
	if err := gate.Form(form); err != nil {
		return nil, err
	}
	for name, vals := range form {
		if len(vals) > 1 && name != "resource" && name != "audience" { // RFC 8707 repeats resource
			return nil, keyward.Errorf(keyward.EINVALID, "parameter %s is given more than once", name)
		}
	}
	return form, nil
}

// clientCredentials returns the client id and secret of a token or
// revocation request: client_secret_basic (form-encoded inside Basic, RFC
// 6749 §2.3.1) or client_secret_post, never both, nor beside another
// credential (RFC 6749 §2.3: one authentication method per request).
func clientCredentials(r *http.Request, form url.Values) (id, secret string, basic bool, err error) {
	if err := keyward.OneCredential(r.Header); err != nil {
		return "", "", false, err
	}
	auth := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, rest, _ := strings.Cut(auth, " ")
	if strings.EqualFold(scheme, "basic") {
		raw, derr := decodeBasic(strings.TrimSpace(rest))
		u, p, ok := strings.Cut(raw, ":")
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
	if keyward.HeaderCredentials(r.Header) > 0 && form.Has("client_secret") {
		return "", "", false, keyward.Errorf(keyward.EINVALID, "use one client authentication method, not two")
	}
	if form.Get("client_id") == "" || form.Get("client_secret") == "" {
		return "", "", false, keyward.Errorf(keyward.EINVALIDCLIENT, "client authentication is required")
	}
	return form.Get("client_id"), form.Get("client_secret"), false, nil
}

// decodeBasic is base64.StdEncoding.DecodeString of Basic credentials as a
// string; credentials of usual length are decoded on the stack, so that the
// string is the only allocation.
func decodeBasic(s string) (string, error) {
	var src [256]byte
	var dst [192]byte
	if len(s) > len(src) {
		raw, err := base64.StdEncoding.DecodeString(s)
		return string(raw), err
	}
	n, err := base64.StdEncoding.Decode(dst[:], append(src[:0], s...))
	return string(dst[:n]), err
}

// token serves POST /oauth2/token: the client credentials grant.
func (s *Server) token(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(w, r)
	if err != nil {
		return err
	}
	switch gt := form.Get("grant_type"); gt {
	case "":
		return keyward.Errorf(keyward.EINVALID, "grant_type is required")
	case "client_credentials":
	default:
		return keyward.Errorf(keyward.EUNSUPPORTEDGRANT, "only client_credentials is supported")
	}
	id, sec, basic, err := clientCredentials(r, form)
	post := !basic && form.Has("client_secret")
	if err != nil {
		return fromPost(err, post)
	}
	audiences, err := keyward.RequestedAudiences(form)
	if err != nil {
		return fromPost(err, post)
	}
	var res *keyward.TokenResponse
	err = s.svc.Attempt(r.Context(), ClientIP(r), func() (err error) {
		res, err = s.svc.IssueToken(r.Context(), id, sec, form.Get("scope"), audiences...)
		return err
	})
	if err != nil {
		return fromPost(err, post)
	}
	s.metrics.tokens.Inc()
	w.Header()["Cache-Control"] = headerNoStore
	w.Header()["Pragma"] = headerNoCache
	encode(w, http.StatusOK, res)
	return nil
}

// oauthCaller authenticates the caller of introspection or revocation:
// client_secret_basic (form-encoded inside Basic, RFC 6749 §2.3.1),
// client_secret_post (client_id and client_secret in the form), or any /v1
// credentials (a bearer token, a key, a signature). A failure is answered
// in RFC 6749 §5.2's shape (invalid_client, 401, WWW-Authenticate: Basic
// when Basic was used); a blocked address still learns when to come back
// (429 with Retry-After) and an outage is still 503.
func (s *Server) oauthCaller(w http.ResponseWriter, r *http.Request, form url.Values) (*keyward.Principal, error) {
	scheme, _, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	basic := strings.EqualFold(scheme, "basic")
	post := false
	headerCreds := scheme != "" || r.Header.Get("X-Api-Key") != "" || keyward.IsSigned(r.Header)
	var p *keyward.Principal
	var err error
	switch {
	case basic:
		if _, _, _, err := clientCredentials(r, form); err != nil {
			return nil, err
		}
		p, err = s.authenticate(r) // answer gated r
	case headerCreds:
		if form.Has("client_secret") {
			return nil, keyward.Errorf(keyward.EINVALID, "use one client authentication method, not two")
		}
		p, err = s.authenticate(r) // answer gated r
	default: // client_secret_post, or nothing
		post = form.Has("client_secret")
		id, sec, _, cerr := clientCredentials(r, form)
		if cerr != nil {
			return nil, fromPost(cerr, post)
		}
		p, err = s.svc.Authenticate(r.Context(), keyward.Credentials{IP: ClientIP(r), UserAgent: r.UserAgent(),
			HasBasic: true, BasicUser: id, BasicPass: sec})
		if t := r.URL.Query().Get("tenant"); t != "" && err == nil {
			p, err = s.svc.InTenant(r.Context(), p, t)
		}
	}
	if err != nil {
		switch status := StatusOf(err); {
		case status == http.StatusUnauthorized:
			return nil, fromPost(keyward.Errorf(keyward.EINVALIDCLIENT, "client authentication failed"), post)
		case status == http.StatusBadRequest:
			return nil, fromPost(keyward.Errorf(keyward.EINVALID, "%s", keyward.ErrorMessage(err)), post)
		case status == http.StatusForbidden:
			return nil, fromPost(err, post)
		default: // a blocked address learns when to come back (429, Retry-After); outages stay 503
			return nil, asProblem{err}
		}
	}
	if p.Rate != nil {
		setRateHeaders(w.Header(), p.Rate)
	}
	return p, nil
}

// introspect serves POST /oauth2/introspect (RFC 7662). The caller needs
// keys:verify.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(w, r)
	if err != nil {
		return err
	}
	p, err := s.oauthCaller(w, r, form)
	if err != nil {
		return err
	}
	if form.Get("token") == "" {
		return keyward.Errorf(keyward.EINVALID, "token is required")
	}
	res, err := s.svc.IntrospectToken(r.Context(), p, form.Get("token"))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	encode(w, http.StatusOK, res)
	return nil
}

// revoke serves POST /oauth2/revoke (RFC 7009). The client that holds the
// token, or a principal with apikeys:write on its key, may revoke it.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(w, r)
	if err != nil {
		return err
	}
	p, err := s.oauthCaller(w, r, form)
	if err != nil {
		return err
	}
	if form.Get("token") == "" {
		return keyward.Errorf(keyward.EINVALID, "token is required")
	}
	if err := s.svc.RevokeToken(r.Context(), p, form.Get("token")); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	return nil
}

// jwks serves GET /.well-known/jwks.json.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) error {
	set, err := s.svc.JWKS(r.Context())
	if err != nil {
		return err
	}
	b, err := json.Marshal(set)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(b)
	return nil
}

// metadata serves RFC 8414 authorization server metadata. keyward is an
// OAuth2 authorization server for the client credentials grant, not an
// OpenID Provider (no ID tokens, no userinfo, no authorization endpoint), so
// it serves no OpenID Connect discovery document: one that claimed those
// would mislead clients. issuer is the "iss" of every token (all tenants
// share it; the "tenant" claim tells them apart).
//
// When the issuer has a one-segment path (--public-url https://host/keys),
// RFC 8414 §3.1 puts the document at
// /.well-known/oauth-authorization-server/keys; it is also served at the
// bare path, which a proxy that strips the prefix forwards.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request) error {
	base := s.svc.PublicURL()
	if rest := r.PathValue("issuerPath"); rest != "" || strings.HasSuffix(r.URL.Path, "/") {
		u, err := url.Parse(base)
		if err != nil || u.Path == "" || "/"+rest != u.Path {
			return keyward.Errorf(keyward.ENOTFOUND, "no authorization server has this issuer path")
		}
	}
	authMethods := []string{"client_secret_basic", "client_secret_post"}
	w.Header().Set("Cache-Control", "public, max-age=300")
	encode(w, http.StatusOK, map[string]any{
		"issuer":                                base,
		"token_endpoint":                        base + "/oauth2/token",
		"jwks_uri":                              base + "/.well-known/jwks.json",
		"introspection_endpoint":                base + "/oauth2/introspect",
		"revocation_endpoint":                   base + "/oauth2/revoke",
		"grant_types_supported":                 []string{"client_credentials"},
		"token_endpoint_auth_methods_supported": authMethods,
		// RFC 8414 requires the member; with no authorization endpoint,
		// "none" is the honest value (nothing is issued there).
		"response_types_supported":                      []string{"none"},
		"introspection_endpoint_auth_methods_supported": authMethods,
		"revocation_endpoint_auth_methods_supported":    authMethods,
		"access_token_signing_alg_values_supported":     []string{keyward.AlgEdDSA, keyward.AlgES256, keyward.AlgRS256},
	})
	return nil
}
