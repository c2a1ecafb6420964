package httpapi_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// What a security tester found against POST /v1/apikeys:import, each as
// the lowest principal that could abuse it.

// TestImportedHashDiesWithTheImporter: a key imported by its secretHash
// is held by its importer, as one imported in clear or created is: the
// importer chose the hash and may know the secret. Deactivating the
// importer (a key, or a user) disables it.
func TestImportedHashDiesWithTheImporter(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db)
		s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "orders:read"}, 201, nil)
		verify := s.verifier()
		for _, tt := range []struct {
			name string
			hash bool
		}{{"by secretHash", true}, {"in clear", false}} {
			t.Run(tt.name, func(t *testing.T) {
				// The importer is a key: level 4, apikeys:write and orders:read.
				w := s.newKey(map[string]any{"name": "w " + tt.name, "level": 4, "permissions": refs("apikeys:write", "orders:read")})
				sec := "legacy_" + secret.NewID()
				line := map[string]any{"name": "bd", "level": 4, "permissions": refs("apikeys:write", "orders:read")}
				if tt.hash {
					line["secretHash"] = sha256Hex(sec)
				} else {
					line["secret"] = sec
				}
				a, _ := s.importKeys("Bearer "+w.ClientSecret, ndjson(line), 200)
				id := importedID(t, a)
				var k keyward.APIKey
				s.do("GET", "/v1/apikeys/"+id, s.admin, nil, 200, &k)
				if k.SecretHolderID != w.ID {
					t.Errorf("secretHolderId: got %q, want the importer %q", k.SecretHolderID, w.ID)
				}
				if got := verify(sec); got != "VALID" {
					t.Fatalf("before: got %s, want VALID", got)
				}
				s.do("PATCH", "/v1/apikeys/"+w.ID, s.admin, map[string]any{"isActive": false}, 200, nil)
				if got := verify(sec); got != keyward.CodeDisabled {
					t.Errorf("after the importer's deactivation: got %s, want %s", got, keyward.CodeDisabled)
				}
				s.do("GET", "/v1/apikeys/"+id, s.admin, nil, 200, &k)
				if !k.SecretRevoked {
					t.Errorf("secretRevoked: got false, want true")
				}

				// The importer is a user: its deactivation lists the key.
				uid, tok := s.user("importer-"+strings.ReplaceAll(tt.name, " ", "-"), 4, "apikeys:write", "orders:read")
				sec = "legacy_" + secret.NewID()
				if tt.hash {
					line["secretHash"] = sha256Hex(sec)
				} else {
					line["secret"] = sec
				}
				a, _ = s.importKeys("Bearer "+tok, ndjson(line), 200)
				id = importedID(t, a)
				var u keyward.User
				s.do("PATCH", "/v1/users/"+uid, s.admin, map[string]any{"isActive": false}, 200, &u)
				if !strings.Contains(strings.Join(u.DisabledKeys, ","), id) {
					t.Errorf("disabledKeys: got %v, want %s", u.DisabledKeys, id)
				}
				if got := verify(sec); got != keyward.CodeDisabled {
					t.Errorf("after the importing user's deactivation: got %s, want %s", got, keyward.CodeDisabled)
				}
			})
		}
	})
}

