package keyward

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/secret"
)

// RootTenantName is the name of the tenant created on first start.
const RootTenantName = "default"

// DefaultPrefix is the key prefix of tenants that do not choose one.
const DefaultPrefix = "kw"

// Config configures a Service.
type Config struct {
	Store     Store
	MasterKey []byte // 32 bytes; seals HMAC secrets and derives token keys
	Logger    *slog.Logger
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
	// CacheTTL bounds how long a verified key is served from memory without
	// a database read (default 30 s). Changes through the Service invalidate
	// at once; the TTL is the last line of defence against missed ones.
	CacheTTL time.Duration
	// CacheSize bounds the number of cached keys (0: the default,
	// 1,000,000; negative: none, every verification reads the store).
	CacheSize int
	// Issuer is the "iss" of login tokens (default "keyward").
	Issuer string
	// MaxConcurrentLogins caps argon2id computations running at once
	// (default 2).
	MaxConcurrentLogins int

	// PublicURL is the URL clients reach keyward at: the "iss" of OAuth2
	// access tokens and the base of the discovery metadata
	// (default http://127.0.0.1:8080).
	PublicURL string
	// TokenAudience is the "aud" of access tokens (default "keyward").
	TokenAudience string
	// TokenAlgorithm signs access tokens: AlgEdDSA (default), AlgES256 or
	// AlgRS256 (wire gives it to the Tokens it makes).
	TokenAlgorithm string
	// Changes carries cache invalidations between replicas sharing the
	// database (nil: this process is the only one).
	Changes ChangeFeed
	// NonceStore guards signed requests against replay (required; wire
	// supplies the in-memory one).
	NonceStore NonceStore
	// SigningKeyRotation is how long one signing key signs tokens before the
	// next one takes over (default 30 days, at least 1 hour; wire gives it
	// to the Tokens it makes).
	SigningKeyRotation time.Duration
	// Tokens signs and checks access and login tokens (required; wire
	// supplies internal/oauth's).
	Tokens Tokens
	// Limiter counts requests for rate limits (required; wire supplies the
	// in-memory one).
	Limiter Limiter
	// TenantRateLimit, when set, limits the requests of each tenant's keys
	// together.
	TenantRateLimit *RateLimit
	// FailedAuthLimit, when set, refuses a client address for the rest of
	// the window once it failed to authenticate this often.
	FailedAuthLimit *RateLimit
	// NoCreditLeases spends credits in the database on every use instead
	// of from per-replica leases (see creditlease.go): exact at every
	// moment, but one database write per use.
	NoCreditLeases bool
}

// Clock returns the Service's clock: Now (time.Now when nil) in UTC, to the
// microsecond the databases keep.
func (c Config) Clock() func() time.Time {
	now := c.Now
	if now == nil {
		now = time.Now
	}
	return func() time.Time { return now().UTC().Truncate(time.Microsecond) }
}

// Service holds every business rule of keyward: who may do what, what is
// valid, and when a key works. Handlers and dialects translate requests into
// calls on it and never decide those things themselves. What it runs on
// comes through ports that internal/wire fills in: the Store, the Tokens
// that sign and check JWTs, the Limiter, the NonceStore and the ChangeFeed.
type Service struct {
	store  Store
	logger *slog.Logger
	now    func() time.Time

	sealer       *secret.Sealer
	cache        *keyCache
	misses       missFlights // concurrent misses of one secret read once (flights.go)
	catalogs     catalogCache
	rights       rightsMemo // keyRights by their inputs (rights_memo.go)
	loginQueue   *loginQueue
	failedLogins auditWindows // failed logins per tenant and client address
	logins       auditWindows // successful logins per user and client address

	// OAuth2.
	publicURL string
	audience  string
	audiences []string // []string{audience}, shared by every token that gets it: never written
	tokens    Tokens
	nonces    NonceStore
	changes   ChangeFeed

	// Rate limits.
	limiter     Limiter
	tenantLimit *RateLimit
	failedAuth  *failedAuth
	ops         opCounts

	stopFeed context.CancelFunc
	leases   *creditLeases // nil: NoCreditLeases

	flushMu   sync.Mutex
	outcomes  outcomeCounter // verifications per key and outcome since the last flush
	stopFlush chan struct{}
	flushDone chan struct{}
}

