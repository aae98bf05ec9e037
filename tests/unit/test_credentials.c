/* Credentials: --creds, auth files and docker's config.json in every key
 * form, credential helpers (run for real, as shell scripts in a temp $PATH),
 * precedence, login/logout writes, and that no error message ever carries a
 * secret. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/base64.h>
#include <ociimg/json.h>
#include <ociimg/registry.h>

#include "libregistry/registry_private.h"
#include "t.h"

static char tmp[256];
static char home[300], bin[300];

static void write_file(const char *path, const char *content, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    size_t n = strlen(content);
    CHECK(write(fd, content, n) == (ssize_t)n);
    close(fd);
    chmod(path, mode);
}

static char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *pathf(const char *fmt, ...)
{
    static char bufs[8][600];
    static int next;
    char *b = bufs[next++ % 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, 600, fmt, ap);
    va_end(ap);
    return b;
}

static char *b64(const char *s)
{
    static char bufs[16][512];
    static int next;
    char *e = oimg_base64_encode(s, strlen(s));
    char *b = bufs[next++ % 16];
    snprintf(b, 512, "%s", e ? e : "");
    free(e);
    return b;
}

static void helper(const char *name, const char *body)
{
    char *p = pathf("%s/docker-credential-%s", bin, name);
    char script[2048];
    snprintf(script, sizeof(script), "#!/bin/sh\n%s\n", body);
    write_file(p, script, 0755);
}

/* The docker config at $HOME/.docker/config.json. */
static void docker_config(const char *content)
{
    mkdir(pathf("%s/.docker", home), 0700);
    write_file(pathf("%s/.docker/config.json", home), content, 0600);
}

static void reset_env(void)
{
    setenv("HOME", home, 1);
    unsetenv("DOCKER_CONFIG");
    unsetenv("REGISTRY_AUTH_FILE");
    unlink(pathf("%s/.docker/config.json", home));
}

static struct oreg_creds *lookup(const char *registry, const char *repo,
                                 const struct oreg_creds_opts *opts)
{
    struct oreg_creds *c = NULL;
    struct oci_error *e = NULL;
    int r = oreg_creds_lookup(&c, registry, repo, opts, &e);
    if (r < 0) {
        fprintf(stderr, "  lookup %s: %s\n", registry, e ? e->msg : "?");
        CHECK(0);
    }
    CHECK(r == (c != NULL));
    oci_error_free(e);
    return c;
}

static void expect_creds(const char *registry, const char *repo, const struct oreg_creds_opts *opts,
                         const char *user, const char *pass, const char *idtok)
{
    struct oreg_creds *c = lookup(registry, repo, opts);
    CHECK(c != NULL);
    if (c) {
        if (user)
            CHECK_STR(c->username, user);
        else
            CHECK(c->username == NULL);
        if (pass)
            CHECK_STR(c->password, pass);
        else
            CHECK(c->password == NULL);
        if (idtok)
            CHECK_STR(c->identity_token, idtok);
        else
            CHECK(c->identity_token == NULL);
        CHECK(c->source != NULL);
    }
    oreg_creds_free(c);
}

static void expect_none(const char *registry, const char *repo, const struct oreg_creds_opts *opts)
{
    struct oreg_creds *c = lookup(registry, repo, opts);
    CHECK(c == NULL);
    oreg_creds_free(c);
}

/* A failing lookup whose message must not contain any of the secrets. */
static void expect_fail(const char *registry, const struct oreg_creds_opts *opts, int code,
                        const char *why, const char *const *secrets)
{
    struct oreg_creds *c = (struct oreg_creds *)0x1;
    struct oci_error *e = NULL;
    int r = oreg_creds_lookup(&c, registry, NULL, opts, &e);
    CHECK_INT(r, -code);
    CHECK(c == (struct oreg_creds *)0x1);
    CHECK(e != NULL);
    if (!e)
        return;
    if (why && !strstr(e->msg, why)) {
        fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", e->msg, why);
        CHECK(0);
    }
    for (const char *const *s = secrets; s && *s; s++) {
        if (strstr(e->msg, *s)) {
            fprintf(stderr, "  SECRET \"%s\" in message \"%s\"\n", *s, e->msg);
            CHECK(0);
        }
    }
    oci_error_free(e);
}

/* ---- tests ---- */

