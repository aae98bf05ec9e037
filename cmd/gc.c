/* ociimg gc: remove blobs nothing references, and stale temp files. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <ociimg/layout.h>

#include "cmd.h"

/* A day is more than any pull needs; beyond that is a typo. */
#define WAIT_MAX_SECS 86400

/* SECONDS (a decimal number, millisecond precision) as milliseconds. */
static bool parse_wait(unsigned *ms, const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    /* Written so that NaN fails too. */
    if (errno || end == s || *end || !(v >= 0 && v <= WAIT_MAX_SECS))
        return false;
    *ms = (unsigned)(v * 1000 + 0.5);
    return true;
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dry-run", no_argument, NULL, 'n'},
        {"quiet", no_argument, NULL, 'q'},
        {"wait", required_argument, NULL, 'w'},
        {0},
    };
    bool dry_run = false, quiet = false;
    unsigned wait_ms = 10 * 1000;
    int c;
    while ((c = getopt_long(argc, argv, "nqw:", opts, NULL)) != -1) {
        switch (c) {
        case 'w':
            if (!parse_wait(&wait_ms, optarg))
                return cmd_usage_error(&ociimg_cmd_gc,
                                       "--wait takes a number of seconds from 0 to 86400");
            break;
        case 'n':
            dry_run = true;
            break;
        case 'q':
            quiet = true;
            break;
        default:
            return cmd_bad_option(&ociimg_cmd_gc, argv);
        }
    }
    if (optind + 1 != argc)
        return cmd_usage_error(&ociimg_cmd_gc, "expected one layout directory");

    struct oci_error *err = NULL;
    struct oimg_layout *l = NULL;
    struct oimg_gc_report rep = {0};
    if (oimg_layout_open(&l, argv[optind], 0, &err) < 0 ||
        oimg_layout_gc_wait(&rep, l, dry_run, wait_ms, &err) < 0) {
        oimg_layout_free(l);
        return cmd_fail("gc", err);
    }
    if (!quiet && !cmd_quiet()) {
        char size[32];
        for (size_t i = 0; i < rep.n_removed; i++)
            printf("%s %s\n", dry_run ? "would remove" : "removed", rep.removed[i]);
        printf("%s: %zu item%s, %s %s\n", argv[optind], rep.n_removed,
               rep.n_removed == 1 ? "" : "s", cmd_human_size(size, sizeof(size), rep.bytes_freed),
               dry_run ? "would be freed" : "freed");
    }
    oimg_gc_report_clear(&rep);
    oimg_layout_free(l);
    return EXIT_OK;
}

const struct ociimg_cmd ociimg_cmd_gc = {
    .name = "gc",
    .run = run,
    .summary = "remove unreferenced blobs and stale temp files",
    .usage = "Usage: ociimg gc [--dry-run] [-q] [--wait SECONDS] DIR\n\n"
             "Removes every blob that nothing reachable from DIR/index.json references, and temp\n"
             "files left by interrupted writes.  Runs under the layout lock, so it is safe while\n"
             "other ociimg processes write into DIR.  While one is writing blobs (a pull, say),\n"
             "gc waits for it to finish, up to --wait seconds, then fails saying so.\n\n"
             "Options:\n"
             "  -n, --dry-run       only list what would be removed\n"
             "  -q, --quiet         print nothing\n"
             "  -w, --wait SECONDS  wait this long for writers to finish (default 10;\n"
             "                      0 fails at once if one is writing)\n\n"
             "Examples:\n"
             "  ociimg gc --dry-run ./images\n"
             "  ociimg untag ./images:old && ociimg gc ./images\n"
             "  ociimg gc --wait 120 ./images   # while a long pull into ./images runs\n",
};
