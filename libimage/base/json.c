/* Bounded JSON: the size cap is checked before json-c sees a byte and the
 * depth cap is json-c's own tokener limit, so a hostile document costs at
 * most max_size bytes and max_depth levels of parser state. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/cleanup.h>
#include <ociimg/fs.h>
#include <ociimg/json.h>

#include "base_private.h"

/* json-c's strict mode still accepts single-quoted strings, NaN/Infinity
 * and overlong UTF-8, so every document first passes this RFC 8259 checker.
 * It walks the input once, keeps one byte per open container (bounded by
 * the depth cap) and reports the first problem with its offset. */
struct checker {
    const unsigned char *s;
    size_t len, pos;
    char *stack; /* '{' or '[' per open container */
    int depth, max_depth;
    const char *why; /* set on failure */
    bool too_deep;
};

static bool is_json_ws(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static void skip_ws(struct checker *c)
{
    while (c->pos < c->len && is_json_ws((char)c->s[c->pos]))
        c->pos++;
}

static bool fail(struct checker *c, const char *why)
{
    c->why = why;
    return false;
}

static bool is_digit(unsigned char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool is_hex(unsigned char ch)
{
    return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* One UTF-8 sequence starting at c->pos (a byte >= 0x80): shortest form,
 * no surrogates, at most U+10FFFF. */
static bool check_utf8(struct checker *c)
{
    const unsigned char *p = c->s + c->pos;
    size_t left = c->len - c->pos;
    unsigned char b = p[0];
    size_t n;
    unsigned cp;
    if (b >= 0xc2 && b <= 0xdf) {
        n = 2;
        cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
        n = 3;
        cp = b & 0x0f;
    } else if (b >= 0xf0 && b <= 0xf4) {
        n = 4;
        cp = b & 0x07;
    } else {
        return fail(c, "invalid UTF-8 byte");
    }
    if (left < n)
        return fail(c, "truncated UTF-8 sequence");
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return fail(c, "invalid UTF-8 sequence");
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000))
        return fail(c, "overlong UTF-8 sequence");
    if (cp >= 0xd800 && cp <= 0xdfff)
        return fail(c, "UTF-8 encoded surrogate");
    if (cp > 0x10ffff)
        return fail(c, "UTF-8 sequence beyond U+10FFFF");
    c->pos += n;
    return true;
}

static bool check_string(struct checker *c)
{
    c->pos++; /* opening quote */
    while (c->pos < c->len) {
        unsigned char ch = c->s[c->pos];
        if (ch == '"') {
            c->pos++;
            return true;
        }
        if (ch < 0x20)
            return fail(c, "control character in string");
        if (ch >= 0x80) {
            if (!check_utf8(c))
                return false;
            continue;
        }
        if (ch == '\\') {
            if (++c->pos >= c->len)
                break;
            ch = c->s[c->pos];
            if (ch == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (c->pos + i >= c->len || !is_hex(c->s[c->pos + i]))
                        return fail(c, "bad \\u escape");
                /* json-c hands strings out NUL-terminated: an escaped NUL
                 * would silently cut "app\\u0000:root" down to "app". */
                if (memcmp(c->s + c->pos + 1, "0000", 4) == 0)
                    return fail(c, "\\u0000 (NUL) in a string");
                c->pos += 5;
                continue;
            }
            if (!strchr("\"\\/bfnrt", ch) || ch == '\0')
                return fail(c, "bad escape in string");
        }
        c->pos++;
    }
    return fail(c, "unterminated string");
}

static bool check_number(struct checker *c)
{
    const unsigned char *s = c->s;
    if (c->pos < c->len && s[c->pos] == '-')
        c->pos++;
    if (c->pos >= c->len || !is_digit(s[c->pos]))
        return fail(c, "bad number");
    if (s[c->pos] == '0')
        c->pos++;
    else
        while (c->pos < c->len && is_digit(s[c->pos]))
            c->pos++;
    if (c->pos < c->len && s[c->pos] == '.') {
        c->pos++;
        if (c->pos >= c->len || !is_digit(s[c->pos]))
            return fail(c, "bad number: digit expected after '.'");
        while (c->pos < c->len && is_digit(s[c->pos]))
            c->pos++;
    }
    if (c->pos < c->len && (s[c->pos] == 'e' || s[c->pos] == 'E')) {
        c->pos++;
        if (c->pos < c->len && (s[c->pos] == '+' || s[c->pos] == '-'))
            c->pos++;
        if (c->pos >= c->len || !is_digit(s[c->pos]))
            return fail(c, "bad number: digit expected in exponent");
        while (c->pos < c->len && is_digit(s[c->pos]))
            c->pos++;
    }
    return true;
}

static bool check_literal(struct checker *c, const char *word)
{
    size_t n = strlen(word);
    if (c->len - c->pos < n || memcmp(c->s + c->pos, word, n) != 0)
        return fail(c, "unexpected character");
    c->pos += n;
    return true;
}

static bool push(struct checker *c, char kind)
{
    if (c->depth >= c->max_depth) {
        c->too_deep = true;
        return fail(c, "nesting too deep");
    }
    c->stack[c->depth++] = kind;
    c->pos++;
    return true;
}

static bool check_document(struct checker *c)
{
    enum { VALUE, KEY, AFTER } st = VALUE;
    skip_ws(c);
    /* Each step consumes at least one byte or ends, so this is bounded by len. */
    for (;;) {
        skip_ws(c);
        if (st == AFTER) {
            if (c->depth == 0)
                return c->pos == c->len || fail(c, "unexpected data after the value");
            if (c->pos >= c->len)
                return fail(c, "unexpected end of document");
            char top = c->stack[c->depth - 1];
            unsigned char ch = c->s[c->pos];
            if (ch == ',') {
                c->pos++;
                st = top == '{' ? KEY : VALUE;
            } else if ((top == '{' && ch == '}') || (top == '[' && ch == ']')) {
                c->pos++;
                c->depth--;
            } else {
                return fail(c, top == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
            }
            continue;
        }
        if (c->pos >= c->len)
            return fail(c, "unexpected end of document");
        unsigned char ch = c->s[c->pos];
        if (st == KEY) {
            if (ch != '"')
                return fail(c, "expected a string key");
            if (!check_string(c))
                return false;
            skip_ws(c);
            if (c->pos >= c->len || c->s[c->pos] != ':')
                return fail(c, "expected ':'");
            c->pos++;
            st = VALUE;
            continue;
        }
        /* st == VALUE */
        bool ok;
        switch (ch) {
        case '{':
        case '[':
            if (!push(c, (char)ch))
                return false;
            skip_ws(c);
            if (c->pos < c->len && c->s[c->pos] == (ch == '{' ? '}' : ']')) {
                c->pos++;
                c->depth--;
                st = AFTER;
            } else {
                st = ch == '{' ? KEY : VALUE;
            }
            continue;
        case '"':
            ok = check_string(c);
            break;
        case 't':
            ok = check_literal(c, "true");
            break;
        case 'f':
            ok = check_literal(c, "false");
            break;
        case 'n':
            ok = check_literal(c, "null");
            break;
        default:
            ok = (ch == '-' || is_digit(ch)) ? check_number(c) : fail(c, "unexpected character");
        }
        if (!ok)
            return false;
        st = AFTER;
    }
}

static void free_tokener(struct json_tokener **t)
{
    if (*t)
        json_tokener_free(*t);
}

int oimg_json_parse(json_object **out, const char *buf, size_t len,
                    const struct oimg_json_limits *lim, struct oci_error **err)
{
    size_t max_size = lim && lim->max_size ? lim->max_size : OIMG_JSON_DEFAULT_MAX_SIZE;
    int max_depth = lim && lim->max_depth > 0 ? lim->max_depth : OIMG_JSON_DEFAULT_MAX_DEPTH;

    /* json-c takes an int length. */
    if (max_size > INT_MAX - 1)
        max_size = INT_MAX - 1;
    if (max_depth > 100000)
        max_depth = 100000;
    if (len > max_size)
        return oci_error_set(err, OCI_ERR_TOO_LARGE,
                             "JSON document is %zu bytes, over the limit of %zu bytes", len,
                             max_size);
    if (!buf && len)
        return oci_error_set(err, OCI_ERR_INVALID, "JSON document: no buffer");
    /* json-c would stop at a NUL and report success on the prefix. */
    const char *nul = len ? memchr(buf, '\0', len) : NULL;
    if (nul)
        return oci_error_set(err, OCI_ERR_INVALID, "invalid JSON: NUL byte at offset %zu",
                             (size_t)(nul - buf));

    _cleanup_free_ char *stack = malloc((size_t)max_depth);
    if (!stack)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory checking JSON");
    struct checker chk = {
        .s = (const unsigned char *)buf, .len = len, .stack = stack, .max_depth = max_depth};
    if (!check_document(&chk)) {
        if (chk.too_deep)
            return oci_error_set(err, OCI_ERR_TOO_LARGE,
                                 "invalid JSON at offset %zu: nesting deeper than %d", chk.pos,
                                 max_depth);
        return oci_error_set(err, OCI_ERR_INVALID, "invalid JSON at offset %zu: %s", chk.pos,
                             chk.why);
    }
    /* json-c counts a scalar inside the innermost container as one more
     * level than we do, hence the + 1. */
    _cleanup_(free_tokener) struct json_tokener *tok = json_tokener_new_ex(max_depth + 1);
    if (!tok)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory creating JSON parser");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);

    _cleanup_json_ json_object *obj = json_tokener_parse_ex(tok, buf ? buf : "", (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t base = 0;
    if (!obj && jerr == json_tokener_continue) {
        /* A top-level scalar needs an explicit end of input; json-c takes a
         * NUL as that end. */
        base = len;
        obj = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        if (jerr == json_tokener_continue)
            return oci_error_set(err, OCI_ERR_INVALID,
                                 "invalid JSON: unexpected end of document after %zu bytes", len);
    }
    if (jerr == json_tokener_error_depth)
        return oci_error_set(err, OCI_ERR_TOO_LARGE, "invalid JSON: nesting deeper than %d",
                             max_depth);
    if (jerr != json_tokener_success)
        return oci_error_set(err, OCI_ERR_INVALID, "invalid JSON at offset %zu: %s",
                             base + json_tokener_get_parse_end(tok), json_tokener_error_desc(jerr));
    /* The checker has already refused trailing data; this guards against
     * json-c and the checker disagreeing on where the value ends. */
    if (base == 0) {
        for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
            if (!is_json_ws(buf[i]))
                return oci_error_set(err, OCI_ERR_INVALID,
                                     "invalid JSON at offset %zu: unexpected data after the value",
                                     i);
    }

    /* A JSON "null" document parses to NULL; callers always get an object. */
    if (!obj)
        return oci_error_set(err, OCI_ERR_INVALID, "JSON document is null");
    *out = TAKE_PTR(obj);
    return 0;
}

int oimg_read_file_at(char **out, size_t *out_len, int dirfd, const char *path, size_t max,
                      struct oci_error **err)
{
    /* 0 would make every file "too large"; callers that pass it want a default. */
    if (max == 0)
        max = OIMG_JSON_DEFAULT_MAX_SIZE;

    _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        if (e == ELOOP)
            return oci_error_setsys(err, OCI_ERR_INVALID, e, "open `%s` (a symlink?)", path);
        return oci_error_setsys(err, oimg_errno_code(e), e, "open `%s`", path);
    }
    struct stat st;
    if (fstat(fd, &st) < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "stat `%s`", path);
    if (!S_ISREG(st.st_mode))
        return oci_error_set(err, OCI_ERR_INVALID, "`%s` is not a regular file", path);
    if ((unsigned long long)st.st_size > (unsigned long long)max)
        return oci_error_set(err, OCI_ERR_TOO_LARGE,
                             "`%s` is %lld bytes, over the limit of %zu bytes", path,
                             (long long)st.st_size, max);

    /* The size is only a hint (the file may grow, or be a /proc file that
     * claims 0): the buffer grows as needed, but never past max + 1 bytes,
     * which is enough to notice that the file is over the limit. */
    if (max > SIZE_MAX / 2)
        max = SIZE_MAX / 2;
    size_t cap = (size_t)st.st_size + 1;
    if (cap < 4096)
        cap = 4096;
    if (cap > max + 1)
        cap = max + 1;
    _cleanup_free_ char *buf = malloc(cap + 1);
    if (!buf)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory reading `%s`", path);
    size_t len = 0;
    for (;;) {
        if (len == cap) {
            /* len <= max here (checked below), so cap < max + 1 and growing is possible */
            size_t ncap = cap > (max + 1) / 2 ? max + 1 : cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb)
                return oci_error_set(err, OCI_ERR_NOMEM, "out of memory reading `%s`", path);
            buf = nb;
            cap = ncap;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return oci_error_setsys(err, OCI_ERR_IO, errno, "read `%s`", path);
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max)
            return oci_error_set(err, OCI_ERR_TOO_LARGE, "`%s` grew past the limit of %zu bytes",
                                 path, max);
    }
    buf[len] = '\0';
    *out = TAKE_PTR(buf);
    if (out_len)
        *out_len = len;
    return 0;
}

char *oimg_json_dump(json_object *o, bool pretty)
{
    int flags =
        (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN) |
        JSON_C_TO_STRING_NOSLASHESCAPE;
    const char *s = json_object_to_json_string_ext(o, flags);
    return s ? strdup(s) : NULL;
}

static const char *type_name(json_object *v)
{
    return json_type_to_name(json_object_get_type(v));
}

int oimg_json_get_string(const char **out, json_object *obj, const char *key, bool required,
                         const char *what, struct oci_error **err)
{
    json_object *v = NULL;
    if (!obj || !json_object_is_type(obj, json_type_object))
        return oci_error_set(err, OCI_ERR_INVALID, "%s: not a JSON object", what);
    if (!json_object_object_get_ex(obj, key, &v)) {
        if (required)
            return oci_error_set(err, OCI_ERR_INVALID, "%s.%s: required field missing", what, key);
        return 0;
    }
    if (!json_object_is_type(v, json_type_string))
        return oci_error_set(err, OCI_ERR_INVALID, "%s.%s: must be a string, not %s", what, key,
                             type_name(v));
    *out = json_object_get_string(v);
    return 0;
}

int oimg_json_get_int64(int64_t *out, bool *present, json_object *obj, const char *key,
                        bool required, const char *what, struct oci_error **err)
{
    json_object *v = NULL;
    if (!obj || !json_object_is_type(obj, json_type_object))
        return oci_error_set(err, OCI_ERR_INVALID, "%s: not a JSON object", what);
    if (!json_object_object_get_ex(obj, key, &v)) {
        if (required)
            return oci_error_set(err, OCI_ERR_INVALID, "%s.%s: required field missing", what, key);
        if (present)
            *present = false;
        return 0;
    }
    if (!json_object_is_type(v, json_type_int))
        return oci_error_set(err, OCI_ERR_INVALID, "%s.%s: must be an integer, not %s", what, key,
                             type_name(v));
    /* json-c keeps integers above INT64_MAX as uint64 (saturating at
     * UINT64_MAX) and clamps those below INT64_MIN to it without telling.
     * Refuse both rather than hand out a clamped value; INT64_MIN itself is
     * refused with them, which no document we read has a use for. */
    int64_t i = json_object_get_int64(v);
    if ((i == INT64_MAX && json_object_get_uint64(v) != (uint64_t)INT64_MAX) || i == INT64_MIN)
        return oci_error_set(err, OCI_ERR_INVALID, "%s.%s: integer out of range", what, key);
    *out = i;
    if (present)
        *present = true;
    return 0;
}
