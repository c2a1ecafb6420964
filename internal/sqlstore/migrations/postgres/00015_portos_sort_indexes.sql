-- The orders only the Portos dialect offers ($sort on clientId,
-- description, deviceName and _v) walk an index of their own, like the
-- orders of GET /v1/apikeys (00013): without one, page 1 of a
-- million-key tenant sorted every key (issue 13). Each ends with the
-- tie-breaker (id, ascending). The descending orders read these backwards,
-- sorting only each run of equal values by id. userName, the owner's, is
-- walked from the users' side (see ListAPIKeys).

-- +goose Up
CREATE INDEX api_keys_tenant_client_id ON api_keys (tenant_id, lower(client_id), id);
CREATE INDEX api_keys_tenant_description_id ON api_keys (tenant_id, lower(description), id);
CREATE INDEX api_keys_tenant_device_id ON api_keys (tenant_id, lower(device_name), id);
CREATE INDEX api_keys_tenant_version_id ON api_keys (tenant_id, version, id);

-- +goose Down
DROP INDEX api_keys_tenant_version_id;
DROP INDEX api_keys_tenant_device_id;
DROP INDEX api_keys_tenant_description_id;
DROP INDEX api_keys_tenant_client_id;
