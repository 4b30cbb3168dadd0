#!/usr/bin/env python3
"""app_rollout.py - NGINX as an MCApp on 18 local VMs (issue 9's benchmark):

    python3 bench/app_rollout.py build/barista        (root)

An MCI of 18 VMs in 9 groups over 3 local connections (the VMs exist
first; making them is not measured), a real registry (tests/oci_fixture.py:
Debian's docker-registry with NGINX images built from Debian's nginx), and:

- deploy_s: `barista apply` of the MCApp (NGINX 1 in a runc container on
  every VM, first deploy: pull, copy, start, healthy) until it returns;
- rollout_s: `barista apply` of NGINX 2 with maxUnavailable 1 (VM by VM,
  each waiting for health) until it returns;
- min_available: while the rollout runs, this host asks all 18 VMs for
  their page every 50 ms; the smallest number that answered in one round;
- restart_ms: NGINX's processes on a VM killed with SIGKILL from the host
  (no SSH in the way) to its page answering again, median of 9 VMs.

Targets (issue 9): min_available >= 17 (of 18), restart_ms <= 1000.  The
last line is key=value.  Everything is destroyed at the end, also on
failure.
"""
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from oci_fixture import Registry  # noqa: E402

GROUPS, PER_GROUP = 9, 2

CONN = """\
apiVersion: barista.dev/v1
kind: Connection
metadata: {{name: c{i}}}
spec: {{driver: local, region: bench-{i}}}
---
apiVersion: barista.dev/v1
kind: VNet
metadata: {{name: n{i}}}
spec: {{connection: c{i}, cidr: 10.{o}.0.0/16, subnets: [{{name: s, cidr: 10.{o}.1.0/24}}]}}
---
apiVersion: barista.dev/v1
kind: SecurityGroup
metadata: {{name: g{i}}}
spec:
  connection: c{i}
  vnet: n{i}
  ingress: [{{protocol: tcp, ports: "22", cidr: 0.0.0.0/0}}, {{protocol: tcp, ports: "80", cidr: 0.0.0.0/0}}]
---
apiVersion: barista.dev/v1
kind: SSHKey
metadata: {{name: k{i}}}
spec: {{connection: c{i}}}
---
apiVersion: barista.dev/v1
kind: Image
metadata: {{name: os{i}}}
spec: {{connection: c{i}, imageId: host}}
---
apiVersion: barista.dev/v1
kind: Spec
metadata: {{name: sp{i}}}
spec: {{connection: c{i}, vcpu: 1, memoryMiB: 512}}
---
"""

APP = """\
apiVersion: barista.dev/v1
kind: MCApp
metadata: {{name: web}}
spec:
  mci: bench
  rollout: {{maxUnavailable: 1, healthTimeout: 60s}}
  apps:
    - name: nginx
      image: {image}
      ports: [{{port: 80}}]
      health: {{http: {{port: 80, path: /}}, interval: 1s}}
"""


