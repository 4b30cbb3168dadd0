'use strict';
/*
 * model.js - what the Alibaba double knows of the published API, all of it
 * read from the official SDK packages at test time (tests/doubles/README.md):
 * @alicloud/ecs20140526 (ECS 2014-05-26) and @alicloud/vpc20160428 (VPC
 * 2016-04-28).  Each action has a `<Action>Request` TeaModel class whose
 * static names() maps a field to its wire name and types() gives its type
 * ('string' | 'number' | 'boolean' | {type:'array', itemType} | {type:'map'}
 * | a nested model class); `<Action>ResponseBody` describes the answer.
 * Which parameters are required the classes do not say in code, only in the
 * package's declaration files (`This parameter is required.` in the doc
 * comment of a field of models/<Action>Request.d.ts), so those are read too.
 *
 * decode() takes the flattened RPC parameters (`Tag.1.Key`,
 * `SecurityGroupIds.1`, `SystemDisk.Size`) and checks each one against the
 * request model; checkAnswer() checks an answer the double built against the
 * response body model.  The signature is recomputed with the SDK's own
 * helper (@alicloud/openapi-util getRPCSignature).
 */
const fs = require('fs');
const path = require('path');
const { requireModel } = require('../common.js');

const SERVICES = {
  '2014-05-26': { name: 'ecs', pkg: '@alicloud/ecs20140526' },
  '2016-04-28': { name: 'vpc', pkg: '@alicloud/vpc20160428' },
};
/* The packages live in this folder's node_modules (npm ci), not beside
 * common.js: resolve them from here, exiting 77 when they are missing. */
function local(name) {
  let p;
  try {
    p = require.resolve(name, { paths: [__dirname] });
  } catch (e) {
    return requireModel(name); /* says what is missing and exits 77 */
  }
  return require(p);
}
for (const s of Object.values(SERVICES)) {
  s.mod = local(s.pkg);
  s.dir = path.join(path.dirname(require.resolve(s.pkg, { paths: [__dirname] })), 'models');
  s.version = local(`${s.pkg}/package.json`).version;
}
const OpenApiUtil = local('@alicloud/openapi-util').default;

/* The parameters every RPC request carries (Alibaba's "common request
 * parameters"); RegionId is not one of them: a request model lists it. */
const COMMON = new Set(['Action', 'Version', 'Format', 'AccessKeyId', 'SignatureMethod',
  'SignatureVersion', 'SignatureNonce', 'Timestamp', 'Signature', 'SecurityToken',
  'SignatureType', 'ResourceOwnerAccount']);

function requestClass(svc, action) {
  const c = svc.mod[`${action}Request`];
  return c && typeof c.names === 'function' ? c : null;
}
function responseClass(svc, action) {
  const c = svc.mod[`${action}ResponseBody`];
  return c && typeof c.names === 'function' ? c : null;
}

/* field -> wire name, wire name -> {field, type} of a model class */
const wireCache = new Map();
function wireOf(cls) {
  let w = wireCache.get(cls);
  if (w) return w;
  w = new Map();
  const names = cls.names(), types = cls.types();
  for (const f of Object.keys(names)) w.set(names[f], { field: f, type: types[f] });
  wireCache.set(cls, w);
  return w;
}

/* Required wire names of a request class, from its .d.ts doc comments. */
const requiredCache = new Map();
function requiredOf(svc, cls) {
  if (requiredCache.has(cls)) return requiredCache.get(cls);
  const out = new Set();
  let files = [];
  try {
    files = fs.readdirSync(svc.dir).filter((f) => f.toLowerCase() === `${cls.name.toLowerCase()}.d.ts`);
  } catch (e) { /* no declarations: nothing known to be required */ }
  for (const f of files) {
    const text = fs.readFileSync(path.join(svc.dir, f), 'utf8');
    const start = text.indexOf(`export declare class ${cls.name} extends`);
    if (start < 0) continue;
    const end = text.indexOf('\n}', start);
    const body = text.slice(start, end < 0 ? undefined : end);
    const re = /\/\*\*([\s\S]*?)\*\/\s*([A-Za-z0-9_]+)\?:/g;
    let m;
    const names = cls.names();
    while ((m = re.exec(body)) !== null)
      if (/This parameter is required\./.test(m[1]) && names[m[2]]) out.add(names[m[2]]);
  }
  requiredCache.set(cls, out);
  return out;
}

function typeName(t) {
  if (typeof t === 'string') return t;
  if (typeof t === 'function') return t.name;
  if (t && t.type === 'array') return `array of ${typeName(t.itemType)}`;
  return t && t.type ? t.type : String(t);
}

const NUMBER_RE = /^-?(\d+)(\.\d+)?$/;

/* Check a leaf value against a primitive type; returns why not, or null. */
function checkLeaf(type, key, value) {
  if (type === 'number' || type === 'integer' || type === 'long')
    return NUMBER_RE.test(value) ? null : `${key}=${JSON.stringify(value)} is not a number (the model says ${type})`;
  if (type === 'boolean')
    return value === 'true' || value === 'false' ? null : `${key}=${JSON.stringify(value)} is not a boolean`;
  if (type === 'string' || type === 'any') return null;
  return `${key}: the model's type ${typeName(type)} takes no plain value`;
}

