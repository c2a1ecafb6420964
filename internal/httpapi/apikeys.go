package httpapi

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/keyward/keyward"
)

// createAPIKey serves POST /v1/apikeys: 201 with the key and its secret.
func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	var in keyward.APIKeyInput
	if _, err := decode(w, r, &in); err != nil {
		return err
	}
	k, err := s.svc.CreateAPIKey(r.Context(), p, in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/apikeys/"+k.ID)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("ETag", etag(k.Version))
	encode(w, http.StatusCreated, k)
	return nil
}

// keyListPosition are the parameters that place a page of GET /v1/apikeys,
// each given at most once.
var keyListPosition = []string{"cursor", "page", "page-size"}

// oneListPosition refuses a key list query whose position is ambiguous: a
// cursor or page given twice (which one counts would be keyward's guess),
// or a cursor with a page (two positions).
func oneListPosition(q url.Values) error {
	for _, name := range keyListPosition {
		if len(q[name]) > 1 {
			return keyward.Invalid(keyward.FieldError{Field: name, Message: "is given more than once"})
		}
	}
	if q.Has("cursor") && q.Has("page") {
		return keyward.Invalid(keyward.FieldError{Field: "cursor", Message: "give cursor or page, not both: a cursor is a position of its own"})
	}
	return nil
}

// listAPIKeys serves GET /v1/apikeys.
func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	page, err := pageOf(r)
	if err != nil {
		return err
	}
	// A filter or cursor that does not decode is refused, never dropped
	// (r.URL.Query() skips such pairs: the list would answer unfiltered).
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return keyward.Errorf(keyward.EINVALID, "the query string is malformed: escape %% as %%25")
	}
	if err := oneListPosition(q); err != nil {
		return err
	}
	l, err := s.svc.ListAPIKeys(r.Context(), p, keyward.APIKeyFilter{
		Page: page, Query: q.Get("q"), Status: q.Get("status"), Permission: q.Get("permission"),
		OwnerID: q.Get("ownerId"), Sort: q.Get("sort"), Cursor: q.Get("cursor"),
	})
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, keyListOf(l, q.Get("cursor") != ""))
	return nil
}

// getAPIKey serves GET /v1/apikeys/{id} with an ETag of the version.
func (s *Server) getAPIKey(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	k, err := s.svc.GetAPIKey(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(k.Version))
	encode(w, http.StatusOK, k)
	return nil
}

// apiKeyUsage serves GET /v1/apikeys/{id}/usage?days=N (default 14) and
// &granularity=day|hour (default day; hour adds the hours).
func (s *Server) apiKeyUsage(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	hourly := false
	switch r.URL.Query().Get("granularity") {
	case "", "day":
	case "hour":
		hourly = true
	default:
		return keyward.Invalid(keyward.FieldError{Field: "granularity", Message: "must be day or hour"})
	}
	days := 14
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return keyward.Invalid(keyward.FieldError{Field: "days", Message: "must be a whole number"})
		}
		days = n
	}
	u, err := s.svc.APIKeyUsageBy(r.Context(), p, r.PathValue("id"), days, hourly)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, u)
	return nil
}

// updateAPIKey serves PATCH /v1/apikeys/{id}. "expiresAt": null clears the
// expiry; clientId is immutable (400); If-Match is honoured (412).
func (s *Server) updateAPIKey(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	match, err := ifMatch(r)
	if err != nil {
		return err
	}
	var in keyward.APIKeyInput
	if _, err := decode(w, r, &in); err != nil {
		return err
	}
	k, err := s.svc.UpdateAPIKey(r.Context(), p, r.PathValue("id"), in, match)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(k.Version))
	encode(w, http.StatusOK, k)
	return nil
}

// replaceBody is the body of PUT /v1/apikeys/{id}.
type replaceBody struct {
	keyward.APIKeyInput
	Version *int `json:"version,omitempty"`
}

// replaceAPIKey serves PUT /v1/apikeys/{id}: 201 with the secret when it
// created the key, 200 when it replaced it (version or If-Match required).
func (s *Server) replaceAPIKey(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	match, err := ifMatch(r)
	if err != nil {
		return err
	}
	var in replaceBody
	if _, err := decode(w, r, &in); err != nil {
		return err
	}
	k, created, err := s.svc.ReplaceAPIKey(r.Context(), p, r.PathValue("id"), in.APIKeyInput, in.Version, match)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(k.Version))
	if created {
		w.Header().Set("Cache-Control", "no-store")
		encode(w, http.StatusCreated, k)
		return nil
	}
	encode(w, http.StatusOK, k.APIKey)
	return nil
}

// deleteAPIKey serves DELETE /v1/apikeys/{id}: 200 with the deleted key.
func (s *Server) deleteAPIKey(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	match, err := ifMatch(r)
	if err != nil {
		return err
	}
	k, err := s.svc.DeleteAPIKey(r.Context(), p, r.PathValue("id"), match)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, k)
	return nil
}

// rotateAPIKey serves POST /v1/apikeys/{id}/rotate: 200 with the new secret.
// An empty body rotates without a grace period.
func (s *Server) rotateAPIKey(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	var in keyward.RotateInput
	if len(body) > 0 {
		if err := decodeBytes(body, &in); err != nil {
			return err
		}
	}
	k, err := s.svc.RotateAPIKey(r.Context(), p, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("ETag", etag(k.Version))
	encode(w, http.StatusOK, k)
	return nil
}
