/* The container's root filesystem, built in its own mount namespace: the
 * config's mounts, devices, maskedPaths and readonlyPaths, then pivot_root.
 *
 * Every destination is resolved inside the rootfs with openat2
 * (RESOLVE_IN_ROOT), missing directories created one component at a time
 * below an already-resolved parent, and the mount made onto
 * /proc/self/fd/N of the resolved fd - so no symlink in the rootfs, however
 * it changes meanwhile, can point a mount outside. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include <ociimg/cleanup.h>

#include "rt_private.h"

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#define MOUNT_ATTR_NOEXEC 0x00000008
#define MOUNT_ATTR__ATIME 0x00000070
#define MOUNT_ATTR_RELATIME 0x00000000
#define MOUNT_ATTR_NOATIME 0x00000010
#define MOUNT_ATTR_STRICTATIME 0x00000020
#define MOUNT_ATTR_NODIRATIME 0x00000080
#define MOUNT_ATTR_NOSYMFOLLOW 0x00200000
struct mount_attr {
    __u64 attr_set;
    __u64 attr_clr;
    __u64 propagation;
    __u64 userns_fd;
};
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

#define FD_PATH_LEN 32

static void fd_path(char buf[FD_PATH_LEN], int fd)
{
    snprintf(buf, FD_PATH_LEN, "/proc/self/fd/%d", fd);
}

int rt_open_in_root(int rootfd, const char *path, int flags)
{
    struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC),
                           .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
    for (int i = 0; i < 16; i++) {
        int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
        if (fd >= 0 || errno != EAGAIN)
            return fd < 0 ? -errno : fd;
    }
    return -EAGAIN;
}

int rt_mkpath_in_root(int rootfd, const char *path, bool file, char *why, size_t whylen)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len >= sizeof(buf)) {
        snprintf(why, whylen, "path too long: %.64s...", path);
        return -ENAMETOOLONG;
    }
    int fd = rt_open_in_root(rootfd, path, O_PATH);
    if (fd != -ENOENT) {
        if (fd < 0)
            snprintf(why, whylen, "resolve %s in the rootfs: %s", path, strerror(-fd));
        return fd;
    }
    memcpy(buf, path, len + 1);
    /* Walk prefixes: each missing component is created below the resolved
     * parent, then the prefix is resolved again (it may be a symlink). */
    int parent = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (parent < 0)
        return -errno;
    size_t i = 0;
    while (i < len) {
        while (i < len && buf[i] == '/')
            i++;
        if (i >= len)
            break;
        size_t start = i;
        while (i < len && buf[i] != '/')
            i++;
        bool last = i >= len;
        char saved = buf[i];
        buf[i] = '\0';
        int next = rt_open_in_root(rootfd, buf, O_PATH);
        if (next == -ENOENT) {
            const char *comp = buf + start;
            int r;
            if (last && file) {
                r = mknodat(parent, comp, S_IFREG | 0644, 0);
            } else {
                r = mkdirat(parent, comp, 0755);
            }
            if (r < 0 && errno != EEXIST) {
                snprintf(why, whylen, "create %s in the rootfs: %s", buf, strerror(errno));
                int e = -errno;
                close(parent);
                return e;
            }
            next = rt_open_in_root(rootfd, buf, O_PATH);
        }
        if (next < 0) {
            snprintf(why, whylen, "resolve %s in the rootfs: %s", buf, strerror(-next));
            close(parent);
            return next;
        }
        buf[i] = saved;
        close(parent);
        parent = next;
    }
    return parent;
}

/* ---- options ---- */

struct mopts {
    unsigned long flags;       /* MS_* set at mount time */
    unsigned long clear;       /* MS_* explicitly cleared (rw, suid, ...) */
    unsigned long prop;        /* MS_SHARED/... (| MS_REC) */
    uint64_t rec_set, rec_clr; /* recursive attributes (rro, rnosuid, ...) */
    bool bind, rec, has_rec_attr, tmpcopyup;
    char data[1024];
};

