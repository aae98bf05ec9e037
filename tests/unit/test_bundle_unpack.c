/* oimg_unpack and oimg_export against layouts built here: a bundle appears
 * complete or not at all (digest, size and diff_id mismatches, unknown
 * users), existing destinations (empty, non-empty, --force, symlinks),
 * rootfs-only, and the safe removal of trees (deep, read-only, symlinks out,
 * mount points). */
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <ociimg/bundle.h>
#include <ociimg/cleanup.h>
#include <ociimg/digest.h>
#include <ociimg/json.h>
#include <ociimg/layout.h>

#include "bundle_t.h"

static char *top;
static struct oimg_layout *lay;

static struct oimg_digest put(struct bt_buf b)
{
    struct oimg_digest d;
    struct oci_error *e = NULL;
    if (oimg_layout_blob_put(&d, lay, b.p, b.n, &e) < 0) {
        fprintf(stderr, "put: %s\n", e ? e->msg : "?");
        exit(1);
    }
    return d;
}

/* An image of one layer: blob (as stored) with media type mt, diff_id,
 * config fields; tagged name.  size_delta skews the declared layer size. */
static void image(const char *name, struct bt_buf blob, const char *mt, struct oimg_digest diff_id,
                  const char *config_fields, long size_delta)
{
    struct oimg_digest ld = put(blob);
    char *cfg = bt_fmt("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{%s},"
                       "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
                       config_fields, diff_id.str);
    struct bt_buf cb = {(unsigned char *)cfg, strlen(cfg)};
    struct oimg_digest cd = put(cb);
    char *man = bt_fmt("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\","
                       "\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":\"%s\","
                       "\"digest\":\"%s\",\"size\":%ld}]}",
                       OIMG_MT_OCI_MANIFEST, OIMG_MT_OCI_CONFIG, cd.str, cb.n, mt, ld.str,
                       (long)blob.n + size_delta);
    struct bt_buf mb = {(unsigned char *)man, strlen(man)};
    struct oimg_descriptor desc = {0};
    desc.media_type = strdup(OIMG_MT_OCI_MANIFEST);
    desc.digest = put(mb);
    desc.size = (int64_t)mb.n;
    struct oci_error *e = NULL;
    if (oimg_layout_tag(lay, name, &desc, &e) < 0) {
        fprintf(stderr, "tag: %s\n", e ? e->msg : "?");
        exit(1);
    }
    oimg_descriptor_clear(&desc);
    free(cfg);
    free(man);
}

static struct bt_buf good_tar, good_gz;

