/* Internals of libregistry's network side, shared by its files:
 *
 *   http.c     one curl multi handle (the transfer loop) and the single HTTP
 *              exchanges on it: headers parsed with caps, bodies into memory
 *              (capped) or a sink.
 *   certs.c    TLS settings per host (docker certs.d layout).
 *   call.c     a logical registry request: retries with backoff, redirects
 *              followed by hand, Authorization only to the origin, 401s.
 *   auth.c     ping, challenges, bearer tokens and Basic credentials.
 *   errors.c   HTTP statuses and registry error bodies into messages.
 *   fetch.c    manifests (content negotiation, digest checks), inspect.
 *   blobs.c    parallel blob downloads into the store's resumable writer.
 *   pull.c     the pull itself; tags.c, login.c.
 *
 * Nothing here prints; everything is driven from the caller's thread.  The
 * loop never calls back into call.c: an exchange that ends is only marked
 * done, and its owner looks at it when it next steps its calls.  So a
 * token request made while blobs are downloading simply runs in the same
 * loop, and the blobs keep flowing meanwhile. */
#ifndef OCIIMG_CLIENT_PRIVATE_H
#define OCIIMG_CLIENT_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "curl_dl.h"

#include <ociimg/registry.h>
#include <ociimg/registry_client.h>

/* ---- http.c ---------------------------------------------------------------- */

#define HTTP_HEADERS_MAX (64u * 1024) /* all header bytes of one response */
#define HTTP_ERROR_BODY_MAX (64u * 1024)
#define HTTP_URL_MAX 8192

struct http_tls {
    bool verify;
    char **ca_files; /* added to the system's trust store */
    size_t n_ca;
    char *cert, *key; /* client certificate (PEM), or NULL */
};

struct http_headers {
    long status;
    char *location, *content_type, *docker_digest, *content_range, *retry_after, *link;
    char *rl_remaining, *rl_limit, *rl_reset;
    char *www_auth[OREG_CHALLENGE_MAX];
    size_t n_www_auth;
    int64_t content_length; /* -1 if absent */
    size_t bytes;
};

struct http_req;
/* Receives the body of a 2xx response instead of memory.  begin() runs
 * once the final response's headers are in; a negative return (with *err)
 * aborts the exchange.  An error with code OCI_ERR_NETWORK is retryable.
 * data() may return HTTP_SINK_PAUSE without taking the bytes: the transfer
 * pauses, and the same bytes come again after http_req_resume. */
#define HTTP_SINK_PAUSE 1
struct http_sink {
    int (*begin)(void *ud, struct http_req *r, struct oci_error **err);
    int (*data)(void *ud, const void *buf, size_t len, struct oci_error **err);
    void *ud;
};

struct http_req_opts {
    const char *method; /* NULL: GET */
    const char *url;
    struct curl_slist *headers; /* taken over (and wiped: they may hold secrets) */
    const char *post;           /* POST body, or NULL */
    size_t post_len;
    const struct http_tls *tls;
    const struct http_sink *sink; /* 2xx bodies; NULL: memory, at most body_max */
    size_t body_max;
    bool big; /* a blob: bigger receive buffer */
};

struct http_loop;
struct http_req {
    struct http_loop *loop;
    CURL *easy;
    struct curl_slist *headers;
    char *url, *post;
    const struct http_tls *tls;
    struct http_headers h;
    bool headers_done;
    char *body;
    size_t body_len, body_alloc, body_max;
    struct http_sink sink;
    bool has_sink, sink_on;
    uint64_t rx; /* body bytes received */
    bool added, done;
    CURLcode cres;
    char errbuf[CURL_ERROR_SIZE];
    struct oci_error *cb_err; /* why a callback aborted */
};

int http_loop_new(struct http_loop **out, int max_host_conns, int stall_secs, int connect_secs,
                  const char *user_agent, struct oci_error **err);
void http_loop_free(struct http_loop *loop);
/* Runs transfers until something finishes or timeout_ms passes. */
int http_loop_step(struct http_loop *loop, int timeout_ms, struct oci_error **err);
size_t http_loop_active(const struct http_loop *loop);
/* Ends a wait in http_loop_step early; callable from any thread. */
void http_loop_wakeup(void *loop);

int http_req_start(struct http_req **out, struct http_loop *loop, const struct http_req_opts *o,
                   struct oci_error **err);
