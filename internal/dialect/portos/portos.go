// Package portos speaks Portos' ApiKey API on keyward's Service:
//
//	GET    /apikeys       NData filters (id, isActive, name, createdAt), $skip, $take, $sort, $count → {items, count, totalCount}
//	GET    /apikeys/{id}  → ApiKey
//	POST   /apikeys       → 201 ApiKey with clientSecret (shown only here)
//	PUT    /apikeys/{id}  create (with clientSecret) or update (_v must match) → 200 ApiKey
//	DELETE /apikeys/{id}  → 200 the deleted ApiKey
//
// Unlike the original, clientSecret appears only when a key is created.
// The rights ApiKeyCreate/ApiKeyUpdate (= apikeys:write) and ApiKeyDelete
// (= apikeys:delete) are built-in aliases. A key runs in the context of its
// owner (userName) and device (deviceName). Errors are problems with
// title and status, as Portos answers them.
package portos

import (
	"net/http"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect"
)

// Mount adds the Portos routes to mux.
func Mount(mux *http.ServeMux, svc *keyward.Service, host dialect.Host) {
	d := &api{svc: svc, host: host}
	mux.HandleFunc("GET /apikeys", d.authed(d.list))
	mux.HandleFunc("GET /apikeys/{id}", d.authed(d.get))
	mux.HandleFunc("POST /apikeys", d.authed(d.create))
	mux.HandleFunc("PUT /apikeys/{id}", d.authed(d.put))
	mux.HandleFunc("DELETE /apikeys/{id}", d.authed(d.delete))
}

type api struct {
	svc  *keyward.Service
	host dialect.Host
}

func (d *api) authed(h func(w http.ResponseWriter, r *http.Request, p *keyward.Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := d.host.Authenticate(r)
		if err != nil {
			d.host.WriteError(w, r, err)
			return
		}
		h(w, r, p)
	}
}

// apiKey is Portos' ApiKey model.
type apiKey struct {
	ID           string    `json:"id"`
	ClientID     string    `json:"clientId"`
	ClientSecret string    `json:"clientSecret,omitempty"`
	IsActive     bool      `json:"isActive"`
	CreatedAt    time.Time `json:"createdAt"`
	Name         string    `json:"name"`
	Description  string    `json:"description"`
	UserName     string    `json:"userName"`
	DeviceName   string    `json:"deviceName"`
	Permissions  []string  `json:"permissions"`
	V            int       `json:"_v"`
}

func toAPIKey(k *keyward.APIKey, secret string) apiKey {
	perms := []string{}
	for _, p := range k.Permissions {
		perms = append(perms, p.Name)
	}
	return apiKey{ID: k.ID, ClientID: k.ClientID, ClientSecret: secret, IsActive: k.IsActive, CreatedAt: k.CreatedAt,
		Name: k.Name, Description: k.Description, UserName: k.UserName, DeviceName: k.DeviceName, Permissions: perms, V: k.Version}
}

// body is an ApiKey as clients send it. Read-only members (clientSecret,
// createdAt, userName) are accepted so a fetched model can be sent back,
// and ignored; id and clientId must match the key's.
type body struct {
	ID           *string   `json:"id"`
	ClientID     *string   `json:"clientId"`
	ClientSecret *string   `json:"clientSecret"`
	IsActive     *bool     `json:"isActive"`
	CreatedAt    *string   `json:"createdAt"`
	Name         *string   `json:"name"`
	Description  *string   `json:"description"`
	UserName     *string   `json:"userName"`
	DeviceName   *string   `json:"deviceName"`
	Permissions  *[]string `json:"permissions"`
	V            *int      `json:"_v"`
}

func (b body) input() keyward.APIKeyInput {
	in := keyward.APIKeyInput{Name: b.Name, Description: b.Description, IsActive: b.IsActive, DeviceName: b.DeviceName}
	if b.Permissions != nil {
		refs := []keyward.PermissionRef{}
		for _, n := range *b.Permissions {
			refs = append(refs, keyward.PermissionRef{Name: n})
		}
		in.Permissions = &refs
	}
	return in
}

