/* Image config -> runtime-spec config.json (image-spec conversion.md), with
 * the Linux defaults of docker/podman.  What each field becomes is listed
 * in <ociimg/bundle.h>. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/bundle.h>
#include <ociimg/cleanup.h>
#include <ociimg/fs.h>
#include <ociimg/json.h>

#include "bundle_private.h"

#define ANN "org.opencontainers.image."

/* docker's default capability set. */
static const char *const default_caps[] = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE",
};

static const char *const masked_paths[] = {
    "/proc/asound",      "/proc/acpi",          "/proc/interrupts", "/proc/kcore",
    "/proc/keys",        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
    "/proc/sched_debug", "/proc/scsi",          "/sys/firmware",    "/sys/devices/virtual/powercap",
};

static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

/* Labels that runtimes act on: crun reads run.oci.* (handlers, seccomp
 * plugins and receivers, hook output files on the host, keeping the
 * caller's groups), runc and crun read org.criu.* on checkpoint/restore. */
static const char *const unsafe_label_prefixes[] = {"run.oci.", "org.criu."};

struct mount_def {
    const char *dest, *type, *source;
    const char *opts[8];
};

static const struct mount_def default_mounts[] = {
    {"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}},
    {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
    {"/dev/pts",
     "devpts",
     "devpts",
     {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
    {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
    {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
    {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
    {"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}},
};

/* A rootless runtime can neither mount sysfs nor (on cgroup v1) cgroup in a
 * user namespace it does not own the network namespace of: /sys comes from
 * the host, read-only, with its cgroup mounts. */
static const struct mount_def rootless_sys = {
    "/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"}};

struct conv {
    const struct oimg_image_config *cfg;
    const struct oimg_bundle_opts *o;
    int rootfd;
    bool userns;
    struct oimg_idmap self_uid, self_gid; /* the rootless default maps */
    const struct oimg_idmap *uid_map, *gid_map;
    size_t n_uid_map, n_gid_map;
    struct oimg_bundle_user user;
};

static json_object *strv(const char *const *v, size_t n)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < n && v[i]; i++)
        json_object_array_add(a, json_object_new_string(v[i]));
    return a;
}

static bool has_var(char *const *env, size_t n, const char *name)
{
    size_t l = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (strncmp(env[i], name, l) == 0 && env[i][l] == '=')
            return true;
    return false;
}

static bool id_mapped(const struct oimg_idmap *m, size_t n, uint32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (id >= m[i].container_id && (uint64_t)id - m[i].container_id < m[i].size)
            return true;
    return false;
}

static json_object *process_user(struct conv *c)
{
    json_object *u = json_object_new_object();
    json_object_object_add(u, "uid", json_object_new_int64(c->user.uid));
    json_object_object_add(u, "gid", json_object_new_int64(c->user.gid));
    if (c->userns && !id_mapped(c->uid_map, c->n_uid_map, c->user.uid))
        oci_warnf(c->o->warn, c->o->warn_ctx,
                  "uid %u is not mapped in the user namespace: the runtime will refuse to start "
                  "the process (see --uid-map)",
                  c->user.uid);
    if (c->userns && !id_mapped(c->gid_map, c->n_gid_map, c->user.gid))
        oci_warnf(c->o->warn, c->o->warn_ctx,
                  "gid %u is not mapped in the user namespace: the runtime will refuse to start "
                  "the process (see --gid-map)",
                  c->user.gid);
    json_object *g = json_object_new_array();
    for (size_t i = 0; i < c->user.n_additional_gids; i++) {
        uint32_t gid = c->user.additional_gids[i];
        if (c->userns && !id_mapped(c->gid_map, c->n_gid_map, gid)) {
            oci_warnf(c->o->warn, c->o->warn_ctx,
                      "additional gid %u left out: it is not mapped in the user namespace", gid);
            continue;
        }
        json_object_array_add(g, json_object_new_int64(gid));
    }
    if (json_object_array_length(g))
        json_object_object_add(u, "additionalGids", g);
    else
        json_object_put(g);
    return u;
}

static json_object *process_args(struct conv *c)
{
    const struct oimg_image_config *cfg = c->cfg;
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < cfg->config.n_entrypoint; i++)
        json_object_array_add(a, json_object_new_string(cfg->config.entrypoint[i]));
    for (size_t i = 0; i < cfg->config.n_cmd; i++)
        json_object_array_add(a, json_object_new_string(cfg->config.cmd[i]));
    if (json_object_array_length(a) == 0) {
        /* The runtime-spec needs one argument; this is what `runc spec`
         * and umoci leave there. */
        oci_warnf(c->o->warn, c->o->warn_ctx,
                  "the image has neither Entrypoint nor Cmd: process.args is [\"sh\"]");
        json_object_array_add(a, json_object_new_string("sh"));
    }
    return a;
}

static int process_env(json_object **out, struct conv *c, struct oci_error **err)
{
    const struct oimg_image_config *cfg = c->cfg;
    json_object *e = json_object_new_array();
    for (size_t i = 0; i < cfg->config.n_env; i++)
        json_object_array_add(e, json_object_new_string(cfg->config.env[i]));
    /* Only variables the image does not set (conversion.md, note 1). */
    if (!has_var(cfg->config.env, cfg->config.n_env, "PATH"))
        json_object_array_add(e, json_object_new_string(OIMG_BUNDLE_DEFAULT_PATH));
    if (!has_var(cfg->config.env, cfg->config.n_env, "HOME")) {
        _cleanup_free_ char *home = NULL;
        if (asprintf(&home, "HOME=%s", c->user.home ? c->user.home : "/") < 0) {
            json_object_put(e);
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        }
        json_object_array_add(e, json_object_new_string(home));
    }
    *out = e;
    return 0;
}

static json_object *capabilities(struct conv *c)
{
    size_t n = OCI_ARRAY_SIZE(default_caps);
    json_object *caps = json_object_new_object();
    json_object_object_add(caps, "bounding", strv(default_caps, n));
    /* As docker and podman: a non-root process starts without effective
     * or permitted capabilities (it could only have them through file
     * capabilities or setuid binaries, within the bounding set). */
    size_t np = c->user.uid == 0 ? n : 0;
    json_object_object_add(caps, "effective", strv(default_caps, np));
    json_object_object_add(caps, "permitted", strv(default_caps, np));
    json_object_object_add(caps, "inheritable", json_object_new_array());
    json_object_object_add(caps, "ambient", json_object_new_array());
    return caps;
}

static int process(json_object **out, struct conv *c, struct oci_error **err)
{
    const struct oimg_image_config *cfg = c->cfg;
    _cleanup_json_ json_object *p = json_object_new_object();
    json_object_object_add(p, "terminal", json_object_new_boolean(false));
    json_object_object_add(p, "user", process_user(c));
    json_object_object_add(p, "args", process_args(c));
    json_object *env = NULL;
    int r = process_env(&env, c, err);
    if (r < 0)
        return r;
    json_object_object_add(p, "env", env);
    const char *wd = cfg->config.working_dir;
    if (wd && *wd && *wd != '/') {
        oci_warnf(c->o->warn, c->o->warn_ctx,
                  "WorkingDir `%s` is relative: process.cwd is `/%s` (the runtime-spec needs an "
                  "absolute path)",
                  wd, wd);
        _cleanup_free_ char *abs = NULL;
        if (asprintf(&abs, "/%s", wd) < 0)
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        json_object_object_add(p, "cwd", json_object_new_string(abs));
    } else {
        json_object_object_add(p, "cwd", json_object_new_string(wd && *wd ? wd : "/"));
    }
    json_object_object_add(p, "capabilities", capabilities(c));
    json_object *rl = json_object_new_object();
    json_object_object_add(rl, "type", json_object_new_string("RLIMIT_NOFILE"));
    json_object_object_add(rl, "hard", json_object_new_int(1024));
    json_object_object_add(rl, "soft", json_object_new_int(1024));
    json_object *rls = json_object_new_array();
    json_object_array_add(rls, rl);
    json_object_object_add(p, "rlimits", rls);
    json_object_object_add(p, "noNewPrivileges", json_object_new_boolean(true));
    *out = TAKE_PTR(p);
    return 0;
}

/* ---- mounts ---- */

static json_object *mount_json(const char *dest, const char *type, const char *source,
                               const char *const *opts, size_t nopts, bool strip_ids)
{
    json_object *m = json_object_new_object();
    json_object_object_add(m, "destination", json_object_new_string(dest));
    json_object_object_add(m, "type", json_object_new_string(type));
    json_object_object_add(m, "source", json_object_new_string(source));
    json_object *o = json_object_new_array();
    for (size_t i = 0; i < nopts && opts[i]; i++) {
        /* uid=/gid= name ids the mounting (container) user namespace may
         * not map. */
        if (strip_ids && (strncmp(opts[i], "uid=", 4) == 0 || strncmp(opts[i], "gid=", 4) == 0))
            continue;
        json_object_array_add(o, json_object_new_string(opts[i]));
    }
    json_object_object_add(m, "options", o);
    return m;
}

/* A volume path made absolute and clean; NULL (with a warning) if unusable. */
static char *clean_volume(struct conv *c, const char *vol)
{
    size_t n = strlen(vol);
    char *out = malloc(n + 2);
    if (!out)
        return NULL;
    size_t o = 0;
    const char *p = vol;
    while (*p) {
        while (*p == '/')
            p++;
        const char *s = p;
        while (*p && *p != '/')
            p++;
        size_t l = (size_t)(p - s);
        if (l == 0 || (l == 1 && s[0] == '.'))
            continue;
        if (l == 2 && s[0] == '.' && s[1] == '.') {
            oci_warnf(c->o->warn, c->o->warn_ctx, "volume `%s` left out: it contains `..`", vol);
            free(out);
            return NULL;
        }
        out[o++] = '/';
        memcpy(out + o, s, l);
        o += l;
    }
    out[o] = '\0';
    if (o == 0) {
        oci_warnf(c->o->warn, c->o->warn_ctx, "volume `%s` left out: it is the root", vol);
        free(out);
        return NULL;
    }
    if (vol[0] != '/')
        oci_warnf(c->o->warn, c->o->warn_ctx, "volume `%s` is relative: mounted at `%s`", vol, out);
    return out;
}

static bool under(const char *path, const char *dir)
{
    size_t l = strlen(dir);
    return strncmp(path, dir, l) == 0 && (path[l] == '\0' || path[l] == '/');
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int volume_mounts(json_object *mounts, struct conv *c, struct oci_error **err)
{
    size_t n = c->cfg->config.n_volumes;
    if (!n)
        return 0;
    char **v = calloc(n, sizeof(*v));
    if (!v)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if ((v[k] = clean_volume(c, c->cfg->config.volumes[i])))
            k++;
    /* Parents before children, and the same config.json every time. */
    qsort(v, k, sizeof(*v), cmp_str);
    for (size_t i = 0; i < k; i++) {
        const char *dest = v[i];
        bool skip = i > 0 && strcmp(v[i - 1], dest) == 0;
        for (size_t j = 0; !skip && j < OCI_ARRAY_SIZE(default_mounts); j++)
            skip = strcmp(default_mounts[j].dest, dest) == 0;
        if (!skip && (under(dest, "/proc") || under(dest, "/sys"))) {
            oci_warnf(c->o->warn, c->o->warn_ctx,
                      "volume `%s` left out: runtimes refuse mounts inside /proc and /sys", dest);
            continue;
        }
        if (skip) {
            oci_warnf(c->o->warn, c->o->warn_ctx,
                      "volume `%s` left out: something is mounted there already", dest);
            continue;
        }
        /* The tmpfs takes the owner and mode of the image's directory, so a
         * non-root user can still write where the image lets it. */
        char mode[16] = "mode=755", uid[24] = "", gid[24] = "";
        if (c->rootfd >= 0) {
            struct oci_error *e = NULL;
            _cleanup_close_ int fd =
                oimg_fs_open_in_root(c->rootfd, dest + 1, O_PATH | O_DIRECTORY, 0, &e);
            oci_error_free(e);
            struct stat st;
            if (fd >= 0 && fstat(fd, &st) == 0) {
                snprintf(mode, sizeof(mode), "mode=%o", (unsigned)(st.st_mode & 07777));
                if (st.st_uid)
                    snprintf(uid, sizeof(uid), "uid=%u", (unsigned)st.st_uid);
                if (st.st_gid)
                    snprintf(gid, sizeof(gid), "gid=%u", (unsigned)st.st_gid);
            }
        }
        const char *opts[] = {"nosuid", "nodev", mode, uid[0] ? uid : NULL, NULL, NULL};
        if (gid[0])
            opts[uid[0] ? 4 : 3] = gid;
        json_object_array_add(
            mounts, mount_json(dest, "tmpfs", "tmpfs", opts, OCI_ARRAY_SIZE(opts), c->userns));
    }
    for (size_t i = 0; i < k; i++)
        free(v[i]);
    free(v);
    return 0;
}

static int mounts(json_object **out, struct conv *c, struct oci_error **err)
{
    _cleanup_json_ json_object *m = json_object_new_array();
    for (size_t i = 0; i < OCI_ARRAY_SIZE(default_mounts); i++) {
        const struct mount_def *d = &default_mounts[i];
        if (c->o->rootless && strcmp(d->dest, "/sys/fs/cgroup") == 0)
            continue;
        if (c->o->rootless && strcmp(d->dest, "/sys") == 0)
            d = &rootless_sys;
        json_object_array_add(m, mount_json(d->dest, d->type, d->source, d->opts,
                                            OCI_ARRAY_SIZE(d->opts), c->userns));
    }
    int r = volume_mounts(m, c, err);
    if (r < 0)
        return r;
    *out = TAKE_PTR(m);
    return 0;
}

/* ---- annotations ---- */

static int join(char **out, char *const *v, size_t n, bool sort, struct oci_error **err)
{
    _cleanup_free_ char **tmp = calloc(n ? n : 1, sizeof(*tmp));
    if (!tmp)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    size_t len = 1;
    for (size_t i = 0; i < n; i++) {
        tmp[i] = v[i];
        len += strlen(v[i]) + 1;
    }
    if (sort)
        qsort(tmp, n, sizeof(*tmp), cmp_str);
    char *s = malloc(len);
    if (!s)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            s[o++] = ',';
        size_t l = strlen(tmp[i]);
        memcpy(s + o, tmp[i], l);
        o += l;
    }
    s[o] = '\0';
    *out = s;
    return 0;
}

static void put_ann(json_object *a, const char *key, const char *value)
{
    if (value && *value)
        json_object_object_add(a, key, json_object_new_string(value));
}

static int annotations(json_object **out, struct conv *c, struct oci_error **err)
{
    const struct oimg_image_config *cfg = c->cfg;
    _cleanup_json_ json_object *a = json_object_new_object();
    put_ann(a, ANN "os", cfg->os);
    put_ann(a, ANN "architecture", cfg->architecture);
    put_ann(a, ANN "variant", cfg->variant);
    put_ann(a, ANN "os.version", cfg->os_version);
    if (cfg->n_os_features) {
        _cleanup_free_ char *f = NULL;
        if (join(&f, cfg->os_features, cfg->n_os_features, false, err) < 0)
            return -OCI_ERR_NOMEM;
        put_ann(a, ANN "os.features", f);
    }
    put_ann(a, ANN "author", cfg->author);
    put_ann(a, ANN "created", cfg->created);
    put_ann(a, ANN "stopSignal", cfg->config.stop_signal);
    if (cfg->config.n_exposed_ports) {
        _cleanup_free_ char *p = NULL;
        if (join(&p, cfg->config.exposed_ports, cfg->config.n_exposed_ports, true, err) < 0)
            return -OCI_ERR_NOMEM;
        put_ann(a, ANN "exposedPorts", p);
    }
    /* Labels win over the implicit annotations (conversion.md). */
    for (size_t i = 0; i < cfg->config.labels.n; i++) {
        const struct oimg_kv *kv = &cfg->config.labels.items[i];
        bool unsafe = false;
        for (size_t j = 0; j < OCI_ARRAY_SIZE(unsafe_label_prefixes); j++)
            unsafe |=
                strncmp(kv->key, unsafe_label_prefixes[j], strlen(unsafe_label_prefixes[j])) == 0;
        if (unsafe) {
            oci_warnf(c->o->warn, c->o->warn_ctx,
                      "label `%s` not converted to an annotation: runtimes act on it", kv->key);
            continue;
        }
        json_object_object_add(a, kv->key, json_object_new_string(kv->value ? kv->value : ""));
    }
    *out = TAKE_PTR(a);
    return 0;
}

/* ---- linux ---- */

static json_object *idmaps(const struct oimg_idmap *m, size_t n)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "containerID", json_object_new_int64(m[i].container_id));
        json_object_object_add(e, "hostID", json_object_new_int64(m[i].host_id));
        json_object_object_add(e, "size", json_object_new_int64(m[i].size));
        json_object_array_add(a, e);
    }
    return a;
}

static json_object *linux_section(struct conv *c)
{
    json_object *l = json_object_new_object();
    if (c->userns) {
        json_object_object_add(l, "uidMappings", idmaps(c->uid_map, c->n_uid_map));
        json_object_object_add(l, "gidMappings", idmaps(c->gid_map, c->n_gid_map));
    }
    if (!c->o->rootless) {
        /* Deny every device; runtimes add the standard ones (/dev/null,
         * /dev/zero, /dev/tty, ...) they create themselves. */
        json_object *dev = json_object_new_object();
        json_object_object_add(dev, "allow", json_object_new_boolean(false));
        json_object_object_add(dev, "access", json_object_new_string("rwm"));
        json_object *devs = json_object_new_array();
        json_object_array_add(devs, dev);
        json_object *res = json_object_new_object();
        json_object_object_add(res, "devices", devs);
        json_object_object_add(l, "resources", res);
    }
    json_object *ns = json_object_new_array();
    static const char *const types[] = {"pid", "network", "ipc", "uts", "mount", "cgroup"};
    for (size_t i = 0; i < OCI_ARRAY_SIZE(types); i++) {
        /* Rootless: the host's network, as `runc spec --rootless` (an
         * unprivileged user could not configure a new one). */
        if (c->o->rootless && strcmp(types[i], "network") == 0)
            continue;
        json_object *e = json_object_new_object();
        json_object_object_add(e, "type", json_object_new_string(types[i]));
        json_object_array_add(ns, e);
    }
    if (c->userns) {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "type", json_object_new_string("user"));
        json_object_array_add(ns, e);
    }
    json_object_object_add(l, "namespaces", ns);
    json_object_object_add(l, "maskedPaths", strv(masked_paths, OCI_ARRAY_SIZE(masked_paths)));
    json_object_object_add(l, "readonlyPaths",
                           strv(readonly_paths, OCI_ARRAY_SIZE(readonly_paths)));
    if (!c->o->no_seccomp)
        json_object_object_add(l, "seccomp", oimg_bundle_seccomp_profile(c->cfg->architecture));
    return l;
}

