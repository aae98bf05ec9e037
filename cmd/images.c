/* ociimg images, rmi, prune: look after the default store (cmd_store.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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
#include <ociimg/layout.h>
#include <ociimg/registry.h>
#include <ociimg/runtime.h>

#include "cmd.h"
#include "cmd_store.h"

/* The options all three take; *json and *dry may be NULL when not offered. */
static int parse_opts(const char **store, bool *json, bool *dry, bool *quiet, int argc, char **argv,
                      const struct ociimg_cmd *self)
{
    enum { O_STORE = 1, O_JSON, O_DRY, O_QUIET };
    static const struct option opts[] = {
        {"store", required_argument, NULL, O_STORE},
        {"json", no_argument, NULL, O_JSON},
        {"dry-run", no_argument, NULL, O_DRY},
        {"quiet", no_argument, NULL, O_QUIET},
        {0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
        switch (c) {
        case O_STORE:
            *store = optarg;
            break;
        case O_JSON:
            if (!json)
                return cmd_usage_error(self, "unknown option `--json`");
            *json = true;
            break;
        case O_DRY:
            if (!dry)
                return cmd_usage_error(self, "unknown option `--dry-run`");
            *dry = true;
            break;
        case 'q':
        case O_QUIET:
            *quiet = true;
            break;
        default:
            return cmd_bad_option(self, argv);
        }
    }
    return 0;
}

/* Opens the store; a store never created is fine (nothing in it): 1. */
static int open_store(struct cmd_store *s, const char *opt, bool create, struct oci_error **err)
{
    struct oci_error *e = NULL;
    int ret = cmd_store_open(s, opt, create, &e);
    if (ret == -OCI_ERR_NOT_FOUND) {
        oci_error_free(e);
        return 1;
    }
    if (ret < 0)
        *err = e;
    return ret < 0 ? ret : 0;
}

/* The store's layout, or *l = NULL when none was made yet: 0. */
static int open_layout(struct oimg_layout **l, struct cmd_store *s, bool write,
                       struct oci_error **err)
{
    struct oci_error *e = NULL;
    int ret = cmd_store_layout(l, s, write, &e);
    if (ret == -OCI_ERR_NOT_FOUND) {
        oci_error_free(e);
        return 0;
    }
    if (ret < 0)
        *err = e;
    return ret < 0 ? ret : 0;
}

/* The manifest digests the store's containers use (stopped or running). */
struct digest_set {
    struct oimg_digest *v;
    size_t n;
};

static bool set_has(const struct digest_set *set, const struct oimg_digest *d)
{
    for (size_t i = 0; i < set->n; i++)
        if (oimg_digest_equal(&set->v[i], d))
            return true;
    return false;
}

static int set_add(struct digest_set *set, const struct oimg_digest *d)
{
    if (set_has(set, d))
        return 0;
    struct oimg_digest *v = realloc(set->v, (set->n + 1) * sizeof(*v));
    if (!v)
        return -OCI_ERR_NOMEM;
    set->v = v;
    set->v[set->n++] = *d;
    return 0;
}

/* Incomplete is an error, not a shorter list: what is missing from it would
 * look unused and be removed. */
static int container_images(struct digest_set *out, const struct cmd_store *s,
                            struct oci_error **err)
{
    int fd = openat(s->fd, "containers", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return oci_error_setsys(err, OCI_ERR_IO, e, "read %s/containers", s->root);
    }
    int ret = 0;
    struct dirent *e;
    size_t seen = 0;
    while (ret >= 0 && (e = readdir(d))) {
        if (seen++ >= CMD_STORE_MAX_ENTRIES) {
            ret = oci_error_set(err, OCI_ERR_TOO_LARGE, "more than %d entries in %s/containers",
                                CMD_STORE_MAX_ENTRIES, s->root);
            break;
        }
        if (e->d_name[0] == '.')
            continue;
        struct oimg_digest dg;
        struct oci_error *ce = NULL;
        if (cmd_container_image(&dg, dirfd(d), e->d_name, &ce) >= 0 && set_add(out, &dg) < 0)
            ret = oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        oci_error_free(ce);
    }
    closedir(d);
    return ret;
}

/* ---- images ---- */

static char *image_created(const struct oimg_layout *l, const struct oimg_descriptor *desc)
{
    struct oimg_image *img = NULL;
    struct oci_error *e = NULL;
    char *c = NULL;
    if (oimg_layout_load_image(&img, l, desc, NULL, &e) >= 0 && img->config && img->config->created)
        c = strdup(img->config->created);
    oimg_image_free(img);
    oci_error_free(e);
    return c;
}

static int images(int argc, char **argv)
{
    const char *store = NULL;
    bool json = false, quiet = false;
    int ret = parse_opts(&store, &json, NULL, &quiet, argc, argv, &ociimg_cmd_images);
    if (ret)
        return ret;
    if (optind != argc)
        return cmd_usage_error(&ociimg_cmd_images, "no arguments expected");
    struct oci_error *err = NULL;
    struct cmd_store s = CMD_STORE_INIT;
    struct oimg_layout *l = NULL;
    struct oimg_image_summary *v = NULL;
    size_t n = 0;
    ret = open_store(&s, store, false, &err);
    if (ret == 0)
        ret = open_layout(&l, &s, false, &err);
    if (ret == 0 && l)
        ret = oimg_layout_list_images(&v, &n, l, &err);
    if (ret < 0) {
        cmd_store_close(&s);
        return cmd_fail("images", err);
    }
    _cleanup_json_ json_object *arr = json ? json_object_new_array() : NULL;
    if (!json && !quiet)
        printf("%-44s %-19s %-10s %-8s %s\n", "REFERENCE", "DIGEST", "SIZE", "UNPACKED", "CREATED");
    for (size_t i = 0; i < n; i++) {
        const char *name = v[i].name ? v[i].name : "<none>";
        bool unpacked = s.fd >= 0 && cmd_store_has_rootfs(&s, &v[i].desc.digest);
        _cleanup_free_ char *created = image_created(l, &v[i].desc);
        if (quiet) {
            printf("%s\n", name);
            continue;
        }
        if (json) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "reference", json_object_new_string(name));
            json_object_object_add(o, "digest", json_object_new_string(v[i].desc.digest.str));
            json_object_object_add(
                o, "mediaType",
                json_object_new_string(v[i].desc.media_type ? v[i].desc.media_type : ""));
            json_object_object_add(o, "size", json_object_new_int64((int64_t)v[i].total_size));
            json_object_object_add(o, "unpacked", json_object_new_boolean(unpacked));
            if (unpacked) {
                char rn[256];
                if (cmd_store_rootfs_name(rn, sizeof(rn), &v[i].desc.digest, NULL) >= 0)
                    json_object_object_add(
                        o, "unpackedSize",
                        json_object_new_int64((int64_t)cmd_tree_usage(s.fd, rn)));
            }
            json_object_object_add(o, "created", created ? json_object_new_string(created) : NULL);
            json_object *pl = json_object_new_array();
            for (size_t k = 0; k < v[i].n_platforms; k++)
                json_object_array_add(pl, json_object_new_string(v[i].platforms[k]));
            json_object_object_add(o, "platforms", pl);
            json_object_array_add(arr, o);
            continue;
        }
        char sz[32];
        printf("%-44s %-19.19s %-10s %-8s %s\n", name, v[i].desc.digest.str,
               cmd_human_size(sz, sizeof(sz), v[i].total_size), unpacked ? "yes" : "no",
               created ? created : "-");
    }
    if (json) {
        _cleanup_free_ char *txt = oimg_json_dump(arr, true);
        printf("%s\n", txt ? txt : "[]");
    }
    oimg_image_summaries_free(v, n);
    oimg_layout_free(l);
    cmd_store_close(&s);
    return EXIT_OK;
}

