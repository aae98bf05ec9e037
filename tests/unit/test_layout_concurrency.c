/* Several processes writing one layout: no tag is lost, and a writer
 * killed at any point leaves a layout that verifies. */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "layout_t.h"

#define TAGS_PER_CHILD 200

static const char EMPTY_JSON[] = "{}";

/* A small distinct artifact manifest per (child, i). */
static char *small_manifest(int child, int i, const struct oimg_digest *empty)
{
    return t_fmt("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"artifactType\":"
                 "\"application/vnd.ociimg.test\",\"config\":{\"mediaType\":\"%s\",\"digest\":"
                 "\"%s\",\"size\":2},\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\","
                 "\"size\":2}],\"annotations\":{\"writer\":\"%d\",\"n\":\"%d\"}}",
                 OIMG_MT_OCI_MANIFEST, OIMG_MT_OCI_EMPTY, empty->str, OIMG_MT_OCI_EMPTY, empty->str,
                 child, i);
}

static int tagger(const char *dir, int child, int go_fd)
{
    char c;
    if (read(go_fd, &c, 1) < 0)
        return 3;
    struct oimg_layout *l = NULL;
    struct oci_error *e = NULL;
    if (oimg_layout_open(&l, dir, 0, &e) < 0)
        goto fail;
    struct oimg_digest empty;
    if (oimg_layout_blob_put(&empty, l, EMPTY_JSON, 2, &e) < 0)
        goto fail;
    for (int i = 0; i < TAGS_PER_CHILD; i++) {
        char *m = small_manifest(child, i, &empty);
        struct oimg_digest d;
        int r = oimg_layout_blob_put(&d, l, m, strlen(m), &e);
        struct oimg_descriptor desc = t_desc(OIMG_MT_OCI_MANIFEST, d, (int64_t)strlen(m));
        free(m);
        char name[32];
        snprintf(name, sizeof(name), "w%d-%03d", child, i);
        if (r >= 0)
            r = oimg_layout_tag(l, name, &desc, &e);
        oimg_descriptor_clear(&desc);
        if (r < 0)
            goto fail;
    }
    oimg_layout_free(l);
    return 0;
fail:
    fprintf(stderr, "child %d: %s\n", child, e ? e->msg : "?");
    return 1;
}

static void test_two_taggers(void)
{
    char *top = NULL;
    struct oimg_layout *l = t_new_layout(&top);
    char *dir = strdup(oimg_layout_path(l));
    int go[2];
    CHECK(pipe(go) == 0);
    pid_t pids[2];
    for (int i = 0; i < 2; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            close(go[1]);
            _exit(tagger(dir, i, go[0]));
        }
    }
    close(go[0]);
    close(go[1]); /* both start now */
    for (int i = 0; i < 2; i++) {
        int status = 0;
        waitpid(pids[i], &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }

    struct oimg_index *idx = NULL;
    CHECK_OK(oimg_layout_read_index(&idx, l, T_ERR));
    if (idx) {
        CHECK_INT(idx->n_manifests, 2 * TAGS_PER_CHILD);
        /* Every name present exactly once. */
        static bool seen[2][TAGS_PER_CHILD];
        size_t found = 0;
        for (size_t i = 0; i < idx->n_manifests; i++) {
            const char *n =
                oimg_annotations_get(&idx->manifests[i].annotations, OIMG_ANNOT_REF_NAME);
            int w = -1, k = -1;
            if (n && sscanf(n, "w%d-%d", &w, &k) == 2 && w >= 0 && w < 2 && k >= 0 &&
                k < TAGS_PER_CHILD && !seen[w][k]) {
                seen[w][k] = true;
                found++;
            }
        }
        CHECK_INT(found, 2 * TAGS_PER_CHILD);
    }
    oimg_index_free(idx);
    CHECK_INT(t_verify(l, OIMG_VERIFY_ALL, true), 0);
    CHECK_INT(t_count_dir(l, ".ociimg/tmp"), 0);
    free(dir);
    oimg_layout_free(l);
    t_rm_rf(top);
    free(top);
}

static void age(struct oimg_layout *l, const char *rel, int seconds)
{
    struct timespec ts[2];
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= seconds;
    ts[1] = ts[0];
    CHECK(utimensat(oimg_layout_dirfd(l), rel, ts, AT_SYMLINK_NOFOLLOW) == 0);
}

/* Writes a large blob slowly; tells the parent once several MB are in. */
static int big_writer(const char *dir, int ready_fd)
{
    struct oimg_layout *l = NULL;
    struct oci_error *e = NULL;
    struct oimg_blob_writer *w = NULL;
    if (oimg_layout_open(&l, dir, 0, &e) < 0 || oimg_layout_blob_begin(&w, l, NULL, -1, &e) < 0) {
        fprintf(stderr, "child: %s\n", e ? e->msg : "?");
        return 1;
    }
    static char chunk[1 << 20];
    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = (char)(i * 7 + 3);
    for (int mb = 0;; mb++) {
        if (oimg_blob_writer_write(w, chunk, sizeof(chunk), &e) < 0)
            return 1;
        if (mb == 6 && write(ready_fd, "r", 1) != 1)
            return 1;
        if (mb > 6)
            usleep(20000);
    }
}