void oimg_bundle_opts_init(struct oimg_bundle_opts *o)
{
    memset(o, 0, sizeof(*o));
}

int oimg_bundle_config(json_object **out, const struct oimg_image_config *cfg, int rootfd,
                       const struct oimg_bundle_opts *opts, struct oci_error **err)
{
    struct oimg_bundle_opts defaults;
    if (!opts) {
        oimg_bundle_opts_init(&defaults);
        opts = &defaults;
    }
    if (!cfg)
        return oci_error_set(err, OCI_ERR_INVALID, "convert image config: no image config");
    if (cfg->os && strcmp(cfg->os, "linux") != 0)
        return oci_error_set(err, OCI_ERR_UNSUPPORTED,
                             "convert image config: os `%s` (only linux images make bundles)",
                             cfg->os);
    struct conv c = {.cfg = cfg, .o = opts, .rootfd = rootfd};
    c.uid_map = opts->uid_map;
    c.n_uid_map = opts->n_uid_map;
    c.gid_map = opts->gid_map;
    c.n_gid_map = opts->n_gid_map;
    if (opts->rootless && !c.n_uid_map) {
        c.self_uid = (struct oimg_idmap){0, (uint32_t)geteuid(), 1};
        c.uid_map = &c.self_uid;
        c.n_uid_map = 1;
    }
    if (opts->rootless && !c.n_gid_map) {
        c.self_gid = (struct oimg_idmap){0, (uint32_t)getegid(), 1};
        c.gid_map = &c.self_gid;
        c.n_gid_map = 1;
    }
    c.userns = opts->rootless || c.n_uid_map || c.n_gid_map;
    if (c.userns && (!c.n_uid_map || !c.n_gid_map))
        return oci_error_set(err, OCI_ERR_INVALID,
                             "convert image config: a user namespace needs both a uid and a gid "
                             "map");

    int r = oimg_bundle_resolve_user(&c.user, rootfd, cfg->config.user, err);
    if (r < 0)
        return oci_error_wrap(err, "convert image config");

    _cleanup_json_ json_object *o = json_object_new_object();
    json_object *proc = NULL, *mnt = NULL, *ann = NULL;
    if (process(&proc, &c, err) < 0 || mounts(&mnt, &c, err) < 0 ||
        annotations(&ann, &c, err) < 0) {
        json_object_put(proc);
        json_object_put(mnt);
        oimg_bundle_user_clear(&c.user);
        return oci_error_wrap(err, "convert image config");
    }
    json_object_object_add(o, "ociVersion", json_object_new_string(OIMG_BUNDLE_OCI_VERSION));
    json_object_object_add(o, "process", proc);
    json_object *root = json_object_new_object();
    json_object_object_add(root, "path", json_object_new_string("rootfs"));
    json_object_object_add(root, "readonly", json_object_new_boolean(false));
    json_object_object_add(o, "root", root);
    json_object_object_add(
        o, "hostname",
        json_object_new_string(opts->hostname ? opts->hostname : OIMG_BUNDLE_DEFAULT_HOSTNAME));
    json_object_object_add(o, "mounts", mnt);
    json_object_object_add(o, "annotations", ann);
    json_object_object_add(o, "linux", linux_section(&c));
    oimg_bundle_user_clear(&c.user);
    *out = TAKE_PTR(o);
    return 0;
}
