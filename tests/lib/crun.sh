# crun on a hybrid cgroup host (v1 controllers, cgroup2 at /sys/fs/cgroup/unified): crun
# refuses to run while any controller is available in cgroup2; hugetlb is, unless a v1
# hugetlb hierarchy exists.  Mounting one takes hugetlb away from cgroup2, so it is done
# inside a private mount namespace over a tmpfs copy of /sys/fs/cgroup: the host's mounts
# are never touched, and the hierarchy goes away with the namespace.

# crun_cgroup_view [CONTROLLER...]: run inside `unshare -m` as root.  Replaces
# /sys/fs/cgroup (in this namespace only) with a tmpfs holding the host's hierarchies
# again plus v1 hierarchies for hugetlb and each CONTROLLER the host has not mounted
# (skipped when the kernel refuses one).
crun_cgroup_view() {
    local t d c
    mount --make-rprivate /
    t=$(mktemp -d /tmp/ociimg-cg.XXXXXX)
    # Built aside and moved in, so the host's hierarchies stay reachable while it is filled.
    mount -t tmpfs -o mode=755 cgroup "$t"
    for d in /sys/fs/cgroup/*; do
        mkdir "$t/${d##*/}"
        if mountpoint -q "$d"; then mount --rbind "$d" "$t/${d##*/}"; fi
    done
    for c in hugetlb "$@"; do
        mountpoint -q "$t/$c" && continue
        mkdir -p "$t/$c"
        mount -t cgroup -o "$c" cgroup "$t/$c" 2>/dev/null || rmdir "$t/$c"
    done
    mount --move "$t" /sys/fs/cgroup
    rmdir "$t"
}

# crun_wrap CMD...: runs CMD so that crun accepts this host's cgroups (CMD may drop
# privileges itself, e.g. setpriv, and still sees that view).  Elsewhere CMD runs unchanged.
crun_wrap() {
    if ! mountpoint -q /sys/fs/cgroup/hugetlb && [ -d /sys/fs/cgroup/cpu ] &&
        ! [ -e /sys/fs/cgroup/cgroup.controllers ] && [ "$(id -u)" = 0 ]; then
        unshare -m --propagation private bash -euc '. "$1"; shift; crun_cgroup_view; exec "$@"' \
            bash "${BASH_SOURCE[0]}" "$@"
        return
    fi
    "$@"
}
