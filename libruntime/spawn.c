/* Creating the container's init: one clone3 with the new namespaces (and a
 * pidfd), then the runtime's half of the sync protocol - id maps, cgroup
 * membership, the createRuntime/prestart hooks when the init asks for them -
 * until the init reports READY or an error. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/sched.h>

#include <ociimg/cleanup.h>
#include <ociimg/fs.h>

#include "rt_private.h"

static int write_map(pid_t pid, const char *file, const struct rt_idmap *m, size_t n,
                     struct oci_error **err)
{
    char buf[RT_MAX_ID_MAPS * 36 + 1];
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%u %u %u\n", m[i].container_id,
                                m[i].host_id, m[i].size);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    /* The kernel takes the whole map in one write. */
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "open %s", path);
    ssize_t w = write(fd, buf, len);
    int e = errno;
    close(fd);
    if (w != (ssize_t)len)
        return oci_error_setsys(err, OCI_ERR_IO, w < 0 ? e : EIO, "write %s", file);
    return 0;
}

/* Rootless, the kernel takes one line mapping our own id, and a gid_map
 * only once setgroups is denied (else a process could drop a group that
 * denies it access); more needs newuidmap, which we do not use. */
static int rootless_map_ok(const struct rt_idmap *m, size_t n, uint32_t self, const char *key,
                           struct oci_error **err)
{
    if (n == 1 && m[0].host_id == self && m[0].size == 1)
        return 0;
    return oci_error_set(err, OCI_ERR_UNSUPPORTED,
                         "rootless container: linux.%s must be one entry mapping the caller's "
                         "id %u (size 1); more ids need newuidmap/newgidmap, which ocirun does not "
                         "use",
                         key, self);
}

static int write_maps(pid_t pid, const struct ort_config *c, struct oci_error **err)
{
    if (rt_rootless()) {
        int r;
        if ((r = rootless_map_ok(c->uid_maps, c->n_uid_maps, (uint32_t)geteuid(), "uidMappings",
                                 err)) < 0 ||
            (r = rootless_map_ok(c->gid_maps, c->n_gid_maps, (uint32_t)getegid(), "gidMappings",
                                 err)) < 0)
            return r;
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "open %s", path);
        ssize_t w = write(fd, "deny", 4);
        int e = errno;
        close(fd);
        if (w != 4)
            return oci_error_setsys(err, OCI_ERR_IO, w < 0 ? e : EIO, "write deny to %s", path);
    }
    int r = write_map(pid, "uid_map", c->uid_maps, c->n_uid_maps, err);
    if (r < 0)
        return r;
    return write_map(pid, "gid_map", c->gid_maps, c->n_gid_maps, err);
}

