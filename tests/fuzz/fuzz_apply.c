/* The layer applier on hostile layers.  The first input byte picks the media
 * type (tar, tar+gzip, tar+zstd, or NULL to detect from the magic); the rest
 * is the layer blob, applied into a fresh rootfs/ inside a per-process work
 * directory.  Beside rootfs/ lies a sentinel file: after every input the work
 * directory must hold exactly those two, with the sentinel unchanged, or
 * something escaped the root and we abort.
 *
 * As root the work directory is a private tmpfs (nodev, nosuid) in our own
 * mount namespace, so an escape or a device node cannot reach the host, and
 * the applier runs rootful (chown, mknod); otherwise it runs rootless. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/apply.h>
#include <ociimg/model.h>

#include "fuzz_common.h"

static char g_dir[] = "/tmp/ociimg-fuzz-apply-XXXXXX";
static int g_dirfd = -1;
static bool g_rootful;
static bool g_tmpfs;
static const char g_sentinel[] = "ociimg fuzz sentinel: nothing may change me\n";

static void die(const char *what)
{
    fprintf(stderr, "fuzz_apply: %s: %s\n", what, strerror(errno));
    abort();
}

/* Removes name below dirfd without following symlinks.  Directories are made
 * writable first (rootless finish restores read-only modes).  Depth is bounded
 * by the applier's max_path. */
static void rm_tree(int parent, const char *name)
{
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return;
        die("fstatat");
    }
    if (S_ISDIR(st.st_mode)) {
        int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            die("open dir for removal");
        if (fchmod(fd, 0700) < 0)
            die("fchmod");
        DIR *d = fdopendir(fd);
        if (!d)
            die("fdopendir");
        struct dirent *e;
        while ((errno = 0, e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            rm_tree(dirfd(d), e->d_name);
            /* The directory changed under readdir: start over. */
            rewinddir(d);
        }
        closedir(d);
        if (unlinkat(parent, name, AT_REMOVEDIR) < 0)
            die("rmdir");
    } else if (unlinkat(parent, name, 0) < 0) {
        die("unlink");
    }
}

static void cleanup(void)
{
    if (g_dirfd < 0)
        return;
    rm_tree(g_dirfd, "rootfs");
    unlinkat(g_dirfd, "sentinel", 0);
    close(g_dirfd);
    g_dirfd = -1;
    if (g_tmpfs)
        umount2(g_dir, MNT_DETACH);
    rmdir(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (!mkdtemp(g_dir))
        die("mkdtemp");
    if (geteuid() == 0 && unshare(CLONE_NEWNS) == 0 &&
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
        mount("ociimg-fuzz", g_dir, "tmpfs", MS_NODEV | MS_NOSUID, "size=64m,mode=0700") == 0) {
        g_tmpfs = true;
        g_rootful = true;
    }
    g_dirfd = open(g_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (g_dirfd < 0)
        die("open work dir");
    int fd = openat(g_dirfd, "sentinel", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, g_sentinel, strlen(g_sentinel)) != (ssize_t)strlen(g_sentinel))
        die("write sentinel");
    close(fd);
    atexit(cleanup);
    return 0;
}

struct mem_reader {
    const uint8_t *p;
    size_t left;
};

static ssize_t mem_read(void *ctx, void *buf, size_t len, struct oci_error **err)
{
    struct mem_reader *m = ctx;
    if (len > m->left)
        len = m->left;
    memcpy(buf, m->p, len);
    m->p += len;
    m->left -= len;
    return (ssize_t)len;
}

static void check_confined(void)
{
    char buf[sizeof(g_sentinel) + 16];
    int fd = openat(g_dirfd, "sentinel", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        die("ESCAPE: sentinel gone");
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n != (ssize_t)strlen(g_sentinel) || memcmp(buf, g_sentinel, (size_t)n) != 0) {
        fprintf(stderr, "fuzz_apply: ESCAPE: sentinel changed\n");
        abort();
    }

    /* A fresh open, not dup(): a dup shares the directory offset, and a
     * second listing would see nothing. */
    int dfd = openat(g_dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
    if (!d)
        die("list work dir");
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "sentinel") &&
            strcmp(e->d_name, "rootfs")) {
            fprintf(stderr, "fuzz_apply: ESCAPE: %s/%s created outside the rootfs\n", g_dir,
                    e->d_name);
            abort();
        }
    }
    closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[] = {OIMG_MT_OCI_LAYER, OIMG_MT_OCI_LAYER_GZIP,
                                        OIMG_MT_OCI_LAYER_ZSTD, NULL};
    if (size < 1)
        return 0;
    const char *media_type = types[data[0] % 4];

    if (mkdirat(g_dirfd, "rootfs", 0755) < 0)
        die("mkdir rootfs");
    int rootfd = openat(g_dirfd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (rootfd < 0)
        die("open rootfs");

    struct oimg_apply_opts opts;
    oimg_apply_opts_init(&opts);
    opts.rootless = !g_rootful;
    opts.max_total_bytes = 8u << 20;
    opts.max_entries = 1000;
    opts.max_path = 1024; /* also bounds rm_tree's recursion */
    opts.max_pax_header = 64 * 1024;
    opts.no_sync = true;

    struct oci_error *err = NULL;
    struct oimg_applier *a = NULL;
    if (oimg_applier_new(&a, rootfd, &opts, &err) < 0)
        die("oimg_applier_new");
    struct mem_reader m = {data + 1, size - 1};
    struct oimg_reader r = {mem_read, &m};
    struct oimg_apply_stats st;
    if (oimg_applier_apply(a, media_type, &r, NULL, &st, &err) == 0) {
        if (oimg_applier_finish(a, &err) < 0)
            fuzz_err_drop(&err);
    }
    fuzz_err_drop(&err);
    oimg_applier_free(a);
    close(rootfd);

    check_confined();
    rm_tree(g_dirfd, "rootfs");
    return 0;
}
