/* The converter, rule by rule (image-spec conversion.md and our Linux
 * defaults), and the result validated against the runtime-spec schema when
 * ../shared is there. */
#include <fcntl.h>
#include <sys/stat.h>

#include <ociimg/bundle.h>
#include <ociimg/cleanup.h>
#include <ociimg/json.h>

#include "bundle_t.h"

static char *top;
static int rootfd = -1;
static struct bt_warnings warnings;

#define BASE                                                                                       \
    "\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}"

static void setup(void)
{
    top = bt_tmpdir("bundle-convert");
    char *r = bt_fmt("%s/rootfs", top);
    mkdir(r, 0755);
    bt_write(r, "etc/passwd",
             "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n");
    bt_write(r, "etc/group", "root:x:0:\napp:x:1000:\nstaff:x:50:app\n");
    char *d = bt_fmt("%s/data", r);
    mkdir(d, 0750);
    chmod(d, 02750);
    if (chown(d, 1000, 50) < 0 && geteuid() == 0)
        CHECK(0);
    free(d);
    rootfd = open(r, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(r);
}

/* Converts config JSON (the fields after BASE) with opts; exits on error. */
static json_object *conv_opts(const char *fields, const struct oimg_bundle_opts *o)
{
    char *js = bt_fmt("{" BASE "%s%s}", *fields ? "," : "", fields);
    struct oimg_image_config *c = bt_config(js);
    json_object *out = NULL;
    struct oci_error *e = NULL;
    bt_warnings_clear(&warnings);
    struct oimg_bundle_opts def;
    oimg_bundle_opts_init(&def);
    if (!o)
        o = &def;
    struct oimg_bundle_opts oo = *o;
    oo.warn = bt_warn;
    oo.warn_ctx = &warnings;
    if (oimg_bundle_config(&out, c, rootfd, &oo, &e) < 0) {
        fprintf(stderr, "convert %s: %s\n", js, e ? e->msg : "?");
        exit(1);
    }
    oci_error_free(e);
    oimg_config_free(c);
    free(js);
    return out;
}

static json_object *conv(const char *fields)
{
    return conv_opts(fields, NULL);
}

/* The value at a path like "process.user.uid" or "process.args.1". */
static json_object *at(json_object *o, const char *path)
{
    char *p = strdup(path), *save = NULL;
    for (char *k = strtok_r(p, ".", &save); k && o; k = strtok_r(NULL, ".", &save)) {
        if (json_object_is_type(o, json_type_array)) {
            o = json_object_array_get_idx(o, (size_t)atoi(k));
        } else {
            json_object *n = NULL;
            o = json_object_object_get_ex(o, k, &n) ? n : NULL;
        }
    }
    free(p);
    return o;
}

static const char *str_at(json_object *o, const char *path)
{
    json_object *v = at(o, path);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static long long int_at(json_object *o, const char *path)
{
    json_object *v = at(o, path);
    return v ? json_object_get_int64(v) : -12345;
}

static size_t len_at(json_object *o, const char *path)
{
    json_object *v = at(o, path);
    return v && json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 9999;
}

/* The array at path joined with '|'. */
static char *join_at(json_object *o, const char *path)
{
    json_object *v = at(o, path);
    char *s = strdup("");
    for (size_t i = 0; v && i < json_object_array_length(v); i++) {
        json_object *x = json_object_array_get_idx(v, i);
        char *n = bt_fmt("%s%s%s", s, i ? "|" : "",
                         json_object_is_type(x, json_type_string) ? json_object_get_string(x)
                                                                  : json_object_to_json_string(x));
        free(s);
        s = n;
    }
    return s;
}

#define CHECK_JOIN(o, path, want)                                                                  \
    do {                                                                                           \
        char *_j = join_at(o, path);                                                               \
        CHECK_STR(_j, want);                                                                       \
        free(_j);                                                                                  \
    } while (0)

static json_object *find_mount(json_object *o, const char *dest)
{
    json_object *m = at(o, "mounts");
    for (size_t i = 0; m && i < json_object_array_length(m); i++) {
        json_object *x = json_object_array_get_idx(m, i);
        const char *d = str_at(x, "destination");
        if (d && strcmp(d, dest) == 0)
            return x;
    }
    return NULL;
}

static bool has_ns(json_object *o, const char *type)
{
    json_object *n = at(o, "linux.namespaces");
    for (size_t i = 0; n && i < json_object_array_length(n); i++)
        if (strcmp(str_at(json_object_array_get_idx(n, i), "type"), type) == 0)
            return true;
    return false;
}

static void test_args(void)
{
    json_object *o =
        conv("\"config\":{\"Entrypoint\":[\"/bin/app\",\"-v\"],\"Cmd\":[\"x\",\"y\"]}");
    CHECK_JOIN(o, "process.args", "/bin/app|-v|x|y");
    json_object_put(o);
    o = conv("\"config\":{\"Entrypoint\":[\"/bin/app\"]}");
    CHECK_JOIN(o, "process.args", "/bin/app");
    json_object_put(o);
    o = conv("\"config\":{\"Cmd\":[\"sh\",\"-c\",\"echo hi\"]}");
    CHECK_JOIN(o, "process.args", "sh|-c|echo hi");
    json_object_put(o);
    o = conv("\"config\":{\"Entrypoint\":[],\"Cmd\":[\"only\"]}");
    CHECK_JOIN(o, "process.args", "only");
    json_object_put(o);
    /* neither: what `runc spec` and umoci leave, with a warning */
    o = conv("\"config\":{}");
    CHECK_JOIN(o, "process.args", "sh");
    CHECK(bt_warned(&warnings, "neither Entrypoint nor Cmd"));
    json_object_put(o);
    o = conv("");
    CHECK_JOIN(o, "process.args", "sh");
    json_object_put(o);
}

static void test_env(void)
{
    /* verbatim, in order; PATH and HOME added only when absent */
    json_object *o = conv("\"config\":{\"Env\":[\"A=1\",\"B=x=y\",\"EMPTY=\"],\"Cmd\":[\"x\"]}");
    CHECK_JOIN(o, "process.env", "A=1|B=x=y|EMPTY=|" OIMG_BUNDLE_DEFAULT_PATH "|HOME=/root");
    json_object_put(o);
    o = conv("\"config\":{\"Env\":[\"PATH=/mine\",\"HOME=/h\"],\"User\":\"app\"}");
    CHECK_JOIN(o, "process.env", "PATH=/mine|HOME=/h");
    json_object_put(o);
    /* HOME of the user's passwd entry */
    o = conv("\"config\":{\"Env\":[\"PATH=/p\"],\"User\":\"app\"}");
    CHECK_JOIN(o, "process.env", "PATH=/p|HOME=/home/app");
    json_object_put(o);
    /* no entry: "/" */
    o = conv("\"config\":{\"Env\":[\"PATH=/p\"],\"User\":\"4242\"}");
    CHECK_JOIN(o, "process.env", "PATH=/p|HOME=/");
    json_object_put(o);
    /* a variable whose name merely starts like PATH is not PATH */
    o = conv("\"config\":{\"Env\":[\"PATHX=1\",\"HOMEDIR=2\"]}");
    CHECK_JOIN(o, "process.env", "PATHX=1|HOMEDIR=2|" OIMG_BUNDLE_DEFAULT_PATH "|HOME=/root");
    json_object_put(o);
}

static void test_cwd(void)
{
    json_object *o = conv("\"config\":{}");
    CHECK_STR(str_at(o, "process.cwd"), "/");
    json_object_put(o);
    o = conv("\"config\":{\"WorkingDir\":\"/srv/app\"}");
    CHECK_STR(str_at(o, "process.cwd"), "/srv/app");
    json_object_put(o);
    o = conv("\"config\":{\"WorkingDir\":\"\"}");
    CHECK_STR(str_at(o, "process.cwd"), "/");
    json_object_put(o);
    o = conv("\"config\":{\"WorkingDir\":\"rel/dir\"}");
    CHECK_STR(str_at(o, "process.cwd"), "/rel/dir");
    CHECK(bt_warned(&warnings, "relative"));
    json_object_put(o);
}

static void test_user(void)
{
    json_object *o = conv("\"config\":{\"User\":\"app\"}");
    CHECK_INT(int_at(o, "process.user.uid"), 1000);
    CHECK_INT(int_at(o, "process.user.gid"), 1000);
    CHECK_JOIN(o, "process.user.additionalGids", "50");
    /* non-root: no effective or permitted capabilities, bounding kept */
    CHECK_INT(len_at(o, "process.capabilities.effective"), 0);
    CHECK_INT(len_at(o, "process.capabilities.permitted"), 0);
    CHECK_INT(len_at(o, "process.capabilities.bounding"), 14);
    json_object_put(o);
    o = conv("\"config\":{\"User\":\"app:root\"}");
    CHECK_INT(int_at(o, "process.user.gid"), 0);
    CHECK(at(o, "process.user.additionalGids") == NULL);
    json_object_put(o);

    /* errors name the user and stop the conversion */
    const char *bad[] = {"nobody", "app:nogroup", "4294967296", "1:99999999999"};
    for (size_t i = 0; i < OCI_ARRAY_SIZE(bad); i++) {
        char *js = bt_fmt("{" BASE ",\"config\":{\"User\":\"%s\"}}", bad[i]);
        struct oimg_image_config *c = bt_config(js);
        json_object *out = NULL;
        struct oci_error *e = NULL;
        CHECK(oimg_bundle_config(&out, c, rootfd, NULL, &e) < 0);
        CHECK(out == NULL);
        CHECK(bt_err_has(e, "Config.User"));
        oci_error_free(e);
        oimg_config_free(c);
        free(js);
    }
}

static void test_annotations(void)
{
    json_object *o =
        conv("\"variant\":\"v2\",\"os.version\":\"10.0\",\"os.features\":[\"a\",\"b\"],"
             "\"author\":\"me\",\"created\":\"2024-01-02T03:04:05Z\","
             "\"config\":{\"StopSignal\":\"SIGTERM\","
             "\"ExposedPorts\":{\"8080/tcp\":{},\"53/udp\":{},\"443/tcp\":{}}}");
    json_object *a = at(o, "annotations");
    json_object *v = NULL;
#define ANN(k, want)                                                                               \
    do {                                                                                           \
        v = NULL;                                                                                  \
        json_object_object_get_ex(a, "org.opencontainers.image." k, &v);                           \
        CHECK_STR(v ? json_object_get_string(v) : NULL, want);                                     \
    } while (0)
#define NO_ANN(k) CHECK(!json_object_object_get_ex(a, "org.opencontainers.image." k, NULL))
    ANN("os", "linux");
    ANN("architecture", "amd64");
    ANN("variant", "v2");
    ANN("os.version", "10.0");
    ANN("os.features", "a,b");
    ANN("author", "me");
    ANN("created", "2024-01-02T03:04:05Z");
    ANN("stopSignal", "SIGTERM");
    ANN("exposedPorts", "443/tcp,53/udp,8080/tcp");
    json_object_put(o);

    /* Labels win; absent fields give no annotation; unsafe labels dropped */
    o = conv("\"config\":{\"Labels\":{\"org.opencontainers.image.os\":\"plan9\",\"x\":\"1\","
             "\"org.opencontainers.image.stopSignal\":\"SIGKILL\",\"run.oci.handler\":\"krun\","
             "\"org.criu.config\":\"/etc/evil\"},\"StopSignal\":\"SIGINT\"}");
    a = at(o, "annotations");
    ANN("os", "plan9");
    ANN("architecture", "amd64");
    ANN("stopSignal", "SIGKILL");
    NO_ANN("author");
    NO_ANN("created");
    NO_ANN("variant");
    NO_ANN("exposedPorts");
    v = NULL;
    json_object_object_get_ex(a, "x", &v);
    CHECK_STR(v ? json_object_get_string(v) : NULL, "1");
    CHECK(!json_object_object_get_ex(a, "run.oci.handler", NULL));
    CHECK(!json_object_object_get_ex(a, "org.criu.config", NULL));
    CHECK(bt_warned(&warnings, "run.oci.handler"));
    CHECK(bt_warned(&warnings, "org.criu.config"));
#undef ANN
#undef NO_ANN
    json_object_put(o);
}

static void test_volumes(void)
{
    json_object *o = conv("\"config\":{\"Volumes\":{\"/var/lib/db\":{},\"/data\":{},"
                          "\"/data/../etc\":{},\"/proc/x\":{},\"/dev/shm\":{},\"rel\":{},"
                          "\"//cache/./x/\":{},\"/\":{}}}");
    json_object *m = find_mount(o, "/var/lib/db");
    CHECK(m != NULL);
    CHECK_STR(str_at(m, "type"), "tmpfs");
    CHECK_JOIN(m, "options", "nosuid|nodev|mode=755"); /* not in the rootfs */
    m = find_mount(o, "/data");
    CHECK(m != NULL);
    if (geteuid() == 0)
        CHECK_JOIN(m, "options", "nosuid|nodev|mode=2750|uid=1000|gid=50");
    CHECK(find_mount(o, "/rel") != NULL);
    CHECK(bt_warned(&warnings, "relative"));
    CHECK(find_mount(o, "/cache/x") != NULL);
    CHECK(bt_warned(&warnings, "`/data/../etc` left out"));
    CHECK(bt_warned(&warnings, "`/proc/x` left out"));
    CHECK(bt_warned(&warnings, "`/dev/shm` left out"));
    CHECK(bt_warned(&warnings, "`/` left out"));
    /* the default /dev/shm stays, once */
    size_t shm = 0, n = len_at(o, "mounts");
    for (size_t i = 0; i < n; i++)
        shm += strcmp(str_at(json_object_array_get_idx(at(o, "mounts"), i), "destination"),
                      "/dev/shm") == 0;
    CHECK_INT(shm, 1);
    /* sorted after the defaults: parents before children */
    CHECK_STR(str_at(o, "mounts.7.destination"), "/cache/x");
    CHECK_STR(str_at(o, "mounts.8.destination"), "/data");
    json_object_put(o);
}

static void test_linux_defaults(void)
{
    json_object *o = conv("\"config\":{\"Cmd\":[\"x\"]}");
    CHECK_STR(str_at(o, "ociVersion"), OIMG_BUNDLE_OCI_VERSION);
    CHECK_STR(str_at(o, "root.path"), "rootfs");
    CHECK(json_object_get_boolean(at(o, "root.readonly")) == 0);
    CHECK_STR(str_at(o, "hostname"), OIMG_BUNDLE_DEFAULT_HOSTNAME);
    CHECK(json_object_get_boolean(at(o, "process.noNewPrivileges")));
    CHECK(json_object_get_boolean(at(o, "process.terminal")) == 0);
    CHECK_JOIN(o, "process.capabilities.bounding",
               "CAP_CHOWN|CAP_DAC_OVERRIDE|CAP_FSETID|CAP_FOWNER|CAP_MKNOD|CAP_NET_RAW|"
               "CAP_SETGID|CAP_SETUID|CAP_SETFCAP|CAP_SETPCAP|CAP_NET_BIND_SERVICE|"
               "CAP_SYS_CHROOT|CAP_KILL|CAP_AUDIT_WRITE");
    CHECK_INT(len_at(o, "process.capabilities.effective"), 14);
    CHECK_INT(len_at(o, "process.capabilities.permitted"), 14);
    CHECK_INT(len_at(o, "process.capabilities.inheritable"), 0);
    CHECK_INT(len_at(o, "process.capabilities.ambient"), 0);
    CHECK_STR(str_at(o, "process.rlimits.0.type"), "RLIMIT_NOFILE");
    CHECK_INT(int_at(o, "process.rlimits.0.hard"), 1024);
    CHECK_INT(int_at(o, "process.rlimits.0.soft"), 1024);
    const char *ns[] = {"pid", "network", "ipc", "uts", "mount", "cgroup"};
    for (size_t i = 0; i < OCI_ARRAY_SIZE(ns); i++)
        CHECK(has_ns(o, ns[i]));
    CHECK(!has_ns(o, "user"));
    const char *mounts[] = {"/proc",       "/dev", "/dev/pts",      "/dev/shm",
                            "/dev/mqueue", "/sys", "/sys/fs/cgroup"};
    for (size_t i = 0; i < OCI_ARRAY_SIZE(mounts); i++)
        CHECK(find_mount(o, mounts[i]) != NULL);
    CHECK_STR(str_at(find_mount(o, "/sys"), "type"), "sysfs");
    CHECK_JOIN(find_mount(o, "/sys"), "options", "nosuid|noexec|nodev|ro");
    CHECK_JOIN(find_mount(o, "/sys/fs/cgroup"), "options", "nosuid|noexec|nodev|relatime|ro");
    CHECK_STR(str_at(find_mount(o, "/dev"), "type"), "tmpfs");
    CHECK(strstr(json_object_to_json_string(find_mount(o, "/dev/pts")), "gid=5") != NULL);
    CHECK(len_at(o, "linux.maskedPaths") >= 10);
    CHECK(len_at(o, "linux.readonlyPaths") >= 5);
    CHECK_STR(str_at(o, "linux.resources.devices.0.access"), "rwm");
    CHECK(at(o, "linux.uidMappings") == NULL);
    /* seccomp: errno by default, our allowlist, arch-specific extras */
    CHECK_STR(str_at(o, "linux.seccomp.defaultAction"), "SCMP_ACT_ERRNO");
    CHECK_INT(int_at(o, "linux.seccomp.defaultErrnoRet"), 1);
    CHECK_JOIN(o, "linux.seccomp.architectures", "SCMP_ARCH_X86_64|SCMP_ARCH_X86|SCMP_ARCH_X32");
    const char *sc = json_object_to_json_string(at(o, "linux.seccomp"));
    CHECK(strstr(sc, "\"openat\"") && strstr(sc, "\"arch_prctl\"") && strstr(sc, "\"pipe2\""));
    CHECK(!strstr(sc, "\"mount\"") && !strstr(sc, "\"unshare\"") && !strstr(sc, "\"keyctl\"") &&
          !strstr(sc, "\"bpf\"") && !strstr(sc, "\"io_uring_setup\"") && !strstr(sc, "\"setns\"") &&
          !strstr(sc, "\"kexec_load\""));
    json_object_put(o);

    struct oimg_bundle_opts opts;
    oimg_bundle_opts_init(&opts);
    opts.no_seccomp = true;
    opts.hostname = "box";
    o = conv_opts("", &opts);
    CHECK(at(o, "linux.seccomp") == NULL);
    CHECK_STR(str_at(o, "hostname"), "box");
    json_object_put(o);
}

static void test_seccomp_arches(void)
{
    json_object *p = oimg_bundle_seccomp_profile("s390x");
    char *a = join_at(p, "architectures");
    CHECK_STR(a, "SCMP_ARCH_S390X|SCMP_ARCH_S390");
    free(a);
    /* clone's flags are the second argument on s390 */
    json_object *rules = at(p, "syscalls");
    bool clone_ok = false;
    for (size_t i = 0; i < json_object_array_length(rules); i++) {
        json_object *r = json_object_array_get_idx(rules, i);
        if (strcmp(str_at(r, "names.0"), "clone") == 0)
            clone_ok = int_at(r, "args.0.index") == 1 && int_at(r, "args.0.value") == 0x7E020000;
    }
    CHECK(clone_ok);
    json_object_put(p);
    p = oimg_bundle_seccomp_profile("arm64");
    a = join_at(p, "architectures");
    CHECK_STR(a, "SCMP_ARCH_AARCH64|SCMP_ARCH_ARM");
    free(a);
    CHECK(strstr(json_object_to_json_string(p), "\"set_tls\"") != NULL);
    json_object_put(p);
    p = oimg_bundle_seccomp_profile("wasm");
    CHECK(at(p, "architectures") == NULL);
    json_object_put(p);
}

static void test_rootless(void)
{
    struct oimg_bundle_opts opts;
    oimg_bundle_opts_init(&opts);
    opts.rootless = true;
    json_object *o = conv_opts("\"config\":{\"Volumes\":{\"/data\":{}}}", &opts);
    CHECK(has_ns(o, "user"));
    CHECK(!has_ns(o, "network"));
    CHECK(has_ns(o, "pid") && has_ns(o, "mount") && has_ns(o, "cgroup"));
    CHECK_INT(len_at(o, "linux.uidMappings"), 1);
    CHECK_INT(int_at(o, "linux.uidMappings.0.containerID"), 0);
    CHECK_INT(int_at(o, "linux.uidMappings.0.hostID"), geteuid());
    CHECK_INT(int_at(o, "linux.uidMappings.0.size"), 1);
    CHECK_INT(int_at(o, "linux.gidMappings.0.hostID"), getegid());
    CHECK(at(o, "linux.resources") == NULL);
    CHECK(find_mount(o, "/sys/fs/cgroup") == NULL);
    CHECK_JOIN(find_mount(o, "/sys"), "options", "rbind|nosuid|noexec|nodev|ro");
    CHECK_STR(str_at(find_mount(o, "/sys"), "type"), "none");
    CHECK(strstr(json_object_to_json_string(at(o, "mounts")), "gid=") == NULL);
    CHECK(strstr(json_object_to_json_string(at(o, "mounts")), "uid=") == NULL);
    json_object_put(o);

    /* an unmapped user: warned about, additional gids filtered */
    o = conv_opts("\"config\":{\"User\":\"app\"}", &opts);
    CHECK(bt_warned(&warnings, "uid 1000 is not mapped"));
    CHECK(bt_warned(&warnings, "additional gid 50 left out"));
    CHECK(at(o, "process.user.additionalGids") == NULL);
    json_object_put(o);

    /* explicit maps, rootful: a user namespace with them, network kept */
    struct oimg_idmap um[] = {{0, 100000, 65536}}, gm[] = {{0, 200000, 65536}};
    oimg_bundle_opts_init(&opts);
    opts.uid_map = um;
    opts.n_uid_map = 1;
    opts.gid_map = gm;
    opts.n_gid_map = 1;
    o = conv_opts("\"config\":{\"User\":\"app\",\"Cmd\":[\"x\"]}", &opts);
    CHECK(has_ns(o, "user") && has_ns(o, "network"));
    CHECK_INT(int_at(o, "linux.uidMappings.0.hostID"), 100000);
    CHECK_INT(int_at(o, "linux.gidMappings.0.size"), 65536);
    CHECK_JOIN(o, "process.user.additionalGids", "50");
    for (size_t i = 0; i < warnings.n; i++)
        fprintf(stderr, "    unexpected warning: %s\n", warnings.lines[i]);
    CHECK_INT(warnings.n, 0);
    CHECK(at(o, "linux.resources") != NULL);
    json_object_put(o);
}

static void test_not_linux(void)
{
    struct oimg_image_config *c = bt_config("{\"architecture\":\"amd64\",\"os\":\"windows\","
                                            "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");
    json_object *out = NULL;
    struct oci_error *e = NULL;
    CHECK_INT(oimg_bundle_config(&out, c, rootfd, NULL, &e), -OCI_ERR_UNSUPPORTED);
    CHECK(bt_err_has(e, "windows"));
    oci_error_free(e);
    oimg_config_free(c);
}

/* Every config above, and the rootless one, against the official schema. */
static void test_schema(void)
{
    const char *shared = getenv("OCIIMG_SHARED");
    const char *src = getenv("OCIIMG_SRCDIR");
    char *schema = bt_fmt("%s/spec/runtime-spec/v1.3.0/schema/config-schema.json",
                          shared ? shared : "../shared");
    if (!src || access(schema, R_OK) != 0 || access("/usr/bin/python3", X_OK) != 0) {
        fprintf(stderr, "    skipped: no ../shared runtime-spec schema or no /usr/bin/python3\n");
        free(schema);
        return;
    }
    struct oimg_bundle_opts opts;
    oimg_bundle_opts_init(&opts);
    const char *fields[] = {
        "\"config\":{\"User\":\"app\",\"Env\":[\"A=1\"],\"Entrypoint\":[\"/x\"],\"Cmd\":[\"y\"],"
        "\"Volumes\":{\"/data\":{}},\"Labels\":{\"a\":\"b\"},\"ExposedPorts\":{\"80/tcp\":{}},"
        "\"StopSignal\":\"SIGTERM\",\"WorkingDir\":\"/w\"},\"author\":\"me\"",
        "",
    };
    for (int rl = 0; rl < 2; rl++) {
        opts.rootless = rl;
        for (size_t i = 0; i < OCI_ARRAY_SIZE(fields); i++) {
            json_object *o = conv_opts(fields[i], &opts);
            char *f = bt_fmt("%s/config-%d-%zu.json", top, rl, i);
            CHECK(json_object_to_file(f, o) == 0);
            CHECK_INT(bt_sh("/usr/bin/python3 %s/tests/lib/schema_validate.py -q --runtime "
                            "--schema-dir %s/spec/runtime-spec/v1.3.0/schema %s >&2",
                            src, shared ? shared : "../shared", f),
                      0);
            free(f);
            json_object_put(o);
        }
    }
    free(schema);
}

int main(void)
{
    setup();
    T_RUN(test_args);
    T_RUN(test_env);
    T_RUN(test_cwd);
    T_RUN(test_user);
    T_RUN(test_annotations);
    T_RUN(test_volumes);
    T_RUN(test_linux_defaults);
    T_RUN(test_seccomp_arches);
    T_RUN(test_rootless);
    T_RUN(test_not_linux);
    T_RUN(test_schema);
    bt_warnings_clear(&warnings);
    close(rootfd);
    bt_rm_rf(top);
    free(top);
    return t_done();
}
