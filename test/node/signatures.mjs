// Independent RFC 9421 implementation (npm http-message-signatures) against
// keyward's keyward-v1 profile, both ways.
//   node signatures.mjs sign <url> <clientId> <secret> [body]
//     signs a request with the library and sends it; prints {status, body}
//   node signatures.mjs verify <json: {method, url, headers}> <secret>
//     verifies a request keyward's Go signer signed; prints {verified}
import { httpbis, createSigner, createVerifier } from 'http-message-signatures';
import { createHash, randomBytes } from 'node:crypto';

const [mode, ...args] = process.argv.slice(2);

if (mode === 'sign') {
  const [url, clientId, secret, body] = args;
  const headers = {};
  const fields = ['@method', '@authority', '@path', '@query'];
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-digest'] = 'sha-256=:' + createHash('sha256').update(body).digest('base64') + ':';
    fields.push('content-type', 'content-digest');
  }
  const now = new Date();
  const signed = await httpbis.signMessage({
    key: createSigner(Buffer.from(secret, 'utf8'), 'hmac-sha256', clientId),
    name: 'kw',
    fields,
    params: ['created', 'expires', 'nonce', 'keyid', 'tag'],
    paramValues: { created: now, expires: new Date(now.getTime() + 60000), nonce: randomBytes(18).toString('base64url'), tag: 'keyward-v1' },
  }, { method: body === undefined ? 'GET' : 'POST', url, headers });
  const res = await fetch(url, { method: signed.method, headers: signed.headers, body });
  console.log(JSON.stringify({ status: res.status, body: await res.text() }));
} else if (mode === 'verify') {
  const [json, secret] = args;
  const msg = JSON.parse(json);
  const verified = await httpbis.verifyMessage({
    keyLookup: async () => ({ id: 'x', algs: ['hmac-sha256'], verify: createVerifier(Buffer.from(secret, 'utf8'), 'hmac-sha256') }),
  }, msg);
  console.log(JSON.stringify({ verified }));
}
