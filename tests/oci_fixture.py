#!/usr/bin/env python3
"""oci_fixture.py - a real OCI registry with small real images, for tests.

Starts Debian's docker-registry (the CNCF distribution registry) on
127.0.0.1:<free port> with filesystem storage in a temporary directory,
builds images with umoci from files of this machine (busybox-static, Debian's
nginx and the shared libraries it needs) and pushes them with skopeo.
Everything lives under one temporary directory that is removed on exit.

Module use:
    with Registry(tmpdir) as reg:
        digests = reg.build_all()     # {"127.0.0.1:PORT/busybox:1": "sha256:..."}
        reg.images["nginx:2"].layers  # [(digest, media_type, size), ...]
        reg.requests()                # [("GET", "/v2/nginx/blobs/sha256:..."), ...]

CLI:
    python3 tests/oci_fixture.py selftest DIR   (root: runs the images)
    python3 tests/oci_fixture.py serve DIR [--no-build] [--auth basic|token]
prints `registry=127.0.0.1:PORT` (with --auth also `username=` and
`password=`), then one `<ref> <digest>` line per image, then `ready`, and
serves until SIGTERM/SIGINT.

The images (short name -> what it is):
  busybox:1      busybox-static with its applet symlinks, one layer; entrypoint
                 ["/bin/sh", "-c"], cmd ["httpd -f -p 8080 -h /www"], env,
                 workdir /www, exposes 8080/tcp
  busybox:v2s2   the same image pushed as a Docker v2 schema 2 manifest
  busybox:multi  an OCI image index: linux/amd64 (= busybox:1's manifest) and a
                 fake linux/arm64 manifest (same layers, arm64 config)
  nginx:1        Debian's nginx + its libraries (layer 1), config and
                 index.html "barista nginx v1" (layer 2); entrypoint
                 ["/usr/sbin/nginx", "-g", "daemon off;"], listens on 80;
                 /vm answers with the host's (the VM's) name
  nginx:2        the same base, index.html "barista nginx v2", and a third
                 layer whiting out /usr/share/nginx/html/legacy.html (present
                 in nginx:1)
"""
import base64
import hashlib
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

STARTUP_SECONDS = 20
TOOL_SECONDS = 60
BUSYBOX = "/bin/busybox"
NGINX = "/usr/sbin/nginx"
APPLETS = ["sh", "ash", "httpd", "sleep", "cat", "nc", "ls", "echo", "env", "ps", "kill",
           "mkdir", "rm", "cp", "mv", "wget", "id", "true", "false", "test", "grep", "sed",
           "head", "tail", "touch", "chmod", "hostname", "ip", "ifconfig", "uname", "date"]
NGINX_CONF = """\
# barista test image: nginx in the foreground, logging to stderr
# (the entrypoint adds "daemon off;")
worker_processes 1;
pid /tmp/nginx.pid;
error_log stderr;
events { worker_connections 64; }
http {
    access_log off; # no /dev/stdout to count on in every runtime
    client_body_temp_path /tmp/client_body;
    proxy_temp_path /tmp/proxy;
    fastcgi_temp_path /tmp/fastcgi;
    uwsgi_temp_path /tmp/uwsgi;
    scgi_temp_path /tmp/scgi;
    default_type text/html;
    server {
        listen 80;
        root /usr/share/nginx/html;
        index index.html;
        # the host's name (a container's is its VM's): the paper demo's page
        location = /vm { default_type text/plain; return 200 "$hostname\n"; }
    }
}
"""
PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
          "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
GROUP = "root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\nnobody:x:65534:\n"


