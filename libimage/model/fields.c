/* The problem collector and the typed field readers every walker uses, so
 * that a given mistake reads the same wherever it appears. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/cleanup.h>
#include <ociimg/json.h>

#include "model_private.h"

void mv_oom(struct mv *v)
{
    v->nomem = true;
    if (!v->first_code)
        v->first_code = -OCI_ERR_NOMEM;
}

bool mv_failed(const struct mv *v)
{
    return v->first_code != 0 || v->nomem;
}

/* One line each, whatever a document put into a key or value. */
static void flatten(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

void mv_add(struct mv *v, int code, const char *path, const char *fmt, ...)
{
    if (code > 0)
        code = -code;
    if (!v->first_code)
        v->first_code = code;
    if (v->p->n >= MV_MAX_PROBLEMS) {
        v->n_dropped++;
        return;
    }

    char *msg = NULL, *line = NULL;
    va_list ap;
    va_start(ap, fmt);
    int r = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (r < 0) {
        mv_oom(v);
        return;
    }
    if (path && *path)
        r = asprintf(&line, "%s: %s", path, msg);
    else
        r = asprintf(&line, "%s", msg);
    free(msg);
    if (r < 0) {
        mv_oom(v);
        return;
    }
    flatten(line);
    char **nl = realloc(v->p->lines, (v->p->n + 1) * sizeof(*nl));
    if (!nl) {
        free(line);
        mv_oom(v);
        return;
    }
    v->p->lines = nl;
    v->p->lines[v->p->n++] = line;
}

int mv_finish(struct mv *v, const char *what, struct oci_error **err)
{
    if (v->nomem)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory checking %s", what);
    if (!v->first_code)
        return 0;
    if (v->p->n == 0)
        return oci_error_set(err, OCI_ERR_INTERNAL, "%s: problem without a message", what);
    size_t more = v->p->n - 1 + v->n_dropped;
    int code = -v->first_code;
    const char *first = v->p->lines[0];
    const char *pre = code == OCI_ERR_UNSUPPORTED ? "" : "invalid ";
    const char *sep = code == OCI_ERR_UNSUPPORTED ? "" : ": ";
    const char *w = code == OCI_ERR_UNSUPPORTED ? "" : what;
    if (more)
        return oci_error_set(err, code, "%s%s%s%s (and %zu more problem%s)", pre, w, sep, first,
                             more, more == 1 ? "" : "s");
    return oci_error_set(err, code, "%s%s%s%s", pre, w, sep, first);
}

/* A cut path still reads as one: it ends in "..." */
static const char *mark_cut(char *buf, int n)
{
    if (n >= MV_PATH_MAX)
        memcpy(buf + MV_PATH_MAX - 4, "...", 4);
    return buf;
}

const char *mv_key(char *buf, const char *base, const char *key)
{
    if (base && *base)
        return mark_cut(buf, snprintf(buf, MV_PATH_MAX, "%s.%s", base, key));
    return mark_cut(buf, snprintf(buf, MV_PATH_MAX, "%s", key));
}

const char *mv_keyq(char *buf, const char *base, const char *key)
{
    char q[MV_QUOTE_MAX];
    return mark_cut(buf, snprintf(buf, MV_PATH_MAX, "%s[%s]", base ? base : "", mv_q(q, key)));
}

const char *mv_idx(char *buf, const char *base, size_t i)
{
    return mark_cut(buf, snprintf(buf, MV_PATH_MAX, "%s[%zu]", base ? base : "", i));
}

const char *mv_q(char *buf, const char *s)
{
    size_t o = 0, i = 0;
    if (!s) {
        snprintf(buf, MV_QUOTE_MAX, "(null)");
        return buf;
    }
    buf[o++] = '"';
    for (; i < 64 && s[i] && o + 8 < MV_QUOTE_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c >= 0x20 && c < 0x7f) {
            buf[o++] = (char)c;
        } else {
            o += (size_t)snprintf(buf + o, MV_QUOTE_MAX - o, "\\x%02x", c);
        }
    }
    if (s[i]) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

const char *mv_jtype(json_object *o)
{
    switch (json_object_get_type(o)) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "a boolean";
    case json_type_double:
        return "a number";
    case json_type_int:
        return "an integer";
    case json_type_object:
        return "an object";
    case json_type_array:
        return "an array";
    case json_type_string:
        return "a string";
    }
    return "an unknown JSON type";
}