// NewService validates cfg and returns a Service. Call Close to flush
// pending last-use times.
func NewService(cfg Config) (*Service, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("keyward: Config.Store is required")
	case cfg.Limiter == nil:
		return nil, errors.New("keyward: Config.Limiter is required")
	case cfg.NonceStore == nil:
		return nil, errors.New("keyward: Config.NonceStore is required")
	case cfg.Tokens == nil:
		return nil, errors.New("keyward: Config.Tokens is required")
	}
	sealer, err := secret.NewSealer(cfg.MasterKey, "apikey secrets")
	if err != nil {
		return nil, err
	}
	s := &Service{
		store:     cfg.Store,
		logger:    cfg.Logger,
		sealer:    sealer,
		tokens:    cfg.Tokens,
		stopFlush: make(chan struct{}),
		flushDone: make(chan struct{}),
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	s.now = cfg.Clock()
	ttl := cfg.CacheTTL
	if ttl <= 0 {
		ttl = 30 * time.Second
	}
	size := cfg.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	s.cache = newKeyCache(ttl, size)
	s.catalogs.ttl = ttl
	logins := cfg.MaxConcurrentLogins
	if logins <= 0 {
		logins = 2
	}
	s.loginQueue = newLoginQueue(logins)
	s.publicURL, _ = cfg.Issuers()
	s.audience = cfg.TokenAudience
	if s.audience == "" {
		s.audience = "keyward"
	}
	s.audiences = []string{s.audience}
	s.nonces, s.limiter = cfg.NonceStore, cfg.Limiter
	for _, l := range []*RateLimit{cfg.TenantRateLimit, cfg.FailedAuthLimit} {
		if l != nil {
			var f fieldErrors
			if checkRateLimit(&f, "limit", *l); len(f) > 0 {
				return nil, fmt.Errorf("keyward: rate limit %+v: %s %s", *l, f[0].Field, f[0].Message)
			}
		}
	}
	s.tenantLimit = cfg.TenantRateLimit
	s.failedAuth = &failedAuth{limit: cfg.FailedAuthLimit, limiter: s.limiter, logger: s.logger, now: s.now, ops: &s.ops}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.tokens.LoadRevoked(ctx); err != nil {
		return nil, fmt.Errorf("loading token revocations: %w", err)
	}
	if !cfg.NoCreditLeases {
		s.leases = newCreditLeases(s.store, s.logger, s.now)
	}
	if s.changes = cfg.Changes; s.changes != nil {
		s.cache.setEnabled(false) // until the feed listens
		feedCtx, cancel := context.WithCancel(context.Background())
		s.stopFeed = cancel
		go s.subscribe(feedCtx)
	}
	go s.flushLoop()
	return s, nil
}

// Close stops background work and writes pending last-use times.
func (s *Service) Close() error {
	if s.stopFeed != nil {
		s.stopFeed()
	}
	s.leases.closeLeases()
	select {
	case <-s.stopFlush:
	default:
		close(s.stopFlush)
	}
	<-s.flushDone
	return s.FlushLastUsed(context.Background())
}

func (s *Service) flushLoop() {
	defer close(s.flushDone)
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for i := 1; ; i++ {
		select {
		case <-s.stopFlush:
			return
		case <-t.C:
			ctx := context.Background()
			if err := s.FlushLastUsed(ctx); err != nil {
				s.logger.Warn("flushing last-used times", slog.Any("error", err))
			}
			// Revocations made by other replicas, and expired ones dropped.
			if err := s.tokens.LoadRevoked(ctx); err != nil {
				s.logger.Warn("loading token revocations", slog.Any("error", err))
			}
			if i%300 == 0 {
				if _, err := s.store.DeleteExpiredRevocations(ctx, s.now()); err != nil {
					s.logger.Warn("deleting expired revocations", slog.Any("error", err))
				}
				if _, err := s.store.DeleteKeyUsage(ctx, s.now().AddDate(0, 0, -MaxUsageDays-1)); err != nil {
					s.logger.Warn("deleting old usage counts", slog.Any("error", err))
				}
				if _, err := s.store.DeleteExpiredIdempotency(ctx, s.now()); err != nil {
					s.logger.Warn("deleting expired idempotency records", slog.Any("error", err))
				}
			}
		}
	}
}

// FlushLastUsed writes the last-use times and request counts recorded
// since the previous flush.
func (s *Service) FlushLastUsed(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	used, counts := s.cache.takeUsed()
	outcomes := s.outcomes.take()
	var errs []error
	if len(used) > 0 {
		errs = append(errs, s.store.TouchAPIKeys(ctx, used), s.store.AddKeyUsage(ctx, s.now(), counts, used))
	}
	if len(outcomes) > 0 {
		errs = append(errs, s.store.AddKeyOutcomes(ctx, s.now(), outcomes, used))
	}
	return errors.Join(errs...)
}

