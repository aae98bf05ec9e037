/* Digests: the strict parser (the gate to blob paths), the spec grammar,
 * hashing against known vectors, and streaming versus one-shot hashing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ociimg/digest.h>

#include "t.h"

#define EMPTY256 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ABC256 "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define ABC512                                                                                     \
    "sha512:"                                                                                      \
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c"       \
    "23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"

/* Expects parse (strict or any) to fail with INVALID and a message containing `why`. */
static void expect_bad(bool any, const char *s, const char *why)
{
    struct oimg_digest d;
    memset(&d, 0x5a, sizeof(d));
    struct oci_error *e = NULL;
    int r = any ? oimg_digest_parse_any(&d, s, &e) : oimg_digest_parse(&d, s, &e);
    CHECK_INT(r, -OCI_ERR_INVALID);
    CHECK(e != NULL);
    if (e) {
        CHECK_INT(e->code, OCI_ERR_INVALID);
        if (why && !strstr(e->msg, why)) {
            fprintf(stderr, "  for %s: message \"%s\" lacks \"%s\"\n", s ? s : "(null)", e->msg,
                    why);
            CHECK(0);
        }
        CHECK(strchr(e->msg, '\n') == NULL);
        CHECK(strlen(e->msg) < 512);
    }
    /* out untouched on failure */
    CHECK(((unsigned char *)&d)[0] == 0x5a);
    oci_error_free(e);
}

static void test_strict_valid(void)
{
    struct oimg_digest d;
    CHECK_OK(oimg_digest_parse(&d, EMPTY256, T_ERR));
    CHECK_INT(d.alg, OIMG_DIGEST_SHA256);
    CHECK_STR(d.str, EMPTY256);
    CHECK_STR(oimg_digest_encoded(&d), &EMPTY256[7]);
    CHECK_OK(oimg_digest_parse(&d, ABC512, T_ERR));
    CHECK_INT(d.alg, OIMG_DIGEST_SHA512);
    CHECK_INT(oimg_digest_hex_len(OIMG_DIGEST_SHA512), 128);
    CHECK_INT(oimg_digest_hex_len(OIMG_DIGEST_SHA256), 64);
    CHECK_INT(oimg_digest_hex_len(OIMG_DIGEST_UNKNOWN), 0);
    CHECK_STR(oimg_digest_alg_name(OIMG_DIGEST_SHA512), "sha512");
}

static void test_strict_invalid(void)
{
    expect_bad(false, "sha256:../../x", "64 lowercase hex");
    expect_bad(false, "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
               "64 lowercase hex");
    expect_bad(false, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
               "64 lowercase hex");
    expect_bad(false, EMPTY256 "0", "64 lowercase hex");
    expect_bad(false, "sha256:", "64 lowercase hex");
    expect_bad(false, "", "empty");
    expect_bad(false, NULL, "empty");
    expect_bad(false, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
               "missing ':'");
    expect_bad(false, "md5:d41d8cd98f00b204e9800998ecf8427e", "unknown algorithm");
    expect_bad(false, "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
               "unknown algorithm");
    expect_bad(false, "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
               "128 lowercase hex");
    expect_bad(false, " " EMPTY256, "unknown algorithm");
    expect_bad(false, EMPTY256 "\n", "64 lowercase hex");
    expect_bad(false, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85/",
               "64 lowercase hex");
}

static void test_message_quoting(void)
{
    /* Control characters are escaped and long input is cut. */
    char longs[1000];
    memset(longs, 'a', sizeof(longs) - 1);
    longs[sizeof(longs) - 1] = '\0';
    struct oimg_digest d;
    struct oci_error *e = NULL;
    oimg_digest_parse(&d, longs, &e);
    CHECK(e && strlen(e->msg) < 200);
    CHECK(e && strstr(e->msg, "...") != NULL);
    CHECK(e && strstr(e->msg, "too long") != NULL);
    oci_error_free(e);
    e = NULL;
    oimg_digest_parse(&d, "sha256:\x1b[31mred\n", &e);
    CHECK(e && strstr(e->msg, "\\x1b") != NULL);
    CHECK(e && strstr(e->msg, "\\x0a") != NULL);
    oci_error_free(e);
    /* NULL err is tolerated. */
    CHECK_INT(oimg_digest_parse(&d, "nope", NULL), -OCI_ERR_INVALID);
}

