-- Recording a key's last use is cheap on PostgreSQL (issue 13). The usage
-- flush records the last use of every key used since the previous one:
-- under cold traffic thousands a second. As an UPDATE of api_keys it was
-- never HOT (00013's sort indexes hold last_used_at), so each wrote a new
-- version of the key's row with an entry in every index of api_keys
-- (about 20, the name trigram GIN among them): about 4 KB of WAL a key.
--
-- A key's last use is now its row of key_last_used, one row a key: the
-- flush updates that narrow row (and its three index entries) only. The
-- row is made by the insert trigger below from the inserted key's
-- last_used_at and deleted with the key (the foreign key's cascade). Reads
-- of a key take its last use from it; lists sorted by lastUsedAt walk its
-- indexes (00013's orders, moved here) and join api_keys by primary key.
-- api_keys.last_used_at stays, as the last use a key was created or last
-- updated with (inserts and UpdateAPIKey write it; UpdateAPIKey writes
-- key_last_used too); Down copies the current last uses back into it.

-- +goose Up
CREATE TABLE key_last_used (
    tenant_id    TEXT COLLATE "C" NOT NULL,
    key_id       TEXT COLLATE "C" NOT NULL,
    last_used_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, key_id),
    FOREIGN KEY (tenant_id, key_id) REFERENCES api_keys (tenant_id, id) ON DELETE CASCADE ON UPDATE CASCADE
);

INSERT INTO key_last_used (tenant_id, key_id, last_used_at) SELECT tenant_id, id, last_used_at FROM api_keys;

-- 00013's orders, NULLs last, the id the tie-breaker.
CREATE INDEX key_last_used_nulls ON key_last_used (tenant_id, (last_used_at IS NULL), last_used_at DESC, key_id);
CREATE INDEX key_last_used_asc ON key_last_used (tenant_id, (last_used_at IS NULL), last_used_at, key_id);
DROP INDEX api_keys_tenant_last_used_nulls;
DROP INDEX api_keys_tenant_last_used_asc;

COMMENT ON COLUMN api_keys.last_used_at IS 'the last use the key was created or last updated with; its last use is key_last_used.last_used_at (00025)';

-- Every insert of keys, once a statement (an import of 10,000 keys runs it
-- once per statement, not once per key).
-- +goose StatementBegin
CREATE FUNCTION keyward_key_last_used_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO key_last_used (tenant_id, key_id, last_used_at) SELECT tenant_id, id, last_used_at FROM new_rows;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER api_keys_key_last_used_insert AFTER INSERT ON api_keys REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION keyward_key_last_used_insert();

-- +goose Down
DROP TRIGGER api_keys_key_last_used_insert ON api_keys;
DROP FUNCTION keyward_key_last_used_insert();
COMMENT ON COLUMN api_keys.last_used_at IS NULL;
UPDATE api_keys k SET last_used_at = l.last_used_at FROM key_last_used l
WHERE l.tenant_id = k.tenant_id AND l.key_id = k.id AND l.last_used_at IS DISTINCT FROM k.last_used_at;
CREATE INDEX api_keys_tenant_last_used_nulls ON api_keys (tenant_id, (last_used_at IS NULL), last_used_at DESC, id);
CREATE INDEX api_keys_tenant_last_used_asc ON api_keys (tenant_id, (last_used_at IS NULL), last_used_at, id);
DROP TABLE key_last_used;
