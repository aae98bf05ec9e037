/* libruntime's config.json model: the runtime-spec schema test documents
 * (good ones parse, bad ones are refused where the schema says so), type and
 * size checks, and what ort_config_check refuses. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <ociimg/cleanup.h>
#include <ociimg/json.h>
#include <ociimg/runtime.h>

#include "libruntime/rt_private.h"
#include "t.h"

static struct ort_config *parse(const char *doc)
{
    struct ort_config *c = NULL;
    struct oci_error *e = NULL;
    if (ort_config_parse(&c, doc, strlen(doc), &e) < 0) {
        oci_error_free(e);
        return NULL;
    }
    return c;
}

/* The error message of a parse that must fail ("" if it succeeded). */
static char last_error[1024];
static bool parse_fails(const char *doc)
{
    struct ort_config *c = NULL;
    struct oci_error *e = NULL;
    last_error[0] = '\0';
    if (ort_config_parse(&c, doc, strlen(doc), &e) < 0) {
        snprintf(last_error, sizeof(last_error), "%s", e && e->msg ? e->msg : "");
        oci_error_free(e);
        return true;
    }
    ort_config_free(c);
    return false;
}

static const char *check_error(const char *doc)
{
    struct ort_config *c = parse(doc);
    last_error[0] = '\0';
    if (!c)
        return "(parse failed)";
    struct oci_error *e = NULL;
    if (ort_config_check(c, &e) < 0)
        snprintf(last_error, sizeof(last_error), "%s", e && e->msg ? e->msg : "");
    oci_error_free(e);
    ort_config_free(c);
    return last_error;
}

static void schema_test_documents(void)
{
    const char *shared = getenv("OCIIMG_SHARED");
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/spec/runtime-spec/v1.3.0/schema/test/config",
             shared ? shared : "../shared");
    static const char *const kinds[] = {"good", "bad"};
    int seen = 0;
    for (int k = 0; k < 2; k++) {
        char sub[PATH_MAX + 8];
        snprintf(sub, sizeof(sub), "%s/%s", dir, kinds[k]);
        DIR *d = opendir(sub);
        if (!d) {
            fprintf(stderr, "note: %s absent (no ../shared): schema documents not checked\n", sub);
            return;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strstr(de->d_name, ".json"))
                continue;
            int dfd = open(sub, O_PATH | O_DIRECTORY);
            _cleanup_free_ char *buf = NULL;
            size_t len = 0;
            CHECK_OK(oimg_read_file_at(&buf, &len, dfd, de->d_name, 1 << 20, T_ERR));
            close(dfd);
            struct ort_config *c = NULL;
            struct oci_error *e = NULL;
            int r = buf ? ort_config_parse(&c, buf, len, &e) : -1;
            if (k == 0 && r < 0)
                fprintf(stderr, "good/%s refused: %s\n", de->d_name, e ? e->msg : "");
            if (k == 1 && r >= 0)
                fprintf(stderr, "bad/%s accepted\n", de->d_name);
            CHECK(k == 0 ? r >= 0 : r < 0);
            oci_error_free(e);
            ort_config_free(c);
            seen++;
        }
        closedir(d);
    }
    CHECK_INT(seen, 14);
}

#define MIN "\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"rootfs\"}"
#define PROC "\"process\": {\"cwd\": \"/\", \"args\": [\"sh\"]}"
#define LINUX "\"linux\": {\"namespaces\": [{\"type\": \"mount\"}, {\"type\": \"pid\"}]}"

