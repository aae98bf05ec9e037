/* config.json -> struct ort_config.  The document is first validated against
 * the schema tables (config_schema.c), so the extraction below can rely on
 * every typed field having its type; strings stay owned by the json-c tree. */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <seccomp.h>

#include <ociimg/cleanup.h>
#include <ociimg/json.h>

#include "rt_private.h"

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (o && json_object_object_get_ex(o, key, &v))
        return v;
    return NULL;
}

static const char *get_str(json_object *o, const char *key)
{
    json_object *v = get(o, key);
    return v ? json_object_get_string(v) : NULL;
}

static bool get_bool(json_object *o, const char *key)
{
    json_object *v = get(o, key);
    return v && json_object_get_boolean(v);
}

static bool get_i64(json_object *o, const char *key, int64_t *out)
{
    json_object *v = get(o, key);
    if (!v)
        return false;
    *out = json_object_get_int64(v);
    return true;
}

static bool get_u64(json_object *o, const char *key, uint64_t *out)
{
    json_object *v = get(o, key);
    if (!v)
        return false;
    int64_t s = json_object_get_int64(v);
    *out = s == INT64_MAX ? json_object_get_uint64(v) : (uint64_t)s;
    return true;
}

static bool get_u32(json_object *o, const char *key, uint32_t *out)
{
    uint64_t v;
    if (!get_u64(o, key, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

/* A NULL-terminated vector of borrowed strings; *n gets the count. */
static int strv(const char ***out, size_t *n, json_object *arr, struct oci_error **err)
{
    size_t len = arr ? json_object_array_length(arr) : 0;
    const char **v = calloc(len + 1, sizeof(*v));
    if (!v)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < len; i++)
        v[i] = json_object_get_string(json_object_array_get_idx(arr, i));
    *out = v;
    if (n)
        *n = len;
    return 0;
}

static void *alloc_array(size_t n, size_t size)
{
    return calloc(n ? n : 1, size);
}

/* ---- names ---- */

static const struct {
    const char *name;
    int resource;
} rlimit_names[] = {
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

static int rlimit_resource(const char *name)
{
    for (size_t i = 0; i < OCI_ARRAY_SIZE(rlimit_names); i++)
        if (strcmp(rlimit_names[i].name, name) == 0)
            return rlimit_names[i].resource;
    return -1;
}

static const struct {
    const char *name;
    int flag;
} ns_names[] = {
    {"pid", CLONE_NEWPID},       {"network", CLONE_NEWNET},
    {"mount", CLONE_NEWNS},      {"ipc", CLONE_NEWIPC},
    {"uts", CLONE_NEWUTS},       {"user", CLONE_NEWUSER},
    {"cgroup", CLONE_NEWCGROUP}, {"time", 0x00000080 /* CLONE_NEWTIME */},
};

const struct rt_ns *rt_config_ns(const struct ort_config *c, int type)
{
    for (size_t i = 0; i < c->n_namespaces; i++)
        if (c->namespaces[i].type == type)
            return &c->namespaces[i];
    return NULL;
}

/* ---- sections ---- */

static int parse_hooks(struct ort_config *c, json_object *hooks, struct oci_error **err)
{
    static const char *const kinds[RT_HOOK__N] = {
        "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"};
    for (int k = 0; k < RT_HOOK__N; k++) {
        json_object *arr = get(hooks, kinds[k]);
        size_t n = arr ? json_object_array_length(arr) : 0;
        if (!n)
            continue;
        struct rt_hook *v = alloc_array(n, sizeof(*v));
        if (!v)
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        c->hooks[k].v = v;
        c->hooks[k].n = n;
        for (size_t i = 0; i < n; i++) {
            json_object *h = json_object_array_get_idx(arr, i);
            int64_t t = 0;
            v[i].path = get_str(h, "path");
            if (get(h, "args") && strv(&v[i].args, NULL, get(h, "args"), err) < 0)
                return -OCI_ERR_NOMEM;
            if (get(h, "env") && strv(&v[i].env, NULL, get(h, "env"), err) < 0)
                return -OCI_ERR_NOMEM;
            if (get_i64(h, "timeout", &t))
                v[i].timeout = t > 86400 ? 86400 : (int)t;
        }
    }
    return 0;
}

static int parse_mounts(struct ort_config *c, json_object *arr, struct oci_error **err)
{
    size_t n = arr ? json_object_array_length(arr) : 0;
    if (n > RT_MAX_MOUNTS)
        return oci_error_set(err, OCI_ERR_TOO_LARGE, "mounts: %zu entries, over the limit of %d", n,
                             RT_MAX_MOUNTS);
    c->mounts = alloc_array(n, sizeof(*c->mounts));
    if (!c->mounts)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    c->n_mounts = n;
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(arr, i);
        struct rt_mount *d = &c->mounts[i];
        d->destination = get_str(m, "destination");
        d->type = get_str(m, "type");
        d->source = get_str(m, "source");
        d->idmapped = get(m, "uidMappings") || get(m, "gidMappings");
        if (strv(&d->options, &d->n_options, get(m, "options"), err) < 0)
            return -OCI_ERR_NOMEM;
    }
    return 0;
}

static int parse_caps(struct ort_config *c, json_object *caps, struct oci_error **err)
{
    static const char *const sets[RT_CAP__N] = {"bounding", "effective", "inheritable", "permitted",
                                                "ambient"};
    size_t total = 0;
    for (int s = 0; s < RT_CAP__N; s++) {
        json_object *a = get(caps, sets[s]);
        total += a ? json_object_array_length(a) : 0;
    }
    c->unknown_caps = alloc_array(total + 1, sizeof(*c->unknown_caps));
    if (!c->unknown_caps)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    c->has_caps = true;
    for (int s = 0; s < RT_CAP__N; s++) {
        json_object *a = get(caps, sets[s]);
        size_t n = a ? json_object_array_length(a) : 0;
        for (size_t i = 0; i < n; i++) {
            const char *name = json_object_get_string(json_object_array_get_idx(a, i));
            int cap = rt_cap_from_name(name);
            if (cap < 0) {
                bool seen = false;
                for (size_t j = 0; j < c->n_unknown_caps; j++)
                    seen |= strcmp(c->unknown_caps[j], name) == 0;
                if (!seen)
                    c->unknown_caps[c->n_unknown_caps++] = name;
                continue;
            }
            c->caps[s] |= 1ULL << cap;
        }
    }
    return 0;
}

static int parse_process(struct ort_config *c, json_object *p, struct oci_error **err)
{
    int r;
    c->has_process = true;
    c->terminal = get_bool(p, "terminal");
    json_object *cs = get(p, "consoleSize");
    c->has_console_size =
        cs && get_u64(cs, "height", &c->console_height) && get_u64(cs, "width", &c->console_width);
    c->cwd = get_str(p, "cwd");
    if ((r = strv(&c->args, &c->n_args, get(p, "args"), err)) < 0)
        return r;
    if ((r = strv(&c->env, &c->n_env, get(p, "env"), err)) < 0)
        return r;
    json_object *user = get(p, "user");
    get_u32(user, "uid", &c->uid);
    get_u32(user, "gid", &c->gid);
    c->has_umask = get_u32(user, "umask", &c->umask);
    json_object *groups = get(user, "additionalGids");
    if (groups) {
        size_t n = json_object_array_length(groups);
        if (n > RT_MAX_GROUPS)
            return oci_error_set(err, OCI_ERR_TOO_LARGE, "process.user.additionalGids: too many");
        c->additional_gids = alloc_array(n, sizeof(uint32_t));
        if (!c->additional_gids)
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
            c->additional_gids[i] =
                (uint32_t)json_object_get_int64(json_object_array_get_idx(groups, i));
        c->n_additional_gids = n;
    }
    if (get(p, "capabilities") && (r = parse_caps(c, get(p, "capabilities"), err)) < 0)
        return r;
    json_object *rl = get(p, "rlimits");
    size_t n = rl ? json_object_array_length(rl) : 0;
    c->rlimits = alloc_array(n, sizeof(*c->rlimits));
    if (!c->rlimits)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    c->n_rlimits = n;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(rl, i);
        c->rlimits[i].name = get_str(e, "type");
        c->rlimits[i].resource = rlimit_resource(c->rlimits[i].name);
        get_u64(e, "soft", &c->rlimits[i].soft);
        get_u64(e, "hard", &c->rlimits[i].hard);
    }
    c->no_new_privileges = get_bool(p, "noNewPrivileges");
    int64_t adj;
    if (get_i64(p, "oomScoreAdj", &adj)) {
        c->has_oom_score_adj = true;
        c->oom_score_adj = adj < -1000 ? -1001 : adj > 1000 ? 1001 : (int)adj;
    }
    const char *apparmor = get_str(p, "apparmorProfile");
    const char *selinux = get_str(p, "selinuxLabel");
    if (apparmor && *apparmor)
        c->process_unsupported = "process.apparmorProfile";
    else if (selinux && *selinux)
        c->process_unsupported = "process.selinuxLabel";
    else if (get(p, "ioPriority"))
        c->process_unsupported = "process.ioPriority";
    else if (get(p, "scheduler"))
        c->process_unsupported = "process.scheduler";
    else if (get(p, "execCPUAffinity"))
        c->process_unsupported = "process.execCPUAffinity";
    return 0;
}

static int parse_idmaps(struct rt_idmap **out, size_t *n_out, json_object *arr, const char *what,
                        struct oci_error **err)
{
    size_t n = arr ? json_object_array_length(arr) : 0;
    if (n > RT_MAX_ID_MAPS)
        return oci_error_set(err, OCI_ERR_TOO_LARGE, "linux.%s: %zu entries, over the limit of %d",
                             what, n, RT_MAX_ID_MAPS);
    struct rt_idmap *v = alloc_array(n, sizeof(*v));
    if (!v)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(arr, i);
        get_u32(m, "containerID", &v[i].container_id);
        get_u32(m, "hostID", &v[i].host_id);
        get_u32(m, "size", &v[i].size);
    }
    *out = v;
    *n_out = n;
    return 0;
}

