package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certReloader serves the certificate in certFile and keyFile, and reads
// them again when either file changes (size or modification time), checked
// at most once per second as handshakes arrive: renewing a certificate
// (certbot, cert-manager) needs no restart. A new pair that does not load
// keeps the old certificate in service and logs an error.
type certReloader struct {
	certFile, keyFile string
	logger            *slog.Logger
	now               func() time.Time

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string // sizes and modification times of the files loaded
	checked time.Time
}

func newCertReloader(certFile, keyFile string, logger *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, logger: logger, now: time.Now}
	stamp, err := r.fileStamp()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	r.cert, r.stamp, r.checked = &cert, stamp, r.now()
	return r, nil
}

func (r *certReloader) fileStamp() (string, error) {
	var stamp string
	for _, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return "", fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		stamp += fmt.Sprintf("%d/%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return stamp, nil
}

// GetCertificate is the tls.Config hook.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.checked) >= time.Second {
		r.checked = now
		r.reload()
	}
	return r.cert, nil
}

// reload loads the files again when they changed; r.mu is held.
func (r *certReloader) reload() {
	stamp, err := r.fileStamp()
	if err != nil {
		r.logger.Error("TLS certificate: keeping the one in service", slog.Any("error", err))
		return
	}
	if stamp == r.stamp {
		return
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		// Often the two files are being replaced one after the other: try
		// again on a later handshake, and keep serving the old pair.
		r.logger.Error("TLS certificate: the new files do not load; keeping the one in service",
			slog.Any("error", errors.Unwrap(err)), slog.String("cert", r.certFile))
		return
	}
	r.cert, r.stamp = &cert, stamp
	r.logger.Info("TLS certificate reloaded", slog.String("cert", r.certFile))
}

// tlsConfig is the servers' TLS configuration: TLS 1.2 or later, the
// certificate from r; net/http adds HTTP/2.
func (r *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
}
