/* The registries config: mirrors in order with the source last, mirror-only,
 * insecure hosts, blocked registries, Docker Hub aliases, and strict
 * rejection of malformed files. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ociimg/registry.h>

#include "t.h"

static struct oreg_registries_conf *conf_ok(const char *json)
{
    struct oreg_registries_conf *c = NULL;
    struct oci_error *e = NULL;
    if (oreg_registries_conf_parse(&c, json, strlen(json), "test.json", &e) < 0) {
        fprintf(stderr, "  parse: %s\n", e ? e->msg : "?");
        CHECK(0);
    }
    oci_error_free(e);
    return c;
}

static void conf_bad(const char *json, int code, const char *why)
{
    struct oreg_registries_conf *c = (struct oreg_registries_conf *)0x1;
    struct oci_error *e = NULL;
    CHECK_INT(oreg_registries_conf_parse(&c, json, strlen(json), "test.json", &e), -code);
    CHECK(c == (struct oreg_registries_conf *)0x1);
    CHECK(e != NULL);
    if (e && (!strstr(e->msg, why) || !strstr(e->msg, "test.json"))) {
        fprintf(stderr, "  for %.80s: message \"%s\" lacks \"%s\"\n", json, e->msg, why);
        CHECK(0);
    }
    oci_error_free(e);
}

struct exp_ep {
    const char *host, *prefix;
    bool insecure, mirror;
};

static void expect_endpoints(const struct oreg_registries_conf *c, const char *registry,
                             const struct exp_ep *exp, size_t n)
{
    struct oreg_endpoints *e = NULL;
    CHECK_OK(oreg_registries_lookup(&e, c, registry, T_ERR));
    if (!e)
        return;
    CHECK_INT(e->n, n);
    for (size_t i = 0; i < n && i < e->n; i++) {
        CHECK_STR(e->v[i].host, exp[i].host);
        CHECK_STR(e->v[i].path_prefix, exp[i].prefix);
        CHECK_INT(e->v[i].insecure, exp[i].insecure);
        CHECK_INT(e->v[i].mirror, exp[i].mirror);
    }
    oreg_endpoints_free(e);
}

static const char example[] =
    "{\n"
    "  \"registries\": [\n"
    "    {\n"
    "      \"location\": \"docker.io\",\n"
    "      \"mirrors\": [\n"
    "        { \"location\": \"cache.ci.example:5000\", \"insecure\": true },\n"
    "        { \"location\": \"harbor.example/dockerhub-proxy\" },\n"
    "        { \"location\": \"lan-cache.example\" }\n"
    "      ]\n"
    "    },\n"
    "    { \"location\": \"registry.lan:5000\", \"insecure\": true },\n"
    "    { \"location\": \"lan-cache.example\", \"insecure\": true },\n"
    "    { \"location\": \"quay.io\", \"mirror-only\": true,\n"
    "      \"mirrors\": [ { \"location\": \"quay-cache.example/a/b\" } ] },\n"
    "    { \"location\": \"evil.example\", \"blocked\": true },\n"
    "    { \"location\": \"[::1]:5000\", \"insecure\": false, \"blocked\": false,\n"
    "      \"mirror-only\": false, \"mirrors\": [] }\n"
    "  ]\n"
    "}\n";

static void test_lookup(void)
{
    struct oreg_registries_conf *c = conf_ok(example);
    if (!c)
        return;
    struct exp_ep hub[] = {{"cache.ci.example:5000", "", true, true},
                           {"harbor.example", "dockerhub-proxy", false, true},
                           /* insecure through its own entry */
                           {"lan-cache.example", "", true, true},
                           {"registry-1.docker.io", "", false, false}};
    expect_endpoints(c, "docker.io", hub, 4);
    expect_endpoints(c, "index.docker.io", hub, 4);
    expect_endpoints(c, "registry-1.docker.io", hub, 4);

    struct exp_ep lan[] = {{"registry.lan:5000", "", true, false}};
    expect_endpoints(c, "registry.lan:5000", lan, 1);
    /* A different port is a different registry. */
    struct exp_ep lan2[] = {{"registry.lan", "", false, false}};
    expect_endpoints(c, "registry.lan", lan2, 1);

    struct exp_ep quay[] = {{"quay-cache.example", "a/b", false, true}};
    expect_endpoints(c, "quay.io", quay, 1);

    struct exp_ep v6[] = {{"[::1]:5000", "", false, false}};
    expect_endpoints(c, "[::1]:5000", v6, 1);

    struct exp_ep other[] = {{"ghcr.io", "", false, false}};
    expect_endpoints(c, "ghcr.io", other, 1);

    struct oreg_endpoints *e = (struct oreg_endpoints *)0x1;
    struct oci_error *err = NULL;
    CHECK_INT(oreg_registries_lookup(&e, c, "evil.example", &err), -OCI_ERR_AUTH);
    CHECK(e == (struct oreg_endpoints *)0x1);
    CHECK(err && strstr(err->msg, "blocked") && strstr(err->msg, "test.json"));
    oci_error_free(err);
    oreg_registries_conf_free(c);

    /* Without a config: just the registry. */
    struct exp_ep plain[] = {{"registry-1.docker.io", "", false, false}};
    expect_endpoints(NULL, "docker.io", plain, 1);
    struct exp_ep plain2[] = {{"localhost:5000", "", false, false}};
    expect_endpoints(NULL, "localhost:5000", plain2, 1);
    err = NULL;
    CHECK_INT(oreg_registries_lookup(&e, NULL, "", &err), -OCI_ERR_INVALID);
    oci_error_free(err);

    c = conf_ok("{}");
    expect_endpoints(c, "docker.io", plain, 1);
    oreg_registries_conf_free(c);
    c = conf_ok("{\"registries\":[]}");
    expect_endpoints(c, "docker.io", plain, 1);
    oreg_registries_conf_free(c);
    oreg_registries_conf_free(NULL);
    oreg_endpoints_free(NULL);

    /* Docker Hub aliases in the config mean docker.io. */
    c = conf_ok("{\"registries\":[{\"location\":\"index.docker.io\",\"mirror-only\":true,"
                "\"mirrors\":[{\"location\":\"m.example\"}]}]}");
    struct exp_ep alias[] = {{"m.example", "", false, true}};
    expect_endpoints(c, "docker.io", alias, 1);
    oreg_registries_conf_free(c);
}

