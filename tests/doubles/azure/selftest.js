#!/usr/bin/env node
'use strict';
/*
 * selftest.js ENDPOINT CREDENTIALS - the Azure double's own test: requests
 * that break the published API must be caught (registered with
 * EXPECT_VIOLATIONS, so run.py also fails when the double records none).
 * Each wrong request must get ARM's error JSON with the status ARM gives;
 * one right request must pass, so the checks are not refusing everything.
 */
const fs = require('fs');

const [endpoint, credFile] = process.argv.slice(2);
const cred = JSON.parse(fs.readFileSync(credFile, 'utf8'));
const SUB = '6f1d1a3e-4c1b-4f63-9d55-2b8c0f7e91a4';
const RG = `/subscriptions/${SUB}/resourceGroups/selftest`;
let failures = 0;

async function token(secret) {
  const body = new URLSearchParams({ client_id: cred.clientId, client_secret: secret,
    grant_type: 'client_credentials', scope: 'https://management.azure.com/.default' });
  const r = await fetch(`${endpoint}/${cred.tenantId}/oauth2/v2.0/token`, { method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: body.toString() });
  return { status: r.status, body: await r.json() };
}

async function arm(tok, method, path, body) {
  const r = await fetch(`${endpoint}${path}`, { method, headers: { Authorization: `Bearer ${tok}`,
    'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : {} };
}

function expect(what, r, status, code) {
  const got = r.body && r.body.error && (r.body.error.code || r.body.error);
  if (r.status !== status || (code && got !== code)) {
    failures++;
    console.log(`not ok - ${what}: got ${r.status} ${JSON.stringify(r.body).slice(0, 200)}, want ${status} ${code || ''}`);
  } else {
    console.log(`ok - ${what} (${r.status} ${got || ''})`);
  }
}

async function main() {
  const bad = await token('not-the-secret');
  expect('token with a wrong client secret', bad, 401, 'invalid_client');
  const good = await token(cred.clientSecret);
  expect('token with the right secret', { status: good.status, body: {} }, 200);
  const t = good.body.access_token;
  const vnet = `${RG}/providers/Microsoft.Network/virtualNetworks/v1`;
  const ok = { location: 'koreacentral', properties: { addressSpace: { addressPrefixes: ['10.0.0.0/16'] } } };
  expect('a right resource group PUT', await arm(t, 'PUT', `/subscriptions/${SUB}/resourcegroups/selftest?api-version=2021-04-01`, { location: 'koreacentral' }), 201);
  expect('a right VNet PUT', await arm(t, 'PUT', `${vnet}?api-version=2024-05-01`, ok), 201);
  expect('a misspelt body property (addresSpace)', await arm(t, 'PUT', `${vnet}?api-version=2024-05-01`,
    { location: 'koreacentral', properties: { addresSpace: { addressPrefixes: ['10.0.0.0/16'] } } }), 400, 'InvalidRequestContent');
  expect('a string where the model wants an array', await arm(t, 'PUT', `${vnet}?api-version=2024-05-01`,
    { location: 'koreacentral', properties: { addressSpace: { addressPrefixes: '10.0.0.0/16' } } }), 400, 'InvalidRequestContent');
  expect('a read-only property sent (provisioningState)', await arm(t, 'PUT', `${vnet}?api-version=2024-05-01`,
    { location: 'koreacentral', properties: { provisioningState: 'Succeeded' } }), 400, 'InvalidRequestContent');
  expect('a required property missing (VM location)', await arm(t, 'PUT',
    `${RG}/providers/Microsoft.Compute/virtualMachines/vm1?api-version=2024-11-01`, { properties: {} }), 400, 'InvalidRequestContent');
  expect('an enum value outside the model ($expand)', await arm(t, 'GET',
    `${RG}/providers/Microsoft.Compute/virtualMachines/vm1?api-version=2024-11-01&$expand=everything`), 400, 'InvalidRequestContent');
  expect('the wrong api-version', await arm(t, 'GET', `${vnet}?api-version=2020-01-01`), 400, 'InvalidApiVersionParameter');
  expect('no api-version', await arm(t, 'GET', vnet), 400, 'InvalidApiVersionParameter');
  expect('an unknown query parameter', await arm(t, 'GET', `${vnet}?api-version=2024-05-01&$top=5`), 400, 'InvalidRequestContent');
  expect('a misspelt resource type in the path', await arm(t, 'GET',
    `${RG}/providers/Microsoft.Network/virtualNetwork/v1?api-version=2024-05-01`), 400, 'InvalidResourceType');
  expect('a token the double did not issue', await arm(`${t.slice(0, -4)}AAAA`, 'GET', `${vnet}?api-version=2024-05-01`), 401, 'InvalidAuthenticationToken');
  expect('no token', await arm('', 'GET', `${vnet}?api-version=2024-05-01`), 401, 'InvalidAuthenticationToken');
  process.exit(failures ? 1 : 0);
}

main().catch((e) => { console.log(`not ok - ${e.stack}`); process.exit(1); });
