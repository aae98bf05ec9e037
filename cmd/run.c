/* ociimg run: a registry image from the default store (pulled and unpacked
 * once, then a writable layer per container), or an image from a layout
 * unpacked into a temporary bundle; run with the bundled runtime
 * (libruntime), in the foreground. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ociimg/bundle.h>
#include <ociimg/cleanup.h>
#include <ociimg/fs.h>
#include <ociimg/json.h>
#include <ociimg/runtime.h>

#include "cmd.h"
#include "cmd_layout.h"
#include "cmd_store.h"

static void warn_stderr(void *ctx, const char *msg)
{
    (void)ctx;
    cmd_warn("run", "%s", msg);
}

static void log_stderr(void *data, int level, const char *msg)
{
    (void)data;
    if (level == ORT_LOG_WARN)
        cmd_warn("run", "%s", msg);
    else if (level < ORT_LOG_WARN)
        fprintf(stderr, "ociimg: run: %s\n", msg);
}

/* Removes the run's temp directory (the tree remover wants a parent fd). */
static void remove_tmp(char *tmp)
{
    struct oci_error *err = NULL;
    char *slash = strrchr(tmp, '/');
    *slash = '\0';
    _cleanup_close_ int parent = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    *slash = '/';
    if (parent < 0)
        oci_error_setsys(&err, OCI_ERR_IO, errno, "open the parent of %s", tmp);
    else
        oimg_bundle_remove_tree(parent, slash + 1, &err);
    if (err)
        cmd_warn("run", "remove %s: %s", tmp, err->msg);
    oci_error_free(err);
}

/* Unpacks into a fresh directory and runs; *status gets the container's exit
 * status.  The bundle is TMP/bundle. */
static int unpack_and_run(int *status, const struct cmd_image_ref *r, const char *tmp,
                          const char *id, const char *const *args, const struct oimg_platform *p,
                          bool no_seccomp, const char *state_root, struct oci_error **err)
{
    _cleanup_free_ char *bundle = NULL;
    if (asprintf(&bundle, "%s/bundle", tmp) < 0)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");

    struct oimg_unpack_opts o;
    oimg_unpack_opts_init(&o);
    o.platform = p;
    o.no_sync = true; /* a throwaway bundle: durability buys nothing */
    o.bundle.rootless = geteuid() != 0;
    o.bundle.no_seccomp = no_seccomp;
    o.bundle.warn = warn_stderr;
    int ret = oimg_unpack(NULL, r->layout, &r->desc, bundle, &o, err);
    if (ret < 0)
        return oci_error_wrap(err, "unpack");

    struct ort_context ctx = {.root = state_root, .log = log_stderr};
    struct ort_create_opts co = {.bundle = bundle, .args = args};
    ret = ort_run(&ctx, id, &co, false, status, err);
    if (ret < 0)
        return oci_error_wrap(err, "run container %s", id);
    return 0;
}

/* ---- images from the store ---- */

struct run_opts {
    bool rm, no_seccomp, quiet, copy;
    const char *name, *state_root, *store;
    const char *const *args;
    const struct oimg_platform *platform;
    enum cmd_pull_policy policy;
    struct cmd_remote *remote;
    int jobs;
};

/* An image argument that names an existing layout runs from there. */
static bool is_layout(const char *image)
{
    struct oimg_layout_ref r = {0};
    struct oci_error *e = NULL;
    if (oimg_layout_ref_parse(&r, image, &e) < 0) {
        oci_error_free(e);
        return false;
    }
    _cleanup_free_ char *marker = NULL;
    bool yes = asprintf(&marker, "%s/oci-layout", r.dir) >= 0 && access(marker, F_OK) == 0;
    oimg_layout_ref_clear(&r);
    return yes;
}

static void make_id(char *id, size_t n, bool store)
{
    unsigned char rnd[6] = {0};
    if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
        unsigned int t = (unsigned int)time(NULL) ^ (unsigned int)getpid();
        memcpy(rnd, &t, sizeof(t));
    }
    if (store)
        snprintf(id, n, "%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
    else
        snprintf(id, n, "ociimg-%ld-%02x%02x%02x%02x", (long)getpid(), rnd[0], rnd[1], rnd[2],
                 rnd[3]);
}

/* A --rm container's files go with it: they are not synced (`durable`
 * false); a kept container's must survive a crash, for prune. */
