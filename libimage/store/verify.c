/* verify: an fsck of the layout.  Every blob reachable from index.json is
 * hashed once however often it is referenced, but every reference's
 * declared size is compared (two manifests may disagree about one config). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/cleanup.h>
#include <ociimg/json.h>
#include <ociimg/layout.h>

#include "store_private.h"

enum {
    CHK_MISSING = 1 << 0,
    CHK_BAD = 1 << 1, /* unreadable or wrong content */
};

struct verify_ctx {
    const struct oimg_layout *l;
    unsigned flags;
    struct oimg_verify_report *rep;
    struct store_dmap checked; /* digest -> actual size, CHK_* */
    bool nomem;
};

__attribute__((format(printf, 4, 0))) static void add_line(struct verify_ctx *c, char ***v,
                                                           size_t *n, const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    if (store_strv_push(v, n, s) < 0)
        c->nomem = true;
}

__attribute__((format(printf, 2, 3))) static void problem(struct verify_ctx *c, const char *fmt,
                                                          ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_line(c, &c->rep->problems, &c->rep->n_problems, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 2, 3))) static void warning(struct verify_ctx *c, const char *fmt,
                                                          ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (c->flags & OIMG_VERIFY_STRICT)
        add_line(c, &c->rep->problems, &c->rep->n_problems, fmt, ap);
    else
        add_line(c, &c->rep->warnings, &c->rep->n_warnings, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 2, 3))) static void note(struct verify_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_line(c, &c->rep->notes, &c->rep->n_notes, fmt, ap);
    va_end(ap);
}

static const char *blob_name(char *buf, size_t sz, const struct oimg_digest *d)
{
    snprintf(buf, sz, "blobs/%s/%s", oimg_digest_alg_name(d->alg), oimg_digest_encoded(d));
    return buf;
}

/* Hashes one blob: 0 ok, CHK_MISSING, or CHK_BAD (a problem is recorded).
 * from is NULL for a blob nothing references. */
static unsigned check_blob(struct verify_ctx *c, const struct oimg_digest *d, int64_t *size_out,
                           const char *from)
{
    char path[STORE_BLOB_PATH_MAX];
    blob_name(path, sizeof(path), d);
    struct stat st;
    _cleanup_error_ struct oci_error *e = NULL;
    _cleanup_close_ int fd = store_open_regular(&st, c->l->dirfd, path, &e);
    if (fd == -OCI_ERR_NOT_FOUND)
        return CHK_MISSING;
    char ctx[OIMG_DIGEST_MAX + 64] = "not referenced";
    if (from)
        snprintf(ctx, sizeof(ctx), "referenced from %s", from);
    if (fd < 0) {
        problem(c, "%s (%s)", e && e->msg ? e->msg : path, ctx);
        return CHK_BAD;
    }
    struct oimg_digest actual;
    unsigned long long n = 0;
    if (oimg_digest_fd(&actual, &n, d->alg, fd, &e) < 0) {
        problem(c, "%s: %s", path, e && e->msg ? e->msg : "cannot hash");
        return CHK_BAD;
    }
    c->rep->blobs_checked++;
    c->rep->bytes_checked += n;
    *size_out = (int64_t)n;
    if (!oimg_digest_equal(&actual, d)) {
        problem(c, "%s: content does not match its digest (it hashes to %s; %s)", path, actual.str,
                ctx);
        return CHK_BAD;
    }
    return 0;
}

static int visit(void *ud, const struct store_ref *ref, bool first, struct oci_error **err)
{
    struct verify_ctx *c = ud;
    if (!ref->digest_ok)
        return 0; /* the referring document's validation says why */
    char path[STORE_BLOB_PATH_MAX];
    if (ref->digest.alg == OIMG_DIGEST_UNKNOWN) {
        if (first)
            problem(c, "%s: cannot be verified, not a sha256 or sha512 digest (referenced from %s)",
                    ref->digest.str, ref->from);
        return 0;
    }
    blob_name(path, sizeof(path), &ref->digest);
    bool created = false;
    struct store_dmap_entry *e = store_dmap_put(&c->checked, ref->digest.str, &created);
    if (!e)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    if (created) {
        e->flags = check_blob(c, &ref->digest, &e->size, ref->from);
        if (e->flags & CHK_MISSING) {
            if (ref->has_urls)
                note(c, "%s: not present, a foreign layer (has urls): not checked", path);
            else
                problem(c, "%s: missing (referenced from %s)", path, ref->from);
        }
    }
    if (!(e->flags & (CHK_MISSING | CHK_BAD)) && ref->size >= 0 && ref->size != e->size)
        problem(c, "%s: size %lld, descriptor says %lld (referenced from %s)", path,
                (long long)e->size, (long long)ref->size, ref->from);
    if (e->flags)
        return 0;
    bool parent = ref->kind == STORE_REF_ROOT || ref->kind == STORE_REF_CHILD ||
                  ref->kind == STORE_REF_SUBJECT;
    return parent || (ref->kind == STORE_REF_CONFIG && store_mt_is_image_config(ref->media_type));
}

