/* libregistry's network side: a registry client (libcurl multi, one
 * transfer loop for every request), remote inspection, tag listing, login
 * checks and `pull` into an OCI image layout.
 *
 * Conventions are libimage's (0 or a documented non-negative value on
 * success, a negative OCI_ERR_* code with *err set on failure, NULL-safe
 * *_free).  The library never prints: progress and notes go to the event
 * callback, errors name the reference, the host and what to do.  No secret
 * (password, token, identity token) appears in an event or an error. */
#ifndef OCIIMG_REGISTRY_CLIENT_H
#define OCIIMG_REGISTRY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ociimg/error.h>
#include <ociimg/layout.h>
#include <ociimg/model.h>
#include <ociimg/registry.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- events (progress, notes) ------------------------------------------ */

enum oreg_event_kind {
    OREG_EV_NOTE = 1,    /* msg: a mirror failed, a fallback was taken, ... */
    OREG_EV_MANIFEST,    /* msg: "<digest> <mediaType>" of a manifest/index fetched */
    OREG_EV_BLOB_QUEUED, /* a blob to fetch; blob_index is its row from now on */
    OREG_EV_BLOB_EXISTS, /* already in the layout: no request made */
    OREG_EV_BLOB_START,  /* an attempt starts; done = bytes kept from before (resume) */
    OREG_EV_BLOB_PROGRESS,
    OREG_EV_BLOB_RETRY, /* msg: why; done = bytes kept for the next attempt */
    OREG_EV_BLOB_DONE,  /* verified and committed */
    OREG_EV_RATELIMIT,  /* msg: the RateLimit-Remaining value a registry sent */
};

struct oreg_event {
    enum oreg_event_kind kind;
    const char *host;                   /* the host concerned, or NULL */
    const struct oimg_descriptor *desc; /* blob events */
    size_t blob_index;                  /* blob events: 0.. in QUEUED order */
    uint64_t done;                      /* bytes of the blob we have */
    uint64_t total;                     /* its size */
    uint64_t resumed;                   /* bytes kept from an earlier run/attempt */
    const char *msg;
};
typedef void (*oreg_event_fn)(void *ud, const struct oreg_event *ev);

/* ---- the client ---------------------------------------------------------- */

#define OREG_DEFAULT_JOBS 6
#define OREG_DEFAULT_RETRIES 3
#define OREG_DEFAULT_STALL_SECS 30
#define OREG_DEFAULT_CONNECT_SECS 30
/* The longest Retry-After we wait for; a longer one fails with the time. */
#define OREG_DEFAULT_RETRY_AFTER_MAX 60

struct oreg_client_opts {
    struct oreg_creds_opts creds; /* --creds, --authfile */
    /* Mirrors and insecure hosts (borrowed; NULL: every registry is
     * contacted directly with TLS). */
    const struct oreg_registries_conf *registries;
    /* --tls-verify=false: for the registry an operation names (not its
     * mirrors, token servers or redirect targets) plain HTTP is allowed and
     * TLS is not verified. */
    bool insecure;
    /* --cert-dir: *.crt CAs (added to the system's), *.cert + *.key client
     * pairs, for the registry an operation names; a docker certs.d tree
     * (DIR/<host:port>/ ...) works too.  NULL: /etc/containers/certs.d/<host>
     * and /etc/docker/certs.d/<host> for every host. */
    const char *cert_dir;
    int jobs;            /* parallel blob downloads; <= 0: OREG_DEFAULT_JOBS */
    int retries;         /* per request; < 0: OREG_DEFAULT_RETRIES */
    int stall_secs;      /* no byte for this long retries; <= 0: default */
    int connect_secs;    /* <= 0: default */
    int retry_after_max; /* seconds; <= 0: default */
    const char *user_agent;
    oreg_event_fn on_event;
    void *event_ud;
};

struct oreg_client;
int oreg_client_new(struct oreg_client **out, const struct oreg_client_opts *opts,
                    struct oci_error **err);
void oreg_client_free(struct oreg_client *c);

/* ---- remote documents ---------------------------------------------------- */

/* A manifest or index as a registry served it, verified against the
 * requested digest (and Docker-Content-Digest when fetched by tag). */
struct oreg_remote_doc {
    char *media_type; /* Content-Type without parameters, else the document's own */
    char *data;
    size_t len;
    struct oimg_digest digest;
    char *host; /* the endpoint that answered */
};
void oreg_remote_doc_free(struct oreg_remote_doc *d);

/* Fetches what ref names (its digest if it has one, else its tag), from
 * the registry's mirrors in order and then the registry. */
int oreg_fetch_manifest(struct oreg_remote_doc **out, struct oreg_client *c,
                        const struct oreg_ref *ref, struct oci_error **err);

/* `inspect docker://REF`: the document ref names, the image manifest chosen
 * from it by platform (NULL: the host's) and that image's config. */
