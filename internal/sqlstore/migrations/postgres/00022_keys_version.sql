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
-- Inserts and deletes bump once a statement (transition tables: one update
-- of the tenant for an import of 10,000 keys); an update, once a row whose
-- listed columns changed, when its transaction commits (a deferred
-- constraint trigger: a flush of last uses locks the tenant's row only at
-- its end, not while it updates key after key). The bump locks the
-- tenant's row until the writing transaction ends: key writes of one tenant
-- commit one at a time (a deadlock between two of them is retried by the
-- store's guard).

-- +goose Up
ALTER TABLE tenants ADD COLUMN keys_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN keys_used_version BIGINT NOT NULL DEFAULT 0;

-- +goose StatementBegin
CREATE FUNCTION keyward_bump_keys_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'ROW' THEN -- an update
        UPDATE tenants SET keys_version = keys_version + 1 WHERE id IN (OLD.tenant_id, NEW.tenant_id);
    ELSIF TG_OP = 'INSERT' THEN
        UPDATE tenants SET keys_version = keys_version + 1 WHERE id IN (SELECT tenant_id FROM new_rows);
    ELSE
        UPDATE tenants SET keys_version = keys_version + 1 WHERE id IN (SELECT tenant_id FROM old_rows);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION keyward_bump_keys_used_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tenants SET keys_used_version = keys_used_version + 1 WHERE id = NEW.tenant_id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER api_keys_keys_version_insert AFTER INSERT ON api_keys REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION keyward_bump_keys_version();
CREATE TRIGGER api_keys_keys_version_delete AFTER DELETE ON api_keys REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION keyward_bump_keys_version();
CREATE CONSTRAINT TRIGGER api_keys_keys_version_update AFTER UPDATE OF tenant_id, id, name, is_active, expires_at, owner_id,
    created_at, client_id, description, device_name, version ON api_keys DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN ((OLD.tenant_id, OLD.id, OLD.name, OLD.is_active, OLD.expires_at, OLD.owner_id, OLD.created_at, OLD.client_id,
        OLD.description, OLD.device_name, OLD.version) IS DISTINCT FROM (NEW.tenant_id, NEW.id, NEW.name, NEW.is_active,
        NEW.expires_at, NEW.owner_id, NEW.created_at, NEW.client_id, NEW.description, NEW.device_name, NEW.version))
    EXECUTE FUNCTION keyward_bump_keys_version();
CREATE CONSTRAINT TRIGGER api_keys_keys_used_version AFTER UPDATE OF last_used_at ON api_keys
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.last_used_at IS DISTINCT FROM NEW.last_used_at) EXECUTE FUNCTION keyward_bump_keys_used_version();
CREATE TRIGGER api_key_permissions_keys_version_insert AFTER INSERT ON api_key_permissions REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION keyward_bump_keys_version();
CREATE TRIGGER api_key_permissions_keys_version_delete AFTER DELETE ON api_key_permissions REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION keyward_bump_keys_version();
CREATE CONSTRAINT TRIGGER api_key_permissions_keys_version_update AFTER UPDATE ON api_key_permissions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION keyward_bump_keys_version();
CREATE CONSTRAINT TRIGGER users_keys_version_update AFTER UPDATE OF tenant_id, id, user_name ON users
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN ((OLD.tenant_id, OLD.id, OLD.user_name) IS DISTINCT FROM (NEW.tenant_id, NEW.id, NEW.user_name))
    EXECUTE FUNCTION keyward_bump_keys_version();

-- +goose Down
DROP TRIGGER users_keys_version_update ON users;
DROP TRIGGER api_key_permissions_keys_version_update ON api_key_permissions;
DROP TRIGGER api_key_permissions_keys_version_delete ON api_key_permissions;
DROP TRIGGER api_key_permissions_keys_version_insert ON api_key_permissions;
DROP TRIGGER api_keys_keys_used_version ON api_keys;
DROP TRIGGER api_keys_keys_version_update ON api_keys;
DROP TRIGGER api_keys_keys_version_delete ON api_keys;
DROP TRIGGER api_keys_keys_version_insert ON api_keys;
DROP FUNCTION keyward_bump_keys_used_version();
DROP FUNCTION keyward_bump_keys_version();
ALTER TABLE tenants DROP COLUMN keys_used_version;
ALTER TABLE tenants DROP COLUMN keys_version;
