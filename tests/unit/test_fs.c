/* Safe fs helpers: confinement of open_in_root (through openat2 and through
 * the forced component walk), atomic writes, temp files, mkdir -p. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/cleanup.h>
#include <ociimg/fs.h>

#include "t.h"

static char tmpdir[] = "/tmp/oimg-fs-XXXXXX";
static int rootfd = -1; /* tmpdir/root: the confined tree */
static int topfd = -1;  /* tmpdir: holds a "secret" outside the root */

static void put(int dfd, const char *name, const char *content)
{
    int fd = openat(dfd, name, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK_INT(oimg_fs_write_all(fd, content, strlen(content)), 0);
        close(fd);
    }
}

/* Reads what an fd from open_in_root points at. */
static void expect_content(int fd, const char *want)
{
    char buf[64] = {0};
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    ssize_t n = oimg_fs_read_all(fd, buf, sizeof(buf) - 1);
    CHECK(n >= 0);
    CHECK_STR(buf, want);
}

static void setup(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        exit(1);
    }
    topfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    put(topfd, "secret", "outside");
    mkdirat(topfd, "root", 0755);
    rootfd = openat(topfd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    /* root/
     *   etc/passwd        "inside"
     *   a/b/file          "deep"
     *   abs   -> /etc/passwd         (absolute: must land in root/etc)
     *   up    -> ../../../../secret  (relative up: clamps at root)
     *   updir -> ../..               (a directory, clamped to root)
     *   a/rel -> ../etc/passwd
     *   a/b/toroot -> /
     *   loop1 -> loop2, loop2 -> loop1
     *   self  -> self
     *   dangling -> /nonexistent
     *   escape -> ../secret          (relative to root: would be tmpdir/secret)
     *   chain  -> a/rel */
    mkdirat(rootfd, "etc", 0755);
    mkdirat(rootfd, "a", 0755);
    put(rootfd, "etc/passwd", "inside");
    mkdirat(rootfd, "a/b", 0755);
    put(rootfd, "a/b/file", "deep");
    symlinkat("/etc/passwd", rootfd, "abs");
    symlinkat("../../../../secret", rootfd, "up");
    symlinkat("../..", rootfd, "updir");
    symlinkat("../etc/passwd", rootfd, "a/rel");
    symlinkat("/", rootfd, "a/b/toroot");
    symlinkat("loop2", rootfd, "loop1");
    symlinkat("loop1", rootfd, "loop2");
    symlinkat("self", rootfd, "self");
    symlinkat("/nonexistent", rootfd, "dangling");
    symlinkat("../secret", rootfd, "escape");
    symlinkat("a/rel", rootfd, "chain");
}

static int open_ok(const char *path, int flags)
{
    struct oci_error *e = NULL;
    int fd = oimg_fs_open_in_root(rootfd, path, flags, 0, &e);
    if (fd < 0)
        fprintf(stderr, "  open_in_root(%s): %s\n", path, e ? e->msg : "?");
    oci_error_free(e);
    return fd;
}

static void check_confinement(void)
{
    static const char *const to_passwd[] = {
        "etc/passwd",
        "/etc/passwd",
        "../../etc/passwd",
        "../../../../../../etc/passwd",
        "abs",
        "/abs",
        "a/rel",
        "chain",
        "a/b/../../etc/passwd",
        "a/../../etc/passwd",
        "updir/etc/passwd",
        "a/b/toroot/etc/passwd",
        "a/b/toroot/../../etc/passwd",
        "./etc//./passwd",
        "a/b/toroot/updir/abs",
    };
    for (size_t i = 0; i < OCI_ARRAY_SIZE(to_passwd); i++) {
        int fd = open_ok(to_passwd[i], O_RDONLY);
        if (fd < 0)
            fprintf(stderr, "  (path %s)\n", to_passwd[i]);
        expect_content(fd, "inside");
        if (fd >= 0)
            close(fd);
    }

    /* Links that point above the root resolve inside it: the secret is out of reach. */
    static const char *const escaping[] = {"up", "escape", "../secret", "updir/secret",
                                           "a/b/toroot/../secret"};
    for (size_t i = 0; i < OCI_ARRAY_SIZE(escaping); i++) {
        struct oci_error *e = NULL;
        int fd = oimg_fs_open_in_root(rootfd, escaping[i], O_RDONLY, 0, &e);
        if (fd >= 0) {
            fprintf(stderr, "  %s opened something\n", escaping[i]);
            expect_content(fd, "(nothing)");
            close(fd);
        }
        CHECK_INT(fd, -OCI_ERR_NOT_FOUND);
        CHECK(e && e->sys_errno == ENOENT);
        oci_error_free(e);
    }

    int fd = open_ok("a/b/file", O_RDONLY);
    expect_content(fd, "deep");
    close(fd);

    /* The root itself, however it is spelled. */
    static const char *const roots[] = {"", "/", ".", "..", "../..", "a/..", "updir", "a/b/toroot"};
    for (size_t i = 0; i < OCI_ARRAY_SIZE(roots); i++) {
        fd = open_ok(roots[i], O_RDONLY | O_DIRECTORY);
        CHECK(fd >= 0);
        if (fd >= 0) {
            CHECK(faccessat(fd, "etc/passwd", F_OK, 0) == 0);
            close(fd);
        }
    }
}

