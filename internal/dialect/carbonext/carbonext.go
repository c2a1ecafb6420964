// Package carbonext speaks the Carbonext B2B API's application (M2M key)
// endpoints and its Keycloak-style token endpoint on keyward's Service.
//
//	POST /v1/customers/applications?customer-id=   {clientId, displayName, permissions: [{id}]} → 201 {id, clientId, clientSecret}
//	GET  /v1/customers/applications?page=&page-size= → {items, pageIndex, totalPages, totalCount, aggregations, hasPreviousPage, hasNextPage}
//	GET  /v1/customers/applications/{id}            → {id, clientId, displayName, permissions: [Keycloak role objects]}
//	POST /auth/realms/{tenant}/protocol/openid-connect/token  (client credentials; Keycloak's response fields)
//
// GET /v1/permissions is the native route, whose items are already Keycloak
// role objects. customer-id is the tenant (its id or name); the documented
// rights customer_applications_write and customer_applications_read are
// built-in aliases of apikeys:read + apikeys:write + apikeys:delete (the
// document lists write for List and Fetch too) and apikeys:read. clientId
// keeps its case; permissions may be [{id}], [{name}] or full role objects
// (matched by id, then name); unknown body members are ignored. The create
// honours an Idempotency-Key as the native create does
// (dialect.Host.Idempotent).
package carbonext

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect"
	"github.com/keyward/keyward/internal/gate"
	"github.com/keyward/keyward/internal/secret"
)

// Mount adds the Carbonext routes to mux.
func Mount(mux *http.ServeMux, svc *keyward.Service, host dialect.Host) {
	d := &api{svc: svc, host: host}
	// The application routes answer errors as the native API's problems;
	// the token endpoint in Keycloak's shape.
	// A create honours Idempotency-Key.
	mux.HandleFunc("POST /v1/customers/applications", dialect.Answer(d.authed(host.Idempotent(d.create)), host.WriteError))
	mux.HandleFunc("GET /v1/customers/applications", dialect.Answer(d.authed(d.list), host.WriteError))
	mux.HandleFunc("GET /v1/customers/applications/{id}", dialect.Answer(d.authed(d.get), host.WriteError))
	mux.HandleFunc("POST /auth/realms/{tenant}/protocol/openid-connect/token", dialect.Answer(d.token, d.tokenError))
}

type api struct {
	svc  *keyward.Service
	host dialect.Host
}

// principal authenticates r and moves it into the customer-id tenant.
func (d *api) principal(r *http.Request) (*keyward.Principal, error) {
	p, err := d.host.Authenticate(r)
	if err == nil {
		if c := r.URL.Query().Get("customer-id"); c != "" {
			p, err = d.svc.InTenant(r.Context(), p, c)
		}
	}
	return p, err
}

// authed runs h for the principal of r (in the customer-id tenant), as the
// native API runs its handlers (dialect.Host.Serve).
func (d *api) authed(h func(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error) dialect.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := d.principal(r)
		if err != nil {
			return err
		}
		return d.host.Serve(w, r, p, h)
	}
}

// createBody is an application as Carbonext clients send it. permissions
// may be [{id}], [{name}], or the full role objects a Fetch returns.
type createBody struct {
	ClientID    *string   `json:"clientId"`
	DisplayName *string   `json:"displayName"`
	Permissions []roleRef `json:"permissions"`
}

