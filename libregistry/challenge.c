/* WWW-Authenticate parsing (RFC 7235 section 4.1 with RFC 7230's list,
 * token and quoted-string rules).
 *
 * The grammar is ambiguous at commas: after "a=b," the next item is another
 * parameter if a name and "=" follow, else the next challenge's scheme.  The
 * token68 form is recognised only directly after a scheme and only when the
 * item ends there, so "realm=x" is always a parameter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ociimg/cleanup.h>
#include <ociimg/registry.h>

#include "registry_private.h"

struct cur {
    const char *s;
    size_t len, pos;
    const char *why; /* first parse error */
    size_t why_pos;
    int code;
};

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token68_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("-._~+/", c));
}

static bool at_end(const struct cur *c)
{
    return c->pos >= c->len;
}

static char peek(const struct cur *c)
{
    if (at_end(c))
        return '\0';
    return c->s[c->pos];
}

/* Returns the number of SP/HTAB skipped. */
static size_t skip_ows(struct cur *c)
{
    size_t start = c->pos;
    while (!at_end(c) && (c->s[c->pos] == ' ' || c->s[c->pos] == '\t'))
        c->pos++;
    return c->pos - start;
}

static void skip_ows_commas(struct cur *c)
{
    while (!at_end(c) && (c->s[c->pos] == ' ' || c->s[c->pos] == '\t' || c->s[c->pos] == ','))
        c->pos++;
}

static bool fail_as(struct cur *c, int code, const char *why)
{
    if (!c->why) {
        c->why = why;
        c->why_pos = c->pos;
        c->code = code;
    }
    return false;
}

static bool fail(struct cur *c, const char *why)
{
    return fail_as(c, OCI_ERR_INVALID, why);
}

static bool fail_nomem(struct cur *c)
{
    return fail_as(c, OCI_ERR_NOMEM, "out of memory");
}

static size_t token_end(const struct cur *c, size_t pos)
{
    while (pos < c->len && is_tchar((unsigned char)c->s[pos]))
        pos++;
    return pos;
}

/* quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE, unescaped into *out. */
static bool parse_quoted(struct cur *c, char **out)
{
    char *buf = malloc(c->len - c->pos + 1);
    if (!buf)
        return fail_nomem(c);
    size_t o = 0;
    c->pos++; /* opening quote */
    while (!at_end(c)) {
        unsigned char ch = (unsigned char)c->s[c->pos];
        if (ch == '"') {
            c->pos++;
            buf[o] = '\0';
            /* The buffer was sized for the rest of the header; keep only the value. */
            char *shrunk = realloc(buf, o + 1);
            *out = shrunk ? shrunk : buf;
            return true;
        }
        if (ch == '\\') {
            c->pos++;
            if (at_end(c))
                break;
            ch = (unsigned char)c->s[c->pos];
            if (ch != '\t' && (ch < 0x20 || ch == 0x7f)) {
                free(buf);
                return fail(c, "control character after '\\' in quoted-string");
            }
        } else if (ch != '\t' && (ch < 0x20 || ch == 0x7f)) {
            free(buf);
            return fail(c, "control character in quoted-string");
        }
        buf[o++] = (char)ch;
        c->pos++;
    }
    free(buf);
    return fail(c, "missing closing '\"'");
}

/* A scheme or parameter name: a token, or (leniently, as regclient accepts)
 * a quoted-string whose content is a token. */
static bool parse_name(struct cur *c, char **out, const char *what)
{
    if (peek(c) == '"') {
        size_t start = c->pos;
        char *q = NULL;
        if (!parse_quoted(c, &q) || !q)
            return false;
        size_t n = strlen(q);
        bool ok = n > 0;
        for (size_t i = 0; i < n && ok; i++)
            ok = is_tchar((unsigned char)q[i]);
        if (!ok) {
            free(q);
            c->pos = start;
            return fail(c, what);
        }
        oreg_ascii_lower(q);
        *out = q;
        return true;
    }
    size_t end = token_end(c, c->pos);
    if (end == c->pos)
        return fail(c, what);
    char *t = strndup(c->s + c->pos, end - c->pos);
    if (!t)
        return fail_nomem(c);
    oreg_ascii_lower(t);
    c->pos = end;
    *out = t;
    return true;
}

/* Unquoted values: RFC 7230 says token, but servers send bare URLs
 * ("realm=https://h/token", "realm=/"), which regclient and docker accept;
 * so any visible character except the list and quote delimiters. */
static bool is_value_char(unsigned char c)
{
    return c > 0x20 && c != 0x7f && c != ',' && c != '"' && c != ';' && c != '\\';
}

