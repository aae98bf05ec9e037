/* Runtime bundles from images: the image config converted to a runtime-spec
 * config.json (image-spec conversion.md), the layers applied into rootfs/,
 * and the flattened rootfs as one tar stream.
 *
 * The converter follows every MUST and SHOULD of conversion.md:
 *   - process.args = Entrypoint + Cmd; process.env = Env verbatim, plus HOME
 *     (from the user's /etc/passwd entry, else "/") and PATH (the usual
 *     default) only when the image does not set them; process.cwd =
 *     WorkingDir, default "/".
 *   - process.user from Config.User ("user", "uid", "user:group", "uid:gid",
 *     "user:gid", "uid:group"): numbers copied verbatim (0 ... 2^32-2, no
 *     wrap-around), names resolved from the rootfs' own /etc/passwd and
 *     /etc/group, opened through the rootfs fd so no symlink leads to a host
 *     file (size-capped, regular files only); an unknown name is an error.
 *     additionalGids are the named user's memberships in /etc/group, and only
 *     when the user is a name and no group is given.
 *   - annotations: org.opencontainers.image.{os, architecture, variant,
 *     os.version, os.features (comma-separated), author, created,
 *     stopSignal, exposedPorts (sorted, comma-separated)}; Config.Labels
 *     win over them.  Labels a runtime would act on (`run.oci.*`, read by
 *     crun; `org.criu.*`, read by runc and crun on checkpoint/restore) are
 *     left out with a warning, as conversion.md allows.
 *   - Config.Volumes become tmpfs mounts (owner and mode of the directory in
 *     the rootfs when it exists there).
 * Linux defaults as a docker or podman user expects them: namespaces pid,
 * network, ipc, uts, mount, cgroup; mounts /proc, /dev, /dev/pts, /dev/shm,
 * /dev/mqueue, /sys (ro), /sys/fs/cgroup (ro); docker's default capability
 * set in bounding (and effective/permitted for uid 0 only), empty
 * inheritable and ambient; noNewPrivileges; docker's masked and read-only
 * paths; RLIMIT_NOFILE 1024; a device cgroup that denies all (the runtime
 * adds its standard devices); our default seccomp profile (see
 * libimage/bundle/seccomp.c); terminal false; hostname "ociimg".
 * Rootless: what `runc spec --rootless` changes (a user namespace mapping
 * the caller to root, no network namespace, /sys bind-mounted read-only,
 * no uid=/gid= mount options, no resources), and also no cgroup mount (the
 * recursive /sys bind already brings the host's cgroup mounts, whose files
 * the unprivileged caller cannot write).
 * config.json deliberately differs from umoci's in a few places; see
 * tests/lib/cmpconfig.py. */
#ifndef OCIIMG_BUNDLE_H
#define OCIIMG_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "apply.h"
#include "digest.h"
#include "error.h"
#include "layout.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The runtime-spec version written into config.json: the oldest that has
 * every field we write (seccomp defaultErrnoRet came in 1.1.0).  crun 1.8
 * (Debian 12) refuses any 1.2.x config. */
#define OIMG_BUNDLE_OCI_VERSION "1.1.0"
#define OIMG_BUNDLE_DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define OIMG_BUNDLE_DEFAULT_HOSTNAME "ociimg"
/* Caps on the rootfs' /etc/passwd and /etc/group and on one of their lines. */
#define OIMG_BUNDLE_MAX_ID_FILE (8u * 1024 * 1024)
#define OIMG_BUNDLE_MAX_ID_LINE (64u * 1024)
/* At most this many additionalGids (NGROUPS_MAX). */
#define OIMG_BUNDLE_MAX_GROUPS 65536

struct oimg_bundle_opts {
    /* A user namespace with uid_map/gid_map (default: the caller's euid and
     * egid as container root, size 1) and the mounts a rootless runtime can
     * make. */
    bool rootless;
    /* User namespace mappings (container -> host), also used without
     * rootless: then the config gets a user namespace with these maps. */
    const struct oimg_idmap *uid_map;
    size_t n_uid_map;
    const struct oimg_idmap *gid_map;
    size_t n_gid_map;
    bool no_seccomp;
    const char *hostname; /* NULL = OIMG_BUNDLE_DEFAULT_HOSTNAME */
    /* Warnings (a label left out, an unmapped user, ...), one line each. */
    oimg_apply_warn_fn warn;
    void *warn_ctx;
};

void oimg_bundle_opts_init(struct oimg_bundle_opts *o);

