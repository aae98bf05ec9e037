/* Image references: docker's grammar and normalisation, the strings derived
 * from a reference, and every rule's rejection naming the input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/registry.h>

#include "t.h"

#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define D256 "sha256:" H64
#define D512 "sha512:" H64 H64

struct good {
    const char *in;
    const char *registry, *api_host, *repository, *tag, *digest;
    const char *familiar, *canonical;
};

static const struct good goods[] = {
    {"alpine", "docker.io", "registry-1.docker.io", "library/alpine", "latest", NULL,
     "alpine:latest", "docker.io/library/alpine:latest"},
    {"docker://alpine:3.19", "docker.io", "registry-1.docker.io", "library/alpine", "3.19", NULL,
     "alpine:3.19", "docker.io/library/alpine:3.19"},
    {"user/app:v1", "docker.io", "registry-1.docker.io", "user/app", "v1", NULL, "user/app:v1",
     "docker.io/user/app:v1"},
    {"docker.io/alpine", "docker.io", "registry-1.docker.io", "library/alpine", "latest", NULL,
     "alpine:latest", "docker.io/library/alpine:latest"},
    {"index.docker.io/library/busybox:1", "docker.io", "registry-1.docker.io", "library/busybox",
     "1", NULL, "busybox:1", "docker.io/library/busybox:1"},
    {"docker.io/library/foo/bar", "docker.io", "registry-1.docker.io", "library/foo/bar", "latest",
     NULL, "library/foo/bar:latest", "docker.io/library/foo/bar:latest"},
    {"ghcr.io/owner/repo:tag", "ghcr.io", "ghcr.io", "owner/repo", "tag", NULL,
     "ghcr.io/owner/repo:tag", "ghcr.io/owner/repo:tag"},
    {"quay.io/single", "quay.io", "quay.io", "single", "latest", NULL, "quay.io/single:latest",
     "quay.io/single:latest"},
    {"localhost/foo", "localhost", "localhost", "foo", "latest", NULL, "localhost/foo:latest",
     "localhost/foo:latest"},
    {"localhost:5000/foo/bar:1.0", "localhost:5000", "localhost:5000", "foo/bar", "1.0", NULL,
     "localhost:5000/foo/bar:1.0", "localhost:5000/foo/bar:1.0"},
    {"127.0.0.1:5000/x", "127.0.0.1:5000", "127.0.0.1:5000", "x", "latest", NULL,
     "127.0.0.1:5000/x:latest", "127.0.0.1:5000/x:latest"},
    {"[::1]:5000/foo:bar", "[::1]:5000", "[::1]:5000", "foo", "bar", NULL, "[::1]:5000/foo:bar",
     "[::1]:5000/foo:bar"},
    {"[2001:db8::1]/foo", "[2001:db8::1]", "[2001:db8::1]", "foo", "latest", NULL,
     "[2001:db8::1]/foo:latest", "[2001:db8::1]/foo:latest"},
    /* No '/': "5000" is a tag, not a port. */
    {"foo:5000", "docker.io", "registry-1.docker.io", "library/foo", "5000", NULL, "foo:5000",
     "docker.io/library/foo:5000"},
    {"alpine:3.19@" D256, "docker.io", "registry-1.docker.io", "library/alpine", "3.19", D256,
     "alpine:3.19@" D256, "docker.io/library/alpine:3.19@" D256},
    {"alpine@" D256, "docker.io", "registry-1.docker.io", "library/alpine", NULL, D256,
     "alpine@" D256, "docker.io/library/alpine@" D256},
    {"reg.example.com/a/b@" D512, "reg.example.com", "reg.example.com", "a/b", NULL, D512,
     "reg.example.com/a/b@" D512, "reg.example.com/a/b@" D512},
    /* A '.' in the first component would make it a host, so it comes second. */
    {"x/a.b_c__d-e--f/g0", "docker.io", "registry-1.docker.io", "x/a.b_c__d-e--f/g0", "latest",
     NULL, "x/a.b_c__d-e--f/g0:latest", "docker.io/x/a.b_c__d-e--f/g0:latest"},
    {"x/a-----b:_Tag.with-Dots_", "docker.io", "registry-1.docker.io", "x/a-----b",
     "_Tag.with-Dots_", NULL, "x/a-----b:_Tag.with-Dots_", "docker.io/x/a-----b:_Tag.with-Dots_"},
    {"Example.COM:443/foo", "Example.COM:443", "Example.COM:443", "foo", "latest", NULL,
     "Example.COM:443/foo:latest", "Example.COM:443/foo:latest"},
    {"registry-1.docker.io/library/x", "registry-1.docker.io", "registry-1.docker.io", "library/x",
     "latest", NULL, "registry-1.docker.io/library/x:latest",
     "registry-1.docker.io/library/x:latest"},
    {"my-registry.local:65535/team/app:v2", "my-registry.local:65535", "my-registry.local:65535",
     "team/app", "v2", NULL, "my-registry.local:65535/team/app:v2",
     "my-registry.local:65535/team/app:v2"},
    {"x@foo+bar:abcdefABCDEF0123456789abcdef0123", "docker.io", "registry-1.docker.io", "library/x",
     NULL, "foo+bar:abcdefABCDEF0123456789abcdef0123", "x@foo+bar:abcdefABCDEF0123456789abcdef0123",
     "docker.io/library/x@foo+bar:abcdefABCDEF0123456789abcdef0123"},
};

