package keyward_test

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/signature"
)

// TestSignedRequestKeyExpired: a signature by a key past its expiresAt is
// refused as key_expired, though the signature itself is in its window.
func TestSignedRequestKeyExpired(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		k := e.key(t, e.admin, keyward.APIKeyInput{HMACEnabled: ptr(true), ExpiresIn: ptr(int64(60))})
		signedAt := func() *keyward.SignedRequest {
			req, _ := http.NewRequest("GET", "http://keyward.test/v1/whoami", nil)
			if err := signature.SignKeywardV1(req, k.ClientID, []byte(k.ClientSecret), e.clock.Now(), time.Minute, fmt.Sprintf("nonce-%020d", e.clock.Now().UnixNano())); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(nil)
			return &keyward.SignedRequest{Method: "GET", Authority: "keyward.test", Path: "/v1/whoami", Header: req.Header, BodySHA256: sum[:]}
		}
		if _, err := e.svc.Authenticate(e.ctx, keyward.Credentials{Signed: signedAt()}); err != nil {
			t.Fatalf("before expiry: %v", err)
		}
		e.clock.Add(61 * time.Second)
		_, err := e.svc.Authenticate(e.ctx, keyward.Credentials{Signed: signedAt()})
		wantCode(t, err, keyward.EKEYEXPIRED)
	})
}
