-- Recording a key's last use is cheap on PostgreSQL (issue 13). The usage
-- flush records the last use of every key used since the previous one:
-- under cold traffic thousands a second. As an UPDATE of api_keys it was
-- never HOT (00013's sort indexes hold last_used_at), so each wrote a new
-- version of the key's row with an entry in every index of api_keys
-- (24, the name trigram GIN among them): about 4 KB of WAL a key.
--
-- A key's last use is now its row of key_last_used, one row a key: the
-- flush updates that narrow row (and its three index entries) only. The
-- triggers below keep one row a key: made from an inserted key's
-- last_used_at, deleted with the key, moved with its id. (Not a foreign
-- key: its check, a query per inserted row, cost imports up to half their
-- rate.) Reads of a key take its last use from it; lists sorted by
-- lastUsedAt walk its indexes (00013's orders, moved here) and join
-- api_keys by primary key. api_keys.last_used_at stays, as the last use a
-- key was created or last updated with (inserts and UpdateAPIKey write
-- it; UpdateAPIKey writes key_last_used too); Down copies the current last
-- uses back into it.

-- +goose Up
CREATE TABLE key_last_used (
    tenant_id    TEXT COLLATE "C" NOT NULL,
    key_id       TEXT COLLATE "C" NOT NULL,
    last_used_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, key_id)
);

INSERT INTO key_last_used (tenant_id, key_id, last_used_at) SELECT tenant_id, id, last_used_at FROM api_keys;

-- 00013's orders, NULLs last, the id the tie-breaker.
CREATE INDEX key_last_used_nulls ON key_last_used (tenant_id, (last_used_at IS NULL), last_used_at DESC, key_id);
CREATE INDEX key_last_used_asc ON key_last_used (tenant_id, (last_used_at IS NULL), last_used_at, key_id);
DROP INDEX api_keys_tenant_last_used_nulls;
DROP INDEX api_keys_tenant_last_used_asc;

COMMENT ON COLUMN api_keys.last_used_at IS 'the last use the key was created or last updated with; its last use is key_last_used.last_used_at (00025)';

-- Inserts and deletes of keys once a statement (an import of 10,000 keys
-- runs the insert once per statement of rows, not once per key); a change
-- of a key's id or tenant (none of the store's writes) once a row. A
-- delete's rows are deleted in the statement itself, as a cascade would:
-- a flush waiting for one skips it.
-- +goose StatementBegin
CREATE FUNCTION keyward_key_last_used() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO key_last_used (tenant_id, key_id, last_used_at) SELECT tenant_id, id, last_used_at FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM key_last_used l USING old_rows o WHERE l.tenant_id = o.tenant_id AND l.key_id = o.id;
    ELSE
        UPDATE key_last_used SET tenant_id = NEW.tenant_id, key_id = NEW.id
        WHERE tenant_id = OLD.tenant_id AND key_id = OLD.id;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER api_keys_key_last_used_insert AFTER INSERT ON api_keys REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION keyward_key_last_used();
CREATE TRIGGER api_keys_key_last_used_delete AFTER DELETE ON api_keys REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION keyward_key_last_used();
CREATE TRIGGER api_keys_key_last_used_move AFTER UPDATE OF tenant_id, id ON api_keys
    FOR EACH ROW WHEN (OLD.tenant_id <> NEW.tenant_id OR OLD.id <> NEW.id) EXECUTE FUNCTION keyward_key_last_used();

-- +goose Down
DROP TRIGGER api_keys_key_last_used_move ON api_keys;
DROP TRIGGER api_keys_key_last_used_delete ON api_keys;
DROP TRIGGER api_keys_key_last_used_insert ON api_keys;
DROP FUNCTION keyward_key_last_used();
COMMENT ON COLUMN api_keys.last_used_at IS NULL;
UPDATE api_keys k SET last_used_at = l.last_used_at FROM key_last_used l
WHERE l.tenant_id = k.tenant_id AND l.key_id = k.id AND l.last_used_at IS DISTINCT FROM k.last_used_at;
CREATE INDEX api_keys_tenant_last_used_nulls ON api_keys (tenant_id, (last_used_at IS NULL), last_used_at DESC, id);
CREATE INDEX api_keys_tenant_last_used_asc ON api_keys (tenant_id, (last_used_at IS NULL), last_used_at, id);
DROP TABLE key_last_used;
