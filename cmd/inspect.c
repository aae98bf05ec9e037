/* ociimg inspect: the resolved manifest and config of an image. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ociimg/cleanup.h>
#include <ociimg/fs.h>
#include <ociimg/json.h>

#include "cmd.h"
#include "cmd_layout.h"
#include "cmd_remote.h"

static void write_raw(const char *buf, size_t len)
{
    fflush(stdout);
    (void)oimg_fs_write_all(STDOUT_FILENO, buf, len);
}

/* Embeds a stored document in the output; it was validated when loaded. */
static json_object *doc_json(const char *raw, size_t len)
{
    json_object *o = NULL;
    struct oci_error *e = NULL;
    if (raw && oimg_json_parse(&o, raw, len, NULL, &e) < 0)
        oci_error_free(e);
    return o;
}

static int print_image(const struct cmd_image_ref *r, const struct oimg_image *img)
{
    _cleanup_json_ json_object *o = json_object_new_object();
    if (r->ref.name)
        json_object_object_add(o, "name", json_object_new_string(r->ref.name));
    json_object_object_add(o, "digest", json_object_new_string(img->desc.digest.str));
    json_object_object_add(o, "mediaType", json_object_new_string(img->desc.media_type));
    json_object_object_add(o, "size", json_object_new_int64(img->desc.size));
    if (!oimg_digest_equal(&img->desc.digest, &r->desc.digest))
        json_object_object_add(o, "index", oimg_descriptor_to_json(&r->desc));
    if (img->config) {
        struct oimg_platform p = {
            .os = img->config->os,
            .architecture = img->config->architecture,
            .variant = img->config->variant,
        };
        _cleanup_free_ char *ps = oimg_platform_format(&p);
        if (ps)
            json_object_object_add(o, "platform", json_object_new_string(ps));
    }
    json_object_object_add(o, "manifest", doc_json(img->manifest_raw, img->manifest_raw_len));
    json_object_object_add(o, "config", doc_json(img->config_raw, img->config_raw_len));
    _cleanup_free_ char *txt = oimg_json_dump(o, true);
    if (!txt)
        return -OCI_ERR_NOMEM;
    printf("%s\n", txt);
    return 0;
}

static void on_remote_event(void *ud, const struct oreg_event *ev)
{
    (void)ud;
    if (ev->kind == OREG_EV_NOTE)
        cmd_info("note: %s", ev->msg);
    else if (ev->kind == OREG_EV_MANIFEST)
        cmd_debug("inspect", "fetched %s", ev->msg);
}

