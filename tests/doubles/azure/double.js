#!/usr/bin/env node
'use strict';
/*
 * double.js - a test double of Azure Resource Manager for the azure driver
 * (providers/azure): the Microsoft identity platform's client-credentials
 * token endpoint and the ARM operations the driver uses (resource groups,
 * virtual networks, network security groups, public IPs, NICs, VMs, SSH
 * public keys, VM images and sizes, subscriptions, locations, permissions).
 *
 * Every ARM request is routed and checked against the OperationSpecs and
 * Mappers of the published SDK packages (model.js): an unknown path or
 * method, an api-version other than the spec's, an unknown or mistyped
 * query parameter, a body that does not fit the request mapper, or a
 * bearer token this double did not issue is a violation, answered with
 * ARM's own error JSON.  Answers are checked against the response mappers
 * too.  The common contract (tests/doubles/README.md) is in common.js.
 *
 * Extra options: --credentials FILE (the client id/secret/tenant the token
 * endpoint accepts), --op-ms N (how long a long-running operation runs,
 * default 300), --retry-after S (Retry-After sent with 201/202 answers,
 * default none), --resource-group RG (where --seed-vms go, default
 * barista-bench), --subscription S, --throttle-every N (every Nth ARM
 * GET, PUT, PATCH or POST is answered 429 TooManyRequests with
 * Retry-After: 1, as ARM's token buckets do when they run dry),
 * --deny-actions A,B (the permissions answer leaves these actions out).
 */
const crypto = require('crypto');
const fs = require('fs');
const common = require('../common.js');

const args = common.parseArgs(process.argv.slice(2), {
  credentials: '', opMs: 300, retryAfter: 0, resourceGroup: 'barista-bench', throttleEvery: 0,
  subscription: '6f1d1a3e-4c1b-4f63-9d55-2b8c0f7e91a4', denyActions: '',
});
for (const p of ['@azure/arm-compute', '@azure/arm-network', '@azure/arm-resources',
  '@azure/arm-resources-subscriptions', '@azure/arm-authorization'])
  try { require.resolve(`${p}/package.json`); } catch (e) {
    process.stderr.write(`double: ${p} is not installed (./dev deps installs it)\n`);
    process.exit(77);
  }
const model = require('./model.js');
const stats = new common.Stats();
const violation = common.makeViolation(args, stats);
const OPS = model.loadOperations();
const V = new model.Validator(OPS);
const PAGE = args.pageSize > 0 ? args.pageSize : 100;
const LOCATIONS = ['koreacentral', 'koreasouth', 'japaneast', 'eastus', 'eastus2', 'westus2',
  'westeurope', 'northeurope', 'uksouth', 'southeastasia', 'australiaeast', 'centralindia'];
const SIZES = [
  ['Standard_B1s', 1, 1024], ['Standard_B1ms', 1, 2048], ['Standard_B2s', 2, 4096],
  ['Standard_B2ms', 2, 8192], ['Standard_D2s_v5', 2, 8192], ['Standard_D4s_v5', 4, 16384],
  ['Standard_D8s_v5', 8, 32768], ['Standard_E2s_v5', 2, 16384], ['Standard_F2s_v2', 2, 4096],
];
const IMAGES = {
  'canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2': ['22.04.202410020', '22.04.202411010'],
  'canonical:ubuntu-24_04-lts:server': ['24.04.202410170', '24.04.202411030'],
  'debian:debian-12:12-gen2': ['0.20241004.1890', '0.20241111.1929'],
  'canonical:0001-com-ubuntu-server-jammy:22_04-lts-arm64': ['22.04.202410020', '22.04.202411010'],
};

let creds = { tenantId: 'a1b2c3d4-0000-4000-8000-00000000aaaa', clientId: '', clientSecret: '' };
if (args.credentials) {
  const c = JSON.parse(fs.readFileSync(args.credentials, 'utf8'));
  creds = { tenantId: c.tenantId || c.tenant, clientId: c.clientId || c.appId,
            clientSecret: c.clientSecret || c.password };
}
const SIGNING = crypto.randomBytes(32);

/* ---- tokens: JWTs signed by this double ---- */
function b64u(b) { return Buffer.from(b).toString('base64url'); }
function issueToken() {
  const now = Math.floor(Date.now() / 1000);
  const h = b64u(JSON.stringify({ typ: 'JWT', alg: 'HS256' }));
  const p = b64u(JSON.stringify({ aud: 'https://management.azure.com', iss: `https://sts.windows.net/${creds.tenantId}/`,
    tid: creds.tenantId, appid: creds.clientId, iat: now, nbf: now, exp: now + 3599 }));
  const s = b64u(crypto.createHmac('sha256', SIGNING).update(`${h}.${p}`).digest());
  return `${h}.${p}.${s}`;
}
function tokenProblem(auth) {
  if (!auth || !auth.startsWith('Bearer ')) return 'no bearer token';
  const [h, p, s] = auth.slice(7).split('.');
  if (!s) return 'malformed token';
  const want = b64u(crypto.createHmac('sha256', SIGNING).update(`${h}.${p}`).digest());
  if (want.length !== s.length || !crypto.timingSafeEqual(Buffer.from(want), Buffer.from(s)))
    return 'token signature invalid (not issued by this token endpoint)';
  const claims = JSON.parse(Buffer.from(p, 'base64url'));
  if (claims.exp < Date.now() / 1000) return 'token expired';
  return null;
}

