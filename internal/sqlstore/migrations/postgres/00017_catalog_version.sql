-- A counter of each tenant's permission catalog (issue 13): the verify
-- path's one read (KeyForVerification) returns it as the catalog's version
-- instead of aggregating the whole catalog on every cache miss.
--
-- Triggers bump it on every write to permissions and permission_children,
-- whoever makes it (the store, a migration, a hand-written statement), so
-- that no write path can forget it. It only grows: two reads that found the
-- same value saw the same catalog. The bump locks the tenant's row until
-- the writing transaction ends: permission writes of one tenant run one at
-- a time (a deadlock between two of them is retried by the store's guard).

-- +goose Up
ALTER TABLE tenants ADD COLUMN catalog_version BIGINT NOT NULL DEFAULT 0;

-- +goose StatementBegin
CREATE FUNCTION keyward_bump_catalog_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = OLD.tenant_id;
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.tenant_id IS DISTINCT FROM OLD.tenant_id) THEN
        UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = NEW.tenant_id;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER permissions_catalog AFTER INSERT OR UPDATE OR DELETE ON permissions
    FOR EACH ROW EXECUTE FUNCTION keyward_bump_catalog_version();
CREATE TRIGGER permission_children_catalog AFTER INSERT OR UPDATE OR DELETE ON permission_children
    FOR EACH ROW EXECUTE FUNCTION keyward_bump_catalog_version();

-- +goose Down
DROP TRIGGER permission_children_catalog ON permission_children;
DROP TRIGGER permissions_catalog ON permissions;
DROP FUNCTION keyward_bump_catalog_version();
ALTER TABLE tenants DROP COLUMN catalog_version;
