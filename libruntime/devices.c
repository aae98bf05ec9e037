/* /dev inside the container: the default device nodes and symlinks every
 * runtime provides, and linux.devices.  Without CAP_MKNOD over the host (a
 * user namespace) nodes are bind mounts of the host's. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <ociimg/cleanup.h>

#include "rt_private.h"

bool rt_devices_needed(const struct ort_config *c)
{
    /* A bind-mounted /dev is the host's business, as runc reads it. */
    for (size_t i = 0; i < c->n_mounts; i++) {
        const struct rt_mount *m = &c->mounts[i];
        if (strcmp(m->destination, "/dev") != 0)
            continue;
        if (m->type && strcmp(m->type, "bind") == 0)
            return false;
        for (size_t k = 0; k < m->n_options; k++)
            if (strcmp(m->options[k], "bind") == 0 || strcmp(m->options[k], "rbind") == 0)
                return false;
    }
    return true;
}

/* Whether a path has a ".." component: a device path, bound from the host
 * in a user namespace, must stay below the host's /dev too. */
static bool climbs(const char *path)
{
    for (const char *s = path; *s;) {
        size_t len = strcspn(s, "/");
        if (len == 2 && s[0] == '.' && s[1] == '.')
            return true;
        s += len + (s[len] == '/');
    }
    return false;
}

static int make_node(int rootfd, const char *path, char type, unsigned maj, unsigned min,
                     mode_t mode, uid_t uid, gid_t gid, bool bind, char *why, size_t whylen)
{
    /* Create the parent, then the node below the resolved parent. */
    char parent[4096];
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    size_t plen = slash ? (size_t)(slash - path) : 0;
    if (!*name || plen >= sizeof(parent) || strcmp(name, "..") == 0 || strcmp(name, ".") == 0) {
        snprintf(why, whylen, "device %s: bad path", path);
        return -EINVAL;
    }
    memcpy(parent, path, plen);
    parent[plen] = '\0';
    _cleanup_close_ int pfd = plen ? rt_mkpath_in_root(rootfd, parent, false, why, whylen)
                                   : openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0)
        return pfd;
    /* Replace what the image had there (a stale node, a file). */
    if (unlinkat(pfd, name, 0) < 0 && errno != ENOENT && errno != EISDIR) {
        snprintf(why, whylen, "device %s: remove old entry: %s", path, strerror(errno));
        return -errno;
    }
    if (bind) {
        int fd = openat(pfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            snprintf(why, whylen, "device %s: create mount point: %s", path, strerror(errno));
            return -errno;
        }
        close(fd);
        _cleanup_close_ int tfd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        char target[32];
        snprintf(target, sizeof(target), "/proc/self/fd/%d", tfd);
        if (tfd < 0 || mount(path, target, NULL, MS_BIND, NULL) < 0) {
            snprintf(why, whylen, "device %s: bind mount from the host: %s", path, strerror(errno));
            return -errno;
        }
        return 0;
    }
    mode_t kind = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;
    if (mknodat(pfd, name, kind | (mode & 07777), makedev(maj, min)) < 0) {
        snprintf(why, whylen, "device %s: mknod: %s", path, strerror(errno));
        return -errno;
    }
    if (fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
        snprintf(why, whylen, "device %s: chown: %s", path, strerror(errno));
        return -errno;
    }
    /* mknod honours the umask; set the mode the config asked for exactly. */
    _cleanup_close_ int nfd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    char fdp[32];
    snprintf(fdp, sizeof(fdp), "/proc/self/fd/%d", nfd);
    if (nfd < 0 || chmod(fdp, mode & 07777) < 0) {
        snprintf(why, whylen, "device %s: chmod: %s", path, strerror(errno));
        return -errno;
    }
    return 0;
}

int rt_devices_setup(struct rt_plan *p, int rootfd, bool userns, char *why, size_t whylen)
{
    static const struct {
        const char *path;
        unsigned maj, min;
    } defaults[] = {
        {"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
        {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
    };
    static const struct {
        const char *target, *link;
    } links[] = {
        {"/proc/self/fd", "fd"},       {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
        {"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},
    };
    struct ort_config *c = p->c;
    int r;
    if (rt_devices_needed(c)) {
        for (size_t i = 0; i < OCI_ARRAY_SIZE(defaults); i++) {
            /* A linux.devices entry for the same path wins. */
            bool configured = false;
            for (size_t k = 0; k < c->n_devices; k++)
                configured |= strcmp(c->devices[k].path, defaults[i].path) == 0;
            if (configured)
                continue;
            r = make_node(rootfd, defaults[i].path, 'c', defaults[i].maj, defaults[i].min, 0666, 0,
                          0, userns, why, whylen);
            if (r < 0)
                return r;
        }
        _cleanup_close_ int dev = rt_mkpath_in_root(rootfd, "/dev", false, why, whylen);
        if (dev < 0)
            return dev;
        for (size_t i = 0; i < OCI_ARRAY_SIZE(links); i++) {
            if (symlinkat(links[i].target, dev, links[i].link) < 0 && errno != EEXIST) {
                snprintf(why, whylen, "symlink /dev/%s: %s", links[i].link, strerror(errno));
                return -errno;
            }
        }
    }
    for (size_t i = 0; i < c->n_devices; i++) {
        const struct rt_device *d = &c->devices[i];
        if (strncmp(d->path, "/dev/", 5) != 0 || climbs(d->path)) {
            snprintf(why, whylen, "linux.devices[%zu].path %s: not below /dev", i, d->path);
            return -EINVAL;
        }
        if (d->type != 'p' &&
            (d->major < 0 || d->minor < 0 || d->major > 4095 || d->minor > 1048575)) {
            snprintf(why, whylen, "linux.devices[%zu]: bad major/minor", i);
            return -EINVAL;
        }
        r = make_node(rootfd, d->path, d->type, (unsigned)d->major, (unsigned)d->minor,
                      d->has_mode ? d->mode : 0666, d->has_uid ? d->uid : 0,
                      d->has_gid ? d->gid : 0, userns, why, whylen);
        if (r < 0)
            return r;
    }
    return 0;
}