const shape = "the body must be an ApiKey: {name, description, isActive, deviceName, permissions, _v}"

func (d *api) list(w http.ResponseWriter, r *http.Request, p *keyward.Principal) {
	q, err := ParseQuery(r.URL.RawQuery)
	if err != nil {
		d.host.WriteError(w, r, err)
		return
	}
	l, err := d.svc.ListAPIKeys(r.Context(), p, keyward.APIKeyFilter{
		Page: keyward.Page{Skip: q.Skip, Size: q.Take}, Sort: q.Sort, Conditions: q.Conditions})
	if err != nil {
		d.host.WriteError(w, r, err)
		return
	}
	if q.CountOnly {
		n := min(max(l.TotalCount-q.Skip, 0), q.Take)
		dialect.WriteJSON(w, http.StatusOK, map[string]int{"count": n, "totalCount": l.TotalCount})
		return
	}
	items := []apiKey{}
	for _, k := range l.Items {
		items = append(items, toAPIKey(k, ""))
	}
	dialect.WriteJSON(w, http.StatusOK, map[string]any{"items": items, "count": len(items), "totalCount": l.TotalCount})
}

func (d *api) get(w http.ResponseWriter, r *http.Request, p *keyward.Principal) {
	k, err := d.svc.GetAPIKey(r.Context(), p, r.PathValue("id"))
	if err != nil {
		d.host.WriteError(w, r, err)
		return
	}
	dialect.WriteJSON(w, http.StatusOK, toAPIKey(k, ""))
}

func (d *api) create(w http.ResponseWriter, r *http.Request, p *keyward.Principal) {
	var b body
	if err := dialect.DecodeJSON(r, &b, shape); err != nil {
		d.host.WriteError(w, r, err)
		return
	}
	if b.ID != nil || b.ClientID != nil {
		d.host.WriteError(w, r, keyward.Invalid(keyward.FieldError{Field: "id", Message: "id and clientId are assigned by the server"}))
		return
	}
	k, err := d.svc.CreateAPIKey(r.Context(), p, b.input())
	if err != nil {
		d.host.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	dialect.WriteJSON(w, http.StatusCreated, toAPIKey(k.APIKey, k.ClientSecret))
}

// put creates the key with this id, or updates it when _v matches.
func (d *api) put(w http.ResponseWriter, r *http.Request, p *keyward.Principal) {
	var b body
	if err := dialect.DecodeJSON(r, &b, shape); err != nil {
		d.host.WriteError(w, r, err)
		return
	}
	id := r.PathValue("id")
	if b.ID != nil && *b.ID != id {
		d.host.WriteError(w, r, keyward.Invalid(keyward.FieldError{Field: "id", Message: "differs from the id in the path"}))
		return
	}
	in := b.input()
	if b.ClientID != nil {
		if existing, err := d.svc.GetAPIKey(r.Context(), p, id); err == nil && existing.ClientID != *b.ClientID {
			d.host.WriteError(w, r, keyward.Invalid(keyward.FieldError{Field: "clientId", Message: "is immutable"}))
			return
		}
	}
	k, created, err := d.svc.ReplaceAPIKey(r.Context(), p, id, in, b.V, nil)
	if err != nil {
		d.host.WriteError(w, r, dialect.RenameField(err, "version", "_v"))
		return
	}
	out := toAPIKey(k.APIKey, "")
	if created {
		w.Header().Set("Cache-Control", "no-store")
		out.ClientSecret = k.ClientSecret
	}
	dialect.WriteJSON(w, http.StatusOK, out)
}

func (d *api) delete(w http.ResponseWriter, r *http.Request, p *keyward.Principal) {
	k, err := d.svc.DeleteAPIKey(r.Context(), p, r.PathValue("id"), nil)
	if err != nil {
		d.host.WriteError(w, r, err)
		return
	}
	dialect.WriteJSON(w, http.StatusOK, toAPIKey(k, ""))
}
