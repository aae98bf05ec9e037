/* The pull API as a library user sees it, against a real registry (the
 * harness in tests/registry, plain HTTP): events, the blob observer that a
 * streaming `pull --unpack` will use (every byte in order, the bytes of a
 * partial download replayed first), a resumed partial (one Range request),
 * inspect and tags.  Skips (77) without docker-registry. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/cleanup.h>
#include <ociimg/digest.h>
#include <ociimg/json.h>
#include <ociimg/layout.h>
#include <ociimg/registry_client.h>

#include "t.h"

#define T_RUN_ARG(fn, arg)                                                                         \
    do {                                                                                           \
        t_case_failed = 0;                                                                         \
        fn(arg);                                                                                   \
        fprintf(stderr, "%s %s\n", t_case_failed ? "FAIL" : "ok  ", #fn);                          \
    } while (0)

static char dir[256], state[300], cmd[2048];
static const char *py = "/usr/bin/python3";
static char *srcdir;

static char *read_all(const char *path, size_t *len)
{
    struct oci_error *e = NULL;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) == 0 && (buf = malloc((size_t)st.st_size + 1))) {
        ssize_t n = read(fd, buf, (size_t)st.st_size);
        if (n != st.st_size) {
            free(buf);
            buf = NULL;
        } else {
            buf[n] = '\0';
            *len = (size_t)n;
        }
    }
    close(fd);
    oci_error_free(e);
    return buf;
}

static json_object *load_json(const char *path)
{
    size_t len = 0;
    _cleanup_free_ char *buf = read_all(path, &len);
    json_object *o = NULL;
    struct oci_error *e = NULL;
    if (!buf || oimg_json_parse(&o, buf, len, NULL, &e) < 0) {
        oci_error_free(e);
        return NULL;
    }
    return o;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

/* ---- what the observer and the event callback saw ---- */

struct seen {
    struct oimg_hasher *h[8];
    struct oimg_digest want[8];
    size_t n, begins, ends, bytes;
    int events[16];
    bool order_ok;
    size_t manifests;       /* manifest() calls */
    struct oimg_digest man; /* the manifest it was given */
    bool man_verified;      /* its bytes hash to that digest */
    bool man_before_blobs;  /* and it came before any begin() */
};

static int obs_manifest(void *ud, const struct oimg_descriptor *d, const void *data, size_t len,
                        struct oci_error **err)
{
    struct seen *s = ud;
    struct oimg_digest got;
    s->manifests++;
    s->man = d->digest;
    s->man_before_blobs = s->begins == 0;
    s->man_verified = (int64_t)len == d->size &&
                      oimg_digest_buffer(&got, d->digest.alg, data, len, err) == 0 &&
                      oimg_digest_equal(&got, &d->digest);
    return 0;
}

static int blob_slot(struct seen *s, const struct oimg_descriptor *d)
{
    for (size_t i = 0; i < s->n; i++)
        if (oimg_digest_equal(&s->want[i], &d->digest))
            return (int)i;
    if (s->n == 8)
        return -1;
    s->want[s->n] = d->digest;
    return (int)s->n++;
}

static int obs_begin(void *ud, const struct oimg_descriptor *d, struct oci_error **err)
{
    struct seen *s = ud;
    int i = blob_slot(s, d);
    if (i < 0)
        return oci_error_set(err, OCI_ERR_INTERNAL, "too many blobs");
    oimg_hasher_free(s->h[i]);
    s->h[i] = NULL;
    s->begins++;
    return oimg_hasher_new(&s->h[i], d->digest.alg, err);
}

static int obs_data(void *ud, const struct oimg_descriptor *d, const void *buf, size_t len,
                    struct oci_error **err)
{
    struct seen *s = ud;
    int i = blob_slot(s, d);
    if (i < 0 || !s->h[i]) {
        s->order_ok = false;
        return 0;
    }
    oimg_hasher_update(s->h[i], buf, len);
    s->bytes += len;
    return 0;
}

static int obs_end(void *ud, const struct oimg_descriptor *d, int status, struct oci_error **err)
{
    struct seen *s = ud;
    int i = blob_slot(s, d);
    if (i < 0 || !s->h[i] || status != 0) {
        s->order_ok = false;
        return 0;
    }
    struct oimg_digest got;
    oimg_hasher_final(s->h[i], &got);
    oimg_hasher_free(s->h[i]);
    s->h[i] = NULL;
    if (!oimg_digest_equal(&got, &d->digest))
        s->order_ok = false;
    s->ends++;
    return 0;
}

