#!/usr/bin/env bash
# k8s_runtime.sh - the "kubernetes" MC-App runtime's integration test
# (ctest k8s_runtime): test_k8s against the Kubernetes API double
# (tests/k8s_double.js), or against a real cluster when
# BARISTA_K8S_TESTS=/path/to/kubeconfig is set (docs/kubernetes.md).
#
#   k8s_runtime.sh TEST_K8S BUILD_DIR SOURCE_DIR [BARISTA]
#
# For the double it installs kubernetes-models with npm into
# BUILD_DIR/k8s-node (once), makes a CA, a server certificate for 127.0.0.1
# and a client certificate with openssl, starts the double, writes
# kubeconfigs for a token, client certificates, an exec plugin and a wrong
# token, and runs `test_k8s double DIR`.  Everything it starts or writes is
# removed on exit, whatever happens; the whole run is bounded by timeouts.
set -euo pipefail

test_bin=$1 build=$2 src=$3

if [ -n "${BARISTA_K8S_TESTS:-}" ]; then
  echo "k8s_runtime: against the real cluster of $BARISTA_K8S_TESTS"
  exec timeout 600 "$test_bin" real "$BARISTA_K8S_TESTS"
fi

for tool in node npm openssl; do
  command -v "$tool" >/dev/null ||
    { echo "k8s_runtime: $tool is missing (./dev deps installs it)" >&2; exit 1; }
done

models=$build/k8s-node
if [ ! -e "$models/node_modules/kubernetes-models/package.json" ]; then
  echo "k8s_runtime: npm install kubernetes-models into $models"
  mkdir -p "$models"
  timeout 300 npm install --prefix "$models" --no-audit --no-fund --loglevel=error \
    kubernetes-models >/dev/null ||
    { echo "k8s_runtime: npm install kubernetes-models failed" >&2; exit 1; }
fi

dir=$(mktemp -d /tmp/barista-k8s.XXXXXX)
double_pid=
cleanup() {
  if [ -n "$double_pid" ]; then
    kill "$double_pid" 2>/dev/null || true
    wait "$double_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

# a CA, the server's certificate (for 127.0.0.1) and a client's, both signed by it
ossl() { openssl "$@" 2>/dev/null; }
ossl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=barista-test-ca \
  -keyout "$dir/ca.key" -out "$dir/ca.crt"
ossl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$dir/server.key" \
  -out "$dir/server.csr"
printf 'subjectAltName=IP:127.0.0.1\n' > "$dir/server.ext"
ossl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
  -CAcreateserial -days 1 -extfile "$dir/server.ext" -out "$dir/server.crt"
ossl req -newkey rsa:2048 -nodes -subj "/CN=barista/O=system:masters" \
  -keyout "$dir/client.key" -out "$dir/client.csr"
ossl x509 -req -in "$dir/client.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
  -CAcreateserial -days 1 -out "$dir/client.crt"

token=$(openssl rand -hex 24)
exec_token=$(openssl rand -hex 24)
node "$src/tests/k8s_double.js" --models "$models" --cert "$dir/server.crt" \
  --key "$dir/server.key" --client-ca "$dir/ca.crt" --token "$token" \
  --token "$exec_token" --port-file "$dir/port" --rollout-ms 500 \
  --progress-deadline-ms 1500 &
double_pid=$!
for _ in $(seq 100); do
  [ -s "$dir/port" ] && break
  kill -0 "$double_pid" 2>/dev/null || { wait "$double_pid" || exit $?; }
  sleep 0.1
done
[ -s "$dir/port" ] || { echo "k8s_runtime: the double did not start" >&2; exit 1; }
server="https://127.0.0.1:$(cat "$dir/port")"

b64() { base64 -w0 < "$1"; }
kubeconfig() { # kubeconfig FILE CLUSTER-LINES USER-LINES
  cat > "$1" <<EOF
apiVersion: v1
kind: Config
current-context: test
clusters:
- name: double
  cluster:
    server: $server
$2
contexts:
- name: other
  context: {cluster: double, user: u, namespace: kube-system}
- name: test
  context:
    cluster: double
    user: u
    namespace: default
users:
- name: u
  user:
$3
EOF
}
# the CA by path (relative to the kubeconfig), the token inline
kubeconfig "$dir/token.kubeconfig" "    certificate-authority: ca.crt" "    token: $token"
kubeconfig "$dir/wrong.kubeconfig" "    certificate-authority: ca.crt" \
  "    token: wrong-$token"
# the token from a file (relative path), read at each request
printf '%s\n' "$token" > "$dir/token-file"
kubeconfig "$dir/tokenfile.kubeconfig" "    certificate-authority: ca.crt" \
  "    tokenFile: token-file"
# no CA: verification must fail; told to skip it, it works
kubeconfig "$dir/noca.kubeconfig" "" "    token: $token"
kubeconfig "$dir/insecure.kubeconfig" "    insecure-skip-tls-verify: true" \
  "    token: $token"
# everything inline
kubeconfig "$dir/cert.kubeconfig" "    certificate-authority-data: $(b64 "$dir/ca.crt")" \
  "    client-certificate-data: $(b64 "$dir/client.crt")
    client-key-data: $(b64 "$dir/client.key")"
# an exec plugin that counts its runs and hands out a token valid for an hour
cat > "$dir/exec-plugin" <<EOF
#!/bin/sh
echo run >> "$dir/exec-runs"
case "\$KUBERNETES_EXEC_INFO" in *ExecCredential*) ;; *) exit 3 ;; esac
[ "\$BARISTA_TEST_ENV" = from-kubeconfig ] || exit 4
exp=\$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}\n' "$exec_token" "\$exp"
EOF
chmod +x "$dir/exec-plugin"
kubeconfig "$dir/exec.kubeconfig" "    certificate-authority: $dir/ca.crt" \
  "    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./exec-plugin
      args: [get-token]
      env:
      - {name: BARISTA_TEST_ENV, value: from-kubeconfig}
      interactiveMode: Never"