static bool parse_value(struct cur *c, char **out)
{
    if (peek(c) == '"')
        return parse_quoted(c, out);
    size_t end = c->pos;
    while (end < c->len && is_value_char((unsigned char)c->s[end]))
        end++;
    if (end == c->pos)
        return fail(c, "expected a token or quoted-string as parameter value");
    *out = strndup(c->s + c->pos, end - c->pos);
    if (!*out)
        return fail_nomem(c);
    c->pos = end;
    return true;
}

/* Is the next list item `name BWS "="` (a parameter) rather than a scheme? */
static bool next_is_param(const struct cur *c)
{
    struct cur t = *c;
    t.why = NULL;
    if (peek(&t) == '"') {
        /* A quoted name: find its end without unescaping. */
        t.pos++;
        while (!at_end(&t) && t.s[t.pos] != '"')
            t.pos += t.s[t.pos] == '\\' ? 2 : 1;
        if (at_end(&t))
            return false;
        t.pos++;
    } else {
        size_t end = token_end(&t, t.pos);
        if (end == t.pos)
            return false;
        t.pos = end;
    }
    skip_ows(&t);
    return peek(&t) == '=';
}

/* token68 directly after the scheme, ending the item: 1 and consumed, 0 if
 * the item is not a token68, -1 on allocation failure. */
static int try_token68(struct cur *c, char **out)
{
    size_t p = c->pos;
    while (p < c->len && is_token68_char((unsigned char)c->s[p]))
        p++;
    if (p == c->pos)
        return 0;
    while (p < c->len && c->s[p] == '=')
        p++;
    size_t end = p;
    while (p < c->len && (c->s[p] == ' ' || c->s[p] == '\t'))
        p++;
    if (p < c->len && c->s[p] != ',')
        return 0;
    *out = strndup(c->s + c->pos, end - c->pos);
    if (!*out) {
        fail_nomem(c);
        return -1;
    }
    c->pos = end;
    return 1;
}

static void challenge_clear(struct oreg_challenge *ch)
{
    free(ch->scheme);
    free(ch->token68);
    for (size_t i = 0; i < ch->n_params; i++) {
        free(ch->params[i].name);
        free(ch->params[i].value);
    }
    free(ch->params);
    memset(ch, 0, sizeof(*ch));
}

static bool add_param(struct cur *c, struct oreg_challenge *ch, char *name, char *value)
{
    for (size_t i = 0; i < ch->n_params; i++) {
        if (strcmp(ch->params[i].name, name) == 0) {
            free(name);
            free(value);
            return fail(c, "parameter repeated in one challenge");
        }
    }
    if (ch->n_params >= OREG_CHALLENGE_PARAMS_MAX) {
        free(name);
        free(value);
        return fail_as(c, OCI_ERR_TOO_LARGE, "too many parameters in one challenge");
    }
    struct oreg_auth_param *p = realloc(ch->params, (ch->n_params + 1) * sizeof(*p));
    if (!p) {
        free(name);
        free(value);
        return fail_nomem(c);
    }
    ch->params = p;
    p[ch->n_params].name = name;
    p[ch->n_params].value = value;
    ch->n_params++;
    return true;
}

/* Parses the parameters of one challenge; stops at the end of the header or
 * before the next challenge's scheme. */
static bool parse_params(struct cur *c, struct oreg_challenge *ch)
{
    for (;;) {
        char *name = NULL, *value = NULL;
        if (!parse_name(c, &name, "expected a parameter name"))
            return false;
        skip_ows(c);
        if (peek(c) != '=') {
            free(name);
            return fail(c, "expected '=' after parameter name");
        }
        c->pos++;
        skip_ows(c);
        if (!parse_value(c, &value)) {
            free(name);
            return false;
        }
        if (!add_param(c, ch, name, value))
            return false;
        skip_ows(c);
        if (at_end(c))
            return true;
        if (peek(c) != ',')
            return fail(c, "expected ',' after parameter value");
        skip_ows_commas(c);
        if (at_end(c) || !next_is_param(c))
            return true;
    }
}

static bool parse_header(struct cur *c, struct oreg_challenges *out, size_t room)
{
    /* Every iteration consumes at least one byte or returns. */
    for (;;) {
        skip_ows_commas(c);
        if (at_end(c))
            return true;
        if (out->n >= room)
            return fail_as(c, OCI_ERR_TOO_LARGE, "too many challenges");
        struct oreg_challenge ch = {0};
        if (!parse_name(c, &ch.scheme, "expected an auth scheme"))
            return false;
        size_t ws = skip_ows(c);
        bool more = !at_end(c) && peek(c) != ',';
        if (more && ws == 0) {
            challenge_clear(&ch);
            return fail(c, "expected a space after the auth scheme");
        }
        if (more) {
            int t = try_token68(c, &ch.token68);
            if (t < 0 || (t == 0 && !parse_params(c, &ch))) {
                challenge_clear(&ch);
                return false;
            }
        }
        struct oreg_challenge *v = realloc(out->v, (out->n + 1) * sizeof(*v));
        if (!v) {
            challenge_clear(&ch);
            return fail_nomem(c);
        }
        out->v = v;
        v[out->n++] = ch;
    }
}

