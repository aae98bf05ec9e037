/* Small helpers shared by libregistry: quoting untrusted text for messages,
 * reading user config files, wiping secrets. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/cleanup.h>

#include "registry_private.h"

void oreg_quote_n(char dst[OREG_QUOTE_BUF], const char *s, size_t n)
{
    oci_quote(dst, OREG_QUOTE_BUF, s, n, OREG_QUOTE_MAX);
}

void oreg_quote(char dst[OREG_QUOTE_BUF], const char *s)
{
    oreg_quote_n(dst, s, SIZE_MAX);
}

void oreg_wipe_free(void *p, size_t len)
{
    if (!p)
        return;
    if (len == (size_t)-1)
        len = strlen(p);
    explicit_bzero(p, len);
    free(p);
}

void oreg_ascii_lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

bool oreg_has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

int oreg_read_user_file(char **out, size_t *out_len, const char *path, size_t max,
                        struct oci_error **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        return oci_error_setsys(err, e == ENOENT ? OCI_ERR_NOT_FOUND : OCI_ERR_IO, e, "open `%s`",
                                path);
    }
    struct stat st;
    if (fstat(fd, &st) < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "stat `%s`", path);
    if (!S_ISREG(st.st_mode))
        return oci_error_set(err, OCI_ERR_INVALID, "`%s` is not a regular file", path);
    if ((unsigned long long)st.st_size > max)
        return oci_error_set(err, OCI_ERR_TOO_LARGE, "`%s` is %lld bytes, over the limit of %zu",
                             path, (long long)st.st_size, max);

    /* The size is a hint: grow as needed, never past max + 1 bytes, which is
     * enough to tell a file that grew over the cap. */
    size_t cap = (size_t)st.st_size + 1, len = 0;
    if (cap > max + 1)
        cap = max + 1;
    char *buf = malloc(cap + 1);
    if (!buf)
        return oci_error_set(err, OCI_ERR_NOMEM, "read `%s`: out of memory", path);
    for (;;) {
        if (len == cap) {
            if (cap > max)
                break;
            size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *nb = malloc(ncap + 1);
            if (!nb) {
                oreg_wipe_free(buf, len);
                return oci_error_set(err, OCI_ERR_NOMEM, "read `%s`: out of memory", path);
            }
            memcpy(nb, buf, len);
            oreg_wipe_free(buf, len);
            buf = nb;
            cap = ncap;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            oreg_wipe_free(buf, len);
            return oci_error_setsys(err, OCI_ERR_IO, e, "read `%s`", path);
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len > max) {
        oreg_wipe_free(buf, len);
        return oci_error_set(err, OCI_ERR_TOO_LARGE, "`%s` is over the limit of %zu bytes", path,
                             max);
    }
    buf[len] = '\0';
    *out = buf;
    if (out_len)
        *out_len = len;
    return 0;
}
