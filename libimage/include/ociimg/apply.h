/* The layer applier: image-spec layer changesets (tar, tar+gzip, tar+zstd)
 * applied one after another onto a root directory, whiteouts resolved.
 *
 * A layer is hostile input.  Every name in it is cleaned lexically (leading
 * "/" dropped; ".." that would climb above the root is clamped at the root,
 * as umoci and containerd do) and then resolved inside the root through
 * directory fds (openat2 RESOLVE_IN_ROOT, or an O_NOFOLLOW walk), so no
 * entry, symlink, hardlink or whiteout can create, change or remove anything
 * outside the root.  Limits (path length, entries, xattr and PAX header
 * sizes, total bytes) end the layer with OCI_ERR_TOO_LARGE.
 *
 * Use:  oimg_applier_new → oimg_applier_apply (once per layer, bottom first)
 *       → oimg_applier_finish → oimg_applier_free.
 * After any error the applier refuses further layers (OCI_ERR_STATE) and the
 * half-written root should be discarded; it is left removable by its owner
 * (in rootless mode directories stay owner-writable until finish). */
#ifndef OCIIMG_APPLY_H
#define OCIIMG_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "digest.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A pull-based byte source: the layer blob as stored (compressed).  read()
 * returns the number of bytes placed in buf (> 0), 0 at the end, or a
 * negative OCI_ERR_* code with *err set.  It is called by one thread at a
 * time, but not necessarily by the thread that called oimg_applier_apply. */
struct oimg_reader {
    ssize_t (*read)(void *ctx, void *buf, size_t len, struct oci_error **err);
    void *ctx;
};

/* One range of an id map: container ids [container_id, container_id+size)
 * are host ids [host_id, host_id+size) (like --uid-map C:H:N). */
struct oimg_idmap {
    uint32_t container_id;
    uint32_t host_id;
    uint32_t size;
};

/* Libraries never print: warnings (a device turned into a file, an xattr the
 * filesystem refused, ...) go here, one line each, without a newline. */
typedef oci_warn_fn oimg_apply_warn_fn;

#define OIMG_APPLY_DEFAULT_MAX_PATH 4096
#define OIMG_APPLY_DEFAULT_MAX_ENTRIES 1000000ull
#define OIMG_APPLY_DEFAULT_MAX_XATTR_SIZE 65536
#define OIMG_APPLY_DEFAULT_MAX_PAX_HEADER (1024 * 1024)
#define OIMG_APPLY_DEFAULT_MAX_TOTAL_BYTES (64ull << 30)

struct oimg_apply_opts {
    /* No chown; owners recorded in the `user.rootlesscontainers` xattr (as
     * umoci does); devices become empty files; directories stay writable
     * until finish.  The caller decides (e.g. geteuid() != 0). */
    bool rootless;
    /* Container → host id maps for chown (not used in rootless mode, where
     * the xattr records container ids).  Empty = identity.  An id outside a
     * non-empty map is an error.  The arrays are copied. */
    const struct oimg_idmap *uid_map;
    size_t n_uid_map;
    const struct oimg_idmap *gid_map;
    size_t n_gid_map;
    /* Limits; 0 selects the default above. */
    size_t max_path;          /* bytes of a cleaned entry name or link target */
    uint64_t max_entries;     /* tar headers per layer */
    size_t max_xattr_size;    /* one xattr value */
    size_t max_pax_header;    /* one PAX / GNU long-name extension header */
    uint64_t max_total_bytes; /* uncompressed tar bytes over all layers (bombs) */
    /* Skip the one syncfs() that finish() does. */
    bool no_sync;
    oimg_apply_warn_fn warn;
    void *warn_ctx;
};

/* What one oimg_applier_apply did. */
struct oimg_apply_stats {
    uint64_t compressed_bytes;   /* read from the reader */
    uint64_t uncompressed_bytes; /* of the tar stream (what diff_id covers) */
    uint64_t entries;            /* tar entries processed */
    uint64_t files, dirs, symlinks, hardlinks, devices, fifos;
    uint64_t whiteouts, opaques;
    struct oimg_digest diff_id; /* computed (sha256, or diff_id's algorithm) */
};

struct oimg_applier;

/* Fills opts with defaults (all limits default, rootful, no warnings). */
void oimg_apply_opts_init(struct oimg_apply_opts *opts);

/* rootfd: an open directory (O_DIRECTORY), the root the layers go into; it is
 * duplicated, the caller keeps its own.  opts may be NULL for defaults. */
int oimg_applier_new(struct oimg_applier **out, int rootfd, const struct oimg_apply_opts *opts,
                     struct oci_error **err);

/* Applies one layer.  media_type: an OCI or Docker layer media type
 * (tar / tar+gzip / tar+zstd, distributable or not); the stream's magic must
 * agree with it.  NULL detects the compression from the magic alone.
 * diff_id (nullable): the expected digest of the uncompressed tar; a
 * mismatch fails with OCI_ERR_DIGEST_MISMATCH (after the layer was written:
 * discard the root).  st (nullable) receives the stats. */
int oimg_applier_apply(struct oimg_applier *a, const char *media_type, struct oimg_reader *r,
                       const struct oimg_digest *diff_id, struct oimg_apply_stats *st,
                       struct oci_error **err);

/* The same, reading the blob from fd (from its current offset). */
int oimg_applier_apply_fd(struct oimg_applier *a, const char *media_type, int fd,
                          const struct oimg_digest *diff_id, struct oimg_apply_stats *st,
                          struct oci_error **err);

/* After the last layer: restores directory mtimes (and, rootless, the real
 * directory modes), then one syncfs() unless opts.no_sync. */
int oimg_applier_finish(struct oimg_applier *a, struct oci_error **err);

void oimg_applier_free(struct oimg_applier *a);

/* The compression a media type implies: 0 none, 1 gzip, 2 zstd; negative
 * (OCI_ERR_UNSUPPORTED) for a media type that is not a layer we can apply. */
enum oimg_layer_compression {
    OIMG_LAYER_TAR = 0,
    OIMG_LAYER_GZIP = 1,
    OIMG_LAYER_ZSTD = 2,
};
int oimg_apply_media_type_compression(const char *media_type);

/* The `user.rootlesscontainers` payload for a container owner (protobuf
 * message {uint32 uid = 1; uint32 gid = 2;}, 0 written as "no change"
 * 0xFFFFFFFF).  Returns the length (≤ 12) or 0 when both ids are 0 (no
 * xattr needed). */
size_t oimg_apply_rootless_encode(uint8_t buf[12], uint32_t uid, uint32_t gid);

/* The libarchive the applier uses ("libarchive 3.6.2"; opened now if it
 * was not yet), or NULL if it cannot be loaded. */
const char *oimg_archive_version(void);

#ifdef __cplusplus
}
#endif
#endif
