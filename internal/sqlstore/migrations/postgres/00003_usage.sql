-- Request counts per API key and hour, for the console's usage charts.

-- +goose Up
CREATE TABLE key_usage (
    key_id TEXT COLLATE "C" NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    hour   TIMESTAMPTZ NOT NULL,
    count  BIGINT      NOT NULL,
    PRIMARY KEY (key_id, hour)
);

-- +goose Down
DROP TABLE key_usage;
