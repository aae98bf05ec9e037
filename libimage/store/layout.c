/* Opening and creating an OCI image layout, and the handle's own
 * bookkeeping directory (.ociimg: lock, writers pin, tmp). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/cleanup.h>
#include <ociimg/fs.h>
#include <ociimg/json.h>
#include <ociimg/layout.h>

#include "store_private.h"

#define LAYOUT_VERSION "1.0.0"
#define OCI_LAYOUT_CONTENT "{\"imageLayoutVersion\":\"" LAYOUT_VERSION "\"}"
#define EMPTY_INDEX_CONTENT                                                                        \
    "{\"schemaVersion\":2,\"mediaType\":\"" OIMG_MT_OCI_INDEX "\",\"manifests\":[]}"
#define OCI_LAYOUT_MAX 65536

const char *oimg_layout_path(const struct oimg_layout *l)
{
    return l->path;
}

int oimg_layout_dirfd(const struct oimg_layout *l)
{
    return l->dirfd;
}

void oimg_layout_free(struct oimg_layout *l)
{
    if (!l)
        return;
    store_unpin(l);
    if (l->tmpfd >= 0)
        close(l->tmpfd);
    if (l->statefd >= 0)
        close(l->statefd);
    if (l->dirfd >= 0)
        close(l->dirfd);
    free(l->path);
    free(l);
}

int store_require_writable(const struct oimg_layout *l, const char *what, struct oci_error **err)
{
    if (l->flags & OIMG_LAYOUT_READONLY)
        return oci_error_set(err, OCI_ERR_STATE, "%s: layout `%s` was opened read-only", what,
                             l->path);
    return 0;
}

/* mkdirat + open, tolerating a concurrent creator; never follows a symlink. */
static int mkdir_open_at(int dirfd, const char *name, const char *shown, struct oci_error **err)
{
    if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "create `%s`", shown);
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "open `%s`", shown);
    return fd;
}

int store_state_dir(struct oimg_layout *l, struct oci_error **err)
{
    int r = store_require_writable(l, "write", err);
    if (r < 0)
        return r;
    if (l->statefd >= 0)
        return l->statefd;
    int fd = mkdir_open_at(l->dirfd, STORE_STATE_DIR, STORE_STATE_DIR, err);
    if (fd < 0)
        return fd;
    l->statefd = fd;
    return fd;
}

int store_tmp_dir(struct oimg_layout *l, struct oci_error **err)
{
    if (l->tmpfd >= 0)
        return l->tmpfd;
    int sfd = store_state_dir(l, err);
    if (sfd < 0)
        return sfd;
    int fd = mkdir_open_at(sfd, STORE_TMP_NAME, STORE_STATE_DIR "/" STORE_TMP_NAME, err);
    if (fd < 0)
        return fd;
    l->tmpfd = fd;
    return fd;
}

static int flock_retry(int fd, int op)
{
    int r;
    do
        r = flock(fd, op);
    while (r < 0 && errno == EINTR);
    return r;
}

int store_open_state_file(struct oimg_layout *l, const char *name, struct oci_error **err)
{
    int sfd = store_state_dir(l, err);
    if (sfd < 0)
        return sfd;
    int fd = openat(sfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "open `%s/%s/%s`", l->path, STORE_STATE_DIR,
                                name);
    return fd;
}

int store_lock(struct oimg_layout *l, struct oci_error **err)
{
    _cleanup_close_ int fd = store_open_state_file(l, STORE_LOCK_NAME, err);
    if (fd < 0)
        return fd;
    if (flock_retry(fd, LOCK_EX) < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "lock layout `%s`", l->path);
    return TAKE_FD(fd);
}

int store_pin(struct oimg_layout *l, struct oci_error **err)
{
    if (l->pinfd >= 0)
        return 0;
    _cleanup_close_ int fd = store_open_state_file(l, STORE_PIN_NAME, err);
    if (fd < 0)
        return fd;
    /* Blocks only while a gc is sweeping. */
    if (flock_retry(fd, LOCK_SH) < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "lock layout `%s` for writing", l->path);
    l->pinfd = TAKE_FD(fd);
    return 0;
}

void store_unpin(struct oimg_layout *l)
{
    if (l->pinfd >= 0) {
        close(l->pinfd);
        l->pinfd = -1;
    }
}

/* mkdir -p for the user's own path: following symlinks there is the user's
 * intent (the layout's insides are another matter). */
static int mkdir_parents(const char *path, struct oci_error **err)
{
    _cleanup_free_ char *p = strdup(path);
    if (!p)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    size_t len = strlen(p);
    while (len > 1 && p[len - 1] == '/')
        p[--len] = '\0';
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "create `%s`", p);
        *s = '/';
    }
    if (mkdir(p, 0755) < 0 && errno != EEXIST)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "create `%s`", p);
    return 0;
}

/* Publishes name with content unless it already exists (a concurrent
 * creator's copy is as good as ours). */