static void check_good(const struct good *g)
{
    struct oreg_ref *r = NULL;
    struct oci_error *e = NULL;
    int rc = oreg_ref_parse(&r, g->in, &e);
    if (rc < 0) {
        fprintf(stderr, "  %s: %s\n", g->in, e ? e->msg : "?");
        CHECK(0);
        oci_error_free(e);
        return;
    }
    CHECK_STR(r->registry, g->registry);
    CHECK_STR(r->api_host, g->api_host);
    CHECK_STR(r->repository, g->repository);
    if (g->tag)
        CHECK_STR(r->tag, g->tag);
    else
        CHECK(r->tag == NULL);
    CHECK_INT(r->has_digest, g->digest != NULL);
    if (g->digest) {
        CHECK_STR(r->digest.str, g->digest);
        CHECK_STR(oreg_ref_manifest_reference(r), g->digest);
    } else {
        CHECK_STR(oreg_ref_manifest_reference(r), g->tag);
    }
    CHECK_STR(r->familiar, g->familiar);
    CHECK_STR(r->canonical, g->canonical);
    char *name = oreg_ref_name(r);
    char want[600];
    snprintf(want, sizeof(want), "%s/%s", g->registry, g->repository);
    CHECK_STR(name, want);
    free(name);

    /* The canonical form parses back to the same reference. */
    struct oreg_ref *again = NULL;
    CHECK_OK(oreg_ref_parse(&again, r->canonical, T_ERR));
    if (again)
        CHECK_STR(again->canonical, r->canonical);
    oreg_ref_free(again);
    oreg_ref_free(r);
}

static void test_valid(void)
{
    for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++)
        check_good(&goods[i]);
}

static void expect_bad(const char *in, const char *why)
{
    struct oreg_ref *r = (struct oreg_ref *)0x1;
    struct oci_error *e = NULL;
    int rc = oreg_ref_parse(&r, in, &e);
    CHECK_INT(rc, -OCI_ERR_INVALID);
    CHECK(r == (struct oreg_ref *)0x1);
    CHECK(e != NULL);
    if (!e)
        return;
    CHECK_INT(e->code, OCI_ERR_INVALID);
    if (!strstr(e->msg, why)) {
        fprintf(stderr, "  for \"%.80s\": message \"%s\" lacks \"%s\"\n", in ? in : "(null)",
                e->msg, why);
        CHECK(0);
    }
    /* The message names the input (short inputs appear whole). */
    if (in && *in && strlen(in) < 60 && !strchr(in, '"') && !strstr(e->msg, in)) {
        fprintf(stderr, "  message \"%s\" does not name \"%s\"\n", e->msg, in);
        CHECK(0);
    }
    CHECK(strchr(e->msg, '\n') == NULL);
    oci_error_free(e);
}

static void test_invalid(void)
{
    expect_bad(NULL, "no reference");
    expect_bad("", "empty");
    expect_bad("docker://", "empty");
    expect_bad("Alpine", "repository name must be lowercase");
    expect_bad("docker.io/Library/alpine", "repository name must be lowercase");
    expect_bad("FOO/bar", "repository name must be lowercase");
    expect_bad("ghcr.io/Owner/repo:tag", "repository name must be lowercase");
    expect_bad("alpine:", "empty tag");
    expect_bad("alpine@", "empty digest");
    expect_bad("alpine:-x", "tag must start");
    expect_bad("alpine:.x", "tag must start");
    expect_bad("alpine:a+b", "tag may contain only");
    expect_bad("a..b", "invalid separator");
    expect_bad("a.-b", "invalid separator");
    expect_bad("a___b", "invalid separator");
    expect_bad("a_-b", "invalid separator");
    expect_bad("-a", "must start with a lowercase letter or digit");
    expect_bad("a-", "must not end with a separator");
    expect_bad("a//b", "empty path component");
    expect_bad("a/", "empty path component");
    expect_bad("/a", "empty path component");
    expect_bad("foo bar", "may contain only");
    expect_bad("foo/b@r", "invalid digest");
    expect_bad("alpine@sha256:abc", "invalid digest");
    expect_bad("alpine@sha256:"
               "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
               "invalid digest");
    expect_bad("alpine@nocolon", "invalid digest");
    expect_bad(H64, "image ID");
    expect_bad("docker://" H64, "image ID");
    expect_bad("localhost:0/foo", "port must be");
    expect_bad("localhost:65536/foo", "port must be");
    expect_bad("localhost:123456/foo", "port must be");
    expect_bad("host:abc/foo", "port must be");
    expect_bad("host.com:/foo", "port must be");
    expect_bad("[::1/foo", "missing ']'");
    expect_bad("[zz::1]/foo", "invalid IPv6");
    expect_bad("[1.2.3.4]/foo", "invalid IPv6");
    expect_bad("[]:1/foo", "invalid IPv6");
    /* Without '.' or ':' a bracketed first component is a path component. */
    expect_bad("[]/foo", "must start with a lowercase letter");
    expect_bad("a.b_c/foo", "host names may contain only");
    expect_bad("[::1]x/foo", "unexpected characters after the host");
    expect_bad("-host.com/foo", "must not start or end with '-'");
    expect_bad("host-.com/foo", "must not start or end with '-'");
    expect_bad("ex_ample.com/foo", "host names may contain only");
    expect_bad("a..com/foo", "empty component in host name");
    expect_bad(".com/foo", "empty component in host name");

    /* Tag length: 128 is the limit. */
    char tag[200];
    memset(tag, 't', 129);
    tag[129] = '\0';
    char buf[300];
    snprintf(buf, sizeof(buf), "alpine:%s", tag);
    expect_bad(buf, "longer than 128");
    tag[128] = '\0';
    snprintf(buf, sizeof(buf), "alpine:%s", tag);
    struct oreg_ref *r = NULL;
    CHECK_OK(oreg_ref_parse(&r, buf, T_ERR));
    oreg_ref_free(r);

    /* Input length cap. */
    char *huge = malloc(2001);
    memset(huge, 'a', 2000);
    huge[2000] = '\0';
    expect_bad(huge, "longer than 1024");
    free(huge);
}

