// Package piercloud speaks Pier Cloud's token endpoint on keyward's Service:
//
//	POST /auth {client_id, client_secret} → 201 {code: "success", data: {access_token, expires_in,
//	    refresh_expires_in, token_type, not-before-policy, session_state, scope}}
//
// Errors are {code, message}: 400 "bad-request/invalid-parameters" for bad
// input, 401 "failed" for credentials that do not authenticate, and the
// native API's status for the rest (429 and 503 with Retry-After), coded
// "too-many-requests", "unavailable" or "internal". The token lives for the
// key's tokenLifespanSeconds, which Pier Cloud's console sets as 1-24 hours
// or 1-55 minutes. Its API-key screens are keyward's console: no route here
// creates a key or hands out a secret, so none takes an Idempotency-Key.
package piercloud

import (
	"net/http"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect"
	"github.com/keyward/keyward/internal/gate"
	"github.com/keyward/keyward/internal/secret"
)

// Error codes, as Pier Cloud's public routes answer them.
const (
	CodeSuccess    = "success"
	CodeBadRequest = "bad-request/invalid-parameters"
	CodeFailed     = "failed"
)

// Mount adds the Pier Cloud routes to mux.
func Mount(mux *http.ServeMux, svc *keyward.Service, host dialect.Host) {
	d := &api{svc: svc, host: host}
	mux.HandleFunc("POST /auth", dialect.Answer(d.auth, d.fail))
}

type api struct {
	svc  *keyward.Service
	host dialect.Host
}

type authBody struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// tokenData is the data member of a successful answer: Keycloak's token
// response, which Pier Cloud passes on. session_state identifies this
// issuance (client credentials have no session to refer to).
type tokenData struct {
	AccessToken      string `json:"access_token"`
	ExpiresIn        int    `json:"expires_in"`
	RefreshExpiresIn int    `json:"refresh_expires_in"`
	TokenType        string `json:"token_type"`
	NotBeforePolicy  int    `json:"not-before-policy"`
	SessionState     string `json:"session_state"`
	Scope            string `json:"scope"`
}

// fail, the dialect's one error adapter, answers err in Pier Cloud's shape, with the native API's status and
// headers (Retry-After on 429 and 503).
func (d *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := d.host.ErrorStatus(w, r, err)
	code, msg := "internal", "internal error"
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		code, msg = CodeBadRequest, keyward.ErrorMessage(err)
	case http.StatusUnauthorized:
		code, msg = CodeFailed, "invalid client credentials"
	case http.StatusTooManyRequests:
		code, msg = "too-many-requests", keyward.ErrorMessage(err)
	case http.StatusServiceUnavailable:
		code, msg = "unavailable", keyward.ErrorMessage(err)
	case http.StatusInternalServerError:
	default:
		code, msg = keyward.ErrorCode(err), keyward.ErrorMessage(err)
	}
	dialect.WriteJSON(w, status, map[string]string{"code": code, "message": msg})
}

func (d *api) auth(w http.ResponseWriter, r *http.Request) error {
	var in authBody
	err := gate.Request(r)
	if err == nil {
		err = dialect.DecodeJSON(r, &in, "the body must be {client_id, client_secret}")
	}
	if err != nil {
		return err
	}
	// The credential is the body's: one in a header as well is a second
	// (RFC 6749 §2.3), refused rather than ignored.
	if err := keyward.OneCredential(r.Header); err != nil {
		return err
	}
	if keyward.HeaderCredentials(r.Header) > 0 && (in.ClientID != "" || in.ClientSecret != "") {
		return keyward.Errorf(keyward.EINVALID, "send one credential: client_id and client_secret in the body, nothing in Authorization or X-API-Key")
	}
	if in.ClientID == "" || in.ClientSecret == "" {
		return keyward.Errorf(keyward.EINVALID, "client_id and client_secret are required")
	}
	var res *keyward.TokenResponse
	err = d.svc.Attempt(r.Context(), d.host.ClientIP(r), func() (err error) {
		res, err = d.svc.IssueToken(r.Context(), in.ClientID, in.ClientSecret, "")
		return err
	})
	if keyward.ErrorCode(err) == keyward.EINVALIDCLIENT {
		err = keyward.Errorf(keyward.EUNAUTHORIZED, "invalid client credentials")
	}
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	dialect.WriteJSON(w, http.StatusCreated, map[string]any{"code": CodeSuccess, "data": tokenData{
		AccessToken: res.AccessToken, ExpiresIn: res.ExpiresIn, TokenType: res.TokenType, Scope: res.Scope,
		SessionState: secret.NewID(),
	}})
	return nil
}
