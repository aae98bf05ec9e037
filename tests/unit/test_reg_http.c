/* The registry client's parsers and helpers that need no network: response
 * header values (Content-Range, Retry-After, Link, Content-Type), URL
 * origins and redirect resolution (which decide where Authorization may
 * go), registry error bodies, the certs.d lookup, and the client's option
 * defaults. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/registry_client.h>

#include "libregistry/client_private.h"
#include "t.h"

/* Checks a returned string the test owns, then frees it. */
#define CHECK_STR_OWNED(call, want)                                                                \
    do {                                                                                           \
        char *_owned = (call);                                                                     \
        CHECK_STR(_owned, want);                                                                   \
        free(_owned);                                                                              \
    } while (0)

static void test_content_range(void)
{
    uint64_t a = 9, b = 9;
    int64_t t = 9;
    CHECK_INT(http_parse_content_range("bytes 100-199/200", &a, &b, &t), 0);
    CHECK_INT(a, 100);
    CHECK_INT(b, 199);
    CHECK_INT(t, 200);
    CHECK_INT(http_parse_content_range("bytes 0-0/*", &a, &b, &t), 0);
    CHECK_INT(t, -1);
    CHECK_INT(http_parse_content_range("BYTES 5-9/10", &a, &b, &t), 0);
    static const char *const bad[] = {
        NULL,           "",
        "bytes",        "bytes 5-4/10",
        "bytes 1-2",    "bytes 1-2/2",
        "bytes -1-2/9", "items 1-2/9",
        "bytes 1-2/9x", "bytes 99999999999999999999-1/2",
        "bytes */10",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(http_parse_content_range(bad[i], &a, &b, &t) < 0);
}

static void test_retry_after(void)
{
    time_t now = 1700000000;
    CHECK_INT(http_parse_retry_after("120", now), 120);
    CHECK_INT(http_parse_retry_after("0", now), 0);
    CHECK_INT(http_parse_retry_after(NULL, now), -1);
    CHECK_INT(http_parse_retry_after("soon", now), -1);
    CHECK_INT(http_parse_retry_after("-5", now), -1);
    /* An HTTP-date 90 s after now. */
    CHECK_INT(http_parse_retry_after("Tue, 14 Nov 2023 22:14:50 GMT", now), 90);
    /* A date in the past means now. */
    CHECK_INT(http_parse_retry_after("Tue, 14 Nov 2023 20:00:00 GMT", now), 0);
    /* Absurd values are capped at a year. */
    CHECK_INT(http_parse_retry_after("99999999999", now), 86400 * 365);
}

static void test_link(void)
{
    CHECK_STR_OWNED(http_link_next("</v2/x/tags/list?n=10&last=t09>; rel=\"next\""),
                    "/v2/x/tags/list?n=10&last=t09");
    CHECK_STR_OWNED(http_link_next("<https://r.io/v2/x/tags/list?last=b>;rel=next"),
                    "https://r.io/v2/x/tags/list?last=b");
    CHECK_STR_OWNED(http_link_next("</first>; rel=\"prev\", </second>; rel=\"next\""), "/second");
    CHECK_STR_OWNED(http_link_next("</a>; rel=\"prev nEXt\""), "/a");
    CHECK(http_link_next("</a>; rel=\"nextpage\"") == NULL);
    CHECK(http_link_next("</a>; rel=\"prev\"") == NULL);
    CHECK(http_link_next("garbage") == NULL);
    CHECK(http_link_next("<unterminated; rel=next") == NULL);
}

static void test_media_type(void)
{
    CHECK_STR_OWNED(http_media_type("Application/VND.OCI.image.manifest.v1+json; charset=utf-8"),
                    "application/vnd.oci.image.manifest.v1+json");
    CHECK_STR_OWNED(http_media_type("  application/json "), "application/json");
    CHECK(http_media_type(NULL) == NULL);
}

static void test_origins(void)
{
    CHECK_STR_OWNED(http_url_origin("https://Registry.Example/v2/x"),
                    "https://registry.example:443");
    CHECK_STR_OWNED(http_url_origin("http://127.0.0.1:5000/v2/"), "http://127.0.0.1:5000");
    CHECK_STR_OWNED(http_url_origin("http://[::1]:5000/v2/"), "http://[::1]:5000");
    CHECK(http_url_origin("ftp://h/x") == NULL);
    CHECK(http_url_origin("not a url") == NULL);
    /* Same host, another port or scheme: another origin (no Authorization). */
    char *a = http_url_origin("https://h:443/x"), *b = http_url_origin("https://h/y"),
         *c = http_url_origin("https://h:8443/y"), *d = http_url_origin("http://h:443/y");
    CHECK_STR(a, b);
    CHECK(a && c && strcmp(a, c) != 0);
    CHECK(a && d && strcmp(a, d) != 0);
    free(a);
    free(b);
    free(c);
    free(d);
    CHECK_STR_OWNED(http_url_hostport("http://127.0.0.1:5000/v2/"), "127.0.0.1:5000");
    CHECK_STR_OWNED(http_url_hostport("https://Quay.io/v2/"), "quay.io");
    CHECK(http_url_is_https("HTTPS://x/"));
    CHECK(!http_url_is_https("http://x/"));
}

static void test_resolve(void)
{
    char *u = NULL;
    CHECK_OK(http_url_resolve(&u, "http://r:5000/v2/x/blobs/sha256:1", "/store/abc?sig=1", T_ERR));
    CHECK_STR(u, "http://r:5000/store/abc?sig=1");
    free(u);
    u = NULL;
    CHECK_OK(http_url_resolve(&u, "https://r/v2/x/blobs/d", "https://s3.example/b?X=1", T_ERR));
    CHECK_STR(u, "https://s3.example/b?X=1");
    free(u);
    u = NULL;
    CHECK_OK(http_url_resolve(&u, "https://r/v2/x/tags/list", "list?n=2&last=b", T_ERR));
    CHECK_STR(u, "https://r/v2/x/tags/list?n=2&last=b");
    free(u);
    u = NULL;
    struct oci_error *e = NULL;
    CHECK(http_url_resolve(&u, "https://r/v2/", "ftp://x/y", &e) < 0);
    oci_error_clear(&e);
    CHECK(http_url_resolve(&u, "https://r/v2/", "", &e) < 0);
    oci_error_clear(&e);
    CHECK(http_url_resolve(&u, "https://r/v2/", "/a\r\nX-Evil: 1", &e) < 0);
    oci_error_clear(&e);
    CHECK(u == NULL);
    CHECK_STR_OWNED(http_escape("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
}

static void test_registry_errors(void)
{
    char *msg = NULL;
    const char *body = "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest "
                       "unknown\",\"detail\":{\"Tag\":\"x\"}}]}";
    char *code = errors_registry_code(body, strlen(body), &msg);
    CHECK_STR(code, "MANIFEST_UNKNOWN");
    CHECK_STR(msg, "\"manifest unknown\"");
    free(code);
    free(msg);
    CHECK(errors_registry_code("<html>", 6, &msg) == NULL);
    CHECK(msg == NULL);
    CHECK(errors_registry_code("{\"errors\":[]}", 13, NULL) == NULL);
    CHECK(errors_registry_code("{\"errors\":[{\"code\":5}]}", 23, NULL) == NULL);
    /* Control characters from the registry never reach a message raw. */
    const char *evil = "{\"errors\":[{\"code\":\"X\\u001b[2J\",\"message\":\"a\\nb\"}]}";
    code = errors_registry_code(evil, strlen(evil), &msg);
    CHECK(code && !strchr(code, '\033'));
    CHECK(msg && !strchr(msg, '\n'));
    free(code);
    free(msg);
}

static char tmp[256];

static void write_file(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s));
        close(fd);
    }
}

