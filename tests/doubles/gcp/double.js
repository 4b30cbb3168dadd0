'use strict';
/*
 * double.js - a Compute Engine v1 double for the gcp driver's tests
 * (tests/doubles/README.md; what exactly it checks: README.md here).
 *
 * Every request is routed by the google.api.http bindings of
 * @google-cloud/compute's protos.json and validated against the request
 * message (model.js); every answer is validated against the response
 * message.  The OAuth2 token endpoint (POST /token) verifies the service
 * account's RS256 assertion with the account's public key; every API call
 * needs a bearer token it issued.  State is in memory: networks,
 * subnetworks (per region), firewalls, instances (per zone), the project's
 * common metadata, zone/region/global Operations (PENDING -> RUNNING ->
 * DONE), public images and machine types.
 */
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const common = require('../common.js');
const M = require('./model.js');

const args = common.parseArgs(process.argv.slice(2), {
  serviceAccount: path.join(__dirname, '..', '..', 'data', 'gcp', 'credentials.json'),
  opMs: 300,
  tokenTtl: 3600,
  throttleFirst: 0,
  instanceLag: 0,
  deny: '',
});
let throttled = 0;
const MODEL = '@google-cloud/compute/build/protos/protos.json';
let modelPath = MODEL;
try { modelPath = require.resolve(MODEL); } catch (e) { /* requireModel says so and exits 77 */ }
const protos = common.requireModel(modelPath);
const model = M.load(protos);
const stats = new common.Stats();
const violation = common.makeViolation(args, stats);
const sa = JSON.parse(fs.readFileSync(args.serviceAccount, 'utf8'));
const saKey = crypto.createPublicKey(crypto.createPrivateKey(sa.private_key));
const PAGE_MAX = 500;
const WAIT_MAX_MS = 120000;
const SCOPE = 'https://www.googleapis.com/auth/compute';

let BASE = 'http://127.0.0.1';
const now = () => Date.now();
const rfc3339 = (t) => new Date(t).toISOString().replace('Z', '-00:00');
let idSeq = 1000000;
const newId = () => String(idSeq++ * 7919 + 1234567);

/* ---- errors in Compute Engine's format ---- */
const STATUS = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED',
                 404: 'NOT_FOUND', 409: 'ALREADY_EXISTS', 412: 'FAILED_PRECONDITION',
                 429: 'RESOURCE_EXHAUSTED' };
function apiError(code, reason, message, op) {
  return { status: code, operation: op,
           body: { error: { code, message, errors: [{ message, domain: 'global', reason }],
                            status: STATUS[code] || 'UNKNOWN' } } };
}
class Fail extends Error {
  constructor(code, reason, message) { super(message); this.code = code; this.reason = reason; }
}
const invalid = (m) => new Fail(400, 'invalid', m);
const notFound = (what) => new Fail(404, 'notFound', `The resource '${what}' was not found`);

/* ---- the world ---- */
const REGIONS = {
  'us-central1': ['a', 'b', 'c', 'f'], 'us-east1': ['b', 'c', 'd'], 'us-west1': ['a', 'b', 'c'],
  'europe-west1': ['b', 'c', 'd'], 'europe-west3': ['a', 'b', 'c'],
  'asia-northeast1': ['a', 'b', 'c'], 'asia-northeast3': ['a', 'b', 'c'],
  'asia-southeast1': ['a', 'b', 'c'], 'australia-southeast1': ['a', 'b', 'c'],
  'southamerica-east1': ['a', 'b', 'c'], 'europe-north1': ['a', 'b', 'c'],
  'me-central1': ['a', 'b', 'c'],
};
const ZONES = {};
for (const [r, zs] of Object.entries(REGIONS)) for (const z of zs) ZONES[`${r}-${z}`] = r;
const MACHINE_TYPES = [
  ['e2-micro', 2, 1024, true], ['e2-small', 2, 2048, true], ['e2-medium', 2, 4096, true],
  ['e2-standard-2', 2, 8192], ['e2-standard-4', 4, 16384], ['e2-standard-8', 8, 32768],
  ['n2-standard-2', 2, 8192], ['n2-standard-4', 4, 16384], ['n2-highmem-2', 2, 16384],
  ['c3-standard-4', 4, 16384], ['n1-standard-1', 1, 3840], ['t2a-standard-1', 1, 4096],
];
const IMAGES = [
  ['ubuntu-os-cloud', 'ubuntu-2204-jammy-v20261110', 'ubuntu-2204-lts', 'X86_64', 'Canonical, Ubuntu, 22.04 LTS, amd64 jammy image'],
  ['ubuntu-os-cloud', 'ubuntu-2404-noble-amd64-v20261110', 'ubuntu-2404-lts-amd64', 'X86_64', 'Canonical, Ubuntu, 24.04 LTS, amd64 noble image'],
  ['debian-cloud', 'debian-12-bookworm-v20261105', 'debian-12', 'X86_64', 'Debian, Debian GNU/Linux, 12 (bookworm), amd64'],
  ['rocky-linux-cloud', 'rocky-linux-9-v20261104', 'rocky-linux-9', 'X86_64', 'Rocky Linux, Rocky Linux, 9, x86_64'],
];

const projects = new Map(); // name -> {project, networks, subnets, firewalls, instances, ops, reqIds}
function world(p) {
  let w = projects.get(p);
  if (!w) {
    w = { meta: { kind: 'compute#metadata', fingerprint: fp(), items: [] }, id: newId(),
          created: rfc3339(now()), networks: new Map(), subnets: new Map(),
          firewalls: new Map(), instances: new Map(), ops: new Map(), reqIds: new Map() };
    projects.set(p, w);
  }
  return w;
}
function fp() { return crypto.randomBytes(8).toString('base64'); }
const link = (p, rel) => `${BASE}/compute/v1/projects/${p}/${rel}`;
const NAME_RE = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
function checkName(n, what) {
  if (typeof n !== 'string' || !NAME_RE.test(n))
    throw invalid(`Invalid value for field 'resource.name': '${n}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)' (${what})`);
}
/* a partial or full URL to "projects/P/..." (or relative to the project) */
function relOf(p, url) {
  if (typeof url !== 'string') return null;
  const i = url.indexOf('projects/');
  if (i >= 0) return url.slice(i);
  return `projects/${p}/${url}`;
}

