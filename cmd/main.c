/* ociimg: OCI image toolkit command line. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"

#ifndef OCIIMG_VERSION
#define OCIIMG_VERSION "0.1.0"
#endif

static const struct ociimg_cmd *const commands[] = {
    &ociimg_cmd_ls,     &ociimg_cmd_inspect, &ociimg_cmd_validate, &ociimg_cmd_verify,
    &ociimg_cmd_gc,     &ociimg_cmd_tag,     &ociimg_cmd_untag,    &ociimg_cmd_unpack,
    &ociimg_cmd_export, &ociimg_cmd_run,     &ociimg_cmd_pull,     &ociimg_cmd_tags,
    &ociimg_cmd_login,  &ociimg_cmd_logout,
};

static void print_help(FILE *f)
{
    fprintf(f, "Usage: ociimg COMMAND [OPTIONS] ...\n\n"
               "Keep OCI images in an OCI image layout directory.\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "\nImage names: DIR, DIR:NAME or DIR@sha256:HEX (DIR is an OCI image layout).\n"
               "Run 'ociimg COMMAND --help' for a command's options and examples.\n");
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

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
        if (argc > 2) {
            for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (strcmp(commands[i]->name, argv[2]) == 0) {
                    fputs(commands[i]->usage, stdout);
                    return EXIT_OK;
                }
        }
        print_help(stdout);
        return EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("ociimg %s\n", OCIIMG_VERSION);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i]->name, name) == 0) {
            if (cmd_want_help(commands[i], argc - 1, argv + 1))
                return EXIT_OK;
            optind = 1;
            opterr = 0;
            return commands[i]->run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "ociimg: unknown command `%s`\nRun 'ociimg --help' for the commands.\n", name);
    return EXIT_USAGE;
}