static void test_certs(void)
{
    snprintf(tmp, sizeof(tmp), "/tmp/oreg-certs-XXXXXX");
    CHECK(mkdtemp(tmp) != NULL);
    char p[512];
    snprintf(p, sizeof(p), "%s/b.crt", tmp);
    write_file(p, "x");
    snprintf(p, sizeof(p), "%s/a.crt", tmp);
    write_file(p, "x");
    snprintf(p, sizeof(p), "%s/client.cert", tmp);
    write_file(p, "x");
    snprintf(p, sizeof(p), "%s/client.key", tmp);
    write_file(p, "x");
    snprintf(p, sizeof(p), "%s/ignored.pem", tmp);
    write_file(p, "x");

    struct http_tls t;
    CHECK_OK(certs_load(&t, tmp, "r.example:5000", true, false, T_ERR));
    CHECK(t.verify);
    CHECK_INT(t.n_ca, 2);
    if (t.n_ca == 2) {
        CHECK(strstr(t.ca_files[0], "/a.crt") != NULL); /* sorted */
        CHECK(strstr(t.ca_files[1], "/b.crt") != NULL);
    }
    CHECK(t.cert && strstr(t.cert, "/client.cert"));
    CHECK(t.key && strstr(t.key, "/client.key"));
    certs_clear(&t);

    /* Another host gets the CAs but never the client certificate. */
    CHECK_OK(certs_load(&t, tmp, "token.example", false, false, T_ERR));
    CHECK_INT(t.n_ca, 2);
    CHECK(t.cert == NULL);
    certs_clear(&t);

    /* insecure: no verification. */
    CHECK_OK(certs_load(&t, NULL, "r.example:5000", true, true, T_ERR));
    CHECK(!t.verify);
    CHECK_INT(t.n_ca, 0);
    certs_clear(&t);

    /* A certs.d tree: the host's subdirectory is used. */
    snprintf(p, sizeof(p), "%s/r.example:5000", tmp);
    CHECK_INT(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/r.example:5000/ca.crt", tmp);
    write_file(p, "x");
    CHECK_OK(certs_load(&t, tmp, "r.example:5000", true, false, T_ERR));
    CHECK_INT(t.n_ca, 1);
    CHECK(t.n_ca == 1 && strstr(t.ca_files[0], "r.example:5000/ca.crt"));
    certs_clear(&t);

    /* A client certificate without its key is an error. */
    snprintf(p, sizeof(p), "%s/r.example:5000/lonely.cert", tmp);
    write_file(p, "x");
    struct oci_error *e = NULL;
    CHECK_INT(certs_load(&t, tmp, "r.example:5000", true, false, &e), -OCI_ERR_NOT_FOUND);
    CHECK(e && strstr(e->msg, "lonely.key"));
    oci_error_clear(&e);

    /* --cert-dir must exist. */
    CHECK(certs_load(&t, "/nonexistent/certs", "h", true, false, &e) < 0);
    oci_error_clear(&e);
    /* A host name never walks out of the directory. */
    CHECK_OK(certs_load(&t, tmp, "../etc", false, false, T_ERR));
    certs_clear(&t);

    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0);
}