static pid_t do_clone(int flags, int *pidfd)
{
    struct clone_args args;
    memset(&args, 0, sizeof(args));
    args.flags = (uint64_t)flags | CLONE_PIDFD;
    args.pidfd = (uint64_t)(uintptr_t)pidfd;
    args.exit_signal = SIGCHLD;
    return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

static const char *ns_file(int type)
{
    switch (type) {
    case CLONE_NEWNET:
        return "net";
    case CLONE_NEWIPC:
        return "ipc";
    case CLONE_NEWUTS:
        return "uts";
    case CLONE_NEWNS:
        return "mnt";
    case CLONE_NEWCGROUP:
        return "cgroup";
    default:
        return NULL;
    }
}

/* Our own namespaces while we stand in the container's joined ones. */
struct saved_ns {
    int fds[8];
    int types[8];
    size_t n;
    int cwd; /* joining a mount namespace moves us to its root */
};

/* Puts the runtime back where it was; failing here would leave it in the
 * container's namespaces, so any failure is reported. */
static int restore_ns(struct saved_ns *s)
{
    int r = 0;
    for (size_t i = s->n; i-- > 0;) {
        if (setns(s->fds[i], s->types[i]) < 0 && !r)
            r = -errno;
        close(s->fds[i]);
    }
    s->n = 0;
    if (s->cwd >= 0) {
        if (fchdir(s->cwd) < 0 && !r)
            r = -errno;
        close(s->cwd);
        s->cwd = -1;
    }
    return r;
}

/* A new user namespace with namespaces joined by path: join them here,
 * with the runtime's capabilities, so the clone that creates the user
 * namespace starts the init inside them. */
static int join_before_clone(struct rt_plan *p, struct saved_ns *s, struct oci_error **err)
{
    s->n = 0;
    s->cwd = -1;
    for (size_t i = 0; i < p->n_join; i++) {
        int type = p->join_types[i];
        const char *name = ns_file(type);
        if (!name) {
            restore_ns(s);
            return oci_error_set(err, OCI_ERR_UNSUPPORTED,
                                 "unsupported: joining a namespace of type %#x with a new user "
                                 "namespace",
                                 (unsigned)type);
        }
        char self[64];
        snprintf(self, sizeof(self), "/proc/self/ns/%s", name);
        int own = open(self, O_RDONLY | O_CLOEXEC);
        if (own < 0) {
            int e = errno;
            restore_ns(s);
            return oci_error_setsys(err, OCI_ERR_IO, e, "open %s", self);
        }
        if (type == CLONE_NEWNS && s->cwd < 0)
            s->cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (setns(p->join_fds[i], type) < 0) {
            int e = errno;
            close(own);
            restore_ns(s);
            return oci_error_setsys(err, OCI_ERR_IO, e, "join %s namespace", name);
        }
        s->fds[s->n] = own;
        s->types[s->n] = type;
        s->n++;
    }
    return 0;
}

/* fork_pidns: the first init reports the real one (its sibling, our
 * child) and exits. */
static int take_real_init(int sync, pid_t first, int *pidfd, struct oci_error **err)
{
    struct rt_msg m;
    int n = rt_msg_recv(sync, &m, NULL);
    int status = 0;
    waitpid(first, &status, 0);
    close(*pidfd);
    *pidfd = -1;
    if (n > 0 && m.type == RT_MSG_ERROR) {
        int r = oci_error_set(err, OCI_ERR_IO, "%s", m.text);
        if (err && *err)
            (*err)->sys_errno = m.err;
        return r;
    }
    if (n <= 0 || m.type != RT_MSG_PID || m.val <= 0)
        return oci_error_set(err, OCI_ERR_INTERNAL,
                             "container init: no pid from the new pid namespace (status %#x)",
                             status);
    pid_t pid = (pid_t)m.val;
    /* It is our child (CLONE_PARENT) and unreaped: the pid cannot have
     * been reused. */
    *pidfd = rt_pidfd_open(pid);
    if (*pidfd < 0) {
        int e = errno;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return oci_error_setsys(err, OCI_ERR_IO, e, "pidfd of the container init %d", (int)pid);
    }
    return (int)pid;
}

static void log_msg(const struct rt_plan *p, int level, const char *text)
{
    rt_log(p->ctx, level, "%s", text);
}

int rt_spawn(struct rt_plan *p, int *pidfd_out, int *sync_out, struct oci_error **err)
{
    struct ort_config *c = p->c;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "socketpair");

    /* A pid namespace joined by path applies to our next child only; put
     * ours back right after the clone. */
    _cleanup_close_ int own_pidns = -1;
    const struct rt_ns *pidns = rt_config_ns(c, CLONE_NEWPID);
    if (pidns && pidns->path) {
        own_pidns = open("/proc/self/ns/pid_for_children", O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int fd = open(pidns->path, O_RDONLY | O_CLOEXEC);
        if (own_pidns < 0 || fd < 0 || setns(fd, CLONE_NEWPID) < 0) {
            int e = errno;
            close(sv[0]);
            close(sv[1]);
            return oci_error_setsys(err, OCI_ERR_IO, e, "join pid namespace %s", pidns->path);
        }
    }

    struct saved_ns saved = {.n = 0, .cwd = -1};
    if (p->join_before_clone) {
        int r = join_before_clone(p, &saved, err);
        if (r < 0) {
            if (own_pidns >= 0)
                setns(own_pidns, CLONE_NEWPID);
            close(sv[0]);
            close(sv[1]);
            return r;
        }
    }
    int pidfd = -1;
    pid_t pid = do_clone(p->clone_flags, &pidfd);
    if (pid == 0) {
        close(sv[0]);
        p->sync_fd = sv[1];
        rt_init_main(p);
    }
    int clone_errno = errno;
    if (own_pidns >= 0)
        setns(own_pidns, CLONE_NEWPID);
    int restore_err = restore_ns(&saved);
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return oci_error_setsys(err, OCI_ERR_IO, clone_errno, "clone3 the container init");
    }
    int sync = sv[0];
    int r = 0;
    if (restore_err < 0) {
        r = oci_error_setsys(err, OCI_ERR_IO, -restore_err,
                             "return to the runtime's own namespaces after the clone");
        goto fail;
    }
    if (p->fork_pidns) {
        int real = take_real_init(sync, pid, &pidfd, err);
        pid = -1; /* reaped */
        if (real < 0) {
            r = real;
            goto fail;
        }
        pid = real;
    }
    p->pid = pid;

    if ((p->clone_flags & CLONE_NEWUSER) && (r = write_maps(pid, c, err)) < 0)
        goto fail;
    /* Two GOs: the init starts on its rootfs at the first and waits for the
     * second (cgroups joined) before anything forks or execs. */
    if ((r = rt_msg_send(sync, RT_MSG_GO, 0, pid, NULL)) < 0) {
        r = oci_error_setsys(err, OCI_ERR_IO, -r, "start the container init");
        goto fail;
    }
    if ((r = rt_cgroup_attach(&p->cg, pid, rt_cgroup_limits_asked(c), err)) < 0)
        goto fail;
    rt_msg_send(sync, RT_MSG_GO, 0, pid, NULL);
    for (int steps = 0; steps < 1000; steps++) {
        struct rt_msg m;
        int passed = -1;
        int n = rt_msg_recv(sync, &m, &passed);
        if (passed >= 0 && (m.type != RT_MSG_CONSOLE || p->console_master >= 0)) {
            close(passed);
            passed = -1;
        }
        if (n <= 0) {
            int status = 0;
            waitpid(pid, &status, 0);
            pid = -1;
            if (WIFSIGNALED(status))
                r = oci_error_set(err, OCI_ERR_INTERNAL,
                                  "container init killed by signal %d during setup",
                                  WTERMSIG(status));
            else
                r = oci_error_set(err, OCI_ERR_INTERNAL,
                                  "container init exited with status %d during setup",
                                  WEXITSTATUS(status));
            goto fail;
        }
        switch (m.type) {
        case RT_MSG_ERROR: {
            int code = m.err == EOPNOTSUPP || strncmp(m.text, "unsupported:", 12) == 0
                           ? OCI_ERR_UNSUPPORTED
                           : OCI_ERR_IO;
            r = oci_error_set(err, code, "%s", m.text);
            if (err && *err)
                (*err)->sys_errno = m.err;
            goto fail;
        }
        case RT_MSG_CONSOLE:
            if (passed < 0) {
                r = oci_error_set(err, OCI_ERR_INTERNAL, "container init: no pty master");
                goto fail;
            }
            p->console_master = passed;
            break;
        case RT_MSG_WARN:
            log_msg(p, ORT_LOG_WARN, m.text);
            break;
        case RT_MSG_HOOKS: {
            char why[RT_MAX_MSG];
            _cleanup_free_ char *state = rt_state_json(p, "creating", pid);
            if (rt_hooks_run(&c->hooks[RT_HOOK_PRESTART], "prestart", state, why, sizeof(why)) <
                    0 ||
                rt_hooks_run(&c->hooks[RT_HOOK_CREATE_RUNTIME], "createRuntime", state, why,
                             sizeof(why)) < 0) {
                r = oci_error_set(err, OCI_ERR_INTERNAL, "%s", why);
                goto fail;
            }
            rt_msg_send(sync, RT_MSG_GO, 0, pid, NULL);
            break;
        }
        case RT_MSG_READY:
            *pidfd_out = pidfd;
            *sync_out = sync;
            return 0;
        default:
            r = oci_error_set(err, OCI_ERR_INTERNAL, "container init: unexpected message %d",
                              m.type);
            goto fail;
        }
    }
    r = oci_error_set(err, OCI_ERR_INTERNAL, "container init: too many messages");
fail:
    if (pid > 0) {
        if (pidfd >= 0)
            rt_pidfd_send_signal(pidfd, SIGKILL);
        else
            kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    if (pidfd >= 0)
        close(pidfd);
    close(sync);
    p->pid = 0;
    return r;
}
