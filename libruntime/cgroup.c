/* cgroups v1, v2 and the hybrid layout (v1 controllers plus a cgroup2 at
 * /sys/fs/cgroup/unified).  Paths: an absolute cgroupsPath is taken from each
 * hierarchy's root, a relative one (and the default, the container id) from
 * the cgroup the runtime itself is in - as runc does with cgroupfs. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ociimg/cleanup.h>
#include <ociimg/json.h>

#include "rt_private.h"

#define MOUNTINFO_MAX (1u << 20)
#define RMDIR_WAIT_MS 2000

static void hier_free(struct rt_cgroup_hier *h)
{
    free(h->mnt);
    free(h->controllers);
    free(h->path);
    free(h->rel);
    memset(h, 0, sizeof(*h));
}

void rt_cgroup_free(struct rt_cgroups *cg)
{
    for (size_t i = 0; i < cg->n; i++)
        hier_free(&cg->h[i]);
    cg->n = 0;
}

/* Pure cgroup v2: hierarchies found, none of them v1. */
static void set_unified(struct rt_cgroups *cg)
{
    bool v1 = false;
    for (size_t i = 0; i < cg->n; i++)
        v1 |= !cg->h[i].v2;
    cg->unified = !v1 && cg->n > 0;
}

static bool has_controller(const char *list, const char *want)
{
    size_t n = strlen(want);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, want, n) == 0)
            return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

const struct rt_cgroup_hier *rt_cgroup_find(const struct rt_cgroups *cg, const char *controller)
{
    for (size_t i = 0; i < cg->n; i++) {
        if (!cg->h[i].v2 && has_controller(cg->h[i].controllers, controller))
            return &cg->h[i];
    }
    if (cg->unified)
        for (size_t i = 0; i < cg->n; i++)
            if (cg->h[i].v2)
                return &cg->h[i];
    return NULL;
}

/* mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

/* Appends n bytes of s to the string in buf (size bytes), truncating. */
static void append(char *buf, size_t size, const char *s, size_t n)
{
    size_t used = strnlen(buf, size);
    if (used + 1 >= size)
        return;
    if (n > size - used - 1)
        n = size - used - 1;
    memcpy(buf + used, s, n);
    buf[used + n] = '\0';
}

/* The super options of a cgroup v1 mount, reduced to controller names. */
static char *v1_controllers(const char *opts)
{
    size_t size = strlen(opts) + 1;
    char *out = calloc(1, size);
    if (!out)
        return NULL;
    for (const char *p = opts; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        bool skip = (len == 2 && strncmp(p, "rw", 2) == 0) ||
                    (len == 2 && strncmp(p, "ro", 2) == 0) ||
                    (len >= 6 && strncmp(p, "xattr", 5) == 0) ||
                    (len == 5 && strncmp(p, "xattr", 5) == 0) ||
                    (len >= 14 && strncmp(p, "release_agent=", 14) == 0) ||
                    (len == 10 && strncmp(p, "clone_children", 10) == 0) ||
                    (len == 4 && strncmp(p, "none", 4) == 0) ||
                    (len == 8 && strncmp(p, "noprefix", 8) == 0) ||
                    (len == 14 && strncmp(p, "cpuset_v2_mode", 14) == 0);
        if (!skip) {
            if (*out)
                append(out, size, ",", 1);
            append(out, size, p, len);
        }
        p = e ? e + 1 : p + len;
    }
    return out;
}

/* Our own cgroup in the hierarchy with these controllers ("" for v2). */
static char *own_cgroup(const char *self, const char *controllers, bool v2)
{
    char *line = (char *)self;
    int bound = 256;
    while (line && *line && bound-- > 0) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char *c1 = memchr(line, ':', len);
        char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
        if (c1 && c2) {
            size_t clen = (size_t)(c2 - c1 - 1);
            bool match =
                v2 ? (clen == 0 && strncmp(line, "0:", 2) == 0)
                   : (clen == strlen(controllers) && strncmp(c1 + 1, controllers, clen) == 0);
            if (match)
                return strndup(c2 + 1, len - (size_t)(c2 + 1 - line));
        }
        line = nl ? nl + 1 : NULL;
    }
    return NULL;
}

static char *join_path(const char *base, const char *rel)
{
    while (*rel == '/')
        rel++;
    size_t bl = strlen(base);
    while (bl > 1 && base[bl - 1] == '/')
        bl--;
    if (!*rel)
        return strndup(base, bl);
    return rt_strdup_printf("%.*s/%s", (int)bl, base, rel);
}

