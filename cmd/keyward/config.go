package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/secret"
)

// serverConfig is everything serve and migrate need: defaults, then
// environment (KEYWARD_*, and *_FILE for secrets), then flags, validated once.
type serverConfig struct {
	Addr            string
	AdminAddr       string // "": management on Addr too
	TLSCert         string // PEM certificate chain; with TLSKey, serve HTTPS
	TLSKey          string
	DataDir         string
	DatabaseURL     string
	MasterKey       string
	AdminPassword   string
	Migrate         bool
	LogLevel        string
	LogFormat       string
	ShutdownTimeout time.Duration
	CacheTTL        time.Duration
	CacheSize       int           // keys the verify cache holds at most; 0: none
	GCMinHeap       uint64        // least heap goal the GC tuner keeps; 0: none
	DBTimeout       time.Duration // each store call and transaction; 0 in migrate

	Dialects           string
	PublicURL          string
	TokenAlg           string
	SigningKeyRotation time.Duration
	NoConsole          bool

	RedisURL        string
	TenantRateLimit string // "N/window" or "off"
	FailedAuthLimit string // "N/window" or "off"
	TrustedProxies  string // comma-separated addresses or CIDR prefixes
	CreditLeases    bool   // spend credits from per-replica leases
}

// proxies parses --trusted-proxies: addresses (a single host) or prefixes.
func (c *serverConfig) proxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(c.TrustedProxies, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if a, err := netip.ParseAddr(f); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies: %q is neither an address nor a prefix such as 10.0.0.0/8", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// rateLimit parses a limit flag; "off" (or "") is nil.
func rateLimit(flagName, v string) (*keyward.RateLimit, error) {
	if v == "" || v == "off" {
		return nil, nil
	}
	l, err := keyward.ParseRateLimit(v)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flagName, err)
	}
	return &l, nil
}

// env reads KEYWARD_<name>, or the contents of the file named by
// KEYWARD_<name>_FILE.
func env(getenv func(string) string, name string) (string, error) {
	v := getenv("KEYWARD_" + name)
	if f := getenv("KEYWARD_" + name + "_FILE"); f != "" {
		if v != "" {
			return "", fmt.Errorf("set KEYWARD_%s or KEYWARD_%s_FILE, not both", name, name)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("KEYWARD_%s_FILE: %w", name, err)
		}
		v = strings.TrimRight(string(b), "\r\n")
	}
	return v, nil
}

// serverFlags registers the flags shared by serve and migrate on fs, with
// defaults taken from the environment.
func serverFlags(fs *flag.FlagSet, getenv func(string) string, c *serverConfig) error {
	var err error
	def := func(name, fallback string) string {
		v, e := env(getenv, name)
		if e != nil && err == nil {
			err = e
		}
		if v == "" {
			return fallback
		}
		return v
	}
	fs.StringVar(&c.DataDir, "data-dir", def("DATA_DIR", "./keyward-data"), "directory for the SQLite database and the master key file (env KEYWARD_DATA_DIR)")
	fs.StringVar(&c.DatabaseURL, "database-url", def("DATABASE_URL", ""), "database URL: postgres://... selects PostgreSQL; empty means SQLite in the data directory (env KEYWARD_DATABASE_URL or KEYWARD_DATABASE_URL_FILE)")
	fs.StringVar(&c.LogLevel, "log-level", def("LOG_LEVEL", "info"), "log level: debug, info, warn or error (env KEYWARD_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", def("LOG_FORMAT", "json"), "log format: json or text (env KEYWARD_LOG_FORMAT)")
	c.MasterKey = def("MASTER_KEY", "")
	c.AdminPassword = def("ADMIN_PASSWORD", "")
	return err
}

// databaseDSN returns what sqlstore.Open takes: the PostgreSQL URL, or the
// SQLite file in the data directory.
func (c *serverConfig) databaseDSN() string {
	if c.DatabaseURL != "" {
		return c.DatabaseURL
	}
	return filepath.Join(c.DataDir, "keyward.db")
}

