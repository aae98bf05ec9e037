/* The runtime-spec config schema (schema/config-schema.json and what it
 * references, v1.3.0) as static tables, and one small validator walking them.
 * Every property the schema types is checked - types, integer ranges, enums,
 * patterns, required keys - including sections this runtime does not
 * implement, so a bad document is refused the way a schema validator would.
 * Non-Linux platform sections are checked only where their schema is small
 * (freebsd's sharing modes); the others must be objects. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <ociimg/cleanup.h>

#include "rt_private.h"

enum vkind { K_OBJ = 1, K_ARR, K_STR, K_BOOL, K_INT, K_MAP };
enum vrange {
    R_ANY,
    R_INT8,
    R_INT32,
    R_INT64,
    R_UINT8,
    R_UINT16,
    R_UINT32,
    R_UINT64,
    R_FILEMODE,
    R_MIN1
};

struct vprop;
struct vnode {
    unsigned char kind;
    unsigned char range;            /* K_INT */
    unsigned char min_items;        /* K_ARR */
    const struct vprop *props;      /* K_OBJ: known properties, {NULL} terminated */
    const struct vnode *items;      /* K_ARR items, K_MAP values */
    const char *const *enums;       /* K_STR: NULL-terminated allowed values */
    bool (*pattern)(const char *s); /* K_STR */
    const char *pattern_text;
};

struct vprop {
    const char *key;
    const struct vnode *node;
    bool required;
};

/* ---- patterns (hand-written: the schema's regexes are all anchored and tiny) ---- */

static bool pat_pagesize(const char *s) /* ^[1-9][0-9]*[KMG]B$ */
{
    if (*s < '1' || *s > '9')
        return false;
    while (*s >= '0' && *s <= '9')
        s++;
    return (s[0] == 'K' || s[0] == 'M' || s[0] == 'G') && s[1] == 'B' && s[2] == '\0';
}

static bool pat_rlimit(const char *s) /* ^RLIMIT_[A-Z]+$ */
{
    if (strncmp(s, "RLIMIT_", 7) != 0 || !s[7])
        return false;
    for (s += 7; *s; s++)
        if (*s < 'A' || *s > 'Z')
            return false;
    return true;
}

static bool pat_devtype(const char *s) /* ^[cbup]$ */
{
    return s[0] && strchr("cbup", s[0]) && s[1] == '\0';
}

static bool pat_cpuset(const char *s) /* ^[0-9, -]*$ */
{
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || *s == ',' || *s == ' ' || *s == '-'))
            return false;
    return true;
}

static bool pat_membw(const char *s) /* ^MB:[^\n]*$ */
{
    return strncmp(s, "MB:", 3) == 0 && !strchr(s, '\n');
}

/* ---- scalar nodes ---- */

static const struct vnode n_str = {.kind = K_STR};
static const struct vnode n_bool = {.kind = K_BOOL};
static const struct vnode n_int = {.kind = K_INT, .range = R_ANY};
static const struct vnode n_i32 = {.kind = K_INT, .range = R_INT32};
static const struct vnode n_i64 = {.kind = K_INT, .range = R_INT64};
static const struct vnode n_u8 = {.kind = K_INT, .range = R_UINT8};
static const struct vnode n_u16 = {.kind = K_INT, .range = R_UINT16};
static const struct vnode n_u32 = {.kind = K_INT, .range = R_UINT32};
static const struct vnode n_u64 = {.kind = K_INT, .range = R_UINT64};
static const struct vnode n_filemode = {.kind = K_INT, .range = R_FILEMODE};
static const struct vnode n_min1 = {.kind = K_INT, .range = R_MIN1};
static const struct vnode n_strs = {.kind = K_ARR, .items = &n_str};
static const struct vnode n_u32s = {.kind = K_ARR, .items = &n_u32};
static const struct vnode n_mapstr = {.kind = K_MAP, .items = &n_str};
static const struct vnode n_anyobj = {.kind = K_OBJ};

