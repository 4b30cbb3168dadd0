#!/usr/bin/env python3
"""apps_e2e_check.py - MCApps on barista-agent end to end, on real local VMs
(root), with a real registry (Debian's docker-registry, tests/oci_fixture.py)
and real containers (Debian's runc):

    apps_e2e_check.py BARISTA

1. an MCI of three local VMs over two connections; an MCApp of NGINX (an
   image the fixture builds from Debian's nginx) after a command app
   (busybox httpd, the `after` dependency); apply: a plan with an agent and
   an app resource per VM; every VM serves "barista nginx v1" to this host;
   a second plan is empty; `barista app status` shows every replica healthy;
2. NGINX killed with SIGKILL on one VM: healthy again within a second;
3. nginx:2 rolled out with maxUnavailable 1 while this host asks every VM
   for its page every 50 ms: the VMs change one after the other and at every
   moment at least two of three answer;
4. a tag the registry does not have: the change fails with the registry's
   own message, the rollout stops at the first VM, every VM still serves v2;
   a version that never gets healthy: rolled back with the health check's
   own message, every VM still serves v2;
5. the app's manifest removed on one VM: the next plan puts it back;
6. every agent's binary changed on its VM: the plan re-installs them, one VM
   after the other, each waiting for its apps, at least two of three serving;
7. destroy: no container, no nginx, no app process is left, no mount.

Everything made is removed also on failure; the check bounds its own time.
"""
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from monitor_common import run_check, wait_for  # noqa: E402
from oci_fixture import Registry  # noqa: E402

DEADLINE = 420

SPEC = """\
apiVersion: barista.dev/v1
kind: Connection
metadata: {{name: seoul}}
spec: {{driver: local, region: ap-northeast-2}}
---
apiVersion: barista.dev/v1
kind: Connection
metadata: {{name: tokyo}}
spec: {{driver: local, region: asia-northeast1}}
---
apiVersion: barista.dev/v1
kind: VNet
metadata: {{name: snet}}
spec: {{connection: seoul, cidr: 10.{a}.0.0/16, subnets: [{{name: s, cidr: 10.{a}.1.0/24}}]}}
---
apiVersion: barista.dev/v1
kind: VNet
metadata: {{name: tnet}}
spec: {{connection: tokyo, cidr: 10.{b}.0.0/16, subnets: [{{name: s, cidr: 10.{b}.1.0/24}}]}}
---
apiVersion: barista.dev/v1
kind: SecurityGroup
metadata: {{name: ssg}}
spec:
  connection: seoul
  vnet: snet
  ingress: [{{protocol: tcp, ports: "22", cidr: 0.0.0.0/0}}, {{protocol: tcp, ports: "80", cidr: 0.0.0.0/0}}]
---
apiVersion: barista.dev/v1
kind: SecurityGroup
metadata: {{name: tsg}}
spec:
  connection: tokyo
  vnet: tnet
  ingress: [{{protocol: tcp, ports: "22", cidr: 0.0.0.0/0}}, {{protocol: tcp, ports: "80", cidr: 0.0.0.0/0}}]
---
apiVersion: barista.dev/v1
kind: SSHKey
metadata: {{name: skey}}
spec: {{connection: seoul}}
---
apiVersion: barista.dev/v1
kind: SSHKey
metadata: {{name: tkey}}
spec: {{connection: tokyo}}
---
apiVersion: barista.dev/v1
kind: Image
metadata: {{name: sos}}
spec: {{connection: seoul, imageId: host}}
---
apiVersion: barista.dev/v1
kind: Image
metadata: {{name: tos}}
spec: {{connection: tokyo, imageId: host}}
---
apiVersion: barista.dev/v1
kind: Spec
metadata: {{name: ssmall}}
spec: {{connection: seoul, vcpu: 1, memoryMiB: 512}}
---
apiVersion: barista.dev/v1
kind: Spec
metadata: {{name: tsmall}}
spec: {{connection: tokyo, vcpu: 1, memoryMiB: 512}}
---
apiVersion: barista.dev/v1
kind: MCI
metadata: {{name: apps}}
spec:
  overlay: true
  groups:
    - {{name: seoul, connection: seoul, spec: ssmall, image: sos, vnet: snet,
       securityGroups: [ssg], sshKey: skey, count: 2}}
    - {{name: tokyo, connection: tokyo, spec: tsmall, image: tos, vnet: tnet,
       securityGroups: [tsg], sshKey: tkey, count: 1}}
"""

