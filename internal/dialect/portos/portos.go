// Package portos speaks Portos' ApiKey API on keyward's Service:
//
//	GET    /apikeys       NData on every member, $skip, $take, $sort, $count → {items, count, totalCount}
//	GET    /apikeys/{id}  → ApiKey
//	POST   /apikeys       → 201 ApiKey with clientSecret
//	PUT    /apikeys/{id}  create (with clientSecret) or update → 200 ApiKey
//	DELETE /apikeys/{id}  → 200 the deleted ApiKey
//
// As the document says: a key is owned by userName (the caller when
// absent; another user only if the caller covers that user), can sign NWS4
// requests from creation (hmacEnabled), and starts inactive unless created
// with isActive: true. PUT without _v updates (last writer wins); with _v it
// must match (409). An update changes only the members Portos models (name,
// description, isActive, userName, deviceName, permissions): expiry, rate
// limit, level, token lifespan and meta stay as they were. Unknown body
// members are ignored, as the original does. A PUT update needs the right
// to update the key (ApiKeyUpdate), not to read it, as the native PATCH.
// Any id that names no key the caller sees — not a UUID, unknown, another tenant's — is 404 {title,
// status}.
//
// Unlike the original, clientSecret appears only when a key is created,
// unless the tenant turned on portosReadableSecrets: then every answer
// carries it for the keys the caller covers, read from the sealed copy and
// audited (Service.ReadableSecrets). The
// rights ApiKeyCreate/ApiKeyUpdate (= apikeys:write) and ApiKeyDelete
// (= apikeys:delete) are built-in aliases, accepted in any case and
// answered as the document spells them. POST and PUT honour an
// Idempotency-Key as the native create does (dialect.Host.Idempotent).
package portos

import (
	"net/http"
	"strings"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect"
	"github.com/keyward/keyward/internal/secret"
)

// Mount adds the Portos routes to mux.
func Mount(mux *http.ServeMux, svc *keyward.Service, host dialect.Host) {
	d := &api{svc: svc, host: host}
	// Portos answers errors as the native API's problems.
	route := func(pattern string, h func(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error) {
		mux.HandleFunc(pattern, dialect.Answer(d.authed(h), host.WriteError))
	}
	route("GET /apikeys", d.list)
	route("GET /apikeys/{id}", d.get)
	// A create (or a PUT that may create) honours Idempotency-Key.
	route("POST /apikeys", host.Idempotent(d.create))
	route("PUT /apikeys/{id}", host.Idempotent(d.put))
	route("DELETE /apikeys/{id}", d.delete)
}

type api struct {
	svc  *keyward.Service
	host dialect.Host
}

func (d *api) authed(h func(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error) dialect.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := d.host.Authenticate(r)
		if err != nil {
			return err
		}
		return d.host.Serve(w, r, p, h)
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
		perms = append(perms, portosName(p.Name))
	}
	return apiKey{ID: k.ID, ClientID: k.ClientID, ClientSecret: secret, IsActive: k.IsActive, CreatedAt: k.CreatedAt,
		Name: k.Name, Description: k.Description, UserName: k.UserName, DeviceName: k.DeviceName, Permissions: perms, V: k.Version}
}

// body is an ApiKey as clients send it. Read-only members (clientSecret,
// createdAt) are accepted so a fetched model can be sent back, and
// ignored; id and clientId must match the key's.
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

// rightAliases spell the document's rights (ApiKeyCreate, ...) as the
// catalog's built-in aliases, whatever their case.
var rightAliases = map[string]string{"apikeycreate": "apiKeyCreate", "apikeyupdate": "apiKeyUpdate", "apikeydelete": "apiKeyDelete"}

// catalogName is the catalog's name for a right a Portos client names.
func catalogName(n string) string {
	if a, ok := rightAliases[strings.ToLower(n)]; ok {
		return a
	}
	return n
}

// portosName is the document's spelling of a catalog name: the built-in
// aliases as Portos writes its rights (ApiKeyCreate), others as they are.
func portosName(n string) string {
	if a, ok := rightAliases[strings.ToLower(n)]; ok && a == n {
		return strings.ToUpper(n[:1]) + n[1:]
	}
	return n
}

// input is the change b asks for: only the members Portos models, so that
// an update leaves everything else (expiry, rate limit, level, token
// lifespan, meta) as it was. An empty userName (what a read of an ownerless
// key shows) leaves the owner as it is.
func (b body) input() keyward.APIKeyInput {
	in := keyward.APIKeyInput{Name: b.Name, Description: b.Description, IsActive: b.IsActive, DeviceName: b.DeviceName}
	if b.UserName != nil && *b.UserName != "" {
		in.OwnerUserName = b.UserName
	}
	if b.Permissions != nil {
		refs := []keyward.PermissionRef{}
		for _, n := range *b.Permissions {
			refs = append(refs, keyward.PermissionRef{Name: catalogName(n)})
		}
		in.Permissions = &refs
	}
	return in
}

// creation is what a key made through Portos starts as: signing NWS4
// (hmacEnabled, so the sealed secret exists), inactive until the client
// activates it, owned by userName or the caller.
func (b body) creation() keyward.APIKeyInput {
	in := b.input()
	on, off := true, false
	in.HMACEnabled = &on
	if in.IsActive == nil {
		in.IsActive = &off
	}
	actAsOwner(&in)
	return in
}

// actAsOwner makes a Portos key act with its owner's current rights ("the
// request will be executed within the context of the user specified by
// their userName"): the caller must cover that user (policy.go).
func actAsOwner(in *keyward.APIKeyInput) {
	on := true
	in.ActsAsOwner = &on
}