static void on_event(void *ud, const struct oreg_event *ev)
{
    struct seen *s = ud;
    if (ev->kind > 0 && ev->kind < 16)
        s->events[ev->kind]++;
}

static int harness(const char *what)
{
    snprintf(cmd, sizeof(cmd), "%s %s/tests/registry/harness.py %s --state-dir %s >/dev/null", py,
             srcdir, what, state);
    return system(cmd);
}

static void test_pull_observer_resume(json_object *st)
{
    const char *host = jstr(st, "host"), *pdir = jstr(st, "state_dir");
    _cleanup_json_ json_object *imgs = NULL;
    char p[600];
    snprintf(p, sizeof(p), "%s/images.json", pdir);
    imgs = load_json(p);
    CHECK(imgs != NULL);
    json_object *images = NULL, *big = NULL, *layers = NULL;
    if (!imgs || !json_object_object_get_ex(imgs, "images", &images) ||
        !json_object_object_get_ex(images, "test/big:1", &big) ||
        !json_object_object_get_ex(big, "layers", &layers))
        return;
    const char *ld = jstr(json_object_array_get_idx(layers, 0), "digest");

    /* A partial download of the big layer, as a killed pull leaves it. */
    char layout[400], part[700], src[700];
    snprintf(layout, sizeof(layout), "%s/layout", dir);
    struct oimg_layout *l = NULL;
    CHECK_OK(oimg_layout_open(&l, layout, OIMG_LAYOUT_CREATE, T_ERR));
    if (!l)
        return;
    snprintf(src, sizeof(src), "%s/layout/blobs/sha256/%s", pdir, ld + 7);
    size_t blen = 0;
    _cleanup_free_ char *blob = read_all(src, &blen);
    CHECK(blob && blen > 1000000);
    snprintf(part, sizeof(part), "%s/.ociimg/partial", layout);
    mkdir(part, 0755);
    snprintf(part, sizeof(part), "%s/.ociimg/partial/sha256-%s", layout, ld + 7);
    int fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    if (fd >= 0 && blob) {
        CHECK(write(fd, blob, 1000000) == 1000000);
        close(fd);
    }

    struct seen s = {.order_ok = true};
    struct oreg_client_opts co = {
        .insecure = true, .retries = 1, .on_event = on_event, .event_ud = &s};
    struct oreg_client *c = NULL;
    CHECK_OK(oreg_client_new(&c, &co, T_ERR));
    char refs[300];
    snprintf(refs, sizeof(refs), "%s/test/big:1", host);
    struct oreg_ref *ref = NULL;
    CHECK_OK(oreg_ref_parse(&ref, refs, T_ERR));
    struct oreg_blob_observer obs = {
        .begin = obs_begin, .data = obs_data, .end = obs_end, .ud = &s, .manifest = obs_manifest};
    struct oreg_pull_opts po = {.observer = &obs, .name = "big"};
    struct oreg_pull_result *res = NULL;
    if (c && ref)
        CHECK_OK(oreg_pull(&res, c, ref, l, &po, T_ERR));
    if (res) {
        CHECK_STR(res->name, "big");
        CHECK_INT(res->blobs, 2);
        CHECK_INT(res->blobs_fetched, 2);
        CHECK_INT(res->bytes_resumed, 1000000);
        CHECK_INT(res->bytes_fetched, res->bytes_total - 1000000);
        CHECK_STR(res->desc.digest.str, jstr(big, "digest"));
        CHECK_INT(res->n_platforms, 1);
    }
    /* Every byte of both blobs, in order, the resumed prefix replayed. */
    CHECK(s.order_ok);
    CHECK_INT(s.begins, 2);
    CHECK_INT(s.ends, 2);
    CHECK(res && s.bytes == res->bytes_total);
    CHECK_INT(s.events[OREG_EV_BLOB_QUEUED], 2);
    CHECK_INT(s.events[OREG_EV_BLOB_START], 2);
    CHECK_INT(s.events[OREG_EV_BLOB_DONE], 2);
    CHECK_INT(s.events[OREG_EV_MANIFEST], 1);
    CHECK_INT(s.manifests, 1);
    CHECK(res && oimg_digest_equal(&s.man, &res->desc.digest));
    CHECK(s.man_verified);
    CHECK(s.man_before_blobs);
    CHECK(access(part, F_OK) != 0);

    /* Again: all present, no observer calls, no blob request. */
    struct seen s2 = {.order_ok = true};
    obs.ud = &s2;
    oreg_pull_result_free(res);
    res = NULL;
    if (c && ref)
        CHECK_OK(oreg_pull(&res, c, ref, l, &po, T_ERR));
    CHECK(res && res->blobs_present == 2 && res->bytes_fetched == 0);
    CHECK_INT(s2.begins, 0);

    struct oimg_verify_report rep = {0};
    CHECK_OK(oimg_layout_verify(&rep, l, 0, T_ERR));
    CHECK_INT(rep.n_problems, 0);
    oimg_verify_report_clear(&rep);

    /* Remote inspect and tags through the same client. */
    struct oreg_remote_image *ri = NULL;
    CHECK_OK(oreg_inspect(&ri, c, ref, NULL, 0, T_ERR));
    CHECK(ri && ri->config && ri->config_len > 0);
    oreg_remote_image_free(ri);
    char **tags = NULL;
    size_t nt = 0;
    CHECK_OK(oreg_list_tags(&tags, &nt, c, ref, 0, T_ERR));
    CHECK_INT(nt, 1);
    oreg_tags_free(tags, nt);

    oreg_pull_result_free(res);
    oreg_ref_free(ref);
    oreg_client_free(c);
    oimg_layout_free(l);
    for (size_t i = 0; i < 8; i++) {
        oimg_hasher_free(s.h[i]);
        oimg_hasher_free(s2.h[i]);
    }
}

