/* Parallel blob downloads into the layout.
 *
 * Each blob the layout lacks becomes a job: a resumable store writer
 * (.ociimg/partial, so bytes survive a killed pull) and a call that streams
 * the body into it while it is hashed: in the loop for small blobs, on a
 * blob_pipe thread for big ones (which also fsyncs them before the loop
 * commits).  At most `jobs` run at once, all in the client's one transfer
 * loop.  A broken transfer resumes with
 * Range from the bytes written (a 206 must start exactly there; a 200
 * starts the blob over); a digest mismatch discards the bytes and downloads
 * once more from scratch before giving up.  Sources are tried in order: a
 * foreign layer's urls (without credentials), then the repository's
 * endpoints.  Blobs already present cost no request at all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/cleanup.h>

#include "client_private.h"
#include "registry_private.h"

#define PROGRESS_EVERY_MS 100
#define BLOB_URLS_MAX 8
/* Smaller blobs are hashed and written in the transfer loop: a thread
 * would cost more than it saves. */
#define PIPE_MIN_SIZE (4 * 1024 * 1024)

enum job_state { JOB_PENDING, JOB_ACTIVE, JOB_DONE, JOB_FAILED };

struct blob_run;

struct blob_job {
    struct blob_run *run;
    const struct oimg_descriptor *d;
    size_t index;
    enum job_state state;
    struct oimg_blob_writer *w;
    struct blob_pipe *pipe; /* NULL: w is written in the loop */
    uint64_t have;          /* bytes handed to w (some may still be in the pipe) */
    uint64_t resumed;       /* bytes found in a partial download at the start */
    uint64_t obs_sent;      /* bytes handed to the observer */
    uint64_t reported;
    size_t src, n_urls, n_src;
    const char *urls[BLOB_URLS_MAX]; /* the foreign layer's http(s) urls */
    struct reg_call call;
    bool has_call, mismatch_retried;
    bool finishing; /* the pipe was told the last byte is in */
    bool paused;    /* its pipe was full: the transfer waits for room */
    size_t paused_len;
    struct oci_error *err;
    int code;
};

struct blob_run {
    struct oreg_client *c;
    struct oimg_layout *l;
    const struct endpoint_list *eps;
    size_t first;
    const struct oreg_blob_observer *obs;
    struct blob_stats *st;
    struct blob_job *jobs;
    size_t n;
};

static void emit(struct blob_job *j, enum oreg_event_kind kind, const char *msg)
{
    uint64_t have = j->have;
    if (kind == OREG_EV_BLOB_DONE || kind == OREG_EV_BLOB_EXISTS)
        have = (uint64_t)j->d->size;
    struct oreg_event ev = {
        .kind = kind,
        .desc = j->d,
        .blob_index = j->index,
        .done = have,
        .total = (uint64_t)j->d->size,
        .resumed = j->resumed,
        .msg = msg,
    };
    j->reported = have;
    client_emit(j->run->c, &ev);
}

static bool http_url(const char *u)
{
    return u && (strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0);
}

/* Every use of the writer other than writing goes through here first. */
static int job_sync(struct blob_job *j, struct oci_error **err)
{
    return j->pipe ? blob_pipe_sync(j->pipe, err) : 0;
}

static void job_stop_pipe(struct blob_job *j)
{
    blob_pipe_free(j->pipe); /* writes what is queued: a partial keeps it */
    j->pipe = NULL;
}

/* ---- the sink: response bytes straight into the writer ---- */

static int obs_feed(void *ud, const void *buf, size_t len)
{
    struct blob_job *j = ud;
    struct oci_error *e = NULL;
    int r = j->run->obs->data(j->run->obs->ud, j->d, buf, len, &e);
    oci_error_free(e);
    if (r >= 0)
        j->obs_sent += len;
    return r;
}

static int obs_begin(struct blob_job *j, struct oci_error **err)
{
    const struct oreg_blob_observer *o = j->run->obs;
    if (!o)
        return 0;
    j->obs_sent = 0;
    int r = job_sync(j, err);
    if (r < 0)
        return r;
    r = o->begin ? o->begin(o->ud, j->d, err) : 0;
    if (r >= 0 && o->data && oimg_blob_writer_size(j->w) > 0)
        r = oimg_blob_writer_replay(j->w, obs_feed, j, err);
    return r;
}