static bool path_safe(const char *p)
{
    /* No "." or "..", and a name below the root: a cgroupsPath must neither
     * climb out of the hierarchy nor name the runtime's own cgroup or the
     * root, whose processes kill --all and delete would signal. */
    size_t names = 0;
    for (const char *s = p; *s;) {
        while (*s == '/')
            s++;
        size_t len = strcspn(s, "/");
        if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        names += len > 0;
        s += len;
    }
    return names > 0 && strlen(p) < 2048;
}

int rt_cgroup_plan(struct rt_cgroups *cg, const char *cgroups_path, const char *id,
                   struct oci_error **err)
{
    memset(cg, 0, sizeof(*cg));
    const char *want = cgroups_path && *cgroups_path ? cgroups_path : id;
    if (!path_safe(want))
        return oci_error_set(err, OCI_ERR_INVALID,
                             "linux.cgroupsPath `%s`: not a cgroup below the hierarchy (empty, "
                             "\".\" or \"..\")",
                             want);
    if (strchr(want, ':') && want[0] != '/')
        return oci_error_set(err, OCI_ERR_UNSUPPORTED,
                             "unsupported: linux.cgroupsPath `%s` (systemd slice:prefix:name)",
                             want);

    _cleanup_free_ char *mi = NULL, *self = NULL;
    size_t len;
    if (oimg_read_file_at(&mi, &len, AT_FDCWD, "/proc/self/mountinfo", MOUNTINFO_MAX, err) < 0 ||
        oimg_read_file_at(&self, &len, AT_FDCWD, "/proc/self/cgroup", 65536, err) < 0)
        return oci_error_wrap(err, "cgroups");

    char *save = NULL;
    for (char *line = strtok_r(mi, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        /* id parent major:minor root mountpoint opts [optional...] - fstype source superopts */
        char *sep = strstr(line, " - ");
        if (!sep)
            continue;
        char *fields[6] = {0};
        char *s2 = NULL, *p = line;
        *sep = '\0';
        for (int i = 0; i < 6 && (fields[i] = strtok_r(p, " ", &s2)); i++)
            p = NULL;
        char *s3 = NULL;
        char *fstype = strtok_r(sep + 3, " ", &s3);
        strtok_r(NULL, " ", &s3); /* source */
        char *super = strtok_r(NULL, " ", &s3);
        if (!fstype || !fields[4] || !fields[3])
            continue;
        bool v2 = strcmp(fstype, "cgroup2") == 0;
        if (!v2 && strcmp(fstype, "cgroup") != 0)
            continue;
        _cleanup_free_ char *ctrl = v2 ? strdup("") : v1_controllers(super ? super : "");
        if (!ctrl)
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        bool dup = false;
        for (size_t i = 0; i < cg->n; i++)
            dup |= cg->h[i].v2 == v2 && strcmp(cg->h[i].controllers, ctrl) == 0;
        if (dup || cg->n >= RT_MAX_HIER)
            continue;
        _cleanup_free_ char *own = own_cgroup(self, ctrl, v2);
        if (!own)
            continue;
        unescape(fields[4]);
        unescape(fields[3]);
        /* The mount may show a sub-tree of the hierarchy (inside a
         * container): our cgroup is then relative to its root. */
        const char *mroot = fields[3];
        const char *own_rel = own;
        if (strcmp(mroot, "/") != 0) {
            size_t rl = strlen(mroot);
            if (strncmp(own, mroot, rl) == 0 && (own[rl] == '/' || own[rl] == '\0'))
                own_rel = own + rl;
            else
                continue;
        }
        struct rt_cgroup_hier *h = &cg->h[cg->n];
        h->v2 = v2;
        h->mnt = strdup(fields[4]);
        h->controllers = TAKE_PTR(ctrl);
        if (want[0] == '/')
            h->rel = strdup(want);
        else
            h->rel = join_path(own_rel[0] ? own_rel : "/", want);
        if (h->rel && h->rel[0] != '/') {
            char *t = rt_strdup_printf("/%s", h->rel);
            free(h->rel);
            h->rel = t;
        }
        h->path = h->mnt && h->rel ? join_path(h->mnt, h->rel) : NULL;
        if (!h->mnt || !h->controllers || !h->rel || !h->path) {
            hier_free(h);
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        }
        cg->n++;
    }
    set_unified(cg);
    return 0;
}

static int write_at(const char *dir, const char *file, const char *val, struct oci_error **err)
{
    _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int r = dfd < 0 ? -errno : rt_write_file_at(dfd, file, val, strlen(val));
    if (r < 0)
        return oci_error_setsys(err, -r == ENOENT ? OCI_ERR_UNSUPPORTED : OCI_ERR_IO, -r,
                                "cgroup: write %s to %s/%s", val, dir, file);
    return 0;
}

/* A new v1 cpuset starts with no cpus and no mems, and nothing can join it:
 * copy the parent's, as the kernel's clone_children would. */
static int cpuset_inherit(const char *dir, struct oci_error **err)
{
    static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
    _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "cgroup: open %s", dir);
    for (size_t i = 0; i < OCI_ARRAY_SIZE(files); i++) {
        char cur[4096], parent[4096];
        int n = rt_read_small_at(dfd, files[i], cur, sizeof(cur));
        if (n < 0)
            return oci_error_setsys(err, OCI_ERR_IO, -n, "cgroup: read %s/%s", dir, files[i]);
        if (n > 0 && cur[0] != '\n')
            continue;
        char rel[64];
        snprintf(rel, sizeof(rel), "../%s", files[i]);
        n = rt_read_small_at(dfd, rel, parent, sizeof(parent));
        if (n < 0)
            return oci_error_setsys(err, OCI_ERR_IO, -n, "cgroup: read parent of %s", dir);
        int r = rt_write_file_at(dfd, files[i], parent, (size_t)n);
        if (r < 0)
            return oci_error_setsys(err, OCI_ERR_IO, -r, "cgroup: write %s/%s", dir, files[i]);
    }
    return 0;
}

