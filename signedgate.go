package keyward

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/keyward/keyward/internal/signature"
)

// errSignerRefused is the one answer an unauthenticated signed request gets
// when its keyid names no key, or a key that is disabled, expired or not
// HMAC-enabled: the same as a signature that does not match, so that nobody
// learns from it whether a client id exists or what state it is in. The
// detail goes to the log, and to verifiers (VerifySignature).
func errSignerRefused() error { return Errorf(ESIGINVALID, "the signature does not match") }

// HideSigner turns the errors of a signed request that tell about its key
// (unknown, disabled, expired, not HMAC-enabled) into the answer of a bad
// signature; other errors pass unchanged.
func HideSigner(err error) error {
	switch ErrorCode(err) {
	case EKEYUNKNOWN, EKEYDISABLED, EKEYEXPIRED, EHMACNOTENABLED:
		return errSignerRefused()
	}
	return err
}

// IdentifySigner is the first step of a signed request, taken before its
// body is read: it refuses an address blocked for failed authentications,
// signature headers that name no keyid, and a keyid that names no active
// HMAC key (as HideSigner answers, counted as a failed authentication). An
// anonymous caller so costs a header parse and one key lookup, never a
// buffered body. A request that passes still needs Authenticate.
func (s *Service) IdentifySigner(ctx context.Context, ip string, h http.Header) error {
	if err := s.checkBlocked(ip); err != nil {
		return err
	}
	keyid, err := signerKeyID(h)
	if err != nil {
		return err
	}
	if _, _, err := s.signingKey(ctx, keyid); err != nil {
		if hidden := HideSigner(err); hidden != err {
			s.logger.InfoContext(ctx, "signed request refused", slog.String("keyid", keyid),
				slog.String("reason", ErrorCode(err)), slog.String("remote", ip))
			if ferr := s.recordFailure(ctx, ip); ferr != nil {
				return ferr
			}
			return hidden
		}
		return err
	}
	return nil
}

// signerKeyID returns the keyid of a keyward-v1 signature or the Credential
// of an NWS4 one, with the error the full check would give when there is
// none.
func signerKeyID(h http.Header) (string, error) {
	if auth := h.Get("Authorization"); strings.HasPrefix(auth, signature.NWS4Algorithm+" ") {
		a, err := signature.ParseNWS4Authorization(auth)
		if err != nil {
			return "", Errorf(ESIGMALFORMED, "Authorization: %s", err.Error())
		}
		return a.Credential, nil
	}
	rawInput := h.Get(headerSigInput)
	if rawInput == "" || h.Get(headerSignature) == "" {
		return "", Errorf(ESIGMISSING, "Signature-Input and Signature are required")
	}
	inputs, err := signature.ParseSignatureInput(rawInput)
	if err != nil {
		return "", Errorf(ESIGMALFORMED, "Signature-Input: %s", err.Error())
	}
	for _, in := range inputs {
		if tag, _ := in.String("tag"); tag == signature.Profile {
			keyid, ok := in.String("keyid")
			if !ok {
				return "", Errorf(ESIGMALFORMED, "created, expires, nonce and keyid are required")
			}
			return keyid, nil
		}
	}
	return "", Errorf(ESIGTAG, "no signature has tag=%q", signature.Profile)
}
