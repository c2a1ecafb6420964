package keyward_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
)

func TestCreateAPIKeySecretFormatAndStorage(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		k := e.key(t, e.admin, keyward.APIKeyInput{})
		if !regexp.MustCompile(`^kw_sk_[0-9A-Za-z]{49}$`).MatchString(k.ClientSecret) || !secret.WellFormed(k.ClientSecret) {
			t.Errorf("got secret %q, want kw_sk_<49 base62> with a valid checksum", k.ClientSecret)
		}
		if !regexp.MustCompile(`^kw_id_[0-9A-Za-z]{22}$`).MatchString(k.ClientID) {
			t.Errorf("got clientId %q, want kw_id_<22 base62>", k.ClientID)
		}
		if k.Version != 1 || !k.IsActive || k.Level != 0 || k.TokenLifespanSeconds != 3600 || k.HMACEnabled {
			t.Errorf("got defaults version=%d active=%v level=%d lifespan=%d hmac=%v, want 1 true 0 3600 false",
				k.Version, k.IsActive, k.Level, k.TokenLifespanSeconds, k.HMACEnabled)
		}
		if k.SecretHint != k.ClientSecret[len(k.ClientSecret)-4:] {
			t.Errorf("got secretHint %q, want the last 4 characters", k.SecretHint)
		}
		stored, err := e.store.GetAPIKey(e.ctx, e.admin.TenantID, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(k.ClientSecret))
		if !bytes.Equal(stored.SecretHash, sum[:]) {
			t.Errorf("stored hash %x, want SHA-256 of the secret", stored.SecretHash)
		}
		if stored.SecretCiphertext != nil {
			t.Errorf("a key without hmacEnabled stores a ciphertext")
		}

		h := e.key(t, e.admin, keyward.APIKeyInput{HMACEnabled: ptr(true)})
		stored, err = e.store.GetAPIKey(e.ctx, e.admin.TenantID, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(stored.SecretCiphertext) == 0 || bytes.Contains(stored.SecretCiphertext, []byte(h.ClientSecret[6:])) {
			t.Errorf("hmacEnabled key: got ciphertext %x, want an AES-GCM ciphertext not holding the secret", stored.SecretCiphertext)
		}
	})
}

func TestClientIDSlugUsesTenantPrefix(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		tn, err := e.svc.CreateTenant(e.ctx, e.admin, keyward.TenantInput{Name: ptr("carbon"), Prefix: ptr("cbx_b2b")})
		if err != nil {
			t.Fatal(err)
		}
		in, err := e.svc.InTenant(e.ctx, e.admin, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		k := e.key(t, in, keyward.APIKeyInput{ClientID: keyward.Some("myapp_name")})
		if k.ClientID != "cbx_b2b_myapp_name" || !strings.HasPrefix(k.ClientSecret, "cbx_b2b_sk_") {
			t.Errorf("got clientId %q secret prefix %q, want cbx_b2b_myapp_name and cbx_b2b_sk_", k.ClientID, k.ClientSecret[:11])
		}
		_, err = e.svc.CreateAPIKey(e.ctx, in, keyward.APIKeyInput{Name: ptr("again"), ClientID: keyward.Some("myapp_name")})
		wantCode(t, err, keyward.ECONFLICT)
		_, err = e.svc.CreateAPIKey(e.ctx, in, keyward.APIKeyInput{Name: ptr("bad"), ClientID: keyward.Some("Bad Slug")})
		wantCode(t, err, keyward.EINVALID)
	})
}

