#!/usr/bin/env node
// k8s_double.js - a Kubernetes API server double for the "kubernetes"
// MC-App runtime's tests (tests/k8s_runtime.sh starts it).
//
// It stands in for a control plane, which cannot run on this machine, and
// holds every request to the published API: each object body is validated
// with the kubernetes-models npm package (the OpenAPI schemas of the
// Kubernetes API, compiled to validators), and an invalid one is answered
// 422 with a Status (reason Invalid, details.causes) as the API server does.
// Unknown paths are 404, PATCH must be a server-side apply
// (application/apply-patch+yaml with fieldManager), requests need a bearer
// token or a client certificate signed by --client-ca (401 Status without),
// and it speaks HTTPS only.
//
// Served: apps/v1 deployments, v1 services, configmaps,
// persistentvolumeclaims (apply, GET, LIST with an equality labelSelector,
// DELETE) and a read-only pods list made up from the Deployments.  A
// Deployment's rollout is simulated: --rollout-ms after a template change it
// is updated and available; an image containing "does-not-exist" never is,
// its pods wait on ErrImagePull, and after --progress-deadline-ms (standing
// in for spec.progressDeadlineSeconds, to keep tests short) Progressing turns
// False with reason ProgressDeadlineExceeded.
//
// Apply is simplified: Barista is the only field manager, so the applied
// configuration (with the server's defaults) becomes the object's spec/data;
// generation bumps when the spec changes.
//
// Test-only endpoints (no auth): GET /_test/log (every request so far),
// GET /_test/violations (requests answered 400/405/413/415/422, or 404 for a
// path the API does not have), GET /_test/rollouts (template changes per
// Deployment), POST
// /_test/scale?namespace=&name=&replicas= (another actor changes replicas).
//
//   node k8s_double.js --models DIR --cert F --key F --client-ca F
//        --token T [--token T...] --port-file F [--rollout-ms N]
//        [--progress-deadline-ms N]
'use strict';

const fs = require('fs');
const https = require('https');
const path = require('path');
const crypto = require('crypto');

function parseArgs(argv) {
  const o = { tokens: [], rolloutMs: 500, deadlineMs: 1500 };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i], v = argv[i + 1];
    if (k === '--models') o.models = v;
    else if (k === '--cert') o.cert = v;
    else if (k === '--key') o.key = v;
    else if (k === '--client-ca') o.clientCa = v;
    else if (k === '--token') o.tokens.push(v);
    else if (k === '--port-file') o.portFile = v;
    else if (k === '--rollout-ms') o.rolloutMs = Number(v);
    else if (k === '--progress-deadline-ms') o.deadlineMs = Number(v);
    else { console.error('k8s_double: unknown option ' + k); process.exit(2); }
  }
  return o;
}

const opts = parseArgs(process.argv.slice(2));
let models;
try {
  const base = path.resolve(opts.models, 'node_modules', 'kubernetes-models');
  models = {
    apps: require(path.join(base, 'apps', 'v1')),
    core: require(path.join(base, 'v1')),
  };
} catch (e) {
  console.error('k8s_double: cannot load kubernetes-models from ' + opts.models + ': ' + e.message);
  process.exit(77);
}

// resource -> what the API knows of it
const RESOURCES = {
  deployments: { prefix: '/apis/apps/v1', apiVersion: 'apps/v1', kind: 'Deployment',
                 group: 'apps', model: models.apps.Deployment },
  services: { prefix: '/api/v1', apiVersion: 'v1', kind: 'Service', group: '',
              model: models.core.Service },
  configmaps: { prefix: '/api/v1', apiVersion: 'v1', kind: 'ConfigMap', group: '',
                model: models.core.ConfigMap },
  persistentvolumeclaims: { prefix: '/api/v1', apiVersion: 'v1', kind: 'PersistentVolumeClaim',
                            group: '', model: models.core.PersistentVolumeClaim },
};
const NAMESPACES = new Set(['default', 'kube-system']);