/* The prefix of h->path up to its k-th component below the mount. */
static void truncate_at(char *p, size_t mlen, int k)
{
    int idx = 0;
    for (size_t i = mlen + 1; p[i - 1]; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        if (++idx == k) {
            p[i] = '\0';
            return;
        }
    }
}

/* Removes components first..last (1-based below the mount), deepest first:
 * a failed create leaves nothing behind. */
static void undo_dirs(const struct rt_cgroup_hier *h, int first, int last)
{
    size_t mlen = strlen(h->mnt);
    for (int k = last; first > 0 && k >= first; k--) {
        _cleanup_free_ char *p = strdup(h->path);
        if (!p)
            return;
        truncate_at(p, mlen, k);
        rmdir(p);
    }
}

/* mkdir -p, remembering how many trailing components were new so delete
 * removes exactly those. */
static int make_dirs(struct rt_cgroup_hier *h, struct oci_error **err)
{
    bool cpuset = !h->v2 && has_controller(h->controllers, "cpuset");
    size_t mlen = strlen(h->mnt), len = strlen(h->path);
    char *p = h->path;
    int total = 0, idx = 0, first_new = 0;
    for (size_t i = mlen; i < len; i++)
        total += p[i] == '/';
    for (size_t i = mlen + 1; i <= len; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char saved = p[i];
        p[i] = '\0';
        idx++;
        int r = mkdir(p, 0755), e = errno, rr = 0;
        if (r < 0 && e != EEXIST) {
            rr = oci_error_setsys(err, OCI_ERR_IO, e, "cgroup: create %s", p);
            p[i] = saved;
            undo_dirs(h, first_new, idx - 1);
            return rr;
        }
        if (r == 0 && !first_new)
            first_new = idx;
        if (cpuset && (r == 0 || idx == total))
            rr = cpuset_inherit(p, err);
        p[i] = saved;
        if (rr < 0) {
            undo_dirs(h, first_new, idx);
            return rr;
        }
    }
    h->created_depth = first_new ? total - first_new + 1 : 0;
    return 0;
}

/* The cgroup2 directory of the container, when it has one. */
static struct rt_cgroup_hier *v2_hier(struct rt_cgroups *cg)
{
    for (size_t i = 0; i < cg->n; i++)
        if (cg->h[i].v2)
            return &cg->h[i];
    return NULL;
}

static bool permission_errno(int e)
{
    return e == EACCES || e == EPERM || e == EROFS;
}

/* The limits a config asks for, by the controller that enforces each. */
struct limit {
    const char *key, *controller;
};

static size_t asked_limits(const struct rt_resources *r, struct limit out[4])
{
    size_t n = 0;
    if (r->has_memory)
        out[n++] = (struct limit){"linux.resources.memory", "memory"};
    if (r->has_shares || r->has_period || r->has_quota || r->has_rt_period || r->has_rt_runtime)
        out[n++] = (struct limit){"linux.resources.cpu", "cpu"};
    if ((r->cpus && *r->cpus) || (r->mems && *r->mems))
        out[n++] = (struct limit){"linux.resources.cpu.cpus/mems", "cpuset"};
    if (r->has_pids)
        out[n++] = (struct limit){"linux.resources.pids", "pids"};
    return n;
}

/* Writes one formatted value to a file of the cgroup directory. */
static int __attribute__((format(printf, 4, 5)))
write_fmt(const char *dir, const char *file, struct oci_error **err, const char *fmt, ...)
{
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return write_at(dir, file, buf, err);
}

