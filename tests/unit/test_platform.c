/* Platforms: parsing "os/arch[/variant]", normalisation, the host, matching
 * and selection from an index (with the no-match message). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <ociimg/model.h>

#include "t.h"

static char *fmt_parsed(const char *s)
{
    struct oimg_platform p = {0};
    struct oci_error *e = NULL;
    if (oimg_platform_parse(&p, s, &e) < 0) {
        oci_error_free(e);
        return NULL;
    }
    char *f = oimg_platform_format(&p);
    oimg_platform_clear(&p);
    return f;
}

#define CHECK_PARSE(in, out)                                                                       \
    do {                                                                                           \
        char *_f = fmt_parsed(in);                                                                 \
        CHECK_STR(_f, out);                                                                        \
        free(_f);                                                                                  \
    } while (0)

static void parse(void)
{
    CHECK_PARSE("linux/amd64", "linux/amd64");
    CHECK_PARSE("linux/arm64/v8", "linux/arm64/v8");
    CHECK_PARSE("linux/arm64", "linux/arm64");
    CHECK_PARSE("Linux/AArch64", "linux/arm64");
    CHECK_PARSE("linux/x86_64", "linux/amd64");
    CHECK_PARSE("linux/armhf", "linux/arm/v7");
    CHECK_PARSE("linux/armel", "linux/arm/v6");
    CHECK_PARSE("linux/arm/7", "linux/arm/v7");
    CHECK_PARSE("linux/i686", "linux/386");
    CHECK_PARSE("linux/ppc64le", "linux/ppc64le");
    CHECK_PARSE("windows/amd64", "windows/amd64");
    CHECK_PARSE("linux/amd64/v3", "linux/amd64/v3");

    static const char *const bad[] = {
        "",
        "linux",
        "linux/",
        "/amd64",
        "linux//v7",
        "linux/amd64/v8/x",
        "linux/am d64",
        "linux/amd64/",
        "linux/-arm",
        "linux/ar;m",
        "linux/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct oimg_platform p = {0};
        struct oci_error *e = NULL;
        int r = oimg_platform_parse(&p, bad[i], &e);
        if (r != -OCI_ERR_INVALID)
            fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
        CHECK_INT(r, -OCI_ERR_INVALID);
        CHECK(e && strstr(e->msg, "invalid platform"));
        CHECK(p.os == NULL); /* untouched */
        oci_error_free(e);
    }
    struct oci_error *e = NULL;
    struct oimg_platform p = {0};
    CHECK_INT(oimg_platform_parse(&p, "linux", &e), -OCI_ERR_INVALID);
    CHECK(e && strstr(e->msg, "expected OS/ARCH[/VARIANT]"));
    oci_error_free(e);
    e = NULL;
    CHECK_INT(oimg_platform_parse(&p, NULL, &e), -OCI_ERR_INVALID);
    oci_error_free(e);
}

static void normalize(void)
{
    struct oimg_platform p = {0};
    p.os = strdup("LINUX");
    p.architecture = strdup("aarch64");
    oimg_platform_normalize(&p);
    CHECK_STR(p.os, "linux");
    CHECK_STR(p.architecture, "arm64");
    CHECK(p.variant == NULL); /* v8 is implied, not invented */
    oimg_platform_clear(&p);

    p.os = strdup("linux");
    p.architecture = strdup("arm");
    p.variant = strdup("armv7");
    oimg_platform_normalize(&p);
    CHECK_STR(p.variant, "v7");
    oimg_platform_clear(&p);

    p.os = strdup("linux");
    p.architecture = strdup("armv6l");
    oimg_platform_normalize(&p);
    CHECK_STR(p.architecture, "arm");
    CHECK_STR(p.variant, "v6");
    oimg_platform_clear(&p);

    p.os = strdup("linux");
    p.architecture = strdup("arm64");
    p.variant = strdup("8");
    oimg_platform_normalize(&p);
    CHECK_STR(p.variant, "v8");
    oimg_platform_clear(&p);
    oimg_platform_normalize(NULL);
    oimg_platform_clear(NULL);
    CHECK(oimg_platform_format(NULL) == NULL);
}