const store = new Map(); // "resource/ns/name" -> {obj, rolloutStart, prevAvailable}
const log = [];
const rollouts = {}; // "ns/name" -> template changes
// requests that do not fit the published API (a bad body, content type or
// path), as opposed to answers a client must expect (404 of an object, 401)
const violations = [];
let resourceVersion = 1000;

function status(code, reason, message, details) {
  const s = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message,
              reason, code };
  if (details) s.details = details;
  return s;
}

function qualified(r) {
  return r.group ? 'deployments.apps' : r === RESOURCES.services ? 'services'
    : r === RESOURCES.configmaps ? 'configmaps' : 'persistentvolumeclaims';
}

function notFound(r, name) {
  return [404, status(404, 'NotFound', `${qualified(r)} "${name}" not found`,
    { name, group: r.group, kind: qualified(r).split('.')[0] })];
}

// ---- server-side defaults, as the API server fills them ----------------

function canonCpu(q) {
  const m = /^([0-9]+(?:\.[0-9]+)?)(m?)$/.exec(q);
  if (!m) return q;
  const milli = Math.round(Number(m[1]) * (m[2] ? 1 : 1000));
  return milli % 1000 === 0 ? String(milli / 1000) : milli + 'm';
}

function canonResources(res) {
  for (const part of ['requests', 'limits'])
    if (res && res[part] && typeof res[part].cpu === 'string')
      res[part].cpu = canonCpu(res[part].cpu);
}

function defaults(kind, obj) {
  const spec = obj.spec;
  if (kind === 'Deployment') {
    if (spec.replicas === undefined) spec.replicas = 1;
    if (spec.revisionHistoryLimit === undefined) spec.revisionHistoryLimit = 10;
    if (spec.progressDeadlineSeconds === undefined) spec.progressDeadlineSeconds = 600;
    spec.strategy = spec.strategy || { type: 'RollingUpdate',
                                       rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } };
    const pod = spec.template.spec;
    pod.restartPolicy = pod.restartPolicy || 'Always';
    pod.dnsPolicy = pod.dnsPolicy || 'ClusterFirst';
    for (const c of pod.containers || []) {
      c.terminationMessagePath = c.terminationMessagePath || '/dev/termination-log';
      c.imagePullPolicy = c.imagePullPolicy || (/:latest$|^[^:]*$/.test(c.image) ? 'Always'
                                                                                : 'IfNotPresent');
      for (const p of c.ports || []) p.protocol = p.protocol || 'TCP';
      canonResources(c.resources);
    }
  } else if (kind === 'Service') {
    spec.type = spec.type || 'ClusterIP';
    spec.sessionAffinity = spec.sessionAffinity || 'None';
    for (const p of spec.ports || []) p.protocol = p.protocol || 'TCP';
  } else if (kind === 'PersistentVolumeClaim') {
    spec.volumeMode = spec.volumeMode || 'Filesystem';
  }
}

// ---- validation ---------------------------------------------------------

