/* The default store: where it is, its lock, and getting an image into it
 * (pull what is missing, unpack it once).  Layout in cmd_store.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/bundle.h>
#include <ociimg/cleanup.h>
#include <ociimg/fs.h>
#include <ociimg/json.h>
#include <ociimg/registry_client.h>

#include "cmd.h"
#include "cmd_store.h"

int cmd_store_path(char **out, const char *opt, struct oci_error **err)
{
    const char *env = getenv("OCIIMG_STORE");
    char *p = NULL;
    if (opt && *opt)
        p = strdup(opt);
    else if (env && *env)
        p = strdup(env);
    else if (geteuid() == 0)
        p = strdup(CMD_STORE_ROOT_DEFAULT);
    else {
        const char *xdg = getenv("XDG_DATA_HOME");
        const char *home = getenv("HOME");
        if (xdg && xdg[0] == '/') {
            if (asprintf(&p, "%s/ociimg", xdg) < 0)
                p = NULL;
        } else if (home && home[0] == '/') {
            if (asprintf(&p, "%s/.local/share/ociimg", home) < 0)
                p = NULL;
        } else
            return oci_error_set(err, OCI_ERR_INVALID,
                                 "no store: set --store, $OCIIMG_STORE or $HOME");
    }
    if (!p)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    *out = p;
    return 0;
}

static int mkdir_p(const char *path, struct oci_error **err)
{
    _cleanup_free_ char *copy = strdup(path);
    if (!copy)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    /* "DIR/" would make DIR itself in the loop, with the parents' mode. */
    for (size_t n = strlen(copy); n > 1 && copy[n - 1] == '/';)
        copy[--n] = '\0';
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, 0755) < 0 && errno != EEXIST)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "create %s", copy);
        *p = '/';
    }
    /* The store holds other users' images' files unpacked: keep it private. */
    if (mkdir(copy, 0700) < 0 && errno != EEXIST)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "create %s", copy);
    return 0;
}

int cmd_store_open(struct cmd_store *s, const char *opt, bool create, struct oci_error **err)
{
    _cleanup_free_ char *root = NULL;
    int ret = cmd_store_path(&root, opt, err);
    if (ret < 0)
        return ret;
    if (create && (ret = mkdir_p(root, err)) < 0)
        return ret;
    _cleanup_close_ int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return oci_error_setsys(err, errno == ENOENT ? OCI_ERR_NOT_FOUND : OCI_ERR_IO, errno,
                                "open the store %s", root);
    if (create) {
        static const char *const dirs[] = {"rootfs", "containers"};
        for (size_t i = 0; i < OCI_ARRAY_SIZE(dirs); i++)
            if (mkdirat(fd, dirs[i], 0700) < 0 && errno != EEXIST)
                return oci_error_setsys(err, OCI_ERR_IO, errno, "create %s/%s", root, dirs[i]);
    }
    int lfd =
        openat(fd, "lock", (create ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lfd < 0 && !(errno == ENOENT && !create))
        return oci_error_setsys(err, OCI_ERR_IO, errno, "open %s/lock", root);
    s->root = TAKE_PTR(root);
    s->fd = TAKE_FD(fd);
    s->lock_fd = lfd;
    return 0;
}

void cmd_store_close(struct cmd_store *s)
{
    free(s->root);
    s->root = NULL;
    if (s->fd >= 0)
        close(s->fd);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    s->fd = s->lock_fd = -1;
}

int cmd_store_lock(struct cmd_store *s, int op, struct oci_error **err)
{
    if (s->lock_fd < 0)
        return 0; /* a read-only look at a store nobody ever wrote */
    while (flock(s->lock_fd, op) < 0) {
        if (errno != EINTR)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "lock %s/lock", s->root);
    }
    return 0;
}

int cmd_store_layout(struct oimg_layout **out, struct cmd_store *s, bool write,
                     struct oci_error **err)
{
    _cleanup_free_ char *p = NULL;
    if (asprintf(&p, "%s/layout", s->root) < 0)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    return oimg_layout_open(out, p, write ? OIMG_LAYOUT_CREATE : OIMG_LAYOUT_READONLY, err);
}

