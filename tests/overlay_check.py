#!/usr/bin/env python3
"""overlay_check.py - the overlay network (docs/overlay.md) on real
namespaces with real wireguard-go, checked with real captures.

Usage: overlay_check.py OVERLAY_DRIVER   (root; ctest `overlay_wg`)

Two bridges stand for two clouds (aws-seoul, gcp-tokyo), routed through the
host as the local provider routes VNets.  VM a and VM c sit on the first,
VM b on the second.  Each VM is a network namespace plus a mount namespace
with a private tmpfs on /run, like a local VM, kept open by a holder process;
the driver (tests/overlay_driver.c) runs inside with nsenter.  Keys and
overlay files come from the host-side API, apply/down/status from the
agent-side code.  Checked:
  - b serves a page with a marker; a fetches it by b's overlay address and
    the capture on both bridges holds the marker nowhere, only UDP to the
    WireGuard port; a control fetch by b's private address does show it;
  - c (same connection and VNet as a) reaches a's overlay address over the
    private route with no tunnel (its wireguard has no peer for a; the
    marker of a's page is in the clear on the bridge);
  - apply is idempotent (same wireguard-go, same peers);
  - re-keying b (new key, new files, apply everywhere) keeps a <-> b working
    and drops b's old key everywhere;
  - a changed address replaces the old one, a peer's route goes with it;
  - a killed wireguard-go is replaced by the next apply;
  - status reports the peer's handshake and bytes;
  - down removes interfaces, routes, processes and the state file.
Everything made is removed in `finally`, even on failure (ip_forward is
left on, as the local provider leaves it); the whole check is
bounded well below ctest's 120 s.
"""
import base64
import json
import os
import secrets
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

CHECK = "overlay_wg"
PORT = 51820
CIDR = "10.250.0.0/16"
HTTP_PORT = 8080
DEADLINE = time.monotonic() + 100

failures = []


def log(msg):
    print(f"{CHECK}: {msg}", flush=True)


def check(cond, what):
    if cond:
        log(f"ok: {what}")
    else:
        log(f"FAILED: {what}")
        failures.append(what)
    return cond


def run(*argv, check_rc=True, timeout=20):
    left = DEADLINE - time.monotonic()
    if left <= 0:
        raise RuntimeError("out of time")
    p = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=min(timeout, left))
    if check_rc and p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {p.returncode}: {p.stderr.strip()}")
    return p


class Topology:
    """Bridges, namespaces, veths and holders; remove() undoes all of it."""

    def __init__(self, tag):
        self.tag = tag
        self.bridges = []
        self.netns = []
        self.veths = []
        self.procs = []      # Popen of things we started (holders, servers, tcpdump)
        self.holder = {}     # vm -> pid of the process that keeps its mount namespace

    def bridge(self, name, gw):
        run("ip", "link", "add", name, "type", "bridge")
        self.bridges.append(name)
        run("ip", "addr", "add", gw, "dev", name)
        run("ip", "link", "set", name, "up")

    def vm(self, vm, bridge, addr, gw):
        ns = f"bov{self.tag}{vm}"
        host_if = f"bov{self.tag}{vm}h"
        run("ip", "netns", "add", ns)
        self.netns.append(ns)
        run("ip", "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", ns)
        self.veths.append(host_if)
        run("ip", "link", "set", host_if, "master", bridge, "up")
        run("ip", "-n", ns, "addr", "add", addr, "dev", "eth0")
        run("ip", "-n", ns, "link", "set", "eth0", "up")
        run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "-n", ns, "route", "add", "default", "via", gw)
        # a local VM's /run is a private tmpfs (docs/local-provider.md): so is this one's
        holder = subprocess.Popen(
            ["ip", "netns", "exec", ns, "unshare", "--mount", "--propagation", "private",
             "sh", "-c", "mount -t tmpfs tmpfs /run && exec sleep 150"])
        self.procs.append(holder)
        self.holder[vm] = holder.pid
        for _ in range(50):  # until the tmpfs is there
            if os.path.exists(f"/proc/{holder.pid}/comm") and \
               open(f"/proc/{holder.pid}/comm").read().strip() == "sleep":
                break
            time.sleep(0.05)
        return ns

    def inside(self, vm, *argv, **kw):
        return run("nsenter", "-t", str(self.holder[vm]), "-m", "-n", "--", *argv, **kw)

    def spawn_inside(self, vm, argv, **kw):
        p = subprocess.Popen(["nsenter", "-t", str(self.holder[vm]), "-m", "-n", "--"] + argv,
                             **kw)
        self.procs.append(p)
        return p

    def remove(self):
        for ns in self.netns:  # whatever still runs in our namespaces
            p = subprocess.run(["ip", "netns", "pids", ns], stdout=subprocess.PIPE, text=True)
            for pid in p.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for v in self.veths:
            subprocess.run(["ip", "link", "del", v], stderr=subprocess.DEVNULL)
        for ns in self.netns:
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        for b in self.bridges:
            subprocess.run(["ip", "link", "del", b], stderr=subprocess.DEVNULL)