/* cpus and mems lists may be longer than write_fmt's buffer. */
static int write_cpuset(const struct rt_cgroup_hier *h, const struct rt_resources *r,
                        struct oci_error **err)
{
    int rr = 0;
    if (r->cpus && *r->cpus)
        rr = write_at(h->path, "cpuset.cpus", r->cpus, err);
    if (rr >= 0 && r->mems && *r->mems)
        rr = write_at(h->path, "cpuset.mems", r->mems, err);
    return rr;
}

/* In apply_v1 and apply_v2: a value for the file of h, or return. */
#define W(file, ...)                                                                               \
    do {                                                                                           \
        int w_r_ = write_fmt(h->path, file, err, __VA_ARGS__);                                     \
        if (w_r_ < 0)                                                                              \
            return w_r_;                                                                           \
    } while (0)

static int apply_v1(struct rt_cgroups *cg, const struct rt_resources *r, struct oci_error **err)
{
    const struct rt_cgroup_hier *h = NULL;
    int rr;
#define NEED(ctrl)                                                                                 \
    do {                                                                                           \
        if (!(h = rt_cgroup_find(cg, ctrl)))                                                       \
            return oci_error_set(err, OCI_ERR_UNSUPPORTED,                                         \
                                 "unsupported: linux.resources needs the %s cgroup controller",    \
                                 ctrl);                                                            \
    } while (0)
    if (r->has_memory) {
        NEED("memory");
        if (r->has_mem_reservation)
            W("memory.soft_limit_in_bytes", "%lld", (long long)r->mem_reservation);
        if (r->has_mem_limit && r->has_mem_swap) {
            /* memsw must stay >= limit at every step: order the two writes. */
            bool limit_done = write_fmt(h->path, "memory.limit_in_bytes", NULL, "%lld",
                                        (long long)r->mem_limit) >= 0;
            W("memory.memsw.limit_in_bytes", "%lld", (long long)r->mem_swap);
            if (!limit_done)
                W("memory.limit_in_bytes", "%lld", (long long)r->mem_limit);
        } else if (r->has_mem_limit) {
            W("memory.limit_in_bytes", "%lld", (long long)r->mem_limit);
        } else if (r->has_mem_swap) {
            W("memory.memsw.limit_in_bytes", "%lld", (long long)r->mem_swap);
        }
        if (r->has_swappiness)
            W("memory.swappiness", "%llu", (unsigned long long)r->swappiness);
        if (r->disable_oom_killer)
            W("memory.oom_control", "%d", 1);
    }
    if (r->has_cpu) {
        if (r->has_shares || r->has_period || r->has_quota || r->has_rt_period || r->has_rt_runtime)
            NEED("cpu");
        if (r->has_shares && r->cpu_shares)
            W("cpu.shares", "%llu", (unsigned long long)r->cpu_shares);
        if (r->has_period && r->cpu_period)
            W("cpu.cfs_period_us", "%llu", (unsigned long long)r->cpu_period);
        if (r->has_quota && r->cpu_quota)
            W("cpu.cfs_quota_us", "%lld", (long long)r->cpu_quota);
        if (r->has_rt_period && r->cpu_rt_period)
            W("cpu.rt_period_us", "%llu", (unsigned long long)r->cpu_rt_period);
        if (r->has_rt_runtime && r->cpu_rt_runtime)
            W("cpu.rt_runtime_us", "%lld", (long long)r->cpu_rt_runtime);
        if ((r->cpus && *r->cpus) || (r->mems && *r->mems)) {
            NEED("cpuset");
            if ((rr = write_cpuset(h, r, err)) < 0)
                return rr;
        }
    }
    if (r->has_pids) {
        NEED("pids");
        if (r->pids_limit > 0)
            W("pids.max", "%lld", (long long)r->pids_limit);
        else
            W("pids.max", "%s", "max");
    }
#undef NEED
    return 0;
}

/* Writes to a level's cgroup.subtree_control only the controllers it does
 * not enable yet: a delegated subtree's ancestors (not ours to write)
 * already enable what they hand down. */
static int enable_missing(const char *dir, const char *want, struct oci_error **err)
{
    char cur[1024], add[128] = "";
    _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || rt_read_small_at(dfd, "cgroup.subtree_control", cur, sizeof(cur)) < 0)
        cur[0] = '\0';
    char w[128];
    snprintf(w, sizeof(w), "%s", want);
    char *save = NULL;
    for (char *t = strtok_r(w, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        char *sp = NULL, list[1024];
        snprintf(list, sizeof(list), "%s", cur);
        bool have = false;
        for (char *c = strtok_r(list, " \n", &sp); c && !have; c = strtok_r(NULL, " \n", &sp))
            have = strcmp(c, t + 1) == 0;
        if (!have && strlen(add) + strlen(t) + 2 < sizeof(add)) {
            append(add, sizeof(add), t, strlen(t));
            append(add, sizeof(add), " ", 1);
        }
    }
    if (!add[0])
        return 0;
    return write_at(dir, "cgroup.subtree_control", add, err);
}

