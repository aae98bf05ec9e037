/* login/logout: adding and removing auths entries of a docker-compatible
 * config.json.  The file is rewritten as a whole by temp file + rename with
 * mode 0600, keeping every key we do not own (credHelpers, proxies, ...). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/base64.h>
#include <ociimg/cleanup.h>
#include <ociimg/fs.h>
#include <ociimg/json.h>
#include <ociimg/registry.h>

#include "registry_private.h"

/* mkdir -p for the directory of a user's config file (symlinks followed,
 * as the user's home may well be one). */
static int mkdir_parents(const char *dir, struct oci_error **err)
{
    _cleanup_free_ char *p = strdup(dir);
    if (!p)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    size_t len = strlen(p);
    for (size_t i = 1; i <= len; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char saved = p[i];
        p[i] = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "create directory `%s`", p);
        p[i] = saved;
    }
    return 0;
}

struct target {
    char *path; /* symlinks resolved, so the rename replaces the real file */
    char *base;
    int dirfd;
};

static void target_clear(struct target *t)
{
    free(t->path);
    free(t->base);
    if (t->dirfd >= 0)
        close(t->dirfd);
}

static int open_target(struct target *t, const char *path, bool create_dir, struct oci_error **err)
{
    t->dirfd = -1;
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        t->path = realpath(path, NULL);
        if (!t->path)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "resolve symlink `%s`", path);
    } else {
        t->path = strdup(path);
    }
    if (!t->path)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    const char *slash = strrchr(t->path, '/');
    _cleanup_free_ char *dir =
        slash ? strndup(t->path, slash == t->path ? 1 : (size_t)(slash - t->path)) : strdup(".");
    t->base = strdup(slash ? slash + 1 : t->path);
    if (!dir || !t->base)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    if (!*t->base)
        return oci_error_set(err, OCI_ERR_INVALID, "`%s` is not a file name", path);
    t->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (t->dirfd < 0 && errno == ENOENT && create_dir) {
        int r = mkdir_parents(dir, err);
        if (r < 0)
            return r;
        t->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (t->dirfd < 0)
        return oci_error_setsys(err, errno == ENOENT ? OCI_ERR_NOT_FOUND : OCI_ERR_IO, errno,
                                "open directory `%s`", dir);
    return 0;
}

/* Reads and parses the file; a missing file is an empty object when
 * missing_ok.  Returns 1 if the file existed. */
