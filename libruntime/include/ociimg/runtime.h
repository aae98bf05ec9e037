/* libruntime: an OCI runtime (runtime-spec 1.0 - 1.3, Linux) with runc's
 * lifecycle: create, start, state, kill, delete, run.
 *
 * State lives below a root directory (default /run/ocirun), one directory per
 * container holding state.json (written atomically) and, between create and
 * start, exec.fifo.  Every command that changes a container holds an flock on
 * its directory, so two commands on one container never interleave.
 *
 * Like every ociimg library this one never prints: warnings (a capability the
 * host cannot grant, a failing poststop hook) go to the context's log
 * callback, errors come back through struct oci_error. */
#ifndef OCIIMG_RUNTIME_H
#define OCIIMG_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <ociimg/error.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ORT_DEFAULT_ROOT "/run/ocirun"
/* The runtime-spec versions whose config.json we accept, and the one we
 * write in state and `spec` output. */
#define ORT_OCI_VERSION_MIN "1.0.0"
#define ORT_OCI_VERSION_MAX "1.3.0"
#define ORT_OCI_VERSION "1.2.0"
/* config.json larger than this is refused before parsing. */
#define ORT_CONFIG_MAX_SIZE (4u * 1024 * 1024)

enum ort_log_level { ORT_LOG_ERROR = 0, ORT_LOG_WARN, ORT_LOG_INFO, ORT_LOG_DEBUG };

typedef void (*ort_log_fn)(void *data, int level, const char *msg);

struct ort_context {
    const char *root; /* state root; NULL = ORT_DEFAULT_ROOT */
    ort_log_fn log;   /* may be NULL: messages are dropped */
    void *log_data;
    bool debug; /* also send ORT_LOG_DEBUG messages */
};

struct ort_create_opts {
    const char *bundle;         /* NULL = current directory */
    const char *pid_file;       /* written (atomically) with the init's pid; NULL = none */
    const char *console_socket; /* AF_UNIX socket receiving the pty master (terminal: true) */
    int preserve_fds;           /* fds 3 .. 3+N-1 are passed to the container process */
    bool no_new_keyring;        /* keep the caller's session keyring */
    bool no_pivot;              /* accepted for runc compatibility; pivot_root is always used */
    const char *const *args;    /* NULL-terminated; replaces process.args when non-NULL */
};

/* create: sets the container up and leaves its init waiting for `start`.
 * stdin/stdout/stderr pass through to the container process untouched. */
int ort_create(const struct ort_context *ctx, const char *id, const struct ort_create_opts *o,
               struct oci_error **err);
/* start: lets a created container's process run (the one-shot exec.fifo). */
int ort_start(const struct ort_context *ctx, const char *id, struct oci_error **err);
/* run: create + start; unless detach, forwards signals to the container,
 * waits, deletes it and stores its exit status in *status (128+N for a
 * signal N). */
int ort_run(const struct ort_context *ctx, const char *id, const struct ort_create_opts *o,
            bool detach, int *status, struct oci_error **err);
/* kill: sends sig to the init (all = to every process of its cgroup). */
int ort_kill(const struct ort_context *ctx, const char *id, int sig, bool all,
             struct oci_error **err);
/* delete: removes a stopped or created container (force: any state, killing
 * it first): cgroups, state directory, then the poststop hooks. */
int ort_delete(const struct ort_context *ctx, const char *id, bool force, struct oci_error **err);
/* state: the runtime-spec state document (plus runc's rootfs/created/owner),
 * malloc'd, pretty-printed. */
int ort_state(const struct ort_context *ctx, const char *id, char **json, struct oci_error **err);

struct ort_list_item {
    char *id;
    pid_t pid; /* 0 when stopped */
    char *status;
    char *bundle;
    char *created; /* RFC 3339 */
    char *owner;
};
int ort_list(const struct ort_context *ctx, struct ort_list_item **items, size_t *n,
             struct oci_error **err);
void ort_list_free(struct ort_list_item *items, size_t n);

/* "KILL", "SIGKILL", "sigkill", "9", "RTMIN+3" -> number; -OCI_ERR_INVALID otherwise. */
int ort_signal_parse(const char *s, int *sig, struct oci_error **err);
/* A container id is 1-1024 of [A-Za-z0-9_+.-], not "." or "..". */
bool ort_id_valid(const char *id);

/* The default config.json `spec` writes (runc's, with a busybox-friendly
 * "sh"); rootless adds a user namespace mapping the caller.  malloc'd. */
char *ort_spec_json(bool rootless);
/* The state root used when ort_context.root is NULL: ORT_DEFAULT_ROOT, or,
 * for a rootless runtime (not root, or in a user namespace an unprivileged
 * user made), $XDG_RUNTIME_DIR/ocirun as runc does; when that is unset or
 * relative, /run/user/<euid>/ocirun if that directory is the user's own,
 * else ORT_DEFAULT_ROOT.  Static storage. */
const char *ort_default_root(void);
/* The runtime-spec features document (features.md), malloc'd. */
char *ort_features_json(void);

/* The config model, for callers that want to inspect or check a bundle. */
struct ort_config;
/* Parses and type-checks a config.json document against the runtime-spec
 * schema (caps: ORT_CONFIG_MAX_SIZE, nesting, array lengths). */
int ort_config_parse(struct ort_config **out, const char *buf, size_t len, struct oci_error **err);
/* Reads BUNDLE/config.json and parses it. */
int ort_config_load(struct ort_config **out, const char *bundle, struct oci_error **err);
/* What a valid config asks that this runtime cannot do on this host:
 * "unsupported: linux.intelRdt", unknown rlimits, duplicate namespaces, ... */
int ort_config_check(const struct ort_config *c, struct oci_error **err);
void ort_config_free(struct ort_config *c);

#ifdef __cplusplus
}
#endif
#endif
