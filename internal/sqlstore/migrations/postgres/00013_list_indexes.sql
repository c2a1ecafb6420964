-- Fast lists of a huge tenant (issue 13): a name search that does not read
-- every key, and indexes for the status, owner and permission filters and
-- the orders.
--
-- The name search (lower(name) LIKE '%…%') uses a pg_trgm GIN index.
-- pg_trgm is a trusted extension (PostgreSQL 13+): a user who may create
-- in the database may install it (where it may not, or the server lacks
-- it, the migration warns and searches go unindexed). It is installed once
-- per database, in the public schema when there is one (so that dropping
-- one keyward schema does not drop it under another), and the index names
-- its operator class in whatever schema holds it.

-- +goose Up
-- +goose StatementBegin
DO $$
DECLARE
    s text;
BEGIN
    SELECT n.nspname INTO s FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
    IF s IS NULL THEN
        s := COALESCE((SELECT nspname FROM pg_namespace WHERE nspname = 'public'), current_schema());
        BEGIN
            EXECUTE format('CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA %I', s);
        EXCEPTION
            WHEN unique_violation OR duplicate_object THEN
                NULL; -- another migration installed it at the same moment
            WHEN insufficient_privilege OR undefined_file THEN
                -- Not allowed, or not shipped with this server: name
                -- searches scan the tenant's keys, as before.
                RAISE WARNING 'pg_trgm cannot be installed (%): key name searches will not use an index', SQLERRM;
        END;
        SELECT n.nspname INTO s FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
    END IF;
    IF s IS NOT NULL THEN
        EXECUTE format('CREATE INDEX api_keys_name_trgm ON api_keys USING gin (lower(name) %I.gin_trgm_ops)', s);
    END IF;
END
$$;
-- +goose StatementEnd

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
DROP INDEX IF EXISTS api_keys_name_trgm;