/* An observer that refuses aborts the pull, and the layout stays valid. */
static int refuse(void *ud, const struct oimg_descriptor *d, const void *buf, size_t len,
                  struct oci_error **err)
{
    return oci_error_set(err, OCI_ERR_STATE, "consumer gave up");
}

static void test_observer_abort(json_object *st)
{
    char layout[400], refs[300];
    snprintf(layout, sizeof(layout), "%s/layout2", dir);
    snprintf(refs, sizeof(refs), "%s/test/hello:1", jstr(st, "host"));
    struct oimg_layout *l = NULL;
    CHECK_OK(oimg_layout_open(&l, layout, OIMG_LAYOUT_CREATE, T_ERR));
    struct oreg_client_opts co = {.insecure = true, .retries = 0};
    struct oreg_client *c = NULL;
    CHECK_OK(oreg_client_new(&c, &co, T_ERR));
    struct oreg_ref *ref = NULL;
    CHECK_OK(oreg_ref_parse(&ref, refs, T_ERR));
    struct oreg_blob_observer obs = {.data = refuse};
    struct oreg_pull_opts po = {.observer = &obs};
    struct oreg_pull_result *res = NULL;
    struct oci_error *e = NULL;
    if (l && c && ref)
        CHECK_INT(oreg_pull(&res, c, ref, l, &po, &e), -OCI_ERR_STATE);
    CHECK(e && strstr(e->msg, "consumer gave up"));
    oci_error_free(e);
    CHECK(res == NULL);
    oreg_ref_free(ref);
    oreg_client_free(c);
    oimg_layout_free(l);
}

int main(void)
{
    if (access("/usr/bin/docker-registry", X_OK) != 0 || access(py, X_OK) != 0) {
        fprintf(stderr, "SKIP: docker-registry or %s not installed\n", py);
        return 77;
    }
    srcdir = getenv("OCIIMG_SRCDIR");
    if (!srcdir) {
        fprintf(stderr, "SKIP: OCIIMG_SRCDIR not set\n");
        return 77;
    }
    snprintf(dir, sizeof(dir), "/tmp/oreg-pull-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    snprintf(state, sizeof(state), "%s/reg", dir);
    snprintf(cmd, sizeof(cmd),
             "%s %s/tests/registry/harness.py start --variant plain --state-dir %s --seed "
             "--max-lifetime 300 --parent-pid %d >/dev/null",
             py, srcdir, state, (int)getpid());
    if (system(cmd) != 0) {
        fprintf(stderr, "harness did not start\n");
        return 1;
    }
    char p[400];
    snprintf(p, sizeof(p), "%s/state.json", state);
    json_object *st = load_json(p);
    CHECK(st != NULL);
    if (st) {
        T_RUN_ARG(test_pull_observer_resume, st);
        T_RUN_ARG(test_observer_abort, st);
    }
    json_object_put(st);
    harness("stop");
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return t_done();
}
