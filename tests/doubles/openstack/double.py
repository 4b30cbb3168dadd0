#!/usr/bin/python3
"""double.py - an OpenStack cloud (Keystone v3, Nova 2.1, Neutron v2.0,
Glance v2) for the openstack driver's tests (tests/doubles/README.md).

Every request is checked against the services' own request models
(models.py): Keystone's token-issue schema, Nova's JSON schemas with Nova's
validator, Neutron's attribute maps with neutron_lib's validators, Glance's
list deserializer; the token must be one this Keystone issued and not
expired.  A misfit is a violation, answered with the service's own error
format (Nova {"badRequest": ...}, Neutron {"NeutronError": ...}, Keystone
{"error": ...}).

Two regions, RegionOne and RegionTwo, each with its own Nova, Neutron and
Glance under /<region>/compute/v2.1, /<region>/network, /<region>/image;
Keystone is /identity.  The catalogue's URLs keep a /_slow prefix when the
token was asked for through it, so every later call of that connection is
slow too.
"""
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import models as models_mod  # noqa: E402

REGIONS = ["RegionOne", "RegionTwo"]
USERS = {  # the fake credentials of tests/data/openstack/credentials.json
    "ci-operator-4821": "Zq3vN8rT2wLk5pXs9dFh",
}
APP_CREDS = {"4f1c2a9e8b7d4c3fa6e5d2c1b0a99887": "Kp7Rw2Zt9Qm4Vx8Ln3Hs6Jd1Fg5Bc0Ay"}
PROJECT_ID = "8a3f0e2b9c7d41e6b5a4f3e2d1c0b9a8"
USER_ID = "1d2c3b4a59687f6e5d4c3b2a19081726"
TOKEN_TTL = 3600
NOVA_MAX_LIMIT = 1000      # nova.conf [api]max_limit default
NEUTRON_PAGE = 1000
FLAVORS = [  # id, name, vcpus, ram MiB, disk GiB
    ("1", "m1.tiny", 1, 512, 1), ("2", "m1.small", 1, 2048, 20),
    ("3", "m1.medium", 2, 4096, 40), ("4", "m1.large", 4, 8192, 80),
    ("5", "m1.xlarge", 8, 16384, 160),
]
IMAGES = [("debian-12", "debian", "12"), ("ubuntu-22.04", "ubuntu", "22.04"),
          ("cirros-0.6.2", "cirros", "0.6.2")]


def now_iso(t=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t or time.time()))


def js(obj):
    return json.dumps(obj)


class Region:
    def __init__(self, name):
        self.name = name
        self.servers = {}     # id -> dict (internal)
        self.keypairs = {}    # name -> dict
        self.networks = {}
        self.subnets = {}
        self.sgs = {}
        self.rules = {}
        self.routers = {}
        self.ports = {}
        self.fips = {}
        self.images = {}
        for i, (name_, os_, ver) in enumerate(IMAGES):
            iid = str(uuid.uuid5(uuid.NAMESPACE_DNS, name + "/" + name_))
            self.images[iid] = {"id": iid, "name": name_, "status": "active",
                                "visibility": "public", "os_distro": os_,
                                "os_version": ver, "architecture": "x86_64",
                                "min_disk": 1, "min_ram": 0, "disk_format": "qcow2",
                                "container_format": "bare", "size": 500000000 + i,
                                "created_at": now_iso(0), "updated_at": now_iso(0),
                                "tags": [], "protected": False, "owner": PROJECT_ID,
                                "self": "/v2/images/" + iid, "file": "/v2/images/%s/file" % iid,
                                "schema": "/v2/schemas/image"}
        ext = str(uuid.uuid5(uuid.NAMESPACE_DNS, name + "/public"))
        self.networks[ext] = {"id": ext, "name": "public", "subnets": [],
                              "admin_state_up": True, "status": "ACTIVE",
                              "tenant_id": "admin", "project_id": "admin", "shared": False,
                              "router:external": True, "tags": [], "mtu": 1500,
                              "created_at": now_iso(0), "updated_at": now_iso(0),
                              "revision_number": 1, "description": ""}


