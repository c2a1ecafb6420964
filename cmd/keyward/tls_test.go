package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 with serial
// to certFile and keyFile and returns it.
func selfSigned(t *testing.T, serial int64, certFile, keyFile string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "keyward test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Key first: the pair on disk is whole once the certificate is written.
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert
}

// Over --tls-cert/--tls-key the server speaks HTTP/2, serves a renewed
// certificate without a restart, keeps the old one when the new files are
// bad, and the console's session cookie is __Host- and Secure.
func TestTLSReloadsCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	first := selfSigned(t, 1, certFile, keyFile)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	stderr := &lockedBuffer{}
	done := make(chan int, 1)
	env := map[string]string{"KEYWARD_ADMIN_PASSWORD": "tls-admin-password"}
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"),
			"--tls-cert", certFile, "--tls-key", keyFile}, func(k string) string { return env[k] }, strings.NewReader(""), pw, stderr)
		pw.Close()
	}()
	var base string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "keyward listening on "); ok {
			base = u
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("got listening on %q, want https://127.0.0.1:…; stderr %s", base, stderr.String())
	}
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d", code)
		}
	}()

	// served asks for /healthz on a new connection and returns the serial
	// of the certificate the server presented and the protocol.
	served := func() (int64, string) {
		t.Helper()
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true, DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("/healthz over TLS: got %d", res.StatusCode)
		}
		return res.TLS.PeerCertificates[0].SerialNumber.Int64(), res.Proto
	}
	// waitFor polls until the server presents serial (the files are checked
	// at most once a second).
	waitFor := func(serial int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, _ := served()
			if got == serial {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the server presents certificate %d, want %d", got, serial)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	if serial, proto := served(); serial != first.SerialNumber.Int64() || proto != "HTTP/2.0" {
		t.Fatalf("got certificate %d over %s, want %d over HTTP/2.0", serial, proto, first.SerialNumber.Int64())
	}
	// A verifying client that trusts the certificate works too.
	pool := x509.NewCertPool()
	pool.AddCert(first)
	strict := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	if res, err := strict.Get(base + "/readyz"); err != nil {
		t.Fatalf("a client verifying the certificate: %v", err)
	} else {
		res.Body.Close()
	}

	time.Sleep(1100 * time.Millisecond) // a different modification time
	selfSigned(t, 2, certFile, keyFile)
	waitFor(2)

	// A bad pair keeps the certificate in service.
	time.Sleep(1100 * time.Millisecond)
	if err := os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	for range 3 {
		if got, _ := served(); got != 2 {
			t.Fatalf("after a bad certificate file: the server presents %d, want 2 kept", got)
		}
	}
	if !strings.Contains(stderr.String(), "keeping the one in service") {
		t.Errorf("a bad certificate file logged no error: %s", stderr.String())
	}
	// The container's HEALTHCHECK finds the TLS server from the environment.
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(base, "https://"))
	hcEnv := map[string]string{"KEYWARD_ADDR": "0.0.0.0:" + port, "KEYWARD_TLS_CERT": certFile}
	var hcOut, hcErr strings.Builder
	if code := run(context.Background(), []string{"healthcheck"}, func(k string) string { return hcEnv[k] }, strings.NewReader(""), &hcOut, &hcErr); code != 0 {
		t.Errorf("healthcheck of the TLS server: exit %d, %s", code, hcErr.String())
	}
	// And the next good pair is taken.
	selfSigned(t, 3, certFile, keyFile)
	waitFor(3)

	// The console's session cookie over TLS.
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("POST", base+"/console/login", strings.NewReader(url.Values{
		"userName": {"admin"}, "password": {"tls-admin-password"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var session *http.Cookie
	for _, c := range res.Cookies() {
		if strings.HasSuffix(c.Name, "keyward_session") {
			session = c
		}
	}
	if session == nil || session.Name != "__Host-keyward_session" || !session.Secure || session.Path != "/" || session.Domain != "" {
		t.Errorf("console login over TLS: got status %d, cookie %+v; want __Host-keyward_session, Secure, Path /, no Domain", res.StatusCode, session)
	}
}

func TestTLSFlagsGoTogether(t *testing.T) {
	code, _, errOut := runCaptured(t, "serve", "--tls-cert", "x.pem", "--data-dir", t.TempDir())
	if code != exitUsage || !strings.Contains(errOut, "--tls-cert and --tls-key go together") {
		t.Errorf("got exit %d, stderr %q", code, errOut)
	}
}
