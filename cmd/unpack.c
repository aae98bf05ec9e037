/* ociimg unpack: an image into a runtime bundle (or just its rootfs). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ociimg/bundle.h>

#include "cmd.h"
#include "cmd_layout.h"

#define MAX_MAPS 64

static void warn_stderr(void *ctx, const char *msg)
{
    cmd_warn((const char *)ctx, "%s", msg);
}

/* One decimal field of a map, up to `end` (':' or NUL). */
static bool map_field(const char **s, char end, unsigned long long *out)
{
    const char *p = *s;
    unsigned long long v = 0;
    if (*p < '0' || *p > '9')
        return false;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (unsigned long long)(*p++ - '0');
        if (v > 0xFFFFFFFFull)
            return false;
    }
    if (*p != end)
        return false;
    *out = v;
    *s = end ? p + 1 : p;
    return true;
}

/* "C:H:N" (container id, host id, size), all decimal. */
static bool parse_map(struct oimg_idmap *m, const char *s)
{
    unsigned long long c, h, n;
    if (!map_field(&s, ':', &c) || !map_field(&s, ':', &h) || !map_field(&s, '\0', &n) || !n ||
        c + n > 0xFFFFFFFFull || h + n > 0xFFFFFFFFull)
        return false;
    *m = (struct oimg_idmap){(uint32_t)c, (uint32_t)h, (uint32_t)n};
    return true;
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"platform", required_argument, NULL, 'p'}, {"rootless", no_argument, NULL, 'R'},
        {"uid-map", required_argument, NULL, 'u'},  {"gid-map", required_argument, NULL, 'g'},
        {"no-seccomp", no_argument, NULL, 'S'},     {"force", no_argument, NULL, 'f'},
        {"rootfs-only", no_argument, NULL, 'r'},    {"no-sync", no_argument, NULL, 'N'},
        {"quiet", no_argument, NULL, 'q'},          {0},
    };
    const struct ociimg_cmd *self = &ociimg_cmd_unpack;
    struct oimg_unpack_opts o;
    oimg_unpack_opts_init(&o);
    struct oimg_idmap umap[MAX_MAPS], gmap[MAX_MAPS];
    size_t nu = 0, ng = 0;
    const char *platform = NULL;
    bool quiet = false;
    int c;
    while ((c = getopt_long(argc, argv, "fq", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            platform = optarg;
            break;
        case 'R':
            o.bundle.rootless = true;
            break;
        case 'u':
        case 'g': {
            struct oimg_idmap *m = c == 'u' ? umap : gmap;
            size_t *n = c == 'u' ? &nu : &ng;
            if (*n == MAX_MAPS)
                return cmd_usage_error(self, "at most %d --%s-map ranges", MAX_MAPS,
                                       c == 'u' ? "uid" : "gid");
            if (!parse_map(&m[*n], optarg))
                return cmd_usage_error(self, "bad --%s-map `%s` (expected C:H:N)",
                                       c == 'u' ? "uid" : "gid", optarg);
            (*n)++;
            break;
        }
        case 'S':
            o.bundle.no_seccomp = true;
            break;
        case 'f':
            o.force = true;
            break;
        case 'r':
            o.rootfs_only = true;
            break;
        case 'N':
            o.no_sync = true;
            break;
        case 'q':
            quiet = true;
            break;
        default:
            return cmd_bad_option(self, argv);
        }
    }
    if (optind + 2 != argc)
        return cmd_usage_error(self, "expected an image name and a destination");
    if ((nu == 0) != (ng == 0))
        return cmd_usage_error(self, "--uid-map and --gid-map go together");
    /* Without root nothing can be chowned: rootless is the only way. */
    if (geteuid() != 0)
        o.bundle.rootless = true;
    o.bundle.uid_map = umap;
    o.bundle.n_uid_map = nu;
    o.bundle.gid_map = gmap;
    o.bundle.n_gid_map = ng;
    o.bundle.warn = warn_stderr;
    o.bundle.warn_ctx = (void *)"unpack";

    struct oci_error *err = NULL;
    struct oimg_platform want = {0};
    if (platform && oimg_platform_parse(&want, platform, &err) < 0)
        return cmd_fail("unpack", err);
    o.platform = platform ? &want : NULL;

    struct cmd_image_ref r = {0};
    struct oimg_unpack_result res = {0};
    int ret = cmd_image_ref_open(&r, argv[optind], OIMG_LAYOUT_READONLY, true, &err);
    if (ret >= 0)
        ret = oimg_unpack(&res, r.layout, &r.desc, argv[optind + 1], &o, &err);
    cmd_image_ref_clear(&r);
    oimg_platform_clear(&want);
    if (ret < 0)
        return cmd_fail("unpack", err);
    if (!quiet && !cmd_quiet()) {
        char cs[32], us[32];
        printf("%s: %s, %zu layer%s (%s, %s unpacked, %" PRIu64 " entries)\n", argv[optind + 1],
               res.manifest.str, res.layers, res.layers == 1 ? "" : "s",
               cmd_human_size(cs, sizeof(cs), res.compressed_bytes),
               cmd_human_size(us, sizeof(us), res.uncompressed_bytes), res.entries);
    }
    return EXIT_OK;
}

