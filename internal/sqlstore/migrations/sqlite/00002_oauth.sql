-- OAuth2: token signing keys, token revocations, and the secret generation
-- of each key (access tokens carry it; a rotation retires older ones).

-- +goose Up
ALTER TABLE api_keys ADD COLUMN secret_generation INTEGER NOT NULL DEFAULT 1;

CREATE TABLE signing_keys (
    id             TEXT    NOT NULL PRIMARY KEY,
    algorithm      TEXT    NOT NULL,
    public_jwk     TEXT    NOT NULL,
    private_sealed BLOB    NOT NULL,
    slot           INTEGER NOT NULL UNIQUE,
    created_at     INTEGER NOT NULL,
    retire_at      INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE revoked_tokens (
    jti        TEXT    NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id),
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX revoked_tokens_expires ON revoked_tokens (expires_at);

-- +goose Down
DROP TABLE revoked_tokens;
DROP TABLE signing_keys;
ALTER TABLE api_keys DROP COLUMN secret_generation;
