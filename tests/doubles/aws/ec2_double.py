#!/usr/bin/python3
"""ec2_double.py - a double of the Amazon EC2 Query API (2016-11-15) for the aws driver.

Every request is checked against botocore's published `ec2` model
(ec2_model.py): the Action is an operation of the model, every parameter
decodes to a member of its input shape with the right type, required members
are there, the body is exactly what botocore's EC2 serializer makes of those
parameters, and the SigV4 signature (recomputed with botocore's own signer
from the credentials file the driver is given) is right, session token
included.  A request that fails any of this is a violation and gets EC2's own
error answer.  Answers are XML in the operation's output shape, each parsed
back with botocore's ec2 parser.

State is in memory, per region (the region of the signature's credential
scope), with EC2's transitions: an instance is `pending` for ~0.5 s, then
`running`; `stopping` -> `stopped`, `shutting-down` -> `terminated` likewise
(a terminated instance stays visible, as on EC2).  RunInstances keeps
ClientToken idempotency (the same token and parameters return the same
reservation; other parameters: IdempotentParameterMismatch).  Describe calls
page with MaxResults/NextToken within the API's limits.  See README.md.
"""
import base64
import datetime
import fnmatch
import hashlib
import ipaddress
import json
import os
import random
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import common  # noqa: E402
import ec2_model  # noqa: E402

OWNER = "123456789012"
REGIONS = {
    "us-east-1": "N. Virginia", "us-east-2": "Ohio", "us-west-1": "N. California",
    "us-west-2": "Oregon", "ca-central-1": "Canada", "eu-west-1": "Ireland",
    "eu-west-2": "London", "eu-central-1": "Frankfurt", "eu-north-1": "Stockholm",
    "ap-northeast-1": "Tokyo", "ap-northeast-2": "Seoul", "ap-southeast-1": "Singapore",
    "ap-southeast-2": "Sydney", "ap-south-1": "Mumbai", "sa-east-1": "Sao Paulo",
}
TRANSITION_S = 0.5
STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48,
               "stopping": 64, "stopped": 80}
# (name, owner, architecture, description): the images every region offers
IMAGES = [
    ("ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20240207.1", "099720109477",
     "x86_64", "Canonical, Ubuntu, 22.04 LTS, amd64 jammy image build on 2024-02-07"),
    ("ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20240301", "099720109477",
     "x86_64", "Canonical, Ubuntu, 22.04 LTS, amd64 jammy image build on 2024-03-01"),
    ("ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20240423", "099720109477",
     "x86_64", "Canonical, Ubuntu, 24.04 LTS, amd64 noble image build on 2024-04-23"),
    ("debian-12-amd64-20240211-1654", "136693071363", "x86_64", "Debian 12 (20240211-1654)"),
    ("al2023-ami-2023.4.20240401.1-kernel-6.1-x86_64", "137112412989", "x86_64",
     "Amazon Linux 2023 AMI 2023.4.20240401.1 x86_64 HVM kernel-6.1"),
    ("al2023-ami-2023.4.20240401.1-kernel-6.1-arm64", "137112412989", "arm64",
     "Amazon Linux 2023 AMI 2023.4.20240401.1 arm64 HVM kernel-6.1"),
]
OWNER_ALIASES = {"amazon": {"137112412989"}, "self": {OWNER}}
# (type, vcpus, memory MiB, architecture): from the EC2 instance type pages
INSTANCE_TYPES = [
    ("t3.micro", 2, 1024, "x86_64"), ("t3.small", 2, 2048, "x86_64"),
    ("t3.medium", 2, 4096, "x86_64"), ("t3.large", 2, 8192, "x86_64"),
    ("t4g.small", 2, 2048, "arm64"), ("m5.large", 2, 8192, "x86_64"),
    ("m5.xlarge", 4, 16384, "x86_64"), ("c5.large", 2, 4096, "x86_64"),
    ("c5.xlarge", 4, 8192, "x86_64"), ("r5.large", 2, 16384, "x86_64"),
]
# MaxResults limits of the describe calls the double pages (the API reference's)
PAGE_LIMITS = {"DescribeInstances": (5, 1000), "DescribeVpcs": (5, 1000),
               "DescribeSubnets": (5, 1000), "DescribeSecurityGroups": (5, 1000),
               "DescribeInternetGateways": (5, 1000), "DescribeRouteTables": (5, 100),
               "DescribeInstanceTypes": (5, 100)}


class Ec2Error(Exception):
    def __init__(self, code, message, status=400, bug=False):
        Exception.__init__(self, message)
        self.code, self.message, self.status, self.bug = code, message, status, bug


def now_iso():
    return datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S.000Z")


def pub(r):
    return {k: v for k, v in r.items() if not k.startswith("_")}


def load_credentials(path):
    with open(path) as f:
        c = json.load(f)

    def first(*names):
        for n in names:
            if c.get(n):
                return c[n]
        return None
    return {"access_key": first("access_key_id", "aws_access_key_id", "AccessKeyId"),
            "secret_key": first("secret_access_key", "aws_secret_access_key", "SecretAccessKey"),
            "token": first("session_token", "aws_session_token", "SessionToken")}


class Region:
    def __init__(self, name):
        self.name = name
        self.vpcs, self.subnets, self.igws, self.rtbs = {}, {}, {}, {}
        self.sgs, self.keys, self.instances, self.reservations = {}, {}, {}, {}
        self.tokens = {}  # ClientToken -> (fingerprint, reservation id)
        self.next_ip = 1
        self.images = {}
        for name_, owner, arch, desc in IMAGES:
            iid = "ami-" + hashlib.sha256((name + name_).encode()).hexdigest()[:17]
            self.images[iid] = {
                "ImageId": iid, "Name": name_, "OwnerId": owner, "Architecture": arch,
                "Description": desc, "State": "available", "Public": True,
                "ImageType": "machine", "RootDeviceType": "ebs", "VirtualizationType": "hvm",
                "CreationDate": name_and_date(name_), "PlatformDetails": "Linux/UNIX"}

    def tables(self):
        return (self.vpcs, self.subnets, self.igws, self.rtbs, self.sgs, self.keys,
                self.instances)


def name_and_date(name):
    """An image's CreationDate from the date in its name (20240301 -> 2024-03-01)."""
    i = name.find("2024")
    d = name[i:i + 8] if i >= 0 else "20240101"
    return "%s-%s-%sT00:00:00.000Z" % (d[:4], d[4:6], d[6:8])


def new_id(prefix):
    return "%s-%017x" % (prefix, random.getrandbits(68))