/*
 * Decode one flattened parameter `key` (already split at dots: parts) into
 * `obj` by the model class `cls`; returns a list of problems.
 */
function decodeInto(cls, obj, parts, key, value, problems) {
  const w = wireOf(cls).get(parts[0]);
  if (!w) {
    problems.push(`unknown parameter ${key} (${cls.name} has no ${parts[0]})`);
    return;
  }
  let t = w.type;
  let rest = parts.slice(1);
  const wire = parts[0];
  if (t && t.type === 'array') {
    if (rest.length === 0 || !/^[1-9]\d*$/.test(rest[0])) {
      problems.push(`${key}: ${wire} is a list (${typeName(t)}); it is sent as ${wire}.1, ${wire}.2 ...`);
      return;
    }
    const i = Number(rest[0]);
    if (i > 1000) { problems.push(`${key}: index ${i} is out of range`); return; }
    const arr = obj[wire] || (obj[wire] = []);
    rest = rest.slice(1);
    const it = t.itemType;
    if (typeof it === 'function') {
      if (rest.length === 0) { problems.push(`${key}: an item of ${wire} is a ${it.name}, not a value`); return; }
      const o = arr[i - 1] || (arr[i - 1] = {});
      decodeInto(it, o, rest, key, value, problems);
      return;
    }
    if (rest.length) { problems.push(`${key}: items of ${wire} are ${typeName(it)}`); return; }
    const why = checkLeaf(it, key, value);
    if (why) problems.push(why);
    arr[i - 1] = value;
    return;
  }
  if (t && t.type === 'map') { obj[wire] = obj[wire] || {}; obj[wire][rest.join('.')] = value; return; }
  if (typeof t === 'function') {
    if (rest.length === 0) { problems.push(`${key}: ${wire} is a ${t.name}; send its members as ${wire}.<Name>`); return; }
    const o = obj[wire] || (obj[wire] = {});
    decodeInto(t, o, rest, key, value, problems);
    return;
  }
  if (rest.length) { problems.push(`${key}: ${wire} is a ${typeName(t)} and has no members`); return; }
  const why = checkLeaf(t, key, value);
  if (why) problems.push(why);
  obj[wire] = value;
}

/*
 * The action's request decoded from its parameters (a Map of wire key ->
 * value, common parameters removed), checked against the model.  Returns
 * {args, problems}; args is a nested object with wire names (lists as
 * arrays, with holes where an index was skipped: a problem too).
 */
function decode(svc, action, params) {
  const problems = [];
  const cls = requestClass(svc, action);
  if (!cls) return { args: {}, problems: [`unknown action ${action} in ${svc.pkg}`] };
  const args = {};
  for (const [k, v] of params) {
    if (COMMON.has(k)) continue;
    decodeInto(cls, args, k.split('.'), k, v, problems);
  }
  const holes = (o, where) => {
    for (const [k, v] of Object.entries(o)) {
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          if (v[i] === undefined) problems.push(`${where}${k}.${i + 1} is missing (lists count from 1 without gaps)`);
          else if (v[i] && typeof v[i] === 'object') holes(v[i], `${where}${k}.${i + 1}.`);
        }
      } else if (v && typeof v === 'object') holes(v, `${where}${k}.`);
    }
  };
  holes(args, '');
  for (const r of requiredOf(svc, cls))
    if (!(r in args)) problems.push(`required parameter ${r} is missing`);
  return { args, problems };
}

/* Check an answer the double built against the response body model. */
function checkAnswer(cls, obj, where, problems) {
  if (!cls) return;
  const w = wireOf(cls);
  for (const [k, v] of Object.entries(obj)) {
    const e = w.get(k);
    if (!e) { problems.push(`${where}${k} is not in ${cls.name}`); continue; }
    const t = e.type;
    if (v === null || v === undefined) continue;
    if (typeof t === 'function') {
      if (typeof v !== 'object' || Array.isArray(v)) problems.push(`${where}${k} should be a ${t.name}`);
      else checkAnswer(t, v, `${where}${k}.`, problems);
    } else if (t && t.type === 'array') {
      if (!Array.isArray(v)) { problems.push(`${where}${k} should be a list`); continue; }
      v.forEach((x, i) => {
        if (typeof t.itemType === 'function') checkAnswer(t.itemType, x, `${where}${k}[${i}].`, problems);
        else if (typeof x !== (t.itemType === 'number' ? 'number' : t.itemType === 'boolean' ? 'boolean' : 'string'))
          problems.push(`${where}${k}[${i}] should be a ${t.itemType}`);
      });
    } else if (t === 'number' && typeof v !== 'number') problems.push(`${where}${k} should be a number`);
    else if (t === 'boolean' && typeof v !== 'boolean') problems.push(`${where}${k} should be a boolean`);
    else if (t === 'string' && typeof v !== 'string') problems.push(`${where}${k} should be a string`);
  }
}

/* The signature the SDK computes for these parameters (Signature left out). */
function signature(params, method, secret) {
  const p = {};
  for (const [k, v] of params) if (k !== 'Signature') p[k] = v;
  return OpenApiUtil.getRPCSignature(p, method, secret);
}

module.exports = { SERVICES, COMMON, requestClass, responseClass, decode, checkAnswer, signature };