// roleRef names a role by id, else by name; a role object's other members
// (description, composite, ...) are ignored.
type roleRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// created is the documented answer: the secret appears here only.
type created struct {
	ID           string `json:"id"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

func (d *api) create(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	var in createBody
	if err := dialect.DecodeJSON(r, &in, "the body must be an application: {clientId, displayName, permissions: [{id}]}"); err != nil {
		return err
	}
	perms := []keyward.PermissionRef{}
	for _, r := range in.Permissions {
		if r.ID != "" {
			perms = append(perms, keyward.PermissionRef{ID: r.ID})
		} else {
			perms = append(perms, keyward.PermissionRef{Name: r.Name})
		}
	}
	k, err := d.svc.CreateAPIKey(r.Context(), p, keyward.APIKeyInput{
		Name: in.DisplayName, ClientID: keyward.OptionalOf(in.ClientID), Permissions: &perms,
	})
	if keyward.ErrorCode(err) == keyward.ECONFLICT && in.ClientID != nil {
		// Client ids are unique across tenants; never say whose it is.
		err = keyward.Errorf(keyward.ECONFLICT, "clientId %s is not available: choose another", *in.ClientID)
	}
	if err != nil {
		return dialect.RenameField(err, "name", "displayName")
	}
	w.Header().Set("Cache-Control", "no-store")
	dialect.WriteJSON(w, http.StatusCreated, created{ID: k.ID, ClientID: k.ClientID, ClientSecret: k.ClientSecret})
	return nil
}

// application is a list item.
type application struct {
	ID          string `json:"id"`
	ClientID    string `json:"clientId"`
	DisplayName string `json:"displayName"`
}

// page is Carbonext's paginated list.
type page struct {
	Items           []application `json:"items"`
	PageIndex       int           `json:"pageIndex"`
	PageSize        int           `json:"pageSize"`
	TotalPages      int           `json:"totalPages"`
	TotalCount      int           `json:"totalCount"`
	Aggregations    any           `json:"aggregations"`
	HasPreviousPage bool          `json:"hasPreviousPage"`
	HasNextPage     bool          `json:"hasNextPage"`
}

func (d *api) list(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	q := r.URL.Query()
	num, size := 1, keyward.DefaultPageSize
	var err error
	if v := q.Get("page"); v != "" {
		if num, err = strconv.Atoi(v); err != nil {
			return keyward.Invalid(keyward.FieldError{Field: "page", Message: "must be an integer"})
		}
	}
	if v := q.Get("page-size"); v != "" {
		if size, err = strconv.Atoi(v); err != nil {
			return keyward.Invalid(keyward.FieldError{Field: "page-size", Message: "must be an integer"})
		}
	}
	l, err := d.svc.ListAPIKeys(r.Context(), p, keyward.APIKeyFilter{ExactCount: true, Page: keyward.Page{Number: num, Size: size}, Sort: "createdAt"})
	if err != nil {
		return err
	}
	out := page{Items: []application{}, PageIndex: num, PageSize: size, TotalPages: l.TotalPages(), TotalCount: l.TotalCount}
	out.HasPreviousPage, out.HasNextPage = num > 1, num < out.TotalPages
	for _, k := range l.Items {
		out.Items = append(out.Items, application{ID: k.ID, ClientID: k.ClientID, DisplayName: k.Name})
	}
	dialect.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (d *api) get(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	id := r.PathValue("id")
	if !secret.ValidID(id) {
		return keyward.Errorf(keyward.ENOTFOUND, "application not found")
	}
	k, err := d.svc.GetAPIKey(r.Context(), p, id)
	if err != nil {
		return err
	}
	roles := []role{}
	for _, p := range k.Permissions {
		roles = append(roles, role{ID: p.ID, Name: p.Name, Description: p.Description, Composite: p.Composite,
			ClientRole: p.ClientRole, ContainerID: p.ContainerID, Attributes: p.Attributes})
	}
	dialect.WriteJSON(w, http.StatusOK, struct {
		application
		Permissions []role `json:"permissions"`
	}{application{ID: k.ID, ClientID: k.ClientID, DisplayName: k.Name}, roles})
	return nil
}

// role is a Keycloak role object, the shape of an application's permissions.
type role struct {
	ID          string              `json:"id"`
	Name        string              `json:"name"`
	Description *string             `json:"description"`
	Composite   bool                `json:"composite"`
	ClientRole  bool                `json:"clientRole"`
	ContainerID string              `json:"containerId"`
	Attributes  map[string][]string `json:"attributes"`
}

// token is Keycloak's client credentials endpoint of realm {tenant}.
func (d *api) token(w http.ResponseWriter, r *http.Request) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	form, perr := url.ParseQuery(string(body))
	if mt != "application/x-www-form-urlencoded" || err != nil || perr != nil {
		return &keycloakError{http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded"}
	}
	if err := errors.Join(gate.Request(r), gate.Form(form)); err != nil {
		return &keycloakError{http.StatusBadRequest, "invalid_request", keyward.ErrorMessage(err)}
	}
	// A parameter given twice (RFC 6749 §3.2) and a second credential
	// (§2.3) are refused, not settled by taking the first.
	for name, vals := range form {
		if len(vals) > 1 && name != "resource" && name != "audience" { // RFC 8707 repeats resource
			return &keycloakError{http.StatusBadRequest, "invalid_request", "parameter " + name + " is given more than once"}
		}
	}
	if err := keyward.OneCredential(r.Header); err != nil {
		return &keycloakError{http.StatusBadRequest, "invalid_request", keyward.ErrorMessage(err)}
	}
	if form.Get("grant_type") != "client_credentials" {
		return &keycloakError{http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported"}
	}
	id, sec := form.Get("client_id"), form.Get("client_secret")
	u, pw, basic := r.BasicAuth()
	if basic {
		u, pw = dialect.FormDecode(u), dialect.FormDecode(pw)
	}
	switch {
	case basic && form.Has("client_id") && form.Get("client_id") != u:
		return &keycloakError{http.StatusBadRequest, "invalid_request", "client_id does not match the Basic credentials"}
	case form.Has("client_secret") && keyward.HeaderCredentials(r.Header) > 0:
		return &keycloakError{http.StatusBadRequest, "invalid_request", "use one client authentication method, not two"}
	case basic:
		id, sec = u, pw
	}
	audiences, err := keyward.RequestedAudiences(form)
	if err != nil {
		return &keycloakError{http.StatusBadRequest, "invalid_target", keyward.ErrorMessage(err)}
	}
	var res *keyward.TokenResponse
	err = d.svc.Attempt(r.Context(), d.host.ClientIP(r), func() (err error) {
		res, err = d.svc.IssueTokenInTenant(r.Context(), r.PathValue("tenant"), id, sec, form.Get("scope"), audiences...)
		return err
	})
	switch keyward.ErrorCode(err) {
	case "":
	case keyward.EINVALIDCLIENT:
		return &keycloakError{http.StatusUnauthorized, "unauthorized_client", "Invalid client or Invalid client credentials"}
	case keyward.EINVALIDSCOPE:
		return &keycloakError{http.StatusBadRequest, "invalid_scope", keyward.ErrorMessage(err)}
	case keyward.EINVALIDTARGET:
		return &keycloakError{http.StatusBadRequest, "invalid_target", keyward.ErrorMessage(err)}
	default:
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	dialect.WriteJSON(w, http.StatusOK, map[string]any{
		"access_token": res.AccessToken, "expires_in": res.ExpiresIn, "refresh_expires_in": 0,
		"token_type": res.TokenType, "not-before-policy": 0, "scope": res.Scope,
	})
	return nil
}

// keycloakError is a refusal of the token endpoint that Keycloak answers
// with its own status and code, whatever the native table says: bad input,
// and credentials that do not authenticate (401 without a challenge).
type keycloakError struct {
	status     int
	code, desc string
}

func (e *keycloakError) Error() string { return e.code + ": " + e.desc }

// tokenError, the token endpoint's one error adapter, answers err in
// Keycloak's shape {error, error_description}: a keycloakError as it is,
// any other with the native status and headers: a refused address or a
// limited key is 429 and a dependency down 503, both
// "temporarily_unavailable" with Retry-After; internal errors are
// "server_error" without detail.
func (d *api) tokenError(w http.ResponseWriter, r *http.Request, err error) {
	var ke *keycloakError
	if errors.As(err, &ke) {
		w.Header().Set("Cache-Control", "no-store")
		dialect.WriteJSON(w, ke.status, map[string]string{"error": ke.code, "error_description": ke.desc})
		return
	}
	status := d.host.ErrorStatus(w, r, err)
	code, msg := "invalid_request", keyward.ErrorMessage(err)
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		code = "unauthorized_client" // 403: the client's address is not allowed
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		code = "temporarily_unavailable"
	case http.StatusInternalServerError:
		code, msg = "server_error", "internal error"
	}
	w.Header().Set("Cache-Control", "no-store")
	dialect.WriteJSON(w, status, map[string]string{"error": code, "error_description": msg})
}
