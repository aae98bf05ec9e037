/* The state root and one directory per container: state.json (written by
 * rename, so readers never see half a document), exec.fifo while created,
 * and an flock on the directory that serialises commands. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/cleanup.h>
#include <ociimg/fs.h>
#include <ociimg/json.h>

#include "rt_private.h"

#define STATE_MAX_SIZE (4u * 1024 * 1024)

bool ort_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 1024 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '+' || *p == '-' || *p == '.'))
            return false;
    return true;
}

const char *ort_default_root(void)
{
    static char buf[4096];
    if (!rt_rootless())
        return ORT_DEFAULT_ROOT;
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (xdg && xdg[0] == '/' && strlen(xdg) + sizeof("/ocirun") <= sizeof(buf)) {
        snprintf(buf, sizeof(buf), "%s/ocirun", xdg);
        return buf;
    }
    /* No XDG_RUNTIME_DIR (su, sudo -u, a cron job): the user's runtime dir
     * from pam_systemd if there is one and it is really theirs, as crun does. */
    char user[64];
    struct stat st;
    snprintf(user, sizeof(user), "/run/user/%u", (unsigned)geteuid());
    if (stat(user, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
        !(st.st_mode & 022)) {
        snprintf(buf, sizeof(buf), "%s/ocirun", user);
        return buf;
    }
    return ORT_DEFAULT_ROOT;
}

int rt_root_open(const struct ort_context *ctx, bool create, struct oci_error **err)
{
    const char *root = ctx && ctx->root ? ctx->root : ort_default_root();
    /* A rootless user who ends up at the system's root has no runtime dir. */
    const char *hint = rt_rootless() && !(ctx && ctx->root)
                           ? " (rootless: set XDG_RUNTIME_DIR, or give --root)"
                           : "";
    if (create) {
        int r = rt_mkdir_p(root, 0700);
        if (r < 0)
            return oci_error_setsys(err, OCI_ERR_IO, -r, "create state root `%s`%s", root,
                                    r == -EACCES ? hint : "");
    }
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return oci_error_setsys(err, errno == ENOENT ? OCI_ERR_NOT_FOUND : OCI_ERR_IO, errno,
                                "open state root `%s`%s", root, errno == EACCES ? hint : "");
    return fd;
}

static int load_state(struct rt_container *ct, struct oci_error **err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len;
    struct oci_error *e = NULL;
    int r = oimg_read_file_at(&buf, &len, ct->dirfd, "state.json", STATE_MAX_SIZE, &e);
    if (r < 0) {
        if (e && e->sys_errno == ENOENT) {
            oci_error_free(e);
            return 0; /* still creating */
        }
        if (err && !*err)
            *err = e;
        else
            oci_error_free(e);
        return oci_error_wrap(err, "container `%s`: read state", ct->id);
    }
    r = oimg_json_parse(&ct->doc, buf, len, NULL, err);
    if (r < 0)
        return oci_error_wrap(err, "container `%s`: state.json", ct->id);
    int64_t v = 0;
    bool present;
    oimg_json_get_int64(&v, &present, ct->doc, "pid", false, "state", NULL);
    ct->pid = (pid_t)v;
    v = 0;
    oimg_json_get_int64(&v, &present, ct->doc, "pidStartTime", false, "state", NULL);
    ct->start_time = (unsigned long long)v;
    oimg_json_get_string(&ct->bundle, ct->doc, "bundle", false, "state", NULL);
    oimg_json_get_string(&ct->rootfs, ct->doc, "rootfs", false, "state", NULL);
    oimg_json_get_string(&ct->created, ct->doc, "created", false, "state", NULL);
    oimg_json_get_string(&ct->owner, ct->doc, "owner", false, "state", NULL);
    json_object_object_get_ex(ct->doc, "annotations", &ct->annotations);
    json_object_object_get_ex(ct->doc, "hooks", &ct->hooks);
    json_object *o;
    if (json_object_object_get_ex(ct->doc, "ownPidNamespace", &o))
        ct->own_pidns = json_object_get_boolean(o);
    if (json_object_object_get_ex(ct->doc, "cgroups", &o) && rt_cgroup_from_json(&ct->cg, o) < 0)
        return oci_error_set(err, OCI_ERR_INVALID, "container `%s`: state.json: bad cgroups",
                             ct->id);
    return 0;
}

