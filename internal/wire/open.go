package wire

import (
	"context"
	"errors"
	"fmt"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/redisstore"
	"github.com/keyward/keyward/internal/sqlstore"
)

// Options says where a Service keeps its data and how it reaches it.
type Options struct {
	// DSN is the database: an SQLite file or a PostgreSQL URL.
	DSN string
	// Migrate brings an older schema up to date; a new database is always
	// migrated.
	Migrate bool
	// Limits, when set, bound every call to the database and to Redis, as
	// a server's requests need (see sqlstore.Guard). A command that runs
	// once leaves it nil.
	Limits *sqlstore.Limits
	// RedisURL, when set, keeps rate limits and the nonces of signed
	// requests in Redis, shared by every replica. Otherwise nonces live in
	// the database and rate limits in each replica's memory.
	RedisURL string
	// Config is the Service's own configuration; Open fills in its Store,
	// Changes, Limiter and NonceStore.
	Config keyward.Config
}

// Running is a Service with the stores it runs on.
type Running struct {
	Service *keyward.Service
	DB      *sqlstore.DB
	// Shared names where rate limits live: "redis" or "in memory".
	Shared string

	closers []func() error // last opened first
}

// Close stops the Service and closes its stores.
func (r *Running) Close() error {
	var errs []error
	for i := len(r.closers) - 1; i >= 0; i-- {
		errs = append(errs, r.closers[i]())
	}
	return errors.Join(errs...)
}

// Open opens the database of opts (see OpenStore), and Redis when
// configured, and builds the Service on them with the change feed that
// tells the other replicas of every change.
func Open(ctx context.Context, opts Options) (_ *Running, err error) {
	db, err := OpenStore(ctx, opts.DSN, opts.Migrate)
	if err != nil {
		return nil, err
	}
	r := &Running{DB: db, Shared: "in memory", closers: []func() error{db.Close}}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	cfg := opts.Config
	cfg.Store, cfg.Changes = keyward.Store(db), db.ChangeFeed()
	if opts.Limits != nil {
		cfg.Store, cfg.Changes = sqlstore.Guard(db, *opts.Limits), sqlstore.GuardChanges(db.ChangeFeed(), *opts.Limits)
	}
	switch {
	case opts.RedisURL != "":
		redisstore.SilenceLibraryLogs()
		rs, err := redisstore.Open(ctx, opts.RedisURL)
		if err != nil {
			return nil, err
		}
		r.closers = append(r.closers, rs.Close)
		if opts.Limits != nil {
			rs = rs.WithTimeout(opts.Limits.Timeout)
		}
		cfg.Limiter, cfg.NonceStore, r.Shared = rs, rs, "redis"
	default:
		// Nonces live in the database (the nonces table) on SQLite and
		// PostgreSQL alike, so a signed request is refused the second time
		// after a restart too; rate limits stay per replica.
		cfg.NonceStore = db.NonceStore(nil)
	}
	if cfg.NonceStore != nil && opts.Limits != nil {
		cfg.NonceStore = sqlstore.GuardNonces(cfg.NonceStore, *opts.Limits)
	}
	svc, err := NewService(cfg)
	if err != nil {
		return nil, err
	}
	r.Service = svc
	r.closers = append(r.closers, svc.Close)
	return r, nil
}

// OpenStore opens the database at dsn and brings its schema up to date: a
// new database is always migrated, an old one only when migrate is set.
func OpenStore(ctx context.Context, dsn string, migrate bool) (*sqlstore.DB, error) {
	db, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("opening the database: %w", err)
	}
	current, latest, err := db.SchemaVersion(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("reading the schema version: %w", err)
	}
	if current < latest {
		if current > 0 && !migrate {
			db.Close()
			return nil, fmt.Errorf("the database schema is at version %d, this keyward needs %d: run \"keyward migrate\" or start with --migrate", current, latest)
		}
		if err := db.Migrate(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("migrating the database: %w", err)
		}
	} else if current > latest {
		db.Close()
		return nil, fmt.Errorf("the database schema (version %d) is newer than this keyward (%d): upgrade keyward", current, latest)
	}
	return db, nil
}
