/* Credentials lookup: --creds, then the auth file, then docker's config.json;
 * within a file credHelpers, credsStore, then auths (see registry.h).
 *
 * Secrets pass through several buffers (the file, json-c's strings, the
 * base64 decode); each is wiped before it is freed, and no message ever
 * quotes a value, only file names, keys and field names. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ociimg/base64.h>
#include <ociimg/cleanup.h>
#include <ociimg/json.h>
#include <ociimg/registry.h>

#include "registry_private.h"

void oreg_creds_free(struct oreg_creds *c)
{
    if (!c)
        return;
    oreg_wipe_free(c->username, (size_t)-1);
    oreg_wipe_free(c->password, (size_t)-1);
    oreg_wipe_free(c->identity_token, (size_t)-1);
    free(c->source);
    explicit_bzero(c, sizeof(*c));
    free(c);
}
OCI_DEFINE_CLEANUP(struct oreg_creds *, oreg_creds_free)

/* Wipes every string of a tree that came from a credentials file.  Depth is
 * bounded by the parse limit. */
void oreg_json_wipe_tree(json_object *o)
{
    if (!o)
        return;
    switch (json_object_get_type(o)) {
    case json_type_string:
        explicit_bzero((char *)json_object_get_string(o), (size_t)json_object_get_string_len(o));
        break;
    case json_type_object: {
        json_object_object_foreach(o, k, v)
        {
            (void)k;
            oreg_json_wipe_tree(v);
        }
        break;
    }
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(o); i++)
            oreg_json_wipe_tree(json_object_array_get_idx(o, i));
        break;
    default:
        break;
    }
}

void oreg_json_wipe_putp(json_object **o)
{
    if (*o) {
        oreg_json_wipe_tree(*o);
        json_object_put(*o);
    }
}

static struct oreg_creds *creds_new(const char *source)
{
    struct oreg_creds *c = calloc(1, sizeof(*c));
    if (c && !(c->source = strdup(source))) {
        free(c);
        c = NULL;
    }
    return c;
}

int oreg_creds_parse_userpass(struct oreg_creds **out, const char *s, struct oci_error **err)
{
    const char *colon = s ? strchr(s, ':') : NULL;
    if (!colon || colon == s)
        return oci_error_set(err, OCI_ERR_INVALID,
                             "--creds: expected USER:PASS with a non-empty USER");
    _cleanup_(oreg_creds_freep) struct oreg_creds *c = creds_new("--creds");
    if (!c)
        return oci_error_set(err, OCI_ERR_NOMEM, "--creds: out of memory");
    c->username = strndup(s, (size_t)(colon - s));
    c->password = strdup(colon + 1);
    if (!c->username || !c->password)
        return oci_error_set(err, OCI_ERR_NOMEM, "--creds: out of memory");
    *out = TAKE_PTR(c);
    return 0;
}

char *oreg_authkey_normalize(const char *key)
{
    const char *h = key;
    bool scheme = false;
    if (strncmp(h, "https://", 8) == 0)
        h += 8, scheme = true;
    else if (strncmp(h, "http://", 7) == 0)
        h += 7, scheme = true;
    /* Without a scheme, a '/' makes it a namespace key ("host/team"), which
     * must not match the whole host. */
    char *r = scheme ? strndup(h, strcspn(h, "/")) : strdup(h);
    if (r && oreg_host_is_docker_hub(r)) {
        free(r);
        r = strdup(OREG_DOCKER_HUB);
    }
    return r;
}

static bool key_matches(const char *key, const char *want)
{
    _cleanup_free_ char *n = oreg_authkey_normalize(key);
    return n && strcmp(n, want) == 0;
}

/* ---- auths entries ---- */

static int decode_auth_field(struct oreg_creds *c, const char *auth, const char *what,
                             struct oci_error **err)
{
    unsigned char *dec = NULL;
    size_t n = 0;
    int r = oimg_base64_decode(&dec, &n, auth, strlen(auth), OIMG_BASE64_LENIENT);
    if (r == -OCI_ERR_NOMEM)
        return oci_error_set(err, OCI_ERR_NOMEM, "%s: out of memory", what);
    if (r < 0)
        return oci_error_set(err, OCI_ERR_INVALID, "%s.auth: not valid base64", what);
    char *colon = memchr(dec, ':', n);
    if (!colon || memchr(dec, '\0', n)) {
        oreg_wipe_free(dec, n);
        return oci_error_set(err, OCI_ERR_INVALID, "%s.auth: does not decode to \"user:password\"",
                             what);
    }
    *colon = '\0';
    c->username = strdup((char *)dec);
    c->password = strdup(colon + 1);
    oreg_wipe_free(dec, n);
    if (!c->username || !c->password)
        return oci_error_set(err, OCI_ERR_NOMEM, "%s: out of memory", what);
    return 0;
}

static int opt_str(const char **out, json_object *obj, const char *key, const char *what,
                   struct oci_error **err)
{
    json_object *v = NULL;
    if (json_object_object_get_ex(obj, key, &v) && !v)
        return 0; /* null */
    return oimg_json_get_string(out, obj, key, false, what, err);
}

