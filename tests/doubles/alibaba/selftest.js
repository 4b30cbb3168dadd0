'use strict';
/*
 * selftest.js ENDPOINT CREDENTIALS - the Alibaba double's self-test
 * (registered with EXPECT_VIOLATIONS): deliberately wrong RPC requests
 * must be refused with Alibaba's error answer (and recorded as
 * violations), and one right request must be accepted, so that the test
 * can fail both ways.
 */
const crypto = require('crypto');
const fs = require('fs');
const model = require('./model.js');

const [endpoint, credFile] = process.argv.slice(2);
const cred = JSON.parse(fs.readFileSync(credFile, 'utf8'));

function common(action, version) {
  return { Action: action, Version: version, Format: 'JSON', AccessKeyId: cred.access_key_id,
    SignatureMethod: 'HMAC-SHA1', SignatureVersion: '1.0', SignatureNonce: crypto.randomUUID(),
    Timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
}

async function send(params, { secret = cred.access_key_secret, method = 'POST', tamper } = {}) {
  const p = new Map(Object.entries(params));
  p.set('Signature', model.signature(p, method, secret));
  if (tamper) tamper(p);
  const body = new URLSearchParams([...p]).toString();
  const r = method === 'POST'
    ? await fetch(`${endpoint}/`, { method, body, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } })
    : await fetch(`${endpoint}/?${body}`);
  return { status: r.status, body: await r.json().catch(() => ({})) };
}

const ECS = '2014-05-26', VPC = '2016-04-28';
const cases = [
  ['a right request', { ...common('DescribeRegions', ECS) }, {}, 200, null],
  ['a right GET request', { ...common('DescribeVpcs', VPC), RegionId: 'ap-southeast-1', PageSize: '50' }, { method: 'GET' }, 200, null],
  ['a misspelt parameter', { ...common('DescribeInstances', ECS), RegionId: 'ap-southeast-1', PageSise: '10' }, {}, 400, 'InvalidParameter'],
  ['a string for a number', { ...common('DescribeVpcs', VPC), RegionId: 'ap-southeast-1', PageSize: 'ten' }, {}, 400, 'InvalidParameter'],
  ['a string for a boolean', { ...common('CreateVpc', VPC), RegionId: 'ap-southeast-1', DryRun: 'yes' }, {}, 400, 'InvalidParameter'],
  ['a list sent as one value', { ...common('RunInstances', ECS), RegionId: 'ap-southeast-1', SecurityGroupIds: 'sg-1' }, {}, 400, 'InvalidParameter'],
  ['a misspelt member of a list item', { ...common('CreateVpc', VPC), RegionId: 'ap-southeast-1', 'Tag.1.Kye': 'x' }, {}, 400, 'InvalidParameter'],
  ['a required parameter missing', { ...common('CreateVSwitch', VPC), RegionId: 'ap-southeast-1', VpcId: 'vpc-x', CidrBlock: '10.0.0.0/24' }, {}, 400, 'MissingParameter'],
  ['a RegionId where the model has none', { ...common('StopInstance', ECS), RegionId: 'ap-southeast-1', InstanceId: 'i-x' }, {}, 400, 'InvalidParameter'],
  ['an unknown action', { ...common('DescribeInstancez', ECS) }, {}, 404, 'InvalidAction.NotFound'],
  ['an ECS action sent as VPC', { ...common('DescribeInstances', VPC), RegionId: 'ap-southeast-1' }, {}, 404, 'InvalidAction.NotFound'],
  ['a wrong secret', { ...common('DescribeRegions', ECS) }, { secret: 'not-the-secret' }, 400, 'SignatureDoesNotMatch'],
  ['a parameter changed after signing', { ...common('DescribeVpcs', VPC), RegionId: 'ap-southeast-1' }, { tamper: (p) => p.set('RegionId', 'cn-hangzhou') }, 400, 'SignatureDoesNotMatch'],
  ['a stale timestamp', { ...common('DescribeRegions', ECS), Timestamp: '2016-02-23T12:46:24Z' }, {}, 400, 'InvalidTimeStamp.Expired'],
  ['Format XML', { ...common('DescribeRegions', ECS), Format: 'XML' }, {}, 400, 'InvalidParameter.Format'],
  ['a JSON list that is not JSON', { ...common('DescribeInstances', ECS), RegionId: 'ap-southeast-1', InstanceIds: 'i-1,i-2' }, {}, 400, 'InvalidParameter'],
];

(async () => {
  let bad = 0;
  for (const [what, params, opts, status, code] of cases) {
    const r = await send(params, opts);
    const ok = r.status === status && (!code || r.body.Code === code) && (code || !r.body.Code);
    console.log(`${ok ? 'ok' : 'not ok'} - ${what}: HTTP ${r.status} ${r.body.Code || ''}`);
    if (!ok) { bad++; console.log(`#   want HTTP ${status} ${code || ''}`); }
  }
  /* a replayed nonce */
  const p = common('DescribeRegions', ECS);
  const first = await send(p), again = await send(p);
  const ok = first.status === 200 && again.body.Code === 'SignatureNonceUsed';
  console.log(`${ok ? 'ok' : 'not ok'} - a replayed nonce: HTTP ${again.status} ${again.body.Code || ''}`);
  if (!ok) bad++;
  process.exit(bad ? 1 : 0);
})();
