-- Key ids are scoped per tenant (issue 11): a PUT may choose a key's id, and
-- an id that another tenant already uses must behave like one never used.
-- api_keys' primary key becomes (tenant_id, id); the tables that point at a
-- key do so by (tenant_id, key_id). SQLite cannot change a primary key in
-- place, so the three tables are rebuilt: the new ones are filled and the
-- old ones dropped children first (nothing then cascades), and renaming
-- api_keys_new rewrites the references of the new children. A key id no
-- longer names one principal, so who was shown a key's secret is recorded
-- with that principal's own tenant (a root admin may act in any tenant).

-- +goose Up
CREATE TABLE api_keys_new (
    id                     TEXT    NOT NULL,
    tenant_id              TEXT    NOT NULL REFERENCES tenants (id),
    client_id              TEXT    NOT NULL UNIQUE,
    name                   TEXT    NOT NULL,
    description            TEXT    NOT NULL,
    owner_id               TEXT,
    device_name            TEXT    NOT NULL,
    level                  INTEGER NOT NULL,
    is_active              INTEGER NOT NULL,
    expires_at             INTEGER,
    token_lifespan_seconds INTEGER NOT NULL,
    hmac_enabled           INTEGER NOT NULL,
    meta                   TEXT,
    secret_hint            TEXT    NOT NULL,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    last_used_at           INTEGER,
    created_by             TEXT    NOT NULL,
    version                INTEGER NOT NULL,
    secret_hash            BLOB    NOT NULL UNIQUE,
    secret_ciphertext      BLOB,
    prev_secret_hash       BLOB,
    prev_secret_ciphertext BLOB,
    prev_secret_expires_at INTEGER,
    secret_generation      INTEGER NOT NULL DEFAULT 1,
    rate_limit             INTEGER,
    rate_window_seconds    INTEGER,
    secret_holder_id       TEXT,
    prev_secret_holder_id  TEXT,
    secret_revoked         INTEGER NOT NULL DEFAULT 0,
    acts_as_owner          INTEGER NOT NULL DEFAULT 0,
    secret_holder_tenant_id      TEXT,
    prev_secret_holder_tenant_id TEXT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;

INSERT INTO api_keys_new (id, tenant_id, client_id, name, description, owner_id, device_name, level, is_active,
    expires_at, token_lifespan_seconds, hmac_enabled, meta, secret_hint, created_at, updated_at, last_used_at,
    created_by, version, secret_hash, secret_ciphertext, prev_secret_hash, prev_secret_ciphertext,
    prev_secret_expires_at, secret_generation, rate_limit, rate_window_seconds, secret_holder_id,
    prev_secret_holder_id, secret_revoked, acts_as_owner, secret_holder_tenant_id, prev_secret_holder_tenant_id)
SELECT id, tenant_id, client_id, name, description, owner_id, device_name, level, is_active,
    expires_at, token_lifespan_seconds, hmac_enabled, meta, secret_hint, created_at, updated_at, last_used_at,
    created_by, version, secret_hash, secret_ciphertext, prev_secret_hash, prev_secret_ciphertext,
    prev_secret_expires_at, secret_generation, rate_limit, rate_window_seconds, secret_holder_id,
    prev_secret_holder_id, secret_revoked, acts_as_owner,
    COALESCE((SELECT u.tenant_id FROM users u WHERE u.id = k.secret_holder_id),
             (SELECT h.tenant_id FROM api_keys h WHERE h.id = k.secret_holder_id)),
    COALESCE((SELECT u.tenant_id FROM users u WHERE u.id = k.prev_secret_holder_id),
             (SELECT h.tenant_id FROM api_keys h WHERE h.id = k.prev_secret_holder_id))
FROM api_keys k;

CREATE TABLE api_key_permissions_new (
    tenant_id     TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    permission_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key_id, permission_id),
    FOREIGN KEY (tenant_id, key_id) REFERENCES api_keys_new (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, permission_id) REFERENCES permissions (tenant_id, id)
) STRICT;

INSERT INTO api_key_permissions_new (tenant_id, key_id, permission_id)
SELECT tenant_id, key_id, permission_id FROM api_key_permissions;

