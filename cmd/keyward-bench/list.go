package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The list and memory scenarios work on a tenant of their own,
// keyward-bench-N, seeded through POST /v1/apikeys:import with N keys whose
// names, permissions, owners and statuses give every list filter a common
// and a rare match. The tenant is kept for the next run (which only checks
// it is complete): the API deletes keys one at a time, far slower than it
// imports them, and the tenant holds nothing else.
const (
	seedMarker     = "keyward-bench-seed" // the name of the key whose meta holds the seed's state
	seedBatch      = 10_000               // lines per import request (keyward.MaxImportLines)
	seedMinBatch   = 500                  // the fewest, should imports outlast the server's --db-timeout
	seedCommonWord = "alpha"              // in a quarter of the names
	seedRareWord   = "zephyr"             // in ten names
	permCommon     = "orders_read"        // held by half of the keys
	permOther      = "billing_write"      // held by three keys in ten
	permRare       = "audit_export"       // held by ten keys
	ownerCommon    = "bench-owner-common" // owns half of the keys
	ownerRare      = "bench-owner-rare"   // owns ten keys
)

// seedWords name the keys in turn; seedRareWord replaces them in ten names.
var seedWords = []string{seedCommonWord, "bravo", "charlie", "delta"}

// listSorts are the fields GET /v1/apikeys sorts by (keyward.APIKeyFilter).
var listSorts = []string{"name", "createdAt", "lastUsedAt", "expiresAt", "id", "isActive", "clientId", "description", "deviceName", "userName", "version"}

// seed is a seeded tenant: its name, its keys, and the salt their secrets
// derive from.
type seed struct {
	tenant   string
	n        int
	salt     []byte
	owners   map[string]string // user name → id
	reused   bool
	verifier string // a keys:verify key in the tenant (memory scenario)
	verifyID string
}

// rare reports whether key i is one of the ten (or fewer, for n < 10) with
// the rare name, permission and owner.
func (s *seed) rare(i int) bool { return s.n >= 10 && i%(s.n/10) == 3 || s.n < 10 && i == 0 }

// secret returns key i's secret: a foreign-format secret (not keyward's own,
// as a key moved from another system has) derived from the seed's salt, so
// that a later run can verify the keys an earlier one imported.
func (s *seed) secret(i int) string {
	m := hmac.New(sha256.New, s.salt)
	m.Write([]byte(strconv.Itoa(i)))
	return "kwbench_" + hex.EncodeToString(m.Sum(nil)[:20])
}

// line returns key i's import line.
func (s *seed) line(i int) []byte {
	word := seedWords[i%len(seedWords)]
	if s.rare(i) {
		word = seedRareWord
	}
	perms := []map[string]string{}
	if i%2 == 0 {
		perms = append(perms, map[string]string{"name": permCommon})
	}
	if i%10 < 3 {
		perms = append(perms, map[string]string{"name": permOther})
	}
	if s.rare(i) {
		perms = append(perms, map[string]string{"name": permRare})
	}
	sum := sha256.Sum256([]byte(s.secret(i)))
	l := map[string]any{
		"name": fmt.Sprintf("svc-%s-%07d", word, i), "clientId": fmt.Sprintf("kwb%d-%07d", s.n, i), "level": 1,
		"permissions": perms, "secretHash": hex.EncodeToString(sum[:]),
	}
	switch {
	case s.rare(i):
		l["ownerId"] = s.owners[ownerRare]
	case i%2 == 1:
		l["ownerId"] = s.owners[ownerCommon]
	}
	switch {
	case i%100 == 9:
		l["expiresIn"] = 1 // expired a second after the import: status expired
	case i%3 == 0:
		l["expiresIn"] = 86400 * (1 + i%365)
	}
	if i%20 == 5 {
		l["isActive"] = false
	}
	if i%4 == 1 {
		l["description"] = "bench key " + strconv.Itoa(i)
		l["deviceName"] = "device-" + strconv.Itoa(i%97)
	}
	b, _ := json.Marshal(l)
	return b
}

// admin returns the admin's headers, JSON body or none.
func (b *bench) adminHdr(body bool) map[string]string {
	h := map[string]string{"Authorization": b.admin}
	if body {
		h["Content-Type"] = "application/json"
	}
	return h
}

// inTenant returns path acting in tenant (a root admin's ?tenant=).
func inTenant(path, tenant string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "tenant=" + url.QueryEscape(tenant)
}

// seedKey is what the bench reads of a listed key.
type seedKey struct {
	ID, Name string
	Meta     json.RawMessage
}

type seedMeta struct {
	Salt     string `json:"salt"`
	Keys     int    `json:"keys"`
	Complete bool   `json:"complete"`
}