static void host(void)
{
    struct oimg_platform h = {0};
    CHECK_OK(oimg_platform_host(&h, T_ERR));
    CHECK_STR(h.os, "linux");
    struct utsname u;
    uname(&u);
    if (strcmp(u.machine, "x86_64") == 0) {
        CHECK_STR(h.architecture, "amd64");
        CHECK(h.variant == NULL);
    } else if (strcmp(u.machine, "aarch64") == 0) {
        CHECK_STR(h.architecture, "arm64");
        CHECK_STR(h.variant, "v8");
    }
    char *f = oimg_platform_format(&h);
    fprintf(stderr, "  host platform: %s\n", f ? f : "?");
    free(f);
    oimg_platform_clear(&h);
}

static struct oimg_platform plat(const char *os, const char *arch, const char *variant)
{
    struct oimg_platform p = {0};
    p.os = (char *)os;
    p.architecture = (char *)arch;
    p.variant = (char *)variant;
    return p;
}

#define MATCH(wa, wv, ha, hv, expect)                                                              \
    do {                                                                                           \
        struct oimg_platform _w = plat("linux", wa, wv), _h = plat("linux", ha, hv);               \
        if (oimg_platform_match(&_w, &_h) != (expect))                                             \
            fprintf(stderr, "  match want %s/%s have %s/%s\n", wa, wv ? wv : "-", ha,              \
                    hv ? hv : "-");                                                                \
        CHECK(oimg_platform_match(&_w, &_h) == (expect));                                          \
    } while (0)

static void match(void)
{
    MATCH("amd64", NULL, "amd64", NULL, true);
    MATCH("amd64", NULL, "arm64", NULL, false);
    MATCH("amd64", NULL, "x86_64", NULL, true);
    /* arm64 without a variant is arm64/v8 */
    MATCH("arm64", NULL, "arm64", "v8", true);
    MATCH("arm64", "v8", "arm64", NULL, true);
    MATCH("arm64", "v8", "aarch64", NULL, true);
    MATCH("arm64", NULL, "arm64", "v9", false);
    /* 32-bit arm falls back downwards only */
    MATCH("arm", "v7", "arm", "v7", true);
    MATCH("arm", "v7", "arm", "v6", true);
    MATCH("arm", "v7", "arm", "v5", true);
    MATCH("arm", "v6", "arm", "v5", true);
    MATCH("arm", "v6", "arm", "v7", false);
    MATCH("arm", "v8", "arm", "v7", true);
    MATCH("arm", NULL, "arm", "v7", true); /* no variant means v7 */
    MATCH("arm", "v7", "arm", "armv7", true);
    MATCH("arm", "v7", "arm", "unrecognized-present", false);
    MATCH("arm", "v7", "arm64", NULL, false);
    /* amd64 micro-architecture levels */
    MATCH("amd64", NULL, "amd64", "v1", true);
    MATCH("amd64", NULL, "amd64", "v2", false);
    MATCH("amd64", "v3", "amd64", "v2", true);
    MATCH("amd64", "v3", "amd64", NULL, true);
    MATCH("amd64", "v2", "amd64", "v3", false);
    /* other architectures: equal variants, or none wanted */
    MATCH("riscv64", NULL, "riscv64", NULL, true);
    MATCH("riscv64", NULL, "riscv64", "rva22", true);
    MATCH("riscv64", "rva22", "riscv64", NULL, false);
    /* os must be equal */
    struct oimg_platform w = plat("linux", "amd64", NULL), h = plat("windows", "amd64", NULL);
    CHECK(!oimg_platform_match(&w, &h));
    /* os.version counts only on windows, by build */
    w = plat("windows", "amd64", NULL);
    w.os_version = "10.0.17763.1234";
    h.os_version = "10.0.17763.5000";
    CHECK(oimg_platform_match(&w, &h));
    h.os_version = "10.0.20348.1";
    CHECK(!oimg_platform_match(&w, &h));
    h.os_version = NULL;
    CHECK(oimg_platform_match(&w, &h));
    w = plat("linux", "amd64", NULL);
    h = plat("linux", "amd64", NULL);
    w.os_version = "1";
    h.os_version = "2";
    CHECK(oimg_platform_match(&w, &h));
}