CREATE TABLE key_usage_new (
    tenant_id TEXT    NOT NULL,
    key_id    TEXT    NOT NULL,
    hour      INTEGER NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key_id, hour),
    FOREIGN KEY (tenant_id, key_id) REFERENCES api_keys_new (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

INSERT INTO key_usage_new (tenant_id, key_id, hour, count)
SELECT k.tenant_id, u.key_id, u.hour, u.count FROM key_usage u JOIN api_keys k ON k.id = u.key_id;

DROP TABLE key_usage;
DROP TABLE api_key_permissions;
DROP TABLE api_keys;
ALTER TABLE api_keys_new RENAME TO api_keys;
ALTER TABLE api_key_permissions_new RENAME TO api_key_permissions;
ALTER TABLE key_usage_new RENAME TO key_usage;

CREATE INDEX api_keys_prev_secret_hash ON api_keys (prev_secret_hash);
CREATE INDEX api_keys_tenant_owner ON api_keys (tenant_id, owner_id);
CREATE INDEX api_keys_tenant_created ON api_keys (tenant_id, created_at);
CREATE INDEX api_keys_tenant_name ON api_keys (tenant_id, lower(name));
CREATE INDEX api_keys_tenant_last_used ON api_keys (tenant_id, last_used_at);
CREATE INDEX api_keys_tenant_expires ON api_keys (tenant_id, expires_at);
CREATE INDEX api_keys_secret_holder ON api_keys (secret_holder_id);
CREATE INDEX api_keys_prev_secret_holder ON api_keys (prev_secret_holder_id);
CREATE INDEX api_key_permissions_permission ON api_key_permissions (permission_id);

-- +goose Down
-- Fails when two tenants use one key id, as it must.
CREATE TABLE api_keys_old (
    id                     TEXT    NOT NULL PRIMARY KEY,
    tenant_id              TEXT    NOT NULL REFERENCES tenants (id),
    client_id              TEXT    NOT NULL UNIQUE,
    name                   TEXT    NOT NULL,
    description            TEXT    NOT NULL,
    owner_id               TEXT,
    device_name            TEXT    NOT NULL,
    level                  INTEGER NOT NULL,
    is_active              INTEGER NOT NULL,
    expires_at             INTEGER,
    token_lifespan_seconds INTEGER NOT NULL,
    hmac_enabled           INTEGER NOT NULL,
    meta                   TEXT,
    secret_hint            TEXT    NOT NULL,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    last_used_at           INTEGER,
    created_by             TEXT    NOT NULL,
    version                INTEGER NOT NULL,
    secret_hash            BLOB    NOT NULL UNIQUE,
    secret_ciphertext      BLOB,
    prev_secret_hash       BLOB,
    prev_secret_ciphertext BLOB,
    prev_secret_expires_at INTEGER,
    secret_generation      INTEGER NOT NULL DEFAULT 1,
    rate_limit             INTEGER,
    rate_window_seconds    INTEGER,
    secret_holder_id       TEXT,
    prev_secret_holder_id  TEXT,
    secret_revoked         INTEGER NOT NULL DEFAULT 0,
    acts_as_owner          INTEGER NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;

INSERT INTO api_keys_old SELECT id, tenant_id, client_id, name, description, owner_id, device_name, level, is_active,
    expires_at, token_lifespan_seconds, hmac_enabled, meta, secret_hint, created_at, updated_at, last_used_at,
    created_by, version, secret_hash, secret_ciphertext, prev_secret_hash, prev_secret_ciphertext,
    prev_secret_expires_at, secret_generation, rate_limit, rate_window_seconds, secret_holder_id,
    prev_secret_holder_id, secret_revoked, acts_as_owner
FROM api_keys;

CREATE TABLE api_key_permissions_old (
    tenant_id     TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    permission_id TEXT NOT NULL,
    PRIMARY KEY (key_id, permission_id),
    FOREIGN KEY (tenant_id, key_id) REFERENCES api_keys_old (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, permission_id) REFERENCES permissions (tenant_id, id)
) STRICT;

INSERT INTO api_key_permissions_old (tenant_id, key_id, permission_id)
SELECT tenant_id, key_id, permission_id FROM api_key_permissions;

CREATE TABLE key_usage_old (
    key_id TEXT    NOT NULL REFERENCES api_keys_old (id) ON DELETE CASCADE,
    hour   INTEGER NOT NULL,
    count  INTEGER NOT NULL,
    PRIMARY KEY (key_id, hour)
) STRICT, WITHOUT ROWID;

INSERT INTO key_usage_old (key_id, hour, count) SELECT key_id, hour, count FROM key_usage;

DROP TABLE key_usage;
DROP TABLE api_key_permissions;
DROP TABLE api_keys;
ALTER TABLE api_keys_old RENAME TO api_keys;
ALTER TABLE api_key_permissions_old RENAME TO api_key_permissions;
ALTER TABLE key_usage_old RENAME TO key_usage;

CREATE INDEX api_keys_prev_secret_hash ON api_keys (prev_secret_hash);
CREATE INDEX api_keys_tenant_owner ON api_keys (tenant_id, owner_id);
CREATE INDEX api_keys_tenant_created ON api_keys (tenant_id, created_at);
CREATE INDEX api_keys_tenant_name ON api_keys (tenant_id, lower(name));
CREATE INDEX api_keys_tenant_last_used ON api_keys (tenant_id, last_used_at);
CREATE INDEX api_keys_tenant_expires ON api_keys (tenant_id, expires_at);
CREATE INDEX api_keys_secret_holder ON api_keys (secret_holder_id);
CREATE INDEX api_keys_prev_secret_holder ON api_keys (prev_secret_holder_id);
CREATE INDEX api_key_permissions_permission ON api_key_permissions (permission_id);