static int apply_v2(struct rt_cgroups *cg, const struct rt_resources *r, struct oci_error **err)
{
    const struct rt_cgroup_hier *h = v2_hier(cg);
    if (!h)
        return oci_error_set(err, OCI_ERR_UNSUPPORTED, "unsupported: no cgroup2 hierarchy");
    /* Enable the controllers we need from the hierarchy's root down: only
     * those the limits asked for use (what controller_usable checked). */
    char ctl[64] = "";
    struct limit want[4];
    size_t nwant = asked_limits(r, want);
    for (size_t i = 0; i < nwant; i++) {
        append(ctl, sizeof(ctl), "+", 1);
        append(ctl, sizeof(ctl), want[i].controller, strlen(want[i].controller));
        append(ctl, sizeof(ctl), " ", 1);
    }
    if (ctl[0]) {
        size_t mlen = strlen(h->mnt);
        _cleanup_free_ char *p = strdup(h->path);
        if (!p)
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        for (size_t i = mlen; p[i]; i++) {
            if (p[i] != '/')
                continue;
            p[i] = '\0';
            int rr = enable_missing(i == mlen ? h->mnt : p, ctl, err);
            p[i] = '/';
            if (rr < 0)
                return rr;
        }
    }
    if (r->has_memory) {
        if (r->has_mem_reservation)
            W("memory.low", "%lld", (long long)r->mem_reservation);
        if (r->has_mem_limit) {
            if (r->mem_limit > 0)
                W("memory.max", "%lld", (long long)r->mem_limit);
            else
                W("memory.max", "%s", "max");
        }
        if (r->has_mem_swap) {
            long long sw = r->mem_swap;
            if (sw > 0 && r->has_mem_limit && r->mem_limit > 0)
                sw -= r->mem_limit; /* v1's memsw counts memory too */
            if (r->mem_swap < 0)
                W("memory.swap.max", "%s", "max");
            else
                W("memory.swap.max", "%lld", sw < 0 ? 0 : sw);
        }
        if (r->disable_oom_killer)
            return oci_error_set(err, OCI_ERR_UNSUPPORTED,
                                 "unsupported: memory.disableOOMKiller on cgroup v2");
    }
    if (r->has_cpu) {
        if (r->has_shares && r->cpu_shares) {
            /* runc's mapping of shares [2, 262144] onto weight [1, 10000]. */
            unsigned long long s = r->cpu_shares;
            unsigned long long w = s < 2 ? 1 : 1 + ((s - 2) * 9999) / 262142;
            W("cpu.weight", "%llu", w > 10000 ? 10000ULL : w);
        }
        if ((r->has_quota && r->cpu_quota) || (r->has_period && r->cpu_period)) {
            unsigned long long period = r->has_period && r->cpu_period ? r->cpu_period : 100000;
            if (r->has_quota && r->cpu_quota > 0)
                W("cpu.max", "%lld %llu", (long long)r->cpu_quota, period);
            else
                W("cpu.max", "max %llu", period);
        }
        if (r->has_rt_period || r->has_rt_runtime)
            return oci_error_set(err, OCI_ERR_UNSUPPORTED,
                                 "unsupported: realtime cpu limits on cgroup v2");
        int rr = write_cpuset(h, r, err);
        if (rr < 0)
            return rr;
    }
    if (r->has_pids) {
        if (r->pids_limit > 0)
            W("pids.max", "%lld", (long long)r->pids_limit);
        else
            W("pids.max", "%s", "max");
    }
    return 0;
}
#undef W

/* The devices the runtime creates by default are always allowed, after the
 * config's own rules - as runc and crun do - and so is each linux.devices. */
static int apply_devices_v1(struct rt_cgroups *cg, const struct ort_config *c,
                            struct oci_error **err)
{
    const struct rt_cgroup_hier *h = rt_cgroup_find(cg, "devices");
    if (c->res.n_devices == 0)
        return 0;
    if (!h || h->v2)
        return oci_error_set(err, OCI_ERR_UNSUPPORTED,
                             "unsupported: linux.resources.devices without a cgroup v1 devices "
                             "controller");
    _cleanup_free_ struct rt_dev_rule *rules = NULL;
    size_t n = 0;
    if (rt_dev_rules_effective(c, &rules, &n) < 0)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    char buf[64];
    for (size_t i = 0; i < n; i++) {
        const struct rt_dev_rule *d = &rules[i];
        char maj[24], min[24];
        if (d->major < 0)
            strcpy(maj, "*");
        else
            snprintf(maj, sizeof(maj), "%lld", (long long)d->major);
        if (d->minor < 0)
            strcpy(min, "*");
        else
            snprintf(min, sizeof(min), "%lld", (long long)d->minor);
        if (d->type == 'a' && d->major < 0 && d->minor < 0 && strlen(d->access) == 3)
            snprintf(buf, sizeof(buf), "a");
        else
            snprintf(buf, sizeof(buf), "%c %s:%s %s", d->type, maj, min, d->access);
        if (write_at(h->path, d->allow ? "devices.allow" : "devices.deny", buf, err) < 0)
            return -OCI_ERR_IO;
    }
    return 0;
}

