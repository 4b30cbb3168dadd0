#!/bin/bash
# ctr_runc.sh DRIVER - runtime/agent (ctr.h) against real runc, as root.
# Builds an OCI image by hand from Debian's busybox-static (a gzip'd layer
# with /bin/busybox and its applet links, a plain layer on top), unpacks it
# with tests/ctr_driver, and runs busybox httpd under runc in a fresh network
# namespace.  Checks: it answers on 8080 in that namespace only, the app's
# env var and user reached it, the memory and cpu limits are in its cgroups,
# writes land in upper/ and not in the image rootfs, SIGTERM to runc stops
# it, cleanup leaves no mount, runc state or cgroup; cleanup_all removes a
# container whose runc was SIGKILLed; the copy fallback (no overlay) works.
# Everything it makes is removed by the EXIT trap, also on failure.
set -euo pipefail

DRIVER=${1:?usage: ctr_runc.sh CTR_DRIVER}
fail() { echo "ctr_runc: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (runc, overlay mounts, network namespaces)"
RUNC=$(command -v runc || ls /usr/sbin/runc /usr/bin/runc 2>/dev/null | head -1) ||
  fail "runc is not installed (./dev installs it: APP_PACKAGES)"
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || fail "no $BUSYBOX (./dev installs busybox-static: APP_PACKAGES)"
if ldd "$BUSYBOX" >/dev/null 2>&1; then
  fail "$BUSYBOX is dynamically linked: the image needs Debian's busybox-static"
fi
command -v ip >/dev/null || fail "ip (iproute2) is not installed"
# (busybox 1.35 wget -T crashes: timeout(1) bounds it instead)
# nsenter, not `ip netns exec`: that one remounts /sys in a new mount
# namespace, which hides the cgroup mounts runc needs
command -v nsenter >/dev/null || fail "nsenter (util-linux) is not installed"

T=$(mktemp -d /tmp/ctr_runc.XXXXXX)
NS=barctr$$
PREFIX=barctr$$-
CG=/barista-ctr-test-$$
RROOT=$T/runc
APPS=$T/apps
PIDS=()
cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for id in $("$RUNC" --root "$RROOT" list -q 2>/dev/null); do
    "$RUNC" --root "$RROOT" delete -f "$id" >/dev/null 2>&1
  done
  grep -o " $T[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
  ip netns del "$NS" 2>/dev/null
  for c in /sys/fs/cgroup/*/; do
    [ -d "$c${CG#/}" ] && find "$c${CG#/}" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  rm -rf "$T"
}
trap cleanup EXIT
trap "exit 143" TERM INT  # timeout(1) kills with TERM: clean up then too

# --- the image: layer 1 (gzip) busybox + links + passwd, layer 2 (plain) a page ---
IMG=$T/img1
mkdir -p "$IMG/bin" "$IMG/etc" "$IMG/www" "$IMG/tmp"
cp "$BUSYBOX" "$IMG/bin/busybox"
for a in sh httpd cat echo sleep wget id ls; do ln -s busybox "$IMG/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/www:/bin/sh\n' > "$IMG/etc/passwd"
printf 'root:x:0:\napp:x:1000:\n' > "$IMG/etc/group"
echo "old page" > "$IMG/www/index.html"
echo "whited out" > "$IMG/www/gone.html"
chown 1000:1000 "$IMG/www"
chmod 1777 "$IMG/tmp"
IMG2=$T/img2
mkdir -p "$IMG2/www"
echo "hello from the image" > "$IMG2/www/index.html"
: > "$IMG2/www/.wh.gone.html"
chown 1000:1000 "$IMG2/www"
mkdir -p "$T/blobs/sha256"
tar -C "$IMG" --numeric-owner -cf - . | gzip -n > "$T/l1"
tar -C "$IMG2" --numeric-owner -cf "$T/l2" .
L1=$(sha256sum "$T/l1" | cut -d' ' -f1); mv "$T/l1" "$T/blobs/sha256/$L1"
L2=$(sha256sum "$T/l2" | cut -d' ' -f1); mv "$T/l2" "$T/blobs/sha256/$L2"
printf '{"schemaVersion":2,"layers":["%s","%s"]}' "$L1" "$L2" > "$T/manifest"
M=$(sha256sum "$T/manifest" | cut -d' ' -f1); mv "$T/manifest" "$T/blobs/sha256/$M"

ROOTFS=$("$DRIVER" unpack "$T/blobs" "$T/cache" "sha256:$M" "sha256:$L1+gz" "sha256:$L2")
[ "$ROOTFS" = "$T/cache/$M/rootfs" ] || fail "unpack said $ROOTFS"
[ -x "$ROOTFS/bin/busybox" ] && [ -L "$ROOTFS/bin/httpd" ] || fail "busybox not unpacked"
grep -q "hello from the image" "$ROOTFS/www/index.html" || fail "layer 2 not on top"
[ ! -e "$ROOTFS/www/gone.html" ] || fail "whiteout not applied"
[ "$(stat -c %u "$ROOTFS/www")" = 1000 ] || fail "owner of /www not kept"

# --- what prepare refuses, with the reason ---
bad() { # bad WANT OPTS... : prepare fails and says WANT
  local err
  if err=$("$DRIVER" prepare "${@:2}" -- /bin/true 2>&1); then fail "prepare accepted ${*:2}"; fi
  [[ "$err" == *"$1"* ]] || fail "prepare ${*:2}: '$err' does not say '$1'"
}
bad "not in the image's /etc/passwd" id=${PREFIX}bad root="$RROOT" dir="$APPS/${PREFIX}bad" \
  rootfs="$ROOTFS" user=nobody
bad "not an absolute path" id=${PREFIX}bad root="$RROOT" dir="$APPS/${PREFIX}bad" \
  rootfs="$ROOTFS" vol="$T:data"
bad "only [A-Za-z0-9_.-]" id="bad/id" root="$RROOT" dir="$APPS/${PREFIX}bad" rootfs="$ROOTFS"

# --- prepare and run the web container ---
ID=${PREFIX}web
DIR=$APPS/$ID
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
OPTS=(id="$ID" root="$RROOT" dir="$DIR" rootfs="$ROOTFS" user=app cgroup="$CG"
      mem=67108864 cpus=0.5 env=PATH=/bin env=GREETING=hello-barista-env vol="$T/vol:/data")
mkdir -p "$T/vol" && chown 1000:1000 "$T/vol"
# pid 1 of the container must handle SIGTERM itself: the shell traps it
HOW=$("$DRIVER" prepare "${OPTS[@]}" -- /bin/sh -c \
  'echo "$GREETING $(id -u):$(id -g)" > /www/env.txt; echo vol-ok > /data/out.txt; httpd -f -p 8080 -h /www & p=$!; trap "kill \$p; exit 0" TERM; wait')
[ "$HOW" = overlay ] || fail "prepare: $HOW, expected overlay"
grep -q " $DIR/merged overlay " /proc/mounts || fail "no overlay on $DIR/merged"
python3 - "$DIR/config.json" <<'EOF' || fail "config.json"
import json, sys
c = json.load(open(sys.argv[1]))
ns = [n["type"] for n in c["linux"]["namespaces"]]
assert sorted(ns) == ["ipc", "mount", "pid", "uts"], ns
assert c["process"]["user"] == {"uid": 1000, "gid": 1000}, c["process"]["user"]
assert c["process"]["noNewPrivileges"] is True
assert len(c["process"]["capabilities"]["bounding"]) == 14
assert "CAP_SYS_ADMIN" not in c["process"]["capabilities"]["bounding"]
import resource
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
eff = int([l for l in open("/proc/self/status") if l.startswith("CapEff:")][0].split()[1], 16)
want = 1048576 if hard >= 1048576 or eff >> 24 & 1 else hard  # no CAP_SYS_RESOURCE: ours
assert c["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": want, "soft": want}], c["process"]["rlimits"]
assert c["linux"]["resources"]["memory"]["limit"] == 67108864
assert c["linux"]["resources"]["cpu"] == {"quota": 50000, "period": 100000}
assert "/proc/kcore" in c["linux"]["maskedPaths"]
dst = [m["destination"] for m in c["mounts"]]
for d in ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/etc/resolv.conf", "/etc/hosts"]:
    assert d in dst, d
EOF

nsenter --net="/run/netns/$NS" "$DRIVER" run "${OPTS[@]}" > "$T/web.out" 2> "$T/web.err" &
RUNC_PID=$!
PIDS+=("$RUNC_PID")
ok=
for _ in $(seq 100); do
  if out=$(nsenter --net="/run/netns/$NS" timeout 2 "$BUSYBOX" wget -q -O - http://127.0.0.1:8080/env.txt 2>/dev/null); then
    ok=1; break
  fi
  kill -0 "$RUNC_PID" 2>/dev/null || fail "runc exited early: $(cat "$T/web.err")"
  sleep 0.2
done
[ -n "$ok" ] || fail "httpd did not answer on 8080 in netns $NS: $(cat "$T/web.err")"
[ "$out" = "hello-barista-env 1000:1000" ] || fail "env/user inside: '$out'"
page=$(nsenter --net="/run/netns/$NS" timeout 3 "$BUSYBOX" wget -q -O - http://127.0.0.1:8080/index.html)
[ "$page" = "hello from the image" ] || fail "page: $page"
# the VM's namespace (here: the test's own) does not see it: ports are the netns's
if timeout 2 "$BUSYBOX" wget -q -O - http://127.0.0.1:8080/env.txt >/dev/null 2>&1; then
  echo "ctr_runc: note: something else answers on 8080 outside $NS" >&2
fi
[ "$(cat "$T/vol/out.txt")" = vol-ok ] || fail "the volume did not reach the host dir"
# writes land in upper/, not in the image
[ -f "$DIR/upper/www/env.txt" ] || fail "env.txt not in upper/"
[ ! -e "$ROOTFS/www/env.txt" ] || fail "the container wrote into the image rootfs"

# limits in the container's cgroups
CPID=$("$RUNC" --root "$RROOT" state "$ID" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  P=$(sed -n 's/^0:://p' "/proc/$CPID/cgroup")
  CGDIRS=("/sys/fs/cgroup$P")
  [ "$(cat "/sys/fs/cgroup$P/memory.max")" = 67108864 ] || fail "memory.max"
  [ "$(cat "/sys/fs/cgroup$P/cpu.max")" = "50000 100000" ] || fail "cpu.max"
else
  PM=$(grep -E '^[0-9]+:memory:' "/proc/$CPID/cgroup" | cut -d: -f3)
  PC=$(grep -E '^[0-9]+:cpu,cpuacct:|^[0-9]+:cpu:' "/proc/$CPID/cgroup" | head -1 | cut -d: -f3)
  [[ "$PM" == "$CG/$ID" ]] || fail "memory cgroup is $PM, not $CG/$ID"
  CGDIRS=("/sys/fs/cgroup/memory$PM" "/sys/fs/cgroup/cpu$PC")
  [ "$(cat "/sys/fs/cgroup/memory$PM/memory.limit_in_bytes")" = 67108864 ] ||
    fail "memory.limit_in_bytes is $(cat "/sys/fs/cgroup/memory$PM/memory.limit_in_bytes")"
  [ "$(cat "/sys/fs/cgroup/cpu$PC/cpu.cfs_quota_us")" = 50000 ] || fail "cpu.cfs_quota_us"
fi

# SIGTERM to runc reaches the container, which stops; runc exits
kill -TERM "$RUNC_PID"
for _ in $(seq 50); do kill -0 "$RUNC_PID" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$RUNC_PID" 2>/dev/null; then fail "runc still runs 10 s after SIGTERM"; fi
wait "$RUNC_PID" || true
kill -0 "$CPID" 2>/dev/null && fail "container process $CPID still runs"
"$DRIVER" cleanup "$RROOT" "$ID" "$DIR" 0
grep -q " $DIR/merged " /proc/mounts && fail "merged still mounted after cleanup"
[ ! -e "$RROOT/$ID" ] || fail "runc state left for $ID"
for d in "${CGDIRS[@]}"; do [ ! -d "$d" ] || fail "cgroup $d left"; done
[ -f "$DIR/upper/www/env.txt" ] || fail "cleanup without remove_data dropped upper/"
"$DRIVER" cleanup "$RROOT" "$ID" "$DIR" 0 || fail "second cleanup (idempotent)"
"$DRIVER" cleanup "$RROOT" "$ID" "$DIR" 1
[ ! -e "$DIR" ] || fail "remove_data left $DIR"

# --- a leftover: runc SIGKILLed, the container still running ---
ID2=${PREFIX}left
DIR2=$APPS/$ID2
OPTS2=(id="$ID2" root="$RROOT" dir="$DIR2" rootfs="$ROOTFS" cgroup="$CG" mem=33554432
       env=PATH=/bin)
"$DRIVER" prepare "${OPTS2[@]}" -- /bin/sleep 1000 >/dev/null
nsenter --net="/run/netns/$NS" "$DRIVER" run "${OPTS2[@]}" > /dev/null 2> "$T/left.err" &
RUNC2=$!
PIDS+=("$RUNC2")
for _ in $(seq 50); do
  "$RUNC" --root "$RROOT" state "$ID2" 2>/dev/null | grep -q '"status": "running"' && break
  sleep 0.2
done
CPID2=$("$RUNC" --root "$RROOT" state "$ID2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])') ||
  fail "the leftover container did not start: $(cat "$T/left.err")"
PM2=$(grep -E '^[0-9]+:memory:|^0::' "/proc/$CPID2/cgroup" | head -1 | cut -d: -f3)
kill -KILL "$RUNC2"; wait "$RUNC2" 2>/dev/null || true
kill -0 "$CPID2" 2>/dev/null || fail "container died with its runc (nothing left to clean up)"
N=$("$DRIVER" cleanup-all "$RROOT" "$PREFIX" "$APPS")
[ "$N" = 1 ] || fail "cleanup_all removed $N containers, expected 1"
for _ in $(seq 25); do kill -0 "$CPID2" 2>/dev/null || break; sleep 0.2; done
kill -0 "$CPID2" 2>/dev/null && fail "leftover container process still runs"
[ ! -e "$RROOT/$ID2" ] || fail "runc state left for $ID2"
grep -q " $T/" /proc/mounts && fail "mounts left: $(grep " $T/" /proc/mounts)"
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  [ ! -d "/sys/fs/cgroup$PM2" ] || fail "cgroup $PM2 left"
else
  [ ! -d "/sys/fs/cgroup/memory$PM2" ] || fail "cgroup memory$PM2 left"
fi
[ "$("$DRIVER" cleanup-all "$RROOT" "$PREFIX" "$APPS")" = 0 ] || fail "cleanup_all not idempotent"

# --- no overlay: merged is a copy, and the container still runs ---
ID3=${PREFIX}copy
DIR3=$APPS/$ID3
HOW=$(BARISTA_CTR_NO_OVERLAY=1 "$DRIVER" prepare id="$ID3" root="$RROOT" dir="$DIR3" \
  rootfs="$ROOTFS" cgroup="$CG" env=PATH=/bin -- /bin/sh -c 'echo copied-ok > /www/c.txt; cat /www/index.html')
[ "$HOW" = copied ] || fail "prepare without overlay: $HOW"
out=$(timeout 30 "$DRIVER" run id="$ID3" root="$RROOT" dir="$DIR3" 2>&1) || fail "copy run: $out"
[ "$out" = "hello from the image" ] || fail "copy run printed: $out"
[ -f "$DIR3/merged/www/c.txt" ] && [ ! -e "$ROOTFS/www/c.txt" ] || fail "copy: write went to the image"
"$DRIVER" cleanup "$RROOT" "$ID3" "$DIR3" 1
[ ! -e "$DIR3" ] || fail "remove_data left $DIR3"

# --- stopping a running container by cleanup (the supervisor's stop path);
#     no PATH in its env: the default one finds "sleep" ---
ID4=${PREFIX}stop
DIR4=$APPS/$ID4
OPTS4=(id="$ID4" root="$RROOT" dir="$DIR4" rootfs="$ROOTFS" cgroup="$CG")
"$DRIVER" prepare "${OPTS4[@]}" -- sleep 1000 >/dev/null
grep -q '"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"' "$DIR4/config.json" ||
  fail "no default PATH in config.json"
"$DRIVER" run "${OPTS4[@]}" > /dev/null 2> "$T/stop.err" &
RUNC4=$!
PIDS+=("$RUNC4")
for _ in $(seq 50); do
  "$RUNC" --root "$RROOT" state "$ID4" 2>/dev/null | grep -q '"status": "running"' && break
  sleep 0.2
done
"$RUNC" --root "$RROOT" state "$ID4" 2>/dev/null | grep -q '"status": "running"' ||
  fail "$ID4 did not start: $(cat "$T/stop.err")"
"$DRIVER" cleanup "$RROOT" "$ID4" "$DIR4" 1
for _ in $(seq 50); do kill -0 "$RUNC4" 2>/dev/null || break; sleep 0.2; done
kill -0 "$RUNC4" 2>/dev/null && fail "runc run still runs after cleanup"
wait "$RUNC4" 2>/dev/null || true
[ ! -e "$RROOT/$ID4" ] && [ ! -e "$DIR4" ] || fail "cleanup of a running container left state or dir"
grep -q " $T/" /proc/mounts && fail "mounts left: $(grep " $T/" /proc/mounts)"

# --- gc keeps what is named ---
[ "$("$DRIVER" gc "$T/cache" "sha256:$M")" = 0 ] || fail "gc removed a kept rootfs"
[ "$("$DRIVER" gc "$T/cache")" = 1 ] || fail "gc did not remove the unkept rootfs"
echo "ctr_runc: ok"
