-- Verification counts per API key, hour and outcome (the codes of
-- POST /v1/keys/verify: VALID, NOT_FOUND, DISABLED, ...), for the console's
-- charts and GET /v1/apikeys/{id}/usage. key_usage keeps its totals. Like
-- every table that points at a key, by (tenant_id, key_id): key ids are
-- scoped per tenant.

-- +goose Up
CREATE TABLE key_usage_outcomes (
    tenant_id TEXT COLLATE "C" NOT NULL,
    key_id  TEXT COLLATE "C" NOT NULL,
    hour    TIMESTAMPTZ NOT NULL,
    outcome TEXT NOT NULL,
    count   BIGINT      NOT NULL,
    PRIMARY KEY (tenant_id, key_id, hour, outcome),
    FOREIGN KEY (tenant_id, key_id) REFERENCES api_keys (tenant_id, id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE key_usage_outcomes;
