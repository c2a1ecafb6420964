package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/console"
	"github.com/keyward/keyward/internal/dialect"
	"github.com/keyward/keyward/internal/dialect/carbonext"
	"github.com/keyward/keyward/internal/dialect/freesewing"
	"github.com/keyward/keyward/internal/dialect/piercloud"
	"github.com/keyward/keyward/internal/dialect/portos"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/wire"
)

const serveUsage = `Usage: keyward serve [flags]

Runs the keyward server. With no flags it listens on 127.0.0.1:8080 and keeps
everything in SQLite under ./keyward-data. On an empty database it creates the
root tenant "default" and a level-8 user "admin", and prints the admin password
once (or uses KEYWARD_ADMIN_PASSWORD, and then prints nothing). The web console
is at /console (sign in as admin); --no-console turns it off.

Environment:
  KEYWARD_ADDR, KEYWARD_DATA_DIR, KEYWARD_DATABASE_URL   defaults for the flags below
  KEYWARD_MASTER_KEY    32-byte key (64 hex characters or base64) that seals HMAC
                        secrets and signs login tokens; every replica needs the same
                        one. Unset: a key file <data-dir>/master.key (mode 0600) is
                        created on first start.
  KEYWARD_ADMIN_PASSWORD  password of the first admin user
  KEYWARD_REDIS_URL     default for --redis-url
  Each of KEYWARD_DATABASE_URL, KEYWARD_MASTER_KEY, KEYWARD_ADMIN_PASSWORD and
  KEYWARD_REDIS_URL may be given as KEYWARD_<NAME>_FILE naming a file that holds it.

Separate listeners: --admin-addr 127.0.0.1:8081 moves the management API
(/v1, login included), the console, the dialects' management routes and
/metrics to a second listener; --addr then serves only token, introspection,
revocation, JWKS, discovery, key and signature verification, the dialects'
token routes, /healthz and /readyz.

TLS: --tls-cert and --tls-key serve HTTPS and HTTP/2 on every listener; the
files are read again when they change (no restart), and a pair that does not
load keeps the certificate in service.

Several replicas: start any number of "keyward serve" processes with the same
--database-url postgres://... and the same KEYWARD_MASTER_KEY behind a load
balancer. They share keys, users and token signing keys; a change on one
replica reaches every other within milliseconds (PostgreSQL LISTEN/NOTIFY; a
replica that loses its listener serves no cached key until it listens again).
Signed-request nonces are kept in the database (SQLite or PostgreSQL), so a
signed request is never accepted twice, across restarts too. Add the same --redis-url to
every replica to make rate limits cluster-wide too; when Redis does not
answer, rate-limited requests are refused (503), never let through. Example:

  export KEYWARD_MASTER_KEY=$(openssl rand -hex 32)
  keyward serve --addr 127.0.0.1:8081 --database-url postgres://keyward@db/keyward --redis-url redis://cache:6379/0 &
  keyward serve --addr 127.0.0.1:8082 --database-url postgres://keyward@db/keyward --redis-url redis://cache:6379/0 &

Flags:
`

