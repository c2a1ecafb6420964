-- keys_used_version (00022) grows once per tenant per flush of last uses,
-- not once per key (issue 13): TouchAPIKeys bumps it in the statement that
-- updates the keys (a CTE: the keys updated, then their tenants), instead of
-- the deferred row trigger of 00022. That trigger ran a PL/pgSQL update of
-- the tenant's row for every key whose last use changed, at commit: a flush
-- of 10,000 cold keys of one tenant queued 10,000 trigger events and made
-- 10,000 versions of one row.
--
-- The writers of api_keys.last_used_at are now: TouchAPIKeys, which bumps
-- keys_used_version itself; UpdateAPIKey, which also changes the key's
-- version, so keys_version's trigger bumps that (any anchor is then stale
-- anyway); and inserts (imports), which bump keys_version. A new writer of
-- last_used_at that changes nothing else must bump keys_used_version in
-- the same statement or transaction.

-- +goose Up
DROP TRIGGER api_keys_keys_used_version ON api_keys;
DROP FUNCTION keyward_bump_keys_used_version();

-- +goose Down
-- +goose StatementBegin
CREATE FUNCTION keyward_bump_keys_used_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tenants SET keys_used_version = keys_used_version + 1 WHERE id = NEW.tenant_id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE CONSTRAINT TRIGGER api_keys_keys_used_version AFTER UPDATE OF last_used_at ON api_keys
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.last_used_at IS DISTINCT FROM NEW.last_used_at) EXECUTE FUNCTION keyward_bump_keys_used_version();
