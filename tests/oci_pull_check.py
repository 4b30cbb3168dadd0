#!/usr/bin/env python3
"""oci_pull_check.py TEST_OCI [pull|auth] - the OCI client against a real registry.

Starts tests/oci_fixture.py's docker-registry with its images and drives
`test_oci pull|resolve` (tests/test_oci.c): every image is pulled and held
to what the fixture pushed (manifest, config and layer digests), the cache
is checked to be a valid OCI image layout by skopeo and umoci and by
re-hashing every blob, a second pull fetches no blob (counted both by the
client and in the registry's access log), tags and the platform index
resolve, unknown tags and repositories fail with the registry's own
message, a corrupted blob in the registry's storage fails with both
digests named, and a stopped registry gives BAR_ERETRY.

`auth` runs the registry behind htpasswd (a Basic challenge) and behind
distribution's token auth (the fixture's token server, whose RS256 JWTs the
registry verifies): the right credentials pull, none or wrong ones give
BAR_EAUTH, an anonymous-pull token service lets anonymous clients pull, and
no output ever holds the password.
"""
import hashlib
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oci_fixture  # noqa: E402

BAR_ENOTFOUND, BAR_EAUTH, BAR_ERETRY, BAR_EINVALID = -2, -4, -5, -6
STEP_SECONDS = 60
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}", flush=True)


