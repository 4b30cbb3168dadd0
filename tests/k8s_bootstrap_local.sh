# shellcheck shell=bash
# shellcheck disable=SC2154 # dir, barista, deps, token... are k8s_runtime.sh's
# k8s_bootstrap_local.sh - sourced by k8s_runtime.sh (root only; its dir,
# server, token, barista, b64, api, field and fail are this file's too): a
# cluster bootstrapped by `barista apply` on three real local VMs in two
# groups, then an MCApp deployed to it.  kubeadm cannot run here (no
# Kubernetes packages, and a local VM shares this host's files), so
# BARISTA_K8S_BOOTSTRAP_DIR replaces the three scripts with stand-ins that
# check what Barista hands them (environment, CNI manifest, the join
# parameters the control plane printed), leave a mark in the VM's own /tmp,
# and on the control plane print the join line and the kubeconfig of the
# API double, which the MCApp is then applied to.  Checked: containerd on
# every VM, exactly one control plane, every other VM joined to it with its
# token, the MCApp's Deployment on the cluster through the kubeconfig from
# the key store (never in the state), destroy leaving no VM namespace.

boot=$dir/boot
kspec=$dir/kspec
mkdir -p "$boot" "$kspec"
export BARISTA_K8S_BOOTSTRAP_DIR=$boot BARISTA_LOCAL_ROOT=$dir/local
kubeconfig_b64=$(b64 "$dir/cert.kubeconfig")

cat > "$boot/containerd.sh" <<'EOF'
[ "$K8S_MINOR" = v1.30 ] || { echo "containerd.sh: K8S_MINOR=$K8S_MINOR" >&2; exit 3; }
echo "$K8S_MINOR" > /tmp/barista-k8s/containerd.done
EOF
cat > "$boot/control-plane.sh" <<EOF
[ -n "\$ADVERTISE_ADDRESS" ] && [ "\$POD_CIDR" = 10.77.0.0/16 ] &&
  grep -q barista-test-cni "\$CNI_MANIFEST" && [ -n "\$NODE_GROUP" ] ||
  { echo "control-plane.sh: bad environment" >&2; exit 3; }
echo "\$ADVERTISE_ADDRESS \$NODE_GROUP" > /tmp/barista-k8s/control-plane.done
echo "BARISTA_JOIN \$ADVERTISE_ADDRESS:6443 tok.0123456789abcdef sha256:00ff"
echo "BARISTA_KUBECONFIG $kubeconfig_b64"
EOF
cat > "$boot/worker.sh" <<'EOF'
[ "$JOIN_TOKEN" = tok.0123456789abcdef ] && [ "$CA_CERT_HASH" = sha256:00ff ] &&
  [ -n "$NODE_ADDRESS" ] || { echo "worker.sh: bad environment" >&2; exit 3; }
echo "$CONTROL_PLANE $NODE_ADDRESS" > /tmp/barista-k8s/worker.done
EOF
echo "# barista-test-cni" > "$kspec/cni.yaml"

octet=$((60 + $$ % 40))
cat > "$kspec/all.yaml" <<EOF
apiVersion: barista.dev/v1
kind: Connection
metadata: {name: here}
spec: {driver: local, region: local-1}
---
apiVersion: barista.dev/v1
kind: VNet
metadata: {name: net}
spec: {connection: here, cidr: 10.$octet.0.0/16, subnets: [{name: a, cidr: 10.$octet.1.0/24}]}
---
apiVersion: barista.dev/v1
kind: SecurityGroup
metadata: {name: sg}
spec:
  connection: here
  vnet: net
  ingress: [{protocol: tcp, ports: "22", cidr: 0.0.0.0/0}, {protocol: icmp}]
---
apiVersion: barista.dev/v1
kind: SSHKey
metadata: {name: key}
spec: {connection: here}
---
apiVersion: barista.dev/v1
kind: Image
metadata: {name: os}
spec: {connection: here, imageId: host}
---
apiVersion: barista.dev/v1
kind: Spec
metadata: {name: small}
spec: {connection: here, vcpu: 1, memoryMiB: 256}
---
apiVersion: barista.dev/v1
kind: MCI
metadata: {name: kube}
spec:
  groups:
    - {name: a, connection: here, spec: small, image: os, vnet: net, securityGroups: [sg], sshKey: key, count: 1}
    - {name: b, connection: here, spec: small, image: os, vnet: net, securityGroups: [sg], sshKey: key, count: 2}
---
apiVersion: barista.dev/v1
kind: MCApp
metadata: {name: boot}
spec:
  mci: kube
  runtime: kubernetes
  kubernetes: {bootstrap: {version: v1.30, podCidr: 10.77.0.0/16, cni: cni.yaml}}
  apps:
    - {name: hello, image: registry.example/hello:1}
EOF
kb() { timeout 240 "$barista" "$@" -no-color -state "$dir/kstate.db" 2>&1; }
kdestroy() {
  [ -e "$dir/kstate.db" ] && kb destroy -auto-approve "$kspec" >/dev/null
  true
}
trap 'kdestroy; cleanup' EXIT

out=$(kb apply -auto-approve "$kspec") || fail "bootstrap apply: $out"
grep -q "default/k8scluster/kube: Creation complete" <<<"$out" ||
  fail "no k8scluster resource made: $out"
marks=$(timeout 60 "$barista" exec kube -state "$dir/kstate.db" -- 'cat /tmp/barista-k8s/*.done' |
  sort) || fail "reading the marks: $marks"
[ "$(grep -c ': v1.30$' <<<"$marks")" = 3 ] || fail "containerd.sh did not run on every VM: $marks"
cps=$(grep -c "^[^ ]*: 10\.$octet\.1\.[0-9]* [ab]$" <<<"$marks")
[ "$cps" = 1 ] || fail "not exactly one control plane: $marks"
cp_addr=$(sed -n "s/^[^ ]*: \(10\.$octet\.1\.[0-9]*\) [ab]$/\1/p" <<<"$marks")
[ "$(grep -c ": $cp_addr:6443 10\.$octet\." <<<"$marks")" = 2 ] ||
  fail "the two workers did not join $cp_addr:6443: $marks"
[ "$(image_of hello)" = registry.example/hello:1 ] ||
  fail "the MCApp is not on the bootstrapped cluster"
# the kubeconfig (as printed, and as the file) is in neither the state nor its call log
for f in "$dir"/kstate.db*; do
  [ -f "$f" ] || continue
  ! grep -aqF -e "${kubeconfig_b64:0:60}" -e "$(sed -n 's/.*client-key-data: //p' \
    "$dir/cert.kubeconfig" | cut -c1-60)" "$f" || fail "the kubeconfig is in $f"
done
out=$(kb destroy -auto-approve "$kspec") || fail "destroy of the bootstrapped cluster: $out"
rm -f "$dir/kstate.db"
[ "$(api "$deps/hello" | field 'd.get("code", 200)')" = 404 ] || fail "hello left on the cluster"
echo "k8s_runtime: a cluster bootstrapped on 3 local VMs (control plane $cp_addr), an MCApp on it"
