#!/usr/bin/python3
"""selftest.py ENDPOINT - send the OpenStack double deliberately wrong
requests; each must be answered with the service's error (4xx) and recorded
as a violation (run.py --expect-violations then checks that some were).

Exits 1 when a wrong request is accepted (2xx): the double's validation
would then agree with a driver that is wrong.
"""
import json
import sys
import urllib.error
import urllib.request

BASE = sys.argv[1]
CREDS = {"user": {"name": "ci-operator-4821", "domain": {"name": "Default"},
                  "password": "Zq3vN8rT2wLk5pXs9dFh"}}
SCOPE = {"project": {"name": "ci-project-7f3a", "domain": {"name": "Default"}}}


def call(method, url, body=None, token=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def main():
    failed = 0
    st, h, body = call("POST", BASE + "/identity/v3/auth/tokens",
                       {"auth": {"identity": {"methods": ["password"], "password": CREDS},
                                 "scope": SCOPE}})
    if st != 201:
        print("not ok - a good token request was refused: %d %s" % (st, body[:200]))
        return 1
    tok = h["X-Subject-Token"]
    nova = BASE + "/RegionOne/compute/v2.1"
    neutron = BASE + "/RegionOne/network/v2.0"
    cases = [
        ("keystone: methods not a list", "POST", BASE + "/identity/v3/auth/tokens",
         {"auth": {"identity": {"methods": "password", "password": CREDS}, "scope": SCOPE}},
         None),
        ("keystone: a user name without its domain", "POST", BASE + "/identity/v3/auth/tokens",
         {"auth": {"identity": {"methods": ["password"], "password": {"user": {
             "name": "ci-operator-4821", "password": "x"}}}}}, None),
        ("nova: misspelt imageRef", "POST", nova + "/servers",
         {"server": {"name": "x", "imageRf": "a", "flavorRef": "1"}}, tok),
        ("nova: flavorRef of the wrong type", "POST", nova + "/servers",
         {"server": {"name": "x", "imageRef": "a", "flavorRef": {"id": 1}}}, tok),
        ("nova: reboot type not an enum value", "POST", nova + "/servers/x/action",
         {"reboot": {"type": "GENTLE"}}, tok),
        ("nova: key pair name with a character 2.1 refuses", "POST", nova + "/os-keypairs",
         {"keypair": {"name": "bad/name"}}, tok),
        ("nova: unknown query parameter", "GET", nova + "/servers/detail?limt=5", None, tok),
        ("nova: limit not an integer", "GET", nova + "/servers/detail?limit=abc", None, tok),
        ("nova: no token", "GET", nova + "/servers/detail", None, None),
        ("nova: a forged token", "GET", nova + "/servers/detail", None, "gAAAAAforged"),
        ("neutron: unknown attribute", "POST", neutron + "/networks",
         {"network": {"name": "n", "colour": "blue"}}, tok),
        ("neutron: subnet without ip_version", "POST", neutron + "/subnets",
         {"subnet": {"network_id": "0e9f1c1e-7e5b-4b6f-9c61-1f7a1c7d2b10",
                     "cidr": "10.0.0.0/24"}}, tok),
        ("neutron: rule direction not a value", "POST", neutron + "/security-group-rules",
         {"security_group_rule": {"security_group_id": "x", "direction": "inbound"}}, tok),
        ("neutron: a tag longer than 255", "PUT", neutron + "/networks/x/tags",
         {"tags": ["k=" + "v" * 300]}, tok),
        ("neutron: unknown filter", "GET", neutron + "/networks?colour=blue", None, tok),
        ("glance: limit not an integer", "GET", BASE + "/RegionOne/image/v2/images?limit=x",
         None, tok),
    ]
    for name, method, url, body, token in cases:
        st, _, ans = call(method, url, body, token)
        if 200 <= st < 300:
            print("not ok - %s: accepted (%d)" % (name, st))
            failed += 1
        else:
            print("ok - %s: %d %s" % (name, st, ans[:120].decode(errors="replace")))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