def pcap_packets(path):
    """(ip proto, src, dst, dport, payload bytes) of each IPv4 packet of an
    Ethernet pcap file (tcpdump -w), read by hand."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return out
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(frame) < 34 or frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        ihl = (ip[0] & 15) * 4
        proto = ip[9]
        src = ".".join(str(b) for b in ip[12:16])
        dst = ".".join(str(b) for b in ip[16:20])
        l4 = ip[ihl:]
        dport = struct.unpack(">H", l4[2:4])[0] if proto in (6, 17) and len(l4) >= 4 else 0
        out.append((proto, src, dst, dport, bytes(ip)))
    return out


def sport(pkt):
    """The source port of a TCP or UDP packet of pcap_packets."""
    ip = pkt[4]
    ihl = (ip[0] & 15) * 4
    return struct.unpack(">H", ip[ihl:ihl + 2])[0] if len(ip) >= ihl + 2 else 0


class Capture:
    """tcpdump on the given bridges into files in tmp."""

    def __init__(self, topo, tmp, name, bridges):
        self.files = []
        self.procs = []
        for b in bridges:
            path = os.path.join(tmp, f"{name}-{b}.pcap")
            p = subprocess.Popen(["tcpdump", "-i", b, "-n", "-s", "0", "-U", "--immediate-mode", "-Z",
                                  "root", "-w", path],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            topo.procs.append(p)
            # tcpdump says "listening on" once the capture is open (within 10 s)
            ready, _, _ = select.select([p.stderr], [], [], 10)
            line = p.stderr.readline().decode(errors="replace") if ready else "no answer"
            if "listening" not in line:
                raise RuntimeError(f"tcpdump on {b}: {line.strip()}")
            self.files.append(path)
            self.procs.append(p)

    def stop(self):
        time.sleep(0.3)  # let the last packets reach the files
        for p in self.procs:
            p.send_signal(signal.SIGINT)
        for p in self.procs:
            p.wait(timeout=5)
            if os.environ.get("OVERLAY_DEBUG"):
                log(f"tcpdump: {p.stderr.read()}")
        pkts = []
        for path in self.files:
            pkts += pcap_packets(path)
        if os.environ.get("OVERLAY_DEBUG"):
            for path in self.files:
                log(f"{path}: {os.path.getsize(path)} bytes")
                subprocess.run(["tcpdump", "-n", "-r", path])
        return pkts


def fetch(topo, vm, url, tries=1):
    """The body busybox wget gets in vm, or None."""
    for i in range(tries):
        # (busybox 1.35's wget -T crashes: timeout(1) bounds it instead)
        p = topo.inside(vm, "timeout", "5", "busybox", "wget", "-q", "-O", "-", url,
                        check_rc=False)
        if p.returncode == 0:
            return p.stdout
        time.sleep(0.5)
    return None


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    driver = os.path.abspath(sys.argv[1])
    if os.geteuid() != 0:
        log("FAILED: needs root (network namespaces, bridges, /dev/net/tun)")
        return 1
    missing = [t for t in ("wireguard-go", "wg", "tcpdump", "busybox", "ip", "nsenter",
                           "unshare") if not shutil.which(t)]
    if missing:
        log(f"FAILED: missing {', '.join(missing)} (./dev installs APP_PACKAGES)")
        return 1
    if not os.path.exists("/dev/net/tun"):
        log("FAILED: /dev/net/tun is missing")
        return 1
    tag = f"{os.getpid() % 1000:03d}"
    net1, net2 = "10.213.1", "10.213.2"
    for net in (net1, net2):
        r = run("ip", "-4", "route", "show", f"{net}.0/24").stdout.strip()
        if r:
            log(f"FAILED: {net}.0/24 is already routed on this host: {r}")
            return 1
    topo = Topology(tag)
    tmp = tempfile.mkdtemp(prefix="overlay_wg.")
    try:
        return scenario(topo, tmp, driver, tag, net1, net2)
    finally:
        topo.remove()
        shutil.rmtree(tmp, ignore_errors=True)
        left = [l for l in run("ip", "-br", "link", check_rc=False).stdout.splitlines()
                if l.startswith(f"bov{tag}")]
        if left:
            log(f"FAILED: cleanup left {left}")


def scenario(topo, tmp, driver, tag, net1, net2):
    br1, br2 = f"bov{tag}aws", f"bov{tag}gcp"   # aws-seoul, gcp-tokyo
    topo.bridge(br1, f"{net1}.1/24")
    topo.bridge(br2, f"{net2}.1/24")
    # ip_forward is left on, as the local provider leaves it: turning it off
    # again would cut the VNets of local VMs that other tests run meanwhile
    with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
        f.write("1")
    priv = {"a": f"{net1}.2", "c": f"{net1}.3", "b": f"{net2}.2"}
    topo.vm("a", br1, f"{priv['a']}/24", f"{net1}.1")
    topo.vm("c", br1, f"{priv['c']}/24", f"{net1}.1")
    topo.vm("b", br2, f"{priv['b']}/24", f"{net2}.1")
    order = ["a", "b", "c"]  # the MCI's VM order: overlay addresses follow it
    net_of = {"a": "aws-seoul", "c": "aws-seoul", "b": "gcp-tokyo"}
    ov = {vm: run(driver, "-addr", CIDR, str(i)).stdout.strip() for i, vm in enumerate(order)}
    check(ov == {"a": "10.250.0.1", "b": "10.250.0.2", "c": "10.250.0.3"},
          f"overlay addresses in VM order: {ov}")

    keys, pub = {}, {}

    def keygen(vm):
        keys[vm] = os.path.join(tmp, f"{vm}.key")
        pub[vm] = run(driver, "-keypair", keys[vm]).stdout.strip()
        wg = subprocess.run(["wg", "pubkey"], stdin=open(keys[vm]), stdout=subprocess.PIPE,
                            text=True, timeout=5).stdout.strip()
        check(wg == pub[vm], f"{vm}: public key matches `wg pubkey`")
        check(os.stat(keys[vm]).st_mode & 0o077 == 0, f"{vm}: private key file is 0600")

    def write_files():
        for i, vm in enumerate(order):
            peers = []
            for other in order:
                if other == vm:
                    continue
                same = int(net_of[other] == net_of[vm])
                peers.append(f"vm-{other}|{pub[other]}|{ov[other]}|{priv[other]}:{PORT}|"
                             f"{priv[other]}|{same}")
            run(driver, "-config", os.path.join(tmp, f"{vm}.conf"), f"vm-{vm}", keys[vm], CIDR,
                str(i), str(PORT), *peers)

    outputs = []  # everything the driver printed, searched for keys at the end

    def apply(vm):
        p = topo.inside(vm, driver, "-apply", os.path.join(tmp, f"{vm}.conf"),
                        os.path.join(tmp, f"run-{vm}"), check_rc=False)
        outputs.append(p.stdout + p.stderr)
        return check(p.returncode == 0, f"{vm}: apply ({p.stderr.strip() or 'ok'})")

    def wg_state(vm):
        """(public key, peer keys) as `wg` (UAPI) reports them inside vm."""
        me = topo.inside(vm, "wg", "show", "bar0", "public-key").stdout.strip()
        peers = topo.inside(vm, "wg", "show", "bar0", "peers").stdout.split()
        return me, set(peers)

    def state(vm):
        path = os.path.join(tmp, f"run-{vm}", "overlay-bar0.state")
        if not os.path.exists(path):
            return {}
        return dict(l.split("=", 1) for l in open(path).read().splitlines() if "=" in l)

    for vm in order:
        keygen(vm)
    write_files()
    text = open(os.path.join(tmp, "a.conf")).read()
    check("route=10.250.0.3/32 via " + priv["c"] in text and "peer=vm-b" in text,
          "a's file: c by route, b by tunnel")
    for vm in order:
        apply(vm)
    for vm in order:
        me, peers = wg_state(vm)
        want = {pub[o] for o in order if o != vm and net_of[o] != net_of[vm]}
        check(me == pub[vm] and peers == want, f"{vm}: wg sees its key and peers {len(want)}")
    r = topo.inside("c", "ip", "route", "get", ov["a"]).stdout
    check(f"via {priv['a']} dev eth0" in r and "src 10.250.0.3" in r,
          f"c reaches a's overlay address over the private route: {' '.join(r.split())}")

    # pages with markers, served in b and in a
    marker_b = "BARISTA-OVERLAY-B-" + secrets.token_hex(8)
    marker_a = "BARISTA-OVERLAY-A-" + secrets.token_hex(8)
    for vm, marker in (("b", marker_b), ("a", marker_a)):
        www = os.path.join(tmp, f"www-{vm}")
        os.mkdir(www)
        with open(os.path.join(www, "index.html"), "w") as f:
            f.write(f"<html><body>{marker}</body></html>\n")
        topo.spawn_inside(vm, ["busybox", "httpd", "-f", "-p", str(HTTP_PORT), "-h", www])
    time.sleep(0.3)

    # a -> b over the tunnel: the marker is nowhere on the wire
    cap = Capture(topo, tmp, "tunnel", [br1, br2])
    body = fetch(topo, "a", f"http://{ov['b']}:{HTTP_PORT}/", tries=20)
    pkts = cap.stop()
    check(body is not None and marker_b in body, "a fetches b's page by b's overlay address")
    check(not any(marker_b.encode() in p[4] for p in pkts),
          f"the marker is in none of the {len(pkts)} captured packets")
    wg_pkts = [p for p in pkts if p[0] == 17 and p[3] == PORT]
    check(len(wg_pkts) > 0, f"{len(wg_pkts)} UDP packets to port {PORT} were captured")
    ab = [p for p in pkts if {p[1], p[2]} == {priv["a"], priv["b"]}]
    check(ab and all(p[0] == 17 and (p[3] == PORT or sport(p) == PORT)
                     for p in ab),
          f"all {len(ab)} packets between a and b are UDP of the WireGuard port")
    tcp_http = [p for p in pkts if p[0] == 6 and p[3] == HTTP_PORT]
    check(not tcp_http, "no plain TCP to the HTTP port between the clouds")
    check(all(p[2] != ov["b"] and p[1] != ov["b"] for p in pkts),
          "no packet on the bridges carries an overlay address in the clear")

    # control: by b's private address the marker is on the wire
    cap = Capture(topo, tmp, "control", [br1, br2])
    body = fetch(topo, "a", f"http://{priv['b']}:{HTTP_PORT}/", tries=5)
    pkts = cap.stop()
    check(body is not None and marker_b in body, "control: a fetches b's page by private address")
    check(any(marker_b.encode() in p[4] for p in pkts), "control: the marker is in the capture")

    # same net: c -> a's overlay address with no tunnel (the marker in the clear)
    cap = Capture(topo, tmp, "samenet", [br1])
    body = fetch(topo, "c", f"http://{ov['a']}:{HTTP_PORT}/", tries=5)
    pkts = cap.stop()
    check(body is not None and marker_a in body, "c fetches a's page by a's overlay address")
    check(any(p[0] == 6 and p[1] == ov["c"] and p[2] == ov["a"] and p[3] == HTTP_PORT
              for p in pkts),
          "same net: c's request goes in the clear to a's overlay address over the bridge")
    check(any(marker_a.encode() in p[4] and p[1] == ov["a"] and p[2] == ov["c"] for p in pkts),
          "same net: a's page comes back in the clear from a's to c's overlay address")
    check(not any(p[0] == 17 and p[3] == PORT and p[1] == priv["c"] for p in pkts),
          "same net: c sent nothing to the WireGuard port")

    # idempotent: apply again changes nothing
    pid_before = state("a").get("pid")
    apply("a")
    check(state("a").get("pid") == pid_before and pid_before not in (None, "0"),
          f"apply again keeps wireguard-go (pid {pid_before})")
    check(wg_state("a")[1] == {pub["b"]}, "apply again keeps a's peers")

    # status: a's peer b has had a handshake and traffic
    st = json.loads(topo.inside("a", driver, "-status", "bar0").stdout)
    peer = [p for p in st["peers"] if p["public_key"] == pub["b"]]
    check(st["listen_port"] == PORT and len(peer) == 1 and peer[0]["last_handshake"] > 0
          and peer[0]["rx_bytes"] > 0 and peer[0]["tx_bytes"] > 0,
          f"status of a: {json.dumps(st)}")
    check("private" not in json.dumps(st), "status holds no private key")

    # re-key b: new key, new files for everyone, apply everywhere
    old_b = pub["b"]
    keygen("b")
    check(pub["b"] != old_b, "b has a new key")
    write_files()
    for vm in order:
        apply(vm)
    check(wg_state("b")[0] == pub["b"], "b runs with its new key")
    check(old_b not in wg_state("a")[1] | wg_state("c")[1] and
          pub["b"] in wg_state("a")[1], "b's old key is gone from a and c, the new one is there")
    body = fetch(topo, "a", f"http://{ov['b']}:{HTTP_PORT}/", tries=20)
    check(body is not None and marker_b in body, "after re-keying, a still reaches b")

    # what leaves the file leaves the VM: a new address, a peer gone
    conf_a = os.path.join(tmp, "a.conf")
    run(driver, "-config", conf_a, "vm-a", keys["a"], CIDR, "9", str(PORT),
        f"vm-b|{pub['b']}|{ov['b']}|{priv['b']}:{PORT}|{priv['b']}|0")
    apply("a")
    addrs = topo.inside("a", "ip", "-4", "-o", "addr", "show", "dev", "bar0").stdout
    check("10.250.0.10/16" in addrs and "10.250.0.1/" not in addrs,
          "a's changed address replaces the old one")
    r = topo.inside("a", "ip", "route", "show", "10.250.0.3/32").stdout.strip()
    check(r == "", f"a's route to c went with c from a's file ({r!r})")
    write_files()
    apply("a")
    body = fetch(topo, "c", f"http://{ov['a']}:{HTTP_PORT}/", tries=5)
    check(body is not None and marker_a in body, "with its file back, c reaches a again")

    # a wireguard-go that died is replaced by the next apply (agent start)
    dead = state("b").get("pid")
    os.kill(int(dead), signal.SIGKILL)
    for _ in range(50):
        if topo.inside("b", "ip", "link", "show", "bar0", check_rc=False).returncode != 0:
            break
        time.sleep(0.1)
    apply("b")
    check(state("b").get("pid") not in (None, "0", dead), "apply starts a new wireguard-go "
          f"after the old one (pid {dead}) was killed")
    body = fetch(topo, "a", f"http://{ov['b']}:{HTTP_PORT}/", tries=20)
    check(body is not None and marker_b in body, "a reaches b again through the new process")

    # no private key in what the agent side leaves or prints (state, logs)
    privs = []
    for vm in order:
        k = open(keys[vm]).read().strip()
        privs += [k, base64.b64decode(k).hex()]  # as written, and as the UAPI takes it
    leaked = []
    for vm in order:
        d = os.path.join(tmp, f"run-{vm}")
        for name in os.listdir(d):
            text = open(os.path.join(d, name), errors="replace").read()
            leaked += [f"{vm}/{name}" for k in privs if k in text]
    leaked += ["driver output" for out in outputs for k in privs if k in out]
    check(not leaked, f"no private key in run dirs or driver output {leaked}")

    # down everywhere
    pids = {vm: state(vm).get("pid") for vm in order}
    for vm in order:
        p = topo.inside(vm, driver, "-down", os.path.join(tmp, f"{vm}.conf"),
                        os.path.join(tmp, f"run-{vm}"), check_rc=False)
        check(p.returncode == 0, f"{vm}: down ({p.stderr.strip() or 'ok'})")
        link = topo.inside(vm, "ip", "link", "show", "bar0", check_rc=False)
        check(link.returncode != 0, f"{vm}: bar0 is gone")
        pid = pids[vm]
        try:
            comm = open(f"/proc/{pid}/comm").read()
        except OSError:
            comm = ""
        gone = pid not in (None, "0") and "wireguard" not in comm
        check(gone, f"{vm}: wireguard-go (pid {pid}) has exited")
        check(not state(vm), f"{vm}: the state file is gone")
    r = topo.inside("c", "ip", "route", "show", "10.250.0.0/16", check_rc=False).stdout.strip()
    check(r == "", f"c: no overlay route is left ({r!r})")
    p = topo.inside("a", driver, "-down", os.path.join(tmp, "a.conf"),
                    os.path.join(tmp, "run-a"), check_rc=False)
    check(p.returncode == 0, "down again is fine")

    if failures:
        log(f"{len(failures)} check(s) failed")
        return 1
    log("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
