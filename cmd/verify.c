/* ociimg verify: fsck for a layout. */
#include <getopt.h>
#include <stdio.h>

#include <ociimg/layout.h>

#include "cmd.h"

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"all", no_argument, NULL, 'a'},
        {"strict", no_argument, NULL, 's'},
        {"quiet", no_argument, NULL, 'q'},
        {0},
    };
    unsigned flags = 0;
    bool quiet = false;
    int c;
    while ((c = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            flags |= OIMG_VERIFY_ALL;
            break;
        case 's':
            flags |= OIMG_VERIFY_STRICT;
            break;
        case 'q':
            quiet = true;
            break;
        default:
            return cmd_bad_option(&ociimg_cmd_verify, argv);
        }
    }
    if (optind + 1 != argc)
        return cmd_usage_error(&ociimg_cmd_verify, "expected one layout directory");

    struct oci_error *err = NULL;
    struct oimg_layout *l = NULL;
    struct oimg_verify_report rep = {0};
    if (oimg_layout_open(&l, argv[optind], OIMG_LAYOUT_READONLY, &err) < 0 ||
        oimg_layout_verify(&rep, l, flags, &err) < 0) {
        oimg_layout_free(l);
        return cmd_fail("verify", err);
    }
    for (size_t i = 0; i < rep.n_problems; i++)
        printf("%s\n", rep.problems[i]);
    for (size_t i = 0; i < rep.n_warnings; i++)
        printf("warning: %s\n", rep.warnings[i]);
    if (!quiet && !cmd_quiet()) {
        for (size_t i = 0; i < rep.n_notes; i++)
            printf("note: %s\n", rep.notes[i]);
        char size[32];
        printf("%s: %zu blobs checked (%s), %zu problem%s, %zu warning%s\n", argv[optind],
               rep.blobs_checked, cmd_human_size(size, sizeof(size), rep.bytes_checked),
               rep.n_problems, rep.n_problems == 1 ? "" : "s", rep.n_warnings,
               rep.n_warnings == 1 ? "" : "s");
    }
    int ret = rep.n_problems ? EXIT_FAIL : EXIT_OK;
    oimg_verify_report_clear(&rep);
    oimg_layout_free(l);
    return ret;
}

const struct ociimg_cmd ociimg_cmd_verify = {
    .name = "verify",
    .run = run,
    .summary = "check every blob and document of a layout",
    .usage = "Usage: ociimg verify [--all] [--strict] [-q] DIR\n\n"
             "Checks that every blob reachable from DIR/index.json exists, has the declared size\n"
             "and digest, and that every document is valid.  Prints one line per problem and a\n"
             "summary; exits 1 if any problem was found.\n\n"
             "Options:\n"
             "  --all        also hash the blobs nothing references\n"
             "  --strict     treat spec violations in intact documents as problems (by default\n"
             "               they are warnings: tools in the wild write such documents)\n"
             "  -q, --quiet  print only the problems and warnings\n\n"
             "Examples:\n"
             "  ociimg verify ./images\n"
             "  ociimg verify --all --strict -q ./images || echo damaged\n",
};