static void test_killed_writer(void)
{
    char *top = NULL;
    struct oimg_layout *l = t_new_layout(&top);
    struct t_image a = t_make_image(l, "amd64", "kept", NULL);
    struct oimg_descriptor da = t_image_desc(&a);
    t_tag(l, "kept", &da);
    char *dir = strdup(oimg_layout_path(l));
    oimg_layout_free(l);

    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(ready[0]);
        _exit(big_writer(dir, ready[1]));
    }
    close(ready[1]);
    char c = 0;
    CHECK(read(ready[0], &c, 1) == 1);
    close(ready[0]);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    l = NULL;
    CHECK_OK(oimg_layout_open(&l, dir, 0, T_ERR));
    if (!l)
        return;
    /* The partial blob is only a temp file; every blob is sound. */
    CHECK_INT(t_count_dir(l, ".ociimg/tmp"), 1);
    CHECK_INT(t_count_dir(l, "blobs/sha256"), 3);
    CHECK_INT(t_verify(l, OIMG_VERIFY_ALL, true), 0);

    /* gc: the dead writer's pin is gone; its temp file goes once stale. */
    struct oimg_gc_report g = {0};
    CHECK_OK(oimg_layout_gc(&g, l, false, T_ERR));
    CHECK_INT(g.n_removed, 0);
    oimg_gc_report_clear(&g);
    DIR *d = fdopendir(openat(oimg_layout_dirfd(l), ".ociimg/tmp", O_RDONLY | O_DIRECTORY));
    struct dirent *de;
    char *rel = NULL;
    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.')
            rel = t_fmt(".ociimg/tmp/%s", de->d_name);
    if (d)
        closedir(d);
    CHECK(rel != NULL);
    if (rel)
        age(l, rel, 7200);
    CHECK_OK(oimg_layout_gc(&g, l, false, T_ERR));
    CHECK_INT(g.n_removed, 1);
    CHECK(g.bytes_freed >= 7u << 20);
    oimg_gc_report_clear(&g);
    CHECK_INT(t_count_dir(l, ".ociimg/tmp"), 0);
    CHECK_INT(t_verify(l, OIMG_VERIFY_ALL, true), 0);

    free(rel);
    free(dir);
    oimg_descriptor_clear(&da);
    t_image_clear(&a);
    oimg_layout_free(l);
    t_rm_rf(top);
    free(top);
}

/* Commits and tags in a tight loop, killed at some moment: whatever it
 * reached, the layout verifies. */
static int busy_writer(const char *dir, int ready_fd)
{
    struct oimg_layout *l = NULL;
    struct oci_error *e = NULL;
    if (oimg_layout_open(&l, dir, 0, &e) < 0)
        return 1;
    struct oimg_digest empty;
    if (oimg_layout_blob_put(&empty, l, EMPTY_JSON, 2, &e) < 0)
        return 1;
    for (int i = 0;; i++) {
        char *m = small_manifest(9, i, &empty);
        struct oimg_digest d;
        if (oimg_layout_blob_put(&d, l, m, strlen(m), &e) < 0)
            return 1;
        struct oimg_descriptor desc = t_desc(OIMG_MT_OCI_MANIFEST, d, (int64_t)strlen(m));
        free(m);
        if (oimg_layout_tag(l, i % 2 ? "odd" : "even", &desc, &e) < 0)
            return 1;
        oimg_descriptor_clear(&desc);
        if (i == 5 && write(ready_fd, "r", 1) != 1)
            return 1;
    }
}

static void test_killed_busy_writer(void)
{
    char *top = NULL;
    struct oimg_layout *l = t_new_layout(&top);
    char *dir = strdup(oimg_layout_path(l));
    for (int round = 0; round < 5; round++) {
        int ready[2];
        CHECK(pipe(ready) == 0);
        pid_t pid = fork();
        if (pid == 0) {
            close(ready[0]);
            _exit(busy_writer(dir, ready[1]));
        }
        close(ready[1]);
        char c = 0;
        CHECK(read(ready[0], &c, 1) == 1);
        close(ready[0]);
        usleep((useconds_t)(round * 7000));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        CHECK_INT(t_verify(l, OIMG_VERIFY_ALL, true), 0);
        struct oimg_index *idx = NULL;
        CHECK_OK(oimg_layout_read_index(&idx, l, T_ERR));
        CHECK(idx && idx->n_manifests == 2);
        oimg_index_free(idx);
    }
    free(dir);
    oimg_layout_free(l);
    t_rm_rf(top);
    free(top);
}

int main(void)
{
    T_RUN(test_two_taggers);
    T_RUN(test_killed_writer);
    T_RUN(test_killed_busy_writer);
    return t_done();
}
