#!/usr/bin/python3
"""run.py - run a command against a cloud API double (tests/doubles/README.md).

    run.py [--timeout S] [--expect-violations] [--stats FILE]
           --double PROGRAM [ARG...] -- COMMAND [ARG...]

Starts the double with `--port-file F --violations F --stats F` added to its
arguments, waits for it to say its port, runs COMMAND with `@ENDPOINT@`
(http://127.0.0.1:PORT) and `@PORT@` replaced in every argument, stops the
double, and then judges:

  - COMMAND failed                      -> its exit status
  - the double recorded violations      -> 1, each printed (a request that
    (a request against the published     does not fit the cloud's published
    schema, a bad signature)             API fails the test even when the
                                         driver coped with the 400 it got)
  - --expect-violations and none        -> 1 (the double's own self-test:
                                         a wrong request must be caught)
  - the double crashed                  -> 1

A double that cannot find the published models it validates against exits
77 before it listens; run.py then exits 77 (ctest: skipped) unless
BARISTA_REQUIRE_DOUBLES=1 (set by ./dev test), where that is a failure.
Everything is bounded by --timeout (default 300 s) and the double is killed
whatever happens.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time


def usage(msg):
    sys.stderr.write("run.py: %s\nusage: run.py [--timeout S] [--expect-violations] "
                     "[--stats FILE] --double PROGRAM [ARG...] -- COMMAND [ARG...]\n" % msg)
    sys.exit(2)


def parse(argv):
    opts = {"timeout": 300.0, "expect": False, "stats": None, "double": None}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--timeout":
            opts["timeout"] = float(argv[i + 1])
            i += 2
        elif a == "--expect-violations":
            opts["expect"] = True
            i += 1
        elif a == "--stats":
            opts["stats"] = argv[i + 1]
            i += 2
        elif a == "--double":
            try:
                sep = argv.index("--", i)
            except ValueError:
                usage("no -- before the command")
            opts["double"] = argv[i + 1:sep]
            opts["command"] = argv[sep + 1:]
            break
        else:
            usage("unknown option %s" % a)
    if not opts["double"] or not opts.get("command"):
        usage("a double and a command are needed")
    return opts


def stop(proc, grace=5.0):
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait()


def main():
    opts = parse(sys.argv[1:])
    deadline = time.monotonic() + opts["timeout"]
    with tempfile.TemporaryDirectory(prefix="barista-double-") as tmp:
        port_file = os.path.join(tmp, "port")
        viol_file = os.path.join(tmp, "violations")
        stats_file = opts["stats"] or os.path.join(tmp, "stats.json")
        cmd = opts["double"] + ["--port-file", port_file, "--violations", viol_file,
                                "--stats", stats_file]
        double = subprocess.Popen(cmd, start_new_session=True)
        try:
            return run(opts, double, port_file, viol_file, deadline)
        finally:
            rc = stop(double)
            if rc not in (0, -signal.SIGTERM, None) and rc != 77:
                sys.stderr.write("run.py: the double exited with %s\n" % rc)


def run(opts, double, port_file, viol_file, deadline):
    port = None
    start_by = min(deadline, time.monotonic() + 60)
    while time.monotonic() < start_by:
        if os.path.exists(port_file):
            text = open(port_file).read().strip()
            if text.isdigit():
                port = int(text)
                break
        rc = double.poll()
        if rc is not None:
            if rc == 77 and os.environ.get("BARISTA_REQUIRE_DOUBLES") != "1":
                return 77
            sys.stderr.write("run.py: the double exited with %d before it listened\n" % rc)
            return 1
        time.sleep(0.05)
    if port is None:
        sys.stderr.write("run.py: the double did not listen within 60 s\n")
        return 1
    endpoint = "http://127.0.0.1:%d" % port
    command = [a.replace("@ENDPOINT@", endpoint).replace("@PORT@", str(port))
               for a in opts["command"]]
    env = dict(os.environ, BARISTA_DOUBLE_ENDPOINT=endpoint)
    try:
        rc = subprocess.run(command, env=env,
                            timeout=max(1.0, deadline - time.monotonic())).returncode
    except subprocess.TimeoutExpired:
        sys.stderr.write("run.py: the command ran past %.0f s\n" % opts["timeout"])
        return 1
    crashed = stop(double) not in (0, -signal.SIGTERM)
    violations = []
    if os.path.exists(viol_file):
        for line in open(viol_file):
            line = line.strip()
            if line:
                violations.append(json.loads(line))
    for v in violations:
        sys.stderr.write("double: %s %s: %s\n" % (v.get("operation", "?"),
                                                  v.get("where", ""), v.get("why", "")))
    if rc != 0:
        return rc
    if crashed:
        sys.stderr.write("run.py: the double did not stop cleanly\n")
        return 1
    if opts["expect"]:
        if not violations:
            sys.stderr.write("run.py: expected the double to catch a bad request; "
                             "it caught none\n")
            return 1
        print("# the double caught %d bad request(s), as expected" % len(violations))
        return 0
    if violations:
        sys.stderr.write("run.py: %d request(s) did not fit the published API\n"
                         % len(violations))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
