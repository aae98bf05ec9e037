# crun_wrap CMD...: runs CMD so that crun accepts this host's cgroups.
#
# On a hybrid host (v1 controllers, cgroup2 at /sys/fs/cgroup/unified) crun
# refuses to run while any controller is available in cgroup2; hugetlb is,
# unless a v1 hugetlb hierarchy exists.  Mounting one takes hugetlb away from
# cgroup2, so we do it inside a private mount namespace over a tmpfs copy of
# /sys/fs/cgroup: the host's mounts are never touched, and the hierarchy goes
# away with the namespace.  CMD may drop privileges itself (setpriv) and still
# sees that view.  Elsewhere CMD runs unchanged.
crun_wrap() {
    if ! mountpoint -q /sys/fs/cgroup/hugetlb && [ -d /sys/fs/cgroup/cpu ] &&
        ! [ -e /sys/fs/cgroup/cgroup.controllers ] && [ "$(id -u)" = 0 ]; then
        local cg
        cg=$(mktemp -d /tmp/ociimg-cg.XXXXXX)
        unshare -m --propagation private sh -euc '
            cg=$1; shift
            mount --rbind /sys/fs/cgroup "$cg"
            mount -t tmpfs -o mode=755 cgroups /sys/fs/cgroup
            for d in "$cg"/*; do
                n=${d##*/}
                mkdir "/sys/fs/cgroup/$n"
                if mountpoint -q "$d"; then mount --rbind "$d" "/sys/fs/cgroup/$n"; fi
            done
            [ -d /sys/fs/cgroup/hugetlb ] || mkdir /sys/fs/cgroup/hugetlb
            mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
            exec "$@"' sh "$cg" "$@"
        local rc=$?
        rmdir "$cg" 2>/dev/null || true
        return $rc
    fi
    "$@"
}