# the same plugin, but its token is already expired: run for every request
sed "s/+1 hour/-1 hour/" "$dir/exec-plugin" > "$dir/expired-plugin"
chmod +x "$dir/expired-plugin"
sed "s|./exec-plugin|./expired-plugin|" "$dir/exec.kubeconfig" > "$dir/expired.kubeconfig"

timeout 300 "$test_bin" double "$dir"

barista=${4:-}
[ -n "$barista" ] || exit 0

# ---- the same double through barista apply/plan/destroy ----
api() { # api PATH: GET with the token, the JSON answer on stdout
  curl -sS --max-time 10 --cacert "$dir/ca.crt" -H "Authorization: Bearer $token" "$server$1"
}
field() { # field PYTHON-EXPR: of the JSON on stdin (d), printed
  python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}
fail() { echo "k8s_runtime: barista: $*" >&2; exit 1; }
spec=$dir/spec
mkdir -p "$spec"
# test_k8s sent invalid requests on purpose; barista must send none
violations_before=$(curl -sS --max-time 10 --cacert "$dir/ca.crt" "$server/_test/violations" |
  field 'len(d)')
ns=default
deps=/apis/apps/v1/namespaces/$ns/deployments
write_app() { # write_app IMAGE [SECOND-APP]
  cat > "$spec/app.yaml" <<EOF
apiVersion: barista.dev/v1
kind: MCApp
metadata: {name: shop}
spec:
  runtime: kubernetes
  kubernetes: {kubeconfig: $dir/token.kubeconfig, namespace: $ns}
  rollout: {maxUnavailable: 1, healthTimeout: 30s}
  apps:
    - name: web
      image: $1
      ports: [{port: 80}]
      env: {MODE: prod}
      resources: {cpu: 0.5, memoryMiB: 128}
      health: {http: {port: 80, path: /}}
      replicas: 2
EOF
  if [ -n "${2:-}" ]; then
    echo "    - {name: $2, image: registry.example/api:1, after: [web]}" >> "$spec/app.yaml"
  fi
}
b() { timeout 120 "$barista" "$@" -no-color -state "$dir/state.db" "$spec" 2>&1; }
image_of() { api "$deps/$1" | field 'd["spec"]["template"]["spec"]["containers"][0]["image"]'; }

