// Package freesewing speaks the FreeSewing backend's API-key endpoints on
// keyward's Service. Each route exists twice: .../jwt for a user's login
// token (Authorization: Bearer, from POST /v1/login), .../key for an API key
// (Authorization: Basic key:secret).
//
//	POST   /apikeys/jwt|key        {name, level, expiresIn} → 201 {result: "success", apikey: {key, secret, level, expiresAt, name, userId}}
//	GET    /apikeys/jwt|key        → {result, apikeys: [...]}   the caller's own keys
//	GET    /apikeys/{id}/jwt|key   → {result, apikey}           {id}: the key's id or its key (clientId)
//	DELETE /apikeys/{id}/jwt|key   → {result}
//	GET    /whoami/key             → {result, apikey}           the calling key
//
// Errors are {result: "error", error} with the document's statuses: 400 the
// request was malformed, 401 the request lacks authentication (none, or not
// the route's scheme), 403 authentication failed or the caller may not do
// this, 404 no such key; 429 and 503 carry Retry-After. level and expiresIn
// are numbers: 2.0 and 3600.0 are accepted as 2 and 3600. userId is a
// number, as in the original: a stable per-tenant number for each user
// (keyward's users have UUIDs; see UserNumber). Unlike the original, level
// 0 is a valid level, expiresIn is bounded (1 s to 1 year), expired keys
// fail, and a key never mints a key above its own level or with rights it
// lacks: those rules are the Service's. POST /apikeys/jwt|key honours an
// Idempotency-Key as the native create does (dialect.Host.Idempotent).
package freesewing

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect"
	"github.com/keyward/keyward/internal/secret"
)

// MaxExpiresIn bounds expiresIn: one year, in seconds.
const MaxExpiresIn = 365 * 24 * 3600

// Mount adds the FreeSewing routes to mux.
func Mount(mux *http.ServeMux, svc *keyward.Service, host dialect.Host) {
	d := &api{svc: svc, host: host}
	route := func(pattern, via string, h func(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error) {
		mux.HandleFunc(pattern, dialect.Answer(d.authed(via, h), d.fail))
	}
	for _, via := range []string{"jwt", "key"} {
		route("POST /apikeys/"+via, via, host.Idempotent(d.create))
		route("GET /apikeys/"+via, via, d.list)
		route("GET /apikeys/{id}/"+via, via, d.get)
		route("DELETE /apikeys/{id}/"+via, via, d.delete)
	}
	route("GET /whoami/key", "key", d.whoami)
}

type api struct {
	svc  *keyward.Service
	host dialect.Host
}

// apikey is FreeSewing's key object; Secret only in the create answer.
// UserID is null for a key that no user owns (made on the native API).
type apikey struct {
	Key       string     `json:"key"`
	Secret    string     `json:"secret,omitempty"`
	Level     int        `json:"level"`
	ExpiresAt *time.Time `json:"expiresAt"`
	Name      string     `json:"name"`
	UserID    *int64     `json:"userId"`
	ID        string     `json:"id"`
}

// UserNumber is the number FreeSewing clients see as a user's userId:
// derived from the tenant and user ids, so it is stable, needs no storage,
// and is a positive integer below 2^53 (exact in JavaScript). Nil for no
// user.
func UserNumber(tenantID, userID string) *int64 {
	if userID == "" {
		return nil
	}
	h := sha256.Sum256([]byte(tenantID + "/" + userID))
	n := int64(binary.BigEndian.Uint64(h[:8]) >> 11)
	if n == 0 {
		n = 1
	}
	return &n
}

func toAPIKey(k *keyward.APIKey) apikey {
	return apikey{Key: k.ClientID, Level: k.Level, ExpiresAt: k.ExpiresAt, Name: k.Name,
		UserID: UserNumber(k.TenantID, k.OwnerID), ID: k.ID}
}

// fail, the dialect's one error adapter, answers FreeSewing's error shape with the native API's status and
// headers for err (Retry-After on 429 and 503), except that credentials
// that do not authenticate are 403 ("authentication failed"), as the
// document lists them; 401 is kept for a request without authentication.
func (d *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := d.host.ErrorStatus(w, r, err)
	msg := keyward.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		msg = "internal error"
	}
	dialect.WriteJSON(w, status, map[string]string{"result": "error", "error": msg})
}