static void test_invalid(void)
{
    conf_bad("", OCI_ERR_INVALID, "test.json");
    conf_bad("[]", OCI_ERR_INVALID, "not a JSON object");
    conf_bad("{\"registry\":[]}", OCI_ERR_INVALID, "unknown key \"registry\"");
    conf_bad("{\"registries\":{}}", OCI_ERR_INVALID, "must be an array");
    conf_bad("{\"registries\":[1]}", OCI_ERR_INVALID, "registries[0]: must be an object");
    conf_bad("{\"registries\":[{}]}", OCI_ERR_INVALID, "location: required");
    conf_bad("{\"registries\":[{\"location\":5}]}", OCI_ERR_INVALID, "must be a string");
    conf_bad("{\"registries\":[{\"location\":\"a.io\",\"insecure\":\"yes\"}]}", OCI_ERR_INVALID,
             "insecure: must be true or false");
    conf_bad("{\"registries\":[{\"location\":\"a.io\",\"mirrors\":[{\"location\":\"m\","
             "\"insecure\":1}]}]}",
             OCI_ERR_INVALID, "mirrors[0].insecure");
    conf_bad("{\"registries\":[{\"location\":\"a.io\",\"mirors\":[]}]}", OCI_ERR_INVALID,
             "unknown key \"mirors\"");
    conf_bad("{\"registries\":[{\"location\":\"a.io\",\"mirrors\":[{\"location\":\"m\","
             "\"url\":\"x\"}]}]}",
             OCI_ERR_INVALID, "unknown key \"url\"");
    conf_bad("{\"registries\":[{\"location\":\"https://a.io\"}]}", OCI_ERR_INVALID,
             "registries[0].location");
    conf_bad("{\"registries\":[{\"location\":\"a.io/ns\"}]}", OCI_ERR_INVALID, "host[:port] only");
    conf_bad("{\"registries\":[{\"location\":\"a.io:0\"}]}", OCI_ERR_INVALID, "port");
    conf_bad("{\"registries\":[{\"location\":\"a.io\",\"mirrors\":[{\"location\":\"m/Bad\"}]}]}",
             OCI_ERR_INVALID, "mirrors[0].location");
    conf_bad("{\"registries\":[{\"location\":\"a.io\",\"mirrors\":[{\"location\":\"m/\"}]}]}",
             OCI_ERR_INVALID, "mirrors[0].location");
    conf_bad("{\"registries\":[{\"location\":\"a.io\",\"mirrors\":[{\"location\":\"\"}]}]}",
             OCI_ERR_INVALID, "mirrors[0].location");
    conf_bad("{\"registries\":[{\"location\":\"a.io\",\"mirror-only\":true}]}", OCI_ERR_INVALID,
             "mirror-only needs at least one mirror");
    conf_bad("{\"registries\":[{\"location\":\"a.io\",\"blocked\":true,"
             "\"mirrors\":[{\"location\":\"m\"}]}]}",
             OCI_ERR_INVALID, "blocked registry cannot have mirrors");
    conf_bad("{\"registries\":[{\"location\":\"a.io\"},{\"location\":\"a.io\"}]}", OCI_ERR_INVALID,
             "already configured");
    conf_bad("{\"registries\":[{\"location\":\"docker.io\"},{\"location\":\"index.docker.io\"}]}",
             OCI_ERR_INVALID, "already configured");

    /* Caps: mirrors per registry, file size. */
    char *buf = malloc(OREG_REGISTRIES_CONF_MAX + 64);
    char *p = buf;
    p += sprintf(p, "{\"registries\":[{\"location\":\"a.io\",\"mirrors\":[");
    for (int i = 0; i <= OREG_MIRRORS_MAX; i++)
        p += sprintf(p, "%s{\"location\":\"m%d.io\"}", i ? "," : "", i);
    sprintf(p, "]}]}");
    conf_bad(buf, OCI_ERR_TOO_LARGE, "more than 16");
    memset(buf, ' ', OREG_REGISTRIES_CONF_MAX + 1);
    buf[0] = '{';
    buf[OREG_REGISTRIES_CONF_MAX] = '}';
    buf[OREG_REGISTRIES_CONF_MAX + 1] = '\0';
    conf_bad(buf, OCI_ERR_TOO_LARGE, "test.json");
    free(buf);
}

