/* Image references: the docker grammar and docker's normalisation (see
 * registry.h for the grammar).  Written as a hand parser rather than regexes
 * so each rejection can say which rule the input broke. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/cleanup.h>
#include <ociimg/registry.h>

#include "registry_private.h"

#define LEGACY_HUB "index.docker.io"
#define LIBRARY_PREFIX "library/"

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool oreg_host_is_docker_hub(const char *host)
{
    return host && (strcmp(host, OREG_DOCKER_HUB) == 0 || strcmp(host, LEGACY_HUB) == 0 ||
                    strcmp(host, OREG_DOCKER_HUB_API) == 0);
}

const char *oreg_creds_key(const char *registry)
{
    return oreg_host_is_docker_hub(registry) ? OREG_DOCKER_HUB_CREDS_KEY : registry;
}

/* A DNS-ish name: components of [A-Za-z0-9] with '-' inside, joined by '.'. */
static const char *check_domain_name(const char *s, size_t len)
{
    if (len == 0)
        return "empty host name";
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.') {
            if (!is_alnum(s[i]) && s[i] != '-')
                return "host names may contain only letters, digits, '-' and '.'";
            continue;
        }
        if (i == start)
            return "empty component in host name";
        if (s[start] == '-' || s[i - 1] == '-')
            return "host name components must not start or end with '-'";
        start = i + 1;
    }
    return NULL;
}

static const char *check_ipv6(const char *s, size_t len)
{
    char buf[INET6_ADDRSTRLEN + 1];
    struct in6_addr a;
    if (len == 0 || len >= sizeof(buf))
        return "invalid IPv6 address";
    /* Zones and the dotted IPv4-mapped form are left out, as docker does. */
    for (size_t i = 0; i < len; i++)
        if (!is_digit(s[i]) && !strchr("abcdefABCDEF:", s[i]))
            return "invalid IPv6 address";
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET6, buf, &a) != 1)
        return "invalid IPv6 address";
    return NULL;
}

const char *oreg_domain_check(const char *s, size_t len)
{
    size_t host_end;
    const char *why;
    if (len == 0)
        return "empty registry host";
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close)
            return "missing ']' after IPv6 address";
        host_end = (size_t)(close - s) + 1;
        why = check_ipv6(s + 1, host_end - 2);
    } else {
        const char *colon = memchr(s, ':', len);
        host_end = colon ? (size_t)(colon - s) : len;
        why = check_domain_name(s, host_end);
    }
    if (why)
        return why;
    if (host_end == len)
        return NULL;
    if (s[host_end] != ':')
        return "unexpected characters after the host";
    const char *port = s + host_end + 1;
    size_t plen = len - host_end - 1;
    if (plen == 0 || plen > 5)
        return "port must be a number from 1 to 65535";
    unsigned long v = 0;
    for (size_t i = 0; i < plen; i++) {
        if (!is_digit(port[i]))
            return "port must be a number from 1 to 65535";
        v = v * 10 + (unsigned long)(port[i] - '0');
    }
    if (v < 1 || v > 65535)
        return "port must be a number from 1 to 65535";
    return NULL;
}

