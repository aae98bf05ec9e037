/* libregistry: talking to OCI / Docker registries.
 *
 * This header holds the input side: image references, WWW-Authenticate
 * challenges, token responses, credentials (docker config.json and credential
 * helpers) and the registries config (mirrors, insecure hosts).  All of it is
 * pure parsing with size caps; the transport builds on these types.
 *
 * Conventions are libimage's: 0 (or a documented non-negative value) on
 * success, a negative OCI_ERR_* code on failure with *err set; out-params are
 * untouched on failure; every returned object has a NULL-safe *_free. */
#ifndef OCIIMG_REGISTRY_H
#define OCIIMG_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <ociimg/digest.h>
#include <ociimg/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- references ---------------------------------------------------------
 *
 * The docker reference grammar with docker's normalisation:
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path
 *   domain     := host [ ":" port ]          host: DNS-ish name, IPv4, or [IPv6]
 *   path       := component ( "/" component )*
 *   component  := [a-z0-9]+ ( separator [a-z0-9]+ )*
 *   separator  := "." | "_" | "__" | "-"+
 *   tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 *
 * The first component is a domain only if it contains '.' or ':' or is
 * "localhost"; otherwise the registry is docker.io, and a one-component path
 * on docker.io gets "library/".  index.docker.io is an alias of docker.io.
 * "docker://" in front is accepted.  With neither tag nor digest the tag is
 * "latest"; with both, both are kept and the digest is what gets fetched.
 * The full name (domain "/" path) is at most 255 characters. */

#define OREG_DOCKER_HUB "docker.io"
#define OREG_DOCKER_HUB_API "registry-1.docker.io"
/* The key Docker Hub credentials are stored under in config.json. */
#define OREG_DOCKER_HUB_CREDS_KEY "https://index.docker.io/v1/"

#define OREG_NAME_MAX 255
#define OREG_TAG_MAX 128
/* Longest reference string we look at (name + tag + digest + prefix). */
#define OREG_REF_INPUT_MAX 1024

struct oreg_ref {
    /* The registry as the reference names it (index.docker.io becomes
     * docker.io): "docker.io", "localhost:5000", "[::1]:5000". */
    char *registry;
    char *api_host;   /* host[:port] to contact: "registry-1.docker.io" for docker.io */
    char *repository; /* "library/alpine" */
    char *tag;        /* NULL when given only a digest */
    bool has_digest;
    struct oimg_digest digest;
    char *familiar;  /* "alpine:latest", "user/app@sha256:..." */
    char *canonical; /* "docker.io/library/alpine:latest" */
};

int oreg_ref_parse(struct oreg_ref **out, const char *s, struct oci_error **err);
void oreg_ref_free(struct oreg_ref *ref);
/* What to put in /v2/<name>/manifests/<reference>: the digest if there is one,
 * else the tag. */
const char *oreg_ref_manifest_reference(const struct oreg_ref *ref);
/* "docker.io/library/alpine" (registry "/" repository) into a new string. */
char *oreg_ref_name(const struct oreg_ref *ref);

/* True for docker.io and its aliases (index.docker.io, registry-1.docker.io). */
bool oreg_host_is_docker_hub(const char *host);
/* Normalises what a user types for `login REGISTRY` (or a config.json key):
 * strips http(s):// and any path, checks the domain grammar, maps Docker Hub
 * aliases to "docker.io".  *out is malloc'd. */
int oreg_registry_normalize(char **out, const char *s, struct oci_error **err);
/* The config.json key for a registry host: OREG_DOCKER_HUB_CREDS_KEY for
 * Docker Hub, the host itself otherwise.  Returns a static or the argument. */
const char *oreg_creds_key(const char *registry);

/* ---- WWW-Authenticate (RFC 7235) ---------------------------------------
 *
 *   challenge  := auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 *   auth-param := token BWS "=" BWS ( token / quoted-string )
 *
 * Several challenges may share one header (comma separated) and several
 * headers may be given.  Schemes and parameter names are case-insensitive
 * and returned lowercased; values keep their case, quoted-strings are
 * unescaped.  Leniencies real servers need (regclient and docker have them
 * too): a quoted scheme or parameter name, and unquoted values with any
 * visible character but , " ; \ (bare URLs such as realm=https://h/token).
 * A parameter repeated within one challenge is an error. */

#define OREG_CHALLENGE_HEADER_MAX 8192 /* bytes in one header value */
#define OREG_CHALLENGE_MAX 16          /* challenges in total */
#define OREG_CHALLENGE_PARAMS_MAX 32   /* params in one challenge */

