/* The error type: set/setsys/wrap, NULL tolerance, one-line messages. */
#include <errno.h>
#include <string.h>

#include <ociimg/cleanup.h>
#include <ociimg/error.h>

#include "t.h"

static void test_set(void)
{
    struct oci_error *e = NULL;
    CHECK_INT(oci_error_set(&e, OCI_ERR_INVALID, "bad %s %d", "thing", 7), -OCI_ERR_INVALID);
    CHECK(e != NULL);
    if (!e)
        return;
    CHECK_INT(e->code, OCI_ERR_INVALID);
    CHECK_INT(e->sys_errno, 0);
    CHECK_STR(e->msg, "bad thing 7");

    /* the first error wins; later sets only return their code */
    CHECK_INT(oci_error_set(&e, OCI_ERR_IO, "second"), -OCI_ERR_IO);
    CHECK_STR(e->msg, "bad thing 7");
    CHECK_INT(e->code, OCI_ERR_INVALID);
    oci_error_clear(&e);
    CHECK(e == NULL);
    oci_error_clear(&e);
    oci_error_clear(NULL);

    /* a negative code is accepted, nonsense codes become internal */
    CHECK_INT(oci_error_set(&e, -OCI_ERR_NOT_FOUND, "x"), -OCI_ERR_NOT_FOUND);
    CHECK_INT(e->code, OCI_ERR_NOT_FOUND);
    oci_error_clear(&e);
    CHECK_INT(oci_error_set(&e, 0, "x"), -OCI_ERR_INTERNAL);
    oci_error_clear(&e);
    CHECK_INT(oci_error_set(&e, 9999, "x"), -OCI_ERR_INTERNAL);
    oci_error_clear(&e);
}

static void test_setsys(void)
{
    struct oci_error *e = NULL;
    CHECK_INT(oci_error_setsys(&e, OCI_ERR_IO, ENOENT, "open `%s`", "f"), -OCI_ERR_IO);
    CHECK(e != NULL);
    if (!e)
        return;
    CHECK_INT(e->sys_errno, ENOENT);
    char want[128];
    snprintf(want, sizeof(want), "open `f`: %s", strerror(ENOENT));
    CHECK_STR(e->msg, want);
    oci_error_free(e);
}

static void test_wrap(void)
{
    struct oci_error *e = NULL;
    oci_error_set(&e, OCI_ERR_DIGEST_MISMATCH, "size 3, expected 4");
    CHECK_INT(oci_error_wrap(&e, "read blob %s", "sha256:x"), -OCI_ERR_DIGEST_MISMATCH);
    CHECK_INT(oci_error_wrap(&e, "open layout `%s`", "dir"), -OCI_ERR_DIGEST_MISMATCH);
    CHECK_STR(e->msg, "open layout `dir`: read blob sha256:x: size 3, expected 4");
    CHECK_INT(e->code, OCI_ERR_DIGEST_MISMATCH);
    oci_error_free(e);

    /* nothing to wrap */
    e = NULL;
    CHECK_INT(oci_error_wrap(&e, "ctx"), -OCI_ERR_INTERNAL);
    CHECK(e == NULL);
    CHECK_INT(oci_error_wrap(NULL, "ctx"), -OCI_ERR_INTERNAL);
}

static void test_null_err(void)
{
    CHECK_INT(oci_error_set(NULL, OCI_ERR_INVALID, "x"), -OCI_ERR_INVALID);
    CHECK_INT(oci_error_setsys(NULL, OCI_ERR_IO, EIO, "x"), -OCI_ERR_IO);
    oci_error_free(NULL);
    _cleanup_error_ struct oci_error *e = NULL; /* cleanup of NULL */
    (void)e;
}

static void test_flatten(void)
{
    struct oci_error *e = NULL;
    oci_error_set(&e, OCI_ERR_INVALID, "line1\nline2\r\tx%c", 0x1b);
    CHECK_STR(e->msg, "line1 line2  x ");
    oci_error_wrap(&e, "ctx\nwith newline");
    CHECK_STR(e->msg, "ctx with newline: line1 line2  x ");
    CHECK(strchr(e->msg, '\n') == NULL);
    oci_error_free(e);
}

static void test_code_names(void)
{
    CHECK_STR(oci_error_code_name(OCI_ERR_INVALID), "invalid");
    CHECK_STR(oci_error_code_name(-OCI_ERR_NOT_FOUND), "not-found");
    CHECK_STR(oci_error_code_name(OCI_ERR_TOO_LARGE), "too-large");
    CHECK_STR(oci_error_code_name(0), "ok");
    CHECK_STR(oci_error_code_name(OCI_ERR__MAX), "unknown");
    CHECK_STR(oci_error_code_name(12345), "unknown");
    for (int c = 1; c < OCI_ERR__MAX; c++)
        CHECK(strcmp(oci_error_code_name(c), "unknown") != 0);
}

int main(void)
{
    T_RUN(test_set);
    T_RUN(test_setsys);
    T_RUN(test_wrap);
    T_RUN(test_null_err);
    T_RUN(test_flatten);
    T_RUN(test_code_names);
    return t_done();
}