def tags_of(params, rtype):
    """The tags a TagSpecification for rtype gives, refusing other types."""
    tags = []
    for spec in params.get("TagSpecifications", []):
        if spec.get("ResourceType") != rtype:
            raise Ec2Error("InvalidParameterValue", "'%s' is not a valid taggable resource "
                           "type for this operation." % spec.get("ResourceType"), bug=True)
        for t in spec.get("Tags", []):
            tags.append({"Key": t.get("Key", ""), "Value": t.get("Value", "")})
    for t in tags:
        if t["Key"].lower().startswith("aws:"):
            raise Ec2Error("InvalidParameterValue", "Tag keys starting with 'aws:' are "
                           "reserved for internal use", bug=True)
    return tags


def tag_values(r, key):
    return [t["Value"] for t in r.get("Tags", []) if t["Key"] == key]


def common_field(r, name):
    if name == "tag-key":
        return [t["Key"] for t in r.get("Tags", [])]
    if name.startswith("tag:"):
        return tag_values(r, name[4:])
    if name == "owner-id":
        return [r.get("OwnerId", OWNER)]
    return None


def filtered(items, params, field):
    out = list(items)
    for f in params.get("Filters", []):
        name, values = f.get("Name", ""), f.get("Values", [])
        probe = None
        keep = []
        for r in out:
            probe = common_field(r, name)
            if probe is None:
                probe = field(r, name)
            if probe is None:
                raise Ec2Error("InvalidParameterValue", "The filter '%s' is invalid" % name,
                               bug=True)
            if any(fnmatch.fnmatchcase(str(p), v) for p in probe for v in values):
                keep.append(r)
        if not out and field({}, name) is None and common_field({}, name) is None:
            raise Ec2Error("InvalidParameterValue", "The filter '%s' is invalid" % name,
                           bug=True)
        out = keep
    return out


def rule_tuples(perms):
    out = []
    for p in perms:
        proto = str(p.get("IpProtocol", "")).lower()
        proto = {"6": "tcp", "17": "udp", "1": "icmp", "all": "-1"}.get(proto, proto)
        if proto not in ("tcp", "udp", "icmp", "-1"):
            raise Ec2Error("InvalidParameterValue", "Invalid IP protocol: %s" % proto)
        if proto in ("tcp", "udp"):
            if "FromPort" not in p or "ToPort" not in p:
                raise Ec2Error("InvalidParameterValue", "Invalid value for portRange. Must "
                               "specify both from and to ports with TCP/UDP.")
            lo, hi = p["FromPort"], p["ToPort"]
            if not (0 <= lo <= hi <= 65535):
                raise Ec2Error("InvalidParameterValue", "Invalid port range %d-%d" % (lo, hi))
        elif proto == "icmp":
            lo, hi = p.get("FromPort", -1), p.get("ToPort", -1)
        else:
            lo = hi = None
        ranges = p.get("IpRanges", [])
        if not ranges:
            raise Ec2Error("InvalidParameterValue", "The request must contain the parameter "
                           "ipRanges (this double supports CIDR rules only)", bug=True)
        for rg in ranges:
            cidr = rg.get("CidrIp", "")
            try:
                ipaddress.IPv4Network(cidr)
            except ValueError:
                raise Ec2Error("InvalidParameterValue", "CIDR block %s is malformed" % cidr)
            out.append((proto, lo, hi, cidr))
    return out


def rules_out(rules):
    groups = {}
    for proto, lo, hi, cidr in sorted(rules, key=lambda t: (t[0], t[1] or -2, t[2] or -2,
                                                             t[3])):
        groups.setdefault((proto, lo, hi), []).append({"CidrIp": cidr})
    out = []
    for (proto, lo, hi), ranges in groups.items():
        p = {"IpProtocol": proto, "IpRanges": ranges, "Ipv6Ranges": [], "PrefixListIds": [],
             "UserIdGroupPairs": []}
        if lo is not None:
            p["FromPort"], p["ToPort"] = lo, hi
        out.append(p)
    return out