#define ENUM(name, ...)                                                                            \
    static const char *const name##_v[] = {__VA_ARGS__, NULL};                                     \
    static const struct vnode name = {.kind = K_STR, .enums = name##_v}
#define PATTERN(name, fn, text)                                                                    \
    static const struct vnode name = {.kind = K_STR, .pattern = fn, .pattern_text = text}
#define OBJ(name, ...)                                                                             \
    static const struct vprop name##_p[] = {__VA_ARGS__, {NULL, NULL, false}};                     \
    static const struct vnode name = {.kind = K_OBJ, .props = name##_p}
#define ARR(name, item) static const struct vnode name = {.kind = K_ARR, .items = &item}
#define MAP(name, item) static const struct vnode name = {.kind = K_MAP, .items = &item}

/* ---- defs.json ---- */

OBJ(n_hook, {"path", &n_str, true}, {"args", &n_strs, false}, {"env", &n_strs, false},
    {"timeout", &n_min1, false});
ARR(n_hooks, n_hook);
OBJ(n_idmap, {"containerID", &n_u32, true}, {"hostID", &n_u32, true}, {"size", &n_u32, true});
ARR(n_idmaps, n_idmap);
OBJ(n_mount, {"source", &n_str, false}, {"destination", &n_str, true}, {"options", &n_strs, false},
    {"type", &n_str, false}, {"uidMappings", &n_idmaps, false}, {"gidMappings", &n_idmaps, false});
ARR(n_mounts, n_mount);

/* ---- defs-linux.json ---- */

ENUM(n_personality_domain, "LINUX", "LINUX32");
OBJ(n_personality, {"domain", &n_personality_domain, false}, {"flags", &n_strs, false});
ENUM(n_propagation, "private", "shared", "slave", "unbindable");
ENUM(n_seccomp_arch, "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM",
     "SCMP_ARCH_AARCH64", "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K", "SCMP_ARCH_MIPS",
     "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
     "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE",
     "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB", "SCMP_ARCH_PARISC",
     "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64");
ARR(n_seccomp_archs, n_seccomp_arch);
ENUM(n_seccomp_action, "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
     "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",
     "SCMP_ACT_NOTIFY");
ENUM(n_seccomp_flag, "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
     "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV");
ARR(n_seccomp_flags, n_seccomp_flag);
ENUM(n_seccomp_op, "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE",
     "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ");
OBJ(n_syscall_arg, {"index", &n_u32, true}, {"value", &n_u64, true}, {"valueTwo", &n_u64, false},
    {"op", &n_seccomp_op, true});
ARR(n_syscall_args, n_syscall_arg);
static const struct vnode n_syscall_names = {.kind = K_ARR, .items = &n_str, .min_items = 1};
OBJ(n_syscall, {"names", &n_syscall_names, true}, {"action", &n_seccomp_action, true},
    {"errnoRet", &n_u32, false}, {"args", &n_syscall_args, false});
ARR(n_syscalls, n_syscall);
PATTERN(n_devtype, pat_devtype, "^[cbup]$");
OBJ(n_device, {"type", &n_devtype, true}, {"path", &n_str, true}, {"fileMode", &n_filemode, false},
    {"major", &n_i64, false}, {"minor", &n_i64, false}, {"uid", &n_u32, false},
    {"gid", &n_u32, false});
ARR(n_devices, n_device);
OBJ(n_netdevice, {"name", &n_str, false});
MAP(n_netdevices, n_netdevice);
OBJ(n_blkio_weight_dev, {"major", &n_i64, true}, {"minor", &n_i64, true}, {"weight", &n_u16, false},
    {"leafWeight", &n_u16, false});
ARR(n_blkio_weight_devs, n_blkio_weight_dev);
OBJ(n_blkio_throttle, {"major", &n_i64, true}, {"minor", &n_i64, true}, {"rate", &n_u64, false});
ARR(n_blkio_throttles, n_blkio_throttle);
OBJ(n_dev_cgroup, {"allow", &n_bool, true}, {"type", &n_str, false}, {"major", &n_i64, false},
    {"minor", &n_i64, false}, {"access", &n_str, false});
ARR(n_dev_cgroups, n_dev_cgroup);
ENUM(n_mpol_mode, "MPOL_DEFAULT", "MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE",
     "MPOL_PREFERRED", "MPOL_PREFERRED_MANY", "MPOL_LOCAL");
ENUM(n_mpol_flag, "MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES");
ARR(n_mpol_flags, n_mpol_flag);
OBJ(n_net_prio, {"name", &n_str, true}, {"priority", &n_u32, true});
ARR(n_net_prios, n_net_prio);
OBJ(n_rdma, {"hcaHandles", &n_u32, false}, {"hcaObjects", &n_u32, false});
MAP(n_rdmas, n_rdma);
ENUM(n_ns_type, "mount", "pid", "network", "uts", "ipc", "user", "cgroup", "time");
OBJ(n_ns_ref, {"type", &n_ns_type, true}, {"path", &n_str, false});
ARR(n_ns_refs, n_ns_ref);
OBJ(n_time_offsets, {"secs", &n_i64, false}, {"nanosecs", &n_u32, false});
ENUM(n_sched_policy, "SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_ISO",
     "SCHED_IDLE", "SCHED_DEADLINE");
ENUM(n_sched_flag, "SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_RECLAIM", "SCHED_FLAG_DL_OVERRUN",
     "SCHED_FLAG_KEEP_POLICY", "SCHED_FLAG_KEEP_PARAMS", "SCHED_FLAG_UTIL_CLAMP_MIN",
     "SCHED_FLAG_UTIL_CLAMP_MAX");
ARR(n_sched_flags, n_sched_flag);

/* ---- config-linux.json ---- */

OBJ(n_pids, {"limit", &n_i64, true});
OBJ(n_blkio, {"weight", &n_u16, false}, {"leafWeight", &n_u16, false},
    {"throttleReadBpsDevice", &n_blkio_throttles, false},
    {"throttleWriteBpsDevice", &n_blkio_throttles, false},
    {"throttleReadIOPSDevice", &n_blkio_throttles, false},
    {"throttleWriteIOPSDevice", &n_blkio_throttles, false},
    {"weightDevice", &n_blkio_weight_devs, false});
OBJ(n_cpu, {"cpus", &n_str, false}, {"mems", &n_str, false}, {"period", &n_u64, false},
    {"quota", &n_i64, false}, {"burst", &n_u64, false}, {"realtimePeriod", &n_u64, false},
    {"realtimeRuntime", &n_i64, false}, {"shares", &n_u64, false}, {"idle", &n_i64, false});
PATTERN(n_pagesize, pat_pagesize, "^[1-9][0-9]*[KMG]B$");
OBJ(n_hugepage, {"pageSize", &n_pagesize, true}, {"limit", &n_u64, true});
ARR(n_hugepages, n_hugepage);
OBJ(n_memory, {"kernel", &n_i64, false}, {"kernelTCP", &n_i64, false}, {"limit", &n_i64, false},
    {"reservation", &n_i64, false}, {"swap", &n_i64, false}, {"swappiness", &n_u64, false},
    {"disableOOMKiller", &n_bool, false}, {"useHierarchy", &n_bool, false},
    {"checkBeforeUpdate", &n_bool, false});
OBJ(n_network, {"classID", &n_u32, false}, {"priorities", &n_net_prios, false});
OBJ(n_resources, {"unified", &n_mapstr, false}, {"devices", &n_dev_cgroups, false},
    {"pids", &n_pids, false}, {"blockIO", &n_blkio, false}, {"cpu", &n_cpu, false},
    {"hugepageLimits", &n_hugepages, false}, {"memory", &n_memory, false},
    {"network", &n_network, false}, {"rdma", &n_rdmas, false});
OBJ(n_seccomp, {"defaultAction", &n_seccomp_action, true}, {"defaultErrnoRet", &n_u32, false},
    {"flags", &n_seccomp_flags, false}, {"listenerPath", &n_str, false},
    {"listenerMetadata", &n_str, false}, {"architectures", &n_seccomp_archs, false},
    {"syscalls", &n_syscalls, false});
PATTERN(n_membw, pat_membw, "^MB:[^\\n]*$");
OBJ(n_intel_rdt, {"closID", &n_str, false}, {"schemata", &n_strs, false},
    {"l3CacheSchema", &n_str, false}, {"memBwSchema", &n_membw, false},
    {"enableMonitoring", &n_bool, false});
OBJ(n_memory_policy, {"mode", &n_mpol_mode, false}, {"nodes", &n_str, false},
    {"flags", &n_mpol_flags, false});
OBJ(n_time_ns, {"boottime", &n_time_offsets, false}, {"monotonic", &n_time_offsets, false});
OBJ(n_linux, {"devices", &n_devices, false}, {"netDevices", &n_netdevices, false},
    {"uidMappings", &n_idmaps, false}, {"gidMappings", &n_idmaps, false},
    {"namespaces", &n_ns_refs, false}, {"resources", &n_resources, false},
    {"cgroupsPath", &n_str, false}, {"rootfsPropagation", &n_propagation, false},
    {"seccomp", &n_seccomp, false}, {"sysctl", &n_mapstr, false}, {"maskedPaths", &n_strs, false},
    {"readonlyPaths", &n_strs, false}, {"mountLabel", &n_str, false},
    {"intelRdt", &n_intel_rdt, false}, {"memoryPolicy", &n_memory_policy, false},
    {"personality", &n_personality, false}, {"timeOffsets", &n_time_ns, false});

/* ---- config-freebsd.json (small enough to check) ---- */

ENUM(n_sharing, "disable", "new", "inherit");
ENUM(n_sharing_nodisable, "new", "inherit");
OBJ(n_fbsd_device, {"path", &n_str, false}, {"mode", &n_filemode, false});
ARR(n_fbsd_devices, n_fbsd_device);
OBJ(n_fbsd_allow, {"setHostname", &n_bool, false}, {"rawSockets", &n_bool, false},
    {"chflags", &n_bool, false}, {"mount", &n_strs, false}, {"quotas", &n_bool, false},
    {"socketAf", &n_bool, false}, {"mlock", &n_bool, false}, {"reservedPorts", &n_bool, false},
    {"suser", &n_bool, false});
OBJ(n_fbsd_jail, {"parent", &n_str, false}, {"host", &n_sharing_nodisable, false},
    {"ip4", &n_sharing, false}, {"ip4Addr", &n_strs, false}, {"ip6", &n_sharing, false},
    {"ip6Addr", &n_strs, false}, {"vnet", &n_sharing_nodisable, false},
    {"interface", &n_str, false}, {"vnetInterfaces", &n_strs, false},
    {"sysvmsg", &n_sharing, false}, {"sysvsem", &n_sharing, false}, {"sysvshm", &n_sharing, false},
    {"enforceStatfs", &n_u8, false}, {"allow", &n_fbsd_allow, false});
OBJ(n_freebsd, {"devices", &n_fbsd_devices, false}, {"jail", &n_fbsd_jail, false});

/* ---- config-schema.json ---- */

OBJ(n_config_hooks, {"prestart", &n_hooks, false}, {"createRuntime", &n_hooks, false},
    {"createContainer", &n_hooks, false}, {"startContainer", &n_hooks, false},
    {"poststart", &n_hooks, false}, {"poststop", &n_hooks, false});
OBJ(n_root, {"path", &n_str, true}, {"readonly", &n_bool, false});
OBJ(n_console_size, {"height", &n_u64, true}, {"width", &n_u64, true});
OBJ(n_user, {"uid", &n_u32, false}, {"gid", &n_u32, false}, {"umask", &n_u32, false},
    {"additionalGids", &n_u32s, false}, {"username", &n_str, false});
OBJ(n_caps, {"bounding", &n_strs, false}, {"permitted", &n_strs, false},
    {"effective", &n_strs, false}, {"inheritable", &n_strs, false}, {"ambient", &n_strs, false});
ENUM(n_ioprio_class, "IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE");
OBJ(n_ioprio, {"class", &n_ioprio_class, true}, {"priority", &n_i32, false});
OBJ(n_scheduler, {"policy", &n_sched_policy, true}, {"nice", &n_i32, false},
    {"priority", &n_i32, false}, {"flags", &n_sched_flags, false}, {"runtime", &n_u64, false},
    {"deadline", &n_u64, false}, {"period", &n_u64, false});
PATTERN(n_rlimit_type, pat_rlimit, "^RLIMIT_[A-Z]+$");
OBJ(n_rlimit, {"hard", &n_u64, true}, {"soft", &n_u64, true}, {"type", &n_rlimit_type, true});
ARR(n_rlimits, n_rlimit);
PATTERN(n_cpuset_str, pat_cpuset, "^[0-9, -]*$");
OBJ(n_affinity, {"initial", &n_cpuset_str, false}, {"final", &n_cpuset_str, false});
OBJ(n_process, {"args", &n_strs, false}, {"commandLine", &n_str, false},
    {"consoleSize", &n_console_size, false}, {"cwd", &n_str, true}, {"env", &n_strs, false},
    {"terminal", &n_bool, false}, {"user", &n_user, false}, {"capabilities", &n_caps, false},
    {"apparmorProfile", &n_str, false}, {"oomScoreAdj", &n_int, false},
    {"selinuxLabel", &n_str, false}, {"ioPriority", &n_ioprio, false},
    {"noNewPrivileges", &n_bool, false}, {"scheduler", &n_scheduler, false},
    {"rlimits", &n_rlimits, false}, {"execCPUAffinity", &n_affinity, false});
OBJ(n_config, {"ociVersion", &n_str, true}, {"hooks", &n_config_hooks, false},
    {"annotations", &n_mapstr, false}, {"hostname", &n_str, false}, {"domainname", &n_str, false},
    {"mounts", &n_mounts, false}, {"root", &n_root, false}, {"process", &n_process, false},
    {"linux", &n_linux, false}, {"solaris", &n_anyobj, false}, {"windows", &n_anyobj, false},
    {"vm", &n_anyobj, false}, {"zos", &n_anyobj, false}, {"freebsd", &n_freebsd, false});

/* ---- the validator ---- */

#define PATH_MAX_LEN 256

static const char *type_name(json_object *o)
{
    return o ? json_type_to_name(json_object_get_type(o)) : "null";
}

static int range_check(json_object *o, int range, const char *path, struct oci_error **err)
{
    int64_t v = json_object_get_int64(o);
    /* json-c keeps integers above INT64_MAX as uint64; get_int64 clamps them. */
    bool big = v == INT64_MAX && json_object_get_uint64(o) > (uint64_t)INT64_MAX;
    int64_t lo = 0, hi = INT64_MAX;
    bool hi_big_ok = false;
    switch (range) {
    case R_ANY:
        return 0;
    case R_INT8:
        lo = INT8_MIN, hi = INT8_MAX;
        break;
    case R_INT32:
        lo = INT32_MIN, hi = INT32_MAX;
        break;
    case R_INT64:
        lo = INT64_MIN;
        break;
    case R_UINT8:
        hi = UINT8_MAX;
        break;
    case R_UINT16:
        hi = UINT16_MAX;
        break;
    case R_UINT32:
        hi = UINT32_MAX;
        break;
    case R_UINT64:
        hi_big_ok = true;
        break;
    case R_FILEMODE:
        hi = 511;
        break;
    case R_MIN1:
        lo = 1;
        hi_big_ok = true;
        break;
    }
    if ((big && !hi_big_ok) || (!big && (v < lo || v > hi)))
        return oci_error_set(err, OCI_ERR_INVALID, "%s: integer %s out of range", path,
                             json_object_get_string(o));
    return 0;
}

static int validate(json_object *o, const struct vnode *n, char *path, size_t plen, int depth,
                    struct oci_error **err);

/* Descends into a child, appending ".key" (or "[idx]" when key is NULL) to
 * the path used in messages. */
static int validate_child(json_object *o, const struct vnode *n, char *path, size_t plen, int depth,
                          const char *key, size_t idx, struct oci_error **err)
{
    size_t len = strlen(path);
    if (key)
        snprintf(path + len, plen - len, "%s%s", len ? "." : "", key);
    else
        snprintf(path + len, plen - len, "[%zu]", idx);
    int r = validate(o, n, path, plen, depth + 1, err);
    path[len] = '\0';
    return r;
}

static int validate(json_object *o, const struct vnode *n, char *path, size_t plen, int depth,
                    struct oci_error **err)
{
    const char *where = path[0] ? path : "config";
    if (depth > 16)
        return oci_error_set(err, OCI_ERR_TOO_LARGE, "%s: nested too deeply", where);
    switch (n->kind) {
    case K_STR:
        if (!json_object_is_type(o, json_type_string))
            return oci_error_set(err, OCI_ERR_INVALID, "%s: expected a string, got %s", where,
                                 type_name(o));
        if (n->enums) {
            const char *s = json_object_get_string(o);
            for (const char *const *e = n->enums; *e; e++)
                if (strcmp(*e, s) == 0)
                    return 0;
            return oci_error_set(err, OCI_ERR_INVALID, "%s: \"%s\" is not an allowed value", where,
                                 s);
        }
        if (n->pattern && !n->pattern(json_object_get_string(o)))
            return oci_error_set(err, OCI_ERR_INVALID, "%s: \"%s\" does not match %s", where,
                                 json_object_get_string(o), n->pattern_text);
        return 0;
    case K_BOOL:
        if (!json_object_is_type(o, json_type_boolean))
            return oci_error_set(err, OCI_ERR_INVALID, "%s: expected a boolean, got %s", where,
                                 type_name(o));
        return 0;
    case K_INT:
        if (!json_object_is_type(o, json_type_int))
            return oci_error_set(err, OCI_ERR_INVALID, "%s: expected an integer, got %s", where,
                                 type_name(o));
        return range_check(o, n->range, where, err);
    case K_ARR: {
        if (!json_object_is_type(o, json_type_array))
            return oci_error_set(err, OCI_ERR_INVALID, "%s: expected an array, got %s", where,
                                 type_name(o));
        size_t len = json_object_array_length(o);
        if (len > RT_MAX_ARRAY)
            return oci_error_set(err, OCI_ERR_TOO_LARGE, "%s: %zu entries, over the limit of %d",
                                 where, len, RT_MAX_ARRAY);
        if (len < n->min_items)
            return oci_error_set(err, OCI_ERR_INVALID, "%s: needs at least %d entries", where,
                                 n->min_items);
        for (size_t i = 0; i < len; i++) {
            int r = validate_child(json_object_array_get_idx(o, i), n->items, path, plen, depth,
                                   NULL, i, err);
            if (r < 0)
                return r;
        }
        return 0;
    }
    case K_MAP:
    case K_OBJ: {
        if (!json_object_is_type(o, json_type_object))
            return oci_error_set(err, OCI_ERR_INVALID, "%s: expected an object, got %s", where,
                                 type_name(o));
        if (json_object_object_length(o) > RT_MAX_ARRAY)
            return oci_error_set(err, OCI_ERR_TOO_LARGE, "%s: more than %d keys", where,
                                 RT_MAX_ARRAY);
        const char *sep = path[0] ? "." : "";
        if (n->kind == K_MAP) {
            json_object_object_foreach(o, key, val)
            {
                /* mapStringString's pattern ".{1,}" leaves "" unchecked. */
                if (!key[0] && n->items == &n_str)
                    continue;
                int r = validate_child(val, n->items, path, plen, depth, key, 0, err);
                if (r < 0)
                    return r;
            }
            return 0;
        }
        for (const struct vprop *p = n->props; p && p->key; p++) {
            json_object *val;
            if (!json_object_object_get_ex(o, p->key, &val)) {
                if (p->required)
                    return oci_error_set(err, OCI_ERR_INVALID, "%s%s%s: required", path, sep,
                                         p->key);
                continue;
            }
            int r = validate_child(val, p->node, path, plen, depth, p->key, 0, err);
            if (r < 0)
                return r;
        }
        return 0;
    }
    }
    return oci_error_set(err, OCI_ERR_INTERNAL, "%s: bad schema node", where);
}

int rt_schema_validate_config(json_object *doc, struct oci_error **err)
{
    char path[PATH_MAX_LEN] = "";
    return validate(doc, &n_config, path, sizeof(path), 0, err);
}
