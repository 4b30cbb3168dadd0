"""monitor_common.py - what the monitoring checks (tests/monitor_*_check.py)
share: free ports, HTTP, servers started as children that die with the
check, skips for missing Debian packages, and a remote-write 1.0 encoder of
its own (protobuf by hand, snappy by python3-snappy) so a collector is fed
by something other than Barista's encoder.
"""
import hashlib
import hmac
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request

SKIP = 77


def missing(check, what):
    """A reference component is missing: skip (77), or fail under
    BARISTA_REQUIRE_DOUBLES=1 (./dev test installs everything)."""
    if os.environ.get("BARISTA_REQUIRE_DOUBLES") == "1":
        print(f"{check}: {what} is missing (BARISTA_REQUIRE_DOUBLES=1)")
        sys.exit(1)
    print(f"{check}: {what} is missing; skipped")
    sys.exit(SKIP)


def find_program(name, *paths):
    for p in (shutil.which(name),) + paths:
        if p and os.path.exists(p):
            return p
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url, data=None, headers=None, timeout=10, method=None):
    """(status, body bytes); HTTP errors are answers, not exceptions."""
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def die_with_parent():
    # a child goes when the check goes, even if ctest kills the check
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def start(cmd, log_path, ready, timeout=30, env=None):
    """Start cmd (output to log_path) and wait until ready() is true; the
    process, or AssertionError with its log."""
    log = open(log_path, "ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, preexec_fn=die_with_parent,
                            env=env)
    log.close()
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        try:
            if ready():
                return proc
        except OSError:
            pass
        time.sleep(0.1)
    stop(proc)
    raise AssertionError(f"{cmd[0]} did not start: " +
                         open(log_path, errors="replace").read()[-3000:])


def stop(proc, sig=signal.SIGTERM, timeout=15):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_for(what, pred, timeout, every=0.2):
    """pred()'s first true value within timeout seconds, else AssertionError."""
    end = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


# ---- remote-write 1.0 (prometheus/prompb remote.proto, types.proto) ----

def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num, wire, payload):
    key = _varint((num << 3) | wire)
    if wire == 2:
        return key + _varint(len(payload)) + payload
    return key + payload


def write_request(series):
    """A WriteRequest of series [(labels dict, [(t_ms, value), ...])]; labels
    are sorted here as remote-write requires."""
    out = bytearray()
    for labels, samples in series:
        ts = bytearray()
        for k in sorted(labels):
            ts += _field(1, 2, _field(1, 2, k.encode()) + _field(2, 2, labels[k].encode()))
        for t, v in samples:
            ts += _field(2, 2, _field(1, 1, struct.pack("<d", v)) +
                         _field(2, 0, _varint(t & 0xFFFFFFFFFFFFFFFF)))
        out += _field(1, 2, bytes(ts))
    return bytes(out)


def rw_body(series):
    import snappy
    return snappy.compress(write_request(series))


RW_HEADERS = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
              "X-Prometheus-Remote-Write-Version": "0.1.0"}


def push_token(secret, ns, mci):
    """What apply writes into an agent's config (monitor/token.c)."""
    mac = hmac.new(secret.encode(), f"push:{ns}/{mci}".encode(), hashlib.sha256).hexdigest()
    return f"{ns}/{mci}.{mac}"


def admin_token(secret):
    return "admin." + hmac.new(secret.encode(), b"admin", hashlib.sha256).hexdigest()