const struct ociimg_cmd ociimg_cmd_unpack = {
    .name = "unpack",
    .run = run,
    .summary = "unpack an image into a runtime bundle",
    .usage =
        "Usage: ociimg unpack [OPTIONS] DIR[:NAME|@DIGEST] BUNDLE\n"
        "       ociimg unpack --rootfs-only [OPTIONS] DIR[:NAME|@DIGEST] ROOTFS\n\n"
        "Applies the image's layers into BUNDLE/rootfs and writes BUNDLE/config.json, an OCI\n"
        "runtime-spec configuration made from the image config (Entrypoint+Cmd, Env, WorkingDir,\n"
        "User resolved in the image's /etc/passwd and /etc/group, labels as annotations, volumes\n"
        "as tmpfs mounts) with the Linux defaults of docker (namespaces, capabilities, masked\n"
        "paths, a seccomp profile).  `runc run -b BUNDLE ID` or `crun run -b BUNDLE ID` runs "
        "it.\n\n"
        "Every layer's digest, size and diff_id are checked while it is applied.  The bundle is\n"
        "built in a hidden directory beside BUNDLE and renamed into place when complete: after\n"
        "a failure there is no BUNDLE.  BUNDLE may be missing or an empty directory; an existing\n"
        "non-empty one is an error unless --force.  BUNDLE gets mode 0700.\n\n"
        "Options:\n"
        "  --platform P     choose this platform from an index (default: this host's)\n"
        "  --rootless       no chown (owners kept in the user.rootlesscontainers xattr), devices\n"
        "                   as empty files, and a config for a rootless runtime: a user namespace\n"
        "                   with the caller as root, the host's network, /sys bind-mounted.\n"
        "                   Automatic when not run as root\n"
        "  --uid-map C:H:N  a user namespace mapping container uids C..C+N-1 to host uids\n"
        "                   H..H+N-1; repeatable; as root the files are chowned through it\n"
        "  --gid-map C:H:N  the same for gids; --uid-map and --gid-map go together\n"
        "  --no-seccomp     leave out the default seccomp profile\n"
        "  -f, --force      replace an existing non-empty BUNDLE (removed once the new one is in\n"
        "                   place)\n"
        "  --rootfs-only    unpack only the filesystem, into ROOTFS (no config.json)\n"
        "  --no-sync        skip the final syncfs (faster; a crash soon after may lose data)\n"
        "  -q, --quiet      print nothing on success\n\n"
        "Examples:\n"
        "  ociimg unpack ./images:3.19 ./bundle && sudo runc run -b ./bundle demo\n"
        "  ociimg unpack --platform linux/arm64 ./images:3.19 ./bundle-arm64\n"
        "  ociimg unpack --rootless ./images:3.19 ~/bundle\n"
        "  ociimg unpack --rootfs-only ./images@sha256:4bcff6... ./rootfs\n",
};
