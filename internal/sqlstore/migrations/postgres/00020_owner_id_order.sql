-- sort=userName walks the owners in name order (users_tenant_user_name)
-- and each owner's keys in id order, and the keys without an owner (who
-- sort first, as '') in id order too: this index gives both, where
-- api_keys_tenant_owner_created gives an owner's keys newest first. One
-- more index entry to write per key inserted.

-- +goose Up
CREATE INDEX api_keys_tenant_owner_id ON api_keys (tenant_id, owner_id, id);

-- +goose Down
DROP INDEX api_keys_tenant_owner_id;
