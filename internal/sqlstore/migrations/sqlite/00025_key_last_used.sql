-- PostgreSQL's 00025 moves the keys' last uses (and their sort indexes)
-- to a narrow table, so that recording a last use no longer writes a new
-- version of the key's row into every index of api_keys. SQLite updates a
-- row in place and only the indexes holding a changed column: its schema
-- keeps them on api_keys. This keeps the two dialects' versions in step.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
