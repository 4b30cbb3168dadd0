#!/usr/bin/env python3
"""monitor_e2e_check.py - monitoring end to end on real local VMs (root):

    monitor_e2e_check.py BARISTA

1. two `barista collector`s (peers of each other) and the receivers on
   this host (a webhook, Slack's format, a real SMTP server, a real
   Alertmanager: monitor_common.Receivers); a spec of one MCI of two local VMs and a MonitoringPolicy
   pushing to both collectors (`gateway`), with a pull port and an alarm
   `cpu.usage > 60 for 4s`, and an MCApp with a command app on both VMs;
2. `barista apply`: the plan has an agent per VM; afterwards a barista-agent
   runs on every VM, and a second plan is empty;
3. push: both VMs' series reach the collectors, the MCApp's app.up too;
   pull: each VM's /metrics
   (Prometheus text) answers from this host; `barista metrics now` gets a
   fresh sample over SSH;
4. load on one VM (two busy loops under its 1-vCPU cgroup): its alarm fires
   (the other VM's does not) and every receiver gets it; the load ends:
   every receiver gets the resolved notice;
5. the collector serving one VM is killed: that VM's agent moves to the
   other within 30 s; then both collectors are stopped for 60 s and started
   again: once they are back, every VM has a sample for every second of the
   whole time (no gap, no loss);
6. the agent's worker killed with SIGKILL is restarted by its supervisor;
   the agent stopped on its VM shows up in the next plan as a change and is
   put back by apply, and so is another version found on the VM; the
   policy removed from the specs takes its agents along; `barista destroy`
   removes the VMs: no barista-agent process is left.

Everything made is removed (destroy, then the collectors, the files) also
on failure; the check bounds its own time.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from monitor_common import (SKIP, Receivers, free_port, http, run_check, start,  # noqa: E402
                            stop, wait_for)

DEADLINE = 420
MCI = "mon"

SPEC = """\
apiVersion: barista.dev/v1
kind: Connection
metadata: {{name: here}}
spec: {{driver: local, region: local-1}}
---
apiVersion: barista.dev/v1
kind: VNet
metadata: {{name: net}}
spec:
  connection: here
  cidr: 10.{octet}.0.0/16
  subnets: [{{name: a, cidr: 10.{octet}.1.0/24}}]
---
apiVersion: barista.dev/v1
kind: SecurityGroup
metadata: {{name: sg}}
spec:
  connection: here
  vnet: net
  ingress:
    - {{protocol: tcp, ports: "22", cidr: 0.0.0.0/0}}
    - {{protocol: tcp, ports: "9108", cidr: 0.0.0.0/0}}
---
apiVersion: barista.dev/v1
kind: SSHKey
metadata: {{name: key}}
spec: {{connection: here}}
---
apiVersion: barista.dev/v1
kind: Image
metadata: {{name: os}}
spec: {{connection: here, imageId: host}}
---
apiVersion: barista.dev/v1
kind: Spec
metadata: {{name: small}}
spec: {{connection: here, vcpu: 1, memoryMiB: 256}}
---
apiVersion: barista.dev/v1
kind: MCI
metadata: {{name: mon}}
spec:
  groups:
    - {{name: g, connection: here, spec: small, image: os, vnet: net,
       securityGroups: [sg], sshKey: key, count: 2}}
---
apiVersion: barista.dev/v1
kind: MonitoringPolicy
metadata: {{name: watch}}
spec:
  mci: mon
  interval: 1s
  storeInterval: 2s
  collectors: ["http://gateway:{pa}", "http://gateway:{pb}"]
  credential: {{file: {secret}}}
  pullPort: 9108
  alarms:
    - {{name: busy, rule: "cpu.usage > 60 for 4s"}}
  receivers:
    - {{name: hook, type: webhook, url: "{hook}/hook"}}
    - {{name: chat, type: slack, credential: {{env: {{url: BAR_TEST_SLACK_URL}}}}}}
    - {{name: mail, type: email, smtp: "smtp://127.0.0.1:{smtp}", from: barista@example.test,
       to: [oncall@example.test]}}
    - {{name: am, type: alertmanager, url: "{am}"}}
  route: {{groupBy: [alarm, vm], groupWait: 0s, groupInterval: 1s}}