// TestSecretNeverExposed checks that no read, list, audit entry or error
// holds the secret or its hash.
func TestSecretNeverExposed(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		k := e.key(t, e.admin, keyward.APIKeyInput{HMACEnabled: ptr(true)})
		sum := sha256.Sum256([]byte(k.ClientSecret))
		forbidden := []string{k.ClientSecret, k.ClientSecret[6:30], hex.EncodeToString(sum[:])}
		check := func(what string, v any) {
			t.Helper()
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range forbidden {
				if strings.Contains(string(b), f) {
					t.Errorf("%s holds secret material: %s", what, b)
				}
			}
			if strings.Contains(string(b), "secretHash") || strings.Contains(string(b), "Ciphertext") {
				t.Errorf("%s serializes secret fields: %s", what, b)
			}
		}
		got, err := e.svc.GetAPIKey(e.ctx, e.admin, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		check("get", got)
		l, err := e.svc.ListAPIKeys(e.ctx, e.admin, keyward.APIKeyFilter{Page: keyward.Page{Number: 1, Size: 10}})
		if err != nil {
			t.Fatal(err)
		}
		check("list", l.Items)
		up, err := e.svc.UpdateAPIKey(e.ctx, e.admin, k.ID, keyward.APIKeyInput{Name: ptr("renamed")}, nil)
		if err != nil {
			t.Fatal(err)
		}
		check("update", up)
		del, err := e.svc.DeleteAPIKey(e.ctx, e.admin, k.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		check("delete", del)
		a, err := e.svc.ListAudit(e.ctx, e.admin, keyward.AuditFilter{Page: keyward.Page{Number: 1, Size: 100}})
		if err != nil {
			t.Fatal(err)
		}
		check("audit", a.Items)
		_, err = e.svc.Authenticate(e.ctx, keyward.Credentials{Bearer: k.ClientSecret})
		check("error", keyward.ErrorMessage(err))
	})
}

// TestNoEscalation: nobody creates or changes a key or user above its own
// level or with a permission it does not hold, and a key acts with its own
// rights, never its owner's.
func TestNoEscalation(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		if _, err := e.svc.CreatePermission(e.ctx, e.admin, keyward.PermissionInput{Name: ptr("orders_read")}); err != nil {
			t.Fatal(err)
		}
		l4 := e.user(t, e.admin, "user4", 4)
		l7 := e.user(t, e.admin, "support7", 7, "users:write")
		strong := e.key(t, e.admin, keyward.APIKeyInput{Level: ptr(3), Permissions: perms("apikeys:write", "apikeys:read")})
		keyP := e.keyPrincipal(t, strong.ClientSecret)
		level0 := e.key(t, e.admin, keyward.APIKeyInput{Level: ptr(0)})

		tests := []struct {
			name string
			as   *keyward.Principal
			in   keyward.APIKeyInput
			want string
		}{
			{"level 0 is valid", l4, keyward.APIKeyInput{Level: ptr(0)}, ""},
			{"own level", l4, keyward.APIKeyInput{Level: ptr(4)}, ""},
			{"above own level", l4, keyward.APIKeyInput{Level: ptr(5)}, keyward.EFORBIDDEN},
			{"permission not held", l4, keyward.APIKeyInput{Permissions: perms("orders_read")}, keyward.EFORBIDDEN},
			{"built-in held only on own keys", l4, keyward.APIKeyInput{Permissions: perms("apikeys:read")}, keyward.EFORBIDDEN},
			{"level 7 grants what it holds", l7, keyward.APIKeyInput{Level: ptr(7), Permissions: perms("apikeys:write")}, ""},
			{"level 7 lacks custom permission", l7, keyward.APIKeyInput{Permissions: perms("orders_read")}, keyward.EFORBIDDEN},
			{"admin grants custom", e.admin, keyward.APIKeyInput{Level: ptr(8), Permissions: perms("orders_read")}, ""},
			{"key above its own level", keyP, keyward.APIKeyInput{Level: ptr(4)}, keyward.EFORBIDDEN},
			{"key within its rights", keyP, keyward.APIKeyInput{Level: ptr(3), Permissions: perms("apikeys:read")}, ""},
			{"key grants what it lacks", keyP, keyward.APIKeyInput{Permissions: perms("orders_read")}, keyward.EFORBIDDEN},
			{"unknown permission", e.admin, keyward.APIKeyInput{Permissions: perms("nope")}, keyward.EINVALID},
			{"level out of range", e.admin, keyward.APIKeyInput{Level: ptr(9)}, keyward.EINVALID},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if tt.in.Name == nil {
					tt.in.Name = ptr(tt.name)
				}
				_, err := e.svc.CreateAPIKey(e.ctx, tt.as, tt.in)
				wantCode(t, err, tt.want)
			})
		}

		t.Run("update above own level", func(t *testing.T) {
			own := e.key(t, l4, keyward.APIKeyInput{Level: ptr(2)})
			_, err := e.svc.UpdateAPIKey(e.ctx, l4, own.ID, keyward.APIKeyInput{Level: ptr(6)}, nil)
			wantCode(t, err, keyward.EFORBIDDEN)
			_, err = e.svc.UpdateAPIKey(e.ctx, l4, own.ID, keyward.APIKeyInput{Permissions: perms("orders_read")}, nil)
			wantCode(t, err, keyward.EFORBIDDEN)
		})
		t.Run("users above own level", func(t *testing.T) {
			_, err := e.svc.CreateUser(e.ctx, l7, keyward.UserInput{UserName: ptr("boss"), Password: ptr("password-boss"), Level: ptr(8)})
			wantCode(t, err, keyward.EFORBIDDEN)
			_, err = e.svc.UpdateUser(e.ctx, l7, e.admin.ID, keyward.UserInput{IsActive: ptr(false)})
			wantCode(t, err, keyward.EFORBIDDEN)
			_, err = e.svc.UpdateUser(e.ctx, l7, l4.ID, keyward.UserInput{Permissions: perms("orders_read")})
			wantCode(t, err, keyward.EFORBIDDEN)
		})
		t.Run("a key never acts with its owner's rights", func(t *testing.T) {
			// The admin (level 8) owns level0; the key itself may not list keys.
			p := e.keyPrincipal(t, level0.ClientSecret)
			if p.Level != 0 {
				t.Fatalf("got key principal level %d, want 0", p.Level)
			}
			_, err := e.svc.ListAPIKeys(e.ctx, p, keyward.APIKeyFilter{Page: keyward.Page{Number: 1, Size: 10}})
			wantCode(t, err, keyward.EFORBIDDEN)
			_, err = e.svc.CreateAPIKey(e.ctx, p, keyward.APIKeyInput{Name: ptr("x")})
			wantCode(t, err, keyward.EFORBIDDEN)
		})
	})
}