function armError(status, code, message, extra = {}) {
  return { status, body: { error: { code, message } }, headers: extra };
}

function tokenEndpoint(req, tenant) {
  const f = new URLSearchParams(req.body.toString('utf8'));
  const op = 'oauth2.token';
  const known = new Set(['client_id', 'client_secret', 'grant_type', 'scope']);
  for (const k of f.keys()) if (!known.has(k)) violation(op, req.path, `unknown form field ${k}`);
  if ((req.headers['content-type'] || '').split(';')[0] !== 'application/x-www-form-urlencoded')
    violation(op, req.path, 'Content-Type must be application/x-www-form-urlencoded');
  if (f.get('grant_type') !== 'client_credentials') violation(op, req.path, 'grant_type must be client_credentials');
  if (f.get('scope') !== 'https://management.azure.com/.default') violation(op, req.path, `scope ${f.get('scope')}`);
  if (tenant !== creds.tenantId || f.get('client_id') !== creds.clientId || f.get('client_secret') !== creds.clientSecret) {
    violation(op, req.path, 'client credentials rejected');
    return { status: 401, operation: op, body: { error: 'invalid_client',
      error_description: 'AADSTS7000215: Invalid client secret provided.', error_codes: [7000215] } };
  }
  return { operation: op, body: { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: issueToken() } };
}

/* ---- state ---- */
const store = new Map(); /* lower-case resource id -> resource (wire JSON) */
const ops = new Map();   /* operation id -> {status, error} */
const groups = new Map(); /* lower-case "sub/rg" -> resource group */
let ipCounter = 1;
let throttleCount = 0;

function lo(s) { return s.toLowerCase(); }
function rid(sub, rg, prov, type, name) { return `/subscriptions/${sub}/resourceGroups/${rg}/providers/${prov}/${type}/${name}`; }

function startOp(req, loc, prov, onDone, fail) {
  const id = crypto.randomUUID();
  ops.set(id, { status: 'InProgress', start: new Date().toISOString() });
  setTimeout(() => {
    const o = ops.get(id);
    const err = onDone ? onDone() : null;
    o.status = err ? 'Failed' : 'Succeeded';
    if (err) o.error = err;
    o.end = new Date().toISOString();
  }, fail ? 0 : args.opMs);
  const base = `http://${req.headers.host}${req.slowPrefix}`;
  const url = `${base}/subscriptions/${req.sub}/providers/${prov}/locations/${loc}/operations/${id}?api-version=${req.apiVersion}`;
  const h = { 'Azure-AsyncOperation': url, Location: url.replace('/operations/', '/operationResults/') };
  if (args.retryAfter > 0) h['Retry-After'] = String(args.retryAfter);
  return h;
}

function opStatus(id) {
  const o = ops.get(id);
  if (!o) return armError(404, 'NotFound', `The operation ${id} was not found.`);
  const body = { name: id, status: o.status, startTime: o.start };
  if (o.end) body.endTime = o.end;
  if (o.error) body.error = o.error;
  return { body };
}

function needGroup(req, rg) {
  const g = groups.get(lo(`${req.sub}/${rg}`));
  return g ? null : armError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);
}

function strip(obj) { return JSON.parse(JSON.stringify(obj)); }

function page(req, items, basePath) {
  const skip = Number(req.query.get('$skiptoken') || 0);
  const slice = items.slice(skip, skip + PAGE);
  const body = { value: slice };
  if (skip + PAGE < items.length)
  {
    /* ARM's nextLink keeps the request's query ($expand ...) */
    const q = new URLSearchParams(req.query);
    q.set('$skiptoken', String(skip + PAGE));
    body.nextLink = `http://${req.headers.host}${req.slowPrefix}${basePath}?${q.toString().replace(/%24/g, '$')}`;
  }
  return { body };
}

function listOf(req, rg, type) {
  const pre = lo(`/subscriptions/${req.sub}/resourceGroups/${rg}/providers/${type}/`);
  const items = [];
  for (const [k, v] of store) if (k.startsWith(pre) && k.slice(pre.length).indexOf('/') < 0) items.push(view(v, req));
  return items;
}

/* What GET shows of a resource (a VM's instance view only when asked). */
function view(r, req) {
  const out = strip(r);
  delete out._;
  if (r._ && r._.vm) {
    if (req && req.query.get('$expand') === 'instanceView') out.properties.instanceView = vmInstanceView(r);
  }
  return out;
}

function vmInstanceView(r) {
  const ps = r._.power;
  const statuses = [{ code: `ProvisioningState/${lo(r.properties.provisioningState)}`, level: 'Info',
    displayStatus: `Provisioning ${lo(r.properties.provisioningState)}` }];
  if (ps) statuses.push({ code: `PowerState/${ps}`, level: 'Info', displayStatus: `VM ${ps}` });
  return { computerName: r.properties.osProfile.computerName, osName: 'ubuntu', statuses };
}

function inSubnet(cidr) {
  const [base] = cidr.split('/');
  const p = base.split('.').map(Number);
  return `${p[0]}.${p[1]}.${p[2]}.${4 + (ipCounter++ % 250)}`;
}