/* Returns 1 with *out set if the entry holds credentials, 0 if it is empty
 * (a placeholder docker leaves when a credsStore holds the secret). */
static int read_auths_entry(struct oreg_creds **out, json_object *entry, const char *path,
                            const char *key, struct oci_error **err)
{
    char what[512];
    snprintf(what, sizeof(what), "%s: auths[\"%.200s\"]", path, key);
    if (!json_object_is_type(entry, json_type_object))
        return oci_error_set(err, OCI_ERR_INVALID, "%s: must be an object", what);
    const char *auth = NULL, *user = NULL, *pass = NULL, *idtok = NULL;
    int r;
    if ((r = opt_str(&auth, entry, "auth", what, err)) < 0 ||
        (r = opt_str(&user, entry, "username", what, err)) < 0 ||
        (r = opt_str(&pass, entry, "password", what, err)) < 0 ||
        (r = opt_str(&idtok, entry, "identitytoken", what, err)) < 0)
        return r;
    if (!(auth && *auth) && !(user && *user) && !(idtok && *idtok))
        return 0;

    char src[512];
    snprintf(src, sizeof(src), "%s (auths \"%.200s\")", path, key);
    _cleanup_(oreg_creds_freep) struct oreg_creds *c = creds_new(src);
    if (!c)
        return oci_error_set(err, OCI_ERR_NOMEM, "%s: out of memory", what);
    if (auth && *auth) {
        r = decode_auth_field(c, auth, what, err);
        if (r < 0)
            return r;
    } else if (user && *user) {
        c->username = strdup(user);
        c->password = strdup(pass ? pass : "");
        if (!c->username || !c->password)
            return oci_error_set(err, OCI_ERR_NOMEM, "%s: out of memory", what);
    }
    if (idtok && *idtok) {
        /* An identity token replaces the password in the token exchange. */
        oreg_wipe_free(c->password, (size_t)-1);
        c->password = NULL;
        if (!(c->identity_token = strdup(idtok)))
            return oci_error_set(err, OCI_ERR_NOMEM, "%s: out of memory", what);
    }
    *out = TAKE_PTR(c);
    return 1;
}

static int lookup_auths(struct oreg_creds **out, json_object *auths, const char *path,
                        const char *registry, const char *repository, const char *want,
                        struct oci_error **err)
{
    json_object *e = NULL;
    /* Most specific first: containers' "host/ns/repo", "host/ns" keys. */
    if (repository) {
        _cleanup_free_ char *k = NULL;
        if (asprintf(&k, "%s/%s", registry, repository) < 0)
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        for (;;) {
            if (json_object_object_get_ex(auths, k, &e)) {
                int r = read_auths_entry(out, e, path, k, err);
                if (r != 0)
                    return r;
            }
            char *slash = strrchr(k, '/');
            if (!slash || (size_t)(slash - k) <= strlen(registry))
                break;
            *slash = '\0';
        }
    }
    const char *exact[] = {oreg_creds_key(registry), registry};
    for (size_t i = 0; i < OCI_ARRAY_SIZE(exact); i++) {
        if (json_object_object_get_ex(auths, exact[i], &e)) {
            int r = read_auths_entry(out, e, path, exact[i], err);
            if (r != 0)
                return r;
        }
    }
    json_object_object_foreach(auths, key, val)
    {
        if (!key_matches(key, want))
            continue;
        int r = read_auths_entry(out, val, path, key, err);
        if (r != 0)
            return r;
    }
    return 0;
}

/* The helper configured for the registry in credHelpers, or NULL. */
static int find_cred_helper(const char **out, json_object *helpers, const char *path,
                            const char *registry, const char *want, struct oci_error **err)
{
    if (!json_object_is_type(helpers, json_type_object))
        return oci_error_set(err, OCI_ERR_INVALID, "%s: credHelpers must be an object", path);
    json_object *v = NULL;
    const char *found_key = NULL;
    if (json_object_object_get_ex(helpers, registry, &v)) {
        found_key = registry;
    } else {
        json_object_object_foreach(helpers, key, val)
        {
            if (key_matches(key, want)) {
                found_key = key;
                v = val;
                break;
            }
        }
    }
    if (!found_key)
        return 0;
    if (!json_object_is_type(v, json_type_string) || !*json_object_get_string(v))
        return oci_error_set(err, OCI_ERR_INVALID,
                             "%s: credHelpers[\"%.200s\"] must be a helper name", path, found_key);
    *out = json_object_get_string(v);
    return 0;
}

