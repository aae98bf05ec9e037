/* ociimg: OCI image toolkit command line. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

#ifndef OCIIMG_VERSION
#define OCIIMG_VERSION "0.1.0"
#endif

static const struct ociimg_cmd *const commands[] = {
    &ociimg_cmd_ls,     &ociimg_cmd_inspect, &ociimg_cmd_validate, &ociimg_cmd_verify,
    &ociimg_cmd_gc,     &ociimg_cmd_tag,     &ociimg_cmd_untag,    &ociimg_cmd_unpack,
    &ociimg_cmd_export, &ociimg_cmd_run,     &ociimg_cmd_pull,     &ociimg_cmd_tags,
    &ociimg_cmd_login,  &ociimg_cmd_logout,  &ociimg_cmd_version,  &ociimg_cmd_images,
    &ociimg_cmd_rmi,    &ociimg_cmd_prune,
};

static void print_help(FILE *f)
{
    fprintf(f, "Usage: ociimg [--log-level LEVEL | -q] COMMAND [OPTIONS] ...\n\n"
               "Pulls OCI images from registries, keeps them in OCI image layout directories,\n"
               "checks them, unpacks them into runtime bundles and runs them.  Commands that\n"
               "take an image accept DIR, DIR:NAME or DIR@sha256:HEX (DIR is an OCI image\n"
               "layout).\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "\nGlobal options (they go before COMMAND):\n"
               "  --log-level LEVEL  what goes to stderr besides errors: error, warn, info\n"
               "                     (the default: warnings, notes and progress) or debug;\n"
               "                     $OCIIMG_LOG_LEVEL sets the default\n"
               "  -q, --quiet        errors only (--log-level error); commands with a -q of\n"
               "                     their own behave as if given it\n"
               "  -h, --help         print this help; `ociimg help COMMAND` prints a command's\n"
               "  --version          the same as `ociimg version`\n\n"
               "Exit status:\n"
               "  0  success; for validate and verify: everything is valid\n"
               "  1  a general failure, or validate or verify found problems\n"
               "  2  usage error: unknown command or option, wrong arguments\n"
               "  3  not found: no such layout, name, digest, blob or platform\n"
               "  4  invalid or corrupt input: malformed name or document, digest or size\n"
               "     mismatch, a size cap exceeded\n"
               "  5  valid but unsupported (Docker schema1, an unknown digest algorithm)\n"
               "`ociimg run` exits with the container's status.  The README's \"Errors and\n"
               "exit codes\" has the details.\n\n"
               "Examples:\n"
               "  ociimg pull alpine:3.19 ./images\n"
               "  ociimg ls ./images\n"
               "  ociimg unpack ./images:3.19 ./bundle\n"
               "  ociimg --quiet pull --tls-verify=false localhost:5000/test/hello:1 ./images\n\n"
               "Run 'ociimg COMMAND --help' (or 'man ociimg-COMMAND') for a command's options\n"
               "and examples.\n");
}

int cmd_exit_code(int code)
{
    if (code < 0)
        code = -code;
    switch (code) {
    case 0:
        return EXIT_OK;
    case OCI_ERR_NOT_FOUND:
    case OCI_ERR_PLATFORM:
        return EXIT_NOT_FOUND;
    case OCI_ERR_INVALID:
    case OCI_ERR_DIGEST_MISMATCH:
    case OCI_ERR_TOO_LARGE:
        return EXIT_INVALID;
    case OCI_ERR_UNSUPPORTED:
        return EXIT_UNSUPPORTED;
    default:
        return EXIT_FAIL;
    }
}

int cmd_fail(const char *cmd, struct oci_error *e)
{
    fprintf(stderr, "ociimg: %s: %s\n", cmd, e && e->msg ? e->msg : "unknown error");
    int code = e ? e->code : OCI_ERR_INTERNAL;
    oci_error_free(e);
    return cmd_exit_code(code);
}

int cmd_usage_error(const struct ociimg_cmd *c, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "ociimg: %s: ", c->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'ociimg %s --help'.\n", c->name);
    return EXIT_USAGE;
}

int cmd_bad_option(const struct ociimg_cmd *c, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";
    if (optopt && !(arg[0] == '-' && arg[1] == '-'))
        return cmd_usage_error(c, "unknown option `-%c` or missing argument", optopt);
    return cmd_usage_error(c, "unknown option `%s` or missing argument", arg);
}

bool cmd_want_help(const struct ociimg_cmd *c, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(c->usage, stdout);
            return true;
        }
    }
    return false;
}

const char *cmd_human_size(char *buf, size_t n, unsigned long long bytes)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
    double v = (double)bytes;
    size_t u = 0;
    while (v >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1000;
        u++;
    }
    if (u == 0)
        snprintf(buf, n, "%llu B", bytes);
    else
        snprintf(buf, n, "%.1f %s", v, units[u]);
    return buf;
}

static const struct ociimg_cmd *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

static int global_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int global_usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "ociimg: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'ociimg --help' for the commands and global options.\n");
    return EXIT_USAGE;
}

static bool set_log_level(const char *s)
{
    enum cmd_log_level l;
    if (!cmd_log_level_parse(&l, s))
        return false;
    cmd_log_level = l;
    return true;
}

int main(int argc, char **argv)
{
    const char *env = getenv("OCIIMG_LOG_LEVEL");
    if (env && *env && !set_log_level(env))
        fprintf(stderr,
                "ociimg: warning: ignoring OCIIMG_LOG_LEVEL=%s "
                "(expected error, warn, info or debug)\n",
                env);

    /* Global options come before the command; the command parses the rest. */
    int i = 1;
    const char *name = NULL;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            name = "help";
            break;
        }
        if (strcmp(a, "--version") == 0) {
            name = "version";
            break;
        }
        if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            cmd_log_level = CMD_LOG_ERROR;
        } else if (strcmp(a, "--log-level") == 0 || strncmp(a, "--log-level=", 12) == 0) {
            const char *v = a[11] == '=' ? a + 12 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v)
                return global_usage_error("%s needs a level (error, warn, info or debug)", a);
            if (!set_log_level(v))
                return global_usage_error(
                    "unknown --log-level `%s` (expected error, warn, info or debug)", v);
        } else {
            return global_usage_error("unknown global option `%s`", a);
        }
    }
    if (i >= argc) {
        print_help(stderr);
        return EXIT_USAGE;
    }
    if (!name)
        name = argv[i];
    if (strcmp(name, "help") == 0) {
        const struct ociimg_cmd *c = i + 1 < argc ? find_command(argv[i + 1]) : NULL;
        if (c) {
            fputs(c->usage, stdout);
            return EXIT_OK;
        }
        if (i + 1 < argc) {
            fprintf(stderr, "ociimg: help: unknown command `%s`\n", argv[i + 1]);
            return EXIT_USAGE;
        }
        print_help(stdout);
        return EXIT_OK;
    }
    const struct ociimg_cmd *c = find_command(name);
    if (!c) {
        fprintf(stderr, "ociimg: unknown command `%s`\nRun 'ociimg --help' for the commands.\n",
                name);
        return EXIT_USAGE;
    }
    if (cmd_want_help(c, argc - i, argv + i))
        return EXIT_OK;
    optind = 1;
    opterr = 0;
    return c->run(argc - i, argv + i);
}