// seedTenant returns the tenant keyward-bench-N with N imported keys,
// creating it, seeding it, or finishing an interrupted seed as needed.
func (b *bench) seedTenant(ctx context.Context, n int, stderr io.Writer) (*seed, error) {
	s := &seed{tenant: "keyward-bench-" + strconv.Itoa(n), n: n, owners: map[string]string{}}
	// An import of 10,000 keys may take longer than the loads' timeout;
	// nothing else runs while the tenant is seeded.
	defer func(c *http.Client) { b.http = c }(b.http)
	b.http = &http.Client{Transport: b.http.Transport, Timeout: 5 * time.Minute}
	code, err := b.call(ctx, "POST", "/v1/tenants", b.adminHdr(true), jsonBody(map[string]string{"name": s.tenant}), nil)
	if err != nil || code != 201 && code != 409 {
		return nil, fmt.Errorf("creating tenant %s: status %d %v", s.tenant, code, err)
	}
	// The catalog and the owners (created once; 409 when a run before did).
	for _, p := range []string{permCommon, permOther, permRare} {
		code, err := b.call(ctx, "POST", inTenant("/v1/permissions", s.tenant), b.adminHdr(true), jsonBody(map[string]string{"name": p}), nil)
		if err != nil || code != 201 && code != 409 {
			return nil, fmt.Errorf("creating permission %s: status %d %v", p, code, err)
		}
	}
	for _, u := range []string{ownerCommon, ownerRare} {
		pw := make([]byte, 18)
		rand.Read(pw)
		code, err := b.call(ctx, "POST", inTenant("/v1/users", s.tenant), b.adminHdr(true),
			jsonBody(map[string]any{"userName": u, "password": hex.EncodeToString(pw), "level": 1}), nil)
		if err != nil || code != 201 && code != 409 {
			return nil, fmt.Errorf("creating user %s: status %d %v", u, code, err)
		}
	}
	var users struct {
		Items []struct{ ID, UserName string }
	}
	if code, err := b.call(ctx, "GET", inTenant("/v1/users?page-size=100", s.tenant), b.adminHdr(false), nil, &users); err != nil || code != 200 {
		return nil, fmt.Errorf("listing users: status %d %v", code, err)
	}
	for _, u := range users.Items {
		s.owners[u.UserName] = u.ID
	}
	if s.owners[ownerCommon] == "" || s.owners[ownerRare] == "" {
		return nil, fmt.Errorf("tenant %s has no users %s and %s", s.tenant, ownerCommon, ownerRare)
	}

	// The marker key holds the salt, and says when the seed is complete.
	var markers struct{ Items []seedKey }
	if code, err := b.call(ctx, "GET", inTenant("/v1/apikeys?q="+seedMarker, s.tenant), b.adminHdr(false), nil, &markers); err != nil || code != 200 {
		return nil, fmt.Errorf("looking for the seed marker: status %d %v", code, err)
	}
	var marker *seedKey
	var meta seedMeta
	for i, k := range markers.Items {
		if k.Name == seedMarker && json.Unmarshal(k.Meta, &meta) == nil && meta.Keys == n {
			marker = &markers.Items[i]
			break
		}
	}
	if marker == nil {
		salt := make([]byte, 32)
		rand.Read(salt)
		meta = seedMeta{Salt: hex.EncodeToString(salt), Keys: n}
		var k seedKey
		code, err := b.call(ctx, "POST", inTenant("/v1/apikeys", s.tenant), b.adminHdr(true),
			jsonBody(map[string]any{"name": seedMarker, "level": 1, "isActive": false, "meta": meta}), &k)
		if err != nil || code != 201 {
			return nil, fmt.Errorf("creating the seed marker: status %d %v", code, err)
		}
		marker = &k
	}
	if s.salt, err = hex.DecodeString(meta.Salt); err != nil || len(s.salt) == 0 {
		return nil, fmt.Errorf("the seed marker of %s holds no salt", s.tenant)
	}
	if meta.Complete {
		s.reused = true
		fmt.Fprintf(stderr, "keyward-bench: tenant %s already holds its %d keys: not importing again\n", s.tenant, n)
		return s, nil
	}

	// Import every line; a line whose clientId (unique across tenants,
	// hence the tenant's N in it) an interrupted run already imported fails
	// with 409 and counts as there.
	fmt.Fprintf(stderr, "keyward-bench: importing %d keys into tenant %s, up to %d a request…\n", n, s.tenant, seedBatch)
	start, created, present := time.Now(), 0, 0
	var body bytes.Buffer
	size, reported := seedBatch, 0
	for from := 0; from < n; {
		to := min(n, from+size)
		body.Reset()
		for i := from; i < to; i++ {
			body.Write(s.line(i))
			body.WriteByte('\n')
		}
		var a struct {
			Items []struct {
				Line    int
				Problem *struct {
					Status int
					Detail string
				}
			}
			Created int
		}
		code, err := b.call(ctx, "POST", inTenant("/v1/apikeys:import", s.tenant),
			map[string]string{"Authorization": b.admin, "Content-Type": "application/x-ndjson"}, bytes.NewReader(body.Bytes()), &a)
		if err == nil && code == 503 && size > seedMinBatch {
			// The import outlasted the server's --db-timeout (and was
			// rolled back): send fewer lines a request from now on.
			size = max(seedMinBatch, size/2)
			fmt.Fprintf(stderr, "keyward-bench: an import of %d keys outlasted the server's --db-timeout: %d a request from now on\n", to-from, size)
			continue
		}
		if err != nil || code != 200 {
			return nil, fmt.Errorf("importing keys %d-%d: status %d %v", from, to-1, code, err)
		}
		for _, it := range a.Items {
			switch {
			case it.Problem == nil:
				created++
				b.imported.Add(1)
			case it.Problem.Status == 409:
				present++
			default:
				return nil, fmt.Errorf("importing key %d: %d %s", from+it.Line-1, it.Problem.Status, it.Problem.Detail)
			}
		}
		from = to
		if from-reported >= 50_000 || from == n {
			reported = from
			d := time.Since(start)
			fmt.Fprintf(stderr, "keyward-bench: imported %d of %d keys (%.0f keys/s)\n", from, n, float64(created)/d.Seconds())
		}
	}
	d := time.Since(start)
	fmt.Fprintf(stderr, "keyward-bench: imported %d keys in %v (%.0f keys/s), %d there already\n", created, d.Round(time.Millisecond), float64(created)/d.Seconds(), present)
	meta.Complete = true
	if code, err := b.call(ctx, "PATCH", inTenant("/v1/apikeys/"+marker.ID, s.tenant), b.adminHdr(true), jsonBody(map[string]any{"meta": meta}), nil); err != nil || code != 200 {
		return nil, fmt.Errorf("marking the seed complete: status %d %v", code, err)
	}
	time.Sleep(time.Until(start.Add(1100 * time.Millisecond))) // the expiring keys expire
	return s, nil
}

