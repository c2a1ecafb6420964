-- Per-replica credit leases (issue 17).
--
-- generation changes (to a new random value) whenever an administrator
-- sets a key's credits: credits a replica leased, and gives back later,
-- are only added back while the generation (and the refill period) is
-- still the one they were taken from, since a new setting is absolute.
-- reserved is the size of the last lease taken from the row, so that the
-- statement that takes it can return it (RETURNING sees new values only).

-- +goose Up
ALTER TABLE api_key_credits ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_key_credits ADD COLUMN reserved BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE api_key_credits DROP COLUMN reserved;
ALTER TABLE api_key_credits DROP COLUMN generation;
