-- Authorization (SPEC §3): who was shown each key's current secret, keys
-- whose secret died with that principal's access, keys that act with their
-- owner's rights (Portos), a per-user session generation that ends every
-- login token when it changes, and the details of audit entries.

-- +goose Up
ALTER TABLE api_keys ADD COLUMN secret_holder_id TEXT COLLATE "C";
ALTER TABLE api_keys ADD COLUMN prev_secret_holder_id TEXT COLLATE "C";
ALTER TABLE api_keys ADD COLUMN secret_revoked BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE api_keys ADD COLUMN acts_as_owner BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX api_keys_secret_holder ON api_keys (secret_holder_id);
CREATE INDEX api_keys_prev_secret_holder ON api_keys (prev_secret_holder_id);

ALTER TABLE users ADD COLUMN session_generation INTEGER NOT NULL DEFAULT 1;

ALTER TABLE audit ADD COLUMN details TEXT;

-- +goose Down
ALTER TABLE audit DROP COLUMN details;
ALTER TABLE users DROP COLUMN session_generation;
DROP INDEX api_keys_prev_secret_holder;
DROP INDEX api_keys_secret_holder;
ALTER TABLE api_keys DROP COLUMN acts_as_owner;
ALTER TABLE api_keys DROP COLUMN secret_revoked;
ALTER TABLE api_keys DROP COLUMN prev_secret_holder_id;
ALTER TABLE api_keys DROP COLUMN secret_holder_id;