/* ---- operations ---- */
function makeOp(w, p, scope, type, target, opts = {}) {
  const name = `operation-${now()}-${crypto.randomBytes(6).toString('hex')}`;
  const scopeRel = scope.zone ? `zones/${scope.zone}` : scope.region ? `regions/${scope.region}` : 'global';
  const op = { kind: 'compute#operation', id: newId(), name, operationType: type,
               targetLink: target, targetId: opts.targetId || newId(), status: 'PENDING',
               user: sa.client_email, progress: 0, insertTime: rfc3339(now()),
               startTime: rfc3339(now()),
               selfLink: link(p, `${scopeRel}/operations/${name}`) };
  if (scope.zone) op.zone = link(p, `zones/${scope.zone}`);
  if (scope.region) op.region = link(p, `regions/${scope.region}`);
  if (opts.error) op.error = { errors: [opts.error] };
  const rec = { op, at: now(), gets: 0, scopeRel, done: opts.done };
  w.ops.set(`${scopeRel}/operations/${name}`, rec);
  return rec;
}
function opView(rec) {
  const age = now() - rec.at;
  if (rec.op.status !== 'DONE') {
    if (age >= args.opMs || rec.gets >= 2) {
      rec.op.status = 'DONE';
      rec.op.progress = 100;
      rec.op.endTime = rfc3339(now());
      if (rec.done) rec.done();
      if (rec.op.error) { rec.op.httpErrorStatusCode = 400; rec.op.httpErrorMessage = 'BAD REQUEST'; }
    } else if (rec.gets >= 1 || age >= args.opMs / 2) {
      rec.op.status = 'RUNNING';
      rec.op.progress = 50;
    }
  }
  return rec.op;
}
/* requestId: the same id gives back the same operation */
function withRequestId(w, q, key, fn) {
  const rid = q.requestId;
  if (rid !== undefined) {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(rid) ||
        /^[0-]+$/.test(rid))
      throw invalid(`Invalid value for field 'requestId': '${rid}'. The request ID must be a valid UUID with the exception that zero UUID is not supported.`);
    const seen = w.reqIds.get(rid);
    if (seen) return seen.op;
  }
  const rec = fn();
  if (rid !== undefined) w.reqIds.set(rid, rec);
  return rec.op;
}

/* ---- lists ---- */
function page(items, q, kind, self, filterFn) {
  const max = q.maxResults === undefined ? PAGE_MAX : Number(q.maxResults);
  if (max < 0 || max > PAGE_MAX)
    throw invalid(`Invalid value for field 'maxResults': '${q.maxResults}'. Must be less than or equal to 500`);
  const size = Math.min(max || PAGE_MAX, args.pageSize > 0 ? args.pageSize : PAGE_MAX);
  let start = 0;
  if (q.pageToken !== undefined) {
    const m = /^o(\d+)$/.exec(Buffer.from(q.pageToken, 'base64url').toString());
    if (!m) throw invalid(`Invalid value for field 'pageToken': '${q.pageToken}'.`);
    start = Number(m[1]);
  }
  const all = filterFn ? items.filter(filterFn) : items;
  const out = { kind, id: self, selfLink: self, items: all.slice(start, start + size) };
  if (start + size < all.length) out.nextPageToken = Buffer.from(`o${start + size}`).toString('base64url');
  return out;
}
/* Compute's list filter: `field eq|ne "RE2"` (also parenthesised and
 * ANDed), `field = value`, `field != value`; labels.KEY reads a label. */
function compileFilter(f) {
  if (f === undefined || f === '') return null;
  const parts = f.trim().startsWith('(') ? f.match(/\(([^()]*)\)/g).map((s) => s.slice(1, -1)) : [f];
  const tests = parts.map((e) => {
    const m = /^\s*([a-zA-Z][\w.-]*)\s+(eq|ne|=|!=)\s+(?:"([^"]*)"|'([^']*)'|(\S+))\s*$/.exec(e);
    if (!m) throw invalid(`Invalid value for field 'filter': '${f}'. Invalid list filter expression.`);
    const [, field, op, dq, sq, bare] = m;
    const lit = dq !== undefined ? dq : sq !== undefined ? sq : bare;
    const re = op === 'eq' || op === 'ne' ? new RegExp(`^(?:${lit})$`) : null;
    return (item) => {
      let v = item;
      for (const k of field.split('.')) v = v == null ? undefined : v[k];
      const s = v === undefined ? '' : String(v);
      if (op === 'eq') return v !== undefined && re.test(s);
      if (op === 'ne') return !(v !== undefined && re.test(s));
      if (op === '=') return v !== undefined && s === lit;
      return !(v !== undefined && s === lit);
    };
  });
  return (item) => tests.every((t) => t(item));
}

/* ---- resources ---- */
const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/, LABEL_VAL = /^[a-z0-9_-]{0,63}$/;
function checkLabels(l) {
  for (const [k, v] of Object.entries(l || {}))
    if (!LABEL_KEY.test(k) || !LABEL_VAL.test(v))
      throw invalid(`Invalid value for field 'labels': '${k}'. Label keys and values must be lower-case letters, digits, '_' or '-' (keys starting with a letter), at most 63 characters.`);
  if (Object.keys(l || {}).length > 64) throw invalid('Too many labels (at most 64).');
}
function cidrParse(c) {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(c || '');
  if (!m || m.slice(1, 5).some((x) => Number(x) > 255) || Number(m[5]) > 32) return null;
  const ip = ((Number(m[1]) << 24) >>> 0) + (Number(m[2]) << 16) + (Number(m[3]) << 8) + Number(m[4]);
  const bits = Number(m[5]);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  if ((ip & mask) >>> 0 !== ip) return null;
  return { ip, bits, size: 2 ** (32 - bits) };
}
const ipStr = (n) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