static int parse_dev_rules(struct rt_resources *res, json_object *arr, struct oci_error **err)
{
    size_t n = json_object_array_length(arr);
    res->devices = alloc_array(n, sizeof(*res->devices));
    if (!res->devices)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    res->n_devices = n;
    for (size_t i = 0; i < n; i++) {
        json_object *d = json_object_array_get_idx(arr, i);
        struct rt_dev_rule *r = &res->devices[i];
        const char *type = get_str(d, "type");
        const char *access = get_str(d, "access");
        r->allow = get_bool(d, "allow");
        if (!type || !*type)
            r->type = 'a';
        else if (strlen(type) == 1 && strchr("acb", type[0]))
            r->type = type[0];
        else
            return oci_error_set(err, OCI_ERR_INVALID,
                                 "linux.resources.devices[%zu].type: \"%s\" is not a, b or c", i,
                                 type);
        if (!get_i64(d, "major", &r->major))
            r->major = -1;
        if (!get_i64(d, "minor", &r->minor))
            r->minor = -1;
        if (!access || !*access)
            access = "rwm";
        size_t k = 0;
        for (const char *a = access; *a; a++) {
            if (!strchr("rwm", *a) || k >= 3 || memchr(r->access, *a, k))
                return oci_error_set(err, OCI_ERR_INVALID,
                                     "linux.resources.devices[%zu].access: \"%s\" is not a subset "
                                     "of rwm",
                                     i, access);
            r->access[k++] = *a;
        }
    }
    return 0;
}

