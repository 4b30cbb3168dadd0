#!/usr/bin/env bash
# reqs_local.sh - an MCApp with requirements instead of an MCI, deployed
# onto the MCI the plan derives, on real local VMs (ctest reqs_local, root):
# one plan holds the derived MCI, its MCIR, the agents and the apps; apply
# makes them; every replica's page answers from its VM and `barista app
# status` shows them healthy; a second plan is empty; destroy leaves no
# namespace of the VMs.
#
#   reqs_local.sh BARISTA    (BARISTA_AGENT: the barista-agent to install)
#
# Everything lives in one temporary directory, removed on exit whatever
# happens (after a destroy); every command is bounded by a timeout.
set -euo pipefail
barista=$1
[ "$(id -u)" = 0 ] || { echo "reqs_local: needs root (local VMs)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/barista-reqs-local-XXXXXX)
export BARISTA_LOCAL_ROOT=$tmp/local
state=$tmp/state.db
run() { timeout 180 "$barista" "$@" -no-color -state "$state" "$tmp/spec" 2>&1; }
cleanup() {
  [ -e "$state" ] && run destroy -auto-approve >/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "reqs_local: FAIL: $*" >&2; exit 1; }

mkdir "$tmp/spec"
cat >"$tmp/spec/shop.yaml" <<'YAML'
apiVersion: barista.dev/v1
kind: MCApp
metadata: {name: shop}
spec:
  requirements: {image: host, maxCostPerHour: 0.10}
  apps:
    - name: web
      command: "mkdir -p /tmp/www && hostname > /tmp/www/index.html && exec busybox httpd -f -p 8080 -h /tmp/www"
      ports: [{port: 8080}]
      health: {http: {port: 8080, path: /}, interval: 1s}
      requirements: {vcpu: 1, memoryGiB: 0.25, replicas: 2}
YAML

out=$(run plan) || fail "plan: $out"
for want in "+ default/mci/shop" "+ default/agent/" "+ default/app/shop." "+ default/vnet/"; do
  grep -qF -- "$want" <<<"$out" || fail "the plan has no \"$want\": $out"
done
out=$(run apply -auto-approve) || fail "apply: $out"
show=$(run show -json) || fail "show: $show"
mapfile -t vms < <(python3 -c 'import json,sys
for m in json.load(sys.stdin)["mcis"]:
    for v in m["vms"]: print(v["name"], v["ip"])' <<<"$show")
[ "${#vms[@]}" = 2 ] || fail "the derived MCI has ${#vms[@]} VMs, want 2: $show"
for line in "${vms[@]}"; do
  read -r name ip <<<"$line"
  page=$(curl -s -m 5 "http://$ip:8080/") || fail "$name ($ip): no page"
  [ "$page" = "$name" ] || fail "$name ($ip) served \"$page\""
done
status=$(timeout 60 "$barista" app status shop -state "$state" -json 2>/dev/null) ||
  fail "app status: $status"
[ "$(grep -c '"healthy":true' <<<"$status")" = 2 ] || fail "not both healthy: $status"
rc=0; out=$(run plan -detailed-exitcode) || rc=$?
[ "$rc" = 0 ] || fail "a second plan is not empty (exit $rc): $out"
mapfile -t ids < <(timeout 60 "$barista" state list -json -state "$state" |
  python3 -c 'import json,sys
for r in json.load(sys.stdin):
    if r["type"] == "vm": print(r["system_id"])')
out=$(run destroy -auto-approve) || fail "destroy: $out"
rm -f "$state"
for id in "${ids[@]}"; do
  ! ip netns list | grep -qw "$id" || fail "the namespace of $id is left"
done
echo "reqs_local: the derived MCI of ${#vms[@]} local VMs served both replicas; destroyed"
