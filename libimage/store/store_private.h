/* Internals shared by the layout store's source files. */
#ifndef OCIIMG_STORE_PRIVATE_H
#define OCIIMG_STORE_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include <ociimg/layout.h>

/* Our bookkeeping inside the layout, created on the first write:
 *   .ociimg/lock     flock LOCK_EX around every index.json read-modify-write
 *                    and around gc.
 *   .ociimg/writers  every handle that has started writing a blob holds
 *                    LOCK_SH on it until it is freed (a committed blob is
 *                    unreferenced until the writer tags it); gc runs only
 *                    when it gets LOCK_EX, so it never sweeps a blob that a
 *                    live writer is about to reference.
 *   .ociimg/tmp/     temp files of blob writers (same filesystem as blobs/,
 *                    so commit is a rename).  A writer holds LOCK_SH on its
 *                    temp file; gc removes only temp files it can lock
 *                    exclusively and that are older than an hour.
 *   .ociimg/partial/ resumable downloads, one file per blob named
 *                    "<alg>-<hex>" (from a validated digest), kept across
 *                    runs so an interrupted pull continues where it
 *                    stopped.  Its writer holds LOCK_EX on the file; gc
 *                    removes only unlocked ones older than a day. */
#define STORE_STATE_DIR ".ociimg"
#define STORE_LOCK_NAME "lock"
#define STORE_PIN_NAME "writers"
#define STORE_TMP_NAME "tmp"
#define STORE_TMP_STALE_SECS 3600
#define STORE_PARTIAL_NAME "partial"
#define STORE_PARTIAL_STALE_SECS (24 * 3600)

#define STORE_INDEX_MAX OIMG_MAX_MANIFEST_SIZE
/* Longest "blobs/<alg>/<hex>" we ever form. */
#define STORE_BLOB_PATH_MAX (OIMG_DIGEST_MAX + 16)
/* Bounds for walks over untrusted content. */
#define STORE_WALK_MAX_DEPTH 16
#define STORE_WALK_MAX_REFS (1u << 20)
#define STORE_DIR_MAX_ENTRIES (1u << 24)

struct oimg_layout {
    char *path;
    int dirfd; /* O_DIRECTORY, the root of every access */
    unsigned flags;
    int statefd; /* .ociimg, -1 until needed */
    int tmpfd;   /* .ociimg/tmp, -1 until needed */
    int pinfd;   /* .ociimg/writers held LOCK_SH, -1 if not pinned */
};

/* ---- layout.c ---- */
int store_require_writable(const struct oimg_layout *l, const char *what, struct oci_error **err);
/* Borrowed fds of .ociimg and .ociimg/tmp, created on first use. */
int store_state_dir(struct oimg_layout *l, struct oci_error **err);
int store_tmp_dir(struct oimg_layout *l, struct oci_error **err);
/* Takes the exclusive layout lock; close the returned fd to release it. */
int store_lock(struct oimg_layout *l, struct oci_error **err);
/* Opens (creating) a file in .ociimg. */
int store_open_state_file(struct oimg_layout *l, const char *name, struct oci_error **err);
/* Takes this handle's shared writers pin (idempotent). */
int store_pin(struct oimg_layout *l, struct oci_error **err);
void store_unpin(struct oimg_layout *l);

/* ---- blob.c ---- */
/* "blobs/<alg>/<hex>" after re-validating d->str strictly (the struct may
 * have been filled by hand); valid_out (optional) gets the parsed digest. */
int store_blob_path(char *buf, size_t bufsz, const struct oimg_digest *d,
                    struct oimg_digest *valid_out, struct oci_error **err);