/* index.json's findings are problems; a blob's are warnings unless STRICT. */
static void validate(struct verify_ctx *c, const char *what, enum oimg_doc_type type,
                     const char *buf, size_t len, bool always_problem)
{
    struct oimg_problems p = {0};
    _cleanup_error_ struct oci_error *e = NULL;
    if (oimg_validate_document(&p, type, buf, len, &e) < 0)
        problem(c, "%s: cannot validate: %s", what, e && e->msg ? e->msg : "unknown error");
    for (size_t i = 0; i < p.n; i++) {
        if (always_problem)
            problem(c, "%s: %s", what, p.lines[i]);
        else
            warning(c, "%s: %s", what, p.lines[i]);
    }
    oimg_problems_clear(&p);
}

static const char *type_name(enum oimg_doc_type t)
{
    return t == OIMG_DOC_INDEX ? "index" : t == OIMG_DOC_MANIFEST ? "manifest" : "config";
}

static const char *article(enum oimg_doc_type t)
{
    return t == OIMG_DOC_INDEX ? "an" : "a";
}

static int document(void *ud, const struct store_ref *ref, const char *buf, size_t len,
                    json_object *doc, struct oci_error **err)
{
    struct verify_ctx *c = ud;
    char path[STORE_BLOB_PATH_MAX], what[STORE_BLOB_PATH_MAX + 64];
    blob_name(path, sizeof(path), &ref->digest);
    enum oimg_doc_type want = OIMG_DOC_UNKNOWN, have = OIMG_DOC_UNKNOWN;
    if (ref->kind == STORE_REF_CONFIG)
        want = OIMG_DOC_CONFIG;
    else if (ref->media_type && oimg_media_type_is_manifest(ref->media_type))
        want = OIMG_DOC_MANIFEST;
    else if (ref->media_type && oimg_media_type_is_index(ref->media_type))
        want = OIMG_DOC_INDEX;
    if (!doc && want != OIMG_DOC_UNKNOWN) {
        problem(c, "%s: not a JSON object, but its descriptor says %s (referenced from %s)", path,
                ref->media_type, ref->from);
        return 0;
    }
    if (want != OIMG_DOC_CONFIG) {
        _cleanup_error_ struct oci_error *e = NULL;
        if (oimg_doc_detect(&have, buf, len, &e) < 0)
            have = OIMG_DOC_UNKNOWN;
        if (have != OIMG_DOC_MANIFEST && have != OIMG_DOC_INDEX)
            have = OIMG_DOC_UNKNOWN;
        /* An entry whose mediaType is something else: nothing to validate
         * unless it turns out to be a manifest or index. */
        if (want == OIMG_DOC_UNKNOWN && have == OIMG_DOC_UNKNOWN)
            return 0;
        if (want != OIMG_DOC_UNKNOWN && have != OIMG_DOC_UNKNOWN && want != have)
            problem(c, "%s: descriptor says %s but the blob is %s %s (referenced from %s)", path,
                    ref->media_type, article(have), type_name(have), ref->from);
    }
    enum oimg_doc_type type = have != OIMG_DOC_UNKNOWN ? have : want;
    snprintf(what, sizeof(what), "%s (%s)", path, type_name(type));
    validate(c, what, type, buf, len, false);
    return 0;
}

static int unreadable(void *ud, const struct store_ref *ref, const char *why,
                      struct oci_error **err)
{
    struct verify_ctx *c = ud;
    problem(c, "%s (referenced from %s)", why, ref->from);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in an open directory (without . and ..), bounded. */
static int list_dir(char ***out, size_t *n_out, int dirfd, const char *shown,
                    struct oci_error **err)
{
    int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "open %s", shown);
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return oci_error_setsys(err, OCI_ERR_IO, errno, "open %s", shown);
    }
    rewinddir(d);
    _cleanup_strv_ char **v = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n >= STORE_DIR_MAX_ENTRIES || store_strv_push(&v, &n, strdup(de->d_name)) < 0) {
            closedir(d);
            return oci_error_set(err, OCI_ERR_TOO_LARGE, "%s: too many entries", shown);
        }
    }
    closedir(d);
    if (n)
        qsort(v, n, sizeof(*v), cmp_str);
    *out = TAKE_PTR(v);
    *n_out = n;
    return 0;
}

