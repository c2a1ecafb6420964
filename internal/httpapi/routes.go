package httpapi

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/keyward/keyward"
)

//go:embed openapi.json
var openapiJSON []byte

// route is one entry of the route table.
type route struct {
	pattern string
	handler http.Handler
}

// table lists every route of the native API in one place. Each pattern is
// described in openapi.json, and the tests walk every one.
func (s *Server) table() []route {
	h := func(pattern string, f http.HandlerFunc) route { return route{pattern, f} }
	return []route{
		h("GET /healthz", s.healthz),
		h("GET /readyz", s.readyz),
		{"GET /metrics", s.metrics.handler},
		h("GET /openapi.json", s.openapi),

		h("POST /v1/login", s.login),
		h("GET /v1/whoami", s.authed(s.whoami)),
		h("POST /v1/keys/verify", s.authed(s.verifyKey)),
		h("POST /v1/signatures/verify", s.authed(s.verifySignature)),

		h("POST /v1/apikeys", s.authed(s.createAPIKey)),
		h("GET /v1/apikeys", s.authed(s.listAPIKeys)),
		h("GET /v1/apikeys/{id}", s.authed(s.getAPIKey)),
		h("PATCH /v1/apikeys/{id}", s.authed(s.updateAPIKey)),
		h("PUT /v1/apikeys/{id}", s.authed(s.replaceAPIKey)),
		h("DELETE /v1/apikeys/{id}", s.authed(s.deleteAPIKey)),
		h("POST /v1/apikeys/{id}/rotate", s.authed(s.rotateAPIKey)),
		h("GET /v1/apikeys/{id}/usage", s.authed(s.apiKeyUsage)),

		h("GET /v1/permissions", s.authed(s.listPermissions)),
		h("POST /v1/permissions", s.authed(s.createPermission)),
		h("GET /v1/permissions/{id}", s.authed(s.getPermission)),
		h("PATCH /v1/permissions/{id}", s.authed(s.updatePermission)),
		h("DELETE /v1/permissions/{id}", s.authed(s.deletePermission)),

		h("GET /v1/users", s.authed(s.listUsers)),
		h("POST /v1/users", s.authed(s.createUser)),
		h("GET /v1/users/{id}", s.authed(s.getUser)),
		h("PATCH /v1/users/{id}", s.authed(s.updateUser)),
		h("DELETE /v1/users/{id}", s.authed(s.deleteUser)),

		h("GET /v1/tenants", s.authed(s.listTenants)),
		h("POST /v1/tenants", s.authed(s.createTenant)),
		h("GET /v1/tenants/{id}", s.authed(s.getTenant)),
		h("PATCH /v1/tenants/{id}", s.authed(s.updateTenant)),

		h("GET /v1/audit", s.authed(s.listAudit)),

		h("POST /oauth2/token", s.token),
		h("POST /oauth2/introspect", s.authed(s.introspect)),
		h("POST /oauth2/revoke", s.revoke),
		h("GET /.well-known/jwks.json", s.jwks),
		h("GET /.well-known/oauth-authorization-server", s.metadata),
		h("GET /.well-known/openid-configuration", s.metadata),
	}
}

func (s *Server) routes() {
	for _, r := range s.table() {
		s.mux.Handle(r.pattern, r.handler)
	}
	// Paths under the API's prefixes that no route serves answer as every
	// other API error does, in problem+json.
	for _, prefix := range unknownPrefixes {
		s.mux.HandleFunc(prefix, s.unknownRoute)
	}
}

// unknownPrefixes are the path prefixes whose unknown routes answer in
// problem+json; dialect routes elsewhere keep their own error shapes.
var unknownPrefixes = []string{"/v1/", "/oauth2/", "/.well-known/"}

// unknownRoute answers a path no route serves: 405 with Allow when the path
// exists for other methods, else 404.
func (s *Server) unknownRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		other := r.Clone(r.Context())
		other.Method = m
		if _, pattern := s.mux.Handler(other); pattern != "" && !slices.Contains(unknownPrefixes, pattern) {
			allow = append(allow, m)
		}
	}
	p := Problem{Type: "urn:keyward:problem:" + keyward.ENOTFOUND, Title: http.StatusText(http.StatusNotFound),
		Status: http.StatusNotFound, Code: keyward.ENOTFOUND, Detail: "no route " + r.URL.Path + "; the API is described at /openapi.json"}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		p.Type, p.Title, p.Status, p.Code = "urn:keyward:problem:method_not_allowed", http.StatusText(http.StatusMethodNotAllowed),
			http.StatusMethodNotAllowed, "method_not_allowed"
		p.Detail = r.Method + " is not served on " + r.URL.Path + "; it answers " + strings.Join(allow, ", ")
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

// Patterns returns the pattern of every native route, in table order.
func (s *Server) Patterns() []string {
	var out []string
	for _, r := range s.table() {
		out = append(out, r.pattern)
	}
	return out
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	encode(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.Ready(r.Context()); err != nil {
		s.writeError(w, r, err)
		return
	}
	encode(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openapiJSON)
}
