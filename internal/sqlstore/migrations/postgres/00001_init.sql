-- keyward schema for PostgreSQL.
--
-- Ids and names use the "C" collation so that ordering and lower() behave
-- exactly as in SQLite (byte order, ASCII case folding) whatever the
-- database's locale. Times are TIMESTAMPTZ at microsecond precision.

-- +goose Up
CREATE TABLE tenants (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name       TEXT COLLATE "C" NOT NULL UNIQUE,
    prefix     TEXT        NOT NULL,
    is_active  BOOLEAN     NOT NULL,
    is_root    BOOLEAN     NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    version    INTEGER     NOT NULL
);

CREATE TABLE users (
    id            TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    tenant_id     TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    user_name     TEXT COLLATE "C" NOT NULL,
    password_hash TEXT        NOT NULL,
    level         INTEGER     NOT NULL,
    is_active     BOOLEAN     NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    version       INTEGER     NOT NULL,
    UNIQUE (tenant_id, id)
);

CREATE UNIQUE INDEX users_tenant_user_name ON users (tenant_id, lower(user_name));

CREATE TABLE permissions (
    id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    tenant_id    TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    name         TEXT COLLATE "C" NOT NULL,
    description  TEXT,
    composite    BOOLEAN     NOT NULL,
    client_role  BOOLEAN     NOT NULL,
    container_id TEXT        NOT NULL,
    attributes   TEXT,
    built_in     BOOLEAN     NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (tenant_id, name),
    UNIQUE (tenant_id, id)
);

-- The members of a composite permission, in the order they were given.
CREATE TABLE permission_children (
    tenant_id TEXT COLLATE "C" NOT NULL,
    parent_id TEXT COLLATE "C" NOT NULL,
    child_id  TEXT COLLATE "C" NOT NULL,
    position  INTEGER NOT NULL,
    PRIMARY KEY (parent_id, child_id),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES permissions (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, child_id) REFERENCES permissions (tenant_id, id)
);

CREATE INDEX permission_children_child ON permission_children (child_id);

CREATE TABLE user_permissions (
    tenant_id     TEXT COLLATE "C" NOT NULL,
    user_id       TEXT COLLATE "C" NOT NULL,
    permission_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (user_id, permission_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, permission_id) REFERENCES permissions (tenant_id, id)
);

CREATE INDEX user_permissions_permission ON user_permissions (permission_id);

CREATE TABLE api_keys (
    id                     TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    tenant_id              TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    client_id              TEXT COLLATE "C" NOT NULL UNIQUE,
    name                   TEXT COLLATE "C" NOT NULL,
    description            TEXT        NOT NULL,
    owner_id               TEXT COLLATE "C",
    device_name            TEXT        NOT NULL,
    level                  INTEGER     NOT NULL,
    is_active              BOOLEAN     NOT NULL,
    expires_at             TIMESTAMPTZ,
    token_lifespan_seconds INTEGER     NOT NULL,
    hmac_enabled           BOOLEAN     NOT NULL,
    meta                   TEXT,
    secret_hint            TEXT        NOT NULL,
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL,
    last_used_at           TIMESTAMPTZ,
    created_by             TEXT        NOT NULL,
    version                INTEGER     NOT NULL,
    secret_hash            BYTEA       NOT NULL UNIQUE,
    secret_ciphertext      BYTEA,
    prev_secret_hash       BYTEA,
    prev_secret_ciphertext BYTEA,
    prev_secret_expires_at TIMESTAMPTZ,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX api_keys_prev_secret_hash ON api_keys (prev_secret_hash);
CREATE INDEX api_keys_tenant_owner ON api_keys (tenant_id, owner_id);
CREATE INDEX api_keys_tenant_created ON api_keys (tenant_id, created_at);
CREATE INDEX api_keys_tenant_name ON api_keys (tenant_id, lower(name));
CREATE INDEX api_keys_tenant_last_used ON api_keys (tenant_id, last_used_at);
CREATE INDEX api_keys_tenant_expires ON api_keys (tenant_id, expires_at);

CREATE TABLE api_key_permissions (
    tenant_id     TEXT COLLATE "C" NOT NULL,
    key_id        TEXT COLLATE "C" NOT NULL,
    permission_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (key_id, permission_id),
    FOREIGN KEY (tenant_id, key_id) REFERENCES api_keys (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, permission_id) REFERENCES permissions (tenant_id, id)
);

CREATE INDEX api_key_permissions_permission ON api_key_permissions (permission_id);

-- Audit entries are never updated or deleted; seq orders them newest first.
-- No foreign keys: the log outlives what it describes.
CREATE TABLE audit (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         TEXT COLLATE "C" NOT NULL UNIQUE,
    at         TIMESTAMPTZ NOT NULL,
    tenant_id  TEXT COLLATE "C" NOT NULL,
    actor_kind TEXT        NOT NULL,
    actor_id   TEXT COLLATE "C" NOT NULL,
    action     TEXT COLLATE "C" NOT NULL,
    target_id  TEXT COLLATE "C" NOT NULL,
    ip         TEXT        NOT NULL,
    user_agent TEXT        NOT NULL,
    result     TEXT        NOT NULL
);

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
