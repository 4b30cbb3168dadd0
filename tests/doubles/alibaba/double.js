'use strict';
/*
 * double.js - an Alibaba Cloud ECS 2014-05-26 / VPC 2016-04-28 RPC double for
 * the alibaba driver's tests (tests/doubles/README.md, README.md here).
 *
 * Both services answer on one base URL: the Version parameter says which
 * one a request is for.  Every request is checked against the published
 * SDK models (model.js): the common parameters, the action, every
 * parameter's name and type, the required ones, the signature (recomputed
 * with the fake secret of --credentials).  A misfit is a violation and the
 * cloud's own error answer.  State is in memory, per region (RegionId),
 * with Pending -> Running -> Stopping -> Stopped transitions in time, the
 * APIs' page-size limits, ClientToken idempotency and the APIs' error codes.
 */
const crypto = require('crypto');
const fs = require('fs');
const common = require('../common.js');
const model = require('./model.js');

const args = common.parseArgs(process.argv.slice(2), { credentials: '', stepMs: 300 });
const stats = new common.Stats();
const violation = common.makeViolation(args, stats);

const cred = args.credentials ? JSON.parse(fs.readFileSync(args.credentials, 'utf8')) : {};
const KEY_ID = cred.access_key_id || cred.AccessKeyId || 'LTAI5tDoubleFakeKeyId00';
const SECRET = cred.access_key_secret || cred.AccessKeySecret || 'DoubleFakeSecret';
const TOKEN = cred.security_token || cred.SecurityToken || '';

const REGIONS = ['cn-hangzhou', 'cn-shanghai', 'cn-beijing', 'cn-shenzhen', 'cn-hongkong',
  'ap-southeast-1', 'ap-northeast-1', 'ap-northeast-2', 'ap-southeast-5', 'us-west-1',
  'us-east-1', 'eu-central-1', 'eu-west-1', 'me-east-1'];
function zonesOf(r) {
  return ['a', 'b'].map((l) => (/\d$/.test(r) ? `${r}${l}` : `${r}-${l}`));
}
const IMAGES = [
  ['ubuntu_22_04_x64_20G_alibase_20240130.vhd', 'Ubuntu  22.04 64位', 'linux', 'Ubuntu', 'x86_64', '2024-01-30T06:00:00Z'],
  ['ubuntu_22_04_x64_20G_alibase_20231221.vhd', 'Ubuntu  22.04 64位', 'linux', 'Ubuntu', 'x86_64', '2023-12-21T06:00:00Z'],
  ['debian_12_4_x64_20G_alibase_20240126.vhd', 'Debian  12.4 64位', 'linux', 'Debian', 'x86_64', '2024-01-26T06:00:00Z'],
  ['aliyun_3_x64_20G_alibase_20240528.vhd', 'Alibaba Cloud Linux  3.2104 LTS 64位', 'linux', 'Aliyun', 'x86_64', '2024-05-28T06:00:00Z'],
  ['centos_stream_9_x64_20G_alibase_20240131.vhd', 'CentOS Stream  9 64位', 'linux', 'CentOS Stream', 'x86_64', '2024-01-31T06:00:00Z'],
  ['ubuntu_22_04_arm64_20G_alibase_20240130.vhd', 'Ubuntu  22.04 64位 ARM版', 'linux', 'Ubuntu', 'arm64', '2024-01-30T06:00:00Z'],
];
const TYPES = [
  ['ecs.t6-c1m1.large', 2, 2, 'ecs.t6'], ['ecs.u1-c1m1.large', 2, 2, 'ecs.u1'],
  ['ecs.c7.large', 2, 4, 'ecs.c7'], ['ecs.g7.large', 2, 8, 'ecs.g7'],
  ['ecs.g7.xlarge', 4, 16, 'ecs.g7'], ['ecs.c7.xlarge', 4, 8, 'ecs.c7'],
  ['ecs.r7.large', 2, 16, 'ecs.r7'], ['ecs.g8y.large', 2, 8, 'ecs.g8y'],
];

/* ---- state ---- */
const S = { vpcs: new Map(), vsws: new Map(), sgs: new Map(), keys: new Map(),
  vms: new Map(), tokens: new Map(), nonces: new Set() };
let seq = 0;
function newId(prefix) {
  const s = crypto.createHash('sha256').update(`${process.pid}/${++seq}/${Date.now()}`)
    .digest('hex').replace(/[^a-z0-9]/g, '');
  return `${prefix}-${s.slice(0, prefix === 'i' ? 20 : 21)}`;
}
const now = () => Date.now();
const iso = (t) => new Date(t).toISOString().replace(/\.\d+Z$/, 'Z');
const STEP = Number(args.stepMs) || 300;

function err(status, code, message) {
  return { status, body: { RequestId: crypto.randomUUID().toUpperCase(), HostId: 'ecs.aliyuncs.com',
    Code: code, Message: message, Recommend: `https://api.aliyun.com/troubleshoot?q=${code}` } };
}
const notFound = (code, what) => err(404, code, `The specified ${what} does not exist.`);
const invalid = (code, msg) => err(400, code, msg);

/* tags as {Tag: [{Key, Value}]} and the filter Tag.N.Key/Value */
/* ECS answers tags as {TagKey, TagValue}, VPC as {Key, Value} (the
 * response models say so; checkAnswer holds the double to it). */
