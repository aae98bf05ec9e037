/* What a schema-valid config asks that this runtime refuses: everything not
 * implemented is named ("unsupported: linux.intelRdt"), never ignored, and
 * inconsistent requests (a duplicate namespace, a sysctl outside the
 * container's namespaces, an unknown rlimit) are errors before any work. */
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include <ociimg/cleanup.h>

#include "rt_private.h"

static int unsupported(struct oci_error **err, const char *what)
{
    return oci_error_set(err, OCI_ERR_UNSUPPORTED, "unsupported: %s", what);
}

/* Which namespace a sysctl belongs to (runc's rules); 0 = none, refused. */
static int sysctl_ns(const char *key)
{
    static const char *const ipc[] = {"kernel.msgmax", "kernel.msgmnb",         "kernel.msgmni",
                                      "kernel.sem",    "kernel.shmall",         "kernel.shmmax",
                                      "kernel.shmmni", "kernel.shm_rmid_forced"};
    for (size_t i = 0; i < OCI_ARRAY_SIZE(ipc); i++)
        if (strcmp(key, ipc[i]) == 0)
            return CLONE_NEWIPC;
    if (strncmp(key, "fs.mqueue.", 10) == 0)
        return CLONE_NEWIPC;
    if (strncmp(key, "net.", 4) == 0)
        return CLONE_NEWNET;
    if (strcmp(key, "kernel.hostname") == 0 || strcmp(key, "kernel.domainname") == 0)
        return CLONE_NEWUTS;
    return 0;
}

static int check_version(const char *v, struct oci_error **err)
{
    /* 1.x.y[-suffix]: every 1.x document is read; 0.x and 2.x are not ours. */
    if (!v || strncmp(v, "1.", 2) != 0)
        return oci_error_set(err, OCI_ERR_UNSUPPORTED,
                             "unsupported: ociVersion \"%s\" (this runtime reads 1.x)", v ? v : "");
    return 0;
}

