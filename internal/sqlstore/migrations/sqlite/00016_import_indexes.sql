-- Fewer index insertions per key stored (issue 13: a bulk import of keys
-- maintained every index of api_keys for every row, about half its store
-- time).
--
-- api_keys_tenant_expires (tenant_id, expires_at) served only the
-- "expired" status filter, which now tests (expires_at IS NULL) = 0 too and
-- so searches api_keys_tenant_expires_nulls or _desc (00013) by the same
-- range.
--
-- A previous secret's hash and holder are NULL but during a rotation's
-- grace period, and are only ever looked up by equality: their indexes
-- hold the non-NULL values only (a new key is not inserted into them).

-- +goose Up
DROP INDEX api_keys_tenant_expires;
DROP INDEX api_keys_prev_secret_hash;
CREATE INDEX api_keys_prev_secret_hash ON api_keys (prev_secret_hash) WHERE prev_secret_hash IS NOT NULL;
DROP INDEX api_keys_prev_secret_holder;
CREATE INDEX api_keys_prev_secret_holder ON api_keys (prev_secret_holder_id) WHERE prev_secret_holder_id IS NOT NULL;

-- +goose Down
DROP INDEX api_keys_prev_secret_holder;
CREATE INDEX api_keys_prev_secret_holder ON api_keys (prev_secret_holder_id);
DROP INDEX api_keys_prev_secret_hash;
CREATE INDEX api_keys_prev_secret_hash ON api_keys (prev_secret_hash);
CREATE INDEX api_keys_tenant_expires ON api_keys (tenant_id, expires_at);
