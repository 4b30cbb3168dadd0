#!/usr/bin/python3
"""selftest.py - the EC2 double must catch wrong requests (ctest aws_double_selftest).

    selftest.py ENDPOINT CREDENTIALS_JSON

Sends, signed with botocore's own SigV4 signer, one right request and then
requests that are wrong in one way each: a misspelt parameter, a string
where the model wants an integer, a missing required parameter, an unknown
Action, a list not numbered from 1, a wrong secret (bad signature), a
missing session token, an unsigned request.  Each wrong one must get EC2's
error answer with the expected code, and the double's statistics must count
exactly that many violations (run.py --expect-violations then also sees
them).  Exit 0 when all that held.
"""
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ec2_double  # noqa: E402
import ec2_model  # noqa: E402

if ec2_model.botocore is None:
    sys.stderr.write("selftest: python3-botocore is not installed\n")
    sys.exit(77)

import botocore.auth  # noqa: E402
import botocore.awsrequest  # noqa: E402
import botocore.credentials  # noqa: E402


def send(endpoint, params, creds, region="us-east-1", sign=True, token=True):
    body = urllib.parse.urlencode(params).encode()
    url = endpoint + "/"
    req = botocore.awsrequest.AWSRequest(method="POST", url=url, data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    if sign:
        c = botocore.credentials.Credentials(creds["access_key"], creds["secret_key"],
                                             creds["token"] if token else None)
        botocore.auth.SigV4Auth(c, "ec2", region).add_auth(req)
    prepared = req.prepare()
    r = urllib.request.Request(url, data=body, method="POST", headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def code_of(text):
    i = text.find("<Code>")
    return text[i + 6:text.find("</Code>")] if i >= 0 else ""


def main():
    endpoint, cred_file = sys.argv[1], sys.argv[2]
    creds = ec2_double.load_credentials(cred_file)
    v = {"Version": "2016-11-15"}
    failures = 0
    status, text = send(endpoint, dict(v, Action="DescribeRegions"), creds)
    if status != 200 or "<regionInfo>" not in text:
        print("not ok - a right DescribeRegions was refused: %d %s" % (status, text[:300]))
        failures += 1
    else:
        print("ok - a right request is answered")
    wrong = [
        ("misspelt parameter", dict(v, Action="DescribeInstances", MaxResult="10"), creds,
         {}, "UnknownParameter"),
        ("string for an integer", dict(v, Action="DescribeInstances", MaxResults="ten"), creds,
         {}, "InvalidParameterValue"),
        ("missing required parameter", dict(v, Action="RunInstances", ImageId="ami-1",
                                            MaxCount="1"), creds, {}, "InvalidParameterValue"),
        ("unknown action", dict(v, Action="DescribeEverything"), creds, {}, "InvalidAction"),
        ("list not numbered from 1", dict(v, Action="DescribeVpcs", **{"VpcId.2": "vpc-1"}),
         creds, {}, "UnknownParameter"),
        ("lower-case member name", dict(v, Action="DescribeInstances", maxResults="10"), creds,
         {}, "UnknownParameter"),
        ("bad signature", dict(v, Action="DescribeRegions"),
         dict(creds, secret_key="x" * 40), {}, "AuthFailure"),
        ("no session token", dict(v, Action="DescribeRegions"), creds, {"token": False},
         "AuthFailure"),
        ("unsigned", dict(v, Action="DescribeRegions"), creds, {"sign": False}, "AuthFailure"),
    ]
    for what, params, c, kw, want in wrong:
        status, text = send(endpoint, params, c, **kw)
        got = code_of(text)
        if status < 400 or got != want:
            print("not ok - %s: got %d %s, want %s" % (what, status, got or text[:200], want))
            failures += 1
        else:
            print("ok - %s: %d %s" % (what, status, got))
    with urllib.request.urlopen(endpoint + "/_double/stats", timeout=10) as r:
        stats = json.loads(r.read())
    if stats["violations"] != len(wrong):
        print("not ok - the double counted %d violations, want %d" % (stats["violations"],
                                                                     len(wrong)))
        failures += 1
    print("%d failed" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
