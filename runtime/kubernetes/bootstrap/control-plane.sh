#!/bin/sh
# control-plane.sh - kubeadm init on the VM Barista picked for the control
# plane (bar_k8s_pick_control_plane), then the CNI from a manifest the host
# copied here, and the join parameters for the workers on stdout as
#   BARISTA_JOIN <address:port> <token> sha256:<CA public key hash>
# and the cluster's admin kubeconfig (for the host's key store) as
#   BARISTA_KUBECONFIG <base64 of /etc/kubernetes/admin.conf>
# Run as root after containerd.sh.
#   ADVERTISE_ADDRESS  the VM's overlay or private address (required)
#   POD_CIDR           the pods' network, e.g. 10.244.0.0/16 (required)
#   CNI_MANIFEST       path of the CNI manifest (flannel or similar, required)
#   CNI_IFACE          the overlay interface flannel should use (optional)
#   NODE_GROUP         the VM group, set as node label barista.io/group
#   API_SANS           extra names/addresses for the API server's certificate
#                      (the VM's public address, so the host can reach it)
set -eu

: "${ADVERTISE_ADDRESS:?ADVERTISE_ADDRESS is required}"
: "${POD_CIDR:?POD_CIDR is required}"
: "${CNI_MANIFEST:?CNI_MANIFEST is required}"
[ -r "$CNI_MANIFEST" ] || { echo "control-plane.sh: cannot read $CNI_MANIFEST" >&2; exit 1; }

# the kubelet registers the node on the overlay address, labelled with its group
extra="--node-ip=$ADVERTISE_ADDRESS"
if [ -n "${NODE_GROUP:-}" ]; then
  extra="$extra --node-labels=barista.io/group=$NODE_GROUP"
fi
echo "KUBELET_EXTRA_ARGS=$extra" > /etc/default/kubelet

if [ ! -e /etc/kubernetes/admin.conf ]; then # a second run does not re-init
  kubeadm init --apiserver-advertise-address="$ADVERTISE_ADDRESS" \
    --pod-network-cidr="$POD_CIDR" --upload-certs \
    ${API_SANS:+--apiserver-cert-extra-sans="$API_SANS"}
fi
export KUBECONFIG=/etc/kubernetes/admin.conf

manifest=$CNI_MANIFEST
if [ -n "${CNI_IFACE:-}" ]; then
  # flannel picks the interface of the default route unless told otherwise
  manifest=$(mktemp)
  trap 'rm -f "$manifest"' EXIT
  sed "s/^\( *\)- --kube-subnet-mgr\$/&\n\1- --iface=$CNI_IFACE/" "$CNI_MANIFEST" > "$manifest"
fi
kubectl apply -f "$manifest"

token=$(kubeadm token create --ttl 2h)
hash=$(openssl x509 -pubkey -in /etc/kubernetes/pki/ca.crt |
  openssl pkey -pubin -outform der 2>/dev/null | sha256sum | cut -d' ' -f1)
echo "BARISTA_JOIN $ADVERTISE_ADDRESS:6443 $token sha256:$hash"
echo "BARISTA_KUBECONFIG $(base64 -w0 /etc/kubernetes/admin.conf)"
