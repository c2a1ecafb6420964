-- Key ids are scoped per tenant (issue 11): a PUT may choose a key's id, and
-- an id that another tenant already uses must behave like one never used.
-- api_keys' primary key becomes (tenant_id, id); the tables that point at a
-- key do so by (tenant_id, key_id). A key id no longer names one
-- principal, so who was shown a key's secret is recorded with that
-- principal's own tenant (a root admin may act in any tenant).

-- +goose Up
ALTER TABLE api_keys ADD COLUMN secret_holder_tenant_id TEXT COLLATE "C";
ALTER TABLE api_keys ADD COLUMN prev_secret_holder_tenant_id TEXT COLLATE "C";
UPDATE api_keys k SET
    secret_holder_tenant_id = COALESCE((SELECT u.tenant_id FROM users u WHERE u.id = k.secret_holder_id),
                                       (SELECT h.tenant_id FROM api_keys h WHERE h.id = k.secret_holder_id)),
    prev_secret_holder_tenant_id = COALESCE((SELECT u.tenant_id FROM users u WHERE u.id = k.prev_secret_holder_id),
                                            (SELECT h.tenant_id FROM api_keys h WHERE h.id = k.prev_secret_holder_id))
WHERE k.secret_holder_id IS NOT NULL OR k.prev_secret_holder_id IS NOT NULL;

ALTER TABLE key_usage ADD COLUMN tenant_id TEXT COLLATE "C";
UPDATE key_usage u SET tenant_id = k.tenant_id FROM api_keys k WHERE k.id = u.key_id;
ALTER TABLE key_usage ALTER COLUMN tenant_id SET NOT NULL;
ALTER TABLE key_usage DROP CONSTRAINT key_usage_key_id_fkey;
ALTER TABLE key_usage DROP CONSTRAINT key_usage_pkey;
ALTER TABLE key_usage ADD PRIMARY KEY (tenant_id, key_id, hour);

ALTER TABLE api_key_permissions DROP CONSTRAINT api_key_permissions_pkey;
ALTER TABLE api_key_permissions ADD PRIMARY KEY (tenant_id, key_id, permission_id);

ALTER TABLE api_keys DROP CONSTRAINT api_keys_pkey;
ALTER TABLE api_keys ADD PRIMARY KEY (tenant_id, id);

ALTER TABLE key_usage ADD CONSTRAINT key_usage_tenant_id_key_id_fkey
    FOREIGN KEY (tenant_id, key_id) REFERENCES api_keys (tenant_id, id) ON DELETE CASCADE;

-- +goose Down
-- Fails when two tenants use one key id, as it must.
ALTER TABLE key_usage DROP CONSTRAINT key_usage_tenant_id_key_id_fkey;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_pkey;
ALTER TABLE api_keys ADD PRIMARY KEY (id);
ALTER TABLE api_key_permissions DROP CONSTRAINT api_key_permissions_pkey;
ALTER TABLE api_key_permissions ADD PRIMARY KEY (key_id, permission_id);
ALTER TABLE key_usage DROP CONSTRAINT key_usage_pkey;
ALTER TABLE key_usage ADD PRIMARY KEY (key_id, hour);
ALTER TABLE key_usage ADD CONSTRAINT key_usage_key_id_fkey FOREIGN KEY (key_id) REFERENCES api_keys (id) ON DELETE CASCADE;
ALTER TABLE key_usage DROP COLUMN tenant_id;
ALTER TABLE api_keys DROP COLUMN prev_secret_holder_tenant_id;
ALTER TABLE api_keys DROP COLUMN secret_holder_tenant_id;
