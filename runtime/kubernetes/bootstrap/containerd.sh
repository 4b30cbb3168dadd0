#!/bin/sh
# containerd.sh - prepare a Debian/Ubuntu VM to be a Kubernetes node:
# containerd from the distribution (systemd cgroups), the kernel settings
# kubeadm checks, and kubeadm/kubelet/kubectl from the Kubernetes project's
# package repository (pkgs.k8s.io), held at one minor version.
# Run as root by Barista over SSH before control-plane.sh or worker.sh.
#   K8S_MINOR   the Kubernetes minor version, e.g. v1.31 (required)
set -eu

: "${K8S_MINOR:?K8S_MINOR (e.g. v1.31) is required}"
export DEBIAN_FRONTEND=noninteractive

apt-get update -q
apt-get install -y -q containerd curl gpg ca-certificates apt-transport-https

# the bridge netfilter and forwarding kubeadm's preflight checks want
printf 'overlay\nbr_netfilter\n' > /etc/modules-load.d/k8s.conf
modprobe overlay
modprobe br_netfilter
cat > /etc/sysctl.d/99-k8s.conf <<'CONF'
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward = 1
CONF
sysctl --system >/dev/null

# kubelet refuses to run with swap on
swapoff -a
sed -i.barista '/\sswap\s/s/^/#/' /etc/fstab

# the kubelet uses the systemd cgroup driver; containerd must agree
mkdir -p /etc/containerd
containerd config default > /etc/containerd/config.toml
sed -i 's/SystemdCgroup = false/SystemdCgroup = true/' /etc/containerd/config.toml
systemctl restart containerd
systemctl enable containerd

keyring=/etc/apt/keyrings/kubernetes-apt-keyring.gpg
mkdir -p /etc/apt/keyrings
curl -fsSL "https://pkgs.k8s.io/core:/stable:/${K8S_MINOR}/deb/Release.key" |
  gpg --batch --yes --dearmor -o "$keyring"
echo "deb [signed-by=$keyring] https://pkgs.k8s.io/core:/stable:/${K8S_MINOR}/deb/ /" \
  > /etc/apt/sources.list.d/kubernetes.list
apt-get update -q
apt-get install -y -q kubelet kubeadm kubectl
apt-mark hold kubelet kubeadm kubectl
systemctl enable kubelet
