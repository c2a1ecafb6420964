-- Fewer index insertions per key stored (issue 13: a bulk import of keys
-- maintained every index of api_keys for every row).
--
-- api_keys_tenant_id_id_key, the UNIQUE (tenant_id, id) of 00001, indexes
-- the columns of the primary key (00008) again: the foreign keys that
-- referenced it reference the primary key instead, and it is dropped.
--
-- A previous secret's hash and holder are NULL but during a rotation's
-- grace period, and are only ever looked up by equality: their indexes
-- hold the non-NULL values only (a new key is not inserted into them).
--
-- api_keys_tenant_expires stays on PostgreSQL: its planner turns
-- (expires_at IS NULL) = false into expires_at IS NOT NULL, which does not
-- match api_keys_tenant_expires_nulls, so the "expired" filter needs it.

-- +goose Up
ALTER TABLE api_key_permissions DROP CONSTRAINT api_key_permissions_tenant_id_key_id_fkey;
ALTER TABLE key_usage DROP CONSTRAINT key_usage_tenant_id_key_id_fkey;
ALTER TABLE key_usage_outcomes DROP CONSTRAINT key_usage_outcomes_tenant_id_key_id_fkey;
ALTER TABLE api_key_credits DROP CONSTRAINT api_key_credits_tenant_id_key_id_fkey;
ALTER TABLE api_key_rate_limits DROP CONSTRAINT api_key_rate_limits_tenant_id_key_id_fkey;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_tenant_id_id_key;
ALTER TABLE api_key_permissions ADD CONSTRAINT api_key_permissions_tenant_id_key_id_fkey
    FOREIGN KEY (tenant_id, key_id) REFERENCES api_keys (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE key_usage ADD CONSTRAINT key_usage_tenant_id_key_id_fkey
    FOREIGN KEY (tenant_id, key_id) REFERENCES api_keys (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE key_usage_outcomes ADD CONSTRAINT key_usage_outcomes_tenant_id_key_id_fkey
    FOREIGN KEY (tenant_id, key_id) REFERENCES api_keys (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE api_key_credits ADD CONSTRAINT api_key_credits_tenant_id_key_id_fkey
    FOREIGN KEY (tenant_id, key_id) REFERENCES api_keys (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE api_key_rate_limits ADD CONSTRAINT api_key_rate_limits_tenant_id_key_id_fkey
    FOREIGN KEY (tenant_id, key_id) REFERENCES api_keys (tenant_id, id) ON DELETE CASCADE;
DROP INDEX api_keys_prev_secret_hash;
CREATE INDEX api_keys_prev_secret_hash ON api_keys (prev_secret_hash) WHERE prev_secret_hash IS NOT NULL;
DROP INDEX api_keys_prev_secret_holder;
CREATE INDEX api_keys_prev_secret_holder ON api_keys (prev_secret_holder_id) WHERE prev_secret_holder_id IS NOT NULL;

-- +goose Down
DROP INDEX api_keys_prev_secret_holder;
CREATE INDEX api_keys_prev_secret_holder ON api_keys (prev_secret_holder_id);
DROP INDEX api_keys_prev_secret_hash;
CREATE INDEX api_keys_prev_secret_hash ON api_keys (prev_secret_hash);
ALTER TABLE api_keys ADD CONSTRAINT api_keys_tenant_id_id_key UNIQUE (tenant_id, id);
