-- Issue 17: the client addresses a key works from (normalised IPv4/IPv6
-- prefixes separated by spaces; NULL allows every address), and the
-- answers kept for Idempotency-Key retries (sealed with the master key;
-- status 0 while the first request is in flight).

-- +goose Up
ALTER TABLE api_keys ADD COLUMN allowed_cidrs TEXT;

CREATE TABLE idempotency_keys (
    tenant_id   TEXT COLLATE "C" NOT NULL,
    principal   TEXT COLLATE "C" NOT NULL,
    idem_key    TEXT COLLATE "C" NOT NULL,
    fingerprint BYTEA NOT NULL,
    status      INTEGER NOT NULL,
    response    BYTEA,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, principal, idem_key)
);

CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);

-- +goose Down
DROP TABLE idempotency_keys;
ALTER TABLE api_keys DROP COLUMN allowed_cidrs;