APP = """\
apiVersion: barista.dev/v1
kind: MCApp
metadata: {{name: site}}
spec:
  mci: apps
  rollout: {{maxUnavailable: 1, healthTimeout: {timeout}}}
  apps:
    - name: side
      command: mkdir -p /tmp/side && echo side > /tmp/side/index.html && exec busybox httpd -f -p 127.0.0.1:8081 -h /tmp/side
      health: {{tcp: 8081, interval: 1s}}
    - name: nginx
      image: {image}
      after: [side]
      ports: [{{port: 80}}]
      resources: {{memoryMiB: 128, cpu: 0.5}}
      health: {{http: {{port: 80, path: {path}}}, interval: 1s, failureThreshold: 2}}
"""


class Run:
    def __init__(self, barista, tmp):
        self.barista, self.tmp = barista, tmp
        self.env = dict(os.environ, BARISTA_STATE=os.path.join(tmp, "state.db"),
                        NO_COLOR="1")

    def __call__(self, *args, check=True, timeout=180):
        t0 = time.time()
        r = subprocess.run([self.barista, *args], cwd=self.tmp, env=self.env,
                           capture_output=True, text=True, timeout=timeout)
        if time.time() - t0 > 5:
            print(f"apps_e2e: barista {' '.join(args[:2])}: {time.time() - t0:.1f} s")
        if check and r.returncode != 0:
            raise AssertionError(f"barista {' '.join(args)}: {r.returncode}\n{r.stdout}\n"
                                 f"{r.stderr}")
        return r


def page(ip, timeout=1.0):
    try:
        with urllib.request.urlopen(f"http://{ip}/", timeout=timeout) as r:
            return r.read().decode()
    except OSError:
        return None


class Watch(threading.Thread):
    """Ask every VM for its page every 50 ms; keep (time, {vm: page})."""

    def __init__(self, ips):
        super().__init__(daemon=True)
        self.ips, self.samples, self.stop = ips, [], threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.samples.append((time.time(), {n: page(ip, 0.5) for n, ip in self.ips.items()}))
            time.sleep(0.05)


def watched_apply(run, ips, what):
    """Apply while a Watch asks every VM for its page; every VM serves v2
    afterwards and at least two of three served at every moment.  Returns
    apply's output and the watch."""
    w = Watch(ips)
    w.start()
    out = run("apply", "-auto-approve", "specs", timeout=300).stdout
    time.sleep(0.3)
    w.stop.set()
    w.join()
    assert serving(ips, "barista nginx v2\n"), {n: page(ip) for n, ip in ips.items()}
    worst = min(sum(1 for p in s.values() if p) for _, s in w.samples)
    print(f"apps_e2e: {what} over {len(w.samples)} samples: at least {worst} of 3 VMs "
          "served at every moment")
    assert worst >= 2, worst
    return out, w


