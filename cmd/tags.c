/* ociimg tags: a repository's tags, from the registry. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <ociimg/cleanup.h>
#include <ociimg/json.h>

#include "cmd.h"
#include "cmd_remote.h"

static void on_event(void *ud, const struct oreg_event *ev)
{
    (void)ud;
    if (ev->kind == OREG_EV_NOTE)
        cmd_info("note: %s", ev->msg);
    else if (ev->kind == OREG_EV_RATELIMIT)
        cmd_debug("tags", "%s: RateLimit-Remaining: %s", ev->host ? ev->host : "registry", ev->msg);
}

static int run(int argc, char **argv)
{
    enum { O_PAGE = 1, O_JSON };
    static const struct option opts[] = {
        {"page-size", required_argument, NULL, O_PAGE},
        {"json", no_argument, NULL, O_JSON},
        CMD_REMOTE_OPTIONS,
        {0},
    };
    struct cmd_remote rem = CMD_REMOTE_INIT;
    int page = 0, c;
    bool json = false;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int h = cmd_remote_option(&rem, &ociimg_cmd_tags, c, optarg);
        if (h > 1)
            return h;
        if (h == 1)
            continue;
        if (c == O_PAGE) {
            if (!cmd_parse_count(&page, optarg, 100000) || page == 0)
                return cmd_usage_error(&ociimg_cmd_tags, "--page-size takes a positive number");
        } else if (c == O_JSON) {
            json = true;
        } else {
            return cmd_bad_option(&ociimg_cmd_tags, argv);
        }
    }
    if (argc - optind != 1)
        return cmd_usage_error(&ociimg_cmd_tags, "expected one REF");
    struct oci_error *err = NULL;
    struct oreg_ref *ref = NULL;
    struct oreg_client *client = NULL;
    char **tags = NULL;
    size_t n = 0;
    int ret = oreg_ref_parse(&ref, argv[optind], &err);
    if (ret >= 0)
        ret = cmd_remote_client(&client, &rem, 1, on_event, NULL, &err);
    if (ret >= 0)
        ret = oreg_list_tags(&tags, &n, client, ref, page, &err);
    if (ret >= 0 && json) {
        _cleanup_json_ json_object *a = json_object_new_array();
        for (size_t i = 0; i < n; i++)
            json_object_array_add(a, json_object_new_string(tags[i]));
        _cleanup_free_ char *txt = oimg_json_dump(a, true);
        if (txt)
            printf("%s\n", txt);
    } else if (ret >= 0) {
        for (size_t i = 0; i < n; i++)
            printf("%s\n", tags[i]);
    }
    oreg_tags_free(tags, n);
    oreg_client_free(client);
    oreg_ref_free(ref);
    cmd_remote_clear(&rem);
    if (ret < 0)
        return err ? cmd_fail("tags", err) : EXIT_FAIL;
    return EXIT_OK;
}

const struct ociimg_cmd ociimg_cmd_tags = {
    .name = "tags",
    .run = run,
    .summary = "list a repository's tags on a registry",
    .usage = "Usage: ociimg tags [OPTIONS] REF\n\n"
             "Prints the tags of REF's repository (any tag or digest in REF is ignored), one\n"
             "per line in the registry's order, following the registry's pages.\n\n"
             "Options:\n"
             "  --page-size N       ask for N tags per page (the registry may cap it)\n"
             "  --json              print a JSON array\n" CMD_REMOTE_HELP
             "\n" CMD_REGISTRIES_CONF_HELP "\nExamples:\n"
             "  ociimg tags alpine\n"
             "  ociimg tags --json ghcr.io/org/app | jq -r '.[-1]'\n"
             "  ociimg tags --tls-verify=false localhost:5000/test/hello\n",
};