function imageOf(prj, name) {
  const i = IMAGES.find((x) => x[0] === prj && x[1] === name);
  return i && imageView(i);
}
function imageView(i) {
  return { kind: 'compute#image', id: String(1e15 + IMAGES.indexOf(i)), name: i[1], family: i[2],
           architecture: i[3], description: i[4], status: 'READY', diskSizeGb: '10',
           sourceType: 'RAW', creationTimestamp: '2026-11-10T12:00:00.000-08:00',
           selfLink: link(i[0], `global/images/${i[1]}`) };
}
function machineType(zone, name) {
  const t = MACHINE_TYPES.find((x) => x[0] === name);
  if (!t || !ZONES[zone]) return null;
  return { kind: 'compute#machineType', id: String(9e14 + MACHINE_TYPES.indexOf(t)), name: t[0],
           description: `${t[1]} vCPUs, ${t[2] / 1024} GB RAM`, guestCpus: t[1], memoryMb: t[2],
           isSharedCpu: !!t[3], maximumPersistentDisks: 128, maximumPersistentDisksSizeGb: '263168',
           imageSpaceGb: 0, zone, selfLink: `${BASE}/compute/v1/projects/p/zones/${zone}/machineTypes/${t[0]}` };
}

/* instance status moves with time: PROVISIONING -> STAGING -> RUNNING,
 * STOPPING -> TERMINATED; a deleted one goes after its delete finished */
function instView(w, key) {
  const r = w.instances.get(key);
  if (!r) return null;
  const t = now();
  if (r.visibleAt && t < r.visibleAt) return null; /* --instance-lag: not shown yet */
  if (r.deleteAt && t >= r.deleteAt) { w.instances.delete(key); return null; }
  if (r.next && t >= r.next.at) { r.inst.status = r.next.status; r.next = r.next.then || null; }
  if (r.inst.status === 'RUNNING' && !r.inst.lastStartTimestamp) r.inst.lastStartTimestamp = rfc3339(t);
  return r.inst;
}
function schedule(r, steps) {
  let t = now(), head = null, cur = null;
  for (const [ms, status] of steps) {
    t += ms;
    const s = { at: t, status };
    if (cur) cur.then = s; else head = s;
    cur = s;
  }
  r.next = head;
}

function subnetInUse(w, sLink) {
  for (const [k] of w.instances) {
    const i = instView(w, k);
    if (i && i.networkInterfaces.some((n) => n.subnetwork === sLink)) return i;
  }
  return null;
}

const H = {};
/* --- projects --- */
H['Projects.Get'] = (c) => {
  const w = world(c.p.project);
  return { kind: 'compute#project', id: w.id, name: c.p.project, creationTimestamp: w.created,
           selfLink: link(c.p.project, '').replace(/\/$/, ''), commonInstanceMetadata: w.meta,
           defaultNetworkTier: 'PREMIUM', xpnProjectStatus: 'UNSPECIFIED_XPN_PROJECT_STATUS' };
};
H['Projects.SetCommonInstanceMetadata'] = (c) => {
  const w = world(c.p.project);
  const b = c.body;
  if (b.fingerprint !== w.meta.fingerprint)
    throw new Fail(412, 'conditionNotMet', 'Supplied fingerprint does not match current metadata fingerprint.');
  for (const it of b.items || [])
    if (!/^[a-zA-Z0-9-_]{1,128}$/.test(it.key || '') || typeof it.value !== 'string')
      throw invalid(`Invalid value for field 'resource.items[].key': '${it.key}'.`);
  if (JSON.stringify(b.items || []).length > 512 * 1024) throw invalid('Metadata is over 512 KB.');
  w.meta = { kind: 'compute#metadata', fingerprint: fp(), items: (b.items || []).map((i) => ({ key: i.key, value: i.value })) };
  return makeOp(w, c.p.project, {}, 'setMetadata', link(c.p.project, '').replace(/\/$/, '')).op;
};
/* --- operations --- */
for (const [svc, scope] of [['ZoneOperations', 'zone'], ['RegionOperations', 'region'], ['GlobalOperations', null]]) {
  const find = (c) => {
    const w = world(c.p.project);
    const rel = scope ? `${scope}s/${c.p[scope]}/operations/${c.p.operation}` : `global/operations/${c.p.operation}`;
    const rec = w.ops.get(rel);
    if (!rec) throw notFound(`projects/${c.p.project}/${rel}`);
    return rec;
  };
  H[`${svc}.Get`] = (c) => { const rec = find(c); rec.gets++; return opView(rec); };
  /* Wait: answers when the operation is DONE (or after WAIT_MAX_MS, as
   * Compute Engine's wait gives up after about two minutes) */
  H[`${svc}.Wait`] = async (c) => {
    const rec = find(c);
    const left = Math.min(Math.max(0, rec.at + args.opMs - now()), WAIT_MAX_MS);
    if (left > 0) await new Promise((r) => setTimeout(r, left));
    return opView(rec);
  };
}
/* --- networks --- */
function netKey(p, url) {
  const rel = relOf(p, url);
  const m = rel && /^projects\/([^/]+)\/global\/networks\/([^/]+)$/.exec(rel);
  return m && m[1] === p ? m[2] : null;
}
H['Networks.Insert'] = (c) => {
  const w = world(c.p.project), b = c.body;
  return withRequestId(w, c.q, null, () => {
    checkName(b.name, 'network');
    if (w.networks.has(b.name)) throw new Fail(409, 'alreadyExists', `The resource 'projects/${c.p.project}/global/networks/${b.name}' already exists`);
    if (b.IPv4Range) throw invalid('Legacy networks are not supported.');
    if (b.autoCreateSubnetworks !== false && b.autoCreateSubnetworks !== undefined && b.autoCreateSubnetworks !== true)
      throw invalid('autoCreateSubnetworks');
    const self = link(c.p.project, `global/networks/${b.name}`);
    const id = newId();
    w.networks.set(b.name, { kind: 'compute#network', id, name: b.name, description: b.description,
      selfLink: self, selfLinkWithId: link(c.p.project, `global/networks/${id}`),
      autoCreateSubnetworks: !!b.autoCreateSubnetworks, creationTimestamp: rfc3339(now()),
      routingConfig: b.routingConfig || { routingMode: 'REGIONAL' }, subnetworks: [],
      networkFirewallPolicyEnforcementOrder: 'AFTER_CLASSIC_FIREWALL', mtu: 1460 });
    return makeOp(w, c.p.project, {}, 'insert', self, { targetId: id });
  });
};
H['Networks.Get'] = (c) => {
  const n = world(c.p.project).networks.get(c.p.network);
  if (!n) throw notFound(`projects/${c.p.project}/global/networks/${c.p.network}`);
  return n;
};
H['Networks.List'] = (c) => page([...world(c.p.project).networks.values()], c.q, 'compute#networkList',
  link(c.p.project, 'global/networks'), compileFilter(c.q.filter));