/* docker://REF: the same output, from the registry (nothing is stored). */
static int run_remote(const char *arg, struct cmd_remote *rem, bool raw, bool config,
                      const char *platform)
{
    struct oci_error *err = NULL;
    struct oimg_platform want = {0};
    struct oreg_ref *ref = NULL;
    struct oreg_client *client = NULL;
    struct oreg_remote_image *img = NULL;
    int ret = 0;
    if (platform)
        ret = oimg_platform_parse(&want, platform, &err);
    if (ret >= 0)
        ret = oreg_ref_parse(&ref, arg, &err);
    if (ret >= 0)
        ret = cmd_remote_client(&client, rem, 1, on_remote_event, NULL, &err);
    unsigned flags = raw && !config && !platform ? OREG_INSPECT_TOP_ONLY
                     : raw && !config            ? OREG_INSPECT_NO_CONFIG
                                                 : 0;
    if (ret >= 0)
        ret = oreg_inspect(&img, client, ref, platform ? &want : NULL, flags, &err);
    if (ret >= 0 && raw) {
        if (flags & OREG_INSPECT_TOP_ONLY)
            write_raw(img->top->data, img->top->len);
        else if (!config)
            write_raw(img->manifest->data, img->manifest->len);
        else if (!img->config)
            ret = oci_error_set(&err, OCI_ERR_NOT_FOUND, "%s has no image config",
                                img->desc.digest.str);
        else
            write_raw(img->config, img->config_len);
    } else if (ret >= 0) {
        _cleanup_json_ json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(ref->canonical));
        json_object_object_add(o, "digest", json_object_new_string(img->desc.digest.str));
        json_object_object_add(o, "mediaType", json_object_new_string(img->desc.media_type));
        json_object_object_add(o, "size", json_object_new_int64(img->desc.size));
        if (!oimg_digest_equal(&img->desc.digest, &img->top->digest)) {
            json_object *idx = json_object_new_object();
            json_object_object_add(idx, "mediaType", json_object_new_string(img->top->media_type));
            json_object_object_add(idx, "digest", json_object_new_string(img->top->digest.str));
            json_object_object_add(idx, "size", json_object_new_int64((int64_t)img->top->len));
            json_object_object_add(o, "index", idx);
        }
        struct oimg_image_config *cfg = NULL;
        if (img->config && oimg_config_parse(&cfg, img->config, img->config_len, NULL) >= 0) {
            struct oimg_platform p = {
                .os = cfg->os, .architecture = cfg->architecture, .variant = cfg->variant};
            _cleanup_free_ char *ps = oimg_platform_format(&p);
            if (ps)
                json_object_object_add(o, "platform", json_object_new_string(ps));
            oimg_config_free(cfg);
        }
        json_object_object_add(o, "host", json_object_new_string(img->top->host));
        json_object_object_add(o, "manifest", doc_json(img->manifest->data, img->manifest->len));
        json_object_object_add(o, "config", doc_json(img->config, img->config_len));
        _cleanup_free_ char *txt = oimg_json_dump(o, true);
        if (txt)
            printf("%s\n", txt);
    }
    oreg_remote_image_free(img);
    oreg_client_free(client);
    oreg_ref_free(ref);
    oimg_platform_clear(&want);
    cmd_remote_clear(rem);
    if (ret < 0)
        return err ? cmd_fail("inspect", err) : EXIT_FAIL;
    return EXIT_OK;
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"raw", no_argument, NULL, 'r'},
        {"config", no_argument, NULL, 'c'},
        {"platform", required_argument, NULL, 'p'},
        {"json", no_argument, NULL, 'j'},
        CMD_REMOTE_OPTIONS,
        {0},
    };
    bool raw = false, config = false, remote_opts = false, json = false;
    const char *platform = NULL;
    struct cmd_remote rem = CMD_REMOTE_INIT;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int h = cmd_remote_option(&rem, &ociimg_cmd_inspect, c, optarg);
        if (h > 1)
            return h;
        if (h == 1) {
            remote_opts = true;
            continue;
        }
        switch (c) {
        case 'r':
            raw = true;
            break;
        case 'c':
            config = true;
            break;
        case 'p':
            platform = optarg;
            break;
        case 'j':
            json = true; /* the default; accepted so scripts can say what they parse */
            break;
        default:
            return cmd_bad_option(&ociimg_cmd_inspect, argv);
        }
    }
    if (optind + 1 != argc)
        return cmd_usage_error(&ociimg_cmd_inspect, "expected one image name");
    if (json && raw)
        return cmd_usage_error(&ociimg_cmd_inspect, "--json and --raw exclude each other");
    if (config && !raw)
        return cmd_usage_error(&ociimg_cmd_inspect, "--config goes with --raw");
    if (strncmp(argv[optind], "docker://", 9) == 0)
        return run_remote(argv[optind], &rem, raw, config, platform);
    if (remote_opts)
        return cmd_usage_error(&ociimg_cmd_inspect,
                               "registry options need a docker://REF, not a layout");

    struct oci_error *err = NULL;
    struct oimg_platform want = {0};
    if (platform && oimg_platform_parse(&want, platform, &err) < 0)
        return cmd_fail("inspect", err);

    struct cmd_image_ref r = {0};
    struct oimg_image *img = NULL;
    int ret = cmd_image_ref_open(&r, argv[optind], OIMG_LAYOUT_READONLY, true, &err);
    if (ret >= 0 && raw && !config && !platform) {
        /* The stored bytes of what the name points at, index or manifest. */
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        ret = oimg_layout_blob_read(&buf, &len, r.layout, &r.desc.digest, r.desc.size,
                                    OIMG_MAX_MANIFEST_SIZE, &err);
        if (ret >= 0)
            write_raw(buf, len);
    } else if (ret >= 0) {
        ret = oimg_layout_load_image(&img, r.layout, &r.desc, platform ? &want : NULL, &err);
        if (ret >= 0 && raw) {
            if (config && !img->config_raw)
                ret = oci_error_set(&err, OCI_ERR_NOT_FOUND, "%s has no image config",
                                    img->desc.digest.str);
            else if (config)
                write_raw(img->config_raw, img->config_raw_len);
            else
                write_raw(img->manifest_raw, img->manifest_raw_len);
        } else if (ret >= 0) {
            ret = print_image(&r, img);
        }
    }
    oimg_image_free(img);
    cmd_image_ref_clear(&r);
    oimg_platform_clear(&want);
    if (ret < 0)
        return err ? cmd_fail("inspect", err) : EXIT_FAIL;
    return EXIT_OK;
}

const struct ociimg_cmd ociimg_cmd_inspect = {
    .name = "inspect",
    .run = run,
    .summary = "show an image's manifest and config",
    .usage =
        "Usage: ociimg inspect [--json | --raw [--config]] [--platform OS/ARCH[/VARIANT]]\n"
        "                      DIR[:NAME|@DIGEST]\n"
        "       ociimg inspect [...] [REGISTRY OPTIONS] docker://REF\n\n"
        "Resolves the name to an image manifest (choosing from an index by platform,\n"
        "default: this host's) and prints the manifest and config as one JSON object.\n"
        "With docker://REF the same comes from the registry (nothing is stored).\n\n"
        "Options:\n"
        "  --json        print {name, digest, mediaType, size, index (when the name\n"
        "                points at an index), platform, manifest, config} (the default)\n"
        "  --raw         print the stored bytes of what the name points at (an index or a\n"
        "                manifest); with --platform, of the chosen manifest\n"
        "  --config      with --raw: print the stored bytes of the image config\n"
        "  --platform P  choose this platform from an index (e.g. linux/arm64/v8)\n\n"
        "Registry options (with docker://REF):\n" CMD_REMOTE_HELP "\n" CMD_REGISTRIES_CONF_HELP "\n"
        "Examples:\n"
        "  ociimg inspect ./images:3.19\n"
        "  ociimg inspect --json ./images:3.19 | jq .config.config.Cmd\n"
        "  ociimg inspect --raw ./images@sha256:4bcff6...\n"
        "  ociimg inspect --platform linux/arm64 ./images:3.19\n"
        "  ociimg inspect --raw docker://alpine:3.19\n"
        "  ociimg inspect --tls-verify=false docker://localhost:5000/test/hello:1\n",
};
