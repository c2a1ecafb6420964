// Smoke calls through types that openapi-typescript generates from the
// /openapi.json a keyward server serves, with openapi-fetch. The Go test
// (internal/httpapi TestGeneratedTypeScriptClient) generates
// keyward-api.d.ts next to a copy of this file, compiles both with
// tsc --strict and runs the result: node apiclient.js URL PASSWORD. It logs
// in, creates a key, lists, gets and verifies it, and prints JSON.
import createClient from "openapi-fetch";
import type { paths } from "./keyward-api.js";

// The little of Node's globals this uses (no @types/node needed).
declare const process: { argv: string[]; exit(code: number): never };

async function main(baseUrl: string, password: string): Promise<void> {
  const api = createClient<paths>({ baseUrl });

  const login = await api.POST("/v1/login", { body: { userName: "admin", password } });
  if (!login.data) throw new Error(`login: ${login.response.status} ${JSON.stringify(login.error)}`);
  const admin = { Authorization: `Bearer ${login.data.accessToken}` };

  const created = await api.POST("/v1/apikeys", {
    headers: admin,
    body: { name: "ts-client", level: 2, permissions: [{ name: "keys:verify" }] },
  });
  if (!created.data) throw new Error(`create: ${created.response.status} ${JSON.stringify(created.error)}`);
  const key = created.data;

  const list = await api.GET("/v1/apikeys", { headers: admin, params: { query: { q: "ts-client" } } });
  if (!list.data || list.data.totalCount !== 1 || list.data.items[0].id !== key.id) {
    throw new Error(`list: ${list.response.status} ${JSON.stringify(list.error ?? list.data)}`);
  }

  const got = await api.GET("/v1/apikeys/{id}", { headers: admin, params: { path: { id: key.id } } });
  if (!got.data || got.data.clientId !== key.clientId) throw new Error(`get: ${got.response.status} ${JSON.stringify(got.error)}`);

  // The key verifies itself (it holds keys:verify).
  const verified = await api.POST("/v1/keys/verify", {
    headers: { Authorization: `Bearer ${key.clientSecret}` },
    body: { key: key.clientSecret, permissions: ["keys:verify"] },
  });
  if (!verified.data) throw new Error(`verify: ${verified.response.status} ${JSON.stringify(verified.error)}`);
  const problem = await api.GET("/v1/apikeys/{id}", { headers: admin, params: { path: { id: "0196c9f0-7b0a-7c41-9d3e-5f2a8b1c4d6e" } } });
  console.log(JSON.stringify({
    clientId: key.clientId,
    listed: list.data.totalCount,
    got: got.data.id,
    valid: verified.data.valid,
    notFound: problem.error?.code ?? null,
  }));
}

const [baseUrl, password] = process.argv.slice(2);
main(baseUrl, password).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