static int parse_options(struct mopts *m, const char *const *opts, size_t n, char *why,
                         size_t whylen)
{
    static const struct {
        const char *name;
        unsigned long set, clr;
    } flags[] = {
        {"defaults", 0, 0},
        {"ro", MS_RDONLY, 0},
        {"rw", 0, MS_RDONLY},
        {"nosuid", MS_NOSUID, 0},
        {"suid", 0, MS_NOSUID},
        {"nodev", MS_NODEV, 0},
        {"dev", 0, MS_NODEV},
        {"noexec", MS_NOEXEC, 0},
        {"exec", 0, MS_NOEXEC},
        {"sync", MS_SYNCHRONOUS, 0},
        {"async", 0, MS_SYNCHRONOUS},
        {"dirsync", MS_DIRSYNC, 0},
        {"remount", MS_REMOUNT, 0},
        {"mand", MS_MANDLOCK, 0},
        {"nomand", 0, MS_MANDLOCK},
        {"atime", 0, MS_NOATIME},
        {"noatime", MS_NOATIME, 0},
        {"diratime", 0, MS_NODIRATIME},
        {"nodiratime", MS_NODIRATIME, 0},
        {"relatime", MS_RELATIME, 0},
        {"norelatime", 0, MS_RELATIME},
        {"strictatime", MS_STRICTATIME, 0},
        {"nostrictatime", 0, MS_STRICTATIME},
        {"lazytime", MS_LAZYTIME, 0},
        {"nolazytime", 0, MS_LAZYTIME},
        {"silent", MS_SILENT, 0},
        {"loud", 0, MS_SILENT},
        {"iversion", MS_I_VERSION, 0},
        {"noiversion", 0, MS_I_VERSION},
        {"nosymfollow", MS_NOSYMFOLLOW, 0},
        {"symfollow", 0, MS_NOSYMFOLLOW},
    };
    static const struct {
        const char *name;
        unsigned long prop;
    } props[] = {
        {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
        {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
        {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
        {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
    };
    static const struct {
        const char *name;
        uint64_t set, clr;
    } rec[] = {
        {"rro", MOUNT_ATTR_RDONLY, 0},
        {"rrw", 0, MOUNT_ATTR_RDONLY},
        {"rnosuid", MOUNT_ATTR_NOSUID, 0},
        {"rsuid", 0, MOUNT_ATTR_NOSUID},
        {"rnodev", MOUNT_ATTR_NODEV, 0},
        {"rdev", 0, MOUNT_ATTR_NODEV},
        {"rnoexec", MOUNT_ATTR_NOEXEC, 0},
        {"rexec", 0, MOUNT_ATTR_NOEXEC},
        {"rnodiratime", MOUNT_ATTR_NODIRATIME, 0},
        {"rdiratime", 0, MOUNT_ATTR_NODIRATIME},
        {"rrelatime", MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME},
        {"rnorelatime", 0, MOUNT_ATTR__ATIME},
        {"rnoatime", MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME},
        {"ratime", 0, MOUNT_ATTR__ATIME},
        {"rstrictatime", MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME},
        {"rnostrictatime", 0, MOUNT_ATTR__ATIME},
        {"rnosymfollow", MOUNT_ATTR_NOSYMFOLLOW, 0},
        {"rsymfollow", 0, MOUNT_ATTR_NOSYMFOLLOW},
    };
    memset(m, 0, sizeof(*m));
    size_t dlen = 0;
    for (size_t i = 0; i < n; i++) {
        const char *o = opts[i];
        bool done = false;
        if (strcmp(o, "bind") == 0) {
            m->bind = true;
            continue;
        }
        if (strcmp(o, "rbind") == 0) {
            m->bind = m->rec = true;
            continue;
        }
        if (strcmp(o, "tmpcopyup") == 0) {
            m->tmpcopyup = true;
            continue;
        }
        if (strncmp(o, "idmap", 5) == 0 || strncmp(o, "ridmap", 6) == 0) {
            snprintf(why, whylen, "unsupported: mount option %s", o);
            return -EOPNOTSUPP;
        }
        for (size_t k = 0; k < OCI_ARRAY_SIZE(flags) && !done; k++)
            if (strcmp(flags[k].name, o) == 0) {
                m->flags = (m->flags & ~flags[k].clr) | flags[k].set;
                m->clear |= flags[k].clr;
                if (flags[k].set & (MS_NOATIME | MS_STRICTATIME | MS_RELATIME))
                    m->flags &= ~((MS_NOATIME | MS_STRICTATIME | MS_RELATIME) & ~flags[k].set);
                done = true;
            }
        for (size_t k = 0; k < OCI_ARRAY_SIZE(props) && !done; k++)
            if (strcmp(props[k].name, o) == 0) {
                m->prop = props[k].prop;
                done = true;
            }
        for (size_t k = 0; k < OCI_ARRAY_SIZE(rec) && !done; k++)
            if (strcmp(rec[k].name, o) == 0) {
                m->rec_set = (m->rec_set & ~rec[k].clr) | rec[k].set;
                m->rec_clr |= rec[k].clr | rec[k].set;
                m->has_rec_attr = true;
                done = true;
            }
        if (done)
            continue;
        /* Anything else is filesystem data: mode=755, size=64k, gid=5, ... */
        size_t ol = strlen(o);
        if (dlen + ol + 2 > sizeof(m->data)) {
            snprintf(why, whylen, "mount data too long");
            return -E2BIG;
        }
        if (dlen)
            m->data[dlen++] = ',';
        memcpy(m->data + dlen, o, ol + 1);
        dlen += ol;
    }
    return 0;
}

/* The flags of an existing mount that a bind remount must repeat: in a user
 * namespace the kernel refuses to clear nosuid/nodev/noexec/atime flags it
 * locked, and dropping them silently would be wrong anyway. */
static unsigned long locked_flags(const char *path)
{
    struct statvfs sv;
    if (statvfs(path, &sv) < 0)
        return 0;
    unsigned long f = 0;
    if (sv.f_flag & ST_NOSUID)
        f |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV)
        f |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC)
        f |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME)
        f |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME)
        f |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME)
        f |= MS_RELATIME;
    return f;
}

