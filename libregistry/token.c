/* Bearer token responses (docker token auth and its OAuth2 variant) and the
 * scope strings that ask for them. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/cleanup.h>
#include <ociimg/json.h>
#include <ociimg/registry.h>

#include "registry_private.h"

/* json-c keeps its own copy of every string; wipe the ones that are secrets
 * before the object is released.  The buffer is owned by the object, which
 * we hold the only reference to, so writing through the const is safe. */
static void wipe_json_string(json_object *obj, const char *key)
{
    json_object *v = NULL;
    if (json_object_object_get_ex(obj, key, &v) && json_object_is_type(v, json_type_string))
        explicit_bzero((char *)json_object_get_string(v), (size_t)json_object_get_string_len(v));
}

void oreg_token_free(struct oreg_token *t)
{
    if (!t)
        return;
    oreg_wipe_free(t->token, (size_t)-1);
    oreg_wipe_free(t->refresh_token, (size_t)-1);
    free(t);
}
OCI_DEFINE_CLEANUP(struct oreg_token *, oreg_token_free)

/* A token goes verbatim into an Authorization header. */
static bool header_safe(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

static bool is_null(json_object *obj, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(obj, key, &v) && v == NULL;
}

/* Absent or null -> NULL: servers send both for "no value". */
static int opt_string(const char **out, json_object *obj, const char *key, struct oci_error **err)
{
    if (is_null(obj, key))
        return 0;
    return oimg_json_get_string(out, obj, key, false, "token response", err);
}

static int parse_fields(struct oreg_token *t, json_object *obj, struct oci_error **err)
{
    const char *token = NULL, *access = NULL, *refresh = NULL, *issued = NULL;
    int r;
    if ((r = opt_string(&token, obj, "token", err)) < 0 ||
        (r = opt_string(&access, obj, "access_token", err)) < 0 ||
        (r = opt_string(&refresh, obj, "refresh_token", err)) < 0)
        return r;
    const char *use = token && *token ? token : access;
    if (!use || !*use)
        return oci_error_set(err, OCI_ERR_AUTH,
                             "token response has neither `token` nor `access_token`");
    if (!header_safe(use))
        return oci_error_set(err, OCI_ERR_INVALID,
                             "token response: the token contains spaces or non-ASCII characters");
    if (refresh && *refresh && !header_safe(refresh))
        return oci_error_set(
            err, OCI_ERR_INVALID,
            "token response: the refresh token contains spaces or non-ASCII characters");

    int64_t expires = OREG_TOKEN_MIN_LIFETIME;
    bool present = false;
    if (!is_null(obj, "expires_in")) {
        r = oimg_json_get_int64(&expires, &present, obj, "expires_in", false, "token response",
                                err);
        if (r < 0)
            return r;
    }
    if (!present || expires < OREG_TOKEN_MIN_LIFETIME)
        expires = OREG_TOKEN_MIN_LIFETIME;
    if (expires > INT_MAX)
        expires = INT_MAX;
    t->expires_in = expires;

    json_object *iv = NULL;
    if (json_object_object_get_ex(obj, "issued_at", &iv) &&
        json_object_is_type(iv, json_type_string))
        issued = json_object_get_string(iv);
    if (issued && oreg_parse_rfc3339(&t->issued_at, issued, NULL) == 0)
        t->has_issued_at = true;

    t->token = strdup(use);
    if (refresh && *refresh)
        t->refresh_token = strdup(refresh);
    if (!t->token || (refresh && *refresh && !t->refresh_token))
        return oci_error_set(err, OCI_ERR_NOMEM, "token response: out of memory");
    return 0;
}

int oreg_token_parse(struct oreg_token **out, const char *body, size_t len, struct oci_error **err)
{
    if (len > OREG_TOKEN_RESPONSE_MAX)
        return oci_error_set(err, OCI_ERR_TOO_LARGE,
                             "token response is %zu bytes, over the limit of %u", len,
                             OREG_TOKEN_RESPONSE_MAX);
    struct oimg_json_limits lim = {.max_size = OREG_TOKEN_RESPONSE_MAX, .max_depth = 16};
    _cleanup_json_ json_object *obj = NULL;
    int r = oimg_json_parse(&obj, body, len, &lim, err);
    if (r < 0)
        return oci_error_wrap(err, "token response");
    if (!json_object_is_type(obj, json_type_object))
        return oci_error_set(err, OCI_ERR_INVALID, "token response is not a JSON object");

    _cleanup_(oreg_token_freep) struct oreg_token *t = calloc(1, sizeof(*t));
    if (!t)
        r = oci_error_set(err, OCI_ERR_NOMEM, "token response: out of memory");
    else
        r = parse_fields(t, obj, err);
    wipe_json_string(obj, "token");
    wipe_json_string(obj, "access_token");
    wipe_json_string(obj, "refresh_token");
    if (r < 0)
        return r;
    *out = TAKE_PTR(t);
    return 0;
}

time_t oreg_token_expiry(const struct oreg_token *t, time_t received_at)
{
    return received_at + (time_t)t->expires_in;
}

/* ---- RFC 3339 ---- */

static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool expect(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

static int days_in_month(int year, int mon)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return mon == 2 && leap ? 29 : d[mon - 1];
}

int oreg_parse_rfc3339(time_t *out, const char *s, struct oci_error **err)
{
    char q[OREG_QUOTE_BUF];
    const char *p = s;
    int Y, M, D, h, m, sec, oh = 0, om = 0, sign = 0;
    if (!s || strnlen(s, 65) > 64)
        goto bad;
    if (!digits(&p, 4, &Y) || !expect(&p, '-') || !digits(&p, 2, &M) || !expect(&p, '-') ||
        !digits(&p, 2, &D))
        goto bad;
    if (*p != 'T' && *p != 't' && *p != ' ')
        goto bad;
    p++;
    if (!digits(&p, 2, &h) || !expect(&p, ':') || !digits(&p, 2, &m) || !expect(&p, ':') ||
        !digits(&p, 2, &sec))
        goto bad;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            goto bad;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p++;
        if (!digits(&p, 2, &oh) || !expect(&p, ':') || !digits(&p, 2, &om) || oh > 23 || om > 59)
            goto bad;
    } else {
        goto bad;
    }
    if (*p || M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) || h > 23 || m > 59 || sec > 60)
        goto bad;

    struct tm tm = {.tm_year = Y - 1900,
                    .tm_mon = M - 1,
                    .tm_mday = D,
                    .tm_hour = h,
                    .tm_min = m,
                    .tm_sec = sec == 60 ? 59 : sec};
    time_t t = timegm(&tm);
    *out = t - (time_t)sign * (oh * 3600 + om * 60);
    return 0;
