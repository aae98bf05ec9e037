/* The default image store of `ociimg run`, `images`, `rmi` and `prune`.
 *
 *   STORE/lock                 flock: shared while a run resolves its image and
 *                              creates its container; exclusive to pull or unpack
 *                              into the store, and for rmi, prune and gc
 *   STORE/layout/              an OCI image layout; images are named by their
 *                              canonical reference (docker.io/library/busybox:latest)
 *   STORE/rootfs/<hex>/        one read-only unpacked image per manifest digest:
 *                              rootfs/ and the converted config.json (made in a
 *                              temp dir beside it and renamed: complete or absent)
 *   STORE/containers/<id>/     a container: container.json, config.json, rootfs/
 *                              (overlay mount point or a full copy), upper/ and
 *                              work/ (its writable layer).  The directory is
 *                              flocked while the container runs. */
#ifndef OCIIMG_CMD_STORE_H
#define OCIIMG_CMD_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <ociimg/apply.h>
#include <ociimg/layout.h>
#include <ociimg/registry.h>

#include "cmd.h"
#include "cmd_remote.h"

#define CMD_STORE_ROOT_DEFAULT "/var/lib/ociimg"
#define CMD_STORE_CONTAINER_JSON "container.json"
/* Directory entries a store walk looks at, at most (bounds every loop over
 * what is on disk). */
#define CMD_STORE_MAX_ENTRIES 100000

struct cmd_store {
    char *root;
    int fd;
    int lock_fd;
};
#define CMD_STORE_INIT                                                                             \
    {                                                                                              \
        .fd = -1, .lock_fd = -1                                                                    \
    }

/* --store, else $OCIIMG_STORE, else /var/lib/ociimg as root and
 * $XDG_DATA_HOME/ociimg (~/.local/share/ociimg) otherwise.  malloc'd. */
int cmd_store_path(char **out, const char *opt, struct oci_error **err);
/* Opens (create: and makes) the store.  Without create a missing store is
 * -OCI_ERR_NOT_FOUND. */
int cmd_store_open(struct cmd_store *s, const char *opt, bool create, struct oci_error **err);
void cmd_store_close(struct cmd_store *s);
/* LOCK_SH, LOCK_EX or LOCK_UN on STORE/lock (waits). */
int cmd_store_lock(struct cmd_store *s, int op, struct oci_error **err);
/* STORE/layout; write = create it and allow writes. */
int cmd_store_layout(struct oimg_layout **out, struct cmd_store *s, bool write,
                     struct oci_error **err);
/* "rootfs/<hex>" (relative to the store) into buf. */
int cmd_store_rootfs_name(char *buf, size_t n, const struct oimg_digest *manifest,
                          struct oci_error **err);
/* 1 when STORE/rootfs/<hex> is a complete cache entry, 0 if not. */
int cmd_store_has_rootfs(const struct cmd_store *s, const struct oimg_digest *manifest);

enum cmd_pull_policy { CMD_PULL_MISSING = 0, CMD_PULL_ALWAYS, CMD_PULL_NEVER };
int cmd_pull_policy_parse(enum cmd_pull_policy *out, const char *s);

struct cmd_store_get {
    const struct oreg_ref *ref;
    enum cmd_pull_policy policy;
    struct cmd_remote *remote;
    int jobs;
    const struct oimg_platform *platform; /* NULL = this host */
    bool quiet;
    bool no_sync;
    oimg_apply_warn_fn warn;
};

/* Makes ref available as an unpacked image in the store: looks it up (no
 * network when it is there and the policy allows), pulls what is missing,
 * unpacks it once into STORE/rootfs/<hex>.  *manifest gets the image
 * manifest's digest.  Returns holding the store lock (shared or exclusive)
 * so that nothing removes the entry before the caller has recorded its use;
 * the caller releases it with cmd_store_lock(LOCK_UN).
 * This is the one place that pulls and unpacks for `run`. */
int cmd_store_get_image(struct oimg_digest *manifest, struct cmd_store *s,
                        const struct cmd_store_get *g, struct oci_error **err);

/* ---- trees ---- */

/* Bytes a tree uses on disk (st_blocks), bounded walk; 0 when missing. */
uint64_t cmd_tree_usage(int dirfd, const char *name);
/* Copies the tree src_dirfd/src to dst_dirfd/dst (which must not exist):
 * owners (as root), modes, times, xattrs, hard links, symlinks, devices;
 * file data by reflink where the filesystem can. */
int cmd_tree_copy(int src_dirfd, const char *src, int dst_dirfd, const char *dst,
                  struct oci_error **err);

/* ---- containers ---- */

/* Reads the manifest digest a container records; 0 and *out set, or
 * negative. */
int cmd_container_image(struct oimg_digest *out, int containers_fd, const char *id,
                        struct oci_error **err);

#endif