/* cgroup2 has no devices files: an eBPF program attached to the directory
 * decides.  On a pure v2 host it is the only enforcement, so a failure
 * fails the create; on a hybrid host the v1 controller enforces and the
 * program on the cgroup2 directory we made is a second line, so a failure
 * there is only a warning. */
static int apply_devices_v2(struct rt_cgroups *cg, const struct ort_config *c,
                            struct oci_error **err)
{
    struct rt_cgroup_hier *h = v2_hier(cg);
    if (c->res.n_devices == 0)
        return 0;
    if (!h) {
        if (cg->unified)
            return oci_error_set(err, OCI_ERR_UNSUPPORTED,
                                 "unsupported: linux.resources.devices without a devices "
                                 "controller");
        return 0;
    }
    if (!cg->unified && h->created_depth <= 0)
        return 0; /* not ours to add programs to on a hybrid host */
    _cleanup_free_ struct rt_dev_rule *rules = NULL;
    size_t n = 0;
    if (rt_dev_rules_effective(c, &rules, &n) < 0)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    struct oci_error *e = NULL;
    int r = rt_bpfdev_attach(h->path, rules, n, &h->bpf_prog, cg->unified ? err : &e);
    if (r < 0 && !cg->unified) {
        snprintf(cg->devices_warning, sizeof(cg->devices_warning), "%s", e ? e->msg : "?");
        oci_error_free(e);
        return 0;
    }
    return r;
}

bool rt_cgroup_limits_asked(const struct ort_config *c)
{
    struct limit want[4];
    return c->has_resources && asked_limits(&c->res, want) > 0;
}

/* Whether a controller is there for the container's cgroup: a v1
 * hierarchy we could create in, or (v2) one the closest directory we did
 * not create offers (cgroup.controllers) - below it we enable what we need. */
static bool controller_usable(struct rt_cgroups *cg, const char *ctrl)
{
    if (!cg->unified)
        return rt_cgroup_find(cg, ctrl) != NULL;
    struct rt_cgroup_hier *h = v2_hier(cg);
    if (!h)
        return false;
    _cleanup_free_ char *dir = strdup(h->path);
    if (!dir)
        return false;
    size_t mlen = strlen(h->mnt);
    for (int up = h->created_depth > 0 ? h->created_depth : 1; up > 0; up--) {
        char *slash = strrchr(dir, '/');
        if (!slash || (size_t)(slash - dir) < mlen)
            break;
        *slash = '\0';
    }
    char list[1024];
    _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || rt_read_small_at(dfd, "cgroup.controllers", list, sizeof(list)) < 0)
        return false;
    char *save = NULL;
    for (char *t = strtok_r(list, " \n", &save); t; t = strtok_r(NULL, " \n", &save))
        if (strcmp(t, ctrl) == 0)
            return true;
    return false;
}

static void note_skipped(struct rt_cgroups *cg, const char *what)
{
    size_t len = strlen(cg->skipped);
    snprintf(cg->skipped + len, sizeof(cg->skipped) - len, "%s%s", len ? "; " : "", what);
}

/* Rootless: a hierarchy we may not create in is dropped, with a note. */
static int create_rootless(struct rt_cgroups *cg, struct oci_error **err)
{
    char why[256] = "";
    for (size_t i = 0; i < cg->n;) {
        struct rt_cgroup_hier *h = &cg->h[i];
        struct oci_error *e = NULL;
        int r = make_dirs(h, &e);
        if (r >= 0) {
            i++;
            continue;
        }
        if (!e || !permission_errno(e->sys_errno)) {
            if (err && !*err)
                *err = e;
            else
                oci_error_free(e);
            return r;
        }
        if (!why[0])
            snprintf(why, sizeof(why), "%s", e->msg);
        note_skipped(cg, h->v2 ? "cgroup2" : h->controllers);
        oci_error_free(e);
        hier_free(h);
        memmove(h, h + 1, (cg->n - i - 1) * sizeof(*h));
        memset(&cg->h[cg->n - 1], 0, sizeof(*h));
        cg->n--;
    }
    if (why[0]) {
        size_t len = strlen(cg->skipped);
        snprintf(cg->skipped + len, sizeof(cg->skipped) - len, " (%s)", why);
    }
    /* What is left decides the mode: on a hybrid host a delegated cgroup2
     * directory alone is a pure v2 setup for this container. */
    set_unified(cg);
    return 0;
}

