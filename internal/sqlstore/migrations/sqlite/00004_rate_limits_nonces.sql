-- A rate limit of its own for each API key (at most rate_limit requests per
-- rate_window_seconds; both NULL: none), and the nonces of signed requests
-- for replicas that share a database without Redis.

-- +goose Up
ALTER TABLE api_keys ADD COLUMN rate_limit INTEGER;
ALTER TABLE api_keys ADD COLUMN rate_window_seconds INTEGER;

CREATE TABLE nonces (
    key        TEXT    NOT NULL PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX nonces_expires ON nonces (expires_at);

-- +goose Down
DROP TABLE nonces;
ALTER TABLE api_keys DROP COLUMN rate_window_seconds;
ALTER TABLE api_keys DROP COLUMN rate_limit;
