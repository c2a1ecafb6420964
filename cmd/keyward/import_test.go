package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/client"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
	"github.com/keyward/keyward/internal/wire/wiretest"
)

// TestAPIKeysImport: "keyward apikeys import FILE" against a real server
// imports the good lines, prints each refused one by its file line number,
// exits 1, prints no secret; the imported secrets then work.
func TestAPIKeysImport(t *testing.T) {
	srv := wiretest.Start(t, sqltest.SQLite(t), wiretest.Options{})
	unkey := "unkey_" + strings.ReplaceAll(secret.NewID(), "-", "")
	stripe := "sk_live_" + strings.ReplaceAll(secret.NewID(), "-", "")
	sum := sha256.Sum256([]byte(stripe))
	file := filepath.Join(t.TempDir(), "keys.ndjson")
	body := `{"name": "from-unkey", "level": 2, "secret": "` + unkey + `"}` + "\n\n" +
		`{"name": "from-stripe", "secretHash": "` + hex.EncodeToString(sum[:]) + `"}` + "\n" +
		`{"name": "weak", "secret": "aaaaaaaaaaaaaaaaaaaa"}` + "\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"KEYWARD_SERVER": srv.URL, "KEYWARD_TOKEN": srv.Admin}
	code, out, errs := akRun(t, env, "", "apikeys", "import", file, "--json")
	if code != exitError || !strings.Contains(errs, "line 4: secret: is too simple") || !strings.Contains(errs, "Imported 2 of 3 keys; 1 lines refused.") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 3 || !strings.Contains(lines[0], `"line":1`) ||
		!strings.Contains(lines[1], `"line":3`) || !strings.Contains(lines[2], `"problem"`) {
		t.Errorf("stdout: %q", out)
	}
	for _, sec := range []string{unkey, stripe} {
		if strings.Contains(out+errs, sec) {
			t.Errorf("a secret is printed")
		}
		res, err := client.New(srv.URL, client.WithToken(srv.Admin)).VerifyKey(context.Background(), keyward.VerifyRequest{Key: sec})
		if err != nil || !res.Valid {
			t.Errorf("verify an imported secret: %+v, %v", res, err)
		}
	}
	code, _, errs = akRun(t, env, "", "apikeys", "import", filepath.Join(t.TempDir(), "missing"))
	if code != exitUsage || !strings.Contains(errs, "reading") {
		t.Errorf("a missing file: exit %d, %q", code, errs)
	}
}

// TestImportChunks: a file is cut into requests of at most 10,000 lines,
// blank lines left out, each line's number kept.
func TestImportChunks(t *testing.T) {
	var b strings.Builder
	b.WriteString("\n")
	for range keyward.MaxImportLines + 1 {
		b.WriteString("{}\n")
	}
	chunks := importChunks([]byte(b.String()), keyward.MaxImportLines)
	if len(chunks) != 2 || len(chunks[0].lines) != keyward.MaxImportLines || chunks[0].lines[0] != 2 ||
		chunks[1].lines[0] != keyward.MaxImportLines+2 || string(chunks[1].body) != "{}\n" {
		t.Errorf("got %d chunks", len(chunks))
	}
	if chunks = importChunks([]byte("{}\n{}\n\n{}\n"), 2); len(chunks) != 2 || chunks[1].lines[0] != 4 {
		t.Errorf("--batch 2: got %+v", chunks)
	}
}
