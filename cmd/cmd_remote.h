/* Options every command that talks to a registry shares (pull, inspect
 * docker://, tags, login): TLS, credentials, mirrors, retries. */
#ifndef OCIIMG_CMD_REMOTE_H
#define OCIIMG_CMD_REMOTE_H

#include <getopt.h>
#include <stdbool.h>

#include <ociimg/registry.h>
#include <ociimg/bundle.h>
#include <ociimg/registry_client.h>

enum {
    CMD_OPT_TLS_VERIFY = 0x100,
    CMD_OPT_CERT_DIR,
    CMD_OPT_CREDS,
    CMD_OPT_AUTHFILE,
    CMD_OPT_REGISTRIES_CONF,
    CMD_OPT_RETRY,
    CMD_OPT_STALL,
};

/* Spliced into a command's option table. */
#define CMD_REMOTE_OPTIONS                                                                         \
    {"tls-verify", optional_argument, NULL, CMD_OPT_TLS_VERIFY},                                   \
        {"cert-dir", required_argument, NULL, CMD_OPT_CERT_DIR},                                   \
        {"creds", required_argument, NULL, CMD_OPT_CREDS},                                         \
        {"authfile", required_argument, NULL, CMD_OPT_AUTHFILE},                                   \
        {"registries-conf", required_argument, NULL, CMD_OPT_REGISTRIES_CONF},                     \
        {"retry", required_argument, NULL, CMD_OPT_RETRY},                                         \
    {                                                                                              \
        "stall-timeout", required_argument, NULL, CMD_OPT_STALL                                    \
    }

/* The help text for them. */
#define CMD_REMOTE_HELP                                                                            \
    "  --tls-verify=false  for this registry: allow plain HTTP and skip TLS verification\n"        \
    "  --cert-dir DIR      CA certificates (*.crt) and a client certificate (*.cert +\n"           \
    "                      *.key) for this registry; a certs.d tree (DIR/HOST:PORT/) works\n"      \
    "                      too.  Default: /etc/containers/certs.d/HOST:PORT and\n"                 \
    "                      /etc/docker/certs.d/HOST:PORT\n"                                        \
    "  --creds USER:PASS   credentials (else --authfile, $REGISTRY_AUTH_FILE, then\n"              \
    "                      $DOCKER_CONFIG/config.json or ~/.docker/config.json)\n"                 \
    "  --authfile FILE     a docker-style config.json with credentials\n"                          \
    "  --registries-conf FILE  mirrors and insecure registries (JSON, see below)\n"                \
    "  --retry N           retries per request on network errors, 408/429/5xx (default 3)\n"       \
    "  --stall-timeout S   a transfer without a byte for S seconds is retried (default 30)\n"

#define CMD_REGISTRIES_CONF_HELP                                                                   \
    "Registries config (--registries-conf):\n"                                                     \
    "  {\"registries\": [{\"location\": \"docker.io\",\n"                                          \
    "                   \"mirrors\": [{\"location\": \"cache.ci.example:5000\", \"insecure\": "    \
    "true}]},\n"                                                                                   \
    "                  {\"location\": \"registry.lan:5000\", \"insecure\": true}]}\n"              \
    "  Mirrors are tried in order, then the registry itself (unless \"mirror-only\": true);\n"     \
    "  \"blocked\": true refuses a registry.  Unknown keys are errors.\n"

struct cmd_remote {
    bool insecure;
    const char *cert_dir, *creds, *authfile, *registries_conf;
    int retry, stall;
    struct oreg_registries_conf *conf;
};
#define CMD_REMOTE_INIT                                                                            \
    {                                                                                              \
        .retry = -1                                                                                \
    }

/* Handles one of the shared options; 1 if it was one, 0 if not, or a
 * usage error's exit code (> 1) after printing it. */
int cmd_remote_option(struct cmd_remote *r, const struct ociimg_cmd *cmd, int opt, const char *arg);
/* Loads the registries config and makes a client. */
int cmd_remote_client(struct oreg_client **out, struct cmd_remote *r, int jobs, oreg_event_fn fn,
                      void *ud, struct oci_error **err);
void cmd_remote_clear(struct cmd_remote *r);
/* Pulls ref into l and, streamed, unpacks the image into bundle (see
 * oimg_unpack_stream_new; uo is its unpack options, the platform comes from
 * po).  The manifest is fetched first (libregistry keeps it in memory until
 * every blob is in the layout, and the applier needs the layer order before
 * the first byte), so one or two manifest requests more than a plain pull.
 * uo may be NULL (defaults).  *res (required) and *ures (nullable) are set
 * on success only.  Shared with `run`. */
int cmd_pull_unpack(struct oreg_pull_result **res, struct oimg_unpack_result *ures,
                    struct oreg_client *c, const struct oreg_ref *ref, struct oimg_layout *l,
                    const struct oreg_pull_opts *po, const char *bundle,
                    const struct oimg_unpack_opts *uo, struct oci_error **err);

/* Parses a non-negative number option; false if invalid. */
bool cmd_parse_count(int *out, const char *s, int max);

#endif