static void test_client_defaults(void)
{
    struct oreg_client *c = NULL;
    CHECK_OK(oreg_client_new(&c, NULL, T_ERR));
    if (c) {
        CHECK_INT(c->o.jobs, OREG_DEFAULT_JOBS);
        CHECK_INT(c->o.retries, OREG_DEFAULT_RETRIES);
        CHECK_INT(c->o.stall_secs, OREG_DEFAULT_STALL_SECS);
        CHECK_INT(c->o.retry_after_max, OREG_DEFAULT_RETRY_AFTER_MAX);
    }
    oreg_client_free(c);
    struct oreg_client_opts o = {.jobs = 1000, .retries = 0, .creds = {.creds = "u:p"}};
    c = NULL;
    CHECK_OK(oreg_client_new(&c, &o, T_ERR));
    if (c) {
        CHECK_INT(c->o.jobs, 64);
        CHECK_INT(c->o.retries, 0);
        CHECK(c->o.creds.creds != o.creds.creds); /* copied */
    }
    oreg_client_free(c);
    oreg_client_free(NULL);
}

/* Endpoints: mirrors first, then the registry; --tls-verify=false only for
 * the registry itself. */
static void test_endpoints(void)
{
    const char *conf = "{\"registries\":[{\"location\":\"docker.io\",\"mirrors\":["
                       "{\"location\":\"cache.lan:5000/hub\",\"insecure\":true},"
                       "{\"location\":\"cache2.lan\"}]}]}";
    struct oreg_registries_conf *rc = NULL;
    CHECK_OK(oreg_registries_conf_parse(&rc, conf, strlen(conf), "test", T_ERR));
    struct oreg_client_opts o = {.registries = rc, .insecure = true};
    struct oreg_client *c = NULL;
    CHECK_OK(oreg_client_new(&c, &o, T_ERR));
    struct oreg_ref *ref = NULL;
    CHECK_OK(oreg_ref_parse(&ref, "alpine:3.19", T_ERR));
    struct endpoint_list l = {0};
    if (c && ref)
        CHECK_OK(client_endpoints(&l, c, ref, T_ERR));
    CHECK_INT(l.n, 3);
    if (l.n == 3) {
        CHECK_STR(l.v[0].host->host, "cache.lan:5000");
        CHECK_STR(l.v[0].repo, "hub/library/alpine");
        CHECK(l.v[0].mirror && l.v[0].host->insecure);
        CHECK_STR(l.v[0].host->creds_key, "cache.lan:5000");
        CHECK_STR(l.v[1].host->host, "cache2.lan");
        CHECK(!l.v[1].host->insecure);
        CHECK_STR(l.v[2].host->host, "registry-1.docker.io");
        CHECK_STR(l.v[2].repo, "library/alpine");
        CHECK_STR(l.v[2].host->creds_key, "docker.io");
        CHECK(!l.v[2].mirror && l.v[2].host->insecure && l.v[2].host->named);
    }
    endpoint_list_clear(&l);
    oreg_ref_free(ref);
    oreg_client_free(c);
    oreg_registries_conf_free(rc);
}

int main(void)
{
    T_RUN(test_content_range);
    T_RUN(test_retry_after);
    T_RUN(test_link);
    T_RUN(test_media_type);
    T_RUN(test_origins);
    T_RUN(test_resolve);
    T_RUN(test_registry_errors);
    T_RUN(test_certs);
    T_RUN(test_client_defaults);
    T_RUN(test_endpoints);
    return t_done();
}