// TestKeyStopsWorkingAtOnce: deactivated, expired, deleted, rotated keys and
// keys of inactive users fail the very next check, though cached.
func TestKeyStopsWorkingAtOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		owner := e.user(t, e.admin, "owner", 4)
		check := func(t *testing.T, sec string, wantOK bool) {
			t.Helper()
			_, err := e.svc.Authenticate(e.ctx, keyward.Credentials{Bearer: sec})
			if (err == nil) != wantOK {
				t.Fatalf("Authenticate: got err %v, want ok=%v", err, wantOK)
			}
		}
		tests := []struct {
			name   string
			in     keyward.APIKeyInput
			change func(t *testing.T, k *keyward.IssuedKey)
		}{
			{"deactivate", keyward.APIKeyInput{}, func(t *testing.T, k *keyward.IssuedKey) {
				if _, err := e.svc.UpdateAPIKey(e.ctx, owner, k.ID, keyward.APIKeyInput{IsActive: ptr(false)}, nil); err != nil {
					t.Fatal(err)
				}
			}},
			{"delete", keyward.APIKeyInput{}, func(t *testing.T, k *keyward.IssuedKey) {
				if _, err := e.svc.DeleteAPIKey(e.ctx, owner, k.ID, nil); err != nil {
					t.Fatal(err)
				}
			}},
			{"expire", keyward.APIKeyInput{ExpiresIn: ptr(int64(60))}, func(t *testing.T, k *keyward.IssuedKey) {
				e.clock.Add(61 * time.Second)
			}},
			{"rotate without grace", keyward.APIKeyInput{}, func(t *testing.T, k *keyward.IssuedKey) {
				if _, err := e.svc.RotateAPIKey(e.ctx, owner, k.ID, keyward.RotateInput{}); err != nil {
					t.Fatal(err)
				}
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				k := e.key(t, owner, tt.in)
				check(t, k.ClientSecret, true) // warms the cache
				check(t, k.ClientSecret, true)
				tt.change(t, k)
				check(t, k.ClientSecret, false)
			})
		}
		t.Run("owner deactivated", func(t *testing.T) {
			k := e.key(t, owner, keyward.APIKeyInput{})
			check(t, k.ClientSecret, true)
			if _, err := e.svc.UpdateUser(e.ctx, e.admin, owner.ID, keyward.UserInput{IsActive: ptr(false)}); err != nil {
				t.Fatal(err)
			}
			check(t, k.ClientSecret, false)
			got, err := e.svc.GetAPIKey(e.ctx, e.admin, k.ID)
			if err != nil || got.IsActive {
				t.Errorf("got key active=%v (%v) after its owner was deactivated, want inactive", got.IsActive, err)
			}
			// Reactivating the owner does not reactivate its keys.
			if _, err := e.svc.UpdateUser(e.ctx, e.admin, owner.ID, keyward.UserInput{IsActive: ptr(true)}); err != nil {
				t.Fatal(err)
			}
			check(t, k.ClientSecret, false)
		})
		t.Run("rotate with grace", func(t *testing.T) {
			k := e.key(t, e.admin, keyward.APIKeyInput{})
			check(t, k.ClientSecret, true)
			r, err := e.svc.RotateAPIKey(e.ctx, e.admin, k.ID, keyward.RotateInput{GracePeriodSeconds: 300})
			if err != nil {
				t.Fatal(err)
			}
			if r.ClientID != k.ClientID || r.ClientSecret == k.ClientSecret {
				t.Fatalf("rotate: got clientId %q (want unchanged %q) and an unchanged secret=%v", r.ClientID, k.ClientID, r.ClientSecret == k.ClientSecret)
			}
			check(t, k.ClientSecret, true)
			check(t, r.ClientSecret, true)
			e.clock.Add(301 * time.Second)
			check(t, k.ClientSecret, false)
			check(t, r.ClientSecret, true)
		})
	})
}

