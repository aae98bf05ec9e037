/* ociimg ls: the images of a layout, one line each. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <ociimg/cleanup.h>
#include <ociimg/json.h>
#include <ociimg/layout.h>

#include "cmd.h"

static const char *short_media_type(const char *mt)
{
    if (!mt)
        return "-";
    if (strcmp(mt, OIMG_MT_OCI_MANIFEST) == 0)
        return "oci-manifest";
    if (strcmp(mt, OIMG_MT_OCI_INDEX) == 0)
        return "oci-index";
    if (strcmp(mt, OIMG_MT_DOCKER_MANIFEST) == 0)
        return "docker-manifest";
    if (strcmp(mt, OIMG_MT_DOCKER_LIST) == 0)
        return "docker-list";
    return mt;
}

static void print_json(const struct oimg_image_summary *s, size_t n)
{
    _cleanup_json_ json_object *arr = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", s[i].name ? json_object_new_string(s[i].name) : NULL);
        json_object_object_add(o, "digest", json_object_new_string(s[i].desc.digest.str));
        json_object_object_add(o, "mediaType", json_object_new_string(s[i].desc.media_type));
        json_object *p = json_object_new_array();
        for (size_t j = 0; j < s[i].n_platforms; j++)
            json_object_array_add(p, json_object_new_string(s[i].platforms[j]));
        json_object_object_add(o, "platforms", p);
        json_object_object_add(o, "size", json_object_new_int64((int64_t)s[i].total_size));
        json_object_object_add(o, "missingBlobs",
                               json_object_new_int64((int64_t)s[i].missing_blobs));
        json_object_array_add(arr, o);
    }
    _cleanup_free_ char *txt = oimg_json_dump(arr, true);
    if (txt)
        printf("%s\n", txt);
}

static void print_table(const struct oimg_image_summary *s, size_t n, bool no_trunc)
{
    printf("%-24s %-19s %-16s %-10s %s\n", "NAME", "DIGEST", "MEDIA TYPE", "SIZE", "PLATFORMS");
    for (size_t i = 0; i < n; i++) {
        char digest[OIMG_DIGEST_MAX + 1], size[32];
        const char *d = s[i].desc.digest.str;
        if (no_trunc)
            snprintf(digest, sizeof(digest), "%s", d);
        else
            snprintf(digest, sizeof(digest), "%.19s", d);
        printf("%-24s %-19s %-16s %-10s ", s[i].name ? s[i].name : "<none>", digest,
               short_media_type(s[i].desc.media_type),
               cmd_human_size(size, sizeof(size), s[i].total_size));
        for (size_t j = 0; j < s[i].n_platforms; j++)
            printf("%s%s", j ? "," : "", s[i].platforms[j]);
        if (s[i].n_platforms == 0)
            printf("-");
        if (s[i].missing_blobs)
            printf(" (%zu blob%s missing)", s[i].missing_blobs, s[i].missing_blobs == 1 ? "" : "s");
        printf("\n");
    }
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"no-trunc", no_argument, NULL, 'n'},
        {0},
    };
    bool json = false, no_trunc = false;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = true;
            break;
        case 'n':
            no_trunc = true;
            break;
        default:
            return cmd_bad_option(&ociimg_cmd_ls, argv);
        }
    }
    if (optind + 1 != argc)
        return cmd_usage_error(&ociimg_cmd_ls, "expected one layout directory");

    struct oci_error *err = NULL;
    struct oimg_layout *l = NULL;
    struct oimg_image_summary *s = NULL;
    size_t n = 0;
    if (oimg_layout_open(&l, argv[optind], OIMG_LAYOUT_READONLY, &err) < 0 ||
        oimg_layout_list_images(&s, &n, l, &err) < 0) {
        oimg_layout_free(l);
        return cmd_fail("ls", err);
    }
    if (json)
        print_json(s, n);
    else
        print_table(s, n, no_trunc);
    oimg_image_summaries_free(s, n);
    oimg_layout_free(l);
    return EXIT_OK;
}

const struct ociimg_cmd ociimg_cmd_ls = {
    .name = "ls",
    .run = run,
    .summary = "list the images in a layout",
    .usage = "Usage: ociimg ls [--json] [--no-trunc] DIR\n\n"
             "Lists every entry of DIR/index.json: name, digest, media type, total size of the\n"
             "blobs it references and the platforms it provides.\n\n"
             "Options:\n"
             "  --json      print a JSON array instead of a table: [{name, digest, mediaType,\n"
             "              platforms, size, missingBlobs}]\n"
             "  --no-trunc  print full digests\n\n"
             "Examples:\n"
             "  ociimg ls ./images\n"
             "  ociimg ls --json ./images | jq -r '.[].name'\n",
};
