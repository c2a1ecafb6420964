// Package freesewing speaks the FreeSewing backend's API-key endpoints on
// keyward's Service. Each route exists twice: .../jwt for a user's login
// token (Authorization: Bearer, from POST /v1/login), .../key for an API key
// (Authorization: Basic key:secret).
//
//	POST   /apikeys/jwt|key        {name, level, expiresIn} → 201 {result: "success", apikey: {key, secret, level, expiresAt, name, userId}}
//	GET    /apikeys/jwt|key        → {result, apikeys: [...]}   the caller's own keys
//	GET    /apikeys/{id}/jwt|key   → {result, apikey}
//	DELETE /apikeys/{id}/jwt|key   → {result}
//	GET    /whoami/key             → {result, apikey}           the calling key
//
// Errors are 400/401/403/404 with {result: "error", error}. Unlike the
// original, level 0 is a valid level, expiresIn is bounded (1 s to 1 year),
// expired keys fail, and a key never mints a key above its own level or
// with rights it lacks: those rules are the Service's.
package freesewing

import (
	"net/http"
	"strings"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect"
)

// MaxExpiresIn bounds expiresIn: one year, in seconds.
const MaxExpiresIn = 365 * 24 * 3600

// Mount adds the FreeSewing routes to mux.
func Mount(mux *http.ServeMux, svc *keyward.Service, host dialect.Host) {
	d := &api{svc: svc, host: host}
	for _, via := range []string{"jwt", "key"} {
		mux.HandleFunc("POST /apikeys/"+via, d.authed(via, d.create))
		mux.HandleFunc("GET /apikeys/"+via, d.authed(via, d.list))
		mux.HandleFunc("GET /apikeys/{id}/"+via, d.authed(via, d.get))
		mux.HandleFunc("DELETE /apikeys/{id}/"+via, d.authed(via, d.delete))
	}
	mux.HandleFunc("GET /whoami/key", d.authed("key", d.whoami))
}

type api struct {
	svc  *keyward.Service
	host dialect.Host
}

// apikey is FreeSewing's key object; Secret only in the create answer.
type apikey struct {
	Key       string     `json:"key"`
	Secret    string     `json:"secret,omitempty"`
	Level     int        `json:"level"`
	ExpiresAt *time.Time `json:"expiresAt"`
	Name      string     `json:"name"`
	UserID    string     `json:"userId"`
	ID        string     `json:"id"`
}

func toAPIKey(k *keyward.APIKey) apikey {
	return apikey{Key: k.ClientID, Level: k.Level, ExpiresAt: k.ExpiresAt, Name: k.Name, UserID: k.OwnerID, ID: k.ID}
}

// fail answers FreeSewing's error shape with the status of err's code.
func fail(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	msg := "internal error"
	switch keyward.ErrorCode(err) {
	case keyward.EINVALID:
		status, msg = http.StatusBadRequest, keyward.ErrorMessage(err)
	case keyward.EUNAUTHORIZED:
		status, msg = http.StatusUnauthorized, keyward.ErrorMessage(err)
	case keyward.EFORBIDDEN:
		status, msg = http.StatusForbidden, keyward.ErrorMessage(err)
	case keyward.ENOTFOUND:
		status, msg = http.StatusNotFound, keyward.ErrorMessage(err)
	case keyward.ETOOLARGE:
		status, msg = http.StatusRequestEntityTooLarge, keyward.ErrorMessage(err)
	case keyward.ECONFLICT, keyward.EVERSIONCONFLICT:
		status, msg = http.StatusConflict, keyward.ErrorMessage(err)
	}
	dialect.WriteJSON(w, status, map[string]string{"result": "error", "error": msg})
}