int cmd_store_rootfs_name(char *buf, size_t n, const struct oimg_digest *manifest,
                          struct oci_error **err)
{
    /* Only a parsed digest of a known algorithm becomes a path. */
    struct oimg_digest d;
    int ret = oimg_digest_parse(&d, manifest->str, err);
    if (ret < 0)
        return ret;
    if ((size_t)snprintf(buf, n, "rootfs/%s", oimg_digest_encoded(&d)) >= n)
        return oci_error_set(err, OCI_ERR_INTERNAL, "rootfs path too long");
    return 0;
}

int cmd_store_has_rootfs(const struct cmd_store *s, const struct oimg_digest *manifest)
{
    char name[256], cfg[300];
    if (cmd_store_rootfs_name(name, sizeof(name), manifest, NULL) < 0)
        return 0;
    snprintf(cfg, sizeof(cfg), "%s/config.json", name);
    struct stat st;
    return fstatat(s->fd, cfg, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

int cmd_pull_policy_parse(enum cmd_pull_policy *out, const char *s)
{
    if (strcmp(s, "missing") == 0)
        *out = CMD_PULL_MISSING;
    else if (strcmp(s, "always") == 0)
        *out = CMD_PULL_ALWAYS;
    else if (strcmp(s, "never") == 0)
        *out = CMD_PULL_NEVER;
    else
        return -1;
    return 0;
}

/* ---- getting an image ---- */

static void on_event(void *ud, const struct oreg_event *ev)
{
    const struct cmd_store_get *g = ud;
    if (g->quiet)
        return;
    char sz[32];
    switch (ev->kind) {
    case OREG_EV_NOTE:
        cmd_info("note: %s", ev->msg);
        break;
    case OREG_EV_BLOB_DONE:
        if (ev->desc)
            cmd_info("%.12s: pulled %s", oimg_digest_encoded(&ev->desc->digest),
                     cmd_human_size(sz, sizeof(sz), ev->total));
        break;
    case OREG_EV_BLOB_RETRY:
        if (ev->desc)
            cmd_info("%.12s: retrying: %s", oimg_digest_encoded(&ev->desc->digest),
                     ev->msg ? ev->msg : "");
        break;
    default:
        break;
    }
}

/* Does the stored image run on the wanted platform? */
static bool platform_ok(const struct oimg_image *img, const struct oimg_platform *want)
{
    if (!want || !img->config)
        return true;
    struct oimg_platform have = {
        .os = img->config->os,
        .architecture = img->config->architecture,
        .variant = img->config->variant,
    };
    return have.os && have.architecture && oimg_platform_match(want, &have);
}

/* Looks the name up in the layout: 1 and *manifest set when it is there
 * (for the platform), 0 when not. */
static int lookup(struct oimg_digest *manifest, struct oimg_descriptor *desc_out,
                  const struct oimg_layout *l, const struct cmd_store_get *g,
                  struct oci_error **err)
{
    struct oimg_descriptor desc = {0};
    struct oci_error *e = NULL;
    int ret = oimg_layout_resolve(&desc, l, g->ref->canonical, NULL, &e);
    if (ret < 0) {
        if (ret == -OCI_ERR_NOT_FOUND) {
            oci_error_free(e);
            return 0;
        }
        *err = e;
        return ret;
    }
    struct oimg_image *img = NULL;
    ret = oimg_layout_load_image(&img, l, &desc, g->platform, err);
    if (ret < 0) {
        oimg_descriptor_clear(&desc);
        return oci_error_wrap(err, "load %s from the store", g->ref->canonical);
    }
    bool ok = platform_ok(img, g->platform);
    if (ok)
        *manifest = img->desc.digest;
    oimg_image_free(img);
    if (ok && desc_out)
        *desc_out = desc;
    else
        oimg_descriptor_clear(&desc);
    return ok ? 1 : 0;
}

static int pull(struct oimg_descriptor *desc, struct oimg_layout *l, const struct cmd_store_get *g,
                struct oci_error **err)
{
    struct oreg_client *client = NULL;
    int ret = cmd_remote_client(&client, g->remote, g->jobs, on_event, (void *)g, err);
    if (ret < 0)
        return ret;
    if (!g->quiet)
        cmd_info("Pulling %s", g->ref->canonical);
    struct oreg_pull_result *res = NULL;
    struct oreg_pull_opts po = {.platform = g->platform, .name = g->ref->canonical};
    ret = oreg_pull(&res, client, g->ref, l, &po, err);
    oreg_client_free(client);
    if (ret < 0)
        return oci_error_wrap(err, "pull %s", g->ref->canonical);
    if (!g->quiet)
        cmd_info("Pulled %s (%s) in %.2f s", res->reference, res->desc.digest.str, res->seconds);
    ret = oimg_descriptor_copy(desc, &res->desc, err);
    oreg_pull_result_free(res);
    return ret;
}

static void unpack_opts(struct oimg_unpack_opts *o, const struct cmd_store_get *g)
{
    oimg_unpack_opts_init(o);
    o->platform = g->platform;
    o->no_sync = g->no_sync;
    o->bundle.rootless = geteuid() != 0;
    o->bundle.warn = g->warn;
    /* Entries appear only by rename of a complete unpack, so a directory
     * there without config.json was not made by us: replace it. */
    o->force = true;
}

/* Pulls and, streamed, unpacks: the layers are applied while they download.
 * The entry's name is the manifest digest, known for sure only once the
 * pull is done, so the stream builds STORE/rootfs/.pull-PID (a leftover of
 * a killed run is removed by `prune`, as any dot entry) and that is renamed
 * into place.  *desc and *manifest are set on success. */
static int pull_unpack(struct oimg_descriptor *desc, struct oimg_digest *manifest,
                       struct cmd_store *s, struct oimg_layout *l, const struct cmd_store_get *g,
                       struct oci_error **err)
{
    char tmp[64], name[256];
    snprintf(tmp, sizeof(tmp), "rootfs/.pull-%d", (int)getpid());
    _cleanup_free_ char *dest = NULL;
    if (asprintf(&dest, "%s/%s", s->root, tmp) < 0)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    struct oreg_client *client = NULL;
    int ret = cmd_remote_client(&client, g->remote, g->jobs, on_event, (void *)g, err);
    if (ret < 0)
        return ret;
    if (!g->quiet)
        cmd_info("Pulling and unpacking %s", g->ref->canonical);
    struct oimg_unpack_opts uo;
    unpack_opts(&uo, g);
    struct oreg_pull_result *res = NULL;
    struct oreg_pull_opts po = {.platform = g->platform, .name = g->ref->canonical};
    ret = cmd_pull_unpack(&res, NULL, client, g->ref, l, &po, dest, &uo, err);
    oreg_client_free(client);
    if (ret < 0)
        return oci_error_wrap(err, "pull %s", g->ref->canonical);
    if (!g->quiet) {
        cmd_info("Pulled %s (%s) in %.2f s", res->reference, res->desc.digest.str, res->seconds);
        cmd_info("Unpacked %.19s into the store while pulling", res->desc.digest.str);
    }
    ret = cmd_store_rootfs_name(name, sizeof(name), &res->desc.digest, err);
    if (ret >= 0 && renameat(s->fd, tmp, s->fd, name) < 0) {
        int e = errno;
        _cleanup_close_ int dir = oimg_fs_open_dir(s->fd, "rootfs", err);
        if (dir < 0)
            ret = -OCI_ERR_IO;
        else if (e != ENOTEMPTY && e != EEXIST)
            ret = oci_error_setsys(err, OCI_ERR_IO, e, "rename %s into place", dest);
        else if (cmd_store_has_rootfs(s, &res->desc.digest))
            /* The same image under another name was unpacked already (and
             * may be in use): keep that one. */
            ret = oimg_bundle_remove_tree(dir, tmp + strlen("rootfs/"), err);
        else if ((ret = oimg_bundle_remove_tree(dir, name + strlen("rootfs/"), err)) >= 0 &&
                 renameat(s->fd, tmp, s->fd, name) < 0)
            ret = oci_error_setsys(err, OCI_ERR_IO, errno, "rename %s into place", dest);
    }
    if (ret >= 0)
        ret = oimg_descriptor_copy(desc, &res->desc, err);
    if (ret >= 0)
        *manifest = res->desc.digest;
    oreg_pull_result_free(res);
    return ret;
}

static int unpack(struct cmd_store *s, const struct oimg_layout *l,
                  const struct oimg_descriptor *desc, const struct oimg_digest *manifest,
                  const struct cmd_store_get *g, struct oci_error **err)
{
    char name[256];
    int ret = cmd_store_rootfs_name(name, sizeof(name), manifest, err);
    if (ret < 0)
        return ret;
    _cleanup_free_ char *dest = NULL;
    if (asprintf(&dest, "%s/%s", s->root, name) < 0)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    struct oimg_unpack_opts o;
    unpack_opts(&o, g);
    if (!g->quiet)
        cmd_info("Unpacking %.19s into the store", manifest->str);
    struct oimg_unpack_result res;
    ret = oimg_unpack(&res, l, desc, dest, &o, err);
    if (ret < 0)
        return oci_error_wrap(err, "unpack %s", g->ref->canonical);
    return 0;
}

/* Under the exclusive lock: pull if needed, unpack if needed. */
static int get_locked(struct oimg_digest *manifest, struct cmd_store *s,
                      const struct cmd_store_get *g, struct oci_error **err)
{
    struct oimg_layout *l = NULL;
    int ret = cmd_store_layout(&l, s, true, err);
    if (ret < 0)
        return oci_error_wrap(err, "open the store's layout");
    struct oimg_descriptor desc = {0};
    struct oimg_digest m = {0};
    int found = 0;
    if (g->policy != CMD_PULL_ALWAYS)
        found = ret = lookup(&m, &desc, l, g, err);
    if (ret >= 0 && !found) {
        if (g->policy == CMD_PULL_NEVER)
            ret = oci_error_set(err, OCI_ERR_NOT_FOUND,
                                "%s is not in the store %s and --pull=never was given",
                                g->ref->canonical, s->root);
        else if (g->policy == CMD_PULL_MISSING)
            ret = pull_unpack(&desc, &m, s, l, g, err);
        /* --pull=always: most often the image is there and unchanged;
         * unpack below only if it is not. */
        else if ((ret = pull(&desc, l, g, err)) >= 0) {
            struct oimg_image *img = NULL;
            ret = oimg_layout_load_image(&img, l, &desc, g->platform, err);
            if (ret >= 0)
                m = img->desc.digest;
            oimg_image_free(img);
        }
    }
    if (ret >= 0 && !cmd_store_has_rootfs(s, &m))
        ret = unpack(s, l, &desc, &m, g, err);
    oimg_descriptor_clear(&desc);
    /* A writing handle pins the layout against gc: let go of it now. */
    oimg_layout_free(l);
    if (ret >= 0)
        *manifest = m;
    return ret < 0 ? ret : 0;
}

int cmd_store_get_image(struct oimg_digest *manifest, struct cmd_store *s,
                        const struct cmd_store_get *g, struct oci_error **err)
{
    int ret = cmd_store_lock(s, LOCK_SH, err);
    if (ret < 0)
        return ret;
    /* The usual case, a second run: read-only, under the shared lock, no
     * network. */
    if (g->policy != CMD_PULL_ALWAYS) {
        struct oimg_layout *l = NULL;
        struct oci_error *e = NULL;
        struct oimg_digest m;
        int found = 0;
        if (cmd_store_layout(&l, s, false, &e) >= 0)
            found = lookup(&m, NULL, l, g, &e);
        oimg_layout_free(l);
        oci_error_free(e);
        if (found > 0 && cmd_store_has_rootfs(s, &m)) {
            *manifest = m;
            return 0;
        }
    }
    /* flock cannot upgrade atomically: drop, take exclusive, look again
     * (another run may have done the work meanwhile). */
    if ((ret = cmd_store_lock(s, LOCK_UN, err)) < 0 || (ret = cmd_store_lock(s, LOCK_EX, err)) < 0)
        return ret;
    ret = get_locked(manifest, s, g, err);
    if (ret < 0)
        cmd_store_lock(s, LOCK_UN, NULL);
    return ret;
}

int cmd_container_image(struct oimg_digest *out, int containers_fd, const char *id,
                        struct oci_error **err)
{
    _cleanup_free_ char *path = NULL, *buf = NULL;
    size_t len = 0;
    if (asprintf(&path, "%s/" CMD_STORE_CONTAINER_JSON, id) < 0)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    int ret = oimg_read_file_at(&buf, &len, containers_fd, path, 64 * 1024, err);
    if (ret < 0)
        return ret;
    _cleanup_json_ json_object *o = NULL;
    if ((ret = oimg_json_parse(&o, buf, len, NULL, err)) < 0)
        return ret;
    const char *d = NULL;
    if ((ret = oimg_json_get_string(&d, o, "digest", true, path, err)) < 0)
        return ret;
    return oimg_digest_parse(out, d, err);
}