static int parse_resources(struct ort_config *c, json_object *res, struct oci_error **err)
{
    struct rt_resources *r = &c->res;
    c->has_resources = true;
    json_object *mem = get(res, "memory"), *cpu = get(res, "cpu"), *pids = get(res, "pids");
    if (mem) {
        r->has_memory = true;
        r->has_mem_limit = get_i64(mem, "limit", &r->mem_limit);
        r->has_mem_reservation = get_i64(mem, "reservation", &r->mem_reservation);
        r->has_mem_swap = get_i64(mem, "swap", &r->mem_swap);
        r->has_swappiness = get_u64(mem, "swappiness", &r->swappiness);
        r->disable_oom_killer = get_bool(mem, "disableOOMKiller");
        int64_t k;
        if ((get_i64(mem, "kernel", &k) && k != 0) || (get_i64(mem, "kernelTCP", &k) && k != 0))
            r->unsupported = get(mem, "kernel") ? "linux.resources.memory.kernel"
                                                : "linux.resources.memory.kernelTCP";
    }
    if (cpu) {
        r->has_cpu = true;
        r->has_shares = get_u64(cpu, "shares", &r->cpu_shares);
        r->has_period = get_u64(cpu, "period", &r->cpu_period);
        r->has_quota = get_i64(cpu, "quota", &r->cpu_quota);
        r->has_rt_period = get_u64(cpu, "realtimePeriod", &r->cpu_rt_period);
        r->has_rt_runtime = get_i64(cpu, "realtimeRuntime", &r->cpu_rt_runtime);
        r->cpus = get_str(cpu, "cpus");
        r->mems = get_str(cpu, "mems");
        if (get(cpu, "burst"))
            r->unsupported = "linux.resources.cpu.burst";
        else if (get(cpu, "idle"))
            r->unsupported = "linux.resources.cpu.idle";
    }
    if (pids) {
        r->has_pids = true;
        get_i64(pids, "limit", &r->pids_limit);
    }
    if (get(res, "devices")) {
        int rr = parse_dev_rules(r, get(res, "devices"), err);
        if (rr < 0)
            return rr;
    }
    static const char *const unsupported[] = {"blockIO", "hugepageLimits", "network", "rdma"};
    for (size_t i = 0; i < OCI_ARRAY_SIZE(unsupported) && !r->unsupported; i++) {
        json_object *v = get(res, unsupported[i]);
        bool empty =
            v && ((json_object_is_type(v, json_type_array) && json_object_array_length(v) == 0) ||
                  (json_object_is_type(v, json_type_object) && json_object_object_length(v) == 0));
        if (v && !empty) {
            static const char *const names[] = {"linux.resources.blockIO",
                                                "linux.resources.hugepageLimits",
                                                "linux.resources.network", "linux.resources.rdma"};
            r->unsupported = names[i];
        }
    }
    json_object *unified = get(res, "unified");
    if (!r->unsupported && unified && json_object_object_length(unified) > 0)
        r->unsupported = "linux.resources.unified";
    return 0;
}

