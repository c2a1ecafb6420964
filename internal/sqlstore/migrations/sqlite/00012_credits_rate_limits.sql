-- Usage credits and named rate limits (issue 17).
--
-- Usage credits of API keys: what a key has left, and how it is
-- refilled. A table of its own, so that the frequent conditional decrement
-- of remaining never rewrites a key's row, and a key update never writes
-- back a remaining count it read before a concurrent spend. refill_period
-- is the start (unix seconds) of the refill period remaining belongs to.

-- +goose Up
CREATE TABLE api_key_credits (
    tenant_id       TEXT    NOT NULL,
    key_id          TEXT    NOT NULL,
    remaining       INTEGER NOT NULL,
    refill_amount   INTEGER,
    refill_interval TEXT,
    refill_day      INTEGER NOT NULL DEFAULT 0,
    refill_period   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, key_id),
    FOREIGN KEY (tenant_id, key_id) REFERENCES api_keys (tenant_id, id) ON DELETE CASCADE
) STRICT;

-- Named rate limits (issue 17) of a key, and of a user (shared by all of
-- the user's keys): each at most lim requests per window_seconds.
CREATE TABLE api_key_rate_limits (
    tenant_id      TEXT    NOT NULL,
    key_id         TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    lim            INTEGER NOT NULL,
    window_seconds INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key_id, name),
    FOREIGN KEY (tenant_id, key_id) REFERENCES api_keys (tenant_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE user_rate_limits (
    tenant_id      TEXT    NOT NULL,
    user_id        TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    lim            INTEGER NOT NULL,
    window_seconds INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id, name),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;

-- +goose Down
DROP TABLE user_rate_limits;
DROP TABLE api_key_rate_limits;
DROP TABLE api_key_credits;
