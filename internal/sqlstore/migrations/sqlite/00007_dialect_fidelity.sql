-- What the seed systems' clients need (issue 18): a tenant setting that
-- lets Portos answers carry the secrets of HMAC keys (off by default), and
-- customer_applications_write reading as well, as Carbonext lists it for
-- List and Fetch.

-- +goose Up
ALTER TABLE tenants ADD COLUMN portos_readable_secrets INTEGER NOT NULL DEFAULT 0;

INSERT INTO permission_children (tenant_id, parent_id, child_id, position)
SELECT w.tenant_id, w.id, r.id,
       (SELECT count(*) FROM permission_children c WHERE c.parent_id = w.id)
FROM permissions w JOIN permissions r ON r.tenant_id = w.tenant_id AND r.name = 'apikeys:read' AND r.built_in
WHERE w.name = 'customer_applications_write' AND w.built_in
  AND NOT EXISTS (SELECT 1 FROM permission_children c WHERE c.parent_id = w.id AND c.child_id = r.id);

-- +goose Down
DELETE FROM permission_children
WHERE parent_id IN (SELECT id FROM permissions WHERE name = 'customer_applications_write' AND built_in)
  AND child_id IN (SELECT id FROM permissions WHERE name = 'apikeys:read' AND built_in);
ALTER TABLE tenants DROP COLUMN portos_readable_secrets;
