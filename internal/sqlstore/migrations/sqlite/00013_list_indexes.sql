-- Fast lists of a huge tenant (issue 13): a name search that does not read
-- every key, and indexes for the status, owner and permission filters and
-- the orders.
--
-- api_key_names_fts is an FTS5 trigram index of key names (substrings of
-- at least three characters, ASCII and Unicode case folded). Its content
-- is api_key_names, whose INTEGER PRIMARY KEY survives VACUUM (api_keys'
-- rowid may not), kept in step with api_keys by triggers. The index only
-- narrows a search: the list still tests lower(name) LIKE, so results are
-- those of the plain scan.

-- +goose Up
CREATE TABLE api_key_names (
    id        INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    key_id    TEXT NOT NULL,
    name      TEXT NOT NULL,
    UNIQUE (tenant_id, key_id)
) STRICT;

CREATE VIRTUAL TABLE api_key_names_fts USING fts5 (
    name, content = 'api_key_names', content_rowid = 'id', tokenize = 'trigram case_sensitive 0'
);

INSERT INTO api_key_names (tenant_id, key_id, name) SELECT tenant_id, id, name FROM api_keys;
INSERT INTO api_key_names_fts (api_key_names_fts) VALUES ('rebuild');

-- +goose StatementBegin
CREATE TRIGGER api_key_names_insert AFTER INSERT ON api_key_names BEGIN
    INSERT INTO api_key_names_fts (rowid, name) VALUES (new.id, new.name);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER api_key_names_delete AFTER DELETE ON api_key_names BEGIN
    INSERT INTO api_key_names_fts (api_key_names_fts, rowid, name) VALUES ('delete', old.id, old.name);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER api_key_names_update AFTER UPDATE OF name ON api_key_names BEGIN
    INSERT INTO api_key_names_fts (api_key_names_fts, rowid, name) VALUES ('delete', old.id, old.name);
    INSERT INTO api_key_names_fts (rowid, name) VALUES (new.id, new.name);
END;
-- +goose StatementEnd
-- api_key_counts holds the number of keys of each tenant, so that the
-- total of an unfiltered list is exact without counting a million keys
-- (SQLite has one writer: the row is no contention).
CREATE TABLE api_key_counts (
    tenant_id TEXT    NOT NULL PRIMARY KEY,
    n         INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

INSERT INTO api_key_counts (tenant_id, n) SELECT tenant_id, count(*) FROM api_keys GROUP BY tenant_id;

-- +goose StatementBegin
CREATE TRIGGER api_keys_name_insert AFTER INSERT ON api_keys BEGIN
    INSERT INTO api_key_names (tenant_id, key_id, name) VALUES (new.tenant_id, new.id, new.name);
    INSERT OR IGNORE INTO api_key_counts (tenant_id, n) VALUES (new.tenant_id, 0);
    UPDATE api_key_counts SET n = n + 1 WHERE tenant_id = new.tenant_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER api_keys_name_delete AFTER DELETE ON api_keys BEGIN
    DELETE FROM api_key_names WHERE tenant_id = old.tenant_id AND key_id = old.id;
    UPDATE api_key_counts SET n = n - 1 WHERE tenant_id = old.tenant_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER api_keys_count_move AFTER UPDATE OF tenant_id ON api_keys WHEN old.tenant_id <> new.tenant_id BEGIN
    UPDATE api_key_counts SET n = n - 1 WHERE tenant_id = old.tenant_id;
    INSERT OR IGNORE INTO api_key_counts (tenant_id, n) VALUES (new.tenant_id, 0);
    UPDATE api_key_counts SET n = n + 1 WHERE tenant_id = new.tenant_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER api_keys_name_update AFTER UPDATE OF tenant_id, id, name ON api_keys BEGIN
    UPDATE api_key_names SET tenant_id = new.tenant_id, key_id = new.id, name = new.name
    WHERE tenant_id = old.tenant_id AND key_id = old.id;
END;
-- +goose StatementEnd

-- Status and owner filters in the default order (newest first); a
-- permission's keys without reading the table.
CREATE INDEX api_keys_tenant_active_created ON api_keys (tenant_id, is_active, created_at);
CREATE INDEX api_keys_tenant_owner_created ON api_keys (tenant_id, owner_id, created_at);
DROP INDEX api_keys_tenant_owner;
CREATE INDEX api_key_permissions_permission_key ON api_key_permissions (tenant_id, permission_id, key_id);
DROP INDEX api_key_permissions_permission;

-- Orders, each ending with the tie-breaker (id) so that a page never
-- sorts a run of equal values: NULLs last (lists order by whether the
-- time is NULL, then by the time); each order of name, createdAt,
-- lastUsedAt, expiresAt and isActive (those of GET /v1/apikeys) has one.
CREATE INDEX api_keys_tenant_name_id ON api_keys (tenant_id, lower(name), id);
DROP INDEX api_keys_tenant_name;
CREATE INDEX api_keys_tenant_created_id ON api_keys (tenant_id, created_at DESC, id);
DROP INDEX api_keys_tenant_created;
CREATE INDEX api_keys_tenant_last_used_nulls ON api_keys (tenant_id, (last_used_at IS NULL), last_used_at DESC, id);
CREATE INDEX api_keys_tenant_last_used_asc ON api_keys (tenant_id, (last_used_at IS NULL), last_used_at, id);
DROP INDEX api_keys_tenant_last_used;
CREATE INDEX api_keys_tenant_expires_nulls ON api_keys (tenant_id, (expires_at IS NULL), expires_at, id);
CREATE INDEX api_keys_tenant_expires_desc ON api_keys (tenant_id, (expires_at IS NULL), expires_at DESC, id);
CREATE INDEX api_keys_tenant_active_id ON api_keys (tenant_id, is_active, id);
CREATE INDEX api_keys_tenant_active_desc ON api_keys (tenant_id, is_active DESC, id);

-- +goose Down
DROP INDEX api_keys_tenant_active_desc;
DROP INDEX api_keys_tenant_expires_desc;
DROP INDEX api_keys_tenant_last_used_asc;
DROP INDEX api_keys_tenant_active_id;
DROP INDEX api_keys_tenant_expires_nulls;
CREATE INDEX api_keys_tenant_last_used ON api_keys (tenant_id, last_used_at);
DROP INDEX api_keys_tenant_last_used_nulls;
CREATE INDEX api_keys_tenant_created ON api_keys (tenant_id, created_at);
DROP INDEX api_keys_tenant_created_id;
CREATE INDEX api_keys_tenant_name ON api_keys (tenant_id, lower(name));
DROP INDEX api_keys_tenant_name_id;
CREATE INDEX api_key_permissions_permission ON api_key_permissions (permission_id);
DROP INDEX api_key_permissions_permission_key;
CREATE INDEX api_keys_tenant_owner ON api_keys (tenant_id, owner_id);
DROP INDEX api_keys_tenant_owner_created;
DROP INDEX api_keys_tenant_active_created;
DROP TRIGGER api_keys_count_move;
DROP TRIGGER api_keys_name_update;
DROP TRIGGER api_keys_name_delete;
DROP TRIGGER api_keys_name_insert;
DROP TABLE api_key_names_fts;
DROP TABLE api_key_names;
DROP TABLE api_key_counts;
