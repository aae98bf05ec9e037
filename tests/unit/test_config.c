/* Image configs: the config.md rules, Docker's image JSON, RFC 3339 dates
 * and bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/model.h>

#include "t.h"

#define DIFF1 "sha256:9d3dd9504c685a304985025df4ed0283e47ac9ffa9bd0326fddf4d59513f0827"
#define DIFF2 "sha256:2b689805fbd00b2db1df73fae47562faac1a626d5f61744bfe29946ecff5d73d"
#define ROOTFS "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" DIFF1 "\"]}"
/* a minimal config plus extra fields */
#define C(extra) "{\"architecture\":\"amd64\",\"os\":\"linux\"," ROOTFS extra "}"

static char msg[2048];

static int parse(struct oimg_image_config **out, const char *doc)
{
    struct oci_error *e = NULL;
    msg[0] = '\0';
    int r = oimg_config_parse(out, doc, strlen(doc), &e);
    if (e)
        snprintf(msg, sizeof(msg), "%s", e->msg);
    oci_error_free(e);
    return r;
}

static void reject(const char *doc, int code, const char *want)
{
    struct oimg_image_config *c = NULL;
    CHECK_INT(parse(&c, doc), -code);
    CHECK(c == NULL);
    if (!strstr(msg, want)) {
        t_failed++;
        t_case_failed = 1;
        fprintf(stderr, "  message \"%s\"\n  lacks \"%s\"\n  doc %s\n", msg, want, doc);
    }
}

static void full(void)
{
    const char *doc =
        "{\"created\":\"2015-10-31T22:22:56.015925234Z\",\"author\":\"Alyssa\","
        "\"architecture\":\"arm64\",\"variant\":\"v8\",\"os\":\"linux\",\"os.version\":\"x\","
        "\"os.features\":[\"f1\"],"
        "\"config\":{\"User\":\"1:1\",\"ExposedPorts\":{\"8080/tcp\":{},\"53/udp\":{},\"9\":{}},"
        "\"Env\":[\"PATH=/usr/bin\",\"EMPTY=\",\"A=b=c\"],\"Entrypoint\":[\"/bin/sh\"],"
        "\"Cmd\":[\"--foreground\",\"-c\"],\"Volumes\":{\"/var/data\":{}},\"WorkingDir\":\"/home\","
        "\"Labels\":{\"com.example\":\"yes\"},\"StopSignal\":\"SIGKILL\",\"ArgsEscaped\":true,"
        "\"Memory\":1,\"Healthcheck\":{}},"
        "\"rootfs\":{\"diff_ids\":[\"" DIFF1 "\",\"" DIFF2 "\"],\"type\":\"layers\"},"
        "\"history\":[{\"created\":\"2015-10-31T22:22:54.690851953Z\",\"created_by\":\"ADD\"},"
        "{\"created\":\"2015-10-31T22:22:55+01:00\",\"created_by\":\"CMD\",\"author\":\"a\","
        "\"comment\":\"c\",\"empty_layer\":true}]}";
    struct oimg_image_config *c = NULL;
    CHECK_OK(parse(&c, doc));
    CHECK(c != NULL);
    if (!c)
        return;
    CHECK_STR(c->created, "2015-10-31T22:22:56.015925234Z");
    CHECK_STR(c->author, "Alyssa");
    CHECK_STR(c->architecture, "arm64");
    CHECK_STR(c->variant, "v8");
    CHECK_STR(c->os, "linux");
    CHECK_STR(c->os_version, "x");
    CHECK_INT(c->n_os_features, 1);
    CHECK_STR(c->config.user, "1:1");
    CHECK_INT(c->config.n_exposed_ports, 3);
    CHECK_STR(c->config.exposed_ports[0], "8080/tcp");
    CHECK_INT(c->config.n_env, 3);
    CHECK_STR(c->config.env[2], "A=b=c");
    CHECK(c->config.has_entrypoint && c->config.n_entrypoint == 1);
    CHECK(c->config.has_cmd && c->config.n_cmd == 2);
    CHECK_STR(c->config.cmd[1], "-c");
    CHECK_INT(c->config.n_volumes, 1);
    CHECK_STR(c->config.volumes[0], "/var/data");
    CHECK_STR(c->config.working_dir, "/home");
    CHECK_STR(oimg_annotations_get(&c->config.labels, "com.example"), "yes");
    CHECK_STR(c->config.stop_signal, "SIGKILL");
    CHECK(c->config.args_escaped);
    CHECK_STR(c->rootfs.type, "layers");
    CHECK_INT(c->rootfs.n_diff_ids, 2);
    CHECK_STR(c->rootfs.diff_ids[1].str, DIFF2);
    CHECK_INT(c->rootfs.diff_ids[1].alg, OIMG_DIGEST_SHA256);
    CHECK_INT(c->n_history, 2);
    CHECK(!c->history[0].empty_layer && c->history[1].empty_layer);
    CHECK_STR(c->history[1].comment, "c");
    oimg_config_free(c);
    oimg_config_free(NULL);
}