// dropUsage forgets the usage recorded in memory for deleted keys, so that
// no flush writes it to a key re-created with the same id. (A use recorded
// after this, by a request the key authenticated before its delete, is
// older than the new key: the flush skips it, as it skips one a replica
// that missed the delete recorded.)
func (s *Service) dropUsage(refs ...KeyRef) {
	s.cache.dropUsed(refs...)
	s.outcomes.drop(refs...)
}

// PublicURL is the URL clients reach keyward at, the issuer of its tokens.
func (s *Service) PublicURL() string { return s.publicURL }

// CacheStats reports verify-cache hits, misses and size, for metrics.
func (s *Service) CacheStats() (hits, misses uint64, size int) {
	return s.cache.hits.Load(), s.cache.misses.Load(), s.cache.len()
}

// DefaultCacheSize is the number of keys the verify cache holds at most
// unless Config.CacheSize says otherwise.
const DefaultCacheSize = 1_000_000

// CacheBound reports the verify cache's capacity (0: it caches nothing) and
// how many keys it evicted to stay within it, for metrics.
func (s *Service) CacheBound() (capacity int, evictions uint64) {
	return s.cache.max, s.cache.evictions.Load()
}

// Ready reports whether the service can serve requests (the database answers).
func (s *Service) Ready(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		return Errorf(EUNAVAILABLE, "database unavailable")
	}
	if p, ok := s.limiter.(interface{ Ping(context.Context) error }); ok {
		if err := p.Ping(ctx); err != nil {
			return Errorf(EUNAVAILABLE, "rate limiter unavailable")
		}
	}
	return nil
}

// Bootstrap prepares an empty database: it creates the root tenant
// "default" and a level-8 user "admin". When adminPassword is empty a random
// password is generated and returned (to be shown once); otherwise it is used
// and "" is returned. On a database that already has tenants it does nothing.
func (s *Service) Bootstrap(ctx context.Context, adminPassword string) (generated string, err error) {
	n, err := s.store.CountTenants(ctx)
	if err != nil {
		return "", fmt.Errorf("counting tenants: %w", err)
	} else if n > 0 {
		return "", nil
	}
	if adminPassword == "" {
		generated = secret.NewPassword()
		adminPassword = generated
	} else if err := validatePassword(adminPassword); err != nil {
		return "", fmt.Errorf("KEYWARD_ADMIN_PASSWORD: %w", err)
	}
	now := s.now()
	sys := &Principal{Kind: KindSystem, ID: "bootstrap"}
	err = s.store.Tx(ctx, func(tx StoreTx) error {
		t := &Tenant{ID: secret.NewID(), Name: RootTenantName, Prefix: DefaultPrefix, IsActive: true, IsRoot: true,
			CreatedAt: now, UpdatedAt: now, Version: 1}
		if err := tx.CreateTenant(ctx, t); err != nil {
			return err
		}
		if err := s.seedCatalog(ctx, tx, t, now); err != nil {
			return err
		}
		u := &User{ID: secret.NewID(), TenantID: t.ID, UserName: "admin", PasswordHash: secret.HashPassword(adminPassword),
			Level: maxLevel, IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1, SessionGeneration: 1}
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		sys.TenantID = t.ID
		if err := s.audit(ctx, tx, sys, "tenant.create", t.ID, t.ID); err != nil {
			return err
		}
		return s.audit(ctx, tx, sys, "user.create", t.ID, u.ID)
	})
	if ErrorCode(err) == ECONFLICT {
		return "", nil // another replica bootstrapped the same database first
	} else if err != nil {
		return "", fmt.Errorf("bootstrapping the database: %w", err)
	}
	return generated, nil
}

// ResetPassword sets the password of userName in tenant (by name; "" means
// the root tenant) and activates the user. It is the operator's way back in
// (keyward admin reset-password) and needs no principal. When password is
// empty a random one is generated and returned.
func (s *Service) ResetPassword(ctx context.Context, tenant, userName, password string) (generated string, err error) {
	if tenant == "" {
		tenant = RootTenantName
	}
	if password == "" {
		generated = secret.NewPassword()
		password = generated
	} else if err := validatePassword(password); err != nil {
		return "", err
	}
	t, err := s.store.GetTenantByName(ctx, tenant)
	if err != nil {
		return "", err
	}
	hash := secret.HashPassword(password)
	sys := &Principal{Kind: KindSystem, ID: "cli", TenantID: t.ID}
	err = s.store.Tx(ctx, func(tx StoreTx) error {
		u, err := tx.GetUserByName(ctx, t.ID, userName)
		if err != nil {
			return err
		}
		prev := u.Version
		u.PasswordHash, u.IsActive, u.UpdatedAt, u.Version = hash, true, s.now(), u.Version+1
		u.SessionGeneration++ // ends every session of the user
		if err := tx.UpdateUser(ctx, u, prev); err != nil {
			return err
		}
		return s.audit(ctx, tx, sys, "user.reset_password", t.ID, u.ID)
	})
	if err != nil {
		return "", err
	}
	s.invalidateAll(ctx)
	return generated, nil
}