// authed checks the route's scheme (jwt: a login token; key: Basic
// key:secret) before authenticating like the native API.
func (d *api) authed(via string, h func(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error) dialect.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if (via == "jwt" && !strings.EqualFold(scheme, "bearer")) || (via == "key" && !strings.EqualFold(scheme, "basic")) {
			return keyward.Errorf(keyward.EUNAUTHORIZED, "this endpoint needs %s authentication", map[string]string{"jwt": "JSON Web Token (Bearer)", "key": "API key and secret (Basic)"}[via])
		}
		p, err := d.host.Authenticate(r)
		if err == nil && via == "jwt" && p.Kind != keyward.KindUser {
			err = keyward.Errorf(keyward.EUNAUTHORIZED, "a user's JSON Web Token is required")
		}
		if err != nil {
			switch keyward.ErrorCode(err) {
			case keyward.EINVALID, keyward.ESIGMALFORMED, keyward.ETOOLARGE, keyward.EBODYTOOLARGE, keyward.ERATELIMITED, keyward.EUSAGEEXCEEDED,
				keyward.EUNAVAILABLE, keyward.ELIMITERDOWN, keyward.EDBUNAVAILABLE, keyward.EINTERNAL:
				// Bad input, or a refusal that is not about the credentials.
			default:
				// Credentials were given and failed: the document's 403.
				err = keyward.Errorf(keyward.EFORBIDDEN, "authentication failed: %s", keyward.ErrorMessage(err))
			}
			return err
		}
		return d.host.Serve(w, r, p, h)
	}
}

// keyID returns the id of the key that ref names: its id, or its key
// (clientId), which FreeSewing clients hold. A key the caller cannot see
// is ENOTFOUND, as is anything else.
func (d *api) keyID(r *http.Request, p *keyward.Principal, ref string) (string, error) {
	if secret.ValidID(ref) {
		return ref, nil
	}
	l, err := d.svc.ListAPIKeys(r.Context(), p, keyward.APIKeyFilter{ExactCount: true, Page: keyward.Page{Size: 1},
		Conditions: []keyward.Condition{{Field: "clientId", Op: "eq", Values: []any{ref}}}})
	switch {
	case err == nil && len(l.Items) == 1:
		return l.Items[0].ID, nil
	case err == nil, keyward.ErrorCode(err) == keyward.EFORBIDDEN, keyward.ErrorCode(err) == keyward.EINVALID:
		return "", keyward.Errorf(keyward.ENOTFOUND, "api key not found")
	}
	return "", err
}

type createBody struct {
	Name      *string      `json:"name"`
	Level     *json.Number `json:"level"`
	ExpiresIn *json.Number `json:"expiresIn"`
}

func (d *api) create(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	var in createBody
	if err := dialect.DecodeJSON(r, &in, "the body must be {name, level, expiresIn}"); err != nil {
		return err
	}
	if in.Name == nil || in.Level == nil || in.ExpiresIn == nil {
		return keyward.Errorf(keyward.EINVALID, "name, level and expiresIn are required")
	}
	level, err := dialect.Whole(*in.Level, "level", 0, 8)
	if err != nil {
		return err
	}
	expiresIn, err := dialect.Whole(*in.ExpiresIn, "expiresIn", 1, MaxExpiresIn)
	if err != nil {
		return keyward.Errorf(keyward.EINVALID, "expiresIn must be a whole number of seconds from 1 to %d (one year)", MaxExpiresIn)
	}
	lv := int(level)
	k, err := d.svc.CreateAPIKey(r.Context(), p, keyward.APIKeyInput{Name: in.Name, Level: &lv, ExpiresIn: &expiresIn})
	if err != nil {
		return err
	}
	out := toAPIKey(k.APIKey)
	out.Secret = k.ClientSecret
	w.Header().Set("Cache-Control", "no-store")
	dialect.WriteJSON(w, http.StatusCreated, map[string]any{"result": "success", "apikey": out})
	return nil
}

// list answers the keys the caller owns.
func (d *api) list(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	out := []apikey{}
	for page := 1; p.OwnerID != ""; page++ {
		l, err := d.svc.ListAPIKeys(r.Context(), p, keyward.APIKeyFilter{ExactCount: true,
			Page: keyward.Page{Number: page, Size: keyward.MaxPageSize}, OwnerID: p.OwnerID, Sort: "createdAt"})
		if err != nil {
			return err
		}
		for _, k := range l.Items {
			out = append(out, toAPIKey(k))
		}
		if page >= l.TotalPages() {
			break
		}
	}
	dialect.WriteJSON(w, http.StatusOK, map[string]any{"result": "success", "apikeys": out})
	return nil
}

func (d *api) get(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	id, err := d.keyID(r, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	k, err := d.svc.GetAPIKey(r.Context(), p, id)
	if err != nil {
		return err
	}
	dialect.WriteJSON(w, http.StatusOK, map[string]any{"result": "success", "apikey": toAPIKey(k)})
	return nil
}

func (d *api) delete(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	id, err := d.keyID(r, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if _, err := d.svc.DeleteAPIKey(r.Context(), p, id, nil); err != nil {
		return err
	}
	dialect.WriteJSON(w, http.StatusOK, map[string]any{"result": "success"})
	return nil
}

// whoami answers the calling key. It reads the key as the key itself may
// (level 1-3 reads own keys): a key owned by nobody answers from the
// principal alone.
func (d *api) whoami(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	who, err := d.svc.WhoAmI(r.Context(), p)
	if err != nil {
		return err
	}
	dialect.WriteJSON(w, http.StatusOK, map[string]any{"result": "success", "apikey": map[string]any{
		"key": who.ClientID, "level": who.Level, "name": who.Name, "userId": UserNumber(who.TenantID, who.OwnerID), "id": who.ID,
	}})
	return nil
}
