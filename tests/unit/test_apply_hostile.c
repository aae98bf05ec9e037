/* Hostile layers, one per attack class (testdata/layers/gen.py "hostile"
 * cases, plus a decompression bomb and a diff_id mismatch made here).
 *
 * Each case runs in a child process with its own mount namespace: a private
 * tmpfs is mounted on the fixed path the hostile layers aim at, holding
 * rootfs/ and a sentinel/ directory beside it.  After the layers, the
 * sentinel must be byte-for-byte untouched and the result must be the
 * expected error, or success with the attack confined in the rootfs. */
#include <sched.h>
#include <sys/mount.h>
#include <zlib.h>

#include "t.h"
#include "test_apply_util.h"

static char *tmp;
static const char *work; /* the fixed path the layers aim at */

static int write_file(const char *path, const char *data)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(data, f);
    return fclose(f);
}

/* In the child: private mount namespace, tmpfs on work, rootfs + sentinel. */
static int setup_sandbox(void)
{
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return -1;
    mkdir(work, 0755);
    if (mount("ociimg-test", work, "tmpfs", 0, "mode=0755,size=512m") < 0)
        return -1;
    char p[4096];
    xsnprintf(p, sizeof(p), "%s/rootfs", work);
    if (mkdir(p, 0755) < 0)
        return -1;
    xsnprintf(p, sizeof(p), "%s/sentinel", work);
    if (mkdir(p, 0755) < 0)
        return -1;
    xsnprintf(p, sizeof(p), "%s/sentinel/file", work);
    if (write_file(p, "sentinel data\n") < 0)
        return -1;
    xsnprintf(p, sizeof(p), "%s/sentinel/dir", work);
    if (mkdir(p, 0750) < 0)
        return -1;
    xsnprintf(p, sizeof(p), "%s/sentinel/dir/x", work);
    if (write_file(p, "x\n") < 0)
        return -1;
    /* The snapshot lives outside the work tmpfs the layers aim at. */
    return run(PYTHON " '%s/tests/lib/treecmp.py' --dump '%s/sentinel' > '%s/sentinel-before.json'",
               srcdir(), work, tmp);
}

static bool sentinel_intact(const char *name)
{
    int r = run(PYTHON " '%s/tests/lib/treecmp.py' --spec '%s/sentinel-before.json' "
                       "'%s/sentinel'",
                srcdir(), tmp, work);
    if (r != 0)
        fprintf(stderr, "case %s: THE SENTINEL CHANGED\n", name);
    return r == 0;
}

/* The body of one case, in the sandboxed child; returns the exit status. */
static int run_case(json_object *c)
{
    const char *name = jstr(c, "name");
    if (setup_sandbox() != 0) {
        fprintf(stderr, "case %s: sandbox setup failed: %s\n", name, strerror(errno));
        return 1;
    }
    char gendir[4096], root[4096];
    xsnprintf(gendir, sizeof(gendir), "%s/gen", tmp);
    xsnprintf(root, sizeof(root), "%s/rootfs", work);
    json_object *oj = NULL;
    json_object_object_get_ex(c, "opts", &oj);
    struct oimg_apply_opts opts;
    int warnings = 0;
    opts_from_json(&opts, oj, &warnings);
    char *msg = NULL;
    int r = apply_case(gendir, c, root, &opts, &msg);
    int ok = sentinel_intact(name);
    const char *want = jstr(c, "error");
    if (want) {
        if (r >= 0 || strcmp(oci_error_code_name(-r), want) != 0) {
            fprintf(stderr, "case %s: expected error %s, got %s (%s)\n", name, want,
                    r >= 0 ? "success" : oci_error_code_name(-r), msg);
            ok = 0;
        } else if (!msg || !*msg) {
            fprintf(stderr, "case %s: error without a message\n", name);
            ok = 0;
        } else if (getenv("OCIIMG_TEST_VERBOSE")) {
            fprintf(stderr, "    %s: %s\n", name, msg);
        }
    } else if (r < 0) {
        fprintf(stderr, "case %s: failed: %s\n", name, msg);
        ok = 0;
    }
    const char *spec = jstr(c, "root");
    if (spec && r >= 0) {
        char sp[4096];
        xsnprintf(sp, sizeof(sp), "%s/%s", gendir, spec);
        if (treecmp_spec(sp, root) != 0) {
            fprintf(stderr, "case %s: rootfs differs from %s\n", name, sp);
            ok = 0;
        }
    }
    if (!strcmp(name, "device-rootless") && warnings < 2) {
        fprintf(stderr, "case %s: expected a warning per device, got %d\n", name, warnings);
        ok = 0;
    }
    free(msg);
    return ok ? 0 : 1;
}

