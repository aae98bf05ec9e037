/* A minimal unit-test harness: CHECK macros count failures, each test file's
 * main() calls T_RUN for its cases and returns t_done().  Exit 77 = skipped. */
#ifndef OCIIMG_T_H
#define OCIIMG_T_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/error.h>

static int t_failed, t_checks, t_case_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        t_checks++;                                                                                \
        if (!(cond)) {                                                                             \
            t_failed++;                                                                            \
            t_case_failed = 1;                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long _a = (long long)(a), _b = (long long)(b);                                        \
        t_checks++;                                                                                \
        if (_a != _b) {                                                                            \
            t_failed++;                                                                            \
            t_case_failed = 1;                                                                     \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a,    \
                    _a, #b, _b);                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *_a = (a), *_b = (b);                                                           \
        t_checks++;                                                                                \
        if (!_a || !_b || strcmp(_a, _b) != 0) {                                                   \
            t_failed++;                                                                            \
            t_case_failed = 1;                                                                     \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a,      \
                    _a ? _a : "(null)", _b ? _b : "(null)");                                       \
        }                                                                                          \
    } while (0)

/* A call that must succeed; pass T_ERR as its error argument to see the message. */
#define T_ERR (&_e)
#define CHECK_OK(call)                                                                             \
    do {                                                                                           \
        struct oci_error *_e = NULL;                                                               \
        int _r = (call);                                                                           \
        (void)_r;                                                                                  \
        CHECK(_r >= 0);                                                                            \
        if (_r < 0)                                                                                \
            fprintf(stderr, "    error: %s\n", _e && _e->msg ? _e->msg : "(no message)");          \
        oci_error_free(_e);                                                                        \
    } while (0)

#define T_RUN(fn)                                                                                  \
    do {                                                                                           \
        t_case_failed = 0;                                                                         \
        fn();                                                                                      \
        fprintf(stderr, "%s %s\n", t_case_failed ? "FAIL" : "ok  ", #fn);                          \
    } while (0)

static inline int t_done(void)
{
    fprintf(stderr, "%d checks, %d failed\n", t_checks, t_failed);
    return t_failed ? 1 : 0;
}

#endif