def oci(test_oci, *args, creds=None, timeout_ms=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCI_")}
    if timeout_ms:
        env["OCI_TIMEOUT_MS"] = str(timeout_ms)
    if creds:
        env["OCI_USERNAME"], env["OCI_PASSWORD"] = creds
    p = subprocess.run([test_oci, *args], capture_output=True, text=True, timeout=STEP_SECONDS,
                       env=env)
    if creds and (creds[1] in p.stdout or creds[1] in p.stderr):
        check(False, f"test_oci {' '.join(args)} printed the password")
    # under the sanitizers an error path's leak would hide behind its exit 1
    check("Sanitizer" not in p.stderr, f"test_oci {' '.join(args)}: {p.stderr[-3000:]}")
    try:
        out = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise SystemExit(f"test_oci {' '.join(args)}: exit {p.returncode}, no JSON: "
                         f"{p.stdout!r} {p.stderr!r}")
    if p.returncode != 0 and "error" not in out:
        raise SystemExit(f"test_oci {' '.join(args)}: exit {p.returncode}: {out}")
    return out


def blob_gets(reg, since):
    return [path for method, path in reg.requests()[since:]
            if method == "GET" and "/blobs/" in path]


def check_layout(cache, pulled):
    with open(os.path.join(cache, "oci-layout")) as f:
        check(json.load(f).get("imageLayoutVersion") == "1.0.0", "oci-layout version")
    blobs = os.path.join(cache, "blobs", "sha256")
    for name in os.listdir(blobs):
        check(not name.startswith("."), f"no temporary file left in the cache: {name}")
        if name.startswith("."):
            continue
        with open(os.path.join(blobs, name), "rb") as f:
            got = hashlib.sha256(f.read()).hexdigest()
        check(got == name, f"cached blob {name} hashes to {got}")
    with open(os.path.join(cache, "index.json")) as f:
        idx = json.load(f)
    names = [m["annotations"]["org.opencontainers.image.ref.name"] for m in idx["manifests"]]
    check(len(names) == len(set(names)), f"one index.json entry per reference: {names}")
    listed = subprocess.run(["umoci", "ls", "--layout", cache], capture_output=True, text=True,
                            timeout=STEP_SECONDS)
    check(listed.returncode == 0, f"umoci ls --layout: {listed.stderr}")
    for ref, img in pulled.items():
        check(ref in listed.stdout.split(), f"umoci ls lists {ref}")
        if "docker" in img["manifest_media_type"]:
            continue  # skopeo's oci: transport reads only OCI manifests from index.json
        p = subprocess.run(["skopeo", "inspect", f"oci:{cache}:{ref}"], capture_output=True,
                           text=True, timeout=STEP_SECONDS)
        check(p.returncode == 0, f"skopeo inspect oci:{ref}: {p.stderr.strip()}")
        if p.returncode == 0:
            info = json.loads(p.stdout)
            check(info["Digest"] == img["manifest_digest"], f"skopeo sees {ref}'s digest")
            check(info["Layers"] == [l["digest"] for l in img["layers"]],
                  f"skopeo sees {ref}'s layers")


class SlowProxy:
    """An HTTP proxy in front of the registry that trickles blob bodies
    (4 KiB every 10 ms), so a pull can be killed in the middle of a layer."""

    def __init__(self, upstream):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                proxy.forward(self, "GET")

            def do_HEAD(self):
                proxy.forward(self, "HEAD")

        self.upstream = upstream
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.address = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def forward(self, h, method):
        req = urllib.request.Request(f"http://{self.upstream}{h.path}", method=method,
                                     headers={k: v for k, v in h.headers.items()
                                              if k.lower() in ("accept", "authorization")})
        try:
            r = urllib.request.urlopen(req, timeout=10)
        except urllib.error.HTTPError as e:
            r = e
        body = r.read()
        h.send_response(r.status if hasattr(r, "status") else r.code)
        for k, v in r.headers.items():
            if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if method == "HEAD":
            return
        try:
            step = 4096 if "/blobs/" in h.path else len(body) or 1
            for i in range(0, len(body), step):
                h.wfile.write(body[i:i + step])
                h.wfile.flush()
                if step == 4096:
                    time.sleep(0.01)
        except OSError:
            pass

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def check_kill(t, reg, tmp):
    """A pull SIGKILLed in the middle of a layer leaves no blob under its
    final name, only a temporary file that the next pull sweeps away; a
    live process's temporary file is left alone."""
    proxy = SlowProxy(reg.address)
    try:
        cache = os.path.join(tmp, "cache-kill")
        ref = f"{proxy.address}/nginx:1"
        base = reg.images["nginx:1"].layers[0][0]
        p = subprocess.Popen([t, "pull", ref, cache], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        blobs = os.path.join(cache, "blobs", "sha256")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and p.poll() is None:
            part = [n for n in os.listdir(blobs) if n.startswith("." + base[7:])] \
                if os.path.isdir(blobs) else []
            if part and os.path.getsize(os.path.join(blobs, part[0])) > 100000:
                break
            time.sleep(0.05)
        check(p.poll() is None, "the slow pull was still running when killed")
        p.kill()
        p.wait(timeout=10)
        left = sorted(os.listdir(blobs))
        check(base[7:] not in left, f"no half layer under its final name: {left}")
        check(any(n.startswith("." + base[7:] + ".tmp.") for n in left),
              f"the killed pull's temporary file is there: {left}")
        live = os.path.join(blobs, f".{'f' * 64}.tmp.{os.getpid()}.x")
        open(live, "w").close()
        got = oci(t, "pull", reg.ref("nginx:1"), cache)
        check(got.get("manifest_digest") == reg.images["nginx:1"].digest,
              f"the pull after the kill: {got}")
        left = [n for n in os.listdir(blobs) if n.startswith(".")]
        check(left == [os.path.basename(live)],
              f"only the live process's temporary file is left: {left}")
    finally:
        proxy.close()


class RedirectingRegistry:
    """A front for a token-auth registry that answers blob GETs it has
    authorised with a 307 to a "storage" server on another host name
    (localhost instead of 127.0.0.1), the way registries hand blobs to S3.
    The storage server records the Authorization header of every request:
    the client must not carry its registry token there."""

    def __init__(self, reg):
        self.reg = reg
        self.storage_auth = []

        def handler(fn):
            class H(http.server.BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.1"

                def log_message(self, *args):
                    pass

                def do_GET(self):
                    fn(self, "GET")

                def do_HEAD(self):
                    fn(self, "HEAD")
            return H

        self.front = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler(self.on_front))
        self.store = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler(self.on_store))
        self.address = f"127.0.0.1:{self.front.server_address[1]}"
        self.threads = [threading.Thread(target=srv.serve_forever, daemon=True)
                        for srv in (self.front, self.store)]
        for th in self.threads:
            th.start()

    def upstream(self, path, method, headers):
        req = urllib.request.Request(f"http://{self.reg.address}{path}", method=method,
                                     headers=headers)
        try:
            r = urllib.request.urlopen(req, timeout=10)
            return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def reply(self, h, status, headers, body, method):
        h.send_response(status)
        for k, v in headers.items():
            if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if method != "HEAD":
            h.wfile.write(body)

    def on_front(self, h, method):
        fwd = {k: v for k, v in h.headers.items() if k.lower() in ("accept", "authorization")}
        if "/blobs/" in h.path and method == "GET":
            status, headers, body = self.upstream(h.path, "HEAD", fwd)
            if status == 200:
                port = self.store.server_address[1]
                return self.reply(h, 307, {"Location": f"http://localhost:{port}{h.path}"},
                                  b"", method)
            return self.reply(h, status, headers, body, method)
        status, headers, body = self.upstream(h.path, method, fwd)
        self.reply(h, status, headers, body, method)

    def on_store(self, h, method):
        self.storage_auth.append(h.headers.get("Authorization"))
        repo = h.path.split("/")[2]
        tok = self.reg.tokens.issue(self.reg.username, [("repository", repo, ["pull"])])
        status, headers, body = self.upstream(h.path, method, {"Authorization": "Bearer " + tok})
        self.reply(h, status, headers, body, method)

    def close(self):
        for srv in (self.front, self.store):
            srv.shutdown()
            srv.server_close()
        for th in self.threads:
            th.join(timeout=10)


def check_redirect(t, reg, tmp):
    front = RedirectingRegistry(reg)
    try:
        want = reg.images["busybox:1"]
        got = oci(t, "pull", f"{front.address}/busybox:1", os.path.join(tmp, "c-redirect"),
                  creds=(reg.username, reg.password))
        check(got.get("manifest_digest") == want.digest and got.get("blobs_fetched") == 2,
              f"a pull with redirected blobs: {got}")
        carried = sum(1 for a in front.storage_auth if a)
        check(len(front.storage_auth) == 2 and carried == 0,
              f"the storage host got no Authorization header: {carried} of "
              f"{len(front.storage_auth)} requests carried one")
    finally:
        front.close()


def check_auth(t):
    for mode, anonymous in (("basic", False), ("token", False), ("token", True)):
        name = f"{mode}{' (anonymous pull)' if anonymous else ''}"
        with tempfile.TemporaryDirectory(prefix="oci-auth-") as tmp, \
                oci_fixture.Registry(tmp, auth=mode, anonymous_pull=anonymous) as reg:
            reg.build_busybox()
            want = reg.images["busybox:1"]
            good = (reg.username, reg.password)
            got = oci(t, "pull", want.ref, os.path.join(tmp, "c1"), creds=good)
            check(got.get("manifest_digest") == want.digest, f"{name}: pull with credentials: {got}")
            got = oci(t, "resolve", reg.ref("busybox:v2s2"), creds=good)
            check(got.get("digest") == reg.images["busybox:v2s2"].digest,
                  f"{name}: resolve with credentials: {got}")
            got = oci(t, "pull", want.ref, os.path.join(tmp, "c2"), creds=(reg.username, "nope"))
            check(got.get("code") == BAR_EAUTH, f"{name}: wrong password: {got}")
            got = oci(t, "pull", want.ref, os.path.join(tmp, "c3"))
            if anonymous:
                check(got.get("manifest_digest") == want.digest, f"{name}: anonymous pull: {got}")
            else:
                check(got.get("code") == BAR_EAUTH, f"{name}: no credentials: {got}")
            if mode == "token":
                check(reg.tokens.refused >= 1 and reg.tokens.issued >= 3,
                      f"{name}: the token service issued {reg.tokens.issued}, refused "
                      f"{reg.tokens.refused}")
            if mode == "token" and not anonymous:
                check_redirect(t, reg, tmp)
            log = reg.log_text()
            check(reg.password not in log, f"{name}: the password is not in the registry's log")


def main():
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] not in ("pull", "auth")):
        sys.stderr.write("usage: oci_pull_check.py TEST_OCI [pull|auth]\n")
        return 2
    t = sys.argv[1]
    if len(sys.argv) == 3 and sys.argv[2] == "auth":
        check_auth(t)
    else:
        check_pull(t)
    if failures:
        print(f"oci_pull_check: {len(failures)} checks failed", flush=True)
        return 1
    print("oci_pull_check: all checks passed", flush=True)
    return 0


