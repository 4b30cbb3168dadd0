'use strict';
/*
 * model.js - the published ARM models the Azure double validates against.
 *
 * The classic AutoRest-generated SDK packages (@azure/arm-compute 22.4.0,
 * @azure/arm-network 33.5.0, @azure/arm-resources 5.2.0,
 * @azure/arm-resources-subscriptions 2.1.0, @azure/arm-authorization 9.0.0,
 * pinned in package.json) carry each operation as an `OperationSpec` (path
 * template, HTTP method, query/URL/header parameters with their mappers,
 * the request body mapper, response mappers per status) and every model as
 * a declarative `Mapper` (serializedName, type Composite / Sequence /
 * Dictionary / String / Number / Boolean / Enum ..., required, readOnly,
 * constraints).  The specs are module-local constants of the package's own
 * JavaScript, so this loader compiles the package file again as a CommonJS
 * module with one line appended that exports those constants: nothing of
 * the model is written here.
 *
 * validate(mapper, value, mode) walks a value against a mapper the way the
 * wire format has it (flattened "properties.x" names are nested objects)
 * and returns a list of problems: an unknown property, a wrong type, a
 * required member missing, a constraint broken, or (mode "request") a
 * read-only property sent.
 */
const fs = require('fs');
const path = require('path');
const Module = require('module');

const PACKAGES = [
  '@azure/arm-compute', '@azure/arm-network', '@azure/arm-resources',
  '@azure/arm-resources-subscriptions', '@azure/arm-authorization',
];
/* Placeholders that stand for a whole sub-path: the generic "any resource"
 * operations of arm-resources and the nextLink of list-next.  A spec with
 * one would match every request; the double leaves them out. */
const GENERIC = new Set(['resourceId', 'scope', 'nextLink', 'resourceProviderNamespace',
  'parentResourcePath', 'resourceType', 'resourceName', 'roleScope']);

/* Compile a package's JavaScript file again, exporting its OperationSpecs. */
function loadSpecsOf(file) {
  const src = fs.readFileSync(file, 'utf8');
  const names = [...new Set([...src.matchAll(/^const ([A-Za-z0-9_$]*OperationSpec[A-Za-z0-9_$]*) = \{/gm)]
    .map((m) => m[1]))];
  if (!names.length) return [];
  const m = new Module(file, module);
  m.filename = file;
  m.paths = Module._nodeModulePaths(path.dirname(file));
  m._compile(`${src}\n;module.exports.__baristaSpecs = {${names.join(',')}};\n`, file);
  return Object.entries(m.exports.__baristaSpecs).map(([n, s]) => ({ name: n, spec: s }));
}

function packageFiles(pkg) {
  const main = require.resolve(pkg);
  const dir = path.dirname(main);
  const ops = path.join(dir, 'operations');
  if (fs.existsSync(ops)) /* one CommonJS file per operation group (arm-compute 22) */
    return fs.readdirSync(ops).filter((f) => f.endsWith('.js')).map((f) => path.join(ops, f));
  return [main]; /* one bundle (arm-network 33, arm-resources 5 ...) */
}

function escapeRe(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); }

/* Every operation of the packages: {pkg, name, method, template, re, params, spec, literal}. */
function loadOperations() {
  const ops = [];
  for (const pkg of PACKAGES) {
    const version = require(`${pkg}/package.json`).version;
    for (const file of packageFiles(pkg)) {
      for (const { name, spec } of loadSpecsOf(file)) {
        if (!spec.path || !spec.httpMethod) continue;
        const params = [...spec.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
        if (params.some((p) => GENERIC.has(p))) continue;
        const re = new RegExp('^' + spec.path.split(/\{[^}]+\}/).map(escapeRe).join('([^/]+)') + '$', 'i');
        const group = path.basename(file, '.js');
        ops.push({ pkg: `${pkg}@${version}`, name: `${group === 'index' ? '' : group + '.'}${name.replace(/OperationSpec.*$/, '')}`,
                   method: spec.httpMethod, template: spec.path, re, params, spec,
                   literal: spec.path.replace(/\{[^}]+\}/g, '').length });
      }
    }
  }
  ops.sort((a, b) => b.literal - a.literal);
  return ops;
}

/* The operation a request is, with its URL parameters decoded; null if none. */
function route(ops, method, urlPath) {
  for (const op of ops) {
    if (op.method !== method) continue;
    const m = op.re.exec(urlPath);
    if (!m) continue;
    const values = {};
    op.params.forEach((p, i) => { values[p] = decodeURIComponent(m[i + 1]); });
    return { op, values };
  }
  return null;
}

function splitName(s) {
  /* "properties.hardwareProfile"; a dot escaped as "\\." belongs to the name */
  const out = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && s[i + 1] === '.') { cur += '.'; i++; } else if (s[i] === '.') { out.push(cur); cur = ''; } else cur += s[i];
  }
  out.push(cur);
  return out;
}

class Validator {
  /* Model names repeat across packages (arm-compute and arm-network both
   * have a NetworkProfile): a className is resolved in the mappers of the
   * package whose operation is being checked (forPackage). */
  constructor(ops) {
    this.byPkg = {};
    for (const op of ops) {
      const s = op.spec.serializer;
      if (s && s.modelMappers) this.byPkg[op.pkg] = Object.assign(this.byPkg[op.pkg] || {}, s.modelMappers);
    }
    this.mappers = {};
    this.pkg = '';
    this.trees = new Map();
  }

  forPackage(pkg) { this.pkg = pkg; this.mappers = this.byPkg[pkg] || {}; return this; }