static int in_child(int (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0)
        _exit(fn(arg));
    int st;
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static int case_trampoline(void *c)
{
    return run_case(c);
}

static void test_generated(void)
{
    char path[4096];
    xsnprintf(path, sizeof(path), "%s/gen/manifest.json", tmp);
    json_object *m = json_object_from_file(path);
    CHECK(m != NULL);
    json_object *cases;
    CHECK(json_object_object_get_ex(m, "cases", &cases));
    int ran = 0;
    for (size_t i = 0; i < json_object_array_length(cases); i++) {
        json_object *c = json_object_array_get_idx(cases, i);
        if (strcmp(jstr(c, "kind"), "hostile") != 0)
            continue;
        int r = in_child(case_trampoline, c);
        CHECK_INT(r, 0);
        fprintf(stderr, "  %-32s %s\n", jstr(c, "name"), r == 0 ? "ok" : "FAIL");
        ran++;
    }
    CHECK(ran >= 30);
    json_object_put(m);
}

/* ---- cases made here ---- */

/* A gzip stream of a tar holding n files of `size` zero bytes each. */
static int make_zero_tar_gz(const char *path, unsigned n, size_t size)
{
    gzFile g = gzopen(path, "wb9");
    if (!g)
        return -1;
    static char zeros[1 << 16];
    for (unsigned i = 0; i < n; i++) {
        char hdr[512] = {0};
        xsnprintf(hdr, 100, "zeros%u", i);
        xsnprintf(hdr + 100, 8, "%07o", 0644);
        xsnprintf(hdr + 108, 8, "%07o", 0);
        xsnprintf(hdr + 116, 8, "%07o", 0);
        xsnprintf(hdr + 124, 12, "%011zo", size);
        xsnprintf(hdr + 136, 12, "%011o", 0);
        hdr[156] = '0';
        memcpy(hdr + 257, "ustar", 6);
        memcpy(hdr + 263, "00", 2);
        memset(hdr + 148, ' ', 8);
        unsigned sum = 0;
        for (int j = 0; j < 512; j++)
            sum += (unsigned char)hdr[j];
        xsnprintf(hdr + 148, 8, "%06o", sum);
        gzwrite(g, hdr, 512);
        for (size_t left = (size + 511) / 512 * 512; left > 0;) {
            size_t k = left < sizeof(zeros) ? left : sizeof(zeros);
            gzwrite(g, zeros, (unsigned)k);
            left -= k;
        }
    }
    gzwrite(g, zeros, 1024);
    return gzclose(g) == Z_OK ? 0 : -1;
}

static int bomb_body(void *unused)
{
    if (setup_sandbox() != 0)
        return 1;
    char layer[4096], root[4096];
    xsnprintf(layer, sizeof(layer), "%s/bomb.tar.gz", tmp);
    xsnprintf(root, sizeof(root), "%s/rootfs", work);
    struct stat st;
    if (stat(layer, &st) < 0 || st.st_size > 1 << 20)
        return 1; /* the point: a small blob */
    struct oimg_apply_opts o;
    oimg_apply_opts_init(&o);
    o.no_sync = true;
    o.max_total_bytes = 16 << 20;
    int rootfd = open(root, O_RDONLY | O_DIRECTORY);
    int fd = open(layer, O_RDONLY);
    struct oimg_applier *a = NULL;
    struct oci_error *err = NULL;
    int r = oimg_applier_new(&a, rootfd, &o, &err);
    if (r == 0)
        r = oimg_applier_apply_fd(a, "application/vnd.oci.image.layer.v1.tar+gzip", fd, NULL, NULL,
                                  &err);
    int ok = r == -OCI_ERR_TOO_LARGE && sentinel_intact("bomb") &&
             strstr(err->msg, "decompression bomb");
    if (!ok)
        fprintf(stderr, "bomb: r=%d %s\n", r, err ? err->msg : "");
    else if (getenv("OCIIMG_TEST_VERBOSE"))
        fprintf(stderr, "    bomb: %s\n", err->msg);
    /* Not much more than the cap was written. */
    char cmd[4096];
    xsnprintf(cmd, sizeof(cmd), "test $(du -sk '%s' | cut -f1) -le 20480", root);
    if (system(cmd) != 0)
        ok = 0;
    /* A failed applier refuses to go on. */
    struct oci_error *e2 = NULL;
    if (oimg_applier_finish(a, &e2) != -OCI_ERR_STATE)
        ok = 0;
    oci_error_free(e2);
    oci_error_free(err);
    oimg_applier_free(a);
    close(fd);
    close(rootfd);
    return ok ? 0 : 1;
}

static void test_bomb(void)
{
    char layer[4096];
    xsnprintf(layer, sizeof(layer), "%s/bomb.tar.gz", tmp);
    CHECK(make_zero_tar_gz(layer, 64, 4u << 20) == 0);
    CHECK_INT(in_child(bomb_body, NULL), 0);
}

static int diffid_body(void *unused)
{
    if (setup_sandbox() != 0)
        return 1;
    char layer[4096], root[4096];
    xsnprintf(layer, sizeof(layer), "%s/gen/spec-changeset/layer0.tar.gz", tmp);
    xsnprintf(root, sizeof(root), "%s/rootfs", work);
    struct oimg_digest wrong;
    struct oci_error *err = NULL;
    if (oimg_digest_parse(&wrong,
                          "sha256:0000000000000000000000000000000000000000000000000000000000000000",
                          &err) < 0)
        return 1;
    int rootfd = open(root, O_RDONLY | O_DIRECTORY);
    int fd = open(layer, O_RDONLY);
    struct oimg_applier *a = NULL;
    int r = oimg_applier_new(&a, rootfd, NULL, &err);
    struct oimg_apply_stats st;
    if (r == 0)
        r = oimg_applier_apply_fd(a, "application/vnd.oci.image.layer.v1.tar+gzip", fd, &wrong, &st,
                                  &err);
    int ok = r == -OCI_ERR_DIGEST_MISMATCH && sentinel_intact("diff_id") && err &&
             strstr(err->msg, "diff_id") && st.diff_id.alg == OIMG_DIGEST_SHA256;
    if (!ok)
        fprintf(stderr, "diff_id: r=%d %s\n", r, err ? err->msg : "");
    oci_error_free(err);
    oimg_applier_free(a);
    close(fd);
    close(rootfd);
    return ok ? 0 : 1;
}

static void test_diff_id_mismatch(void)
{
    CHECK_INT(in_child(diffid_body, NULL), 0);
}

int main(void)
{
    if (!have_python()) {
        fprintf(stderr, "skip: %s is needed to generate the test layers\n", PYTHON);
        return 77;
    }
    if (geteuid() != 0 || unshare(0) < 0) {
        fprintf(stderr, "skip: hostile layers run in a private mount namespace: run as root\n");
        return 77;
    }
    /* Probe once that a mount namespace can be made here. */
    pid_t pid = fork();
    if (pid == 0)
        _exit(unshare(CLONE_NEWNS) == 0 ? 0 : 1);
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "skip: cannot create a mount namespace here\n");
        return 77;
    }
    tmp = make_tmpdir("apply-hostile");
    CHECK(tmp != NULL);
    char gendir[4096];
    xsnprintf(gendir, sizeof(gendir), "%s/gen", tmp);
    json_object *m = gen_layers(gendir);
    CHECK(m != NULL);
    work = m ? strdup(jstr(m, "work")) : NULL;
    json_object_put(m);
    if (work) {
        T_RUN(test_generated);
        T_RUN(test_bomb);
        T_RUN(test_diff_id_mismatch);
        setenv("OCIIMG_NO_OPENAT2", "1", 1);
        fprintf(stderr, "again with the O_NOFOLLOW walk instead of openat2:\n");
        T_RUN(test_generated);
        unsetenv("OCIIMG_NO_OPENAT2");
    }
    free((void *)work);
    if (!t_failed || !getenv("OCIIMG_TEST_KEEP"))
        rm_rf(tmp);
    free(tmp);
    return t_done();
}