static int lookup_in_file(struct oreg_creds **out, const char *path, bool missing_ok,
                          const char *registry, const char *repository, int timeout_ms,
                          struct oci_error **err)
{
    char *buf = NULL;
    size_t len = 0;
    int r = oreg_read_user_file(&buf, &len, path, OREG_AUTHFILE_MAX, err);
    if (r == -OCI_ERR_NOT_FOUND && missing_ok) {
        oci_error_clear(err);
        return 0;
    }
    if (r < 0)
        return oci_error_wrap(err, "read credentials");
    _cleanup_(oreg_json_wipe_putp) json_object *cfg = NULL;
    struct oimg_json_limits lim = {.max_size = OREG_AUTHFILE_MAX};
    r = oimg_json_parse(&cfg, buf, len, &lim, err);
    oreg_wipe_free(buf, len);
    if (r < 0)
        return oci_error_wrap(err, "%s", path);
    if (!json_object_is_type(cfg, json_type_object))
        return oci_error_set(err, OCI_ERR_INVALID, "%s: not a JSON object", path);

    _cleanup_free_ char *want = oreg_authkey_normalize(registry);
    if (!want)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    const char *helper_key = oreg_creds_key(registry);

    json_object *v = NULL;
    if (json_object_object_get_ex(cfg, "credHelpers", &v) && v) {
        const char *helper = NULL;
        r = find_cred_helper(&helper, v, path, registry, want, err);
        if (r < 0)
            return r;
        if (helper) {
            r = oreg_cred_helper_get(out, helper, helper_key, timeout_ms, err);
            if (r != 0)
                return r < 0 ? oci_error_wrap(err, "%s: credHelpers", path) : r;
        }
    }
    if (json_object_object_get_ex(cfg, "credsStore", &v) && v) {
        if (!json_object_is_type(v, json_type_string))
            return oci_error_set(err, OCI_ERR_INVALID, "%s: credsStore must be a string", path);
        const char *store = json_object_get_string(v);
        if (*store) {
            r = oreg_cred_helper_get(out, store, helper_key, timeout_ms, err);
            if (r != 0)
                return r < 0 ? oci_error_wrap(err, "%s: credsStore", path) : r;
        }
    }
    if (json_object_object_get_ex(cfg, "auths", &v) && v) {
        if (!json_object_is_type(v, json_type_object))
            return oci_error_set(err, OCI_ERR_INVALID, "%s: auths must be an object", path);
        return lookup_auths(out, v, path, registry, repository, want, err);
    }
    return 0;
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

int oreg_docker_config_path(char **out, struct oci_error **err)
{
    char *p = NULL;
    const char *dir = env_nonempty("DOCKER_CONFIG");
    if (dir) {
        if (asprintf(&p, "%s/config.json", dir) < 0)
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        *out = p;
        return 0;
    }
    const char *home = env_nonempty("HOME");
    char pwbuf[4096];
    struct passwd pw, *res = NULL;
    if (!home && getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res && res->pw_dir &&
        *res->pw_dir)
        home = res->pw_dir;
    if (!home)
        return oci_error_set(err, OCI_ERR_NOT_FOUND,
                             "cannot find docker's config.json: neither $DOCKER_CONFIG nor "
                             "$HOME is set");
    if (asprintf(&p, "%s/.docker/config.json", home) < 0)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    *out = p;
    return 0;
}

int oreg_authfile_path(char **out, const struct oreg_creds_opts *opts, struct oci_error **err)
{
    const char *af = opts && opts->authfile ? opts->authfile : env_nonempty("REGISTRY_AUTH_FILE");
    if (af) {
        char *p = strdup(af);
        if (!p)
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        *out = p;
        return 0;
    }
    return oreg_docker_config_path(out, err);
}

int oreg_creds_lookup(struct oreg_creds **out, const char *registry, const char *repository,
                      const struct oreg_creds_opts *opts, struct oci_error **err)
{
    if (!registry || !*registry)
        return oci_error_set(err, OCI_ERR_INVALID, "credentials lookup: no registry");
    if (opts && opts->creds) {
        int r = oreg_creds_parse_userpass(out, opts->creds, err);
        return r < 0 ? r : 1;
    }
    int timeout = opts && opts->helper_timeout_ms > 0 ? opts->helper_timeout_ms
                                                      : OREG_HELPER_TIMEOUT_MS_DEFAULT;
    struct oreg_creds *c = NULL;
    int r;
    const char *af = opts && opts->authfile ? opts->authfile : NULL;
    bool explicit_af = af != NULL;
    if (!af)
        af = env_nonempty("REGISTRY_AUTH_FILE");
    if (af) {
        r = lookup_in_file(&c, af, !explicit_af, registry, repository, timeout, err);
        if (r < 0)
            return r;
        if (r > 0) {
            *out = c;
            return 1;
        }
    }
    _cleanup_free_ char *dc = NULL;
    r = oreg_docker_config_path(&dc, err);
    if (r == -OCI_ERR_NOT_FOUND) {
        /* No home directory: nothing to look in, so anonymous. */
        oci_error_clear(err);
        return 0;
    }
    if (r < 0)
        return r;
    r = lookup_in_file(&c, dc, true, registry, repository, timeout, err);
    if (r < 0)
        return r;
    if (r > 0)
        *out = c;
    return r;
}