def overlay_check(run, tmp, ips):
    """apps-tokyo-1 fetches apps-seoul-1's page at 10.250.0.1 (the first VM's
    overlay address) while tcpdump listens on every bridge of this host: the
    page's text is in no captured packet, and WireGuard's UDP is."""
    seoul, tokyo = sorted(n for n in ips if "seoul" in n)[0], [n for n in ips if "tokyo" in n][0]
    pcap = os.path.join(tmp, "underlay.pcap")
    dump = subprocess.Popen(["tcpdump", "-Z", "root", "--immediate-mode", "-i", "any", "-n", "-U", "-w", pcap,
                             "udp or tcp port 80"], stdout=subprocess.DEVNULL,
                            stderr=open(pcap + ".log", "w"))
    try:
        time.sleep(1.0)
        got = wait_for("the page over the overlay", lambda: run(
            "exec", "apps", "-vm", tokyo, "--", "curl", "-s", "-m", "2",
            "http://10.250.0.1/", check=False).stdout, 20, 0.5)
        assert "barista nginx" in got, got
        time.sleep(1.5)  # what the kernel still holds for tcpdump
    finally:
        dump.terminate()
        dump.wait(5)
    with open(pcap, "rb") as f:
        raw = f.read()
    assert b"barista nginx" not in raw, "the page crossed the underlay in the clear"
    txt = subprocess.run(["tcpdump", "-n", "-r", pcap, "udp port 51820"], capture_output=True,
                         text=True).stdout
    if txt.count("\n") < 2:
        every = subprocess.run(["tcpdump", "-n", "-r", pcap], capture_output=True,
                               text=True).stdout
        wg = run("exec", "apps", "-vm", tokyo, "--", "sh", "-c",
                 "ip addr; ip route; wg show all 2>&1; tail -5 /run/barista/agent/state/agent.log",
                 check=False).stdout
        with open(pcap + ".log") as f:
            every += f.read()
        raise AssertionError("no WireGuard packets on the underlay:\n" + every[-1500:] + "\n" +
                             wg[-3000:])
    # the VMs' own addresses (same net: seoul-2 -> seoul-1) are routed, not tunnelled
    same = run("exec", "apps", "-vm", sorted(n for n in ips if "seoul" in n)[1], "--", "curl",
               "-s", "-m", "2", "http://10.250.0.1/", check=False).stdout
    assert "barista nginx" in same, same
    return f"{tokyo} -> {seoul} at 10.250.0.1 through WireGuard ({txt.count(chr(10))} UDP packets)"


def write_app(specs, image, path="/", timeout="30s"):
    with open(os.path.join(specs, "app.yaml"), "w") as f:
        f.write(APP.format(image=image, path=path, timeout=timeout))


def serving(ips, text):
    return {n: page(ip) for n, ip in ips.items()} == {n: text for n in ips}


