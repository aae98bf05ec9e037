/* Signal names for kill and the exit status of run. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ociimg/cleanup.h>

#include "rt_private.h"

static const struct {
    const char *name;
    int sig;
} sigs[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

const char *rt_signal_name(int sig)
{
    for (size_t i = 0; i < OCI_ARRAY_SIZE(sigs); i++)
        if (sigs[i].sig == sig)
            return sigs[i].name;
    return NULL;
}

static bool parse_uint(const char *s, long *out)
{
    if (!*s || strlen(s) > 4)
        return false;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    *out = strtol(s, NULL, 10);
    return true;
}

int ort_signal_parse(const char *s, int *sig, struct oci_error **err)
{
    long n;
    const char *name = s;
    if (parse_uint(s, &n)) {
        if (n < 1 || n > SIGRTMAX)
            return oci_error_set(err, OCI_ERR_INVALID, "invalid signal number %s", s);
        *sig = (int)n;
        return 0;
    }
    if (strncasecmp(name, "SIG", 3) == 0)
        name += 3;
    for (size_t i = 0; i < OCI_ARRAY_SIZE(sigs); i++)
        if (strcasecmp(sigs[i].name, name) == 0) {
            *sig = sigs[i].sig;
            return 0;
        }
    if (strncasecmp(name, "RTMIN", 5) == 0 || strncasecmp(name, "RTMAX", 5) == 0) {
        bool min = strncasecmp(name, "RTMIN", 5) == 0;
        long off = 0;
        const char *rest = name + 5;
        if (*rest) {
            if ((min && *rest != '+') || (!min && *rest != '-') || !parse_uint(rest + 1, &off))
                return oci_error_set(err, OCI_ERR_INVALID, "unknown signal %s", s);
        }
        long v = min ? SIGRTMIN + off : SIGRTMAX - off;
        if (v < SIGRTMIN || v > SIGRTMAX)
            return oci_error_set(err, OCI_ERR_INVALID, "signal %s out of range", s);
        *sig = (int)v;
        return 0;
    }
    return oci_error_set(err, OCI_ERR_INVALID, "unknown signal %s", s);
}