// TestImportSpendsCreditsAsCreates: a key with credits imports no more
// than as many creates would have made, one line each: every key after
// the first costs a credit (the request paid the first), and each line's
// credits are bounded by what was left; past its credits, a line is
// refused as the create would be (usage_exceeded).
func TestImportSpendsCreditsAsCreates(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db, func(c *keyward.Config) { c.NoCreditLeases = true })
		metered := func(remaining int) keyward.IssuedKey {
			return s.newKey(map[string]any{"name": "metered", "level": 1, "permissions": refs("apikeys:write"),
				"credits": map[string]any{"remaining": remaining}})
		}
		lines := func(n, credits int) string {
			var l []any
			for range n {
				l = append(l, map[string]any{"name": "minted", "level": 1, "credits": map[string]any{"remaining": credits},
					"secretHash": sha256Hex("legacy_" + secret.NewID())})
			}
			return ndjson(l...)
		}
		remaining := func(k keyward.IssuedKey) int64 {
			var got keyward.APIKey
			s.do("GET", "/v1/apikeys/"+k.ID, s.admin, nil, 200, &got)
			return got.Credits.Remaining
		}

		// The tester's case: 3 credits, 200 lines of 2 each. The request
		// leaves 2: the first line takes 2, the second would spend one
		// first and have 1, less than 2, as a second create would.
		k := metered(3)
		a, _ := s.importKeys("Bearer "+k.ClientSecret, lines(200, 2), 200)
		if a.Created != 1 || a.Items[0].Problem != nil {
			t.Errorf("200 lines of 2 credits with 3: created %d, want 1 (the first)", a.Created)
		}
		if p := a.Items[1].Problem; p == nil || p.Code != keyward.EFORBIDDEN || !strings.Contains(p.Detail, "within its own") {
			t.Errorf("line 2: got %+v, want forbidden as create", p)
		}
		if got := remaining(k); got != 2 {
			t.Errorf("credits left: got %d, want 2", got)
		}

		// 10 credits, lines of 0: the request leaves 9, then each key but
		// the first spends one: 10 keys, as 10 creates, and nothing left.
		k = metered(10)
		a, _ = s.importKeys("Bearer "+k.ClientSecret, lines(20, 0), 200)
		if a.Created != 10 {
			t.Errorf("20 lines with 10 credits: created %d, want 10", a.Created)
		}
		for i, it := range a.Items {
			if got, want := it.Problem == nil, i < 10; got != want {
				t.Errorf("line %d: created %v, want %v (%+v)", it.Line, got, want, it.Problem)
			}
			if i >= 10 && (it.Problem == nil || it.Problem.Code != keyward.EUSAGEEXCEEDED) {
				t.Errorf("line %d: got %+v, want usage_exceeded", it.Line, it.Problem)
			}
		}
		if got := remaining(k); got != 0 {
			t.Errorf("credits left: got %d, want 0", got)
		}
		s.importKeys("Bearer "+k.ClientSecret, lines(1, 0), 429)

		// A key without credits is not bound.
		free := s.newKey(map[string]any{"name": "free", "level": 1, "permissions": refs("apikeys:write")})
		if a, _ := s.importKeys("Bearer "+free.ClientSecret, lines(50, 1000), 200); a.Created != 50 {
			t.Errorf("unmetered: created %d, want 50", a.Created)
		}
	})
}

// TestConcurrentImportsShareCredits: two imports at once by one metered
// key spend its credits once: together they make as many keys as its
// credits allow creates, never each as many.
func TestConcurrentImportsShareCredits(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db, func(c *keyward.Config) { c.NoCreditLeases = true })
		const credits, imports, perImport = 12, 4, 10
		k := s.newKey(map[string]any{"name": "metered", "level": 1, "permissions": refs("apikeys:write"),
			"credits": map[string]any{"remaining": credits}})
		bodies := make([]string, imports)
		for i := range bodies {
			var l []any
			for range perImport {
				l = append(l, map[string]any{"name": "minted", "level": 1, "credits": map[string]any{"remaining": 0},
					"secretHash": sha256Hex("legacy_" + secret.NewID())})
			}
			bodies[i] = ndjson(l...)
		}
		created := make([]int, imports)
		var wg sync.WaitGroup
		for i := range imports {
			wg.Go(func() {
				res := s.raw("POST", "/v1/apikeys:import", "Bearer "+k.ClientSecret, strings.NewReader(bodies[i]), "Content-Type", "application/x-ndjson")
				switch res.Status {
				case 429: // the credits were spent before this request came
					return
				case 200:
				default:
					t.Errorf("import %d: got %d %s", i, res.Status, res.Body)
					return
				}
				created[i] = strings.Count(string(res.Body), `"clientId"`)
			})
		}
		wg.Wait()
		total := 0
		for _, n := range created {
			total += n
		}
		// Each request that came in paid one credit (one got 429 if none
		// was left), and its keys after the first one each: as creates.
		if total != credits {
			t.Errorf("keys created by %d concurrent imports with %d credits: got %d (%v), want %d", imports, credits, total, created, credits)
		}
		var got keyward.APIKey
		s.do("GET", "/v1/apikeys/"+k.ID, s.admin, nil, 200, &got)
		if got.Credits.Remaining != 0 {
			t.Errorf("credits left: got %d, want 0", got.Credits.Remaining)
		}
	})
}