static void setup(void)
{
    top = bt_tmpdir("bundle-unpack");
    char *src = bt_fmt("%s/src", top);
    mkdir(src, 0755);
    bt_write(src, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/x\n");
    bt_write(src, "etc/group", "root:x:0:\napp:x:1000:\n");
    bt_write(src, "bin/hello", "#!/bin/sh\necho hello\n");
    bt_write(src, "home/app/.profile", "export A=1\n");
    char *p = bt_fmt("%s/etc/localtime", src);
    CHECK(symlink("/usr/share/zoneinfo/UTC", p) == 0);
    free(p);
    good_tar = bt_tar_of(src);
    good_gz = bt_gzip_of(good_tar, 6);
    free(src);

    char *lp = bt_fmt("%s/layout", top);
    struct oci_error *e = NULL;
    if (oimg_layout_open(&lay, lp, OIMG_LAYOUT_CREATE, &e) < 0) {
        fprintf(stderr, "layout: %s\n", e ? e->msg : "?");
        exit(1);
    }
    free(lp);
    struct oimg_digest diff = bt_sha(good_tar);
    image("good", good_gz, OIMG_MT_OCI_LAYER_GZIP, diff,
          "\"Cmd\":[\"/bin/hello\"],\"User\":\"app\"", 0);
    image("plain", good_tar, OIMG_MT_OCI_LAYER, diff, "\"Cmd\":[\"/bin/hello\"]", 0);
    struct oimg_digest wrong = bt_sha((struct bt_buf){(unsigned char *)"x", 1});
    image("bad-diffid", good_gz, OIMG_MT_OCI_LAYER_GZIP, wrong, "\"Cmd\":[\"x\"]", 0);
    image("bad-user", good_gz, OIMG_MT_OCI_LAYER_GZIP, diff, "\"User\":\"nobody\"", 0);
    image("short-size", good_gz, OIMG_MT_OCI_LAYER_GZIP, diff, "\"Cmd\":[\"x\"]", -10);
    image("long-size", good_gz, OIMG_MT_OCI_LAYER_GZIP, diff, "\"Cmd\":[\"x\"]", +10);

    /* The same tar compressed differently, stored under the digest of the
     * first compression: diff_id right, blob digest wrong. */
    struct bt_buf gz1 = bt_gzip_of(good_tar, 1);
    image("bad-blob", gz1, OIMG_MT_OCI_LAYER_GZIP, diff, "\"Cmd\":[\"x\"]", 0);
    struct bt_buf gz9 = bt_gzip_of(good_tar, 9);
    if (gz9.n == gz1.n)
        gz9 = bt_gzip_of(good_tar, 0);
    struct oimg_digest g1 = bt_sha(gz1);
    char *rel = bt_fmt("%s/layout/blobs/sha256/%s", top, oimg_digest_encoded(&g1));
    int fd = open(rel, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) {
        chmod(rel, 0644);
        fd = open(rel, O_WRONLY | O_TRUNC | O_CLOEXEC);
    }
    CHECK(fd >= 0 && write(fd, gz9.p, gz9.n) == (ssize_t)gz9.n);
    close(fd);
    /* declared size must match what is stored now */
    image("bad-blob-sized", gz1, OIMG_MT_OCI_LAYER_GZIP, diff, "\"Cmd\":[\"x\"]",
          (long)gz9.n - (long)gz1.n);
    free(rel);
    free(gz1.p);
    free(gz9.p);
}

static int do_unpack(const char *name, const char *dest, bool force, bool rootfs_only,
                     struct oci_error **err)
{
    struct oimg_descriptor d = {0};
    int r = oimg_layout_resolve(&d, lay, name, NULL, err);
    if (r < 0)
        return r;
    struct oimg_unpack_opts o;
    oimg_unpack_opts_init(&o);
    o.force = force;
    o.rootfs_only = rootfs_only;
    o.no_sync = true;
    struct oimg_platform p = {.os = "linux", .architecture = "amd64"};
    o.platform = &p;
    r = oimg_unpack(NULL, lay, &d, dest, &o, err);
    oimg_descriptor_clear(&d);
    return r;
}

/* Names in dir other than the expected ones (a leftover temp dir). */
#define leftovers(dir, ...) leftovers_(dir, (const char *const[]){__VA_ARGS__, NULL})
static int leftovers_(const char *dir, const char *const *expect)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        bool known = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
        for (const char *const *e = expect; !known && *e; e++)
            known = !strcmp(de->d_name, *e);
        if (known)
            continue;
        fprintf(stderr, "    leftover: %s/%s\n", dir, de->d_name);
        n++;
    }
    if (d)
        closedir(d);
    return n;
}

static char *mkcase(const char *name)
{
    char *p = bt_fmt("%s/%s", top, name);
    mkdir(p, 0755);
    return p;
}

static void test_new_bundle(void)
{
    char *dir = mkcase("new");
    char *dest = bt_fmt("%s/bundle", dir);
    CHECK_OK(do_unpack("good", dest, false, false, T_ERR));
    struct stat st;
    CHECK(stat(dest, &st) == 0 && (st.st_mode & 07777) == 0700);
    char *f = bt_fmt("%s/rootfs/bin/hello", dest);
    CHECK(stat(f, &st) == 0 && st.st_size == 21);
    free(f);
    f = bt_fmt("%s/config.json", dest);
    json_object *cfg = json_object_from_file(f);
    CHECK(cfg != NULL);
    json_object *proc = NULL, *user = NULL, *uid = NULL;
    CHECK(json_object_object_get_ex(cfg, "process", &proc) &&
          json_object_object_get_ex(proc, "user", &user) &&
          json_object_object_get_ex(user, "uid", &uid) && json_object_get_int(uid) == 1000);
    json_object_put(cfg);
    free(f);
    CHECK_INT(leftovers(dir, "bundle"), 0);
    /* trailing slash, and an uncompressed layer */
    char *dest2 = bt_fmt("%s/plain/", dir);
    CHECK_OK(do_unpack("plain", dest2, false, false, T_ERR));
    CHECK_INT(leftovers(dir, "bundle", "plain"), 0);
    free(dest2);
    free(dest);
    free(dir);
}

