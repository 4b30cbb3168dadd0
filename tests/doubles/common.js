'use strict';
/*
 * common.js - what every Node.js cloud double shares; the same contract as
 * common.py (tests/doubles/README.md): the command line (--port-file,
 * --violations, --stats, --port, --seed-vms, --region, --page-size), the
 * /_slow/ prefix that delays a request by 2 s, GET /_double/stats and POST
 * /_double/reset-stats, violation() for a request that breaks the cloud's
 * published API, and an exit status of 77 when that API's model (an npm
 * package) is not installed.
 *
 * A double module exports handle(req) -> {status, body, headers, operation}
 * (or a Promise of it); req is {method, path, query (URLSearchParams),
 * rawQuery, headers (lower-case), body (Buffer), rawPath}.
 */
const fs = require('fs');
const http = require('http');

const SLOW_PREFIX = '/_slow';
const SLOW_MS = 2000;
const MAX_BODY = 16 << 20;

function parseArgs(argv, extra = {}) {
  const args = { port: 0, seedVms: 0, region: '', pageSize: 0, ...extra };
  const names = {
    '--port-file': 'portFile', '--violations': 'violations', '--stats': 'stats',
    '--port': 'port', '--seed-vms': 'seedVms', '--region': 'region',
    '--page-size': 'pageSize',
  };
  for (let i = 0; i < argv.length; i += 2) {
    let key = names[argv[i]];
    if (!key && argv[i].startsWith('--'))
      key = argv[i].slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!key || i + 1 >= argv.length) {
      process.stderr.write(`double: bad argument ${argv[i]}\n`);
      process.exit(2);
    }
    const v = argv[i + 1];
    args[key] = typeof args[key] === 'number' ? Number(v) : v;
  }
  return args;
}

/* require() a published model, or exit 77 saying what is missing. */
function requireModel(name) {
  try {
    return require(name);
  } catch (e) {
    process.stderr.write(`double: ${name} is not installed (./dev deps installs it): ` +
                         `${e.message.split('\n')[0]}\n`);
    process.exit(77);
  }
}

class Stats {
  constructor() { this.reset(); this.violations = 0; }
  reset() { this.requests = 0; this.serveS = 0; this.byOperation = {}; }
  count(op, seconds) {
    this.requests++;
    this.serveS += seconds;
    this.byOperation[op] = (this.byOperation[op] || 0) + 1;
  }
  json() {
    return { requests: this.requests, serve_s: Number(this.serveS.toFixed(6)),
             violations: this.violations, by_operation: this.byOperation };
  }
}

function makeViolation(args, stats) {
  return (operation, where, why) => {
    stats.violations++;
    const line = JSON.stringify({ operation, where, why });
    process.stderr.write(`double: VIOLATION ${line}\n`);
    if (args.violations) fs.appendFileSync(args.violations, line + '\n');
  };
}

/* Serve `handle` until SIGTERM; write the port file when listening and the
 * stats file at exit. */
function serve(args, stats, violation, handle) {
  const server = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) { res.writeHead(413); res.end(); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', async () => {
      const t0 = process.hrtime.bigint();
      const url = new URL(req.url, 'http://double');
      let path = url.pathname;
      const send = (r) => {
        const body = Buffer.isBuffer(r.body) ? r.body
          : Buffer.from(r.body === undefined ? '' : typeof r.body === 'string' ? r.body
            : JSON.stringify(r.body));
        const headers = { 'Content-Length': body.length, ...(r.headers || {}) };
        if (r.body !== undefined && typeof r.body === 'object' && !Buffer.isBuffer(r.body) &&
            !headers['Content-Type'])
          headers['Content-Type'] = 'application/json';
        res.writeHead(r.status || 200, headers);
        res.end(req.method === 'HEAD' ? undefined : body);
      };
      if (path === '/_double/stats') return send({ body: stats.json() });
      if (path === '/_double/reset-stats') { stats.reset(); return send({ status: 204 }); }
      if (path === SLOW_PREFIX || path.startsWith(SLOW_PREFIX + '/')) {
        await new Promise((r) => setTimeout(r, SLOW_MS));
        path = path.slice(SLOW_PREFIX.length) || '/';
      }
      const headers = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v;
      const q = req.url.indexOf('?');
      const r = { method: req.method, path, query: url.searchParams,
                  rawQuery: q >= 0 ? req.url.slice(q + 1) : '', headers,
                  body: Buffer.concat(chunks), rawPath: req.url };
      let out;
      try {
        out = await handle(r);
      } catch (e) {
        violation('?', req.url, `the double failed: ${e.stack || e}`);
        out = { status: 500, body: { error: 'double failed' } };
      }
      // the serving time includes making the answer's bytes and handing
      // them to the socket, as common.py's does
      if (!res.destroyed) send(out);
      const t1 = process.hrtime.bigint();
      stats.count(out.operation || `${req.method} ${path}`, Number(t1 - t0) / 1e9);
    });
  });
  server.keepAliveTimeout = 30000;
  server.listen(args.port, '127.0.0.1', () => {
    const port = server.address().port;
    if (args.portFile) {
      fs.writeFileSync(args.portFile + '.tmp', `${port}\n`);
      fs.renameSync(args.portFile + '.tmp', args.portFile);
    }
    process.stderr.write(`double: listening on 127.0.0.1:${port}\n`);
  });
  const stop = () => {
    if (args.stats) fs.writeFileSync(args.stats, JSON.stringify(stats.json()));
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

module.exports = { parseArgs, requireModel, Stats, makeViolation, serve, SLOW_PREFIX };