func (c *serverConfig) validate() error {
	var errs []error
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		errs = append(errs, errors.New("--database-url must be a postgres:// URL (leave it empty for SQLite)"))
	}
	if c.DatabaseURL == "" && c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	if c.MasterKey != "" {
		if _, err := secret.ParseMasterKey(c.MasterKey); err != nil {
			errs = append(errs, fmt.Errorf("KEYWARD_MASTER_KEY: %w", err))
		}
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, errors.New("--log-format must be json or text"))
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			errs = append(errs, errors.New("--public-url must be an http(s) URL such as https://keys.example.com"))
		}
	}
	if c.TokenAlg != "" && c.TokenAlg != "EdDSA" && c.TokenAlg != "ES256" && c.TokenAlg != "RS256" {
		errs = append(errs, errors.New("--token-alg must be EdDSA, ES256 or RS256"))
	}
	if c.SigningKeyRotation != 0 && c.SigningKeyRotation < time.Hour {
		errs = append(errs, errors.New("--signing-key-rotation must be at least 1h"))
	}
	for _, d := range c.dialectList() {
		if _, ok := dialectMounts[d]; !ok {
			errs = append(errs, fmt.Errorf("--dialects: unknown dialect %q (known: %s)", d, strings.Join(dialectNames(), ", ")))
		}
	}
	if _, err := rateLimit("tenant-rate-limit", c.TenantRateLimit); err != nil {
		errs = append(errs, err)
	}
	if _, err := rateLimit("failed-auth-limit", c.FailedAuthLimit); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.proxies(); err != nil {
		errs = append(errs, err)
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		errs = append(errs, errors.New("--redis-url must be a redis:// or rediss:// URL"))
	}
	if c.AdminAddr != "" && c.AdminAddr == c.Addr && !strings.HasSuffix(c.Addr, ":0") {
		errs = append(errs, errors.New("--admin-addr must differ from --addr (leave it empty to serve everything on --addr)"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if c.DBTimeout < 0 || (c.DBTimeout > 0 && c.DBTimeout < 100*time.Millisecond) {
		errs = append(errs, errors.New("--db-timeout must be at least 100ms"))
	}
	if c.ShutdownTimeout < 0 || c.CacheTTL < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	if c.CacheSize < 0 {
		errs = append(errs, errors.New("--cache-size must not be negative (0 turns the key cache off)"))
	}
	return errors.Join(errs...)
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: must be debug, info, warn or error", s)
	}
	return l, nil
}

func (c *serverConfig) logger(w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	// Every line passes through secret.RedactHandler: a secret a client put
	// in a URL path (or anywhere else that reaches a log) never shows.
	if c.LogFormat == "text" {
		return slog.New(secret.RedactHandler(slog.NewTextHandler(w, opts)))
	}
	return slog.New(secret.RedactHandler(slog.NewJSONHandler(w, opts)))
}

// requestLogger returns the logger of the request log: the same lines as
// logger's, written by httpapi.JSONRequestLog in the json format (the
// server then appends each request line itself).
func (c *serverConfig) requestLogger(w io.Writer) *slog.Logger {
	if c.LogFormat == "text" {
		return c.logger(w)
	}
	level, _ := parseLevel(c.LogLevel)
	return slog.New(httpapi.JSONRequestLog(w, level))
}

// masterKey returns KEYWARD_MASTER_KEY, or the key in <data-dir>/master.key,
// created on first start.
func (c *serverConfig) masterKey() ([]byte, bool, error) {
	if c.MasterKey != "" {
		k, err := secret.ParseMasterKey(c.MasterKey)
		return k, false, err
	}
	return secret.LoadOrCreateMasterKeyFile(filepath.Join(c.DataDir, "master.key"))
}

// dialectList returns the chosen dialects; "none" or "" is none.
func (c *serverConfig) dialectList() []string {
	var out []string
	for _, d := range strings.Split(c.Dialects, ",") {
		if d = strings.TrimSpace(d); d != "" && d != "none" {
			out = append(out, d)
		}
	}
	return out
}