static void test_failures_leave_nothing(void)
{
    static const struct {
        const char *name;
        int code;
        const char *msg;
    } cases[] = {
        {"bad-diffid", -OCI_ERR_DIGEST_MISMATCH, "diff_id"},
        {"bad-blob-sized", -OCI_ERR_DIGEST_MISMATCH, "hashes to"},
        {"short-size", -OCI_ERR_DIGEST_MISMATCH, "larger than"},
        {"long-size", -OCI_ERR_DIGEST_MISMATCH, "declares"},
        {"bad-user", -OCI_ERR_INVALID, "nobody"},
    };
    char *dir = mkcase("fail");
    for (size_t i = 0; i < OCI_ARRAY_SIZE(cases); i++) {
        char *dest = bt_fmt("%s/b", dir);
        struct oci_error *e = NULL;
        int r = do_unpack(cases[i].name, dest, false, false, &e);
        if (r != cases[i].code)
            fprintf(stderr, "    %s: %d %s\n", cases[i].name, r, e ? e->msg : "");
        CHECK_INT(r, cases[i].code);
        CHECK(bt_err_has(e, cases[i].msg));
        oci_error_free(e);
        CHECK(access(dest, F_OK) != 0);
        CHECK_INT(leftovers(dir, NULL), 0);
        free(dest);
    }
    /* a failure replacing an existing empty directory leaves it as it was */
    char *dest = bt_fmt("%s/keep", dir);
    mkdir(dest, 0711);
    struct oci_error *e = NULL;
    CHECK(do_unpack("bad-diffid", dest, true, false, &e) < 0);
    oci_error_free(e);
    struct stat st;
    CHECK(stat(dest, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0711);
    CHECK_INT(leftovers(dir, "keep"), 0);
    free(dest);
    free(dir);
}

static void test_existing(void)
{
    char *dir = mkcase("exist");
    /* an empty directory is replaced */
    char *dest = bt_fmt("%s/empty", dir);
    mkdir(dest, 0755);
    CHECK_OK(do_unpack("good", dest, false, false, T_ERR));
    char *f = bt_fmt("%s/config.json", dest);
    CHECK(access(f, F_OK) == 0);
    free(f);
    free(dest);

    /* non-empty without force: refused, untouched */
    dest = bt_fmt("%s/full", dir);
    mkdir(dest, 0755);
    bt_write(dest, "sentinel", "keep me");
    struct oci_error *e = NULL;
    CHECK_INT(do_unpack("good", dest, false, false, &e), -OCI_ERR_EXISTS);
    CHECK(bt_err_has(e, "--force"));
    oci_error_clear(&e);
    f = bt_fmt("%s/sentinel", dest);
    CHECK(access(f, F_OK) == 0);
    /* with force: replaced, the old tree gone */
    CHECK_OK(do_unpack("good", dest, true, false, T_ERR));
    CHECK(access(f, F_OK) != 0);
    free(f);
    f = bt_fmt("%s/rootfs/bin/hello", dest);
    CHECK(access(f, F_OK) == 0);
    free(f);
    free(dest);

    /* a file in the way: refused; with force replaced */
    dest = bt_fmt("%s/file", dir);
    bt_write(dir, "file", "x");
    CHECK_INT(do_unpack("good", dest, false, false, &e), -OCI_ERR_EXISTS);
    oci_error_clear(&e);
    CHECK_OK(do_unpack("good", dest, true, false, T_ERR));
    struct stat st;
    CHECK(lstat(dest, &st) == 0 && S_ISDIR(st.st_mode));
    free(dest);

    /* a symlink to a directory: never followed; force replaces the link,
     * and the directory it pointed at keeps its content */
    char *target = bt_fmt("%s/elsewhere", top);
    mkdir(target, 0755);
    bt_write(target, "precious", "do not delete");
    dest = bt_fmt("%s/link", dir);
    CHECK(symlink(target, dest) == 0);
    CHECK_INT(do_unpack("good", dest, false, false, &e), -OCI_ERR_EXISTS);
    oci_error_clear(&e);
    CHECK_OK(do_unpack("good", dest, true, false, T_ERR));
    CHECK(lstat(dest, &st) == 0 && S_ISDIR(st.st_mode));
    f = bt_fmt("%s/precious", target);
    CHECK(access(f, F_OK) == 0);
    free(f);
    free(dest);
    free(target);
    CHECK_INT(leftovers(dir, "empty", "full", "file", "link"), 0);
    free(dir);
}

static void test_rootfs_only_and_export(void)
{
    char *dir = mkcase("rootfs-only");
    char *dest = bt_fmt("%s/rootfs", dir);
    CHECK_OK(do_unpack("good", dest, false, true, T_ERR));
    char *f = bt_fmt("%s/bin/hello", dest);
    CHECK(access(f, F_OK) == 0);
    free(f);
    f = bt_fmt("%s/config.json", dest);
    CHECK(access(f, F_OK) != 0);
    free(f);
    struct stat st;
    CHECK(stat(dest, &st) == 0 && (st.st_mode & 0777) == 0755);
    CHECK_INT(leftovers(dir, "rootfs"), 0);

    /* export = the same tree as a tar; here it is byte-identical to the
     * layer, which our writer made from the source tree */
    struct oimg_descriptor d = {0};
    CHECK_OK(oimg_layout_resolve(&d, lay, "good", NULL, T_ERR));
    struct oimg_unpack_opts o;
    oimg_unpack_opts_init(&o);
    o.no_sync = true;
    char *out = bt_fmt("%s/out.tar", dir);
    CHECK_OK(oimg_export_file(NULL, lay, &d, out, &o, T_ERR));
    int fd = open(out, O_RDONLY | O_CLOEXEC);
    struct bt_buf b = {malloc(good_tar.n + 1), 0};
    b.n = (size_t)read(fd, b.p, good_tar.n + 1);
    close(fd);
    CHECK(b.n == good_tar.n && memcmp(b.p, good_tar.p, b.n) == 0);
    free(b.p);
    CHECK_INT(leftovers(dir, "rootfs", "out.tar"), 0);
    /* a failing export leaves no file and no temp tree */
    struct oimg_descriptor bad = {0};
    CHECK_OK(oimg_layout_resolve(&bad, lay, "bad-diffid", NULL, T_ERR));
    char *out2 = bt_fmt("%s/bad.tar", dir);
    struct oci_error *e = NULL;
    CHECK(oimg_export_file(NULL, lay, &bad, out2, &o, &e) < 0);
    oci_error_free(e);
    CHECK(access(out2, F_OK) != 0);
    CHECK_INT(leftovers(dir, "rootfs", "out.tar"), 0);
    oimg_descriptor_clear(&bad);
    oimg_descriptor_clear(&d);
    free(out2);
    free(out);
    free(dest);
    free(dir);
}

/* ---- removal ---- */

static void test_remove_tree(void)
{
    char *dir = mkcase("rm");
    char *outside = bt_fmt("%s/outside", top);
    mkdir(outside, 0755);
    bt_write(outside, "sentinel", "stay");
    char *t = bt_fmt("%s/t", dir);
    mkdir(t, 0755);
    /* 200 levels (more than the fds kept open), read-only ones among them */
    char *p = strdup(t);
    for (int i = 0; i < 200; i++) {
        char *n = bt_fmt("%s/d%d", p, i % 10);
        mkdir(n, 0755);
        if (i % 3 == 0) {
            bt_write(n, "file", "x");
            char *l = bt_fmt("%s/out", n);
            CHECK(symlink(outside, l) == 0);
            free(l);
        }
        free(p);
        p = n;
    }
    for (char *q = p + strlen(t); q > p; q--) /* make some read-only on the way back */
        if (*q == '/' && (q - p) % 7 == 0) {
            *q = '\0';
            chmod(p, 0555);
            *q = '/';
        }
    free(p);
    /* wide: more subdirectories than one batch */
    for (int i = 0; i < 5000; i++) {
        char *n = bt_fmt("%s/w%04d", t, i);
        mkdir(n, 0700);
        free(n);
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK_OK(oimg_bundle_remove_tree(dfd, "t", T_ERR));
    CHECK(access(t, F_OK) != 0);
    char *s = bt_fmt("%s/sentinel", outside);
    CHECK(access(s, F_OK) == 0);
    free(s);
    /* missing is fine; a symlink is removed, never followed */
    CHECK_OK(oimg_bundle_remove_tree(dfd, "t", T_ERR));
    char *l = bt_fmt("%s/l", dir);
    CHECK(symlink(outside, l) == 0);
    CHECK_OK(oimg_bundle_remove_tree(dfd, "l", T_ERR));
    CHECK(access(outside, F_OK) == 0);
    free(l);
    close(dfd);

    /* a mount point inside: refused, and the mounted content survives
     * (in a private mount namespace, as root) */
    if (geteuid() == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                _exit(77);
            char *m = bt_fmt("%s/m/mnt", dir);
            char *mp = bt_fmt("%s/m", dir);
            mkdir(mp, 0755);
            mkdir(m, 0755);
            if (mount("tmpfs", m, "tmpfs", 0, NULL) < 0)
                _exit(77);
            bt_write(m, "inside", "mounted");
            int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            struct oci_error *e = NULL;
            int r = oimg_bundle_remove_tree(fd, "m", &e);
            char *in = bt_fmt("%s/inside", m);
            int ok = r < 0 && e && strstr(e->msg, "mount point") && access(in, F_OK) == 0;
            if (!ok)
                fprintf(stderr, "    mount case: r=%d %s\n", r, e ? e->msg : "");
            umount(m);
            _exit(ok ? 0 : 1);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        CHECK(WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 77));
        if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
            fprintf(stderr, "    mount-point case skipped: cannot unshare or mount\n");
    }
    free(t);
    free(outside);
    free(dir);
}

int main(void)
{
    setup();
    T_RUN(test_new_bundle);
    T_RUN(test_failures_leave_nothing);
    T_RUN(test_existing);
    T_RUN(test_rootfs_only_and_export);
    T_RUN(test_remove_tree);
    oimg_layout_free(lay);
    free(good_tar.p);
    free(good_gz.p);
    bt_rm_rf(top);
    free(top);
    return t_done();
}