def run(barista, env, *args, timeout=900):
    r = subprocess.run([barista, *args], env=env, capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"barista {' '.join(args)}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r.stdout


def page(ip, timeout=0.5):
    try:
        with urllib.request.urlopen(f"http://{ip}/", timeout=timeout) as r:
            return r.read().decode()
    except OSError:
        return None


def nginx_pids(vm_leader):
    """The nginx processes in the VM's network namespace (its sshd's; the
    containers share it, each in a PID namespace of its own)."""
    want = os.readlink(f"/proc/{vm_leader}/ns/net")
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/comm") as f:
                if f.read().strip() != "nginx":
                    continue
            if os.readlink(f"/proc/{p}/ns/net") == want:
                out.append(int(p))
        except OSError:
            pass
    return out


def sshd_of(ip):
    """A process of the VM at ip: its sshd (the one listening in its netns)."""
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
            if b"sshd" not in cmd[0] or b"/run/barista/sshd_config" not in b" ".join(cmd):
                continue
            r = subprocess.run(["nsenter", "-t", p, "-n", "ip", "-4", "-o", "addr"],
                               capture_output=True, text=True, timeout=5)
            if f" {ip}/" in r.stdout:
                return int(p)
        except (OSError, subprocess.SubprocessError):
            pass
    return None


def main():
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    if os.geteuid() != 0:
        sys.stderr.write("app_rollout: needs root (local VMs)\n")
        return 1
    barista = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="bench-app-rollout-")
    specs = os.path.join(tmp, "specs")
    os.makedirs(specs)
    env = dict(os.environ, BARISTA_STATE=os.path.join(tmp, "state.db"), NO_COLOR="1")
    env.setdefault("BARISTA_AGENT", os.path.join(os.path.dirname(barista), "barista-agent"))
    base = 100 + os.getpid() % 40
    with open(os.path.join(specs, "infra.yaml"), "w") as f:
        for i in range(3):
            f.write(CONN.format(i=i, o=base + i))
        f.write("apiVersion: barista.dev/v1\nkind: MCI\nmetadata: {name: bench}\nspec:\n"
                "  groups:\n")
        for g in range(GROUPS):
            c = g % 3
            f.write(f"    - {{name: r{g}, connection: c{c}, spec: sp{c}, image: os{c}, "
                    f"vnet: n{c}, securityGroups: [g{c}], sshKey: k{c}, count: {PER_GROUP}}}\n")
    reg = Registry(tmp)
    made = False
    try:
        reg.start()
        reg.build_all()
        run(barista, env, "apply", "-auto-approve", specs)
        made = True
        show = json.loads(run(barista, env, "show", "-json", specs))
        ips = {v["name"]: v["ip"] for m in show["mcis"] for v in m["vms"]}
        assert len(ips) == GROUPS * PER_GROUP, ips

        def app(tag):
            with open(os.path.join(specs, "app.yaml"), "w") as f:
                f.write(APP.format(image=f"{reg.address}/nginx:{tag}"))

        app(1)
        t0 = time.monotonic()
        run(barista, env, "apply", "-auto-approve", specs)
        deploy_s = time.monotonic() - t0
        bad = {n: page(ip) for n, ip in ips.items() if page(ip) != "barista nginx v1\n"}
        assert not bad, bad

        # the rollout, watched
        rounds, stop = [], threading.Event()

        def watch():
            while not stop.is_set():
                res = [None] * len(ips)
                ts = [threading.Thread(target=lambda k=k, ip=ip: res.__setitem__(k, page(ip)))
                      for k, ip in enumerate(ips.values())]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
                rounds.append(sum(1 for p in res if p))
                time.sleep(0.05)

        w = threading.Thread(target=watch, daemon=True)
        w.start()
        app(2)
        t0 = time.monotonic()
        run(barista, env, "apply", "-auto-approve", specs)
        rollout_s = time.monotonic() - t0
        time.sleep(0.2)
        stop.set()
        w.join()
        bad = {n: page(ip) for n, ip in ips.items() if page(ip) != "barista nginx v2\n"}
        assert not bad, bad
        min_available = min(rounds)

        # restarts: SIGKILL from the host, poll the page
        times = []
        for name in sorted(ips)[::2][:9]:
            ip = ips[name]
            leader = sshd_of(ip)
            pids = nginx_pids(leader) if leader else []
            if not pids:
                raise RuntimeError(f"{name}: no nginx process found")
            t0 = time.monotonic()
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass  # a worker gone with its master
            while page(ip, 0.2) is not None and time.monotonic() - t0 < 1:
                time.sleep(0.002)  # until the kill has taken the page away
            while page(ip, 0.2) != "barista nginx v2\n":
                if time.monotonic() - t0 > 30:
                    raise RuntimeError(f"{name}: nginx not back after 30 s")
                time.sleep(0.005)
            times.append((time.monotonic() - t0) * 1000)
        restart_ms = statistics.median(times)
        print(f"vms={len(ips)} rollout_rounds={len(rounds)} restart_ms_all="
              + ",".join(f"{t:.0f}" for t in times))
        print(f"deploy_s={deploy_s:.2f} rollout_s={rollout_s:.2f} "
              f"min_available={min_available} restart_ms={restart_ms:.0f}")
        return 0
    finally:
        if made:
            subprocess.run([barista, "destroy", "-auto-approve", specs], env=env,
                           capture_output=True, timeout=900)
        reg.close()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    sys.exit(main())