static int write_file(int cfd, const char *name, const char *buf, size_t len, bool durable,
                      struct oci_error **err)
{
    return durable ? oimg_fs_write_atomic(cfd, name, buf, len, 0600, err)
                   : oimg_fs_write_volatile(cfd, name, buf, len, 0600, err);
}

static int write_container_json(int cfd, const char *id, const struct oreg_ref *ref,
                                const struct oimg_digest *manifest, const char *state_root,
                                bool durable, struct oci_error **err)
{
    char created[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    _cleanup_json_ json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(id));
    json_object_object_add(o, "image", json_object_new_string(ref->canonical));
    json_object_object_add(o, "digest", json_object_new_string(manifest->str));
    json_object_object_add(o, "created", json_object_new_string(created));
    /* Where the runtime keeps its state, so prune can ask it about a
     * container whose `run` was killed. */
    json_object_object_add(o, "runtimeRoot",
                           json_object_new_string(state_root ? state_root : ort_default_root()));
    _cleanup_free_ char *txt = oimg_json_dump(o, true);
    if (!txt)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    return write_file(cfd, CMD_STORE_CONTAINER_JSON, txt, strlen(txt), durable, err);
}

/* The container's config.json: the cached one, edited for this run. */
static int write_config(int cfd, const struct cmd_store *s, const char *rootfs_name,
                        bool no_seccomp, bool durable, struct oci_error **err)
{
    _cleanup_free_ char *path = NULL, *buf = NULL;
    size_t len = 0;
    if (asprintf(&path, "%s/config.json", rootfs_name) < 0)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    int ret = oimg_read_file_at(&buf, &len, s->fd, path, ORT_CONFIG_MAX_SIZE, err);
    if (ret < 0)
        return oci_error_wrap(err, "read the cached config");
    if (no_seccomp) {
        _cleanup_json_ json_object *o = NULL;
        if (oimg_json_parse(&o, buf, len, NULL, err) < 0)
            return oci_error_wrap(err, "%s/%s", s->root, path);
        json_object *linux_ = NULL;
        if (json_object_object_get_ex(o, "linux", &linux_))
            json_object_object_del(linux_, "seccomp");
        free(buf);
        buf = oimg_json_dump(o, true);
        if (!buf)
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        len = strlen(buf);
    }
    return write_file(cfd, "config.json", buf, len, durable, err);
}

/* Mounts made from here on stay in this process' own mount namespace: they
 * vanish with it, also when it is killed, and the host never sees them. */
static int private_mount_ns(void)
{
    static int state; /* 0 not tried, 1 done, -errno failed */
    if (state == 0) {
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
            state = -errno;
        else
            state = 1;
    }
    return state;
}

/* overlayfs: the cached rootfs as the lower layer, upper/ and work/ in the
 * container's directory.  Relative paths (from the container directory) keep
 * the store's own path out of the option string, where ',' and ':' would
 * be separators. */
static int mount_overlay(int cfd, const char *rootfs_name, bool throwaway)
{
    int r = private_mount_ns();
    if (r < 0)
        return r;
    char opts[512];
    snprintf(opts, sizeof(opts), "lowerdir=../../%s/rootfs,upperdir=upper,workdir=work",
             rootfs_name);
    _cleanup_close_ int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fchdir(cfd) < 0)
        return -errno;
    /* A --rm container's upper layer is deleted afterwards: "volatile"
     * (Linux 5.10+) skips overlayfs's syncs, above all the syncfs of the
     * store's filesystem at unmount (~3 ms here). */
    int ret = -EINVAL;
    if (throwaway) {
        char vopts[600];
        snprintf(vopts, sizeof(vopts), "%s,volatile", opts);
        ret = mount("overlay", "rootfs", "overlay", 0, vopts) < 0 ? -errno : 0;
    }
    if (ret == -EINVAL)
        ret = mount("overlay", "rootfs", "overlay", 0, opts) < 0 ? -errno : 0;
    if (cwd < 0 || fchdir(cwd) < 0)
        (void)!chdir("/");
    return ret;
}

/* The container's writable rootfs: an overlay where the kernel allows it,
 * else a full copy.  *mounted tells the caller to unmount. */
