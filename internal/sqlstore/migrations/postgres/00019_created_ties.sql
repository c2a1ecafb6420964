-- Keys imported together share their creation time (an import of 10,000
-- keys is one transaction, one time), so a page in creation order must
-- not sort each run of equal times by id: it would read the whole run
-- (10,000 keys) for 20. Every creation-order index ends with the
-- tie-breaker in the direction the order uses it: newest first with id
-- ascending (the default order, narrowed to an owner or the active flag)
-- and oldest first with id ascending (sort=createdAt).

-- +goose Up
DROP INDEX api_keys_tenant_active_created;
CREATE INDEX api_keys_tenant_active_created ON api_keys (tenant_id, is_active, created_at DESC, id);
DROP INDEX api_keys_tenant_owner_created;
CREATE INDEX api_keys_tenant_owner_created ON api_keys (tenant_id, owner_id, created_at DESC, id);
CREATE INDEX api_keys_tenant_created_asc ON api_keys (tenant_id, created_at, id);

-- +goose Down
DROP INDEX api_keys_tenant_created_asc;
DROP INDEX api_keys_tenant_owner_created;
CREATE INDEX api_keys_tenant_owner_created ON api_keys (tenant_id, owner_id, created_at);
DROP INDEX api_keys_tenant_active_created;
CREATE INDEX api_keys_tenant_active_created ON api_keys (tenant_id, is_active, created_at);