static int load(json_object **out, const char *path, bool missing_ok, struct oci_error **err)
{
    char *buf = NULL;
    size_t len = 0;
    int r = oreg_read_user_file(&buf, &len, path, OREG_AUTHFILE_MAX, err);
    if (r == -OCI_ERR_NOT_FOUND && missing_ok) {
        oci_error_clear(err);
        *out = json_object_new_object();
        return *out ? 0 : oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    if (r < 0)
        return r;
    struct oimg_json_limits lim = {.max_size = OREG_AUTHFILE_MAX};
    json_object *o = NULL;
    r = oimg_json_parse(&o, buf, len, &lim, err);
    oreg_wipe_free(buf, len);
    if (r < 0)
        return oci_error_wrap(err, "`%s`", path);
    if (!json_object_is_type(o, json_type_object)) {
        oreg_json_wipe_putp(&o);
        return oci_error_set(err, OCI_ERR_INVALID, "`%s`: not a JSON object", path);
    }
    *out = o;
    return 1;
}

static int save(const struct target *t, json_object *cfg, struct oci_error **err)
{
    int flags =
        JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_PRETTY_TAB | JSON_C_TO_STRING_NOSLASHESCAPE;
    const char *s = json_object_to_json_string_ext(cfg, flags);
    if (!s)
        return oci_error_set(err, OCI_ERR_NOMEM, "serialise `%s`: out of memory", t->path);
    size_t n = strlen(s);
    char *buf = malloc(n + 2);
    if (!buf) {
        explicit_bzero((char *)s, n); /* json-c's own buffer holds the secrets too */
        return oci_error_set(err, OCI_ERR_NOMEM, "serialise `%s`: out of memory", t->path);
    }
    memcpy(buf, s, n);
    buf[n] = '\n';
    buf[n + 1] = '\0';
    explicit_bzero((char *)s, n);
    int r = oimg_fs_write_atomic(t->dirfd, t->base, buf, n + 1, 0600, err);
    oreg_wipe_free(buf, n + 1);
    return r < 0 ? oci_error_wrap(err, "update credentials in `%s`", t->path) : 0;
}

static int get_auths(json_object **out, json_object *cfg, const char *path, bool create,
                     struct oci_error **err)
{
    json_object *auths = NULL;
    if (json_object_object_get_ex(cfg, "auths", &auths) && auths) {
        if (!json_object_is_type(auths, json_type_object))
            return oci_error_set(err, OCI_ERR_INVALID, "`%s`: auths must be an object", path);
    } else if (create) {
        auths = json_object_new_object();
        if (!auths || json_object_object_add(cfg, "auths", auths) < 0) {
            json_object_put(auths);
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        }
    } else {
        auths = NULL;
    }
    *out = auths;
    return 0;
}

/* Opens the file's directory and reads its "auths" (a missing file is
 * empty); create makes the directory and the "auths" object if needed,
 * otherwise a missing directory is OCI_ERR_NOT_FOUND and *auths may be NULL.
 * *cfg is the caller's to wipe even on failure. */
static int open_auths(struct target *t, json_object **cfg, json_object **auths, const char *path,
                      bool create, struct oci_error **err)
{
    int r = open_target(t, path, create, err);
    if (r < 0)
        return r;
    r = load(cfg, t->path, true, err);
    if (r < 0)
        return r;
    return get_auths(auths, *cfg, t->path, create, err);
}

int oreg_authfile_store(const char *path, const char *registry, const char *username,
                        const char *password, struct oci_error **err)
{
    _cleanup_free_ char *host = NULL;
    int r = oreg_registry_normalize(&host, registry, err);
    if (r < 0)
        return r;
    if (!username || !*username || strchr(username, ':'))
        return oci_error_set(err, OCI_ERR_INVALID,
                             "login to %s: the user name must be non-empty and without ':'", host);
    if (!password)
        return oci_error_set(err, OCI_ERR_INVALID, "login to %s: no password", host);

    _cleanup_(target_clear) struct target t = {.dirfd = -1};
    _cleanup_(oreg_json_wipe_putp) json_object *cfg = NULL;
    json_object *auths = NULL;
    r = open_auths(&t, &cfg, &auths, path, true, err);
    if (r < 0)
        return r;

    size_t ul = strlen(username), pl = strlen(password);
    char *pair = malloc(ul + pl + 2);
    if (!pair)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    /* "user:password", terminated by the second copy. */
    // NOLINTNEXTLINE(bugprone-not-null-terminated-result)
    memcpy(pair, username, ul);
    pair[ul] = ':';
    memcpy(pair + ul + 1, password, pl + 1);
    _cleanup_wipe_str_ char *b64 = oimg_base64_encode(pair, ul + pl + 1);
    oreg_wipe_free(pair, ul + pl + 1);
    json_object *entry = json_object_new_object();
    json_object *val = b64 ? json_object_new_string(b64) : NULL;
    if (!entry || !val || json_object_object_add(entry, "auth", val) < 0) {
        json_object_put(val);
        json_object_put(entry);
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    const char *key = oreg_creds_key(host);
    /* The replaced entry's strings are wiped before json-c frees them. */
    json_object *old = NULL;
    if (json_object_object_get_ex(auths, key, &old))
        oreg_json_wipe_tree(old);
    if (json_object_object_add(auths, key, entry) < 0) {
        oreg_json_wipe_putp(&entry);
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    return save(&t, cfg, err);
}

int oreg_authfile_erase(const char *path, const char *registry, struct oci_error **err)
{
    _cleanup_free_ char *host = NULL;
    int r = oreg_registry_normalize(&host, registry, err);
    if (r < 0)
        return r;
    _cleanup_(target_clear) struct target t = {.dirfd = -1};
    _cleanup_(oreg_json_wipe_putp) json_object *cfg = NULL;
    json_object *auths = NULL;
    r = open_auths(&t, &cfg, &auths, path, false, err);
    if (r == -OCI_ERR_NOT_FOUND) {
        oci_error_clear(err);
        return 0;
    }
    if (r < 0)
        return r;
    if (!auths)
        return 0;

    /* Collect first: deleting while iterating json-c's table is not safe.
     * The table is bounded by the file size cap. */
    size_t n = 0, cap = (size_t)json_object_object_length(auths);
    _cleanup_free_ char **doomed = calloc(cap + 1, sizeof(char *));
    if (!doomed)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    json_object_object_foreach(auths, key, val)
    {
        (void)val;
        char *norm = oreg_authkey_normalize(key);
        if (!norm)
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        if (strcmp(norm, host) == 0 && n < cap)
            doomed[n++] = key;
        free(norm);
    }
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        json_object *v = NULL;
        if (json_object_object_get_ex(auths, doomed[i], &v))
            oreg_json_wipe_tree(v);
        /* json-c frees the key on delete; copy it first. */
        _cleanup_free_ char *k = strdup(doomed[i]);
        if (!k)
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        json_object_object_del(auths, k);
    }
    r = save(&t, cfg, err);
    return r < 0 ? r : (int)n;
}
