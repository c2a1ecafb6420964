package keyward

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"log/slog"
	"net/textproto"
	"strings"
	"time"

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
// body is read (r carries no body yet): it refuses an address blocked for
// failed authentications, signature headers that name no keyid, a keyid
// that names no active HMAC key (as HideSigner answers), and a MAC that does
// not match. The MAC covers the declared body digest (Content-Digest,
// x-nd-content-sha256), not the body, so it can be checked from the headers;
// the body is compared with it later. Refusals count as failed
// authentications. An anonymous caller so costs a header parse, one key
// lookup and an HMAC, never a buffered body. A request that passes still
// needs Authenticate, which checks everything (times, nonce, digest).
func (s *Service) IdentifySigner(ctx context.Context, ip string, r *SignedRequest) error {
	if err := s.failedAuth.check(ip); err != nil {
		return err
	}
	keyid, err := signerKeyID(textproto.MIMEHeader(r.Header))
	if err != nil {
		return err
	}
	refuse := func(reason string) error {
		s.logger.InfoContext(ctx, "signed request refused", slog.String("keyid", keyid),
			slog.String("reason", reason), slog.String("remote", ip))
		if ferr := s.failedAuth.record(ctx, ip, SchemeSigned); ferr != nil {
			return ferr
		}
		return errSignerRefused()
	}
	snap, secrets, err := s.signingKey(ctx, keyid, "")
	if err != nil {
		if HideSigner(err) != err {
			if snap != nil {
				s.countOutcome(snap.ref(), signedOutcome(err))
			}
			return refuse(ErrorCode(err))
		}
		return err
	}
	ok, err := headerMACMatches(r, secrets)
	if err != nil {
		return err
	}
	if !ok {
		s.countOutcome(snap.ref(), CodeInvalidSignature)
		return refuse(ESIGINVALID)
	}
	return nil
}

// headerMACMatches reports whether one of secrets made the request's MAC,
// computed over its headers (with the declared body digest).
func headerMACMatches(r *SignedRequest, secrets [][]byte) (bool, error) {
	if auth := r.field("Authorization"); strings.HasPrefix(auth, signature.NWS4Algorithm+" ") {
		a, err := signature.ParseNWS4Authorization(auth)
		if err != nil {
			return false, Errorf(ESIGMALFORMED, "Authorization: %s", err.Error())
		}
		if _, err := time.Parse(time.RFC3339Nano, a.Timestamp); err != nil {
			return false, Errorf(ESIGMALFORMED, "Timestamp must be an RFC 3339 time equal to x-nd-date")
		}
		values := map[string]string{"host": r.Authority}
		for _, h := range a.SignedHeaders {
			if h != "host" {
				values[h] = r.fieldList(h)
			}
		}
		cr := signature.NWS4CanonicalRequest(r.Method, r.Path, r.RawQuery, values, a.SignedHeaders, values["x-nd-content-sha256"])
		sts := signature.NWS4StringToSign(a.Timestamp, a.Credential, cr)
		given, _ := hex.DecodeString(a.Signature)
		matched := false
		for _, sec := range secrets {
			want, _ := hex.DecodeString(signature.NWS4Signature(string(sec), a.Timestamp[:10], sts))
			matched = hmac.Equal(want, given) || matched
		}
		return matched, nil
	}
	inputs, err := signature.ParseSignatureInput(r.field(headerSigInput))
	if err != nil {
		return false, Errorf(ESIGMALFORMED, "Signature-Input: %s", err.Error())
	}
	sigs, err := signature.ParseSignature(r.field(headerSignature))
	if err != nil {
		return false, Errorf(ESIGMALFORMED, "Signature: %s", err.Error())
	}
	for _, in := range inputs {
		if tag, _ := in.String("tag"); tag != signature.Profile {
			continue
		}
		mac, ok := sigs[in.Label]
		if !ok {
			return false, Errorf(ESIGMALFORMED, "Signature has no %s", in.Label)
		}
		base, err := signature.SignatureBase(in, signature.ComponentValues(r.Method, r.Authority, r.Path, r.RawQuery, r.Header))
		if err != nil {
			return false, Errorf(ESIGCOMPONENT, "%s", err.Error())
		}
		matched := false
		for _, sec := range secrets {
			matched = hmac.Equal(signature.HMACSHA256(sec, base), mac) || matched // constant time
		}
		return matched, nil
	}
	return false, Errorf(ESIGTAG, "no signature has tag=%q", signature.Profile)
}

// signerKeyID returns the keyid of a keyward-v1 signature or the Credential
// of an NWS4 one, with the error the full check would give when there is
// none.
func signerKeyID(h textproto.MIMEHeader) (string, error) {
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
