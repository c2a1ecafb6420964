package sqlstore

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
)

// TestImportTextJSONOrParameters: an import on SQLite carries its rows as
// JSON unless a string cannot be (not UTF-8, or holding a NUL), and then
// binds them; either way every string is stored byte for byte.
func TestImportTextJSONOrParameters(t *testing.T) {
	db := openSQLiteForTest(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	tn := &keyward.Tenant{ID: secret.NewID(), Name: "t", Prefix: "kw", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := db.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		json bool
	}{
		{"plain", true},
		{"quote \" back \\ slash \x01 \x1f \n \t \u2028 😀", true},
		{"not utf-8 \xff\xfe", false},
		{"nul \x00 inside", false},
	} {
		k := &keyward.APIKey{ID: secret.NewID(), TenantID: tn.ID, ClientID: "kw_id_" + secret.NewID(), Name: tt.name,
			Description: tt.name, IsActive: true, TokenLifespanSeconds: 60, Meta: []byte(`{"a": "\u00e9"}`),
			CreatedAt: now, UpdatedAt: now, Version: 1, SecretGeneration: 1, SecretHash: secret.RandomBytes(32),
			SecretCiphertext: []byte{0, 1, 0xff}, Permissions: []keyward.Permission{}}
		if _, ok := jsonRows(nil, [][]any{db.keyInsertArgs(k)}); ok != tt.json {
			t.Errorf("%q carried as JSON: got %v, want %v", tt.name, ok, tt.json)
		}
		errs, err := db.CreateAPIKeys(ctx, []*keyward.APIKey{k})
		if err != nil || errs[0] != nil {
			t.Fatalf("%q: CreateAPIKeys: %v %v", tt.name, err, errs)
		}
		got, err := db.GetAPIKey(ctx, tn.ID, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(k, got); d != "" {
			t.Errorf("%q stored: mismatch (-want +got):\n%s", tt.name, d)
		}
	}
}

// TestImportBindsSharedColumns: on SQLite a column of one value in every
// key of an import is bound once, the others carried as JSON, and every
// value is stored as given either way: the same odd text (a NUL, not
// UTF-8) on every key, blobs, NULLs and times, shared or not.
func TestImportBindsSharedColumns(t *testing.T) {
	db := openSQLiteForTest(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	tn := &keyward.Tenant{ID: secret.NewID(), Name: "t", Prefix: "kw", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := db.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	exp := now.Add(time.Hour)
	key := func(name string, mods ...func(*keyward.APIKey)) *keyward.APIKey {
		k := &keyward.APIKey{ID: secret.NewID(), TenantID: tn.ID, ClientID: "kw_id_" + secret.NewID(), Name: name,
			Description: "shared \x00 \xff", IsActive: true, TokenLifespanSeconds: 60, Meta: []byte(`{"a": "\u00e9"}`),
			CreatedAt: now, UpdatedAt: now, Version: 1, SecretGeneration: 1, SecretHash: secret.RandomBytes(32),
			SecretCiphertext: []byte{0, 1, 0xff}, Permissions: []keyward.Permission{}, ExpiresAt: &exp}
		for _, m := range mods {
			m(k)
		}
		return k
	}
	keys := []*keyward.APIKey{key("first"), key("second", func(k *keyward.APIKey) { k.ExpiresAt, k.DeviceName = nil, "dev" }), key("third")}
	rows := make([][]any, len(keys))
	for i, k := range keys {
		rows[i] = db.keyInsertArgs(k)
	}
	list, args, varying := keyInsertSelect(rows)
	if want := 35 - len(varying[0]); strings.Count(list, "?") != want || len(args) != want {
		t.Errorf("select list %s binds %d arguments, want %d", list, len(args), want)
	}
	for _, col := range []string{"value->>0", "unhex(value->>"} {
		if !strings.Contains(list, col) {
			t.Errorf("select list %s: no %s", list, col)
		}
	}
	if len(varying[0]) >= 15 {
		t.Errorf("%d varying columns, want the id, client id, name, device, expiry, secret hash and few more", len(varying[0]))
	}
	errs, err := db.CreateAPIKeys(ctx, keys)
	if err != nil || slices.ContainsFunc(errs, func(err error) bool { return err != nil }) {
		t.Fatalf("CreateAPIKeys: %v %v", err, errs)
	}
	for _, k := range keys {
		got, err := db.GetAPIKey(ctx, tn.ID, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(k, got); d != "" {
			t.Errorf("%q stored: mismatch (-want +got):\n%s", k.Name, d)
		}
	}
}

// TestImportKeepsWriterCache: an import of more than 1,000 keys leaves
// SQLite's writer connection with a page cache of importCacheSize, so that
// the next import finds the index pages the last one read (issue 13), and
// the read connections with SQLite's default.
func TestImportKeepsWriterCache(t *testing.T) {
	db := openSQLiteForTest(t)
	ctx := t.Context()
	if got := pragma(t, db.write, "cache_size"); got != "-2000" {
		t.Fatalf("writer cache_size before an import: %s, want SQLite's default -2000", got)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	tn := &keyward.Tenant{ID: secret.NewID(), Name: "t", Prefix: "kw", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := db.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	keys := make([]*keyward.APIKey, 1001)
	for i := range keys {
		keys[i] = &keyward.APIKey{ID: secret.NewOrderedID(now), TenantID: tn.ID, ClientID: secret.NewClientID("kw"), Name: "bulk",
			IsActive: true, TokenLifespanSeconds: 60, CreatedAt: now, UpdatedAt: now, Version: 1, SecretGeneration: 1,
			SecretHash: secret.RandomBytes(32), Permissions: []keyward.Permission{}}
	}
	err := db.Tx(ctx, func(tx keyward.StoreTx) error {
		errs, err := tx.CreateAPIKeys(ctx, keys)
		if i := slices.IndexFunc(errs, func(err error) bool { return err != nil }); i >= 0 {
			t.Errorf("key %d: %v", i, errs[i])
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := strconv.Itoa(importCacheSize)
	if got := pragma(t, db.write, "cache_size"); got != want {
		t.Errorf("writer cache_size after an import: %s, want %s", got, want)
	}
	if got := pragma(t, db.read, "cache_size"); got != "-2000" {
		t.Errorf("reader cache_size after an import: %s, want -2000", got)
	}
}
