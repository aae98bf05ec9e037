/* Libraries opened on first use: oci_dl_open's all-or-nothing filling, its
 * errors, and that ociimg itself no longer links libcurl or libarchive
 * (ldd), while libregistry and the applier still find them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <ociimg/apply.h>
#include <ociimg/dl.h>
#include <ociimg/error.h>
#include <ociimg/registry_client.h>

#include "t.h"

static typeof(zlibVersion) *sym_zlibVersion;
static typeof(crc32) *sym_crc32;
static void *sym_no_such_function_here;

static void test_open(void)
{
    struct oci_error *e = NULL;
    const struct oci_dl_sym ok[] = {OCI_DL_SYM(zlibVersion), OCI_DL_SYM(crc32)};
    CHECK_OK(oci_dl_open("libz.so.1", ok, 2, &e));
    CHECK(sym_zlibVersion && sym_crc32);
    if (sym_zlibVersion)
        CHECK_STR(sym_zlibVersion(), zlibVersion());
    if (sym_crc32)
        CHECK_INT(sym_crc32(0, (const Bytef *)"abc", 3), crc32(0, (const Bytef *)"abc", 3));
}

static void test_errors(void)
{
    struct oci_error *e = NULL;
    sym_zlibVersion = NULL;
    const struct oci_dl_sym one[] = {OCI_DL_SYM(zlibVersion)};
    CHECK_INT(oci_dl_open("libociimg-no-such-library.so.7", one, 1, &e), -OCI_ERR_UNSUPPORTED);
    CHECK(e && strstr(e->msg, "libociimg-no-such-library.so.7"));
    CHECK(!sym_zlibVersion);
    oci_error_clear(&e);

    /* A missing function: an error naming it, and nothing filled. */
    const struct oci_dl_sym some[] = {OCI_DL_SYM(zlibVersion), OCI_DL_SYM(crc32),
                                      OCI_DL_SYM(no_such_function_here)};
    sym_crc32 = NULL;
    CHECK_INT(oci_dl_open("libz.so.1", some, 3, &e), -OCI_ERR_UNSUPPORTED);
    CHECK(e && strstr(e->msg, "no_such_function_here") && strstr(e->msg, "libz.so.1"));
    CHECK(!sym_zlibVersion && !sym_crc32 && !sym_no_such_function_here);
    oci_error_clear(&e);
}

static int loads;
static int load_fails(struct oci_error **err)
{
    loads++;
    return oci_error_set(err, OCI_ERR_UNSUPPORTED, "load libx.so.1: gone");
}

static int load_ok(struct oci_error **err)
{
    (void)err;
    loads++;
    return 0;
}

/* Loaded once; a failure is remembered and told to every caller. */
static void test_once(void)
{
    static struct oci_dl_once bad = OCI_DL_ONCE_INIT, good = OCI_DL_ONCE_INIT;
    struct oci_error *e = NULL;
    loads = 0;
    for (int i = 0; i < 3; i++) {
        CHECK_INT(oci_dl_once(&bad, load_fails, &e), -OCI_ERR_UNSUPPORTED);
        CHECK(e && strcmp(e->msg, "load libx.so.1: gone") == 0);
        oci_error_clear(&e);
    }
    CHECK_INT(oci_dl_once(&bad, load_fails, NULL), -OCI_ERR_UNSUPPORTED);
    CHECK_INT(loads, 1);
    loads = 0;
    for (int i = 0; i < 3; i++)
        CHECK_OK(oci_dl_once(&good, load_ok, T_ERR));
    CHECK_INT(loads, 1);
}

static void test_modules(void)
{
    const char *cv = oreg_curl_version();
    CHECK(cv && strchr(cv, '.'));
    const char *av = oimg_archive_version();
    CHECK(av && strncmp(av, "libarchive 3", 12) == 0);
    /* Opened once: the same answer again. */
    CHECK(oreg_curl_version() == cv);
}

/* The point of it all: the binary needs neither at start-up. */
static void test_not_linked(void)
{
    const char *bin = getenv("OCIIMG_BIN");
    if (!bin) {
        printf("# OCIIMG_BIN unset: ldd check skipped\n");
        return;
    }
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "ldd '%s' 2>&1", bin);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    if (!p)
        return;
    char line[1024];
    int libs = 0, bad = 0;
    while (fgets(line, sizeof(line), p)) {
        libs++;
        if (strstr(line, "libcurl") || strstr(line, "libarchive") || strstr(line, "libssl")) {
            printf("# linked at start-up: %s", line);
            bad++;
        }
    }
    CHECK_INT(pclose(p), 0);
    CHECK(libs > 2);
    CHECK_INT(bad, 0);
}

int main(void)
{
    T_RUN(test_open);
    T_RUN(test_errors);
    T_RUN(test_once);
    T_RUN(test_modules);
    T_RUN(test_not_linked);
    return t_done();
}
