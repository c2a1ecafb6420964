package keyward_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// countingStore counts the key lookups by secret.
type countingStore struct {
	keyward.Store
	single, batch atomic.Int32
}

func (c *countingStore) GetAPIKeyBySecretHash(ctx context.Context, hash []byte) (*keyward.APIKey, error) {
	c.single.Add(1)
	return c.Store.GetAPIKeyBySecretHash(ctx, hash)
}

func (c *countingStore) KeyForVerification(ctx context.Context, hash []byte) (*keyward.VerificationRecord, error) {
	c.single.Add(1)
	return c.Store.KeyForVerification(ctx, hash)
}

func (c *countingStore) GetAPIKeysBySecretHashes(ctx context.Context, hashes [][]byte) ([]*keyward.APIKey, error) {
	c.batch.Add(1)
	return c.Store.GetAPIKeysBySecretHashes(ctx, hashes)
}

// TestVerifyKeysBatchEqualsSingleCalls: a batch answers each item as
// /v1/keys/verify answers it alone, in order, and reads the keys the cache
// misses in one store call.
func TestVerifyKeysBatchEqualsSingleCalls(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		counter := &countingStore{}
		e := newEnv(t, db, func(c *keyward.Config) { counter.Store = c.Store; c.Store = counter })
		if _, err := e.svc.CreatePermission(e.ctx, e.admin, keyward.PermissionInput{Name: ptr("orders_read")}); err != nil {
			t.Fatal(err)
		}
		mk := func(p *keyward.Principal, in keyward.APIKeyInput) *keyward.IssuedKey {
			t.Helper()
			if in.Name == nil {
				in.Name = ptr("k")
			}
			k, err := e.svc.CreateAPIKey(e.ctx, p, in)
			if err != nil {
				t.Fatal(err)
			}
			return k
		}
		valid := mk(e.admin, keyward.APIKeyInput{Permissions: perms("orders_read"), Meta: json.RawMessage(`{"team":"a"}`)})
		disabled := mk(e.admin, keyward.APIKeyInput{IsActive: ptr(false)})
		expiring := mk(e.admin, keyward.APIKeyInput{ExpiresIn: ptr(int64(60))})
		office := mk(e.admin, keyward.APIKeyInput{AllowedCIDRs: keyward.Some([]string{"203.0.113.0/24"})})
		tn, err := e.svc.CreateTenant(e.ctx, e.admin, keyward.TenantInput{Name: ptr("other")})
		if err != nil {
			t.Fatal(err)
		}
		inOther, err := e.svc.InTenant(e.ctx, e.admin, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		foreign := mk(inOther, keyward.APIKeyInput{})
		tok, err := e.svc.IssueToken(e.ctx, valid.ClientID, valid.ClientSecret, "")
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Add(2 * time.Minute) // expiring has expired

		items := []keyward.VerifyRequest{
			{Key: valid.ClientSecret},
			{Key: valid.ClientSecret, Permissions: []string{"orders_read"}},
			{Key: valid.ClientSecret, Permissions: []string{"orders_write"}},
			{ClientID: valid.ClientID, ClientSecret: valid.ClientSecret},
			{ClientID: disabled.ClientID, ClientSecret: valid.ClientSecret},
			{Key: disabled.ClientSecret},
			{Key: expiring.ClientSecret},
			{Key: foreign.ClientSecret},
			{Key: secret.NewSecret("kw")},
			{Key: "not-a-secret"},
			{Key: office.ClientSecret, IP: "203.0.113.4"},
			{Key: office.ClientSecret, IP: "198.51.100.4"},
			{Key: office.ClientSecret},
			{Token: tok.AccessToken, Permissions: []string{"orders_read"}},
		}
		counter.single.Store(0)
		counter.batch.Store(0)
		got, err := e.svc.VerifyKeys(e.ctx, e.admin, items)
		if err != nil {
			t.Fatal(err)
		}
		if n, m := counter.batch.Load(), counter.single.Load(); n != 1 || m != 0 {
			t.Errorf("cache misses read with %d batched and %d single lookups; want 1 and 0", n, m)
		}
		if len(got) != len(items) {
			t.Fatalf("got %d answers, want %d", len(got), len(items))
		}
		wantCodes := []string{"VALID", "VALID", "INSUFFICIENT_PERMISSIONS", "VALID", "NOT_FOUND", "DISABLED", "EXPIRED",
			"NOT_FOUND", "NOT_FOUND", "NOT_FOUND", "VALID", "IP_NOT_ALLOWED", "IP_NOT_ALLOWED", "VALID"}
		for i, req := range items {
			single, err := e.svc.VerifyKey(e.ctx, e.admin, req)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := json.Marshal(got[i])
			b, _ := json.Marshal(single)
			if string(a) != string(b) {
				t.Errorf("item %d: batch %s, single %s", i, a, b)
			}
			if got[i].Code != wantCodes[i] {
				t.Errorf("item %d: got %s, want %s", i, got[i].Code, wantCodes[i])
			}
		}
		// Now cached: a second batch reads only the secrets no key has.
		counter.batch.Store(0)
		counter.single.Store(0)
		if _, err := e.svc.VerifyKeys(e.ctx, e.admin, items[:8]); err != nil {
			t.Fatal(err)
		}
		if n, m := counter.batch.Load(), counter.single.Load(); n != 0 || m != 0 {
			t.Errorf("a cached batch made %d batched and %d single lookups; want none", n, m)
		}

		for _, bad := range []struct {
			name  string
			items []keyward.VerifyRequest
		}{
			{"no items", nil},
			{"101 items", make([]keyward.VerifyRequest, keyward.MaxVerifyBatch+1)},
			{"a malformed item", []keyward.VerifyRequest{{Key: valid.ClientSecret}, {Key: "x", Token: "y"}}},
			{"a bad ip", []keyward.VerifyRequest{{Key: valid.ClientSecret, IP: "nope"}}},
		} {
			if _, err := e.svc.VerifyKeys(e.ctx, e.admin, bad.items); keyward.ErrorCode(err) != keyward.EINVALID {
				t.Errorf("%s: got %v, want invalid", bad.name, err)
			}
		}
		noRight := e.svc
		verifierless := mk(e.admin, keyward.APIKeyInput{Level: ptr(0)})
		p, err := noRight.Authenticate(e.ctx, keyward.Credentials{APIKey: verifierless.ClientSecret})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.VerifyKeys(e.ctx, p, items[:1]); keyward.ErrorCode(err) != keyward.EFORBIDDEN {
			t.Errorf("without keys:verify: got %v, want forbidden", err)
		}
	})
}