static void check_errors(void)
{
    struct oci_error *e = NULL;
    CHECK(oimg_fs_open_in_root(rootfd, "loop1", O_RDONLY, 0, &e) < 0);
    CHECK(e && e->sys_errno == ELOOP);
    oci_error_clear(&e);
    CHECK(oimg_fs_open_in_root(rootfd, "self/x", O_RDONLY, 0, &e) < 0);
    CHECK(e && e->sys_errno == ELOOP);
    oci_error_clear(&e);
    CHECK_INT(oimg_fs_open_in_root(rootfd, "missing", O_RDONLY, 0, &e), -OCI_ERR_NOT_FOUND);
    CHECK(e && strstr(e->msg, "missing"));
    oci_error_clear(&e);
    CHECK(oimg_fs_open_in_root(rootfd, "etc/passwd/x", O_RDONLY, 0, &e) < 0);
    CHECK(e && e->sys_errno == ENOTDIR);
    oci_error_clear(&e);
    CHECK(oimg_fs_open_in_root(rootfd, "dangling", O_RDONLY, 0, &e) < 0);
    CHECK(e && e->sys_errno == ENOENT);
    oci_error_clear(&e);
    /* O_NOFOLLOW from the caller applies to the final component only */
    CHECK(oimg_fs_open_in_root(rootfd, "abs", O_RDONLY | O_NOFOLLOW, 0, &e) < 0);
    CHECK(e && e->sys_errno == ELOOP);
    oci_error_clear(&e);
    int fd = open_ok("a/rel/../../abs", O_RDONLY | O_NOFOLLOW); /* a/rel is a link to a file */
    CHECK(fd < 0);
    if (fd >= 0)
        close(fd);
    fd = open_ok("chain", O_RDONLY | O_NOFOLLOW | O_PATH);
    CHECK(fd >= 0);
    if (fd >= 0) {
        struct stat st;
        CHECK_INT(fstatat(fd, "", &st, AT_EMPTY_PATH), 0);
        CHECK(S_ISLNK(st.st_mode));
        close(fd);
    }
    /* O_CLOEXEC is always added */
    fd = open_ok("a/b/file", O_RDONLY);
    CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
    if (fd >= 0)
        close(fd);
    CHECK(oimg_fs_open_in_root(rootfd, NULL, O_RDONLY, 0, NULL) < 0);
}

static void check_create(void)
{
    /* Creating through a link that points outside creates inside the root. */
    symlinkat("../../../created", rootfd, "mklink");
    struct oci_error *e = NULL;
    int fd = oimg_fs_open_in_root(rootfd, "mklink", O_CREAT | O_WRONLY, 0600, &e);
    CHECK(fd >= 0);
    if (e)
        fprintf(stderr, "  %s\n", e->msg);
    oci_error_clear(&e);
    if (fd >= 0)
        close(fd);
    CHECK(faccessat(rootfd, "created", F_OK, AT_SYMLINK_NOFOLLOW) == 0);
    CHECK(faccessat(topfd, "created", F_OK, AT_SYMLINK_NOFOLLOW) != 0);
    struct stat st;
    CHECK(fstatat(rootfd, "created", &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & 0777) == 0600);
    unlinkat(rootfd, "created", 0);
    unlinkat(rootfd, "mklink", 0);

    fd = oimg_fs_open_in_root(rootfd, "../a/new", O_CREAT | O_EXCL | O_WRONLY, 0644, &e);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    CHECK_INT(oimg_fs_open_in_root(rootfd, "a/new", O_CREAT | O_EXCL | O_WRONLY, 0644, &e),
              -OCI_ERR_EXISTS);
    oci_error_clear(&e);
    unlinkat(rootfd, "a/new", 0);
}

