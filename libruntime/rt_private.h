/* Internals shared by the files of libruntime: the config model and the
 * helpers each mechanism needs from the others. */
#ifndef OCIIMG_RT_PRIVATE_H
#define OCIIMG_RT_PRIVATE_H

#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include <ociimg/error.h>
#include <ociimg/runtime.h>

/* ---- limits on what a config.json may ask for (every loop is bounded) ---- */
#define RT_MAX_ARRAY 4096    /* any array: mounts, env, args, rules, ... */
#define RT_MAX_MOUNTS 1024   /* mounts + maskedPaths + readonlyPaths */
#define RT_MAX_ID_MAPS 340   /* the kernel's limit per uid_map/gid_map */
#define RT_MAX_GROUPS 65536  /* NGROUPS_MAX */
#define RT_MAX_MSG 4096      /* one message between the runtime and the init */
#define RT_MAX_HOOK_OUT 4096 /* state JSON given to a hook fits a pipe anyway */

/* ---- the config model: strings are borrowed from the json-c document ---- */

enum rt_hook_kind {
    RT_HOOK_PRESTART,
    RT_HOOK_CREATE_RUNTIME,
    RT_HOOK_CREATE_CONTAINER,
    RT_HOOK_START_CONTAINER,
    RT_HOOK_POSTSTART,
    RT_HOOK_POSTSTOP,
    RT_HOOK__N
};

struct rt_hook {
    const char *path;
    const char **args; /* NULL-terminated; NULL = { path } */
    const char **env;  /* NULL-terminated; NULL = empty environment */
    int timeout;       /* seconds; 0 = none */
};

struct rt_hooks {
    struct rt_hook *v;
    size_t n;
};

struct rt_idmap {
    uint32_t container_id, host_id, size;
};

struct rt_mount {
    const char *destination;
    const char *type;   /* may be NULL (bind mounts) */
    const char *source; /* may be NULL */
    const char **options;
    size_t n_options;
    bool idmapped; /* uidMappings/gidMappings present */
};

struct rt_ns {
    int type;         /* CLONE_NEW* */
    const char *name; /* "pid", ... as written */
    const char *path; /* NULL = create a new one */
};

struct rt_rlimit {
    const char *name;
    int resource; /* -1 when the name is unknown */
    uint64_t soft, hard;
};

struct rt_device {
    const char *path;
    char type; /* c, b, u, p */
    int64_t major, minor;
    bool has_mode, has_uid, has_gid;
    uint32_t mode, uid, gid;
};

struct rt_dev_rule {
    bool allow;
    char type;            /* a, c, b */
    int64_t major, minor; /* -1 = any */
    char access[4];       /* subset of "rwm" */
};

struct rt_sysctl {
    const char *key, *value;
};

struct rt_seccomp_arg {
    uint32_t index;
    uint64_t value, value_two;
    int op; /* enum scmp_compare */
};

struct rt_seccomp_rule {
    const char **names;
    size_t n_names;
    uint32_t action; /* SCMP_ACT_* without errno */
    bool has_errno;
    uint32_t errno_ret;
    struct rt_seccomp_arg *args;
    size_t n_args;
    const char *action_name;
};

/* A flag the spec names and the runtime does not support (refused by config_check). */
#define RT_SECCOMP_FLAG_UNKNOWN (1u << 31)

struct rt_seccomp {
    uint32_t default_action;
    const char *default_action_name;
    bool has_default_errno;
    uint32_t default_errno;
    uint32_t *archs;
    size_t n_archs;
    unsigned flags;       /* SECCOMP_FILTER_FLAG_*, passed to seccomp(2) as they are */
    bool uses_notify;     /* an SCMP_ACT_NOTIFY action or listenerPath */
    const char *bad_arch; /* an architecture libseccomp does not know */
    struct rt_seccomp_rule *rules;
    size_t n_rules;
};

enum rt_capset {
    RT_CAP_BOUNDING,
    RT_CAP_EFFECTIVE,
    RT_CAP_INHERITABLE,
    RT_CAP_PERMITTED,
    RT_CAP_AMBIENT,
    RT_CAP__N
};

struct rt_resources {
    bool has_memory;
    int64_t mem_limit, mem_reservation, mem_swap;
    bool has_mem_limit, has_mem_reservation, has_mem_swap, has_swappiness;
    uint64_t swappiness;
    bool disable_oom_killer;
    bool has_cpu;
    uint64_t cpu_shares, cpu_period, cpu_rt_period;
    int64_t cpu_quota, cpu_rt_runtime;
    bool has_shares, has_period, has_quota, has_rt_period, has_rt_runtime;
    const char *cpus, *mems;
    bool has_pids;
    int64_t pids_limit;
    struct rt_dev_rule *devices;
    size_t n_devices;
    /* asked for but not implemented: the first such key, for the refusal */
    const char *unsupported;
};

