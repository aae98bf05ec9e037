/* Helpers shared by the layer applier tests: generating the test layers with
 * testdata/layers/gen.py, applying a case's layers, and running
 * tests/lib/treecmp.py. */
#ifndef OCIIMG_TEST_APPLY_UTIL_H
#define OCIIMG_TEST_APPLY_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include <ociimg/apply.h>
#include <ociimg/error.h>

#define PYTHON "/usr/bin/python3"

/* snprintf for paths: a test path that does not fit is a test bug. */
static inline void __attribute__((format(printf, 3, 4)))
xsnprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size)
        abort();
}

static inline const char *srcdir(void)
{
    const char *s = getenv("OCIIMG_SRCDIR");
    return s ? s : ".";
}

/* Runs a shell command built from fmt; returns its exit status (or -1). */
static inline int __attribute__((format(printf, 1, 2))) run(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int st = system(cmd);
    if (st == -1 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static inline bool have_python(void)
{
    return access(PYTHON, X_OK) == 0;
}

/* A fresh temp directory; the caller removes it. */
static inline char *make_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char *p;
    if (asprintf(&p, "%s/ociimg-%s-XXXXXX", base && *base ? base : "/tmp", tag) < 0)
        return NULL;
    if (!mkdtemp(p)) {
        free(p);
        return NULL;
    }
    return p;
}

static inline void rm_rf(const char *path)
{
    if (path && *path && strcmp(path, "/") != 0)
        run("rm -rf '%s'", path);
}

/* gen.py OUT; returns the parsed manifest or NULL. */
static inline json_object *gen_layers(const char *out)
{
    if (run(PYTHON " '%s/testdata/layers/gen.py' '%s'", srcdir(), out) != 0)
        return NULL;
    char path[4096];
    xsnprintf(path, sizeof(path), "%s/manifest.json", out);
    return json_object_from_file(path);
}

static inline const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
        return NULL;
    return json_object_get_string(v);
}

static inline void warn_print(void *ctx, const char *msg)
{
    int *count = ctx;
    if (count)
        (*count)++;
    if (getenv("OCIIMG_TEST_VERBOSE"))
        fprintf(stderr, "    warning: %s\n", msg);
}

static inline void opts_from_json(struct oimg_apply_opts *o, json_object *j, int *warnings)
{
    oimg_apply_opts_init(o);
    o->no_sync = true;
    o->warn = warn_print;
    o->warn_ctx = warnings;
    json_object *v;
    if (json_object_object_get_ex(j, "rootless", &v))
        o->rootless = json_object_get_boolean(v);
    if (json_object_object_get_ex(j, "max_pax_header", &v))
        o->max_pax_header = (size_t)json_object_get_int64(v);
    if (json_object_object_get_ex(j, "max_entries", &v))
        o->max_entries = (uint64_t)json_object_get_int64(v);
}

/* Applies every layer of a manifest case into rootdir and finishes.  Returns
 * 0, or the negative error code of the first failure (message in *msg). */
static inline int apply_case(const char *gendir, json_object *c, const char *rootdir,
                             const struct oimg_apply_opts *opts, char **msg)
{
    struct oci_error *err = NULL;
    struct oimg_applier *a = NULL;
    int rootfd = open(rootdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r = rootfd < 0 ? -OCI_ERR_IO : oimg_applier_new(&a, rootfd, opts, &err);
    json_object *layers = NULL;
    json_object_object_get_ex(c, "layers", &layers);
    for (size_t i = 0; r >= 0 && i < json_object_array_length(layers); i++) {
        json_object *l = json_object_array_get_idx(layers, i);
        char path[4096];
        xsnprintf(path, sizeof(path), "%s/%s", gendir, jstr(l, "file"));
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            r = -OCI_ERR_IO;
            break;
        }
        r = oimg_applier_apply_fd(a, jstr(l, "media_type"), fd, NULL, NULL, &err);
        close(fd);
    }
    if (r >= 0 && a)
        r = oimg_applier_finish(a, &err);
    if (msg)
        *msg = strdup(err && err->msg ? err->msg : "");
    oci_error_free(err);
    oimg_applier_free(a);
    if (rootfd >= 0)
        close(rootfd);
    return r;
}

/* treecmp.py --spec SPEC ROOT; 0 when equal. */
static inline int treecmp_spec(const char *spec, const char *root)
{
    return run(PYTHON " '%s/tests/lib/treecmp.py' --spec '%s' '%s'", srcdir(), spec, root);
}

/* A blob in memory, handed out at most chunk bytes at a time (0: any), failing
 * once fail_at bytes were read (0: never). */
struct mem_reader {
    const unsigned char *p;
    size_t len, pos, chunk;
    size_t fail_at; /* 0 = never */
};

static inline ssize_t mem_read(void *ctx, void *buf, size_t len, struct oci_error **err)
{
    struct mem_reader *m = ctx;
    if (m->fail_at && m->pos >= m->fail_at)
        return oci_error_set(err, OCI_ERR_NETWORK, "connection reset by test");
    size_t n = m->len - m->pos;
    if (n > len)
        n = len;
    if (m->chunk && n > m->chunk)
        n = m->chunk;
    memcpy(buf, m->p + m->pos, n);
    m->pos += n;
    return (ssize_t)n;
}

#endif