void http_req_free(struct http_req *r);
/* Continues a transfer its sink paused; loop thread only. */
void http_req_resume(struct http_req *r);
/* "Couldn't connect to server (Connection refused)" */
const char *http_req_strerror(const struct http_req *r);

/* "scheme://host[:port]" of a URL (lowercased scheme and host, default
 * port made explicit), for same-origin checks.  NULL if not http(s). */
char *http_url_origin(const char *url);
/* host[:port] as in references (default ports left out). */
char *http_url_hostport(const char *url);
/* Resolves a Location against the URL it came from. */
int http_url_resolve(char **out, const char *base, const char *ref, struct oci_error **err);
bool http_url_is_https(const char *url);
/* Percent-encodes for a query value. */
char *http_escape(const char *s);

/* ---- header values ---- */

/* "bytes START-END/TOTAL" (TOTAL may be "*": -1). */
int http_parse_content_range(const char *v, uint64_t *start, uint64_t *end, int64_t *total);
/* Retry-After: delta-seconds or an HTTP-date; seconds from now (>= 0), or -1. */
long http_parse_retry_after(const char *v, time_t now);
/* The target of the Link header's rel="next", or NULL. */
char *http_link_next(const char *v);
/* "application/json; charset=utf-8" -> "application/json" (lowercased). */
char *http_media_type(const char *content_type);

/* ---- certs.c ----------------------------------------------------------------- */

/* TLS settings for host ("h:port" as in a URL's authority): named is true
 * for the registry an operation names (--cert-dir and its client
 * certificate apply), insecure turns verification off. */
int certs_load(struct http_tls *out, const char *cert_dir, const char *host, bool named,
               bool insecure, struct oci_error **err);
void certs_clear(struct http_tls *t);

/* ---- client.c ---------------------------------------------------------------- */

#define CLIENT_TOKEN_SLOTS 8

struct token_slot {
    char *scope;
    char *token;
    time_t expiry;
    unsigned gen; /* bumped on every new token */
};

/* A registry (or mirror) host we talk to, with what we learned of it. */
struct reg_host {
    char *host;      /* "127.0.0.1:5000", "registry-1.docker.io" */
    char *creds_key; /* registry name for the credentials lookup */
    bool insecure;   /* plain HTTP allowed, TLS unverified */
    bool named;      /* the registry the operation names */
    bool mirror;     /* reached as a mirror: fail over quickly */
    const char *scheme;
    char *origin; /* scheme://host:port once pinged */
    bool pinged;
    bool bearer, basic;
    char *realm, *service;
    struct oreg_creds *creds;
    bool creds_done;
    struct token_slot slots[CLIENT_TOKEN_SLOTS];
    size_t n_slots;
    struct http_tls tls;
};

/* TLS settings of a host that is not a registry endpoint (token servers,
 * redirect targets, foreign layer URLs). */
struct tls_entry {
    char *host;
    struct http_tls tls;
};

struct oreg_client {
    struct oreg_client_opts o;
    char *cert_dir, *creds, *authfile, *user_agent; /* owned copies */
    struct http_loop *loop;
    struct reg_host **hosts;
    size_t n_hosts;
    struct tls_entry *tls;
    size_t n_tls;
    char *rl_remaining; /* last RateLimit-Remaining seen */
    unsigned retries_done;
    uint64_t rx_total;
};