static void test_any(void)
{
    struct oimg_digest d;
    CHECK_OK(oimg_digest_parse_any(
        &d, "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", T_ERR));
    CHECK_INT(d.alg, OIMG_DIGEST_UNKNOWN);
    CHECK_OK(oimg_digest_parse_any(&d, "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
                                   T_ERR));
    CHECK_INT(d.alg, OIMG_DIGEST_UNKNOWN);
    CHECK_OK(oimg_digest_parse_any(&d, "a.b_c-d:x=", T_ERR));
    CHECK_OK(oimg_digest_parse_any(&d, EMPTY256, T_ERR));
    CHECK_INT(d.alg, OIMG_DIGEST_SHA256);
    CHECK_OK(oimg_digest_parse_any(&d, ABC512, T_ERR));
    CHECK_INT(d.alg, OIMG_DIGEST_SHA512);

    /* parse accepts none of the unknown ones */
    expect_bad(false, "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
               "unknown algorithm");
    /* registered algorithms keep their strict rule */
    expect_bad(true, "sha256:ABC", "64 lowercase hex");
    expect_bad(true, "sha256:../../x", "encoded part may contain only");
    expect_bad(true, "sha512:abc", "128 lowercase hex");
    /* grammar */
    expect_bad(true, "", "empty");
    expect_bad(true, ":abc", "empty algorithm");
    expect_bad(true, "sha256", "missing ':'");
    expect_bad(true, "sha256:", "empty encoded part");
    expect_bad(true, "Sha256:abc", "algorithm must be");
    expect_bad(true, "a..b:abc", "algorithm must be");
    expect_bad(true, "+a:abc", "algorithm must be");
    expect_bad(true, "a+:abc", "must not end with a separator");
    expect_bad(true, "a:b:c", "encoded part may contain only");
    expect_bad(true, "a:b/c", "encoded part may contain only");
    expect_bad(true, "a:b c", "encoded part may contain only");

    char longs[OIMG_DIGEST_MAX + 10];
    memset(longs, 'a', sizeof(longs) - 1);
    longs[2] = ':';
    longs[sizeof(longs) - 1] = '\0';
    expect_bad(true, longs, "too long");
    longs[OIMG_DIGEST_MAX] = '\0';
    CHECK_OK(oimg_digest_parse_any(&d, longs, T_ERR));
}