/* ---- resource handlers: (req, values, body) -> answer ---- */
function putSimple(req, v, body, prov, type, name, extraCheck, finish) {
  const g = needGroup(req, v.resourceGroupName);
  if (g) return g;
  const id = rid(req.sub, v.resourceGroupName, prov, type, name);
  const old = store.get(lo(id));
  if (!LOCATIONS.includes(lo(body.location || '')))
    return armError(400, 'LocationNotAvailableForResourceType', `The provided location '${body.location}' is not available for resource type '${prov}/${type}'.`);
  if (old && lo(old.location) !== lo(body.location))
    return armError(400, 'InvalidResourceLocation', `The resource '${name}' already exists in location '${old.location}'.`);
  if (extraCheck) { const e = extraCheck(body, old); if (e) return e; }
  const r = strip(body);
  r.id = id; r.name = name; r.type = `${prov}/${type}`;
  r.properties = r.properties || {};
  if (prov === 'Microsoft.Network') r.etag = `W/"${crypto.randomUUID()}"`;
  r._ = old ? old._ : {};
  if (finish) finish(r, old);
  store.set(lo(id), r);
  return { status: old ? 200 : 201, r };
}

function lro(req, r, status, prov, onDone) {
  r.properties.provisioningState = status === 201 ? (prov === 'Microsoft.Compute' ? 'Creating' : 'Updating') : 'Updating';
  const h = startOp(req, lo(r.location), prov, () => { r.properties.provisioningState = 'Succeeded'; return onDone ? onDone(r) : null; });
  return { status, body: view(r, req), headers: h };
}

function handleVnet(req, v, body) {
  const name = v.virtualNetworkName;
  const id = rid(req.sub, v.resourceGroupName, 'Microsoft.Network', 'virtualNetworks', name);
  if (req.method === 'GET') return getOr404(req, id);
  if (req.method === 'DELETE') return del(req, id, 'Microsoft.Network', (r) => {
    for (const s of r.properties.subnets || []) {
      for (const [, n] of store) {
        if (n.type === 'Microsoft.Network/networkInterfaces' && (n.properties.ipConfigurations || [])
          .some((c) => lo(c.properties.subnet.id) === lo(s.id)))
          return armError(400, 'InUseSubnetCannotBeDeleted', `Subnet ${s.name} is in use by ${n.id} and cannot be deleted.`);
      }
    }
    return null;
  });
  const out = putSimple(req, v, body, 'Microsoft.Network', 'virtualNetworks', name, null, (r) => {
    r.properties.resourceGuid = r.properties.resourceGuid || crypto.randomUUID();
    r.properties.subnets = (r.properties.subnets || []).map((s) => ({ ...s, id: `${id}/subnets/${s.name}`,
      type: 'Microsoft.Network/virtualNetworks/subnets', etag: r.etag,
      properties: { ...s.properties, provisioningState: 'Succeeded' } }));
  });
  return out.r ? lro(req, out.r, out.status, 'Microsoft.Network') : out;
}

function handleNsg(req, v, body) {
  const name = v.networkSecurityGroupName;
  const id = rid(req.sub, v.resourceGroupName, 'Microsoft.Network', 'networkSecurityGroups', name);
  if (req.method === 'GET') return getOr404(req, id);
  if (req.method === 'DELETE') return del(req, id, 'Microsoft.Network', () => {
    for (const [, n] of store)
      if (n.type === 'Microsoft.Network/networkInterfaces' && n.properties.networkSecurityGroup &&
          lo(n.properties.networkSecurityGroup.id) === lo(id))
        return armError(400, 'InUseNetworkSecurityGroupCannotBeDeleted', `Network security group ${id} cannot be deleted because it is in use by ${n.id}.`);
    return null;
  });
  const out = putSimple(req, v, body, 'Microsoft.Network', 'networkSecurityGroups', name, (b) => {
    const seen = new Set();
    for (const s of (b.properties || {}).securityRules || []) {
      const p = s.properties || {};
      const k = `${p.direction}/${p.priority}`;
      if (seen.has(k)) return armError(400, 'SecurityRuleConflict', `Security rule ${s.name} conflicts with another rule of priority ${p.priority}.`);
      seen.add(k);
    }
    return null;
  }, (r) => {
    r.properties.resourceGuid = r.properties.resourceGuid || crypto.randomUUID();
    r.properties.securityRules = (r.properties.securityRules || []).map((s) => ({ ...s, id: `${id}/securityRules/${s.name}`,
      type: 'Microsoft.Network/networkSecurityGroups/securityRules', etag: r.etag,
      properties: { ...s.properties, provisioningState: 'Succeeded' } }));
  });
  return out.r ? lro(req, out.r, out.status, 'Microsoft.Network') : out;
}

