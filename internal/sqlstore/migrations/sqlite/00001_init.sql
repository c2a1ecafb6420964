-- keyward schema for SQLite.
--
-- Times are INTEGER microseconds since the Unix epoch (UTC): fixed-size,
-- exact at the microsecond precision the Service uses, and compared and
-- sorted numerically. Read one with datetime(col / 1000000, 'unixepoch').
-- Booleans are INTEGER 0/1. Tables are STRICT so a value of the wrong type
-- can never be stored.

-- +goose Up
CREATE TABLE tenants (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    prefix     TEXT    NOT NULL,
    is_active  INTEGER NOT NULL,
    is_root    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version    INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    tenant_id     TEXT    NOT NULL REFERENCES tenants (id),
    user_name     TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    level         INTEGER NOT NULL,
    is_active     INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    version       INTEGER NOT NULL,
    UNIQUE (tenant_id, id)
) STRICT;

CREATE UNIQUE INDEX users_tenant_user_name ON users (tenant_id, lower(user_name));

CREATE TABLE permissions (
    id           TEXT    NOT NULL PRIMARY KEY,
    tenant_id    TEXT    NOT NULL REFERENCES tenants (id),
    name         TEXT    NOT NULL,
    description  TEXT,
    composite    INTEGER NOT NULL,
    client_role  INTEGER NOT NULL,
    container_id TEXT    NOT NULL,
    attributes   TEXT,
    built_in     INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (tenant_id, name),
    UNIQUE (tenant_id, id)
) STRICT;

-- The members of a composite permission, in the order they were given.
CREATE TABLE permission_children (
    tenant_id TEXT    NOT NULL,
    parent_id TEXT    NOT NULL,
    child_id  TEXT    NOT NULL,
    position  INTEGER NOT NULL,
    PRIMARY KEY (parent_id, child_id),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES permissions (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, child_id) REFERENCES permissions (tenant_id, id)
) STRICT;

CREATE INDEX permission_children_child ON permission_children (child_id);

CREATE TABLE user_permissions (
    tenant_id     TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    permission_id TEXT NOT NULL,
    PRIMARY KEY (user_id, permission_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, permission_id) REFERENCES permissions (tenant_id, id)
) STRICT;

CREATE INDEX user_permissions_permission ON user_permissions (permission_id);

CREATE TABLE api_keys (
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
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX api_keys_prev_secret_hash ON api_keys (prev_secret_hash);
CREATE INDEX api_keys_tenant_owner ON api_keys (tenant_id, owner_id);
CREATE INDEX api_keys_tenant_created ON api_keys (tenant_id, created_at);
CREATE INDEX api_keys_tenant_name ON api_keys (tenant_id, lower(name));
CREATE INDEX api_keys_tenant_last_used ON api_keys (tenant_id, last_used_at);
CREATE INDEX api_keys_tenant_expires ON api_keys (tenant_id, expires_at);

CREATE TABLE api_key_permissions (
    tenant_id     TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    permission_id TEXT NOT NULL,
    PRIMARY KEY (key_id, permission_id),
    FOREIGN KEY (tenant_id, key_id) REFERENCES api_keys (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, permission_id) REFERENCES permissions (tenant_id, id)
) STRICT;

CREATE INDEX api_key_permissions_permission ON api_key_permissions (permission_id);

-- Audit entries are never updated or deleted; seq orders them newest first.
-- No foreign keys: the log outlives what it describes.
CREATE TABLE audit (
    seq        INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    id         TEXT    NOT NULL UNIQUE,
    at         INTEGER NOT NULL,
    tenant_id  TEXT    NOT NULL,
    actor_kind TEXT    NOT NULL,
    actor_id   TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    target_id  TEXT    NOT NULL,
    ip         TEXT    NOT NULL,
    user_agent TEXT    NOT NULL,
    result     TEXT    NOT NULL
) STRICT;

CREATE INDEX audit_tenant_seq ON audit (tenant_id, seq);
CREATE INDEX audit_tenant_target ON audit (tenant_id, target_id, seq);

-- +goose Down
DROP TABLE audit;
DROP TABLE api_key_permissions;
DROP TABLE api_keys;
DROP TABLE user_permissions;
DROP TABLE permission_children;
DROP TABLE permissions;
DROP TABLE users;
DROP TABLE tenants;