bad:
    oreg_quote(q, s);
    return oci_error_set(err, OCI_ERR_INVALID, "invalid RFC 3339 date-time %s", q);
}

/* ---- scopes ---- */

/* actions := action ("," action)*, action := [a-z*]+ */
static bool valid_actions(const char *a)
{
    if (!a || !*a)
        return false;
    bool need = true;
    for (; *a; a++) {
        if ((*a >= 'a' && *a <= 'z') || *a == '*')
            need = false;
        else if (*a == ',' && !need)
            need = true;
        else
            return false;
    }
    return !need;
}

int oreg_scope_build(char **out, const char *repository, const char *actions,
                     struct oci_error **err)
{
    char q[OREG_QUOTE_BUF];
    const char *why = repository ? oreg_path_check(repository) : "no repository";
    if (why) {
        oreg_quote(q, repository);
        return oci_error_set(err, OCI_ERR_INVALID, "scope for repository %s: %s", q, why);
    }
    if (!valid_actions(actions)) {
        oreg_quote(q, actions);
        return oci_error_set(err, OCI_ERR_INVALID, "invalid scope actions %s", q);
    }
    char *s = NULL;
    if (asprintf(&s, "repository:%s:%s", repository, actions) < 0)
        return oci_error_set(err, OCI_ERR_NOMEM, "scope: out of memory");
    *out = s;
    return 0;
}

int oreg_scope_pull(char **out, const char *repository, struct oci_error **err)
{
    return oreg_scope_build(out, repository, "pull", err);
}