function handlePip(req, v, body) {
  const name = v.publicIpAddressName;
  const id = rid(req.sub, v.resourceGroupName, 'Microsoft.Network', 'publicIPAddresses', name);
  if (req.method === 'GET') return getOr404(req, id);
  if (req.method === 'DELETE') return del(req, id, 'Microsoft.Network', (r) => (r._.nic ?
    armError(400, 'PublicIPAddressInUse', `Public IP address ${id} can not be deleted since it is still allocated to resource ${r._.nic}.`) : null));
  const out = putSimple(req, v, body, 'Microsoft.Network', 'publicIPAddresses', name, null, (r, old) => {
    r.properties.ipAddress = old ? old.properties.ipAddress : `20.${(ipCounter >> 16) & 255}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
    ipCounter++;
    r.properties.publicIPAddressVersion = r.properties.publicIPAddressVersion || 'IPv4';
    r.properties.resourceGuid = crypto.randomUUID();
  });
  return out.r ? lro(req, out.r, out.status, 'Microsoft.Network') : out;
}

function subnetOf(subnetId) {
  const i = lo(subnetId).indexOf('/subnets/');
  if (i < 0) return null;
  const vn = store.get(lo(subnetId).slice(0, i));
  return vn && (vn.properties.subnets || []).find((s) => lo(s.id) === lo(subnetId)) ? vn : null;
}

function handleNic(req, v, body) {
  const name = v.networkInterfaceName;
  const id = rid(req.sub, v.resourceGroupName, 'Microsoft.Network', 'networkInterfaces', name);
  if (req.method === 'GET') return getOr404(req, id);
  if (req.method === 'DELETE') return del(req, id, 'Microsoft.Network', (r) => (r._.vm ?
    armError(400, 'NicInUse', `Network Interface ${id} is used by existing resource ${r._.vm}.`) : null), (r) => unlinkNic(r));
  const out = putSimple(req, v, body, 'Microsoft.Network', 'networkInterfaces', name, (b) => {
    const p = b.properties || {};
    if (p.networkSecurityGroup && !store.get(lo(p.networkSecurityGroup.id)))
      return armError(400, 'InvalidResourceReference', `Resource ${p.networkSecurityGroup.id} referenced by resource ${id} was not found.`);
    for (const c of p.ipConfigurations || []) {
      const vn = c.properties && c.properties.subnet && subnetOf(c.properties.subnet.id);
      if (!vn) return armError(400, 'InvalidResourceReference', `Subnet referenced by resource ${id} was not found.`);
      if (lo(vn.location) !== lo(b.location))
        return armError(400, 'InvalidResourceReference', `Resource ${vn.id} referenced by ${id} is in another location.`);
      const pipRef = c.properties.publicIPAddress;
      if (pipRef) {
        const pip = store.get(lo(pipRef.id));
        if (!pip) return armError(400, 'InvalidResourceReference', `Resource ${pipRef.id} referenced by resource ${id} was not found.`);
        if (pip._.nic && lo(pip._.nic) !== lo(id)) return armError(400, 'PublicIPAddressInUse', `Public IP ${pip.id} is in use by ${pip._.nic}.`);
      }
    }
    return null;
  }, (r, old) => {
    r.properties.ipConfigurations = (r.properties.ipConfigurations || []).map((c, i) => {
      const prev = old && old.properties.ipConfigurations[i];
      const pipRef = c.properties.publicIPAddress;
      if (pipRef) { store.get(lo(pipRef.id))._.nic = id; r._.pipDelete = (pipRef.properties || {}).deleteOption === 'Delete' ? pipRef.id : null; }
      const vn = subnetOf(c.properties.subnet.id);
      const sub = vn.properties.subnets.find((s) => lo(s.id) === lo(c.properties.subnet.id));
      return { ...c, id: `${id}/ipConfigurations/${c.name}`, type: 'Microsoft.Network/networkInterfaces/ipConfigurations',
        etag: r.etag, properties: { ...c.properties, provisioningState: 'Succeeded', primary: i === 0,
          privateIPAddressVersion: 'IPv4',
          privateIPAddress: prev ? prev.properties.privateIPAddress : inSubnet(sub.properties.addressPrefix) } };
    });
    r.properties.macAddress = r.properties.macAddress || '00-0D-3A-' + crypto.randomBytes(3).toString('hex').toUpperCase().match(/../g).join('-');
    r.properties.resourceGuid = r.properties.resourceGuid || crypto.randomUUID();
  });
  return out.r ? lro(req, out.r, out.status, 'Microsoft.Network') : out;
}

function unlinkNic(r) {
  for (const c of r.properties.ipConfigurations || []) {
    const pip = c.properties.publicIPAddress && store.get(lo(c.properties.publicIPAddress.id));
    if (pip) pip._.nic = null;
  }
}

function getOr404(req, id) {
  const r = store.get(lo(id));
  if (!r) return armError(404, 'ResourceNotFound', `The Resource '${id.split('/providers/')[1]}' under resource group '${id.split('/')[4]}' was not found.`);
  return { body: view(r, req) };
}

/* DELETE: 202 + operation, the resource gone when it ends; 204 if absent. */
function del(req, id, prov, refuse, after) {
  const r = store.get(lo(id));
  if (!r) return { status: 204 };
  if (r.properties.provisioningState === 'Deleting') return { status: 202, headers: r._.delHeaders };
  const e = refuse && refuse(r);
  if (e) return e;
  r.properties.provisioningState = 'Deleting';
  r._.delHeaders = startOp(req, lo(r.location), prov, () => {
    store.delete(lo(id));
    if (after) after(r);
    return null;
  });
  return { status: 202, headers: r._.delHeaders };
}

function handleVm(req, v, body, action) {
  const name = v.vmName;
  const id = rid(req.sub, v.resourceGroupName, 'Microsoft.Compute', 'virtualMachines', name);
  const r = store.get(lo(id));
  if (action) {
    if (!r) return armError(404, 'ResourceNotFound', `The Resource 'Microsoft.Compute/virtualMachines/${name}' under resource group '${v.resourceGroupName}' was not found.`);
    if (r.properties.provisioningState !== 'Succeeded' || r._.busy)
      return armError(409, 'OperationNotAllowed', `Operation '${action}' is not allowed since the VM is ${r.properties.provisioningState} or another operation is in progress.`);
    const ps = r._.power;
    if (action === 'restart' && ps !== 'running')
      return armError(409, 'OperationNotAllowed', `Operation 'Restart' is not allowed on VM '${name}' since the VM is ${ps === 'deallocated' ? 'deallocated' : 'not running'}.`);
    const trans = { deallocate: ['deallocating', 'deallocated'], start: ['starting', 'running'], restart: ['starting', 'running'], powerOff: ['stopping', 'stopped'] }[action];
    r._.power = trans[0]; r._.busy = true; r.properties.provisioningState = 'Updating';
    const h = startOp(req, lo(r.location), 'Microsoft.Compute', () => { r._.power = trans[1]; r._.busy = false; r.properties.provisioningState = 'Succeeded'; return null; });
    return { status: 202, headers: h };
  }
  if (req.method === 'GET') return getOr404(req, id);
  if (req.method === 'DELETE') return del(req, id, 'Microsoft.Compute', null, (vm) => {
    const nicRef = vm.properties.networkProfile.networkInterfaces[0];
    const nic = store.get(lo(nicRef.id));
    if (nic) {
      nic._.vm = null;
      nic.properties.virtualMachine = undefined;
      delete nic.properties.virtualMachine;
      if ((nicRef.properties || {}).deleteOption === 'Delete') {
        store.delete(lo(nic.id));
        unlinkNic(nic);
        if (nic._.pipDelete) store.delete(lo(nic._.pipDelete));
      }
    }
  });
  if (req.method === 'PATCH') {
    if (!r) return armError(404, 'ResourceNotFound', `The Resource 'Microsoft.Compute/virtualMachines/${name}' was not found.`);
    if (body.tags) r.tags = body.tags;
    r.properties.provisioningState = 'Updating';
    const h = startOp(req, lo(r.location), 'Microsoft.Compute', () => { r.properties.provisioningState = 'Succeeded'; return null; });
    return { status: 200, body: view(r, req), headers: h };
  }
  if (r) { /* a PUT again (a retried create) changes nothing here */
    if (lo(r.location) !== lo(body.location || '')) return armError(409, 'InvalidResourceLocation', `VM ${name} exists in ${r.location}.`);
    return { status: 200, body: view(r, req) };
  }
  const p = body.properties || {};
  const size = SIZES.find((s) => s[0] === (p.hardwareProfile || {}).vmSize);
  if (!size) return armError(400, 'InvalidParameter', `The value of parameter vmSize is invalid.`, {});
  const img = (p.storageProfile || {}).imageReference || {};
  const versions = IMAGES[lo(`${img.publisher}:${img.offer}:${img.sku}`)];
  if (!versions || (img.version !== 'latest' && !versions.includes(img.version)))
    return armError(404, 'PlatformImageNotFound', `The platform image '${img.publisher}:${img.offer}:${img.sku}:${img.version}' is not available.`);
  const nics = (p.networkProfile || {}).networkInterfaces || [];
  const nic = nics.length && store.get(lo(nics[0].id));
  if (!nic) return armError(400, 'InvalidResourceReference', 'The network interface referenced by the VM was not found.');
  if (nic._.vm) return armError(409, 'NicInUse', `Network interface ${nic.id} is in use by ${nic._.vm}.`);
  if (lo(nic.location) !== lo(body.location)) return armError(400, 'InvalidResourceReference', 'NIC is in another location.');
  const out = putSimple(req, v, body, 'Microsoft.Compute', 'virtualMachines', name, null, (vm) => {
    vm._ = { vm: true, power: 'starting' };
    vm.properties.vmId = crypto.randomUUID();
    vm.properties.timeCreated = new Date().toISOString();
    vm.properties.storageProfile.imageReference.exactVersion = img.version === 'latest' ? versions[versions.length - 1] : img.version;
    vm.properties.osProfile.requireGuestProvisionSignal = true;
    nic._.vm = id;
    nic.properties.virtualMachine = { id };
  });
  if (!out.r) return out;
  return lro(req, out.r, 201, 'Microsoft.Compute', (vm) => { vm._.power = 'running'; return null; });
}

function sshPublicKey(publicKeyObj) {
  const jwk = publicKeyObj.export({ format: 'jwk' });
  const part = (b) => { const l = Buffer.alloc(4); l.writeUInt32BE(b.length); return Buffer.concat([l, b]); };
  const mpint = (s) => { let b = Buffer.from(s, 'base64url'); if (b[0] & 0x80) b = Buffer.concat([Buffer.from([0]), b]); return b; };
  const blob = Buffer.concat([part(Buffer.from('ssh-rsa')), part(mpint(jwk.e)), part(mpint(jwk.n))]);
  return `ssh-rsa ${blob.toString('base64')} generated-by-azure`;
}

function handleKey(req, v, body, gen) {
  const name = v.sshPublicKeyName;
  const id = rid(req.sub, v.resourceGroupName, 'Microsoft.Compute', 'sshPublicKeys', name);
  const r = store.get(lo(id));
  if (gen) {
    if (!r) return armError(404, 'ResourceNotFound', `The Resource 'Microsoft.Compute/sshPublicKeys/${name}' under resource group '${v.resourceGroupName}' was not found.`);
    const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    r.properties.publicKey = sshPublicKey(publicKey);
    return { body: { privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }).replace(/\n/g, '\r\n'), publicKey: r.properties.publicKey, id } };
  }
  if (req.method === 'GET') return getOr404(req, id);
  if (req.method === 'DELETE') { if (!r) return { status: 204 }; store.delete(lo(id)); return { status: 200 }; }
  if (body.properties && body.properties.publicKey && !/^(ssh-rsa|ssh-ed25519) [A-Za-z0-9+/=]+/.test(body.properties.publicKey))
    return armError(400, 'InvalidParameter', 'The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid.');
  const out = putSimple(req, v, body, 'Microsoft.Compute', 'sshPublicKeys', name, null, (k, old) => {
    if (!k.properties.publicKey && old) k.properties.publicKey = old.properties.publicKey;
  });
  return out.r ? { status: out.status, body: view(out.r, req) } : out;
}

function handleGroup(req, v, body) {
  const key = lo(`${req.sub}/${v.resourceGroupName}`);
  const g = groups.get(key);
  if (req.method === 'GET') return g ? { body: g } : armError(404, 'ResourceGroupNotFound', `Resource group '${v.resourceGroupName}' could not be found.`);
  if (req.method !== 'PUT') return armError(405, 'MethodNotAllowed', 'not served by the double');
  if (!LOCATIONS.includes(lo(body.location || ''))) return armError(400, 'LocationNotAvailableForResourceType', `The provided location '${body.location}' is not available for resource groups.`);
  if (g && lo(g.location) !== lo(body.location))
    return armError(409, 'InvalidResourceGroupLocation', `Invalid resource group location '${body.location}'. The Resource group already exists in location '${g.location}'.`);
  const rg = { id: `/subscriptions/${req.sub}/resourceGroups/${v.resourceGroupName}`, name: v.resourceGroupName,
    type: 'Microsoft.Resources/resourceGroups', location: lo(body.location), tags: body.tags || (g && g.tags) || {},
    properties: { provisioningState: 'Succeeded' } };
  groups.set(key, rg);
  return { status: g ? 200 : 201, body: rg };
}

function imageVersions(req, v, one) {
  const key = lo(`${v.publisherName}:${v.offer}:${v.skus}`);
  const versions = IMAGES[key];
  const loc = lo(v.location);
  if (!LOCATIONS.includes(loc) || !versions) return armError(404, 'ArtifactNotFound', `Artifact: VMImage was not found. (${v.publisherName}:${v.offer}:${v.skus})`);
  const mk = (ver) => ({ name: ver, location: loc,
    id: `/Subscriptions/${req.sub}/Providers/Microsoft.Compute/Locations/${loc}/Publishers/${v.publisherName}/ArtifactTypes/VMImage/Offers/${v.offer}/Skus/${v.skus}/Versions/${ver}` });
  if (one) {
    const ver = v.version === 'latest' ? versions[versions.length - 1] : v.version;
    if (!versions.includes(ver)) return armError(404, 'NotFound', `Artifact: VMImage was not found.`);
    return { body: { ...mk(ver), properties: { hyperVGeneration: 'V2',
      architecture: key.endsWith('arm64') ? 'Arm64' : 'x64', osDiskImage: { operatingSystem: 'Linux' } } } };
  }
  let list = versions.map(mk);
  if (req.query.get('$orderby') === 'name desc') list = list.reverse();
  const top = req.query.get('$top');
  if (top) list = list.slice(0, Number(top));
  return { body: list };
}

function dispatch(req, r, body) {
  const v = r.values;
  const n = r.op.name;
  const t = r.op.template;
  if (t.endsWith('/virtualNetworks/{virtualNetworkName}')) return handleVnet(req, v, body);
  if (t.endsWith('/networkSecurityGroups/{networkSecurityGroupName}')) return handleNsg(req, v, body);
  if (t.endsWith('/publicIPAddresses/{publicIpAddressName}')) return handlePip(req, v, body);
  if (t.endsWith('/networkInterfaces/{networkInterfaceName}')) return handleNic(req, v, body);
  if (t.endsWith('/virtualMachines/{vmName}')) return handleVm(req, v, body);
  if (/\/virtualMachines\/\{vmName\}\/(deallocate|start|restart|powerOff)$/.test(t)) return handleVm(req, v, body, t.split('/').pop());
  if (t.endsWith('/sshPublicKeys/{sshPublicKeyName}')) return handleKey(req, v, body);
  if (t.endsWith('/generateKeyPair')) return handleKey(req, v, body, true);
  if (t === '/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}') return handleGroup(req, v, body);
  const listTypes = { 'Microsoft.Network/virtualNetworks': 1, 'Microsoft.Network/networkSecurityGroups': 1,
    'Microsoft.Network/publicIPAddresses': 1, 'Microsoft.Network/networkInterfaces': 1,
    'Microsoft.Compute/virtualMachines': 1, 'Microsoft.Compute/sshPublicKeys': 1 };
  const m = /^\/subscriptions\/\{subscriptionId\}\/resourceGroups\/\{resourceGroupName\}\/providers\/([^/]+\/[^/]+)$/.exec(t);
  if (m && listTypes[m[1]] && req.method === 'GET') {
    if (!groups.get(lo(`${req.sub}/${v.resourceGroupName}`)))
      return armError(404, 'ResourceGroupNotFound', `Resource group '${v.resourceGroupName}' could not be found.`);
    const items = listOf(req, v.resourceGroupName, m[1]);
    return page(req, items, req.path);
  }
  if (t.endsWith('/skus/{skus}/versions')) return imageVersions(req, v, false);
  if (t.endsWith('/skus/{skus}/versions/{version}')) return imageVersions(req, v, true);
  if (t.endsWith('/locations/{location}/vmSizes')) {
    if (!LOCATIONS.includes(lo(v.location))) return armError(404, 'NoRegisteredProviderFound', `No registered resource provider found for location '${v.location}'.`);
    return { body: { value: SIZES.map(([name, c, mem]) => ({ name, numberOfCores: c, memoryInMB: mem,
      maxDataDiskCount: 4 * c, osDiskSizeInMB: 1047552, resourceDiskSizeInMB: 4096 * c })) } };
  }
  if (t === '/subscriptions/{subscriptionId}' && req.method === 'GET')
    return { body: { id: `/subscriptions/${req.sub}`, subscriptionId: req.sub, displayName: 'Barista test subscription',
      tenantId: creds.tenantId, state: 'Enabled', subscriptionPolicies: { locationPlacementId: 'Public_2014-09-01', quotaId: 'PayAsYouGo_2014-09-01', spendingLimit: 'Off' } } };
  if (t === '/subscriptions/{subscriptionId}/locations')
    return { body: { value: LOCATIONS.map((l) => ({ id: `/subscriptions/${req.sub}/locations/${l}`, name: l, type: 'Region',
      displayName: l, regionalDisplayName: l, metadata: { regionType: 'Physical', regionCategory: 'Recommended' },
      availabilityZoneMappings: l === 'koreasouth' ? undefined : ['1', '2', '3'].map((z) => ({ logicalZone: z, physicalZone: `${l}-az${z}` })) })) } };
  if (t.endsWith('/providers/Microsoft.Authorization/permissions'))
    return { body: { value: [{ actions: ['*'], notActions: ['Microsoft.Authorization/*/Delete', 'Microsoft.Authorization/*/Write',
      ...args.denyActions.split(',').filter((a) => a)], dataActions: [], notDataActions: [] }] } };
  return armError(400, 'UnsupportedOperation', `${n} is not served by the double`);
}

/* ---- request validation ---- */
function check(req, r) {
  const op = `${r.op.pkg} ${r.op.name}`;
  const spec = r.op.spec;
  const problems = [];
  for (const p of spec.urlParameters || []) {
    const sn = p.mapper.serializedName;
    if (sn === '$host') continue;
    if (r.values[sn] !== undefined) problems.push(...V.forPackage(r.op.pkg).validate(p.mapper, r.values[sn], 'request', `path ${sn}`));
  }
  const qp = new Map((spec.queryParameters || []).map((p) => [p.mapper.serializedName, p]));
  for (const [k, val] of req.query) {
    if (k === '$skiptoken' && /^[0-9]+$/.test(val) && /^(GET)$/.test(req.method)) continue; /* a nextLink this double made */
    const p = qp.get(k);
    if (!p) { problems.push(`query ${k}: not a parameter of ${r.op.name}`); continue; }
    const t = p.mapper.type.name;
    const typed = t === 'Number' ? Number(val) : t === 'Boolean' ? (val === 'true' ? true : val === 'false' ? false : val) : val;
    problems.push(...V.forPackage(r.op.pkg).validate(p.mapper, typed, 'request', `query ${k}`));
  }
  for (const [k, p] of qp)
    if ((p.mapper.required || p.mapper.isConstant) && !req.query.has(k)) problems.push(`query ${k}: required, missing`);
  req.apiVersion = req.query.get('api-version');
  let body;
  if (spec.requestBody) {
    const text = req.body.toString('utf8');
    const optional = Array.isArray(spec.requestBody.parameterPath) || /^options/.test(String(spec.requestBody.parameterPath));
    if (!text) { if (!optional) problems.push('body: required, missing'); }
    else {
      if (!/^application\/json/.test(req.headers['content-type'] || '')) problems.push('Content-Type must be application/json');
      try { body = JSON.parse(text); } catch (e) { problems.push(`body: not JSON (${e.message})`); }
      if (body !== undefined) problems.push(...V.forPackage(r.op.pkg).validate(spec.requestBody.mapper, body, 'request', ''));
    }
  } else if (req.body.length) {
    problems.push(`body: ${r.op.name} takes none`);
  }
  const tp = tokenProblem(req.headers.authorization);
  return { op, problems, body: body || {}, tp };
}

function answerCheck(r, out) {
  const st = out.status || 200;
  const resp = r.op.spec.responses[st] || (st >= 400 ? r.op.spec.responses.default : null);
  if (!resp) { violation(`${r.op.pkg} ${r.op.name}`, 'answer', `the double answered ${out.status}, which the spec does not list`); return; }
  if (resp.bodyMapper && out.body !== undefined) {
    const errs = V.forPackage(r.op.pkg).validate(resp.bodyMapper, out.body, 'response', '');
    for (const e of errs) violation(`${r.op.pkg} ${r.op.name}`, 'answer', `the double's own answer: ${e}`);
  }
}

async function handle(req) {
  req.slowPrefix = req.rawPath.startsWith(common.SLOW_PREFIX + '/') ? common.SLOW_PREFIX : '';
  const tok = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(req.path);
  if (tok && req.method === 'POST') return tokenEndpoint(req, tok[1]);
  if (args.throttleEvery > 0 && req.method !== 'DELETE' && ++throttleCount % args.throttleEvery === 0)
    return { status: 429, operation: 'throttled', headers: { 'Retry-After': '1' },
      body: { error: { code: 'TooManyRequests', message: 'The request is being throttled as the limit has been reached for operation type - Read_ObservationWindow_00:05:00. For more information, see - https://aka.ms/throttling' } } };
  const opm = /^\/subscriptions\/([^/]+)\/providers\/Microsoft\.(Network|Compute)\/locations\/([^/]+)\/(operations|operationResults)\/([^/]+)$/.exec(req.path);
  if (opm && req.method === 'GET') {
    const tp = tokenProblem(req.headers.authorization);
    if (tp) { violation('operations.get', req.path, tp); return { ...armError(401, 'InvalidAuthenticationToken', 'The access token is invalid.'), operation: 'operations.get' }; }
    const o = opStatus(opm[5]);
    if (opm[4] === 'operationResults' && o.body && o.body.status === 'InProgress') return { status: 202, operation: 'operationResults.get' };
    return { ...o, operation: 'operations.get' };
  }
  const r = model.route(OPS, req.method, req.path);
  if (!r) {
    violation('?', `${req.method} ${req.path}`, 'no operation of the published API has this path and method');
    return armError(400, 'InvalidResourceType', `The resource type could not be found for ${req.method} ${req.path}.`);
  }
  const c = check(req, r);
  const label = `${r.op.template.split('/').filter((s) => s && !s.startsWith('{')).pop()}.${r.op.name.split('.').pop()}`;
  if (c.tp) {
    violation(c.op, req.path, c.tp);
    return { ...armError(401, 'InvalidAuthenticationToken', 'The access token is invalid.'), operation: label };
  }
  if (c.problems.length) {
    for (const p of c.problems) violation(c.op, req.path, p);
    const apiv = c.problems.find((p) => p.startsWith('query api-version'));
    if (apiv) return { ...armError(400, 'InvalidApiVersionParameter', `The api-version '${req.apiVersion}' is invalid. ${apiv}`), operation: label };
    return { ...armError(400, 'InvalidRequestContent', `The request content was invalid: ${c.problems.join('; ')}`), operation: label };
  }
  req.sub = r.values.subscriptionId;
  if (req.sub !== args.subscription) return { ...armError(404, 'SubscriptionNotFound', `The subscription '${req.sub}' could not be found.`), operation: label };
  const out = dispatch(req, r, c.body);
  answerCheck(r, out);
  return { ...out, operation: label };
}

function seed() {
  if (!args.seedVms) return;
  const loc = lo(args.region || 'koreacentral');
  const sub = args.subscription;
  const rg = args.resourceGroup;
  groups.set(lo(`${sub}/${rg}`), { id: `/subscriptions/${sub}/resourceGroups/${rg}`, name: rg, location: loc,
    type: 'Microsoft.Resources/resourceGroups', properties: { provisioningState: 'Succeeded' } });
  const vnetId = rid(sub, rg, 'Microsoft.Network', 'virtualNetworks', 'seed-vnet');
  store.set(lo(vnetId), { id: vnetId, name: 'seed-vnet', type: 'Microsoft.Network/virtualNetworks', location: loc, tags: {},
    properties: { provisioningState: 'Succeeded', addressSpace: { addressPrefixes: ['10.9.0.0/16'] },
      subnets: [{ id: `${vnetId}/subnets/sub1`, name: 'sub1', properties: { addressPrefix: '10.9.0.0/16', provisioningState: 'Succeeded' } }] }, _: {} });
  for (let i = 0; i < args.seedVms; i++) {
    const name = `seed-${i}`;
    const tags = { 'barista:address': `bench/vm/${name}`, 'barista:namespace': 'bench', 'barista:lineage': 'seed', 'barista:idempotency': crypto.randomUUID() };
    const pipId = rid(sub, rg, 'Microsoft.Network', 'publicIPAddresses', `${name}-ip`);
    const nicId = rid(sub, rg, 'Microsoft.Network', 'networkInterfaces', `${name}-nic`);
    const vmId = rid(sub, rg, 'Microsoft.Compute', 'virtualMachines', name);
    store.set(lo(pipId), { id: pipId, name: `${name}-ip`, type: 'Microsoft.Network/publicIPAddresses', location: loc, tags, sku: { name: 'Standard' },
      properties: { provisioningState: 'Succeeded', publicIPAllocationMethod: 'Static', ipAddress: `20.1.${i >> 8}.${i & 255}` }, _: { nic: nicId } });
    store.set(lo(nicId), { id: nicId, name: `${name}-nic`, type: 'Microsoft.Network/networkInterfaces', location: loc, tags,
      properties: { provisioningState: 'Succeeded', virtualMachine: { id: vmId }, ipConfigurations: [{ name: 'ipconfig1', id: `${nicId}/ipConfigurations/ipconfig1`,
        properties: { privateIPAddress: `10.9.${i >> 8}.${i & 255}`, subnet: { id: `${vnetId}/subnets/sub1` }, publicIPAddress: { id: pipId } } }] }, _: { vm: vmId } });
    store.set(lo(vmId), { id: vmId, name, type: 'Microsoft.Compute/virtualMachines', location: loc, tags,
      properties: { provisioningState: 'Succeeded', vmId: crypto.randomUUID(), hardwareProfile: { vmSize: 'Standard_B1s' },
        storageProfile: { imageReference: { publisher: 'Canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts-gen2', version: 'latest', exactVersion: '22.04.202411010' } },
        osProfile: { computerName: name, adminUsername: 'barista' },
        networkProfile: { networkInterfaces: [{ id: nicId, properties: { primary: true, deleteOption: 'Delete' } }] } },
      _: { vm: true, power: 'running' } });
  }
}

seed();
common.serve(args, stats, violation, handle);