static int remount_bind(const char *target, unsigned long flags, unsigned long clear, char *why,
                        size_t whylen, const char *what)
{
    unsigned long keep = locked_flags(target) & ~clear;
    unsigned long f = MS_REMOUNT | MS_BIND | ((flags | keep) & ~(MS_REC | MS_REMOUNT));
    if (mount(NULL, target, NULL, f, NULL) < 0) {
        snprintf(why, whylen, "remount %s: %s", what, strerror(errno));
        return -errno;
    }
    return 0;
}

static int set_rec_attr(int fd, uint64_t set, uint64_t clr, char *why, size_t whylen,
                        const char *what)
{
    struct mount_attr attr = {.attr_set = set, .attr_clr = clr};
    if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0) {
        snprintf(why, whylen, "set recursive mount attributes on %s: %s", what, strerror(errno));
        return -errno;
    }
    return 0;
}

/* ---- the cgroup "filesystem" of the config ---- */

static int mount_cgroups(struct rt_plan *p, int rootfd, const struct rt_mount *m,
                         const struct mopts *mo, char *why, size_t whylen)
{
    bool cgroupns = rt_config_ns(p->c, CLONE_NEWCGROUP) != NULL;
    unsigned long base =
        mo->flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME | MS_NOATIME | MS_STRICTATIME);
    bool ro = mo->flags & MS_RDONLY;
    char fdp[FD_PATH_LEN];
    int r;
    if (p->cg.unified) {
        const struct rt_cgroup_hier *h = p->cg.n ? &p->cg.h[0] : NULL;
        _cleanup_close_ int fd = rt_mkpath_in_root(rootfd, m->destination, false, why, whylen);
        if (fd < 0)
            return fd;
        fd_path(fdp, fd);
        if (cgroupns)
            r = mount("cgroup2", fdp, "cgroup2", base | (ro ? MS_RDONLY : 0), NULL);
        else
            r = h ? mount(h->path, fdp, NULL, MS_BIND, NULL) : -1;
        if (r < 0) {
            snprintf(why, whylen, "mount cgroup2 on %s: %s", m->destination,
                     h ? strerror(errno) : "no hierarchy");
            return -errno;
        }
        if (!cgroupns && (ro || base)) {
            _cleanup_close_ int nfd = rt_open_in_root(rootfd, m->destination, O_PATH);
            if (nfd < 0)
                return nfd;
            fd_path(fdp, nfd);
            return remount_bind(fdp, base | (ro ? MS_RDONLY : 0), 0, why, whylen, m->destination);
        }
        return 0;
    }
    /* v1 (and hybrid): a tmpfs with one directory per hierarchy. */
    _cleanup_close_ int fd = rt_mkpath_in_root(rootfd, m->destination, false, why, whylen);
    if (fd < 0)
        return fd;
    fd_path(fdp, fd);
    if (mount("tmpfs", fdp, "tmpfs", base, "mode=755") < 0) {
        snprintf(why, whylen, "mount tmpfs on %s: %s", m->destination, strerror(errno));
        return -errno;
    }
    _cleanup_close_ int tfd = rt_open_in_root(rootfd, m->destination, O_PATH | O_DIRECTORY);
    if (tfd < 0) {
        snprintf(why, whylen, "open %s: %s", m->destination, strerror(-tfd));
        return tfd;
    }
    for (size_t i = 0; i < p->cg.n; i++) {
        const struct rt_cgroup_hier *h = &p->cg.h[i];
        if (h->v2)
            continue; /* runc and crun show the v1 controllers only */
        const char *name = strrchr(h->mnt, '/');
        name = name ? name + 1 : h->mnt;
        if (!*name || strchr(name, '/') || strcmp(name, "..") == 0 || strcmp(name, ".") == 0)
            continue;
        if (mkdirat(tfd, name, 0755) < 0 && errno != EEXIST) {
            snprintf(why, whylen, "create %s/%s: %s", m->destination, name, strerror(errno));
            return -errno;
        }
        _cleanup_close_ int sfd = openat(tfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sfd < 0)
            return -errno;
        fd_path(fdp, sfd);
        if (cgroupns)
            r = mount("cgroup", fdp, "cgroup", base | (ro ? MS_RDONLY : 0), h->controllers);
        else
            r = mount(h->path, fdp, NULL, MS_BIND, NULL);
        if (r < 0) {
            snprintf(why, whylen, "mount cgroup %s on %s/%s: %s", h->controllers, m->destination,
                     name, strerror(errno));
            return -errno;
        }
        if (!cgroupns) {
            _cleanup_close_ int nfd =
                openat(tfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (nfd < 0)
                return -errno;
            fd_path(fdp, nfd);
            if ((r = remount_bind(fdp, base | (ro ? MS_RDONLY : 0), 0, why, whylen, name)) < 0)
                return r;
        }
        /* cpu,cpuacct mounted together: the single names point at it. */
        if (strchr(name, ',')) {
            _cleanup_free_ char *names = strdup(name);
            char *save = NULL;
            for (char *c = strtok_r(names, ",", &save); c; c = strtok_r(NULL, ",", &save))
                if (strcmp(c, name) != 0)
                    symlinkat(name, tfd, c);
        }
    }
    /* The tmpfs itself stays writable, each hierarchy read-only: what runc
     * and crun show. */
    return 0;
}