// seedCatalog creates the built-in permissions of a new tenant.
func (s *Service) seedCatalog(ctx context.Context, tx StoreTx, t *Tenant, now time.Time) error {
	ids := map[string]string{}
	for _, b := range builtinPermissions {
		if b.Name == PermTenantsAdmin && !t.IsRoot {
			continue
		}
		d := b.Description
		p := &Permission{ID: secret.NewID(), TenantID: t.ID, Name: b.Name, Description: &d, ContainerID: t.Name,
			BuiltIn: true, CreatedAt: now}
		if err := tx.CreatePermission(ctx, p); err != nil {
			return fmt.Errorf("seeding permission %s: %w", b.Name, err)
		}
		ids[b.Name] = p.ID
	}
	for _, a := range builtinAliases {
		d := a.Description
		p := &Permission{ID: secret.NewID(), TenantID: t.ID, Name: a.Name, Description: &d, Composite: true,
			ContainerID: t.Name, BuiltIn: true, CreatedAt: now}
		for _, m := range a.Members {
			p.Children = append(p.Children, ids[m])
		}
		if err := tx.CreatePermission(ctx, p); err != nil {
			return fmt.Errorf("seeding permission %s: %w", a.Name, err)
		}
	}
	return nil
}

// audit writes one audit entry for a change made by p, inside tx.
func (s *Service) audit(ctx context.Context, tx StoreTx, p *Principal, action, tenantID, targetID string) error {
	return s.auditDetails(ctx, tx, p, action, tenantID, targetID, nil)
}

// auditDetails is audit with details (nil: none).
func (s *Service) auditDetails(ctx context.Context, tx StoreTx, p *Principal, action, tenantID, targetID string, details map[string]any) error {
	return tx.InsertAudit(ctx, s.auditEntry(p, action, tenantID, targetID, AuditSuccess, details))
}

func (s *Service) auditEntry(p *Principal, action, tenantID, targetID, result string, details map[string]any) *AuditEntry {
	e := &AuditEntry{
		ID: secret.NewID(), At: s.now(), TenantID: tenantID, ActorKind: p.Kind, ActorID: p.ID,
		Action: action, TargetID: targetID, IP: p.IP, UserAgent: auditText(p.UserAgent), Result: result,
	}
	if details != nil {
		d, _ := json.Marshal(details)
		e.Details = json.RawMessage(secret.Redact(string(d)))
	}
	return e
}

// auditText is client-sent text as the audit log keeps it: secret-shaped
// runs redacted (a client may send a secret anywhere), and so is any run of
// 32 or more characters that could be one re-encoded (without its
// checksum, upper-cased, URL- or base64-encoded); at most 512 bytes.
func auditText(s string) string { return truncate(redactLongRuns(secret.Redact(s)), 512) }

// longRunMin is the shortest run redactLongRuns hides: shorter than a
// secret's random part (43 characters), longer than words and versions.
const longRunMin = 32

func redactLongRuns(s string) string {
	var b strings.Builder
	start := -1
	flush := func(end int) {
		if start >= 0 {
			if end-start >= longRunMin {
				b.WriteString(secret.Redacted)
			} else {
				b.WriteString(s[start:end])
			}
			start = -1
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("+/=_%-", c) >= 0 {
			if start < 0 {
				start = i
			}
			continue
		}
		flush(i)
		b.WriteByte(c)
	}
	flush(len(s))
	return b.String()
}

// denied records a refused change (EFORBIDDEN) in the audit log, in a
// transaction of its own since the change's rolled back, and returns err
// unchanged. Other errors are returned as they are.
func (s *Service) denied(ctx context.Context, p *Principal, action, targetID string, err error) error {
	var e *Error
	if !errors.As(err, &e) || e.Code != EFORBIDDEN || p == nil {
		return err
	}
	entry := s.auditEntry(p, action, p.TenantID, targetID, AuditDenied, map[string]any{"reason": e.Message})
	if aerr := s.store.InsertAudit(context.WithoutCancel(ctx), entry); aerr != nil {
		s.logger.Warn("recording a denied change", slog.Any("error", aerr))
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) { // never cut a character in two
		n--
	}
	return s[:n]
}
