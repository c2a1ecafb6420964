-- Verification counts per API key, hour and outcome (the codes of
-- POST /v1/keys/verify: VALID, NOT_FOUND, DISABLED, ...), for the console's
-- charts and GET /v1/apikeys/{id}/usage. key_usage keeps its totals.

-- +goose Up
CREATE TABLE key_usage_outcomes (
    key_id  TEXT COLLATE "C" NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    hour    TIMESTAMPTZ NOT NULL,
    outcome TEXT NOT NULL,
    count   BIGINT      NOT NULL,
    PRIMARY KEY (key_id, hour, outcome)
);

-- +goose Down
DROP TABLE key_usage_outcomes;
