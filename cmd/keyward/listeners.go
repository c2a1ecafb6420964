package main

// publicRoutes are the routes the public listener serves when --admin-addr
// puts management on a listener of its own: what clients holding
// credentials and resource servers call. Every other route (the /v1
// management API, the console, the dialects' management routes, /metrics)
// is the admin listener's, and a route not listed here is never public.
var publicRoutes = map[string]bool{
	"POST /oauth2/token":                                       true,
	"POST /oauth2/introspect":                                  true,
	"POST /oauth2/revoke":                                      true,
	"GET /.well-known/jwks.json":                               true,
	"GET /.well-known/oauth-authorization-server":              true,
	"GET /.well-known/oauth-authorization-server/{issuerPath}": true,
	"POST /v1/keys/verify":                                     true,
	"POST /v1/keys/verify:batch":                               true,
	"POST /v1/signatures/verify":                               true,
	// The dialects' token endpoints and a key's look at itself.
	"POST /auth/realms/{tenant}/protocol/openid-connect/token": true,
	"POST /auth":      true,
	"GET /whoami/key": true,
}

// bothRoutes are served on both listeners: probes and the API description.
var bothRoutes = map[string]bool{
	"GET /healthz":       true,
	"GET /readyz":        true,
	"GET /openapi.json":  true,
	"GET /docs":          true,
	"GET /docs/docs.css": true,
}

func publicRoute(pattern string) bool { return publicRoutes[pattern] || bothRoutes[pattern] }

func adminRoute(pattern string) bool {
	return !publicRoutes[pattern] || bothRoutes[pattern]
}
