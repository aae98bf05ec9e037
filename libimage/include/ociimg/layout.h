/* The OCI image layout store (image-spec image-layout.md).
 *
 * DIR/oci-layout, DIR/index.json, DIR/blobs/<alg>/<encoded>.  Our own
 * bookkeeping lives in DIR/.ociimg/: `lock` (flock, serialises index.json
 * read-modify-write and gc), `tmp/` (temp files, renamed into blobs/ when
 * complete and verified) and `partial/` (resumable downloads, likewise).  Nothing appears under
 * blobs/ or as index.json except by rename of a complete, fsynced, verified temp file. */
#ifndef OCIIMG_LAYOUT_H
#define OCIIMG_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "digest.h"
#include "error.h"
#include "model.h"

struct oimg_layout;

enum {
    OIMG_LAYOUT_CREATE = 1 << 0,   /* create DIR and an empty layout if missing */
    OIMG_LAYOUT_READONLY = 1 << 1, /* never write (no lock file, no tmp dir) */
};

int oimg_layout_open(struct oimg_layout **out, const char *path, unsigned flags,
                     struct oci_error **err);
void oimg_layout_free(struct oimg_layout *l);
const char *oimg_layout_path(const struct oimg_layout *l);
int oimg_layout_dirfd(const struct oimg_layout *l);

/* ---- blobs ---- */

/* 1 if present, 0 if not, negative on error.  *size_out (optional) gets the
 * file size. */
int oimg_layout_blob_stat(const struct oimg_layout *l, const struct oimg_digest *d,
                          int64_t *size_out, struct oci_error **err);
/* Opens a blob for reading (O_RDONLY|O_CLOEXEC|O_NOFOLLOW); returns an fd. */
int oimg_layout_blob_open(const struct oimg_layout *l, const struct oimg_digest *d,
                          struct oci_error **err);
/* The file a resumable download of d is being written into (see
 * oimg_layout_blob_begin_resume), read-only, or -OCI_ERR_NOT_FOUND.  Its
 * bytes are unverified until the blob is committed, by rename: an fd opened
 * before stays on the same file, which then holds the whole blob. */
int oimg_layout_blob_open_partial(const struct oimg_layout *l, const struct oimg_digest *d,
                                  struct oci_error **err);
/* Reads a whole blob (at most max bytes) and verifies its digest and, if
 * expected_size >= 0, its size. */
int oimg_layout_blob_read(char **out, size_t *out_len, const struct oimg_layout *l,
                          const struct oimg_digest *d, int64_t expected_size, size_t max,
                          struct oci_error **err);

/* Streaming writer: bytes go into a temp file while being hashed; commit
 * checks the expected digest/size (when given), fsyncs and renames into
 * blobs/.  An existing blob is never rewritten (commit then just discards
 * the temp file).  Freeing an uncommitted writer removes its temp file. */
struct oimg_blob_writer;
int oimg_layout_blob_begin(struct oimg_blob_writer **out, struct oimg_layout *l,
                           const struct oimg_digest *expected, int64_t expected_size,
                           struct oci_error **err);
int oimg_blob_writer_write(struct oimg_blob_writer *w, const void *buf, size_t len,
                           struct oci_error **err);
/* Bytes written so far. */
uint64_t oimg_blob_writer_size(const struct oimg_blob_writer *w);
int oimg_blob_writer_commit(struct oimg_blob_writer *w, struct oimg_digest *out,
                            struct oci_error **err);
void oimg_blob_writer_free(struct oimg_blob_writer *w);
/* Resumable writer: the bytes go to .ociimg/partial/<alg>-<hex> (one file
 * per digest), which an uncommitted writer leaves behind when freed, so that
 * the next attempt, also in another process, continues it.  The bytes
 * already there are hashed again (the writer then continues from them) and
 * *offset_out says how many there are; one more than expected_size (when
 * >= 0) restarts the file.  Commit verifies digest and size of the whole and
 * renames the file into blobs/ (a mismatch deletes it).  The file is locked
 * exclusively while a writer has it open: -OCI_ERR_STATE if another writer
 * holds it.  gc removes partial files nobody holds after a day. */
int oimg_layout_blob_begin_resume(struct oimg_blob_writer **out, struct oimg_layout *l,
                                  const struct oimg_digest *expected, int64_t expected_size,
                                  uint64_t *offset_out, struct oci_error **err);