static int parse_seccomp(struct ort_config *c, json_object *s, struct oci_error **err)
{
    struct rt_seccomp *sc = &c->seccomp;
    c->has_seccomp = true;
    sc->default_action_name = get_str(s, "defaultAction");
    if (rt_seccomp_action(sc->default_action_name, &sc->default_action) < 0)
        return oci_error_set(err, OCI_ERR_INVALID, "linux.seccomp.defaultAction: unknown %s",
                             sc->default_action_name);
    sc->uses_notify =
        strcmp(sc->default_action_name, "SCMP_ACT_NOTIFY") == 0 || get(s, "listenerPath") != NULL;
    sc->has_default_errno = get_u32(s, "defaultErrnoRet", &sc->default_errno);
    json_object *archs = get(s, "architectures");
    size_t n = archs ? json_object_array_length(archs) : 0;
    sc->archs = alloc_array(n, sizeof(uint32_t));
    if (!sc->archs)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *name = json_object_get_string(json_object_array_get_idx(archs, i));
        uint32_t a;
        if (rt_seccomp_arch(name, &a) < 0) {
            if (!sc->bad_arch)
                sc->bad_arch = name;
            continue;
        }
        sc->archs[sc->n_archs++] = a;
    }
    json_object *flags = get(s, "flags");
    for (size_t i = 0; flags && i < json_object_array_length(flags); i++) {
        const char *f = json_object_get_string(json_object_array_get_idx(flags, i));
        if (strcmp(f, "SECCOMP_FILTER_FLAG_TSYNC") == 0)
            sc->flags |= SECCOMP_FILTER_FLAG_TSYNC;
        else if (strcmp(f, "SECCOMP_FILTER_FLAG_LOG") == 0)
            sc->flags |= SECCOMP_FILTER_FLAG_LOG;
        else if (strcmp(f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
            sc->flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
        else
            sc->flags |= RT_SECCOMP_FLAG_UNKNOWN; /* known to the spec, not to us */
    }
    json_object *calls = get(s, "syscalls");
    n = calls ? json_object_array_length(calls) : 0;
    sc->rules = alloc_array(n, sizeof(*sc->rules));
    if (!sc->rules)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    sc->n_rules = n;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(calls, i);
        struct rt_seccomp_rule *r = &sc->rules[i];
        int rr = strv(&r->names, &r->n_names, get(e, "names"), err);
        if (rr < 0)
            return rr;
        r->action_name = get_str(e, "action");
        if (rt_seccomp_action(r->action_name, &r->action) < 0)
            return oci_error_set(err, OCI_ERR_INVALID,
                                 "linux.seccomp.syscalls[%zu].action: "
                                 "unknown %s",
                                 i, r->action_name);
        if (strcmp(r->action_name, "SCMP_ACT_NOTIFY") == 0)
            sc->uses_notify = true;
        r->has_errno = get_u32(e, "errnoRet", &r->errno_ret);
        json_object *args = get(e, "args");
        r->n_args = args ? json_object_array_length(args) : 0;
        if (r->n_args > 6)
            return oci_error_set(err, OCI_ERR_INVALID,
                                 "linux.seccomp.syscalls[%zu].args: more than 6 conditions", i);
        r->args = alloc_array(r->n_args, sizeof(*r->args));
        if (!r->args)
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        for (size_t j = 0; j < r->n_args; j++) {
            json_object *a = json_object_array_get_idx(args, j);
            get_u32(a, "index", &r->args[j].index);
            get_u64(a, "value", &r->args[j].value);
            get_u64(a, "valueTwo", &r->args[j].value_two);
            if (r->args[j].index > 5)
                return oci_error_set(err, OCI_ERR_INVALID,
                                     "linux.seccomp.syscalls[%zu].args[%zu].index: %u is over 5", i,
                                     j, r->args[j].index);
            rt_seccomp_op(get_str(a, "op"), &r->args[j].op);
        }
    }
    return 0;
}

