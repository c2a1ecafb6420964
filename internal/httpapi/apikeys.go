package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/keyward/keyward"
)

// createAPIKey serves POST /v1/apikeys: 201 with the key and its secret.
func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request, p *keyward.Principal) {
	var in keyward.APIKeyInput
	if _, err := decode(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	k, err := s.svc.CreateAPIKey(r.Context(), p, in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/apikeys/"+k.ID)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("ETag", etag(k.Version))
	encode(w, http.StatusCreated, k)
}

// listAPIKeys serves GET /v1/apikeys.
func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request, p *keyward.Principal) {
	page, err := pageOf(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	l, err := s.svc.ListAPIKeys(r.Context(), p, keyward.APIKeyFilter{
		Page: page, Query: q.Get("q"), Status: q.Get("status"), Permission: q.Get("permission"),
		OwnerID: q.Get("ownerId"), Sort: q.Get("sort"), Cursor: q.Get("cursor"),
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	encode(w, http.StatusOK, keyListOf(l, q.Get("cursor") != ""))
}

// getAPIKey serves GET /v1/apikeys/{id} with an ETag of the version.
func (s *Server) getAPIKey(w http.ResponseWriter, r *http.Request, p *keyward.Principal) {
	k, err := s.svc.GetAPIKey(r.Context(), p, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(k.Version))
	encode(w, http.StatusOK, k)
}

// apiKeyUsage serves GET /v1/apikeys/{id}/usage?days=N (default 14) and
// &granularity=day|hour (default day; hour adds the hours).
func (s *Server) apiKeyUsage(w http.ResponseWriter, r *http.Request, p *keyward.Principal) {
	hourly := false
	switch r.URL.Query().Get("granularity") {
	case "", "day":
	case "hour":
		hourly = true
	default:
		s.writeError(w, r, keyward.Invalid(keyward.FieldError{Field: "granularity", Message: "must be day or hour"}))
		return
	}
	days := 14
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.writeError(w, r, keyward.Invalid(keyward.FieldError{Field: "days", Message: "must be a whole number"}))
			return
		}
		days = n
	}
	u, err := s.svc.APIKeyUsageBy(r.Context(), p, r.PathValue("id"), days, hourly)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	encode(w, http.StatusOK, u)
}

// updateAPIKey serves PATCH /v1/apikeys/{id}. "expiresAt": null clears the
// expiry; clientId is immutable (400); If-Match is honoured (412).
func (s *Server) updateAPIKey(w http.ResponseWriter, r *http.Request, p *keyward.Principal) {
	match, err := ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in keyward.APIKeyInput
	body, err := decode(w, r, &in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		s.writeError(w, r, keyward.Errorf(keyward.EINVALID, "the body must be a JSON object"))
		return
	}
	if _, ok := raw["clientId"]; ok {
		s.writeError(w, r, keyward.Invalid(keyward.FieldError{Field: "clientId", Message: "is immutable"}))
		return
	}
	if v, ok := raw["rateLimit"]; ok && string(v) == "null" {
		in.ClearRateLimit = true
	}
	if v, ok := raw["credits"]; ok && string(v) == "null" {
		in.ClearCredits = true
	}
	if v, ok := raw["expiresAt"]; ok && string(v) == "null" {
		in.ClearExpiry = true
	}
	if v, ok := raw["allowedCidrs"]; ok && string(v) == "null" {
		in.AllowedCIDRs = &[]string{} // null removes the allowlist, as []
	}
	k, err := s.svc.UpdateAPIKey(r.Context(), p, r.PathValue("id"), in, match)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(k.Version))
	encode(w, http.StatusOK, k)
}

// replaceBody is the body of PUT /v1/apikeys/{id}.
type replaceBody struct {
	keyward.APIKeyInput
	Version *int `json:"version,omitempty"`
}

// replaceAPIKey serves PUT /v1/apikeys/{id}: 201 with the secret when it
// created the key, 200 when it replaced it (version or If-Match required).
func (s *Server) replaceAPIKey(w http.ResponseWriter, r *http.Request, p *keyward.Principal) {
	match, err := ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in replaceBody
	if _, err := decode(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	k, created, err := s.svc.ReplaceAPIKey(r.Context(), p, r.PathValue("id"), in.APIKeyInput, in.Version, match)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(k.Version))
	if created {
		w.Header().Set("Cache-Control", "no-store")
		encode(w, http.StatusCreated, k)
		return
	}
	encode(w, http.StatusOK, k.APIKey)
}

// deleteAPIKey serves DELETE /v1/apikeys/{id}: 200 with the deleted key.
func (s *Server) deleteAPIKey(w http.ResponseWriter, r *http.Request, p *keyward.Principal) {
	match, err := ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	k, err := s.svc.DeleteAPIKey(r.Context(), p, r.PathValue("id"), match)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	encode(w, http.StatusOK, k)
}

// rotateAPIKey serves POST /v1/apikeys/{id}/rotate: 200 with the new secret.
// An empty body rotates without a grace period.
func (s *Server) rotateAPIKey(w http.ResponseWriter, r *http.Request, p *keyward.Principal) {
	body, err := readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in keyward.RotateInput
	if len(body) > 0 {
		if err := decodeBytes(body, &in); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	k, err := s.svc.RotateAPIKey(r.Context(), p, r.PathValue("id"), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("ETag", etag(k.Version))
	encode(w, http.StatusOK, k)
}
