/* ociimg validate: check documents and layouts against the image-spec. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <ociimg/cleanup.h>
#include <ociimg/json.h>
#include <ociimg/layout.h>

#include "cmd.h"

static const struct {
    const char *name;
    enum oimg_doc_type type;
} types[] = {
    {"manifest", OIMG_DOC_MANIFEST}, {"index", OIMG_DOC_INDEX},
    {"config", OIMG_DOC_CONFIG},     {"descriptor", OIMG_DOC_DESCRIPTOR},
    {"layout", OIMG_DOC_LAYOUT},     {"imageLayout", OIMG_DOC_LAYOUT},
};

/* Returns the number of problems printed, or a negative code. */
static int validate_layout(const char *path, struct oci_error **err)
{
    struct oimg_layout *l = NULL;
    struct oimg_verify_report rep = {0};
    int ret = oimg_layout_open(&l, path, OIMG_LAYOUT_READONLY, err);
    if (ret >= 0)
        ret = oimg_layout_verify(&rep, l, OIMG_VERIFY_STRICT, err);
    if (ret >= 0) {
        for (size_t i = 0; i < rep.n_problems; i++)
            printf("%s: %s\n", path, rep.problems[i]);
        ret = (int)rep.n_problems;
    }
    oimg_verify_report_clear(&rep);
    oimg_layout_free(l);
    return ret;
}

static int validate_file(const char *path, enum oimg_doc_type type, struct oci_error **err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    /* Read a little past the largest cap so the validator reports the size itself. */
    int ret = oimg_read_file_at(&buf, &len, AT_FDCWD, path, OIMG_MAX_CONFIG_SIZE + 1, err);
    if (ret < 0)
        return ret;
    if (type == OIMG_DOC_UNKNOWN) {
        ret = oimg_doc_detect(&type, buf, len, err);
        if (ret < 0)
            return ret;
        if (type == OIMG_DOC_UNKNOWN)
            return oci_error_set(err, OCI_ERR_INVALID,
                                 "cannot tell what kind of document this is; use --type");
    }
    struct oimg_problems p = {0};
    ret = oimg_validate_document(&p, type, buf, len, err);
    if (ret >= 0) {
        for (size_t i = 0; i < p.n; i++)
            printf("%s: %s\n", path, p.lines[i]);
        ret = (int)p.n;
    }
    oimg_problems_clear(&p);
    return ret;
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"type", required_argument, NULL, 't'},
        {"quiet", no_argument, NULL, 'q'},
        {0},
    };
    enum oimg_doc_type type = OIMG_DOC_UNKNOWN;
    bool quiet = false;
    int c;
    while ((c = getopt_long(argc, argv, "t:q", opts, NULL)) != -1) {
        switch (c) {
        case 't': {
            size_t i;
            for (i = 0; i < OCI_ARRAY_SIZE(types); i++)
                if (strcmp(types[i].name, optarg) == 0)
                    break;
            if (i == OCI_ARRAY_SIZE(types))
                return cmd_usage_error(&ociimg_cmd_validate, "unknown --type `%s`", optarg);
            type = types[i].type;
            break;
        }
        case 'q':
            quiet = true;
            break;
        default:
            return cmd_bad_option(&ociimg_cmd_validate, argv);
        }
    }
    if (optind >= argc)
        return cmd_usage_error(&ociimg_cmd_validate, "expected FILE or DIR");

    int exit_code = EXIT_OK;
    for (int i = optind; i < argc; i++) {
        struct oci_error *err = NULL;
        struct stat st;
        bool is_dir = stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode);
        int ret;
        if (is_dir && (type == OIMG_DOC_LAYOUT || type == OIMG_DOC_UNKNOWN))
            ret = validate_layout(argv[i], &err);
        else
            ret = validate_file(argv[i], type, &err);
        if (ret < 0) {
            int code = err ? err->code : OCI_ERR_INTERNAL;
            if (code == OCI_ERR_IO || code == OCI_ERR_NOT_FOUND || code == OCI_ERR_NOMEM) {
                /* Could not look at the input at all: an error, not a finding. */
                exit_code = cmd_fail("validate", err);
                continue;
            }
            /* Unparseable or oversized input is itself a finding. */
            printf("%s: %s\n", argv[i], err && err->msg ? err->msg : "cannot validate");
            oci_error_free(err);
            ret = 1;
        }
        if (ret > 0)
            exit_code = exit_code == EXIT_OK ? EXIT_FAIL : exit_code;
        else if (!quiet && !cmd_quiet())
            printf("%s: valid\n", argv[i]);
    }
    return exit_code;
}

const struct ociimg_cmd ociimg_cmd_validate = {
    .name = "validate",
    .run = run,
    .summary = "check documents or a layout against the image-spec",
    .usage = "Usage: ociimg validate [--type manifest|index|config|descriptor|layout] [-q] "
             "FILE|DIR...\n\n"
             "Validates each FILE as the given document type (by default: detected from its\n"
             "mediaType and shape; a directory is a layout) by the rules of the OCI image-spec,\n"
             "not only its JSON schema.  Prints one line per problem and exits 1 if any.\n\n"
             "Options:\n"
             "  -t, --type T  document type; `layout` checks a whole layout like `verify`\n"
             "  -q, --quiet   print nothing for valid inputs\n\n"
             "Examples:\n"
             "  ociimg validate manifest.json config.json\n"
             "  ociimg validate --type manifest manifest.json\n"
             "  ociimg validate --type layout ./images\n",
};