class FixtureError(Exception):
    pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, **kw):
    """Run a tool with a bounded time; raise with its stderr when it fails."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=TOOL_SECONDS, **kw)
    except FileNotFoundError:
        raise FixtureError(f"{cmd[0]} is not installed (./dev deps installs APP_PACKAGES)")
    except subprocess.TimeoutExpired:
        raise FixtureError(f"{' '.join(cmd)}: still running after {TOOL_SECONDS} s")
    if p.returncode != 0:
        raise FixtureError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def bcrypt_hash(password):
    """A bcrypt hash for htpasswd (the registry accepts only bcrypt)."""
    try:
        import bcrypt
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
    except ImportError:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt
        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=32))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """The token service of distribution's token auth
    (docs/spec/auth/token.md): GET /token?service=&scope=... with optional
    Basic credentials answers {"token", "access_token"} holding an RS256 JWT
    whose x5c header carries the self-signed certificate the registry
    trusts (rootcertbundle).  Counts the tokens it issued and refused."""
    SERVICE = "barista-fixture"
    ISSUER = "barista-fixture-issuer"

    def __init__(self, directory, username, password, anonymous_pull):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID
        import datetime

        self.username, self.password, self.anonymous_pull = username, password, anonymous_pull
        self.issued, self.refused = 0, 0
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "barista fixture tokens")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=1))
                .sign(self.key, hashes.SHA256()))
        self.cert_der = cert.public_bytes(serialization.Encoding.DER)
        self.cert_path = os.path.join(directory, "token-cert.pem")
        with open(self.cert_path, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.handle(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def issue(self, subject, access):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(self.cert_der).decode()]}
        claims = {"iss": self.ISSUER, "sub": subject, "aud": self.SERVICE, "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(),
                  "access": [{"type": t, "name": n, "actions": a} for t, n, a in access]}
        signing = (b64url(json.dumps(header).encode()) + "." +
                   b64url(json.dumps(claims).encode())).encode()
        sig = self.key.sign(signing, padding.PKCS1v15(), hashes.SHA256())
        return signing.decode() + "." + b64url(sig)

    def handle(self, h):
        url = urllib.parse.urlparse(h.path)
        q = urllib.parse.parse_qs(url.query)
        auth = h.headers.get("Authorization", "")
        user = None
        if auth.startswith("Basic "):
            try:
                u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                u, p = "", ""
            if u != self.username or p != self.password:
                return self._refuse(h)
            user = u
        elif not self.anonymous_pull:
            return self._refuse(h)
        if url.path != "/token" or q.get("service") != [self.SERVICE]:
            return self._answer(h, 400, {"errors": [{"code": "UNSUPPORTED",
                                                     "message": "unknown service"}]})
        access = []
        for scope in q.get("scope", []):
            parts = scope.split(":")
            if len(parts) != 3:
                continue
            actions = parts[2].split(",")
            if user is None:
                actions = [a for a in actions if a == "pull"]
            access.append((parts[0], parts[1], actions))
        tok = self.issue(user or "anonymous", access)
        self.issued += 1
        self._answer(h, 200, {"token": tok, "access_token": tok, "expires_in": 300})

    def _refuse(self, h):
        self.refused += 1
        self._answer(h, 401, {"errors": [{"code": "UNAUTHORIZED",
                                          "message": "bad credentials"}]},
                     {"WWW-Authenticate": 'Basic realm="barista-fixture"'})

    def _answer(self, h, status, body, headers=None):
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)


class Image:
    """What was pushed: the reference, the manifest digest and media type,
    the config digest and the layers as (digest, media_type, size)."""

    def __init__(self, ref, digest, media_type, config=None, layers=(), manifests=()):
        self.ref, self.digest, self.media_type = ref, digest, media_type
        self.config, self.layers, self.manifests = config, list(layers), list(manifests)

    def __repr__(self):
        return f"Image({self.ref} {self.digest})"


class Registry:
    """A docker-registry process and its storage under a new directory of
    `parent` (removed on exit)."""

    def __init__(self, parent=None, auth=None, username="barista", password=None,
                 anonymous_pull=False, port=None):
        """auth: None, "basic" (htpasswd: a Basic challenge) or "token"
        (distribution's token auth, with a token server of this fixture that
        signs RS256 JWTs; anonymous_pull lets it hand pull-only tokens to
        clients without credentials, as Docker Hub does)."""
        if auth not in (None, "basic", "token"):
            raise ValueError(f"auth {auth!r}")
        self.parent = parent
        self.auth = auth
        self.username = username
        self.password = password or ("pw-" + os.urandom(12).hex())
        self.anonymous_pull = anonymous_pull
        self.tokens = None
        self.dir = None
        self.proc = None
        self.want_port = port
        self.port = None
        self.address = None
        self.images = {}
        self._log = None

    # -- lifetime ---------------------------------------------------------
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        for tool in ("docker-registry", "umoci", "skopeo"):
            if not shutil.which(tool):
                raise FixtureError(f"{tool} is not installed (./dev deps installs APP_PACKAGES)")
        self.dir = tempfile.mkdtemp(prefix="oci-fixture-", dir=self.parent)
        self.port = self.want_port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        cfg = os.path.join(self.dir, "registry.yml")
        with open(cfg, "w") as f:
            f.write("version: 0.1\n"
                    "log:\n  level: info\n  formatter: text\n  accesslog:\n    disabled: false\n"
                    f"storage:\n  filesystem:\n    rootdirectory: {self.dir}/storage\n"
                    "  delete:\n    enabled: true\n"
                    f"http:\n  addr: {self.address}\n" + self._auth_config())
        self._log = open(os.path.join(self.dir, "registry.log"), "w")
        self.proc = subprocess.Popen(["docker-registry", "serve", cfg], stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if self.proc.poll() is not None:
                raise FixtureError(f"docker-registry exited {self.proc.returncode}: "
                                   f"{self.log_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://{self.address}/v2/", timeout=2) as r:
                    if r.status == 200:
                        return
            except urllib.error.HTTPError as e:
                if e.code == 401 and self.auth:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise FixtureError(f"docker-registry not answering on {self.address} after "
                                   f"{STARTUP_SECONDS} s")
            time.sleep(0.1)

    def _auth_config(self):
        if self.auth == "basic":
            path = os.path.join(self.dir, "htpasswd")
            with open(path, "w") as f:
                f.write(f"{self.username}:{bcrypt_hash(self.password)}\n")
            return f"auth:\n  htpasswd:\n    realm: barista-fixture\n    path: {path}\n"
        if self.auth == "token":
            self.tokens = TokenServer(self.dir, self.username, self.password,
                                      self.anonymous_pull)
            return ("auth:\n  token:\n"
                    f"    realm: {self.tokens.realm}\n    service: {TokenServer.SERVICE}\n"
                    f"    issuer: {TokenServer.ISSUER}\n"
                    f"    rootcertbundle: {self.tokens.cert_path}\n")
        return ""

    def stop(self):
        """Stop the registry process (the storage stays until close())."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def close(self):
        self.stop()
        self.proc = None
        if self.tokens:
            self.tokens.close()
            self.tokens = None
        if self._log:
            self._log.close()
            self._log = None
        if self.dir:
            # a process still writing in an unpacked image (a test's) can
            # race the first attempt
            for attempt in range(3):
                try:
                    shutil.rmtree(self.dir)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if attempt == 2:
                        sys.stderr.write(f"oci_fixture: cannot remove {self.dir}: {e}\n")
                    time.sleep(0.5)
            self.dir = None

    # -- what the registry saw ------------------------------------------
    def log_text(self):
        if not self.dir:
            return ""
        with open(os.path.join(self.dir, "registry.log"), errors="replace") as f:
            return f.read()

    def requests(self):
        """(method, path) of every request in the registry's access log, in order."""
        out = []
        for m in re.finditer(r'"(GET|HEAD|POST|PUT|PATCH|DELETE) (\S+) HTTP/[0-9.]+"',
                             self.log_text()):
            out.append((m.group(1), m.group(2)))
        return out

    def ref(self, short):
        return f"{self.address}/{short}"

    # -- building and pushing ---------------------------------------------
    def _layout(self):
        lay = os.path.join(self.dir, "build", "layout")
        if not os.path.exists(lay):
            os.makedirs(os.path.dirname(lay), exist_ok=True)
            run(["umoci", "init", "--layout", lay])
        return lay

    def _stage(self, name):
        d = os.path.join(self.dir, "build", "stage-" + name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        return d

    def _blob(self, lay, digest):
        with open(os.path.join(lay, "blobs", *digest.split(":", 1)), "rb") as f:
            return f.read()

    def _put_blob(self, lay, data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = os.path.join(lay, "blobs", "sha256", digest[7:])
        with open(path, "wb") as f:
            f.write(data)
        return digest

    def _tag_desc(self, lay, tag):
        with open(os.path.join(lay, "index.json")) as f:
            idx = json.load(f)
        for m in idx["manifests"]:
            if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
                return m
        raise FixtureError(f"tag {tag} not in {lay}")

    def _push(self, lay, tag, short, fmt=None, all_=False):
        digestfile = os.path.join(self.dir, "build", "digest")
        cmd = ["skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false",
               "--digestfile", digestfile]
        if self.auth:
            cmd += ["--dest-creds", f"{self.username}:{self.password}"]
        if fmt:
            cmd += ["--format", fmt]
        if all_:
            cmd += ["--all"]
        run(self._contained(cmd + [f"oci:{lay}:{tag}", f"docker://{self.ref(short)}"]),
            env=self._tool_env())
        with open(digestfile) as f:
            digest = f.read().strip()
        body, ctype = self._get(f"/v2/{short.split(':')[0]}/manifests/{digest}")
        raw = json.loads(body)
        img = Image(self.ref(short), digest, raw.get("mediaType") or ctype)
        if "layers" in raw:
            img.config = raw["config"]["digest"]
            img.layers = [(l["digest"], l["mediaType"], l["size"]) for l in raw["layers"]]
        for m in raw.get("manifests", []):
            img.manifests.append((m["digest"], m.get("platform", {})))
        self.images[short] = img
        return img

    def _tool_env(self):
        home = os.path.join(self.dir, "home")
        os.makedirs(home, exist_ok=True)
        return dict(os.environ, TMPDIR=os.path.join(self.dir, "build"), HOME=home,
                    XDG_DATA_HOME=os.path.join(home, "data"),
                    XDG_CONFIG_HOME=os.path.join(home, "config"))

    def _contained(self, cmd):
        """skopeo keeps a blob-info cache in /var/lib/containers/cache when run
        as root (in $XDG_DATA_HOME otherwise): as root, run it in a private
        mount namespace with an empty tmpfs over /var/lib so nothing outlives
        the fixture."""
        if os.geteuid() != 0:
            return cmd
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                'mount -t tmpfs -o size=64m tmpfs /var/lib && exec "$@"', "sh"] + cmd

    def _get(self, path):
        headers = {}
        if self.auth == "basic":
            headers["Authorization"] = "Basic " + base64.b64encode(
                f"{self.username}:{self.password}".encode()).decode()
        elif self.auth == "token":
            repo = path.split("/")[2]
            headers["Authorization"] = "Bearer " + self.tokens.issue(
                self.username, [("repository", repo, ["pull"])])
        req = urllib.request.Request(f"http://{self.address}{path}", headers={**headers, "Accept": ", ".join([
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.docker.distribution.manifest.v2+json",
            "application/vnd.docker.distribution.manifest.list.v2+json"])})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read(), r.headers.get("Content-Type", "")

    def _config(self, lay, tag, args):
        run(["umoci", "config", "--image", f"{lay}:{tag}", "--no-history",
             "--os", "linux", "--architecture", "amd64"] + args)

    def build_busybox(self):
        lay = self._layout()
        st = self._stage("busybox")
        os.makedirs(os.path.join(st, "bin"))
        shutil.copy2(BUSYBOX, os.path.join(st, "bin", "busybox"))
        for a in APPLETS:
            os.symlink("busybox", os.path.join(st, "bin", a))
        for d in ("tmp", "etc", "www"):
            os.makedirs(os.path.join(st, d))
        os.chmod(os.path.join(st, "tmp"), 0o1777)
        with open(os.path.join(st, "etc", "passwd"), "w") as f:
            f.write(PASSWD)
        with open(os.path.join(st, "etc", "group"), "w") as f:
            f.write(GROUP)
        with open(os.path.join(st, "www", "index.html"), "w") as f:
            f.write("barista busybox\n")
        run(["umoci", "new", "--image", f"{lay}:busybox-1"])
        run(["umoci", "insert", "--no-history", "--image", f"{lay}:busybox-1", st, "/"])
        self._config(lay, "busybox-1", [
            "--config.entrypoint", "/bin/sh", "--config.entrypoint", "-c",
            "--config.cmd", "httpd -f -p 8080 -h /www",
            "--config.env", "PATH=/bin", "--config.env", "BARISTA_IMAGE=busybox",
            "--config.workingdir", "/www", "--config.exposedports", "8080/tcp"])
        self._push(lay, "busybox-1", "busybox:1")
        self._push(lay, "busybox-1", "busybox:v2s2", fmt="v2s2")

    def build_multi(self):
        """An OCI index for busybox:multi: busybox:1's manifest for linux/amd64
        and a fake linux/arm64 one (the same layers under an arm64 config)."""
        lay = self._layout()
        amd = self._tag_desc(lay, "busybox-1")
        man = json.loads(self._blob(lay, amd["digest"]))
        cfg = json.loads(self._blob(lay, man["config"]["digest"]))
        cfg["architecture"] = "arm64"
        cfg_data = json.dumps(cfg).encode()
        man["config"] = dict(man["config"], digest=self._put_blob(lay, cfg_data),
                             size=len(cfg_data))
        arm_data = json.dumps(man).encode()
        arm = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
               "digest": self._put_blob(lay, arm_data), "size": len(arm_data),
               "platform": {"architecture": "arm64", "os": "linux"}}
        amd_desc = {"mediaType": amd["mediaType"], "digest": amd["digest"], "size": amd["size"],
                    "platform": {"architecture": "amd64", "os": "linux"}}
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": [arm, amd_desc]}
        idx_data = json.dumps(index).encode()
        with open(os.path.join(lay, "index.json")) as f:
            top = json.load(f)
        top["manifests"].append({
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": self._put_blob(lay, idx_data), "size": len(idx_data),
            "annotations": {"org.opencontainers.image.ref.name": "busybox-multi"}})
        with open(os.path.join(lay, "index.json"), "w") as f:
            json.dump(top, f)
        self._push(lay, "busybox-multi", "busybox:multi", all_=True)

    def _libs_of(self, binary):
        libs = []
        for line in run(["ldd", binary]).splitlines():
            m = re.search(r"(/\S+) \(0x", line)
            if m:
                libs.append(m.group(1))
        return libs

    def build_nginx(self):
        lay = self._layout()
        base = self._stage("nginx-base")
        for lib in self._libs_of(NGINX):
            dest = os.path.join(base, lib.lstrip("/"))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy2(os.path.realpath(lib), dest)
        os.makedirs(os.path.join(base, "usr", "sbin"))
        shutil.copy2(NGINX, os.path.join(base, "usr", "sbin", "nginx"))
        for d in ("etc/nginx", "tmp", "var/log/nginx", "var/lib/nginx", "run",
                  "usr/share/nginx/html"):
            os.makedirs(os.path.join(base, d), exist_ok=True)
        os.chmod(os.path.join(base, "tmp"), 0o1777)
        with open(os.path.join(base, "etc", "passwd"), "w") as f:
            f.write(PASSWD)
        with open(os.path.join(base, "etc", "group"), "w") as f:
            f.write(GROUP)
        with open(os.path.join(base, "usr/share/nginx/html/legacy.html"), "w") as f:
            f.write("legacy page (deleted in nginx:2)\n")
        run(["umoci", "new", "--image", f"{lay}:nginx-base"])
        run(["umoci", "insert", "--no-history", "--image", f"{lay}:nginx-base", base, "/"])
        self._config(lay, "nginx-base", [
            "--config.entrypoint", NGINX, "--config.entrypoint", "-g",
            "--config.entrypoint", "daemon off;", "--config.exposedports", "80/tcp",
            "--config.env", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "--config.workingdir", "/"])
        for v in ("1", "2"):
            tag = f"nginx-{v}"
            run(["umoci", "tag", "--image", f"{lay}:nginx-base", tag])
            content = self._stage(f"nginx-{v}")
            os.makedirs(os.path.join(content, "etc", "nginx"))
            os.makedirs(os.path.join(content, "usr", "share", "nginx", "html"))
            with open(os.path.join(content, "etc", "nginx", "nginx.conf"), "w") as f:
                f.write(NGINX_CONF)
            with open(os.path.join(content, "usr/share/nginx/html/index.html"), "w") as f:
                f.write(f"barista nginx v{v}\n")
            run(["umoci", "insert", "--no-history", "--image", f"{lay}:{tag}", content, "/"])
            if v == "2":
                run(["umoci", "insert", "--no-history", "--image", f"{lay}:{tag}",
                     "--whiteout", "/usr/share/nginx/html/legacy.html"])
            self._push(lay, tag, f"nginx:{v}")

    def build_all(self):
        """Build and push every image; returns {full ref: manifest digest}."""
        self.build_busybox()
        self.build_multi()
        self.build_nginx()
        return {img.ref: img.digest for img in self.images.values()}