/* ---- util.c ---- */
/* oci_error_wrap that keeps r (also when err is NULL). */
int store_wrap(int r, struct oci_error **err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#if defined(__clang_analyzer__) && !defined(OCIIMG_STORE_UTIL_IMPL)
/* For clang-tidy, which cannot see into util.c: the result is r itself. */
#define store_wrap(r, ...)                                                                         \
    __extension__({                                                                                \
        int store_r_ = (r);                                                                        \
        (void)store_wrap(store_r_, __VA_ARGS__);                                                   \
        store_r_;                                                                                  \
    })
#endif
/* openat beneath dirfd: no ".." or absolute symlink escapes, last component
 * never followed.  Returns an fd or -errno. */
int store_open_beneath(int dirfd, const char *path, int flags);
/* Opens a regular file beneath dirfd for reading (never a symlink, FIFO
 * or device); *st gets its stat.  -NOT_FOUND if absent. */
int store_open_regular(struct stat *st, int dirfd, const char *path, struct oci_error **err);
/* Reads exactly size bytes (NUL-terminated copy in *out). */
int store_read_fd(char **out, int fd, size_t size, const char *shown, struct oci_error **err);
/* Renames from into to unless to exists: 0 published, 1 already there (the
 * temp file is then removed), negative on error. */
int store_publish(int fromdir, const char *from, int todir, const char *to, struct oci_error **err);
/* Reads a blob without checking its digest (capped at max).  -NOT_FOUND if
 * absent. */
int store_read_blob_raw(char **out, size_t *out_len, const struct oimg_layout *l,
                        const struct oimg_digest *d, size_t max, struct oci_error **err);
/* Raw index.json, capped. */
int store_read_index_raw(char **out, size_t *out_len, const struct oimg_layout *l,
                         struct oci_error **err);
bool store_mt_is_image_config(const char *mt);
/* The digest a file blobs/<alg>/<name> stands for, if its name is valid. */
bool store_digest_from_name(struct oimg_digest *out, const char *alg, const char *name);
/* A strict digest from a descriptor's JSON, or false. */
bool store_json_digest(struct oimg_digest *out, json_object *desc);

/* ---- dmap.c: digest string -> small record ---- */
struct store_dmap_entry {
    char *key;
    int64_t size;
    unsigned flags;
};
struct store_dmap {
    struct store_dmap_entry *slots;
    size_t cap, n;
};
struct store_dmap_entry *store_dmap_get(const struct store_dmap *m, const char *key);
/* Finds or adds key; *created tells which.  NULL on out-of-memory. */
struct store_dmap_entry *store_dmap_put(struct store_dmap *m, const char *key, bool *created);
void store_dmap_clear(struct store_dmap *m);

/* ---- walk.c: everything reachable from index.json ---- */
enum store_ref_kind {
    STORE_REF_ROOT,    /* an index.json entry */
    STORE_REF_CHILD,   /* an entry of a nested index */
    STORE_REF_CONFIG,  /* a manifest's config */
    STORE_REF_LAYER,   /* a manifest's layers[] (or blobs[]) entry */
    STORE_REF_SUBJECT, /* a manifest's or index's subject */
};

struct store_ref {
    enum store_ref_kind kind;
    json_object *obj;          /* the descriptor as written */
    struct oimg_digest digest; /* alg UNKNOWN if not one we can verify */
    bool digest_ok;            /* false: missing or not even grammatical */
    int64_t size;              /* -1 if absent/invalid */
    const char *media_type;    /* NULL if absent */
    bool has_urls;
    const char *from; /* "index.json", "index sha256:...", "manifest sha256:..." */
    int depth;
};

struct store_walk_ops {
    /* Called for every reference, first tells whether its digest was seen
     * before in this walk.  Return > 0 to have the blob read and passed to
     * document() (the walker does that once per digest and role: as an
     * index.json/index entry or subject, whose children are then walked,
     * or as a config), 0 to skip, < 0 abort. */
    int (*visit)(void *ud, const struct store_ref *ref, bool first, struct oci_error **err);
    /* A blob read on visit's request.  doc is its JSON (NULL if it is not
     * JSON); children of manifests and indexes are walked after this
     * returns.  Optional; < 0 aborts. */
    int (*document)(void *ud, const struct store_ref *ref, const char *buf, size_t len,
                    json_object *doc, struct oci_error **err);
    /* A blob that its descriptor says is a manifest or index could not be
     * read or parsed (why is one line).  Optional; < 0 aborts. */
    int (*unreadable)(void *ud, const struct store_ref *ref, const char *why,
                      struct oci_error **err);
    bool follow_subjects;
};

struct store_walker {
    const struct oimg_layout *l;
    const struct store_walk_ops *ops;
    void *ud;
    struct store_dmap seen;
    size_t n_refs;
};
void store_walker_init(struct store_walker *w, const struct oimg_layout *l,
                       const struct store_walk_ops *ops, void *ud);
void store_walker_clear(struct store_walker *w);
/* Walks one descriptor (and, recursively, what it references). */
int store_walk_desc(struct store_walker *w, json_object *desc, enum store_ref_kind kind,
                    const char *from, int depth, struct oci_error **err);
/* Walks every entry of index.json's manifests[] (root is the parsed
 * index.json). */
int store_walk_index_json(struct store_walker *w, json_object *root, struct oci_error **err);
/* Parses index.json into a JSON tree (capped; manifests[] must be an
 * array).  index.c. */
int store_parse_index_json(json_object **out, const char *buf, size_t len, struct oci_error **err);
int store_load_index_json(json_object **out, const struct oimg_layout *l, struct oci_error **err);

/* ---- index.c ---- */
/* ref.name grammar of the image-layout spec. */
bool store_ref_name_valid(const char *name);

/* ---- problem lists (verify.c) ---- */
int store_strv_push(char ***v, size_t *n, char *s);

#endif
