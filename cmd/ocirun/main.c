/* ocirun: the bundled OCI runtime, with runc's command line.
 *
 *   ocirun [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND ...
 *
 * Errors print one line "ocirun: <cause>" on stderr (and to --log) and exit 1;
 * usage errors exit 2; `run` exits with the container's status. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <seccomp.h>

#include <ociimg/cleanup.h>
#include <ociimg/runtime.h>

#include "ociimg_build_info.h"

#ifndef OCIIMG_VERSION
#define OCIIMG_VERSION "0"
#endif

static struct {
    FILE *log;
    bool json;
    bool debug;
} g;

static void log_line(const char *level, const char *msg)
{
    if (!g.log)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[64];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    if (g.json) {
        fprintf(g.log, "{\"level\":\"%s\",\"msg\":\"", level);
        for (const char *p = msg; *p; p++) {
            unsigned char ch = (unsigned char)*p;
            if (ch == '"' || ch == '\\')
                fprintf(g.log, "\\%c", ch);
            else if (ch < 0x20)
                fprintf(g.log, "\\u%04x", ch);
            else
                fputc(ch, g.log);
        }
        fprintf(g.log, "\",\"time\":\"%s.%09ldZ\"}\n", when, ts.tv_nsec);
    } else {
        fprintf(g.log, "time=\"%s.%09ldZ\" level=%s msg=\"%s\"\n", when, ts.tv_nsec, level, msg);
    }
    fflush(g.log);
}

static void on_log(void *data, int level, const char *msg)
{
    (void)data;
    static const char *const names[] = {"error", "warning", "info", "debug"};
    const char *name = level >= 0 && level <= ORT_LOG_DEBUG ? names[level] : "info";
    log_line(name, msg);
    if (level <= ORT_LOG_WARN || (level == ORT_LOG_DEBUG && g.debug && !g.log))
        fprintf(stderr, "ocirun: %s%s\n", level == ORT_LOG_WARN ? "warning: " : "", msg);
}

static int fail(struct oci_error *e)
{
    const char *msg = e && e->msg ? e->msg : "unknown error";
    log_line("error", msg);
    fprintf(stderr, "ocirun: %s\n", msg);
    oci_error_free(e);
    return 1;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_line("error", msg);
    fprintf(stderr, "ocirun: %s\nTry 'ocirun --help'.\n", msg);
    return 2;
}

static const char usage_text[] =
    "Usage: ocirun [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND ...\n"
    "\n"
    "Creates and runs containers from OCI runtime bundles (a rootfs and a config.json,\n"
    "as `ociimg unpack` makes them).  ocirun is ociimg's own OCI runtime, with runc's\n"
    "command line, so tools that drive runc can drive it.  State lives in /run/ocirun\n"
    "as root, in $XDG_RUNTIME_DIR/ocirun (else /run/user/UID/ocirun) rootless, or in\n"
    "--root.  Errors print one line on stderr and exit 1; usage errors exit 2; `run`\n"
    "exits with the container's status.\n"
    "\n"
    "Commands:\n"
    "  create [--bundle DIR] [--pid-file F] [--preserve-fds N] [--no-new-keyring] ID\n"
    "                   create container ID from the bundle, stopped before the process\n"
    "  start ID         start the process of a created container\n"
    "  state ID         print the container's state as JSON\n"
    "  kill [--all] ID [SIGNAL]\n"
    "                   send SIGNAL (default TERM) to the process, or to all with --all\n"
    "  delete [--force] ID\n"
    "                   remove a stopped container (--force: kill it first)\n"
    "  run [--bundle DIR] [--detach] [--pid-file F] [--preserve-fds N] ID\n"
    "                   create and start; wait for the process unless --detach\n"
    "  list [--format table|json] [--quiet]\n"
    "                   list the containers\n"
    "  spec [--rootless] [--bundle DIR]\n"
    "                   write a default config.json into the bundle\n"
    "  features         print what this runtime supports, as JSON\n"
    "\n"
    "Options:\n"
    "  --root DIR         state directory (default: see above)\n"
    "  --log FILE         also log to FILE\n"
    "  --log-format text|json  the format of --log (default text)\n"
    "  --debug            print debug messages\n"
    "  -h, --help         print this help\n"
    "  -v, --version      print the version, git commit, spec and libseccomp versions\n"
    "\n"
    "Examples:\n"
    "  ocirun spec && ocirun run -b . demo\n"
    "  ocirun create -b ./bundle c1 && ocirun start c1 && ocirun state c1\n"
    "  ocirun kill c1 KILL && ocirun delete c1\n"
    "  ocirun list --format json\n";

enum { OPT_PID_FILE = 256, OPT_CONSOLE, OPT_PRESERVE, OPT_NO_PIVOT, OPT_NO_KEYRING, OPT_FORMAT };

static const struct option create_opts[] = {
    {"bundle", required_argument, NULL, 'b'},
    {"pid-file", required_argument, NULL, OPT_PID_FILE},
    {"console-socket", required_argument, NULL, OPT_CONSOLE},
    {"preserve-fds", required_argument, NULL, OPT_PRESERVE},
    {"no-pivot", no_argument, NULL, OPT_NO_PIVOT},
    {"no-new-keyring", no_argument, NULL, OPT_NO_KEYRING},
    {"detach", no_argument, NULL, 'd'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int parse_create(int argc, char **argv, bool run, struct ort_create_opts *o, bool *detach,
                        const char **id)
{
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, run ? "b:dh" : "b:h", create_opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            o->bundle = optarg;
            break;
        case OPT_PID_FILE:
            o->pid_file = optarg;
            break;
        case OPT_CONSOLE:
            o->console_socket = optarg;
            break;
        case OPT_PRESERVE: {
            char *end;
            /* getopt sets optarg for a required_argument option. */
            // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker)
            long n = strtol(optarg, &end, 10);
            if (*end || n < 0 || n > 1024)
                return usage_error("--preserve-fds: bad number `%s`", optarg);
            o->preserve_fds = (int)n;
            break;
        }
        case OPT_NO_PIVOT:
            o->no_pivot = true;
            break;
        case OPT_NO_KEYRING:
            o->no_new_keyring = true;
            break;
        case 'd':
            if (!run)
                return usage_error("create: unknown option --detach");
            *detach = true;
            break;
        case 'h':
            fputs(usage_text, stdout);
            exit(0);
        default:
            return usage_error("%s: bad arguments", argv[0]);
        }
    }
    if (optind != argc - 1)
        return usage_error("%s: expects exactly one container id", argv[0]);
    *id = argv[optind];
    return 0;
}