H['Networks.Delete'] = (c) => {
  const w = world(c.p.project);
  const n = w.networks.get(c.p.network);
  if (!n) throw notFound(`projects/${c.p.project}/global/networks/${c.p.network}`);
  const fw = [...w.firewalls.values()].find((f) => f.network === n.selfLink);
  const user = n.subnetworks.length ? n.subnetworks[0] : fw ? fw.selfLink : null;
  if (user)
    throw new Fail(400, 'resourceInUseByAnotherResource', `The network resource 'projects/${c.p.project}/global/networks/${n.name}' is already being used by '${relOf(c.p.project, user)}'`);
  return withRequestId(w, c.q, null, () => { w.networks.delete(n.name); return makeOp(w, c.p.project, {}, 'delete', n.selfLink, { targetId: n.id }); });
};
/* --- subnetworks --- */
H['Subnetworks.Insert'] = (c) => {
  const w = world(c.p.project), b = c.body, region = c.p.region;
  if (!REGIONS[region]) throw notFound(`projects/${c.p.project}/regions/${region}`);
  return withRequestId(w, c.q, null, () => {
    checkName(b.name, 'subnetwork');
    const key = `${region}/${b.name}`;
    if (w.subnets.has(key)) throw new Fail(409, 'alreadyExists', `The resource 'projects/${c.p.project}/regions/${region}/subnetworks/${b.name}' already exists`);
    const nk = netKey(c.p.project, b.network);
    const net = nk && w.networks.get(nk);
    if (!net) throw notFound(`${b.network}`);
    const cidr = cidrParse(b.ipCidrRange);
    if (!cidr || cidr.bits > 29) throw invalid(`Invalid IPCidrRange: ${b.ipCidrRange}.`);
    for (const s of w.subnets.values()) {
      if (s.network !== net.selfLink) continue;
      const o = cidrParse(s.ipCidrRange);
      if (cidr.ip < o.ip + o.size && o.ip < cidr.ip + cidr.size)
        throw invalid(`Invalid IPCidrRange: ${b.ipCidrRange} conflicts with existing subnetwork '${s.name}' in region '${region}'.`);
    }
    const self = link(c.p.project, `regions/${region}/subnetworks/${b.name}`);
    const id = newId();
    w.subnets.set(key, { kind: 'compute#subnetwork', id, name: b.name, description: b.description,
      network: net.selfLink, ipCidrRange: b.ipCidrRange, gatewayAddress: ipStr(cidr.ip + 1),
      region: link(c.p.project, `regions/${region}`), selfLink: self, stackType: 'IPV4_ONLY',
      purpose: 'PRIVATE', privateIpGoogleAccess: false, fingerprint: fp(),
      creationTimestamp: rfc3339(now()), _next: 2, _cidr: cidr });
    net.subnetworks.push(self);
    return makeOp(w, c.p.project, { region }, 'insert', self, { targetId: id });
  });
};
function subView(s) { const { _next, _cidr, ...v } = s; return v; }
H['Subnetworks.Get'] = (c) => {
  const s = world(c.p.project).subnets.get(`${c.p.region}/${c.p.subnetwork}`);
  if (!s) throw notFound(`projects/${c.p.project}/regions/${c.p.region}/subnetworks/${c.p.subnetwork}`);
  return subView(s);
};
H['Subnetworks.List'] = (c) => page([...world(c.p.project).subnets.entries()]
  .filter(([k]) => k.startsWith(`${c.p.region}/`)).map(([, s]) => subView(s)), c.q,
  'compute#subnetworkList', link(c.p.project, `regions/${c.p.region}/subnetworks`), compileFilter(c.q.filter));
