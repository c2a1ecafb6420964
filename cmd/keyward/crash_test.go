package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startBinary runs the built keyward binary with "serve" on a free loopback
// port and returns its URL once it listens.
func startBinary(t *testing.T, bin, dataDir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "warn")
	cmd.Env = append(os.Environ(), "KEYWARD_ADMIN_PASSWORD=crash-admin-password")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "keyward listening on "); ok {
				urls <- u
			}
		}
	}()
	select {
	case u := <-urls:
		return cmd, u
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the server did not start")
	}
	return nil, ""
}

// TestKeysSurviveKill9: every key whose create answered 201 is still there
// after the server is killed with SIGKILL in the middle of a burst of
// creates.
func TestKeysSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a real binary: skipped in -short mode")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "keyward")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	cmd, url := startBinary(t, bin, data)
	code, login := postJSON(t, url+"/v1/login", "", map[string]string{"userName": "admin", "password": "crash-admin-password"})
	if code != 200 {
		t.Fatalf("login: %d", code)
	}
	token := login["accessToken"].(string)

	var mu sync.Mutex
	var created []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body, _ := json.Marshal(map[string]any{"name": "crash"})
				req, _ := http.NewRequest("POST", url+"/v1/apikeys", strings.NewReader(string(body)))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					return // the server is gone
				}
				var k struct{ ID string }
				json.NewDecoder(res.Body).Decode(&k)
				res.Body.Close()
				if res.StatusCode == 201 {
					mu.Lock()
					created = append(created, k.ID)
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	close(stop)
	wg.Wait()
	if len(created) == 0 {
		t.Fatal("no key was created before the kill")
	}

	cmd2, url2 := startBinary(t, bin, data)
	defer func() { cmd2.Process.Signal(syscall.SIGTERM); cmd2.Wait() }()
	for _, id := range created {
		req, _ := http.NewRequest("GET", url2+"/v1/apikeys/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("key %s answered 201 before the kill, then %d after the restart", id, res.StatusCode)
		}
	}
	t.Logf("%d keys created before SIGKILL, all present after the restart", len(created))
}
