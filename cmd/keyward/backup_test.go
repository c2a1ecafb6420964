package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A backup taken while keys are being created restores to a database where
// every key created before the backup began works; restore refuses while
// the server runs, and refuses a file that is not a keyward database.
func TestBackupUnderLoadRestores(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"KEYWARD_ADMIN_PASSWORD": "backup-admin-password"}
	s := startServer(t, env, "--data-dir", dir)
	code, login := postJSON(t, s.URL+"/v1/login", "", map[string]string{"userName": "admin", "password": "backup-admin-password"})
	if code != 200 {
		t.Fatalf("login: %d", code)
	}
	admin := login["accessToken"].(string)
	newKey := func(name string) (string, bool) {
		code, k := postJSON(t, s.URL+"/v1/apikeys", admin, map[string]any{"name": name})
		if code != 201 {
			return "", false
		}
		return k["clientSecret"].(string), true
	}
	var before []string
	for i := range 30 {
		sec, ok := newKey(fmt.Sprintf("before-%d", i))
		if !ok {
			t.Fatal("creating a key before the backup failed")
		}
		before = append(before, sec)
	}

	// Writers create keys until told to stop, through the backup.
	stop := make(chan struct{})
	var created, failed atomic.Int64
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, ok := newKey(fmt.Sprintf("load-%d-%d", w, i)); ok {
					created.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	for created.Load() < 10 { // the load is under way
		time.Sleep(5 * time.Millisecond)
	}
	file := filepath.Join(t.TempDir(), "keyward-backup.db")
	atStart := created.Load()
	code, out, errOut := runCaptured(t, "backup", "--data-dir", dir, file)
	atEnd := created.Load()
	close(stop)
	wg.Wait()
	if code != exitOK {
		t.Fatalf("backup: exit %d, %s", code, errOut)
	}
	if !strings.Contains(errOut, "master key") || !strings.Contains(out, "backed up") {
		t.Errorf("backup: stdout %q, stderr %q; want the copy reported and the master key named", out, errOut)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the backup file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if failed.Load() > 0 {
		t.Errorf("%d key creations failed while the backup ran", failed.Load())
	}
	t.Logf("keys created during the load: %d (%d while the backup ran)", created.Load(), atEnd-atStart)

	after, ok := newKey("after")
	if !ok {
		t.Fatal("creating a key after the backup failed")
	}

	// Not while the server runs.
	if code, _, errOut := runCaptured(t, "restore", "--data-dir", dir, file); code != exitError || !strings.Contains(errOut, "stop it first") {
		t.Errorf("restore under a running server: exit %d, %q; want 1 and stop it first", code, errOut)
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}

	// Not a keyward database.
	junk := filepath.Join(t.TempDir(), "junk.db")
	os.WriteFile(junk, []byte("not a database at all, just words"), 0o600)
	if code, _, errOut := runCaptured(t, "restore", "--data-dir", dir, junk); code != exitError || !strings.Contains(errOut, "not a keyward backup") {
		t.Errorf("restore of junk: exit %d, %q; want 1 and not a keyward backup", code, errOut)
	}

	// Keys made after the backup are gone once it is restored; the ones
	// before all work.
	code, out, errOut = runCaptured(t, "restore", "--data-dir", dir, file)
	if code != exitOK || !strings.Contains(out, "before-restore-") {
		t.Fatalf("restore: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	s2 := startServer(t, env, "--data-dir", dir)
	whoami := func(sec string) int {
		req, _ := http.NewRequest("GET", s2.URL+"/v1/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+sec)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := whoami(after); got != 401 {
		t.Errorf("a key made after the backup: whoami got %d, want 401 (the restore replaced the database)", got)
	}
	for i, sec := range before {
		if got := whoami(sec); got != 200 {
			t.Errorf("key %d made before the backup: whoami got %d, want 200", i, got)
		}
	}
}

func TestBackupRefusesPostgres(t *testing.T) {
	for _, cmd := range []string{"backup", "restore"} {
		code, _, errOut := runCaptured(t, cmd, "--database-url", "postgres://u@127.0.0.1:1/db", "x.db")
		if code != exitUsage || !strings.Contains(errOut, "pg_") {
			t.Errorf("%s on PostgreSQL: exit %d, %q; want 2 naming pg_dump or pg_restore", cmd, code, errOut)
		}
	}
}

func TestBackupNeedsADatabase(t *testing.T) {
	code, _, errOut := runCaptured(t, "backup", "--data-dir", t.TempDir(), filepath.Join(t.TempDir(), "b.db"))
	if code != exitError || !strings.Contains(errOut, "no keyward database") {
		t.Errorf("backup of an empty directory: exit %d, %q", code, errOut)
	}
}