/* Config.User resolved in a rootfs. */
struct oimg_bundle_user {
    uint32_t uid, gid;
    uint32_t *additional_gids;
    size_t n_additional_gids;
    char *home; /* from the passwd entry of uid; NULL if none */
};
void oimg_bundle_user_clear(struct oimg_bundle_user *u);

/* Resolves Config.User (NULL or "" = root) against rootfd's /etc/passwd and
 * /etc/group.  rootfd may be -1: then only numeric forms work. */
int oimg_bundle_resolve_user(struct oimg_bundle_user *out, int rootfd, const char *spec,
                             struct oci_error **err);

/* Parses a uid/gid: all decimal digits, at most 2^32-2 (the all-ones value
 * means "no id" to the kernel).  1 = numeric and valid (*out set), 0 = not a
 * number (a name), -OCI_ERR_INVALID = digits but out of range. */
int oimg_bundle_parse_id(const char *s, size_t len, uint32_t *out, struct oci_error **err);

/* The default generated runtime configuration for cfg, resolving the user
 * in rootfd (may be -1, see above).  *out is a new json object. */
int oimg_bundle_config(json_object **out, const struct oimg_image_config *cfg, int rootfd,
                       const struct oimg_bundle_opts *opts, struct oci_error **err);

/* Our default seccomp profile (runtime-spec linux.seccomp) for an image
 * architecture (GOARCH names: amd64, arm64, ...; unknown = native only). */
json_object *oimg_bundle_seccomp_profile(const char *arch);

/* Removes dirfd/name and everything below it without following symlinks
 * and without leaving its filesystem (a mount point below it is an error and
 * stays).  Missing name = 0. */
int oimg_bundle_remove_tree(int dirfd, const char *name, struct oci_error **err);

/* ---- unpack ---- */

struct oimg_unpack_opts {
    const struct oimg_platform *platform; /* NULL = this host */
    struct oimg_bundle_opts bundle;       /* rootless, maps, seccomp, warnings */
    bool force;                           /* replace an existing non-empty destination */
    bool rootfs_only;                     /* dest is the rootfs itself; no config.json */
    bool no_sync;                         /* skip the syncfs (tests, benchmarks) */
};
void oimg_unpack_opts_init(struct oimg_unpack_opts *o);

struct oimg_unpack_result {
    struct oimg_digest manifest; /* the image manifest unpacked */
    size_t layers;
    uint64_t compressed_bytes, uncompressed_bytes, entries;
};

/* Applies img's layers, bottom first, onto rootfd: each blob's digest and
 * size and each layer's diff_id (config rootfs.diff_ids) verified while
 * streaming, then oimg_applier_finish.  On error rootfd holds a partial tree
 * to discard.  res may be NULL. */
int oimg_unpack_layers(struct oimg_unpack_result *res, const struct oimg_layout *l,
                       const struct oimg_image *img, int rootfd,
                       const struct oimg_unpack_opts *opts, struct oci_error **err);

/* The image desc (resolved by platform) into dest: dest/rootfs and
 * dest/config.json (dest mode 0700), or with rootfs_only the rootfs at
 * dest.  Everything is built in a temp dir beside dest
 * (".<name>.ociimg-XXXXXX") and renamed into place: a new dest appears
 * complete or not at all, an empty existing directory is replaced, a
 * non-empty one only with force (the old tree is removed after the new one
 * is in place).  On failure the temp dir is removed.  With uid/gid maps
 * (not rootless) dest is owned by the host ids of container root, so the
 * container's init can reach its rootfs. */
int oimg_unpack(struct oimg_unpack_result *res, const struct oimg_layout *l,
                const struct oimg_descriptor *desc, const char *dest,
                const struct oimg_unpack_opts *opts, struct oci_error **err);

/* ---- streamed unpack (pull --unpack) ---- */

