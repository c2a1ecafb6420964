package keyward

import "sync/atomic"

// Authentication schemes, as failed authentications are counted.
const (
	SchemeAPIKey       = "api_key"       // a key's secret in X-API-Key or Authorization: Bearer
	SchemeBasic        = "basic"         // client id and secret in Authorization: Basic, on the API
	SchemeAccessToken  = "access_token"  // an OAuth2 access token
	SchemeUserToken    = "user_token"    // a login token
	SchemeSigned       = "signed"        // a signed request (keyward-v1 or NWS4)
	SchemePassword     = "password"      // a user's password at login (API and console)
	SchemeClientSecret = "client_secret" // client credentials at a token endpoint (OAuth2 and dialects)
	SchemeOther        = "other"         // a credential of no known shape
)

// Kinds of rate-limit refusals.
const (
	LimitKey         = "key"                 // the key's own limits (its rateLimit, named limits, its owner's)
	LimitTenant      = "tenant"              // the tenant's limit (--tenant-rate-limit)
	LimitFailedAuth  = "failed_auth"         // the client address is blocked after failed authentications
	LimitUnavailable = "limiter_unavailable" // the limiter did not answer: refused, fail closed
)

// AuthSchemes and LimitKinds list the labels OpCounts reports, in order.
var (
	AuthSchemes = []string{SchemeAPIKey, SchemeBasic, SchemeAccessToken, SchemeUserToken, SchemeSigned,
		SchemePassword, SchemeClientSecret, SchemeOther}
	LimitKinds = []string{LimitKey, LimitTenant, LimitFailedAuth, LimitUnavailable}
)

// opCounts counts failed authentications by scheme and rate-limit refusals
// by kind since the service started, for the metrics. Fixed labels only:
// never a key, address or name.
type opCounts struct {
	failed  [8]atomic.Uint64 // indexed like AuthSchemes
	refused [4]atomic.Uint64 // indexed like LimitKinds
}

func (o *opCounts) authFailed(scheme string) {
	for i, s := range AuthSchemes {
		if s == scheme {
			o.failed[i].Add(1)
			return
		}
	}
	o.failed[len(AuthSchemes)-1].Add(1)
}

func (o *opCounts) limited(kind string) {
	for i, k := range LimitKinds {
		if k == kind {
			o.refused[i].Add(1)
			return
		}
	}
}

// FailedAuthentications returns how many authentications of scheme (one of
// AuthSchemes) failed since the service started.
func (s *Service) FailedAuthentications(scheme string) uint64 {
	for i, sc := range AuthSchemes {
		if sc == scheme {
			return s.ops.failed[i].Load()
		}
	}
	return 0
}

// RateLimitRefusals returns how many requests a limit of kind (one of
// LimitKinds) refused since the service started.
func (s *Service) RateLimitRefusals(kind string) uint64 {
	for i, k := range LimitKinds {
		if k == kind {
			return s.ops.refused[i].Load()
		}
	}
	return 0
}