static int one_id(int argc, char **argv, const char **id)
{
    static const struct option none[] = {{NULL, 0, NULL, 0}};
    optind = 1;
    if (getopt_long(argc, argv, "", none, NULL) != -1)
        return usage_error("%s: unknown option", argv[0]);
    if (optind != argc - 1)
        return usage_error("%s: expects exactly one container id", argv[0]);
    *id = argv[optind];
    return 0;
}

static int cmd_create(const struct ort_context *ctx, int argc, char **argv, bool run)
{
    struct ort_create_opts o = {0};
    bool detach = false;
    const char *id = NULL;
    int r = parse_create(argc, argv, run, &o, &detach, &id);
    if (r)
        return r;
    struct oci_error *e = NULL;
    if (!run)
        return ort_create(ctx, id, &o, &e) < 0 ? fail(e) : 0;
    int status = 0;
    if (ort_run(ctx, id, &o, detach, &status, &e) < 0)
        return fail(e);
    return status;
}

static int cmd_start(const struct ort_context *ctx, int argc, char **argv)
{
    const char *id = NULL;
    int r = one_id(argc, argv, &id);
    if (r)
        return r;
    struct oci_error *e = NULL;
    return ort_start(ctx, id, &e) < 0 ? fail(e) : 0;
}

static int cmd_state(const struct ort_context *ctx, int argc, char **argv)
{
    const char *id = NULL;
    int r = one_id(argc, argv, &id);
    if (r)
        return r;
    struct oci_error *e = NULL;
    _cleanup_free_ char *json = NULL;
    if (ort_state(ctx, id, &json, &e) < 0)
        return fail(e);
    printf("%s\n", json);
    return 0;
}

