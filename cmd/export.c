/* ociimg export: an image's flattened rootfs as one tar stream. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ociimg/bundle.h>

#include "cmd.h"
#include "cmd_layout.h"

static void warn_stderr(void *ctx, const char *msg)
{
    (void)ctx;
    cmd_warn("export", "%s", msg);
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"platform", required_argument, NULL, 'p'},
        {"rootless", no_argument, NULL, 'R'},
        {0},
    };
    const struct ociimg_cmd *self = &ociimg_cmd_export;
    struct oimg_unpack_opts o;
    oimg_unpack_opts_init(&o);
    const char *platform = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            platform = optarg;
            break;
        case 'R':
            o.bundle.rootless = true;
            break;
        default:
            return cmd_bad_option(self, argv);
        }
    }
    if (optind + 2 != argc)
        return cmd_usage_error(self, "expected an image name and an output file (or -)");
    const char *out = argv[optind + 1];
    bool to_stdout = strcmp(out, "-") == 0;
    if (to_stdout && isatty(STDOUT_FILENO))
        return cmd_usage_error(self, "refusing to write a tar stream to a terminal");
    if (geteuid() != 0)
        o.bundle.rootless = true;
    o.bundle.warn = warn_stderr;

    struct oci_error *err = NULL;
    struct oimg_platform want = {0};
    if (platform && oimg_platform_parse(&want, platform, &err) < 0)
        return cmd_fail("export", err);
    o.platform = platform ? &want : NULL;

    struct cmd_image_ref r = {0};
    int ret = cmd_image_ref_open(&r, argv[optind], OIMG_LAYOUT_READONLY, true, &err);
    if (ret >= 0 && to_stdout) {
        const char *tmp = getenv("TMPDIR");
        ret = oimg_export(NULL, r.layout, &r.desc, STDOUT_FILENO, tmp && *tmp ? tmp : "/tmp", &o,
                          &err);
    } else if (ret >= 0) {
        ret = oimg_export_file(NULL, r.layout, &r.desc, out, &o, &err);
    }
    cmd_image_ref_clear(&r);
    oimg_platform_clear(&want);
    return ret < 0 ? cmd_fail("export", err) : EXIT_OK;
}

const struct ociimg_cmd ociimg_cmd_export = {
    .name = "export",
    .run = run,
    .summary = "write an image's flattened rootfs as a tar",
    .usage =
        "Usage: ociimg export [--platform P] [--rootless] DIR[:NAME|@DIGEST] FILE.tar|-\n\n"
        "Unpacks the image's layers (whiteouts applied, every digest checked) into a\n"
        "temporary directory and writes the resulting tree as one POSIX (pax) tar: names\n"
        "sorted, numeric owners, nanosecond mtimes, xattrs as SCHILY.xattr.*, hard links\n"
        "kept; the same image always gives the same bytes.  The temporary tree is made\n"
        "beside FILE (for `-`, stdout, in $TMPDIR or /tmp) and removed afterwards; FILE\n"
        "appears only when complete.\n\n"
        "Options:\n"
        "  --platform P  choose this platform from an index (default: this host's)\n"
        "  --rootless    unpack without chown (automatic when not run as root); owners are\n"
        "                still exported as the image has them, but devices become empty\n"
        "                files\n\n"
        "Examples:\n"
        "  ociimg export ./images:3.19 rootfs.tar\n"
        "  ociimg export ./images:3.19 - | tar -tvf -\n"
        "  ociimg export --platform linux/arm64 ./images:3.19 - | gzip > rootfs-arm64.tar.gz\n",
};