/* ---- one mount of the config ---- */

static int do_mount(struct rt_plan *p, int rootfd, const struct rt_mount *m, char *why,
                    size_t whylen)
{
    struct mopts mo;
    int r = parse_options(&mo, m->options, m->n_options, why, whylen);
    if (r < 0)
        return r;
    const char *type = m->type;
    if (type && strcmp(type, "bind") == 0) {
        mo.bind = true;
        type = NULL;
    }
    if (m->idmapped) {
        snprintf(why, whylen, "unsupported: idmapped mount on %s", m->destination);
        return -EOPNOTSUPP;
    }
    if (mo.tmpcopyup) {
        snprintf(why, whylen, "unsupported: mount option tmpcopyup on %s", m->destination);
        return -EOPNOTSUPP;
    }
    if (!mo.bind && type && strcmp(type, "cgroup") == 0)
        return mount_cgroups(p, rootfd, m, &mo, why, whylen);

    char src[PATH_MAX];
    bool src_is_file = false;
    if (mo.bind) {
        if (!m->source) {
            snprintf(why, whylen, "bind mount on %s: no source", m->destination);
            return -EINVAL;
        }
        if (m->source[0] == '/')
            snprintf(src, sizeof(src), "%s", m->source);
        else
            snprintf(src, sizeof(src), "%s/%s", p->bundle, m->source);
        struct stat st;
        if (stat(src, &st) < 0) {
            snprintf(why, whylen, "bind mount source %s: %s", src, strerror(errno));
            return -errno;
        }
        src_is_file = !S_ISDIR(st.st_mode);
    }
    _cleanup_close_ int tfd = rt_mkpath_in_root(rootfd, m->destination, src_is_file, why, whylen);
    if (tfd < 0)
        return tfd;
    char target[FD_PATH_LEN];
    fd_path(target, tfd);
    if (mo.bind) {
        if (mount(src, target, NULL, MS_BIND | (mo.rec ? MS_REC : 0), NULL) < 0) {
            snprintf(why, whylen, "bind mount %s on %s: %s", src, m->destination, strerror(errno));
            return -errno;
        }
    } else {
        const char *source = m->source && *m->source ? m->source : (type ? type : "none");
        unsigned long f = mo.flags & ~MS_REMOUNT;
        if (mount(source, target, type, f, mo.data[0] ? mo.data : NULL) < 0) {
            int e = errno;
            /* sysfs cannot be mounted in a user namespace without its own
             * network namespace: bind the host's, as runc does. */
            if (type && strcmp(type, "sysfs") == 0 && (e == EPERM || e == EBUSY)) {
                if (mount("/sys", target, NULL, MS_BIND | MS_REC, NULL) == 0)
                    goto mounted;
            }
            snprintf(why, whylen, "mount %s (%s) on %s: %s", source, type ? type : "no type",
                     m->destination, strerror(e));
            return -e;
        }
    }
mounted:;
    /* What follows acts on the new mount: resolve the destination again. */
    unsigned long extra =
        mo.flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME |
                    MS_RELATIME | MS_STRICTATIME | MS_NOSYMFOLLOW);
    bool need_remount = mo.bind && (extra || mo.clear);
    if (!need_remount && !mo.prop && !mo.has_rec_attr)
        return 0;
    _cleanup_close_ int nfd = rt_open_in_root(rootfd, m->destination, O_PATH);
    if (nfd < 0) {
        snprintf(why, whylen, "open %s after mounting: %s", m->destination, strerror(-nfd));
        return nfd;
    }
    fd_path(target, nfd);
    if (need_remount &&
        (r = remount_bind(target, extra, mo.clear, why, whylen, m->destination)) < 0)
        return r;
    if (mo.has_rec_attr &&
        (r = set_rec_attr(nfd, mo.rec_set, mo.rec_clr, why, whylen, m->destination)) < 0)
        return r;
    if (mo.prop && mount(NULL, target, NULL, mo.prop, NULL) < 0) {
        snprintf(why, whylen, "set propagation of %s: %s", m->destination, strerror(errno));
        return -errno;
    }
    return 0;
}