static int cmd_kill(const struct ort_context *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"all", no_argument, NULL, 'a'}, {NULL, 0, NULL, 0}};
    bool all = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "a", opts, NULL)) != -1) {
        if (c != 'a')
            return usage_error("kill: bad arguments");
        all = true;
    }
    if (optind != argc - 1 && optind != argc - 2)
        return usage_error("kill: expects ID [SIGNAL]");
    int sig = 15;
    struct oci_error *e = NULL;
    if (optind == argc - 2 && ort_signal_parse(argv[optind + 1], &sig, &e) < 0)
        return fail(e);
    return ort_kill(ctx, argv[optind], sig, all, &e) < 0 ? fail(e) : 0;
}

static int cmd_delete(const struct ort_context *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"force", no_argument, NULL, 'f'}, {NULL, 0, NULL, 0}};
    bool force = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
        if (c != 'f')
            return usage_error("delete: bad arguments");
        force = true;
    }
    if (optind != argc - 1)
        return usage_error("delete: expects exactly one container id");
    struct oci_error *e = NULL;
    return ort_delete(ctx, argv[optind], force, &e) < 0 ? fail(e) : 0;
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static int cmd_list(const struct ort_context *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {NULL, 0, NULL, 0}};
    bool json = false, quiet = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:q", opts, NULL)) != -1) {
        if (c == 'q')
            quiet = true;
        else if (c == 'f' && (strcmp(optarg, "json") == 0 || strcmp(optarg, "table") == 0))
            json = strcmp(optarg, "json") == 0;
        else
            return usage_error("list: bad arguments");
    }
    if (optind != argc)
        return usage_error("list: takes no arguments");
    struct ort_list_item *items = NULL;
    size_t n = 0;
    struct oci_error *e = NULL;
    if (ort_list(ctx, &items, &n, &e) < 0)
        return fail(e);
    if (quiet) {
        for (size_t i = 0; i < n; i++)
            printf("%s\n", items[i].id);
    } else if (json) {
        printf("[");
        for (size_t i = 0; i < n; i++) {
            printf("%s{\"ociVersion\":\"%s\",\"id\":", i ? "," : "", ORT_OCI_VERSION);
            json_str(items[i].id);
            printf(",\"pid\":%d,\"status\":", (int)items[i].pid);
            json_str(items[i].status);
            printf(",\"bundle\":");
            json_str(items[i].bundle);
            printf(",\"created\":");
            json_str(items[i].created);
            printf(",\"owner\":");
            json_str(items[i].owner);
            printf("}");
        }
        printf("]\n");
    } else {
        printf("%-12s %-8s %-10s %-40s %-32s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED",
               "OWNER");
        for (size_t i = 0; i < n; i++)
            printf("%-12s %-8d %-10s %-40s %-32s %s\n", items[i].id, (int)items[i].pid,
                   items[i].status, items[i].bundle, items[i].created, items[i].owner);
    }
    ort_list_free(items, n);
    return 0;
}

