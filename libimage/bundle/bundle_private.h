/* Internals shared by the files of libimage/bundle. */
#ifndef OCIIMG_BUNDLE_PRIVATE_H
#define OCIIMG_BUNDLE_PRIVATE_H

#include <aio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <ociimg/bundle.h>

/* Reads a regular file inside the tree at rootfd (symlinks resolved inside
 * the root only; anything but a regular file is refused without being opened
 * for reading).  Returns 1 with *out (NUL-terminated) and *len, 0 if the file
 * does not exist, negative on error. */
int bundle_read_in_root(char **out, size_t *len, int rootfd, const char *path, size_t max,
                        struct oci_error **err);

/* Creates a directory "<prefix><6 random chars>" in dirfd with mode; *name
 * gets the malloc'd name. */
int bundle_mkdtemp(char **name, int dirfd, const char *prefix, mode_t mode, struct oci_error **err);

/* The architectures list for seccomp (NULL-terminated; NULL if unknown). */
const char *const *bundle_seccomp_arches(const char *arch);

/* ---- shared by unpack.c and stream.c ---- */

/* The applier options an unpack implies. */
void bundle_apply_opts(struct oimg_apply_opts *ao, const struct oimg_unpack_opts *opts);

/* Applies the layer d read from raw (the blob as stored), checking the
 * descriptor (a layer media type we can apply, a digest we can verify), the
 * blob's size and digest (hashed as the applier reads it; trailing bytes the
 * decompressor leaves are read and counted too) and, through the applier,
 * the diff_id.  Without hash only the size is checked here: for bytes that
 * whoever supplies them verifies against the digest anyway (a download into
 * the layout), the diff_id alone decides what the rootfs holds. */
int bundle_apply_blob(struct oimg_applier *a, const struct oimg_descriptor *d,
                      struct oimg_reader *raw, const struct oimg_digest *diff_id, bool hash,
                      struct oimg_apply_stats *st, struct oci_error **err);

/* A config that can become a bundle: an image config, linux unless
 * rootfs_only, and as many diff_ids as the manifest has layers. */
int bundle_check_image(const struct oimg_manifest *m, const struct oimg_image_config *cfg,
                       const struct oimg_digest *manifest, const struct oimg_unpack_opts *opts,
                       struct oci_error **err);

/* A destination being built: a temp dir beside it, renamed into place by
 * bundle_dest_commit, removed by bundle_dest_discard.  lockfd holds LOCK_EX
 * on the temp dir itself for the whole build, which is how the next unpack
 * into the same place tells a live temp dir from one left by a killed
 * process. */
struct bundle_dest {
    const char *dest;
    char *parent, *base, *tmp;
    int parentfd, tmpfd, lockfd;
};
/* Checks dest (as oimg_unpack does: new, empty, or --force; never the layout
 * l nor above it when l is given), removes the temp dirs of earlier unpacks
 * into dest that nobody holds any more, and makes (and locks) the temp
 * dir. */
int bundle_dest_open(struct bundle_dest *bd, const char *dest, const struct oimg_layout *l,
                     const struct oimg_unpack_opts *opts, struct oci_error **err);
/* The rootfs directory in the temp dir (the temp dir itself with
 * rootfs_only), owned by the mapped root; *rootfd gets an fd for it. */
int bundle_dest_rootfs(int *rootfd, const struct bundle_dest *bd,
                       const struct oimg_unpack_opts *opts, struct oci_error **err);
/* config.json for cfg (users resolved in rootfd) into the temp dir. */
int bundle_dest_config(const struct bundle_dest *bd, int rootfd,
                       const struct oimg_image_config *cfg, const struct oimg_unpack_opts *opts,
                       struct oci_error **err);
/* Renames the temp dir into place (then removes a replaced tree and fsyncs
 * the parent).  On failure the temp dir is removed. */
int bundle_dest_commit(struct bundle_dest *bd, const struct oimg_unpack_opts *opts,
                       struct oci_error **err);
/* Removes the temp dir (if still there) and frees bd; NULL-safe fields. */
void bundle_dest_discard(struct bundle_dest *bd, const struct oimg_unpack_opts *opts);

/* ---- directread.c: sequential O_DIRECT reads of a blob, blocks ahead ---- */

#define DREAD_BLOCKS 4

struct dread {
    /* A ring of aligned blocks: [cur] holds [off, off+len); the next
     * `ahead` ones are being read, in file order. */
    unsigned char *buf[DREAD_BLOCKS];
    struct aiocb cb[DREAD_BLOCKS];
    unsigned cur, ahead;
    int fd; /* -1: nothing direct (reads go straight to pread) */
    uint64_t size;
    uint64_t off;
    size_t len;
};

void dread_init(struct dread *dr);
/* Direct reads of fd (a blob of size bytes) from now on; false where the
 * filesystem or memory says no (reads of fd then stay buffered). */
bool dread_start(struct dread *dr, int fd, uint64_t size);
/* pread(2) of fd: bytes from off, 0 where the file ends for now, -errno. */
ssize_t dread_pread(struct dread *dr, int fd, void *buf, size_t len, uint64_t off);
/* Before fd is closed: the read-ahead is waited for, fd forgotten. */
void dread_stop(struct dread *dr);
void dread_free(struct dread *dr);

#endif