static int write_new_file(struct oimg_layout *l, const char *name, const char *content,
                          struct oci_error **err)
{
    int tfd = store_tmp_dir(l, err);
    if (tfd < 0)
        return tfd;
    _cleanup_free_ char *tmpname = NULL;
    _cleanup_close_ int fd = oimg_fs_mktemp(&tmpname, tfd, "new-", err);
    if (fd < 0)
        return fd;
    size_t len = strlen(content);
    int w = oimg_fs_write_all(fd, content, len);
    if (w < 0 || fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
        int e = w < 0 ? -w : errno;
        unlinkat(tfd, tmpname, 0);
        return oci_error_setsys(err, OCI_ERR_IO, e, "write `%s`", name);
    }
    int r = store_publish(tfd, tmpname, l->dirfd, name, err);
    if (r < 0) {
        unlinkat(tfd, tmpname, 0);
        return store_wrap(r, err, "create `%s`", name);
    }
    return 0;
}

static bool exists_at(int dirfd, const char *name)
{
    struct stat st;
    return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Index last-but-one and oci-layout last: a directory with an oci-layout
 * file always has the rest. */
static int layout_init(struct oimg_layout *l, struct oci_error **err)
{
    if (mkdirat(l->dirfd, "blobs", 0755) < 0 && errno != EEXIST)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "create `blobs`");
    int r;
    if (!exists_at(l->dirfd, "index.json") &&
        (r = write_new_file(l, "index.json", EMPTY_INDEX_CONTENT, err)) < 0)
        return r;
    if ((r = write_new_file(l, "oci-layout", OCI_LAYOUT_CONTENT, err)) < 0)
        return r;
    return oimg_fs_fsync_dir(l->dirfd, err);
}

static int check_oci_layout(const struct oimg_layout *l, struct oci_error **err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    int r = oimg_read_file_at(&buf, &len, l->dirfd, "oci-layout", OCI_LAYOUT_MAX, err);
    if (r < 0)
        return store_wrap(r, err, "read oci-layout");
    _cleanup_json_ json_object *o = NULL;
    r = oimg_json_parse(&o, buf, len, NULL, err);
    if (r < 0)
        return store_wrap(r, err, "oci-layout");
    if (!json_object_is_type(o, json_type_object))
        return oci_error_set(err, OCI_ERR_INVALID, "oci-layout: not a JSON object");
    const char *version = NULL;
    r = oimg_json_get_string(&version, o, "imageLayoutVersion", true, "oci-layout", err);
    if (r < 0)
        return r;
    if (strcmp(version, LAYOUT_VERSION) != 0)
        return oci_error_set(
            err, OCI_ERR_UNSUPPORTED,
            "oci-layout: imageLayoutVersion \"%s\" is not supported (want " LAYOUT_VERSION ")",
            version);
    return 0;
}

int oimg_layout_open(struct oimg_layout **out, const char *path, unsigned flags,
                     struct oci_error **err)
{
    if (!path || !*path)
        return oci_error_set(err, OCI_ERR_INVALID, "open layout: empty path");
    if ((flags & OIMG_LAYOUT_CREATE) && (flags & OIMG_LAYOUT_READONLY))
        return oci_error_set(err, OCI_ERR_INVALID,
                             "open layout `%s`: CREATE and READONLY are exclusive", path);

    struct oimg_layout *l = calloc(1, sizeof(*l));
    if (!l)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    l->dirfd = l->statefd = l->tmpfd = l->pinfd = -1;
    l->flags = flags;
    l->path = strdup(path);
    int r = 0;
    if (!l->path) {
        r = oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((flags & OIMG_LAYOUT_CREATE) && (r = mkdir_parents(path, err)) < 0)
        goto wrap;
    l->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (l->dirfd < 0) {
        r = oci_error_setsys(err, errno == ENOENT ? OCI_ERR_NOT_FOUND : OCI_ERR_IO, errno,
                             "open layout `%s`", path);
        goto fail;
    }
    if (!exists_at(l->dirfd, "oci-layout")) {
        if (!(flags & OIMG_LAYOUT_CREATE)) {
            r = oci_error_set(err, OCI_ERR_NOT_FOUND,
                              "not an OCI image layout: `%s` has no oci-layout file", path);
            goto fail;
        }
        if ((r = layout_init(l, err)) < 0)
            goto wrap;
    } else if ((flags & OIMG_LAYOUT_CREATE) &&
               (!exists_at(l->dirfd, "index.json") || !exists_at(l->dirfd, "blobs"))) {
        /* Someone else's half-made layout: complete what is missing. */
        if ((r = layout_init(l, err)) < 0)
            goto wrap;
    }
    if ((r = check_oci_layout(l, err)) < 0)
        goto wrap;
    *out = l;
    return 0;
wrap:
    oci_error_wrap(err, "open layout `%s`", path);
fail:
    oimg_layout_free(l);
    return r;
}