static void types_and_ranges(void)
{
    struct ort_config *c = parse("{" MIN "}");
    CHECK(c != NULL);
    ort_config_free(c);
    CHECK(parse_fails("{}"));
    CHECK(strstr(last_error, "ociVersion: required") != NULL);
    CHECK(parse_fails("[]"));
    CHECK(parse_fails("{" MIN ", \"process\": {\"args\": \"sh\", \"cwd\": \"/\"}}"));
    CHECK(strstr(last_error, "process.args: expected an array") != NULL);
    CHECK(parse_fails("{" MIN ", \"process\": {\"args\": [\"sh\"]}}"));
    CHECK(strstr(last_error, "process.cwd: required") != NULL);
    CHECK(parse_fails("{" MIN ", \"process\": {\"cwd\": \"/\", \"user\": {\"uid\": -1}}}"));
    CHECK(parse_fails("{" MIN ", \"process\": {\"cwd\": \"/\", \"user\": {\"uid\": 4294967296}}}"));
    CHECK(parse_fails("{" MIN ", \"process\": {\"cwd\": \"/\", \"user\": {\"uid\": 1.5}}}"));
    CHECK(
        !parse_fails("{" MIN ", \"process\": {\"cwd\": \"/\", \"user\": {\"uid\": 4294967295}}}"));
    CHECK(parse_fails("{" MIN ", \"process\": {\"cwd\": \"/\", \"rlimits\": [{\"type\": "
                      "\"rlimit_nofile\", \"soft\": 1, \"hard\": 1}]}}"));
    CHECK(strstr(last_error, "does not match ^RLIMIT_[A-Z]+$") != NULL);
    CHECK(parse_fails("{" MIN ", \"linux\": {\"devices\": [{\"type\": \"c\", \"path\": \"/dev/x\", "
                      "\"fileMode\": 512}]}}"));
    CHECK(parse_fails("{" MIN ", \"linux\": {\"namespaces\": [{\"type\": \"bogus\"}]}}"));
    CHECK(
        parse_fails("{" MIN ", \"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_NOPE\"}}}"));
    CHECK(parse_fails("{" MIN ", \"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", "
                      "\"syscalls\": [{\"names\": [], \"action\": \"SCMP_ACT_ERRNO\"}]}}}"));
    CHECK(
        parse_fails("{" MIN ", \"hooks\": {\"prestart\": [{\"path\": \"/x\", \"timeout\": 0}]}}"));
    CHECK(parse_fails("{" MIN ", \"annotations\": {\"a\": 1}}"));
    CHECK(parse_fails("{" MIN ", \"mounts\": [{\"type\": \"tmpfs\"}]}"));
    CHECK(strstr(last_error, "mounts[0].destination: required") != NULL);
    CHECK(parse_fails("{" MIN ", \"linux\": {\"rootfsPropagation\": \"rshared\"}}"));
    CHECK(parse_fails("{" MIN ", \"hostname\": null}"));
    /* Unknown keys are allowed, as the schema allows them. */
    CHECK(!parse_fails("{" MIN ", \"x-vendor\": {\"anything\": [1, 2]}}"));
}

static void caps_and_limits(void)
{
    char doc[8192];
    snprintf(doc, sizeof(doc),
             "{" MIN ", \"process\": {\"cwd\": \"/\", \"args\": [\"sh\"], \"capabilities\": "
             "{\"bounding\": [\"CAP_KILL\", \"CAP_SYS_RESOURCE\", \"CAP_NOPE\"], \"effective\": "
             "[\"CAP_KILL\"], \"ambient\": [\"CAP_NOPE\"]}, \"rlimits\": [{\"type\": "
             "\"RLIMIT_NOFILE\", \"soft\": 10, \"hard\": 20}], \"oomScoreAdj\": 5}}");
    struct ort_config *c = parse(doc);
    CHECK(c != NULL);
    if (c) {
        CHECK(c->has_caps);
        CHECK(c->caps[RT_CAP_BOUNDING] == ((1ULL << 5) | (1ULL << 24)));
        CHECK(c->caps[RT_CAP_EFFECTIVE] == (1ULL << 5));
        CHECK(c->caps[RT_CAP_AMBIENT] == 0);
        CHECK_INT(c->n_unknown_caps, 1);
        CHECK_STR(c->unknown_caps[0], "CAP_NOPE");
        CHECK_INT(c->n_rlimits, 1);
        CHECK_INT(c->rlimits[0].resource, RLIMIT_NOFILE);
        CHECK_INT(c->rlimits[0].soft, 10);
        CHECK_INT(c->rlimits[0].hard, 20);
        CHECK_INT(c->oom_score_adj, 5);
        CHECK_STR(c->args[0], "sh");
        CHECK(c->args[1] == NULL);
        ort_config_free(c);
    }
    CHECK_INT(rt_cap_from_name("CAP_SYS_ADMIN"), 21);
    CHECK_INT(rt_cap_from_name("CAP_NOPE"), -1);
    CHECK_STR(rt_cap_name(40), "CAP_CHECKPOINT_RESTORE");
}

