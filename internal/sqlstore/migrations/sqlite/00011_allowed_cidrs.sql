-- Issue 17: the client addresses a key works from (normalised IPv4/IPv6
-- prefixes separated by spaces; NULL allows every address), and the
-- answers kept for Idempotency-Key retries (sealed with the master key;
-- status 0 while the first request is in flight).

-- +goose Up
ALTER TABLE api_keys ADD COLUMN allowed_cidrs TEXT;

CREATE TABLE idempotency_keys (
    tenant_id   TEXT    NOT NULL,
    principal   TEXT    NOT NULL,
    idem_key    TEXT    NOT NULL,
    fingerprint BLOB    NOT NULL,
    status      INTEGER NOT NULL,
    response    BLOB,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, principal, idem_key)
) STRICT;

CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);

-- +goose Down
DROP TABLE idempotency_keys;
ALTER TABLE api_keys DROP COLUMN allowed_cidrs;
