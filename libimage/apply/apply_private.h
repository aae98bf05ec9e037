/* Internals shared by the files of libimage/apply. */
#ifndef OCIIMG_APPLY_PRIVATE_H
#define OCIIMG_APPLY_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <ociimg/apply.h>
#include <ociimg/digest.h>
#include <ociimg/error.h>

struct archive;
struct archive_entry;

/* ---- the uncompressed tar stream (stream.c) ---- */

struct layer_stream;

/* Starts reading r: checks the magic against `compression` (-1 = detect),
 * decompresses, hashes with `alg`, counts bytes into *total (shared by all
 * layers) against max_total.  May run the decompressor on a second thread. */
int stream_open(struct layer_stream **out, struct oimg_reader *r, int compression,
                enum oimg_digest_alg alg, uint64_t *total, uint64_t max_total,
                struct oci_error **err);
/* Next block of tar bytes: > 0 with *buf set, 0 at the end, < 0 on error.
 * The block stays valid until the next call. */
ssize_t stream_next(struct layer_stream *s, const void **buf, struct oci_error **err);
/* Reads (and hashes) whatever is left after the tar end marker. */
int stream_drain(struct layer_stream *s, struct oci_error **err);
/* After the end: the digest and byte counts. */
void stream_result(struct layer_stream *s, struct oimg_digest *d, uint64_t *compressed,
                   uint64_t *uncompressed);
void stream_free(struct layer_stream *s);

/* ---- gzip members (gzip.c): ISA-L when built in, else zlib ---- */

struct gz_dec;
int gz_dec_new(struct gz_dec **out, struct oci_error **err);
void gz_dec_free(struct gz_dec *g);
/* Ready for the next member. */
int gz_dec_reset(struct gz_dec *g, struct oci_error **err);
/* Inflates from *in into *out, advancing both and shrinking the lengths.
 * Returns 1 when the member ended (header, CRC-32 and ISIZE verified; *in
 * points just past it), 0 when it needs more input or output space, < 0 on
 * corrupt data.  Bytes can be consumed without output and vice versa. */
int gz_dec_run(struct gz_dec *g, const uint8_t **in, size_t *in_len, uint8_t **out, size_t *out_len,
               struct oci_error **err);

/* ---- sets and maps (tables.c) ---- */

/* Directory entries (parent dir inode + name) created by the current layer:
 * whiteouts only remove what lower layers made. */
struct keyset;
int keyset_new(struct keyset **out);
void keyset_clear(struct keyset *ks);
void keyset_free(struct keyset *ks);
int keyset_add(struct keyset *ks, dev_t dev, ino_t dir, const char *name);
bool keyset_has(const struct keyset *ks, dev_t dev, ino_t dir, const char *name);
size_t keyset_count(const struct keyset *ks);

/* Directories whose mtime (and, rootless, mode) finish() restores. */
struct dirrec {
    dev_t dev;
    ino_t ino;
    char *path; /* cleaned path inside the root; "" = the root */
    struct timespec mtime;
    mode_t mode; /* permission bits incl. setuid/setgid/sticky */
    unsigned depth;
};
struct dirmap;
int dirmap_new(struct dirmap **out);
void dirmap_free(struct dirmap *m);
/* Adds or updates the record of (dev, ino). */
int dirmap_put(struct dirmap *m, dev_t dev, ino_t ino, const char *path, struct timespec mtime,
               mode_t mode);
/* The records, deepest first (so a restrictive parent mode comes last). */
struct dirrec **dirmap_sorted(struct dirmap *m, size_t *n);

/* ---- the applier ---- */

struct oimg_applier {
    int rootfd;
    dev_t root_dev;
    ino_t root_ino;
    struct oimg_apply_opts opts; /* limits resolved, maps owned */
    bool failed;
    bool finished;
    uint64_t total_bytes;

    struct keyset *created; /* this layer's directory entries */
    struct dirmap *dirs;

    /* The parent directory of the last entry (tar entries cluster by
     * directory).  Dropped whenever anything is removed. */
    char *cache_path;
    int cache_fd;
    dev_t cache_dev;
    ino_t cache_ino;

    struct oimg_apply_stats *st;
};

void apply_warn(struct oimg_applier *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* path.c */
/* Cleans a tar name lexically: no leading "/", no "." or empty parts, ".."
 * clamped at the root.  Returns the clean relative path ("" = root) in a
 * malloc'd string, or an error (too long, bad component). */
int path_clean(char **out, const char *name, size_t max_path, struct oci_error **err);
/* Splits a clean path into parent and base (in place: path[sep] = 0).
 * Returns the base; *parent is path itself or "" for top-level names. */
const char *path_split(char *path, const char **parent);
/* An O_PATH directory fd of `parent` (a clean path) inside the root, created
 * (mode 0755, owned by container root) where missing.  The fd belongs to the
 * cache: do not close it.  dev and ino identify the directory. */
int path_parent(struct oimg_applier *a, const char *parent, int *fd, dev_t *dev, ino_t *ino,
                struct oci_error **err);
/* Like path_parent; with create false a missing parent returns 0 (and no
 * fd) instead of being created.  Returns 1 with the fd otherwise. */
int path_parent_ex(struct oimg_applier *a, const char *parent, bool create, int *fd, dev_t *dev,
                   ino_t *ino, struct oci_error **err);
void path_cache_drop(struct oimg_applier *a);

/* meta.c */
/* The object metadata is applied to: an open fd (files, directories) or
 * dirfd + name for objects that must not be opened (symlinks, devices). */
struct meta_target {
    int fd;
    int dirfd;
    const char *name;
    const char *path; /* for messages */
    mode_t type;      /* AE_IF* */
    bool merged;      /* a directory entry over an existing directory */
};
int meta_apply(struct oimg_applier *a, const struct meta_target *t, struct archive_entry *e,
               struct oci_error **err);

/* entry.c */
/* Applies one tar entry (not a whiteout). */
int entry_apply(struct oimg_applier *a, struct archive *ar, struct archive_entry *e,
                const char *clean, struct oci_error **err);
/* Owner for chown: the container id mapped to the host; error if unmapped. */
int map_id(const struct oimg_idmap *map, size_t n, uint32_t id, uint32_t *out);

/* whiteout.c */
/* Handles a `.wh.` entry (clean path); returns 1 if it was one, 0 if not. */
int whiteout_apply(struct oimg_applier *a, const char *clean, struct oci_error **err);
/* Removes dirfd/name and everything below it, never following symlinks nor
 * crossing into another filesystem.  keep: entries of the current layer
 * survive (and their parent directories with them). */
int tree_remove(struct oimg_applier *a, int dirfd, const char *name, bool keep,
                struct oci_error **err);
/* Removes every lower-layer object below the directory dirfd. */
int tree_remove_lower_children(struct oimg_applier *a, int dirfd, struct oci_error **err);

#endif
