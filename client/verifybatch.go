package client

import (
	"context"
	"net/http"

	"github.com/keyward/keyward"
)

// VerifyKeys verifies 1 to 100 keys or tokens in one call (POST
// /v1/keys/verify:batch). The answers come in the order of items, each as
// VerifyKey would answer it. The caller needs keys:verify.
func (c *Client) VerifyKeys(ctx context.Context, items []keyward.VerifyRequest) ([]*keyward.VerifyResult, error) {
	var out struct {
		Items []*keyward.VerifyResult `json:"items"`
	}
	in := struct {
		Items []keyward.VerifyRequest `json:"items"`
	}{items}
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/keys/verify:batch", body: in}, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

type idempotencyKey struct{}

// WithIdempotencyKey returns ctx with an Idempotency-Key for the request
// made with it: CreateAPIKey and RotateAPIKey retried with the same key
// (and the same input) within 24 hours get the first answer again instead
// of making a second key or secret. key is a unique value, e.g. a UUID,
// of printable ASCII without '"' or '\\'.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKey{}, key)
}

func idempotencyKeyOf(ctx context.Context) string {
	k, _ := ctx.Value(idempotencyKey{}).(string)
	return k
}