static int make_rootfs(bool *mounted, int cfd, const struct cmd_store *s, const char *rootfs_name,
                       const struct run_opts *o, struct oci_error **err)
{
    if (!o->copy && geteuid() == 0) {
        if (mkdirat(cfd, "upper", 0755) < 0 || mkdirat(cfd, "work", 0700) < 0 ||
            mkdirat(cfd, "rootfs", 0755) < 0)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "create the container's directories");
        int r = mount_overlay(cfd, rootfs_name, o->rm);
        if (r == 0) {
            *mounted = true;
            return 0;
        }
        if (!o->quiet)
            cmd_info("ociimg: run: note: no overlayfs here (%s): copying the rootfs", strerror(-r));
        unlinkat(cfd, "rootfs", AT_REMOVEDIR);
    }
    _cleanup_free_ char *src = NULL;
    if (asprintf(&src, "%s/rootfs", rootfs_name) < 0)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    int ret = cmd_tree_copy(s->fd, src, cfd, "rootfs", err);
    if (ret < 0)
        return oci_error_wrap(err, "copy the image's rootfs%s",
                              geteuid() == 0 ? "" : " (rootless: overlayfs is not used)");
    return 0;
}

static void remove_container(int containers_fd, const char *id)
{
    struct oci_error *err = NULL;
    if (oimg_bundle_remove_tree(containers_fd, id, &err) < 0)
        cmd_warn("run", "remove container %s: %s", id, err->msg);
    oci_error_free(err);
}

static int run_from_store(int *status, const char *image, const char *id, const struct run_opts *o,
                          struct oci_error **err)
{
    struct oreg_ref *ref = NULL;
    struct cmd_store s = CMD_STORE_INIT;
    _cleanup_close_ int containers = -1, cfd = -1;
    int ret = oreg_ref_parse(&ref, image, err);
    if (ret < 0) {
        oci_error_wrap(err, "%s is neither a layout directory nor an image reference", image);
        return ret;
    }
    /* Before any fd of the store is open: an fd from the old namespace
     * would not do as an overlay's upper or work dir. */
    if (!o->copy && geteuid() == 0)
        private_mount_ns();
    if ((ret = cmd_store_open(&s, o->store, true, err)) < 0)
        goto out_ref;

    struct cmd_store_get g = {
        .ref = ref,
        .policy = o->policy,
        .remote = o->remote,
        .jobs = o->jobs,
        .platform = o->platform,
        .quiet = o->quiet,
        .warn = warn_stderr,
    };
    struct oimg_digest manifest;
    if ((ret = cmd_store_get_image(&manifest, &s, &g, err)) < 0)
        goto out_store;
    /* Under the store lock: the container appears, naming its image, so
     * that neither rmi nor prune removes the rootfs it is about to use. */
    char rootfs_name[256];
    ret = cmd_store_rootfs_name(rootfs_name, sizeof(rootfs_name), &manifest, err);
    if (ret >= 0 && (containers = oimg_fs_open_dir(s.fd, "containers", err)) < 0)
        ret = containers;
    if (ret >= 0 && mkdirat(containers, id, 0700) < 0)
        ret = oci_error_setsys(err, errno == EEXIST ? OCI_ERR_EXISTS : OCI_ERR_IO, errno,
                               "create container %s%s", id,
                               errno == EEXIST ? " (`ociimg prune` removes stopped ones)" : "");
    bool created = ret >= 0;
    if (ret >= 0 && (cfd = oimg_fs_open_dir(containers, id, err)) < 0)
        ret = cfd;
    /* Held while the container lives: prune leaves locked containers alone. */
    if (ret >= 0 && flock(cfd, LOCK_EX | LOCK_NB) < 0)
        ret = oci_error_setsys(err, OCI_ERR_IO, errno, "lock container %s", id);
    if (ret >= 0)
        ret = write_container_json(cfd, id, ref, &manifest, o->state_root, !o->rm, err);
    cmd_store_lock(&s, LOCK_UN, NULL);

