#!/usr/bin/env python3
"""monitor_wire_check.py - monitor/wire.h held to reference implementations.

    monitor_wire_check.py snappy   TEST_WIRE
    monitor_wire_check.py victoria TEST_WIRE
    monitor_wire_check.py promtool TEST_WIRE

TEST_WIRE is tests/test_wire.c's program, whose helper modes do the
encoding.  The references are Debian's packages:

  snappy    python3-snappy (Google's libsnappy) uncompresses what
            bar_snappy_compress makes, and bar_snappy_uncompress what
            libsnappy makes, on random, repetitive and remote-write data.
  victoria  victoria-metrics, started on a free port with a temporary
            -storageDataPath, takes a bar_rw_encode body on /api/v1/write
            (with the remote-write 1.0 headers) and gives back every sample,
            value, timestamp and label set, on /api/v1/export.
  promtool  prometheus's `promtool check metrics` accepts the whole metric
            catalogue rendered in the text format, and python3-prometheus-
            client's parser reads the escaped label values and the special
            values back as they were.

A missing package skips the check (exit 77) unless BARISTA_REQUIRE_DOUBLES=1
(./dev test), when it fails.  Everything started is stopped and everything
made is removed, also on failure; each check bounds its own time.
"""
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import monitor_common  # noqa: E402
from monitor_common import die_with_parent, free_port, http  # noqa: E402

DEADLINE = 120  # seconds for any one check, under ctest's TIMEOUT


def missing(what):
    monitor_common.missing("monitor_wire_check", what)


def run(cmd, data=b"", timeout=60):
    return subprocess.run(cmd, input=data, capture_output=True, timeout=timeout)


def check_snappy(test_wire):
    try:
        import snappy
    except ImportError:
        missing("python3-snappy")
    rng = random.Random(8)
    fixture_dir = tempfile.mkdtemp(prefix="bar-wire-snappy-")
    try:
        body = os.path.join(fixture_dir, "body")
        r = run([test_wire, "rw-fixture", "1700000000000", body])
        assert r.returncode == 0, r.stderr.decode()
        with open(body, "rb") as f:
            rw = snappy.uncompress(f.read())  # libsnappy reads our body
    finally:
        shutil.rmtree(fixture_dir)
    words = [b"cpu", b"memory", b"series", b"sample", b"label", b"the", b"value"]
    inputs = {
        "empty": b"",
        "one byte": b"x",
        "random 100": rng.randbytes(100),
        "random 70000": rng.randbytes(70000),
        "random 1M": rng.randbytes(1 << 20),
        "zeros 1M": bytes(1 << 20),
        "abc 200000": b"abc" * 66667,
        "text 300000": b" ".join(rng.choice(words) for _ in range(60000)),
        "remote-write request": rw,
        "remote-write x8": rw * 8,
    }
    failures = 0
    for name, data in inputs.items():
        ours = run([test_wire, "snappy-compress"], data)
        if ours.returncode != 0:
            print(f"{name}: bar_snappy_compress failed: {ours.stderr.decode()}")
            failures += 1
            continue
        try:
            back = snappy.uncompress(ours.stdout)
        except Exception as e:  # libsnappy refuses the stream
            print(f"{name}: libsnappy refuses our stream: {e}")
            failures += 1
            continue
        if back != data:
            print(f"{name}: libsnappy reads back something else")
            failures += 1
        theirs = snappy.compress(data)
        r = run([test_wire, "snappy-uncompress"], theirs)
        if r.returncode != 0 or r.stdout != data:
            print(f"{name}: bar_snappy_uncompress on libsnappy's stream: "
                  f"rc {r.returncode} {r.stderr.decode().strip()}")
            failures += 1
        # ours must compress about as well as the reference
        if len(data) >= 100000 and len(ours.stdout) > 1.1 * len(theirs) + 64:
            print(f"{name}: {len(ours.stdout)} bytes, libsnappy {len(theirs)}")
            failures += 1
        print(f"{name}: {len(data)} bytes -> ours {len(ours.stdout)}, libsnappy {len(theirs)}")
    # what libsnappy refuses, we refuse: a damaged stream
    damaged = bytearray(snappy.compress(rw))
    damaged[len(damaged) // 2] ^= 0xFF
    damaged = bytes(damaged[: len(damaged) - 3])
    r = run([test_wire, "snappy-uncompress"], damaged)
    if r.returncode != 1 or b"byte " not in r.stderr:
        print(f"damaged stream: rc {r.returncode} {r.stderr.decode().strip()}")
        failures += 1
    return failures


def check_victoria(test_wire):
    vm = shutil.which("victoria-metrics") or (
        "/usr/bin/victoria-metrics" if os.path.exists("/usr/bin/victoria-metrics") else None)
    if not vm:
        missing("victoria-metrics")
    start = time.time()
    tmp = tempfile.mkdtemp(prefix="bar-wire-vm-")
    proc = None
    log = open(os.path.join(tmp, "vm.log"), "wb")
    try:
        for attempt in range(3):  # a free port may be taken before VM binds it
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            proc = subprocess.Popen(
                [vm, f"-httpListenAddr=127.0.0.1:{port}",
                 f"-storageDataPath={tmp}/data", "-retentionPeriod=1y",
                 "-loggerLevel=ERROR"],
                stdout=log, stderr=log, preexec_fn=die_with_parent)
            while time.time() - start < 30 and proc.poll() is None:
                try:
                    if http(base + "/health", timeout=2)[0] == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.1)
            if proc.poll() is None:
                break
            proc = None
        if proc is None or proc.poll() is not None:
            raise AssertionError("victoria-metrics did not start: " +
                                 open(os.path.join(tmp, "vm.log"), errors="replace").read())

        # samples from 10 minutes ago, well inside the retention
        base_ms = (int(time.time()) - 600) * 1000
        body = os.path.join(tmp, "body")
        r = run([test_wire, "rw-fixture", str(base_ms), body])
        assert r.returncode == 0, r.stderr.decode()
        want = {}
        for line in r.stdout.decode().splitlines():
            s = json.loads(line)
            want[json.dumps(s["metric"], sort_keys=True)] = list(
                zip(s["timestamps"], s["values"]))
        with open(body, "rb") as f:
            status, answer = http(base + "/api/v1/write", f.read(), {
                "Content-Encoding": "snappy",
                "Content-Type": "application/x-protobuf",
                "X-Prometheus-Remote-Write-Version": "0.1.0",
                "User-Agent": "barista-test/0.1"})
        assert status == 204, f"/api/v1/write answered {status}: {answer!r}"

        got = {}
        query = urllib.parse.urlencode({"match[]": '{__name__=~"barista_wiretest_.+"}'})
        while time.time() - start < DEADLINE - 10:
            http(base + "/internal/force_flush")
            status, answer = http(f"{base}/api/v1/export?{query}")
            assert status == 200, f"/api/v1/export answered {status}: {answer!r}"
            got = {}
            for line in answer.decode().splitlines():
                s = json.loads(line)
                key = json.dumps(s["metric"], sort_keys=True)
                got.setdefault(key, []).extend(zip(s["timestamps"], s["values"]))
            if sum(map(len, got.values())) >= sum(map(len, want.values())):
                break
            time.sleep(0.5)
        failures = 0
        for key, samples in want.items():
            have = sorted(got.get(key, []))
            if have != sorted(samples):
                missing_samples = sorted(set(samples) - set(have))[:5]
                print(f"series {key}: {len(have)} of {len(samples)} samples as sent; "
                      f"e.g. not found: {missing_samples}")
                failures += 1
        for key in set(got) - set(want):
            print(f"series not sent came back: {key}")
            failures += 1
        print(f"victoria-metrics: {len(want)} series, "
              f"{sum(map(len, want.values()))} samples sent, "
              f"{sum(map(len, got.values()))} read back")
        return failures
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