---
apiVersion: barista.dev/v1
kind: MCApp
metadata: {{name: svc}}
spec:
  mci: mon
  apps:
    - {{name: idle, command: "sleep 100000"}}
"""


def alerts(rx, status):
    return [(a["labels"]["alarm"], a["labels"].get("vm")) for m in rx.posts("/hook")
            if m.get("status") == status for a in m["alerts"] if a.get("status") == status]


class Run:
    def __init__(self, barista, tmp):
        self.barista, self.tmp = barista, tmp
        self.env = dict(os.environ, BARISTA_STATE=os.path.join(tmp, "state.db"),
                        NO_COLOR="1")

    def __call__(self, *args, check=True, timeout=180):
        r = subprocess.run([self.barista, *args], cwd=self.tmp, env=self.env,
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"barista {' '.join(args)}: {r.returncode}\n{r.stdout}\n"
                                 f"{r.stderr}")
        return r


class Collectors:
    def __init__(self, barista, tmp, secret):
        self.barista, self.tmp, self.secret = barista, tmp, secret
        self.ports = [free_port(), free_port()]
        self.procs = [None, None]

    def url(self, i):
        return f"http://127.0.0.1:{self.ports[i]}"

    def start(self, i):
        o = 1 - i
        base = self.url(i)
        self.procs[i] = start(
            [self.barista, "collector", "-listen", f"0.0.0.0:{self.ports[i]}",
             "-data", os.path.join(self.tmp, f"c{i}.db"), "-secret-file", self.secret,
             "-self", base, "-peer", self.url(o)],
            os.path.join(self.tmp, f"c{i}.log"), lambda: http(base + "/healthz")[0] == 200)

    def stop(self, i, sig=signal.SIGTERM):
        stop(self.procs[i], sig)
        self.procs[i] = None

    def query(self, i, **q):
        status, body = http(self.url(i) + "/v1/query?" + urllib.parse.urlencode(q))
        return json.loads(body) if status == 200 else None


def vms_seen(col, i, vms, since="30s"):
    q = col.query(i, metric="cpu.usage", mci=MCI, since=since, step="2s", local="1")
    return q and {s["labels"]["vm"] for s in q["series"]
                  if any(p[1] is not None for p in s["points"][-3:])} >= set(vms)


def check(barista, tmp):
    run = Run(barista, tmp)
    secret = os.path.join(tmp, "secret.json")
    run("collector", "-gen-secret", secret)
    rx = Receivers("monitor_e2e_check", tmp)  # before the collectors: they read its env
    col = Collectors(barista, tmp, secret)
    col.start(0)
    col.start(1)
    specs = os.path.join(tmp, "specs")
    os.makedirs(specs)
    with open(os.path.join(specs, "all.yaml"), "w") as f:
        f.write(SPEC.format(octet=80 + os.getpid() % 40, pa=col.ports[0], pb=col.ports[1],
                            secret=secret, hook=rx.hook, smtp=rx.smtp_port, am=rx.am_url))
    applied = False
    try:
        plan = run("plan", "specs")
        agents = sorted(set(re.findall(r"\+ default/agent/(\S+)", plan.stdout)))
        assert len(agents) == 2, plan.stdout
        run("apply", "-auto-approve", "specs", timeout=240)
        applied = True
        again = run("plan", "-detailed-exitcode", "specs", check=False)
        assert again.returncode == 0, "a second plan is not empty:\n" + again.stdout
        show = json.loads(run("show", "-json", "specs").stdout)
        vms = {v["name"]: v for m in show["mcis"] for v in m["vms"]}
        assert len(vms) == 2, show
        names = sorted(vms)

        # push: both VMs reach the collectors (each VM pushes to its first)
        wait_for("both VMs' samples", lambda: all(
            vms_seen(col, 0, [n]) or vms_seen(col, 1, [n]) for n in names), 40)
        # pull: each VM's own endpoint, from this host
        for n in names:
            ip = vms[n].get("privateIp") or vms[n].get("ip")
            status, body = http(f"http://{ip}:9108/metrics")
            text = body.decode()
            assert status == 200 and f'vm="{n}"' in text, (n, status, text[:500])
            assert re.search(r"^barista_cpu_usage_percent\{.*\} [0-9.]+", text, re.M), text
        # the MCApp's app metrics go through the agents to the collectors
        def apps_seen():
            seen = set()
            for i in (0, 1):
                q = col.query(i, metric="app.up", mci=MCI, since="30s", step="2s", local="1")
                for s in (q or {}).get("series", []):
                    if s["labels"].get("app") == "svc.idle" and \
                            any(p[1] == 1 for p in s["points"][-3:]):
                        seen.add(s["labels"]["vm"])
            return seen >= set(names)
        wait_for("app.up of the MCApp's app on both VMs", apps_seen, 40)
        now = run("metrics", "now", f"{MCI}/{names[0]}", "-json")
        sample = json.loads(now.stdout.splitlines()[0])
        assert sample["vm"] == names[0] and sample["metrics"], sample
        # scope=cgroup: the VM's own spec (1 vCPU, 256 MiB), not the host's
        got = {m["name"]: m["value"] for m in sample["metrics"] if not m["labels"].get("mount")}
        assert got.get("cpu.count") == 1 and got.get("mem.total") == 256 << 20, got

        # load on one VM: its alarm fires and resolves, the other's never
        busy = names[0]
        load = subprocess.Popen(
            [barista, "exec", MCI, "-vm", busy, "--",
             "sh -c 'for i in 1 2; do timeout 15 sh -c \"while :; do :; done\" & done; wait'"],
            cwd=tmp, env=run.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for("the busy VM's alarm", lambda: ("busy", busy) in alerts(rx, "firing"), 40)
        wait_for("the Slack message", lambda: [m for m in rx.posts("/slack")
                                              if "FIRING" in m.get("text", "")], 20)
        wait_for("the e-mail", lambda: rx.mails("FIRING"), 20)
        wait_for("the alert in Alertmanager", lambda: rx.am_alerts("busy"), 20)
        load.wait(60)
        wait_for("the resolved notice", lambda: ("busy", busy) in alerts(rx, "resolved"), 40)
        wait_for("the resolved Slack message", lambda: [m for m in rx.posts("/slack")
                                                       if "RESOLVED" in m.get("text", "")], 20)
        wait_for("the resolved e-mail", lambda: rx.mails("RESOLVED"), 20)
        wait_for("the alert resolved in Alertmanager", lambda: not rx.am_alerts("busy"), 30)
        assert ("busy", names[1]) not in alerts(rx, "firing"), rx.posts("/hook")

        # failover: kill the collector of the first VM; it moves within 30 s
        serving = 0 if vms_seen(col, 0, [names[0]]) else 1
        t_kill = time.time()
        col.stop(serving, signal.SIGKILL)
        wait_for("the agent on the other collector",
                 lambda: vms_seen(col, 1 - serving, [names[0]], since="10s"), 30)
        moved = time.time() - t_kill
        col.start(serving)
        # outage of every collector for 60 s: the agents buffer
        time.sleep(5)
        t_down = time.time()
        col.stop(0)
        col.stop(1)
        time.sleep(60)
        col.start(0)
        col.start(1)
        t_up = time.time()
        # no gap: a sample for every second from before the kill to now
        lo, hi = int(t_kill) - 5, int(t_up) + 5

        def complete():
            q = col.query(0, metric="cpu.usage", mci=MCI, since=f"{int(time.time()) - lo + 2}s",
                          step="1s", fn="count")
            if not q:
                return None
            missing = {}
            for s in q["series"]:
                pts = {p[0] // 1000: p[1] for p in s["points"]}
                gaps = [t for t in range(lo, hi) if not pts.get(t)]
                missing[s["labels"]["vm"]] = gaps
            return missing if set(missing) == set(names) and not any(missing.values()) \
                else None
        try:
            wait_for("every second of both VMs after the outage", complete, 60, every=1)
        except AssertionError:
            q = col.query(0, metric="cpu.usage", mci=MCI, since="5m", step="1s", fn="count")
            raise AssertionError(f"gaps (kill {t_kill:.0f}, down {t_down:.0f}, up {t_up:.0f}): "
                                 + json.dumps(q)[:3000])
        print(f"monitor_e2e_check: failover took {moved:.1f} s; 60 s outage: no gap")

        # supervised: the worker killed with SIGKILL is started again
        def worker(vm):
            r = run("exec", MCI, "-vm", vm, "--",
                    "pgrep -P $(cat /run/barista/agent/state/agent.pid)", check=False)
            return r.stdout.split(":")[-1].strip() if r.returncode == 0 else None
        first = wait_for("the agent's worker", lambda: worker(names[0]), 10)
        run("exec", MCI, "-vm", names[0], "--", f"kill -9 {first}")
        again = wait_for("a new worker", lambda: (lambda w: w if w and w != first else None)(
            worker(names[0])), 15)
        assert again != first
        wait_for("samples from the restarted agent", lambda: vms_seen(col, 0, [names[0]], "6s")
                 or vms_seen(col, 1, [names[0]], "6s"), 20)

        # an agent killed on its VM: plan shows it, apply puts it back
        run("exec", MCI, "-vm", names[1], "--",
            "p=$(cat /run/barista/agent/state/agent.pid); kill $p; "
            "i=0; while kill -0 $p 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done")
        drift = run("plan", "-detailed-exitcode", "specs", check=False)
        assert drift.returncode == 2 and f"agent/{names[1]}" in drift.stdout, drift.stdout
        run("apply", "-auto-approve", "specs", timeout=240)
        assert run("plan", "-detailed-exitcode", "specs", check=False).returncode == 0

        # another version on the VM: the plan says so and apply puts this one back
        run("exec", MCI, "-vm", names[0], "--",
            "printf '#!/bin/sh\\necho barista-agent 0.0.1\\n' > /run/barista/agent/v && "
            "chmod 700 /run/barista/agent/v && mv /run/barista/agent/v /run/barista/agent/barista-agent")
        drift = run("plan", "-detailed-exitcode", "specs", check=False)
        assert drift.returncode == 2 and "version 0.0.1" in drift.stdout, drift.stdout
        run("apply", "-auto-approve", "specs", timeout=240)
        assert run("plan", "-detailed-exitcode", "specs", check=False).returncode == 0

        # the same version, another binary (a rebuild): the plan says so too
        run("exec", MCI, "-vm", names[0], "--",
            "cd /run/barista/agent && cp barista-agent v && printf x >> v && mv v barista-agent")
        drift = run("plan", "-detailed-exitcode", "specs", check=False)
        assert drift.returncode == 2 and "is not the binary this barista installs" in \
            drift.stdout, drift.stdout
        run("apply", "-auto-approve", "specs", timeout=240)
        assert run("plan", "-detailed-exitcode", "specs", check=False).returncode == 0

        # the policy removed from the specs: its agents go with it, the VMs stay
        text = open(os.path.join(specs, "all.yaml")).read()
        open(os.path.join(specs, "all.yaml"), "w").write(
            text[:text.index("kind: MonitoringPolicy")].rsplit("---", 1)[0])
        gone = run("plan", "specs")
        assert gone.stdout.count("- default/agent/") == 2, gone.stdout
        run("apply", "-auto-approve", "specs", timeout=240)
        for n in names:
            r = run("exec", MCI, "-vm", n, "--", "test -e /run/barista/agent && echo present; "
                    "pgrep -f '[b]arista-agent -daemon' >/dev/null && echo running; true")
            assert "present" not in r.stdout and "running" not in r.stdout, (n, r.stdout)

        run("destroy", "-auto-approve", "specs", timeout=240)
        applied = False
        left = subprocess.run(["pgrep", "-f", "barista-agent -daemon"], capture_output=True,
                              text=True)
        assert not left.stdout.strip(), "barista-agent processes left: " + left.stdout
    except BaseException:
        if applied:  # what the agents say, for the failure's report
            r = run("exec", MCI, "--", "tail -n 20 /run/barista/agent/state/agent.log",
                    check=False, timeout=60)
            print("--- the agents' logs:\n" + r.stdout + r.stderr)
        raise
    finally:
        if applied:
            run("destroy", "-auto-approve", "specs", check=False, timeout=240)
        col.stop(0)
        col.stop(1)
        rx.stop()


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    if os.geteuid() != 0:
        print("monitor_e2e_check: needs root (local VMs); skipped")
        return SKIP

    return run_check("monitor_e2e_check", check, sys.argv[1], DEADLINE, "bar-mon-e2e-")


if __name__ == "__main__":
    sys.exit(main())