static void challenges_clear(struct oreg_challenges *l)
{
    for (size_t i = 0; i < l->n; i++)
        challenge_clear(&l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

void oreg_challenges_free(struct oreg_challenges *list)
{
    if (!list)
        return;
    challenges_clear(list);
    free(list);
}
OCI_DEFINE_CLEANUP(struct oreg_challenges *, oreg_challenges_free)

int oreg_challenges_add(struct oreg_challenges *list, const char *header, struct oci_error **err)
{
    char q[OREG_QUOTE_BUF];
    if (!header)
        return oci_error_set(err, OCI_ERR_INVALID, "WWW-Authenticate: no header value");
    size_t len = strnlen(header, OREG_CHALLENGE_HEADER_MAX + 1);
    if (len > OREG_CHALLENGE_HEADER_MAX)
        return oci_error_set(err, OCI_ERR_TOO_LARGE,
                             "WWW-Authenticate header is longer than %d bytes",
                             OREG_CHALLENGE_HEADER_MAX);
    if (list->n >= OREG_CHALLENGE_MAX)
        return oci_error_set(err, OCI_ERR_TOO_LARGE, "more than %d WWW-Authenticate challenges",
                             OREG_CHALLENGE_MAX);

    struct cur c = {.s = header, .len = len};
    struct oreg_challenges tmp = {0};
    if (!parse_header(&c, &tmp, OREG_CHALLENGE_MAX - list->n)) {
        challenges_clear(&tmp);
        oreg_quote(q, header);
        return oci_error_set(err, c.code, "invalid WWW-Authenticate header %s: %s at offset %zu", q,
                             c.why, c.why_pos);
    }
    if (tmp.n == 0)
        return 0;
    struct oreg_challenge *v = realloc(list->v, (list->n + tmp.n) * sizeof(*v));
    if (!v) {
        challenges_clear(&tmp);
        return oci_error_set(err, OCI_ERR_NOMEM, "WWW-Authenticate: out of memory");
    }
    memcpy(v + list->n, tmp.v, tmp.n * sizeof(*v));
    list->v = v;
    list->n += tmp.n;
    free(tmp.v);
    return 0;
}

int oreg_challenges_parse(struct oreg_challenges **out, const char *const *headers,
                          size_t n_headers, struct oci_error **err)
{
    _cleanup_(oreg_challenges_freep) struct oreg_challenges *l = calloc(1, sizeof(*l));
    if (!l)
        return oci_error_set(err, OCI_ERR_NOMEM, "WWW-Authenticate: out of memory");
    for (size_t i = 0; i < n_headers; i++) {
        int r = oreg_challenges_add(l, headers[i], err);
        if (r < 0)
            return r;
    }
    *out = TAKE_PTR(l);
    return 0;
}

const struct oreg_challenge *oreg_challenges_find(const struct oreg_challenges *list,
                                                  const char *scheme)
{
    if (!list || !scheme)
        return NULL;
    for (size_t i = 0; i < list->n; i++)
        if (strcasecmp(list->v[i].scheme, scheme) == 0)
            return &list->v[i];
    return NULL;
}

const char *oreg_challenge_param(const struct oreg_challenge *c, const char *name)
{
    if (!c || !name)
        return NULL;
    for (size_t i = 0; i < c->n_params; i++)
        if (strcasecmp(c->params[i].name, name) == 0)
            return c->params[i].value;
    return NULL;
}

const char *oreg_challenge_realm(const struct oreg_challenge *c)
{
    return oreg_challenge_param(c, "realm");
}

const char *oreg_challenge_service(const struct oreg_challenge *c)
{
    return oreg_challenge_param(c, "service");
}

const char *oreg_challenge_scope(const struct oreg_challenge *c)
{
    return oreg_challenge_param(c, "scope");
}

const char *oreg_challenge_error(const struct oreg_challenge *c)
{
    return oreg_challenge_param(c, "error");
}

bool oreg_challenge_insufficient_scope(const struct oreg_challenge *c)
{
    const char *e = oreg_challenge_error(c);
    return e && strcmp(e, "insufficient_scope") == 0;
}
