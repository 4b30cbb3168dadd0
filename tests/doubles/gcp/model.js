'use strict';
/*
 * model.js - Compute Engine v1 as @google-cloud/compute publishes it
 * (build/protos/protos.json): every RPC's google.api.http binding (verb +
 * path template, body field), its request message (path and query
 * parameters) and the messages and enums of bodies and answers.  validate*
 * report each misfit through `bad(where, why)`; nothing here is written by
 * hand about the API but the mapping rules of proto3 JSON and of HTTP
 * transcoding (google/api/http.proto).
 */

const SYSTEM_PARAMS = new Set(['alt', 'fields', 'prettyPrint', 'quotaUser', '$.xgafv']);

function load(protos) {
  const v1 = protos.nested.google.nested.cloud.nested.compute.nested.v1.nested;
  const routes = [];
  for (const [svc, def] of Object.entries(v1)) {
    if (!def.methods) continue;
    for (const [name, m] of Object.entries(def.methods)) {
      const o = m.options || {};
      for (const verb of ['get', 'post', 'put', 'patch', 'delete']) {
        const tpl = o[`(google.api.http).${verb}`];
        if (!tpl) continue;
        const params = [];
        let literal = 0;
        const re = tpl.replace(/\{([a-z_]+)(?:=([^}]*))?\}|([^{]+)/g, (all, p, pat, lit) => {
          if (lit) { literal += lit.length; return lit.replace(/[.*+?^$()|[\]\\]/g, '\\$&'); }
          params.push(snakeToCamel(p));
          if (!pat || pat === '*') return '([^/]+)';
          return '(' + pat.split('/').map((s) => (s === '**' ? '.+' : s === '*' ? '[^/]+' : s))
            .join('/') + ')';
        });
        routes.push({ service: svc, method: name, verb: verb.toUpperCase(), tpl,
                      re: new RegExp('^' + re + '$'), params, literal,
                      body: o['(google.api.http).body'] ? snakeToCamel(o['(google.api.http).body']) : null,
                      request: m.requestType, response: m.responseType });
      }
    }
  }
  routes.sort((a, b) => b.literal - a.literal);
  return { v1, routes };
}

function snakeToCamel(s) {
  return s.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
}

function route(model, verb, path) {
  for (const r of model.routes) {
    if (r.verb !== verb) continue;
    const m = r.re.exec(path);
    if (!m) continue;
    const params = {};
    r.params.forEach((p, i) => { params[p] = decodeURIComponent(m[i + 1]); });
    return { r, params };
  }
  return null;
}

function resolve(model, scope, type) {
  if (scope && scope.nested && scope.nested[type]) return scope.nested[type];
  const parts = type.split('.');
  let t = model.v1[parts[0]];
  for (const p of parts.slice(1)) t = t && t.nested && t.nested[p];
  return t || null;
}

const INT_RE = /^-?\d+$/;
function checkScalar(type, v, where, bad) {
  switch (type) {
    case 'string': case 'bytes':
      if (typeof v !== 'string') bad(where, `want a string, got ${JSON.stringify(v)}`);
      return;
    case 'bool':
      if (typeof v !== 'boolean') bad(where, `want a boolean, got ${JSON.stringify(v)}`);
      return;
    case 'int32': case 'uint32': case 'sint32': case 'fixed32': case 'sfixed32':
      if (!(Number.isInteger(v) || (typeof v === 'string' && INT_RE.test(v))))
        bad(where, `want an integer, got ${JSON.stringify(v)}`);
      else if (type.startsWith('u') && Number(v) < 0) bad(where, 'want an unsigned integer');
      return;
    case 'int64': case 'uint64': case 'sint64': case 'fixed64': case 'sfixed64':
      /* proto3 JSON: a decimal string (or a number) */
      if (!((typeof v === 'string' && INT_RE.test(v)) || Number.isInteger(v)))
        bad(where, `want an int64 (a decimal string), got ${JSON.stringify(v)}`);
      return;
    case 'double': case 'float':
      if (typeof v !== 'number') bad(where, `want a number, got ${JSON.stringify(v)}`);
      return;
    default:
      return 'message';
  }
}