/* Builds an index from a JSON list of manifest entries. */
static struct oimg_index *index_of(const char *entries)
{
    char doc[8192];
    snprintf(doc, sizeof(doc), "{\"schemaVersion\":2,\"manifests\":[%s]}", entries);
    struct oimg_index *idx = NULL;
    CHECK_OK(oimg_index_parse(&idx, doc, strlen(doc), NULL, T_ERR));
    return idx;
}

#define E(n, platform)                                                                             \
    "{\"mediaType\":\"" OIMG_MT_OCI_MANIFEST "\",\"size\":" #n ",\"digest\":\"sha256:"             \
    "5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270\"" platform "}"
#define P(os, arch) ",\"platform\":{\"os\":\"" os "\",\"architecture\":\"" arch "\"}"
#define PV(os, arch, v)                                                                            \
    ",\"platform\":{\"os\":\"" os "\",\"architecture\":\"" arch "\",\"variant\":\"" v "\"}"

static void select_one(const struct oimg_index *idx, const char *want, long expect,
                       const char *msg_part)
{
    struct oimg_platform w = {0};
    CHECK_OK(oimg_platform_parse(&w, want, T_ERR));
    size_t got = 999;
    struct oci_error *e = NULL;
    int r = oimg_platform_select(&got, idx, &w, &e);
    if (expect >= 0) {
        CHECK_INT(r, 0);
        CHECK_INT(got, expect);
        if (r < 0 || (long)got != expect)
            fprintf(stderr, "  select %s: %s\n", want, e ? e->msg : "wrong entry");
    } else {
        CHECK_INT(r, -OCI_ERR_PLATFORM);
        CHECK_INT(got, 999);
        CHECK(e && msg_part);
        if (e && msg_part)
            CHECK_STR(e->msg, msg_part);
    }
    oci_error_free(e);
    oimg_platform_clear(&w);
}

static void select_basic(void)
{
    struct oimg_index *idx =
        index_of(E(1, P("linux", "amd64")) "," E(2, PV("linux", "arm64", "v8")));
    if (!idx)
        return;
    select_one(idx, "linux/amd64", 0, NULL);
    select_one(idx, "linux/arm64", 1, NULL);
    select_one(idx, "linux/arm64/v8", 1, NULL);
    select_one(idx, "linux/aarch64", 1, NULL);
    select_one(idx, "linux/s390x", -1,
               "no manifest for linux/s390x; available: linux/amd64, "
               "linux/arm64/v8");
    select_one(idx, "windows/amd64", -1,
               "no manifest for windows/amd64; available: linux/amd64, "
               "linux/arm64/v8");
    oimg_index_free(idx);
}

static void select_arm(void)
{
    /* exact beats fallback wherever it is in the list */
    struct oimg_index *idx = index_of(E(1, PV("linux", "arm", "v5")) "," E(
        2, PV("linux", "arm", "v6")) "," E(3, PV("linux", "arm", "v7")));
    if (!idx)
        return;
    select_one(idx, "linux/arm/v7", 2, NULL);
    select_one(idx, "linux/arm/v6", 1, NULL);
    select_one(idx, "linux/arm/v5", 0, NULL);
    select_one(idx, "linux/arm", 2, NULL);
    select_one(idx, "linux/arm/v8", 2, NULL);
    oimg_index_free(idx);
    /* v7 falls back to v6 (the best below it), not to v5 */
    idx = index_of(E(1, PV("linux", "arm", "v5")) "," E(2, PV("linux", "arm", "v6")) "," E(
        3, P("linux", "amd64")));
    if (!idx)
        return;
    select_one(idx, "linux/arm/v7", 1, NULL);
    select_one(idx, "linux/armhf", 1, NULL);
    select_one(idx, "linux/arm64", -1,
               "no manifest for linux/arm64; available: linux/arm/v5, linux/arm/v6, linux/amd64");
    oimg_index_free(idx);
    /* arm64 images that do not spell v8 */
    idx = index_of(E(1, P("linux", "amd64")) "," E(2, P("linux", "arm64")));
    if (!idx)
        return;
    select_one(idx, "linux/arm64/v8", 1, NULL);
    oimg_index_free(idx);
}