/* Empties the writer (e.g. a server ignored a Range request and sends the
 * whole blob again). */
int oimg_blob_writer_restart(struct oimg_blob_writer *w, struct oci_error **err);
/* Throws the written bytes away now (a resumable writer's partial file too). */
void oimg_blob_writer_discard(struct oimg_blob_writer *w);
/* Calls fn with the bytes written so far, in order (e.g. to feed a consumer
 * that starts while a resumed download continues). */
int oimg_blob_writer_replay(struct oimg_blob_writer *w,
                            int (*fn)(void *ud, const void *buf, size_t len), void *ud,
                            struct oci_error **err);
/* Writes out what is buffered and fsyncs the file, so that a commit right
 * after finds nothing left to flush (e.g. on a thread of its own while the
 * caller goes on).  Not concurrently with other calls on the writer. */
int oimg_blob_writer_sync(struct oimg_blob_writer *w, struct oci_error **err);
/* Writes the bytes from here on past the page cache (O_DIRECT, in aligned
 * blocks of oimg_blob_writer_block_size() that a thread of the writer's own
 * writes while the caller fills the next; the last partial block goes
 * through the cache).  For
 * big blobs nobody reads while they download: no copy into the cache, no
 * cache evicted for them, little left for the commit's fsync.  1 when on,
 * 0 when the filesystem or the file's current size does not allow it
 * (nothing changes), negative on a finished or failed writer.  Not for a
 * file that another thread reads while it grows. */
int oimg_blob_writer_set_direct(struct oimg_blob_writer *w);
/* The size of direct mode's blocks (a multiple of oimg_fs_direct_align()). */
size_t oimg_blob_writer_block_size(void);
/* oimg_blob_writer_write of len bytes at *buf, without the copy where it can:
 * when the writer is in direct mode with nothing buffered and *buf is one
 * whole block aligned to oimg_fs_direct_align(), the writer keeps *buf and
 * puts in its place an empty buffer of the same size and alignment, which
 * the caller owns from then on (free() releases it).  Otherwise it copies
 * and *buf stays.  Either way, also after an error, *buf is the caller's. */
int oimg_blob_writer_write_block(struct oimg_blob_writer *w, unsigned char **buf, size_t len,
                                 struct oci_error **err);
/* Convenience: write a whole buffer as a blob (sha256). */
int oimg_layout_blob_put(struct oimg_digest *out, struct oimg_layout *l, const void *buf,
                         size_t len, struct oci_error **err);

/* ---- index.json ---- */

/* The top-level index (parsed and validated). */
int oimg_layout_read_index(struct oimg_index **out, const struct oimg_layout *l,
                           struct oci_error **err);

/* A name as the CLI takes it: "DIR", "DIR:NAME" or "DIR@alg:hex". */
struct oimg_layout_ref {
    char *dir;
    char *name;                /* NULL if none */
    struct oimg_digest digest; /* alg UNKNOWN (str "") if none */
    bool has_digest;
};
int oimg_layout_ref_parse(struct oimg_layout_ref *out, const char *s, struct oci_error **err);
void oimg_layout_ref_clear(struct oimg_layout_ref *r);

/* Finds the descriptor for a name (ref.name annotation in index.json) or a
 * digest (any descriptor in index.json, or any manifest/index blob present).
 * With neither, the layout must hold exactly one manifest/index. */
int oimg_layout_resolve(struct oimg_descriptor *out, const struct oimg_layout *l, const char *name,
                        const struct oimg_digest *digest, struct oci_error **err);

/* Resolves a descriptor down to an image manifest, following nested indexes
 * and choosing by platform (NULL = the host).  Returns the manifest, its
 * descriptor and its config, all verified against their digests. */
struct oimg_image {
    struct oimg_descriptor desc; /* of the manifest */
    struct oimg_manifest *manifest;
    char *manifest_raw;
    size_t manifest_raw_len;
    /* NULL for non-image artifacts.  config_raw is set whenever a config of
     * an image config mediaType was read, also for an artifact that
     * borrows that type for a config that is not one (e.g. "{}"). */
    struct oimg_image_config *config;
    char *config_raw;
    size_t config_raw_len;
};
int oimg_layout_load_image(struct oimg_image **out, const struct oimg_layout *l,
                           const struct oimg_descriptor *desc, const struct oimg_platform *platform,
                           struct oci_error **err);