    bool mounted = false;
    if (ret >= 0)
        ret = make_rootfs(&mounted, cfd, &s, rootfs_name, o, err);
    if (ret >= 0)
        ret = write_config(cfd, &s, rootfs_name, o->no_seccomp, !o->rm, err);
    if (ret >= 0) {
        _cleanup_free_ char *bundle = NULL;
        if (asprintf(&bundle, "%s/containers/%s", s.root, id) < 0)
            ret = oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        struct ort_context ctx = {.root = o->state_root, .log = log_stderr};
        struct ort_create_opts co = {.bundle = bundle, .args = o->args};
        if (ret >= 0 && (ret = ort_run(&ctx, id, &co, false, status, err)) < 0)
            oci_error_wrap(err, "run container %s", id);
    }
    if (mounted) {
        _cleanup_free_ char *mp = NULL;
        if (asprintf(&mp, "%s/containers/%s/rootfs", s.root, id) >= 0 &&
            umount2(mp, MNT_DETACH) < 0)
            cmd_warn("run", "unmount %s: %s", mp, strerror(errno));
    }
    if (created && (o->rm || ret < 0))
        remove_container(containers, id);
    else if (created && !o->quiet)
        cmd_info("ociimg: run: container %s kept in %s/containers/%s (`ociimg prune` removes it)",
                 id, s.root, id);
out_store:
    cmd_store_close(&s);
out_ref:
    oreg_ref_free(ref);
    return ret < 0 ? ret : 0;
}

static int run_from_layout(int *status, const char *image, const char *id, const struct run_opts *o,
                           struct oci_error **err)
{
    const char *tmpdir = getenv("TMPDIR");
    _cleanup_free_ char *tmp = NULL;
    if (asprintf(&tmp, "%s/ociimg-run-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/var/tmp") < 0 ||
        !mkdtemp(tmp))
        return oci_error_setsys(err, OCI_ERR_IO, errno, "create a temp dir");

    struct cmd_image_ref r = {0};
    int ret = cmd_image_ref_open(&r, image, OIMG_LAYOUT_READONLY, true, err);
    if (ret >= 0)
        ret = unpack_and_run(status, &r, tmp, id, o->args, o->platform, o->no_seccomp,
                             o->state_root, err);
    cmd_image_ref_clear(&r);
    if (o->rm || ret < 0)
        remove_tmp(tmp);
    else
        cmd_info("ociimg: run: bundle kept in %s/bundle (--rm removes it)", tmp);
    return ret;
}

static int run(int argc, char **argv)
{
    enum {
        O_RM = 1,
        O_NAME,
        O_PLATFORM,
        O_NO_SECCOMP,
        O_ROOT,
        O_STORE,
        O_PULL,
        O_JOBS,
        O_QUIET,
        O_COPY
    };
    static const struct option opts[] = {
        {"rm", no_argument, NULL, O_RM},
        {"name", required_argument, NULL, O_NAME},
        {"platform", required_argument, NULL, O_PLATFORM},
        {"no-seccomp", no_argument, NULL, O_NO_SECCOMP},
        {"root", required_argument, NULL, O_ROOT},
        {"store", required_argument, NULL, O_STORE},
        {"pull", required_argument, NULL, O_PULL},
        {"jobs", required_argument, NULL, O_JOBS},
        {"quiet", no_argument, NULL, O_QUIET},
        {"copy", no_argument, NULL, O_COPY},
        CMD_REMOTE_OPTIONS,
        {0},
    };
    const struct ociimg_cmd *self = &ociimg_cmd_run;
    struct cmd_remote rem = CMD_REMOTE_INIT;
    struct run_opts o = {.remote = &rem, .jobs = OREG_DEFAULT_JOBS};
    const char *platform = NULL;
    int c;
    /* '+': options stop at the image, so the command's own options pass through. */
    while ((c = getopt_long(argc, argv, "+q", opts, NULL)) != -1) {
        int h = cmd_remote_option(&rem, self, c, optarg);
        if (h > 1)
            return h;
        if (h == 1)
            continue;
        switch (c) {
        case O_RM:
            o.rm = true;
            break;
        case O_NAME:
            o.name = optarg;
            break;
        case O_PLATFORM:
            platform = optarg;
            break;
        case O_NO_SECCOMP:
            o.no_seccomp = true;
            break;
        case O_ROOT:
            o.state_root = optarg;
            break;
        case O_STORE:
            o.store = optarg;
            break;
        case O_PULL:
            if (cmd_pull_policy_parse(&o.policy, optarg) < 0)
                return cmd_usage_error(self, "--pull takes missing, always or never, not `%s`",
                                       optarg);
            break;
        case O_JOBS:
            if (!cmd_parse_count(&o.jobs, optarg, 64) || o.jobs == 0)
                return cmd_usage_error(self, "--jobs takes a number from 1 to 64");
            break;
        case 'q':
        case O_QUIET:
            o.quiet = true;
            break;
        case O_COPY:
            o.copy = true;
            break;
        default:
            return cmd_bad_option(self, argv);
        }
    }
    o.quiet = o.quiet || cmd_quiet();
    if (optind >= argc)
        return cmd_usage_error(self, "expected an image (REF or DIR[:NAME|@DIGEST])");
    const char *image = argv[optind++];
    if (optind < argc && strcmp(argv[optind], "--") == 0)
        optind++;
    o.args = optind < argc ? (const char *const *)&argv[optind] : NULL;
    if (o.name && !ort_id_valid(o.name))
        return cmd_usage_error(self,
                               "--name: `%s` is not a valid container id "
                               "([A-Za-z0-9_+.-], at most 1024)",
                               o.name);

    struct oci_error *err = NULL;
    struct oimg_platform want = {0};
    if (platform && oimg_platform_parse(&want, platform, &err) < 0)
        return cmd_fail("run", err);
    o.platform = platform ? &want : NULL;

    bool layout = is_layout(image);
    char id[1100];
    if (o.name)
        snprintf(id, sizeof(id), "%s", o.name);
    else
        make_id(id, sizeof(id), !layout);

    int status = 0;
    int ret = layout ? run_from_layout(&status, image, id, &o, &err)
                     : run_from_store(&status, image, id, &o, &err);
    oimg_platform_clear(&want);
    cmd_remote_clear(&rem);
    if (ret < 0)
        return cmd_fail("run", err);
    return status;
}