H['Subnetworks.Delete'] = (c) => {
  const w = world(c.p.project), key = `${c.p.region}/${c.p.subnetwork}`;
  const s = w.subnets.get(key);
  if (!s) throw notFound(`projects/${c.p.project}/regions/${c.p.region}/subnetworks/${c.p.subnetwork}`);
  const u = subnetInUse(w, s.selfLink);
  if (u) throw new Fail(400, 'resourceInUseByAnotherResource', `The subnetwork resource '${relOf(c.p.project, s.selfLink)}' is already being used by '${relOf(c.p.project, u.selfLink)}'`);
  return withRequestId(w, c.q, null, () => {
    w.subnets.delete(key);
    for (const n of w.networks.values()) n.subnetworks = n.subnetworks.filter((l) => l !== s.selfLink);
    return makeOp(w, c.p.project, { region: c.p.region }, 'delete', s.selfLink, { targetId: s.id });
  });
};
/* --- firewalls --- */
const PROTOS = new Set(['tcp', 'udp', 'icmp', 'esp', 'ah', 'sctp', 'ipip', 'all']);
function firewallFrom(c, b, old) {
  checkName(b.name, 'firewall');
  const nk = netKey(c.p.project, b.network || 'global/networks/default');
  const w = world(c.p.project);
  const net = nk && w.networks.get(nk);
  if (!net) throw notFound(`${b.network}`);
  const dir = b.direction || 'INGRESS';
  const rules = b.allowed || b.denied;
  if (!!b.allowed === !!b.denied || !rules.length) throw invalid('Exactly one of allowed or denied must be given.');
  for (const r of rules) {
    if (!PROTOS.has(r.IPProtocol) && !/^\d+$/.test(r.IPProtocol || '')) throw invalid(`Invalid value for field 'resource.allowed[0].IPProtocol': '${r.IPProtocol}'.`);
    for (const p of r.ports || []) {
      if (!['tcp', 'udp', 'sctp', 'all'].includes(r.IPProtocol)) throw invalid('Ports are allowed only for tcp, udp, sctp and all.');
      const m = /^(\d+)(?:-(\d+))?$/.exec(p);
      if (!m || Number(m[1]) < 0 || Number(m[2] || m[1]) > 65535 || Number(m[2] || m[1]) < Number(m[1])) throw invalid(`Invalid value for field 'resource.allowed[0].ports[0]': '${p}'.`);
    }
  }
  const ranges = dir === 'INGRESS' ? b.sourceRanges : b.destinationRanges;
  if (dir === 'INGRESS' && b.destinationRanges && !b.sourceRanges) throw invalid('An INGRESS rule needs sourceRanges or sourceTags.');
  if (dir === 'EGRESS' && (b.sourceRanges || b.sourceTags)) throw invalid('An EGRESS rule cannot have source ranges or tags.');
  for (const r of ranges || []) if (!cidrParse(r) && !/^\d+\.\d+\.\d+\.\d+$/.test(r)) throw invalid(`Invalid value for field 'resource.sourceRanges[0]': '${r}'. Must be a CIDR address range.`);
  if (b.priority !== undefined && (b.priority < 0 || b.priority > 65535)) throw invalid('priority');
  const self = link(c.p.project, `global/firewalls/${b.name}`);
  return { kind: 'compute#firewall', id: old ? old.id : newId(), name: b.name,
    description: b.description || '', network: net.selfLink, priority: b.priority === undefined ? 1000 : b.priority,
    direction: dir, ...(b.allowed ? { allowed: b.allowed } : { denied: b.denied }),
    ...(dir === 'INGRESS' ? { sourceRanges: b.sourceRanges || [] } : { destinationRanges: b.destinationRanges || ['0.0.0.0/0'] }),
    ...(b.targetTags ? { targetTags: b.targetTags } : {}), disabled: !!b.disabled,
    logConfig: { enable: false }, selfLink: self, creationTimestamp: old ? old.creationTimestamp : rfc3339(now()) };
}
H['Firewalls.Insert'] = (c) => {
  const w = world(c.p.project);
  return withRequestId(w, c.q, null, () => {
    if (w.firewalls.has(c.body.name)) throw new Fail(409, 'alreadyExists', `The resource 'projects/${c.p.project}/global/firewalls/${c.body.name}' already exists`);
    const f = firewallFrom(c, c.body);
    w.firewalls.set(f.name, f);
    return makeOp(w, c.p.project, {}, 'insert', f.selfLink, { targetId: f.id });
  });
};
H['Firewalls.Get'] = (c) => {
  const f = world(c.p.project).firewalls.get(c.p.firewall);
  if (!f) throw notFound(`projects/${c.p.project}/global/firewalls/${c.p.firewall}`);
  return f;
};
H['Firewalls.List'] = (c) => page([...world(c.p.project).firewalls.values()], c.q, 'compute#firewallList',
  link(c.p.project, 'global/firewalls'), compileFilter(c.q.filter));
H['Firewalls.Update'] = (c) => {
  const w = world(c.p.project), old = w.firewalls.get(c.p.firewall);
  if (!old) throw notFound(`projects/${c.p.project}/global/firewalls/${c.p.firewall}`);
  if (c.body.name !== undefined && c.body.name !== old.name) throw invalid('The name of a firewall cannot change.');
  return withRequestId(w, c.q, null, () => {
    const f = firewallFrom(c, { ...c.body, name: old.name }, old);
    w.firewalls.set(f.name, f);
    return makeOp(w, c.p.project, {}, 'update', f.selfLink, { targetId: f.id });
  });
};
H['Firewalls.Delete'] = (c) => {
  const w = world(c.p.project), f = w.firewalls.get(c.p.firewall);
  if (!f) throw notFound(`projects/${c.p.project}/global/firewalls/${c.p.firewall}`);
  return withRequestId(w, c.q, null, () => { w.firewalls.delete(f.name); return makeOp(w, c.p.project, {}, 'delete', f.selfLink, { targetId: f.id }); });
};
/* --- images, machine types, regions, zones --- */
H['Images.Get'] = (c) => {
  const i = imageOf(c.p.project, c.p.image);
  if (!i) throw notFound(`projects/${c.p.project}/global/images/${c.p.image}`);
  return i;
};
H['Images.GetFromFamily'] = (c) => {
  const i = IMAGES.find((x) => x[0] === c.p.project && x[2] === c.p.family);
  if (!i) throw notFound(`projects/${c.p.project}/global/images/family/${c.p.family}`);
  return imageView(i);
};
H['MachineTypes.Get'] = (c) => {
  const t = machineType(c.p.zone, c.p.machineType);
  if (!t) throw notFound(`projects/${c.p.project}/zones/${c.p.zone}/machineTypes/${c.p.machineType}`);
  t.selfLink = link(c.p.project, `zones/${c.p.zone}/machineTypes/${t.name}`);
  return t;
};
H['MachineTypes.List'] = (c) => {
  if (!ZONES[c.p.zone]) throw notFound(`projects/${c.p.project}/zones/${c.p.zone}`);
  return page(MACHINE_TYPES.map((t) => { const v = machineType(c.p.zone, t[0]); v.selfLink = link(c.p.project, `zones/${c.p.zone}/machineTypes/${t[0]}`); return v; }),
    c.q, 'compute#machineTypeList', link(c.p.project, `zones/${c.p.zone}/machineTypes`), compileFilter(c.q.filter));
};
const regionView = (p, r, i) => ({ kind: 'compute#region', id: String(1000 + i), name: r,
  description: r, status: 'UP', selfLink: link(p, `regions/${r}`),
  zones: REGIONS[r].map((z) => link(p, `zones/${r}-${z}`)) });
H['Regions.List'] = (c) => page(Object.keys(REGIONS).map((r, i) => regionView(c.p.project, r, i)),
  c.q, 'compute#regionList', link(c.p.project, 'regions'), compileFilter(c.q.filter));
