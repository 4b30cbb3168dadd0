#!/usr/bin/env bash
# reqs_sim.sh - an MCApp with requirements instead of an MCI, end to end on
# the sim provider (ctest reqs_sim): `barista plan` shows the derived MCI
# "shop", its MCIR and the apps in one plan; the MCI is applied (-target:
# the sim's VMs run no sshd, so barista-agent and the apps cannot be
# installed on them) and `barista show` lists its VMs in the regions chosen
# from the sim catalogue; a second plan of the MCI is empty; destroy leaves
# no VM in the simulated cloud.
#
# It also checks that specs/examples/requirements is valid.
#
#   reqs_sim.sh BARISTA SOURCE_DIR
#
# Everything lives in one temporary directory, removed on exit whatever
# happens; every command is bounded by a timeout.
set -euo pipefail

barista=$1 src=$2
tmp=$(mktemp -d /tmp/barista-reqs-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/spec"
state=$tmp/state.db
fail() { echo "reqs_sim: FAIL: $*" >&2; exit 1; }
run() { timeout 120 "$barista" "$@" -no-color -state "$state" "$tmp/spec" >"$tmp/out" 2>&1; }
want() { grep -qF -- "$1" "$tmp/out" || { cat "$tmp/out" >&2; fail "no \"$1\" in the output of $2"; }; }
unwanted() { ! grep -qF -- "$1" "$tmp/out" || { cat "$tmp/out" >&2; fail "\"$1\" in the output of $2"; }; }
live_vms() {
  awk -F'\t' '$1=="P"&&$2=="vm"{v[$4]=$3} $1=="D"&&$2=="vm"{delete v[$4]}
              END{for(k in v)print v[k]}' "$tmp/sim.log" | sort
}

cat >"$tmp/spec/shop.yaml" <<YAML
apiVersion: barista.dev/v1
kind: Connection
metadata: {name: sim-seoul}
spec:
  driver: sim
  region: ap-northeast-2
  config: {file: "$tmp/sim.log"}
---
apiVersion: barista.dev/v1
kind: MCApp
metadata: {name: shop}
spec:
  requirements: {image: debian-12, maxCostPerHour: 0.5}
  apps:
    - name: web
      image: "nginx:1.25"
      requirements: {vcpu: 2, memoryGiB: 4, replicas: 3,
                     regions: [ap-northeast-2, asia-northeast1]}
    - name: db
      image: "postgres:16"
      requirements: {vcpu: 1, memoryGiB: 1, near: {lat: 37.5, lon: 127},
                     maxLatencyMs: {web: 30}}
YAML

timeout 60 "$barista" validate "$src/specs/examples/requirements" >"$tmp/out" 2>&1 ||
  { cat "$tmp/out" >&2; fail "validate specs/examples/requirements"; }
timeout 60 "$barista" validate "$tmp/spec" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; fail "validate"; }
want "4 VMs" validate

run plan || { cat "$tmp/out" >&2; fail "plan"; }
for a in default/mci/shop default/mcapp/shop \
         default/vm/shop-web-ap-northeast-2-1 default/vm/shop-web-ap-northeast-2-2 \
         default/vm/shop-web-asia-northeast1-1 default/vm/shop-db-koreacentral-1 \
         default/app/shop.shop-web-ap-northeast-2-1 default/app/shop.shop-db-koreacentral-1 \
         default/connection/sim-asia-northeast1 default/spec/sim-seoul-sim-medium \
         default/spec/sim-koreacentral-sim-small default/image/sim-seoul-debian-12; do
  want "+ $a" plan
done
unwanted "+ default/vm/shop-web-ap-northeast-2-3" plan
# 3 x sim.medium (0.04) + 1 x sim.small (0.01), from the sim catalogue
want 'net +$0.1300/h' plan

run apply -auto-approve -target default/mci/shop || { cat "$tmp/out" >&2; fail "apply"; }
want "Apply complete! Resources: 23 added" apply
[ "$(live_vms | tr '\n' ' ')" = "ap-northeast-2 ap-northeast-2 asia-northeast1 koreacentral " ] ||
  fail "the simulated cloud holds VMs in: $(live_vms | tr '\n' ' ')"

run show || { cat "$tmp/out" >&2; fail "show"; }
want "MCI default/shop  Running:4" show
for vm in "shop-web-ap-northeast-2-1   web-ap-northeast-2   sim-seoul" \
          "shop-web-asia-northeast1-1  web-asia-northeast1  sim-asia-northeast1  asia-northeast1" \
          "shop-db-koreacentral-1      db-koreacentral      sim-koreacentral     koreacentral"; do
  want "$vm" show
done

run plan -target default/mci/shop || { cat "$tmp/out" >&2; fail "second plan"; }
want "No changes." "the second plan of the MCI"
run plan || { cat "$tmp/out" >&2; fail "plan of the apps"; }
want "Plan: 9 to add, 0 to change, 0 to destroy." "the plan of the apps"
unwanted "default/vm/" "the plan of the apps"

run destroy -auto-approve || { cat "$tmp/out" >&2; fail "destroy"; }
[ -z "$(live_vms)" ] || fail "VMs left after destroy: $(live_vms | tr '\n' ' ')"
echo "reqs_sim: ok"