static void test_equal_and_path(void)
{
    struct oimg_digest a, b;
    char path[300];
    CHECK_OK(oimg_digest_parse(&a, EMPTY256, T_ERR));
    CHECK_OK(oimg_digest_parse(&b, EMPTY256, T_ERR));
    CHECK(oimg_digest_equal(&a, &b));
    CHECK_OK(oimg_digest_parse(&b, ABC256, T_ERR));
    CHECK(!oimg_digest_equal(&a, &b));

    CHECK_OK(oimg_digest_blob_path(path, sizeof(path), &a, T_ERR));
    CHECK_STR(path,
              "blobs/sha256/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK_OK(oimg_digest_parse(&b, ABC512, T_ERR));
    CHECK_OK(oimg_digest_blob_path(path, sizeof(path), &b, T_ERR));
    char want[300];
    snprintf(want, sizeof(want), "blobs/sha512/%s", &ABC512[7]);
    CHECK_STR(path, want);

    /* An unknown algorithm, or a struct not made by the parser, never becomes a path. */
    struct oci_error *e = NULL;
    CHECK_OK(oimg_digest_parse_any(&b, "foo:bar", T_ERR));
    CHECK_INT(oimg_digest_blob_path(path, sizeof(path), &b, &e), -OCI_ERR_INVALID);
    oci_error_clear(&e);
    struct oimg_digest forged = {.alg = OIMG_DIGEST_SHA256};
    snprintf(forged.str, sizeof(forged.str), "sha256:../../../../etc/passwd");
    CHECK(oimg_digest_blob_path(path, sizeof(path), &forged, &e) < 0);
    oci_error_clear(&e);
    CHECK(oimg_digest_blob_path(path, 20, &a, &e) < 0);
    oci_error_clear(&e);
}

static void test_vectors(void)
{
    struct oimg_digest d;
    CHECK_OK(oimg_digest_buffer(&d, OIMG_DIGEST_SHA256, "", 0, T_ERR));
    CHECK_STR(d.str, EMPTY256);
    CHECK_INT(d.alg, OIMG_DIGEST_SHA256);
    CHECK_OK(oimg_digest_buffer(&d, OIMG_DIGEST_SHA256, "abc", 3, T_ERR));
    CHECK_STR(d.str, ABC256);
    CHECK_OK(oimg_digest_buffer(&d, OIMG_DIGEST_SHA512, "abc", 3, T_ERR));
    CHECK_STR(d.str, ABC512);
    /* hasher output passes the strict parser */
    struct oimg_digest p;
    CHECK_OK(oimg_digest_parse(&p, d.str, T_ERR));

    struct oci_error *e = NULL;
    CHECK_INT(oimg_digest_buffer(&d, OIMG_DIGEST_UNKNOWN, "abc", 3, &e), -OCI_ERR_UNSUPPORTED);
    oci_error_free(e);
}

static void test_streaming(void)
{
    static unsigned char data[3 * 1024 * 1024 + 17];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 2654435761u >> 13);

    for (int alg = OIMG_DIGEST_SHA256; alg <= OIMG_DIGEST_SHA512; alg++) {
        struct oimg_digest one, stream, fromfd;
        CHECK_OK(oimg_digest_buffer(&one, alg, data, sizeof(data), T_ERR));

        struct oimg_hasher *h = NULL;
        CHECK_OK(oimg_hasher_new(&h, alg, T_ERR));
        if (!h)
            return;
        size_t off = 0, step = 1;
        while (off < sizeof(data)) {
            size_t n = step < sizeof(data) - off ? step : sizeof(data) - off;
            oimg_hasher_update(h, data + off, n);
            off += n;
            step = step * 3 + 1;
        }
        oimg_hasher_final(h, &stream);
        oimg_hasher_free(h);
        CHECK_STR(stream.str, one.str);

        char tmpl[] = "/tmp/oimg-digest-XXXXXX";
        int fd = mkstemp(tmpl);
        CHECK(fd >= 0);
        if (fd < 0)
            return;
        unlink(tmpl);
        CHECK_INT(write(fd, data, sizeof(data)), sizeof(data));
        lseek(fd, 0, SEEK_SET);
        unsigned long long size = 0;
        CHECK_OK(oimg_digest_fd(&fromfd, &size, alg, fd, T_ERR));
        CHECK_INT(size, sizeof(data));
        CHECK_STR(fromfd.str, one.str);
        /* from the current offset */
        lseek(fd, (off_t)sizeof(data) - 3, SEEK_SET);
        CHECK_OK(oimg_digest_fd(&fromfd, &size, alg, fd, T_ERR));
        CHECK_INT(size, 3);
        struct oimg_digest tail;
        CHECK_OK(oimg_digest_buffer(&tail, alg, data + sizeof(data) - 3, 3, T_ERR));
        CHECK_STR(fromfd.str, tail.str);
        close(fd);
    }
    oimg_hasher_free(NULL);

    struct oimg_digest d;
    struct oci_error *e = NULL;
    CHECK(oimg_digest_fd(&d, NULL, OIMG_DIGEST_SHA256, -1, &e) < 0);
    CHECK(e && e->sys_errno == EBADF);
    oci_error_free(e);
}

int main(void)
{
    T_RUN(test_strict_valid);
    T_RUN(test_strict_invalid);
    T_RUN(test_message_quoting);
    T_RUN(test_any);
    T_RUN(test_equal_and_path);
    T_RUN(test_vectors);
    T_RUN(test_streaming);
    return t_done();
}