static int parse_linux(struct ort_config *c, json_object *l, struct oci_error **err)
{
    int r;
    c->has_linux = true;
    json_object *ns = get(l, "namespaces");
    size_t n = ns ? json_object_array_length(ns) : 0;
    c->namespaces = alloc_array(n, sizeof(*c->namespaces));
    if (!c->namespaces)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    c->n_namespaces = n;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(ns, i);
        const char *type = get_str(e, "type");
        c->namespaces[i].name = type;
        c->namespaces[i].path = get_str(e, "path");
        for (size_t k = 0; k < OCI_ARRAY_SIZE(ns_names); k++)
            if (strcmp(ns_names[k].name, type) == 0)
                c->namespaces[i].type = ns_names[k].flag;
    }
    if ((r = parse_idmaps(&c->uid_maps, &c->n_uid_maps, get(l, "uidMappings"), "uidMappings",
                          err)) < 0)
        return r;
    if ((r = parse_idmaps(&c->gid_maps, &c->n_gid_maps, get(l, "gidMappings"), "gidMappings",
                          err)) < 0)
        return r;

    json_object *devs = get(l, "devices");
    n = devs ? json_object_array_length(devs) : 0;
    c->devices = alloc_array(n, sizeof(*c->devices));
    if (!c->devices)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    c->n_devices = n;
    for (size_t i = 0; i < n; i++) {
        json_object *d = json_object_array_get_idx(devs, i);
        struct rt_device *dv = &c->devices[i];
        dv->path = get_str(d, "path");
        dv->type = get_str(d, "type")[0];
        get_i64(d, "major", &dv->major);
        get_i64(d, "minor", &dv->minor);
        dv->has_mode = get_u32(d, "fileMode", &dv->mode);
        dv->has_uid = get_u32(d, "uid", &dv->uid);
        dv->has_gid = get_u32(d, "gid", &dv->gid);
    }

    if (get(l, "resources") && (r = parse_resources(c, get(l, "resources"), err)) < 0)
        return r;
    c->cgroups_path = get_str(l, "cgroupsPath");
    const char *prop = get_str(l, "rootfsPropagation");
    if (prop)
        c->rootfs_propagation = strcmp(prop, "private") == 0  ? MS_PRIVATE
                                : strcmp(prop, "shared") == 0 ? MS_SHARED
                                : strcmp(prop, "slave") == 0  ? MS_SLAVE
                                                              : MS_UNBINDABLE;
    if (get(l, "seccomp") && (r = parse_seccomp(c, get(l, "seccomp"), err)) < 0)
        return r;

    json_object *sysctl = get(l, "sysctl");
    n = sysctl ? (size_t)json_object_object_length(sysctl) : 0;
    c->sysctl = alloc_array(n, sizeof(*c->sysctl));
    if (!c->sysctl)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    if (sysctl) {
        json_object_object_foreach(sysctl, key, val)
        {
            c->sysctl[c->n_sysctl].key = key;
            c->sysctl[c->n_sysctl].value = json_object_get_string(val);
            c->n_sysctl++;
        }
    }
    if ((r = strv(&c->masked_paths, &c->n_masked, get(l, "maskedPaths"), err)) < 0)
        return r;
    if ((r = strv(&c->readonly_paths, &c->n_readonly, get(l, "readonlyPaths"), err)) < 0)
        return r;
    if (c->n_mounts + c->n_masked + c->n_readonly > RT_MAX_MOUNTS)
        return oci_error_set(err, OCI_ERR_TOO_LARGE,
                             "mounts, maskedPaths and readonlyPaths: over %d entries",
                             RT_MAX_MOUNTS);

    const char *label = get_str(l, "mountLabel");
    static const char *const unsupported[] = {"intelRdt", "timeOffsets", "personality",
                                              "memoryPolicy", "netDevices"};
    for (size_t i = 0; i < OCI_ARRAY_SIZE(unsupported) && !c->linux_unsupported; i++)
        if (get(l, unsupported[i])) {
            static const char *const names[] = {"linux.intelRdt", "linux.timeOffsets",
                                                "linux.personality", "linux.memoryPolicy",
                                                "linux.netDevices"};
            c->linux_unsupported = names[i];
        }
    if (!c->linux_unsupported && label && *label)
        c->linux_unsupported = "linux.mountLabel";
    return 0;
}