write_app registry.example/nginx:1 api
out=$(b apply -auto-approve) || fail "apply: $out"
grep -q "2 added" <<<"$out" || fail "apply did not add the MCApp and its k8sapp: $out"
[ "$(image_of web)" = registry.example/nginx:1 ] || fail "deployment web has not the image"
[ "$(api "$deps/web" | field 'd["spec"]["replicas"]')" = 2 ] || fail "web has not 2 replicas"
[ "$(image_of api)" = registry.example/api:1 ] || fail "deployment api missing"
out=$(b plan -detailed-exitcode) || fail "a plan right after apply wants changes: $out"
# app status reads the rollout from the cluster; logs point at kubectl
out=$(timeout 60 "$barista" app status shop -state "$dir/state.db" -json) ||
  fail "app status: $out"
[ "$(field 'd["status"]["available"]' <<<"$(grep '"app":"web"' <<<"$out")")" = 2 ] ||
  fail "app status does not show web's 2 available replicas: $out"
if out=$(timeout 60 "$barista" app logs shop -state "$dir/state.db" 2>&1) ||
   ! grep -q "kubectl logs -l barista.io/mcapp=default.shop" <<<"$out"; then
  fail "app logs of a Kubernetes MCApp: $out"
fi

# another actor scales web: the plan shows it and apply puts it back
curl -sS --max-time 10 --cacert "$dir/ca.crt" -X POST \
  "$server/_test/scale?namespace=$ns&name=web&replicas=5" >/dev/null
rc=0; out=$(b plan -detailed-exitcode) || rc=$?
if [ "$rc" != 2 ] || ! grep -q "changed on the cluster" <<<"$out"; then
  fail "the plan did not show the drift (exit $rc): $out"
fi
out=$(b apply -auto-approve) || fail "apply repairing the drift: $out"
[ "$(api "$deps/web" | field 'd["spec"]["replicas"]')" = 2 ] || fail "drift not repaired"

# a new image and one app fewer: rolled out, the other pruned
write_app registry.example/nginx:2
out=$(b apply -auto-approve) || fail "apply of nginx:2: $out"
[ "$(image_of web)" = registry.example/nginx:2 ] || fail "web was not rolled out to nginx:2"
[ "$(api "$deps/api" | field 'd.get("code", 200)')" = 404 ] || fail "api was not pruned"

# an image that never pulls fails the apply with the API's own reason
write_app registry.example/does-not-exist:1
out=$(b apply -auto-approve) && fail "apply of an image that cannot be pulled succeeded"
grep -q "ErrImagePull\|ProgressDeadlineExceeded" <<<"$out" || fail "no reason given: $out"
write_app registry.example/nginx:2
out=$(b apply -auto-approve) || fail "apply back to nginx:2: $out"

out=$(b destroy -auto-approve) || fail "destroy: $out"
[ "$(api "$deps?labelSelector=barista.io/mcapp=default.shop" | field 'len(d["items"])')" = 0 ] ||
  fail "objects left after destroy"
! grep -rqa "$token" "$dir/state.db" "$spec" || fail "the token is in the state"
violations=$(curl -sS --max-time 10 --cacert "$dir/ca.crt" "$server/_test/violations")
[ "$(field 'len(d)' <<<"$violations")" = "$violations_before" ] ||
  fail "barista sent invalid requests: $(field "d[$violations_before:]" <<<"$violations")"
echo "k8s_runtime: barista apply/plan/destroy against the double passed"

# a cluster bootstrapped on local VMs (root: network namespaces)
if [ "$(id -u)" = 0 ]; then
  # shellcheck source=/dev/null # checked on its own (k8s_bootstrap_shellcheck)
  . "$src/tests/k8s_bootstrap_local.sh"
else
  echo "k8s_runtime: not root: the bootstrap on local VMs is not checked" >&2
fi