struct oreg_remote_image {
    struct oreg_remote_doc *top;      /* what ref names */
    struct oreg_remote_doc *manifest; /* the chosen image manifest (may equal top's bytes) */
    struct oimg_descriptor desc;      /* of manifest; with platform when chosen from an index */
    char *config;                     /* NULL for artifacts without an image config */
    size_t config_len;
};
enum {
    OREG_INSPECT_TOP_ONLY = 1 << 0, /* no platform choice, no config */
    OREG_INSPECT_NO_CONFIG = 1 << 1,
};
int oreg_inspect(struct oreg_remote_image **out, struct oreg_client *c, const struct oreg_ref *ref,
                 const struct oimg_platform *platform, unsigned flags, struct oci_error **err);
void oreg_remote_image_free(struct oreg_remote_image *img);

/* The repository's tags, following the Link header's pages (n = page_size
 * when > 0).  Bounded: at most OREG_TAGS_MAX tags and OREG_TAG_PAGES_MAX
 * pages. */
#define OREG_TAGS_MAX 1000000
#define OREG_TAG_PAGES_MAX 10000
int oreg_list_tags(char ***out, size_t *n_out, struct oreg_client *c, const struct oreg_ref *ref,
                   int page_size, struct oci_error **err);
void oreg_tags_free(char **tags, size_t n);

/* `login`: checks username/password against registry (as `login REGISTRY`
 * names it) the way a pull would use them: Basic, or a token request with
 * Basic credentials.  0 if accepted, -OCI_ERR_AUTH if refused. */
int oreg_login_check(struct oreg_client *c, const char *registry, const char *username,
                     const char *password, struct oci_error **err);

/* The libcurl this process uses ("7.88.1"; opened now if it was not yet),
 * or NULL if it cannot be loaded. */
const char *oreg_curl_version(void);

/* ---- pull ---------------------------------------------------------------- */

/* For a consumer of blob bytes while they download (the streaming
 * `pull --unpack`).  Called from the transfer loop's thread, in order for
 * each blob: begin() (again after a restart from byte 0), then data() for
 * every byte from 0 on (bytes kept from an earlier run are replayed first),
 * then end() with 0 once the blob is verified, or a negative code.  Blobs
 * download in parallel, so calls of different blobs interleave.  A
 * negative return aborts the pull with that code.
 * manifest() (optional), before any blob: the manifest the pull chose (the
 * platform's, from an index), its bytes verified against d; the consumer
 * needs no request of its own, and no second look that could see another
 * image if the tag moves meanwhile. */
struct oreg_blob_observer {
    int (*begin)(void *ud, const struct oimg_descriptor *d, struct oci_error **err);
    int (*data)(void *ud, const struct oimg_descriptor *d, const void *buf, size_t len,
                struct oci_error **err);
    int (*end)(void *ud, const struct oimg_descriptor *d, int status, struct oci_error **err);
    void *ud;
    int (*manifest)(void *ud, const struct oimg_descriptor *d, const void *data, size_t len,
                    struct oci_error **err);
};

struct oreg_pull_opts {
    const struct oimg_platform *platform; /* NULL: the host's */
    bool all_platforms;                   /* keep the whole index */
    const char *name;                     /* index.json ref.name; NULL: the tag, else the digest */
    const struct oreg_blob_observer *observer;
};

struct oreg_pull_result {
    char *reference; /* canonical */
    char *name;      /* the ref.name written */
    char *host;      /* the endpoint the manifest came from */
    /* The index.json entry written: the image manifest (chosen by platform)
     * or, with all_platforms, the index. */
    struct oimg_descriptor desc;
    struct oimg_digest top_digest; /* of what the reference named */
    char *top_media_type;
    char **platforms; /* pulled, "linux/arm64/v8" */
    size_t n_platforms;
    size_t manifests;     /* manifests and indexes stored */
    size_t blobs;         /* configs and layers referenced */
    size_t blobs_present; /* of those, already in the layout */
    size_t blobs_fetched;
    uint64_t bytes_total;   /* declared size of every blob referenced */
    uint64_t bytes_fetched; /* received over the network */
    uint64_t bytes_resumed; /* kept from interrupted downloads */
    unsigned retries;
    char *ratelimit_remaining; /* last RateLimit-Remaining seen, or NULL */
    double seconds;
};
void oreg_pull_result_free(struct oreg_pull_result *r);

/* Pulls ref into the layout: blobs are verified (size and digest) before
 * they appear, written through the store's resumable writer (an interrupted
 * pull continues next time), and the index.json entry is written last,
 * under the layout lock.  A failed or killed pull leaves a valid layout. */
int oreg_pull(struct oreg_pull_result **out, struct oreg_client *c, const struct oreg_ref *ref,
              struct oimg_layout *l, const struct oreg_pull_opts *opts, struct oci_error **err);

#ifdef __cplusplus
}
#endif
#endif