const tagsOut = (m) => ({ Tag: [...m].map(([Key, Value]) => ({ Key, Value })) });
const ecsTagsOut = (m) => ({ Tag: [...m].map(([TagKey, TagValue]) => ({ TagKey, TagValue })) });
function tagsIn(list) {
  const m = new Map();
  for (const t of list || []) if (t && t.Key !== undefined) m.set(t.Key, t.Value || '');
  return m;
}
function checkTags(list) {
  if ((list || []).length > 20) return invalid('InvalidTagCount', 'The number of tags exceeds 20.');
  for (const t of list || []) {
    if (!t || !t.Key) return invalid('InvalidTagKey.Malformed', 'The Tag.N.Key is empty.');
    if (t.Key.length > 128 || /^(aliyun|acs:)/i.test(t.Key) || /https?:\/\//.test(t.Key))
      return invalid('InvalidTagKey.Malformed', `The tag key ${t.Key} is not valid.`);
    if ((t.Value || '').length > 128 || /^(aliyun|acs:)/i.test(t.Value || '') || /https?:\/\//.test(t.Value || ''))
      return invalid('InvalidTagValue.Malformed', `The tag value of ${t.Key} is not valid.`);
  }
  return null;
}
function tagMatch(res, filter) {
  for (const f of filter || []) {
    if (!f || !f.Key) continue;
    if (!res.tags.has(f.Key)) return false;
    if (f.Value !== undefined && res.tags.get(f.Key) !== f.Value) return false;
  }
  return true;
}

/* ClientToken idempotency: the same token with the same action returns
 * what it made the first time. */
function idem(region, action, token, make) {
  if (token === undefined) return make();
  if (token.length > 64 || /[^\x20-\x7e]/.test(token))
    return invalid('InvalidClientToken.Malformed', 'The ClientToken is longer than 64 ASCII characters.');
  const key = `${region}/${action}/${token}`;
  if (S.tokens.has(key)) return S.tokens.get(key);
  const r = make();
  if (!r.status || r.status < 300) S.tokens.set(key, r);
  return r;
}

/* pagination: PageNumber/PageSize (max `max`) or MaxResults/NextToken */
function page(items, a, max, dflt) {
  const cap = args.pageSize > 0 ? Math.min(args.pageSize, max) : max;
  if (a.MaxResults !== undefined || a.NextToken !== undefined) {
    const n = a.MaxResults !== undefined ? Number(a.MaxResults) : dflt;
    if (n < 1 || n > max) return { error: invalid('InvalidParameter', `MaxResults must be 1-${max}.`) };
    const start = a.NextToken ? Number.parseInt(Buffer.from(a.NextToken, 'base64').toString(), 10) : 0;
    if (Number.isNaN(start)) return { error: invalid('InvalidNextToken.Malformed', 'The NextToken is not valid.') };
    const size = Math.min(n, cap), slice = items.slice(start, start + size);
    const next = start + size < items.length ? Buffer.from(String(start + size)).toString('base64') : '';
    return { slice, extra: { NextToken: next, TotalCount: items.length } };
  }
  const size = a.PageSize !== undefined ? Number(a.PageSize) : dflt;
  const num = a.PageNumber !== undefined ? Number(a.PageNumber) : 1;
  if (size < 1 || size > max) return { error: invalid('InvalidParameter', `PageSize must be 1-${max}.`) };
  if (num < 1) return { error: invalid('InvalidParameter', 'PageNumber must be at least 1.') };
  const eff = Math.min(size, cap);
  return { slice: items.slice((num - 1) * eff, num * eff),
    extra: { PageNumber: num, PageSize: eff, TotalCount: items.length } };
}

function jsonList(v, name) {
  if (v === undefined) return { list: null };
  try {
    const l = JSON.parse(v);
    if (Array.isArray(l) && l.every((x) => typeof x === 'string')) return { list: l };
  } catch (e) { /* below */ }
  return { error: invalid('InvalidParameter', `${name} must be a JSON array of strings.`),
    why: `${name}=${v} is not a JSON array of strings (the API takes ["id1","id2"])` };
}

/* ---- time: advance statuses ---- */
function advance(vm) {
  const t = now();
  while (vm.next && t >= vm.nextAt) {
    vm.status = vm.next.shift();
    vm.nextAt += STEP;
    if (!vm.next.length) vm.next = null;
  }
}
function settle(o) { if (o.status === 'Pending' && now() >= o.readyAt) o.status = 'Available'; }

/* ---- VPC ---- */
const vpcOut = (v) => ({ VpcId: v.id, VpcName: v.name, CidrBlock: v.cidr, Status: v.status,
  RegionId: v.region, VRouterId: v.vrouter, Description: v.description, IsDefault: false,
  CreationTime: iso(v.created), Tags: tagsOut(v.tags),
  VSwitchIds: { VSwitchId: [...S.vsws.values()].filter((s) => s.vpc === v.id).map((s) => s.id) } });
const vswOut = (s) => ({ VSwitchId: s.id, VSwitchName: s.name, VpcId: s.vpc, ZoneId: s.zone,
  CidrBlock: s.cidr, Status: s.status, Description: s.description, IsDefault: false,
  CreationTime: iso(s.created), AvailableIpAddressCount: 252, Tags: tagsOut(s.tags) });

function cidrOk(c) {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(c || '');
  return m && m.slice(1, 5).every((x) => Number(x) < 256) && Number(m[5]) <= 32;
}
function cidrRange(c) {
  const [ip, len] = c.split('/');
  const n = ip.split('.').reduce((a, x) => a * 256 + Number(x), 0);
  const size = 2 ** (32 - Number(len));
  const lo = n - (n % size);
  return [lo, lo + size - 1];
}
const inside = (a, b) => { const [x, y] = cidrRange(a), [p, q] = cidrRange(b); return x >= p && y <= q; };
const overlap = (a, b) => { const [x, y] = cidrRange(a), [p, q] = cidrRange(b); return x <= q && p <= y; };

const H = {};
H.CreateVpc = (a, r) => {
  if (a.CidrBlock !== undefined && !cidrOk(a.CidrBlock)) return invalid('InvalidCidrBlock.Malformed', 'The CidrBlock is not valid.');
  const bad = checkTags(a.Tag);
  if (bad) return bad;
  if (a.DryRun === 'true') return invalid('DryRunOperation', 'Request validation has been passed with DryRun flag set.');
  return idem(r, 'CreateVpc', a.ClientToken, () => {
    const v = { id: newId('vpc'), region: r, name: a.VpcName || '', cidr: a.CidrBlock || '172.16.0.0/12',
      description: a.Description || '', tags: tagsIn(a.Tag), status: 'Pending', readyAt: now() + STEP,
      created: now(), vrouter: newId('vrt') };
    S.vpcs.set(v.id, v);
    return { body: { VpcId: v.id, VRouterId: v.vrouter, RouteTableId: newId('vtb'), RequestId: crypto.randomUUID() } };
  });
};
H.DescribeVpcs = (a, r) => {
  const ids = a.VpcId ? a.VpcId.split(',') : null;
  const items = [...S.vpcs.values()].filter((v) => v.region === r && (!ids || ids.includes(v.id)) &&
    (!a.VpcName || v.name === a.VpcName) && tagMatch(v, a.Tag));
  items.forEach(settle);
  const p = page(items, a, 50, 10);
  if (p.error) return p.error;
  return { body: { RequestId: crypto.randomUUID(), ...p.extra, Vpcs: { Vpc: p.slice.map(vpcOut) } } };
};
H.DeleteVpc = (a, r) => {
  const v = S.vpcs.get(a.VpcId);
  if (!v || v.region !== r) return notFound('InvalidVpcId.NotFound', 'VPC');
  if ([...S.vsws.values()].some((s) => s.vpc === v.id))
    return err(400, 'DependencyViolation.VSwitch', 'The specified VPC has vSwitches.');
  if ([...S.sgs.values()].some((s) => s.vpc === v.id))
    return err(400, 'DependencyViolation.SecurityGroup', 'The specified VPC has security groups.');
  S.vpcs.delete(v.id);
  return { body: { RequestId: crypto.randomUUID() } };
};
H.CreateVSwitch = (a, r) => {
  const v = S.vpcs.get(a.VpcId);
  if (!v || v.region !== r) return notFound('InvalidVpcId.NotFound', 'VPC');
  if (!zonesOf(r).includes(a.ZoneId)) return invalid('InvalidZoneId.NotFound', `The zone ${a.ZoneId} does not exist in ${r}.`);
  if (!cidrOk(a.CidrBlock)) return invalid('InvalidCidrBlock.Malformed', 'The CidrBlock is not valid.');
  if (!inside(a.CidrBlock, v.cidr)) return invalid('InvalidCidrBlock.Malformed', 'The vSwitch CIDR block is not in the VPC CIDR block.');
  const bad = checkTags(a.Tag);
  if (bad) return bad;
  return idem(r, 'CreateVSwitch', a.ClientToken, () => {
    if ([...S.vsws.values()].some((s) => s.vpc === v.id && overlap(s.cidr, a.CidrBlock)))
      return invalid('InvalidCidrBlock.Overlapped', 'The specified CidrBlock overlaps another vSwitch.');
    if (v.status === 'Pending' && now() < v.readyAt) return err(400, 'IncorrectVpcStatus', 'The VPC is not Available.');
    const s = { id: newId('vsw'), region: r, vpc: v.id, zone: a.ZoneId, cidr: a.CidrBlock,
      name: a.VSwitchName || '', description: a.Description || '', tags: tagsIn(a.Tag),
      status: 'Pending', readyAt: now() + STEP, created: now(), nextIp: 10 };
    S.vsws.set(s.id, s);
    return { body: { VSwitchId: s.id, RequestId: crypto.randomUUID() } };
  });
};
H.DescribeVSwitches = (a, r) => {
  const items = [...S.vsws.values()].filter((s) => s.region === r && (!a.VpcId || s.vpc === a.VpcId) &&
    (!a.VSwitchId || s.id === a.VSwitchId) && (!a.ZoneId || s.zone === a.ZoneId) && tagMatch(s, a.Tag));
  items.forEach(settle);
  const p = page(items, a, 50, 10);
  if (p.error) return p.error;
  return { body: { RequestId: crypto.randomUUID(), ...p.extra, VSwitches: { VSwitch: p.slice.map(vswOut) } } };
};
H.DeleteVSwitch = (a, r) => {
  const s = S.vsws.get(a.VSwitchId);
  if (!s || s.region !== r) return notFound('InvalidVSwitchId.NotFound', 'vSwitch');
  if ([...S.vms.values()].some((i) => i.vsw === s.id))
    return err(400, 'DependencyViolation', 'The vSwitch has instances.');
  S.vsws.delete(s.id);
  return { body: { RequestId: crypto.randomUUID() } };
};

/* ---- security groups ---- */
function ruleOf(p, dir) {
  const proto = String(p.IpProtocol || '').toUpperCase();
  if (!['TCP', 'UDP', 'ICMP', 'GRE', 'ALL', 'ICMPV6'].includes(proto)) return { error: invalid('InvalidIpProtocol.Malformed', `IpProtocol ${p.IpProtocol} is not valid.`) };
  const pr = p.PortRange || '';
  const m = /^(-?\d+)\/(-?\d+)$/.exec(pr);
  if (!m) return { error: invalid('InvalidPortRange.Malformed', `PortRange ${pr} is not valid.`) };
  if ((proto === 'TCP' || proto === 'UDP') && (Number(m[1]) < 1 || Number(m[2]) > 65535 || Number(m[1]) > Number(m[2])))
    return { error: invalid('InvalidPortRange.Malformed', `PortRange ${pr} is not valid for ${proto}.`) };
  if ((proto === 'ICMP' || proto === 'ALL') && pr !== '-1/-1')
    return { error: invalid('InvalidPortRange.Malformed', `PortRange of ${proto} must be -1/-1.`) };
  const cidr = dir === 'ingress' ? p.SourceCidrIp : p.DestCidrIp;
  if (!cidrOk(cidr)) return { error: invalid(dir === 'ingress' ? 'InvalidSourceCidrIp.Malformed' : 'InvalidDestCidrIp.Malformed', 'The CIDR is not valid.') };
  const policy = (p.Policy || 'accept').toLowerCase();
  return { rule: { Direction: dir, IpProtocol: proto, PortRange: pr, Policy: policy,
    Priority: p.Priority || '1', [dir === 'ingress' ? 'SourceCidrIp' : 'DestCidrIp']: cidr,
    Description: p.Description || '', NicType: 'intranet' } };
}
const sameRule = (x, y) => x.Direction === y.Direction && x.IpProtocol === y.IpProtocol &&
  x.PortRange === y.PortRange && (x.SourceCidrIp || '') === (y.SourceCidrIp || '') &&
  (x.DestCidrIp || '') === (y.DestCidrIp || '') && x.Policy === y.Policy;
function permsOf(a) {
  if (a.Permissions && a.Permissions.length) return a.Permissions;
  if (a.IpProtocol !== undefined) return [a];
  return [];
}
H.CreateSecurityGroup = (a, r) => {
  const v = a.VpcId ? S.vpcs.get(a.VpcId) : null;
  if (a.VpcId && (!v || v.region !== r)) return notFound('InvalidVpcId.NotFound', 'VPC');
  const bad = checkTags(a.Tag);
  if (bad) return bad;
  return idem(r, 'CreateSecurityGroup', a.ClientToken, () => {
    const g = { id: newId('sg'), region: r, vpc: a.VpcId || '', name: a.SecurityGroupName || '',
      description: a.Description || '', tags: tagsIn(a.Tag), rules: [], created: now() };
    S.sgs.set(g.id, g);
    return { body: { SecurityGroupId: g.id, RequestId: crypto.randomUUID() } };
  });
};
function sgRules(dir, revoke) {
  return (a, r) => {
    const g = S.sgs.get(a.SecurityGroupId);
    if (!g || g.region !== r) return notFound('InvalidSecurityGroupId.NotFound', 'SecurityGroupId');
    const ps = permsOf(a);
    if (!ps.length && !(revoke && a.SecurityGroupRuleId)) return err(400, 'MissingParameter', 'The input parameter Permissions is missing.');
    for (const p of ps) {
      const x = ruleOf(p, dir);
      if (x.error) return x.error;
      const i = g.rules.findIndex((y) => sameRule(x.rule, y));
      if (revoke) { if (i >= 0) g.rules.splice(i, 1); } else if (i < 0) {
        x.rule.SecurityGroupRuleId = newId('sgr');
        x.rule.CreateTime = iso(now());
        g.rules.push(x.rule);
      }
    }
    for (const id of (revoke && a.SecurityGroupRuleId) || []) {
      const i = g.rules.findIndex((y) => y.SecurityGroupRuleId === id);
      if (i >= 0) g.rules.splice(i, 1);
    }
    return { body: { RequestId: crypto.randomUUID() } };
  };
}
H.AuthorizeSecurityGroup = sgRules('ingress', false);
H.AuthorizeSecurityGroupEgress = sgRules('egress', false);
H.RevokeSecurityGroup = sgRules('ingress', true);
H.RevokeSecurityGroupEgress = sgRules('egress', true);
H.DescribeSecurityGroupAttribute = (a, r) => {
  const g = S.sgs.get(a.SecurityGroupId);
  if (!g || g.region !== r) return notFound('InvalidSecurityGroupId.NotFound', 'SecurityGroupId');
  const rules = g.rules.filter((x) => !a.Direction || a.Direction === 'all' || x.Direction === a.Direction);
  return { body: { RequestId: crypto.randomUUID(), RegionId: r, SecurityGroupId: g.id,
    SecurityGroupName: g.name, VpcId: g.vpc, Description: g.description, InnerAccessPolicy: 'Accept',
    Permissions: { Permission: rules } } };
};
H.DescribeSecurityGroups = (a, r) => {
  const ids = jsonList(a.SecurityGroupIds, 'SecurityGroupIds');
  if (ids.error) return ids;
  const items = [...S.sgs.values()].filter((g) => g.region === r && (!ids.list || ids.list.includes(g.id)) &&
    (!a.SecurityGroupId || g.id === a.SecurityGroupId) && (!a.VpcId || g.vpc === a.VpcId) && tagMatch(g, a.Tag));
  const p = page(items, a, a.MaxResults !== undefined || a.NextToken !== undefined ? 100 : 50, 10);
  if (p.error) return p.error;
  return { body: { RequestId: crypto.randomUUID(), RegionId: r, ...p.extra,
    SecurityGroups: { SecurityGroup: p.slice.map((g) => ({ SecurityGroupId: g.id, SecurityGroupName: g.name,
      VpcId: g.vpc, Description: g.description, SecurityGroupType: 'normal', CreationTime: iso(g.created),
      RuleCount: g.rules.length, Tags: ecsTagsOut(g.tags) })) } } };
};
H.DeleteSecurityGroup = (a, r) => {
  const g = S.sgs.get(a.SecurityGroupId);
  if (!g || g.region !== r) return notFound('InvalidSecurityGroupId.NotFound', 'SecurityGroupId');
  if ([...S.vms.values()].some((i) => i.sgs.includes(g.id)))
    return err(403, 'DependencyViolation', 'There is still instance(s) in the specified security group.');
  S.sgs.delete(g.id);
  return { body: { RequestId: crypto.randomUUID() } };
};

/* ---- key pairs (named, per region) ---- */
const keyKey = (r, n) => `${r}/${n}`;
function keyNameOk(n) { return /^[A-Za-z][A-Za-z0-9:_-]{1,127}$/.test(n || ''); }
function fingerprint(s) { return crypto.createHash('md5').update(s).digest('hex'); }
H.CreateKeyPair = (a, r) => {
  if (!keyNameOk(a.KeyPairName)) return invalid('InvalidKeyPairName.Malformed', 'The KeyPairName is not valid.');
  if (S.keys.has(keyKey(r, a.KeyPairName))) return err(400, 'KeyPair.AlreadyExist', 'The key pair already exists.');
  const bad = checkTags(a.Tag);
  if (bad) return bad;
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048,
    publicKeyEncoding: { type: 'pkcs1', format: 'pem' }, privateKeyEncoding: { type: 'pkcs1', format: 'pem' } });
  const k = { name: a.KeyPairName, region: r, tags: tagsIn(a.Tag), fp: fingerprint(publicKey),
    pub: '', id: newId('kp'), created: now() };
  S.keys.set(keyKey(r, k.name), k);
  return { body: { KeyPairName: k.name, KeyPairId: k.id, KeyPairFingerPrint: k.fp,
    PrivateKeyBody: privateKey, RequestId: crypto.randomUUID() } };
};
H.ImportKeyPair = (a, r) => {
  if (!keyNameOk(a.KeyPairName)) return invalid('InvalidKeyPairName.Malformed', 'The KeyPairName is not valid.');
  if (!/^(ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+/.test(a.PublicKeyBody || ''))
    return invalid('InvalidPublicKeyBody.Malformed', 'The PublicKeyBody is not a valid public key.');
  if (S.keys.has(keyKey(r, a.KeyPairName))) return err(400, 'KeyPair.AlreadyExist', 'The key pair already exists.');
  const bad = checkTags(a.Tag);
  if (bad) return bad;
  const k = { name: a.KeyPairName, region: r, tags: tagsIn(a.Tag), fp: fingerprint(a.PublicKeyBody),
    pub: a.PublicKeyBody, id: newId('kp'), created: now() };
  S.keys.set(keyKey(r, k.name), k);
  return { body: { KeyPairName: k.name, KeyPairFingerPrint: k.fp, RequestId: crypto.randomUUID() } };
};
H.DescribeKeyPairs = (a, r) => {
  const items = [...S.keys.values()].filter((k) => k.region === r && (!a.KeyPairName || k.name === a.KeyPairName) &&
    tagMatch(k, a.Tag));
  const p = page(items, a, 50, 10);
  if (p.error) return p.error;
  return { body: { RequestId: crypto.randomUUID(), ...p.extra, KeyPairs: { KeyPair: p.slice.map((k) => ({
    KeyPairName: k.name, KeyPairFingerPrint: k.fp, CreationTime: iso(k.created), Tags: ecsTagsOut(k.tags),
    ...(a.IncludePublicKey === 'true' && k.pub ? { PublicKey: k.pub } : {}) })) } } };
};
H.DeleteKeyPairs = (a, r) => {
  const names = jsonList(a.KeyPairNames, 'KeyPairNames');
  if (names.error) return names;
  for (const n of names.list || []) S.keys.delete(keyKey(r, n));
  return { body: { RequestId: crypto.randomUUID() } };
};

/* ---- images, instance types, regions, zones ---- */
function glob(p) { return new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`); }
H.DescribeImages = (a, r) => {
  let items = IMAGES.filter((i) => (!a.ImageId || a.ImageId.split(',').includes(i[0])) &&
    (!a.ImageName || glob(a.ImageName).test(i[0]) || glob(a.ImageName).test(i[1])) &&
    (!a.Architecture || a.Architecture === i[4]) && (!a.OSType || a.OSType === i[2]));
  items = items.sort((x, y) => (x[5] < y[5] ? 1 : -1));
  const p = page(items, a, 100, 10);
  if (p.error) return p.error;
  return { body: { RequestId: crypto.randomUUID(), RegionId: r, ...p.extra, Images: { Image: p.slice.map((i) => ({
    ImageId: i[0], ImageName: i[0], OSName: i[1], OSNameEn: i[1].replace('64位', '64 bit'), OSType: i[2],
    Platform: i[3], Architecture: i[4], CreationTime: i[5], Status: 'Available', ImageOwnerAlias: 'system',
    IsPublic: true, Size: 20, Usage: 'instance', Description: '' })) } } };
};
H.DescribeInstanceTypes = (a) => {
  const want = a.InstanceTypes || null;
  const items = TYPES.filter((t) => (!want || want.includes(t[0])) &&
    (!a.InstanceTypeFamily || a.InstanceTypeFamily === t[3]));
  const n = a.MaxResults !== undefined ? Number(a.MaxResults) : 100;
  if (n < 1 || n > 1600) return invalid('InvalidParameter', 'MaxResults must be 1-1600.');
  const p = page(items, { MaxResults: String(n), NextToken: a.NextToken || '' }, 1600, 100);
  if (p.error) return p.error;
  return { body: { RequestId: crypto.randomUUID(), NextToken: p.extra.NextToken, InstanceTypes: { InstanceType: p.slice.map((t) => ({
    InstanceTypeId: t[0], CpuCoreCount: t[1], MemorySize: t[2], InstanceTypeFamily: t[3],
    CpuArchitecture: /y\./.test(t[0]) ? 'ARM' : 'X86', GPUAmount: 0, InstanceCategory: 'General-purpose' })) } } };
};
H.DescribeRegions = () => ({ body: { RequestId: crypto.randomUUID(), Regions: { Region: REGIONS.map((r) => ({
  RegionId: r, LocalName: r, RegionEndpoint: `ecs.${r}.aliyuncs.com`, Status: 'available' })) } } });
H.DescribeZones = (a, r) => ({ body: { RequestId: crypto.randomUUID(), Zones: { Zone: zonesOf(r).map((z) => ({
  ZoneId: z, LocalName: z, ZoneType: 'AvailabilityZone' })) } } });

/* ---- instances ---- */
function vmOut(i) {
  advance(i);
  return { InstanceId: i.id, InstanceName: i.name, HostName: i.name.slice(0, 30) || i.id, RegionId: i.region, ZoneId: i.zone,
    Status: i.status, InstanceType: i.type, ImageId: i.image, Cpu: i.cpu, Memory: i.memory * 1024,
    InstanceNetworkType: 'vpc', InstanceChargeType: 'PostPaid', InternetChargeType: 'PayByTraffic',
    InternetMaxBandwidthOut: i.bw, KeyPairName: i.key, CreationTime: iso(i.created), OSType: 'linux',
    StartTime: iso(i.created), ExpiredTime: '2099-12-31T15:59Z', StoppedMode: i.status === 'Stopped' ? 'KeepCharging' : 'Not-applicable',
    SecurityGroupIds: { SecurityGroupId: i.sgs },
    VpcAttributes: { VpcId: i.vpc, VSwitchId: i.vsw, PrivateIpAddress: { IpAddress: [i.privateIp] }, NatIpAddress: '' },
    PublicIpAddress: { IpAddress: i.publicIp ? [i.publicIp] : [] }, InnerIpAddress: { IpAddress: [] },
    EipAddress: { AllocationId: '', IpAddress: '', InternetChargeType: '' },
    Tags: ecsTagsOut(i.tags), OperationLocks: { LockReason: [] } };
}
function makeVm(r, a, vsw, type) {
  const n = vsw.nextIp++;
  const [lo] = cidrRange(vsw.cidr);
  const ip = (x) => [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255].join('.');
  const bw = Number(a.InternetMaxBandwidthOut || 0);
  const i = { id: newId('i'), region: r, zone: vsw.zone, vsw: vsw.id, vpc: vsw.vpc, name: a.InstanceName || '',
    type: type[0], cpu: type[1], memory: type[2], image: a.ImageId, key: a.KeyPairName || '',
    sgs: a.SecurityGroupIds || (a.SecurityGroupId ? [a.SecurityGroupId] : []), tags: tagsIn(a.Tag),
    status: 'Pending', next: ['Starting', 'Running'], nextAt: now() + STEP, created: now(), bw,
    privateIp: ip(lo + n), publicIp: bw > 0 ? `47.${(seq >> 8) & 255}.${seq & 255}.${(n % 250) + 2}` : '' };
  S.vms.set(i.id, i);
  return i;
}
H.RunInstances = (a, r) => {
  const vsw = S.vsws.get(a.VSwitchId);
  if (!a.VSwitchId) return err(400, 'MissingParameter', 'The input parameter VSwitchId is missing (VPC instances need it).');
  if (!vsw || vsw.region !== r) return notFound('InvalidVSwitchId.NotFound', 'VSwitchId');
  if (a.ZoneId && a.ZoneId !== vsw.zone) return invalid('InvalidParameter.Mismatch', 'ZoneId does not match the vSwitch.');
  if (!IMAGES.some((i) => i[0] === a.ImageId)) return notFound('InvalidImageId.NotFound', 'ImageId');
  const type = TYPES.find((t) => t[0] === a.InstanceType);
  if (!type) return invalid('InvalidInstanceType.ValueNotSupported', `The InstanceType ${a.InstanceType} is not supported.`);
  const sgs = a.SecurityGroupIds || (a.SecurityGroupId ? [a.SecurityGroupId] : []);
  if (!sgs.length) return err(400, 'MissingParameter', 'The input parameter SecurityGroupId is missing.');
  for (const g of sgs) {
    const x = S.sgs.get(g);
    if (!x || x.region !== r) return notFound('InvalidSecurityGroupId.NotFound', 'SecurityGroupId');
    if (x.vpc !== vsw.vpc) return invalid('InvalidSecurityGroupId.NotVpc', 'The security group is not in the vSwitch\'s VPC.');
  }
  if (a.KeyPairName && !S.keys.has(keyKey(r, a.KeyPairName))) return notFound('InvalidKeyPairName.NotFound', 'KeyPairName');
  if (a.Amount !== undefined && Number(a.Amount) !== 1 && !(Number(a.Amount) >= 1 && Number(a.Amount) <= 100))
    return invalid('InvalidAmount.Malformed', 'Amount must be 1-100.');
  if (a.SystemDisk && a.SystemDisk.Size !== undefined && (Number(a.SystemDisk.Size) < 20 || Number(a.SystemDisk.Size) > 2048))
    return invalid('InvalidSystemDiskSize.ValueNotSupported', 'SystemDisk.Size must be 20-2048.');
  const bad = checkTags(a.Tag);
  if (bad) return bad;
  if (a.DryRun === 'true') return invalid('DryRunOperation', 'Request validation has been passed with DryRun flag set.');
  return idem(r, 'RunInstances', a.ClientToken, () => {
    const n = Number(a.Amount || 1), ids = [];
    for (let k = 0; k < n; k++) ids.push(makeVm(r, a, vsw, type).id);
    return { body: { RequestId: crypto.randomUUID(), InstanceIdSets: { InstanceIdSet: ids }, TradePrice: 0 } };
  });
};
H.DescribeInstances = (a, r) => {
  const ids = jsonList(a.InstanceIds, 'InstanceIds');
  if (ids.error) return ids;
  if (a.DryRun === 'true') return invalid('DryRunOperation', 'Request validation has been passed with DryRun flag set.');
  const items = [...S.vms.values()].filter((i) => i.region === r && (!ids.list || ids.list.includes(i.id)) &&
    (!a.VpcId || i.vpc === a.VpcId) && (!a.VSwitchId || i.vsw === a.VSwitchId) &&
    (!a.InstanceName || i.name === a.InstanceName) && tagMatch(i, a.Tag) &&
    (!a.Status || (advance(i), i.status === a.Status)));
  const p = page(items, a, 100, 10);
  if (p.error) return p.error;
  return { body: { RequestId: crypto.randomUUID(), ...p.extra, Instances: { Instance: p.slice.map(vmOut) } } };
};
function vmAction(fn) {
  return (a) => {
    const i = S.vms.get(a.InstanceId);
    if (!i) return notFound('InvalidInstanceId.NotFound', 'InstanceId');
    advance(i);
    const out = fn(i, a);
    return out || { body: { RequestId: crypto.randomUUID() } };
  };
}
const conflict = (i) => err(403, 'IncorrectInstanceStatus', `The current status of the resource does not support this operation (${i.status}).`);
H.StopInstance = vmAction((i, a) => {
  if (a.DryRun === 'true') return invalid('DryRunOperation', 'Request validation has been passed with DryRun flag set.');
  if (i.status === 'Stopped') return null;
  if (i.status !== 'Running') return conflict(i);
  i.status = 'Stopping'; i.next = ['Stopped']; i.nextAt = now() + STEP;
  return null;
});
H.StartInstance = vmAction((i, a) => {
  if (a.DryRun === 'true') return invalid('DryRunOperation', 'Request validation has been passed with DryRun flag set.');
  if (i.status === 'Running') return null;
  if (i.status !== 'Stopped') return conflict(i);
  i.status = 'Starting'; i.next = ['Running']; i.nextAt = now() + STEP;
  return null;
});
H.RebootInstance = vmAction((i, a) => {
  if (a.DryRun === 'true') return invalid('DryRunOperation', 'Request validation has been passed with DryRun flag set.');
  if (i.status !== 'Running') return conflict(i);
  i.status = 'Stopping'; i.next = ['Starting', 'Running']; i.nextAt = now() + STEP;
  return null;
});
H.DeleteInstance = vmAction((i, a) => {
  if (a.DryRun === 'true') return invalid('DryRunOperation', 'Request validation has been passed with DryRun flag set.');
  if (i.status !== 'Stopped' && a.Force !== 'true') return conflict(i);
  if (i.status === 'Pending') return conflict(i);
  S.vms.delete(i.id);
  return null;
});

/* ---- tags (ECS TagResources / UntagResources on instances) ---- */
function tagTargets(a, r) {
  if (a.ResourceType !== 'instance') return { error: invalid('InvalidResourceType.NotSupported', 'Only ResourceType instance is supported by this double.') };
  const out = [];
  for (const id of a.ResourceId || []) {
    const i = S.vms.get(id);
    if (!i || i.region !== r) return { error: notFound('InvalidResourceId.NotFound', 'ResourceId') };
    out.push(i);
  }
  return { out };
}
H.TagResources = (a, r) => {
  const t = tagTargets(a, r);
  if (t.error) return t.error;
  const bad = checkTags(a.Tag);
  if (bad) return bad;
  for (const i of t.out) {
    for (const x of a.Tag || []) i.tags.set(x.Key, x.Value || '');
    if (i.tags.size > 20) return invalid('InvalidTagCount', 'The number of tags exceeds 20.');
  }
  return { body: { RequestId: crypto.randomUUID() } };
};
H.UntagResources = (a, r) => {
  const t = tagTargets(a, r);
  if (t.error) return t.error;
  for (const i of t.out) for (const k of a.TagKey || []) i.tags.delete(k);
  return { body: { RequestId: crypto.randomUUID() } };
};

/* Which service each action the double plays belongs to. */
const ECS_ACTIONS = new Set(['CreateSecurityGroup', 'AuthorizeSecurityGroup', 'AuthorizeSecurityGroupEgress',
  'RevokeSecurityGroup', 'RevokeSecurityGroupEgress', 'DescribeSecurityGroupAttribute', 'DescribeSecurityGroups',
  'DeleteSecurityGroup', 'CreateKeyPair', 'ImportKeyPair', 'DescribeKeyPairs', 'DeleteKeyPairs', 'DescribeImages',
  'DescribeInstanceTypes', 'DescribeRegions', 'DescribeZones', 'RunInstances', 'DescribeInstances',
  'StopInstance', 'StartInstance', 'RebootInstance', 'DeleteInstance', 'TagResources', 'UntagResources']);
const VPC_ACTIONS = new Set(['CreateVpc', 'DescribeVpcs', 'DeleteVpc', 'CreateVSwitch', 'DescribeVSwitches', 'DeleteVSwitch']);

/* ---- the request ---- */
function params(req) {
  const out = new Map();
  const add = (sp) => { for (const [k, v] of sp) out.set(k, v); };
  add(req.query);
  const ct = String(req.headers['content-type'] || '');
  if (req.method === 'POST' && req.body.length) {
    if (!ct.startsWith('application/x-www-form-urlencoded')) return { error: `a POST body of type "${ct}" (RPC takes a form)` };
    add(new URLSearchParams(req.body.toString('utf8')));
  }
  return { params: out };
}

const TS_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
function handle(req) {
  if (req.path !== '/') return { status: 404, body: err(404, 'InvalidAction.NotFound', 'Unknown path.').body, operation: req.path };
  const pp = params(req);
  if (pp.error) { violation('?', req.path, pp.error); return { ...invalid('InvalidParameter', pp.error), operation: '?' }; }
  const p = pp.params;
  const action = p.get('Action') || '?';
  const fail = (why, e) => { violation(action, req.rawPath.split('?')[0], why); return { ...e, operation: action }; };
  const version = p.get('Version');
  const svc = model.SERVICES[version];
  if (!svc) return fail(`Version ${version} is neither ECS 2014-05-26 nor VPC 2016-04-28`, invalid('InvalidVersion', 'Specified parameter Version is not valid.'));
  if (!(svc.name === 'ecs' ? ECS_ACTIONS : VPC_ACTIONS).has(action)) {
    if (!model.requestClass(svc, action)) return fail(`unknown action ${action} in ${svc.pkg}`, err(404, 'InvalidAction.NotFound', `Specified api ${action} is not found.`));
    return fail(`the double does not play ${action} of ${svc.name}`, err(400, 'InvalidAction.NotFound', `The double does not play ${action}.`));
  }
  if (req.method !== 'GET' && req.method !== 'POST') return fail(`method ${req.method}`, invalid('UnsupportedHTTPMethod', 'RPC takes GET or POST.'));
  const miss = ['Format', 'AccessKeyId', 'SignatureMethod', 'SignatureVersion', 'SignatureNonce', 'Timestamp', 'Signature']
    .filter((k) => !p.has(k));
  if (miss.length) return fail(`common parameters missing: ${miss.join(', ')}`, err(400, 'MissingParameter', `The input parameter ${miss[0]} that is mandatory for processing this request is not supplied.`));
  if (p.get('Format') !== 'JSON') return fail(`Format=${p.get('Format')} (the driver parses JSON)`, invalid('InvalidParameter.Format', 'Format must be JSON.'));
  if (p.get('SignatureMethod') !== 'HMAC-SHA1' || p.get('SignatureVersion') !== '1.0')
    return fail(`SignatureMethod ${p.get('SignatureMethod')} / SignatureVersion ${p.get('SignatureVersion')}`, invalid('InvalidParameter.SignatureMethod', 'Only HMAC-SHA1 1.0 is supported.'));
  if (!TS_RE.test(p.get('Timestamp')) || Math.abs(Date.parse(p.get('Timestamp')) - now()) > 15 * 60 * 1000)
    return fail(`Timestamp ${p.get('Timestamp')} is not ISO 8601 UTC within 15 minutes`, invalid('InvalidTimeStamp.Expired', 'Specified time stamp or date value is expired.'));
  const nonce = p.get('SignatureNonce');
  if (S.nonces.has(nonce)) return fail(`SignatureNonce ${nonce} used twice`, invalid('SignatureNonceUsed', 'Specified signature nonce was used already.'));
  S.nonces.add(nonce);
  const want = model.signature(p, req.method, SECRET);
  if (p.get('Signature') !== want)
    return fail('the signature does not match the one computed with the fake secret', invalid('SignatureDoesNotMatch', 'Specified signature is not matched with our calculation.'));
  if (p.get('AccessKeyId') !== KEY_ID) return { ...notFound('InvalidAccessKeyId.NotFound', 'AccessKeyId'), operation: action };
  if (TOKEN && p.get('SecurityToken') !== TOKEN) return { ...err(400, 'InvalidSecurityToken.Mismatch', 'Specified SecurityToken is not valid.'), operation: action };
  if (!TOKEN && p.has('SecurityToken')) return fail('SecurityToken sent but the credential has none', invalid('InvalidSecurityToken.Malformed', 'Specified SecurityToken is malformed.'));
  const { args: a, problems } = model.decode(svc, action, p);
  if (problems.length) {
    const first = problems[0];
    for (const why of problems) violation(action, req.path, why);
    return { ...invalid(/missing/.test(first) ? 'MissingParameter' : 'InvalidParameter', first), operation: action };
  }
  const cls = model.requestClass(svc, action);
  const takesRegion = Object.values(cls.names()).includes('RegionId');
  const region = a.RegionId;
  if (takesRegion && region !== undefined && !REGIONS.includes(region))
    return { ...invalid('InvalidRegionId.MalFormed', `The specified region ${region} does not exist.`), operation: action };
  let out = H[action](a, region);
  if (out.why) { violation(action, req.path, out.why); out = out.error; }
  if (out.error) out = out.error;
  if (!out.status || out.status < 300) {
    const problems2 = [];
    model.checkAnswer(model.responseClass(svc, action), out.body, `${action} answer: `, problems2);
    for (const why of problems2) violation(action, 'the double\'s answer', why);
  }
  return { status: out.status || 200, body: out.body, operation: action };
}

/* --seed-vms N --region R: N running tagged VMs in one VPC (bench). */
function seed() {
  const r = args.region || 'ap-southeast-1';
  if (!args.seedVms) return;
  const v = { id: newId('vpc'), region: r, name: 'seed', cidr: '10.200.0.0/16', description: '',
    tags: new Map(), status: 'Available', created: now(), vrouter: newId('vrt') };
  S.vpcs.set(v.id, v);
  const s = { id: newId('vsw'), region: r, vpc: v.id, zone: zonesOf(r)[0], cidr: '10.200.0.0/16', name: 'seed',
    description: '', tags: new Map(), status: 'Available', created: now(), nextIp: 10 };
  S.vsws.set(s.id, s);
  const g = { id: newId('sg'), region: r, vpc: v.id, name: 'seed', description: '', tags: new Map(), rules: [], created: now() };
  S.sgs.set(g.id, g);
  for (let n = 1; n <= args.seedVms; n++) {
    const i = makeVm(r, { InstanceName: `seed-${n}`, ImageId: IMAGES[0][0], SecurityGroupIds: [g.id],
      InternetMaxBandwidthOut: '5', Tag: [{ Key: 'barista:address', Value: `bench/vm/seed-${n}` },
        { Key: 'barista:lineage', Value: '00000000-0000-4000-8000-000000000000' },
        { Key: 'barista:namespace', Value: 'bench' }] }, s, TYPES[2]);
    i.status = 'Running';
    i.next = null;
  }
}

seed();
common.serve(args, stats, violation, handle);
