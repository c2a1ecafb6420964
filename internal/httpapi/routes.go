package httpapi

import (
	_ "embed"
	"net/http"

	"github.com/keyward/keyward/internal/gate"
)

//go:embed openapi.json
var openapiJSON []byte

// route is one entry of the route table.
type route struct {
	pattern string
	handler handler
	// write answers the handler's error: a problem, or RFC 6749's shape on
	// the OAuth2 endpoints.
	write func(http.ResponseWriter, *http.Request, error)
}

// handler is a route's handler: it answers success itself and returns any
// error, which the route's adapter (answer) turns into the answer.
type handler func(w http.ResponseWriter, r *http.Request) error

// table lists every route of the native API in one place. Each pattern is
// described in openapi.json, and the tests walk every one.
func (s *Server) table() []route {
	h := func(pattern string, f handler) route { return route{pattern, f, s.writeError} }
	oauth := func(pattern string, f handler) route { return route{pattern, f, s.writeOAuthError} }
	return []route{
		h("GET /healthz", s.healthz),
		h("GET /readyz", s.readyz),
		h("GET /metrics", s.serveMetrics),
		h("GET /openapi.json", s.openapi),

		h("POST /v1/login", s.login),
		h("GET /v1/whoami", s.authed(s.whoami)),
		h("POST /v1/keys/verify", s.authed(s.verifyKey)),
		h("POST /v1/keys/verify:batch", s.authed(s.verifyKeys)),
		h("POST /v1/signatures/verify", s.authed(s.verifySignature)),

		h("POST /v1/apikeys", s.authed(s.idempotent(s.createAPIKey))),
		h("POST /v1/apikeys:import", s.authed(s.idempotentUpTo(MaxImportBytes, s.importAPIKeys))),
		h("GET /v1/apikeys", s.authed(s.listAPIKeys)),
		h("GET /v1/apikeys/{id}", s.authed(s.getAPIKey)),
		h("PATCH /v1/apikeys/{id}", s.authed(s.updateAPIKey)),
		h("PUT /v1/apikeys/{id}", s.authed(s.replaceAPIKey)),
		h("DELETE /v1/apikeys/{id}", s.authed(s.deleteAPIKey)),
		h("POST /v1/apikeys/{id}/rotate", s.authed(s.idempotent(s.rotateAPIKey))),
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

		oauth("POST /oauth2/token", s.token),
		oauth("POST /oauth2/introspect", s.introspect),
		oauth("POST /oauth2/revoke", s.revoke),
		h("GET /.well-known/jwks.json", s.jwks),
		h("GET /.well-known/oauth-authorization-server", s.metadata),
		h("GET /.well-known/oauth-authorization-server/{issuerPath}", s.metadata),
	}
}

func (s *Server) routes() {
	for _, r := range s.table() {
		s.mux.Handle(r.pattern, answer(r.handler, r.write))
	}
}

// answer is the one adapter from a handler to net/http. It refuses, before
// h runs, a request whose path, query or kept headers hold bytes that are
// not valid UTF-8, or NUL (see package gate); it answers the error h
// returns with write (the route's error shape).
func answer(h handler, write func(http.ResponseWriter, *http.Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := gate.Request(r)
		if err == nil {
			err = h(w, r)
		}
		if err != nil {
			write(w, r, err)
		}
	})
}

// Patterns returns the pattern of every native route, in table order.
func (s *Server) Patterns() []string {
	var out []string
	for _, r := range s.table() {
		out = append(out, r.pattern)
	}
	return out
}

// bodyHealthy is /healthz's answer, the bytes encode wrote for
// {"status":"ok"}, built once: a liveness probe is polled, and encoding a
// map through encoding/json cost it a fifth of its server CPU beyond the
// floor's.
var bodyHealthy = []byte(`{"status":"ok"}` + "\n")

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	w.Header()["Content-Type"] = headerJSON
	w.WriteHeader(http.StatusOK)
	w.Write(bodyHealthy)
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.Ready(r.Context()); err != nil {
		return err
	}
	encode(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	s.metrics.handler.ServeHTTP(w, r)
	return nil
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openapiJSON)
	return nil
}
