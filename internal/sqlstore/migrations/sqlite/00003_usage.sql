-- Request counts per API key and hour, for the console's usage charts.

-- +goose Up
CREATE TABLE key_usage (
    key_id TEXT    NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    hour   INTEGER NOT NULL,
    count  INTEGER NOT NULL,
    PRIMARY KEY (key_id, hour)
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE key_usage;