struct ort_config {
    json_object *doc; /* owns every borrowed string */
    const char *oci_version;
    const char *root_path;
    bool root_readonly;
    const char *hostname, *domainname;
    bool has_hostname, has_domainname;
    struct rt_mount *mounts;
    size_t n_mounts;
    json_object *annotations; /* borrowed object or NULL */

    /* process */
    bool has_process;
    bool terminal;
    bool has_console_size;
    uint64_t console_height, console_width;
    const char **args; /* NULL-terminated */
    size_t n_args;
    const char **env; /* NULL-terminated */
    size_t n_env;
    const char *cwd;
    uint32_t uid, gid;
    bool has_umask;
    uint32_t umask;
    uint32_t *additional_gids;
    size_t n_additional_gids;
    bool has_caps;
    uint64_t caps[RT_CAP__N];
    const char **unknown_caps; /* names we do not know: a warning each */
    size_t n_unknown_caps;
    struct rt_rlimit *rlimits;
    size_t n_rlimits;
    bool no_new_privileges;
    bool has_oom_score_adj;
    int oom_score_adj;
    const char *process_unsupported; /* e.g. "process.ioPriority" */

    struct rt_hooks hooks[RT_HOOK__N];

    /* linux */
    bool has_linux;
    struct rt_ns *namespaces;
    size_t n_namespaces;
    struct rt_idmap *uid_maps, *gid_maps;
    size_t n_uid_maps, n_gid_maps;
    struct rt_device *devices;
    size_t n_devices;
    struct rt_resources res;
    bool has_resources;
    const char *cgroups_path;
    unsigned long rootfs_propagation; /* MS_* or 0 */
    bool has_seccomp;
    struct rt_seccomp seccomp;
    struct rt_sysctl *sysctl;
    size_t n_sysctl;
    const char **masked_paths;
    size_t n_masked;
    const char **readonly_paths;
    size_t n_readonly;
    const char *linux_unsupported;    /* e.g. "linux.intelRdt" */
    const char *platform_unsupported; /* e.g. "windows" */
};

/* ---- config_schema.c: the runtime-spec JSON schema as tables ---- */
int rt_schema_validate_config(json_object *doc, struct oci_error **err);

/* ---- config.c ---- */
int rt_config_from_json(struct ort_config **out, json_object *doc, struct oci_error **err);
/* The namespace entry of a type, or NULL. */
const struct rt_ns *rt_config_ns(const struct ort_config *c, int type);

/* ---- caps.c ---- */
int rt_cap_from_name(const char *name); /* -1 unknown */
const char *rt_cap_name(int cap);
int rt_cap_last(void); /* highest capability the kernel knows */
uint64_t rt_cap_bounding_now(void);
/* Applies the five sets (uid/gid switching happens around it, see init.c). */
int rt_caps_drop_bounding(uint64_t keep, char *why, size_t whylen);
int rt_caps_set(const uint64_t sets[RT_CAP__N], char *why, size_t whylen);

/* ---- signals.c ---- */
const char *rt_signal_name(int sig);

/* ---- util.c ---- */
int rt_write_file_at(int dirfd, const char *path, const char *buf, size_t len);
int rt_read_small_at(int dirfd, const char *path, char *buf, size_t size); /* returns length */
/* Start time (clock ticks since boot, /proc/PID/stat field 22) and whether
 * the process is a zombie or gone; 0 when it no longer exists. */
unsigned long long rt_proc_start_time(pid_t pid, bool *zombie);
int rt_mkdir_p(const char *path, mode_t mode);
/* Whether the runtime runs without privileges over the host: euid != 0, or
 * in a user namespace that does not map all of the host's ids (one an
 * unprivileged user created).  Cached. */
