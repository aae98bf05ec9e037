/* ociimg tag / untag: edit the names in a layout's index.json. */
#include <getopt.h>
#include <stdio.h>

#include <ociimg/layout.h>

#include "cmd.h"
#include "cmd_layout.h"

static int no_options(const struct ociimg_cmd *c, int argc, char **argv, int want)
{
    static const struct option opts[] = {{0}};
    if (getopt_long(argc, argv, "", opts, NULL) != -1)
        return cmd_bad_option(c, argv);
    if (argc - optind != want)
        return cmd_usage_error(c, "expected %d argument%s", want, want == 1 ? "" : "s");
    return 0;
}

static int run_tag(int argc, char **argv)
{
    int ret = no_options(&ociimg_cmd_tag, argc, argv, 2);
    if (ret)
        return ret;
    struct oci_error *err = NULL;
    struct cmd_image_ref r = {0};
    ret = cmd_image_ref_open(&r, argv[optind], 0, true, &err);
    if (ret >= 0)
        ret = oimg_layout_tag(r.layout, argv[optind + 1], &r.desc, &err);
    cmd_image_ref_clear(&r);
    return ret < 0 ? cmd_fail("tag", err) : EXIT_OK;
}

static int run_untag(int argc, char **argv)
{
    int ret = no_options(&ociimg_cmd_untag, argc, argv, 1);
    if (ret)
        return ret;
    struct oci_error *err = NULL;
    struct cmd_image_ref r = {0};
    ret = cmd_image_ref_open(&r, argv[optind], 0, false, &err);
    if (ret >= 0 && !r.ref.name)
        ret = oci_error_set(&err, OCI_ERR_INVALID, "`%s` names no tag (expected DIR:NAME)",
                            argv[optind]);
    if (ret >= 0)
        ret = oimg_layout_untag(r.layout, r.ref.name, &err);
    cmd_image_ref_clear(&r);
    return ret < 0 ? cmd_fail("untag", err) : EXIT_OK;
}

const struct ociimg_cmd ociimg_cmd_tag = {
    .name = "tag",
    .run = run_tag,
    .summary = "give an image a (new) name",
    .usage = "Usage: ociimg tag DIR[:NAME|@DIGEST] NEWNAME\n\n"
             "Adds an entry NEWNAME to DIR/index.json pointing at the same manifest or index as\n"
             "the source name; an existing NEWNAME is moved.  Safe with concurrent writers.\n\n"
             "Examples:\n"
             "  ociimg tag ./images:3.19 latest\n"
             "  ociimg tag ./images@sha256:4bcff6... stable\n",
};

const struct ociimg_cmd ociimg_cmd_untag = {
    .name = "untag",
    .run = run_untag,
    .summary = "remove a name from a layout",
    .usage = "Usage: ociimg untag DIR:NAME\n\n"
             "Removes NAME from DIR/index.json.  The blobs stay until `ociimg gc`.\n\n"
             "Examples:\n"
             "  ociimg untag ./images:old\n"
             "  ociimg untag ./images:old && ociimg gc ./images\n",
};