int rt_container_open(const struct ort_context *ctx, const char *id, bool lock,
                      struct rt_container **out, struct oci_error **err)
{
    if (!ort_id_valid(id))
        return oci_error_set(err, OCI_ERR_INVALID, "invalid container id `%s`", id ? id : "");
    struct rt_container *ct = calloc(1, sizeof(*ct));
    if (!ct)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    ct->dirfd = -1;
    ct->id = strdup(id);
    ct->rootfd = rt_root_open(ctx, false, NULL);
    if (ct->rootfd >= 0)
        ct->dirfd = openat(ct->rootfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (ct->dirfd < 0) {
        rt_container_free(ct);
        return oci_error_set(err, OCI_ERR_NOT_FOUND, "container `%s` does not exist", id);
    }
    if (lock) {
        while (flock(ct->dirfd, LOCK_EX) < 0) {
            if (errno != EINTR) {
                int e = errno;
                rt_container_free(ct);
                return oci_error_setsys(err, OCI_ERR_IO, e, "lock container `%s`", id);
            }
        }
        /* A delete that held the lock before us may have removed it. */
        struct stat st;
        if (fstat(ct->dirfd, &st) < 0 || st.st_nlink == 0) {
            rt_container_free(ct);
            return oci_error_set(err, OCI_ERR_NOT_FOUND, "container `%s` does not exist", id);
        }
    }
    int r = load_state(ct, err);
    if (r < 0) {
        rt_container_free(ct);
        return r;
    }
    *out = ct;
    return 0;
}

bool rt_container_alive(const struct rt_container *ct)
{
    bool zombie;
    if (ct->pid <= 0)
        return false;
    unsigned long long st = rt_proc_start_time(ct->pid, &zombie);
    return st != 0 && st == ct->start_time && !zombie;
}

const char *rt_container_status(const struct rt_container *ct)
{
    if (!ct->doc)
        return "creating";
    if (!rt_container_alive(ct))
        return "stopped";
    if (faccessat(ct->dirfd, "exec.fifo", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        return "created";
    return "running";
}

int rt_container_pidfd(const struct rt_container *ct)
{
    if (ct->pid <= 0)
        return -1;
    int fd = rt_pidfd_open(ct->pid);
    if (fd < 0)
        return -1;
    /* The pidfd pins the process: checking the start time after opening it
     * proves it is still our init and not a recycled pid. */
    bool zombie;
    if (rt_proc_start_time(ct->pid, &zombie) != ct->start_time) {
        close(fd);
        return -1;
    }
    return fd;
}

int rt_container_remove(struct rt_container *ct, struct oci_error **err)
{
    static const char *const files[] = {"exec.fifo", "state.json"};
    for (size_t i = 0; i < OCI_ARRAY_SIZE(files); i++)
        if (unlinkat(ct->dirfd, files[i], 0) < 0 && errno != ENOENT)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "remove state of `%s`", ct->id);
    /* Stale temp files of an interrupted write. */
    _cleanup_close_ int dfd = openat(ct->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(TAKE_FD(dfd)) : NULL;
    if (d) {
        struct dirent *de;
        int bound = 4096;
        while ((de = readdir(d)) && bound-- > 0)
            if (strncmp(de->d_name, OIMG_FS_TMP_PREFIX, strlen(OIMG_FS_TMP_PREFIX)) == 0)
                unlinkat(ct->dirfd, de->d_name, 0);
        closedir(d);
    }
    if (unlinkat(ct->rootfd, ct->id, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "remove state directory of `%s`", ct->id);
    return 0;
}

void rt_container_free(struct rt_container *ct)
{
    if (!ct)
        return;
    if (ct->dirfd >= 0)
        close(ct->dirfd);
    if (ct->rootfd >= 0)
        close(ct->rootfd);
    if (ct->doc)
        json_object_put(ct->doc);
    rt_cgroup_free(&ct->cg);
    free(ct->id);
    free(ct);
}

/* The runtime-spec state (id, status, pid, bundle, annotations) plus what
 * runc prints (rootfs, created, owner). */
static json_object *state_object(const char *id, const char *status, pid_t pid, const char *bundle,
                                 const char *rootfs, const char *created, const char *owner,
                                 json_object *annotations)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "ociVersion", json_object_new_string(ORT_OCI_VERSION));
    json_object_object_add(o, "id", json_object_new_string(id));
    json_object_object_add(o, "status", json_object_new_string(status));
    if (pid > 0 && strcmp(status, "stopped") != 0)
        json_object_object_add(o, "pid", json_object_new_int64(pid));
    else
        json_object_object_add(o, "pid", json_object_new_int64(0));
    json_object_object_add(o, "bundle", json_object_new_string(bundle ? bundle : ""));
    json_object_object_add(o, "rootfs", json_object_new_string(rootfs ? rootfs : ""));
    json_object_object_add(o, "created", json_object_new_string(created ? created : ""));
    json_object_object_add(o, "owner", json_object_new_string(owner ? owner : ""));
    json_object_object_add(o, "annotations",
                           annotations ? json_object_get(annotations) : json_object_new_object());
    return o;
}

char *rt_state_json(const struct rt_plan *p, const char *status, pid_t pid)
{
    struct ort_config *c = p->c;
    json_object *o = state_object(p->id, status, pid, p->bundle, p->rootfs, p->created, p->owner,
                                  c->annotations);
    char *s = oimg_json_dump(o, false);
    json_object_put(o);
    return s;
}

char *rt_container_state_json(const struct rt_container *ct, const char *status, bool pretty)
{
    json_object *o = state_object(ct->id, status, ct->pid, ct->bundle, ct->rootfs, ct->created,
                                  ct->owner, ct->annotations);
    char *s = oimg_json_dump(o, pretty);
    json_object_put(o);
    return s;
}

int rt_state_write(int dirfd, const struct rt_plan *p, struct oci_error **err)
{
    bool zombie;
    json_object *o = state_object(p->id, "created", p->pid, p->bundle, p->rootfs, p->created,
                                  p->owner, p->c->annotations);
    json_object_object_add(o, "pidStartTime",
                           json_object_new_int64((int64_t)rt_proc_start_time(p->pid, &zombie)));
    json_object_object_add(o, "ownPidNamespace",
                           json_object_new_boolean(rt_config_ns(p->c, CLONE_NEWPID) &&
                                                   !rt_config_ns(p->c, CLONE_NEWPID)->path));
    json_object_object_add(o, "cgroups", rt_cgroup_to_json(&p->cg));
    /* start and delete run the poststart/poststop hooks of the config that
     * create saw, not of a config.json edited since. */
    json_object *hooks;
    if (json_object_object_get_ex(p->c->doc, "hooks", &hooks))
        json_object_object_add(o, "hooks", json_object_get(hooks));
    char *s = oimg_json_dump(o, false);
    json_object_put(o);
    if (!s)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    int r = oimg_fs_write_atomic(dirfd, "state.json", s, strlen(s), 0600, err);
    free(s);
    if (r < 0)
        return oci_error_wrap(err, "write state.json");
    return 0;
}