// The model's own validate() against the published schema; its errors as
// the causes of a 422 Status.
function validate(r, body, name) {
  try {
    new r.model(body).validate();
    return null;
  } catch (e) {
    const causes = (e.errors || []).map((x) => ({
      reason: x.keyword === 'required' ? 'FieldValueRequired' : 'FieldValueInvalid',
      message: x.message + (x.params && x.params.missingProperty
        ? ' (' + x.params.missingProperty + ')' : ''),
      field: x.instancePath.replace(/^\//, '').replace(/\//g, '.'),
    }));
    const what = causes.map((c) => `${c.field}: ${c.message}`).join(', ') || e.message;
    const gk = r.group ? `${r.kind}.${r.group}` : r.kind;
    return [422, status(422, 'Invalid', `${gk} "${name}" is invalid: ${what}`,
      { name, group: r.group, kind: r.kind, causes })];
  }
}

// ---- rollout simulation ------------------------------------------------

function rsName(dep) {
  const h = crypto.createHash('sha256').update(JSON.stringify(dep.spec.template)).digest('hex');
  return dep.metadata.name + '-' + h.slice(0, 10);
}

function badImage(dep) {
  return (dep.spec.template.spec.containers || []).some((c) => /does-not-exist/.test(c.image || ''));
}

function deploymentStatus(e) {
  const dep = e.obj, want = dep.spec.replicas, now = Date.now();
  const gen = dep.metadata.generation, rs = rsName(dep);
  const since = now - e.rolloutStart;
  const st = { observedGeneration: gen, replicas: want, updatedReplicas: 0,
               readyReplicas: e.prevAvailable, availableReplicas: e.prevAvailable };
  const cond = (type, s, reason, message) => ({ type, status: s, reason, message,
    lastUpdateTime: new Date(e.rolloutStart).toISOString(),
    lastTransitionTime: new Date(e.rolloutStart).toISOString() });
  if (badImage(dep)) {
    st.updatedReplicas = 1;
    st.replicas = e.prevAvailable + 1;
    st.unavailableReplicas = st.replicas - e.prevAvailable;
    st.conditions = [cond('Available', e.prevAvailable >= want - 1 ? 'True' : 'False',
                          e.prevAvailable >= want - 1 ? 'MinimumReplicasAvailable'
                                                      : 'MinimumReplicasUnavailable',
                          'Deployment does not have minimum availability.')];
    if (since >= opts.deadlineMs)
      st.conditions.push(cond('Progressing', 'False', 'ProgressDeadlineExceeded',
                              `ReplicaSet "${rs}" has timed out progressing.`));
    else
      st.conditions.push(cond('Progressing', 'True', 'ReplicaSetUpdated',
                              `ReplicaSet "${rs}" is progressing.`));
  } else if (since >= opts.rolloutMs) {
    Object.assign(st, { updatedReplicas: want, readyReplicas: want, availableReplicas: want });
    e.prevAvailable = want;
    st.conditions = [
      cond('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.'),
      cond('Progressing', 'True', 'NewReplicaSetAvailable',
           `ReplicaSet "${rs}" has successfully progressed.`)];
  } else {
    st.conditions = [cond('Progressing', 'True', 'ReplicaSetUpdated',
                          `ReplicaSet "${rs}" is progressing.`)];
  }
  return st;
}

function view(res, e) {
  const o = JSON.parse(JSON.stringify(e.obj));
  if (res === 'deployments') o.status = deploymentStatus(e);
  if (res === 'services') o.status = { loadBalancer: {} };
  if (res === 'persistentvolumeclaims') o.status = { phase: 'Bound' };
  return o;
}

function pods(ns, selector) {
  const items = [];
  for (const [key, e] of store) {
    const [res, ens] = key.split('/');
    if (res !== 'deployments' || ens !== ns) continue;
    const dep = e.obj, tpl = dep.spec.template;
    if (!matches(tpl.metadata && tpl.metadata.labels, selector)) continue;
    deploymentStatus(e);
    const rs = rsName(dep), bad = badImage(dep);
    const n = bad ? 1 : dep.spec.replicas;
    for (let i = 0; i < n; i++) {
      const c = tpl.spec.containers[0];
      const state = bad
        ? { waiting: { reason: 'ErrImagePull', message: `rpc error: code = NotFound desc = failed to pull and unpack image "${c.image}": not found` } }
        : { running: { startedAt: new Date(e.rolloutStart).toISOString() } };
      items.push({ apiVersion: 'v1', kind: 'Pod',
        metadata: { name: `${rs}-${i}`, namespace: ns, labels: tpl.metadata.labels },
        status: { phase: bad ? 'Pending' : 'Running',
                  containerStatuses: [{ name: c.name, image: c.image, ready: !bad,
                                        restartCount: 0, state }] } });
    }
  }
  return { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(resourceVersion) },
           items };
}

// ---- label selectors ---------------------------------------------------

function parseSelector(s) {
  if (!s) return [];
  return s.split(',').map((t) => {
    const m = /^([^!=]+?)\s*(==|=|!=)\s*(.*)$/.exec(t.trim());
    if (!m) throw new Error(`unable to parse requirement: "${t}"`);
    return { key: m[1], op: m[2] === '!=' ? 'ne' : 'eq', value: m[3] };
  });
}

