/* WWW-Authenticate header values from a registry or token server.  The input
 * is split at '\n' into up to 8 header values, as a response may carry
 * several. */
#include <ociimg/registry.h>

#include "fuzz_common.h"

#define MAX_HEADERS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_strndup(data, size);
    const char *headers[MAX_HEADERS];
    size_t n = 0;
    char *p = s;

    while (n < MAX_HEADERS) {
        headers[n++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }

    struct oci_error *err = NULL;
    struct oreg_challenges *list = NULL;
    if (oreg_challenges_parse(&list, headers, n, &err) == 0) {
        const struct oreg_challenge *c = oreg_challenges_find(list, "bearer");
        if (c) {
            (void)oreg_challenge_realm(c);
            (void)oreg_challenge_service(c);
            (void)oreg_challenge_scope(c);
            (void)oreg_challenge_error(c);
            (void)oreg_challenge_insufficient_scope(c);
        }
        (void)oreg_challenges_find(list, "basic");
        /* Appending the first header again exercises the add path and its
         * all-or-nothing failure. */
        if (oreg_challenges_add(list, headers[0], &err) < 0)
            fuzz_err_drop(&err);
        oreg_challenges_free(list);
    }
    fuzz_err_drop(&err);
    free(s);
    return 0;
}
