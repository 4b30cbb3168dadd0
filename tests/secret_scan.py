#!/usr/bin/python3
"""secret_scan.py - a full run of barista against a cloud driver's double,
then every output of it searched for the credential's secret values.

    secret_scan.py BARISTA SPEC_TEMPLATE_DIR SECRETS_JSON ENDPOINT

SPEC_TEMPLATE_DIR holds spec files in which @ENDPOINT@ is the double's
base URL and @CREDDIR@ the directory the credential files are copied to;
SECRETS_JSON is {"files": {name: content}, "env": {VAR: value},
"exec": {name: content}} - credential files, environment variables and
credential programs the specs refer to.  Every string value of at least 8
characters in them (and each line of a PEM block) is a secret.

The run: validate, plan -out, apply of the saved plan, show, plan
-detailed-exitcode (0), plan -json, connection test, catalog refresh,
calls, calls -summary -json, mci status, mci suspend and resume, orphans,
destroy.  Then every
stdout and stderr, and every file the run left (state, call log, saved
plan, key store, benchmark results), is searched.  Exit 0 when nothing
leaked and every step did what it should, 1 otherwise.  Runs in a temporary
directory it removes; bounded by a timeout per step.
"""
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile

STEP_TIMEOUT = 240


def secrets_of(doc):
    out = set()

    def walk(v):
        if isinstance(v, str):
            for line in v.splitlines():
                line = line.strip()
                if len(line) >= 8 and not line.startswith("-----"):
                    out.add(line)
            if len(v) >= 8 and "\n" not in v.strip():
                out.add(v)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    for f in doc.get("files", {}).values():
        try:
            walk(json.loads(f))
        except ValueError:
            for line in f.splitlines():
                if "=" in line:
                    walk(line.split("=", 1)[1].strip())
    walk(doc.get("env", {}))
    return sorted(out)


def main():
    if len(sys.argv) != 5:
        sys.stderr.write(__doc__)
        return 2
    barista, template, secrets_file, endpoint = sys.argv[1:]
    doc = json.load(open(secrets_file))
    secrets = secrets_of(doc)
    if not secrets:
        sys.stderr.write("secret_scan: no secrets to look for\n")
        return 1
    failures = []
    with tempfile.TemporaryDirectory(prefix="barista-secrets-") as tmp:
        creddir = os.path.join(tmp, "creds")
        specs = os.path.join(tmp, "specs")
        os.makedirs(creddir)
        os.makedirs(specs)
        for name, content in doc.get("files", {}).items():
            with open(os.path.join(creddir, name), "w") as f:
                f.write(content)
        for name, content in doc.get("exec", {}).items():
            p = os.path.join(creddir, name)
            with open(p, "w") as f:
                f.write(content.replace("@CREDDIR@", creddir))
            os.chmod(p, stat.S_IRWXU)
        for name in os.listdir(template):
            text = open(os.path.join(template, name)).read()
            text = text.replace("@ENDPOINT@", endpoint).replace("@CREDDIR@", creddir)
            with open(os.path.join(specs, name), "w") as f:
                f.write(text)
        env = dict(os.environ, **doc.get("env", {}))
        state = os.path.join(tmp, "state.db")
        plan = os.path.join(tmp, "saved.plan")
        outputs = []

        def step(args, want=(0,), with_state=True):
            cmd = [barista] + args + (["-state", state] if with_state else [])
            r = subprocess.run(cmd + [specs], env=env, capture_output=True, text=True,
                               timeout=STEP_TIMEOUT, stdin=subprocess.DEVNULL)
            outputs.append((" ".join(args), r.stdout + r.stderr))
            if r.returncode not in want:
                failures.append("barista %s exited %d:\n%s%s" % (" ".join(args), r.returncode,
                                                                  r.stdout, r.stderr))
            return r

        step(["validate"], with_state=False)
        step(["plan", "-out", plan])
        r = subprocess.run([barista, "apply", "-auto-approve", plan], env=env,
                           capture_output=True, text=True, timeout=STEP_TIMEOUT,
                           stdin=subprocess.DEVNULL)
        outputs.append(("apply PLAN", r.stdout + r.stderr))
        if r.returncode != 0:
            failures.append("apply of the saved plan exited %d:\n%s%s"
                            % (r.returncode, r.stdout, r.stderr))
        step(["show"])
        step(["plan", "-detailed-exitcode"])
        step(["plan", "-json"])
        mci = None
        for name in sorted(os.listdir(specs)):
            text = open(os.path.join(specs, name)).read()
            if "kind: MCI" in text:
                mci = text.split("kind: MCI", 1)[1].split("name:", 1)[1].split()[0].strip("}")
        conns = [l.split()[0] for l in step(["connection", "list"]).stdout.splitlines()[1:]
                 if l.strip()]
        for c in conns:
            step(["connection", "test", c], want=(0, 1))
        if conns:
            # the cloud's own catalogue, compared with the shipped one
            r = step(["catalog", "refresh", conns[0], "-json"])
            try:
                report = json.loads(r.stdout)
                listed = [report[w].get("count", 0) for w in ("regions", "specs", "images")]
            except (ValueError, KeyError, AttributeError):
                listed = [0]
            if min(listed) == 0:
                failures.append("catalog refresh listed nothing: %s" % r.stdout[:300])
        step(["calls", "-limit", "0"])
        summary = step(["calls", "-summary", "-json"])
        try:
            recorded = sum(c["calls"] for c in json.loads(summary.stdout))
        except (ValueError, KeyError, TypeError):
            recorded = 0
        if recorded == 0:
            failures.append("the call log recorded no call of the run")
        if mci:
            step(["mci", "status", mci])
            step(["mci", "suspend", mci, "-auto-approve"])
            step(["mci", "resume", mci, "-auto-approve"])
        step(["orphans"])
        step(["destroy", "-auto-approve"])
        step(["calls", "-errors", "-json", "-limit", "0"])
        # what the run printed
        for what, text in outputs:
            for s in secrets:
                if s in text:
                    failures.append("the output of `barista %s` contains a secret (%s...)"
                                    % (what, s[:4]))
        # what it left on disk
        for root, dirs, files in os.walk(tmp):
            if root.startswith(creddir):
                continue
            for name in files:
                p = os.path.join(root, name)
                data = open(p, "rb").read()
                for s in secrets:
                    if s.encode() in data:
                        failures.append("%s contains a secret (%s...)"
                                        % (os.path.relpath(p, tmp), s[:4]))
    for f in failures:
        sys.stderr.write("secret_scan: %s\n" % f)
    print("# %d secret values looked for in %d outputs and every file of the run"
          % (len(secrets), len(outputs)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
