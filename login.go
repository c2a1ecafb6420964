package keyward

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/secret"
)

// LoginResult is a user access token.
type LoginResult struct {
	AccessToken string `json:"accessToken"`
	TokenType   string `json:"tokenType"`
	ExpiresIn   int    `json:"expiresIn"`
}

// Login checks a user's password and returns a login token, with no client
// address to count failures against: for tools and tests. Surfaces that
// serve clients call LoginFrom.
func (s *Service) Login(ctx context.Context, tenant, userName, password string) (*LoginResult, error) {
	return s.LoginFrom(ctx, LoginRequest{Tenant: tenant, UserName: userName, Password: password})
}

// LoginRequest is a password login as a surface received it.
type LoginRequest struct {
	Tenant    string // a tenant name or id; "" means the root tenant
	UserName  string
	Password  string
	IP        string // the client address, for the failed-authentication limit
	UserAgent string
}

// Login queue bounds: logins waiting for a hashing slot, in all and per
// client address. Past them a login is refused at once (ERATELIMITED), so a
// flood from one address cannot starve the others.
const (
	maxLoginQueue      = 64
	maxLoginsPerClient = 4
)

// LoginFrom checks a user's password and returns a login token (a JWT valid
// for one hour). Every failure is the same EUNAUTHORIZED and costs the same
// argon2id work. The attempt counts against the client address's
// failed-authentication limit before the password is checked, and is given
// back when it succeeds, so concurrent guesses cannot slip past the limit.
func (s *Service) LoginFrom(ctx context.Context, req LoginRequest) (*LoginResult, error) {
	if req.UserName == "" || req.Password == "" || len(req.Password) > 1024 {
		return nil, Invalid(FieldError{Field: "userName", Message: "userName and password are required"})
	}
	if err := s.failedAuth.check(req.IP); err != nil {
		return nil, err
	}
	if err := s.failedAuth.reserve(ctx, req.IP); err != nil {
		return nil, err
	}
	release, err := s.loginQueue.enter(ctx, req.IP)
	if err != nil {
		s.failedAuth.refund(ctx, req.IP)
		return nil, err
	}
	defer release()
	// The address may have been refused while this login waited.
	if err := s.failedAuth.check(req.IP); err != nil {
		s.failedAuth.refund(ctx, req.IP)
		return nil, err
	}
	res, t, u, err := s.login(ctx, req.Tenant, req.UserName, req.Password)
	switch {
	case err == nil:
		s.failedAuth.refund(ctx, req.IP)
		s.recordLogin(ctx, req, t, u)
	case ErrorCode(err) == EUNAUTHORIZED:
		s.ops.authFailed(SchemePassword)
		s.recordFailedLogin(ctx, req, t, u)
	}
	return res, err
}

// login checks the password; it returns the tenant and user it found, if
// any, for the audit of a failure.
func (s *Service) login(ctx context.Context, tenant, userName, password string) (*LoginResult, *Tenant, *User, error) {
	fail := Errorf(EUNAUTHORIZED, "invalid user name or password")
	t, err := s.findTenant(ctx, tenant)
	if err != nil && ErrorCode(err) != ENOTFOUND {
		return nil, nil, nil, err
	}
	var u *User
	if t != nil {
		u, err = s.store.GetUserByName(ctx, t.ID, userName)
		if err != nil && ErrorCode(err) != ENOTFOUND {
			return nil, t, nil, err
		}
	}
	hash := ""
	if u != nil {
		hash = u.PasswordHash
	}
	ok := secret.CheckPassword(hash, password) // always runs, so unknown users cost the same
	if u == nil || !ok || !u.IsActive || !t.IsActive {
		return nil, t, u, fail
	}
	now := s.now()
	tok, err := s.tokens.SignLoginToken(&LoginTokenClaims{
		ID: secret.NewID(), Subject: u.ID, Tenant: t.ID, Kind: KindUser, Generation: u.SessionGeneration,
		IssuedAt: now, NotBefore: now, Expiry: now.Add(UserTokenLifetime),
	})
	if err != nil {
		return nil, t, u, err
	}
	return &LoginResult{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int(UserTokenLifetime / time.Second)}, t, u, nil
}

// loginQueue bounds the logins waiting for one of the hashing slots.
type loginQueue struct {
	slots   chan struct{}
	mu      sync.Mutex
	waiting int
	byIP    map[string]int
}

func newLoginQueue(slots int) *loginQueue {
	return &loginQueue{slots: make(chan struct{}, slots), byIP: map[string]int{}}
}