static int job_restart(struct blob_job *j, struct oci_error **err)
{
    int r = job_sync(j, err);
    if (r < 0)
        return r;
    r = oimg_blob_writer_restart(j->w, err);
    j->have = 0;
    return r;
}

static int sink_begin(void *ud, struct http_req *r, struct oci_error **err)
{
    struct blob_job *j = ud;
    uint64_t have = j->have;
    int ret;
    j->paused = false; /* a new exchange: nothing of it is paused */
    if (r->h.status == 206) {
        uint64_t a, b;
        int64_t total;
        if (http_parse_content_range(r->h.content_range, &a, &b, &total) < 0 || a != have) {
            /* Not the rest of what we have: start over without Range. */
            j->call.no_range = true;
            return oci_error_set(err, OCI_ERR_NETWORK,
                                 "the server answered the Range request with %s",
                                 r->h.content_range ? "another range" : "no Content-Range");
        }
        if (total >= 0 && total != j->d->size)
            return oci_error_set(err, OCI_ERR_DIGEST_MISMATCH,
                                 "the server says the blob has %lld bytes, not %lld",
                                 (long long)total, (long long)j->d->size);
        if (j->run->obs && j->obs_sent != have)
            return obs_begin(j, err);
        return 0;
    }
    if (have > 0 && (ret = job_restart(j, err)) < 0)
        return ret;
    return obs_begin(j, err);
}

static int sink_data(void *ud, const void *buf, size_t len, struct oci_error **err)
{
    struct blob_job *j = ud;
    if (j->have + len > (uint64_t)j->d->size)
        return oci_error_set(err, OCI_ERR_DIGEST_MISMATCH,
                             "blob %s: more than the expected %lld bytes", j->d->digest.str,
                             (long long)j->d->size);
    if (j->pipe && !blob_pipe_room(j->pipe, len)) {
        /* Not waiting here keeps the loop serving the other transfers:
         * a new connection, the config, the layer an unpack waits for. */
        j->paused = true;
        j->paused_len = len;
        return HTTP_SINK_PAUSE;
    }
    int r = j->pipe ? blob_pipe_write(j->pipe, buf, len, err)
                    : oimg_blob_writer_write(j->w, buf, len, err);
    if (r < 0)
        return r;
    j->have += len;
    j->run->st->bytes_fetched += len;
    const struct oreg_blob_observer *o = j->run->obs;
    if (o && o->data) {
        if ((r = o->data(o->ud, j->d, buf, len, err)) < 0)
            return r;
        j->obs_sent += len;
    }
    return 0;
}

static uint64_t range_from(void *ud)
{
    struct blob_job *j = ud;
    return j->have;
}

static void on_retry(void *ud, const char *why)
{
    struct blob_job *j = ud;
    emit(j, OREG_EV_BLOB_RETRY, why);
}

/* ---- jobs ---- */

static void job_fail(struct blob_job *j, int r, struct oci_error *e)
{
    job_stop_pipe(j);
    j->state = JOB_FAILED;
    j->code = r < 0 ? r : -OCI_ERR_INTERNAL;
    j->err = e;
}