H['Regions.Get'] = (c) => {
  if (!REGIONS[c.p.region]) throw notFound(`projects/${c.p.project}/regions/${c.p.region}`);
  return regionView(c.p.project, c.p.region, Object.keys(REGIONS).indexOf(c.p.region));
};
/* --- instances --- */
function instanceKey(c) { return `${c.p.zone}/${c.p.instance}`; }
function getInst(c) {
  const w = world(c.p.project);
  if (!ZONES[c.p.zone]) throw notFound(`projects/${c.p.project}/zones/${c.p.zone}`);
  const i = instView(w, instanceKey(c));
  if (!i) throw notFound(`projects/${c.p.project}/zones/${c.p.zone}/instances/${c.p.instance}`);
  return [w, w.instances.get(instanceKey(c)), i];
}
function makeInstance(p, zone, b, w) {
  checkName(b.name, 'instance');
  const region = ZONES[zone];
  const mtm = /^(?:.*\/)?zones\/([^/]+)\/machineTypes\/([^/]+)$/.exec(b.machineType || '');
  if (!mtm || mtm[1] !== zone || !machineType(zone, mtm[2])) throw invalid(`Invalid value for field 'resource.machineType': '${b.machineType}'. Machine type with name '${mtm ? mtm[2] : b.machineType}' does not exist in zone '${zone}'.`);
  const disks = b.disks || [];
  if (disks.length !== 1 || !disks[0].boot || !disks[0].initializeParams) throw invalid("Invalid value for field 'resource.disks': one boot disk with initializeParams is needed.");
  const src = relOf(p, disks[0].initializeParams.sourceImage);
  const im = src && /^projects\/([^/]+)\/global\/images\/(?:family\/)?([^/]+)$/.exec(src);
  const image = im && (src.includes('/family/') ? IMAGES.find((x) => x[0] === im[1] && x[2] === im[2]) : IMAGES.find((x) => x[0] === im[1] && x[1] === im[2]));
  if (!image) throw notFound(`${disks[0].initializeParams.sourceImage}`);
  checkLabels(b.labels);
  const nics = b.networkInterfaces || [];
  if (nics.length !== 1) throw invalid("Invalid value for field 'resource.networkInterfaces': one interface is needed.");
  const nic = nics[0];
  const srel = relOf(p, nic.subnetwork || '');
  const sm = srel && /^projects\/([^/]+)\/regions\/([^/]+)\/subnetworks\/([^/]+)$/.exec(srel);
  const sub = sm && sm[1] === p && w.subnets.get(`${sm[2]}/${sm[3]}`);
  if (!sub) throw notFound(`${nic.subnetwork}`);
  if (sm[2] !== region) throw invalid(`Invalid value for field 'resource.networkInterfaces[0].subnetwork': the subnetwork is in region ${sm[2]}, the instance in zone ${zone}.`);
  if (nic.network && netKey(p, nic.network) !== sub.network.split('/').pop()) throw invalid("Invalid value for field 'resource.networkInterfaces[0].network': the subnetwork belongs to another network.");
  for (const t of (b.tags && b.tags.items) || []) if (!NAME_RE.test(t)) throw invalid(`Invalid value for field 'resource.tags.items[0]': '${t}'.`);
  for (const it of (b.metadata && b.metadata.items) || []) if (!/^[a-zA-Z0-9-_]{1,128}$/.test(it.key || '')) throw invalid(`Invalid value for field 'resource.metadata.items[0].key': '${it.key}'.`);
  const ip = ipStr(sub._cidr.ip + sub._next++);
  const acs = (nic.accessConfigs || []).map((a) => {
    if (a.type && a.type !== 'ONE_TO_ONE_NAT') throw invalid(`Invalid value for field 'resource.networkInterfaces[0].accessConfigs[0].type': '${a.type}'.`);
    return { kind: 'compute#accessConfig', type: 'ONE_TO_ONE_NAT', name: a.name || 'External NAT', networkTier: 'PREMIUM',
             natIP: `34.${crypto.randomInt(1, 255)}.${crypto.randomInt(0, 255)}.${crypto.randomInt(1, 255)}` };
  });
  const id = newId();
  const self = link(p, `zones/${zone}/instances/${b.name}`);
  return { kind: 'compute#instance', id, name: b.name, description: b.description || '',
    creationTimestamp: rfc3339(now()), zone: link(p, `zones/${zone}`), status: 'PROVISIONING',
    machineType: link(p, `zones/${zone}/machineTypes/${mtm[2]}`), canIpForward: false,
    cpuPlatform: 'Intel Broadwell', deletionProtection: false, startRestricted: false,
    labels: b.labels || {}, labelFingerprint: fp(), fingerprint: fp(),
    tags: { items: (b.tags && b.tags.items) || [], fingerprint: fp() },
    metadata: { kind: 'compute#metadata', fingerprint: fp(), items: (b.metadata && b.metadata.items) || [] },
    networkInterfaces: [{ kind: 'compute#networkInterface', name: 'nic0', network: sub.network,
      subnetwork: sub.selfLink, networkIP: ip, stackType: 'IPV4_ONLY', fingerprint: fp(), accessConfigs: acs }],
    disks: [{ kind: 'compute#attachedDisk', type: 'PERSISTENT', mode: 'READ_WRITE', boot: true,
      autoDelete: disks[0].autoDelete !== false, deviceName: 'persistent-disk-0', index: 0, interface: 'SCSI',
      diskSizeGb: String(disks[0].initializeParams.diskSizeGb || 10), architecture: image[3],
      source: link(p, `zones/${zone}/disks/${b.name}`) }],
    scheduling: { onHostMaintenance: 'MIGRATE', automaticRestart: true, preemptible: false, provisioningModel: 'STANDARD' },
    selfLink: self, satisfiesPzi: true };
}
H['Instances.Insert'] = (c) => {
  const w = world(c.p.project), zone = c.p.zone;
  if (!ZONES[zone]) throw notFound(`projects/${c.p.project}/zones/${zone}`);
  return withRequestId(w, c.q, null, () => {
    const key = `${zone}/${c.body.name}`;
    if (instView(w, key) || (w.instances.get(key) || {}).visibleAt > now()) throw new Fail(409, 'alreadyExists', `The resource 'projects/${c.p.project}/zones/${zone}/instances/${c.body.name}' already exists`);
    const inst = makeInstance(c.p.project, zone, c.body, w);
    const r = { inst, visibleAt: args.instanceLag ? now() + args.instanceLag : 0 };
    schedule(r, [[args.opMs / 2, 'STAGING'], [args.opMs * 1.5, 'RUNNING']]);
    w.instances.set(key, r);
    return makeOp(w, c.p.project, { zone }, 'insert', inst.selfLink, { targetId: inst.id });
  });
};
H['Instances.Get'] = (c) => getInst(c)[2];
H['Instances.List'] = (c) => {
  const w = world(c.p.project);
  const items = [...w.instances.keys()].filter((k) => k.startsWith(`${c.p.zone}/`)).map((k) => instView(w, k)).filter(Boolean);
  return page(items, c.q, 'compute#instanceList', link(c.p.project, `zones/${c.p.zone}/instances`), compileFilter(c.q.filter));
};
H['Instances.AggregatedList'] = (c) => {
  const w = world(c.p.project);
  const all = [...w.instances.keys()].sort().map((k) => instView(w, k)).filter(Boolean);
  const p = page(all, c.q, 'compute#instanceAggregatedList', link(c.p.project, 'aggregated/instances'), compileFilter(c.q.filter));
  const items = {};
  for (const i of p.items) {
    const z = `zones/${i.zone.split('/').pop()}`;
    (items[z] = items[z] || { instances: [] }).instances.push(i);
  }
  p.items = items;
  return p;
};
H['Instances.Delete'] = (c) => {
  const [w, r, i] = getInst(c);
  return withRequestId(w, c.q, null, () => {
    if (!r.deleteAt) { i.status = 'STOPPING'; r.next = null; r.deleteAt = now() + args.opMs; }
    return makeOp(w, c.p.project, { zone: c.p.zone }, 'delete', i.selfLink, { targetId: i.id });
  });
};
function lifecycle(kind, from, steps, err) {
  return (c) => {
    const [w, r, i] = getInst(c);
    if (r.deleteAt) throw new Fail(400, 'resourceNotReady', `The resource '${relOf(c.p.project, i.selfLink)}' is not ready`);
    if (from && !from.includes(i.status)) throw new Fail(400, 'resourceNotReady', `${err}: the instance is ${i.status}`);
    return withRequestId(w, c.q, null, () => {
      if (steps) { i.status = steps[0][1]; schedule(r, steps.slice(1)); }
      return makeOp(w, c.p.project, { zone: c.p.zone }, kind, i.selfLink, { targetId: i.id });
    });
  };
}
H['Instances.Stop'] = lifecycle('stop', ['RUNNING', 'STAGING', 'PROVISIONING', 'TERMINATED', 'STOPPING'], null, 'stop');
const stop = H['Instances.Stop'];
H['Instances.Stop'] = (c) => {
  const [, r, i] = getInst(c);
  const op = stop(c);
  if (i.status !== 'TERMINATED' && i.status !== 'STOPPING') { i.status = 'STOPPING'; schedule(r, [[args.opMs * 1.3, 'TERMINATED']]); }
  return op;
};
H['Instances.Start'] = (c) => {
  const [, r, i] = getInst(c);
  const op = lifecycle('start', ['TERMINATED', 'RUNNING', 'STAGING'], null, 'start')(c);
  if (i.status === 'TERMINATED') { i.status = 'STAGING'; schedule(r, [[args.opMs * 1.3, 'RUNNING']]); }
  return op;
};
H['Instances.Reset'] = lifecycle('reset', ['RUNNING'], null, 'The instance must be running to be reset');
H['Instances.SetLabels'] = (c) => {
  const [w, , i] = getInst(c);
  if (c.body.labelFingerprint !== i.labelFingerprint)
    throw new Fail(412, 'conditionNotMet', 'Labels fingerprint either invalid or resource labels have changed');
  checkLabels(c.body.labels);
  return withRequestId(w, c.q, null, () => {
    i.labels = c.body.labels || {};
    i.labelFingerprint = fp();
    return makeOp(w, c.p.project, { zone: c.p.zone }, 'setLabels', i.selfLink, { targetId: i.id });
  });
};

