#!/bin/sh
# worker.sh - kubeadm join of a worker VM, with the parameters
# control-plane.sh printed (passed by the host).  Run as root after
# containerd.sh.
#   CONTROL_PLANE  address:port of the API server (required)
#   JOIN_TOKEN     the bootstrap token (required)
#   CA_CERT_HASH   sha256:<hex> of the cluster CA's public key (required)
#   NODE_ADDRESS   this VM's overlay or private address (required)
#   NODE_GROUP     the VM group, set as node label barista.io/group
set -eu

: "${CONTROL_PLANE:?CONTROL_PLANE is required}"
: "${JOIN_TOKEN:?JOIN_TOKEN is required}"
: "${CA_CERT_HASH:?CA_CERT_HASH is required}"
: "${NODE_ADDRESS:?NODE_ADDRESS is required}"

extra="--node-ip=$NODE_ADDRESS"
if [ -n "${NODE_GROUP:-}" ]; then
  extra="$extra --node-labels=barista.io/group=$NODE_GROUP"
fi
echo "KUBELET_EXTRA_ARGS=$extra" > /etc/default/kubelet

if [ -e /etc/kubernetes/kubelet.conf ]; then
  echo "worker.sh: already joined" >&2
  exit 0
fi
kubeadm join "$CONTROL_PLANE" --token "$JOIN_TOKEN" \
  --discovery-token-ca-cert-hash "$CA_CERT_HASH"