static int job_start_source(struct blob_job *j)
{
    struct blob_run *run = j->run;
    if (j->has_call)
        call_clear(&j->call);
    j->has_call = false;
    struct oci_error *e = NULL;
    _cleanup_free_ char *path = NULL, *what = NULL;
    struct call_spec s = {
        .big = true,
        .range_from = range_from,
        .range_ud = j,
        .on_retry = on_retry,
        .retry_ud = j,
    };
    struct http_sink sink = {.begin = sink_begin, .data = sink_data, .ud = j};
    s.sink = &sink;
    if (j->src < j->n_urls) {
        s.url = j->urls[j->src];
        if (asprintf(&what, "blob %s (foreign layer URL)", j->d->digest.str) < 0)
            what = NULL;
    } else {
        size_t k = j->src - j->n_urls;
        size_t i = k == 0 ? run->first : (k <= run->first ? k - 1 : k);
        const struct endpoint *ep = &run->eps->v[i];
        if (asprintf(&path, "/v2/%s/blobs/%s", ep->repo, j->d->digest.str) < 0)
            path = NULL;
        if (asprintf(&what, "blob %s of %s", j->d->digest.str, ep->repo) < 0)
            what = NULL;
        s.host = ep->host;
        s.repo = ep->repo;
        s.path = path;
        if (!path) {
            job_fail(j, -OCI_ERR_NOMEM, NULL);
            return -OCI_ERR_NOMEM;
        }
    }
    s.what = what;
    int r = call_init(&j->call, run->c, &s, &e);
    if (r < 0) {
        job_fail(j, r, e);
        return r;
    }
    j->has_call = true;
    call_start(&j->call); /* a failure shows in the call's state */
    return 0;
}

static int job_open_writer(struct blob_job *j, struct oci_error **err)
{
    uint64_t off = 0;
    struct oci_error *e = NULL;
    int r = oimg_layout_blob_begin_resume(&j->w, j->run->l, &j->d->digest, j->d->size, &off, &e);
    if (r == -OCI_ERR_STATE) {
        /* Another pull is downloading it right now: ours goes to a temp
         * file; whichever commits second just finds the blob there. */
        oci_error_free(e);
        e = NULL;
        off = 0;
        r = oimg_layout_blob_begin(&j->w, j->run->l, &j->d->digest, j->d->size, &e);
    }
    if (r < 0) {
        *err = e;
        return r;
    }
    j->resumed = off;
    j->have = off;
    j->obs_sent = 0;
    /* A big blob skips the page cache: no copy into it, and no one else's
     * cache evicted for it.  A streamed unpack reads it back with O_DIRECT
     * too (libimage/bundle/stream.c). */
    if (j->d->size >= PIPE_MIN_SIZE)
        (void)oimg_blob_writer_set_direct(j->w);
    if (j->pipe) {
        blob_pipe_set_writer(j->pipe, j->w);
    } else if (j->d->size - (int64_t)off >= PIPE_MIN_SIZE &&
               blob_pipe_new(&j->pipe, j->w, http_loop_wakeup, j->run->c->loop) < 0) {
        j->pipe = NULL; /* no thread: the loop does the writing */
    }
    return 0;
}

static void job_commit(struct blob_job *j);

static void job_open(struct blob_job *j)
{
    struct oci_error *e = NULL;
    j->state = JOB_ACTIVE;
    int r = job_open_writer(j, &e);
    if (r < 0) {
        job_fail(j, r, e);
        return;
    }
    j->run->st->bytes_resumed += j->resumed;
    emit(j, OREG_EV_BLOB_START, NULL);
    if (j->resumed == (uint64_t)j->d->size) {
        if (j->run->obs && (r = obs_begin(j, &e)) < 0) {
            job_fail(j, r, e);
            return;
        }
        job_commit(j);
        return;
    }
    job_start_source(j);
}