// runServe implements "keyward serve".
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keyward serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c serverConfig
	envErr := serverFlags(fs, getenv, &c)
	addr, _ := env(getenv, "ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	fs.StringVar(&c.Addr, "addr", addr, "address to listen on (env KEYWARD_ADDR)")
	tlsCert, _ := env(getenv, "TLS_CERT")
	tlsKey, _ := env(getenv, "TLS_KEY")
	fs.StringVar(&c.TLSCert, "tls-cert", tlsCert, "PEM certificate (chain) file: serve HTTPS and HTTP/2 on every listener, with --tls-key (env KEYWARD_TLS_CERT); the files are read again when they change, no restart")
	fs.StringVar(&c.TLSKey, "tls-key", tlsKey, "PEM private key file of --tls-cert (env KEYWARD_TLS_KEY)")
	adminAddr, _ := env(getenv, "ADMIN_ADDR")
	fs.StringVar(&c.AdminAddr, "admin-addr", adminAddr, "a second address for the management API (/v1), the console, the dialects' management routes and /metrics (env KEYWARD_ADMIN_ADDR); --addr then serves only token, introspection, revocation, JWKS, discovery, verification, the dialects' token routes and /healthz, /readyz. Empty: everything on --addr")
	fs.BoolVar(&c.Migrate, "migrate", false, "apply pending migrations to an existing database before serving (a new database is always migrated)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "how long to drain requests on shutdown")
	fs.DurationVar(&c.DBTimeout, "db-timeout", 5*time.Second, "longest the database and Redis calls of one request may take together; past it the request answers 503 database_unavailable with Retry-After, and at most 256 calls wait for the database at once (more answer 503 at once)")
	fs.DurationVar(&c.CacheTTL, "cache-ttl", 30*time.Second, "longest time a verified key is served from memory without a database read")
	fs.IntVar(&c.CacheSize, "cache-size", keyward.DefaultCacheSize, "most keys held in the verify cache (about 0.7–0.9 KiB of process memory each); past it a key seldom used is evicted and read from the database at its next use. 0 turns the cache off: every verification reads the database")
	publicURL, _ := env(getenv, "PUBLIC_URL")
	fs.StringVar(&c.PublicURL, "public-url", publicURL, "URL clients reach keyward at: the issuer (iss) of OAuth2 tokens and of the RFC 8414 metadata at /.well-known/oauth-authorization-server (with a path /p, also at /.well-known/oauth-authorization-server/p) (env KEYWARD_PUBLIC_URL; default http://<addr>)")
	alg, _ := env(getenv, "TOKEN_ALG")
	if alg == "" {
		alg = keyward.AlgEdDSA
	}
	fs.StringVar(&c.TokenAlg, "token-alg", alg, "OAuth2 access token signature: EdDSA, ES256 (P-256) or RS256 (RSA 2048, which RFC 9068 requires every resource server to accept) (env KEYWARD_TOKEN_ALG); a change takes effect at start with a new signing key, the old one published until its tokens expire")
	dialects, _ := env(getenv, "DIALECTS")
	if dialects == "" {
		dialects = strings.Join(dialectNames(), ",")
	}
	fs.StringVar(&c.Dialects, "dialects", dialects, "compatibility dialects to serve, comma-separated, or \"none\" (env KEYWARD_DIALECTS)")
	fs.BoolVar(&c.NoConsole, "no-console", false, "do not serve the web console at /console")
	c.GCMinHeap = defaultGCMinHeap
	fs.Var(sizeFlag{&c.GCMinHeap}, "gc-min-heap", "least heap the garbage collector lets grow before collecting, e.g. 64MiB, 256MiB, or 0 for Go's own (4 MiB at GOGC=100): GOGC is raised after each collection while the live heap is under half of it, and is 100 above; off when the environment sets GOGC or GOMEMLIMIT")
	redisURL, rerr := env(getenv, "REDIS_URL")
	envErr = errors.Join(envErr, rerr)
	fs.StringVar(&c.RedisURL, "redis-url", redisURL, "Redis for cluster-wide rate limits and signed-request nonces, redis://[user:password@]host:6379/0 (env KEYWARD_REDIS_URL or KEYWARD_REDIS_URL_FILE; empty: rate limits in memory, nonces in the database)")
	proxies, perr := env(getenv, "TRUSTED_PROXIES")
	envErr = errors.Join(envErr, perr)
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", proxies, "load balancers whose X-Forwarded-For gives the client's address (for rate limits, audit and logs): addresses or prefixes, comma-separated, e.g. 10.0.0.0/8 (env KEYWARD_TRUSTED_PROXIES)")
	fs.StringVar(&c.TenantRateLimit, "tenant-rate-limit", "off", "requests per window for all keys of a tenant together, e.g. 1000/1s, or off")
	fs.StringVar(&c.FailedAuthLimit, "failed-auth-limit", "20/1m", "failed authentications per client address and window before the address is refused until the window ends, or off")
	fs.BoolVar(&c.CreditLeases, "credit-leases", true, "spend usage credits from per-replica leases taken from the database (an atomic decrement in memory per use; a crash may leave at most one lease per key per replica unspent, never more spent than granted); false: one database write per use")
	fs.DurationVar(&c.SigningKeyRotation, "signing-key-rotation", 30*24*time.Hour, "how long one token signing key signs before the next takes over (at least 1h)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), serveUsage)
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "keyward serve: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if err := errors.Join(envErr, c.validate()); err != nil {
		fmt.Fprintf(stderr, "keyward serve: %v\n", err)
		return exitUsage
	}
	// The request log is written in batches (logBuffer); every other line
	// at once, after the request lines before it.
	out := newLogBuffer(stderr, 100*time.Millisecond)
	defer out.Close()
	logger := c.logger(out.Direct())
	defer startGCTuner(&c, getenv, logger).Stop()
	if err := serve(ctx, &c, logger, c.requestLogger(out), stdout); err != nil {
		logger.Error("keyward stopped", slog.Any("error", err))
		fmt.Fprintf(stderr, "keyward serve: %v\n", err)
		return exitError
	}
	return exitOK
}

// dialectMounts are the compatibility dialects by name.
var dialectMounts = map[string]func(*http.ServeMux, *keyward.Service, dialect.Host){
	"carbonext":  carbonext.Mount,
	"freesewing": freesewing.Mount,
	"piercloud":  piercloud.Mount,
	"portos":     portos.Mount,
}

func dialectNames() []string {
	var names []string
	for n := range dialectMounts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// serve runs the server until ctx is done, then drains requests.
func serve(ctx context.Context, c *serverConfig, logger, requestLog *slog.Logger, stdout io.Writer) error {
	master, created, err := c.masterKey()
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	if created {
		logger.Warn("created a new master key file; back it up, and give every replica the same key (KEYWARD_MASTER_KEY)",
			slog.String("path", c.DataDir+"/master.key"))
	}
	var certs *certReloader
	scheme := "http://"
	if c.TLSCert != "" {
		if certs, err = newCertReloader(c.TLSCert, c.TLSKey, logger); err != nil {
			return err
		}
		scheme = "https://"
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	var adminLn net.Listener
	if c.AdminAddr != "" {
		if adminLn, err = net.Listen("tcp", c.AdminAddr); err != nil {
			return err
		}
		defer adminLn.Close()
	}
	if c.PublicURL == "" {
		c.PublicURL = scheme + ln.Addr().String()
	}
	if c.DatabaseURL == "" {
		// Shared: replicas may share nothing on SQLite, but "keyward
		// restore" takes it exclusively and so never swaps the file under
		// a running server.
		unlock, err := lockDataDir(c.DataDir, false)
		if errors.Is(err, errDataDirBusy) {
			return fmt.Errorf("%s is being restored (keyward restore holds its lock): start again when it is done", c.DataDir)
		} else if err != nil {
			return err
		}
		defer unlock()
	}
	cfg := keyward.Config{
		MasterKey: master, Logger: logger, CacheTTL: c.CacheTTL, CacheSize: c.CacheSize,
		PublicURL: c.PublicURL, TokenAlgorithm: c.TokenAlg, SigningKeyRotation: c.SigningKeyRotation,
	}
	cfg.TenantRateLimit, _ = rateLimit("tenant-rate-limit", c.TenantRateLimit)
	cfg.FailedAuthLimit, _ = rateLimit("failed-auth-limit", c.FailedAuthLimit)
	cfg.NoCreditLeases = !c.CreditLeases
	if c.CacheSize == 0 {
		cfg.CacheSize = -1 // Config's 0 is the default
	}
	running, err := wire.Open(ctx, wire.Options{DSN: c.databaseDSN(), Migrate: c.Migrate,
		Limits: &sqlstore.Limits{Timeout: c.DBTimeout}, RedisURL: c.RedisURL, Config: cfg})
	if err != nil {
		return err
	}
	defer running.Close()
	svc, db, shared := running.Service, running.DB, running.Shared
	generated, err := svc.Bootstrap(ctx, c.AdminPassword)
	if err != nil {
		return err
	}
	if generated != "" {
		fmt.Fprintf(stdout, "Created tenant %q and user \"admin\" (level 8).\nAdmin password (shown only this once): %s\n",
			keyward.RootTenantName, generated)
	}

	reg := prometheus.NewRegistry()
	build := currentBuild()
	reg.MustRegister(build.collector())
	reg.MustRegister(gcMinHeapGauge(c.GCMinHeap))
	api := httpapi.New(svc, logger, reg)
	api.LogRequestsTo(requestLog.Handler())
	proxies, _ := c.proxies()
	api.TrustProxies(proxies)
	// Every request gets one database budget of --db-timeout: all the store
	// calls it makes together end within it, so that it answers in about
	// that time even when the database hangs.
	api.StoreBudget(c.DBTimeout)
	for _, name := range c.dialectList() {
		dialectMounts[name](api.Mux(), svc, api)
	}
	if !c.NoConsole {
		console.Mount(api.Mux(), svc, logger)
	}
	newServer := func(h http.Handler) *http.Server {
		var tc *tls.Config
		if certs != nil {
			tc = certs.tlsConfig()
		}
		return &http.Server{
			TLSConfig:         tc,
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		}
	}
	type listener struct {
		ln  net.Listener
		srv *http.Server
	}
	var listeners []listener
	consoleBase := strings.TrimSuffix(c.PublicURL, "/")
	if adminLn == nil {
		listeners = append(listeners, listener{ln, newServer(api)})
		fmt.Fprintf(stdout, "keyward listening on %s%s\n", scheme, ln.Addr())
	} else {
		listeners = append(listeners, listener{ln, newServer(api.Only(publicRoute))},
			listener{adminLn, newServer(api.Only(adminRoute))})
		consoleBase = scheme + adminLn.Addr().String()
		fmt.Fprintf(stdout, "keyward listening on %s%s (public), %s%s (admin)\n", scheme, ln.Addr(), scheme, adminLn.Addr())
	}
	if !c.NoConsole {
		fmt.Fprintf(stdout, "Console: %s/console\n", consoleBase)
	}
	attrs := []any{slog.String("addr", ln.Addr().String())}
	if adminLn != nil {
		attrs = append(attrs, slog.String("admin_addr", adminLn.Addr().String()))
	}
	logger.Info("listening", append(attrs, slog.String("version", build.Version),
		slog.String("revision", build.Revision), slog.String("database", db.Dialect()),
		slog.String("rate_limits", shared))...)

	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() {
			if certs != nil {
				errc <- l.srv.ServeTLS(l.ln, "", "")
				return
			}
			errc <- l.srv.Serve(l.ln)
		}()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: draining requests", slog.Duration("timeout", c.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	var errs []error
	for _, l := range listeners {
		if err := l.srv.Shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
		}
	}
	return errors.Join(errs...)
}