def check(barista, tmp):
    run = Run(barista, tmp)
    specs = os.path.join(tmp, "specs")
    os.makedirs(specs)
    octet = 120 + os.getpid() % 60
    with open(os.path.join(specs, "mci.yaml"), "w") as f:
        f.write(SPEC.format(a=octet, b=octet + 60))
    reg = Registry(tmp)
    reg.start()
    applied = False
    try:
        reg.build_all()
        img = lambda tag: f"{reg.address}/nginx:{tag}"  # noqa: E731
        write_app(specs, img(1))

        # 1. deploy
        plan = run("plan", "specs").stdout
        assert len(re.findall(r"\+ default/agent/", plan)) == 3, plan
        assert len(re.findall(r"\+ default/app/site\.apps-", plan)) == 3, plan
        out = run("apply", "-auto-approve", "specs", timeout=300)
        applied = True
        assert "Apply complete" in out.stdout, out.stdout
        show = json.loads(run("show", "-json", "specs").stdout)
        ips = {v["name"]: v["ip"] for m in show["mcis"] for v in m["vms"]}
        assert len(ips) == 3, show
        assert serving(ips, "barista nginx v1\n"), {n: page(ip) for n, ip in ips.items()}
        again = run("plan", "-detailed-exitcode", "specs", check=False)
        assert again.returncode == 0, "a second plan is not empty:\n" + again.stdout
        st = [json.loads(line) for line in
              run("app", "status", "site", "-json").stdout.splitlines() if line.startswith("{")]
        reps = [(s["vm"], a["app"], a["state"], a["healthy"]) for s in st for a in s["apps"]]
        assert len(reps) == 6 and all(r[2] == "Running" and r[3] for r in reps), reps
        # `after`: side was healthy before nginx started, on every VM
        for vm in ips:
            log = run("exec", "apps", "-vm", vm, "--", "cat",
                      "/run/barista/agent/state/agent.log").stdout
            side = log.find("app site.side/1: Starting -> Running")
            ngx = log.find("app site.nginx/1: Waiting -> Starting")
            assert 0 <= side < ngx, log

        # the overlay: tokyo's VM reaches seoul's first VM by its overlay
        # address, through WireGuard: the underlay carries no plaintext
        ov = overlay_check(run, tmp, ips)
        print(f"apps_e2e: overlay: {ov}")

        # 2. a killed NGINX is back within a second
        vm = sorted(ips)[0]
        t0 = time.time()
        run("exec", "apps", "-vm", vm, "--", "pkill", "-9", "-x", "nginx")
        wait_for("nginx back", lambda: page(ips[vm], 0.2) == "barista nginx v1\n", 5, 0.02)
        took = time.time() - t0
        print(f"apps_e2e: killed nginx healthy again after {took * 1000:.0f} ms "
              "(ssh round trip included)")
        assert took < 2.0, took  # the ssh that kills it takes part of this
        restarts = [a["restarts"] for s in
                    (json.loads(x) for x in run("app", "status", "site", "-json", "-vm", vm)
                     .stdout.splitlines() if x.startswith("{")) for a in s["apps"]
                    if a["app"] == "nginx"]
        assert restarts == [1], restarts

        # 3. a rolling update: never more than one VM without its page
        write_app(specs, img(2))
        out, w = watched_apply(run, ips, "rollout")
        order = re.findall(r"default/app/site\.(\S+): Modifications complete", out)
        assert len(order) == 3, out
        # one after the other: each VM's first v2 page after the previous one's
        first_v2 = {n: min((t for t, s in w.samples if s[n] == "barista nginx v2\n"),
                           default=None) for n in ips}
        assert None not in first_v2.values(), first_v2
        seq = sorted(ips, key=lambda n: first_v2[n])
        assert seq == order, (seq, order)

        # 4. a tag that is not there, a version that never gets healthy
        write_app(specs, img(9))
        bad = run("apply", "-auto-approve", "specs", check=False, timeout=300)
        assert bad.returncode != 0 and "the registry answered 404 MANIFEST_UNKNOWN" in \
            bad.stderr + bad.stdout, bad.stdout + bad.stderr
        assert "2 not started" in bad.stderr + bad.stdout, bad.stdout + bad.stderr
        assert serving(ips, "barista nginx v2\n")
        write_app(specs, img(1), path="/missing", timeout="6s")
        bad = run("apply", "-auto-approve", "specs", check=False, timeout=300)
        text = bad.stdout + bad.stderr
        assert bad.returncode != 0 and "HTTP/1.1 404 Not Found" in text and \
            "the previous version (generation" in text and "runs again" in text, text
        assert serving(ips, "barista nginx v2\n"), {n: page(ip) for n, ip in ips.items()}
        write_app(specs, img(2))
        run("apply", "-auto-approve", "specs", timeout=300)

        # 5. drift: the manifest removed on a VM is put back
        run("exec", "apps", "-vm", vm, "--", "rm", "/run/barista/agent/apps.d/site.conf")
        plan = run("plan", "specs").stdout
        assert f"default/app/site.{vm}" in plan, plan
        run("apply", "-auto-approve", "specs", timeout=300)
        again = run("plan", "-detailed-exitcode", "specs", check=False)
        assert again.returncode == 0, again.stdout

        # 6. every VM's agent binary differs from this barista's (a rebuild):
        # the agents are re-installed VM by VM, each waiting for its apps, so
        # at every moment at least two of three VMs serve
        run("exec", "apps", "--", "cd /run/barista/agent && cp barista-agent v && "
            "printf x >> v && mv v barista-agent")
        plan = run("plan", "specs").stdout
        assert plan.count("is not the binary this barista installs") == 3, plan
        watched_apply(run, ips, "agents re-installed")
        assert run("plan", "-detailed-exitcode", "specs", check=False).returncode == 0
    finally:
        if applied:
            run("destroy", "-auto-approve", "specs", check=False, timeout=300)
        reg.close()
    # 7. nothing left
    left = subprocess.run(["pgrep", "-f", "runc --root /run/barista/agent/runc"],
                          capture_output=True, text=True).stdout.split()
    assert not left, f"runc processes left: {left}"
    with open("/proc/mounts") as f:
        mounts = [line for line in f if "/apps/site." in line]
    assert not mounts, mounts


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("apps_e2e_check: needs root (local VMs)")
        sys.exit(1)
    sys.exit(run_check("apps_e2e_check", check, sys.argv[1], DEADLINE, "apps-e2e-"))
