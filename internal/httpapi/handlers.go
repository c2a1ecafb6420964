package httpapi

import (
	"net/http"
	"time"

	"github.com/keyward/keyward"
)

// loginBody is the body of POST /v1/login.
type loginBody struct {
	UserName string `json:"userName"`
	Password string `json:"password"`
	Tenant   string `json:"tenant,omitempty"`
}

// login serves POST /v1/login: a user access token.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var in loginBody
	if _, err := decode(w, r, &in); err != nil {
		return err
	}
	res, err := s.svc.LoginFrom(r.Context(), keyward.LoginRequest{Tenant: in.Tenant, UserName: in.UserName,
		Password: in.Password, IP: ClientIP(r), UserAgent: r.UserAgent()})
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	encode(w, http.StatusOK, res)
	return nil
}

// whoami serves GET /v1/whoami.
func (s *Server) whoami(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	res, err := s.svc.WhoAmI(r.Context(), p)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, res)
	return nil
}

// verifyKey serves POST /v1/keys/verify: always 200 with a code, unless the
// caller itself is not allowed (401/403) or the body is malformed (400).
func (s *Server) verifyKey(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	var in keyward.VerifyRequest
	if err := decodeVerifyRequest(w, r, &in); err != nil {
		return err
	}
	res, err := s.svc.VerifyKey(r.Context(), p, in)
	if err != nil {
		return err
	}
	s.metrics.verified(res.Code)
	w.Header()["Cache-Control"] = headerNoStore
	encode(w, http.StatusOK, res)
	return nil
}

// listPermissions serves GET /v1/permissions: the whole catalog, in the list
// envelope on one page.
func (s *Server) listPermissions(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	perms, err := s.svc.ListPermissions(r.Context(), p)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, envelope(keyward.List[*keyward.Permission]{
		Items: perms, Page: keyward.Page{Number: 1, Size: max(len(perms), 1)}, TotalCount: len(perms),
	}))
	return nil
}

func (s *Server) createPermission(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	var in keyward.PermissionInput
	if _, err := decode(w, r, &in); err != nil {
		return err
	}
	perm, err := s.svc.CreatePermission(r.Context(), p, in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/permissions/"+perm.ID)
	encode(w, http.StatusCreated, perm)
	return nil
}

func (s *Server) getPermission(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	perm, err := s.svc.GetPermission(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, perm)
	return nil
}

func (s *Server) updatePermission(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	var in keyward.PermissionInput
	if _, err := decode(w, r, &in); err != nil {
		return err
	}
	perm, err := s.svc.UpdatePermission(r.Context(), p, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, perm)
	return nil
}

func (s *Server) deletePermission(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	perm, err := s.svc.DeletePermission(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, perm)
	return nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	page, err := pageOf(r)
	if err != nil {
		return err
	}
	l, err := s.svc.ListUsers(r.Context(), p, keyward.UserFilter{Page: page, Query: r.URL.Query().Get("q")})
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, envelope(l))
	return nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	var in keyward.UserInput
	if _, err := decode(w, r, &in); err != nil {
		return err
	}
	u, err := s.svc.CreateUser(r.Context(), p, in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/users/"+u.ID)
	encode(w, http.StatusCreated, u)
	return nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	u, err := s.svc.GetUser(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, u)
	return nil
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	var in keyward.UserInput
	if _, err := decode(w, r, &in); err != nil {
		return err
	}
	u, err := s.svc.UpdateUser(r.Context(), p, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, u)
	return nil
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	u, err := s.svc.DeleteUser(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, u)
	return nil
}

func (s *Server) listTenants(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	page, err := pageOf(r)
	if err != nil {
		return err
	}
	l, err := s.svc.ListTenants(r.Context(), p, page)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, envelope(l))
	return nil
}

func (s *Server) createTenant(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	var in keyward.TenantInput
	if _, err := decode(w, r, &in); err != nil {
		return err
	}
	t, err := s.svc.CreateTenant(r.Context(), p, in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/tenants/"+t.ID)
	encode(w, http.StatusCreated, t)
	return nil
}

func (s *Server) getTenant(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	t, err := s.svc.GetTenant(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, t)
	return nil
}

func (s *Server) updateTenant(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	var in keyward.TenantInput
	if _, err := decode(w, r, &in); err != nil {
		return err
	}
	t, err := s.svc.UpdateTenant(r.Context(), p, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, t)
	return nil
}

// listAudit serves GET /v1/audit, newest first.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	page, err := pageOf(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := keyward.AuditFilter{Page: page, Action: q.Get("action"), ActorID: q.Get("actorId"), TargetID: q.Get("targetId")}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return keyward.Invalid(keyward.FieldError{Field: "since", Message: "must be an RFC 3339 time"})
		}
		t = t.UTC()
		f.Since = &t
	}
	l, err := s.svc.ListAudit(r.Context(), p, f)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, envelope(l))
	return nil
}