class OpenStackDouble(common.Double):
    def __init__(self, args, m):
        super().__init__(args)
        self.m = m
        self.tokens = {}  # token -> expiry
        self.regions = {r: Region(r) for r in REGIONS}
        self.page = args.page_size or 0
        self.ttl = args.token_ttl
        self.throttle = 0  # the next N service requests are rate-limited
        if args.seed_vms:
            self.seed(args.region or REGIONS[0], args.seed_vms)

    # ---------------------------------------------------------------- helpers
    def nova_err(self, status, kind, msg, op=None):
        return common.Response(status, js({kind: {"code": status, "message": msg}}),
                               {"Content-Type": "application/json"}, op)

    def neutron_err(self, status, kind, msg, op=None):
        return common.Response(status, js({"NeutronError": {"type": kind, "message": msg,
                                                            "detail": ""}}),
                               {"Content-Type": "application/json"}, op)

    def ok(self, status, obj, op, headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        return common.Response(status, js(obj) if obj is not None else b"", h, op)

    def body_json(self, req, op, err):
        try:
            return json.loads(req.body.decode() or "null")
        except ValueError as e:
            self.violation(op, req.path, "body is not JSON: %s" % e)
            return err("Malformed request body")

    def query(self, req):
        return urllib.parse.parse_qs(req.query, keep_blank_values=True)

    # ------------------------------------------------------------------ route
    def handle(self, req):
        p = req.path
        if p == "/_double/throttle" and req.method == "POST":
            # not OpenStack's: the next N service requests answer as Nova's
            # rate limiting does (413 overLimit with Retry-After)
            self.throttle = int(urllib.parse.parse_qs(req.query).get("n", ["1"])[0])
            return common.Response(204, b"", {}, "_double.throttle")
        if p.startswith("/identity"):
            return self.keystone(req, p[len("/identity"):])
        parts = p.split("/", 3)
        if len(parts) < 3 or parts[1] not in self.regions:
            self.violation("%s %s" % (req.method, p), p, "no such endpoint")
            return common.Response(404, js({"error": "not found"}))
        region, svc = self.regions[parts[1]], parts[2]
        rest = "/" + (parts[3] if len(parts) > 3 else "")
        if not self.token_ok(req):
            self.violation("%s %s" % (req.method, p), p,
                           "missing, unknown or expired X-Auth-Token")
            return common.Response(401, js({"error": {"code": 401, "title": "Unauthorized",
                                                      "message": "The request you have "
                                                      "made requires authentication."}}),
                                   {"Content-Type": "application/json"})
        with self.lock:
            if self.throttle > 0:
                self.throttle -= 1
                return common.Response(413, js({"overLimit": {
                    "code": 413, "message": "This request was rate-limited.",
                    "retryAfter": "1", "details": "Only 10 POST request(s) can be made to * "
                    "every minute."}}), {"Content-Type": "application/json", "Retry-After": "1"},
                    "rate-limited")
            if svc == "compute" and rest.startswith("/v2.1"):
                return self.nova(req, region, rest[len("/v2.1"):])
            if svc == "network" and rest.startswith("/v2.0"):
                return self.neutron(req, region, rest[len("/v2.0"):])
            if svc == "image" and rest.startswith("/v2"):
                return self.glance(req, region, rest[len("/v2"):])
        self.violation("%s %s" % (req.method, p), p, "no such API")
        return common.Response(404, js({"error": "not found"}))

    def token_ok(self, req):
        tok = req.headers.get("x-auth-token", "")
        exp = self.tokens.get(tok)
        return exp is not None and exp > time.time()

    # --------------------------------------------------------------- keystone
    def keystone(self, req, path):
        op = "identity.tokens.create"

        def err(status, title, msg):
            return common.Response(status, js({"error": {"code": status, "title": title,
                                                         "message": msg}}),
                                   {"Content-Type": "application/json"}, op)
        if path != "/v3/auth/tokens" or req.method != "POST":
            self.violation("%s identity%s" % (req.method, path), path, "unknown Keystone API")
            return err(404, "Not Found", "The resource could not be found.")
        body = self.body_json(req, op, lambda m: err(400, "Bad Request", m))
        if isinstance(body, common.Response):
            return body
        if not isinstance(body, dict) or set(body) != {"auth"}:
            self.violation(op, "body", "the body must be {\"auth\": {...}}")
            return err(400, "Bad Request", "Expecting to find auth in request body.")
        auth = body["auth"]
        try:
            self.m.keystone_validate(auth)
        except Exception as e:  # keystone.exception.SchemaValidationError
            self.violation(op, "auth", "keystone schema: %s" % e)
            return err(400, "Bad Request", str(e))
        ident = auth["identity"]
        methods = ident["methods"]
        user_ok = False
        known = {"password", "token", "application_credential"}  # keystone.conf [auth]methods
        for meth in methods:
            if meth not in known or meth not in ident:
                self.violation(op, "identity.methods", "method %r without its object" % meth)
                return err(400, "Bad Request", "Attempted to authenticate with an "
                           "unsupported method.")
        if "password" in methods:
            u = ident["password"].get("user", {})
            dom = u.get("domain", {})
            if "name" in u and not dom:
                self.violation(op, "identity.password.user",
                               "a user name needs its domain (keystone: user domain)")
                return err(400, "Bad Request", "Expecting to find domain in user.")
            user_ok = (u.get("name") in USERS and USERS[u["name"]] == u.get("password")
                       and dom.get("name", dom.get("id")) in ("Default", "default")) or \
                      (u.get("id") == USER_ID and u.get("password") in USERS.values())
        elif "application_credential" in methods:
            ac = ident["application_credential"]
            if set(ac) - {"id", "name", "secret", "user"} or "secret" not in ac:
                self.violation(op, "identity.application_credential",
                               "unknown member or no secret: %s" % sorted(ac))
                return err(400, "Bad Request", "Invalid application credential.")
            user_ok = APP_CREDS.get(ac.get("id")) == ac["secret"]
            if "scope" in auth:
                self.violation(op, "scope", "an application credential carries its scope")
                return err(401, "Unauthorized", "Application credentials cannot request a "
                           "scope.")
        if not user_ok:
            return err(401, "Unauthorized", "The request you have made requires "
                       "authentication.")
        scope = auth.get("scope", {})
        if "application_credential" not in methods:
            pr = scope.get("project") if isinstance(scope, dict) else None
            if not pr or not (pr.get("id") == PROJECT_ID or
                              (pr.get("name") == "ci-project-7f3a" and
                               pr.get("domain", {}).get("name", pr.get("domain", {}).get("id"))
                               in ("Default", "default"))):
                return err(401, "Unauthorized", "The request you have made requires "
                           "authentication (project scope).")
        tok = "gAAAAA" + secrets.token_urlsafe(64)
        exp = time.time() + self.ttl
        self.tokens[tok] = exp
        host = req.headers.get("host", "127.0.0.1")
        base = "http://%s%s" % (host, "/_slow" if req.raw_path.startswith("/_slow/") else "")
        catalog = []
        for typ, name, sfx in (("compute", "nova", "/compute/v2.1"),
                               ("network", "neutron", "/network"),
                               ("image", "glance", "/image")):
            eps = []
            for r in REGIONS:
                for iface in ("public", "internal"):
                    eps.append({"id": uuid.uuid4().hex, "interface": iface, "region": r,
                                "region_id": r, "url": base + "/" + r + sfx})
            catalog.append({"id": uuid.uuid4().hex, "type": typ, "name": name,
                            "endpoints": eps})
        catalog.append({"id": uuid.uuid4().hex, "type": "identity", "name": "keystone",
                        "endpoints": [{"id": uuid.uuid4().hex, "interface": "public",
                                       "region": REGIONS[0], "region_id": REGIONS[0],
                                       "url": base + "/identity"}]})
        token = {"methods": methods, "expires_at": now_iso(exp)[:-1] + ".000000Z",
                 "issued_at": now_iso()[:-1] + ".000000Z", "audit_ids": [uuid.uuid4().hex[:22]],
                 "user": {"id": USER_ID, "name": "ci-operator-4821", "password_expires_at": None,
                          "domain": {"id": "default", "name": "Default"}},
                 "project": {"id": PROJECT_ID, "name": "ci-project-7f3a",
                             "domain": {"id": "default", "name": "Default"}},
                 "roles": [{"id": uuid.uuid4().hex, "name": "member"}],
                 "is_domain": False, "catalog": catalog}
        return common.Response(201, js({"token": token}),
                               {"Content-Type": "application/json", "X-Subject-Token": tok}, op)

    # ------------------------------------------------------------------- nova
    def nova_validate_body(self, op, schema_name, body, req):
        try:
            self.m.nova_validator(self.m.nova_body[schema_name]).validate(body)
        except self.m.nova_validation_error as e:
            self.violation(op, req.path, "nova schema %s: %s" % (schema_name, e))
            return self.nova_err(400, "badRequest", str(e), op)
        return None

    def nova_validate_query(self, op, schema_name, req):
        q = self.query(req)
        schema = self.m.nova_query[schema_name]
        props = schema.get("properties", {})
        pats = [re.compile(p) for p in schema.get("patternProperties", {})]
        for k in q:
            if k not in props and not any(p.match(k) for p in pats):
                # Nova strips unknown query parameters silently: a driver
                # sending one believes in a filter that does not exist
                self.violation(op, req.path, "unknown query parameter %r (nova %s)" %
                               (k, schema_name))
                return None, self.nova_err(400, "badRequest", "Invalid query parameter %s" % k,
                                           op)
        try:
            self.m.nova_validator(schema, is_body=False).validate(q)
        except self.m.nova_validation_error as e:
            self.violation(op, req.path, "nova schema %s: %s" % (schema_name, e))
            return None, self.nova_err(400, "badRequest", str(e), op)
        return q, None

    def nova(self, req, reg, path):
        if req.headers.get("openstack-api-version") or req.headers.get(
                "x-openstack-nova-api-version"):
            op = "compute %s %s" % (req.method, path)
            self.violation(op, path, "this double serves microversion 2.1 only")
            return self.nova_err(406, "notAcceptable", "Version not supported", op)
        seg = [s for s in path.split("/") if s]
        m = req.method
        if seg == ["servers"] and m == "POST":
            return self.server_create(req, reg)
        if seg == ["servers", "detail"] and m == "GET":
            return self.server_list(req, reg)
        if len(seg) == 2 and seg[0] == "servers" and m == "GET":
            s = self.server_get(reg, seg[1])
            if not s:
                return self.nova_err(404, "itemNotFound", "Instance %s could not be found."
                                     % seg[1], "compute.servers.show")
            return self.ok(200, {"server": self.server_view(reg, s)}, "compute.servers.show")
        if len(seg) == 2 and seg[0] == "servers" and m == "DELETE":
            s = self.server_get(reg, seg[1])
            if not s:
                return self.nova_err(404, "itemNotFound", "Instance %s could not be found."
                                     % seg[1], "compute.servers.delete")
            s["task"] = ("deleting", time.time() + 0.4, None)
            return self.ok(204, None, "compute.servers.delete")
        if len(seg) == 3 and seg[0] == "servers" and seg[2] == "action" and m == "POST":
            return self.server_action(req, reg, seg[1])
        if len(seg) == 3 and seg[0] == "servers" and seg[2] == "metadata" and m == "POST":
            op = "compute.server_metadata.create"
            s = self.server_get(reg, seg[1])
            body = self.body_json(req, op, lambda x: self.nova_err(400, "badRequest", x, op))
            if isinstance(body, common.Response):
                return body
            bad = self.nova_validate_body(op, "server_metadata.create", body, req)
            if bad:
                return bad
            if not s:
                return self.nova_err(404, "itemNotFound", "Instance could not be found.", op)
            s["metadata"].update(body["metadata"])
            return self.ok(200, {"metadata": s["metadata"]}, op)
        if len(seg) == 4 and seg[0] == "servers" and seg[2] == "metadata" and m == "DELETE":
            op = "compute.server_metadata.delete"
            s = self.server_get(reg, seg[1])
            key = urllib.parse.unquote(seg[3])
            if not s or key not in s["metadata"]:
                return self.nova_err(404, "itemNotFound", "Metadata item was not found", op)
            del s["metadata"][key]
            return self.ok(204, None, op)
        if seg == ["os-keypairs"] and m == "POST":
            return self.keypair_create(req, reg)
        if seg == ["os-keypairs"] and m == "GET":
            op = "compute.keypairs.index"
            q, bad = self.nova_validate_query(op, "keypairs.index", req)
            if bad:
                return bad
            return self.ok(200, {"keypairs": [{"keypair": self.keypair_view(k, False)}
                                              for k in reg.keypairs.values()]}, op)
        if len(seg) == 2 and seg[0] == "os-keypairs" and m in ("GET", "DELETE"):
            op = "compute.keypairs.%s" % ("show" if m == "GET" else "delete")
            q, bad = self.nova_validate_query(op, "keypairs.show" if m == "GET"
                                              else "keypairs.delete", req)
            if bad:
                return bad
            name = urllib.parse.unquote(seg[1])
            k = reg.keypairs.get(name)
            if not k:
                return self.nova_err(404, "itemNotFound", "Keypair %s not found for user %s"
                                     % (name, USER_ID), op)
            if m == "DELETE":
                del reg.keypairs[name]
                return self.ok(202, None, op)
            return self.ok(200, {"keypair": self.keypair_view(k, True)}, op)
        if seg == ["flavors", "detail"] and m == "GET":
            op = "compute.flavors.detail"
            q, bad = self.nova_validate_query(op, "flavors.detail", req)
            if bad:
                return bad
            return self.ok(200, {"flavors": [self.flavor_view(f) for f in FLAVORS]}, op)
        if len(seg) == 2 and seg[0] == "flavors" and m == "GET":
            op = "compute.flavors.show"
            for f in FLAVORS:
                if f[0] == seg[1]:
                    return self.ok(200, {"flavor": self.flavor_view(f)}, op)
            return self.nova_err(404, "itemNotFound", "Flavor %s could not be found." % seg[1],
                                 op)
        if seg == ["limits"] and m == "GET":
            op = "compute.limits.index"
            q, bad = self.nova_validate_query(op, "limits.index", req)
            if bad:
                return bad
            n = len(reg.servers)
            return self.ok(200, {"limits": {"rate": [], "absolute": {
                "maxTotalInstances": 10000, "totalInstancesUsed": n,
                "maxTotalCores": 40000, "totalCoresUsed": n, "maxTotalRAMSize": 5120000,
                "totalRAMUsed": 512 * n, "maxTotalKeypairs": 100, "maxServerMeta": 128,
                "maxImageMeta": 128, "maxPersonality": 5, "maxPersonalitySize": 10240,
                "maxServerGroups": 10, "maxServerGroupMembers": 10,
                "maxSecurityGroups": -1, "maxSecurityGroupRules": -1,
                "maxTotalFloatingIps": -1, "totalFloatingIpsUsed": 0,
                "totalSecurityGroupsUsed": 0, "totalServerGroupsUsed": 0}}}, op)
        op = "compute %s %s" % (m, path)
        self.violation(op, path, "not a Nova 2.1 API this double knows")
        return self.nova_err(404, "itemNotFound", "Unknown resource", op)

    def flavor_view(self, f):
        return {"id": f[0], "name": f[1], "vcpus": f[2], "ram": f[3], "disk": f[4],
                "OS-FLV-EXT-DATA:ephemeral": 0, "OS-FLV-DISABLED:disabled": False,
                "swap": "", "rxtx_factor": 1.0, "os-flavor-access:is_public": True,
                "links": [{"rel": "self", "href": "flavors/" + f[0]}]}

    def server_get(self, reg, sid):
        s = reg.servers.get(sid)
        if not s:
            return None
        self.advance(reg, s)
        return reg.servers.get(sid)

    def advance(self, reg, s):
        """Move a server along its task when its time has come."""
        task = s.get("task")
        if task and time.time() >= task[1]:
            name, _, then = task
            s["task"] = None
            if name == "deleting":
                reg.servers.pop(s["id"], None)
                for p in reg.ports.values():  # a port made before: kept, unbound
                    if p["device_id"] == s["id"]:
                        p.update({"device_id": "", "device_owner": "", "status": "DOWN"})
                return
            s["status"] = then
            s["vm_state"] = {"ACTIVE": "active", "SHUTOFF": "stopped"}.get(then, "active")
            s["power_state"] = 1 if then == "ACTIVE" else 4
            s["updated"] = now_iso()

    def server_view(self, reg, s):
        task = s.get("task")
        ip = s["ip"]
        addrs = [{"version": 4, "addr": ip, "OS-EXT-IPS:type": "fixed",
                  "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"}] if ip else []
        for f in reg.fips.values():
            if s.get("port") and f["port_id"] == s["port"]:
                addrs.append({"version": 4, "addr": f["floating_ip_address"],
                              "OS-EXT-IPS:type": "floating",
                              "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"})
        return {"id": s["id"], "name": s["name"], "status": s["status"],
                "tenant_id": PROJECT_ID, "user_id": USER_ID, "metadata": dict(s["metadata"]),
                "hostId": "a" * 56, "image": {"id": s["image"], "links": []},
                "flavor": {"id": s["flavor"], "links": []},
                "created": s["created"], "updated": s["updated"],
                "addresses": {s["net_name"]: addrs} if addrs else {},
                "accessIPv4": "", "accessIPv6": "", "links": [], "OS-DCF:diskConfig": "MANUAL",
                "progress": 0, "OS-EXT-AZ:availability_zone": "nova", "config_drive": "",
                "key_name": s["key_name"], "OS-SRV-USG:launched_at": s["created"],
                "OS-SRV-USG:terminated_at": None,
                "security_groups": [{"name": n} for n in s["sgs"]],
                "OS-EXT-STS:task_state": task[0] if task else None,
                "OS-EXT-STS:vm_state": s["vm_state"],
                "OS-EXT-STS:power_state": s["power_state"],
                "os-extended-volumes:volumes_attached": []}

    def server_create(self, req, reg):
        op = "compute.servers.create"
        body = self.body_json(req, op, lambda x: self.nova_err(400, "badRequest", x, op))
        if isinstance(body, common.Response):
            return body
        bad = self.nova_validate_body(op, "servers.create", body, req)
        if bad:
            return bad
        sv = body["server"]
        if sv.get("imageRef") not in reg.images:
            return self.nova_err(400, "badRequest", "Image %s could not be found."
                                 % sv.get("imageRef"), op)
        if sv.get("flavorRef") not in [f[0] for f in FLAVORS]:
            return self.nova_err(400, "badRequest", "Flavor %s could not be found."
                                 % sv.get("flavorRef"), op)
        if sv.get("key_name") and sv["key_name"] not in reg.keypairs:
            return self.nova_err(400, "badRequest", "Invalid key_name provided.", op)
        nets = sv.get("networks") or []
        net = None
        port = None
        for n in nets:
            if "port" in n:
                port = reg.ports.get(n["port"])
                if not port:
                    return self.nova_err(400, "badRequest", "Port %s could not be found."
                                         % n["port"], op)
                if port["device_id"]:
                    return self.nova_err(409, "conflictingRequest", "Port %s is still in use."
                                         % n["port"], op)
                net = reg.networks.get(port["network_id"])
            if "uuid" in n:
                net = reg.networks.get(n["uuid"])
                if not net:
                    return self.nova_err(400, "badRequest", "Network %s could not be found."
                                         % n["uuid"], op)
        sgs = []
        for g in sv.get("security_groups", []):
            found = [x for x in reg.sgs.values() if g["name"] in (x["id"], x["name"])]
            if not found:
                return self.nova_err(400, "badRequest", "Security group %s not found."
                                     % g["name"], op)
            sgs.append(g["name"])
        sid = str(uuid.uuid4())
        ip = ""
        if port:
            ip = port["fixed_ips"][0]["ip_address"]
            port.update({"device_id": sid, "device_owner": "compute:nova", "status": "ACTIVE"})
            sgs = [reg.sgs[g]["name"] for g in port["security_groups"] if g in reg.sgs]
        elif net and net["subnets"]:
            sub = reg.subnets[net["subnets"][0]]
            base = sub["cidr"].split("/")[0].rsplit(".", 1)[0]
            ip = "%s.%d" % (base, 10 + len(reg.servers) % 200)
        s = {"id": sid, "name": sv["name"], "status": "BUILD", "vm_state": "building",
             "power_state": 0, "metadata": dict(sv.get("metadata", {})),
             "image": sv["imageRef"], "flavor": sv["flavorRef"], "key_name": sv.get("key_name"),
             "sgs": sgs or ["default"], "ip": ip, "net_name": net["name"] if net else "",
             "port": port["id"] if port else None,
             "created": now_iso(), "updated": now_iso(),
             "task": ("spawning", time.time() + 0.5, "ACTIVE")}
        reg.servers[sid] = s
        return self.ok(202, {"server": {"id": sid, "links": [], "OS-DCF:diskConfig": "MANUAL",
                                        "security_groups": [{"name": n} for n in s["sgs"]],
                                        "adminPass": secrets.token_urlsafe(9)}}, op)

    def server_list(self, req, reg):
        op = "compute.servers.detail"
        q, bad = self.nova_validate_query(op, "servers.detail", req)
        if bad:
            return bad
        limit = NOVA_MAX_LIMIT
        if "limit" in q:
            limit = min(int(q["limit"][0]), NOVA_MAX_LIMIT)
        if self.page:
            limit = min(limit, self.page)
        for s in list(reg.servers.values()):
            self.advance(reg, s)
        items = sorted(reg.servers.values(), key=lambda s: (s["created"], s["id"]),
                       reverse=True)  # nova: created_at desc, id desc
        if "name" in q:
            rx = re.compile(q["name"][0])
            items = [s for s in items if rx.search(s["name"])]
        if "marker" in q:
            ids = [s["id"] for s in items]
            if q["marker"][0] not in ids:
                return self.nova_err(400, "badRequest", "marker [%s] not found"
                                     % q["marker"][0], op)
            items = items[ids.index(q["marker"][0]) + 1:]
        page = items[:limit]
        out = {"servers": [self.server_view(reg, s) for s in page]}
        if len(items) > limit:
            out["servers_links"] = [{"rel": "next", "href": "servers/detail?limit=%d&marker=%s"
                                     % (limit, page[-1]["id"])}]
        return self.ok(200, out, op)

    def server_action(self, req, reg, sid):
        body = self.body_json(req, "compute.servers.action",
                              lambda x: self.nova_err(400, "badRequest", x))
        if isinstance(body, common.Response):
            return body
        if not isinstance(body, dict) or len(body) != 1:
            self.violation("compute.servers.action", req.path, "one action per request")
            return self.nova_err(400, "badRequest", "Malformed request body")
        action = next(iter(body))
        op = "compute.servers.action.%s" % action
        if action == "reboot":
            bad = self.nova_validate_body(op, "servers.reboot", body, req)
            if bad:
                return bad
        elif action in ("os-stop", "os-start"):
            if body[action] is not None:  # nova: the value is ignored; the API reference: null
                self.violation(op, req.path, "%s takes null" % action)
                return self.nova_err(400, "badRequest", "Malformed request body", op)
        else:
            self.violation(op, req.path, "unknown server action %r" % action)
            return self.nova_err(400, "badRequest", "There is no such action: %s" % action, op)
        s = self.server_get(reg, sid)
        if not s:
            return self.nova_err(404, "itemNotFound", "Instance %s could not be found." % sid, op)
        state = s["vm_state"]

        def conflict():
            return self.nova_err(409, "conflictingRequest", "Cannot '%s' instance %s while it "
                                 "is in vm_state %s" % (action.replace("os-", ""), sid, state),
                                 op)
        if s.get("task"):
            return conflict()
        if action == "os-stop":
            if state != "active":
                return conflict()
            s["task"] = ("powering-off", time.time() + 0.3, "SHUTOFF")
        elif action == "os-start":
            if state != "stopped":
                return conflict()
            s["task"] = ("powering-on", time.time() + 0.3, "ACTIVE")
        else:
            if state != "active":
                return conflict()
            s["status"] = "REBOOT" if body["reboot"]["type"].upper() == "SOFT" else "HARD_REBOOT"
            s["task"] = ("rebooting", time.time() + 0.3, "ACTIVE")
        return self.ok(202, None, op)

    def keypair_view(self, k, full):
        v = {"name": k["name"], "public_key": k["public_key"], "fingerprint": k["fingerprint"]}
        if full:
            v.update({"user_id": USER_ID, "created_at": k["created"], "deleted": False,
                      "deleted_at": None, "updated_at": None, "id": k["id"]})
        return v

    def keypair_create(self, req, reg):
        op = "compute.keypairs.create"
        body = self.body_json(req, op, lambda x: self.nova_err(400, "badRequest", x, op))
        if isinstance(body, common.Response):
            return body
        bad = self.nova_validate_body(op, "keypairs.create", body, req)
        if bad:
            return bad
        kp = body["keypair"]
        if kp["name"] in reg.keypairs:
            return self.nova_err(409, "conflictingRequest", "Key pair '%s' already exists."
                                 % kp["name"], op)
        import hashlib
        import base64
        priv = None
        pub = kp.get("public_key")
        if pub is None:
            from cryptography.hazmat.primitives.asymmetric import rsa
            from cryptography.hazmat.primitives import serialization as ser
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            priv = key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.TraditionalOpenSSL,
                                     ser.NoEncryption()).decode()
            pub = key.public_key().public_bytes(ser.Encoding.OpenSSH,
                                                ser.PublicFormat.OpenSSH).decode() + \
                " Generated-by-Nova"
        parts = pub.split()
        try:
            blob = base64.b64decode(parts[1], validate=True)
            if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-")):
                raise ValueError
        except (ValueError, IndexError):
            return self.nova_err(400, "badRequest", "Keypair data is invalid: failed to "
                                 "generate fingerprint", op)
        fp = ":".join("%02x" % b for b in hashlib.md5(blob).digest())
        k = {"name": kp["name"], "public_key": pub, "fingerprint": fp, "id": len(reg.keypairs) + 1,
             "created": now_iso()}
        reg.keypairs[kp["name"]] = k
        view = self.keypair_view(k, False)
        view["user_id"] = USER_ID
        if priv:
            view["private_key"] = priv
        return self.ok(200, {"keypair": view}, op)

    def seed(self, region, n):
        reg = self.regions[region]
        for i in range(n):
            sid = str(uuid.uuid4())
            reg.servers[sid] = {
                "id": sid, "name": "seed-%d" % i, "status": "ACTIVE", "vm_state": "active",
                "power_state": 1, "image": next(iter(reg.images)), "flavor": "2",
                "metadata": {"barista:address": "bench/vm/seed-%d" % i,
                             "barista:namespace": "bench",
                             "barista:lineage": "00000000-0000-4000-8000-000000000000",
                             "barista:idempotency": str(uuid.uuid4())},
                "key_name": None, "sgs": ["default"], "ip": "10.0.%d.%d" % (i // 250, i % 250 + 2),
                "net_name": "private", "created": now_iso(1700000000 + i),
                "updated": now_iso(1700000000 + i), "task": None}

    # ---------------------------------------------------------------- neutron
    COLLECTIONS = {"networks": "network", "subnets": "subnet", "routers": "router",
                   "ports": "port", "floatingips": "floatingip",
                   "security-groups": "security_group",
                   "security-group-rules": "security_group_rule"}
    LIST_PARAMS = {"limit", "marker", "fields", "sort_key", "sort_dir", "page_reverse",
                   "tags", "tags-any", "not-tags", "not-tags-any"}

    def neutron_store(self, reg, coll):
        return {"networks": reg.networks, "subnets": reg.subnets, "routers": reg.routers,
                "ports": reg.ports, "floatingips": reg.fips,
                "security-groups": reg.sgs, "security-group-rules": reg.rules}[coll]

    def neutron(self, req, reg, path):
        seg = [s for s in path.split("/") if s]
        if seg and seg[0] in self.COLLECTIONS:
            coll = seg[0]
            member = self.COLLECTIONS[coll]
            amap = self.m.neutron_maps[coll.replace("-", "_")]
            store = self.neutron_store(reg, coll)
            opbase = "network.%s" % coll.replace("-", "_")
            if len(seg) == 1 and req.method == "POST":
                return self.neutron_create(req, reg, coll, member, amap, store, opbase + ".create")
            if len(seg) == 1 and req.method == "GET":
                return self.neutron_list(req, coll, amap, store, opbase + ".list")
            if len(seg) == 2 and req.method in ("GET", "DELETE"):
                op = opbase + (".show" if req.method == "GET" else ".delete")
                obj = store.get(seg[1])
                if not obj:
                    return self.neutron_err(404, "%sNotFound" % member.title().replace("_", ""),
                                            "%s %s could not be found." % (member, seg[1]), op)
                if req.method == "GET":
                    view = self.sg_view(reg, obj) if coll == "security-groups" \
                        else self.public(obj)
                    return self.ok(200, {member: view}, op)
                return self.neutron_delete(reg, coll, obj, op)
            if len(seg) == 3 and seg[2] == "tags" and req.method == "PUT":
                op = opbase + ".tags.update_all"
                obj = store.get(seg[1])
                body = self.body_json(req, op,
                                      lambda x: self.neutron_err(400, "BadRequest", x, op))
                if isinstance(body, common.Response):
                    return body
                if not isinstance(body, dict) or set(body) != {"tags"} or \
                        not isinstance(body["tags"], list):
                    self.violation(op, req.path, "the body must be {\"tags\": [...]}")
                    return self.neutron_err(400, "InvalidInput", "Invalid tags body", op)
                for t in body["tags"]:
                    try:
                        self.m.neutron_tag_validate(t)
                    except Exception as e:
                        self.violation(op, req.path, "tag %r: %s" % (t, e))
                        return self.neutron_err(400, "InvalidInput", str(e), op)
                if not obj:
                    return self.neutron_err(404, "NotFound", "%s not found" % seg[1], op)
                obj["tags"] = sorted(set(body["tags"]))
                return self.ok(200, {"tags": obj["tags"]}, op)
            if len(seg) == 3 and coll == "routers" and req.method == "PUT" and \
                    seg[2] in ("add_router_interface", "remove_router_interface"):
                op = "network.routers.%s" % seg[2]
                body = self.body_json(req, op,
                                      lambda x: self.neutron_err(400, "BadRequest", x, op))
                if isinstance(body, common.Response):
                    return body
                if not isinstance(body, dict) or set(body) - {"subnet_id", "port_id"}:
                    self.violation(op, req.path, "router interface takes subnet_id or port_id")
                    return self.neutron_err(400, "BadRequest", "Invalid body", op)
                r = store.get(seg[1])
                sub = reg.subnets.get(body.get("subnet_id", ""))
                if not r or not sub:
                    return self.neutron_err(404, "NotFound", "router or subnet not found", op)
                if seg[2] == "remove_router_interface" and any(
                        reg.ports.get(f["port_id"] or "", {}).get("fixed_ips", [{}])[0]
                        .get("subnet_id") == sub["id"] for f in reg.fips.values()):
                    return self.neutron_err(409, "RouterInterfaceInUseByFloatingIP",
                                            "Router interface for subnet %s on router %s cannot "
                                            "be deleted, as it is required by one or more "
                                            "floating IPs." % (sub["id"], r["id"]), op)
                if seg[2] == "add_router_interface":
                    r["_ifaces"].add(sub["id"])
                else:
                    r["_ifaces"].discard(sub["id"])
                return self.ok(200, {"id": r["id"], "subnet_id": sub["id"],
                                     "subnet_ids": [sub["id"]], "tenant_id": PROJECT_ID,
                                     "project_id": PROJECT_ID, "port_id": str(uuid.uuid4()),
                                     "network_id": sub["network_id"]}, op)
        op = "network %s %s" % (req.method, path)
        self.violation(op, path, "not a Neutron API this double knows")
        return self.neutron_err(404, "HTTPNotFound", "The resource could not be found.", op)

    def neutron_check_attrs(self, op, req, amap, attrs, creating):
        """Neutron's own checks of a POST body (neutron.api.v2.base)."""
        for k, v in attrs.items():
            spec = amap.get(k)
            if spec is None or not spec.get("allow_post" if creating else "allow_put"):
                self.violation(op, req.path, "attribute %r is not allowed in POST" % k)
                return "Attribute '%s' not allowed in POST" % k
            if "convert_to" in spec:
                try:
                    v = spec["convert_to"](v)
                    attrs[k] = v
                except Exception as e:
                    self.violation(op, req.path, "%s: %s" % (k, e))
                    return str(e)
            for rule, arg in (spec.get("validate") or {}).items():
                fn = self.m.neutron_validators.get_validator(rule)
                msg = fn(v, arg) if fn else None
                if msg:
                    self.violation(op, req.path, "%s: %s" % (k, msg))
                    return "Invalid input for %s. Reason: %s." % (k, msg)
        if creating:
            for k, spec in amap.items():
                if spec.get("allow_post") and "default" not in spec and \
                        k not in ("tenant_id", "project_id") and k not in attrs:
                    self.violation(op, req.path, "required attribute %r missing" % k)
                    return "Failed to parse request. Required attribute '%s' not specified" % k
        return None

    def neutron_create(self, req, reg, coll, member, amap, store, op):
        body = self.body_json(req, op, lambda x: self.neutron_err(400, "BadRequest", x, op))
        if isinstance(body, common.Response):
            return body
        if not isinstance(body, dict) or set(body) != {member} or \
                not isinstance(body[member], dict):
            self.violation(op, req.path, "the body must be {%r: {...}}" % member)
            return self.neutron_err(400, "BadRequest", "Resource body required", op)
        attrs = dict(body[member])
        msg = self.neutron_check_attrs(op, req, amap, attrs, True)
        if msg:
            return self.neutron_err(400, "HTTPBadRequest", msg, op)
        oid = str(uuid.uuid4())
        obj = {}
        for k, spec in amap.items():
            d = spec.get("default")
            if spec.get("is_visible") and type(d).__name__ != "Sentinel":
                obj[k] = attrs.get(k, d)
        obj.update({"id": oid, "tenant_id": PROJECT_ID, "project_id": PROJECT_ID,
                    "tags": [], "created_at": now_iso(), "updated_at": now_iso(),
                    "revision_number": 0, "description": attrs.get("description", "")})
        if coll == "networks":
            obj.update({"status": "ACTIVE", "subnets": [], "mtu": 1450,
                        "router:external": attrs.get("router:external", False)})
        elif coll == "subnets":
            net = reg.networks.get(attrs["network_id"])
            if not net:
                return self.neutron_err(404, "NetworkNotFound", "Network %s could not be found."
                                        % attrs["network_id"], op)
            cidr = attrs.get("cidr")
            obj.update({"cidr": cidr, "gateway_ip": cidr.rsplit(".", 1)[0] + ".1",
                        "allocation_pools": [], "dns_nameservers": [], "host_routes": [],
                        "enable_dhcp": attrs.get("enable_dhcp", True),
                        "ipv6_ra_mode": None, "ipv6_address_mode": None, "subnetpool_id": None})
            net["subnets"].append(oid)
        elif coll == "security-groups":
            obj["security_group_rules"] = []
            store[oid] = obj
            for eth in ("IPv4", "IPv6"):  # neutron adds these to every new group
                rid = str(uuid.uuid4())
                reg.rules[rid] = self.rule(rid, oid, "egress", None, None, None, eth, None)
            obj["security_group_rules"] = [r for r in reg.rules.values()
                                           if r["security_group_id"] == oid]
            return self.ok(201, {member: self.sg_view(reg, obj)}, op)
        elif coll == "security-group-rules":
            sg = reg.sgs.get(attrs["security_group_id"])
            if not sg:
                return self.neutron_err(404, "SecurityGroupNotFound", "Security group %s does "
                                        "not exist" % attrs["security_group_id"], op)
            r = self.rule(oid, sg["id"], attrs["direction"], attrs.get("protocol"),
                          attrs.get("port_range_min"), attrs.get("port_range_max"),
                          attrs.get("ethertype", "IPv4"), attrs.get("remote_ip_prefix"))
            r["description"] = attrs.get("description", "")
            for o in reg.rules.values():
                if all(o[k] == r[k] for k in ("security_group_id", "direction", "protocol",
                                              "port_range_min", "port_range_max", "ethertype",
                                              "remote_ip_prefix")):
                    return self.neutron_err(409, "SecurityGroupRuleExists", "Security group "
                                            "rule already exists. Rule id is %s." % o["id"], op)
            reg.rules[oid] = r
            return self.ok(201, {member: r}, op)
        elif coll == "ports":
            net = reg.networks.get(attrs["network_id"])
            if not net:
                return self.neutron_err(404, "NetworkNotFound", "Network %s could not be found."
                                        % attrs["network_id"], op)
            fixed = []
            for f in attrs.get("fixed_ips") or [{"subnet_id": (net["subnets"] or [None])[0]}]:
                sub = reg.subnets.get(f.get("subnet_id"))
                if not sub or sub["network_id"] != net["id"]:
                    return self.neutron_err(400, "InvalidInput", "Invalid input for operation: "
                                            "subnet %s is not on network %s"
                                            % (f.get("subnet_id"), net["id"]), op)
                used = {x["ip_address"] for p in reg.ports.values() for x in p["fixed_ips"]}
                base = sub["cidr"].split("/")[0].rsplit(".", 1)[0]
                ip = next("%s.%d" % (base, i) for i in range(10, 250)
                          if "%s.%d" % (base, i) not in used)
                fixed.append({"subnet_id": sub["id"], "ip_address": ip})
            for g in attrs.get("security_groups") or []:
                if g not in reg.sgs:
                    return self.neutron_err(404, "SecurityGroupNotFound", "Security group %s "
                                            "does not exist" % g, op)
            obj.update({"status": "DOWN", "fixed_ips": fixed, "mac_address": "fa:16:3e:%02x:%02x:%02x"
                        % tuple(uuid.uuid4().bytes[:3]),
                        "security_groups": list(attrs.get("security_groups") or []),
                        "device_id": attrs.get("device_id", ""),
                        "device_owner": attrs.get("device_owner", "")})
        elif coll == "floatingips":
            ext = reg.networks.get(attrs["floating_network_id"])
            if not ext or not ext.get("router:external"):
                return self.neutron_err(400, "BadRequest", "Network %s is not a valid external "
                                        "network" % attrs["floating_network_id"], op)
            pid = attrs.get("port_id")
            fixed = None
            if pid:
                prt = reg.ports.get(pid)
                if not prt:
                    return self.neutron_err(404, "PortNotFound", "Port %s could not be found."
                                            % pid, op)
                sub = prt["fixed_ips"][0]["subnet_id"]
                if not any(sub in r["_ifaces"] and (r.get("external_gateway_info") or {})
                           .get("network_id") == ext["id"] for r in reg.routers.values()):
                    return self.neutron_err(404, "ExternalGatewayForFloatingIPNotFound",
                                            "External network %s is not reachable from subnet "
                                            "%s." % (ext["id"], sub), op)
                fixed = prt["fixed_ips"][0]["ip_address"]
            used = {f["floating_ip_address"] for f in reg.fips.values()}
            addr = next("203.0.113.%d" % i for i in range(2, 255)
                        if "203.0.113.%d" % i not in used)
            obj.update({"status": "ACTIVE" if pid else "DOWN", "floating_ip_address": addr,
                        "fixed_ip_address": fixed, "port_id": pid, "router_id": None,
                        "floating_network_id": ext["id"]})
        elif coll == "routers":
            obj.update({"status": "ACTIVE", "_ifaces": set(),
                        "external_gateway_info": attrs.get("external_gateway_info")})
        store[oid] = obj
        return self.ok(201, {member: self.public(obj)}, op)

    def public(self, obj):
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    def rule(self, rid, sg, direction, proto, pmin, pmax, eth, prefix):
        return {"id": rid, "security_group_id": sg, "direction": direction, "protocol": proto,
                "port_range_min": pmin, "port_range_max": pmax, "ethertype": eth,
                "remote_ip_prefix": prefix, "remote_group_id": None,
                "remote_address_group_id": None, "tenant_id": PROJECT_ID,
                "project_id": PROJECT_ID, "description": "", "tags": [],
                "created_at": now_iso(), "updated_at": now_iso(), "revision_number": 0}

    def sg_view(self, reg, sg):
        v = dict(sg)
        v["security_group_rules"] = [r for r in reg.rules.values()
                                     if r["security_group_id"] == sg["id"]]
        v["stateful"] = True
        v["shared"] = False
        return v

    def neutron_list(self, req, coll, amap, store, op):
        q = self.query(req)
        for k in q:
            spec = amap.get(k)
            if k not in self.LIST_PARAMS and not (spec and (spec.get("is_filter") or
                                                            spec.get("is_visible"))):
                self.violation(op, req.path, "unknown filter %r for %s" % (k, coll))
                return self.neutron_err(400, "HTTPBadRequest", "%s is invalid attribute for "
                                        "filtering" % k, op)
        limit = None
        if "limit" in q:
            try:
                limit = int(q["limit"][0])
            except ValueError:
                self.violation(op, req.path, "limit must be an integer")
                return self.neutron_err(400, "BadRequest", "limit must be an integer", op)
        if self.page:
            limit = min(limit or self.page, self.page)
        items = sorted(store.values(), key=lambda o: o["id"])
        for k, vals in q.items():
            if k in self.LIST_PARAMS:
                continue
            items = [o for o in items if str(o.get(k)) in vals or
                     (isinstance(o.get(k), bool) and str(o[k]).lower() in
                      [v.lower() for v in vals])]
        if "tags" in q:
            want = set(",".join(q["tags"]).split(","))
            items = [o for o in items if want <= set(o.get("tags", []))]
        if "marker" in q:
            ids = [o["id"] for o in items]
            if q["marker"][0] in ids:
                items = items[ids.index(q["marker"][0]) + 1:]
        reg_key = coll.replace("-", "_")
        page = items[:limit] if limit else items
        out = {reg_key: [self.sg_view(self.regions_of(store), o) if coll == "security-groups"
                         else self.public(o) for o in page]}
        if limit and len(items) > limit:
            out[reg_key + "_links"] = [{"rel": "next", "href": "?limit=%d&marker=%s" %
                                        (limit, page[-1]["id"])}]
        return self.ok(200, out, op)

    def regions_of(self, store):
        for r in self.regions.values():
            if r.sgs is store:
                return r
        return None

    def neutron_delete(self, reg, coll, obj, op):
        oid = obj["id"]
        if coll == "ports":
            for f in reg.fips.values():  # neutron disassociates them
                if f["port_id"] == oid:
                    f.update({"port_id": None, "fixed_ip_address": None, "status": "DOWN"})
        if coll == "routers":
            for f in reg.fips.values():
                prt = reg.ports.get(f["port_id"] or "")
                if prt and prt["fixed_ips"][0]["subnet_id"] in obj["_ifaces"]:
                    return self.neutron_err(409, "RouterInUse", "Router %s still has floating "
                                            "IPs" % oid, op)
        if coll == "networks":
            if any(p["network_id"] == oid for p in reg.ports.values()):
                return self.neutron_err(409, "NetworkInUse", "Unable to complete operation on "
                                        "network %s. There are one or more ports still in use "
                                        "on the network." % oid, op)
            for sid in list(obj["subnets"]):
                reg.subnets.pop(sid, None)
        if coll == "subnets":
            net = reg.networks.get(obj["network_id"])
            if net and oid in net["subnets"]:
                net["subnets"].remove(oid)
        if coll == "security-groups":
            for rid in [r for r, x in reg.rules.items() if x["security_group_id"] == oid]:
                del reg.rules[rid]
        if coll == "routers" and obj.get("_ifaces"):
            return self.neutron_err(409, "RouterInUse", "Router %s still has ports" % oid, op)
        self.neutron_store(reg, coll).pop(oid, None)
        return self.ok(204, None, op)

    # ----------------------------------------------------------------- glance
    def glance(self, req, reg, path):
        seg = [s for s in path.split("/") if s]
        if seg == ["images"] and req.method == "GET":
            op = "image.images.index"
            wreq = self.m.webob.Request.blank("/v2/images" + ("?" + req.query if req.query else ""))
            try:
                parsed = self.m.glance_index(wreq)
            except Exception as e:  # webob HTTPBadRequest
                self.violation(op, req.path, "glance: %s" % e)
                return common.Response(400, "400 Bad Request\n\n%s" % e,
                                       {"Content-Type": "text/plain"}, op)
            filters = parsed.get("filters", {})
            items = sorted(reg.images.values(), key=lambda i: i["id"])
            for k in filters.keys():
                items = [i for i in items if str(i.get(k)) in filters.getall(k)]
            limit = parsed.get("limit") or 25
            if "marker" in parsed:
                ids = [i["id"] for i in items]
                items = items[ids.index(parsed["marker"]) + 1:] if parsed["marker"] in ids else []
            out = {"images": items[:limit], "schema": "/v2/schemas/images",
                   "first": "/v2/images"}
            if len(items) > limit:
                out["next"] = "/v2/images?marker=%s&limit=%d" % (items[limit - 1]["id"], limit)
            return self.ok(200, out, op)
        if len(seg) == 2 and seg[0] == "images" and req.method == "GET":
            op = "image.images.show"
            img = reg.images.get(seg[1])
            if not img:
                return common.Response(404, "404 Not Found\n\nNo image found with ID %s" % seg[1],
                                       {"Content-Type": "text/plain"}, op)
            return self.ok(200, img, op)
        op = "image %s %s" % (req.method, path)
        self.violation(op, path, "not a Glance v2 API this double knows")
        return common.Response(404, "404 Not Found", {"Content-Type": "text/plain"}, op)


def main():
    args = common.arguments("OpenStack API double", lambda p: p.add_argument(
        "--token-ttl", type=float, default=TOKEN_TTL, help="seconds a token lives"))
    m, missing = models_mod.load()
    if m is None:
        common.missing_model(missing)
    common.serve(OpenStackDouble(args, m))


if __name__ == "__main__":
    main()
