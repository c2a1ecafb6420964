-- The client addresses a key works from (issue 17): normalised IPv4/IPv6
-- prefixes separated by spaces; NULL allows every address.

-- +goose Up
ALTER TABLE api_keys ADD COLUMN allowed_cidrs TEXT;

-- +goose Down
ALTER TABLE api_keys DROP COLUMN allowed_cidrs;