static void minimal_and_presence(void)
{
    struct oimg_image_config *c = NULL;
    CHECK_OK(parse(&c, C("")));
    CHECK(c && !c->config.has_cmd && !c->config.has_entrypoint && c->created == NULL);
    oimg_config_free(c);
    /* present but empty differs from absent */
    CHECK_OK(parse(&c, C(",\"config\":{\"Entrypoint\":[],\"Cmd\":[]}")));
    CHECK(c && c->config.has_cmd && c->config.n_cmd == 0 && c->config.has_entrypoint);
    oimg_config_free(c);
    /* an empty diff_ids list is a config without layers */
    CHECK_OK(parse(&c, "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
                       "\"layers\",\"diff_ids\":[]}}"));
    CHECK(c && c->rootfs.n_diff_ids == 0);
    oimg_config_free(c);
}

/* Docker's image JSON: nulls for nil slices and maps, many extra fields. */
static void docker(void)
{
    const char *doc =
        "{\"architecture\":\"amd64\",\"config\":{\"Hostname\":\"09713501c176\",\"Domainname\":\"\","
        "\"User\":\"\",\"AttachStdin\":false,\"Tty\":false,\"Env\":null,\"Cmd\":null,"
        "\"Image\":\"sha256:32e2\",\"Volumes\":null,\"WorkingDir\":\"\",\"Entrypoint\":null,"
        "\"OnBuild\":null,\"Labels\":null,\"ExposedPorts\":null},\"container\":\"15a3\","
        "\"container_config\":{\"Cmd\":[\"/bin/"
        "sh\"]},\"created\":\"2016-10-10T23:04:00.821781828Z\","
        "\"docker_version\":\"1.12.1\",\"history\":[{\"created\":\"2016-09-23T16:29:57."
        "276868291Z\","
        "\"created_by\":\"/bin/sh -c #(nop) ADD file:d6ee in / \"}],\"os\":\"linux\","
        "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" DIFF1 "\"]}}";
    struct oimg_image_config *c = NULL;
    CHECK_OK(parse(&c, doc));
    CHECK(c && !c->config.has_cmd && !c->config.has_entrypoint && c->config.n_env == 0);
    CHECK(c && c->config.n_volumes == 0 && c->config.labels.n == 0);
    oimg_config_free(c);
    CHECK_OK(parse(&c, C(",\"config\":null")));
    oimg_config_free(c);
}

static void rules(void)
{
    reject("{\"os\":\"linux\"," ROOTFS "}", OCI_ERR_INVALID,
           "invalid image config: architecture: required");
    reject("{\"architecture\":\"amd64\"," ROOTFS "}", OCI_ERR_INVALID, "os: required");
    reject("{\"architecture\":\"amd64\",\"os\":123," ROOTFS "}", OCI_ERR_INVALID,
           "os: must be a string, not an integer");
    reject("{\"architecture\":\"\",\"os\":\"linux\"," ROOTFS "}", OCI_ERR_INVALID,
           "architecture: must not be empty");
    reject(C(",\"variant\":123"), OCI_ERR_INVALID, "variant: must be a string, not an integer");
    reject(C(",\"os.features\":\"x\""), OCI_ERR_INVALID, "os.features: must be an array");
    reject(C(",\"author\":{}"), OCI_ERR_INVALID, "author: must be a string");
    reject(C(",\"config\":[]"), OCI_ERR_INVALID, "config: must be an object, not an array");
    reject(C(",\"config\":{\"User\":1234}"), OCI_ERR_INVALID,
           "config.User: must be a string, not an integer");
    reject(C(",\"config\":{\"Env\":[7353]}"), OCI_ERR_INVALID,
           "config.Env[0]: must be a string, not an integer");
    reject(C(",\"config\":{\"Env\":[\"foo\"]}"), OCI_ERR_INVALID,
           "config.Env[0]: must be NAME=VALUE with a non-empty NAME, not \"foo\"");
    reject(C(",\"config\":{\"Env\":[\"A=1\",\"=x\"]}"), OCI_ERR_INVALID, "config.Env[1]: must be");
    reject(C(",\"config\":{\"Volumes\":[\"/var/data\"]}"), OCI_ERR_INVALID,
           "config.Volumes: must be an object, not an array");
    reject(C(",\"config\":{\"Volumes\":{\"/v\":\"x\"}}"), OCI_ERR_INVALID,
           "config.Volumes[\"/v\"]: must be an object ({}), not a string");
    reject(C(",\"config\":{\"Volumes\":{\"\":{}}}"), OCI_ERR_INVALID,
           "config.Volumes[\"\"]: keys must not be empty");
    reject(C(",\"config\":{\"ExposedPorts\":{\"http\":{}}}"), OCI_ERR_INVALID,
           "config.ExposedPorts[\"http\"]: must be PORT[/PROTO]");
    reject(C(",\"config\":{\"ExposedPorts\":{\"70000/tcp\":{}}}"), OCI_ERR_INVALID,
           "PORT in 0-65535");
    reject(C(",\"config\":{\"ExposedPorts\":{\"80/icmp\":{}}}"), OCI_ERR_INVALID,
           "PROTO one of tcp, udp, sctp");
    reject(C(",\"config\":{\"Entrypoint\":\"/bin/sh\"}"), OCI_ERR_INVALID,
           "config.Entrypoint: must be an array of strings, not a string");
    reject(C(",\"config\":{\"Cmd\":[1]}"), OCI_ERR_INVALID, "config.Cmd[0]: must be a string");
    reject(C(",\"config\":{\"Labels\":{\"a\":1}}"), OCI_ERR_INVALID,
           "config.Labels[\"a\"]: must be a string, not an integer");
    reject(C(",\"config\":{\"ArgsEscaped\":\"yes\"}"), OCI_ERR_INVALID,
           "config.ArgsEscaped: must be a boolean");
    reject(C(",\"config\":{\"WorkingDir\":null}"), OCI_ERR_INVALID,
           "config.WorkingDir: must be a string, not null");
}