static void scan_alg_dir(struct verify_ctx *c, int afd, const char *alg)
{
    char dir[64];
    snprintf(dir, sizeof(dir), "blobs/%s", alg);
    _cleanup_strv_ char **names = NULL;
    size_t n = 0;
    _cleanup_error_ struct oci_error *e = NULL;
    if (list_dir(&names, &n, afd, dir, &e) < 0) {
        problem(c, "%s", e->msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char path[STORE_BLOB_PATH_MAX + 256];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        struct oimg_digest d;
        if (!store_digest_from_name(&d, alg, names[i])) {
            problem(c, "%s: not a valid %s digest, does not belong in blobs/", path, alg);
            continue;
        }
        struct stat st;
        if (fstatat(afd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode)) {
            if (!store_dmap_get(&c->checked, d.str))
                problem(c, "%s: not a regular file", path);
            continue;
        }
        if (!(c->flags & OIMG_VERIFY_ALL) || store_dmap_get(&c->checked, d.str))
            continue;
        int64_t size = 0;
        check_blob(c, &d, &size, NULL); /* CHK_MISSING: removed while we looked */
    }
}

/* blobs/ and blobs/<alg>/ opened without following symlinks: names are
 * only ever listed inside the layout. */
static void scan_blobs(struct verify_ctx *c)
{
    _cleanup_close_ int bfd =
        openat(c->l->dirfd, "blobs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (bfd < 0) {
        problem(c, errno == ENOENT ? "blobs/: missing directory" : "blobs/: not a directory");
        return;
    }
    _cleanup_strv_ char **algs = NULL;
    size_t n = 0;
    _cleanup_error_ struct oci_error *e = NULL;
    if (list_dir(&algs, &n, bfd, "blobs", &e) < 0) {
        problem(c, "%s", e->msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof(path), "blobs/%s", algs[i]);
        _cleanup_close_ int afd =
            openat(bfd, algs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (afd < 0) {
            problem(c, "%s: not a directory, does not belong in blobs/", path);
            continue;
        }
        if (strcmp(algs[i], "sha256") == 0 || strcmp(algs[i], "sha512") == 0)
            scan_alg_dir(c, afd, algs[i]);
        else
            note(c, "%s/: unknown digest algorithm, not checked", path);
    }
}

static void check_index_json(struct verify_ctx *c, json_object **root)
{
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    _cleanup_error_ struct oci_error *e = NULL;
    if (store_read_index_raw(&buf, &len, c->l, &e) < 0) {
        problem(c, "%s", e->msg);
        return;
    }
    size_t before = c->rep->n_problems;
    validate(c, "index.json", OIMG_DOC_INDEX, buf, len, true);
    if (store_parse_index_json(root, buf, len, &e) < 0) {
        if (c->rep->n_problems == before)
            problem(c, "%s", e->msg);
        return;
    }
    /* "manifests": [] is a new or emptied layout, which is valid (a pull that
     * failed into a fresh directory leaves one); null or absent is not. */
    json_object *m = json_object_object_get(*root, "manifests");
    if (!json_object_is_type(m, json_type_array)) {
        if (c->rep->n_problems == before)
            problem(c, "index.json lists no manifests (\"manifests\" is %s)",
                    m ? "not an array" : "null or missing");
    } else if (json_object_array_length(m) == 0) {
        note(c, "index.json lists no manifests (an empty layout)");
    }
}

void oimg_verify_report_clear(struct oimg_verify_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_problems; i++)
        free(r->problems[i]);
    free(r->problems);
    for (size_t i = 0; i < r->n_notes; i++)
        free(r->notes[i]);
    free(r->notes);
    for (size_t i = 0; i < r->n_warnings; i++)
        free(r->warnings[i]);
    free(r->warnings);
    memset(r, 0, sizeof(*r));
}

int oimg_layout_verify(struct oimg_verify_report *report, const struct oimg_layout *l,
                       unsigned flags, struct oci_error **err)
{
    struct oimg_verify_report rep = {0};
    struct verify_ctx c = {.l = l, .flags = flags, .rep = &rep};
    static const struct store_walk_ops ops = {
        .visit = visit,
        .document = document,
        .unreadable = unreadable,
        .follow_subjects = false,
    };
    _cleanup_json_ json_object *root = NULL;
    int r = 0;
    check_index_json(&c, &root);
    if (root) {
        struct store_walker w;
        store_walker_init(&w, l, &ops, &c);
        r = store_walk_index_json(&w, root, err);
        store_walker_clear(&w);
    }
    if (r >= 0)
        scan_blobs(&c);
    store_dmap_clear(&c.checked);
    if (r >= 0 && c.nomem)
        r = oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    if (r < 0) {
        oimg_verify_report_clear(&rep);
        return store_wrap(r, err, "verify `%s`", l->path);
    }
    *report = rep;
    return 0;
}
