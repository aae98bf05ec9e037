/* `export`: an image's flattened rootfs as one tar stream.  The layers are
 * unpacked into a private temp dir (mode 0700) that is removed afterwards,
 * whatever happens. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/bundle.h>
#include <ociimg/cleanup.h>
#include <ociimg/fs.h>

#include "bundle_private.h"

static int export_at(struct oimg_unpack_result *res, const struct oimg_layout *l,
                     const struct oimg_descriptor *desc, int out_fd, int parentfd,
                     const struct oimg_unpack_opts *opts, struct oci_error **err)
{
    struct oimg_image *img = NULL;
    int r = oimg_layout_load_image(&img, l, desc, opts->platform, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *tmp = NULL;
    r = bundle_mkdtemp(&tmp, parentfd, ".ociimg-export-", 0700, err);
    if (r < 0) {
        oimg_image_free(img);
        return r;
    }
    /* The tree is only read back: no need to make it durable. */
    struct oimg_unpack_opts o = *opts;
    o.no_sync = true;
    int rootfd = openat(parentfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (rootfd < 0)
        r = oci_error_setsys(err, OCI_ERR_IO, errno, "open `%s`", tmp);
    else
        r = oimg_unpack_layers(res, l, img, rootfd, &o, err);
    oimg_image_free(img);
    if (r >= 0)
        r = oimg_export_tar(rootfd, out_fd, opts->bundle.rootless, opts->bundle.warn,
                            opts->bundle.warn_ctx, err);
    if (rootfd >= 0)
        close(rootfd);
    struct oci_error *e = NULL;
    if (oimg_bundle_remove_tree(parentfd, tmp, &e) < 0) {
        if (r >= 0) {
            if (err && !*err)
                *err = e;
            else
                oci_error_free(e);
            return oci_error_wrap(err, "remove the temp directory");
        }
        oci_error_free(e);
    }
    return r;
}

int oimg_export(struct oimg_unpack_result *res, const struct oimg_layout *l,
                const struct oimg_descriptor *desc, int out_fd, const char *tmp_parent,
                const struct oimg_unpack_opts *opts, struct oci_error **err)
{
    struct oimg_unpack_opts defaults;
    if (!opts) {
        oimg_unpack_opts_init(&defaults);
        opts = &defaults;
    }
    _cleanup_close_ int pfd =
        open(tmp_parent ? tmp_parent : "/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "open `%s`",
                                tmp_parent ? tmp_parent : "/tmp");
    int r = export_at(res, l, desc, out_fd, pfd, opts, err);
    return r < 0 ? r : 0;
}

int oimg_export_file(struct oimg_unpack_result *res, const struct oimg_layout *l,
                     const struct oimg_descriptor *desc, const char *path,
                     const struct oimg_unpack_opts *opts, struct oci_error **err)
{
    struct oimg_unpack_opts defaults;
    if (!opts) {
        oimg_unpack_opts_init(&defaults);
        opts = &defaults;
    }
    if (!path || !*path)
        return oci_error_set(err, OCI_ERR_INVALID, "no output file");
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return oci_error_set(err, OCI_ERR_INVALID, "`%s` does not name a file", path);
    _cleanup_free_ char *parent = slash == path ? strdup("/")
                                  : slash       ? strndup(path, (size_t)(slash - path))
                                                : strdup(".");
    if (!parent)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    _cleanup_close_ int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0)
        return oci_error_setsys(err, errno == ENOENT ? OCI_ERR_NOT_FOUND : OCI_ERR_IO, errno,
                                "open `%s`", parent);
    struct stat st;
    if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
        return oci_error_set(err, OCI_ERR_EXISTS, "`%s` is a directory", path);

    _cleanup_free_ char *tmp = NULL;
    _cleanup_close_ int fd = oimg_fs_mktemp(&tmp, pfd, NULL, err);
    if (fd < 0)
        return fd;
    int r = 0;
    if (fchmod(fd, 0644) < 0)
        r = oci_error_setsys(err, OCI_ERR_IO, errno, "chmod `%s`", tmp);
    if (r >= 0)
        r = export_at(res, l, desc, fd, pfd, opts, err);
    if (r >= 0 && !opts->no_sync && fsync(fd) < 0)
        r = oci_error_setsys(err, OCI_ERR_IO, errno, "fsync `%s`", tmp);
    if (r >= 0 && renameat(pfd, tmp, pfd, base) < 0)
        r = oci_error_setsys(err, OCI_ERR_IO, errno, "rename to `%s`", path);
    if (r < 0) {
        unlinkat(pfd, tmp, 0);
        return oci_error_wrap(err, "`%s`", path);
    }
    if (!opts->no_sync)
        (void)fsync(pfd);
    return 0;
}
