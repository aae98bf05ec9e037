/* Bounded JSON: strictness, caps that refuse before allocating, file reading
 * with a cap, dumping, and the typed accessors. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/cleanup.h>
#include <ociimg/json.h>

#include "t.h"

static int parse_code(const char *s, size_t len, const struct oimg_json_limits *lim,
                      const char *want_msg)
{
    json_object *o = NULL;
    struct oci_error *e = NULL;
    int r = oimg_json_parse(&o, s, len, lim, &e);
    if (r < 0) {
        CHECK(o == NULL);
        CHECK(e != NULL);
        if (e && want_msg && !strstr(e->msg, want_msg)) {
            fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", e->msg, want_msg);
            CHECK(0);
        }
    } else {
        CHECK(o != NULL);
        CHECK(e == NULL);
    }
    if (o)
        json_object_put(o);
    oci_error_free(e);
    return r;
}

#define P(s) parse_code((s), strlen(s), NULL, NULL)
#define PM(s, msg) parse_code((s), strlen(s), NULL, (msg))

static void test_valid(void)
{
    CHECK_INT(P("{}"), 0);
    CHECK_INT(P("[]"), 0);
    CHECK_INT(P("  {\"a\": [1, 2.5, true, false, null, \"x\\u00e9\"]}\n\t "), 0);
    CHECK_INT(P("123"), 0);
    CHECK_INT(P("\"str\""), 0);
    CHECK_INT(P("true"), 0);
    CHECK_INT(P("{\"k\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3\"}"), 0);
    CHECK_INT(P("[\"\\ud83d\\udc33\", \"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]"), 0);
    CHECK_INT(P("[-0, 0.5e10, 1E-3, -12.34e+5, 0]"), 0);
    CHECK_INT(P("{\"a\" : { \"b\" : [ ] , \"c\" : { } } }"), 0);

    json_object *o = NULL;
    CHECK_OK(oimg_json_parse(&o, "{\"a\":\"b/c\"}", 11, NULL, T_ERR));
    char *s = oimg_json_dump(o, false);
    CHECK_STR(s, "{\"a\":\"b/c\"}");
    free(s);
    s = oimg_json_dump(o, true);
    CHECK(s && strchr(s, '\n') && strstr(s, "\"b/c\""));
    free(s);
    json_object_put(o);
}

static void test_strictness(void)
{
    /* Lone surrogate escapes are grammatical; json-c may keep or refuse them,
     * but nothing may crash. */
    CHECK(P("[\"\\ud800\"]") <= 0);
    CHECK(P("[\"\\udc00x\"]") <= 0);
    CHECK(P("[\"\\ud800\\u0041\"]") <= 0);

    CHECK_INT(PM("{} x", "offset 3"), -OCI_ERR_INVALID);
    CHECK_INT(P("{}{}"), -OCI_ERR_INVALID);
    CHECK_INT(P("[1] [2]"), -OCI_ERR_INVALID);
    CHECK_INT(P("1 2"), -OCI_ERR_INVALID);
    CHECK_INT(P("{\"a\":1} // c"), -OCI_ERR_INVALID);
    CHECK_INT(P("/* c */ {}"), -OCI_ERR_INVALID);
    CHECK_INT(P("{\"a\":1 /* c */}"), -OCI_ERR_INVALID);
    CHECK_INT(P("{'a':1}"), -OCI_ERR_INVALID);
    CHECK_INT(P("{a:1}"), -OCI_ERR_INVALID);
    CHECK_INT(P("[1,]"), -OCI_ERR_INVALID);
    CHECK_INT(P("{\"a\":1,}"), -OCI_ERR_INVALID);
    CHECK_INT(P("NaN"), -OCI_ERR_INVALID);
    CHECK_INT(P("[Infinity]"), -OCI_ERR_INVALID);
    CHECK_INT(P("{"), -OCI_ERR_INVALID);
    CHECK_INT(PM("{\"a\":", "end of document"), -OCI_ERR_INVALID);
    CHECK_INT(P("[1, 2"), -OCI_ERR_INVALID);
    CHECK_INT(P(""), -OCI_ERR_INVALID);
    CHECK_INT(P("   "), -OCI_ERR_INVALID);
    CHECK_INT(P("nul"), -OCI_ERR_INVALID);
    CHECK_INT(PM("null", "null"), -OCI_ERR_INVALID);
    CHECK_INT(P("0x10"), -OCI_ERR_INVALID);
    CHECK_INT(P("[01]"), -OCI_ERR_INVALID);
    /* An escaped NUL would be cut off by every C consumer of the string. */
    CHECK_INT(PM("{\"User\":\"app\\u0000:root\"}", "NUL"), -OCI_ERR_INVALID);
    CHECK_INT(P("{\"a\\u0000b\":1}"), -OCI_ERR_INVALID);
    CHECK_INT(P("[\"\\u0001\"]"), 0);

    /* invalid UTF-8: lone continuation, overlong, truncated sequence */
    CHECK_INT(P("{\"a\":\"\x80\"}"), -OCI_ERR_INVALID);
    CHECK_INT(P("{\"a\":\"\xc0\xaf\"}"), -OCI_ERR_INVALID);
    CHECK_INT(P("{\"a\":\"\xe2\x82\"}"), -OCI_ERR_INVALID);
    CHECK_INT(P("{\"\xff\":1}"), -OCI_ERR_INVALID);
    CHECK_INT(PM("[\"\xed\xa0\x80\"]", "surrogate"), -OCI_ERR_INVALID);
    CHECK_INT(P("[\"\xf4\x90\x80\x80\"]"), -OCI_ERR_INVALID);
    CHECK_INT(P("[\"\xf0\x8f\xbf\xbf\"]"), -OCI_ERR_INVALID);
    CHECK_INT(PM("[\"a\tb\"]", "control character"), -OCI_ERR_INVALID);
    CHECK_INT(P("[\"\\x41\"]"), -OCI_ERR_INVALID);
    CHECK_INT(P("[\"\\u12g4\"]"), -OCI_ERR_INVALID);
    CHECK_INT(P("[\"abc]"), -OCI_ERR_INVALID);
    CHECK_INT(P("[1 2]"), -OCI_ERR_INVALID);
    CHECK_INT(P("{\"a\" 1}"), -OCI_ERR_INVALID);
    CHECK_INT(P("{\"a\":1 \"b\":2}"), -OCI_ERR_INVALID);
    CHECK_INT(P("[1.]"), -OCI_ERR_INVALID);
    CHECK_INT(P("[.5]"), -OCI_ERR_INVALID);
    CHECK_INT(P("[1e]"), -OCI_ERR_INVALID);
    CHECK_INT(P("[+1]"), -OCI_ERR_INVALID);
    CHECK_INT(P("[-]"), -OCI_ERR_INVALID);
    CHECK_INT(P("[truex]"), -OCI_ERR_INVALID);
    CHECK_INT(P("[tru]"), -OCI_ERR_INVALID);
    CHECK_INT(P("]"), -OCI_ERR_INVALID);
    CHECK_INT(P("\xef\xbb\xbf{}"), -OCI_ERR_INVALID); /* BOM */

    /* an embedded NUL would end json-c's view of the input early */
    static const char withnul[] = "{\"a\":1}\0garbage";
    CHECK_INT(parse_code(withnul, sizeof(withnul) - 1, NULL, "NUL byte at offset 7"),
              -OCI_ERR_INVALID);
    static const char innul[] = "{\"a\":\"x\0y\"}";
    CHECK_INT(parse_code(innul, sizeof(innul) - 1, NULL, "NUL"), -OCI_ERR_INVALID);

    /* error messages carry json-c's description and stay one line */
    struct oci_error *e = NULL;
    json_object *o = NULL;
    CHECK(oimg_json_parse(&o, "[1,\n2,\nx]", 9, NULL, &e) < 0);
    CHECK(e && strstr(e->msg, "offset") && !strchr(e->msg, '\n'));
    oci_error_free(e);

    /* not NUL-terminated input: parse stops at len */
    char buf[8] = {'[', '1', ']', 'x', 'x', 'x', 'x', 'x'};
    CHECK_INT(parse_code(buf, 3, NULL, NULL), 0);
    CHECK_INT(parse_code(buf, 1, NULL, NULL), -OCI_ERR_INVALID);
}

