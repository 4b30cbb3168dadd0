"""common.py - what every Python cloud double shares (tests/doubles/README.md).

A double is an HTTP server on 127.0.0.1 that stands in for one cloud's API.
It keeps resources in memory, checks every request against the cloud's
*published* API (a model loaded at start from a Debian or npm package) and
answers in the shapes that model gives.  This module gives it:

  - the command line every double takes (run.py adds the first three):
      --port-file F    write the port here once listening
      --violations F   append one JSON line per request that broke the model
      --stats F        write {"requests", "serve_s", "by_operation"} at exit
      --port N         listen on N (default: any free port)
      --seed-vms N     start with N running VMs (for bench/driver_refresh)
      --region R       the region those VMs are in
      --page-size N    the most items a list page holds (default: the API's)
  - a threading server whose handler calls double.handle(req) -> Response;
  - the slow path: a request whose path starts with /_slow/ waits 2 s
    before it is handled (the conformance suite's -wait-config points the
    driver's endpoint there, so that cancellation and deadlines are seen);
  - GET /_double/stats (live statistics) and POST /_double/reset-stats,
    which are not part of any cloud API and are not counted;
  - violation(): record that a request broke the published API.  The
    double also answers such a request with the cloud's own error for it
    (400), but run.py fails the test whatever the driver made of that.
"""
import argparse
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLOW_PREFIX = "/_slow"
SLOW_SECONDS = 2.0
MAX_BODY = 16 << 20


def arguments(description, extra=None):
    """Parse the common command line; `extra(parser)` may add options."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--port-file")
    p.add_argument("--violations")
    p.add_argument("--stats")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--seed-vms", type=int, default=0)
    p.add_argument("--region", default="")
    p.add_argument("--page-size", type=int, default=0)
    if extra:
        extra(p)
    return p.parse_args()


def missing_model(what):
    """The published model is not installed: say so and exit 77 (skipped)."""
    sys.stderr.write("double: %s is not installed (./dev deps installs it)\n" % what)
    sys.exit(77)


class Request:
    def __init__(self, method, path, query, headers, body, raw_path):
        self.method = method
        self.path = path          # without the /_slow prefix and the query
        self.query = query        # the raw query string ("" when none)
        self.headers = headers    # {lower-case name: value}
        self.body = body          # bytes
        self.raw_path = raw_path  # as received, with prefix and query


class Response:
    def __init__(self, status=200, body=b"", headers=None, operation=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode()
        self.headers = headers or {}
        self.operation = operation  # for the statistics


class Double:
    """Base class: subclasses implement handle(req) -> Response."""

    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.stats_lock = threading.Lock()
        self.requests = 0
        self.serve_s = 0.0
        self.by_operation = {}
        self.n_violations = 0

    # -- to be implemented --
    def handle(self, req):
        raise NotImplementedError

    # -- helpers --
    def violation(self, operation, where, why):
        """Record a request that does not fit the published API."""
        with self.stats_lock:
            self.n_violations += 1
        line = json.dumps({"operation": operation, "where": where, "why": why})
        sys.stderr.write("double: VIOLATION %s\n" % line)
        if self.args.violations:
            with open(self.args.violations, "a") as f:
                f.write(line + "\n")

    def stats(self):
        with self.stats_lock:
            return {"requests": self.requests, "serve_s": round(self.serve_s, 6),
                    "violations": self.n_violations, "by_operation": dict(self.by_operation)}

    def count(self, operation, seconds):
        with self.stats_lock:
            self.requests += 1
            self.serve_s += seconds
            self.by_operation[operation] = self.by_operation.get(operation, 0) + 1

    def reset_stats(self):
        with self.stats_lock:
            self.requests = 0
            self.serve_s = 0.0
            self.by_operation = {}


def serve(double):
    """Listen, write the port file, serve until SIGTERM, write the stats."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            # answers go out whole: no Nagle wait on an answer's last segment
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, fmt, *a):
            pass

        def do(self):
            t0 = time.perf_counter()
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self.send_error(413)
                return
            body = self.rfile.read(length) if length else b""
            raw = self.path
            path, _, query = raw.partition("?")
            if path == "/_double/stats":
                self.answer(Response(200, json.dumps(double.stats())))
                return
            if path == "/_double/reset-stats":
                double.reset_stats()
                self.answer(Response(204))
                return
            if path.startswith(SLOW_PREFIX + "/") or path == SLOW_PREFIX:
                time.sleep(SLOW_SECONDS)
                path = path[len(SLOW_PREFIX):] or "/"
            headers = {k.lower(): v for k, v in self.headers.items()}
            req = Request(self.command, path, query, headers, body, raw)
            try:
                resp = double.handle(req)
            except Exception as e:  # a bug of the double: answer 500, record it
                double.violation("?", raw, "the double failed: %r" % (e,))
                resp = Response(500, json.dumps({"error": "double failed"}))
            # the serving time includes handing the answer to the socket
            self.answer(resp)
            t1 = time.perf_counter()
            double.count(resp.operation or "%s %s" % (self.command, path), t1 - t0)

        def answer(self, resp):
            try:
                self.send_response(resp.status)
                for k, v in resp.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(resp.body)))
                self.end_headers()
                if resp.body and self.command != "HEAD":
                    self.wfile.write(resp.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (cancellation): nothing to do

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128

    srv = Server(("127.0.0.1", double.args.port), Handler)
    port = srv.server_address[1]

    def on_term(signum, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    if double.args.port_file:
        tmp = double.args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, double.args.port_file)
    sys.stderr.write("double: listening on 127.0.0.1:%d\n" % port)
    try:
        srv.serve_forever(poll_interval=0.1)
    finally:
        srv.server_close()
        if double.args.stats:
            with open(double.args.stats, "w") as f:
                json.dump(double.stats(), f)