// notFound is the answer for any id that names no key the caller sees.
var notFound = keyward.Errorf(keyward.ENOTFOUND, "api key not found")

// keyID returns id, or ENOTFOUND when it cannot be a key's id.
func keyID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !secret.ValidID(id) {
		return "", notFound
	}
	return id, nil
}

const shape = "the body must be an ApiKey: {name, description, isActive, userName, deviceName, permissions, _v}"

func (d *api) list(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	q, err := ParseQuery(r.URL.RawQuery)
	if err != nil {
		return err
	}
	l, err := d.svc.ListAPIKeys(r.Context(), p, keyward.APIKeyFilter{ExactCount: true,
		Page: keyward.Page{Skip: q.Skip, Size: q.Take}, Sort: q.Sort, Conditions: q.Conditions})
	if err != nil {
		return err
	}
	if q.CountOnly {
		// The number of items the query would answer, without MaxTake's cap.
		n := max(l.TotalCount-q.Skip, 0)
		if q.TakeGiven {
			n = min(n, q.Take)
		}
		dialect.WriteJSON(w, http.StatusOK, map[string]int{"count": n, "totalCount": l.TotalCount})
		return nil
	}
	secrets, err := d.svc.ReadableSecrets(r.Context(), p, l.Items)
	if err != nil {
		return err
	}
	items := []apiKey{}
	for _, k := range l.Items {
		items = append(items, toAPIKey(k, secrets[k.ID]))
	}
	if len(secrets) > 0 {
		w.Header().Set("Cache-Control", "no-store")
	}
	dialect.WriteJSON(w, http.StatusOK, map[string]any{"items": items, "count": len(items), "totalCount": l.TotalCount})
	return nil
}

func (d *api) get(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	id, err := keyID(r)
	if err != nil {
		return err
	}
	k, err := d.svc.GetAPIKey(r.Context(), p, id)
	if err != nil {
		return err
	}
	return d.answer(w, r, p, http.StatusOK, k)
}

func (d *api) create(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	var b body
	if err := dialect.DecodeJSON(r, &b, shape); err != nil {
		return err
	}
	if (b.ID != nil && *b.ID != "") || (b.ClientID != nil && *b.ClientID != "") {
		return keyward.Invalid(keyward.FieldError{Field: "id", Message: "id and clientId are assigned by the server"})
	}
	k, err := d.svc.CreateAPIKey(r.Context(), p, b.creation())
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	dialect.WriteJSON(w, http.StatusCreated, toAPIKey(k.APIKey, k.ClientSecret))
	return nil
}

// put creates the key with this id, or updates the members Portos models;
// with _v, only if it is the key's version (else 409).
func (d *api) put(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	var b body
	if err := dialect.DecodeJSON(r, &b, shape); err != nil {
		return err
	}
	id, err := keyID(r)
	if err != nil {
		return err
	}
	if b.ID != nil && *b.ID != id {
		return keyward.Invalid(keyward.FieldError{Field: "id", Message: "differs from the id in the path"})
	}
	// A caller that may update the key (ApiKeyUpdate) sees it here, as
	// the native PATCH does, even without a right to read it.
	existing, err := d.svc.KeyToChange(r.Context(), p, id)
	if keyward.ErrorCode(err) == keyward.ENOTFOUND {
		if b.ClientID != nil && *b.ClientID != "" {
			return keyward.Invalid(keyward.FieldError{Field: "clientId", Message: "is assigned by the server"})
		}
		var k *keyward.IssuedKey
		var created bool
		k, created, err = d.svc.ReplaceAPIKey(r.Context(), p, id, b.creation(), nil, nil)
		if code := keyward.ErrorCode(err); code == keyward.EVERSIONCONFLICT || code == keyward.ENOTFOUND {
			// Maybe created concurrently in this tenant since we looked (a
			// key the caller may not see is 404; ids of other tenants'
			// keys are free here): if the caller now sees the key, this
			// PUT updates it.
			existing, err = d.svc.KeyToChange(r.Context(), p, id)
		} else if err == nil {
			out := toAPIKey(k.APIKey, "")
			if created {
				w.Header().Set("Cache-Control", "no-store")
				out.ClientSecret = k.ClientSecret
			}
			dialect.WriteJSON(w, http.StatusOK, out)
			return nil
		}
	}
	if err != nil {
		return err
	}
	if b.ClientID != nil && *b.ClientID != existing.ClientID {
		return keyward.Invalid(keyward.FieldError{Field: "clientId", Message: "is immutable"})
	}
	k, err := d.svc.UpdateAPIKey(r.Context(), p, id, b.input(), b.V)
	if keyward.ErrorCode(err) == keyward.EPRECONDITION {
		err = keyward.Errorf(keyward.EVERSIONCONFLICT, "_v is %d, not %d: read the key again", existing.Version, *b.V)
	}
	if err != nil {
		return dialect.RenameField(err, "version", "_v")
	}
	return d.answer(w, r, p, http.StatusOK, k)
}

func (d *api) delete(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	id, err := keyID(r)
	if err != nil {
		return err
	}
	k, err := d.svc.DeleteAPIKey(r.Context(), p, id, nil)
	if err != nil {
		return err
	}
	return d.answer(w, r, p, http.StatusOK, k)
}

// answer writes k with its secret when the tenant lets the caller read it.
func (d *api) answer(w http.ResponseWriter, r *http.Request, p *keyward.Principal, status int, k *keyward.APIKey) error {
	secrets, err := d.svc.ReadableSecrets(r.Context(), p, []*keyward.APIKey{k})
	if err != nil {
		return err
	}
	if secrets[k.ID] != "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	dialect.WriteJSON(w, status, toAPIKey(k, secrets[k.ID]))
	return nil
}