static void job_commit(struct blob_job *j)
{
    struct oci_error *e = NULL;
    j->finishing = false;
    int r = job_sync(j, &e);
    if (r < 0) {
        job_fail(j, r, e);
        return;
    }
    r = oimg_blob_writer_commit(j->w, NULL, &e);
    if (r == -OCI_ERR_DIGEST_MISMATCH && !j->mismatch_retried) {
        /* The writer threw the bytes away; fetch them once more. */
        j->mismatch_retried = true;
        if (j->pipe)
            blob_pipe_set_writer(j->pipe, NULL);
        oimg_blob_writer_free(j->w);
        j->w = NULL;
        oci_error_free(e);
        e = NULL;
        if ((r = job_open_writer(j, &e)) < 0) {
            job_fail(j, r, e);
            return;
        }
        if (!j->has_call) {
            emit(j, OREG_EV_BLOB_RETRY, "digest mismatch: discarded, downloading again");
            j->run->c->retries_done++;
            job_start_source(j);
            return;
        }
        j->call.no_range = true;
        call_retry_now(&j->call, OCI_ERR_DIGEST_MISMATCH,
                       "digest mismatch: discarded, downloading again");
        return;
    }
    if (r < 0) {
        const char *from = j->has_call ? j->call.url : NULL;
        _cleanup_free_ char *hp = from ? http_url_hostport(from) : NULL;
        if (r == -OCI_ERR_DIGEST_MISMATCH)
            oci_error_wrap(&e,
                           "blob %s%s%s: digest mismatch twice (the download was discarded): the "
                           "registry or something between serves corrupt data; try another "
                           "mirror or report it",
                           j->d->digest.str, hp ? " from " : "", hp ? hp : "");
        job_fail(j, r, e);
        return;
    }
    job_stop_pipe(j);
    oimg_blob_writer_free(j->w);
    j->w = NULL;
    const struct oreg_blob_observer *o = j->run->obs;
    if (o && o->end && (r = o->end(o->ud, j->d, 0, &e)) < 0) {
        job_fail(j, r, e);
        return;
    }
    j->state = JOB_DONE;
    j->run->st->fetched++;
    emit(j, OREG_EV_BLOB_DONE, NULL);
}

static void job_step(struct blob_job *j)
{
    if (j->state != JOB_ACTIVE || !j->has_call)
        return;
    enum call_state cs = call_step(&j->call);
    if (cs == CALL_OK) {
        if (j->have != (uint64_t)j->d->size) {
            /* The body ended early without a transport error. */
            char why[128];
            snprintf(why, sizeof(why), "the body ended after %llu of %lld bytes",
                     (unsigned long long)j->have, (long long)j->d->size);
            call_retry_now(&j->call, OCI_ERR_NETWORK, why);
            return;
        }
        if (j->pipe) {
            /* The fsync on the pipe's thread; the loop goes on meanwhile
             * and commits once the pipe wakes it. */
            if (!j->finishing) {
                blob_pipe_finish(j->pipe);
                j->finishing = true;
            }
            if (blob_pipe_busy(j->pipe))
                return;
        }
        job_commit(j);
        return;
    }
    if (cs != CALL_FAILED)
        return;
    struct oci_error *e = NULL;
    int r = call_take_error(&j->call, &e);
    if (r == -OCI_ERR_DIGEST_MISMATCH && !j->mismatch_retried) {
        /* Too many bytes, or a wrong declared size: start clean. */
        j->mismatch_retried = true;
        oci_error_free(e);
        e = NULL;
        if (job_restart(j, &e) < 0) {
            job_fail(j, -OCI_ERR_IO, e);
            return;
        }
        emit(j, OREG_EV_BLOB_RETRY, "size or digest mismatch: discarded, downloading again");
        job_start_source(j);
        return;
    }
    if (r != -OCI_ERR_NOMEM && r != -OCI_ERR_IO && j->src + 1 < j->n_src) {
        emit(j, OREG_EV_BLOB_RETRY, e ? e->msg : "failed; trying the next source");
        oci_error_free(e);
        j->src++;
        job_start_source(j);
        return;
    }
    job_stop_pipe(j);
    if (r == -OCI_ERR_DIGEST_MISMATCH)
        oimg_blob_writer_discard(j->w);
    job_fail(j, r, e);
}

static void job_clear(struct blob_job *j)
{
    if (j->has_call)
        call_clear(&j->call);
    job_stop_pipe(j);
    oimg_blob_writer_free(j->w); /* a resumable writer keeps its bytes */
    oci_error_free(j->err);
}

static int check_present(struct blob_run *run, const struct oimg_descriptor *d,
                         struct oci_error **err)
{
    int64_t have = -1;
    int r = oimg_layout_blob_stat(run->l, &d->digest, &have, err);
    if (r <= 0)
        return r;
    if (have != d->size)
        return oci_error_set(err, OCI_ERR_DIGEST_MISMATCH,
                             "blob %s in the layout has %lld bytes, not %lld: the layout is "
                             "damaged; run 'ociimg verify'",
                             d->digest.str, (long long)have, (long long)d->size);
    return 1;
}