const struct ociimg_cmd ociimg_cmd_images = {
    .name = "images",
    .run = images,
    .summary = "list the images in the store `run` uses",
    .usage = "Usage: ociimg images [--store DIR] [--json | -q]\n\n"
             "Lists the images `ociimg run REF` pulled into the store (--store, else\n"
             "$OCIIMG_STORE, else /var/lib/ociimg as root and $XDG_DATA_HOME/ociimg\n"
             "otherwise): reference, manifest digest, size of its blobs, whether it is\n"
             "unpacked, and when the image was created.\n\n"
             "Options:\n"
             "  --store DIR   the store\n"
             "  --json        a JSON array of {reference, digest, mediaType, size, unpacked,\n"
             "                unpackedSize (bytes on disk, when unpacked), created, platforms}\n"
             "  -q, --quiet   only the references\n\n"
             "Examples:\n"
             "  ociimg images\n"
             "  ociimg images --json | jq -r '.[].reference'\n",
};

/* ---- rmi and prune ---- */

struct freed {
    uint64_t bytes;
    bool quiet;
};

/* Removes STORE/rootfs/<hex> unless an index entry or a container uses it. */
static int remove_rootfs(struct freed *f, struct cmd_store *s, const char *name,
                         struct oci_error **err)
{
    char path[300];
    snprintf(path, sizeof(path), "rootfs/%s", name);
    _cleanup_close_ int dir = oimg_fs_open_dir(s->fd, "rootfs", err);
    if (dir < 0)
        return dir;
    uint64_t bytes = cmd_tree_usage(dir, name);
    int ret = oimg_bundle_remove_tree(dir, name, err);
    if (ret < 0)
        return oci_error_wrap(err, "remove %s/%s", s->root, path);
    f->bytes += bytes;
    if (!f->quiet) {
        char sz[32];
        printf("Deleted %s (%s)\n", path, cmd_human_size(sz, sizeof(sz), bytes));
    }
    return 0;
}

