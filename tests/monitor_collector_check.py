#!/usr/bin/env python3
"""monitor_collector_check.py - `barista collector` run as a user runs it,
fed with remote-write bodies made here (tests/monitor_common.py, not
Barista's encoder), and held to real components.

    monitor_collector_check.py CHECK BARISTA

  ingest    pushes of three VMs, read back through /v1/query (avg, max, sum
            across the MCI), /api/v1/query_range (a selector, sum by),
            /api/v1/query, /api/v1/labels and label values, and
            `barista metrics query` (table, -json, -csv), with the values
            the pushes imply
  refuse    what a collector refuses and how: no token, a forged token,
            another MCI's series, bodies that are not snappy or not a
            WriteRequest, a body over the limit, wrong methods and paths;
            each a 4xx with a reason, and the collector serves on
  promtool  the collector's /metrics passes `promtool check metrics`
            (Debian's prometheus) after traffic of every kind
  forward   -forward to a real VictoriaMetrics: every pushed sample
            arrives there (read back on /api/v1/export)
  peers     two collectors, each VM on one: a query to either gives both
  restart   a push acknowledged just before SIGKILL is there after a restart
  alarms    a policy with `cpu.usage > 80 for 2s` pushed with the admin
            token; high values fire it and low ones resolve it, and a
            webhook (an HTTP server here), Slack's format (the same, the URL
            from a credential), e-mail (Debian's python3-aiosmtpd, a real
            SMTP server) and a real prometheus-alertmanager (its v2 API) each
            get the firing and the resolved notice; `barista alarms list
            -json` shows the states and the history

A missing package skips (77) unless BARISTA_REQUIRE_DOUBLES=1.  Everything
started is stopped and every file made is removed, also on failure; each
check bounds its own time.
"""
import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from monitor_common import (RW_HEADERS, admin_token, find_program, free_port, http,  # noqa
                            missing, push_token, run_check, rw_body, start, stop, wait_for,
                            Receivers)

CHECK = "monitor_collector_check"
DEADLINE = 150
SECRET = "0123456789abcdef-test-secret-of-the-check"
NS, MCI = "default", "web"


def need(what, ok):
    if not ok:
        missing(CHECK, what)


class Collector:
    """A `barista collector` child on a port it picked."""

    def __init__(self, barista, tmp, name, extra=(), data=None):
        self.barista, self.tmp, self.name = barista, tmp, name
        self.data = data or os.path.join(tmp, f"{name}.db")
        self.log = os.path.join(tmp, f"{name}.log")
        self.extra = list(extra)
        self.proc = None
        self.base = None

    def start(self, port=0):
        env = dict(os.environ, BAR_TEST_SECRET=SECRET)
        open(self.log, "ab").close()
        seen = os.path.getsize(self.log)

        def ready():
            text = open(self.log, errors="replace").read()[seen:]
            m = re.search(r"listening on port (\d+)", text)
            if m:
                self.base = f"http://127.0.0.1:{m.group(1)}"
            return m is not None
        self.proc = start([self.barista, "collector", "-listen", f"127.0.0.1:{port}",
                           "-data", self.data, "-secret-env", "BAR_TEST_SECRET"] + self.extra,
                          self.log, ready, env=env)
        return self

    def port(self):
        return int(self.base.rsplit(":", 1)[1])

    def stop(self, sig=signal.SIGTERM):
        """Stop it; a clean stop must exit 0 with no sanitizer report in its log
        (the ASan/TSan builds run this check too)."""
        if self.proc is None or self.proc.poll() is not None and self.proc.returncode == 0:
            return
        stop(self.proc, sig)
        rc, self.proc = self.proc.returncode, None
        log = open(self.log, errors="replace").read()
        assert "Sanitizer" not in log, log[-6000:]
        if sig == signal.SIGTERM:
            assert rc == 0, f"the collector exited {rc} on SIGTERM: {log[-3000:]}"

    def get(self, path, **q):
        url = self.base + path + ("?" + urllib.parse.urlencode(q) if q else "")
        status, body = http(url)
        return status, body

    def json(self, path, **q):
        status, body = self.get(path, **q)
        assert status == 200, f"{path} {q}: {status} {body[:500]!r}"
        return json.loads(body)

    def push(self, series, token=None, body=None, headers=None):
        h = dict(RW_HEADERS)
        if token is not False:
            h["Authorization"] = "Bearer " + (token or push_token(SECRET, NS, MCI))
        h.update(headers or {})
        return http(self.base + "/api/v1/write", body if body is not None else rw_body(series),
                    h)


