'use strict';
/*
 * selftest.js - the gcp double's self-test (registered EXPECT_VIOLATIONS in
 * tests/gcp.cmake): deliberately wrong requests that the double must catch
 * and answer with an error, plus right ones it must accept, so that a double
 * that lets everything through fails.
 *
 *     node selftest.js ENDPOINT CREDENTIALS_JSON
 */
const crypto = require('crypto');
const fs = require('fs');

const [endpoint, credFile] = process.argv.slice(2);
const sa = JSON.parse(fs.readFileSync(credFile, 'utf8'));
const P = 'selftest-project';
let failures = 0;

function jwt(key, claims) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${enc({ alg: 'RS256', typ: 'JWT', kid: sa.private_key_id })}.${enc(claims)}`;
  return `${input}.${crypto.sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}
function claims(over = {}) {
  const t = Math.floor(Date.now() / 1000);
  return { iss: sa.client_email, scope: 'https://www.googleapis.com/auth/compute',
           aud: sa.token_uri, iat: t, exp: t + 3600, ...over };
}
async function token(assertion) {
  const r = await fetch(`${endpoint}/token`, { method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }) });
  return { status: r.status, body: await r.json() };
}
async function call(tok, method, path, body) {
  const r = await fetch(`${endpoint}/compute/v1/${path}`, { method,
    headers: { ...(tok ? { Authorization: `Bearer ${tok}` } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined });
  return { status: r.status, body: await r.json().catch(() => ({})) };
}
function expect(what, got, want) {
  const ok = typeof want === 'function' ? want(got) : got.status === want;
  console.log(`${ok ? 'ok' : 'NOT OK'} - ${what} (HTTP ${got.status})`);
  if (!ok) failures++;
}

(async () => {
  const key = crypto.createPrivateKey(sa.private_key);
  const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  // right ones
  const good = await token(jwt(key, claims()));
  expect('a right assertion gets a token', good, (r) => r.status === 200 && r.body.access_token);
  const tok = good.body.access_token;
  expect('a right list is answered', await call(tok, 'GET', `projects/${P}/global/networks?maxResults=10`), 200);
  // wrong ones: each must be refused (and recorded as a violation)
  expect('bad signature (another key)', await token(jwt(other, claims())), 400);
  expect('assertion for another audience', await token(jwt(key, claims({ aud: 'https://example.com/token' }))), 400);
  expect('no bearer token', await call(null, 'GET', `projects/${P}/global/networks`), 401);
  expect('a bearer token never issued', await call('ya29.forged', 'GET', `projects/${P}/global/networks`), 401);
  expect('misspelt query parameter (maxResult)', await call(tok, 'GET', `projects/${P}/global/networks?maxResult=10`), 400);
  expect('a string where the model wants an integer (maxResults=ten)', await call(tok, 'GET', `projects/${P}/global/networks?maxResults=ten`), 400);
  expect('unknown operation (path)', await call(tok, 'GET', `projects/${P}/global/netwerks`), (r) => r.status >= 400);
  expect('misspelt body field (autoCreateSubnetwork)', await call(tok, 'POST', `projects/${P}/global/networks`,
    { name: 'n1', autoCreateSubnetwork: false }), 400);
  expect('wrong body type (autoCreateSubnetworks "no")', await call(tok, 'POST', `projects/${P}/global/networks`,
    { name: 'n1', autoCreateSubnetworks: 'no' }), 400);
  expect('wrong nested type (ports a number)', await call(tok, 'POST', `projects/${P}/global/firewalls`,
    { name: 'f1', network: 'global/networks/n1', allowed: [{ IPProtocol: 'tcp', ports: [22] }] }), 400);
  expect('misspelt nested field (networkInterfaces[0].acessConfigs)', await call(tok, 'POST',
    `projects/${P}/zones/us-central1-a/instances`, { name: 'v', networkInterfaces: [{ acessConfigs: [] }] }), 400);
  expect('missing required body', await call(tok, 'POST', `projects/${P}/global/networks`), 400);
  process.exit(failures ? 1 : 0);
})().catch((e) => { console.error(e); process.exit(1); });