static void run_open_suite(const char *label)
{
    fprintf(stderr, "  -- %s\n", label);
    check_confinement();
    check_errors();
    check_create();
}

static void test_open_in_root_openat2(void)
{
    unsetenv("OCIIMG_NO_OPENAT2");
    run_open_suite("openat2 (or the walk where the kernel lacks it)");
}

static void test_open_in_root_walk(void)
{
    setenv("OCIIMG_NO_OPENAT2", "1", 1);
    run_open_suite("component walk");

    /* 40 links are followed, the 41st is a loop. */
    char name[32], target[32];
    for (int i = 0; i < 41; i++) {
        snprintf(name, sizeof(name), "l%d", i);
        snprintf(target, sizeof(target), i == 40 ? "etc/passwd" : "l%d", i + 1);
        symlinkat(target, rootfd, name);
    }
    int fd = open_ok("l1", O_RDONLY);
    expect_content(fd, "inside");
    if (fd >= 0)
        close(fd);
    struct oci_error *e = NULL;
    CHECK(oimg_fs_open_in_root(rootfd, "l0", O_RDONLY, 0, &e) < 0);
    CHECK(e && e->sys_errno == ELOOP);
    oci_error_free(e);
    unsetenv("OCIIMG_NO_OPENAT2");
    /* openat2 applies the same limit */
    e = NULL;
    CHECK(oimg_fs_open_in_root(rootfd, "l0", O_RDONLY, 0, &e) < 0);
    CHECK(e && e->sys_errno == ELOOP);
    oci_error_free(e);
    for (int i = 0; i < 41; i++) {
        snprintf(name, sizeof(name), "l%d", i);
        unlinkat(rootfd, name, 0);
    }
}

static int count_entries(int dfd)
{
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fdopendir(fd);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

typedef int write_fn(int dirfd, const char *name, const void *buf, size_t len, mode_t mode,
                     struct oci_error **err);

/* Both writers: the whole new content and mode replace the old; a failed
 * rename (onto a non-empty directory, or a name with a slash) leaves no
 * temp file.  dir ends up with f, isdir and `extra` other entries. */
static void check_replace(write_fn *write, const char *dir, int extra)
{
    int dfd = oimg_fs_mkdir_p_at(topfd, dir, 0755, NULL);
    CHECK(dfd >= 0);
    CHECK_OK(write(dfd, "f", "hello", 5, 0644, T_ERR));
    CHECK_OK(write(dfd, "f", "again!", 6, 0640, T_ERR));
    CHECK_INT(count_entries(dfd), 1 + extra);
    int fd = openat(dfd, "f", O_RDONLY | O_CLOEXEC);
    expect_content(fd, "again!");
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0640);
    close(fd);
    mkdirat(dfd, "isdir", 0755);
    put(dfd, "isdir/x", "x");
    struct oci_error *e = NULL;
    CHECK(write(dfd, "isdir", "data", 4, 0644, &e) < 0);
    CHECK(e && strstr(e->msg, "isdir"));
    oci_error_free(e);
    e = NULL;
    CHECK(write(dfd, "nodir/x", "data", 4, 0644, &e) < 0);
    oci_error_free(e);
    CHECK_INT(count_entries(dfd), 2 + extra);
    close(dfd);
}

static void test_write_atomic(void)
{
    int dfd = oimg_fs_mkdir_p_at(topfd, "atomic", 0755, NULL);
    CHECK_OK(oimg_fs_write_atomic(dfd, "empty", "", 0, 0600, T_ERR));
    close(dfd);
    check_replace(oimg_fs_write_atomic, "atomic", 1);
}

/* The unsynced variant replaces the same way. */
static void test_write_volatile(void)
{
    check_replace(oimg_fs_write_volatile, "volatile", 0);
}