static int run_loop(struct blob_run *run, struct oci_error **err)
{
    struct oreg_client *c = run->c;
    size_t next = 0; /* jobs before it have been opened (or were never pending) */
    int64_t last_progress = 0;
    for (;;) {
        /* One pass counts the running jobs and opens more while there is
         * room, so a job that ended in the last step (or at once, in
         * job_open) hands its slot on now, not after a poll that nothing
         * may wake for PROGRESS_EVERY_MS. */
        size_t active = 0;
        int64_t wake = -1;
        for (size_t i = 0; i < run->n; i++) {
            struct blob_job *j = &run->jobs[i];
            if (i >= next) {
                if (active >= (size_t)c->o.jobs)
                    break;
                next = i + 1;
                if (j->state == JOB_PENDING)
                    job_open(j);
            }
            if (j->state == JOB_FAILED) {
                *err = TAKE_PTR(j->err);
                return j->code;
            }
            if (j->state != JOB_ACTIVE)
                continue;
            active++;
            int64_t w = j->has_call ? call_wake_ms(&j->call) : -1;
            if (w >= 0 && (wake < 0 || w < wake))
                wake = w;
        }
        if (active == 0)
            return 0; /* the pass reached the end: every job is done */
        int64_t now = client_now_ms();
        int timeout = PROGRESS_EVERY_MS;
        if (wake >= 0 && wake - now < timeout)
            timeout = wake <= now ? 0 : (int)(wake - now);
        int r = http_loop_step(c->loop, timeout, err);
        if (r < 0)
            return r;
        for (size_t i = 0; i < next; i++) {
            struct blob_job *j = &run->jobs[i];
            job_step(j);
            if (j->paused && j->state == JOB_ACTIVE && j->has_call && j->pipe &&
                blob_pipe_room(j->pipe, j->paused_len)) {
                j->paused = false;
                http_req_resume(j->call.req);
            }
        }
        now = client_now_ms();
        if (now - last_progress >= PROGRESS_EVERY_MS) {
            last_progress = now;
            for (size_t i = 0; i < next; i++) {
                struct blob_job *j = &run->jobs[i];
                if (j->state == JOB_ACTIVE && j->have != j->reported)
                    emit(j, OREG_EV_BLOB_PROGRESS, NULL);
            }
        }
    }
}

int blobs_fetch(struct blob_stats *st, struct oreg_client *c, struct oimg_layout *l,
                const struct endpoint_list *eps, size_t first, const struct oimg_descriptor *want,
                size_t n, const struct oreg_blob_observer *obs, struct oci_error **err)
{
    struct blob_run run = {
        .c = c, .l = l, .eps = eps, .first = first, .obs = obs, .st = st, .n = n};
    run.jobs = calloc(n ? n : 1, sizeof(*run.jobs));
    if (!run.jobs)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    int r = 0;
    for (size_t i = 0; i < n && r >= 0; i++) {
        struct blob_job *j = &run.jobs[i];
        j->run = &run;
        j->d = &want[i];
        j->index = i;
        if (want[i].digest.alg == OIMG_DIGEST_UNKNOWN || want[i].size < 0) {
            r = oci_error_set(err, OCI_ERR_UNSUPPORTED, "blob %s: cannot verify this digest",
                              want[i].digest.str);
            break;
        }
        for (size_t u = 0; u < want[i].n_urls && j->n_urls < BLOB_URLS_MAX; u++)
            if (http_url(want[i].urls[u]))
                j->urls[j->n_urls++] = want[i].urls[u];
        j->n_src = j->n_urls + eps->n;
        r = check_present(&run, j->d, err);
        if (r > 0) {
            j->state = JOB_DONE;
            st->present++;
            emit(j, OREG_EV_BLOB_EXISTS, NULL);
        } else if (r == 0) {
            j->state = JOB_PENDING;
            emit(j, OREG_EV_BLOB_QUEUED, NULL);
        }
    }
    if (r >= 0)
        r = run_loop(&run, err);
    for (size_t i = 0; i < n; i++)
        job_clear(&run.jobs[i]);
    free(run.jobs);
    return r;
}