struct oreg_auth_param {
    char *name; /* lowercased */
    char *value;
};

struct oreg_challenge {
    char *scheme;  /* lowercased: "bearer", "basic" */
    char *token68; /* NULL unless the token68 form was used */
    struct oreg_auth_param *params;
    size_t n_params;
};

struct oreg_challenges {
    struct oreg_challenge *v;
    size_t n;
};

/* Parses n_headers header values (n_headers may be 0) into a new list. */
int oreg_challenges_parse(struct oreg_challenges **out, const char *const *headers,
                          size_t n_headers, struct oci_error **err);
/* Appends the challenges of one more header value; on failure the list is
 * unchanged. */
int oreg_challenges_add(struct oreg_challenges *list, const char *header, struct oci_error **err);
void oreg_challenges_free(struct oreg_challenges *list);

/* The first challenge with this scheme (case-insensitive), or NULL. */
const struct oreg_challenge *oreg_challenges_find(const struct oreg_challenges *list,
                                                  const char *scheme);
/* A parameter's value (name case-insensitive), or NULL. */
const char *oreg_challenge_param(const struct oreg_challenge *c, const char *name);
const char *oreg_challenge_realm(const struct oreg_challenge *c);
const char *oreg_challenge_service(const struct oreg_challenge *c);
const char *oreg_challenge_scope(const struct oreg_challenge *c);
/* The `error` parameter ("insufficient_scope", "invalid_token"), or NULL. */
const char *oreg_challenge_error(const struct oreg_challenge *c);
bool oreg_challenge_insufficient_scope(const struct oreg_challenge *c);

/* ---- token responses (docker token auth, OAuth2) ------------------------ */

#define OREG_TOKEN_RESPONSE_MAX (512u * 1024)
/* Docker's minimum token lifetime: shorter or absent expires_in becomes this. */
#define OREG_TOKEN_MIN_LIFETIME 60

struct oreg_token {
    char *token;         /* `token`, or `access_token` when `token` is absent/empty */
    char *refresh_token; /* NULL if absent */
    int64_t expires_in;  /* seconds, >= OREG_TOKEN_MIN_LIFETIME */
    bool has_issued_at;
    time_t issued_at; /* from `issued_at` (RFC 3339), when has_issued_at */
};

/* Parses a token endpoint's JSON body (at most OREG_TOKEN_RESPONSE_MAX).
 * The token must be printable ASCII without spaces, since it goes into an
 * HTTP header.  An unparsable issued_at is ignored, as clocks and servers
 * disagree and our expiry does not depend on it. */
int oreg_token_parse(struct oreg_token **out, const char *body, size_t len, struct oci_error **err);
/* Zeroes the secrets before freeing. */
void oreg_token_free(struct oreg_token *t);
/* When to stop using the token: received_at + expires_in.  We count from our
 * own clock at receipt, not issued_at, so clock skew cannot make a fresh
 * token look expired. */
time_t oreg_token_expiry(const struct oreg_token *t, time_t received_at);

/* Parses an RFC 3339 date-time ("2023-06-03T23:43:21.17Z", "...+02:00"). */
int oreg_parse_rfc3339(time_t *out, const char *s, struct oci_error **err);

/* "repository:<name>:<actions>" (actions e.g. "pull" or "pull,push"). */
int oreg_scope_build(char **out, const char *repository, const char *actions,
                     struct oci_error **err);
/* "repository:<name>:pull". */
int oreg_scope_pull(char **out, const char *repository, struct oci_error **err);

/* ---- credentials ---------------------------------------------------------
 *
 * Lookup order (the first source that has credentials for the registry wins):
 *   1. opts->creds ("USER:PASS", from --creds);
 *   2. opts->authfile, else $REGISTRY_AUTH_FILE (a missing --authfile is an
 *      error; a missing $REGISTRY_AUTH_FILE is skipped);
 *   3. $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
 * Within one file: credHelpers[host], then credsStore, then auths.  A helper
 * is run as `docker-credential-<name> get` (found in $PATH, no shell) with the
 * config key on stdin; "not found" from a helper moves on to the next source.
 * auths keys may be a host ("registry.example.com"), a URL
 * ("https://registry.example.com/v2/", "https://index.docker.io/v1/") or,
 * like containers' auth.json, "host/namespace" (most specific first).
 *
 * No secret ever appears in an error message: messages name the file, key
 * and field, never a value. */

#define OREG_AUTHFILE_MAX (4u * 1024 * 1024)
#define OREG_HELPER_OUTPUT_MAX (64u * 1024)
#define OREG_HELPER_TIMEOUT_MS_DEFAULT 60000

