package keyward

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/keyward/keyward/internal/secret"
)

// MaxImportLines bounds the keys one import request carries.
const MaxImportLines = 10000

// ImportLine is one key to import: a create body and the key's secret from
// the system it comes from, in clear (Secret) or as the hex SHA-256 of it
// (SecretHash). Either way the secret keeps its format: it verifies as it
// did before the move. Secret is never logged nor answered.
type ImportLine struct {
	APIKeyInput
	Secret     string `json:"secret,omitempty"`
	SecretHash string `json:"secretHash,omitempty"`

	// Line is the line's number in the request (from 1); Err, when set,
	// is why it could not be read: the line fails with it.
	Line int   `json:"-"`
	Err  error `json:"-"`
}

// String hides the secret, should a line ever be printed.
func (l ImportLine) String() string { return "import line " + strconv.Itoa(l.Line) }

// LogValue hides the secret from structured logs.
func (l ImportLine) LogValue() slog.Value { return slog.IntValue(l.Line) }

// ImportResult is what became of one line: the new key's id and clientId,
// or why it was refused (Err).
type ImportResult struct {
	Line     int    `json:"line"`
	ID       string `json:"id,omitempty"`
	ClientID string `json:"clientId,omitempty"`
	Err      error  `json:"-"`
}

// ImportAPIKeys creates a key for each line, under the rules of
// CreateAPIKey (apikeys:write, no rights beyond the caller's), each line
// checked on its own: a line that is invalid, forbidden or whose clientId
// or secret is taken fails alone, with its error in its result, and the
// others are created together, in one transaction. One audit entry
// (apikey.import) records the counts. Secrets given as a hash cannot be
// HMAC keys (hmacEnabled needs the secret itself, sealed). A secret is
// shown to nobody; the caller becomes its holder, whether it gave the
// secret in clear or its hash (whoever chose the hash may know the
// secret), as the creator of a key is (SPEC: a holder that loses its
// access revokes the secrets it was shown).
func (s *Service) ImportAPIKeys(ctx context.Context, p *Principal, lines []ImportLine) ([]ImportResult, error) {
	if len(lines) > MaxImportLines {
		return nil, Errorf(ETOOLARGE, "an import holds at most %d lines", MaxImportLines)
	}
	if !p.CanSomeKeys(PermAPIKeysWrite) {
		return nil, s.denied(ctx, p, "apikey.import", "", Errorf(EFORBIDDEN, "apikeys:write is required"))
	}
	var results []ImportResult
	err := s.store.Tx(ctx, func(tx StoreTx) error {
		var err error
		results, err = s.importKeys(ctx, tx, p, lines)
		return err
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// importKeys is ImportAPIKeys inside its transaction.
func (s *Service) importKeys(ctx context.Context, tx StoreTx, p *Principal, lines []ImportLine) ([]ImportResult, error) {
	if err := s.stillActive(ctx, tx, p); err != nil {
		return nil, err
	}
	mtx := newMemoTx(tx)
	t, err := mtx.GetTenant(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	budget, err := importCredits(ctx, mtx, p, now)
	if err != nil {
		return nil, err
	}
	results := make([]ImportResult, len(lines))
	var keys []*APIKey
	var at []int // keys[i] is the key of results[at[i]]
	forbidden, denial := 0, ""
	for i, l := range lines {
		results[i].Line = l.Line
		var k *APIKey
		if budget != nil && budget.bound.Remaining < 0 {
			err = usageExceeded(budget.refillsAt(now), now)
		} else {
			k, err = s.importKey(ctx, mtx, p, t, l, now)
		}
		switch code := ErrorCode(err); code {
		case "":
			keys, at = append(keys, k), append(at, i)
			if budget != nil {
				budget.bound.Remaining-- // the next line's create would spend a credit first
			}
		case EINVALID, EFORBIDDEN, ECONFLICT, ENOTFOUND, EUSAGEEXCEEDED:
			results[i].Err = err
			if code == EFORBIDDEN {
				if forbidden++; denial == "" {
					denial = ErrorMessage(err)
				}
			}
		default:
			return nil, err
		}
	}
	errs, err := tx.CreateAPIKeys(ctx, keys)
	if err != nil {
		return nil, err
	}
	created := 0
	for j, k := range keys {
		r := &results[at[j]]
		if errs[j] != nil {
			r.Err = errs[j]
			continue
		}
		if err := saveKeyLimits(ctx, tx, &APIKey{}, k); err != nil {
			return nil, err
		}
		r.ID, r.ClientID = k.ID, k.ClientID
		created++
	}
	if err := budget.spend(ctx, tx, created); err != nil {
		return nil, err
	}
	// One entry, denied when any line was refused for lack of rights, as a
	// refused create is.
	details, result := map[string]any{"created": created, "failed": len(lines) - created}, AuditSuccess
	if forbidden > 0 {
		details["forbidden"], details["reason"], result = forbidden, denial, AuditDenied
	}
	if err := tx.InsertAudit(ctx, s.auditEntry(p, "apikey.import", p.TenantID, "", result, details)); err != nil {
		return nil, err
	}
	return results, nil
}

// importBudget is what a key with credits may still give in an import:
// as many creates, one a line, would each spend a credit of it (the
// import's request paid the first) and bound that line's credits by what
// was left (TestMeteredKeyGivesNoMoreThanItHas). bound is the credits the
// next line is checked against: the very Credits that callerKey reads
// from the import's memo of the caller's key.
type importBudget struct {
	bound *Credits
	sp    CreditSpend // the caller's credits, Cost 0
}

// importCredits reads the credits of the key p is, for its import, nil
// when p is no key with credits. It reads them with a spend of nothing
// (which refills them when due): on PostgreSQL that holds the row until
// the import's transaction ends, so that a concurrent import, or a lease,
// of the same key waits and then sees what this one spent; SQLite runs
// one write transaction at a time.
func importCredits(ctx context.Context, tx *memoTx, p *Principal, now time.Time) (*importBudget, error) {
	self, err := callerKey(ctx, tx, p)
	if err != nil || self == nil || self.Credits == nil {
		return nil, err
	}
	c := *self.Credits
	b := &importBudget{bound: &c, sp: CreditSpend{TenantID: self.TenantID, KeyID: self.ID, Refill: c.Refill}}
	if c.Refill != nil {
		b.sp.Period = c.Refill.periodStart(now).Unix()
	}
	res, err := tx.SpendCredits(ctx, b.sp)
	if err != nil {
		return nil, err
	}
	if !res.Found {
		self.Credits = nil
		return nil, nil
	}
	c.Remaining, c.Period, c.Generation = res.Remaining, res.Period, res.Generation
	self.Credits = &c
	return b, nil
}

// refillsAt is when the caller's credits are next refilled (nil: never).
func (b *importBudget) refillsAt(now time.Time) *time.Time {
	if b.bound.Refill == nil {
		return nil
	}
	t := b.bound.Refill.next(now)
	return &t
}

// spend takes from the caller's credits what the creates of the import's
// created keys would have: one each but the first, which its request
// paid. Every line was bound by what was left after its own credit, so
// the credits cover it; the row is held since importCredits.
func (b *importBudget) spend(ctx context.Context, tx StoreTx, created int) error {
	if b == nil || created < 2 {
		return nil
	}
	sp := b.sp
	sp.Cost = int64(created - 1)
	res, err := tx.SpendCredits(ctx, sp)
	if err != nil {
		return err
	}
	if !res.Spent {
		return fmt.Errorf("import: the caller's credits (%d left) do not cover its %d keys", res.Remaining, created)
	}
	return nil
}

// importKey is the key line l makes, through the steps of a create
// (keychange.go), with the line's secret. A secret not in keyward's shape,
// and any secretHash, is stored under its tenant's secret.ScopedHash: the
// same secret in another tenant neither conflicts (no oracle of what other
// tenants use) nor is found there.
func (s *Service) importKey(ctx context.Context, tx StoreTx, p *Principal, t *Tenant, l ImportLine, now time.Time) (*APIKey, error) {
	if l.Err != nil {
		return nil, l.Err
	}
	hash, err := importedHash(l)
	if err != nil {
		return nil, err
	}
	in := l.APIKeyInput
	in.OwnerUserName = nil
	if in.IsActive == nil {
		on := true
		in.IsActive = &on
	}
	// A time-ordered id: the import's keys go, in id order, to the end of
	// every index that ends with the id (the primary key, the list orders)
	// instead of each to a random page (issue 13).
	k, err := newKey(p, t, secret.NewOrderedID(now), in.ClientID, now)
	if err != nil {
		return nil, err
	}
	if err := s.changeKey(ctx, tx, p, k, nil, in, now); err != nil {
		return nil, err
	}
	// p knows this secret, or may: it chose the hash as much as the
	// secret. Either way, its loss of access revokes the key (offboard).
	k.SecretHolderID, k.SecretHolderTenantID = p.ID, p.HomeTenantID()
	if l.Secret != "" {
		s.setSecret(k, l.Secret)
		if !secret.KeywardShaped(l.Secret) {
			k.SecretHash = secret.ScopedHash(k.TenantID, k.SecretHash)
		}
	} else {
		k.SecretHash, k.SecretHint, k.SecretCiphertext = secret.ScopedHash(k.TenantID, hash), "", nil
		k.ImportedHash = hash
	}
	return k, nil
}

// importedHash checks a line's secret and returns the hash of a
// SecretHash (nil for a Secret, which setSecret hashes).
func importedHash(l ImportLine) ([]byte, error) {
	switch {
	case l.Secret != "" && l.SecretHash != "":
		return nil, Invalid(FieldError{Field: "secretHash", Message: "give secret or secretHash, not both"})
	case l.Secret != "":
		if msg := secret.CheckImported(l.Secret); msg != "" {
			return nil, Invalid(FieldError{Field: "secret", Message: msg})
		}
		return nil, nil
	case l.SecretHash == "":
		return nil, Invalid(FieldError{Field: "secret", Message: "give secret (the key's secret) or secretHash (the hex SHA-256 of it)"})
	}
	h, err := hex.DecodeString(l.SecretHash)
	if err != nil || len(h) != 32 {
		return nil, Invalid(FieldError{Field: "secretHash", Message: "must be the SHA-256 of the secret in hex (64 characters)"})
	}
	if on := l.HMACEnabled; on != nil && *on {
		return nil, Invalid(FieldError{Field: "hmacEnabled", Message: "needs the secret itself: import it with secret, not secretHash"})
	}
	return h, nil
}

// memoTx remembers, for the length of an import, what every line reads
// alike: the tenant, its catalog, the owners and the keys read (the
// caller's own, for its credits: a query a line otherwise). The import
// writes none of them before its lines are all read (CreateAPIKeys and
// saveKeyLimits run on the transaction itself, after).
type memoTx struct {
	StoreTx
	tenants  map[string]*Tenant
	catalogs map[string][]*Permission
	indexes  map[string]catalogByKey
	users    map[string]memoUser
	keys     map[string]memoKey
}

// catalogByKey is a catalog by id and by name (catalogIndex).
type catalogByKey struct{ byID, byName map[string]*Permission }

type memoKey struct {
	k   *APIKey
	err error
}

type memoUser struct {
	u   *User
	err error
}

func newMemoTx(tx StoreTx) *memoTx {
	return &memoTx{StoreTx: tx, tenants: map[string]*Tenant{}, catalogs: map[string][]*Permission{}, indexes: map[string]catalogByKey{}, users: map[string]memoUser{},
		keys: map[string]memoKey{}}
}

func (m *memoTx) GetTenant(ctx context.Context, id string) (*Tenant, error) {
	if t, ok := m.tenants[id]; ok {
		return t, nil
	}
	t, err := m.StoreTx.GetTenant(ctx, id)
	if err == nil {
		m.tenants[id] = t
	}
	return t, err
}

func (m *memoTx) ListPermissions(ctx context.Context, tenantID string) ([]*Permission, error) {
	if c, ok := m.catalogs[tenantID]; ok {
		return c, nil
	}
	c, err := m.StoreTx.ListPermissions(ctx, tenantID)
	if err == nil {
		m.catalogs[tenantID] = c
	}
	return c, err
}

// catalogIndex is catalogIndex of the catalog ListPermissions remembers,
// made once: the same maps for every line.
func (m *memoTx) catalogIndex(ctx context.Context, tenantID string) (byID, byName map[string]*Permission, err error) {
	if c, ok := m.indexes[tenantID]; ok {
		return c.byID, c.byName, nil
	}
	catalog, err := m.ListPermissions(ctx, tenantID)
	if err != nil {
		return nil, nil, err
	}
	byID, byName = indexCatalog(catalog)
	m.indexes[tenantID] = catalogByKey{byID, byName}
	return byID, byName, nil
}

func (m *memoTx) GetUser(ctx context.Context, tenantID, id string) (*User, error) {
	if u, ok := m.users[tenantID+"/"+id]; ok {
		return u.u, u.err
	}
	u, err := m.StoreTx.GetUser(ctx, tenantID, id)
	if err == nil || ErrorCode(err) == ENOTFOUND {
		m.users[tenantID+"/"+id] = memoUser{u, err}
	}
	return u, err
}

func (m *memoTx) GetAPIKey(ctx context.Context, tenantID, id string) (*APIKey, error) {
	if k, ok := m.keys[tenantID+"/"+id]; ok {
		return k.k, k.err
	}
	k, err := m.StoreTx.GetAPIKey(ctx, tenantID, id)
	if err == nil || ErrorCode(err) == ENOTFOUND {
		m.keys[tenantID+"/"+id] = memoKey{k, err}
	}
	return k, err
}