  composite(mapper) {
    const t = mapper.type;
    let props = t.modelProperties;
    let extra = t.additionalProperties;
    if (!props && t.className && this.mappers[t.className]) {
      props = this.mappers[t.className].type.modelProperties;
      extra = extra || this.mappers[t.className].type.additionalProperties;
    }
    return { props: props || {}, extra, className: t.className };
  }

  /* The wire shape of a Composite: nested nodes from the flattened names. */
  tree(mapper) {
    const key = mapper.type.className ? `${this.pkg} ${mapper.type.className}` : mapper;
    if (this.trees.has(key)) return this.trees.get(key);
    const { props, extra } = this.composite(mapper);
    const root = { kids: {}, extra };
    for (const [prop, pm] of Object.entries(props)) {
      if (!pm.serializedName) continue;
      const segs = splitName(pm.serializedName);
      let node = root;
      for (let i = 0; i < segs.length - 1; i++) {
        node.kids[segs[i]] = node.kids[segs[i]] || { kids: {}, prop: null };
        node = node.kids[segs[i]];
      }
      const leaf = segs[segs.length - 1];
      node.kids[leaf] = Object.assign(node.kids[leaf] || { kids: {} }, { prop: pm, name: prop });
    }
    this.trees.set(key, root);
    return root;
  }

  validate(mapper, value, mode, where = '', errs = []) {
    if (value === undefined || value === null) return errs;
    const t = mapper.type || {};
    const bad = (why) => errs.push(`${where || 'body'}: ${why}`);
    if (mapper.isConstant && mapper.defaultValue !== undefined && value !== mapper.defaultValue)
      bad(`must be the constant ${JSON.stringify(mapper.defaultValue)}`);
    switch (t.name) {
    case 'Composite': {
      if (typeof value !== 'object' || Array.isArray(value)) { bad(`expected an object (${t.className})`); break; }
      this.walk(this.tree(mapper), value, mode, where, errs, t.className);
      break;
    }
    case 'Sequence':
      if (!Array.isArray(value)) { bad('expected an array'); break; }
      value.forEach((v, i) => this.validate(t.element, v, mode, `${where}[${i}]`, errs));
      break;
    case 'Dictionary':
      if (typeof value !== 'object' || Array.isArray(value)) { bad('expected an object (dictionary)'); break; }
      for (const [k, v] of Object.entries(value)) this.validate(t.value, v, mode, `${where}.${k}`, errs);
      break;
    case 'String': case 'Uuid': case 'ByteArray': case 'Base64Url': case 'TimeSpan':
      if (typeof value !== 'string') bad(`expected a string, got ${JSON.stringify(value)}`);
      break;
    case 'DateTime': case 'Date': case 'DateTimeRfc1123':
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) bad('expected a date-time string');
      break;
    case 'Number': case 'UnixTime':
      if (typeof value !== 'number') bad(`expected a number, got ${JSON.stringify(value)}`);
      break;
    case 'Boolean':
      if (typeof value !== 'boolean') bad(`expected a boolean, got ${JSON.stringify(value)}`);
      break;
    case 'Enum':
      if (!t.allowedValues.includes(value)) bad(`${JSON.stringify(value)} is not one of ${t.allowedValues.join(', ')}`);
      break;
    default:
      break; /* Object, Stream: anything */
    }
    this.constraints(mapper.constraints, value, bad);
    return errs;
  }

  walk(node, value, mode, where, errs, cls) {
    for (const [k, v] of Object.entries(value)) {
      const kid = node.kids[k];
      const w = `${where}${where ? '.' : ''}${k}`;
      if (!kid) {
        if (!node.extra) errs.push(`${w}: unknown property (not in ${cls})`);
        continue;
      }
      if (kid.prop) {
        if (mode === 'request' && kid.prop.readOnly && v !== undefined && v !== null)
          errs.push(`${w}: read-only, a client does not send it`);
        this.validate(kid.prop, v, mode, w, errs);
      } else if (v !== null && (typeof v !== 'object' || Array.isArray(v))) {
        errs.push(`${w}: expected an object`);
      } else if (v) {
        this.walk(kid, v, mode, w, errs, cls);
      }
    }
    for (const [k, kid] of Object.entries(node.kids)) {
      if (!kid.prop || !kid.prop.required || kid.prop.readOnly) continue;
      if (value[k] === undefined || value[k] === null) errs.push(`${where}${where ? '.' : ''}${k}: required, missing`);
    }
  }

  constraints(c, value, bad) {
    if (!c) return;
    if (typeof value === 'string') {
      if (c.MaxLength !== undefined && value.length > c.MaxLength) bad(`longer than ${c.MaxLength}`);
      if (c.MinLength !== undefined && value.length < c.MinLength) bad(`shorter than ${c.MinLength}`);
      if (c.Pattern && !new RegExp(c.Pattern).test(value)) bad(`does not match ${c.Pattern}`);
    }
    if (typeof value === 'number') {
      if (c.InclusiveMaximum !== undefined && value > c.InclusiveMaximum) bad(`above ${c.InclusiveMaximum}`);
      if (c.InclusiveMinimum !== undefined && value < c.InclusiveMinimum) bad(`below ${c.InclusiveMinimum}`);
    }
    if (Array.isArray(value)) {
      if (c.MaxItems !== undefined && value.length > c.MaxItems) bad(`more than ${c.MaxItems} items`);
      if (c.MinItems !== undefined && value.length < c.MinItems) bad(`fewer than ${c.MinItems} items`);
    }
  }
}

module.exports = { PACKAGES, loadOperations, route, Validator };