def selftest(parent):
    """The images do what they promise: unpacked by umoci, busybox's shell
    runs, each nginx serves its page on port 80 in its own network namespace,
    and nginx:2's whiteout hides legacy.html.  Needs root (chroot, unshare)."""
    if os.geteuid() != 0:
        raise FixtureError("selftest needs root (chroot and unshare -n)")
    problems = []
    with Registry(parent) as reg:
        reg.build_all()
        lay = os.path.join(reg.dir, "build", "layout")
        for tag in ("busybox-1", "nginx-1", "nginx-2"):
            bundle = os.path.join(reg.dir, "unpacked-" + tag)
            run(["umoci", "unpack", "--image", f"{lay}:{tag}", bundle])
            rootfs = os.path.join(bundle, "rootfs")
            if tag.startswith("busybox"):
                out = run(["chroot", rootfs, "/bin/sh", "-c", "echo ok; cat /www/index.html"])
                if out != "ok\nbarista busybox\n":
                    problems.append(f"{tag}: the shell said {out!r}")
                continue
            v = tag[-1]
            script = (f"ip link set lo up; chroot {rootfs} /usr/sbin/nginx -g 'daemon off;' &"
                      " for i in $(seq 50); do"
                      f"  {BUSYBOX} wget -qO- http://127.0.0.1/ 2>/dev/null && break;"
                      "  sleep 0.1; done;"
                      f" {BUSYBOX} wget -S -qO /dev/null http://127.0.0.1/legacy.html 2>&1 |"
                      "  sed -n 's/^ *HTTP\\/[0-9.]* \\([0-9]*\\).*/\\1/p' | head -n 1;"
                      " kill $!; wait")
            out = run(["unshare", "--net", "sh", "-c", script])
            want = f"barista nginx v{v}\n" + ("200\n" if v == "1" else "404\n")
            if out != want:
                problems.append(f"{tag}: served {out!r}, expected {want!r}")
    if problems:
        raise FixtureError("; ".join(problems))