int rt_rootfs_setup(struct rt_plan *p, int *rootfd_out, char *why, size_t whylen)
{
    struct ort_config *c = p->c;
    /* Nothing we mount may propagate back to the host. */
    unsigned long first =
        (c->rootfs_propagation == MS_PRIVATE || c->rootfs_propagation == MS_UNBINDABLE) ? MS_PRIVATE
                                                                                        : MS_SLAVE;
    if (mount(NULL, "/", NULL, MS_REC | first, NULL) < 0) {
        snprintf(why, whylen, "make / %s: %s", first == MS_PRIVATE ? "rprivate" : "rslave",
                 strerror(errno));
        return -errno;
    }
    /* pivot_root needs the new root to be a mount point. */
    if (mount(p->rootfs, p->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) {
        snprintf(why, whylen, "bind mount the rootfs %s: %s", p->rootfs, strerror(errno));
        return -errno;
    }
    int rootfd = open(p->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        snprintf(why, whylen, "open the rootfs %s: %s", p->rootfs, strerror(errno));
        return -errno;
    }
    for (size_t i = 0; i < c->n_mounts; i++) {
        int r = do_mount(p, rootfd, &c->mounts[i], why, whylen);
        if (r < 0) {
            close(rootfd);
            return r;
        }
    }
    *rootfd_out = rootfd;
    return 0;
}

static int mask_path(int rootfd, const char *path, char *why, size_t whylen)
{
    _cleanup_close_ int fd = rt_open_in_root(rootfd, path, O_PATH | O_NOFOLLOW);
    if (fd == -ENOENT || fd == -ENOTDIR)
        return 0;
    if (fd < 0) {
        snprintf(why, whylen, "maskedPaths %s: %s", path, strerror(-fd));
        return fd;
    }
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    char target[FD_PATH_LEN];
    fd_path(target, fd);
    int r;
    if (S_ISDIR(st.st_mode)) {
        r = mount("tmpfs", target, "tmpfs", MS_RDONLY, NULL);
    } else {
        _cleanup_close_ int nul = rt_open_in_root(rootfd, "/dev/null", O_PATH);
        char src[FD_PATH_LEN];
        if (nul >= 0)
            fd_path(src, nul);
        r = mount(nul >= 0 ? src : "/dev/null", target, NULL, MS_BIND, NULL);
    }
    if (r < 0) {
        snprintf(why, whylen, "mask %s: %s", path, strerror(errno));
        return -errno;
    }
    return 0;
}

static int readonly_path(int rootfd, const char *path, char *why, size_t whylen)
{
    _cleanup_close_ int fd = rt_open_in_root(rootfd, path, O_PATH | O_NOFOLLOW);
    if (fd == -ENOENT || fd == -ENOTDIR)
        return 0;
    if (fd < 0) {
        snprintf(why, whylen, "readonlyPaths %s: %s", path, strerror(-fd));
        return fd;
    }
    char target[FD_PATH_LEN];
    fd_path(target, fd);
    if (mount(target, target, NULL, MS_BIND | MS_REC, NULL) < 0) {
        snprintf(why, whylen, "readonlyPaths %s: bind: %s", path, strerror(errno));
        return -errno;
    }
    _cleanup_close_ int nfd = rt_open_in_root(rootfd, path, O_PATH | O_NOFOLLOW);
    if (nfd < 0)
        return nfd;
    fd_path(target, nfd);
    return remount_bind(target, MS_RDONLY, 0, why, whylen, path);
}

static int write_sysctl(const struct rt_sysctl *s, char *why, size_t whylen)
{
    char path[PATH_MAX] = "/proc/sys/";
    size_t n = strlen(path), kl = strlen(s->key);
    if (kl + n >= sizeof(path) || strstr(s->key, "..")) {
        snprintf(why, whylen, "sysctl %s: bad name", s->key);
        return -EINVAL;
    }
    for (size_t i = 0; i <= kl; i++)
        path[n + i] = (char)(s->key[i] == '.' ? '/' : s->key[i]);
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(why, whylen, "sysctl %s: %s", s->key, strerror(errno));
        return -errno;
    }
    ssize_t w = write(fd, s->value, strlen(s->value));
    int e = errno;
    close(fd);
    if (w < 0) {
        snprintf(why, whylen, "sysctl %s=%s: %s", s->key, s->value, strerror(e));
        return -e;
    }
    return 0;
}