// TestRefusedImportIsAuditedDenied: an import of which a line was refused
// for lack of rights is audited denied (one entry, with the counts), as
// a refused create is; one without is a success.
func TestRefusedImportIsAuditedDenied(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db)
		_, low := s.user("low", 4, "apikeys:write")
		for _, tt := range []struct {
			name    string
			lines   []any
			result  string
			details []string
		}{
			{"above the caller's level", []any{map[string]any{"name": "z", "level": 8, "secret": "legacy_" + secret.NewID()}},
				keyward.AuditDenied, []string{`"created":0`, `"forbidden":1`, `"reason":`}},
			{"one of two lines above", []any{map[string]any{"name": "ok", "level": 4, "secret": "legacy_" + secret.NewID()},
				map[string]any{"name": "z", "level": 8, "secret": "legacy_" + secret.NewID()}},
				keyward.AuditDenied, []string{`"created":1`, `"failed":1`, `"forbidden":1`}},
			{"invalid only", []any{map[string]any{"name": "short", "level": 4, "secret": "short"}},
				keyward.AuditSuccess, []string{`"created":0`, `"failed":1`}},
		} {
			a, _ := s.importKeys("Bearer "+low, ndjson(tt.lines...), 200)
			var audit struct{ Items []keyward.AuditEntry }
			s.do("GET", "/v1/audit?action=apikey.import", s.admin, nil, 200, &audit)
			if len(audit.Items) == 0 {
				t.Fatalf("%s: no apikey.import entry", tt.name)
			}
			e := audit.Items[0] // the newest
			if e.Result != tt.result {
				t.Errorf("%s: result %q, want %q (%s; answer %+v)", tt.name, e.Result, tt.result, e.Details, a)
			}
			for _, d := range tt.details {
				if !strings.Contains(string(e.Details), d) {
					t.Errorf("%s: details %s, want %s", tt.name, e.Details, d)
				}
			}
		}
	})
}

// TestConcurrentImportsConflictPerLine: imports running at once that
// share one secret (and each 100 of their own) create every line of their
// own: only the shared line fails, in all but one of them, on its own.
// On PostgreSQL they run on two replicas of one database.
func TestConcurrentImportsConflictPerLine(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { concurrentImportsConflictPerLine(t, []*server{sqliteServer(t)}) })
	t.Run("postgres", func(t *testing.T) {
		dsn := sqltest.PostgresDSN(t)
		master := secret.RandomBytes(32)
		var replicas []*server
		for i := range 2 {
			db := sqltest.Open(t, dsn, i == 0)
			replicas = append(replicas, newServer(t, db, func(c *keyward.Config) {
				c.MasterKey, c.NonceStore, c.Changes = master, db.NonceStore(nil), db.ChangeFeed()
			}))
		}
		concurrentImportsConflictPerLine(t, replicas)
	})
}