/* Check JSON value v against message `typeName` (proto3 JSON mapping). */
function validateMessage(model, typeName, v, where, bad, scope) {
  const t = resolve(model, scope, typeName);
  if (!t) { bad(where, `the model has no type ${typeName}`); return; }
  if (t.values) {
    if (typeof v !== 'string' || !(v in t.values))
      bad(where, `want one of the enum ${typeName}: ${Object.keys(t.values).slice(0, 8).join(', ')}..., got ${JSON.stringify(v)}`);
    return;
  }
  if (typeName === 'google.protobuf.Any') return;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    bad(where, `want an object (${typeName}), got ${JSON.stringify(v)}`);
    return;
  }
  const names = jsonNames(t);
  for (const [k, val] of Object.entries(v)) {
    const f = names[k];
    const w = `${where}.${k}`;
    if (!f) { bad(w, `${typeName} has no field "${k}"`); continue; }
    validateField(model, f, val, w, bad, t);
  }
}

function validateField(model, f, val, w, bad, scope) {
  const one = (x, ww) => {
    if (checkScalar(f.type, x, ww, bad) === 'message')
      validateMessage(model, f.type, x, ww, bad, scope);
  };
  if (f.keyType) {
    if (val === null || typeof val !== 'object' || Array.isArray(val)) {
      bad(w, `want a map (object), got ${JSON.stringify(val)}`);
      return;
    }
    for (const [mk, mv] of Object.entries(val)) one(mv, `${w}[${JSON.stringify(mk)}]`);
  } else if (f.rule === 'repeated') {
    if (!Array.isArray(val)) { bad(w, `want a list, got ${JSON.stringify(val)}`); return; }
    val.forEach((x, i) => one(x, `${w}[${i}]`));
  } else {
    one(val, w);
  }
}

/* A message's fields by their JSON names: the json_name option, else the
 * lowerCamelCase of the proto name (protos.json of 7.8.0 already keeps
 * camelCase names, e.g. IPProtocol, autoCreateSubnetworks; snake_case ones
 * would be converted). */
function jsonNames(t) {
  if (!t._jsonNames) {
    const m = {};
    for (const [k, f] of Object.entries(t.fields || {}))
      m[(f.options && f.options.json_name) || snakeToCamel(k)] = f;
    Object.defineProperty(t, '_jsonNames', { value: m, enumerable: false });
  }
  return t._jsonNames;
}

function isRequired(f) {
  return (f.options || {})['(google.api.field_behavior)'] === 'REQUIRED';
}

/* A request: path parameters, query parameters (names, types, required),
 * the body (against the body field's message). */
function validateRequest(model, m, query, bodyText, bad) {
  const reqType = model.v1[m.r.request];
  const fields = jsonNames(reqType);
  const seen = new Set(Object.keys(m.params));
  for (const [k, vals] of Object.entries(query)) {
    if (SYSTEM_PARAMS.has(k)) continue;
    const f = fields[k];
    const w = `query ${k}`;
    if (!f || k === m.r.body || m.params[k] !== undefined) {
      bad(w, `${m.r.request} has no query parameter "${k}"`);
      continue;
    }
    if (vals.length > 1 && f.rule !== 'repeated') bad(w, 'given more than once');
    seen.add(k);
    for (const v of vals) {
      const t = resolve(model, reqType, f.type);
      if (t && t.values) { if (!(v in t.values)) bad(w, `not a value of ${f.type}: ${v}`); continue; }
      switch (f.type) {
        case 'string': break;
        case 'bool': if (v !== 'true' && v !== 'false') bad(w, `want true or false, got ${v}`); break;
        case 'int32': case 'uint32': case 'int64': case 'uint64':
          if (!INT_RE.test(v) || (f.type[0] === 'u' && v.startsWith('-'))) bad(w, `want an integer, got ${v}`);
          break;
        default: bad(w, `a query parameter of type ${f.type}`);
      }
    }
  }
  let body;
  if (m.r.body) {
    seen.add(m.r.body);
    if (!bodyText.length) {
      if (isRequired(fields[m.r.body])) bad('body', `${m.r.service}.${m.r.method} needs a ${fields[m.r.body].type} body`);
    } else {
      try { body = JSON.parse(bodyText); } catch (e) { bad('body', `not JSON: ${e.message}`); }
      if (body !== undefined) validateMessage(model, fields[m.r.body].type, body, 'body', bad, reqType);
    }
  } else if (bodyText.length) {
    bad('body', `${m.r.service}.${m.r.method} takes no body`);
  }
  for (const [k, f] of Object.entries(fields))
    if (isRequired(f) && !seen.has(k)) bad(`query ${k}`, `required parameter "${k}" missing`);
  return body;
}

module.exports = { load, route, validateRequest, validateMessage, snakeToCamel };
