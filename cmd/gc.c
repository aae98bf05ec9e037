/* ociimg gc: remove blobs nothing references, and stale temp files. */
#include <getopt.h>
#include <stdio.h>

#include <ociimg/layout.h>

#include "cmd.h"

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dry-run", no_argument, NULL, 'n'},
        {"quiet", no_argument, NULL, 'q'},
        {0},
    };
    bool dry_run = false, quiet = false;
    int c;
    while ((c = getopt_long(argc, argv, "nq", opts, NULL)) != -1) {
        switch (c) {
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
        oimg_layout_gc(&rep, l, dry_run, &err) < 0) {
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
    .usage = "Usage: ociimg gc [--dry-run] [-q] DIR\n\n"
             "Removes every blob that nothing reachable from DIR/index.json references, and temp\n"
             "files left by interrupted writes.  Runs under the layout lock, so it is safe while\n"
             "other ociimg processes write into DIR.\n\n"
             "Options:\n"
             "  -n, --dry-run  only list what would be removed\n"
             "  -q, --quiet    print nothing\n\n"
             "Examples:\n"
             "  ociimg gc --dry-run ./images\n"
             "  ociimg untag ./images:old && ociimg gc ./images\n",
};