bool mv_get(json_object *obj, const char *key, json_object **out)
{
    *out = NULL;
    return obj && json_object_is_type(obj, json_type_object) &&
           json_object_object_get_ex(obj, key, out);
}

bool mv_string(struct mv *v, json_object *obj, const char *key, bool required, const char *base,
               const char **out)
{
    char path[MV_PATH_MAX];
    json_object *f;
    if (!mv_get(obj, key, &f)) {
        if (required)
            mv_add(v, OCI_ERR_INVALID, mv_key(path, base, key), "required");
        return false;
    }
    if (!json_object_is_type(f, json_type_string)) {
        mv_add(v, OCI_ERR_INVALID, mv_key(path, base, key), "must be a string, not %s",
               mv_jtype(f));
        return false;
    }
    *out = json_object_get_string(f);
    return true;
}

bool mv_string_dup(struct mv *v, json_object *obj, const char *key, bool required, const char *base,
                   char **out)
{
    const char *s;
    if (!mv_string(v, obj, key, required, base, &s))
        return false;
    char *d = strdup(s);
    if (!d) {
        mv_oom(v);
        return false;
    }
    free(*out);
    *out = d;
    return true;
}

bool mv_bool(struct mv *v, json_object *obj, const char *key, const char *base, bool *out)
{
    char path[MV_PATH_MAX];
    json_object *f;
    if (!mv_get(obj, key, &f))
        return false;
    if (!json_object_is_type(f, json_type_boolean)) {
        mv_add(v, OCI_ERR_INVALID, mv_key(path, base, key), "must be a boolean, not %s",
               mv_jtype(f));
        return false;
    }
    *out = json_object_get_boolean(f);
    return true;
}

void mv_strv_free(char **s, size_t n)
{
    if (!s)
        return;
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

int mv_strv_copy(char ***dst, char *const *src, size_t n)
{
    *dst = NULL;
    if (!src || n == 0)
        return 0;
    char **d = calloc(n, sizeof(*d));
    if (!d)
        return -OCI_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        d[i] = strdup(src[i] ? src[i] : "");
        if (!d[i]) {
            mv_strv_free(d, i);
            return -OCI_ERR_NOMEM;
        }
    }
    *dst = d;
    return 0;
}

bool mv_string_array(struct mv *v, json_object *obj, const char *key, bool required,
                     bool allow_null, const char *base, char ***out, size_t *n_out,
                     mv_str_check check)
{
    char path[MV_PATH_MAX], ipath[MV_PATH_MAX], q[MV_QUOTE_MAX];
    json_object *f;
    mv_key(path, base, key);
    if (!mv_get(obj, key, &f)) {
        if (required)
            mv_add(v, OCI_ERR_INVALID, path, "required");
        return false;
    }
    if (!f && allow_null)
        return false;
    if (!json_object_is_type(f, json_type_array)) {
        mv_add(v, OCI_ERR_INVALID, path, "must be an array of strings, not %s", mv_jtype(f));
        return false;
    }
    size_t n = json_object_array_length(f);
    if (n > MV_MAX_ITEMS) {
        mv_add(v, OCI_ERR_TOO_LARGE, path, "has %zu entries, more than the limit of %u", n,
               MV_MAX_ITEMS);
        return false;
    }
    char **arr = n ? calloc(n, sizeof(*arr)) : NULL;
    if (n && !arr) {
        mv_oom(v);
        return false;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(f, i);
        if (!json_object_is_type(e, json_type_string)) {
            mv_add(v, OCI_ERR_INVALID, mv_idx(ipath, path, i), "must be a string, not %s",
                   mv_jtype(e));
            continue;
        }
        const char *s = json_object_get_string(e);
        const char *why = check ? check(s) : NULL;
        if (why) {
            mv_add(v, OCI_ERR_INVALID, mv_idx(ipath, path, i), "%s, not %s", why, mv_q(q, s));
            continue;
        }
        arr[k] = strdup(s);
        if (!arr[k]) {
            mv_oom(v);
            break;
        }
        k++;
    }
    mv_strv_free(*out, *n_out);
    *out = arr;
    *n_out = k;
    return true;
}