static void check_refusals(void)
{
    CHECK_STR(check_error("{" MIN ", " PROC ", " LINUX "}"), "");
    CHECK_STR(check_error("{" MIN ", " PROC ", \"linux\": {\"intelRdt\": {}, \"namespaces\": "
                          "[{\"type\": \"mount\"}]}}"),
              "unsupported: linux.intelRdt");
    CHECK_STR(check_error("{" MIN ", " PROC ", \"linux\": {\"timeOffsets\": {}, \"namespaces\": "
                          "[{\"type\": \"mount\"}]}}"),
              "unsupported: linux.timeOffsets");
    CHECK_STR(check_error("{" MIN ", " PROC ", \"linux\": {\"personality\": {\"domain\": "
                          "\"LINUX\"}, \"namespaces\": [{\"type\": \"mount\"}]}}"),
              "unsupported: linux.personality");
    CHECK_STR(check_error("{" MIN ", " PROC ", \"linux\": {\"namespaces\": [{\"type\": "
                          "\"mount\"}, {\"type\": \"pid\"}, {\"type\": \"pid\"}]}}"),
              "linux.namespaces: duplicate namespace type \"pid\"");
    CHECK_STR(check_error("{" MIN ", " PROC ", \"linux\": {\"namespaces\": [{\"type\": "
                          "\"pid\"}]}}"),
              "unsupported: a container without its own mount namespace");
    CHECK_STR(
        check_error("{" MIN ", \"process\": {\"cwd\": \"/\", \"args\": [\"sh\"], "
                    "\"rlimits\": [{\"type\": \"RLIMIT_FOO\", \"soft\": 1, \"hard\": 1}]}, " LINUX
                    "}"),
        "process.rlimits[0]: unknown type RLIMIT_FOO");
    CHECK_STR(check_error("{" MIN ", " PROC ", \"linux\": {\"seccomp\": {\"defaultAction\": "
                          "\"SCMP_ACT_NOTIFY\"}, \"namespaces\": [{\"type\": \"mount\"}]}}"),
              "unsupported: linux.seccomp notify (SCMP_ACT_NOTIFY, listenerPath)");
    CHECK_STR(check_error("{" MIN ", " PROC ", \"linux\": {\"sysctl\": {\"kernel.panic\": \"1\"}, "
                          "\"namespaces\": [{\"type\": \"mount\"}]}}"),
              "linux.sysctl: kernel.panic is not namespaced; refusing to change the host");
    CHECK_STR(check_error("{" MIN ", " PROC ", \"linux\": {\"sysctl\": {\"net.ipv4.ip_forward\": "
                          "\"1\"}, \"namespaces\": [{\"type\": \"mount\"}]}}"),
              "linux.sysctl: net.ipv4.ip_forward needs the container's own network namespace");
    CHECK_STR(check_error("{" MIN ", " PROC ", \"hostname\": \"x\", " LINUX "}"),
              "hostname/domainname: need a new uts namespace");
    CHECK_STR(check_error("{" MIN ", " PROC ", \"linux\": {\"namespaces\": [{\"type\": \"mount\"},"
                          " {\"type\": \"user\"}]}}"),
              "linux.namespaces: a new user namespace needs uidMappings and gidMappings");
    CHECK_STR(check_error("{\"ociVersion\": \"2.0.0\", \"root\": {\"path\": \"r\"}, " PROC
                          ", " LINUX "}"),
              "unsupported: ociVersion \"2.0.0\" (this runtime reads 1.x)");
    CHECK_STR(check_error("{" MIN ", " PROC ", \"windows\": {}, " LINUX "}"),
              "unsupported: windows");
    CHECK_STR(
        check_error("{" MIN ", \"process\": {\"cwd\": \"rel\", \"args\": [\"sh\"]}, " LINUX "}"),
        "process.cwd \"rel\": must be absolute");
    CHECK_STR(check_error("{" MIN ", \"process\": {\"cwd\": \"/\", \"args\": [\"sh\"], "
                          "\"apparmorProfile\": \"p\"}, " LINUX "}"),
              "unsupported: process.apparmorProfile");
    CHECK_STR(check_error("{" MIN ", " PROC ", \"linux\": {\"resources\": {\"blockIO\": "
                          "{\"weight\": 10}}, \"namespaces\": [{\"type\": \"mount\"}]}}"),
              "unsupported: linux.resources.blockIO");
}