int rt_config_from_json(struct ort_config **out, json_object *doc, struct oci_error **err)
{
    int r = rt_schema_validate_config(doc, err);
    if (r < 0)
        return r;
    struct ort_config *c = calloc(1, sizeof(*c));
    if (!c)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    c->doc = json_object_get(doc);
    c->oci_version = get_str(doc, "ociVersion");
    json_object *root = get(doc, "root");
    c->root_path = get_str(root, "path");
    c->root_readonly = get_bool(root, "readonly");
    c->hostname = get_str(doc, "hostname");
    c->has_hostname = c->hostname != NULL;
    c->domainname = get_str(doc, "domainname");
    c->has_domainname = c->domainname != NULL;
    c->annotations = get(doc, "annotations");

    static const char *const platforms[] = {"windows", "solaris", "vm", "zos", "freebsd"};
    for (size_t i = 0; i < OCI_ARRAY_SIZE(platforms) && !c->platform_unsupported; i++)
        if (get(doc, platforms[i]))
            c->platform_unsupported = platforms[i];

    if ((r = parse_mounts(c, get(doc, "mounts"), err)) < 0 ||
        (get(doc, "process") && (r = parse_process(c, get(doc, "process"), err)) < 0) ||
        (get(doc, "hooks") && (r = parse_hooks(c, get(doc, "hooks"), err)) < 0) ||
        (get(doc, "linux") && (r = parse_linux(c, get(doc, "linux"), err)) < 0)) {
        ort_config_free(c);
        return r;
    }
    *out = c;
    return 0;
}

