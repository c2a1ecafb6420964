package sqlstore

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
)

// TestKeyForVerificationOneStatement: the verify path's read is one
// statement, prepared once for every call.
func TestKeyForVerificationOneStatement(t *testing.T) {
	counter := &stmtCounts{}
	db := openCounted(t, counter)
	ctx := t.Context()
	tn := &keyward.Tenant{ID: secret.NewID(), Name: "t", Prefix: "kw", IsActive: true, CreatedAt: time.Now(), UpdatedAt: time.Now(), Version: 1}
	if err := db.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	perm := &keyward.Permission{ID: secret.NewID(), TenantID: tn.ID, Name: "p", ContainerID: "c", CreatedAt: time.Now()}
	if err := db.CreatePermission(ctx, perm); err != nil {
		t.Fatal(err)
	}
	u := &keyward.User{ID: secret.NewID(), TenantID: tn.ID, UserName: "u", PasswordHash: "x", Level: 3, IsActive: true,
		Permissions: []keyward.Permission{*perm}, CreatedAt: time.Now(), UpdatedAt: time.Now(), Version: 1}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	k := &keyward.APIKey{ID: secret.NewID(), TenantID: tn.ID, ClientID: "c1", Name: "k", OwnerID: u.ID,
		Permissions: []keyward.Permission{*perm}, IsActive: true, CreatedAt: time.Now(), UpdatedAt: time.Now(),
		CreatedBy: "x", Version: 1, SecretGeneration: 1, SecretHash: secret.RandomBytes(32)}
	if err := db.CreateAPIKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := db.SetKeyCredits(ctx, tn.ID, k.ID, &keyward.Credits{Remaining: 5}); err != nil {
		t.Fatal(err)
	}

	prepared := counter.prepares.Load()
	for i := range 5 {
		before := counter.runs.Load()
		rec, err := db.KeyForVerification(ctx, k.SecretHash)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Owner == nil || rec.Key.Credits == nil || len(rec.Key.Permissions) != 1 || rec.CatalogVersion == "" {
			t.Fatalf("record %+v", rec)
		}
		if n := counter.runs.Load() - before; n != 1 {
			t.Errorf("call %d ran %d statements; want 1", i, n)
		}
	}
	if n := counter.prepares.Load() - prepared; n != 1 {
		t.Errorf("prepared %d times; want once", n)
	}
}

// TestScanVerificationNumbers: the numbers column reads the same from
// either database's text (booleans 0/1 or f/t, NULL as an empty field),
// and a malformed one is an error, never a zero value taken as data.
func TestScanVerificationNumbers(t *testing.T) {
	monthly := sql.NullString{String: "monthly", Valid: true}
	// In verificationNumbers' order: the key's level, active, token
	// lifespan, hmac, generation, acts as owner, revoked, rate limit and
	// window; the tenant's active, root and catalog version; the owner's
	// existence, level and active; the credits.
	sqliteOwnerless := strings.Join([]string{"3", "1", "900", "0", "2", "0", "1", "", "", "1", "0", "17", "0", "", "", "", "", "", "", ""}, " ")
	for _, tc := range []struct {
		name, numbers string
		interval      sql.NullString
		wantKey       keyward.APIKey
		wantRec       keyward.VerificationRecord
		wantErr       bool
	}{
		{name: "sqlite, ownerless, no credits", numbers: sqliteOwnerless,
			wantKey: keyward.APIKey{Level: 3, IsActive: true, TokenLifespanSeconds: 900, SecretGeneration: 2, SecretRevoked: true},
			wantRec: keyward.VerificationRecord{TenantActive: true, CatalogVersion: "17"}},
		{name: "postgres, owner, credits with a refill", numbers: "1 t 0 t 1 t f 5 60 f t 4 t 2 f 42 100 3 7 9", interval: monthly,
			wantKey: keyward.APIKey{Level: 1, IsActive: true, HMACEnabled: true, SecretGeneration: 1, ActsAsOwner: true,
				RateLimit: &keyward.RateLimit{Limit: 5, WindowSeconds: 60},
				Credits:   &keyward.Credits{Remaining: 42, Period: 7, Generation: 9, Refill: &keyward.Refill{Amount: 100, Interval: "monthly", DayOfMonth: 3}}},
			wantRec: keyward.VerificationRecord{TenantRoot: true, CatalogVersion: "4", Owner: &keyward.User{ID: "u1", TenantID: "t1", Level: 2}}},
		{name: "too few fields", numbers: "3 1 900", wantErr: true},
		{name: "too many fields", numbers: sqliteOwnerless + " 1", wantErr: true},
		{name: "not a number", numbers: "x" + sqliteOwnerless[1:], wantErr: true},
		{name: "not a boolean", numbers: "3 yes" + sqliteOwnerless[3:], wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := keyward.APIKey{OwnerID: "u1", TenantID: "t1"}
			var rec keyward.VerificationRecord
			err := scanVerificationNumbers(tc.numbers, &k, &rec, tc.interval)
			if tc.wantErr {
				if err == nil {
					t.Errorf("got no error, want one")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.wantKey.OwnerID, tc.wantKey.TenantID = "u1", "t1"
			if diff := cmp.Diff(tc.wantKey, k); diff != "" {
				t.Errorf("key (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantRec, rec); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
		})
	}
}

// TestVerificationColumns: the verification read stays narrow. Each column
// costs SQLite's driver about 1,200 instructions on every cache miss,
// whatever it holds (see verificationColumns).
func TestVerificationColumns(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	rows, err := db.read.QueryContext(t.Context(), verificationQuery, secret.RandomBytes(32))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(cols), 17; got > want {
		t.Errorf("got %d columns, want at most %d", got, want)
	}
}