bool rt_rootless(void);
void rt_log(const struct ort_context *ctx, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
char *rt_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rt_now_rfc3339(char *buf, size_t len);
int rt_pidfd_open(pid_t pid);
int rt_pidfd_send_signal(int pidfd, int sig);
/* Joins argv-like NULL-terminated arrays; counts elements. */
size_t rt_strv_len(const char *const *v);

/* ---- seccomp.c ---- */
/* Translates the config into a ready-to-load BPF program (in the init, while
 * the runtime joins the cgroups); returns an opaque handle. */
struct rt_seccomp_prog;
int rt_seccomp_compile(struct rt_seccomp_prog **out, const struct rt_seccomp *s, char *why,
                       size_t whylen);
int rt_seccomp_load(struct rt_seccomp_prog *p, char *why, size_t whylen);
int rt_seccomp_action(const char *name, uint32_t *action); /* -1 unknown */
int rt_seccomp_arch(const char *name, uint32_t *arch);
int rt_seccomp_op(const char *name, int *op);

/* ---- cgroup.c ---- */
#define RT_MAX_HIER 16
struct rt_cgroup_hier {
    char *mnt;         /* mount point, e.g. /sys/fs/cgroup/memory */
    char *controllers; /* "cpu,cpuacct", "name=systemd"; "" for cgroup2 */
    bool v2;
    char *path;        /* the container's directory (absolute path) */
    char *rel;         /* the container's cgroup as the hierarchy sees it, "/x" */
    int created_depth; /* how many trailing components we created */
    uint32_t bpf_prog; /* v2: the device filter we attached (id), 0 = none */
};
struct rt_cgroups {
    struct rt_cgroup_hier h[RT_MAX_HIER];
    size_t n;
    bool unified; /* pure cgroup v2 */
    /* hybrid: the eBPF device filter on the cgroup2 directory (defence in
     * depth over the v1 devices controller) failed; why, for a warning */
    char devices_warning[256];
    /* Rootless (rt_rootless): hierarchies we may not write were dropped
     * from h[]; what was skipped and why, for a debug log. */
    bool rootless;
    char skipped[512];
    /* linux.resources.devices could not be enforced (rootless): why. */
    char devices_skipped[256];
};
int rt_cgroup_plan(struct rt_cgroups *cg, const char *cgroups_path, const char *id,
                   struct oci_error **err);
int rt_cgroup_create(struct rt_cgroups *cg, const struct ort_config *c, struct oci_error **err);
/* Moves pid into each cgroup.  Rootless and !need_all (no limits asked
 * for), a hierarchy this user may not move it into is skipped. */
bool rt_cgroup_limits_asked(const struct ort_config *c);
int rt_cgroup_attach(struct rt_cgroups *cg, pid_t pid, bool need_all, struct oci_error **err);
/* Removes the directories (waiting briefly for exiting processes); with
 * kill_first, SIGKILLs whatever is still inside. */
int rt_cgroup_destroy(struct rt_cgroups *cg, bool kill_first, struct oci_error **err);
int rt_cgroup_signal_all(const struct rt_cgroups *cg, int sig, struct oci_error **err);
void rt_cgroup_free(struct rt_cgroups *cg);
const struct rt_cgroup_hier *rt_cgroup_find(const struct rt_cgroups *cg, const char *controller);
json_object *rt_cgroup_to_json(const struct rt_cgroups *cg);
int rt_cgroup_from_json(struct rt_cgroups *cg, json_object *o);

/* ---- bpfdev.c: linux.resources.devices on cgroup v2 (eBPF) ---- */
struct bpf_insn;
/* The rules (in config order: the last matching one wins, nothing matching
 * is denied) as a BPF_PROG_TYPE_CGROUP_DEVICE program; malloc'd. -errno. */
int rt_bpfdev_compile(const struct rt_dev_rule *rules, size_t n, struct bpf_insn **out,
                      size_t *n_out);
/* Compiles, loads and attaches it to a cgroup2 directory (BPF_F_ALLOW_MULTI);
 * *prog_id is its id, for rt_bpfdev_detach (removing the directory also
 * detaches it). */
int rt_bpfdev_attach(const char *cgroup_dir, const struct rt_dev_rule *rules, size_t n,
                     uint32_t *prog_id, struct oci_error **err);
int rt_bpfdev_detach(const char *cgroup_dir, uint32_t prog_id, struct oci_error **err);
/* What the device cgroup enforces: linux.resources.devices, then the
 * defaults every runtime allows, then each linux.devices node.  malloc'd;
 * -ENOMEM. */
int rt_dev_rules_effective(const struct ort_config *c, struct rt_dev_rule **out, size_t *n_out);

/* ---- the plan of one create: what the runtime and the init share ---- */
enum rt_msg_type {
    RT_MSG_GO = 1,  /* runtime -> init: continue (val: the init's pid on the host) */
    RT_MSG_ERROR,   /* init -> runtime: text is the cause */
    RT_MSG_HOOKS,   /* init -> runtime: run prestart + createRuntime now */
    RT_MSG_READY,   /* init -> runtime: waiting for start */
    RT_MSG_START,   /* runtime -> init (run): exec now */
    RT_MSG_WARN,    /* init -> runtime: a warning to log, then carry on */
    RT_MSG_CONSOLE, /* init -> runtime: the pty master rides along (SCM_RIGHTS) */
    RT_MSG_PID,     /* first init -> runtime: the real init's pid (fork_pidns) */
};

struct rt_msg {
    int32_t type;
    int32_t err; /* errno behind an RT_MSG_ERROR */
    int64_t val;
    char text[RT_MAX_MSG];
};

struct rt_plan {
    const struct ort_context *ctx;
    struct ort_config *c;
    const char *id;
    char *bundle; /* absolute */
    char *rootfs; /* absolute, on the host */
    int state_dirfd;
    int fifo_fd; /* exec.fifo opened O_RDWR (create) or -1 (run) */
    int sync_fd; /* the init's end of the socketpair */
    bool is_run;
    bool no_new_keyring;
    int preserve_fds;
    const char *const *args;
    uint64_t caps[RT_CAP__N]; /* after dropping what the host cannot grant */
    struct rt_cgroups cg;
    int clone_flags;   /* namespaces created by clone3 */
    int unshare_flags; /* created by the init itself (cgroup, or all with a joined userns) */
    int join_fds[8];
    int join_types[8];
    size_t n_join;
    bool join_user;
    /* New user namespace + namespaces joined by path: the runtime joins
     * those before the clone, the init must not. */
    bool join_before_clone;
    /* Joined user namespace + new pid namespace: the first init joins, then
     * clones the real one into the new namespaces (init.c). */
    bool fork_pidns;
    const char *console_socket;
    int console_master; /* runtime side: the pty master the init sent, or -1 */
    pid_t pid;          /* the init, on the host */
    char created[40];
    char *owner;
};

/* init.c: the container's init, after clone; never returns. */
__attribute__((noreturn)) void rt_init_main(struct rt_plan *p);
/* Messages on the sync socket. */
int rt_msg_send(int fd, int type, int err, int64_t val, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* 0 on EOF, 1 on a message, -errno.  A descriptor sent with the message
 * lands in *passed (O_CLOEXEC) when passed is not NULL, else is closed. */
int rt_msg_recv(int fd, struct rt_msg *m, int *passed);
int rt_msg_send_fd(int fd, int type, int passfd);
/* Sends passfd over an AF_UNIX socket connected to path (--console-socket). */
int rt_console_socket_send(const char *path, int passfd, struct oci_error **err);

/* mount.c */
int rt_rootfs_setup(struct rt_plan *p, int *rootfd_out, char *why, size_t whylen);
int rt_rootfs_finish(struct rt_plan *p, int rootfd, char *why, size_t whylen); /* masks, pivot */
/* devices.c */
int rt_devices_setup(struct rt_plan *p, int rootfd, bool userns, char *why, size_t whylen);
bool rt_devices_needed(const struct ort_config *c);
/* Opens (creating as needed) a path inside the root: O_PATH fd. */
int rt_mkpath_in_root(int rootfd, const char *path, bool file, char *why, size_t whylen);
int rt_open_in_root(int rootfd, const char *path, int flags);

/* hooks.c */
int rt_hooks_run(const struct rt_hooks *h, const char *kind, const char *state_json, char *why,
                 size_t whylen);
/* state.c: the state document as hooks and `state` see it. */
char *rt_state_json(const struct rt_plan *p, const char *status, pid_t pid);

/* ---- state.c: one container's directory below the root ---- */
struct rt_container {
    char *id;
    int rootfd, dirfd; /* dirfd is flock'ed when opened with lock */
    json_object *doc;  /* state.json, NULL while creating */
    pid_t pid;
    unsigned long long start_time;
    const char *bundle, *rootfs, *created, *owner; /* borrowed from doc */
    json_object *annotations, *hooks;              /* hooks: the config's, kept by create */
    struct rt_cgroups cg;
    bool own_pidns;
};
int rt_root_open(const struct ort_context *ctx, bool create, struct oci_error **err);
int rt_container_open(const struct ort_context *ctx, const char *id, bool lock,
                      struct rt_container **out, struct oci_error **err);
/* "creating", "created", "running" or "stopped". */
const char *rt_container_status(const struct rt_container *ct);
bool rt_container_alive(const struct rt_container *ct);
/* A pidfd for the init, checked against the recorded start time; -1 if gone. */
int rt_container_pidfd(const struct rt_container *ct);
int rt_container_remove(struct rt_container *ct, struct oci_error **err);
void rt_container_free(struct rt_container *ct);
int rt_state_write(int dirfd, const struct rt_plan *p, struct oci_error **err);
char *rt_container_state_json(const struct rt_container *ct, const char *status, bool pretty);

/* spawn.c: clone the init and drive it until it waits for start. */
int rt_spawn(struct rt_plan *p, int *pidfd_out, int *sync_out, struct oci_error **err);

#endif