static void select_skips(void)
{
    /* BuildKit attestations, artifacts and nested indexes are not images */
    struct oimg_index *idx = index_of(
        "{\"mediaType\":\"" OIMG_MT_OCI_MANIFEST "\",\"size\":1,\"digest\":\"sha256:"
        "5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270\","
        "\"annotations\":{\"vnd.docker.reference.type\":\"attestation-manifest\"}" P(
            "linux",
            "amd64") "}," E(2, P("unknown",
                                 "unknown")) ","
                                             "{\"mediaType\":\"" OIMG_MT_OCI_MANIFEST
                                             "\",\"artifactType\":\"application/x-sbom\","
                                             "\"size\":1,\"digest\":\"sha256:"
                                             "5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94"
                                             "a4333"
                                             "501270\"" P(
                                                 "linux",
                                                 "amd64") "},"
                                                          "{\"mediaType\":\"" OIMG_MT_OCI_INDEX
                                                          "\",\"size\":1,\"digest\":\"sha256:"
                                                          "5b0bcabd1ed22e9fb"
                                                          "1310cf6c2dec7cdef19f0ad69efa1f392e94a433"
                                                          "3501270\"" P("linux", "amd64") "}," E(
                                                              5, P("linux", "amd64")));
    if (!idx)
        return;
    select_one(idx, "linux/amd64", 4, NULL);
    select_one(idx, "linux/arm64", -1, "no manifest for linux/arm64; available: linux/amd64");
    oimg_index_free(idx);

    /* a single image without a platform (a layout written without one) */
    idx = index_of(E(1, ""));
    if (!idx)
        return;
    select_one(idx, "linux/amd64", 0, NULL);
    oimg_index_free(idx);
    /* ...but among several, entries without a platform are not guessed at */
    idx = index_of(E(1, "") "," E(2, ""));
    if (!idx)
        return;
    select_one(idx, "linux/amd64", -1, "no manifest for linux/amd64; the index names no platforms");
    oimg_index_free(idx);
    idx = index_of("");
    if (!idx)
        return;
    select_one(idx, "linux/amd64", -1, "no manifest for linux/amd64; the index names no platforms");
    oimg_index_free(idx);
    /* duplicates are listed once */
    idx = index_of(
        E(1, P("linux", "amd64")) "," E(2, P("linux", "amd64")) "," E(3, P("linux", "arm64")));
    if (!idx)
        return;
    select_one(idx, "linux/s390x", -1,
               "no manifest for linux/s390x; available: linux/amd64, "
               "linux/arm64");
    select_one(idx, "linux/amd64", 0, NULL);
    oimg_index_free(idx);

    struct oci_error *e = NULL;
    size_t got;
    CHECK_INT(oimg_platform_select(&got, NULL, NULL, &e), -OCI_ERR_INVALID);
    oci_error_free(e);
}

/* containers/image's variant fixture, which names v7, v6 twice, an unknown
 * variant and no variant for arm. */
static void select_fixture(void)
{
    const char *shared = getenv("OCIIMG_SHARED");
    char path[4096];
    snprintf(path, sizeof(path),
             "%s/fixtures/containers-container-libs/image/internal/manifest/testdata/"
             "ocilist-variants.json",
             shared ? shared : "/nonexistent");
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "  (skipped: no $OCIIMG_SHARED/fixtures)\n");
        return;
    }
    static char buf[65536];
    size_t len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    struct oimg_index *idx = NULL;
    CHECK_OK(oimg_index_parse(&idx, buf, len, NULL, T_ERR));
    if (!idx)
        return;
    select_one(idx, "linux/amd64", 0, NULL);
    select_one(idx, "linux/arm/v7", 1, NULL);
    select_one(idx, "linux/arm/v6", 2, NULL);
    select_one(idx, "linux/arm/v5", -1,
               "no manifest for linux/arm/v5; available: linux/amd64, linux/arm/v7, linux/arm/v6, "
               "linux/arm/unrecognized-present, linux/arm");
    oimg_index_free(idx);
}

int main(void)
{
    T_RUN(parse);
    T_RUN(normalize);
    T_RUN(host);
    T_RUN(match);
    T_RUN(select_basic);
    T_RUN(select_arm);
    T_RUN(select_skips);
    T_RUN(select_fixture);
    return t_done();
}