static void rootfs_rules(void)
{
    reject("{\"architecture\":\"amd64\",\"os\":\"linux\"}", OCI_ERR_INVALID, "rootfs: required");
    reject("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":[]}", OCI_ERR_INVALID,
           "rootfs: must be an object");
    reject("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\"}}",
           OCI_ERR_INVALID, "rootfs.diff_ids: required");
    reject("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"diff_ids\":[]}}",
           OCI_ERR_INVALID, "rootfs.type: required");
    reject("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"tarball\","
           "\"diff_ids\":[]}}",
           OCI_ERR_INVALID, "rootfs.type: must be \"layers\", not \"tarball\"");
    reject("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
           "\"diff_ids\":[\"sha256:abc\"]}}",
           OCI_ERR_INVALID, "rootfs.diff_ids[0]: invalid digest");
    reject("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
           "\"diff_ids\":[1]}}",
           OCI_ERR_INVALID, "rootfs.diff_ids[0]: must be a digest string, not an integer");
    reject("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
           "\"diff_ids\":{}}}",
           OCI_ERR_INVALID, "rootfs.diff_ids: must be an array of digests");
}

static void history_rules(void)
{
    reject(C(",\"history\":\"should be an array\""), OCI_ERR_INVALID,
           "history: must be an array, not a string");
    reject(C(",\"history\":[1]"), OCI_ERR_INVALID, "history[0]: must be an object");
    reject(C(",\"history\":[{},{\"created\":\"yesterday\"}]"), OCI_ERR_INVALID,
           "history[1].created: must be an RFC 3339 date-time");
    reject(C(",\"history\":[{\"empty_layer\":\"true\"}]"), OCI_ERR_INVALID,
           "history[0].empty_layer: must be a boolean");
    reject(C(",\"history\":[{\"created_by\":[]}]"), OCI_ERR_INVALID,
           "history[0].created_by: must be a string");
}

