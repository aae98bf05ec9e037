/* Shared pieces of the `ociimg` command line: the command table, exit codes
 * and the one place that prints an error. */
#ifndef OCIIMG_CMD_H
#define OCIIMG_CMD_H

#include <stdbool.h>
#include <stdio.h>

#include <ociimg/error.h>

/* Exit codes (README "Exit codes"). */
enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,        /* general failure, or validate/verify found problems */
    EXIT_USAGE = 2,       /* bad command line */
    EXIT_NOT_FOUND = 3,   /* image, tag, blob or platform not found */
    EXIT_INVALID = 4,     /* invalid or corrupt input, digest mismatch */
    EXIT_UNSUPPORTED = 5, /* valid but unsupported (e.g. Docker schema1) */
};

struct ociimg_cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    const char *usage; /* full --help text, examples included */
};

extern const struct ociimg_cmd ociimg_cmd_ls, ociimg_cmd_inspect, ociimg_cmd_validate,
    ociimg_cmd_verify, ociimg_cmd_gc, ociimg_cmd_tag, ociimg_cmd_untag;
extern const struct ociimg_cmd ociimg_cmd_pull, ociimg_cmd_tags, ociimg_cmd_login,
    ociimg_cmd_logout;
extern const struct ociimg_cmd ociimg_cmd_unpack, ociimg_cmd_export, ociimg_cmd_run;
extern const struct ociimg_cmd ociimg_cmd_images, ociimg_cmd_rmi, ociimg_cmd_prune;

/* Prints "ociimg: <cmd>: <message>" once and returns the exit code for the
 * error's code. */
int cmd_fail(const char *cmd, struct oci_error *e);
/* Prints a usage error and returns EXIT_USAGE. */
int cmd_usage_error(const struct ociimg_cmd *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* After getopt_long returned '?' or ':': names the offending argument. */
int cmd_bad_option(const struct ociimg_cmd *c, char **argv);
/* Handles -h/--help: prints the usage and returns true. */
bool cmd_want_help(const struct ociimg_cmd *c, int argc, char **argv);
int cmd_exit_code(int code);

/* Formats a byte count as "12.3 MB" into buf. */
const char *cmd_human_size(char *buf, size_t n, unsigned long long bytes);

extern const struct ociimg_cmd ociimg_cmd_version;

/* What goes to stderr besides errors, set once by the global --log-level /
 * --quiet (or $OCIIMG_LOG_LEVEL) before the command runs.  Errors (cmd_fail,
 * usage errors) are always printed; results on stdout are not affected,
 * except that commands treat CMD_LOG_ERROR (--quiet) as their own -q. */
enum cmd_log_level {
    CMD_LOG_ERROR = 0, /* --quiet: errors only */
    CMD_LOG_WARN,      /* + warnings */
    CMD_LOG_INFO,      /* + notes, progress and summaries (the default) */
    CMD_LOG_DEBUG,     /* + what is fetched and decided, for bug reports */
};
extern enum cmd_log_level cmd_log_level;

/* Parses "error", "warn" (or "warning"), "info" or "debug"; false if none. */
bool cmd_log_level_parse(enum cmd_log_level *out, const char *s);
/* True when messages of this level are printed. */
bool cmd_log_on(enum cmd_log_level level);
/* True under --quiet: commands with their own -q/--quiet behave as if given it. */
bool cmd_quiet(void);
/* "ociimg: CMD: warning: ..." on stderr, at warn and above. */
void cmd_warn(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One line on stderr, as formatted (e.g. "note: ..."), at info and above. */
void cmd_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "ociimg: CMD: debug: ..." on stderr, at debug only. */
void cmd_debug(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
