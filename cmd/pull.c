/* ociimg pull: a registry image into an OCI image layout, with progress;
 * with --unpack also into a bundle, the layers applied while they
 * download. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ociimg/bundle.h>
#include <ociimg/cleanup.h>
#include <ociimg/json.h>
#include <ociimg/layout.h>

#include "cmd.h"
#include "cmd_remote.h"

#define ROWS_MAX 100000
#define REDRAW_MS 100

struct row {
    char id[16]; /* short hex of the digest */
    const char *state;
    uint64_t done, total, resumed;
    int64_t started_ms;
    bool finished;
};

struct progress {
    bool tty, quiet;
    struct row *rows;
    size_t n, drawn;
    int64_t last_draw;
    char *rl;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct row *row_at(struct progress *p, size_t i)
{
    if (i >= ROWS_MAX)
        return NULL;
    if (i >= p->n) {
        struct row *nv = realloc(p->rows, (i + 1) * sizeof(*nv));
        if (!nv)
            return NULL;
        memset(nv + p->n, 0, (i + 1 - p->n) * sizeof(*nv));
        p->rows = nv;
        p->n = i + 1;
    }
    return &p->rows[i];
}

static void rate(char *buf, size_t n, uint64_t bytes, int64_t ms)
{
    char h[32];
    if (ms <= 0) {
        buf[0] = '\0';
        return;
    }
    snprintf(buf, n, "%s/s", cmd_human_size(h, sizeof(h), bytes * 1000 / (uint64_t)ms));
}

static void draw(struct progress *p, bool force)
{
    int64_t t = now_ms();
    if (!force && t - p->last_draw < REDRAW_MS)
        return;
    p->last_draw = t;
    if (p->drawn)
        fprintf(stderr, "\033[%zuA", p->drawn);
    for (size_t i = 0; i < p->n; i++) {
        const struct row *r = &p->rows[i];
        char d[32], tot[32], rt[48] = "";
        if (!r->state)
            r = &(struct row){.id = "", .state = "Waiting"};
        if (!r->finished && r->started_ms && r->done > r->resumed)
            rate(rt, sizeof(rt), r->done - r->resumed, t - r->started_ms);
        fprintf(stderr, "\033[2K%s: %-16s %9s / %-9s %s\n", p->rows[i].id, r->state,
                cmd_human_size(d, sizeof(d), r->done), cmd_human_size(tot, sizeof(tot), r->total),
                rt);
    }
    p->drawn = p->n;
    fflush(stderr);
}

static void line(const struct row *r, const char *what)
{
    char d[32], rt[48] = "", extra[64] = "";
    int64_t ms = now_ms() - r->started_ms;
    if (r->started_ms && r->done > r->resumed)
        rate(rt, sizeof(rt), r->done - r->resumed, ms);
    if (r->resumed) {
        char rs[32];
        snprintf(extra, sizeof(extra), ", resumed at %s",
                 cmd_human_size(rs, sizeof(rs), r->resumed));
    }
    fprintf(stderr, "%s: %s %s%s%s%s%s\n", r->id, what, cmd_human_size(d, sizeof(d), r->total),
            *rt ? " (" : "", rt, *rt ? ")" : "", extra);
}

static void on_event(void *ud, const struct oreg_event *ev)
{
    struct progress *p = ud;
    if (p->quiet)
        return;
    switch (ev->kind) {
    case OREG_EV_NOTE:
        if (p->tty && p->drawn) {
            fprintf(stderr, "\033[%zuA\033[J", p->drawn);
            p->drawn = 0;
        }
        cmd_info("note: %s", ev->msg);
        return;
    case OREG_EV_RATELIMIT:
        if (!p->rl || strcmp(p->rl, ev->msg) != 0) {
            free(p->rl);
            p->rl = strdup(ev->msg);
            if (!p->tty)
                fprintf(stderr, "%s: RateLimit-Remaining: %s\n", ev->host ? ev->host : "registry",
                        ev->msg);
        }
        return;
    case OREG_EV_MANIFEST:
        if (!p->tty)
            cmd_info("manifest %s", ev->msg);
        return;
    default:
        break;
    }
    struct row *r = row_at(p, ev->blob_index);
    if (!r || !ev->desc)
        return;
    if (!r->id[0])
        snprintf(r->id, sizeof(r->id), "%.12s", oimg_digest_encoded(&ev->desc->digest));
    r->total = ev->total;
    r->done = ev->done;
    switch (ev->kind) {
    case OREG_EV_BLOB_QUEUED:
        r->state = "Waiting";
        break;
    case OREG_EV_BLOB_EXISTS:
        r->state = "Already exists";
        r->finished = true;
        if (!p->tty)
            line(r, "already present,");
        break;
    case OREG_EV_BLOB_START:
        r->state = ev->resumed ? "Resuming" : "Downloading";
        r->resumed = ev->resumed;
        r->started_ms = now_ms();
        break;
    case OREG_EV_BLOB_PROGRESS:
        r->state = r->resumed ? "Resuming" : "Downloading";
        break;
    case OREG_EV_BLOB_RETRY:
        r->state = "Retrying";
        if (!p->tty)
            fprintf(stderr, "%s: retrying: %s\n", r->id, ev->msg);
        break;
    case OREG_EV_BLOB_DONE:
        r->state = "Pull complete";
        r->finished = true;
        if (!p->tty)
            line(r, "pulled");
        break;
    default:
        break;
    }
    if (p->tty)
        draw(p, ev->kind != OREG_EV_BLOB_PROGRESS);
}

int cmd_pull_unpack(struct oreg_pull_result **res, struct oimg_unpack_result *ures,
                    struct oreg_client *c, const struct oreg_ref *ref, struct oimg_layout *l,
                    const struct oreg_pull_opts *po, const char *bundle,
                    const struct oimg_unpack_opts *uo, struct oci_error **err)
{
    if (po && po->all_platforms)
        return oci_error_set(err, OCI_ERR_INVALID, "--all-platforms does not go with --unpack");
    struct oimg_unpack_opts defaults;
    if (!uo) {
        oimg_unpack_opts_init(&defaults);
        uo = &defaults;
    }
    struct oimg_unpack_stream *s = NULL;
    int r = oimg_unpack_stream_new(&s, bundle, l, uo, err);
    if (r < 0)
        return r;
    /* The pull hands over the manifest it chose before any blob: one
     * manifest request, and the applier sees the image the pull stores. */
    struct oreg_blob_observer obs = {.begin = oimg_unpack_stream_blob_begin,
                                     .data = oimg_unpack_stream_blob_data,
                                     .end = oimg_unpack_stream_blob_end,
                                     .manifest = oimg_unpack_stream_set_manifest,
                                     .ud = s};
    struct oreg_pull_opts o = {0};
    if (po)
        o = *po;
    o.observer = &obs;
    struct oreg_pull_result *pr = NULL;
    r = oreg_pull(&pr, c, ref, l, &o, err);
    if (r >= 0) {
        struct oci_error *e = NULL;
        r = oimg_unpack_stream_finish(s, ures, &e);
        if (r < 0 && oimg_unpack_stream_restarted(s)) {
            /* The pull got it right in the end (a blob that failed its
             * digest was downloaded again), but the applier had the
             * discarded bytes: the layout's blobs are verified, unpack
             * those.  An image that is bad itself fails again. */
            oci_warnf(uo->bundle.warn, uo->bundle.warn_ctx,
                      "streamed unpack discarded (%s); unpacking from the layout", e->msg);
            oci_error_free(e);
            e = NULL;
            struct oimg_unpack_opts again = *uo;
            again.platform = NULL;
            r = oimg_unpack(ures, l, &pr->desc, bundle, &again, &e);
        }
        if (r < 0)
            *err = e;
    }
    oimg_unpack_stream_free(s);
    if (r < 0) {
        oreg_pull_result_free(pr);
        return r;
    }
    *res = pr;
    return 0;
}

static void warn_stderr(void *ctx, const char *msg)
{
    (void)ctx;
    cmd_warn("pull", "%s", msg);
}

static json_object *str_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

static void print_json(const struct oreg_pull_result *res, const char *dir, const char *bundle,
                       const struct oimg_unpack_result *ur)
{
    _cleanup_json_ json_object *o = json_object_new_object();
    json_object_object_add(o, "reference", json_object_new_string(res->reference));
    json_object_object_add(o, "layout", json_object_new_string(dir));
    json_object_object_add(o, "name", json_object_new_string(res->name));
    json_object_object_add(o, "digest", json_object_new_string(res->desc.digest.str));
    json_object_object_add(o, "mediaType", json_object_new_string(res->desc.media_type));
    json_object_object_add(o, "size", json_object_new_int64(res->desc.size));
    json_object *src = json_object_new_object();
    json_object_object_add(src, "digest", json_object_new_string(res->top_digest.str));
    json_object_object_add(src, "mediaType", str_or_null(res->top_media_type));
    json_object_object_add(o, "source", src);
    json_object_object_add(o, "host", str_or_null(res->host));
    json_object *pl = json_object_new_array();
    for (size_t i = 0; i < res->n_platforms; i++)
        json_object_array_add(pl, json_object_new_string(res->platforms[i]));
    json_object_object_add(o, "platforms", pl);
    json_object_object_add(o, "manifests", json_object_new_int64((int64_t)res->manifests));
    json_object *b = json_object_new_object();
    json_object_object_add(b, "total", json_object_new_int64((int64_t)res->blobs));
    json_object_object_add(b, "present", json_object_new_int64((int64_t)res->blobs_present));
    json_object_object_add(b, "fetched", json_object_new_int64((int64_t)res->blobs_fetched));
    json_object_object_add(o, "blobs", b);
    json_object *by = json_object_new_object();
    json_object_object_add(by, "total", json_object_new_int64((int64_t)res->bytes_total));
    json_object_object_add(by, "fetched", json_object_new_int64((int64_t)res->bytes_fetched));
    json_object_object_add(by, "resumed", json_object_new_int64((int64_t)res->bytes_resumed));
    json_object_object_add(o, "bytes", by);
    json_object_object_add(o, "retries", json_object_new_int64(res->retries));
    json_object_object_add(o, "seconds", json_object_new_double(res->seconds));
    json_object_object_add(o, "rateLimitRemaining", str_or_null(res->ratelimit_remaining));
    if (bundle) {
        json_object *u = json_object_new_object();
        json_object_object_add(u, "path", json_object_new_string(bundle));
        json_object_object_add(u, "layers", json_object_new_int64((int64_t)ur->layers));
        json_object_object_add(u, "uncompressedBytes",
                               json_object_new_int64((int64_t)ur->uncompressed_bytes));
        json_object_object_add(u, "entries", json_object_new_int64((int64_t)ur->entries));
        json_object_object_add(o, "unpacked", u);
    }
    _cleanup_free_ char *txt = oimg_json_dump(o, true);
    if (txt)
        printf("%s\n", txt);
}

static void print_summary(const struct oreg_pull_result *res, const char *dir)
{
    char fetched[32];
    fprintf(stderr, "Pulled %s into %s:%s (%s)\n", res->reference, dir, res->name,
            res->desc.digest.str);
    fprintf(stderr, "  %zu blob%s fetched (%s), %zu already present", res->blobs_fetched,
            res->blobs_fetched == 1 ? "" : "s",
            cmd_human_size(fetched, sizeof(fetched), res->bytes_fetched), res->blobs_present);
    if (res->bytes_resumed) {
        char rs[32];
        fprintf(stderr, ", %s resumed", cmd_human_size(rs, sizeof(rs), res->bytes_resumed));
    }
    if (res->retries)
        fprintf(stderr, ", %u retr%s", res->retries, res->retries == 1 ? "y" : "ies");
    fprintf(stderr, " in %.2f s", res->seconds);
    if (res->ratelimit_remaining)
        fprintf(stderr, "; RateLimit-Remaining: %s", res->ratelimit_remaining);
    fprintf(stderr, "\n");
}

static int run(int argc, char **argv)
{
    enum {
        O_PLATFORM = 1,
        O_ALL,
        O_JOBS,
        O_QUIET,
        O_JSON,
        O_UNPACK,
        O_ROOTFS_ONLY,
        O_FORCE,
        O_ROOTLESS,
        O_NO_SECCOMP,
        O_NO_SYNC
    };
    static const struct option opts[] = {
        {"platform", required_argument, NULL, O_PLATFORM},
        {"all-platforms", no_argument, NULL, O_ALL},
        {"jobs", required_argument, NULL, O_JOBS},
        {"quiet", no_argument, NULL, O_QUIET},
        {"json", no_argument, NULL, O_JSON},
        {"unpack", required_argument, NULL, O_UNPACK},
        {"rootfs-only", no_argument, NULL, O_ROOTFS_ONLY},
        {"force", no_argument, NULL, O_FORCE},
        {"rootless", no_argument, NULL, O_ROOTLESS},
        {"no-seccomp", no_argument, NULL, O_NO_SECCOMP},
        {"no-sync", no_argument, NULL, O_NO_SYNC},
        CMD_REMOTE_OPTIONS,
        {0},
    };
    struct cmd_remote rem = CMD_REMOTE_INIT;
    const char *platform = NULL;
    bool all = false, json = false;
    struct progress prog = {0};
    int jobs = OREG_DEFAULT_JOBS, c;
    const char *bundle = NULL;
    struct oimg_unpack_opts uo;
    oimg_unpack_opts_init(&uo);
    bool unpack_opt = false;
    while ((c = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
        int h = cmd_remote_option(&rem, &ociimg_cmd_pull, c, optarg);
        if (h > 1)
            return h;
        if (h == 1)
            continue;
        switch (c) {
        case O_PLATFORM:
            platform = optarg;
            break;
        case O_ALL:
            all = true;
            break;
        case O_JOBS:
            if (!cmd_parse_count(&jobs, optarg, 64) || jobs == 0)
                return cmd_usage_error(&ociimg_cmd_pull, "--jobs takes a number from 1 to 64");
            break;
        case 'q':
        case O_QUIET:
            prog.quiet = true;
            break;
        case O_JSON:
            json = true;
            break;
        case O_UNPACK:
            bundle = optarg;
            break;
        case O_ROOTFS_ONLY:
            uo.rootfs_only = unpack_opt = true;
            break;
        case O_FORCE:
            uo.force = unpack_opt = true;
            break;
        case O_ROOTLESS:
            uo.bundle.rootless = unpack_opt = true;
            break;
        case O_NO_SECCOMP:
            uo.bundle.no_seccomp = unpack_opt = true;
            break;
        case O_NO_SYNC:
            uo.no_sync = unpack_opt = true;
            break;
        default:
            return cmd_bad_option(&ociimg_cmd_pull, argv);
        }
    }
    /* Progress, notes and the summary are info: --quiet or --log-level
     * warn/error silence them as -q does. */
    prog.quiet = prog.quiet || !cmd_log_on(CMD_LOG_INFO);
    if (argc - optind != 2)
        return cmd_usage_error(&ociimg_cmd_pull, "expected REF and DIR[:NAME]");
    if (all && platform)
        return cmd_usage_error(&ociimg_cmd_pull,
                               "--platform and --all-platforms exclude each other");
    if (unpack_opt && !bundle)
        return cmd_usage_error(&ociimg_cmd_pull,
                               "--rootfs-only, --force, --rootless, --no-seccomp and --no-sync "
                               "go with --unpack");
    if (bundle && (all || !*bundle))
        return cmd_usage_error(&ociimg_cmd_pull, all ? "--unpack takes one image, not "
                                                       "--all-platforms"
                                                     : "--unpack needs a directory");
    /* Without root nothing can be chowned: rootless is the only way. */
    if (geteuid() != 0)
        uo.bundle.rootless = true;
    uo.bundle.warn = warn_stderr;

    struct oci_error *err = NULL;
    struct oreg_ref *ref = NULL;
    struct oimg_layout_ref dest = {0};
    struct oimg_platform want = {0};
    struct oreg_client *client = NULL;
    struct oimg_layout *l = NULL;
    struct oreg_pull_result *res = NULL;
    struct oimg_unpack_result ures = {0};
    int ret = oreg_ref_parse(&ref, argv[optind], &err);
    if (ret >= 0)
        ret = oimg_layout_ref_parse(&dest, argv[optind + 1], &err);
    if (ret >= 0 && dest.has_digest)
        ret = oci_error_set(&err, OCI_ERR_INVALID,
                            "the destination is DIR or DIR:NAME, not a digest");
    if (ret >= 0 && platform)
        ret = oimg_platform_parse(&want, platform, &err);
    const char *term = getenv("TERM");
    prog.tty = !prog.quiet && isatty(STDERR_FILENO) && !(term && strcmp(term, "dumb") == 0);
    if (ret >= 0)
        ret = cmd_remote_client(&client, &rem, jobs, on_event, &prog, &err);
    if (ret >= 0)
        ret = oimg_layout_open(&l, dest.dir, OIMG_LAYOUT_CREATE, &err);
    if (ret >= 0) {
        struct oreg_pull_opts po = {
            .platform = platform ? &want : NULL,
            .all_platforms = all,
            .name = dest.name,
        };
        if (bundle)
            ret = cmd_pull_unpack(&res, &ures, client, ref, l, &po, bundle, &uo, &err);
        else
            ret = oreg_pull(&res, client, ref, l, &po, &err);
    }
    if (prog.tty && prog.n)
        draw(&prog, true);
    if (ret >= 0) {
        if (json)
            print_json(res, dest.dir, bundle, &ures);
        if (!prog.quiet)
            print_summary(res, dest.dir);
        if (!prog.quiet && bundle)
            cmd_info("Unpacked %zu layer%s into %s", ures.layers, ures.layers == 1 ? "" : "s",
                     bundle);
    }
    oreg_pull_result_free(res);
    oimg_layout_free(l);
    oreg_client_free(client);
    oimg_platform_clear(&want);
    oimg_layout_ref_clear(&dest);
    oreg_ref_free(ref);
    cmd_remote_clear(&rem);
    free(prog.rows);
    free(prog.rl);
    if (ret < 0)
        return err ? cmd_fail("pull", err) : EXIT_FAIL;
    return EXIT_OK;
}

const struct ociimg_cmd ociimg_cmd_pull = {
    .name = "pull",
    .run = run,
    .summary = "pull an image from a registry into a layout",
    .usage =
        "Usage: ociimg pull [OPTIONS] [--unpack BUNDLE] REF DIR[:NAME]\n\n"
        "Fetches REF (e.g. alpine:3.19, ghcr.io/org/app@sha256:..., docker://quay.io/x/y:1) into\n"
        "the OCI image layout DIR (created if missing) and names it NAME in DIR/index.json\n"
        "(default: the tag, or the digest when REF has only one).  Blobs are verified before\n"
        "they are stored, downloaded in parallel, and an interrupted pull continues where it\n"
        "stopped when run again (partial downloads are kept in DIR/.ociimg/partial for a day).\n"
        "From an index, the manifest for the platform is kept (default: this host's).\n\n"
        "With --unpack BUNDLE the image is also unpacked into BUNDLE as `ociimg unpack` does\n"
        "(BUNDLE/rootfs + BUNDLE/config.json), in the same pass: each layer is decompressed,\n"
        "verified (digest and diff_id) and applied while it downloads, in layer order (later\n"
        "layers download meanwhile and wait their turn in a spool).  DIR still receives every\n"
        "blob, so a later unpack needs no network.  BUNDLE appears only when complete; after\n"
        "any failure there is none (DIR stays valid).\n\n"
        "Options:\n"
        "  --platform OS/ARCH[/VARIANT]  choose this platform from an index\n"
        "  --all-platforms     keep the whole index and every image in it\n"
        "  --jobs N            parallel blob downloads (default 6)\n"
        "  -q, --quiet         no progress output\n"
        "  --unpack BUNDLE     also unpack the image into BUNDLE, streamed (a new or empty\n"
        "                      directory; a non-empty one only with --force)\n"
        "  --rootfs-only       with --unpack: BUNDLE is the rootfs itself, no config.json\n"
        "  --force             with --unpack: replace a non-empty BUNDLE once the new one is\n"
        "                      complete\n"
        "  --rootless          with --unpack: as `ociimg unpack --rootless` (always when not\n"
        "                      root)\n"
        "  --no-seccomp        with --unpack: no seccomp profile in config.json\n"
        "  --no-sync           with --unpack: skip the final syncfs of the bundle\n"
        "  --json              print a summary as JSON on stdout:\n"
        "                      {reference, layout, name, digest, mediaType, size (of the\n"
        "                      index.json entry), source {digest, mediaType}, host, platforms,\n"
        "                      manifests, blobs {total, present, fetched}, bytes {total,\n"
        "                      fetched, resumed}, retries, seconds, "
        "rateLimitRemaining,\n"
        "                      with --unpack: unpacked {path, layers, uncompressedBytes,\n"
        "                      entries}}\n" CMD_REMOTE_HELP
        "\nProgress goes to stderr: on a terminal one line per layer with its state, bytes and\n"
        "rate; otherwise one line per finished blob.\n\n" CMD_REGISTRIES_CONF_HELP "\nExamples:\n"
        "  ociimg pull alpine:3.19 ./images\n"
        "  ociimg pull --platform linux/arm64 ghcr.io/org/app:1.2 ./images:app\n"
        "  ociimg pull --tls-verify=false localhost:5000/test/hello:1 ./images\n"
        "  ociimg pull --unpack ./bundle alpine:3.19 ./images\n"
        "  ocirun run --bundle ./bundle c1      (runs the bundle pull --unpack made)\n",
};