func TestVerifyKey(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		if _, err := e.svc.CreatePermission(e.ctx, e.admin, keyward.PermissionInput{Name: ptr("orders_read")}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.CreatePermission(e.ctx, e.admin, keyward.PermissionInput{Name: ptr("orders_all"), Children: perms("orders_read")}); err != nil {
			t.Fatal(err)
		}
		verifier := e.keyPrincipal(t, e.key(t, e.admin, keyward.APIKeyInput{Permissions: perms("keys:verify")}).ClientSecret)
		good := e.key(t, e.admin, keyward.APIKeyInput{Permissions: perms("orders_all"), Meta: json.RawMessage(`{"plan":"gold"}`)})
		off := e.key(t, e.admin, keyward.APIKeyInput{IsActive: ptr(false)})
		soon := e.key(t, e.admin, keyward.APIKeyInput{ExpiresIn: ptr(int64(10))})
		e.clock.Add(11 * time.Second)

		other, err := e.svc.CreateTenant(e.ctx, e.admin, keyward.TenantInput{Name: ptr("other")})
		if err != nil {
			t.Fatal(err)
		}
		inOther, _ := e.svc.InTenant(e.ctx, e.admin, other.ID)
		foreign := e.key(t, inOther, keyward.APIKeyInput{})

		tests := []struct {
			name string
			req  keyward.VerifyRequest
			want string
		}{
			{"valid key", keyward.VerifyRequest{Key: good.ClientSecret}, keyward.CodeValid},
			{"valid id and secret", keyward.VerifyRequest{ClientID: good.ClientID, ClientSecret: good.ClientSecret}, keyward.CodeValid},
			{"wrong client id", keyward.VerifyRequest{ClientID: off.ClientID, ClientSecret: good.ClientSecret}, keyward.CodeNotFound},
			{"composite expands", keyward.VerifyRequest{Key: good.ClientSecret, Permissions: []string{"orders_read", "orders_all"}}, keyward.CodeValid},
			{"missing permission", keyward.VerifyRequest{Key: good.ClientSecret, Permissions: []string{"orders_write"}}, keyward.CodeInsufficientPermissions},
			{"disabled", keyward.VerifyRequest{Key: off.ClientSecret}, keyward.CodeDisabled},
			{"expired", keyward.VerifyRequest{Key: soon.ClientSecret}, keyward.CodeExpired},
			{"typo", keyward.VerifyRequest{Key: typo(good.ClientSecret)}, keyward.CodeNotFound},
			{"unknown", keyward.VerifyRequest{Key: secret.NewSecret("kw")}, keyward.CodeNotFound},
			{"other tenant", keyward.VerifyRequest{Key: foreign.ClientSecret}, keyward.CodeNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res, err := e.svc.VerifyKey(e.ctx, verifier, tt.req)
				if err != nil {
					t.Fatal(err)
				}
				if res.Code != tt.want || res.Valid != (tt.want == keyward.CodeValid) {
					t.Errorf("got code %s valid=%v, want %s", res.Code, res.Valid, tt.want)
				}
				if tt.want == keyward.CodeNotFound && res.KeyID != nil {
					t.Errorf("NOT_FOUND answer names key %s", *res.KeyID)
				}
			})
		}
		res, _ := e.svc.VerifyKey(e.ctx, verifier, keyward.VerifyRequest{Key: good.ClientSecret})
		if string(res.Meta) != `{"plan":"gold"}` || *res.KeyID != good.ID || strings.Join(res.Permissions, ",") != "orders_all,orders_read" {
			t.Errorf("got meta %s key %v permissions %v", res.Meta, *res.KeyID, res.Permissions)
		}
		_, err = e.svc.VerifyKey(e.ctx, e.keyPrincipal(t, good.ClientSecret), keyward.VerifyRequest{Key: good.ClientSecret})
		wantCode(t, err, keyward.EFORBIDDEN)
	})
}

