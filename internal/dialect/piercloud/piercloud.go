// Package piercloud speaks Pier Cloud's token endpoint on keyward's Service:
//
//	POST /auth {client_id, client_secret} → 201 {code: "success", data: {access_token, expires_in, refresh_expires_in, token_type, scope}}
//
// Bad input answers 400 and bad credentials 401, each as {code, message}.
// The token lives for the key's tokenLifespanSeconds, which Pier Cloud's
// console sets as 1-24 hours or 1-55 minutes. Its API-key screens are
// keyward's console.
package piercloud

import (
	"net/http"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect"
	"github.com/keyward/keyward/internal/gate"
)

// Mount adds the Pier Cloud routes to mux.
func Mount(mux *http.ServeMux, svc *keyward.Service, host dialect.Host) {
	d := &api{svc: svc, host: host}
	mux.HandleFunc("POST /auth", d.auth)
}

type api struct {
	svc  *keyward.Service
	host dialect.Host
}

type authBody struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

type tokenData struct {
	AccessToken      string `json:"access_token"`
	ExpiresIn        int    `json:"expires_in"`
	RefreshExpiresIn int    `json:"refresh_expires_in"`
	TokenType        string `json:"token_type"`
	Scope            string `json:"scope"`
}

// fail answers Pier Cloud's error shape.
func fail(w http.ResponseWriter, status int, code, message string) {
	dialect.WriteJSON(w, status, map[string]string{"code": code, "message": message})
}

func (d *api) auth(w http.ResponseWriter, r *http.Request) {
	var in authBody
	err := gate.Request(r)
	if err == nil {
		err = dialect.DecodeJSON(r, &in, "the body must be {client_id, client_secret}")
	}
	if err != nil {
		status := http.StatusBadRequest
		if keyward.ErrorCode(err) == keyward.ETOOLARGE {
			status = http.StatusRequestEntityTooLarge
		}
		fail(w, status, "invalid_request", keyward.ErrorMessage(err))
		return
	}
	if in.ClientID == "" || in.ClientSecret == "" {
		fail(w, http.StatusBadRequest, "invalid_request", "client_id and client_secret are required")
		return
	}
	var res *keyward.TokenResponse
	err = d.svc.Attempt(r.Context(), d.host.ClientIP(r), func() (err error) {
		res, err = d.svc.IssueToken(r.Context(), in.ClientID, in.ClientSecret, "")
		return err
	})
	switch keyward.ErrorCode(err) {
	case "":
	case keyward.EINVALIDCLIENT:
		fail(w, http.StatusUnauthorized, "invalid_client", "invalid client credentials")
		return
	default:
		d.host.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	dialect.WriteJSON(w, http.StatusCreated, map[string]any{"code": "success", "data": tokenData{
		AccessToken: res.AccessToken, ExpiresIn: res.ExpiresIn, TokenType: res.TokenType, Scope: res.Scope,
	}})
}