static void test_size_cap(void)
{
    /* The cap is checked against len alone: a 100 MB document is refused
     * without touching (or allocating for) its bytes. */
    size_t big = 100u * 1024 * 1024;
    char *p = malloc(16);
    CHECK_INT(parse_code(p, big, NULL, "104857600 bytes, over the limit of 4194304"),
              -OCI_ERR_TOO_LARGE);
    free(p);

    struct oimg_json_limits lim = {.max_size = 10};
    CHECK_INT(parse_code("[1,2,3,4,5]", 11, &lim, "over the limit"), -OCI_ERR_TOO_LARGE);
    CHECK_INT(parse_code("[1,2,3,45]", 10, &lim, NULL), 0);
}

static char *nested(int depth, char open, char close)
{
    char *s = malloc((size_t)depth * 2 + 1);
    memset(s, open, (size_t)depth);
    memset(s + depth, close, (size_t)depth);
    s[depth * 2] = '\0';
    return s;
}

static void test_depth_cap(void)
{
    _cleanup_free_ char *deep = nested(10000, '[', ']');
    CHECK_INT(parse_code(deep, strlen(deep), NULL, "nesting deeper than 64"), -OCI_ERR_TOO_LARGE);

    _cleanup_free_ char *ok64 = nested(OIMG_JSON_DEFAULT_MAX_DEPTH, '[', ']');
    CHECK_INT(P(ok64), 0);
    _cleanup_free_ char *over = nested(OIMG_JSON_DEFAULT_MAX_DEPTH + 1, '[', ']');
    CHECK_INT(P(over), -OCI_ERR_TOO_LARGE);

    struct oimg_json_limits lim = {.max_depth = 3};
    CHECK_INT(parse_code("[[[1]]]", 7, &lim, NULL), 0);
    CHECK_INT(parse_code("[[[[1]]]]", 9, &lim, "nesting deeper than 3"), -OCI_ERR_TOO_LARGE);
    CHECK_INT(parse_code("{\"a\":{\"b\":{\"c\":{}}}}", 20, &lim, "deeper"), -OCI_ERR_TOO_LARGE);
}

