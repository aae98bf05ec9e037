/* The options of commands that talk to a registry, and the client they make. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "cmd_remote.h"

bool cmd_parse_count(int *out, const char *s, int max)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !*s || *end || v < 0 || v > max)
        return false;
    *out = (int)v;
    return true;
}

int cmd_remote_option(struct cmd_remote *r, const struct ociimg_cmd *cmd, int opt, const char *arg)
{
    switch (opt) {
    case CMD_OPT_TLS_VERIFY:
        if (!arg || strcmp(arg, "true") == 0)
            r->insecure = false;
        else if (strcmp(arg, "false") == 0)
            r->insecure = true;
        else
            return cmd_usage_error(cmd, "--tls-verify takes true or false, not `%s`", arg);
        return 1;
    case CMD_OPT_CERT_DIR:
        r->cert_dir = arg;
        return 1;
    case CMD_OPT_CREDS:
        r->creds = arg;
        return 1;
    case CMD_OPT_AUTHFILE:
        r->authfile = arg;
        return 1;
    case CMD_OPT_REGISTRIES_CONF:
        r->registries_conf = arg;
        return 1;
    case CMD_OPT_RETRY:
        if (!cmd_parse_count(&r->retry, arg, 100))
            return cmd_usage_error(cmd, "--retry takes a number from 0 to 100, not `%s`", arg);
        return 1;
    case CMD_OPT_STALL:
        if (!cmd_parse_count(&r->stall, arg, 86400) || r->stall == 0)
            return cmd_usage_error(cmd, "--stall-timeout takes seconds (1 or more), not `%s`", arg);
        return 1;
    default:
        return 0;
    }
}

int cmd_remote_client(struct oreg_client **out, struct cmd_remote *r, int jobs, oreg_event_fn fn,
                      void *ud, struct oci_error **err)
{
    if (r->registries_conf && !r->conf) {
        int ret = oreg_registries_conf_load(&r->conf, r->registries_conf, err);
        if (ret < 0)
            return ret;
    }
    struct oreg_client_opts o = {
        .creds = {.creds = r->creds, .authfile = r->authfile},
        .registries = r->conf,
        .insecure = r->insecure,
        .cert_dir = r->cert_dir,
        .jobs = jobs,
        .retries = r->retry,
        .stall_secs = r->stall,
        .user_agent = "ociimg/" OCIIMG_VERSION,
        .on_event = fn,
        .event_ud = ud,
    };
    return oreg_client_new(out, &o, err);
}

void cmd_remote_clear(struct cmd_remote *r)
{
    oreg_registries_conf_free(r->conf);
    r->conf = NULL;
}
