/* The registries config (--registries-conf): per-registry mirrors, insecure
 * hosts and blocked registries.  The format is documented in registry.h.
 *
 * It is JSON rather than containers' TOML so it is parsed by the same bounded
 * parser as everything else; the key names follow registries.conf's
 * (location, insecure, blocked, mirror) so the two read alike. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/cleanup.h>
#include <ociimg/json.h>
#include <ociimg/registry.h>

#include "registry_private.h"

struct mirror {
    char *host;
    char *prefix;
    bool insecure;
};

struct entry {
    char *location; /* normalised registry host */
    bool insecure, blocked, mirror_only;
    struct mirror *mirrors;
    size_t n_mirrors;
};

struct oreg_registries_conf {
    char *what; /* file name, for messages */
    struct entry *v;
    size_t n;
};

void oreg_registries_conf_free(struct oreg_registries_conf *conf)
{
    if (!conf)
        return;
    for (size_t i = 0; i < conf->n; i++) {
        struct entry *e = &conf->v[i];
        free(e->location);
        for (size_t j = 0; j < e->n_mirrors; j++) {
            free(e->mirrors[j].host);
            free(e->mirrors[j].prefix);
        }
        free(e->mirrors);
    }
    free(conf->v);
    free(conf->what);
    free(conf);
}
OCI_DEFINE_CLEANUP(struct oreg_registries_conf *, oreg_registries_conf_free)

static int check_keys(json_object *o, const char *const *allowed, const char *what,
                      struct oci_error **err)
{
    json_object_object_foreach(o, key, val)
    {
        (void)val;
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(key, *a) == 0;
        if (!ok) {
            char q[OREG_QUOTE_BUF];
            oreg_quote(q, key);
            return oci_error_set(err, OCI_ERR_INVALID, "%s: unknown key %s", what, q);
        }
    }
    return 0;
}

static int get_bool(bool *out, json_object *o, const char *key, const char *what,
                    struct oci_error **err)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        return 0;
    if (!json_object_is_type(v, json_type_boolean))
        return oci_error_set(err, OCI_ERR_INVALID, "%s.%s: must be true or false", what, key);
    *out = json_object_get_boolean(v);
    return 0;
}

static int get_array(json_object **out, json_object *o, const char *key, size_t max,
                     const char *what, struct oci_error **err)
{
    json_object *v = NULL;
    *out = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        return 0;
    if (!json_object_is_type(v, json_type_array))
        return oci_error_set(err, OCI_ERR_INVALID, "%s.%s: must be an array", what, key);
    if (json_object_array_length(v) > max)
        return oci_error_set(err, OCI_ERR_TOO_LARGE, "%s.%s: more than %zu entries", what, key,
                             max);
    *out = v;
    return 0;
}

/* host[:port] of a registry; Docker Hub's aliases become docker.io. */
static int parse_host(char **out, const char *loc, const char *what, struct oci_error **err)
{
    char q[OREG_QUOTE_BUF];
    oreg_quote(q, loc);
    const char *why = oreg_domain_check(loc, strlen(loc));
    if (why)
        return oci_error_set(err, OCI_ERR_INVALID, "%s.location %s: %s%s", what, q, why,
                             strchr(loc, '/') ? " (a registry location is a host[:port] only)"
                                              : "");
    *out = strdup(oreg_host_is_docker_hub(loc) ? OREG_DOCKER_HUB : loc);
    return *out ? 0 : oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
}

static int parse_mirror(struct mirror *m, json_object *o, const char *what, struct oci_error **err)
{
    static const char *const keys[] = {"location", "insecure", NULL};
    if (!json_object_is_type(o, json_type_object))
        return oci_error_set(err, OCI_ERR_INVALID, "%s: must be an object", what);
    int r = check_keys(o, keys, what, err);
    const char *loc = NULL;
    if (r < 0 || (r = oimg_json_get_string(&loc, o, "location", true, what, err)) < 0 ||
        (r = get_bool(&m->insecure, o, "insecure", what, err)) < 0)
        return r;
    size_t hlen = strcspn(loc, "/");
    char q[OREG_QUOTE_BUF];
    oreg_quote(q, loc);
    const char *why = oreg_domain_check(loc, hlen);
    if (!why && loc[hlen] == '/')
        why = oreg_path_check(loc + hlen + 1);
    if (why)
        return oci_error_set(err, OCI_ERR_INVALID, "%s.location %s: %s", what, q, why);
    m->host = strndup(loc, hlen);
    m->prefix = strdup(loc[hlen] ? loc + hlen + 1 : "");
    if (!m->host || !m->prefix)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    if (oreg_host_is_docker_hub(m->host)) {
        free(m->host);
        if (!(m->host = strdup(OREG_DOCKER_HUB_API)))
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    return 0;
}

static int parse_entry(struct entry *e, json_object *o, const char *what, struct oci_error **err)
{
    static const char *const keys[] = {"location",    "insecure", "blocked",
                                       "mirror-only", "mirrors",  NULL};
    if (!json_object_is_type(o, json_type_object))
        return oci_error_set(err, OCI_ERR_INVALID, "%s: must be an object", what);
    int r = check_keys(o, keys, what, err);
    const char *loc = NULL;
    json_object *mirrors = NULL;
    if (r < 0 || (r = oimg_json_get_string(&loc, o, "location", true, what, err)) < 0 ||
        (r = parse_host(&e->location, loc, what, err)) < 0 ||
        (r = get_bool(&e->insecure, o, "insecure", what, err)) < 0 ||
        (r = get_bool(&e->blocked, o, "blocked", what, err)) < 0 ||
        (r = get_bool(&e->mirror_only, o, "mirror-only", what, err)) < 0 ||
        (r = get_array(&mirrors, o, "mirrors", OREG_MIRRORS_MAX, what, err)) < 0)
        return r;
    size_t n = mirrors ? json_object_array_length(mirrors) : 0;
    if (e->mirror_only && n == 0)
        return oci_error_set(err, OCI_ERR_INVALID, "%s: mirror-only needs at least one mirror",
                             what);
    if (e->blocked && n > 0)
        return oci_error_set(err, OCI_ERR_INVALID, "%s: a blocked registry cannot have mirrors",
                             what);
    if (n == 0)
        return 0;
    e->mirrors = calloc(n, sizeof(*e->mirrors));
    if (!e->mirrors)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char mwhat[320];
        snprintf(mwhat, sizeof(mwhat), "%s.mirrors[%zu]", what, i);
        e->n_mirrors = i + 1; /* so a partly filled one is freed */
        r = parse_mirror(&e->mirrors[i], json_object_array_get_idx(mirrors, i), mwhat, err);
        if (r < 0)
            return r;
    }
    return 0;
}