def check_pull(t):
    with tempfile.TemporaryDirectory(prefix="oci-pull-") as tmp, \
            oci_fixture.Registry(tmp) as reg:
        reg.build_all()
        cache = os.path.join(tmp, "cache")
        pulled = {}

        # every image, held to what was pushed
        for short in ("busybox:1", "busybox:v2s2", "nginx:1", "nginx:2"):
            want = reg.images[short]
            got = oci(t, "pull", want.ref, cache)
            check("error" not in got, f"pull {short}: {got.get('error')}")
            if "error" in got:
                continue
            pulled[want.ref] = got
            check(got["manifest_digest"] == want.digest, f"{short}: manifest digest")
            check(got["manifest_media_type"] == want.media_type, f"{short}: media type")
            check(got["config_digest"] == want.config, f"{short}: config digest")
            check([(l["digest"], l["media_type"], l["size"]) for l in got["layers"]] ==
                  [tuple(l) for l in want.layers], f"{short}: layers {got['layers']}")
        bb = pulled.get(reg.ref("busybox:1"), {})
        check(bb.get("entrypoint") == ["/bin/sh", "-c"], f"busybox entrypoint {bb}")
        check(bb.get("cmd") == ["httpd -f -p 8080 -h /www"], "busybox cmd")
        check("BARISTA_IMAGE=busybox" in bb.get("env", []), "busybox env")
        check(bb.get("workdir") == "/www" and bb.get("exposed_tcp") == [8080],
              "busybox workdir and port")
        ng = pulled.get(reg.ref("nginx:1"), {})
        check(ng.get("entrypoint") == ["/usr/sbin/nginx", "-g", "daemon off;"],
              "nginx entrypoint")
        n2 = pulled.get(reg.ref("nginx:2"), {})
        check(n2.get("blobs_fetched") == 3,
              f"nginx:2 after nginx:1 fetches its config and 2 new layers, not the shared "
              f"base: {n2.get('blobs_fetched')}")

        # the index: amd64 by default, arm64 on request
        multi = reg.images["busybox:multi"]
        amd = [d for d, p in multi.manifests if p.get("architecture") == "amd64"][0]
        arm = [d for d, p in multi.manifests if p.get("architecture") == "arm64"][0]
        check(amd == reg.images["busybox:1"].digest, "the index's amd64 entry is busybox:1")
        got = oci(t, "resolve", multi.ref)
        check(got.get("digest") == amd, f"busybox:multi resolves to amd64: {got}")
        got = oci(t, "resolve", multi.ref, "linux/arm64")
        check(got.get("digest") == arm, f"busybox:multi resolves to arm64 on request: {got}")
        got = oci(t, "pull", multi.ref, cache)
        check(got.get("manifest_digest") == amd and got.get("blobs_fetched") == 0,
              f"pull busybox:multi = busybox:1 from the cache: {got}")
        if "error" not in got:
            pulled[multi.ref] = got
        got = oci(t, "pull", multi.ref, os.path.join(tmp, "cache-arm"), "linux/arm64")
        check(got.get("manifest_digest") == arm and got.get("architecture") == "arm64",
              f"pull busybox:multi for linux/arm64: {got}")
        got = oci(t, "resolve", multi.ref, "linux/s390x")
        check(got.get("code") == BAR_ENOTFOUND and "linux/arm64, linux/amd64" in
              got.get("error", ""), f"no s390x in the index: {got}")

        # tags and digests resolve
        for short in ("busybox:1", "busybox:v2s2", "nginx:1", "nginx:2"):
            got = oci(t, "resolve", reg.ref(short))
            check(got.get("digest") == reg.images[short].digest, f"resolve {short}: {got}")
        since = len(reg.requests())
        oci(t, "resolve", reg.ref("nginx:1"))
        check(reg.requests()[since:] == [("HEAD", "/v2/nginx/manifests/1")],
              f"resolving a tag is one HEAD: {reg.requests()[since:]}")
        since = len(reg.requests())
        oci(t, "resolve", multi.ref)
        check([m for m, _ in reg.requests()[since:]] == ["HEAD", "GET", "GET"],
              f"resolving an index: HEAD, then the index and the platform manifest: "
              f"{reg.requests()[since:]}")
        by_digest = f"{reg.address}/nginx@{reg.images['nginx:1'].digest}"
        got = oci(t, "resolve", by_digest)
        check(got.get("digest") == reg.images["nginx:1"].digest, f"resolve by digest: {got}")

        # a second pull fetches nothing but the manifest
        since = len(reg.requests())
        got = oci(t, "pull", reg.ref("nginx:1"), cache)
        check(got.get("blobs_fetched") == 0, f"second pull fetches no blob: {got}")
        check(blob_gets(reg, since) == [], f"registry saw blob GETs: {blob_gets(reg, since)}")
        got = oci(t, "pull", by_digest, cache)
        check(got.get("manifest_digest") == reg.images["nginx:1"].digest and
              got.get("blobs_fetched") == 0, f"pull by digest from the cache: {got}")
        if "error" not in got:
            pulled[by_digest] = got

        check_layout(cache, pulled)
        check_kill(t, reg, tmp)

        # concurrent pulls into one cache: every reference recorded
        shared = os.path.join(tmp, "cache-shared")
        refs = [reg.ref(s) for s in ("busybox:1", "busybox:v2s2", "nginx:1", "nginx:2",
                                      "busybox:multi")]
        procs = [subprocess.Popen([t, "pull", r, shared], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for r in refs]
        for r, p in zip(refs, procs):
            out, err = p.communicate(timeout=STEP_SECONDS)
            check(p.returncode == 0, f"concurrent pull {r}: {out} {err}")
        with open(os.path.join(shared, "index.json")) as f:
            names = sorted(m["annotations"]["org.opencontainers.image.ref.name"]
                           for m in json.load(f)["manifests"])
        check(names == sorted(refs), f"concurrent pulls all recorded: {names}")

        # the registry's own errors
        got = oci(t, "pull", reg.ref("nginx:9"), cache)
        check(got.get("code") == BAR_ENOTFOUND and got.get("error") ==
              f"{reg.address}/nginx:9: the registry answered 404 MANIFEST_UNKNOWN: "
              "manifest unknown", f"unknown tag: {got}")
        got = oci(t, "resolve", reg.ref("nginx:9"))
        check(got.get("code") == BAR_ENOTFOUND and "404 MANIFEST_UNKNOWN" in got["error"],
              f"resolve unknown tag: {got}")
        got = oci(t, "pull", reg.ref("no/such-repo:1"), cache)
        check(got.get("code") == BAR_ENOTFOUND and "the registry answered 404" in
              got.get("error", ""), f"unknown repository: {got}")
        missing = "sha256:" + "0" * 64
        got = oci(t, "pull", f"{reg.address}/nginx@{missing}", cache)
        check(got.get("code") == BAR_ENOTFOUND and "MANIFEST_UNKNOWN" in got.get("error", ""),
              f"unknown digest: {got}")
        got = oci(t, "pull", "Bad/Ref", cache)
        check(got.get("code") == BAR_EINVALID and "lowercase" in got.get("error", ""),
              f"bad reference: {got}")

        # a blob the registry serves wrong: both digests named, nothing cached
        layer = reg.images["nginx:2"].layers[-1][0]
        data = os.path.join(reg.dir, "storage", "docker", "registry", "v2", "blobs", "sha256",
                            layer[7:9], layer[7:], "data")
        with open(data, "rb") as f:
            body = bytearray(f.read())
        body[-1] ^= 0xff
        with open(data, "wb") as f:
            f.write(body)
        fresh = os.path.join(tmp, "cache-bad")
        got = oci(t, "pull", reg.ref("nginx:2"), fresh)
        bad = "sha256:" + hashlib.sha256(body).hexdigest()
        check(got.get("code") == BAR_EINVALID and layer in got.get("error", "") and
              bad in got.get("error", "") and "digest mismatch" in got.get("error", ""),
              f"corrupt blob: {got}")
        check(not os.path.exists(os.path.join(fresh, "blobs", "sha256", layer[7:])),
              "the corrupt blob is not cached")
        check([n for n in os.listdir(os.path.join(fresh, "blobs", "sha256"))
               if n.startswith(".")] == [], "no temporary file left after a bad blob")

        # the registry down
        reg.stop()
        got = oci(t, "pull", reg.ref("nginx:1"), cache)
        check(got.get("code") == BAR_ERETRY and "cannot reach the registry" in
              got.get("error", "") and "onnect" in got.get("error", ""),
              f"registry down: {got}")
        got = oci(t, "resolve", reg.ref("nginx:1"))
        check(got.get("code") == BAR_ERETRY, f"resolve with the registry down: {got}")

        # a registry that takes the connection and never answers
        with socket.socket() as mute:
            mute.bind(("127.0.0.1", 0))
            mute.listen(8)
            port = mute.getsockname()[1]
            start = time.monotonic()
            got = oci(t, "pull", f"127.0.0.1:{port}/nginx:1", cache, timeout_ms=1000)
            took = time.monotonic() - start
        check(got.get("code") == BAR_ERETRY and "timed out" in got.get("error", ""),
              f"a mute registry times out: {got}")
        check(took < 5, f"the 1 s timeout is kept: {took:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