static void size_caps(void)
{
    /* Over ORT_CONFIG_MAX_SIZE: refused before parsing. */
    size_t big = ORT_CONFIG_MAX_SIZE + 16;
    char *doc = malloc(big + 1);
    CHECK(doc != NULL);
    if (!doc)
        return;
    memset(doc, ' ', big);
    memcpy(doc, "{" MIN "}", strlen("{" MIN "}"));
    doc[big] = '\0';
    struct ort_config *c = NULL;
    struct oci_error *e = NULL;
    CHECK(ort_config_parse(&c, doc, big, &e) < 0);
    CHECK(e && e->code == OCI_ERR_TOO_LARGE);
    oci_error_free(e);
    free(doc);
    /* Nesting beyond the cap. */
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    e = NULL;
    CHECK(ort_config_parse(&c, deep, sizeof(deep), &e) < 0);
    oci_error_free(e);
    /* Arrays longer than RT_MAX_ARRAY. */
    size_t n = RT_MAX_ARRAY + 1;
    char *arr = malloc(n * 4 + 256);
    if (!arr)
        return;
    size_t off = (size_t)sprintf(arr, "{" MIN ", \"process\": {\"cwd\": \"/\", \"args\": [");
    for (size_t i = 0; i < n; i++)
        off += (size_t)sprintf(arr + off, "%s\"a\"", i ? "," : "");
    off += (size_t)sprintf(arr + off, "]}}");
    CHECK(parse_fails(arr));
    CHECK(strstr(last_error, "over the limit") != NULL);
    free(arr);
}

static void spec_and_features(void)
{
    _cleanup_free_ char *spec = ort_spec_json(false);
    CHECK(spec != NULL);
    if (spec)
        CHECK_STR(check_error(spec), "");
    _cleanup_free_ char *rootless = ort_spec_json(true);
    CHECK(rootless != NULL);
    if (rootless)
        CHECK_STR(check_error(rootless), "");
    _cleanup_free_ char *features = ort_features_json();
    CHECK(features != NULL);
    json_object *o = NULL;
    if (features)
        CHECK_OK(oimg_json_parse(&o, features, strlen(features), NULL, T_ERR));
    json_object *v;
    CHECK(o && json_object_object_get_ex(o, "ociVersionMin", &v));
    CHECK(o && json_object_object_get_ex(o, "ociVersionMax", &v));
    if (o)
        json_object_put(o);
}

static void signals_and_ids(void)
{
    int sig = 0;
    CHECK_OK(ort_signal_parse("KILL", &sig, T_ERR));
    CHECK_INT(sig, 9);
    CHECK_OK(ort_signal_parse("sigterm", &sig, T_ERR));
    CHECK_INT(sig, 15);
    CHECK_OK(ort_signal_parse("10", &sig, T_ERR));
    CHECK_INT(sig, 10);
    CHECK_OK(ort_signal_parse("RTMIN+2", &sig, T_ERR));
    CHECK_INT(sig, SIGRTMIN + 2);
    struct oci_error *e = NULL;
    CHECK(ort_signal_parse("NOPE", &sig, &e) < 0);
    oci_error_free(e);
    e = NULL;
    CHECK(ort_signal_parse("0", &sig, &e) < 0);
    oci_error_free(e);
    CHECK(ort_id_valid("abc-1.2_x+y"));
    CHECK(!ort_id_valid(""));
    CHECK(!ort_id_valid(".."));
    CHECK(!ort_id_valid("a/b"));
    CHECK(!ort_id_valid("a b"));
}

int main(void)
{
    T_RUN(schema_test_documents);
    T_RUN(types_and_ranges);
    T_RUN(caps_and_limits);
    T_RUN(check_refusals);
    T_RUN(size_caps);
    T_RUN(spec_and_features);
    T_RUN(signals_and_ids);
    return t_done();
}