static void dates(void)
{
    static const char *const good[] = {
        "2015-10-31T22:22:56Z",      "2015-10-31T22:22:56.015925234Z", "2015-10-31t22:22:56z",
        "1970-01-01T00:00:00+00:00", "0001-01-01T00:00:00Z",           "2016-02-29T12:00:00-07:30",
        "2016-12-31T23:59:60Z",      "2000-02-29T00:00:00.1+23:59",
    };
    static const char *const bad[] = {
        "2015-10-31",
        "2015-10-31 22:22:56Z",
        "2015-10-31T22:22:56",
        "2015-13-01T00:00:00Z",
        "2015-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2015-04-31T00:00:00Z",
        "2015-10-31T24:00:00Z",
        "2015-10-31T22:60:00Z",
        "2015-10-31T22:22:61Z",
        "2015-10-31T22:22:56.Z",
        "2015-10-31T22:22:56+0100",
        "2015-10-31T22:22:56+24:00",
        "15-10-31T22:22:56Z",
        "2015-10-31T22:22:56Zjunk",
        "",
        "2015-10-31T22:22:56.123+01:00x",
    };
    char doc[512];
    struct oimg_image_config *c = NULL;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(doc, sizeof(doc), C(",\"created\":\"%s\""), good[i]);
        int r = parse(&c, doc);
        if (r < 0)
            fprintf(stderr, "  rejected good date %s: %s\n", good[i], msg);
        CHECK_INT(r, 0);
        oimg_config_free(c);
        c = NULL;
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(doc, sizeof(doc), C(",\"created\":\"%s\""), bad[i]);
        int r = parse(&c, doc);
        if (r == 0)
            fprintf(stderr, "  accepted bad date \"%s\"\n", bad[i]);
        CHECK_INT(r, -OCI_ERR_INVALID);
        CHECK(r == 0 || strstr(msg, "created: must be an RFC 3339 date-time"));
        oimg_config_free(c);
        c = NULL;
    }
    reject(C(",\"created\":12"), OCI_ERR_INVALID, "created: must be a string, not an integer");
}

static void bad_input(void)
{
    /* configs may be larger than manifests, but not unboundedly */
    size_t n = OIMG_MAX_CONFIG_SIZE + 16;
    char *s = malloc(n + 1);
    memset(s, ' ', n);
    s[0] = '{';
    s[n - 1] = '}';
    s[n] = '\0';
    reject(s, OCI_ERR_TOO_LARGE, "over the limit of 8388608 bytes");
    /* 5 MiB is fine for a config (it is not held to the manifest cap) */
    s[5 << 20] = '\0';
    s[(5 << 20) - 1] = '}';
    reject(s, OCI_ERR_INVALID, "architecture: required");
    free(s);

    /* a huge Env */
    size_t items = 70000;
    s = malloc(200 + items * 6);
    size_t o = (size_t)sprintf(s, "{\"architecture\":\"amd64\",\"os\":\"linux\"," ROOTFS
                                  ",\"config\":{\"Env\":[");
    for (size_t i = 0; i < items; i++)
        o += (size_t)sprintf(s + o, "\"A=\"%s", i + 1 < items ? "," : "]}}");
    reject(s, OCI_ERR_TOO_LARGE, "config.Env: has 70000 entries, more than the limit of 65536");
    free(s);

    reject("{\"architecture\":\"amd64\",\"os\":\"linux\"," ROOTFS ",\"x\":[[[[[[[[[[[[[[[[[[[[[["
           "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
           "]]]]]]]]]]]]]]]]]]]]]]]]]]}",
           OCI_ERR_TOO_LARGE, "nesting deeper than");
    reject("[]", OCI_ERR_INVALID, "document must be a JSON object");
    reject("invalid JSON", OCI_ERR_INVALID, "invalid JSON");
    reject("{\"architecture\":\"amd64\",\"architecture\":", OCI_ERR_INVALID, "invalid JSON");
}

static void validate_all(void)
{
    const char *doc = "{\"history\":\"should be an array\",\"architecture\":\"amd64\",\"os\":123,"
                      "\"rootfs\":{\"diff_ids\":[\"sha256:5f70\"],\"type\":\"layers\"}}";
    struct oimg_problems p = {0};
    CHECK_OK(oimg_validate_document(&p, OIMG_DOC_CONFIG, doc, strlen(doc), T_ERR));
    CHECK_INT(p.n, 3);
    if (p.n == 3) {
        CHECK_STR(p.lines[0], "os: must be a string, not an integer");
        CHECK(strncmp(p.lines[1], "rootfs.diff_ids[0]: invalid digest", 34) == 0);
        CHECK_STR(p.lines[2], "history: must be an array, not a string");
    }
    oimg_problems_clear(&p);
    enum oimg_doc_type t;
    CHECK_OK(oimg_doc_detect(&t, doc, strlen(doc), T_ERR));
    CHECK_INT(t, OIMG_DOC_CONFIG);
    const char *withmt = "{\"mediaType\":\"" OIMG_MT_DOCKER_CONFIG "\"}";
    CHECK_OK(oimg_doc_detect(&t, withmt, strlen(withmt), T_ERR));
    CHECK_INT(t, OIMG_DOC_CONFIG);
}

int main(void)
{
    T_RUN(full);
    T_RUN(minimal_and_presence);
    T_RUN(docker);
    T_RUN(rules);
    T_RUN(rootfs_rules);
    T_RUN(history_rules);
    T_RUN(dates);
    T_RUN(bad_input);
    T_RUN(validate_all);
    return t_done();
}