// authed checks the route's scheme (jwt: a login token; key: Basic
// key:secret) before authenticating like the native API.
func (d *api) authed(via string, h func(w http.ResponseWriter, r *http.Request, p *keyward.Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if (via == "jwt" && !strings.EqualFold(scheme, "bearer")) || (via == "key" && !strings.EqualFold(scheme, "basic")) {
			fail(w, keyward.Errorf(keyward.EUNAUTHORIZED, "this endpoint needs %s authentication", map[string]string{"jwt": "JSON Web Token (Bearer)", "key": "API key and secret (Basic)"}[via]))
			return
		}
		p, err := d.host.Authenticate(r)
		if err != nil {
			fail(w, err)
			return
		}
		if via == "jwt" && p.Kind != keyward.KindUser {
			fail(w, keyward.Errorf(keyward.EUNAUTHORIZED, "a user's JSON Web Token is required"))
			return
		}
		h(w, r, p)
	}
}

type createBody struct {
	Name      *string `json:"name"`
	Level     *int    `json:"level"`
	ExpiresIn *int64  `json:"expiresIn"`
}

func (d *api) create(w http.ResponseWriter, r *http.Request, p *keyward.Principal) {
	var in createBody
	if err := dialect.DecodeJSON(r, &in, "the body must be {name, level, expiresIn}"); err != nil {
		fail(w, err)
		return
	}
	switch {
	case in.Name == nil || in.Level == nil || in.ExpiresIn == nil:
		fail(w, keyward.Errorf(keyward.EINVALID, "name, level and expiresIn are required"))
		return
	case *in.ExpiresIn < 1 || *in.ExpiresIn > MaxExpiresIn:
		fail(w, keyward.Errorf(keyward.EINVALID, "expiresIn must be between 1 and %d seconds (one year)", MaxExpiresIn))
		return
	}
	k, err := d.svc.CreateAPIKey(r.Context(), p, keyward.APIKeyInput{Name: in.Name, Level: in.Level, ExpiresIn: in.ExpiresIn})
	if err != nil {
		fail(w, err)
		return
	}
	out := toAPIKey(k.APIKey)
	out.Secret = k.ClientSecret
	w.Header().Set("Cache-Control", "no-store")
	dialect.WriteJSON(w, http.StatusCreated, map[string]any{"result": "success", "apikey": out})
}

// list answers the keys the caller owns.
func (d *api) list(w http.ResponseWriter, r *http.Request, p *keyward.Principal) {
	out := []apikey{}
	for page := 1; p.OwnerID != ""; page++ {
		l, err := d.svc.ListAPIKeys(r.Context(), p, keyward.APIKeyFilter{
			Page: keyward.Page{Number: page, Size: keyward.MaxPageSize}, OwnerID: p.OwnerID, Sort: "createdAt"})
		if err != nil {
			fail(w, err)
			return
		}
		for _, k := range l.Items {
			out = append(out, toAPIKey(k))
		}
		if page >= l.TotalPages() {
			break
		}
	}
	dialect.WriteJSON(w, http.StatusOK, map[string]any{"result": "success", "apikeys": out})
}

func (d *api) get(w http.ResponseWriter, r *http.Request, p *keyward.Principal) {
	k, err := d.svc.GetAPIKey(r.Context(), p, r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	dialect.WriteJSON(w, http.StatusOK, map[string]any{"result": "success", "apikey": toAPIKey(k)})
}

func (d *api) delete(w http.ResponseWriter, r *http.Request, p *keyward.Principal) {
	if _, err := d.svc.DeleteAPIKey(r.Context(), p, r.PathValue("id"), nil); err != nil {
		fail(w, err)
		return
	}
	dialect.WriteJSON(w, http.StatusOK, map[string]any{"result": "success"})
}

// whoami answers the calling key. It reads the key as the key itself may
// (level 1-3 reads own keys): a key owned by nobody answers from the
// principal alone.
func (d *api) whoami(w http.ResponseWriter, r *http.Request, p *keyward.Principal) {
	who, err := d.svc.WhoAmI(r.Context(), p)
	if err != nil {
		fail(w, err)
		return
	}
	dialect.WriteJSON(w, http.StatusOK, map[string]any{"result": "success", "apikey": map[string]any{
		"key": who.ClientID, "level": who.Level, "name": who.Name, "userId": who.OwnerID, "id": who.ID,
	}})
}