// typo changes the last character of s.
func typo(s string) string {
	if s[len(s)-1] == 'x' {
		return s[:len(s)-1] + "y"
	}
	return s[:len(s)-1] + "x"
}

// TestConcurrentUpdatesLoseNothing: concurrent PATCHes of different fields
// all land (version checks with retry).
func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		k := e.key(t, e.admin, keyward.APIKeyInput{})
		const rounds = 5
		setters := []func(i int) keyward.APIKeyInput{
			func(i int) keyward.APIKeyInput { return keyward.APIKeyInput{Name: ptr(fmt.Sprint("name-", i))} },
			func(i int) keyward.APIKeyInput { return keyward.APIKeyInput{Description: ptr(fmt.Sprint("desc-", i))} },
			func(i int) keyward.APIKeyInput { return keyward.APIKeyInput{DeviceName: ptr(fmt.Sprint("dev-", i))} },
			func(i int) keyward.APIKeyInput { return keyward.APIKeyInput{TokenLifespanSeconds: ptr(100 + i)} },
		}
		var wg sync.WaitGroup
		errs := make(chan error, len(setters)*rounds)
		for _, set := range setters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 1; i <= rounds; i++ {
					if _, err := e.svc.UpdateAPIKey(e.ctx, e.admin, k.ID, set(i), nil); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent update: %v", err)
		}
		got, err := e.svc.GetAPIKey(e.ctx, e.admin, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "name-5" || got.Description != "desc-5" || got.DeviceName != "dev-5" || got.TokenLifespanSeconds != 105 {
			t.Errorf("got %q %q %q %d, want every field's last value", got.Name, got.Description, got.DeviceName, got.TokenLifespanSeconds)
		}
		if want := 1 + len(setters)*rounds; got.Version != want {
			t.Errorf("got version %d, want %d", got.Version, want)
		}
	})
}

