#!/bin/bash
# Builds a minimal busybox root filesystem for ocirun's tests and benchmarks:
#
#   bash testdata/rootfs/make-rootfs.sh DEST
#
# DEST/ gets bin/busybox (Debian's busybox-static, `apt-get install
# busybox-static`), one symlink per applet in bin/, and the few files and
# directories a container expects (/etc/passwd, /etc/group, /proc, /sys, /dev,
# /tmp).  Idempotent; exits 77 when busybox-static is missing so callers can
# skip with a reason.
set -euo pipefail

dest=${1:?usage: make-rootfs.sh DEST}
busybox=${OCIRUN_BUSYBOX:-/bin/busybox}

if ! [ -x "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
    echo "make-rootfs.sh: $busybox is not a static busybox (apt-get install busybox-static)" >&2
    exit 77
fi

mkdir -p "$dest"/{bin,sbin,etc,proc,sys,dev,tmp,root,home,var,run,usr/bin,usr/sbin}
chmod 1777 "$dest/tmp"
install -m 0755 "$busybox" "$dest/bin/busybox"
for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] && continue
    ln -sfn busybox "$dest/bin/$applet"
done
# `runc spec` runs "sh"; the symlinks above are all the PATH needs.
cat >"$dest/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$dest/etc/group" <<'GROUP'
root:x:0:
daemon:x:1:
tty:x:5:
nogroup:x:65534:
GROUP
: >"$dest/etc/hostname"
: >"$dest/etc/hosts"
: >"$dest/etc/resolv.conf"
exit 0
