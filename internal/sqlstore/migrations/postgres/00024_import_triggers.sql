-- SQLite's 00024 makes an import's per-key triggers cheaper; PostgreSQL's
-- schema has nothing of the kind to change. This keeps the two dialects'
-- versions in step.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
