/* ociimg run: unpack an image into a temporary bundle and run it with the
 * bundled runtime (libruntime), in the foreground. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <ociimg/bundle.h>
#include <ociimg/cleanup.h>
#include <ociimg/runtime.h>

#include "cmd.h"
#include "cmd_layout.h"

static void warn_stderr(void *ctx, const char *msg)
{
    fprintf(stderr, "ociimg: run: warning: %s\n", msg);
}

static void log_stderr(void *data, int level, const char *msg)
{
    if (level <= ORT_LOG_WARN)
        fprintf(stderr, "ociimg: run: %s%s\n", level == ORT_LOG_WARN ? "warning: " : "", msg);
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
        fprintf(stderr, "ociimg: run: warning: remove %s: %s\n", tmp, err->msg);
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

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"rm", no_argument, NULL, 'r'},
        {"name", required_argument, NULL, 'n'},
        {"platform", required_argument, NULL, 'p'},
        {"no-seccomp", no_argument, NULL, 'S'},
        {"root", required_argument, NULL, 'R'},
        {0},
    };
    const struct ociimg_cmd *self = &ociimg_cmd_run;
    bool rm = false, no_seccomp = false;
    const char *name = NULL, *platform = NULL, *state_root = NULL;
    int c;
    /* '+': options stop at the image, so the command's own options pass through. */
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            rm = true;
            break;
        case 'n':
            name = optarg;
            break;
        case 'p':
            platform = optarg;
            break;
        case 'S':
            no_seccomp = true;
            break;
        case 'R':
            state_root = optarg;
            break;
        default:
            return cmd_bad_option(self, argv);
        }
    }
    if (optind >= argc)
        return cmd_usage_error(self, "expected an image (DIR[:NAME|@DIGEST])");
    const char *image = argv[optind++];
    if (optind < argc && strcmp(argv[optind], "--") == 0)
        optind++;
    const char *const *args = optind < argc ? (const char *const *)&argv[optind] : NULL;

    struct oci_error *err = NULL;
    struct oimg_platform want = {0};
    if (platform && oimg_platform_parse(&want, platform, &err) < 0)
        return cmd_fail("run", err);

    char id[64];
    if (name) {
        snprintf(id, sizeof(id), "%s", name);
    } else {
        unsigned int rnd = 0;
        if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
            rnd = (unsigned int)time(NULL);
        snprintf(id, sizeof(id), "ociimg-%ld-%08x", (long)getpid(), rnd);
    }

    const char *tmpdir = getenv("TMPDIR");
    _cleanup_free_ char *tmp = NULL;
    if (asprintf(&tmp, "%s/ociimg-run-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/var/tmp") < 0 ||
        !mkdtemp(tmp)) {
        oimg_platform_clear(&want);
        return cmd_fail("run",
                        (oci_error_setsys(&err, OCI_ERR_IO, errno, "create a temp dir"), err));
    }

    struct cmd_image_ref r = {0};
    int status = 0;
    int ret = cmd_image_ref_open(&r, image, OIMG_LAYOUT_READONLY, true, &err);
    if (ret >= 0)
        ret = unpack_and_run(&status, &r, tmp, id, args, platform ? &want : NULL, no_seccomp,
                             state_root, &err);
    cmd_image_ref_clear(&r);
    oimg_platform_clear(&want);

    if (rm || ret < 0)
        remove_tmp(tmp);
    else {
        fprintf(stderr, "ociimg: run: bundle kept in %s/bundle (--rm removes it)\n", tmp);
    }
    if (ret < 0)
        return cmd_fail("run", err);
    return status;
}

const struct ociimg_cmd ociimg_cmd_run = {
    .name = "run",
    .run = run,
    .summary = "run an image from a layout with the bundled runtime",
    .usage = "Usage: ociimg run [--rm] [--name ID] [--platform P] [--no-seccomp] [--root DIR]\n"
             "                  DIR[:NAME|@DIGEST] [--] [CMD [ARG...]]\n\n"
             "Unpacks the image into a fresh bundle under $TMPDIR (default /var/tmp) and runs\n"
             "it in the foreground with ociimg's own runtime (the one `ocirun` uses): signals\n"
             "are forwarded, and the exit status is the container's (128+N for signal N).\n"
             "CMD replaces the image's Entrypoint and Cmd.\n\n"
             "Options:\n"
             "  --rm          remove the bundle afterwards (otherwise its path is printed)\n"
             "  --name ID     container id (default ociimg-PID-RANDOM)\n"
             "  --platform P  choose this platform from an index\n"
             "  --no-seccomp  run without the default seccomp profile\n"
             "  --root DIR    runtime state directory (default /run/ocirun)\n\n"
             "Examples:\n"
             "  ociimg run --rm ./images:busybox -- echo hi\n"
             "  ociimg run --rm --name web ./images@sha256:4bcff6...\n",
};