void client_emit(struct oreg_client *c, const struct oreg_event *ev);
void client_note(struct oreg_client *c, const char *host, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The host record for an endpoint (created on first use). */
int client_host(struct reg_host **out, struct oreg_client *c, const char *host,
                const char *creds_key, bool insecure, bool named, struct oci_error **err);
/* TLS settings for any URL: a registry host's own, else a cached default. */
int client_tls_for_url(const struct http_tls **out, struct oreg_client *c, const char *url,
                       struct oci_error **err);
int64_t client_now_ms(void);

/* Where to look for a repository: the registry's endpoints in order
 * (mirrors, then the registry itself), with the repository path on each. */
struct endpoint {
    struct reg_host *host;
    char *repo; /* with the mirror's path prefix */
    bool mirror;
};
struct endpoint_list {
    struct endpoint *v;
    size_t n;
};
int client_endpoints(struct endpoint_list *out, struct oreg_client *c, const struct oreg_ref *ref,
                     struct oci_error **err);
void endpoint_list_clear(struct endpoint_list *l);

/* ---- call.c ------------------------------------------------------------------ */

enum call_state { CALL_IDLE, CALL_RUNNING, CALL_WAITING, CALL_OK, CALL_FAILED };

struct reg_call {
    struct oreg_client *c;
    struct reg_host *host; /* registry auth for its origin; NULL: none */
    char *scope;           /* bearer scope, "repository:x:pull"; NULL: none */
    char *url;             /* current (after redirects) */
    char *origin;          /* of the first URL: the only place Authorization goes */
    const char *method;
    char *accept;
    char *fixed_auth; /* an Authorization value for origin (token requests) */
    char *post;
    size_t post_len;
    struct http_sink sink;
    bool has_sink, big;
    size_t body_max;
    /* Bytes already held: a Range header asks for the rest. */
    uint64_t (*range_from)(void *ud);
    void *range_ud;
    bool no_range;
    char *what;       /* "manifest 1 of test/hello", for messages */
    char *path;       /* with host: appended to its origin once pinged */
    bool raw_status;  /* final 4xx answers end the call OK (the owner looks) */
    int max_failures; /* retries allowed; the client's when < 0 */
    /* Told about each retry (blob progress rows); else a client note. */
    void (*on_retry)(void *ud, const char *why);
    void *retry_ud;
    const struct http_tls *tls; /* for the first URL's origin; NULL: by host */

    struct http_req *req; /* the current or last exchange */
    enum call_state state;
    unsigned attempts, failures, redirects, auth_tries;
    bool scope_retried;
    unsigned used_gen;
    int64_t wake_ms;
    bool sent_auth;
    int result;
    struct oci_error *err;
};

struct call_spec {
    struct reg_host *host; /* with path: URL is origin + path */
    const char *repo;      /* for the pull scope */
    const char *path;
    const char *url; /* instead of host + path */
    const char *method;
    const char *accept;
    const char *fixed_auth;
    const char *post;
    size_t post_len;
    const struct http_sink *sink;
    size_t body_max;
    bool big;
    uint64_t (*range_from)(void *ud);
    void *range_ud;
    const char *what;
    bool raw_status;
    int max_failures; /* 0 in the spec means the client's default */
    bool no_retries;
    void (*on_retry)(void *ud, const char *why);
    void *retry_ud;
    /* TLS settings for the first URL's origin (a token realm gets its
     * registry's, as docker and containers/image do). */
    const struct http_tls *tls;
};

int call_init(struct reg_call *call, struct oreg_client *c, const struct call_spec *s,
              struct oci_error **err);
void call_clear(struct reg_call *call);
/* Starts (or restarts) the call: pings and gets a token first if needed. */
int call_start(struct reg_call *call);
/* Looks at a finished exchange or a due retry; returns the state. */
enum call_state call_step(struct reg_call *call);
/* Starts the call and drives the loop until it is OK or FAILED; returns 0
 * or the error (moved to *err). */
int call_run(struct reg_call *call, struct oci_error **err);
/* call_init then call_run; on failure the call is already cleared, on
 * success the caller reads call->req and calls call_clear. */
int call_do(struct reg_call *call, struct oreg_client *c, const struct call_spec *s,
            struct oci_error **err);
/* The next time a waiting call wants to run, or -1. */
int64_t call_wake_ms(const struct reg_call *call);
/* Takes the error of a failed call. */
int call_take_error(struct reg_call *call, struct oci_error **err);
/* Marks the call failed (a sink or the owner found a problem). */
void call_fail(struct reg_call *call, int code, struct oci_error *e);
/* Starts the call again now (a digest mismatch, a short body): counts as a
 * retry; code is the error's if no retry is left. */
int call_retry_now(struct reg_call *call, int code, const char *why);

/* ---- auth.c ------------------------------------------------------------------ */

/* Pings host's /v2/ (once): picks the scheme and learns the challenge. */
int auth_ping(struct oreg_client *c, struct reg_host *h, struct oci_error **err);
/* The Authorization header value for a request to h with scope (NULL or
 * malloc'd; callers wipe it), fetching a token if needed; *gen gets the
 * token generation used. */
int auth_header(char **out, unsigned *gen, struct oreg_client *c, struct reg_host *h,
                const char *scope, const char *repo_hint, struct oci_error **err);
/* A 401 from h: learns its challenges and decides.  Returns 1 to retry
 * (possibly with *scope replaced by the challenge's), 0 when nothing more
 * can be done. */
int auth_on_401(struct oreg_client *c, struct reg_host *h, const struct http_headers *hd,
                char **scope, unsigned used_gen, bool *scope_retried, unsigned *tries,
                struct oci_error **err);
/* Whether credentials were used for h (for messages). */
const char *auth_creds_source(const struct reg_host *h);
/* Fetches a token for scope now (login checks). */
int auth_fetch_token(struct oreg_client *c, struct reg_host *h, const char *scope,
                     struct oci_error **err);
int auth_host_creds(struct oreg_client *c, struct reg_host *h, const char *repo,
                    struct oci_error **err);

/* ---- errors.c ---------------------------------------------------------------- */

/* An error for a final non-2xx answer to call (status, registry error codes
 * from the body, what to do). */
int errors_http(struct reg_call *call, struct oci_error **err);
/* An error for a transfer failure (connection, TLS, DNS, timeouts). */
int errors_transport(struct reg_call *call, struct oci_error **err);
/* Appends ": <what to do>" to an error. */
int errors_hint(struct oci_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The hint for what a reference names not being there (r: the error code). */
int errors_top_hint(struct oci_error **err, int r, const struct oreg_ref *ref);
/* The first registry error code of an error body ("MANIFEST_UNKNOWN"), or NULL. */
char *errors_registry_code(const char *body, size_t len, char **message);

/* ---- fetch.c ----------------------------------------------------------------- */

#define ACCEPT_MANIFESTS                                                                           \
    OIMG_MT_OCI_INDEX ", " OIMG_MT_OCI_MANIFEST ", " OIMG_MT_DOCKER_LIST                           \
                      ", " OIMG_MT_DOCKER_MANIFEST

/* GET /v2/<repo>/manifests/<reference> from one endpoint, verified:
 * against want (when given) and, by tag, Docker-Content-Digest. */
int fetch_manifest_at(struct oreg_remote_doc **out, struct oreg_client *c,
                      const struct endpoint *ep, const char *reference,
                      const struct oimg_digest *want, struct oci_error **err);
/* The same, trying the endpoints in order (first start, then the rest). */
int fetch_manifest_any(struct oreg_remote_doc **out, size_t *ep_used, struct oreg_client *c,
                       const struct endpoint_list *eps, size_t first, const char *reference,
                       const struct oimg_digest *want, struct oci_error **err);
/* A small blob (config) into memory, verified. */
int fetch_blob_mem(char **out, size_t *out_len, struct oreg_client *c,
                   const struct endpoint_list *eps, size_t first, const struct oimg_descriptor *d,
                   size_t max, struct oci_error **err);

/* ---- blobpipe.c -------------------------------------------------------------- */

/* A thread that hashes and writes one blob's bytes while the transfer loop
 * receives.  write copies and queues (blocking while the short queue is
 * full) and returns the thread's earlier error if any; room says whether
 * len bytes would go in without blocking, and if not, has the thread call
 * wake once a slot frees (so the loop pauses that transfer instead of
 * waiting, and keeps the others going); sync waits until all
 * is written and returns the first error; only after a sync may the caller
 * use the writer itself or swap it (set_writer).  free writes what is
 * queued, then stops the thread. */
struct blob_pipe;
int blob_pipe_new(struct blob_pipe **out, struct oimg_blob_writer *w, void (*wake)(void *ud),
                  void *wake_ud);
int blob_pipe_write(struct blob_pipe *p, const void *buf, size_t len, struct oci_error **err);
bool blob_pipe_room(struct blob_pipe *p, size_t len);
int blob_pipe_sync(struct blob_pipe *p, struct oci_error **err);
/* After the last byte: the thread fsyncs the file too (see
 * oimg_blob_writer_sync), then calls wake; busy says whether it still works
 * (a sync would block).  wake is called on the pipe's thread. */
void blob_pipe_finish(struct blob_pipe *p);
bool blob_pipe_busy(struct blob_pipe *p);
void blob_pipe_set_writer(struct blob_pipe *p, struct oimg_blob_writer *w);
void blob_pipe_free(struct blob_pipe *p);

/* ---- blobs.c ----------------------------------------------------------------- */

struct blob_stats {
    size_t fetched, present;
    uint64_t bytes_fetched, bytes_resumed;
};
/* Downloads every descriptor of want that the layout does not hold, in
 * parallel, each verified and committed. */
int blobs_fetch(struct blob_stats *st, struct oreg_client *c, struct oimg_layout *l,
                const struct endpoint_list *eps, size_t first, const struct oimg_descriptor *want,
                size_t n, const struct oreg_blob_observer *obs, struct oci_error **err);

#endif