int ort_config_parse(struct ort_config **out, const char *buf, size_t len, struct oci_error **err)
{
    struct oimg_json_limits lim = {.max_size = ORT_CONFIG_MAX_SIZE, .max_depth = 32};
    _cleanup_json_ json_object *doc = NULL;
    int r = oimg_json_parse(&doc, buf, len, &lim, err);
    if (r < 0)
        return oci_error_wrap(err, "config.json");
    struct ort_config *c;
    r = rt_config_from_json(&c, doc, err);
    if (r < 0)
        return oci_error_wrap(err, "config.json");
    *out = c;
    return 0;
}

int ort_config_load(struct ort_config **out, const char *bundle, struct oci_error **err)
{
    _cleanup_close_ int dfd = open(bundle ? bundle : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return oci_error_setsys(err, errno == ENOENT ? OCI_ERR_NOT_FOUND : OCI_ERR_IO, errno,
                                "open bundle `%s`", bundle ? bundle : ".");
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    int r = oimg_read_file_at(&buf, &len, dfd, "config.json", ORT_CONFIG_MAX_SIZE, err);
    if (r < 0)
        return oci_error_wrap(err, "bundle `%s`", bundle ? bundle : ".");
    return ort_config_parse(out, buf, len, err);
}

static void free_strvp(const char **v)
{
    free((void *)v);
}

void ort_config_free(struct ort_config *oc)
{
    struct ort_config *c = oc;
    if (!c)
        return;
    for (size_t i = 0; c->mounts && i < c->n_mounts; i++)
        free_strvp(c->mounts[i].options);
    free(c->mounts);
    free_strvp(c->args);
    free_strvp(c->env);
    free(c->additional_gids);
    free_strvp(c->unknown_caps);
    free(c->rlimits);
    for (int k = 0; k < RT_HOOK__N; k++) {
        for (size_t i = 0; i < c->hooks[k].n; i++) {
            free_strvp(c->hooks[k].v[i].args);
            free_strvp(c->hooks[k].v[i].env);
        }
        free(c->hooks[k].v);
    }
    free(c->namespaces);
    free(c->uid_maps);
    free(c->gid_maps);
    free(c->devices);
    free(c->res.devices);
    free(c->seccomp.archs);
    for (size_t i = 0; c->seccomp.rules && i < c->seccomp.n_rules; i++) {
        free_strvp(c->seccomp.rules[i].names);
        free(c->seccomp.rules[i].args);
    }
    free(c->seccomp.rules);
    free(c->sysctl);
    free_strvp(c->masked_paths);
    free_strvp(c->readonly_paths);
    if (c->doc)
        json_object_put(c->doc);
    free(c);
}
