-- Verification counts per API key, hour and outcome (the codes of
-- POST /v1/keys/verify: VALID, NOT_FOUND, DISABLED, ...), for the console's
-- charts and GET /v1/apikeys/{id}/usage. key_usage keeps its totals. Like
-- every table that points at a key, by (tenant_id, key_id): key ids are
-- scoped per tenant.

-- +goose Up
CREATE TABLE key_usage_outcomes (
    tenant_id TEXT NOT NULL,
    key_id  TEXT NOT NULL,
    hour    INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key_id, hour, outcome),
    FOREIGN KEY (tenant_id, key_id) REFERENCES api_keys (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE key_usage_outcomes;