const struct ociimg_cmd ociimg_cmd_run = {
    .name = "run",
    .run = run,
    .summary = "run an image (from a registry through the store, or a layout)",
    .usage = "Usage: ociimg run [OPTIONS] REF [--] [CMD [ARG...]]\n"
             "       ociimg run [OPTIONS] DIR[:NAME|@DIGEST] [--] [CMD [ARG...]]\n\n"
             "Runs an image in the foreground with ociimg's own runtime (the one `ocirun`\n"
             "uses): signals are forwarded, and the exit status is the container's (128+N for\n"
             "signal N).  CMD replaces the image's Entrypoint and Cmd.\n\n"
             "REF (alpine:3.19, ghcr.io/org/app@sha256:...) goes through the store (--store,\n"
             "else $OCIIMG_STORE, else /var/lib/ociimg as root and $XDG_DATA_HOME/ociimg\n"
             "otherwise): it is pulled if missing and unpacked once; each container gets its own\n"
             "writable layer in STORE/containers/ID (overlayfs, or a copy of the rootfs where\n"
             "overlayfs is not available, e.g. rootless).  A second run of the same image\n"
             "neither contacts the registry nor unpacks.  See `ociimg images`, `rmi`, `prune`.\n\n"
             "DIR[:NAME|@DIGEST], an existing OCI image layout, is unpacked into a fresh\n"
             "bundle under $TMPDIR (default /var/tmp) instead.\n\n"
             "Options:\n"
             "  --rm          remove the container (or bundle) afterwards; otherwise it is kept\n"
             "                and `ociimg prune` removes it\n"
             "  --name ID     container id (default: random)\n"
             "  --platform P  choose this platform from an index (default: this host's)\n"
             "  --pull=POLICY missing (default): pull only when the store lacks the image;\n"
             "                always: ask the registry for the tag again; never: fail if missing\n"
             "  --store DIR   the store (see above)\n"
             "  --copy        give the container a full copy of the rootfs, not an overlay\n"
             "  --jobs N      parallel blob downloads (default 6)\n"
             "  -q, --quiet   no pull or unpack progress\n"
             "  --no-seccomp  run without the default seccomp profile\n"
             "  --root DIR    runtime state directory (default /run/ocirun)\n" CMD_REMOTE_HELP
             "\nExamples:\n"
             "  ociimg run --rm busybox -- echo hi\n"
             "  ociimg run --rm --tls-verify=false localhost:5000/test/busybox:1 -- sh -c 'id'\n"
             "  ociimg run --pull=never --name web docker.io/library/nginx:1.25\n"
             "  ociimg run --rm ./images:busybox -- echo hi\n",
};