/* The devices cgroup only ever takes access away: without one a rootless
 * container has what the host grants its user, through bind mounts. */
static bool devices_rootless_skip(struct rt_cgroups *cg, const struct ort_config *c)
{
    if (!cg->rootless || c->res.n_devices == 0)
        return false;
    if (!cg->unified && rt_cgroup_find(cg, "devices"))
        return false;
    snprintf(cg->devices_skipped, sizeof(cg->devices_skipped),
             "linux.resources.devices: not enforced in this rootless container (no devices "
             "cgroup this user may write); device access is what the host grants the user");
    return true;
}

int rt_cgroup_create(struct rt_cgroups *cg, const struct ort_config *c, struct oci_error **err)
{
    cg->rootless = rt_rootless();
    if (cg->rootless) {
        int r = create_rootless(cg, err);
        if (r < 0)
            return r;
    } else {
        for (size_t i = 0; i < cg->n; i++) {
            int r = make_dirs(&cg->h[i], err);
            if (r < 0)
                return r;
        }
    }
    if (!c->has_resources)
        return 0;
    /* apply_v1 names a missing v1 controller itself. */
    struct limit want[4];
    size_t nwant = cg->rootless || cg->unified ? asked_limits(&c->res, want) : 0;
    for (size_t i = 0; i < nwant; i++) {
        if (controller_usable(cg, want[i].controller))
            continue;
        if (cg->rootless)
            return oci_error_set(
                err, OCI_ERR_UNSUPPORTED,
                "rootless container: %s needs the %s controller in a cgroup this user may "
                "write - a delegated cgroup v2 subtree (e.g. systemd-run --user -p "
                "Delegate=yes); %s%s",
                want[i].key, want[i].controller, cg->skipped[0] ? "not writable here: " : "",
                cg->skipped[0] ? cg->skipped : "the writable cgroup here does not offer it");
        return oci_error_set(err, OCI_ERR_UNSUPPORTED,
                             "unsupported: %s: the %s controller is not available in this "
                             "cgroup2 hierarchy (bound to a cgroup v1 hierarchy, or not enabled "
                             "above %s)",
                             want[i].key, want[i].controller, v2_hier(cg)->path);
    }
    int r = cg->unified ? apply_v2(cg, &c->res, err) : apply_v1(cg, &c->res, err);
    if (r < 0)
        return cg->rootless ? oci_error_wrap(err, "rootless container: linux.resources") : r;
    if (devices_rootless_skip(cg, c))
        return 0;
    if (!cg->unified && (r = apply_devices_v1(cg, c, err)) < 0)
        return r;
    if (cg->rootless && cg->unified && c->res.n_devices) {
        /* Loading a device program takes privileges a rootless runtime
         * lacks even in a delegated subtree. */
        struct oci_error *e = NULL;
        if (apply_devices_v2(cg, c, &e) < 0) {
            snprintf(cg->devices_skipped, sizeof(cg->devices_skipped),
                     "linux.resources.devices: not enforced in this rootless container (%s)",
                     e ? e->msg : "?");
            oci_error_free(e);
        }
        return 0;
    }
    return apply_devices_v2(cg, c, err);
}

int rt_cgroup_attach(struct rt_cgroups *cg, pid_t pid, bool need_all, struct oci_error **err)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%d", (int)pid);
    for (size_t i = 0; i < cg->n; i++) {
        struct oci_error *e = NULL;
        if (write_at(cg->h[i].path, "cgroup.procs", buf, &e) >= 0)
            continue;
        /* Moving a process needs write access where both cgroups meet:
         * without limits a rootless container can stay where it is. */
        if (cg->rootless && !need_all && e && permission_errno(e->sys_errno)) {
            note_skipped(cg, e->msg);
            oci_error_free(e);
            continue;
        }
        if (err && !*err)
            *err = e;
        else
            oci_error_free(e);
        return -OCI_ERR_IO;
    }
    return 0;
}

static int signal_dir(const char *dir, int sig)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    char line[32];
    int n = 0;
    while (n < 1000000 && fgets(line, sizeof(line), f)) {
        char *end = NULL;
        long pid = strtol(line, &end, 10);
        if (end == line || pid <= 0 || pid > INT_MAX)
            break;
        kill((pid_t)pid, sig);
        n++;
    }
    return n;
}

