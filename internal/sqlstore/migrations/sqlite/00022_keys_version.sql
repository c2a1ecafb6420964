-- Counters of each tenant's keys (issue 13): a list's page anchors (the
-- keyset positions of every stride-th key, apikeys_anchors.go) hold only
-- while both are what they were when the anchors were found.
--
-- keys_version grows on every write that can change which keys a list
-- holds or their order, except a last use: a key inserted or deleted, a
-- column a list filters or sorts by updated (keySortColumns and
-- keyConditionColumns: a new one must join api_keys_keys_version_update),
-- a key's permissions, an owner's name. keys_used_version grows when a
-- key's last use changes (TouchAPIKeys), which only lists sorted by it
-- depend on: the last uses that verification records do not stale every
-- other list's anchors.
--
-- Triggers bump them, whoever writes (the store, a migration, a hand-written
-- statement), so that no write path can forget them. (Since 00023 not
-- keys_used_version: TouchAPIKeys bumps it itself, once per tenant per
-- flush, instead of a trigger once per key; see there who writes last
-- uses.) They only grow: two
-- reads that found the same values saw the same keys in the same order.
-- A key inserted or deleted bumps api_key_counts.version instead, in the
-- update of its count that 00013's triggers make anyway (a bump of its
-- own cost 4 µs of CPU a key, a tenth of an import's budget at 20,000
-- keys/s): the keys' counter is tenants.keys_version plus it.

-- +goose Up
ALTER TABLE tenants ADD COLUMN keys_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN keys_used_version INTEGER NOT NULL DEFAULT 0;

ALTER TABLE api_key_counts ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

DROP TRIGGER api_keys_name_insert;
DROP TRIGGER api_keys_name_delete;
-- +goose StatementBegin
CREATE TRIGGER api_keys_name_insert AFTER INSERT ON api_keys BEGIN
    INSERT INTO api_key_names (tenant_id, key_id, name) VALUES (new.tenant_id, new.id, new.name);
    INSERT OR IGNORE INTO api_key_counts (tenant_id, n) VALUES (new.tenant_id, 0);
    UPDATE api_key_counts SET n = n + 1, version = version + 1 WHERE tenant_id = new.tenant_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER api_keys_name_delete AFTER DELETE ON api_keys BEGIN
    DELETE FROM api_key_names WHERE tenant_id = old.tenant_id AND key_id = old.id;
    UPDATE api_key_counts SET n = n - 1, version = version + 1 WHERE tenant_id = old.tenant_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER api_keys_keys_version_update AFTER UPDATE OF tenant_id, id, name, is_active, expires_at, owner_id,
    created_at, client_id, description, device_name, version ON api_keys BEGIN
    UPDATE tenants SET keys_version = keys_version + 1 WHERE id IN (old.tenant_id, new.tenant_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER api_keys_keys_used_version AFTER UPDATE OF last_used_at ON api_keys
    WHEN old.last_used_at IS NOT new.last_used_at BEGIN
    UPDATE tenants SET keys_used_version = keys_used_version + 1 WHERE id = new.tenant_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER api_key_permissions_keys_version_insert AFTER INSERT ON api_key_permissions BEGIN
    UPDATE tenants SET keys_version = keys_version + 1 WHERE id = new.tenant_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER api_key_permissions_keys_version_delete AFTER DELETE ON api_key_permissions BEGIN
    UPDATE tenants SET keys_version = keys_version + 1 WHERE id = old.tenant_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER api_key_permissions_keys_version_update AFTER UPDATE ON api_key_permissions BEGIN
    UPDATE tenants SET keys_version = keys_version + 1 WHERE id IN (old.tenant_id, new.tenant_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER users_keys_version_update AFTER UPDATE OF tenant_id, id, user_name ON users BEGIN
    UPDATE tenants SET keys_version = keys_version + 1 WHERE id IN (old.tenant_id, new.tenant_id);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER users_keys_version_update;
DROP TRIGGER api_key_permissions_keys_version_update;
DROP TRIGGER api_key_permissions_keys_version_delete;
DROP TRIGGER api_key_permissions_keys_version_insert;
DROP TRIGGER api_keys_keys_used_version;
DROP TRIGGER api_keys_keys_version_update;
DROP TRIGGER api_keys_name_delete;
DROP TRIGGER api_keys_name_insert;
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
ALTER TABLE api_key_counts DROP COLUMN version;
ALTER TABLE tenants DROP COLUMN keys_used_version;
ALTER TABLE tenants DROP COLUMN keys_version;