static void test_accessors(void)
{
    json_object *o = NULL;
    const char *doc = "{\"s\":\"v\",\"i\":42,\"neg\":-7,\"f\":1.5,\"n\":null,\"b\":true,"
                      "\"big\":9223372036854775807,\"huge\":92233720368547758070}";
    CHECK_OK(oimg_json_parse(&o, doc, strlen(doc), NULL, T_ERR));
    if (!o)
        return;

    const char *s = "untouched";
    CHECK_OK(oimg_json_get_string(&s, o, "s", true, "thing", T_ERR));
    CHECK_STR(s, "v");
    s = "untouched";
    CHECK_OK(oimg_json_get_string(&s, o, "absent", false, "thing", T_ERR));
    CHECK_STR(s, "untouched");

    struct oci_error *e = NULL;
    CHECK_INT(oimg_json_get_string(&s, o, "absent", true, "thing", &e), -OCI_ERR_INVALID);
    CHECK(e && strstr(e->msg, "thing.absent"));
    oci_error_clear(&e);
    CHECK_INT(oimg_json_get_string(&s, o, "i", false, "thing", &e), -OCI_ERR_INVALID);
    CHECK(e && strstr(e->msg, "thing.i") && strstr(e->msg, "string"));
    oci_error_clear(&e);
    CHECK_INT(oimg_json_get_string(&s, o, "n", false, "thing", &e), -OCI_ERR_INVALID);
    oci_error_clear(&e);
    CHECK_STR(s, "untouched");

    int64_t i = 0;
    bool present = false;
    CHECK_OK(oimg_json_get_int64(&i, &present, o, "i", true, "thing", T_ERR));
    CHECK_INT(i, 42);
    CHECK(present);
    CHECK_OK(oimg_json_get_int64(&i, &present, o, "neg", true, "thing", T_ERR));
    CHECK_INT(i, -7);
    CHECK_OK(oimg_json_get_int64(&i, &present, o, "big", true, "thing", T_ERR));
    CHECK_INT(i, INT64_MAX);
    i = 5;
    CHECK_OK(oimg_json_get_int64(&i, &present, o, "absent", false, "thing", T_ERR));
    CHECK(!present);
    CHECK_INT(i, 5);
    CHECK_INT(oimg_json_get_int64(&i, NULL, o, "absent", true, "thing", &e), -OCI_ERR_INVALID);
    oci_error_clear(&e);
    CHECK_INT(oimg_json_get_int64(&i, NULL, o, "f", true, "thing", &e), -OCI_ERR_INVALID);
    CHECK(e && strstr(e->msg, "thing.f") && strstr(e->msg, "integer"));
    oci_error_clear(&e);
    CHECK_INT(oimg_json_get_int64(&i, NULL, o, "s", true, "thing", &e), -OCI_ERR_INVALID);
    oci_error_clear(&e);
    CHECK_INT(oimg_json_get_int64(&i, NULL, o, "huge", true, "thing", &e), -OCI_ERR_INVALID);
    oci_error_clear(&e);
    CHECK_INT(i, 5);

    /* not an object */
    json_object *arr = json_object_new_array();
    CHECK_INT(oimg_json_get_string(&s, arr, "s", false, "thing", &e), -OCI_ERR_INVALID);
    oci_error_clear(&e);
    json_object_put(arr);
    json_object_put(o);
}