static void test_name_length(void)
{
    /* docker.io/ is 10 characters: a 245-character repository is exactly 255. */
    char repo[300], in[400];
    memset(repo, 'a', sizeof(repo));
    memcpy(repo, "ns/", 3);
    repo[245] = '\0';
    snprintf(in, sizeof(in), "%s:tag", repo);
    struct oreg_ref *r = NULL;
    CHECK_OK(oreg_ref_parse(&r, in, T_ERR));
    if (r)
        CHECK_INT(strlen(r->registry) + 1 + strlen(r->repository), 255);
    oreg_ref_free(r);
    repo[245] = 'a';
    repo[246] = '\0';
    snprintf(in, sizeof(in), "%s:tag", repo);
    expect_bad(in, "more than 255 characters");

    /* The library/ prefix counts: 241 + 8 + 10 > 255. */
    memset(repo, 'b', 241);
    repo[241] = '\0';
    expect_bad(repo, "more than 255 characters");
}

static void test_hosts(void)
{
    CHECK(oreg_host_is_docker_hub("docker.io"));
    CHECK(oreg_host_is_docker_hub("index.docker.io"));
    CHECK(oreg_host_is_docker_hub("registry-1.docker.io"));
    CHECK(!oreg_host_is_docker_hub("docker.io.evil.com"));
    CHECK(!oreg_host_is_docker_hub(NULL));
    CHECK_STR(oreg_creds_key("docker.io"), "https://index.docker.io/v1/");
    CHECK_STR(oreg_creds_key("index.docker.io"), "https://index.docker.io/v1/");
    CHECK_STR(oreg_creds_key("ghcr.io"), "ghcr.io");

    static const char *const norm[][2] = {
        {"docker.io", "docker.io"},
        {"index.docker.io", "docker.io"},
        {"https://index.docker.io/v1/", "docker.io"},
        {"registry-1.docker.io", "docker.io"},
        {"registry.example.com", "registry.example.com"},
        {"https://registry.example.com/v2/", "registry.example.com"},
        {"http://localhost:5000", "localhost:5000"},
        {"[::1]:5000", "[::1]:5000"},
        {"ghcr.io/owner", "ghcr.io"},
    };
    for (size_t i = 0; i < sizeof(norm) / sizeof(norm[0]); i++) {
        char *out = NULL;
        CHECK_OK(oreg_registry_normalize(&out, norm[i][0], T_ERR));
        if (out)
            CHECK_STR(out, norm[i][1]);
        free(out);
    }
    static const char *const bad[] = {"", "https://", "host:99999", "bad_host.com", "[::1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *out = (char *)0x1;
        struct oci_error *e = NULL;
        CHECK_INT(oreg_registry_normalize(&out, bad[i], &e), -OCI_ERR_INVALID);
        CHECK(out == (char *)0x1);
        oci_error_free(e);
    }
}

static void test_control_chars_quoted(void)
{
    struct oreg_ref *r = NULL;
    struct oci_error *e = NULL;
    CHECK_INT(oreg_ref_parse(&r, "foo\n\x1b[31mbar", &e), -OCI_ERR_INVALID);
    CHECK(e && !strchr(e->msg, '\x1b') && !strchr(e->msg, '\n'));
    if (e)
        CHECK(strstr(e->msg, "\\x0a") != NULL);
    oci_error_free(e);
}

int main(void)
{
    T_RUN(test_valid);
    T_RUN(test_invalid);
    T_RUN(test_name_length);
    T_RUN(test_hosts);
    T_RUN(test_control_chars_quoted);
    return t_done();
}