static void test_mktemp(void)
{
    int dfd = oimg_fs_mkdir_p_at(topfd, "tmps", 0755, NULL);
    char *names[50];
    for (int i = 0; i < 50; i++) {
        names[i] = NULL;
        int fd = oimg_fs_mktemp(&names[i], dfd, "pre-", NULL);
        CHECK(fd >= 0);
        CHECK(names[i] && strncmp(names[i], "pre-", 4) == 0 && strlen(names[i]) == 10);
        CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
        CHECK(fd >= 0 && (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR);
        if (fd >= 0)
            close(fd);
    }
    CHECK_INT(count_entries(dfd), 50);
    for (int i = 0; i < 50; i++) {
        unlinkat(dfd, names[i], 0);
        free(names[i]);
    }
    char *n = NULL;
    int fd = oimg_fs_mktemp(&n, dfd, NULL, NULL);
    CHECK(fd >= 0 && n && strncmp(n, OIMG_FS_TMP_PREFIX, strlen(OIMG_FS_TMP_PREFIX)) == 0);
    if (fd >= 0)
        close(fd);
    unlinkat(dfd, n, 0);
    free(n);
    struct oci_error *e = NULL;
    n = NULL;
    CHECK(oimg_fs_mktemp(&n, dfd, "a/b", &e) < 0);
    CHECK(n == NULL);
    oci_error_free(e);
    close(dfd);
}

static void test_mkdir_p(void)
{
    int fd = oimg_fs_mkdir_p_at(topfd, "m/x/y/z", 0755, NULL);
    CHECK(fd >= 0);
    if (fd >= 0) {
        put(fd, "inz", "z");
        close(fd);
    }
    CHECK(faccessat(topfd, "m/x/y/z/inz", F_OK, 0) == 0);
    /* again: existing directories are fine */
    CHECK_OK(fd = oimg_fs_mkdir_p_at(topfd, "m//x/./y/", 0755, T_ERR));
    if (fd >= 0)
        close(fd);

    /* a symlinked component is refused, nothing is created through it */
    int outside = oimg_fs_mkdir_p_at(topfd, "outside", 0755, NULL);
    close(outside);
    symlinkat("../outside", topfd, "m/x/link");
    struct oci_error *e = NULL;
    CHECK_INT(oimg_fs_mkdir_p_at(topfd, "m/x/link/sub", 0755, &e), -OCI_ERR_INVALID);
    CHECK(e && strstr(e->msg, "link"));
    oci_error_clear(&e);
    CHECK(faccessat(topfd, "outside/sub", F_OK, 0) != 0);
    CHECK(oimg_fs_mkdir_p_at(topfd, "m/x/link", 0755, &e) < 0);
    oci_error_clear(&e);
    /* a file in the way */
    put(topfd, "m/file", "f");
    CHECK(oimg_fs_mkdir_p_at(topfd, "m/file/sub", 0755, &e) < 0);
    oci_error_clear(&e);
    CHECK_INT(oimg_fs_mkdir_p_at(topfd, "m/../up", 0755, &e), -OCI_ERR_INVALID);
    oci_error_clear(&e);
    CHECK_INT(oimg_fs_mkdir_p_at(topfd, "/abs", 0755, &e), -OCI_ERR_INVALID);
    oci_error_clear(&e);

    /* open_dir: no symlink as the last part */
    fd = oimg_fs_open_dir(topfd, "m/x", NULL);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK_OK(oimg_fs_fsync_dir(fd, T_ERR));
        close(fd);
    }
    CHECK_INT(oimg_fs_open_dir(topfd, "m/x/link", &e), -OCI_ERR_INVALID);
    oci_error_clear(&e);
    CHECK_INT(oimg_fs_open_dir(topfd, "m/nope", &e), -OCI_ERR_NOT_FOUND);
    oci_error_clear(&e);
    CHECK_INT(oimg_fs_open_dir(topfd, "m/file", &e), -OCI_ERR_INVALID);
    oci_error_clear(&e);
    CHECK(oimg_fs_fsync_dir(-1, &e) < 0);
    oci_error_clear(&e);
}

static void test_read_write_all(void)
{
    int p[2];
    CHECK_INT(pipe2(p, O_CLOEXEC), 0);
    CHECK_INT(oimg_fs_write_all(p[1], "abcdef", 6), 0);
    close(p[1]);
    char buf[16];
    CHECK_INT(oimg_fs_read_all(p[0], buf, sizeof(buf)), 6); /* short at EOF */
    CHECK_INT(oimg_fs_read_all(p[0], buf, sizeof(buf)), 0);
    close(p[0]);
    CHECK_INT(oimg_fs_read_all(-1, buf, 1), -EBADF);
    CHECK_INT(oimg_fs_write_all(-1, buf, 1), -EBADF);
}

static void cleanup(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

int main(void)
{
    setup();
    T_RUN(test_open_in_root_openat2);
    T_RUN(test_open_in_root_walk);
    T_RUN(test_write_atomic);
    T_RUN(test_write_volatile);
    T_RUN(test_mktemp);
    T_RUN(test_mkdir_p);
    T_RUN(test_read_write_all);
    close(rootfd);
    close(topfd);
    cleanup();
    return t_done();
}