/* An unpack fed by a download: blob bytes are pushed in as they arrive
 * (blobs interleaved, from any one thread at a time) and the layers are
 * applied in order by a thread of the stream's own, each checked as
 * oimg_unpack checks it (blob size and digest, diff_id).  Bytes of a later
 * layer wait in a spool (a few MiB of memory in all, then unnamed files in
 * the bundle's temp dir); the pushing side never blocks on the applying
 * one.  The destination rules are oimg_unpack's: built in a temp dir beside
 * dest, renamed into place by finish, removed on any failure or by free.
 *
 * Use:
 *   oimg_unpack_stream_new(&s, dest, layout, &opts, &err);
 *   oimg_unpack_stream_set_manifest(s, &manifest_desc, bytes, len, &err);
 *   then, while downloading, for each blob:
 *     oimg_unpack_stream_blob_begin(s, desc)   (again: restart from byte 0)
 *     oimg_unpack_stream_blob_data(s, desc, buf, len)  (bytes from 0 on)
 *     oimg_unpack_stream_blob_end(s, desc, 0 or a negative code)
 *   oimg_unpack_stream_finish(s, &res, &err);  (every blob is in the layout)
 *   oimg_unpack_stream_free(s);               (without finish: cancels)
 *
 * set_manifest and the three blob_* functions take the stream as void * so
 * that they fit libregistry's struct oreg_blob_observer as they are:
 *   struct oreg_blob_observer obs = {.begin = oimg_unpack_stream_blob_begin,
 *       .data = oimg_unpack_stream_blob_data, .end = oimg_unpack_stream_blob_end,
 *       .manifest = oimg_unpack_stream_set_manifest, .ud = s};
 * They return 0 (or -OCI_ERR_STATE before set_manifest): a failure of the
 * unpack never stops the download; finish reports it.
 *
 * layout (nullable, borrowed until free) is where the downloader commits
 * verified blobs: a blob it never pushes (present before, a repeated layer,
 * fetched by someone else), or one that completed before its turn, is read
 * from there, once finish says the source is done if need be.  opts is
 * copied (its pointers are borrowed until free); opts->platform is not used
 * (the manifest is already the chosen one). */
struct oimg_unpack_stream;

int oimg_unpack_stream_new(struct oimg_unpack_stream **out, const char *dest,
                           const struct oimg_layout *layout, const struct oimg_unpack_opts *opts,
                           struct oci_error **err);
/* The image manifest (verified against desc's digest and size); its config
 * arrives like a blob.  Starts the apply thread. */
int oimg_unpack_stream_set_manifest(void *s, const struct oimg_descriptor *desc, const void *data,
                                    size_t len, struct oci_error **err);
int oimg_unpack_stream_blob_begin(void *s, const struct oimg_descriptor *d, struct oci_error **err);
int oimg_unpack_stream_blob_data(void *s, const struct oimg_descriptor *d, const void *buf,
                                 size_t len, struct oci_error **err);
int oimg_unpack_stream_blob_end(void *s, const struct oimg_descriptor *d, int status,
                                struct oci_error **err);
/* The source is done (and succeeded): waits for the last layer, writes
 * config.json and renames the bundle into place.  Once only. */
int oimg_unpack_stream_finish(struct oimg_unpack_stream *s, struct oimg_unpack_result *res,
                              struct oci_error **err);
/* Whether a blob started over (begin again) after the applier had read
 * from it.  The bytes it had stay applied (the replayed prefix is dropped,
 * and the digest over what the applier read still decides), so a failure of
 * finish may come from bytes the downloader itself discarded: the verified
 * blobs in the layout can then be unpacked with oimg_unpack. */
bool oimg_unpack_stream_restarted(struct oimg_unpack_stream *s);
void oimg_unpack_stream_free(struct oimg_unpack_stream *s);

/* ---- export ---- */

/* Writes the tree at rootfd as one POSIX (pax) tar stream to out_fd: names
 * sorted per directory, numeric owners (uname/gname empty), nanosecond
 * mtimes, xattrs as SCHILY.xattr.* (security.selinux and trusted.* left
 * out), hard links as links to the first name, no entry for the root itself.
 * Sockets are skipped with a warning.  rootless: the tree was unpacked
 * rootless, so owners are those of the `user.rootlesscontainers` xattr (not
 * exported itself), 0:0 where there is none; otherwise the owners on disk
 * (an xattr present still wins). */
int oimg_export_tar(int rootfd, int out_fd, bool rootless, oimg_apply_warn_fn warn, void *warn_ctx,
                    struct oci_error **err);

/* Unpacks desc into a temp dir inside tmp_parent (a directory), writes it
 * with oimg_export_tar to out_fd and removes the temp dir. */
int oimg_export(struct oimg_unpack_result *res, const struct oimg_layout *l,
                const struct oimg_descriptor *desc, int out_fd, const char *tmp_parent,
                const struct oimg_unpack_opts *opts, struct oci_error **err);

/* The same into the file at path, which appears (by rename of a complete,
 * fsynced temp file beside it; mode 0644) only on success, replacing a file;
 * the temp tree is made beside it too. */
int oimg_export_file(struct oimg_unpack_result *res, const struct oimg_layout *l,
                     const struct oimg_descriptor *desc, const char *path,
                     const struct oimg_unpack_opts *opts, struct oci_error **err);

#ifdef __cplusplus
}
#endif
#endif