static int cmd_spec(int argc, char **argv)
{
    static const struct option opts[] = {{"rootless", no_argument, NULL, 'r'},
                                         {"bundle", required_argument, NULL, 'b'},
                                         {NULL, 0, NULL, 0}};
    bool rootless = false;
    const char *bundle = ".";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:", opts, NULL)) != -1) {
        if (c == 'r')
            rootless = true;
        else if (c == 'b')
            bundle = optarg;
        else
            return usage_error("spec: bad arguments");
    }
    if (optind != argc)
        return usage_error("spec: takes no arguments");
    _cleanup_free_ char *json = ort_spec_json(rootless);
    /* bundle is "." or getopt's optarg for a required_argument option. */
    // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker)
    _cleanup_close_ int dfd = open(bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (!json || dfd < 0) {
        struct oci_error *e = NULL;
        oci_error_setsys(&e, 1, errno, "spec: open bundle `%s`", bundle);
        return fail(e);
    }
    int fd = openat(dfd, "config.json", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        struct oci_error *e = NULL;
        if (errno == EEXIST)
            oci_error_set(&e, 1, "spec: %s/config.json exists; remove it first", bundle);
        else
            oci_error_setsys(&e, 1, errno, "spec: create %s/config.json", bundle);
        return fail(e);
    }
    size_t len = strlen(json);
    bool ok = write(fd, json, len) == (ssize_t)len;
    ok &= close(fd) == 0;
    if (!ok) {
        struct oci_error *e = NULL;
        oci_error_setsys(&e, 1, errno, "spec: write %s/config.json", bundle);
        return fail(e);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"root", required_argument, NULL, 'r'},
        {"log", required_argument, NULL, 'l'},
        {"log-format", required_argument, NULL, 'f'},
        {"debug", no_argument, NULL, 'D'},
        {"systemd-cgroup", no_argument, NULL, 's'},
        {"rootless", required_argument, NULL, 'R'},
        {"criu", required_argument, NULL, 'C'},
        {"version", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ort_context ctx = {.root = NULL, .log = on_log, .log_data = NULL};
    const char *log_path = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            ctx.root = optarg;
            break;
        case 'l':
            log_path = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
                return usage_error("--log-format: expected text or json, got `%s`", optarg);
            g.json = strcmp(optarg, "json") == 0;
            break;
        case 'D':
            ctx.debug = g.debug = true;
            break;
        case 's':
            return usage_error("unsupported: --systemd-cgroup");
        case 'R':
        case 'C':
            break; /* accepted for runc compatibility; nothing to do */
        case 'v': {
            const struct scmp_version *sv = seccomp_version();
            printf("ocirun version %s\ncommit: %s\nspec: %s\n", OCIIMG_VERSION, OCIIMG_GIT_COMMIT,
                   ORT_OCI_VERSION_MAX);
            if (sv)
                printf("libseccomp: %u.%u.%u\n", sv->major, sv->minor, sv->micro);
            return 0;
        }
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            return usage_error("bad global option");
        }
    }
    if (log_path) {
        int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        g.log = fd >= 0 ? fdopen(fd, "a") : NULL;
        if (!g.log) {
            fprintf(stderr, "ocirun: --log %s: %s\n", log_path, strerror(errno));
            return 1;
        }
    }
    if (optind >= argc)
        return usage_error("no command");
    const char *cmd = argv[optind];
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    int r;
    if (strcmp(cmd, "create") == 0)
        r = cmd_create(&ctx, sub_argc, sub_argv, false);
    else if (strcmp(cmd, "run") == 0)
        r = cmd_create(&ctx, sub_argc, sub_argv, true);
    else if (strcmp(cmd, "start") == 0)
        r = cmd_start(&ctx, sub_argc, sub_argv);
    else if (strcmp(cmd, "state") == 0)
        r = cmd_state(&ctx, sub_argc, sub_argv);
    else if (strcmp(cmd, "kill") == 0)
        r = cmd_kill(&ctx, sub_argc, sub_argv);
    else if (strcmp(cmd, "delete") == 0)
        r = cmd_delete(&ctx, sub_argc, sub_argv);
    else if (strcmp(cmd, "list") == 0)
        r = cmd_list(&ctx, sub_argc, sub_argv);
    else if (strcmp(cmd, "spec") == 0)
        r = cmd_spec(sub_argc, sub_argv);
    else if (strcmp(cmd, "features") == 0) {
        _cleanup_free_ char *json = ort_features_json();
        if (!json)
            return 1;
        printf("%s\n", json);
        r = 0;
    } else
        r = usage_error("unknown command `%s`", cmd);
    if (g.log)
        fclose(g.log);
    return r;
}