def main(argv):
    if len(argv) == 3 and argv[1] == "selftest":
        selftest(argv[2])
        print("oci_fixture: selftest passed")
        return 0
    auth = None
    if "--auth" in argv:
        i = argv.index("--auth")
        auth = argv[i + 1] if i + 1 < len(argv) else ""
    port = None
    if "--port" in argv:
        i = argv.index("--port")
        port = int(argv[i + 1]) if i + 1 < len(argv) and argv[i + 1].isdigit() else 0
    if len(argv) < 3 or argv[1] != "serve" or auth not in (None, "basic", "token") or \
            port == 0:
        sys.stderr.write("usage: oci_fixture.py serve DIR [--no-build] [--auth basic|token] "
                         "[--port N]\n")
        return 2
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    with Registry(argv[2], auth=auth, port=port) as reg:
        digests = {} if "--no-build" in argv else reg.build_all()
        print(f"registry={reg.address}", flush=True)
        if auth:
            print(f"username={reg.username}\npassword={reg.password}", flush=True)
        for ref, digest in digests.items():
            print(f"{ref} {digest}", flush=True)
        print("ready", flush=True)
        while not stop and reg.proc.poll() is None:
            time.sleep(0.2)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except FixtureError as e:
        sys.stderr.write(f"oci_fixture: {e}\n")
        sys.exit(1)
