package httpapi

import (
	"net/http"

	"github.com/keyward/keyward"
)

// verifyBatch is the body of POST /v1/keys/verify:batch, and its answer.
type verifyBatch[T any] struct {
	Items []T `json:"items"`
}

// verifyKeys serves POST /v1/keys/verify:batch: 200 with one verify answer
// per item, in order, unless the caller is not allowed or an item is
// malformed (400 naming items[i]).
func (s *Server) verifyKeys(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	var in verifyBatch[keyward.VerifyRequest]
	if _, err := decode(w, r, &in); err != nil {
		return err
	}
	res, err := s.svc.VerifyKeys(r.Context(), p, in.Items)
	if err != nil {
		return err
	}
	for _, v := range res {
		s.metrics.verified(v.Code)
	}
	w.Header().Set("Cache-Control", "no-store")
	encode(w, http.StatusOK, verifyBatch[*keyward.VerifyResult]{Items: res})
	return nil
}
