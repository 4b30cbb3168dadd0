#!/bin/bash
# ctr_umoci.sh DRIVER - bar_ctr_unpack against umoci, an independent OCI
# implementation (Debian's umoci).  umoci builds an image of two layers
# (the second removes a file and a dir and replaces a dir's contents, so it
# carries umoci's own whiteouts), then both unpack it: umoci into a bundle,
# Barista through tests/ctr_driver.  The two trees must be the same entry for
# entry (type, mode, owner, size, link target, content).  Runs as root (the
# trees keep their owners); removes everything in an EXIT trap.
set -euo pipefail

DRIVER=${1:?usage: ctr_umoci.sh CTR_DRIVER}
fail() { echo "ctr_umoci: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (owners in the trees)"
command -v umoci >/dev/null || fail "umoci is not installed (./dev installs it: APP_PACKAGES)"

T=$(mktemp -d /tmp/ctr_umoci.XXXXXX)
trap 'rm -rf "$T"' EXIT
trap 'exit 143' TERM INT
cd "$T"
umoci init --layout img
umoci new --image img:t
umoci unpack --image img:t b >/dev/null
R=b/rootfs
mkdir -p $R/etc $R/d/sub $R/bin $R/opt/keep $R/var/empty
echo a > $R/etc/a
echo x > $R/d/x
echo y > $R/d/sub/y
echo keep > $R/opt/keep/file
cp /bin/busybox $R/bin/busybox
chmod 4755 $R/bin/busybox
ln -s busybox $R/bin/sh
ln $R/bin/busybox $R/bin/ls
ln -s /etc/a $R/abs-link
mkfifo $R/fifo
chown -R 1000:1000 $R/opt
chmod 0700 $R/opt/keep
umoci repack --refresh-bundle --image img:t b
# layer 2: removals (whiteouts), replacements, a file turned into a dir
rm $R/etc/a
rm -rf $R/d/*
echo new > $R/d/new
echo b > $R/etc/b
rm $R/abs-link && mkdir $R/abs-link && echo now-a-dir > $R/abs-link/f
rm -rf $R/var/empty
umoci repack --image img:t b

M=$(python3 -c 'import json; print(json.load(open("img/index.json"))["manifests"][0]["digest"])')
mapfile -t LAYERS < <(python3 - "img/blobs/sha256/${M#sha256:}" <<'EOF'
import json, sys
for l in json.load(open(sys.argv[1]))["layers"]:
    gz = l["mediaType"].endswith("+gzip")
    print(l["digest"] + ("+gz" if gz else ""))
EOF
)
[ "${#LAYERS[@]}" = 2 ] || fail "umoci made ${#LAYERS[@]} layers, expected 2"
OURS=$("$DRIVER" unpack img/blobs cache "$M" "${LAYERS[@]}")
umoci unpack --image img:t theirs >/dev/null

listing() { # every entry: path type mode owner size link target (no dir sizes:
             # those depend on the filesystem's history)
  (cd "$1" && find . -mindepth 1 \( -type d -printf '%P d %#m %U:%G -\n' \) -o \
     \( ! -type d -printf '%P %y %#m %U:%G %s %l\n' \) | sort)
}
listing "$OURS" > ours.txt
listing theirs/rootfs > theirs.txt
diff -u theirs.txt ours.txt >&2 || fail "the trees differ (- umoci, + barista)"
diff -r --no-dereference -x fifo theirs/rootfs "$OURS" >&2 || fail "file contents differ"
[ "$(stat -c %i "$OURS/bin/busybox")" = "$(stat -c %i "$OURS/bin/ls")" ] || fail "hard link lost"
grep -q "etc/b" ours.txt && ! grep -q "^etc/a " ours.txt || fail "whiteout of etc/a"
echo "ctr_umoci: ok ($(wc -l < ours.txt) entries alike)"