static bool tagged(const struct oimg_layout *l, const struct oimg_digest *d)
{
    struct oimg_index *idx = NULL;
    struct oci_error *e = NULL;
    bool yes = true; /* when in doubt, keep */
    if (oimg_layout_read_index(&idx, l, &e) >= 0) {
        yes = false;
        for (size_t i = 0; i < idx->n_manifests; i++)
            if (oimg_digest_equal(&idx->manifests[i].digest, d))
                yes = true;
    }
    oimg_index_free(idx);
    oci_error_free(e);
    return yes;
}

static int gc(struct freed *f, struct oimg_layout *l, struct oci_error **err)
{
    struct oimg_gc_report r = {0};
    int ret = oimg_layout_gc(&r, l, false, err);
    if (ret < 0)
        return oci_error_wrap(err, "gc");
    f->bytes += r.bytes_freed;
    if (!f->quiet && r.n_removed) {
        char sz[32];
        printf("Removed %zu unreferenced blob%s (%s)\n", r.n_removed, r.n_removed == 1 ? "" : "s",
               cmd_human_size(sz, sizeof(sz), r.bytes_freed));
    }
    oimg_gc_report_clear(&r);
    return 0;
}

static void print_freed(const struct freed *f)
{
    char sz[32];
    if (!f->quiet)
        printf("Total freed: %s\n", cmd_human_size(sz, sizeof(sz), f->bytes));
}

/* The index.json name an rmi argument means: its canonical reference, or
 * the argument itself as listed by `images`. */