def run_check(name, fn, barista, deadline, prefix):
    """Run fn(barista, tmp) in a fresh temporary directory within deadline
    seconds (SIGALRM, and SIGTERM from ctest, end it with an error, so its
    own clean-up runs); on failure print the tail of every *.log it left;
    the directory goes either way.  Returns the exit status."""
    import tempfile

    def out_of_time(*_):
        raise AssertionError(f"over {deadline} s")
    signal.signal(signal.SIGALRM, out_of_time)
    signal.signal(signal.SIGTERM, out_of_time)
    signal.alarm(deadline)
    tmp = tempfile.mkdtemp(prefix=prefix)
    ok = False
    try:
        fn(os.path.abspath(barista), tmp)
        ok = True
    finally:
        if not ok:
            for n in sorted(os.listdir(tmp)):
                if n.endswith(".log"):
                    text = open(os.path.join(tmp, n), errors="replace").read()[-4000:]
                    print(f"--- {n}:\n{text}")
        shutil.rmtree(tmp, ignore_errors=True)
        signal.alarm(0)
    print(f"{name}: ok")
    return 0


class Receivers:
    """The alarm receivers, real and local: an HTTP server keeping every POST
    by path (the webhook at /hook, Slack's format at /slack), Debian's
    python3-aiosmtpd as an SMTP server writing a Maildir, and Debian's
    prometheus-alertmanager.  BAR_TEST_SLACK_URL is set for a collector
    started afterwards (the Slack URL is a credential).  stop() ends them."""

    def __init__(self, check, tmp):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        am_bin = find_program("prometheus-alertmanager", "/usr/bin/prometheus-alertmanager")
        if not am_bin:
            missing(check, "prometheus-alertmanager")
        try:
            import aiosmtpd  # noqa: F401
        except ImportError:
            missing(check, "python3-aiosmtpd")
        self.got, self.lock = [], threading.Lock()
        recv = self

        class Sink(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with recv.lock:
                    recv.got.append((self.path, body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass
        self.sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
        threading.Thread(target=self.sink.serve_forever, daemon=True).start()
        self.hook = f"http://127.0.0.1:{self.sink.server_address[1]}"
        os.environ["BAR_TEST_SLACK_URL"] = self.hook + "/slack"
        self.smtp_port, self.am_port = free_port(), free_port()
        self.maildir = os.path.join(tmp, "mail")
        self.smtp = self.am = None
        self.smtp = start([sys.executable, "-m", "aiosmtpd", "-n", "-l",
                           f"127.0.0.1:{self.smtp_port}", "-c", "aiosmtpd.handlers.Mailbox",
                           self.maildir], os.path.join(tmp, "smtp.log"),
                          lambda: socket.create_connection(("127.0.0.1", self.smtp_port), 1))
        amconf = os.path.join(tmp, "am.yml")
        with open(amconf, "w") as f:
            f.write("route:\n  receiver: none\nreceivers:\n  - name: none\n")
        self.am_url = f"http://127.0.0.1:{self.am_port}"
        self.am = start([am_bin, f"--config.file={amconf}", f"--storage.path={tmp}/am",
                         f"--web.listen-address=127.0.0.1:{self.am_port}",
                         "--cluster.listen-address="], os.path.join(tmp, "am.log"),
                        lambda: http(self.am_url + "/-/ready", timeout=2)[0] == 200)

    def posts(self, path):
        """The JSON bodies POSTed to path."""
        import json
        with self.lock:
            return [json.loads(b) for p, b in self.got if p == path]

    def mails(self, word):
        """The e-mails whose subject has word."""
        import email
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir, sub)
            for n in os.listdir(d) if os.path.isdir(d) else []:
                with open(os.path.join(d, n), "rb") as f:
                    msg = email.message_from_bytes(f.read())
                if word in msg["Subject"]:
                    out.append(msg)
        return out

    def am_alerts(self, alarm):
        """The active alerts of alarm that Alertmanager holds."""
        import json
        import urllib.parse
        status, body = http(self.am_url + "/api/v2/alerts?" + urllib.parse.urlencode(
            {"active": "true", "inhibited": "false", "silenced": "false",
             "unprocessed": "true"}))
        return [a for a in json.loads(body) if a["labels"].get("alarm") == alarm]

    def stop(self):
        stop(self.am)
        stop(self.smtp)
        self.sink.shutdown()