function matches(labels, sel) {
  labels = labels || {};
  return sel.every((r) => (r.op === 'eq' ? labels[r.key] === r.value : labels[r.key] !== r.value));
}

// ---- requests ----------------------------------------------------------

function authenticated(req) {
  const h = req.headers.authorization || '';
  const m = /^Bearer (.+)$/.exec(h);
  if (m) return opts.tokens.includes(m[1]);
  return req.socket.authorized === true;
}

function apply(r, res, ns, name, req, body, query) {
  const ctype = (req.headers['content-type'] || '').split(';')[0].trim();
  if (ctype !== 'application/apply-patch+yaml')
    return [415, status(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml (this double implements server-side apply only; got "${ctype}")`)];
  if (!query.get('fieldManager'))
    return [422, status(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      { group: 'meta.k8s.io', kind: 'PatchOptions', causes: [{ reason: 'FieldValueRequired', message: 'Required value: is required for apply patch', field: 'fieldManager' }] })];
  let obj;
  try {
    obj = JSON.parse(body); // JSON is YAML; Barista sends that form
  } catch (e) {
    return [400, status(400, 'BadRequest', 'error decoding YAML: the double reads only the JSON form of YAML: ' + e.message)];
  }
  if (!obj || typeof obj !== 'object' || obj.apiVersion !== r.apiVersion || obj.kind !== r.kind)
    return [400, status(400, 'BadRequest', `the API version in the data (${obj && obj.apiVersion}) does not match the expected API version (${r.apiVersion}) or kind (${obj && obj.kind}) is not ${r.kind}`)];
  const md = obj.metadata || {};
  if (md.name !== name)
    return [400, status(400, 'BadRequest', 'the name of the object (' + md.name + ') does not match the name on the URL (' + name + ')')];
  if (md.namespace !== undefined && md.namespace !== ns)
    return [400, status(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request')];
  const bad = validate(r, obj, name);
  if (bad) return bad;

  const key = `${res}/${ns}/${name}`, now = new Date().toISOString();
  const old = store.get(key);
  const next = JSON.parse(JSON.stringify(obj));
  delete next.status;
  if (next.spec) defaults(r.kind, next);
  next.metadata = Object.assign({}, old ? old.obj.metadata : {
    uid: crypto.randomUUID(), creationTimestamp: now, generation: 1 },
    { name, namespace: ns, labels: md.labels || {}, annotations: md.annotations || {},
      resourceVersion: String(++resourceVersion) });
  if (!md.annotations) delete next.metadata.annotations;
  next.metadata.managedFields = [{ manager: query.get('fieldManager'), operation: 'Apply',
                                   apiVersion: r.apiVersion, time: now }];
  const e = old || { rolloutStart: Date.now(), prevAvailable: 0 };
  if (old && JSON.stringify(old.obj.spec) !== JSON.stringify(next.spec))
    next.metadata.generation = old.obj.metadata.generation + 1;
  if (res === 'deployments') {
    const tplChanged = !old || JSON.stringify(old.obj.spec.template) !== JSON.stringify(next.spec.template);
    if (old) deploymentStatus(old); // settle the availability reached so far
    if (tplChanged || (old && old.obj.spec.replicas !== next.spec.replicas)) e.rolloutStart = Date.now();
    if (tplChanged) rollouts[`${ns}/${name}`] = (rollouts[`${ns}/${name}`] || 0) + 1;
  }
  e.obj = next;
  store.set(key, e);
  return [old ? 200 : 201, view(res, e)];
}

function route(req, body) {
  const url = new URL(req.url, 'https://double');
  const p = url.pathname, q = url.searchParams;

  if (p === '/_test/log') return [200, log];
  if (p === '/_test/rollouts') return [200, rollouts];
  if (p === '/_test/violations') return [200, violations];
  if (p === '/_test/scale' && req.method === 'POST') {
    const e = store.get(`deployments/${q.get('namespace')}/${q.get('name')}`);
    if (!e) return notFound(RESOURCES.deployments, q.get('name'));
    deploymentStatus(e);
    e.obj.spec.replicas = Number(q.get('replicas'));
    e.obj.metadata.generation++;
    e.rolloutStart = Date.now();
    return [200, view('deployments', e)];
  }
  if (!authenticated(req)) return [401, status(401, 'Unauthorized', 'Unauthorized')];

  const m = /^(\/api\/v1|\/apis\/apps\/v1)\/namespaces\/([a-z0-9-]+)\/([a-z]+)(?:\/([a-z0-9.-]+))?$/.exec(p);
  if (m && m[3] === 'pods' && !m[4] && req.method === 'GET' && m[1] === '/api/v1') {
    try {
      return [200, pods(m[2], parseSelector(q.get('labelSelector')))];
    } catch (e) {
      return [400, status(400, 'BadRequest', e.message)];
    }
  }
  const r = m && RESOURCES[m[3]];
  if (!m || !r || r.prefix !== m[1])
    return [404, status(404, 'NotFound', 'the server could not find the requested resource')];
  const ns = m[2], name = m[4], res = m[3];
  if (!NAMESPACES.has(ns))
    return [404, status(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' })];
  const key = `${res}/${ns}/${name}`;

  if (!name && req.method === 'GET') {
    let sel;
    try {
      sel = parseSelector(q.get('labelSelector'));
    } catch (e) {
      return [400, status(400, 'BadRequest', e.message)];
    }
    const items = [];
    for (const [k, e] of store)
      if (k.startsWith(`${res}/${ns}/`) && matches(e.obj.metadata.labels, sel)) items.push(view(res, e));
    return [200, { kind: r.kind + 'List', apiVersion: r.apiVersion,
                   metadata: { resourceVersion: String(resourceVersion) }, items }];
  }
  if (!name) return [405, status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource')];
  if (req.method === 'GET') {
    const e = store.get(key);
    return e ? [200, view(res, e)] : notFound(r, name);
  }
  if (req.method === 'DELETE') {
    const e = store.get(key);
    if (!e) return notFound(r, name);
    store.delete(key);
    return [200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success',
                   details: { name, group: r.group, kind: res, uid: e.obj.metadata.uid } }];
  }
  if (req.method === 'PATCH') return apply(r, res, ns, name, req, body, q);
  return [405, status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource')];
}

const server = https.createServer({
  cert: fs.readFileSync(opts.cert), key: fs.readFileSync(opts.key),
  ca: opts.clientCa ? [fs.readFileSync(opts.clientCa)] : undefined,
  requestCert: true, rejectUnauthorized: false,
}, (req, resp) => {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size <= 4 << 20) chunks.push(c);
  });
  req.on('end', () => {
    let code, answer;
    if (size > 4 << 20) {
      [code, answer] = [413, status(413, 'RequestEntityTooLarge', 'the request is too large')];
    } else {
      try {
        [code, answer] = route(req, Buffer.concat(chunks).toString('utf8'));
      } catch (e) {
        [code, answer] = [500, status(500, 'InternalError', 'double: ' + e.stack)];
      }
    }
    if (!req.url.startsWith('/_test/') &&
        ([400, 405, 413, 415, 422].includes(code) ||
         (code === 404 && answer.message === 'the server could not find the requested resource')))
      violations.push({ method: req.method, url: req.url, code, message: answer.message });
    if (!req.url.startsWith('/_test/'))
      log.push({ method: req.method, path: req.url.split('?')[0], query: req.url.split('?')[1] || '',
                 contentType: req.headers['content-type'] || '', code,
                 reason: answer && answer.kind === 'Status' ? answer.reason || '' : '',
                 available: answer && answer.status && typeof answer.status === 'object'
                   ? answer.status.availableReplicas : undefined });
    const text = JSON.stringify(answer);
    resp.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    resp.end(text);
  });
});

server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(opts.portFile + '.tmp', String(server.address().port));
  fs.renameSync(opts.portFile + '.tmp', opts.portFile);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