struct oreg_creds {
    char *username;       /* NULL when only an identity token is known */
    char *password;       /* NULL with an identity token */
    char *identity_token; /* OAuth2 refresh token (grant_type=refresh_token) */
    char *source;         /* where they came from, for messages; never a secret */
};

struct oreg_creds_opts {
    const char *creds;     /* "USER:PASS" or NULL */
    const char *authfile;  /* NULL: $REGISTRY_AUTH_FILE */
    int helper_timeout_ms; /* 0: OREG_HELPER_TIMEOUT_MS_DEFAULT */
};

/* Returns 1 and sets *out when credentials were found, 0 (and *out = NULL)
 * for anonymous access.  repository may be NULL (host-level keys only). */
int oreg_creds_lookup(struct oreg_creds **out, const char *registry, const char *repository,
                      const struct oreg_creds_opts *opts, struct oci_error **err);
/* Zeroes every field before freeing. */
void oreg_creds_free(struct oreg_creds *c);
/* Parses "USER:PASS" (split at the first ':'; USER non-empty). */
int oreg_creds_parse_userpass(struct oreg_creds **out, const char *s, struct oci_error **err);

/* The config file login/logout write: opts->authfile, $REGISTRY_AUTH_FILE,
 * $DOCKER_CONFIG/config.json or ~/.docker/config.json.  *out is malloc'd. */
int oreg_authfile_path(char **out, const struct oreg_creds_opts *opts, struct oci_error **err);
/* Sets auths[oreg_creds_key(registry)] = {"auth": base64(user:pass)} in the
 * docker-compatible file at path (created with its directory if missing),
 * keeping every other key; written atomically with mode 0600. */
int oreg_authfile_store(const char *path, const char *registry, const char *username,
                        const char *password, struct oci_error **err);
/* Removes every auths entry whose key normalises to registry.  Returns the
 * number removed (0: nothing to do, the file is left alone). */
int oreg_authfile_erase(const char *path, const char *registry, struct oci_error **err);

/* ---- registries config (mirrors, insecure, blocked) ----------------------
 *
 * A JSON file given with --registries-conf:
 *
 *   {
 *     "registries": [
 *       {
 *         "location": "docker.io",
 *         "mirrors": [
 *           { "location": "cache.ci.example:5000", "insecure": true },
 *           { "location": "harbor.example/dockerhub-proxy" }
 *         ]
 *       },
 *       { "location": "registry.lan:5000", "insecure": true },
 *       { "location": "quay.io", "mirror-only": true,
 *         "mirrors": [ { "location": "quay-cache.example" } ] },
 *       { "location": "evil.example", "blocked": true }
 *     ]
 *   }
 *
 * - location: a registry host[:port] (Docker Hub aliases mean docker.io).
 *   Mirror locations may add a path ("host/prefix"), prepended to the
 *   repository on that mirror.
 * - insecure: plain HTTP or TLS without verification for that host.
 * - mirrors are tried in order, then the registry itself unless mirror-only.
 * - blocked: every pull from the registry fails.
 * Unknown keys are errors (a typo must not silently disable a mirror).  Hosts
 * without an entry are contacted directly with TLS.  Unqualified names always
 * mean docker.io. */

#define OREG_REGISTRIES_CONF_MAX (1024u * 1024)
#define OREG_REGISTRIES_MAX 1024
#define OREG_MIRRORS_MAX 16

struct oreg_registries_conf;

struct oreg_endpoint {
    char *host;        /* host[:port] to contact ("registry-1.docker.io" for docker.io) */
    char *path_prefix; /* "" or "dockerhub-proxy": prepended to the repository */
    bool insecure;
    bool mirror;
};

struct oreg_endpoints {
    struct oreg_endpoint *v;
    size_t n;
};

int oreg_registries_conf_load(struct oreg_registries_conf **out, const char *path,
                              struct oci_error **err);
int oreg_registries_conf_parse(struct oreg_registries_conf **out, const char *buf, size_t len,
                               const char *what, struct oci_error **err);
void oreg_registries_conf_free(struct oreg_registries_conf *conf);
/* The endpoints to try for a registry (as in struct oreg_ref.registry), in
 * order.  conf may be NULL (just the registry).  A blocked registry is
 * -OCI_ERR_AUTH naming the config. */
int oreg_registries_lookup(struct oreg_endpoints **out, const struct oreg_registries_conf *conf,
                           const char *registry, struct oci_error **err);
void oreg_endpoints_free(struct oreg_endpoints *e);

#ifdef __cplusplus
}
#endif
#endif