bool mv_size(struct mv *v, json_object *obj, const char *key, const char *base, int64_t *out)
{
    char path[MV_PATH_MAX];
    json_object *f;
    mv_key(path, base, key);
    if (!mv_get(obj, key, &f)) {
        mv_add(v, OCI_ERR_INVALID, path, "required");
        return false;
    }
    if (json_object_is_type(f, json_type_double)) {
        mv_add(v, OCI_ERR_INVALID, path,
               "must be a non-negative integer, not a number with a fraction or exponent");
        return false;
    }
    if (!json_object_is_type(f, json_type_int)) {
        mv_add(v, OCI_ERR_INVALID, path, "must be a non-negative integer, not %s", mv_jtype(f));
        return false;
    }
    /* json-c saturates instead of failing: a value at INT64_MAX may stand
     * for anything larger, which its unsigned reading exposes. */
    int64_t i = json_object_get_int64(f);
    if (i == INT64_MAX && json_object_get_uint64(f) > (uint64_t)INT64_MAX) {
        mv_add(v, OCI_ERR_INVALID, path, "must be a non-negative integer below 2^63");
        return false;
    }
    if (i < 0) {
        mv_add(v, OCI_ERR_INVALID, path, "must be a non-negative integer, not %lld", (long long)i);
        return false;
    }
    *out = i;
    return true;
}

int mv_schema_version(struct mv *v, json_object *root)
{
    json_object *f;
    if (!mv_get(root, "schemaVersion", &f)) {
        mv_add(v, OCI_ERR_INVALID, "schemaVersion", "required");
        return 0;
    }
    if (!json_object_is_type(f, json_type_int)) {
        mv_add(v, OCI_ERR_INVALID, "schemaVersion", "must be the integer 2, not %s", mv_jtype(f));
        return 0;
    }
    int64_t sv = json_object_get_int64(f);
    if (sv != 2) {
        mv_add(v, OCI_ERR_INVALID, "schemaVersion", "must be 2, not %lld", (long long)sv);
        return sv > 0 && sv < 1000 ? (int)sv : 0;
    }
    return 2;
}

bool mv_media_type(struct mv *v, json_object *obj, const char *key, bool required, const char *base,
                   char **out)
{
    char path[MV_PATH_MAX], q[MV_QUOTE_MAX];
    const char *s;
    if (!mv_string(v, obj, key, required, base, &s))
        return false;
    if (!oimg_media_type_valid(s)) {
        mv_add(v, OCI_ERR_INVALID, mv_key(path, base, key),
               "not a valid media type (RFC 6838 type/subtype): %s", mv_q(q, s));
        return false;
    }
    char *d = strdup(s);
    if (!d) {
        mv_oom(v);
        return false;
    }
    free(*out);
    *out = d;
    return true;
}

static bool lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[n] == '\0';
}

bool mv_digest_string(struct mv *v, const char *s, const char *path, struct oimg_digest *out)
{
    struct oci_error *e = NULL;
    struct oimg_digest d;
    int r = oimg_digest_parse_any(&d, s, &e);
    if (r < 0) {
        if (r == -OCI_ERR_NOMEM)
            mv_oom(v);
        else
            mv_add(v, OCI_ERR_INVALID, path, "%s", e && e->msg ? e->msg : "invalid digest");
        oci_error_free(e);
        return false;
    }
    /* blake3 is registered by the spec but not something we verify; its
     * encoding rule still applies. */
    if (strncmp(s, "blake3:", 7) == 0 && !lower_hex(s + 7, 64)) {
        char q[MV_QUOTE_MAX];
        mv_add(v, OCI_ERR_INVALID, path,
               "invalid digest %s: blake3 encoded part must be 64 lowercase hex characters",
               mv_q(q, s));
        return false;
    }
    *out = d;
    return true;
}

bool mv_digest(struct mv *v, json_object *obj, const char *key, const char *base,
               struct oimg_digest *out)
{
    char path[MV_PATH_MAX];
    const char *s;
    if (!mv_string(v, obj, key, true, base, &s))
        return false;
    return mv_digest_string(v, s, mv_key(path, base, key), out);
}

json_object *mv_parse_json(struct mv *v, const char *buf, size_t len, size_t max)
{
    struct oimg_json_limits lim = {.max_size = max};
    struct oci_error *e = NULL;
    json_object *o = NULL;
    int r = oimg_json_parse(&o, buf, len, &lim, &e);
    if (r < 0) {
        if (r == -OCI_ERR_NOMEM)
            mv_oom(v);
        else
            mv_add(v, r, NULL, "%s", e && e->msg ? e->msg : "invalid JSON");
        oci_error_free(e);
        return NULL;
    }
    if (!json_object_is_type(o, json_type_object)) {
        mv_add(v, OCI_ERR_INVALID, NULL, "document must be a JSON object, not %s", mv_jtype(o));
        json_object_put(o);
        return NULL;
    }
    return o;
}
