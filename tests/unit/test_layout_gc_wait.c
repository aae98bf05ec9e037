/* gc and a live writer: oimg_layout_gc (wait 0) refuses at once; with a wait
 * it runs once the writer is done, and does not hold the layout lock while
 * waiting (the writer tags what it wrote before it ends); past the wait it
 * refuses with the same error. */
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "layout_t.h"

static long long ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* The writer: opens its own handle on dir, writes an image (which pins the
 * layout), says so on ready, waits hold_ms, tags the image "kept" when tag,
 * and ends.  Bounded: no step waits for the parent. */
static int writer(const char *dir, int ready, int hold_ms, bool tag)
{
    struct oimg_layout *l = NULL;
    struct oci_error *e = NULL;
    if (oimg_layout_open(&l, dir, 0, &e) < 0)
        return 2;
    struct t_image im = t_make_image(l, "amd64", "writer", NULL);
    if (write(ready, "r", 1) != 1)
        return 3;
    sleep_ms(hold_ms);
    if (tag) {
        struct oimg_descriptor d = t_image_desc(&im);
        t_tag(l, "kept", &d);
        oimg_descriptor_clear(&d);
    }
    t_image_clear(&im);
    oimg_layout_free(l);
    return 0;
}

/* Starts writer() and returns once it holds the pin. */
static pid_t start_writer(const char *dir, int hold_ms, bool tag)
{
    int p[2];
    if (pipe(p) < 0)
        exit(1);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        exit(1);
    if (pid == 0) {
        close(p[0]);
        _exit(writer(dir, p[1], hold_ms, tag));
    }
    close(p[1]);
    struct pollfd pf = {p[0], POLLIN, 0};
    char c;
    CHECK(poll(&pf, 1, 10000) == 1 && read(p[0], &c, 1) == 1);
    close(p[0]);
    return pid;
}

static void end_writer(pid_t pid)
{
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_no_wait_refuses(void)
{
    char *top = NULL;
    struct oimg_layout *l = t_new_layout(&top);
    pid_t c = start_writer(oimg_layout_path(l), 500, false);
    struct oimg_gc_report rep = {0};
    struct oci_error *e = NULL;
    long long t0 = ms_now();
    CHECK_INT(oimg_layout_gc(&rep, l, false, &e), -OCI_ERR_STATE);
    CHECK(e && strstr(e->msg, "another process is writing blobs into the layout"));
    oci_error_free(e);
    e = NULL;
    CHECK_INT(oimg_layout_gc_wait(&rep, l, false, 0, &e), -OCI_ERR_STATE);
    CHECK(e && strstr(e->msg, "another process is writing blobs into the layout"));
    oci_error_free(e);
    CHECK(ms_now() - t0 < 400);
    end_writer(c);
    oimg_layout_free(l);
    t_rm_rf(top);
    free(top);
}

static void test_waits_for_writer(void)
{
    char *top = NULL;
    struct oimg_layout *l = t_new_layout(&top);
    struct oimg_digest junk = t_put_str(l, "nothing references this\n");
    /* Our own handle's pin must not count as a writer. */
    pid_t c = start_writer(oimg_layout_path(l), 300, true);
    struct oimg_gc_report rep = {0};
    long long t0 = ms_now();
    CHECK_OK(oimg_layout_gc_wait(&rep, l, false, 10000, T_ERR));
    long long took = ms_now() - t0;
    /* It waited for the writer, which could tag meanwhile, so it was not
     * the timeout that ended the wait. */
    CHECK(took >= 250 && took < 8000);
    end_writer(c);
    CHECK(t_gc_removed(&rep, junk.str));
    struct oimg_descriptor d;
    CHECK_OK(oimg_layout_resolve(&d, l, "kept", NULL, T_ERR));
    CHECK(!t_gc_removed(&rep, d.digest.str));
    oimg_descriptor_clear(&d);
    CHECK_INT(t_verify(l, 0, true), 0);
    oimg_gc_report_clear(&rep);
    oimg_layout_free(l);
    t_rm_rf(top);
    free(top);
}

static void test_wait_times_out(void)
{
    char *top = NULL;
    struct oimg_layout *l = t_new_layout(&top);
    pid_t c = start_writer(oimg_layout_path(l), 1500, false);
    struct oimg_gc_report rep = {0};
    struct oci_error *e = NULL;
    long long t0 = ms_now();
    CHECK_INT(oimg_layout_gc_wait(&rep, l, true, 300, &e), -OCI_ERR_STATE);
    long long took = ms_now() - t0;
    CHECK(took >= 290 && took < 1400);
    CHECK(e && strstr(e->msg, "another process is writing blobs into the layout"));
    CHECK(e && strstr(e->msg, "still writing after 0.300 s"));
    oci_error_free(e);
    CHECK_INT(rep.n_removed, 0);
    end_writer(c);
    oimg_layout_free(l);
    t_rm_rf(top);
    free(top);
}

int main(void)
{
    T_RUN(test_no_wait_refuses);
    T_RUN(test_waits_for_writer);
    T_RUN(test_wait_times_out);
    return t_done();
}