/* One path component: [a-z0-9]+ joined by ".", "_", "__" or "-"+. */
static const char *check_component(const char *c, size_t len)
{
    if (len == 0)
        return "empty path component (a leading, trailing or doubled '/')";
    if (!is_lower_alnum(c[0]))
        return "path components must start with a lowercase letter or digit";
    size_t i = 0;
    while (i < len) {
        if (is_lower_alnum(c[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && !is_lower_alnum(c[j])) {
            if (!strchr("._-", c[j]))
                return "path components may contain only [a-z0-9] and the separators . _ __ -";
            j++;
        }
        if (j == len)
            return "path components must not end with a separator";
        size_t n = j - i;
        bool dashes = strspn(c + i, "-") >= n;
        if (!(n == 1 || (n == 2 && c[i] == '_' && c[i + 1] == '_') || dashes))
            return "invalid separator in path component (allowed: . _ __ or dashes)";
        i = j;
    }
    return NULL;
}

const char *oreg_path_check(const char *p)
{
    const char *start = p;
    for (;;) {
        const char *slash = strchr(start, '/');
        size_t len = slash ? (size_t)(slash - start) : strlen(start);
        const char *why = check_component(start, len);
        if (why)
            return why;
        if (!slash)
            return NULL;
        start = slash + 1;
    }
}

static const char *check_tag(const char *t)
{
    size_t n = strlen(t);
    if (n == 0)
        return "empty tag after ':'";
    if (n > OREG_TAG_MAX)
        return "tag is longer than 128 characters";
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        bool word = is_alnum(c) || c == '_';
        if (!(word || (i > 0 && (c == '.' || c == '-'))))
            return i == 0 ? "tag must start with a letter, digit or '_'"
                          : "tag may contain only letters, digits, '_', '.' and '-'";
    }
    return NULL;
}

static bool is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (!is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
            return false;
    return true;
}

static int bad_ref(struct oci_error **err, const char *input, const char *why)
{
    char q[OREG_QUOTE_BUF];
    oreg_quote(q, input);
    return oci_error_set(err, OCI_ERR_INVALID, "invalid reference %s: %s", q, why);
}

void oreg_ref_free(struct oreg_ref *ref)
{
    if (!ref)
        return;
    free(ref->registry);
    free(ref->api_host);
    free(ref->repository);
    free(ref->tag);
    free(ref->familiar);
    free(ref->canonical);
    free(ref);
}
OCI_DEFINE_CLEANUP(struct oreg_ref *, oreg_ref_free)

static char *join_ref(const char *domain, const char *path, const char *tag,
                      const struct oreg_ref *r)
{
    char *s = NULL;
    if (asprintf(&s, "%s%s%s%s%s%s%s", domain ? domain : "", domain ? "/" : "", path,
                 tag ? ":" : "", tag ? tag : "", r->has_digest ? "@" : "",
                 r->has_digest ? r->digest.str : "") < 0)
        return NULL;
    return s;
}

static const char *familiar_path(const char *registry, const char *repository)
{
    if (strcmp(registry, OREG_DOCKER_HUB) != 0)
        return NULL;
    if (strncmp(repository, LIBRARY_PREFIX, strlen(LIBRARY_PREFIX)) == 0 &&
        !strchr(repository + strlen(LIBRARY_PREFIX), '/'))
        return repository + strlen(LIBRARY_PREFIX);
    return repository;
}

int oreg_ref_parse(struct oreg_ref **out, const char *s, struct oci_error **err)
{
    if (!s)
        return bad_ref(err, s, "no reference given");
    if (strnlen(s, OREG_REF_INPUT_MAX + 1) > OREG_REF_INPUT_MAX)
        return bad_ref(err, s, "longer than 1024 characters");
    const char *in = s;
    if (strncmp(in, "docker://", 9) == 0)
        in += 9;
    if (!*in)
        return bad_ref(err, s, "empty");
    if (is_hex64(in))
        return bad_ref(err, s, "a 64-character hex string is an image ID, not a repository name");

    _cleanup_(oreg_ref_freep) struct oreg_ref *r = calloc(1, sizeof(*r));
    _cleanup_free_ char *name = strdup(in);
    if (!r || !name)
        return oci_error_set(err, OCI_ERR_NOMEM, "parse reference: out of memory");

    /* name[:tag][@digest]: the digest follows the first '@', the tag the last
     * ':' that is not part of the host (that is, after the last '/'). */
    char *at = strchr(name, '@');
    if (at) {
        *at = '\0';
        const char *dstr = at + 1;
        if (!*dstr)
            return bad_ref(err, s, "empty digest after '@'");
        struct oci_error *e = NULL;
        if (oimg_digest_parse_any(&r->digest, dstr, &e) < 0) {
            char q[OREG_QUOTE_BUF];
            oreg_quote(q, s);
            int code = e->code;
            oci_error_set(err, code, "invalid reference %s: %s", q, e->msg);
            oci_error_free(e);
            return -code;
        }
        r->has_digest = true;
    }
    char *last_slash = strrchr(name, '/');
    char *colon = strrchr(last_slash ? last_slash : name, ':');
    const char *tag = NULL;
    if (colon) {
        *colon = '\0';
        tag = colon + 1;
        const char *why = check_tag(tag);
        if (why)
            return bad_ref(err, s, why);
    }
    if (!*name)
        return bad_ref(err, s, "empty repository name");

    /* The first component names a registry only if it looks like a host. */
    const char *domain = OREG_DOCKER_HUB, *path = name;
    _cleanup_free_ char *domain_buf = NULL;
    char *first_slash = strchr(name, '/');
    if (first_slash) {
        size_t dlen = (size_t)(first_slash - name);
        if (memchr(name, '.', dlen) || memchr(name, ':', dlen) ||
            (dlen == 9 && memcmp(name, "localhost", 9) == 0)) {
            const char *why = oreg_domain_check(name, dlen);
            if (why)
                return bad_ref(err, s, why);
            domain_buf = strndup(name, dlen);
            if (!domain_buf)
                return oci_error_set(err, OCI_ERR_NOMEM, "parse reference: out of memory");
            domain = strcmp(domain_buf, LEGACY_HUB) == 0 ? OREG_DOCKER_HUB : domain_buf;
            path = first_slash + 1;
        }
    }

    bool add_library = strcmp(domain, OREG_DOCKER_HUB) == 0 && !strchr(path, '/');
    if (asprintf(&r->repository, "%s%s", add_library ? LIBRARY_PREFIX : "", path) < 0) {
        r->repository = NULL;
        return oci_error_set(err, OCI_ERR_NOMEM, "parse reference: out of memory");
    }
    const char *why = oreg_path_check(r->repository);
    if (why) {
        _cleanup_free_ char *lower = strdup(r->repository);
        if (lower) {
            oreg_ascii_lower(lower);
            if (!oreg_path_check(lower))
                why = "repository name must be lowercase";
        }
        return bad_ref(err, s, why);
    }
    if (strlen(domain) + 1 + strlen(r->repository) > OREG_NAME_MAX)
        return bad_ref(err, s, "repository name must not be more than 255 characters");

    if (!tag && !r->has_digest)
        tag = "latest";
    r->registry = strdup(domain);
    r->api_host = strdup(strcmp(domain, OREG_DOCKER_HUB) == 0 ? OREG_DOCKER_HUB_API : domain);
    r->tag = tag ? strdup(tag) : NULL;
    if (!r->registry || !r->api_host || (tag && !r->tag))
        return oci_error_set(err, OCI_ERR_NOMEM, "parse reference: out of memory");
    const char *fpath = familiar_path(r->registry, r->repository);
    r->familiar =
        fpath ? join_ref(NULL, fpath, r->tag, r) : join_ref(r->registry, r->repository, r->tag, r);
    r->canonical = join_ref(r->registry, r->repository, r->tag, r);
    if (!r->familiar || !r->canonical)
        return oci_error_set(err, OCI_ERR_NOMEM, "parse reference: out of memory");

    *out = TAKE_PTR(r);
    return 0;
}

const char *oreg_ref_manifest_reference(const struct oreg_ref *ref)
{
    return ref->has_digest ? ref->digest.str : ref->tag;
}

char *oreg_ref_name(const struct oreg_ref *ref)
{
    char *s = NULL;
    if (asprintf(&s, "%s/%s", ref->registry, ref->repository) < 0)
        return NULL;
    return s;
}

int oreg_registry_normalize(char **out, const char *s, struct oci_error **err)
{
    char q[OREG_QUOTE_BUF];
    if (!s || !*s)
        return oci_error_set(err, OCI_ERR_INVALID, "empty registry name");
    if (strnlen(s, OREG_REF_INPUT_MAX + 1) > OREG_REF_INPUT_MAX) {
        oreg_quote(q, s);
        return oci_error_set(err, OCI_ERR_INVALID, "invalid registry %s: too long", q);
    }
    const char *h = s;
    if (strncmp(h, "https://", 8) == 0)
        h += 8;
    else if (strncmp(h, "http://", 7) == 0)
        h += 7;
    size_t len = strcspn(h, "/");
    const char *why = oreg_domain_check(h, len);
    if (why) {
        oreg_quote(q, s);
        return oci_error_set(err, OCI_ERR_INVALID, "invalid registry %s: %s", q, why);
    }
    char *r = strndup(h, len);
    if (!r)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    if (oreg_host_is_docker_hub(r)) {
        free(r);
        r = strdup(OREG_DOCKER_HUB);
        if (!r)
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    *out = r;
    return 0;
}
