-- Per-key allowed audiences of OAuth2 access tokens (RFC 8707): a JSON array
-- of absolute URIs or names; NULL is none, and the key's tokens carry
-- keyward's default audience.

-- +goose Up
ALTER TABLE api_keys ADD COLUMN audiences TEXT;

-- +goose Down
ALTER TABLE api_keys DROP COLUMN audiences;