static void test_load(void)
{
    char path[] = "/tmp/ociimg-regconf-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK(write(fd, example, strlen(example)) == (ssize_t)strlen(example));
    close(fd);
    struct oreg_registries_conf *c = NULL;
    CHECK_OK(oreg_registries_conf_load(&c, path, T_ERR));
    struct exp_ep lan[] = {{"registry.lan:5000", "", true, false}};
    if (c)
        expect_endpoints(c, "registry.lan:5000", lan, 1);
    oreg_registries_conf_free(c);

    /* Errors name the file. */
    fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    CHECK(write(fd, "{\"registries\":[{}]}", 19) == 19);
    close(fd);
    struct oci_error *e = NULL;
    c = NULL;
    CHECK_INT(oreg_registries_conf_load(&c, path, &e), -OCI_ERR_INVALID);
    CHECK(e && strstr(e->msg, path));
    oci_error_free(e);
    unlink(path);

    e = NULL;
    CHECK_INT(oreg_registries_conf_load(&c, path, &e), -OCI_ERR_NOT_FOUND);
    CHECK(e && strstr(e->msg, path));
    oci_error_free(e);
}

int main(void)
{
    T_RUN(test_lookup);
    T_RUN(test_invalid);
    T_RUN(test_load);
    return t_done();
}