/* ---- the token endpoint ---- */
const tokens = new Map();
function tokenEndpoint(req) {
  const op = 'oauth2.token';
  const bad = (why, desc) => { violation(op, 'POST /token', why); return { status: 400, operation: op, body: { error: 'invalid_grant', error_description: desc || why } }; };
  if ((req.headers['content-type'] || '').split(';')[0] !== 'application/x-www-form-urlencoded')
    return bad('the token request is not application/x-www-form-urlencoded');
  const f = new URLSearchParams(req.body.toString());
  for (const k of f.keys()) if (k !== 'grant_type' && k !== 'assertion') return bad(`unknown parameter ${k}`);
  if (f.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return bad(`grant_type ${f.get('grant_type')}`, 'unsupported_grant_type');
  const parts = (f.get('assertion') || '').split('.');
  if (parts.length !== 3) return bad('the assertion is not a compact JWS');
  let hdr, claims;
  try { hdr = JSON.parse(Buffer.from(parts[0], 'base64url')); claims = JSON.parse(Buffer.from(parts[1], 'base64url')); } catch (e) { return bad('the assertion header or claims are not JSON'); }
  if (hdr.alg !== 'RS256' || (hdr.typ && hdr.typ !== 'JWT')) return bad(`alg ${hdr.alg} typ ${hdr.typ}: want RS256, JWT`);
  if (hdr.kid !== undefined && hdr.kid !== sa.private_key_id) return bad('kid is not the key\'s private_key_id');
  if (!crypto.verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), saKey, Buffer.from(parts[2], 'base64url')))
    return bad('the assertion\'s RS256 signature does not verify with the service account\'s public key', 'Invalid JWT Signature.');
  const t = Math.floor(now() / 1000);
  if (claims.iss !== sa.client_email) return bad(`iss ${claims.iss} is not the service account`);
  if (claims.aud !== sa.token_uri) return bad(`aud ${claims.aud} is not the token_uri ${sa.token_uri}`);
  if (!String(claims.scope || '').split(' ').includes(SCOPE)) return bad(`scope ${claims.scope} lacks ${SCOPE}`);
  if (!Number.isInteger(claims.iat) || !Number.isInteger(claims.exp) || claims.iat > t + 60 || claims.exp <= t || claims.exp - claims.iat > 3600)
    return bad('iat/exp: the assertion must be valid now and for at most an hour', 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.');
  const tok = 'ya29.' + crypto.randomBytes(48).toString('base64url');
  tokens.set(tok, now() + args.tokenTtl * 1000);
  return { operation: op, headers: { 'Cache-Control': 'no-store' }, body: { access_token: tok, expires_in: args.tokenTtl - 1, token_type: 'Bearer' } };
}