void oimg_image_free(struct oimg_image *img);

/* Adds or replaces the index.json entry with ref.name = name, under the lock.
 * Other entries (and unknown fields) are preserved byte-for-byte in meaning. */
int oimg_layout_tag(struct oimg_layout *l, const char *name, const struct oimg_descriptor *desc,
                    struct oci_error **err);
/* Removes the entry named name; -OCI_ERR_NOT_FOUND if there is none. */
int oimg_layout_untag(struct oimg_layout *l, const char *name, struct oci_error **err);

/* ---- verify and gc ---- */

enum {
    OIMG_VERIFY_ALL = 1 << 0,    /* also hash blobs nothing references */
    OIMG_VERIFY_STRICT = 1 << 1, /* document validation findings are problems */
};
struct oimg_verify_report {
    char **problems; /* one line each */
    size_t n_problems;
    size_t blobs_checked;
    uint64_t bytes_checked;
    /* Things not checked that are not problems, one line each (a foreign
     * layer with urls that is not present, an unknown algorithm's dir). */
    char **notes;
    size_t n_notes;
    /* Spec violations in reachable manifests, indexes and configs whose
     * blobs are intact (tools in the wild write such documents, e.g. an
     * artifact manifest without config): problems only with
     * OIMG_VERIFY_STRICT.  index.json's own findings are always problems. */
    char **warnings;
    size_t n_warnings;
};
/* Walks everything reachable from index.json: blobs exist, have the declared
 * size and digest, documents are valid (see warnings).  A blob that its
 * descriptor calls a manifest or index but that is not one (not JSON, the
 * other kind) is a problem.  Returns 0 when the walk completed
 * (check report->n_problems), negative if it could not run at all.
 * A subject is not followed and need not be present (a referrer may point
 * at an image the layout does not hold); a missing blob whose descriptor
 * has urls (a foreign layer) is a note, not a problem. */
int oimg_layout_verify(struct oimg_verify_report *report, const struct oimg_layout *l,
                       unsigned flags, struct oci_error **err);
void oimg_verify_report_clear(struct oimg_verify_report *r);

struct oimg_gc_report {
    char **removed; /* digest strings (or tmp names) removed or, dry-run, to remove */
    size_t n_removed;
    uint64_t bytes_freed;
};
/* Removes blobs nothing reachable from index.json references (subjects
 * count as references), temp files older than an hour and partial
 * downloads older than a day (none that a writer holds).  Runs under the
 * layout lock and only when no other handle is writing blobs (each writing
 * handle holds a shared pin until it is freed, since what it committed may
 * not be tagged yet): otherwise -OCI_ERR_STATE.  Refuses to run when
 * index.json or a reachable manifest or index cannot be read. */
int oimg_layout_gc(struct oimg_gc_report *report, struct oimg_layout *l, bool dry_run,
                   struct oci_error **err);
/* oimg_layout_gc that, while another handle is writing blobs, tries again
 * for up to wait_ms milliseconds (without holding the layout lock in
 * between, so writers can tag and finish) before -OCI_ERR_STATE.
 * oimg_layout_gc is this with wait_ms 0. */
int oimg_layout_gc_wait(struct oimg_gc_report *report, struct oimg_layout *l, bool dry_run,
                        unsigned wait_ms, struct oci_error **err);
void oimg_gc_report_clear(struct oimg_gc_report *r);

/* ---- listing ---- */

/* One index.json entry as `ociimg ls` shows it: the platforms of the
 * manifests it leads to and the total declared size of every distinct blob
 * reachable from it (manifests, configs, layers; nested indexes followed). */
struct oimg_image_summary {
    char *name;                  /* ref.name annotation, NULL if untagged */
    struct oimg_descriptor desc; /* as listed in index.json */
    char **platforms;            /* "linux/amd64", ...; from index entries or configs */
    size_t n_platforms;
    uint64_t total_size;
    size_t missing_blobs; /* reachable blobs not present (sparse layouts) */
};
int oimg_layout_list_images(struct oimg_image_summary **out, size_t *n_out,
                            const struct oimg_layout *l, struct oci_error **err);
void oimg_image_summaries_free(struct oimg_image_summary *s, size_t n);

#endif