static int find_name(char **out, struct oimg_descriptor *desc, const struct oimg_layout *l,
                     const char *arg, struct oci_error **err)
{
    struct oreg_ref *ref = NULL;
    struct oci_error *e = NULL;
    if (oreg_ref_parse(&ref, arg, &e) >= 0 &&
        oimg_layout_resolve(desc, l, ref->canonical, NULL, NULL) >= 0) {
        *out = strdup(ref->canonical);
        oreg_ref_free(ref);
        return *out ? 0 : oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    oreg_ref_free(ref);
    oci_error_free(e);
    if (oimg_layout_resolve(desc, l, arg, NULL, NULL) >= 0) {
        *out = strdup(arg);
        return *out ? 0 : oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    char q[1024];
    oci_quote(q, sizeof(q), arg, strlen(arg), 200);
    return oci_error_set(err, OCI_ERR_NOT_FOUND, "no image %s in the store", q);
}

static int rmi(int argc, char **argv)
{
    const char *store = NULL;
    bool quiet = false;
    int ret = parse_opts(&store, NULL, NULL, &quiet, argc, argv, &ociimg_cmd_rmi);
    if (ret)
        return ret;
    if (optind >= argc)
        return cmd_usage_error(&ociimg_cmd_rmi, "expected one or more image references");
    struct oci_error *err = NULL;
    struct cmd_store s = CMD_STORE_INIT;
    struct oimg_layout *l = NULL;
    quiet = quiet || cmd_quiet();
    struct freed f = {.quiet = quiet};
    int code = EXIT_OK;
    ret = open_store(&s, store, false, &err);
    if (ret == 1)
        ret = oci_error_set(&err, OCI_ERR_NOT_FOUND, "no store yet: nothing to remove");
    if (ret >= 0)
        ret = cmd_store_lock(&s, LOCK_EX, &err);
    if (ret >= 0)
        ret = cmd_store_layout(&l, &s, true, &err);
    if (ret < 0) {
        cmd_store_close(&s);
        return cmd_fail("rmi", err);
    }
    struct digest_set used = {0};
    struct oci_error *uerr = NULL;
    bool used_known = container_images(&used, &s, &uerr) >= 0;
    for (int i = optind; i < argc; i++) {
        _cleanup_free_ char *name = NULL;
        struct oimg_descriptor desc = {0};
        ret = find_name(&name, &desc, l, argv[i], &err);
        if (ret >= 0)
            ret = oimg_layout_untag(l, name, &err);
        if (ret < 0) {
            int c = cmd_fail("rmi", err);
            err = NULL;
            if (code == EXIT_OK)
                code = c;
            oimg_descriptor_clear(&desc);
            continue;
        }
        if (!quiet)
            printf("Untagged %s\n", name);
        char rn[256];
        if (!tagged(l, &desc.digest) &&
            cmd_store_rootfs_name(rn, sizeof(rn), &desc.digest, NULL) >= 0 &&
            cmd_store_has_rootfs(&s, &desc.digest)) {
            if (!used_known) {
                cmd_warn("rmi", "kept %s: %s", rn, uerr->msg);
            } else if (set_has(&used, &desc.digest)) {
                if (!quiet)
                    printf("Kept %s: containers use it (`ociimg prune` removes it after them)\n",
                           rn);
            } else if (remove_rootfs(&f, &s, rn + strlen("rootfs/"), &err) < 0) {
                code = cmd_fail("rmi", err);
                err = NULL;
            }
        }
        oimg_descriptor_clear(&desc);
    }
    if (gc(&f, l, &err) < 0)
        code = cmd_fail("rmi", err);
    print_freed(&f);
    free(used.v);
    oci_error_free(uerr);
    oimg_layout_free(l);
    cmd_store_close(&s);
    return code;
}

const struct ociimg_cmd ociimg_cmd_rmi = {
    .name = "rmi",
    .run = rmi,
    .summary = "remove images from the store `run` uses",
    .usage = "Usage: ociimg rmi [--store DIR] [-q] REF...\n\n"
             "Untags each REF (as `run` took it, or as `images` lists it) in the store,\n"
             "removes its unpacked rootfs unless a container still uses it (then `prune`\n"
             "removes it once they are gone), and garbage-collects blobs nothing references\n"
             "any more.  Prints what was freed.  Exit 3 if a REF is not in the store.\n\n"
             "Options:\n"
             "  --store DIR   the store (default: as for `ociimg run`)\n"
             "  -q, --quiet   print nothing but errors\n\n"
             "Examples:\n"
             "  ociimg rmi busybox\n"
             "  ociimg rmi localhost:5000/test/busybox:1 alpine:3.19\n",
};

/* The runtime root a container's run used (container.json), or NULL. */
static char *runtime_root(int containers, const char *id)
{
    _cleanup_free_ char *path = NULL, *buf = NULL;
    size_t len = 0;
    _cleanup_json_ json_object *o = NULL;
    const char *root = NULL;
    if (asprintf(&path, "%s/" CMD_STORE_CONTAINER_JSON, id) < 0 ||
        oimg_read_file_at(&buf, &len, containers, path, 64 * 1024, NULL) < 0 ||
        oimg_json_parse(&o, buf, len, NULL, NULL) < 0 ||
        oimg_json_get_string(&root, o, "runtimeRoot", false, path, NULL) < 0 || !root)
        return NULL;
    return strdup(root);
}

/* A stopped container's directory is unlocked: its `run` is gone.  If that
 * run was killed, the runtime may still know the container: a stopped one
 * is deleted there first, a running one is left alone. */
static bool container_stopped(int containers, const char *id, bool dry, bool quiet)
{
    _cleanup_close_ int fd =
        openat(containers, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
        return false;
    _cleanup_free_ char *root = runtime_root(containers, id);
    if (!root || !ort_id_valid(id))
        return true;
    struct ort_context ctx = {.root = root};
    _cleanup_free_ char *state = NULL;
    struct oci_error *e = NULL;
    if (ort_state(&ctx, id, &state, &e) < 0) {
        oci_error_free(e);
        return true; /* unknown to the runtime: nothing runs there */
    }
    _cleanup_json_ json_object *o = NULL;
    const char *status = NULL;
    if (oimg_json_parse(&o, state, strlen(state), NULL, NULL) >= 0)
        oimg_json_get_string(&status, o, "status", false, "state", NULL);
    if (status && strcmp(status, "stopped") == 0 && (dry || ort_delete(&ctx, id, false, &e) >= 0))
        return true;
    if (!quiet)
        cmd_info("ociimg: prune: note: container %s is %s in the runtime (%s); left alone", id,
                 status ? status : "unknown", root);
    oci_error_free(e);
    return false;
}

static int prune_containers(struct freed *f, struct cmd_store *s, bool dry, struct oci_error **err)
{
    _cleanup_close_ int fd = openat(s->fd, "containers", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    _cleanup_close_ int dfd = dup(fd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "read %s/containers", s->root);
    TAKE_FD(dfd);
    int ret = 0;
    struct dirent *e;
    size_t seen = 0;
    while (ret >= 0 && (e = readdir(d)) && seen++ < CMD_STORE_MAX_ENTRIES) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (!container_stopped(fd, e->d_name, dry, f->quiet))
            continue;
        uint64_t bytes = cmd_tree_usage(fd, e->d_name);
        if (!dry && (ret = oimg_bundle_remove_tree(fd, e->d_name, err)) < 0) {
            oci_error_wrap(err, "remove container %s", e->d_name);
            break;
        }
        f->bytes += bytes;
        if (!f->quiet) {
            char sz[32];
            printf("%s container %s (%s)\n", dry ? "Would remove" : "Removed", e->d_name,
                   cmd_human_size(sz, sizeof(sz), bytes));
        }
    }
    closedir(d);
    return ret;
}

/* Rootfs entries no image and no container uses, and temp dirs that a
 * killed unpack left (nobody unpacks: we hold the exclusive lock). */
static int prune_rootfs(struct freed *f, struct cmd_store *s, const struct oimg_layout *l, bool dry,
                        struct oci_error **err)
{
    struct digest_set used = {0};
    if (container_images(&used, s, err) < 0) {
        free(used.v);
        return oci_error_wrap(err, "which images containers use");
    }
    struct oimg_index *idx = NULL;
    struct oci_error *e = NULL;
    if (l && oimg_layout_read_index(&idx, l, &e) < 0) {
        free(used.v);
        *err = e;
        return oci_error_wrap(err, "read the store's index");
    }
    int ret = 0;
    for (size_t i = 0; idx && i < idx->n_manifests && ret >= 0; i++)
        if (set_add(&used, &idx->manifests[i].digest) < 0)
            ret = oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    oimg_index_free(idx);
    if (ret < 0) {
        free(used.v);
        return ret;
    }

    _cleanup_close_ int fd = openat(s->fd, "rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = NULL;
    if (fd >= 0) {
        int dfd = dup(fd);
        if (dfd >= 0 && !(d = fdopendir(dfd)))
            close(dfd);
    }
    struct dirent *ent;
    size_t seen = 0;
    while (d && ret >= 0 && (ent = readdir(d)) && seen++ < CMD_STORE_MAX_ENTRIES) {
        const char *n = ent->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
            continue;
        bool stale = n[0] == '.';
        if (!stale) {
            struct oimg_digest dg;
            char ds[300];
            snprintf(ds, sizeof(ds), "%s:%s", strlen(n) == 128 ? "sha512" : "sha256", n);
            if (oimg_digest_parse(&dg, ds, NULL) < 0 || set_has(&used, &dg))
                continue;
        }
        uint64_t bytes = cmd_tree_usage(fd, n);
        if (!dry && (ret = oimg_bundle_remove_tree(fd, n, err)) < 0) {
            oci_error_wrap(err, "remove %s/rootfs/%s", s->root, n);
            break;
        }
        f->bytes += bytes;
        if (!f->quiet) {
            char sz[32];
            printf("%s %s rootfs/%s (%s)\n", dry ? "Would remove" : "Removed",
                   stale ? "unfinished unpack" : "unused", n,
                   cmd_human_size(sz, sizeof(sz), bytes));
        }
    }
    if (d)
        closedir(d);
    free(used.v);
    return ret;
}

static int prune(int argc, char **argv)
{
    const char *store = NULL;
    bool quiet = false, dry = false;
    int ret = parse_opts(&store, NULL, &dry, &quiet, argc, argv, &ociimg_cmd_prune);
    if (ret)
        return ret;
    if (optind != argc)
        return cmd_usage_error(&ociimg_cmd_prune, "no arguments expected");
    struct oci_error *err = NULL;
    struct cmd_store s = CMD_STORE_INIT;
    struct oimg_layout *l = NULL;
    quiet = quiet || cmd_quiet();
    struct freed f = {.quiet = quiet};
    ret = open_store(&s, store, false, &err);
    if (ret == 1) {
        print_freed(&f);
        return EXIT_OK;
    }
    if (ret >= 0)
        ret = cmd_store_lock(&s, LOCK_EX, &err);
    if (ret >= 0)
        ret = prune_containers(&f, &s, dry, &err);
    if (ret >= 0)
        ret = open_layout(&l, &s, !dry, &err);
    if (ret >= 0)
        ret = prune_rootfs(&f, &s, l, dry, &err);
    if (ret >= 0 && l && !dry)
        ret = gc(&f, l, &err);
    oimg_layout_free(l);
    cmd_store_close(&s);
    if (ret < 0)
        return cmd_fail("prune", err);
    print_freed(&f);
    return EXIT_OK;
}

const struct ociimg_cmd ociimg_cmd_prune = {
    .name = "prune",
    .run = prune,
    .summary = "remove stopped containers and unused data from the store",
    .usage = "Usage: ociimg prune [--store DIR] [--dry-run] [-q]\n\n"
             "Removes from the store `ociimg run` uses: the directories (writable layers) of\n"
             "stopped containers (kept by `run` without --rm), unpacked rootfs entries no\n"
             "image and no container uses, what a killed unpack left, and blobs nothing\n"
             "references (gc).  Running containers are left alone.  Prints what was freed.\n\n"
             "Options:\n"
             "  --store DIR   the store (default: as for `ociimg run`)\n"
             "  --dry-run     only print what would be removed (blobs are not listed)\n"
             "  -q, --quiet   print nothing but errors\n\n"
             "Examples:\n"
             "  ociimg prune\n"
             "  ociimg prune --dry-run --store /srv/ociimg\n",
};