/* ---- dispatch ---- */
async function handle(req) {
  const host = req.headers.host || '127.0.0.1';
  BASE = `http://${host}`;
  if (req.method === 'POST' && req.path === '/token') return tokenEndpoint(req);
  const m = M.route(model, req.method, req.path);
  if (!m) {
    violation('?', `${req.method} ${req.path}`, 'no Compute Engine v1 method has this verb and path');
    return apiError(404, 'notFound', `The requested URL ${req.path} was not found on this server.`);
  }
  const op = `${m.r.service}.${m.r.method}`;
  let misfits = 0;
  const bad = (where, why) => { misfits++; violation(op, where, why); };
  const auth = req.headers.authorization || '';
  const tok = auth.startsWith('Bearer ') ? auth.slice(7) : '';
  if (!tokens.has(tok) || tokens.get(tok) < now()) {
    bad('Authorization', tok ? 'the bearer token is not one the token endpoint issued (or it expired)' : 'no bearer token');
    const r = apiError(401, 'authError', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.', op);
    r.body.error.errors[0].domain = 'global';
    r.body.error.errors[0].location = 'Authorization';
    r.body.error.errors[0].locationType = 'header';
    r.headers = { 'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/"' };
    return r;
  }
  if (args.deny && args.deny.split(',').includes(op)) { /* --deny Svc.Method,...: lacking rights */
    const perm = `compute.${m.r.service[0].toLowerCase()}${m.r.service.slice(1)}.${m.r.method[0].toLowerCase()}${m.r.method.slice(1)}`;
    return apiError(403, 'forbidden', `Required '${perm}' permission for 'projects/${m.params.project}'`, op);
  }
  if (throttled < args.throttleFirst) { /* --throttle-first N: the first N calls are throttled */
    throttled++;
    const r = apiError(429, 'rateLimitExceeded', "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute' of service 'compute.googleapis.com'.", op);
    r.headers = { 'Retry-After': '1' };
    return r;
  }
  const q = {};
  for (const [k, v] of req.query) (q[k] = q[k] || []).push(v);
  const body = M.validateRequest(model, m, q, req.body, bad);
  if (misfits) return apiError(400, 'invalid', `Invalid request for ${op} (see the double's violations)`, op);
  const h = H[op];
  if (!h) return apiError(400, 'badRequest', `${op} is in the model but this double does not play it`, op);
  const flat = {};
  for (const [k, v] of Object.entries(q)) flat[k] = v[0];
  let out;
  try {
    out = await h({ p: m.params, q: flat, body: body || {} });
  } catch (e) {
    if (e instanceof Fail) return apiError(e.code, e.reason, e.message, op);
    throw e;
  }
  M.validateMessage(model, m.r.response, out, `answer of ${op}`, (w, why) => violation(op, w, `the double's own answer: ${why}`));
  return { operation: op, body: out };
}

/* --seed-vms N --region R: N running VMs tagged for Barista */
function seed() {
  if (!(args.seedVms > 0)) return;
  const p = sa.project_id, region = args.region || 'us-central1', zone = `${region}-${REGIONS[region] ? REGIONS[region][0] : 'a'}`;
  const w = world(p);
  const net = `bench-net`;
  const nself = link(p, `global/networks/${net}`);
  w.networks.set(net, { kind: 'compute#network', id: newId(), name: net, selfLink: nself, autoCreateSubnetworks: false, subnetworks: [], creationTimestamp: rfc3339(now()) });
  const sself = link(p, `regions/${region}/subnetworks/bench-sub`);
  w.subnets.set(`${region}/bench-sub`, { kind: 'compute#subnetwork', id: newId(), name: 'bench-sub', network: nself, ipCidrRange: '10.128.0.0/16', region: link(p, `regions/${region}`), selfLink: sself, _next: 2, _cidr: cidrParse('10.128.0.0/16') });
  w.networks.get(net).subnetworks.push(sself);
  for (let n = 0; n < args.seedVms; n++) {
    const name = `seed-vm-${n}`;
    const tags = { 'barista:address': `bench/vm/${name}`, 'barista:namespace': 'bench', 'barista:lineage': '00000000-0000-4000-8000-000000000001', 'barista:idempotency': crypto.randomUUID() };
    const inst = makeInstance(p, zone, { name, machineType: `zones/${zone}/machineTypes/e2-small`,
      disks: [{ boot: true, autoDelete: true, initializeParams: { sourceImage: 'projects/debian-cloud/global/images/family/debian-12', diskSizeGb: '10' } }],
      networkInterfaces: [{ subnetwork: sself, accessConfigs: [{ type: 'ONE_TO_ONE_NAT' }] }],
      labels: { 'barista-address': `bench_vm_${name}`, 'barista-namespace': 'bench' },
      metadata: { items: [{ key: 'barista-tags', value: JSON.stringify(tags) }, { key: 'barista-name', value: name }, { key: 'barista-image', value: 'projects/debian-cloud/global/images/debian-12-bookworm-v20261105' }] } }, w);
    inst.status = 'RUNNING';
    w.instances.set(`${zone}/${name}`, { inst });
  }
}
seed();
common.serve(args, stats, violation, handle);
