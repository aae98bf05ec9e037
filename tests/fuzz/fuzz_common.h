/* Shared bits of the libFuzzer targets: inputs as NUL-terminated strings and
 * error disposal, so every target frees what it got (LeakSanitizer is on). */
#ifndef OCIIMG_FUZZ_COMMON_H
#define OCIIMG_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/error.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The parsers that take C strings must see exactly the fuzzer's bytes, with
 * embedded NULs cutting the string short as they would in real use. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static inline void fuzz_err_drop(struct oci_error **err)
{
    oci_error_free(*err);
    *err = NULL;
}

#endif
