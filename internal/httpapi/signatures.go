package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/signature"
)

// signatureVerifyBody is a signed request as a resource server forwards it.
type signatureVerifyBody struct {
	Method    string            `json:"method"`
	Authority string            `json:"authority"`
	Path      string            `json:"path"`
	Query     string            `json:"query"` // the raw query, without "?"
	Headers   map[string]string `json:"headers"`
	// BodySHA256 is the base64 SHA-256 of the body the resource server
	// received; empty when the request had no body.
	BodySHA256  string   `json:"bodySha256"`
	Permissions []string `json:"permissions"`
	// IP is the end client's address, checked against the key's
	// allowedCidrs.
	IP string `json:"ip"`
}

// verifySignature serves POST /v1/signatures/verify: always 200 with a
// code (INVALID_SIGNATURE with the refusal's reason), unless the caller is
// not allowed or the body is malformed.
func (s *Server) verifySignature(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	var in signatureVerifyBody
	if _, err := decode(w, r, &in); err != nil {
		return err
	}
	var fe []keyward.FieldError
	for field, v := range map[string]string{"method": in.Method, "authority": in.Authority, "path": in.Path} {
		if v == "" {
			fe = append(fe, keyward.FieldError{Field: field, Message: "is required"})
		}
	}
	sum := sha256.Sum256(nil)
	digest := sum[:]
	if in.BodySHA256 != "" {
		d, err := base64.StdEncoding.DecodeString(in.BodySHA256)
		if err != nil || len(d) != sha256.Size {
			fe = append(fe, keyward.FieldError{Field: "bodySha256", Message: "must be the base64 of a SHA-256"})
		}
		digest = d
	}
	if len(fe) > 0 {
		return keyward.Invalid(fe...)
	}
	header := http.Header{}
	for k, v := range in.Headers {
		header.Set(k, v)
	}
	res, err := s.svc.VerifySignature(r.Context(), p, &keyward.SignedRequest{
		Method: in.Method, Authority: in.Authority, Path: in.Path, RawQuery: in.Query, Header: header,
		BodySHA256: digest, HasBody: in.BodySHA256 != "", ClientIP: in.IP,
	}, in.Permissions)
	if err != nil {
		return err
	}
	if res.Valid && strings.HasPrefix(header.Get("Authorization"), signature.NWS4Algorithm+" ") && !signature.NWS4QueryFullySigned(in.Query) {
		// The signature holds, but not over all of the query: the resource
		// server would act on text nobody signed.
		res = &keyward.VerifyResult{Code: keyward.CodeInvalidSignature, Reason: keyward.ESIGCOMPONENT}
	}
	s.metrics.verified(res.Code)
	w.Header().Set("Cache-Control", "no-store")
	encode(w, http.StatusOK, res)
	return nil
}
