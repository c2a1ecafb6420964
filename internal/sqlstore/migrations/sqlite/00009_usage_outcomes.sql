-- Verification counts per API key, hour and outcome (the codes of
-- POST /v1/keys/verify: VALID, NOT_FOUND, DISABLED, ...), for the console's
-- charts and GET /v1/apikeys/{id}/usage. key_usage keeps its totals.

-- +goose Up
CREATE TABLE key_usage_outcomes (
    key_id  TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    hour    INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (key_id, hour, outcome)
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE key_usage_outcomes;
