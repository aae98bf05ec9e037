/* The tar writer: every entry type, pax extensions (long names and targets,
 * large ids, nanosecond mtimes, xattrs), hard links, sorted and
 * deterministic output, read back with libarchive and with GNU tar (then
 * compared with tests/lib/treecmp.py). */
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>

#include <archive.h>
#include <archive_entry.h>

#include <ociimg/bundle.h>
#include <ociimg/cleanup.h>

#include "bundle_t.h"

static char *top;
static bool root;

static void set_mtime(const char *p, time_t s, long ns)
{
    struct timespec ts[2] = {{s, ns}, {s, ns}};
    CHECK(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW) == 0);
}

static char *path_of(const char *rel)
{
    return bt_fmt("%s/src/%s", top, rel);
}

static char long_dir[121], long_file[151], long_target[201];

/* The source tree under src/top. */
static void make_tree(void)
{
    memset(long_dir, 'd', 120);
    memset(long_file, 'f', 150);
    memset(long_target, 't', 200);
    char *src = bt_fmt("%s/src", top);
    mkdir(src, 0755);
    bt_write(src, "top/file.txt", "hello\n");
    bt_write(src, "top/empty", "");
    bt_write(src, "top/setuid", "#!/bin/sh\n");
    bt_write(src, "top/hard1", "shared inode\n");
    bt_write(src, "top/xattr.txt", "has xattrs\n");
    char *p;
    p = path_of("top/file.txt");
    chmod(p, 0640);
    if (root)
        CHECK(lchown(p, 1234, 5678) == 0);
    set_mtime(p, 1700000000, 123456789);
    free(p);
    p = path_of("top/setuid");
    chmod(p, 04755);
    free(p);
    /* 3 MiB + 7 bytes of a pattern */
    p = path_of("top/big.bin");
    int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    char *buf = malloc(4096);
    for (int i = 0; i < 4096; i++)
        buf[i] = (char)(i * 31 + 7);
    for (int i = 0; i < 768; i++)
        CHECK(write(fd, buf, 4096) == 4096);
    CHECK(write(fd, buf, 7) == 7);
    close(fd);
    free(buf);
    free(p);
    char *ld = bt_fmt("top/%s/%s", long_dir, long_file);
    bt_write(src, ld, "deep and long\n");
    free(ld);
    p = path_of("top/link");
    CHECK(symlink("file.txt", p) == 0);
    free(p);
    p = path_of("top/longlink");
    CHECK(symlink(long_target, p) == 0);
    free(p);
    char *h1 = path_of("top/hard1"), *h2 = path_of("top/hard2");
    CHECK(link(h1, h2) == 0);
    free(h1);
    free(h2);
    p = path_of("top/fifo");
    CHECK(mkfifo(p, 0600) == 0);
    free(p);
    p = path_of("top/xattr.txt");
    static const char bin[] = {'v', 0, 'a', (char)0xff, 'l'};
    CHECK(setxattr(p, "user.test", bin, sizeof(bin), 0) == 0);
    CHECK(setxattr(p, "user.a", "first", 5, 0) == 0);
    if (root) {
        /* vfs_cap_data v2: CAP_NET_BIND_SERVICE permitted + effective */
        static const unsigned char cap[20] = {0x01, 0, 0, 0x02, 0, 0x04, 0, 0};
        CHECK(setxattr(p, "security.capability", cap, sizeof(cap), 0) == 0);
    }
    free(p);
    if (root) {
        p = path_of("top/chr");
        CHECK(mknod(p, S_IFCHR | 0666, makedev(1, 3)) == 0);
        free(p);
        p = path_of("top/blk");
        CHECK(mknod(p, S_IFBLK | 0660, makedev(7, 200)) == 0);
        free(p);
        p = path_of("top/bigid");
        bt_write(src, "top/bigid", "id over 2^21\n");
        CHECK(lchown(p, 3000000, 4000000) == 0);
        free(p);
    }
    p = path_of("top/sub");
    mkdir(p, 0750);
    set_mtime(p, 1600000000, 5);
    free(p);
    p = path_of("top");
    set_mtime(p, 1500000000, 0);
    free(p);
    free(src);
}

