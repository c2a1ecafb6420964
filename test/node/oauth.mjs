// Drives keyward's OAuth2 endpoints with independent clients: openid-client
// (discovery, client credentials grant, introspection, revocation) and jose
// (the access token verified against keyward's JWKS as RFC 9068 at+jwt).
// Usage: node oauth.mjs <issuer> <clientId> <clientSecret> <verifierId> <verifierSecret> <scopedId> <scopedSecret>
// (the scoped key's audiences include https://orders.example.com, not https://other.example.com)
// Prints one JSON object with what each step saw; the Go test asserts it.
import * as client from 'openid-client';
import * as jose from 'jose';

const [issuer, clientId, clientSecret, rsId, rsSecret, scopedId, scopedSecret] = process.argv.slice(2);
const opts = { algorithm: 'oauth2', execute: [client.allowInsecureRequests] };
const out = {};

const basic = await client.discovery(new URL(issuer), clientId, clientSecret, client.ClientSecretBasic(clientSecret), opts);
out.issuer = basic.serverMetadata().issuer;
const t1 = await client.clientCredentialsGrant(basic, { scope: 'orders_read' });
out.basic = { tokenType: t1.token_type, scope: t1.scope, expiresIn: t1.expires_in };

const post = await client.discovery(new URL(issuer), clientId, clientSecret, client.ClientSecretPost(clientSecret), opts);
const t2 = await client.clientCredentialsGrant(post);
out.post = { tokenType: t2.token_type, scope: t2.scope };

const jwks = jose.createRemoteJWKSet(new URL(basic.serverMetadata().jwks_uri));
const { payload, protectedHeader } = await jose.jwtVerify(t1.access_token, jwks, {
  issuer, audience: 'keyward', typ: 'at+jwt', algorithms: ['EdDSA', 'ES256', 'RS256'],
});
out.jwt = { alg: protectedHeader.alg, typ: protectedHeader.typ, sub: payload.sub, clientId: payload.client_id, scope: payload.scope };

// The resource server uses openid-client's default client authentication
// (client_secret_post) for introspection; a wrong secret is invalid_client.
const rs = await client.discovery(new URL(issuer), rsId, rsSecret, undefined, opts);
const before = await client.tokenIntrospection(rs, t1.access_token);
out.introspectBefore = { active: before.active, clientId: before.client_id, scope: before.scope };
const rsBasic = await client.discovery(new URL(issuer), rsId, rsSecret, client.ClientSecretBasic(rsSecret), opts);
out.introspectBasic = { active: (await client.tokenIntrospection(rsBasic, t1.access_token)).active };
const wrong = await client.discovery(new URL(issuer), rsId, 'kw_sk_wrong', undefined, opts);
try {
  await client.tokenIntrospection(wrong, t1.access_token);
  out.introspectWrongSecret = 'accepted';
} catch (e) {
  out.introspectWrongSecret = { error: e.error ?? String(e), status: e.status };
}

await client.tokenRevocation(post, t1.access_token); // client_secret_post
const after = await client.tokenIntrospection(rs, t1.access_token);
out.introspectAfterRevoke = { active: after.active };
const other = await client.tokenIntrospection(rs, t2.access_token);
out.introspectOther = { active: other.active };

// RFC 8707: a resource the key allows is the token's audience; another is
// invalid_target. openid-client's default client authentication again.
const scoped = await client.discovery(new URL(issuer), scopedId, scopedSecret, undefined, opts);
const t3 = await client.clientCredentialsGrant(scoped, { resource: 'https://orders.example.com' });
const v3 = await jose.jwtVerify(t3.access_token, jwks, { issuer, audience: 'https://orders.example.com', typ: 'at+jwt' });
out.resource = { aud: v3.payload.aud, introspectedAud: (await client.tokenIntrospection(rs, t3.access_token)).aud };
try {
  await client.clientCredentialsGrant(scoped, { resource: 'https://other.example.com' });
  out.otherResource = 'accepted';
} catch (e) {
  out.otherResource = e.error ?? String(e);
}

try {
  await client.clientCredentialsGrant(basic, { scope: 'not_held' });
  out.badScope = 'accepted';
} catch (e) {
  out.badScope = e.error ?? String(e);
}
console.log(JSON.stringify(out));
