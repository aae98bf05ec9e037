/* Helpers for the bundle tests: temp trees, files written into them, image
 * configs parsed from JSON, and warnings collected in memory. */
#ifndef OCIIMG_BUNDLE_T_H
#define OCIIMG_BUNDLE_T_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>
#include <zlib.h>

#include <ociimg/bundle.h>
#include <ociimg/digest.h>
#include <ociimg/model.h>

#include "t.h"

static inline char *bt_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *bt_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    return s;
}

static inline char *bt_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char *p = bt_fmt("%s/ociimg-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(p)) {
        perror("mkdtemp");
        exit(1);
    }
    return p;
}

static int bt_rm_one(const char *p, const struct stat *st, int type, struct FTW *f)
{
    (void)st;
    (void)f;
    if (type == FTW_DP || type == FTW_D)
        chmod(p, 0700);
    remove(p);
    return 0;
}

static inline void bt_rm_rf(const char *path)
{
    if (!path || !*path || strcmp(path, "/") == 0)
        return;
    char *cmd = bt_fmt("chmod -R u+rwX '%s' 2>/dev/null; rm -rf '%s'", path, path);
    if (system(cmd) != 0)
        nftw(path, bt_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(cmd);
}

/* Writes dir/rel (creating parent directories). */
static inline void bt_write(const char *dir, const char *rel, const char *content)
{
    char *p = bt_fmt("%s/%s", dir, rel);
    for (char *s = p + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        mkdir(p, 0755);
        *s = '/';
    }
    int fd = open(p, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content)) {
        perror(p);
        exit(1);
    }
    close(fd);
    free(p);
}

static inline int bt_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int bt_sh(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = NULL;
    if (vasprintf(&cmd, fmt, ap) < 0)
        abort();
    va_end(ap);
    int st = system(cmd);
    free(cmd);
    return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

/* Bytes in memory (exits when out of it). */
struct bt_buf {
    unsigned char *p;
    size_t n;
};

/* The tree at dir as a tar, made by our own writer. */
static inline struct bt_buf bt_tar_of(const char *dir)
{
    int mfd = memfd_create("tar", MFD_CLOEXEC);
    int rfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct oci_error *e = NULL;
    if (oimg_export_tar(rfd, mfd, false, NULL, NULL, &e) < 0) {
        fprintf(stderr, "tar %s: %s\n", dir, e ? e->msg : "?");
        exit(1);
    }
    struct bt_buf b;
    b.n = (size_t)lseek(mfd, 0, SEEK_END);
    b.p = malloc(b.n);
    if (!b.p || pread(mfd, b.p, b.n, 0) != (ssize_t)b.n)
        exit(1);
    close(mfd);
    close(rfd);
    return b;
}

static inline struct bt_buf bt_gzip_of(struct bt_buf in, int level)
{
    z_stream z = {0};
    if (deflateInit2(&z, level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        exit(1);
    struct bt_buf out;
    size_t cap = deflateBound(&z, in.n) + 64;
    out.p = malloc(cap);
    z.next_in = in.p;
    z.avail_in = (uInt)in.n;
    z.next_out = out.p;
    z.avail_out = (uInt)cap;
    if (!out.p || deflate(&z, Z_FINISH) != Z_STREAM_END)
        exit(1);
    out.n = z.total_out;
    deflateEnd(&z);
    return out;
}

static inline struct oimg_digest bt_sha(struct bt_buf b)
{
    struct oimg_digest d;
    if (oimg_digest_buffer(&d, OIMG_DIGEST_SHA256, b.p, b.n, NULL) < 0)
        exit(1);
    return d;
}

/* An image config from JSON text (exits if it does not parse). */
static inline struct oimg_image_config *bt_config(const char *json)
{
    struct oimg_image_config *c = NULL;
    struct oci_error *e = NULL;
    if (oimg_config_parse(&c, json, strlen(json), &e) < 0) {
        fprintf(stderr, "config parse: %s\n  %s\n", e ? e->msg : "?", json);
        exit(1);
    }
    return c;
}

/* Warnings collected by a callback. */
struct bt_warnings {
    char *lines[64];
    size_t n;
};

static inline void bt_warn(void *ctx, const char *msg)
{
    struct bt_warnings *w = ctx;
    if (w->n < 64)
        w->lines[w->n++] = strdup(msg);
}

static inline bool bt_warned(const struct bt_warnings *w, const char *needle)
{
    for (size_t i = 0; i < w->n; i++)
        if (strstr(w->lines[i], needle))
            return true;
    return false;
}

static inline void bt_warnings_clear(struct bt_warnings *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->lines[i]);
    w->n = 0;
}

static inline bool bt_err_has(struct oci_error *e, const char *needle)
{
    bool ok = e && e->msg && strstr(e->msg, needle);
    if (!ok)
        fprintf(stderr, "    error `%s` lacks `%s`\n", e && e->msg ? e->msg : "(none)", needle);
    return ok;
}

#endif