func TestUpdateAndReplaceVersions(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		k := e.key(t, e.admin, keyward.APIKeyInput{ExpiresIn: ptr(int64(3600))})
		_, err := e.svc.UpdateAPIKey(e.ctx, e.admin, k.ID, keyward.APIKeyInput{Name: ptr("x")}, ptr(7))
		wantCode(t, err, keyward.EPRECONDITION)
		_, err = e.svc.UpdateAPIKey(e.ctx, e.admin, k.ID, keyward.APIKeyInput{ClientID: keyward.Some("new")}, nil)
		wantCode(t, err, keyward.EINVALID)
		up, err := e.svc.UpdateAPIKey(e.ctx, e.admin, k.ID, keyward.APIKeyInput{ExpiresAt: keyward.Null[time.Time]()}, ptr(1))
		if err != nil || up.ExpiresAt != nil || up.Version != 2 {
			t.Fatalf("clear expiry: got %v version %d err %v", up.ExpiresAt, up.Version, err)
		}

		id := secret.NewID()
		created, isNew, err := e.svc.ReplaceAPIKey(e.ctx, e.admin, id, keyward.APIKeyInput{Name: ptr("put")}, nil, nil)
		if err != nil || !isNew || created.ID != id || created.ClientSecret == "" {
			t.Fatalf("PUT create: got new=%v id=%v secret=%v err=%v", isNew, created.ID, created.ClientSecret != "", err)
		}
		_, _, err = e.svc.ReplaceAPIKey(e.ctx, e.admin, id, keyward.APIKeyInput{Name: ptr("put2")}, nil, nil)
		wantCode(t, err, keyward.EVERSIONCONFLICT)
		_, _, err = e.svc.ReplaceAPIKey(e.ctx, e.admin, id, keyward.APIKeyInput{Name: ptr("put2")}, ptr(5), nil)
		wantCode(t, err, keyward.EVERSIONCONFLICT)
		_, _, err = e.svc.ReplaceAPIKey(e.ctx, e.admin, id, keyward.APIKeyInput{Name: ptr("put2")}, nil, ptr(5))
		wantCode(t, err, keyward.EPRECONDITION)
		_, _, err = e.svc.ReplaceAPIKey(e.ctx, e.admin, id, keyward.APIKeyInput{Name: ptr("put2"), ClientID: keyward.Some("renamed")}, ptr(1), nil)
		wantCode(t, err, keyward.EINVALID) // clientId is immutable
		rep, isNew, err := e.svc.ReplaceAPIKey(e.ctx, e.admin, id, keyward.APIKeyInput{Name: ptr("put2")}, ptr(1), nil)
		if err != nil || isNew || rep.Name != "put2" || rep.Version != 2 || rep.ClientSecret != "" {
			t.Fatalf("PUT replace: got new=%v name=%q version=%d secret=%v err=%v", isNew, rep.Name, rep.Version, rep.ClientSecret != "", err)
		}
	})
}