static int export_to(const char *rel)
{
    char *src = bt_fmt("%s/src", top);
    char *out = bt_fmt("%s/%s", top, rel);
    int rfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int ofd = open(out, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    struct oci_error *e = NULL;
    struct bt_warnings w = {0};
    int r = oimg_export_tar(rfd, ofd, false, bt_warn, &w, &e);
    if (r < 0)
        fprintf(stderr, "    export: %s\n", e ? e->msg : "?");
    oci_error_free(e);
    CHECK_INT(w.n, 0);
    bt_warnings_clear(&w);
    close(rfd);
    close(ofd);
    free(src);
    free(out);
    return r;
}

static void test_libarchive_reads_it(void)
{
    CHECK(export_to("a.tar") == 0);
    char *tarp = bt_fmt("%s/a.tar", top);
    struct stat st;
    CHECK(stat(tarp, &st) == 0 && st.st_size % 10240 == 0);
    struct archive *ar = archive_read_new();
    archive_read_support_format_tar(ar);
    CHECK(archive_read_open_filename(ar, tarp, 65536) == ARCHIVE_OK);
    struct archive_entry *e;
    char prev[1024] = "";
    int n = 0, seen_long = 0, seen_hard = 0, seen_x = 0, seen_big = 0;
    bool sorted = true;
    while (archive_read_next_header(ar, &e) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        n++;
        /* pre-order with names sorted per directory: "top/" comes first */
        if (n == 1)
            CHECK_STR(name, "top/");
        if (strncmp(name, "top/", 4) != 0)
            sorted = false;
        snprintf(prev, sizeof(prev), "%s", name);
        CHECK(archive_entry_uname(e) == NULL || !*archive_entry_uname(e));
        if (strcmp(name, "top/file.txt") == 0) {
            CHECK_INT(archive_entry_size(e), 6);
            CHECK_INT(archive_entry_perm(e), 0640);
            CHECK_INT(archive_entry_mtime(e), 1700000000);
            CHECK_INT(archive_entry_mtime_nsec(e), 123456789);
            if (root) {
                CHECK_INT(archive_entry_uid(e), 1234);
                CHECK_INT(archive_entry_gid(e), 5678);
            }
            char data[16] = "";
            CHECK_INT(archive_read_data(ar, data, sizeof(data)), 6);
            CHECK(memcmp(data, "hello\n", 6) == 0);
        } else if (strcmp(name, "top/setuid") == 0) {
            CHECK_INT(archive_entry_perm(e), 04755);
        } else if (strcmp(name, "top/big.bin") == 0) {
            CHECK_INT(archive_entry_size(e), 768 * 4096 + 7);
            seen_big = 1;
        } else if (strstr(name, long_file)) {
            char *want = bt_fmt("top/%s/%s", long_dir, long_file);
            CHECK_STR(name, want);
            free(want);
            seen_long++;
        } else if (strcmp(name, "top/longlink") == 0) {
            CHECK_STR(archive_entry_symlink(e), long_target);
            seen_long++;
        } else if (strcmp(name, "top/link") == 0) {
            CHECK_STR(archive_entry_symlink(e), "file.txt");
        } else if (strcmp(name, "top/hard2") == 0) {
            CHECK_STR(archive_entry_hardlink(e), "top/hard1");
            CHECK_INT(archive_entry_size(e), 0);
            seen_hard = 1;
        } else if (strcmp(name, "top/hard1") == 0) {
            CHECK(archive_entry_hardlink(e) == NULL);
            CHECK_INT(archive_entry_size(e), 13);
        } else if (strcmp(name, "top/fifo") == 0) {
            CHECK_INT(archive_entry_filetype(e), AE_IFIFO);
        } else if (strcmp(name, "top/chr") == 0) {
            CHECK_INT(archive_entry_filetype(e), AE_IFCHR);
            CHECK_INT(archive_entry_rdevmajor(e), 1);
            CHECK_INT(archive_entry_rdevminor(e), 3);
        } else if (strcmp(name, "top/blk") == 0) {
            CHECK_INT(archive_entry_filetype(e), AE_IFBLK);
            CHECK_INT(archive_entry_rdevminor(e), 200);
        } else if (strcmp(name, "top/bigid") == 0) {
            CHECK_INT(archive_entry_uid(e), 3000000);
            CHECK_INT(archive_entry_gid(e), 4000000);
        } else if (strcmp(name, "top/sub/") == 0) {
            CHECK_INT(archive_entry_filetype(e), AE_IFDIR);
            CHECK_INT(archive_entry_perm(e), 0750);
            CHECK_INT(archive_entry_mtime_nsec(e), 5);
        } else if (strcmp(name, "top/xattr.txt") == 0) {
            const char *k;
            const void *v;
            size_t sz;
            int nx = 0;
            archive_entry_xattr_reset(e);
            while (archive_entry_xattr_next(e, &k, &v, &sz) == ARCHIVE_OK) {
                nx++;
                if (strcmp(k, "user.test") == 0)
                    CHECK(sz == 5 && memcmp(v, "v\0a\xffl", 5) == 0);
                else if (strcmp(k, "user.a") == 0)
                    CHECK(sz == 5 && memcmp(v, "first", 5) == 0);
                else if (strcmp(k, "security.capability") == 0)
                    CHECK_INT(sz, 20);
                else
                    CHECK(!"unexpected xattr");
            }
            CHECK_INT(nx, root ? 3 : 2);
            seen_x = 1;
        }
    }
    CHECK(sorted);
    CHECK_INT(seen_long, 2);
    CHECK(seen_hard && seen_x && seen_big);
    CHECK_INT(n, root ? 17 : 14);
    archive_read_free(ar);
    free(tarp);
}

/* GNU tar lists it without complaint and extracts the same tree. */
static void test_gnu_tar_roundtrip(void)
{
    if (access("/usr/bin/python3", X_OK) != 0 || bt_sh("tar --version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "    skipped: no tar or /usr/bin/python3\n");
        return;
    }
    CHECK(export_to("g.tar") == 0);
    CHECK_INT(bt_sh("cd %s && tar -tvf g.tar >list 2>err && ! test -s err", top), 0);
    CHECK_INT(bt_sh("cd %s && mkdir -p x && tar --xattrs --xattrs-include='*' --numeric-owner "
                    "-xpf g.tar -C x 2>&1 >&2",
                    top),
              0);
    const char *src = getenv("OCIIMG_SRCDIR");
    CHECK_INT(bt_sh("/usr/bin/python3 %s/tests/lib/treecmp.py %s/src/top %s/x/top >&2",
                    src ? src : ".", top, top),
              0);
}

/* Same tree, same bytes; and a different mtime changes them. */
static void test_deterministic(void)
{
    CHECK(export_to("d1.tar") == 0);
    CHECK(export_to("d2.tar") == 0);
    CHECK_INT(bt_sh("cmp -s %s/d1.tar %s/d2.tar", top, top), 0);
    char *p = path_of("top/empty");
    set_mtime(p, 1, 0);
    free(p);
    CHECK(export_to("d3.tar") == 0);
    CHECK(bt_sh("cmp -s %s/d1.tar %s/d3.tar", top, top) != 0);
}

/* A rootless tree: the owner comes from user.rootlesscontainers, which is
 * not exported itself; a socket is left out with a warning. */
static void test_rootless_owner_and_socket(void)
{
    char *dir = bt_fmt("%s/rl", top);
    mkdir(dir, 0755);
    bt_write(dir, "f", "x");
    char *f = bt_fmt("%s/f", dir);
    uint8_t v[12];
    size_t n = oimg_apply_rootless_encode(v, 1000, 0);
    CHECK(setxattr(f, "user.rootlesscontainers", v, n, 0) == 0);
    /* no xattr: container root, whoever owns it on disk */
    bt_write(dir, "g", "y");
    char *g = bt_fmt("%s/g", dir);
    if (root)
        CHECK(lchown(g, 4242, 4242) == 0);
    free(g);
    char *s = bt_fmt("%s/sock", dir);
    int sfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s);
    CHECK(bind(sfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    int rfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char *out = bt_fmt("%s/rl.tar", top);
    int ofd = open(out, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    struct bt_warnings w = {0};
    CHECK_OK(oimg_export_tar(rfd, ofd, true, bt_warn, &w, T_ERR));
    CHECK(bt_warned(&w, "sock"));
    bt_warnings_clear(&w);
    close(ofd);
    close(rfd);
    close(sfd);
    struct archive *ar = archive_read_new();
    archive_read_support_format_tar(ar);
    CHECK(archive_read_open_filename(ar, out, 65536) == ARCHIVE_OK);
    struct archive_entry *e;
    int count = 0;
    while (archive_read_next_header(ar, &e) == ARCHIVE_OK) {
        count++;
        bool is_f = strcmp(archive_entry_pathname(e), "f") == 0;
        CHECK(is_f || strcmp(archive_entry_pathname(e), "g") == 0);
        CHECK_INT(archive_entry_uid(e), is_f ? 1000 : 0);
        CHECK_INT(archive_entry_gid(e), 0);
        const char *k;
        const void *val;
        size_t sz;
        archive_entry_xattr_reset(e);
        CHECK(archive_entry_xattr_next(e, &k, &val, &sz) != ARCHIVE_OK);
    }
    CHECK_INT(count, 2);
    archive_read_free(ar);
    free(out);
    free(s);
    free(f);
    free(dir);
}

/* An empty tree is a valid empty archive. */
static void test_empty(void)
{
    char *dir = bt_fmt("%s/empty-tree", top);
    mkdir(dir, 0755);
    int rfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char *out = bt_fmt("%s/empty.tar", top);
    int ofd = open(out, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    CHECK_OK(oimg_export_tar(rfd, ofd, false, NULL, NULL, T_ERR));
    close(ofd);
    close(rfd);
    struct stat st;
    CHECK(stat(out, &st) == 0 && st.st_size == 10240);
    CHECK_INT(bt_sh("tar -tf %s >/dev/null 2>&1", out), 0);
    free(out);
    free(dir);
}

int main(void)
{
    root = geteuid() == 0;
    top = bt_tmpdir("bundle-tar");
    make_tree();
    T_RUN(test_libarchive_reads_it);
    T_RUN(test_gnu_tar_roundtrip);
    T_RUN(test_deterministic);
    T_RUN(test_rootless_owner_and_socket);
    T_RUN(test_empty);
    bt_rm_rf(top);
    free(top);
    return t_done();
}