int ort_config_check(const struct ort_config *c, struct oci_error **err)
{
    int r;
    if ((r = check_version(c->oci_version, err)) < 0)
        return r;
    if (c->platform_unsupported)
        return unsupported(err, c->platform_unsupported);
    if (!c->root_path || !*c->root_path)
        return oci_error_set(err, OCI_ERR_INVALID, "root.path: required");
    if (!c->has_process)
        return oci_error_set(err, OCI_ERR_INVALID, "process: required to run a container");
    if (!c->has_linux)
        return oci_error_set(err, OCI_ERR_INVALID, "linux: required on Linux");
    if (c->process_unsupported)
        return unsupported(err, c->process_unsupported);
    if (c->linux_unsupported)
        return unsupported(err, c->linux_unsupported);
    if (c->res.unsupported)
        return unsupported(err, c->res.unsupported);
    if (c->n_args == 0)
        return oci_error_set(err, OCI_ERR_INVALID, "process.args: empty");
    if (!c->cwd || c->cwd[0] != '/')
        return oci_error_set(err, OCI_ERR_INVALID, "process.cwd \"%s\": must be absolute",
                             c->cwd ? c->cwd : "");

    int seen = 0;
    for (size_t i = 0; i < c->n_namespaces; i++) {
        const struct rt_ns *ns = &c->namespaces[i];
        if (seen & ns->type)
            return oci_error_set(err, OCI_ERR_INVALID,
                                 "linux.namespaces: duplicate namespace type \"%s\"", ns->name);
        seen |= ns->type;
        if (strcmp(ns->name, "time") == 0)
            return unsupported(err, "linux.namespaces: time");
        if (ns->path && ns->path[0] != '/')
            return oci_error_set(err, OCI_ERR_INVALID,
                                 "linux.namespaces: %s path \"%s\" is not absolute", ns->name,
                                 ns->path);
    }
    if (!(seen & CLONE_NEWNS))
        return unsupported(err, "a container without its own mount namespace");
    const struct rt_ns *user = rt_config_ns(c, CLONE_NEWUSER);
    if (user && !user->path && (c->n_uid_maps == 0 || c->n_gid_maps == 0))
        return oci_error_set(err, OCI_ERR_INVALID,
                             "linux.namespaces: a new user namespace needs uidMappings and "
                             "gidMappings");
    if ((!user || user->path) && (c->n_uid_maps || c->n_gid_maps))
        return oci_error_set(err, OCI_ERR_INVALID,
                             "linux.uidMappings/gidMappings: given without a new user namespace");
    const struct rt_ns *uts = rt_config_ns(c, CLONE_NEWUTS);
    if ((c->has_hostname && *c->hostname) || (c->has_domainname && *c->domainname)) {
        if (!uts || uts->path)
            return oci_error_set(err, OCI_ERR_INVALID,
                                 "hostname/domainname: need a new uts namespace");
    }

    for (size_t i = 0; i < c->n_rlimits; i++) {
        const struct rt_rlimit *l = &c->rlimits[i];
        if (l->resource < 0)
            return oci_error_set(err, OCI_ERR_INVALID, "process.rlimits[%zu]: unknown type %s", i,
                                 l->name);
        if (l->soft > l->hard)
            return oci_error_set(err, OCI_ERR_INVALID,
                                 "process.rlimits[%zu]: %s soft limit above the hard limit", i,
                                 l->name);
        for (size_t k = 0; k < i; k++)
            if (c->rlimits[k].resource == l->resource)
                return oci_error_set(err, OCI_ERR_INVALID, "process.rlimits: duplicate %s",
                                     l->name);
    }
    if (c->has_oom_score_adj && (c->oom_score_adj < -1000 || c->oom_score_adj > 1000))
        return oci_error_set(err, OCI_ERR_INVALID, "process.oomScoreAdj: outside [-1000, 1000]");

    for (size_t i = 0; i < c->n_sysctl; i++) {
        const char *key = c->sysctl[i].key;
        int ns = sysctl_ns(key);
        if (!ns)
            return oci_error_set(err, OCI_ERR_INVALID,
                                 "linux.sysctl: %s is not namespaced; refusing to change the host",
                                 key);
        const struct rt_ns *e = rt_config_ns(c, ns);
        if (!e || (ns != CLONE_NEWNET && e->path))
            return oci_error_set(err, OCI_ERR_INVALID,
                                 "linux.sysctl: %s needs the container's own %s namespace", key,
                                 ns == CLONE_NEWNET   ? "network"
                                 : ns == CLONE_NEWIPC ? "ipc"
                                                      : "uts");
    }

    if (c->has_seccomp) {
        if (c->seccomp.uses_notify)
            return unsupported(err, "linux.seccomp notify (SCMP_ACT_NOTIFY, listenerPath)");
        if (c->seccomp.bad_arch) {
            char buf[128];
            snprintf(buf, sizeof(buf), "linux.seccomp.architectures %s", c->seccomp.bad_arch);
            return unsupported(err, buf);
        }
        if (c->seccomp.flags & RT_SECCOMP_FLAG_UNKNOWN)
            return unsupported(err, "linux.seccomp.flags SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV");
    }
    for (size_t i = 0; i < c->n_mounts; i++) {
        const struct rt_mount *m = &c->mounts[i];
        if (m->idmapped) {
            char buf[256];
            snprintf(buf, sizeof(buf), "mounts[%zu]: uidMappings/gidMappings", i);
            return unsupported(err, buf);
        }
        if (!m->destination[0])
            return oci_error_set(err, OCI_ERR_INVALID, "mounts[%zu].destination: empty", i);
    }
    for (size_t i = 0; i < c->n_devices; i++) {
        const struct rt_device *d = &c->devices[i];
        if (d->type != 'p' && (d->major < 0 || d->minor < 0))
            return oci_error_set(err, OCI_ERR_INVALID,
                                 "linux.devices[%zu]: major and minor are required", i);
    }
    return 0;
}