// listCase is one list scenario: a GET /v1/apikeys query.
type listCase struct{ name, query string }

// listCases returns the list scenarios over s: each filter with a common
// and a rare match, each sort, and a deep page by number and by cursor.
func (b *bench) listCases(ctx context.Context, s *seed) ([]listCase, error) {
	cs := []listCase{
		{"list-page1", ""},
		{"list-name-common", "q=" + seedCommonWord},
		{"list-name-rare", "q=" + seedRareWord},
		{"list-status-active", "status=active"},
		{"list-status-inactive", "status=inactive"},
		{"list-status-expired", "status=expired"},
		{"list-perm-common", "permission=" + permCommon},
		{"list-perm-rare", "permission=" + permRare},
		{"list-owner-common", "ownerId=" + s.owners[ownerCommon]},
		{"list-owner-rare", "ownerId=" + s.owners[ownerRare]},
	}
	for _, f := range listSorts {
		cs = append(cs, listCase{"list-sort-" + f, "sort=" + f})
	}
	cs = append(cs, listCase{"list-sort--name", "sort=-name"})
	// The deep page: the middle of the tenant at the default page size, as
	// issue 13 measured page 25,000 of a million keys.
	deep := max(1, s.n/20/2)
	cs = append(cs, listCase{"list-page-deep", "page=" + strconv.Itoa(deep)})
	var l struct{ NextCursor string }
	if code, err := b.call(ctx, "GET", inTenant("/v1/apikeys?page="+strconv.Itoa(deep), s.tenant), b.adminHdr(false), nil, &l); err != nil || code != 200 {
		return nil, fmt.Errorf("reading page %d: status %d %v", deep, code, err)
	}
	if l.NextCursor == "" {
		return nil, fmt.Errorf("page %d of %d keys gives no nextCursor", deep, s.n)
	}
	cs = append(cs, listCase{"list-cursor-deep", "cursor=" + url.QueryEscape(l.NextCursor)})
	return cs, nil
}

// listPath returns c's request path in s's tenant.
func (c listCase) path(s *seed) string {
	if c.query == "" {
		return inTenant("/v1/apikeys", s.tenant)
	}
	return inTenant("/v1/apikeys?"+c.query, s.tenant)
}

// listScenario returns one request of c: 200 with a page of keys.
func (b *bench) listScenario(s *seed, c listCase) func(ctx context.Context) bool {
	h, path := b.adminHdr(false), c.path(s)
	return func(ctx context.Context) bool {
		var l struct{ Items []json.RawMessage }
		code, err := b.call(ctx, "GET", path, h, nil, &l)
		return err == nil && code == 200 && len(l.Items) > 0
	}
}

// listMatches describes what c matches: its totalCount, exact or estimated.
func (b *bench) listMatches(ctx context.Context, s *seed, c listCase) string {
	var l struct {
		Items               []json.RawMessage
		TotalCount          int
		TotalCountEstimated bool
	}
	if code, err := b.call(ctx, "GET", c.path(s), b.adminHdr(false), nil, &l); err != nil || code != 200 {
		return fmt.Sprintf("%s: status %d %v", c.name, code, err)
	}
	exact := "exact"
	if l.TotalCountEstimated {
		exact = "estimated"
	}
	return fmt.Sprintf("%s: %d matches (%s), %d on the page", c.name, l.TotalCount, exact, len(l.Items))
}