// enter waits for a hashing slot and returns the function that frees it.
// A full queue, or too many logins of one address, is ERATELIMITED at once.
func (q *loginQueue) enter(ctx context.Context, ip string) (func(), error) {
	q.mu.Lock()
	if q.waiting >= maxLoginQueue || (ip != "" && q.byIP[ip] >= maxLoginsPerClient) {
		q.mu.Unlock()
		st := RateStatus{Limit: maxLoginsPerClient, Remaining: 0, Reset: 1}
		return nil, &Error{Code: ERATELIMITED, Message: "too many logins in progress; try again in a moment", Rate: &st}
	}
	q.waiting++
	q.byIP[ip]++
	q.mu.Unlock()
	leave := func() {
		q.mu.Lock()
		q.waiting--
		if q.byIP[ip]--; q.byIP[ip] <= 0 {
			delete(q.byIP, ip)
		}
		q.mu.Unlock()
	}
	select {
	case q.slots <- struct{}{}:
		return func() { <-q.slots; leave() }, nil
	case <-ctx.Done():
		leave()
		return nil, ctx.Err()
	}
}

// auditWindows gathers repeated events into one audit entry per key and
// window: the first event of a window writes the entry, later ones update
// its details (a count), so a guessing run or a script logging in every
// minute is one entry, not one per request.
type auditWindows struct {
	mu      sync.Mutex
	windows map[string]*auditWindow
}

type auditWindow struct {
	entryID string
	until   time.Time
	count   int
	names   []string
	unknown int // failed logins naming no user
}

// add counts one event under key in a window of length. details gives the
// entry's details (called under the lock); entry makes the entry a fresh
// window writes, with its id and details.
func (a *auditWindows) add(ctx context.Context, s *Service, tenantID, key string, length time.Duration,
	details func(w *auditWindow) map[string]any, entry func(id string, at time.Time, details json.RawMessage) *AuditEntry) {
	ctx = context.WithoutCancel(ctx)
	now := s.now()
	a.mu.Lock()
	if a.windows == nil {
		a.windows = map[string]*auditWindow{}
	}
	for k, w := range a.windows { // bounded: drop ended windows
		if len(a.windows) > 10_000 && !now.Before(w.until) {
			delete(a.windows, k)
		}
	}
	w := a.windows[key]
	fresh := w == nil || !now.Before(w.until)
	if fresh {
		w = &auditWindow{entryID: secret.NewID(), until: now.Add(length)}
		a.windows[key] = w
	}
	w.count++
	d, _ := json.Marshal(details(w))
	id := w.entryID
	a.mu.Unlock()

	var err error
	if fresh {
		err = s.store.InsertAudit(ctx, entry(id, now, d))
	} else {
		err = s.store.UpdateAuditDetails(ctx, tenantID, id, d)
	}
	if err != nil {
		s.logger.Warn("auditing a login", "error", err)
	}
}

const maxFailedNames = 10

// recordFailedLogin audits one failed login of req (t and u are what was
// found of the tenant and user, possibly nil), in windows of the
// failed-authentication limit per tenant and client address. A login to an
// unknown tenant is audited in no tenant: there is nobody to tell.
func (s *Service) recordFailedLogin(ctx context.Context, req LoginRequest, t *Tenant, u *User) {
	if t == nil {
		return
	}
	window := time.Minute
	if s.failedAuth.limit != nil {
		window = s.failedAuth.limit.window()
	}
	target := ""
	if u != nil {
		target = u.ID
	}
	s.failedLogins.add(ctx, s, t.ID, t.ID+"\x00"+req.IP, window, func(w *auditWindow) map[string]any {
		// Only names of users that exist: what was typed for an unknown
		// one may be a password or a secret in the wrong field.
		if u == nil {
			w.unknown++
		} else if len(w.names) < maxFailedNames && !containsString(w.names, u.UserName) {
			w.names = append(w.names, u.UserName)
		}
		return map[string]any{"count": w.count, "userNames": w.names, "unknownUserNames": w.unknown}
	}, func(id string, at time.Time, details json.RawMessage) *AuditEntry {
		return &AuditEntry{ID: id, At: at, TenantID: t.ID, ActorKind: KindAnonymous, Action: "login.failed",
			TargetID: target, IP: req.IP, UserAgent: auditText(req.UserAgent), Result: AuditFailure, Details: details}
	})
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// LoginAuditWindow is how long one "login" audit entry gathers a user's
// successful logins from one address.
const LoginAuditWindow = time.Hour

// recordLogin audits a successful login per user and client address in
// windows of LoginAuditWindow: the first login of a window writes a "login"
// entry (actor and target the user), later ones update its count, so a
// login from a new address is a new entry.
func (s *Service) recordLogin(ctx context.Context, req LoginRequest, t *Tenant, u *User) {
	if t == nil || u == nil {
		return
	}
	s.logins.add(ctx, s, t.ID, u.ID+"\x00"+req.IP, LoginAuditWindow, func(w *auditWindow) map[string]any {
		return map[string]any{"count": w.count, "userName": u.UserName, "until": w.until.UTC().Format(time.RFC3339)}
	}, func(id string, at time.Time, details json.RawMessage) *AuditEntry {
		return &AuditEntry{ID: id, At: at, TenantID: t.ID, ActorKind: KindUser, ActorID: u.ID, Action: "login",
			TargetID: u.ID, IP: req.IP, UserAgent: auditText(req.UserAgent), Result: AuditSuccess, Details: details}
	})
}