int oreg_registries_conf_parse(struct oreg_registries_conf **out, const char *buf, size_t len,
                               const char *what, struct oci_error **err)
{
    if (!what)
        what = "registries config";
    struct oimg_json_limits lim = {.max_size = OREG_REGISTRIES_CONF_MAX, .max_depth = 16};
    _cleanup_json_ json_object *doc = NULL;
    int r = oimg_json_parse(&doc, buf, len, &lim, err);
    if (r < 0)
        return oci_error_wrap(err, "%s", what);
    if (!json_object_is_type(doc, json_type_object))
        return oci_error_set(err, OCI_ERR_INVALID, "%s: not a JSON object", what);
    static const char *const keys[] = {"registries", NULL};
    json_object *regs = NULL;
    if ((r = check_keys(doc, keys, what, err)) < 0 ||
        (r = get_array(&regs, doc, "registries", OREG_REGISTRIES_MAX, what, err)) < 0)
        return r;

    _cleanup_(oreg_registries_conf_freep) struct oreg_registries_conf *c = calloc(1, sizeof(*c));
    if (!c || !(c->what = strdup(what)))
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    size_t n = regs ? json_object_array_length(regs) : 0;
    if (n > 0 && !(c->v = calloc(n, sizeof(*c->v))))
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char ewhat[256];
        snprintf(ewhat, sizeof(ewhat), "%.200s: registries[%zu]", what, i);
        c->n = i + 1;
        r = parse_entry(&c->v[i], json_object_array_get_idx(regs, i), ewhat, err);
        if (r < 0)
            return r;
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->v[j].location, c->v[i].location) == 0)
                return oci_error_set(err, OCI_ERR_INVALID,
                                     "%s: location %s already configured in registries[%zu]", ewhat,
                                     c->v[i].location, j);
    }
    *out = TAKE_PTR(c);
    return 0;
}

int oreg_registries_conf_load(struct oreg_registries_conf **out, const char *path,
                              struct oci_error **err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    int r = oreg_read_user_file(&buf, &len, path, OREG_REGISTRIES_CONF_MAX, err);
    if (r < 0)
        return oci_error_wrap(err, "registries config");
    return oreg_registries_conf_parse(out, buf, len, path, err);
}

void oreg_endpoints_free(struct oreg_endpoints *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n; i++) {
        free(e->v[i].host);
        free(e->v[i].path_prefix);
    }
    free(e->v);
    free(e);
}
OCI_DEFINE_CLEANUP(struct oreg_endpoints *, oreg_endpoints_free)

static const struct entry *find(const struct oreg_registries_conf *conf, const char *host)
{
    for (size_t i = 0; conf && i < conf->n; i++)
        if (strcmp(conf->v[i].location, host) == 0)
            return &conf->v[i];
    return NULL;
}

static int push(struct oreg_endpoints *e, const char *host, const char *prefix, bool insecure,
                bool mirror)
{
    struct oreg_endpoint *ep = &e->v[e->n];
    ep->host = strdup(host);
    ep->path_prefix = strdup(prefix);
    ep->insecure = insecure;
    ep->mirror = mirror;
    e->n++;
    return ep->host && ep->path_prefix ? 0 : -1;
}

int oreg_registries_lookup(struct oreg_endpoints **out, const struct oreg_registries_conf *conf,
                           const char *registry, struct oci_error **err)
{
    if (!registry || !*registry)
        return oci_error_set(err, OCI_ERR_INVALID, "registries lookup: no registry");
    const char *host = oreg_host_is_docker_hub(registry) ? OREG_DOCKER_HUB : registry;
    const struct entry *ent = find(conf, host);
    if (ent && ent->blocked)
        return oci_error_set(err, OCI_ERR_AUTH, "registry %s is blocked by %s", host, conf->what);

    _cleanup_(oreg_endpoints_freep) struct oreg_endpoints *e = calloc(1, sizeof(*e));
    size_t n = (ent ? ent->n_mirrors : 0) + 1;
    if (!e || !(e->v = calloc(n, sizeof(*e->v))))
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    for (size_t i = 0; ent && i < ent->n_mirrors; i++) {
        const struct mirror *m = &ent->mirrors[i];
        /* A host marked insecure in its own entry is insecure as a mirror too. */
        const struct entry *self = find(conf, m->host);
        if (push(e, m->host, m->prefix, m->insecure || (self && self->insecure), true) < 0)
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    if (!ent || !ent->mirror_only) {
        const char *api = strcmp(host, OREG_DOCKER_HUB) == 0 ? OREG_DOCKER_HUB_API : host;
        if (push(e, api, "", ent && ent->insecure, false) < 0)
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    *out = TAKE_PTR(e);
    return 0;
}
