package keyward

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// ChangeFeed carries cache invalidations between replicas that share one
// database, so that a key changed on one replica stops working on every
// other at once (PostgreSQL LISTEN/NOTIFY; SQLite has one process and needs
// none).
type ChangeFeed interface {
	// Publish tells every replica that the keys named by these KeyRef
	// strings ("<tenant id>/<key id>") changed; none means anything may have
	// changed (users, permissions, tenants).
	Publish(ctx context.Context, keyIDs []string) error
	// Subscribe delivers every published change to onChange until ctx ends.
	// It calls onReset(false) as soon as it may miss changes (its
	// connection broke) and onReset(true) once it listens again; the
	// Service serves no cached key in between and drops its cache on both.
	Subscribe(ctx context.Context, onChange func(keyIDs []string), onReset func(listening bool))
}

// invalidate drops the cached entries of keys, here and on every replica.
// A key is named by tenant and id: the same id in another tenant is
// another key.
func (s *Service) invalidate(ctx context.Context, keys ...KeyRef) {
	refs := make([]string, len(keys))
	for i, k := range keys {
		refs[i] = k.String()
	}
	s.cache.invalidate(refs...)
	s.leases.dropLeases(refs, true)
	s.publish(ctx, refs)
}

// invalidateAll drops every cached key and catalog, here and on every
// replica: users, permissions or tenants changed.
func (s *Service) invalidateAll(ctx context.Context) {
	s.cache.clear()
	s.catalogs.clear()
	s.publish(ctx, nil)
}

func (s *Service) publish(ctx context.Context, keyIDs []string) {
	if s.changes == nil {
		return
	}
	// The change is committed: publish even if the request was cancelled.
	if err := s.changes.Publish(context.WithoutCancel(ctx), keyIDs); err != nil {
		// Other replicas will serve the old state until their cache TTL.
		s.logger.Error("publishing a change to other replicas", slog.Any("error", err))
	}
}

// revokedPrefix marks a revoked token id in a change: "jti:<id>:<unix exp>".
const revokedPrefix = "jti:"

// publishRevocation tells every replica a token was revoked.
func (s *Service) publishRevocation(ctx context.Context, jti string, exp time.Time) {
	s.publish(ctx, []string{revokedPrefix + jti + ":" + strconv.FormatInt(exp.Unix(), 10)})
}

// subscribe applies other replicas' changes to the caches.
func (s *Service) subscribe(ctx context.Context) {
	s.changes.Subscribe(ctx, func(keyIDs []string) {
		if len(keyIDs) == 0 {
			s.cache.clear()
			s.catalogs.clear()
			return
		}
		ids := keyIDs[:0:0]
		for _, id := range keyIDs {
			if rest, ok := strings.CutPrefix(id, revokedPrefix); ok {
				if i := strings.LastIndexByte(rest, ':'); i > 0 {
					if exp, err := strconv.ParseInt(rest[i+1:], 10, 64); err == nil {
						s.tokens.AddRevoked(rest[:i], time.Unix(exp, 0).UTC())
					}
				}
				continue
			}
			ids = append(ids, id)
		}
		if len(ids) > 0 {
			s.cache.invalidate(ids...)
			s.leases.dropLeases(ids, true)
		}
	}, func(listening bool) {
		s.cache.setEnabled(listening)
		s.cache.clear()
		s.leases.dropLeases(nil, true) // changes to credits may have been missed
		s.catalogs.clear()
		if !listening {
			s.logger.Warn("lost the change feed: serving keys from the database until it is back")
		}
	})
}

// Listening reports whether the Service serves keys from its cache: always
// without a change feed, and with one only while it listens.
func (s *Service) Listening() bool { return !s.cache.disabled.Load() }