int rt_cgroup_signal_all(const struct rt_cgroups *cg, int sig, struct oci_error **err)
{
    /* pids or memory or any: every process of the container is in each. */
    const struct rt_cgroup_hier *h = rt_cgroup_find(cg, "pids");
    if (!h)
        h = cg->n ? &cg->h[0] : NULL;
    if (!h)
        return oci_error_set(err, OCI_ERR_STATE, "container has no cgroup");
    int r = signal_dir(h->path, sig);
    if (r < 0)
        return oci_error_setsys(err, OCI_ERR_IO, -r, "signal the processes of %s", h->path);
    return 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = ms * 1000000L};
    nanosleep(&ts, NULL);
}

int rt_cgroup_destroy(struct rt_cgroups *cg, bool kill_first, struct oci_error **err)
{
    int first_error = 0;
    for (size_t i = 0; i < cg->n; i++) {
        struct rt_cgroup_hier *h = &cg->h[i];
        if (h->created_depth <= 0) {
            /* Removing a directory takes its programs along; one we only
             * borrowed keeps them unless we detach ours. */
            if (h->bpf_prog) {
                int r = rt_bpfdev_detach(h->path, h->bpf_prog, first_error ? NULL : err);
                if (r < 0 && !first_error)
                    first_error = r;
            }
            continue;
        }
        int waited = 0;
        for (;;) {
            if (rmdir(h->path) == 0 || errno == ENOENT)
                break;
            if (errno != EBUSY || waited >= RMDIR_WAIT_MS) {
                if (!first_error)
                    first_error =
                        oci_error_setsys(err, OCI_ERR_IO, errno, "cgroup: remove %s", h->path);
                break;
            }
            if (kill_first)
                signal_dir(h->path, SIGKILL);
            sleep_ms(waited < 20 ? 1 : 10);
            waited += waited < 20 ? 1 : 10;
        }
        /* Parents we created, innermost first; a sibling may still use them. */
        _cleanup_free_ char *p = strdup(h->path);
        for (int d = 1; p && d < h->created_depth; d++) {
            char *slash = strrchr(p, '/');
            if (!slash || (size_t)(slash - p) <= strlen(h->mnt))
                break;
            *slash = '\0';
            if (rmdir(p) < 0)
                break;
        }
    }
    return first_error;
}

json_object *rt_cgroup_to_json(const struct rt_cgroups *cg)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < cg->n; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "mount", json_object_new_string(cg->h[i].mnt));
        json_object_object_add(o, "controllers", json_object_new_string(cg->h[i].controllers));
        json_object_object_add(o, "v2", json_object_new_boolean(cg->h[i].v2));
        json_object_object_add(o, "path", json_object_new_string(cg->h[i].path));
        json_object_object_add(o, "cgroup", json_object_new_string(cg->h[i].rel));
        json_object_object_add(o, "created", json_object_new_int(cg->h[i].created_depth));
        if (cg->h[i].bpf_prog)
            json_object_object_add(o, "bpfDeviceProg", json_object_new_int64(cg->h[i].bpf_prog));
        json_object_array_add(a, o);
    }
    return a;
}

int rt_cgroup_from_json(struct rt_cgroups *cg, json_object *a)
{
    memset(cg, 0, sizeof(*cg));
    if (!json_object_is_type(a, json_type_array))
        return -1;
    size_t n = json_object_array_length(a);
    for (size_t i = 0; i < n && cg->n < RT_MAX_HIER; i++) {
        json_object *o = json_object_array_get_idx(a, i), *v;
        struct rt_cgroup_hier *h = &cg->h[cg->n];
        const char *mnt = NULL, *ctl = NULL, *path = NULL, *rel = NULL;
        oimg_json_get_string(&mnt, o, "mount", true, "cgroup", NULL);
        oimg_json_get_string(&ctl, o, "controllers", true, "cgroup", NULL);
        oimg_json_get_string(&path, o, "path", true, "cgroup", NULL);
        oimg_json_get_string(&rel, o, "cgroup", true, "cgroup", NULL);
        if (!mnt || !ctl || !path || !rel)
            return -1;
        /* The path must still be below the hierarchy it names. */
        if (strncmp(path, mnt, strlen(mnt)) != 0 || !path_safe(path))
            return -1;
        h->mnt = strdup(mnt);
        h->controllers = strdup(ctl);
        h->path = strdup(path);
        h->rel = strdup(rel);
        if (json_object_object_get_ex(o, "v2", &v))
            h->v2 = json_object_get_boolean(v);
        if (json_object_object_get_ex(o, "created", &v))
            h->created_depth = json_object_get_int(v);
        if (json_object_object_get_ex(o, "bpfDeviceProg", &v))
            h->bpf_prog = (uint32_t)json_object_get_int64(v);
        cg->n++;
        if (!h->mnt || !h->controllers || !h->path || !h->rel)
            return -1;
    }
    set_unified(cg);
    return 0;
}