func concurrentImportsConflictPerLine(t *testing.T, servers []*server) {
	admin := servers[0].admin
	const imports, own = 4, 100
	shared := sha256Hex("legacy_shared_" + secret.NewID())
	bodies := make([]string, imports)
	for i := range bodies {
		var l []any
		for j := range own {
			l = append(l, map[string]any{"name": fmt.Sprintf("own %d-%d", i, j), "secretHash": sha256Hex("legacy_" + secret.NewID())})
		}
		l = append(l, map[string]any{"name": "shared", "secretHash": shared})
		bodies[i] = ndjson(l...)
	}
	answers := make([]importAnswer, imports)
	var wg sync.WaitGroup
	for i := range imports {
		wg.Go(func() {
			s := servers[i%len(servers)]
			res := s.raw("POST", "/v1/apikeys:import", "Bearer "+admin, strings.NewReader(bodies[i]), "Content-Type", "application/x-ndjson")
			if res.Status != 200 {
				t.Errorf("import %d: got %d %s, want 200", i, res.Status, res.Body)
				return
			}
			if err := json.Unmarshal(res.Body, &answers[i]); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	sharedMade := 0
	for i, a := range answers {
		if len(a.Items) != own+1 {
			continue // reported above
		}
		for _, it := range a.Items[:own] {
			if it.Problem != nil {
				t.Errorf("import %d, line %d (its own): got %+v, want created", i, it.Line, it.Problem)
			}
		}
		switch last := a.Items[own]; {
		case last.Problem == nil:
			sharedMade++
		case last.Problem.Code != keyward.ECONFLICT:
			t.Errorf("import %d, the shared line: got %+v, want conflict", i, last.Problem)
		}
	}
	if sharedMade != 1 {
		t.Errorf("the shared secret was created %d times, want 1", sharedMade)
	}
}

// TestSecretsDieDownTheChain: a user that was shown a key's secret could
// use that key to make, import or rotate other keys, whose secrets it then
// knew too; taking the user's access away stops them all, however deep
// (the user's key makes a key that makes a key), on the user's
// deactivation and deletion alike.
func TestSecretsDieDownTheChain(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db)
		verify := s.verifier()
		ownerID, _ := s.user("chain-owner", 6, "apikeys:write")
		for _, how := range []string{"deactivate", "delete"} {
			t.Run(how, func(t *testing.T) {
				holderID, holder := s.user("chain-holder-"+how, 7, "apikeys:write")
				// The holder makes a key owned by someone else: it holds the secret.
				k := s.keyAs(holder, map[string]any{"name": "k", "ownerId": ownerID, "level": 6, "permissions": refs("apikeys:write")})
				made := s.keyAs(k.ClientSecret, map[string]any{"name": "made by k", "level": 6, "permissions": refs("apikeys:write")})
				deeper := s.keyAs(made.ClientSecret, map[string]any{"name": "made by made"})
				imported := "legacy_" + secret.NewID()
				a, _ := s.importKeys("Bearer "+k.ClientSecret, ndjson(map[string]any{"name": "imported by k", "secretHash": sha256Hex(imported)}), 200)
				importedKey := importedID(t, a)
				secrets := map[string]string{k.ID: k.ClientSecret, made.ID: made.ClientSecret, deeper.ID: deeper.ClientSecret, importedKey: imported}
				for id, sec := range secrets {
					if got := verify(sec); got != "VALID" {
						t.Fatalf("key %s before: got %s, want VALID", id, got)
					}
				}
				var u keyward.User
				if how == "deactivate" {
					s.do("PATCH", "/v1/users/"+holderID, s.admin, map[string]any{"isActive": false}, 200, &u)
				} else {
					s.do("DELETE", "/v1/users/"+holderID, s.admin, nil, 200, &u)
				}
				for id, sec := range secrets {
					if !slices.Contains(u.DisabledKeys, id) {
						t.Errorf("disabledKeys: got %v, want it to hold %s", u.DisabledKeys, id)
					}
					if got := verify(sec); got != keyward.CodeDisabled {
						t.Errorf("key %s after the holder's %s: got %s, want %s", id, how, got, keyward.CodeDisabled)
					}
				}
			})
		}
	})
}

// verifier makes a key holding keys:verify and returns a function giving
// a secret's verification code ("VALID" when valid).
func (s *server) verifier() func(sec string) string {
	verifier := s.newKey(map[string]any{"name": "verifier", "permissions": refs("keys:verify")})
	return func(sec string) string {
		var v keyward.VerifyResult
		s.do("POST", "/v1/keys/verify", verifier.ClientSecret, map[string]any{"key": sec}, 200, &v)
		if v.Valid {
			return "VALID"
		}
		return v.Code
	}
}