func TestAuditOneEntryPerChange(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		before, err := e.svc.ListAudit(e.ctx, e.admin, keyward.AuditFilter{Page: keyward.Page{Number: 1, Size: 500}})
		if err != nil {
			t.Fatal(err)
		}
		k := e.key(t, e.admin, keyward.APIKeyInput{})
		if _, err := e.svc.UpdateAPIKey(e.ctx, e.admin, k.ID, keyward.APIKeyInput{IsActive: ptr(false)}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.RotateAPIKey(e.ctx, e.admin, k.ID, keyward.RotateInput{}); err != nil {
			t.Fatal(err)
		}
		// A failed change writes nothing.
		if _, err := e.svc.UpdateAPIKey(e.ctx, e.admin, k.ID, keyward.APIKeyInput{Level: ptr(99)}, nil); err == nil {
			t.Fatal("invalid update succeeded")
		}
		if _, err := e.svc.DeleteAPIKey(e.ctx, e.admin, k.ID, nil); err != nil {
			t.Fatal(err)
		}
		after, err := e.svc.ListAudit(e.ctx, e.admin, keyward.AuditFilter{Page: keyward.Page{Number: 1, Size: 500}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range after.Items[:after.TotalCount-before.TotalCount] {
			if a.TargetID != k.ID || a.ActorID != e.admin.ID || a.ActorKind != "user" {
				t.Errorf("entry %+v: want target %s actor %s", a, k.ID, e.admin.ID)
			}
			got = append(got, a.Action)
		}
		want := "apikey.delete,apikey.rotate,apikey.deactivate,apikey.create"
		if strings.Join(got, ",") != want {
			t.Errorf("got actions %v, want %s (newest first)", got, want)
		}
	})
}

func TestListAPIKeysScopes(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		reader := e.user(t, e.admin, "reader", 2)
		mine := e.key(t, e.admin, keyward.APIKeyInput{OwnerID: &reader.ID, Name: ptr("mine")})
		e.key(t, e.admin, keyward.APIKeyInput{Name: ptr("not mine")})
		l, err := e.svc.ListAPIKeys(e.ctx, reader, keyward.APIKeyFilter{Page: keyward.Page{Number: 1, Size: 10}})
		if err != nil {
			t.Fatal(err)
		}
		if l.TotalCount != 1 || l.Items[0].ID != mine.ID {
			t.Errorf("level 2 user lists %d keys, want only its own", l.TotalCount)
		}
		_, err = e.svc.CreateAPIKey(e.ctx, reader, keyward.APIKeyInput{Name: ptr("x")})
		wantCode(t, err, keyward.EFORBIDDEN)
		_, err = e.svc.ListAPIKeys(e.ctx, e.admin, keyward.APIKeyFilter{Page: keyward.Page{Number: 1, Size: 10}, Sort: "secret"})
		wantCode(t, err, keyward.EINVALID)
	})
}

func TestAPIKeyUsageCountsRequestsPerDay(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		k := e.key(t, e.admin, keyward.APIKeyInput{Name: ptr("counted")})
		other := e.key(t, e.admin, keyward.APIKeyInput{Name: ptr("quiet")})
		use := func(n int) {
			for range n {
				if _, err := e.svc.Authenticate(e.ctx, keyward.Credentials{APIKey: k.ClientSecret}); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.svc.FlushLastUsed(e.ctx); err != nil {
				t.Fatal(err)
			}
		}
		use(3)
		e.clock.Add(24 * time.Hour)
		use(2)
		use(1) // a second flush in the same hour adds up
		if _, err := e.svc.Authenticate(e.ctx, keyward.Credentials{APIKey: "kw_sk_wrong"}); err == nil {
			t.Fatal("a wrong secret authenticated")
		}
		got, err := e.svc.APIKeyUsage(e.ctx, e.admin, k.ID, 3)
		if err != nil {
			t.Fatal(err)
		}
		today := e.clock.Now().UTC().Truncate(24 * time.Hour)
		want := []keyward.UsageCount{{Start: today.AddDate(0, 0, -2)}, {Start: today.AddDate(0, 0, -1), Count: 3}, {Start: today, Count: 3}}
		valid := []int64{}
		for i := range got.Days {
			valid = append(valid, got.Days[i].Outcomes[keyward.CodeValid])
			got.Days[i].Outcomes = nil
		}
		if fmt.Sprint(got.Days) != fmt.Sprint(want) || got.Total != 6 {
			t.Errorf("usage: got %v total %d, want %v total 6", got.Days, got.Total, want)
		}
		if fmt.Sprint(valid) != "[0 3 3]" || got.Outcomes[keyward.CodeValid] != 6 {
			t.Errorf("VALID outcomes: got %v per day, %d in all; want [0 3 3], 6", valid, got.Outcomes[keyward.CodeValid])
		}
		if q, _ := e.svc.APIKeyUsage(e.ctx, e.admin, other.ID, 3); q.Total != 0 {
			t.Errorf("an unused key: got total %d, want 0", q.Total)
		}
		for _, days := range []int{0, 91} {
			_, err := e.svc.APIKeyUsage(e.ctx, e.admin, k.ID, days)
			wantCode(t, err, keyward.EINVALID)
		}
		reader := e.user(t, e.admin, "reader", 2) // reads only its own keys
		_, err = e.svc.APIKeyUsage(e.ctx, reader, k.ID, 3)
		wantCode(t, err, keyward.ENOTFOUND)
	})
}