static void test_base64(void)
{
    static const char *const v[][2] = {{"", ""},
                                       {"f", "Zg=="},
                                       {"fo", "Zm8="},
                                       {"foo", "Zm9v"},
                                       {"foob", "Zm9vYg=="},
                                       {"fooba", "Zm9vYmE="},
                                       {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char *e = oimg_base64_encode(v[i][0], strlen(v[i][0]));
        CHECK_STR(e, v[i][1]);
        free(e);
        unsigned char *d = NULL;
        size_t n = 0;
        CHECK_INT(oimg_base64_decode(&d, &n, v[i][1], strlen(v[i][1]), OIMG_BASE64_LENIENT), 0);
        CHECK_INT(n, strlen(v[i][0]));
        if (d)
            CHECK_STR((char *)d, v[i][0]);
        free(d);
    }
    unsigned char *d = NULL;
    size_t n = 0;
    CHECK_INT(oimg_base64_decode(&d, &n, "Zm9vYg", 6, OIMG_BASE64_LENIENT),
              0); /* padding optional */
    if (d)
        CHECK_STR((char *)d, "foob");
    free(d);
    static const char *const bad[] = {"Z", "Zm9v!", "Zm=9", "Zg===", "Zm9vY", "====", "Zg=x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        d = NULL;
        CHECK(oimg_base64_decode(&d, &n, bad[i], strlen(bad[i]), OIMG_BASE64_LENIENT) < 0);
        CHECK(d == NULL);
    }
}

static void test_explicit(void)
{
    reset_env();
    docker_config("{\"auths\":{\"r.io\":{\"auth\":\"dTpw\"}}}");
    struct oreg_creds_opts o = {.creds = "me:pa:ss"};
    expect_creds("r.io", NULL, &o, "me", "pa:ss", NULL);
    o.creds = "me:";
    expect_creds("r.io", NULL, &o, "me", "", NULL);
    struct oreg_creds *c = NULL;
    CHECK_OK(oreg_creds_parse_userpass(&c, "a:b", T_ERR));
    if (c)
        CHECK_STR(c->source, "--creds");
    oreg_creds_free(c);
    oreg_creds_free(NULL);
}

static void test_auths_forms(void)
{
    reset_env();
    char cfg[4096];
    snprintf(cfg, sizeof(cfg),
             "{\"auths\":{"
             "\"https://index.docker.io/v1/\":{\"auth\":\"%s\"},"
             "\"https://registry.example.com/v2/\":{\"auth\":\"%s\"},"
             "\"http://localhost:5000\":{\"auth\":\"%s\"},"
             "\"plain.example\":{\"username\":\"pu\",\"password\":\"pp\"},"
             "\"tok.example\":{\"auth\":\"%s\",\"identitytoken\":\"IDT\"},"
             "\"empty.example\":{},"
             "\"ns.io/team/app\":{\"auth\":\"%s\"},"
             "\"ns.io/team\":{\"auth\":\"%s\"},"
             "\"ns.io\":{\"auth\":\"%s\"}"
             "}}",
             b64("hubu:hubp"), b64("ru:rp"), b64("lu:lp"), b64("tu:tp"), b64("a:1"), b64("t:2"),
             b64("h:3"));
    docker_config(cfg);
    expect_creds("docker.io", "library/alpine", NULL, "hubu", "hubp", NULL);
    expect_creds("index.docker.io", NULL, NULL, "hubu", "hubp", NULL);
    expect_creds("registry-1.docker.io", NULL, NULL, "hubu", "hubp", NULL);
    expect_creds("registry.example.com", NULL, NULL, "ru", "rp", NULL);
    expect_creds("localhost:5000", NULL, NULL, "lu", "lp", NULL);
    expect_creds("plain.example", NULL, NULL, "pu", "pp", NULL);
    expect_creds("tok.example", NULL, NULL, "tu", NULL, "IDT");
    expect_none("empty.example", NULL, NULL);
    expect_none("unknown.example", NULL, NULL);
    expect_none("localhost", NULL, NULL);
    expect_creds("ns.io", "team/app", NULL, "a", "1", NULL);
    expect_creds("ns.io", "team/app/sub", NULL, "a", "1", NULL);
    expect_creds("ns.io", "team/other", NULL, "t", "2", NULL);
    expect_creds("ns.io", "other", NULL, "h", "3", NULL);
    expect_creds("ns.io", NULL, NULL, "h", "3", NULL);

    /* Docker Hub under its other key spellings. */
    snprintf(cfg, sizeof(cfg), "{\"auths\":{\"index.docker.io\":{\"auth\":\"%s\"}}}", b64("x:y"));
    docker_config(cfg);
    expect_creds("docker.io", NULL, NULL, "x", "y", NULL);
    snprintf(cfg, sizeof(cfg), "{\"auths\":{\"docker.io\":{\"auth\":\"%s\"}}}", b64("x2:y2"));
    docker_config(cfg);
    expect_creds("docker.io", NULL, NULL, "x2", "y2", NULL);

    /* An exact key wins over one that only normalises to the host. */
    snprintf(cfg, sizeof(cfg),
             "{\"auths\":{\"https://r.io/v2/\":{\"auth\":\"%s\"},\"r.io\":{\"auth\":\"%s\"}}}",
             b64("norm:1"), b64("exact:2"));
    docker_config(cfg);
    expect_creds("r.io", NULL, NULL, "exact", "2", NULL);

    /* No file, no entry: anonymous. */
    reset_env();
    expect_none("r.io", NULL, NULL);
    docker_config("{}");
    expect_none("r.io", NULL, NULL);
}

static void test_precedence(void)
{
    reset_env();
    char cfg[1024];
    snprintf(cfg, sizeof(cfg),
             "{\"auths\":{\"r.io\":{\"auth\":\"%s\"},\"d.io\":{\"auth\":\"%s\"}}}", b64("docker:1"),
             b64("docker:2"));
    docker_config(cfg);
    char *af = pathf("%s/auth.json", tmp);
    snprintf(cfg, sizeof(cfg), "{\"auths\":{\"r.io\":{\"auth\":\"%s\"}}}", b64("authfile:1"));
    write_file(af, cfg, 0600);

    expect_creds("r.io", NULL, NULL, "docker", "1", NULL);
    struct oreg_creds_opts o = {.authfile = af};
    expect_creds("r.io", NULL, &o, "authfile", "1", NULL);
    /* Not in the auth file: on to docker's config. */
    expect_creds("d.io", NULL, &o, "docker", "2", NULL);
    o.creds = "cli:0";
    expect_creds("r.io", NULL, &o, "cli", "0", NULL);

    setenv("REGISTRY_AUTH_FILE", af, 1);
    expect_creds("r.io", NULL, NULL, "authfile", "1", NULL);
    /* A missing $REGISTRY_AUTH_FILE is skipped, a missing --authfile is not. */
    setenv("REGISTRY_AUTH_FILE", pathf("%s/nope.json", tmp), 1);
    expect_creds("r.io", NULL, NULL, "docker", "1", NULL);
    struct oreg_creds_opts missing = {.authfile = pathf("%s/nope.json", tmp)};
    expect_fail("r.io", &missing, OCI_ERR_NOT_FOUND, "nope.json", NULL);
    unsetenv("REGISTRY_AUTH_FILE");

    /* $DOCKER_CONFIG replaces ~/.docker. */
    char *dc = pathf("%s/dockercfg", tmp);
    mkdir(dc, 0700);
    snprintf(cfg, sizeof(cfg), "{\"auths\":{\"r.io\":{\"auth\":\"%s\"}}}", b64("dc:1"));
    write_file(pathf("%s/config.json", dc), cfg, 0600);
    setenv("DOCKER_CONFIG", dc, 1);
    expect_creds("r.io", NULL, NULL, "dc", "1", NULL);
    expect_none("d.io", NULL, NULL);
    unsetenv("DOCKER_CONFIG");

    /* The file login/logout write. */
    char *p = NULL;
    CHECK_OK(oreg_authfile_path(&p, &o, T_ERR));
    CHECK_STR(p, af);
    free(p);
    CHECK_OK(oreg_authfile_path(&p, NULL, T_ERR));
    CHECK_STR(p, pathf("%s/.docker/config.json", home));
    free(p);
    setenv("DOCKER_CONFIG", dc, 1);
    CHECK_OK(oreg_authfile_path(&p, NULL, T_ERR));
    CHECK_STR(p, pathf("%s/config.json", dc));
    free(p);
    setenv("REGISTRY_AUTH_FILE", af, 1);
    CHECK_OK(oreg_authfile_path(&p, NULL, T_ERR));
    CHECK_STR(p, af);
    free(p);
    reset_env();
}

static char *read_text(const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    struct oci_error *e = NULL;
    if (oimg_read_file_at(&buf, &len, AT_FDCWD, path, 1 << 20, &e) < 0) {
        fprintf(stderr, "  read %s: %s\n", path, e ? e->msg : "?");
        oci_error_free(e);
        return NULL;
    }
    return buf;
}

static void test_helpers(void)
{
    reset_env();
    helper("good",
           "[ \"$1\" = get ] || exit 2\n"
           "key=$(cat)\n"
           "printf %s \"$key\" > \"$(dirname \"$0\")/last-key\"\n"
           "case \"$key\" in\n"
           "https://index.docker.io/v1/) echo '{\"ServerURL\":\"h\",\"Username\":\"hubuser\","
           "\"Secret\":\"hubpass\"}';;\n"
           "tok.example) echo "
           "'{\"ServerURL\":\"t\",\"Username\":\"<token>\",\"Secret\":\"IDTOK\"}';;\n"
           "r.io) echo '{\"ServerURL\":\"r.io\",\"Username\":\"ru\",\"Secret\":\"rp\"}';;\n"
           "*) echo 'credentials not found in native keychain'; exit 1;;\n"
           "esac");
    helper("other", "cat >/dev/null; echo '{\"Username\":\"store\",\"Secret\":\"sp\"}'");
    helper("empty",
           "cat >/dev/null; echo '{\"ServerURL\":\"\",\"Username\":\"\",\"Secret\":\"\"}'");

    char cfg[1024];
    snprintf(cfg, sizeof(cfg),
             "{\"credsStore\":\"good\",\"auths\":{\"fallback.io\":{\"auth\":\"%s\"}}}",
             b64("fb:1"));
    docker_config(cfg);
    expect_creds("docker.io", NULL, NULL, "hubuser", "hubpass", NULL);
    char *k = read_text(pathf("%s/last-key", bin));
    CHECK_STR(k, "https://index.docker.io/v1/");
    free(k);
    expect_creds("tok.example", NULL, NULL, NULL, NULL, "IDTOK");
    k = read_text(pathf("%s/last-key", bin));
    CHECK_STR(k, "tok.example");
    free(k);
    /* The store has nothing: auths is next. */
    expect_creds("fallback.io", NULL, NULL, "fb", "1", NULL);
    expect_none("nothing.io", NULL, NULL);

    /* credHelpers[host] comes before credsStore; keys normalise. */
    snprintf(cfg, sizeof(cfg),
             "{\"credsStore\":\"other\",\"credHelpers\":{\"index.docker.io\":\"good\","
             "\"https://r.io/v2/\":\"good\",\"e.io\":\"empty\"},"
             "\"auths\":{\"e.io\":{\"auth\":\"%s\"}}}",
             b64("eu:ep"));
    docker_config(cfg);
    expect_creds("docker.io", NULL, NULL, "hubuser", "hubpass", NULL);
    expect_creds("r.io", NULL, NULL, "ru", "rp", NULL);
    expect_creds("x.io", NULL, NULL, "store", "sp", NULL);
    /* An empty answer is "not found": the store answers next. */
    expect_creds("e.io", NULL, NULL, "store", "sp", NULL);
    struct oreg_creds *c = lookup("r.io", NULL, NULL);
    if (c)
        CHECK(strstr(c->source, "docker-credential-good") != NULL);
    oreg_creds_free(c);
}

static void test_helper_errors(void)
{
    reset_env();
    static const char *const secrets[] = {"LEAKME", NULL};
    helper("slow", "exec sleep 10");
    helper("big", "head -c 100000 /dev/zero | tr '\\0' L");
    helper("failjson",
           "cat >/dev/null; echo '{\"Username\":\"u\",\"Secret\":\"LEAKME1\"}'; exit 3");
    helper("failtext", "cat >/dev/null; echo 'gpg: decryption failed'; exit 1");
    helper("stderr", "cat >/dev/null; echo 'helper broke' >&2; exit 4");
    helper("badjson", "cat >/dev/null; echo 'LEAKME2 is not json'");
    helper("badtype", "cat >/dev/null; echo '{\"Username\":\"LEAKME3\",\"Secret\":[\"LEAKME3\"]}'");
    helper("crash", "kill -9 $$");
    helper("noread", "echo '{\"Username\":\"n\",\"Secret\":\"LEAKME4\"'; exit 0");
    struct oreg_creds_opts o = {.helper_timeout_ms = 300};

    docker_config("{\"credsStore\":\"slow\"}");
    expect_fail("r.io", &o, OCI_ERR_IO, "did not finish", secrets);
    docker_config("{\"credsStore\":\"big\"}");
    expect_fail("r.io", &o, OCI_ERR_TOO_LARGE, "more than", secrets);
    docker_config("{\"credsStore\":\"failjson\"}");
    expect_fail("r.io", &o, OCI_ERR_AUTH, "exit status 3", secrets);
    docker_config("{\"credsStore\":\"failtext\"}");
    expect_fail("r.io", &o, OCI_ERR_AUTH, "gpg: decryption failed", secrets);
    docker_config("{\"credsStore\":\"stderr\"}");
    expect_fail("r.io", &o, OCI_ERR_AUTH, "helper broke", secrets);
    docker_config("{\"credsStore\":\"badjson\"}");
    expect_fail("r.io", &o, OCI_ERR_INVALID, "docker-credential-badjson", secrets);
    docker_config("{\"credsStore\":\"badtype\"}");
    expect_fail("r.io", &o, OCI_ERR_INVALID, "Secret", secrets);
    docker_config("{\"credsStore\":\"crash\"}");
    expect_fail("r.io", &o, OCI_ERR_AUTH, "signal 9", secrets);
    docker_config("{\"credsStore\":\"noread\"}");
    expect_fail("r.io", &o, OCI_ERR_INVALID, "docker-credential-noread", secrets);
    docker_config("{\"credsStore\":\"missing\"}");
    expect_fail("r.io", &o, OCI_ERR_NOT_FOUND, "docker-credential-missing not found", secrets);
    docker_config("{\"credsStore\":\"../../bin/sh\"}");
    expect_fail("r.io", &o, OCI_ERR_INVALID, "invalid credential helper name", secrets);
    docker_config("{\"credHelpers\":{\"r.io\":\"\"}}");
    expect_fail("r.io", &o, OCI_ERR_INVALID, "credHelpers", secrets);

    /* A relative or empty $PATH entry is never searched. */
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
    const char *old_path = getenv("PATH");
    char *saved = old_path ? strdup(old_path) : NULL;
    CHECK(chdir(bin) == 0);
    setenv("PATH", ":.:/usr/bin:/bin", 1);
    docker_config("{\"credsStore\":\"failtext\"}");
    expect_fail("r.io", &o, OCI_ERR_NOT_FOUND, "not found in $PATH", secrets);
    CHECK(chdir(cwd) == 0);
    if (saved)
        setenv("PATH", saved, 1);
    free(saved);
}

static void test_secrets_never_in_errors(void)
{
    reset_env();
    static const char *const secrets[] = {"SECRET", "U0VDUkVU", NULL}; /* and its base64 */
    char cfg[1024];

    struct oreg_creds_opts o = {.creds = "nocolonSECRET1"};
    expect_fail("r.io", &o, OCI_ERR_INVALID, "--creds", secrets);
    o.creds = ":SECRET2";
    expect_fail("r.io", &o, OCI_ERR_INVALID, "--creds", secrets);

    docker_config("{\"auths\":{\"r.io\":{\"auth\":\"SECRET3!!!\"}}}");
    expect_fail("r.io", NULL, OCI_ERR_INVALID, "not valid base64", secrets);
    snprintf(cfg, sizeof(cfg), "{\"auths\":{\"r.io\":{\"auth\":\"%s\"}}}", b64("SECRET4"));
    docker_config(cfg);
    expect_fail("r.io", NULL, OCI_ERR_INVALID, "user:password", secrets);
    docker_config("{\"auths\":{\"r.io\":{\"auth\":[\"SECRET5\"]}}}");
    expect_fail("r.io", NULL, OCI_ERR_INVALID, "auth", secrets);
    docker_config("{\"auths\":{\"r.io\":{\"username\":\"u\",\"password\":{\"x\":\"SECRET6\"}}}}");
    expect_fail("r.io", NULL, OCI_ERR_INVALID, "password", secrets);
    docker_config("{\"auths\":{\"r.io\":{\"auth\":\"SECRET7\"");
    expect_fail("r.io", NULL, OCI_ERR_INVALID, "config.json", secrets);
    docker_config("{\"auths\":\"SECRET8\"}");
    expect_fail("r.io", NULL, OCI_ERR_INVALID, "auths must be an object", secrets);
    docker_config("{\"credHelpers\":{\"r.io\":[\"SECRET9\"]}}");
    expect_fail("r.io", NULL, OCI_ERR_INVALID, "credHelpers", secrets);
    docker_config("{\"auths\":{\"r.io\":\"SECRET10\"}}");
    expect_fail("r.io", NULL, OCI_ERR_INVALID, "must be an object", secrets);
    docker_config("{\"auths\":{\"r.io\":{\"identitytoken\":12}},\"x\":\"SECRET11\"}");
    expect_fail("r.io", NULL, OCI_ERR_INVALID, "identitytoken", secrets);
    docker_config("[\"SECRET12\"]");
    expect_fail("r.io", NULL, OCI_ERR_INVALID, "not a JSON object", secrets);
    docker_config("{\"auths\":{\"r.io\":{\"auth\":\"U0VDUkVUAHg6cA==\"}}}"); /* "SECRET\0x:p" */
    expect_fail("r.io", NULL, OCI_ERR_INVALID, "user:password", secrets);

    /* Store errors. */
    struct oci_error *e = NULL;
    CHECK(oreg_authfile_store(pathf("%s/s.json", tmp), "r.io", "bad:userSECRET", "SECRET13", &e) <
          0);
    CHECK(e && !strstr(e->msg, "SECRET"));
    oci_error_free(e);
    e = NULL;
    CHECK(oreg_authfile_store(pathf("%s/s.json", tmp), "bad_host", "u", "SECRET14", &e) < 0);
    CHECK(e && !strstr(e->msg, "SECRET"));
    oci_error_free(e);
    e = NULL;
    write_file(pathf("%s/s.json", tmp), "{\"auths\":{\"r.io\":{\"auth\":\"SECRET15\"", 0600);
    CHECK(oreg_authfile_store(pathf("%s/s.json", tmp), "r.io", "u", "SECRET16", &e) < 0);
    CHECK(e && !strstr(e->msg, "SECRET"));
    oci_error_free(e);
}

static json_object *read_json(const char *path)
{
    char *buf = read_text(path);
    json_object *o = NULL;
    if (buf)
        CHECK_OK(oimg_json_parse(&o, buf, strlen(buf), NULL, T_ERR));
    free(buf);
    return o;
}

static const char *jpath(json_object *o, const char *a, const char *b, const char *c)
{
    const char *keys[] = {a, b, c};
    for (int i = 0; i < 3 && keys[i] && o; i++)
        if (!json_object_object_get_ex(o, keys[i], &o))
            return NULL;
    return o && json_object_is_type(o, json_type_string) ? json_object_get_string(o) : NULL;
}

static int erase(const char *path, const char *registry)
{
    struct oci_error *e = NULL;
    int r = oreg_authfile_erase(path, registry, &e);
    if (r < 0)
        fprintf(stderr, "  erase %s: %s\n", registry, e ? e->msg : "?");
    oci_error_free(e);
    return r;
}

static void test_login_logout(void)
{
    reset_env();
    /* Creates missing directories and the file, mode 0600. */
    char *p = pathf("%s/new/sub/config.json", tmp);
    CHECK_OK(oreg_authfile_store(p, "reg.example.com", "u", "p:with:colons", T_ERR));
    struct stat st;
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600);
    json_object *o = read_json(p);
    CHECK_STR(jpath(o, "auths", "reg.example.com", "auth"), b64("u:p:with:colons"));
    json_object_put(o);
    struct oreg_creds_opts opts = {.authfile = p};
    expect_creds("reg.example.com", NULL, &opts, "u", "p:with:colons", NULL);

    /* Every other key is preserved; Docker Hub goes under its v1 URL. */
    p = pathf("%s/keep.json", tmp);
    write_file(p,
               "{\"credsStore\":\"x\",\"proxies\":{\"default\":{\"httpProxy\":\"http://h:3128\"}},"
               "\"auths\":{\"other.io\":{\"auth\":\"b3RoZXI6cA==\",\"email\":\"e@x\"}},"
               "\"experimental\":\"enabled\",\"n\":[1,2.5,true,null]}",
               0644);
    CHECK_OK(oreg_authfile_store(p, "https://index.docker.io/v1/", "hub", "pw", T_ERR));
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600);
    o = read_json(p);
    CHECK_STR(jpath(o, "auths", "https://index.docker.io/v1/", "auth"), b64("hub:pw"));
    CHECK_STR(jpath(o, "auths", "other.io", "auth"), "b3RoZXI6cA==");
    CHECK_STR(jpath(o, "auths", "other.io", "email"), "e@x");
    CHECK_STR(jpath(o, "credsStore", NULL, NULL), "x");
    CHECK_STR(jpath(o, "proxies", "default", "httpProxy"), "http://h:3128");
    CHECK_STR(jpath(o, "experimental", NULL, NULL), "enabled");
    json_object *n = NULL;
    CHECK(o && json_object_object_get_ex(o, "n", &n) && json_object_array_length(n) == 4);
    json_object_put(o);

    /* Replacing an entry. */
    CHECK_OK(oreg_authfile_store(p, "docker.io", "hub2", "pw2", T_ERR));
    o = read_json(p);
    CHECK_STR(jpath(o, "auths", "https://index.docker.io/v1/", "auth"), b64("hub2:pw2"));
    json_object_put(o);

    /* Logout removes every key spelling of the host, nothing else. */
    p = pathf("%s/logout.json", tmp);
    write_file(p,
               "{\"auths\":{\"reg.example.com\":{\"auth\":\"YTpi\"},"
               "\"https://reg.example.com/v2/\":{\"auth\":\"YTpi\"},"
               "\"http://reg.example.com\":{\"auth\":\"YTpi\"},"
               "\"reg.example.com/team\":{\"auth\":\"YTpi\"},"
               "\"other.io\":{\"auth\":\"YTpi\"}},\"credsStore\":\"x\"}",
               0600);
    CHECK_INT(erase(p, "reg.example.com"), 3);
    o = read_json(p);
    json_object *auths = NULL;
    CHECK(o && json_object_object_get_ex(o, "auths", &auths));
    CHECK_INT(json_object_object_length(auths), 2);
    CHECK_STR(jpath(o, "auths", "other.io", "auth"), "YTpi");
    CHECK_STR(jpath(o, "credsStore", NULL, NULL), "x");
    json_object_put(o);
    CHECK_INT(erase(p, "reg.example.com"), 0);
    CHECK_INT(erase(pathf("%s/none.json", tmp), "r.io"), 0);
    CHECK_INT(erase(pathf("%s/nodir/none.json", tmp), "r.io"), 0);
    write_file(p,
               "{\"auths\":{\"index.docker.io\":{\"auth\":\"YTpi\"},"
               "\"https://index.docker.io/v1/\":{\"auth\":\"YTpi\"}}}",
               0600);
    CHECK_INT(erase(p, "docker.io"), 2);

    /* A symlinked config file stays a symlink; its target is updated. */
    char *target = pathf("%s/real.json", tmp), *lnk = pathf("%s/link.json", tmp);
    write_file(target, "{}", 0600);
    CHECK(symlink(target, lnk) == 0);
    CHECK_OK(oreg_authfile_store(lnk, "r.io", "s", "l", T_ERR));
    CHECK(lstat(lnk, &st) == 0 && S_ISLNK(st.st_mode));
    o = read_json(target);
    CHECK_STR(jpath(o, "auths", "r.io", "auth"), b64("s:l"));
    json_object_put(o);

    /* A file that is not JSON is left alone. */
    p = pathf("%s/broken.json", tmp);
    write_file(p, "not json", 0600);
    struct oci_error *e = NULL;
    CHECK(oreg_authfile_store(p, "r.io", "u", "p", &e) < 0);
    oci_error_free(e);
    char *txt = read_text(p);
    CHECK_STR(txt, "not json");
    free(txt);
}

static void cleanup_tmp(void)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
}

int main(void)
{
    snprintf(tmp, sizeof(tmp), "%s/ociimg-creds-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(home, sizeof(home), "%s/home", tmp);
    snprintf(bin, sizeof(bin), "%s/bin", tmp);
    mkdir(home, 0700);
    mkdir(bin, 0700);
    char path[1024];
    snprintf(path, sizeof(path), "%s:/usr/bin:/bin", bin);
    setenv("PATH", path, 1);

    T_RUN(test_base64);
    T_RUN(test_explicit);
    T_RUN(test_auths_forms);
    T_RUN(test_precedence);
    T_RUN(test_helpers);
    T_RUN(test_helper_errors);
    T_RUN(test_secrets_never_in_errors);
    T_RUN(test_login_logout);
    cleanup_tmp();
    return t_done();
}
