-- keys_used_version (00022) grows once per tenant per flush of last uses,
-- not once per key (issue 13): TouchAPIKeys bumps it, in the transaction
-- that updates the keys, for the tenants whose keys it changed, instead of
-- 00022's row trigger (an update of the tenant's row for every key).
--
-- The writers of api_keys.last_used_at are now: TouchAPIKeys, which bumps
-- keys_used_version itself; UpdateAPIKey, which also changes the key's
-- version, so keys_version's trigger bumps that (any anchor is then stale
-- anyway); and inserts (imports), which bump api_key_counts.version. A new
-- writer of last_used_at that changes nothing else must bump
-- keys_used_version in the same transaction.

-- +goose Up
DROP TRIGGER api_keys_keys_used_version;

-- +goose Down
-- +goose StatementBegin
CREATE TRIGGER api_keys_keys_used_version AFTER UPDATE OF last_used_at ON api_keys
    WHEN old.last_used_at IS NOT new.last_used_at BEGIN
    UPDATE tenants SET keys_used_version = keys_used_version + 1 WHERE id = new.tenant_id;
END;
-- +goose StatementEnd
