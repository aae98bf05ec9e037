/* Config.User resolution: every form, range checks (no wrap-around into
 * root), unknown names, and /etc/passwd and /etc/group read only inside the
 * rootfs (symlinks, FIFOs, devices, size and line caps). */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <ociimg/bundle.h>
#include <ociimg/cleanup.h>

#include "bundle_t.h"

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
                             "# a comment\n"
                             "\n"
                             "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                             "app:x:1000:1000:app:/home/app:/bin/sh\r\n"
                             "+nis\n"
                             "nohome:x:1001:1001::\n"
                             "big:x:4294967294:4294967294:big:/big:/bin/sh\n"
                             "short:x\n";
static const char group[] = "root:x:0:\n"
                            "daemon:x:1:\n"
                            "staff:x:50:app,daemon\n"
                            "wheel:x:10:root,app\n"
                            "app:x:1000:\n"
                            "audio:x:29:nohome\n"
                            "dup:x:50:app\n";

static char *top;
static int rootfd = -1;

static void setup(void)
{
    top = bt_tmpdir("bundle-user");
    char *r = bt_fmt("%s/rootfs", top);
    mkdir(r, 0755);
    bt_write(r, "etc/passwd", passwd);
    bt_write(r, "etc/group", group);
    rootfd = open(r, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(r);
}

/* A second rootfs whose etc files are set up by each test. */
static int other_root(const char *name)
{
    char *r = bt_fmt("%s/%s", top, name);
    mkdir(r, 0755);
    char *etc = bt_fmt("%s/etc", r);
    mkdir(etc, 0755);
    int fd = open(r, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(etc);
    free(r);
    return fd;
}

static struct oimg_bundle_user must(int fd, const char *spec)
{
    struct oimg_bundle_user u = {0};
    struct oci_error *e = NULL;
    if (oimg_bundle_resolve_user(&u, fd, spec, &e) < 0) {
        fprintf(stderr, "    resolve `%s`: %s\n", spec ? spec : "(null)", e ? e->msg : "?");
        CHECK(0);
    }
    oci_error_free(e);
    return u;
}

/* Fails, and the message names `needle`. */
static void fails(int fd, const char *spec, const char *needle)
{
    struct oimg_bundle_user u = {0};
    struct oci_error *e = NULL;
    int r = oimg_bundle_resolve_user(&u, fd, spec, &e);
    if (r >= 0)
        fprintf(stderr, "    `%s` resolved to %u:%u\n", spec, u.uid, u.gid);
    CHECK(r < 0);
    CHECK(u.uid == 0 && u.additional_gids == NULL);
    if (r < 0 && needle)
        CHECK(bt_err_has(e, needle));
    oci_error_free(e);
}

static void test_parse_id(void)
{
    uint32_t v = 7;
    struct oci_error *e = NULL;
    CHECK_INT(oimg_bundle_parse_id("0", 1, &v, NULL), 1);
    CHECK_INT(v, 0);
    CHECK_INT(oimg_bundle_parse_id("0001000", 7, &v, NULL), 1);
    CHECK_INT(v, 1000);
    CHECK_INT(oimg_bundle_parse_id("4294967294", 10, &v, NULL), 1);
    CHECK(v == 4294967294u);
    v = 7;
    /* -1 to the kernel, 2^32 would wrap to root, and far beyond. */
    CHECK_INT(oimg_bundle_parse_id("4294967295", 10, &v, &e), -OCI_ERR_INVALID);
    CHECK(bt_err_has(e, "out of range"));
    oci_error_clear(&e);
    CHECK_INT(oimg_bundle_parse_id("4294967296", 10, &v, NULL), -OCI_ERR_INVALID);
    CHECK_INT(oimg_bundle_parse_id("18446744073709551616", 20, &v, NULL), -OCI_ERR_INVALID);
    CHECK_INT(oimg_bundle_parse_id("99999999999999999999999999", 26, &v, NULL), -OCI_ERR_INVALID);
    CHECK_INT(v, 7);
    /* Not numbers at all: names. */
    CHECK_INT(oimg_bundle_parse_id("", 0, &v, NULL), 0);
    CHECK_INT(oimg_bundle_parse_id("-1", 2, &v, NULL), 0);
    CHECK_INT(oimg_bundle_parse_id("+1", 2, &v, NULL), 0);
    CHECK_INT(oimg_bundle_parse_id(" 1", 2, &v, NULL), 0);
    CHECK_INT(oimg_bundle_parse_id("1a", 2, &v, NULL), 0);
    CHECK_INT(oimg_bundle_parse_id("0x10", 4, &v, NULL), 0);
    /* len bounds the parse. */
    CHECK_INT(oimg_bundle_parse_id("12:34", 2, &v, NULL), 1);
    CHECK_INT(v, 12);
}

static void test_forms(void)
{
    struct oimg_bundle_user u;

    u = must(rootfd, NULL); /* absent: root */
    CHECK_INT(u.uid, 0);
    CHECK_INT(u.gid, 0);
    CHECK_STR(u.home, "/root");
    CHECK_INT(u.n_additional_gids, 0);
    oimg_bundle_user_clear(&u);

    u = must(rootfd, "");
    CHECK_INT(u.uid, 0);
    CHECK_STR(u.home, "/root");
    oimg_bundle_user_clear(&u);

    /* user: uid, gid and home from passwd, memberships from group (dups
     * folded), CRLF line endings tolerated. */
    u = must(rootfd, "app");
    CHECK_INT(u.uid, 1000);
    CHECK_INT(u.gid, 1000);
    CHECK_STR(u.home, "/home/app");
    CHECK_INT(u.n_additional_gids, 2);
    if (u.n_additional_gids == 2) {
        CHECK_INT(u.additional_gids[0], 50);
        CHECK_INT(u.additional_gids[1], 10);
    }
    oimg_bundle_user_clear(&u);

    /* uid: verbatim; gid and home from its entry; no additionalGids. */
    u = must(rootfd, "1000");
    CHECK_INT(u.uid, 1000);
    CHECK_INT(u.gid, 1000);
    CHECK_STR(u.home, "/home/app");
    CHECK_INT(u.n_additional_gids, 0);
    oimg_bundle_user_clear(&u);

    /* a uid nobody has: gid 0, no home */
    u = must(rootfd, "4242");
    CHECK_INT(u.uid, 4242);
    CHECK_INT(u.gid, 0);
    CHECK(u.home == NULL);
    oimg_bundle_user_clear(&u);

    /* user:group */
    u = must(rootfd, "app:staff");
    CHECK_INT(u.uid, 1000);
    CHECK_INT(u.gid, 50);
    CHECK_INT(u.n_additional_gids, 0); /* a group was given */
    CHECK_STR(u.home, "/home/app");
    oimg_bundle_user_clear(&u);

    /* uid:gid, both verbatim, even unknown ones */
    u = must(rootfd, "5000:6000");
    CHECK_INT(u.uid, 5000);
    CHECK_INT(u.gid, 6000);
    oimg_bundle_user_clear(&u);

    /* user:gid */
    u = must(rootfd, "daemon:77");
    CHECK_INT(u.uid, 1);
    CHECK_INT(u.gid, 77);
    CHECK_INT(u.n_additional_gids, 0);
    oimg_bundle_user_clear(&u);

    /* uid:group */
    u = must(rootfd, "1000:wheel");
    CHECK_INT(u.uid, 1000);
    CHECK_INT(u.gid, 10);
    oimg_bundle_user_clear(&u);

    /* the largest id */
    u = must(rootfd, "big");
    CHECK(u.uid == 4294967294u && u.gid == 4294967294u);
    oimg_bundle_user_clear(&u);

    /* an entry with an empty home */
    u = must(rootfd, "nohome");
    CHECK(u.home == NULL);
    CHECK_INT(u.n_additional_gids, 1);
    oimg_bundle_user_clear(&u);

    /* numeric forms need no rootfs at all */
    u = must(-1, "123:456");
    CHECK_INT(u.uid, 123);
    CHECK_INT(u.gid, 456);
    oimg_bundle_user_clear(&u);
}

static void test_errors(void)
{
    fails(rootfd, "nosuchuser", "nosuchuser");
    fails(rootfd, "app:nosuchgroup", "nosuchgroup");
    fails(rootfd, "1000:nosuchgroup", "nosuchgroup");
    /* 2^32 must not become uid 0 */
    fails(rootfd, "4294967296", "out of range");
    fails(rootfd, "4294967295", "out of range");
    fails(rootfd, "app:4294967296", "out of range");
    fails(rootfd, "0:18446744073709551616", "out of range");
    fails(rootfd, ":", NULL);
    fails(rootfd, "app:", NULL);
    fails(rootfd, ":staff", NULL);
    fails(rootfd, "app:staff:x", NULL);
    fails(rootfd, "short", "short"); /* a line with too few fields is no entry */
    fails(-1, "app", "app");
    fails(-1, "0:staff", "staff");
    /* host users must not be found in the rootfs */
    fails(rootfd, "nobody", "nobody");
}

/* passwd entries whose ids do not parse: an error for that user, never 0 */
static void test_bad_entries(void)
{
    int fd = other_root("bad-entries");
    char *r = bt_fmt("%s/bad-entries", top);
    bt_write(r, "etc/passwd",
             "wrap:x:4294967296:0:w:/w:/bin/sh\n"
             "neg:x:-1:0:n:/n:/bin/sh\n"
             "badgid:x:5:99999999999:b:/b:/bin/sh\n"
             "ok:x:7:7:o:/o:/bin/sh\n");
    bt_write(r, "etc/group", "g:x:4294967296:ok\n");
    fails(fd, "wrap", "out of range");
    fails(fd, "neg", "not a number");
    fails(fd, "badgid", "out of range");
    fails(fd, "ok:g", "out of range");
    /* ok's membership in g has an invalid gid: an error, not a skipped group */
    fails(fd, "ok", "out of range");
    /* looking up by uid skips lines that do not parse */
    struct oimg_bundle_user u = must(fd, "7:7");
    CHECK_STR(u.home, "/o");
    oimg_bundle_user_clear(&u);
    close(fd);
    free(r);
}

/* /etc/passwd (or /etc) symlinked at the host's files: the rootfs' own file
 * or an error, never the host's (which has users the rootfs has not). */
static void test_symlink_escape(void)
{
    /* absolute link to /etc/passwd: resolves to itself inside the root */
    int fd = other_root("sym-abs");
    char *r = bt_fmt("%s/sym-abs", top);
    char *p = bt_fmt("%s/etc/passwd", r);
    CHECK(symlink("/etc/passwd", p) == 0);
    fails(fd, "daemon", NULL);
    fails(fd, "root", NULL);
    close(fd);
    free(p);
    free(r);

    /* relative climb out to the host's /etc/passwd: clamped at the rootfs,
     * where it is itself again */
    fd = other_root("sym-rel");
    r = bt_fmt("%s/sym-rel", top);
    p = bt_fmt("%s/etc/passwd", r);
    CHECK(symlink("../../../../../../../../etc/passwd", p) == 0);
    fails(fd, "daemon", "symbolic links");
    fails(fd, "0", "symbolic links");
    close(fd);
    free(p);
    free(r);

    /* a climb to a host file the rootfs lacks: no passwd file at all */
    fd = other_root("sym-rel2");
    r = bt_fmt("%s/sym-rel2", top);
    p = bt_fmt("%s/etc/passwd", r);
    CHECK(symlink("../../../../../../../../etc/hostname", p) == 0);
    fails(fd, "daemon", "has none");
    struct oimg_bundle_user u = must(fd, "0"); /* numeric still works: no entry, no home */
    CHECK(u.home == NULL);
    oimg_bundle_user_clear(&u);
    close(fd);
    free(p);
    free(r);

    /* /etc itself a link to the host's /etc */
    r = bt_fmt("%s/sym-etc", top);
    mkdir(r, 0755);
    p = bt_fmt("%s/etc", r);
    CHECK(symlink("/etc", p) == 0);
    fd = open(r, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    fails(fd, "daemon", NULL);
    close(fd);
    free(p);
    free(r);

    /* a link that stays inside: followed */
    fd = other_root("sym-ok");
    r = bt_fmt("%s/sym-ok", top);
    bt_write(r, "usr/share/passwd.real", "svc:x:321:654:svc:/srv:/bin/sh\n");
    p = bt_fmt("%s/etc/passwd", r);
    CHECK(symlink("/usr/share/passwd.real", p) == 0);
    u = must(fd, "svc");
    CHECK_INT(u.uid, 321);
    CHECK_INT(u.gid, 654);
    CHECK_STR(u.home, "/srv");
    oimg_bundle_user_clear(&u);
    close(fd);
    free(p);
    free(r);
}

/* Not regular files: refused without opening them for reading (a FIFO
 * would block forever, a device could act on open). */
static void test_special_files(void)
{
    int fd = other_root("fifo");
    char *r = bt_fmt("%s/fifo", top);
    char *p = bt_fmt("%s/etc/passwd", r);
    CHECK(mkfifo(p, 0644) == 0);
    fails(fd, "app", "not a regular file");
    close(fd);
    free(p);
    free(r);

    fd = other_root("dir");
    r = bt_fmt("%s/dir", top);
    p = bt_fmt("%s/etc/passwd", r);
    CHECK(mkdir(p, 0755) == 0);
    fails(fd, "app", "not a regular file");
    close(fd);
    free(p);
    free(r);

    if (geteuid() == 0) {
        fd = other_root("dev");
        r = bt_fmt("%s/dev", top);
        p = bt_fmt("%s/etc/passwd", r);
        CHECK(mknod(p, S_IFCHR | 0644, makedev(1, 3)) == 0);
        fails(fd, "app", "not a regular file");
        close(fd);
        free(p);
        free(r);
    }
}

static void test_limits(void)
{
    int fd = other_root("big");
    char *r = bt_fmt("%s/big", top);
    char *p = bt_fmt("%s/etc/passwd", r);
    int f = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    CHECK(f >= 0 && ftruncate(f, OIMG_BUNDLE_MAX_ID_FILE + 1) == 0);
    close(f);
    fails(fd, "app", "limit");
    close(fd);
    free(p);
    free(r);

    /* one line over the line cap */
    fd = other_root("longline");
    r = bt_fmt("%s/longline", top);
    size_t n = OIMG_BUNDLE_MAX_ID_LINE + 10;
    char *line = malloc(n + 64);
    memset(line, 'a', n);
    strcpy(line + n, ":x:5:5::/:/bin/sh\napp:x:1:1::/:/bin/sh\n");
    bt_write(r, "etc/passwd", line);
    fails(fd, "app", "longer than");
    free(line);
    close(fd);
    free(r);

    /* a group file with many memberships stays bounded and deduplicated */
    fd = other_root("groups");
    r = bt_fmt("%s/groups", top);
    bt_write(r, "etc/passwd", "u:x:1:1::/home/u:/bin/sh\n");
    char *g = malloc(3000 * 32);
    size_t o = 0;
    for (int i = 0; i < 3000; i++)
        o += (size_t)sprintf(g + o, "g%d:x:%d:x,u,y\n", i, 100 + i % 1500);
    bt_write(r, "etc/group", g);
    struct oimg_bundle_user u = must(fd, "u");
    CHECK_INT(u.n_additional_gids, 1500);
    oimg_bundle_user_clear(&u);
    free(g);
    close(fd);
    free(r);

    /* no /etc/passwd at all: names fail, numbers work */
    fd = other_root("none");
    fails(fd, "app", "has none");
    u = must(fd, "1000");
    CHECK_INT(u.gid, 0);
    CHECK(u.home == NULL);
    oimg_bundle_user_clear(&u);
    close(fd);
}

int main(void)
{
    setup();
    T_RUN(test_parse_id);
    T_RUN(test_forms);
    T_RUN(test_errors);
    T_RUN(test_bad_entries);
    T_RUN(test_symlink_escape);
    T_RUN(test_special_files);
    T_RUN(test_limits);
    close(rootfd);
    bt_rm_rf(top);
    free(top);
    return t_done();
}