int rt_rootfs_finish(struct rt_plan *p, int rootfd, char *why, size_t whylen)
{
    struct ort_config *c = p->c;
    int r;
    for (size_t i = 0; i < c->n_readonly; i++)
        if ((r = readonly_path(rootfd, c->readonly_paths[i], why, whylen)) < 0)
            return r;
    for (size_t i = 0; i < c->n_masked; i++)
        if ((r = mask_path(rootfd, c->masked_paths[i], why, whylen)) < 0)
            return r;
    /* Through the runtime's /proc, which follows the writer's namespaces. */
    for (size_t i = 0; i < c->n_sysctl; i++)
        if ((r = write_sysctl(&c->sysctl[i], why, whylen)) < 0)
            return r;

    if (fchdir(rootfd) < 0) {
        snprintf(why, whylen, "chdir to the rootfs: %s", strerror(errno));
        return -errno;
    }
    /* pivot_root(".", ".") stacks the old root on the new one; detaching it
     * leaves no way back (no chroot escape), and making it a slave first
     * keeps the unmount from propagating to the host. */
    if (syscall(SYS_pivot_root, ".", ".") < 0) {
        snprintf(why, whylen, "pivot_root: %s", strerror(errno));
        return -errno;
    }
    if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) {
        snprintf(why, whylen, "make the old root rslave: %s", strerror(errno));
        return -errno;
    }
    if (umount2(".", MNT_DETACH) < 0) {
        snprintf(why, whylen, "detach the old root: %s", strerror(errno));
        return -errno;
    }
    if (chdir("/") < 0) {
        snprintf(why, whylen, "chdir /: %s", strerror(errno));
        return -errno;
    }
    if (c->root_readonly && (r = remount_bind("/", MS_RDONLY, 0, why, whylen, "/ read-only")) < 0)
        return r;
    if (c->rootfs_propagation && mount(NULL, "/", NULL, MS_REC | c->rootfs_propagation, NULL) < 0) {
        snprintf(why, whylen, "set rootfsPropagation: %s", strerror(errno));
        return -errno;
    }
    return 0;
}
