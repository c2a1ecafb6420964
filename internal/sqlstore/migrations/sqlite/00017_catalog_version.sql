-- A counter of each tenant's permission catalog (issue 13): the verify
-- path's one read (KeyForVerification) returns it as the catalog's version
-- instead of aggregating the whole catalog on every cache miss.
--
-- Triggers bump it on every write to permissions and permission_children,
-- whoever makes it (the store, a migration, a hand-written statement), so
-- that no write path can forget it. It only grows: two reads that found the
-- same value saw the same catalog.

-- +goose Up
ALTER TABLE tenants ADD COLUMN catalog_version INTEGER NOT NULL DEFAULT 0;

-- +goose StatementBegin
CREATE TRIGGER permissions_catalog_insert AFTER INSERT ON permissions BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = new.tenant_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER permissions_catalog_update AFTER UPDATE ON permissions BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id IN (old.tenant_id, new.tenant_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER permissions_catalog_delete AFTER DELETE ON permissions BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = old.tenant_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER permission_children_catalog_insert AFTER INSERT ON permission_children BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = new.tenant_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER permission_children_catalog_update AFTER UPDATE ON permission_children BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id IN (old.tenant_id, new.tenant_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER permission_children_catalog_delete AFTER DELETE ON permission_children BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = old.tenant_id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER permission_children_catalog_delete;
DROP TRIGGER permission_children_catalog_update;
DROP TRIGGER permission_children_catalog_insert;
DROP TRIGGER permissions_catalog_delete;
DROP TRIGGER permissions_catalog_update;
DROP TRIGGER permissions_catalog_insert;
ALTER TABLE tenants DROP COLUMN catalog_version;