class Ec2Double(common.Double):
    def __init__(self, args):
        common.Double.__init__(self, args)
        self.model = ec2_model.load()
        self.ops = set(self.model.operation_names)
        self.creds = load_credentials(args.credentials)
        self.regions = {}
        self.checked = {}
        if args.seed_vms:
            self.seed(args.region or "us-east-1", args.seed_vms)

    def region(self, name):
        with self.lock:
            if name not in self.regions:
                self.regions[name] = Region(name)
            return self.regions[name]

    # ---- the request path ----

    def handle(self, req):
        rid = str(uuid.uuid4())
        action = "?"
        try:
            if req.method != "POST" or req.path != "/":
                raise Ec2Error("InvalidAction", "EC2 takes POST / (got %s %s)" % (
                    req.method, req.path), bug=True)
            ctype = req.headers.get("content-type", "")
            if not ctype.startswith("application/x-www-form-urlencoded"):
                raise Ec2Error("InvalidParameterValue", "Content-Type %r is not a form" % ctype,
                               bug=True)
            flat, dup = ec2_model.parse_form(req.body)
            action = flat.get("Action", "?")
            if dup:
                raise Ec2Error("InvalidParameterValue", "repeated parameters %s" % dup, bug=True)
            if action not in self.ops:
                raise Ec2Error("InvalidAction", "The action %s is not valid for this web "
                               "service." % action, bug=True)
            if flat.get("Version") != "2016-11-15":
                raise Ec2Error("InvalidParameterValue", "Version %r is not 2016-11-15" %
                               flat.get("Version"), bug=True)
            auth = ec2_model.parse_authorization(req.headers.get("authorization"))
            if not auth:
                raise Ec2Error("AuthFailure", "AWS was not able to validate the provided access "
                               "credentials (no or malformed SigV4 Authorization)", 401, bug=True)
            path = req.raw_path.partition("?")[0]
            why = ec2_model.check_signature("POST", path, req.headers, req.body, auth,
                                            self.creds)
            if why:  # the details go to the violation log, not to the client
                self.violation(action, req.raw_path, "AuthFailure: " + why)
                raise Ec2Error("AuthFailure", "AWS was not able to validate the provided "
                               "access credentials", 401)
            if auth["region"] not in REGIONS:
                raise Ec2Error("AuthFailure", "Credential should be scoped to a valid region, "
                               "not '%s'." % auth["region"], 401, bug=True)
            op = self.model.operation_model(action)
            params, problems = ec2_model.check_request(op, flat)
            if problems:
                code, msg = problems[0]
                raise Ec2Error(code, "; ".join(m for _, m in problems), bug=True)
            if self.args.throttle_every and action != "DescribeRegions":
                with self.stats_lock:
                    self.n_seen = getattr(self, "n_seen", 0) + 1
                    throttle = self.n_seen % self.args.throttle_every == 0
                if throttle:  # before any effect, as EC2's token buckets do
                    raise Ec2Error("RequestLimitExceeded", "Request limit exceeded.", 503)
            if action in self.args.deny:
                raise Ec2Error("UnauthorizedOperation", "You are not authorized to perform "
                               "this operation.", 403)
            if params.get("DryRun"):
                raise Ec2Error("DryRunOperation", "Request would have succeeded, but DryRun "
                               "flag is set.", 412)
            fn = getattr(self, "op_" + action, None)
            if fn is None:
                raise Ec2Error("UnsupportedOperation", "the double does not implement %s" %
                               action)
            with self.lock:
                data = fn(self.region(auth["region"]), params) or {}
            xml = ec2_model.to_xml(op, data, rid)
            self.check_answer(op, xml)
            return common.Response(200, xml, {"Content-Type": "text/xml;charset=UTF-8"},
                                   operation=action)
        except Ec2Error as e:
            if e.bug:
                self.violation(action, req.raw_path, "%s: %s" % (e.code, e.message))
            return common.Response(e.status, ec2_model.error_xml(e.code, e.message, rid),
                                   {"Content-Type": "text/xml;charset=UTF-8"},
                                   operation=action)

    def check_answer(self, op, xml):
        """Parse answers back with botocore (all of them, or a sample of big ones)."""
        n = self.checked.get(op.name, 0)
        self.checked[op.name] = n + 1
        if self.args.check_responses == "sample" and n >= 20 and n % 50:
            return
        why = ec2_model.check_response(op, xml)
        if why:
            self.violation(op.name, "answer", "the double's own answer: " + why)

    def page(self, action, items, params):
        lo, hi = PAGE_LIMITS[action]
        mr = params.get("MaxResults")
        start = 0
        tok = params.get("NextToken")
        if tok:
            try:
                start = int(base64.b64decode(tok.encode()).decode().split(":")[1])
            except (ValueError, IndexError, UnicodeDecodeError):
                raise Ec2Error("InvalidNextToken", "The specified NextToken is not valid.")
        if mr is None:
            return items[start:], None
        if not (lo <= mr <= hi):
            raise Ec2Error("InvalidParameterValue", "Value ( %d ) for parameter maxResults is "
                           "invalid. Expecting a value between %d and %d." % (mr, lo, hi),
                           bug=True)
        size = min(mr, self.args.page_size) if self.args.page_size else mr
        chunk = items[start:start + size]
        nxt = None
        if start + size < len(items):
            nxt = base64.b64encode(("%s:%d" % (action, start + size)).encode()).decode()
        return chunk, nxt

    def by_ids(self, table, ids, code, what):
        missing = [i for i in ids if i not in table]
        if missing:
            raise Ec2Error(code, "The %s '%s' does not exist" % (what, ", ".join(missing)))
        return [table[i] for i in ids]

    # ---- regions, zones, images, instance types ----

    def op_DescribeRegions(self, rg, p):
        names = p.get("RegionNames") or sorted(REGIONS)
        for n in names:
            if n not in REGIONS:
                raise Ec2Error("InvalidParameterValue", "Invalid region name: %s" % n)
        items = [{"RegionName": n, "Endpoint": "ec2.%s.amazonaws.com" % n,
                  "OptInStatus": "opt-in-not-required"} for n in names]
        items = filtered(items, p, lambda r, f: [r.get("RegionName")]
                         if f == "region-name" else None)
        return {"Regions": items}

    def op_DescribeAvailabilityZones(self, rg, p):
        items = [{"ZoneName": rg.name + s, "ZoneId": "%s-az%d" % (rg.name[:3], i + 1),
                  "RegionName": rg.name, "State": "available", "ZoneType": "availability-zone",
                  "OptInStatus": "opt-in-not-required", "GroupName": rg.name,
                  "NetworkBorderGroup": rg.name, "Messages": []}
                 for i, s in enumerate("abc")]
        if p.get("ZoneNames"):
            items = [z for z in items if z["ZoneName"] in p["ZoneNames"]]
        fields = {"zone-name": "ZoneName", "region-name": "RegionName", "state": "State"}
        items = filtered(items, p, lambda r, f: [r.get(fields[f])] if f in fields else None)
        return {"AvailabilityZones": items}

    def op_DescribeImages(self, rg, p):
        items = list(rg.images.values())
        if p.get("ImageIds"):
            items = [i for i in items if i["ImageId"] in p["ImageIds"]]
            if not items:
                raise Ec2Error("InvalidAMIID.NotFound", "The image id '[%s]' does not exist"
                               % ", ".join(p["ImageIds"]))
        if p.get("Owners"):
            owners = set()
            for o in p["Owners"]:
                owners |= OWNER_ALIASES.get(o, {o})
            items = [i for i in items if i["OwnerId"] in owners]
        fields = {"name": "Name", "state": "State", "architecture": "Architecture",
                  "image-id": "ImageId", "is-public": "Public"}
        items = filtered(items, p, lambda r, f: [str(r.get(fields[f])).lower()
                                                 if f == "is-public" else r.get(fields[f])]
                         if f in fields else None)
        return {"Images": items}

    def instance_type(self, t):
        for name, vcpu, mem, arch in INSTANCE_TYPES:
            if name == t:
                return {"InstanceType": name, "CurrentGeneration": True,
                        "VCpuInfo": {"DefaultVCpus": vcpu}, "MemoryInfo": {"SizeInMiB": mem},
                        "ProcessorInfo": {"SupportedArchitectures": [arch]},
                        "SupportedUsageClasses": ["on-demand", "spot"],
                        "Hypervisor": "nitro", "InstanceStorageSupported": False}
        return None

    def op_DescribeInstanceTypes(self, rg, p):
        if p.get("InstanceTypes"):
            bad = [t for t in p["InstanceTypes"] if not self.instance_type(t)]
            if bad:
                raise Ec2Error("InvalidInstanceType", "The following supplied instance types "
                               "do not exist: [%s]" % ", ".join(bad))
            items = [self.instance_type(t) for t in p["InstanceTypes"]]
        else:
            items = [self.instance_type(t[0]) for t in INSTANCE_TYPES]

        def field(r, f):
            if f == "vcpu-info.default-vcpus":
                return [r["VCpuInfo"]["DefaultVCpus"]] if r else []
            if f == "memory-info.size-in-mib":
                return [r["MemoryInfo"]["SizeInMiB"]] if r else []
            if f == "current-generation":
                return ["true"] if r else []
            if f == "processor-info.supported-architecture":
                return r["ProcessorInfo"]["SupportedArchitectures"] if r else []
            if f == "instance-type":
                return [r["InstanceType"]] if r else []
            return None
        items = filtered(items, p, field)
        chunk, nxt = self.page("DescribeInstanceTypes", items, p)
        return {"InstanceTypes": chunk, "NextToken": nxt}

    # ---- VPCs, subnets, gateways, route tables ----

    def op_CreateVpc(self, rg, p):
        cidr = p.get("CidrBlock")
        try:
            net = ipaddress.IPv4Network(cidr or "")
        except ValueError:
            raise Ec2Error("InvalidParameterValue", "Value (%s) for parameter cidrBlock is "
                           "invalid. This is not a valid CIDR block." % cidr)
        if not 16 <= net.prefixlen <= 28:
            raise Ec2Error("InvalidVpc.Range", "The CIDR '%s' is invalid." % cidr)
        vid = new_id("vpc")
        vpc = {"VpcId": vid, "CidrBlock": cidr, "State": "available", "OwnerId": OWNER,
               "DhcpOptionsId": "dopt-0123456789abcdef0", "InstanceTenancy": "default",
               "IsDefault": False, "Tags": tags_of(p, "vpc"),
               "CidrBlockAssociationSet": [{"AssociationId": new_id("vpc-cidr-assoc"),
                                            "CidrBlock": cidr,
                                            "CidrBlockState": {"State": "associated"}}]}
        rg.vpcs[vid] = vpc
        rtb = new_id("rtb")
        rg.rtbs[rtb] = {"RouteTableId": rtb, "VpcId": vid, "OwnerId": OWNER, "Tags": [],
                        "Associations": [{"Main": True, "RouteTableAssociationId":
                                          new_id("rtbassoc"), "RouteTableId": rtb,
                                          "AssociationState": {"State": "associated"}}],
                        "Routes": [{"DestinationCidrBlock": cidr, "GatewayId": "local",
                                    "Origin": "CreateRouteTable", "State": "active"}],
                        "PropagatingVgws": []}
        sg = new_id("sg")
        rg.sgs[sg] = {"GroupId": sg, "GroupName": "default", "VpcId": vid, "OwnerId": OWNER,
                      "Description": "default VPC security group", "Tags": [],
                      "_in": [], "_out": [("-1", None, None, "0.0.0.0/0")]}
        return {"Vpc": dict(pub(vpc), State="pending")}

    def op_DescribeVpcs(self, rg, p):
        items = (self.by_ids(rg.vpcs, p["VpcIds"], "InvalidVpcID.NotFound", "vpc ID")
                 if p.get("VpcIds") else list(rg.vpcs.values()))
        fields = {"vpc-id": "VpcId", "cidr-block": "CidrBlock", "state": "State"}
        items = filtered(items, p, lambda r, f: [r.get(fields[f])] if f in fields else None)
        chunk, nxt = self.page("DescribeVpcs", items, p)
        return {"Vpcs": [pub(v) for v in chunk], "NextToken": nxt}

    def op_DeleteVpc(self, rg, p):
        vid = p["VpcId"]
        if vid not in rg.vpcs:
            raise Ec2Error("InvalidVpcID.NotFound", "The vpc ID '%s' does not exist" % vid)
        deps = [s for s in rg.subnets.values() if s["VpcId"] == vid]
        deps += [g for g in rg.igws.values() if any(a["VpcId"] == vid
                                                   for a in g["Attachments"])]
        deps += [g for g in rg.sgs.values() if g["VpcId"] == vid and g["GroupName"] != "default"]
        if deps:
            raise Ec2Error("DependencyViolation", "The vpc '%s' has dependencies and cannot "
                           "be deleted." % vid)
        for t in (rg.sgs, rg.rtbs):
            for k in [k for k, v in t.items() if v["VpcId"] == vid]:
                del t[k]
        del rg.vpcs[vid]

    def op_CreateSubnet(self, rg, p):
        vid = p["VpcId"]
        vpc = rg.vpcs.get(vid)
        if not vpc:
            raise Ec2Error("InvalidVpcID.NotFound", "The vpc ID '%s' does not exist" % vid)
        cidr = p.get("CidrBlock", "")
        try:
            net = ipaddress.IPv4Network(cidr)
        except ValueError:
            raise Ec2Error("InvalidParameterValue", "Value (%s) for parameter cidrBlock is "
                           "invalid." % cidr)
        if not net.subnet_of(ipaddress.IPv4Network(vpc["CidrBlock"])) or net.prefixlen > 28:
            raise Ec2Error("InvalidSubnet.Range", "The CIDR '%s' is invalid." % cidr)
        for s in rg.subnets.values():
            if s["VpcId"] == vid and net.overlaps(ipaddress.IPv4Network(s["CidrBlock"])):
                raise Ec2Error("InvalidSubnet.Conflict", "The CIDR '%s' conflicts with another "
                               "subnet" % cidr)
        az = p.get("AvailabilityZone") or rg.name + "a"
        if az not in [rg.name + s for s in "abc"]:
            raise Ec2Error("InvalidParameterValue", "Value (%s) for parameter "
                           "availabilityZone is invalid." % az)
        sid = new_id("subnet")
        s = {"SubnetId": sid, "VpcId": vid, "CidrBlock": cidr, "AvailabilityZone": az,
             "AvailabilityZoneId": "%s-az%d" % (rg.name[:3], "abc".index(az[-1]) + 1),
             "State": "available", "AvailableIpAddressCount": net.num_addresses - 5,
             "MapPublicIpOnLaunch": False, "DefaultForAz": False, "OwnerId": OWNER,
             "SubnetArn": "arn:aws:ec2:%s:%s:subnet/%s" % (rg.name, OWNER, sid),
             "Tags": tags_of(p, "subnet"), "_next": 4}
        rg.subnets[sid] = s
        return {"Subnet": pub(s)}

    def op_ModifySubnetAttribute(self, rg, p):
        s = rg.subnets.get(p["SubnetId"])
        if not s:
            raise Ec2Error("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist" %
                           p["SubnetId"])
        if "MapPublicIpOnLaunch" in p:
            s["MapPublicIpOnLaunch"] = bool(p["MapPublicIpOnLaunch"].get("Value"))

    def op_DescribeSubnets(self, rg, p):
        items = (self.by_ids(rg.subnets, p["SubnetIds"], "InvalidSubnetID.NotFound",
                             "subnet ID") if p.get("SubnetIds") else list(rg.subnets.values()))
        fields = {"vpc-id": "VpcId", "subnet-id": "SubnetId", "cidr-block": "CidrBlock",
                  "availability-zone": "AvailabilityZone", "state": "State"}
        items = filtered(items, p, lambda r, f: [r.get(fields[f])] if f in fields else None)
        chunk, nxt = self.page("DescribeSubnets", items, p)
        return {"Subnets": [pub(s) for s in chunk], "NextToken": nxt}

    def op_DeleteSubnet(self, rg, p):
        sid = p["SubnetId"]
        if sid not in rg.subnets:
            raise Ec2Error("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist" % sid)
        if any(i["SubnetId"] == sid and i["State"]["Name"] != "terminated"
               for i in rg.instances.values()):
            raise Ec2Error("DependencyViolation", "The subnet '%s' has dependencies and "
                           "cannot be deleted." % sid)
        del rg.subnets[sid]

    def op_CreateInternetGateway(self, rg, p):
        gid = new_id("igw")
        rg.igws[gid] = {"InternetGatewayId": gid, "OwnerId": OWNER, "Attachments": [],
                        "Tags": tags_of(p, "internet-gateway")}
        return {"InternetGateway": pub(rg.igws[gid])}

    def igw(self, rg, gid):
        g = rg.igws.get(gid)
        if not g:
            raise Ec2Error("InvalidInternetGatewayID.NotFound", "The internetGateway ID '%s' "
                           "does not exist" % gid)
        return g

    def op_AttachInternetGateway(self, rg, p):
        g = self.igw(rg, p["InternetGatewayId"])
        if p["VpcId"] not in rg.vpcs:
            raise Ec2Error("InvalidVpcID.NotFound", "The vpc ID '%s' does not exist" %
                           p["VpcId"])
        if g["Attachments"]:
            raise Ec2Error("Resource.AlreadyAssociated", "resource %s is already attached to "
                           "network %s" % (g["InternetGatewayId"], g["Attachments"][0]["VpcId"]))
        g["Attachments"] = [{"VpcId": p["VpcId"], "State": "available"}]

    def op_DetachInternetGateway(self, rg, p):
        g = self.igw(rg, p["InternetGatewayId"])
        if not any(a["VpcId"] == p["VpcId"] for a in g["Attachments"]):
            raise Ec2Error("Gateway.NotAttached", "resource %s is not attached to network %s" %
                           (g["InternetGatewayId"], p["VpcId"]))
        g["Attachments"] = []
        for t in rg.rtbs.values():
            t["Routes"] = [r for r in t["Routes"] if r.get("GatewayId") != g["InternetGatewayId"]]

    def op_DeleteInternetGateway(self, rg, p):
        g = self.igw(rg, p["InternetGatewayId"])
        if g["Attachments"]:
            raise Ec2Error("DependencyViolation", "The internetGateway '%s' has dependencies "
                           "and cannot be deleted." % g["InternetGatewayId"])
        del rg.igws[g["InternetGatewayId"]]

    def op_DescribeInternetGateways(self, rg, p):
        items = (self.by_ids(rg.igws, p["InternetGatewayIds"],
                             "InvalidInternetGatewayID.NotFound", "internetGateway ID")
                 if p.get("InternetGatewayIds") else list(rg.igws.values()))

        def field(r, f):
            if f == "attachment.vpc-id":
                return [a["VpcId"] for a in r.get("Attachments", [])]
            if f == "internet-gateway-id":
                return [r.get("InternetGatewayId")]
            return None
        items = filtered(items, p, field)
        chunk, nxt = self.page("DescribeInternetGateways", items, p)
        return {"InternetGateways": [pub(g) for g in chunk], "NextToken": nxt}

    def op_DescribeRouteTables(self, rg, p):
        items = (self.by_ids(rg.rtbs, p["RouteTableIds"], "InvalidRouteTableID.NotFound",
                             "routeTable ID") if p.get("RouteTableIds")
                 else list(rg.rtbs.values()))

        def field(r, f):
            if f == "vpc-id":
                return [r.get("VpcId")]
            if f == "association.main":
                return ["true" if any(a.get("Main") for a in r.get("Associations", []))
                        else "false"]
            if f == "route-table-id":
                return [r.get("RouteTableId")]
            return None
        items = filtered(items, p, field)
        chunk, nxt = self.page("DescribeRouteTables", items, p)
        return {"RouteTables": [pub(t) for t in chunk], "NextToken": nxt}

    def op_CreateRoute(self, rg, p):
        t = rg.rtbs.get(p["RouteTableId"])
        if not t:
            raise Ec2Error("InvalidRouteTableID.NotFound", "The routeTable ID '%s' does not "
                           "exist" % p["RouteTableId"])
        dest = p.get("DestinationCidrBlock")
        gw = p.get("GatewayId")
        if not dest or not gw:
            raise Ec2Error("InvalidParameterCombination", "this double routes "
                           "DestinationCidrBlock to a GatewayId only", bug=True)
        g = self.igw(rg, gw)
        if not any(a["VpcId"] == t["VpcId"] for a in g["Attachments"]):
            raise Ec2Error("InvalidParameterValue", "route table %s and network gateway %s "
                           "belong to different networks" % (t["RouteTableId"], gw))
        for r in t["Routes"]:
            if r["DestinationCidrBlock"] == dest:
                if r.get("GatewayId") == gw:
                    return {"Return": True}
                raise Ec2Error("RouteAlreadyExists", "The route identified by %s already "
                               "exists." % dest)
        t["Routes"].append({"DestinationCidrBlock": dest, "GatewayId": gw,
                            "Origin": "CreateRoute", "State": "active"})
        return {"Return": True}

    # ---- security groups ----

    def sg(self, rg, gid):
        g = rg.sgs.get(gid)
        if not g:
            raise Ec2Error("InvalidGroup.NotFound", "The security group '%s' does not exist" %
                           gid)
        return g

    def sg_out(self, g):
        return dict(pub(g), IpPermissions=rules_out(g["_in"]),
                    IpPermissionsEgress=rules_out(g["_out"]))

    def op_CreateSecurityGroup(self, rg, p):
        vid = p.get("VpcId")
        if not vid:
            raise Ec2Error("VPCIdNotSpecified", "No default VPC for this user")
        if vid not in rg.vpcs:
            raise Ec2Error("InvalidVpcID.NotFound", "The vpc ID '%s' does not exist" % vid)
        name = p["GroupName"]
        if name.lower().startswith("sg-") or name == "default":
            raise Ec2Error("InvalidParameterValue", "Group names may not be in the format "
                           "sg-* or be 'default'")
        for g in rg.sgs.values():
            if g["VpcId"] == vid and g["GroupName"] == name:
                raise Ec2Error("InvalidGroup.Duplicate", "The security group '%s' already "
                               "exists for VPC '%s'" % (name, vid))
        gid = new_id("sg")
        tags = tags_of(p, "security-group")
        rg.sgs[gid] = {"GroupId": gid, "GroupName": name, "Description": p["Description"],
                       "VpcId": vid, "OwnerId": OWNER, "Tags": tags, "_in": [],
                       "_out": [("-1", None, None, "0.0.0.0/0")]}
        return {"GroupId": gid, "Tags": tags}

    def op_DescribeSecurityGroups(self, rg, p):
        items = (self.by_ids(rg.sgs, p["GroupIds"], "InvalidGroup.NotFound", "security group")
                 if p.get("GroupIds") else list(rg.sgs.values()))
        fields = {"vpc-id": "VpcId", "group-name": "GroupName", "group-id": "GroupId"}
        items = filtered(items, p, lambda r, f: [r.get(fields[f])] if f in fields else None)
        chunk, nxt = self.page("DescribeSecurityGroups", items, p)
        return {"SecurityGroups": [self.sg_out(g) for g in chunk], "NextToken": nxt}

    def authorize(self, rg, p, key):
        g = self.sg(rg, p.get("GroupId", ""))
        new = rule_tuples(p.get("IpPermissions", []))
        for r in new:
            if r in g[key]:
                raise Ec2Error("InvalidPermission.Duplicate", "the specified rule \"peer: %s, "
                               "%s, ALLOW\" already exists" % (r[3], r[0]))
        g[key].extend(new)
        return {"Return": True, "SecurityGroupRules": [
            {"SecurityGroupRuleId": new_id("sgr"), "GroupId": g["GroupId"],
             "GroupOwnerId": OWNER, "IsEgress": key == "_out", "IpProtocol": r[0],
             "FromPort": -1 if r[1] is None else r[1], "ToPort": -1 if r[2] is None else r[2],
             "CidrIpv4": r[3]} for r in new]}

    def revoke(self, rg, p, key):
        g = self.sg(rg, p.get("GroupId", ""))
        gone = rule_tuples(p.get("IpPermissions", []))
        unknown = [r for r in gone if r not in g[key]]
        g[key] = [r for r in g[key] if r not in gone]
        return {"Return": True, "UnknownIpPermissions": rules_out(unknown) or None}

    def op_AuthorizeSecurityGroupIngress(self, rg, p):
        return self.authorize(rg, p, "_in")

    def op_AuthorizeSecurityGroupEgress(self, rg, p):
        return self.authorize(rg, p, "_out")

    def op_RevokeSecurityGroupIngress(self, rg, p):
        return self.revoke(rg, p, "_in")

    def op_RevokeSecurityGroupEgress(self, rg, p):
        return self.revoke(rg, p, "_out")

    def op_DeleteSecurityGroup(self, rg, p):
        g = self.sg(rg, p.get("GroupId", ""))
        if g["GroupName"] == "default":
            raise Ec2Error("CannotDelete", "the specified group: \"%s\" name: \"default\" "
                           "cannot be deleted by a user" % g["GroupId"])
        for i in rg.instances.values():
            if i["State"]["Name"] != "terminated" and any(
                    s["GroupId"] == g["GroupId"] for s in i["SecurityGroups"]):
                raise Ec2Error("DependencyViolation", "resource %s has a dependent object" %
                               g["GroupId"])
        del rg.sgs[g["GroupId"]]

    # ---- key pairs ----

    def key_unique(self, rg, name):
        if any(k["KeyName"] == name for k in rg.keys.values()):
            raise Ec2Error("InvalidKeyPair.Duplicate", "The keypair '%s' already exists." % name)

    def op_ImportKeyPair(self, rg, p):
        self.key_unique(rg, p["KeyName"])
        material = p["PublicKeyMaterial"]
        if isinstance(material, str):
            material = material.encode()
        parts = material.decode("utf-8", "replace").split()
        if len(parts) < 2 or parts[0] not in ("ssh-rsa", "ssh-ed25519", "ecdsa-sha2-nistp256"):
            raise Ec2Error("InvalidKey.Format", "Key is not in valid OpenSSH public key format")
        try:
            blob = base64.b64decode(parts[1], validate=True)
        except ValueError:
            raise Ec2Error("InvalidKey.Format", "Key is not in valid OpenSSH public key format")
        kid = new_id("key")
        fp = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
        k = {"KeyPairId": kid, "KeyName": p["KeyName"], "KeyFingerprint": fp,
             "KeyType": "ed25519" if parts[0] == "ssh-ed25519" else "rsa",
             "Tags": tags_of(p, "key-pair"), "CreateTime": now_iso(),
             "PublicKey": " ".join(parts[:2])}
        rg.keys[kid] = k
        return {"KeyFingerprint": fp, "KeyName": k["KeyName"], "KeyPairId": kid,
                "Tags": k["Tags"]}

    def op_CreateKeyPair(self, rg, p):
        self.key_unique(rg, p["KeyName"])
        ktype = p.get("KeyType", "rsa")
        try:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
        except ImportError:  # not a key then, but shaped like one
            pem = "-----BEGIN OPENSSH PRIVATE KEY-----\n%s\n-----END OPENSSH PRIVATE KEY-----\n" % (
                base64.b64encode(os.urandom(300)).decode())
            blob = os.urandom(51)
            pubkey = "ssh-ed25519 " + base64.b64encode(blob).decode()
            return self.key_made(rg, p, ktype, pem, pubkey, blob)
        if ktype == "ed25519":
            key = ed25519.Ed25519PrivateKey.generate()
            fmt = serialization.PrivateFormat.OpenSSH
        else:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            fmt = serialization.PrivateFormat.TraditionalOpenSSL
        pem = key.private_bytes(serialization.Encoding.PEM, fmt,
                                serialization.NoEncryption()).decode()
        pubkey = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH).decode()
        blob = base64.b64decode(pubkey.split()[1])
        return self.key_made(rg, p, ktype, pem, pubkey, blob)

    def key_made(self, rg, p, ktype, pem, pubkey, blob):
        kid = new_id("key")
        fp = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
        k = {"KeyPairId": kid, "KeyName": p["KeyName"], "KeyFingerprint": fp,
             "KeyType": ktype, "Tags": tags_of(p, "key-pair"), "CreateTime": now_iso(),
             "PublicKey": pubkey}
        rg.keys[kid] = k
        return {"KeyFingerprint": fp, "KeyMaterial": pem, "KeyName": k["KeyName"],
                "KeyPairId": kid, "Tags": k["Tags"]}

    def op_DescribeKeyPairs(self, rg, p):
        items = list(rg.keys.values())
        if p.get("KeyPairIds"):
            items = self.by_ids(rg.keys, p["KeyPairIds"], "InvalidKeyPair.NotFound",
                                "key pair")
        if p.get("KeyNames"):
            items = [k for k in items if k["KeyName"] in p["KeyNames"]]
            if len(items) < len(p["KeyNames"]):
                raise Ec2Error("InvalidKeyPair.NotFound", "The key pair '%s' does not exist" %
                               ", ".join(p["KeyNames"]))
        fields = {"key-name": "KeyName", "key-pair-id": "KeyPairId",
                  "fingerprint": "KeyFingerprint"}
        items = filtered(items, p, lambda r, f: [r.get(fields[f])] if f in fields else None)
        out = []
        for k in items:
            k = pub(k)
            if not p.get("IncludePublicKey"):
                k.pop("PublicKey", None)
            out.append(k)
        return {"KeyPairs": out}

    def op_DeleteKeyPair(self, rg, p):
        kid = p.get("KeyPairId")
        if not kid:
            kid = next((i for i, k in rg.keys.items() if k["KeyName"] == p.get("KeyName")),
                       None)
        rg.keys.pop(kid, None)  # EC2 answers true for a key that is not there
        return {}

    # ---- instances ----

    def advance(self, i):
        nxt = i.get("_next")
        while nxt and time.monotonic() >= nxt[0]:
            self.set_state(i, nxt[1])
            nxt = i.get("_next")

    def set_state(self, i, name, after=None):
        i["State"] = {"Code": STATE_CODES[name], "Name": name}
        i["_next"] = (time.monotonic() + TRANSITION_S, after) if after else None
        if name == "running" and i.get("_public") and "PublicIpAddress" not in i:
            i["PublicIpAddress"] = self.public_ip()
        if name in ("stopped", "terminated"):
            i.pop("PublicIpAddress", None)
        if name == "terminated":
            i.pop("PrivateIpAddress", None)

    def public_ip(self):
        self.pub_counter = getattr(self, "pub_counter", 0) + 1
        n = self.pub_counter
        return "3.%d.%d.%d" % (32 + (n >> 16) % 200, (n >> 8) & 255, n & 255 or 1)

    def instances(self, rg, ids=None):
        if ids:
            items = self.by_ids(rg.instances, ids, "InvalidInstanceID.NotFound",
                                "instance ID")
        else:
            items = list(rg.instances.values())
        for i in items:
            self.advance(i)
        return items

    def op_RunInstances(self, rg, p):
        token = p.get("ClientToken")
        fp = json.dumps({k: v for k, v in p.items() if k != "ClientToken"}, sort_keys=True,
                        default=str)
        if token and token in rg.tokens:
            was, res_id = rg.tokens[token]
            if was != fp:
                raise Ec2Error("IdempotentParameterMismatch", "Arguments on this idempotent "
                               "request are inconsistent with arguments used in previous "
                               "request(s).")
            res = rg.reservations[res_id]
            return self.reservation_out(rg, res)
        if p["MinCount"] < 1 or p["MaxCount"] < p["MinCount"]:
            raise Ec2Error("InvalidParameterValue", "MinCount/MaxCount are invalid")
        if not p.get("ImageId") or p["ImageId"] not in rg.images:
            raise Ec2Error("InvalidAMIID.NotFound", "The image id '[%s]' does not exist" %
                           p.get("ImageId"))
        itype = self.instance_type(p.get("InstanceType", "m1.small"))
        if not itype:
            raise Ec2Error("InvalidParameterValue", "Invalid value '%s' for InstanceType." %
                           p.get("InstanceType"))
        sid = p.get("SubnetId")
        subnet = rg.subnets.get(sid or "")
        if not subnet:
            raise Ec2Error("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist" % sid)
        groups = []
        for gid in p.get("SecurityGroupIds", []):
            g = self.sg(rg, gid)
            if g["VpcId"] != subnet["VpcId"]:
                raise Ec2Error("InvalidParameter", "Security group %s and subnet %s belong to "
                               "different networks." % (gid, sid))
            groups.append({"GroupId": gid, "GroupName": g["GroupName"]})
        if not groups:
            g = next(g for g in rg.sgs.values() if g["VpcId"] == subnet["VpcId"]
                     and g["GroupName"] == "default")
            groups.append({"GroupId": g["GroupId"], "GroupName": "default"})
        if p.get("KeyName") and not any(k["KeyName"] == p["KeyName"]
                                        for k in rg.keys.values()):
            raise Ec2Error("InvalidKeyPair.NotFound", "The key pair '%s' does not exist" %
                           p["KeyName"])
        tags = tags_of({"TagSpecifications": [s for s in p.get("TagSpecifications", [])
                                              if s.get("ResourceType") != "volume"]},
                       "instance")
        res_id = new_id("r")
        made = []
        net = ipaddress.IPv4Network(subnet["CidrBlock"])
        for n in range(p["MaxCount"]):
            iid = new_id("i")
            ip = str(net.network_address + subnet["_next"])
            subnet["_next"] += 1
            i = {"InstanceId": iid, "ImageId": p["ImageId"],
                 "InstanceType": itype["InstanceType"], "KeyName": p.get("KeyName"),
                 "LaunchTime": now_iso(), "Placement": {
                     "AvailabilityZone": subnet["AvailabilityZone"], "Tenancy": "default"},
                 "PrivateIpAddress": ip, "SubnetId": sid, "VpcId": subnet["VpcId"],
                 "SecurityGroups": groups, "Tags": [dict(t) for t in tags],
                 "Architecture": itype["ProcessorInfo"]["SupportedArchitectures"][0],
                 "ClientToken": token or "", "AmiLaunchIndex": n, "Hypervisor": "xen",
                 "RootDeviceType": "ebs", "RootDeviceName": "/dev/xvda",
                 "VirtualizationType": "hvm", "PrivateDnsName": "ip-%s.ec2.internal" %
                 ip.replace(".", "-"), "_public": subnet["MapPublicIpOnLaunch"],
                 "_res": res_id}
            self.set_state(i, "pending", "running")
            rg.instances[iid] = i
            made.append(iid)
        res = {"ReservationId": res_id, "OwnerId": OWNER, "Groups": [], "_ids": made}
        rg.reservations[res_id] = res
        if token:
            rg.tokens[token] = (fp, res_id)
        return self.reservation_out(rg, res)

    def reservation_out(self, rg, res, only=None):
        ids = [i for i in res["_ids"] if only is None or i in only]
        return {"ReservationId": res["ReservationId"], "OwnerId": res["OwnerId"],
                "Groups": [], "Instances": [pub(rg.instances[i]) for i in ids]}

    def op_DescribeInstances(self, rg, p):
        if p.get("InstanceIds") and "MaxResults" in p:
            raise Ec2Error("InvalidParameterCombination", "The parameter instancesSet cannot "
                           "be used with the parameter maxResults", bug=True)
        items = self.instances(rg, p.get("InstanceIds"))

        def field(r, f):
            fields = {"instance-id": lambda: [r.get("InstanceId")],
                      "instance-state-name": lambda: [r["State"]["Name"]],
                      "vpc-id": lambda: [r.get("VpcId")], "subnet-id": lambda: [r.get("SubnetId")],
                      "client-token": lambda: [r.get("ClientToken")],
                      "instance-type": lambda: [r.get("InstanceType")]}
            if f not in fields:
                return None
            return fields[f]() if r else []
        items = filtered(items, p, field)
        chunk, nxt = self.page("DescribeInstances", items, p)
        out, seen = [], {}
        for i in chunk:  # grouped by reservation, in order
            rid = i["_res"]
            if rid not in seen:
                seen[rid] = set()
                out.append(rid)
            seen[rid].add(i["InstanceId"])
        return {"Reservations": [self.reservation_out(rg, rg.reservations[r], seen[r])
                                 for r in out], "NextToken": nxt}

    def change(self, rg, p, fn):
        out = []
        for i in self.instances(rg, p["InstanceIds"]):
            before = dict(i["State"])
            fn(i)
            out.append({"InstanceId": i["InstanceId"], "PreviousState": before,
                        "CurrentState": dict(i["State"])})
        return out

    def op_StopInstances(self, rg, p):
        def stop(i):
            s = i["State"]["Name"]
            if s == "running":
                self.set_state(i, "stopping", "stopped")
            elif s not in ("stopping", "stopped"):
                raise Ec2Error("IncorrectInstanceState", "The instance '%s' is not in a state "
                               "from which it can be stopped." % i["InstanceId"])
        self.check_states(rg, p, stop)
        return {"StoppingInstances": self.change(rg, p, stop)}

    def op_StartInstances(self, rg, p):
        def start(i):
            s = i["State"]["Name"]
            if s == "stopped":
                self.set_state(i, "pending", "running")
            elif s not in ("pending", "running"):
                raise Ec2Error("IncorrectInstanceState", "The instance '%s' is not in a state "
                               "from which it can be started." % i["InstanceId"])
        self.check_states(rg, p, start)
        return {"StartingInstances": self.change(rg, p, start)}

    def op_RebootInstances(self, rg, p):
        def reboot(i):
            if i["State"]["Name"] not in ("running", "pending"):
                raise Ec2Error("IncorrectInstanceState", "The instance '%s' is not in a state "
                               "from which it can be rebooted." % i["InstanceId"])
        self.check_states(rg, p, reboot)
        return {}

    def op_TerminateInstances(self, rg, p):
        def term(i):
            if i["State"]["Name"] not in ("shutting-down", "terminated"):
                self.set_state(i, "shutting-down", "terminated")
        return {"TerminatingInstances": self.change(rg, p, term)}

    def check_states(self, rg, p, fn):
        """EC2 refuses the whole call when one instance is in the wrong state."""
        for i in self.instances(rg, p["InstanceIds"]):
            saved = (dict(i["State"]), i.get("_next"), i.get("PublicIpAddress"))
            fn(i)
            i["State"], i["_next"] = saved[0], saved[1]
            if saved[2]:
                i["PublicIpAddress"] = saved[2]

    # ---- tags ----

    def find_any(self, rg, rid):
        for t in rg.tables():
            if rid in t:
                return t[rid]
        prefix = rid.split("-")[0]
        raise Ec2Error("Invalid%sID.NotFound" % {"i": "Instance", "vpc": "Vpc", "sg": "Group",
                                                 "subnet": "Subnet", "key": "KeyPair",
                                                 "igw": "InternetGateway"}.get(prefix, "ID"),
                       "The ID '%s' does not exist" % rid)

    def op_CreateTags(self, rg, p):
        rs = [self.find_any(rg, r) for r in p["Resources"]]
        for r in rs:
            for t in p["Tags"]:
                if t.get("Key", "").lower().startswith("aws:"):
                    raise Ec2Error("InvalidParameterValue", "Tag keys starting with 'aws:' are "
                                   "reserved for internal use", bug=True)
                r.setdefault("Tags", [])
                r["Tags"] = [x for x in r["Tags"] if x["Key"] != t["Key"]]
                r["Tags"].append({"Key": t["Key"], "Value": t.get("Value", "")})

    def op_DeleteTags(self, rg, p):
        rs = [self.find_any(rg, r) for r in p["Resources"]]
        for r in rs:
            for t in p.get("Tags", []):
                r["Tags"] = [x for x in r.get("Tags", []) if not (
                    x["Key"] == t["Key"] and ("Value" not in t or x["Value"] == t["Value"]))]

    # ---- bench seeding ----

    def seed(self, region, n):
        rg = self.region(region)
        vpc = self.op_CreateVpc(rg, {"CidrBlock": "10.0.0.0/16"})["Vpc"]["VpcId"]
        sub = self.op_CreateSubnet(rg, {"VpcId": vpc, "CidrBlock": "10.0.0.0/20"})["Subnet"]
        img = next(iter(rg.images))
        for k in range(n):
            tags = [{"Key": "barista:address", "Value": "bench/vm/seed-%d" % k},
                    {"Key": "barista:namespace", "Value": "bench"},
                    {"Key": "barista:lineage", "Value": "00000000-0000-4000-8000-%012d" % k},
                    {"Key": "Name", "Value": "seed-%d" % k}]
            r = self.op_RunInstances(rg, {"MinCount": 1, "MaxCount": 1, "ImageId": img,
                                          "InstanceType": "t3.micro",
                                          "SubnetId": sub["SubnetId"], "TagSpecifications": [
                                              {"ResourceType": "instance", "Tags": tags}]})
            i = rg.instances[r["Instances"][0]["InstanceId"]]
            self.set_state(i, "running")


def main():
    if ec2_model.botocore is None:
        common.missing_model("python3-botocore (botocore's ec2 model)")

    def extra(p):
        here = os.path.dirname(os.path.abspath(__file__))
        p.add_argument("--credentials", default=os.path.join(
            here, "..", "..", "data", "aws", "credentials.json"))
        p.add_argument("--check-responses", choices=["all", "sample"], default="all")
        p.add_argument("--throttle-every", type=int, default=0,
                       help="answer every Nth request RequestLimitExceeded (503)")
        p.add_argument("--deny", action="append", default=[],
                       help="answer this Action with UnauthorizedOperation (repeatable)")
    args = common.arguments("EC2 Query API double", extra)
    try:
        ec2_model.load()
    except Exception as e:  # noqa: BLE001 - any failure means the model is unusable
        common.missing_model("botocore's ec2 model (%s)" % e)
    common.serve(Ec2Double(args))


if __name__ == "__main__":
    main()