static void test_read_file(void)
{
    char dir[] = "/tmp/oimg-json-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(dfd >= 0);

    int fd = openat(dfd, "small", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    CHECK_INT(write(fd, "{\"a\":1}", 7), 7);
    close(fd);
    char *buf = NULL;
    size_t len = 0;
    CHECK_OK(oimg_read_file_at(&buf, &len, dfd, "small", 100, T_ERR));
    CHECK_INT(len, 7);
    CHECK_STR(buf, "{\"a\":1}");
    free(buf);
    buf = NULL;
    CHECK_OK(oimg_read_file_at(&buf, &len, dfd, "small", 7, T_ERR));
    free(buf);
    buf = NULL;

    struct oci_error *e = NULL;
    CHECK_INT(oimg_read_file_at(&buf, &len, dfd, "small", 6, &e), -OCI_ERR_TOO_LARGE);
    CHECK(e && strstr(e->msg, "7 bytes") && strstr(e->msg, "6 bytes"));
    oci_error_clear(&e);

    /* a sparse 100 MB file is refused from its size alone */
    fd = openat(dfd, "big", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    CHECK_INT(ftruncate(fd, 100L * 1024 * 1024), 0);
    close(fd);
    CHECK_INT(oimg_read_file_at(&buf, &len, dfd, "big", OIMG_JSON_DEFAULT_MAX_SIZE, &e),
              -OCI_ERR_TOO_LARGE);
    CHECK(e && strstr(e->msg, "104857600"));
    oci_error_clear(&e);

    /* empty file */
    fd = openat(dfd, "empty", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    close(fd);
    CHECK_OK(oimg_read_file_at(&buf, &len, dfd, "empty", 10, T_ERR));
    CHECK_INT(len, 0);
    CHECK_STR(buf, "");
    free(buf);
    buf = NULL;

    CHECK_INT(oimg_read_file_at(&buf, &len, dfd, "missing", 10, &e), -OCI_ERR_NOT_FOUND);
    oci_error_clear(&e);
    CHECK_INT(symlinkat("small", dfd, "link"), 0);
    CHECK(oimg_read_file_at(&buf, &len, dfd, "link", 10, &e) < 0);
    oci_error_clear(&e);
    CHECK_INT(mkdirat(dfd, "sub", 0755), 0);
    CHECK_INT(oimg_read_file_at(&buf, &len, dfd, "sub", 10, &e), -OCI_ERR_INVALID);
    CHECK(e && strstr(e->msg, "not a regular file"));
    oci_error_clear(&e);
    CHECK(buf == NULL);

    /* a file that claims size 0 but has content (procfs) */
    _cleanup_close_ int procfd = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (procfd >= 0) {
        CHECK_OK(oimg_read_file_at(&buf, &len, procfd, "status", 1 << 20, T_ERR));
        CHECK(buf && len > 0 && strlen(buf) == len);
        free(buf);
        buf = NULL;
        CHECK_INT(oimg_read_file_at(&buf, &len, procfd, "status", 10, &e), -OCI_ERR_TOO_LARGE);
        oci_error_clear(&e);
    }

    unlinkat(dfd, "small", 0);
    unlinkat(dfd, "big", 0);
    unlinkat(dfd, "empty", 0);
    unlinkat(dfd, "link", 0);
    unlinkat(dfd, "sub", AT_REMOVEDIR);
    rmdir(dir);
}

int main(void)
{
    T_RUN(test_valid);
    T_RUN(test_strictness);
    T_RUN(test_size_cap);
    T_RUN(test_depth_cap);
    T_RUN(test_accessors);
    T_RUN(test_read_file);
    return t_done();
}