def series_of(metric_prom, vm, samples, **extra):
    labels = {"__name__": metric_prom, "ns": NS, "mci": MCI, "vm": vm}
    labels.update(extra)
    return (labels, samples)


def now_s():
    return int(time.time())


# ---- ingest ----

def check_ingest(barista, tmp):
    c = Collector(barista, tmp, "c1").start()
    try:
        # 60 s of 1 s samples ending 20 s ago, three VMs: vm-i has value
        # 10*i + (t mod 10), so every 10 s step's average is 10*i + 4.5
        end = (now_s() // 10) * 10 - 20
        t0 = end - 60
        series = []
        for i in range(1, 4):
            pts = [((t0 + k) * 1000, float(10 * i + ((t0 + k) % 10))) for k in range(1, 61)]
            series.append(series_of("barista_cpu_usage_percent", f"vm-{i}", pts))
        status, body = c.push(series)
        assert status == 204, f"push: {status} {body!r}"

        q = c.json("/v1/query", metric="cpu.usage", mci=MCI, since="2m", step="10s")
        got = {s["labels"]["vm"]: s for s in q["series"]}
        assert sorted(got) == ["vm-1", "vm-2", "vm-3"], q
        for i in range(1, 4):
            pts = {p[0]: p[1] for p in got[f"vm-{i}"]["points"] if p[1] is not None}
            full = [t for t in pts if t0 * 1000 + 10000 <= t <= end * 1000]
            assert len(full) >= 5, (i, pts)
            for t in full:
                assert abs(pts[t] - (10 * i + 4.5)) < 1e-9, (i, t, pts[t])
        qmax = c.json("/v1/query", metric="cpu.usage", mci=MCI, vm="vm-2", since="2m",
                      step="10s", fn="max")
        vals = [p[1] for p in qmax["series"][0]["points"] if p[1] is not None]
        assert vals and max(vals) == 29.0, vals
        qsum = c.json("/v1/query", metric="cpu.usage", mci=MCI, since="2m", step="10s",
                      aggregate="sum")
        assert len(qsum["series"]) == 1, qsum
        pts = {p[0]: p[1] for p in qsum["series"][0]["points"] if p[1] is not None}
        t = end * 1000
        assert abs(pts[t] - (14.5 + 24.5 + 34.5)) < 1e-9, pts

        # Prometheus' API: a selector and sum by (mci) at end (LAST with lookback)
        r = c.json("/api/v1/query_range", query='barista_cpu_usage_percent{vm="vm-3"}',
                   start=str(end - 30), end=str(end), step="10")
        assert r["status"] == "success" and r["data"]["resultType"] == "matrix", r
        res = r["data"]["result"]
        assert len(res) == 1 and res[0]["metric"]["vm"] == "vm-3", res
        assert [float(v[1]) for v in res[0]["values"]] == [30.0, 30.0, 30.0, 30.0], res
        r = c.json("/api/v1/query_range", query="sum by (mci) (barista_cpu_usage_percent)",
                   start=str(end - 10), end=str(end), step="10")
        res = r["data"]["result"]
        assert len(res) == 1 and res[0]["metric"] == {"mci": MCI}, res
        assert [float(v[1]) for v in res[0]["values"]] == [60.0, 60.0], res
        r = c.json("/api/v1/query", query="max(barista_cpu_usage_percent)", time=str(end))
        assert r["data"]["resultType"] == "vector" and float(r["data"]["result"][0]["value"][1]) == 30.0, r
        labels = c.json("/api/v1/labels")["data"]
        assert {"__name__", "ns", "mci", "vm"} <= set(labels), labels
        vms = c.json("/api/v1/label/vm/values")["data"]
        assert sorted(vms) == ["vm-1", "vm-2", "vm-3"], vms

        # the CLI over the same endpoint
        env = dict(os.environ, BARISTA_COLLECTOR=c.base)
        out = subprocess.run([barista, "metrics", "query", "-mci", MCI, "-metric", "cpu.usage",
                              "-since", "2m", "-step", "10s", "-json"], env=env,
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        j = json.loads(out.stdout)
        assert len(j["series"]) == 3, j
        out = subprocess.run([barista, "metrics", "query", "-mci", MCI, "-vm", "vm-1",
                              "-metric", "cpu.usage", "-since", "2m", "-step", "10s", "-csv"],
                             env=env, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        rows = list(csv.reader(io.StringIO(out.stdout)))
        assert len(rows) > 5 and any(r[-1] == "14.5" for r in rows[1:]), rows
        out = subprocess.run([barista, "metrics", "query", "-mci", MCI, "-metric", "cpu.usage",
                              "-since", "2m", "-step", "10s"], env=env,
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0 and "vm-2" in out.stdout and "24.5" in out.stdout, out.stdout
        out = subprocess.run([barista, "metrics", "query", "-mci", MCI, "-metric", "cpu.nope"],
                             env=env, capture_output=True, text=True, timeout=30)
        assert out.returncode != 0 and "cpu.nope" in out.stderr, out
    finally:
        c.stop()


# ---- refusals ----

def check_refuse(barista, tmp):
    c = Collector(barista, tmp, "c1", extra=["-max-body", "65536"]).start()
    try:
        good = [series_of("barista_load1", "vm-1", [(now_s() * 1000, 1.0)])]

        def refused(want, status_body, why_part):
            status, body = status_body
            assert status == want, f"want {want}, got {status} {body[:300]!r}"
            j = json.loads(body)
            assert j["status"] == "error" and why_part in j["error"], j
            assert SECRET not in body.decode(errors="replace")

        refused(401, c.push(good, token=False), "Bearer")
        forged = push_token(SECRET, NS, MCI)[:-4] + "0000"
        refused(401, c.push(good, token=forged), "token")
        other = [({"__name__": "barista_load1", "ns": NS, "mci": "db", "vm": "x"},
                  [(now_s() * 1000, 1.0)])]
        refused(403, c.push(other), 'mci="db"')
        refused(400, c.push(None, body=b"\xff\xff\xff\xff\x0fnot snappy"), "snappy")
        import snappy
        refused(400, c.push(None, body=snappy.compress(b"\x0a\x05\x0a\x03abc")), "byte")
        refused(415, c.push(good, headers={"Content-Encoding": "gzip"}), "snappy")
        big = [series_of("barista_load1", f"vm-{i}", [(k, float(k)) for k in range(1, 200)])
               for i in range(200)]
        refused(413, c.push(None, body=os.urandom(70000)), "over")
        status, body = http(c.base + "/api/v1/write")
        refused(405, (status, body), "POST")
        refused(404, c.get("/nope"), "docs/monitoring.md")
        refused(400, c.get("/api/v1/query_range", query="rate(x[5m])", start="1", end="2",
                           step="1"), "")
        refused(400, c.get("/v1/query", metric="cpu.usage", since="1h", step="1ms"), "11,000")
        refused(401, (lambda: http(c.base + "/v1/policies/default/p", b"{}",
                                   {"Authorization": "Bearer nope"}, method="PUT"))(), "")
        # and after all that it still takes a good push of many series
        status, body = c.push(big[:50])
        assert status == 204, (status, body)
        status, body = c.push(good)
        assert status == 204, (status, body)
        assert c.get("/healthz")[0] == 200
        m = c.get("/metrics")[1].decode()
        assert re.search(r"^barista_collector_writes_rejected_total [1-9]", m, re.M), m
        assert re.search(r"^barista_collector_writes_denied_total [1-9]", m, re.M), m
    finally:
        c.stop()


def check_promtool(barista, tmp):
    promtool = find_program("promtool", "/usr/bin/promtool")
    need("promtool (Debian's prometheus)", promtool)
    c = Collector(barista, tmp, "c1").start()
    try:
        c.push([series_of("barista_load1", "vm-1", [(now_s() * 1000, 0.5)])])
        c.push([], token=False)
        c.get("/v1/query", metric="load.1", mci=MCI)
        status, body = c.get("/metrics")
        assert status == 200
        r = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                           timeout=30)
        assert r.returncode == 0, (r.stdout + r.stderr).decode() + body.decode()
        assert b"barista_collector_samples_received_total 1" in body, body.decode()
    finally:
        c.stop()


# ---- forwarding ----

def start_victoria(tmp):
    vm = find_program("victoria-metrics", "/usr/bin/victoria-metrics")
    need("victoria-metrics", vm)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start([vm, f"-httpListenAddr=127.0.0.1:{port}", f"-storageDataPath={tmp}/vm",
                  "-retentionPeriod=1y", "-loggerLevel=ERROR"], os.path.join(tmp, "vm.log"),
                 lambda: http(base + "/health", timeout=2)[0] == 200)
    return proc, base


def check_forward(barista, tmp):
    vmproc, vmbase = start_victoria(tmp)
    c = Collector(barista, tmp, "c1", extra=["-forward", vmbase + "/api/v1/write"]).start()
    try:
        t0 = (now_s() - 300) * 1000
        want = {}
        for i in range(5):
            pts = [(t0 + 2000 * k, float((i * 7 + k) % 13) / 4) for k in range(150)]
            want[f"vm-{i}"] = pts
        for k in range(0, 150, 50):  # three pushes, as an agent would
            status, body = c.push([series_of("barista_memory_usage_percent", vm, pts[k:k + 50])
                                   for vm, pts in want.items()])
            assert status == 204, (status, body)

        def arrived():
            http(vmbase + "/internal/force_flush")
            q = urllib.parse.urlencode({"match[]": "barista_memory_usage_percent"})
            status, body = http(f"{vmbase}/api/v1/export?{q}")
            got = {}
            for line in body.decode().splitlines():
                s = json.loads(line)
                got[s["metric"]["vm"]] = list(zip(s["timestamps"], s["values"]))
            return got if sum(map(len, got.values())) >= 750 else None
        got = wait_for("the forwarded samples in VictoriaMetrics", arrived, 60, every=0.5)
        for vm, pts in want.items():
            assert [(t, v) for t, v in got[vm]] == pts, (vm, got[vm][:5], pts[:5])
        m = c.get("/metrics")[1].decode()
        assert re.search(r"^barista_collector_forwarded_samples_total 750$", m, re.M), m
    finally:
        c.stop()
        stop(vmproc)


# ---- peers ----

def check_peers(barista, tmp):
    a = Collector(barista, tmp, "a").start()
    b = Collector(barista, tmp, "b", extra=["-peer", a.base]).start()
    a.stop()
    a.extra = ["-peer", b.base]
    a.start(port=a.port())
    try:
        t = (now_s() // 10) * 10 - 30
        pa = a.push([series_of("barista_load1", "vm-a", [(t * 1000, 1.0), ((t + 10) * 1000, 1.0)])])
        pb = b.push([series_of("barista_load1", "vm-b", [(t * 1000, 2.0), ((t + 10) * 1000, 2.0)])])
        assert pa[0] == 204 and pb[0] == 204, (pa, pb)
        for c in (a, b):
            q = c.json("/v1/query", metric="load.1", mci=MCI, since="2m", step="10s")
            assert sorted(s["labels"]["vm"] for s in q["series"]) == ["vm-a", "vm-b"], q
            q = c.json("/v1/query", metric="load.1", mci=MCI, since="2m", step="10s",
                       local="1")
            assert len(q["series"]) == 1, q
            r = c.json("/api/v1/query", query="sum(barista_load1)", time=str(t + 10))
            assert float(r["data"]["result"][0]["value"][1]) == 3.0, r
        # a peer down: the answer comes with what the others have, and says so
        b.stop()
        q = a.json("/v1/query", metric="load.1", mci=MCI, since="2m", step="10s")
        assert [s["labels"]["vm"] for s in q["series"]] == ["vm-a"], q
        assert "warning" in q or "warnings" in q, q
    finally:
        a.stop()
        b.stop()


def check_restart(barista, tmp):
    c = Collector(barista, tmp, "c1").start()
    try:
        t = now_s() * 1000
        status, _ = c.push([series_of("barista_load1", "vm-1", [(t - 1000, 4.0), (t, 5.0)])])
        assert status == 204
        c.stop(signal.SIGKILL)
        c.start()
        r = c.json("/api/v1/query", query="barista_load1", time=str(t / 1000))
        assert [float(x["value"][1]) for x in r["data"]["result"]] == [5.0], r
    finally:
        c.stop()


# ---- alarms ----

def check_alarms(barista, tmp):
    rx = Receivers(CHECK, tmp)
    hook, smtp_port, am_port = rx.hook, rx.smtp_port, rx.am_port
    got_on = rx.posts
    c = Collector(barista, tmp, "c1").start()
    stop_push = threading.Event()
    level = {"v": 95.0}

    def pusher():  # an agent: a sample of each VM every second
        while not stop_push.is_set():
            t = now_s() * 1000
            c.push([series_of("barista_cpu_usage_percent", "vm-1", [(t, level["v"])]),
                    series_of("barista_cpu_usage_percent", "vm-2", [(t, 10.0)])])
            stop_push.wait(1)
    try:
        policy = {
            "mci": MCI, "storeIntervalSeconds": 1, "intervalSeconds": 1,
            "rawRetentionSeconds": 7200, "retentionSeconds": 86400,
            "coarseRetentionSeconds": 864000,
            "alarms": [{"name": "cpu-high", "metric": "cpu.usage", "op": ">",
                        "threshold": 80, "forSeconds": 2, "aggregate": "none",
                        "severity": "critical", "summary": ""},
                       {"name": "mci-cpu", "metric": "cpu.usage", "op": ">",
                        "threshold": 50, "forSeconds": 2, "aggregate": "avg",
                        "severity": "warning", "summary": "the MCI is busy"}],
            "receivers": [
                {"name": "hook", "type": "webhook", "url": hook + "/hook",
                 "sendResolved": True, "credential": None},
                {"name": "chat", "type": "slack", "url": "", "sendResolved": True,
                 "credential": {"env": {"url": "BAR_TEST_SLACK_URL"}}},
                {"name": "mail", "type": "email", "smtp": f"smtp://127.0.0.1:{smtp_port}",
                 "from": "barista@example.test", "to": ["oncall@example.test"],
                 "sendResolved": True, "credential": None},
                {"name": "am", "type": "alertmanager", "url": f"http://127.0.0.1:{am_port}",
                 "sendResolved": True, "credential": None}],
            "route": {"receivers": ["hook", "chat", "mail", "am"], "groupBy": ["alarm", "mci"],
                      "groupWaitSeconds": 1, "groupIntervalSeconds": 2,
                      "repeatIntervalSeconds": 3600}}
        status, body = http(c.base + "/v1/policies/default/watch", json.dumps(policy).encode(),
                            {"Authorization": "Bearer " + push_token(SECRET, NS, MCI),
                             "Content-Type": "application/json"}, method="PUT")
        assert status in (401, 403), ("a push token must not set policies", status, body)
        status, body = http(c.base + "/v1/policies/default/watch", json.dumps(policy).encode(),
                            {"Authorization": "Bearer " + admin_token(SECRET),
                             "Content-Type": "application/json"}, method="PUT")
        assert status in (200, 204), (status, body)
        # the policy's retention reaches the store (read from its file)
        import sqlite3
        with sqlite3.connect(f"file:{c.data}?mode=ro", uri=True) as db:
            rows = db.execute("SELECT ns, mci, raw, rollup, coarse FROM retention").fetchall()
        assert rows == [(NS, MCI, 7200000, 86400000, 864000000)], rows
        threading.Thread(target=pusher, daemon=True).start()

        def firing(path):
            return lambda: [m for m in got_on(path) if m.get("status") == "firing"]
        def by_alarm(msgs, name):
            return [a for x in msgs for a in x["alerts"] if a["labels"]["alarm"] == name]
        msgs = wait_for("both alarms firing on the webhook",
                        lambda: (lambda m: m if by_alarm(m, "cpu-high") and
                                 by_alarm(m, "mci-cpu") else None)(firing("/hook")()), 40)
        per_vm, per_mci = by_alarm(msgs, "cpu-high"), by_alarm(msgs, "mci-cpu")
        assert [a["labels"]["vm"] for a in per_vm] == ["vm-1"], msgs  # vm-2 stays at 10
        assert "vm" not in per_mci[0]["labels"] and per_mci[0]["labels"]["mci"] == MCI, msgs
        assert per_mci[0]["annotations"]["summary"] == "the MCI is busy", per_mci
        assert all(x["groupLabels"]["alarm"] in ("cpu-high", "mci-cpu") for x in msgs), msgs
        wait_for("the Slack message", lambda: [x for x in got_on("/slack")
                                              if "FIRING" in x.get("text", "")], 20)
        wait_for("the alert in Alertmanager", lambda: rx.am_alerts("cpu-high"), 20)
        mails = rx.mails
        mm = wait_for("a firing e-mail of each alarm", lambda: (lambda m: m if len(m) == 2
                                                               else None)(mails("FIRING")), 20)
        assert all("oncall@example.test" in x["To"] for x in mm), mm
        assert sorted("cpu-high" in x.get_payload() for x in mm) == [False, True], mm

        # while it stays high, no second notice (repeat interval 1 h)
        time.sleep(4)
        assert len(firing("/hook")()) == 2, got_on("/hook")  # one per group

        out = subprocess.run([barista, "alarms", "list", "-json", "-collector", c.base],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        j = json.loads(out.stdout)
        states = {(a["labels"]["alarm"], a["labels"].get("vm")): a["state"] for a in j["alerts"]}
        assert states == {("cpu-high", "vm-1"): "firing", ("mci-cpu", None): "firing"}, j

        level["v"] = 20.0
        wait_for("both resolved on the webhook", lambda: len(
            [x for x in got_on("/hook") if x.get("status") == "resolved"]) == 2, 30)
        wait_for("the resolved Slack message", lambda: [x for x in got_on("/slack")
                                                       if "RESOLVED" in x.get("text", "")], 20)
        wait_for("the resolved e-mail", lambda: mails("RESOLVED"), 20)
        wait_for("the alert resolved in Alertmanager", lambda: not rx.am_alerts("cpu-high"), 30)
        out = subprocess.run([barista, "alarms", "list", "-collector", c.base],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0 and "cpu-high" in out.stdout, out
        j = json.loads(subprocess.run([barista, "alarms", "list", "-json", "-collector", c.base],
                                      capture_output=True, text=True, timeout=30).stdout)
        kinds = [h["state"] for h in j["history"] if h["labels"]["alarm"] == "cpu-high"]
        assert "firing" in kinds and "resolved" in kinds, j["history"]
    finally:
        stop_push.set()
        c.stop()
        rx.stop()


CHECKS = {"ingest": check_ingest, "refuse": check_refuse, "promtool": check_promtool,
          "forward": check_forward, "peers": check_peers, "restart": check_restart,
          "alarms": check_alarms}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in CHECKS:
        print(__doc__)
        return 2
    try:
        import snappy  # noqa: F401
    except ImportError:
        need("python3-snappy", False)

    return run_check(f"{CHECK} {sys.argv[1]}", CHECKS[sys.argv[1]], sys.argv[2], DEADLINE,
                     f"bar-coll-{sys.argv[1]}-")


if __name__ == "__main__":
    sys.exit(main())