TRICKY_MOUNT = '/mnt/a "quoted" dir\\with\nnewline \u00e9'


def check_promtool(test_wire):
    promtool = shutil.which("promtool") or (
        "/usr/bin/promtool" if os.path.exists("/usr/bin/promtool") else None)
    if not promtool:
        missing("promtool (Debian's prometheus)")
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        missing("python3-prometheus-client")
    r = run([test_wire, "catalogue"])
    assert r.returncode == 0, r.stderr.decode()
    text = r.stdout
    failures = 0
    p = run([promtool, "check", "metrics"], text)
    out = (p.stdout + p.stderr).decode().strip()
    if p.returncode != 0 or out:
        print(f"promtool check metrics: rc {p.returncode}\n{out}")
        failures += 1
    # promtool must refuse what is broken, or its verdict says nothing
    p = run([promtool, "check", "metrics"], text + b'broken{a="b} 1\n')
    if p.returncode == 0:
        print("promtool accepted a broken line")
        failures += 1

    families = list(text_string_to_metric_families(text.decode()))
    types = [ln.split()[2] for ln in text.decode().splitlines() if ln.startswith("# TYPE ")]
    if [f.name for f in families] != types:
        print(f"parsed families {[f.name for f in families]} != TYPE lines {types}")
        failures += 1
    mounts = {s.labels.get("mount") for f in families for s in f.samples}
    if TRICKY_MOUNT not in mounts:
        print(f"the escaped mount label did not read back: {mounts}")
        failures += 1
    special = {s.labels["case"]: s.value for f in families if f.name == "barista_wiretest_special"
               for s in f.samples}
    want = {"1": float("inf"), "2": float("-inf"), "3": 1e6, "4": 1.5e-7, "5": 0.0}
    if not math.isnan(special.get("0", 0.0)) or any(special.get(k) != v for k, v in want.items()):
        print(f"special values read back as {special}")
        failures += 1
    helps = {f.name: f.documentation for f in families}
    if helps.get("barista_wiretest_special") != "Special values: \\ and\nlines":
        print(f"escaped help read back as {helps.get('barista_wiretest_special')!r}")
        failures += 1
    print(f"promtool: {len(families)} families, {sum(len(f.samples) for f in families)} samples")
    return failures


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("snappy", "victoria", "promtool"):
        print(__doc__.split("\n\n")[1])
        return 2
    def out_of_time(signum, frame):
        raise TimeoutError(f"signal {signum} (deadline {DEADLINE} s)")

    # cleanup (the finally blocks) runs on our deadline and on ctest's SIGTERM
    signal.signal(signal.SIGALRM, out_of_time)
    signal.signal(signal.SIGTERM, out_of_time)
    signal.alarm(DEADLINE)
    check = {"snappy": check_snappy, "victoria": check_victoria, "promtool": check_promtool}
    failures = check[sys.argv[1]](sys.argv[2])
    if failures:
        print(f"monitor_wire_check {sys.argv[1]}: {failures} failures")
        return 1
    print(f"monitor_wire_check {sys.argv[1]}: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
