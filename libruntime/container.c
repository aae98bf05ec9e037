/* The lifecycle (runtime.md): create -> created -> start -> running ->
 * stopped -> delete, and run = create + start + wait + delete.  Every
 * command that changes a container holds the flock on its state directory. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <linux/nsfs.h>

#include <ociimg/cleanup.h>
#include <ociimg/fs.h>
#include <ociimg/json.h>

#include "rt_private.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define DEATH_WAIT_MS 10000

static void plan_release(struct rt_plan *p)
{
    for (size_t i = 0; i < p->n_join; i++)
        if (p->join_fds[i] >= 0)
            close(p->join_fds[i]);
    p->n_join = 0;
    if (p->fifo_fd >= 0)
        close(p->fifo_fd);
    p->fifo_fd = -1;
    if (p->console_master >= 0)
        close(p->console_master);
    p->console_master = -1;
    rt_cgroup_free(&p->cg);
    ort_config_free(p->c);
    p->c = NULL;
    free(p->bundle);
    free(p->rootfs);
    free(p->owner);
    p->bundle = p->rootfs = p->owner = NULL;
}

static void warn_caps(const struct rt_plan *p)
{
    const struct ort_config *c = p->c;
    for (size_t i = 0; i < c->n_unknown_caps; i++)
        rt_log(p->ctx, ORT_LOG_WARN, "unknown capability %s: ignored", c->unknown_caps[i]);
    uint64_t asked = 0, got = 0;
    for (int s = 0; s < RT_CAP__N; s++) {
        asked |= c->caps[s];
        got |= p->caps[s];
    }
    for (int cap = 0; cap < 64; cap++)
        if ((asked & ~got) & (1ULL << cap))
            rt_log(p->ctx, ORT_LOG_WARN,
                   "capability %s is not in the runtime's bounding set: dropped",
                   rt_cap_name(cap) ? rt_cap_name(cap) : "?");
}

static int plan_namespaces(struct rt_plan *p, struct oci_error **err)
{
    const struct ort_config *c = p->c;
    int created = 0;
    for (size_t i = 0; i < c->n_namespaces; i++) {
        const struct rt_ns *ns = &c->namespaces[i];
        if (!ns->path) {
            created |= ns->type;
            continue;
        }
        int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return oci_error_setsys(err, OCI_ERR_NOT_FOUND, errno, "linux.namespaces: open %s",
                                    ns->path);
        int type = ioctl(fd, NS_GET_NSTYPE);
        if (type != ns->type) {
            close(fd);
            return oci_error_set(err, OCI_ERR_INVALID, "linux.namespaces: %s is not a %s namespace",
                                 ns->path, ns->name);
        }
        if (ns->type == CLONE_NEWPID) {
            close(fd); /* spawn.c joins it for the clone */
            continue;
        }
        p->join_fds[p->n_join] = fd;
        p->join_types[p->n_join] = ns->type;
        p->n_join++;
        p->join_user |= ns->type == CLONE_NEWUSER;
    }
    if (p->join_user) {
        /* The init joins the user namespace first (what it creates then
         * belongs to it); a new pid namespace needs one more process. */
        p->clone_flags = 0;
        p->unshare_flags = created;
        p->fork_pidns = (created & CLONE_NEWPID) != 0;
    } else {
        p->clone_flags = created & ~CLONE_NEWCGROUP;
        p->unshare_flags = created & CLONE_NEWCGROUP;
        /* Namespaces joined by path belong to some other user namespace,
         * where an init born in a new one has no capabilities: the runtime
         * joins them and the init is born inside. */
        p->join_before_clone = (created & CLONE_NEWUSER) && p->n_join > 0;
    }
    return 0;
}

static int plan_prepare(struct rt_plan *p, const struct ort_context *ctx, const char *id,
                        const struct ort_create_opts *o, bool run, struct oci_error **err)
{
    memset(p, 0, sizeof(*p));
    p->ctx = ctx;
    p->id = id;
    p->fifo_fd = -1;
    p->sync_fd = -1;
    p->console_master = -1;
    p->state_dirfd = -1;
    p->is_run = run;
    p->preserve_fds = o && o->preserve_fds > 0 ? o->preserve_fds : 0;
    p->no_new_keyring = o && o->no_new_keyring;
    p->args = o ? o->args : NULL;
    const char *bundle = o && o->bundle ? o->bundle : ".";
    p->bundle = realpath(bundle, NULL);
    if (!p->bundle)
        return oci_error_setsys(err, OCI_ERR_NOT_FOUND, errno, "bundle `%s`", bundle);
    int r = ort_config_load(&p->c, p->bundle, err);
    if (r < 0)
        return r;
    if ((r = ort_config_check(p->c, err)) < 0)
        return r;
    if (p->args && !p->args[0])
        return oci_error_set(err, OCI_ERR_INVALID, "empty command");
    p->console_socket = o ? o->console_socket : NULL;
    if (p->preserve_fds > 1024)
        return oci_error_set(err, OCI_ERR_INVALID, "--preserve-fds %d: too many", p->preserve_fds);

    _cleanup_free_ char *root = p->c->root_path[0] == '/'
                                    ? strdup(p->c->root_path)
                                    : rt_strdup_printf("%s/%s", p->bundle, p->c->root_path);
    if (!root)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    p->rootfs = realpath(root, NULL);
    struct stat st;
    if (!p->rootfs || stat(p->rootfs, &st) < 0 || !S_ISDIR(st.st_mode))
        return oci_error_setsys(err, OCI_ERR_NOT_FOUND, p->rootfs ? ENOTDIR : errno,
                                "root.path `%s`", root);

    if (p->c->has_caps) {
        uint64_t host = rt_cap_bounding_now();
        for (int s = 0; s < RT_CAP__N; s++)
            p->caps[s] = p->c->caps[s] & host;
        warn_caps(p);
    } else {
        /* No capabilities object: keep what the process has (runc). */
        uint64_t host = rt_cap_bounding_now();
        p->caps[RT_CAP_BOUNDING] = host;
        if (p->c->uid == 0)
            p->caps[RT_CAP_EFFECTIVE] = p->caps[RT_CAP_PERMITTED] = host;
    }
    if ((r = plan_namespaces(p, err)) < 0)
        return r;
    if ((r = rt_cgroup_plan(&p->cg, p->c->cgroups_path, id, err)) < 0)
        return r;
    rt_now_rfc3339(p->created, sizeof(p->created));
    p->owner = strdup("");
    return 0;
}

static int write_pid_file(const char *path, pid_t pid, struct oci_error **err)
{
    _cleanup_free_ char *dup = strdup(path);
    if (!dup)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    char *slash = strrchr(dup, '/');
    const char *dir = ".", *name = dup;
    if (slash) {
        *slash = '\0';
        dir = slash == dup ? "/" : dup;
        name = slash + 1;
    }
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "--pid-file %s", path);
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
    if (oimg_fs_write_atomic(dfd, name, buf, (size_t)n, 0644, err) < 0)
        return oci_error_wrap(err, "--pid-file %s", path);
    return 0;
}

/* What create leaves to run: the live init. */
struct launched {
    int pidfd, sync;
    int console; /* the pty master when run relays a terminal, else -1 */
    pid_t pid;
};

static int do_create(const struct ort_context *ctx, const char *id, const struct ort_create_opts *o,
                     bool run, bool detach, struct launched *out, struct oci_error **err)
{
    if (!ort_id_valid(id))
        return oci_error_set(err, OCI_ERR_INVALID, "invalid container id `%s`", id ? id : "");
    _cleanup_close_ int rootfd = rt_root_open(ctx, true, err);
    if (rootfd < 0)
        return rootfd;
    if (mkdirat(rootfd, id, 0711) < 0) {
        if (errno == EEXIST)
            return oci_error_set(err, OCI_ERR_EXISTS, "container `%s` already exists", id);
        return oci_error_setsys(err, OCI_ERR_IO, errno, "create state directory for `%s`", id);
    }
    _cleanup_close_ int dirfd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (dirfd < 0 || flock(dirfd, LOCK_EX) < 0) {
        int e = errno;
        unlinkat(rootfd, id, AT_REMOVEDIR);
        return oci_error_setsys(err, OCI_ERR_IO, e, "lock state directory of `%s`", id);
    }

    struct rt_plan p;
    int pidfd = -1, sync = -1;
    bool cg_made = false;
    int r = plan_prepare(&p, ctx, id, o, run, err);
    p.state_dirfd = dirfd;
    if (r < 0)
        goto fail;
    /* runc's rules: a terminal needs somewhere to go. */
    if (p.c->terminal && !p.console_socket && (!run || detach)) {
        r = oci_error_set(err, OCI_ERR_INVALID,
                          "process.terminal: a container that outlives this command needs "
                          "--console-socket");
        goto fail;
    }
    if (!p.c->terminal && p.console_socket) {
        r = oci_error_set(err, OCI_ERR_INVALID,
                          "--console-socket: process.terminal is false, there is no terminal");
        goto fail;
    }
    if (!run) {
        if (mkfifoat(dirfd, "exec.fifo", 0600) < 0 ||
            (p.fifo_fd = openat(dirfd, "exec.fifo", O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0) {
            r = oci_error_setsys(err, OCI_ERR_IO, errno, "create exec.fifo");
            goto fail;
        }
    }
    cg_made = true;
    if ((r = rt_cgroup_create(&p.cg, p.c, err)) < 0)
        goto fail;
    if (p.cg.skipped[0])
        rt_log(ctx, ORT_LOG_DEBUG, "rootless: running without these cgroups: %s", p.cg.skipped);
    if (p.cg.devices_skipped[0])
        rt_log(ctx, ORT_LOG_WARN, "%s", p.cg.devices_skipped);
    if (p.cg.devices_warning[0])
        rt_log(ctx, ORT_LOG_WARN, "%s (the v1 devices controller still enforces the rules)",
               p.cg.devices_warning);
    if ((r = rt_spawn(&p, &pidfd, &sync, err)) < 0)
        goto fail;
    rt_log(ctx, ORT_LOG_DEBUG, "container %s: init %d ready", id, (int)p.pid);
    if ((r = rt_state_write(dirfd, &p, err)) < 0)
        goto fail;
    if (o && o->pid_file && (r = write_pid_file(o->pid_file, p.pid, err)) < 0)
        goto fail;
    if (p.console_master >= 0 && p.console_socket &&
        (r = rt_console_socket_send(p.console_socket, p.console_master, err)) < 0)
        goto fail;
    if (run) {
        out->pidfd = pidfd;
        out->sync = sync;
        out->pid = p.pid;
        out->console = p.console_socket ? -1 : TAKE_FD(p.console_master);
    } else {
        close(pidfd);
        close(sync);
    }
    plan_release(&p);
    return 0;

fail:
    if (pidfd >= 0) {
        rt_pidfd_send_signal(pidfd, SIGKILL);
        waitpid(p.pid, NULL, 0);
        close(pidfd);
    }
    if (sync >= 0)
        close(sync);
    if (cg_made)
        rt_cgroup_destroy(&p.cg, true, NULL);
    unlinkat(dirfd, "exec.fifo", 0);
    unlinkat(dirfd, "state.json", 0);
    unlinkat(rootfd, id, AT_REMOVEDIR);
    plan_release(&p);
    return r;
}

int ort_create(const struct ort_context *ctx, const char *id, const struct ort_create_opts *o,
               struct oci_error **err)
{
    return do_create(ctx, id, o, false, false, NULL, err);
}

/* The hooks create saved in state.json, read through the config parser. */
static int saved_hooks(const struct rt_container *ct, struct ort_config **out,
                       struct oci_error **err)
{
    *out = NULL;
    if (!ct->hooks)
        return 0;
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "ociVersion", json_object_new_string("1.0.0"));
    json_object_object_add(doc, "hooks", json_object_get(ct->hooks));
    int r = rt_config_from_json(out, doc, err);
    json_object_put(doc);
    if (r < 0)
        return oci_error_wrap(err, "state.json hooks");
    return 0;
}

static void run_hooks_warn(const struct ort_context *ctx, const struct rt_container *ct, int kind,
                           const char *name, const char *status)
{
    struct ort_config *h = NULL;
    struct oci_error *e = NULL;
    if (saved_hooks(ct, &h, &e) < 0) {
        rt_log(ctx, ORT_LOG_WARN, "%s", e->msg);
        oci_error_free(e);
        return;
    }
    if (!h || !h->hooks[kind].n) {
        ort_config_free(h);
        return;
    }
    char why[RT_MAX_MSG];
    _cleanup_free_ char *state = rt_container_state_json(ct, status, false);
    if (rt_hooks_run(&h->hooks[kind], name, state, why, sizeof(why)) < 0)
        rt_log(ctx, ORT_LOG_WARN, "%s", why);
    ort_config_free(h);
}

int ort_start(const struct ort_context *ctx, const char *id, struct oci_error **err)
{
    struct rt_container *ct = NULL;
    int r = rt_container_open(ctx, id, true, &ct, err);
    if (r < 0)
        return r;
    const char *status = rt_container_status(ct);
    if (strcmp(status, "created") != 0) {
        r = oci_error_set(err, OCI_ERR_STATE, "container `%s` is %s, not created", id, status);
        rt_container_free(ct);
        return r;
    }
    int fd = openat(ct->dirfd, "exec.fifo", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        r = oci_error_setsys(err, OCI_ERR_STATE, errno,
                             "container `%s`: its init is not waiting on exec.fifo", id);
        rt_container_free(ct);
        return r;
    }
    ssize_t n = write(fd, "0", 1);
    int e = errno;
    close(fd);
    unlinkat(ct->dirfd, "exec.fifo", 0);
    if (n != 1) {
        r = oci_error_setsys(err, OCI_ERR_IO, e, "container `%s`: write exec.fifo", id);
        rt_container_free(ct);
        return r;
    }
    run_hooks_warn(ctx, ct, RT_HOOK_POSTSTART, "poststart", "running");
    rt_container_free(ct);
    return 0;
}

int ort_kill(const struct ort_context *ctx, const char *id, int sig, bool all,
             struct oci_error **err)
{
    struct rt_container *ct = NULL;
    int r = rt_container_open(ctx, id, true, &ct, err);
    if (r < 0)
        return r;
    const char *status = rt_container_status(ct);
    if (strcmp(status, "created") != 0 && strcmp(status, "running") != 0) {
        r = oci_error_set(err, OCI_ERR_STATE, "container `%s` is %s, not running", id, status);
        rt_container_free(ct);
        return r;
    }
    if (all && ct->cg.n > 0) {
        r = rt_cgroup_signal_all(&ct->cg, sig, err);
    } else {
        int pidfd = rt_container_pidfd(ct);
        if (pidfd < 0 || rt_pidfd_send_signal(pidfd, sig) < 0)
            r = oci_error_setsys(err, OCI_ERR_STATE, pidfd < 0 ? ESRCH : errno,
                                 "signal container `%s`", id);
        if (pidfd >= 0)
            close(pidfd);
    }
    rt_container_free(ct);
    return r;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* SIGKILL the init and wait until the kernel says it is gone. */
static int kill_and_wait(struct rt_container *ct, struct oci_error **err)
{
    int pidfd = rt_container_pidfd(ct);
    if (pidfd < 0)
        return 0;
    rt_pidfd_send_signal(pidfd, SIGKILL);
    long long deadline = now_ms() + DEATH_WAIT_MS;
    int r = 0;
    for (;;) {
        struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
        long long left = deadline - now_ms();
        if (left <= 0) {
            r = oci_error_set(err, OCI_ERR_IO, "container `%s`: init %d did not die", ct->id,
                              (int)ct->pid);
            break;
        }
        if (poll(&pfd, 1, (int)left) > 0)
            break;
    }
    close(pidfd);
    return r;
}

static int destroy(const struct ort_context *ctx, struct rt_container *ct, struct oci_error **err)
{
    int r;
    if (ct->doc && (r = kill_and_wait(ct, err)) < 0)
        return r;
    /* Without its own pid namespace the init's death does not take the
     * other processes with it: the cgroup knows them all. */
    r = rt_cgroup_destroy(&ct->cg, true, err);
    if (r < 0)
        return r;
    if (ct->doc)
        run_hooks_warn(ctx, ct, RT_HOOK_POSTSTOP, "poststop", "stopped");
    return rt_container_remove(ct, err);
}

int ort_delete(const struct ort_context *ctx, const char *id, bool force, struct oci_error **err)
{
    struct rt_container *ct = NULL;
    int r = rt_container_open(ctx, id, true, &ct, err);
    if (r < 0)
        return r;
    const char *status = rt_container_status(ct);
    /* creating: we hold the lock, so the create that made it died. */
    if (strcmp(status, "running") == 0 && !force) {
        r = oci_error_set(err, OCI_ERR_STATE,
                          "container `%s` is running: stop it first or use --force", id);
        rt_container_free(ct);
        return r;
    }
    r = destroy(ctx, ct, err);
    rt_container_free(ct);
    return r;
}

int ort_state(const struct ort_context *ctx, const char *id, char **json, struct oci_error **err)
{
    struct rt_container *ct = NULL;
    int r = rt_container_open(ctx, id, false, &ct, err);
    if (r < 0)
        return r;
    *json = rt_container_state_json(ct, rt_container_status(ct), true);
    rt_container_free(ct);
    if (!*json)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    return 0;
}

void ort_list_free(struct ort_list_item *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++) {
        free(items[i].id);
        free(items[i].status);
        free(items[i].bundle);
        free(items[i].created);
        free(items[i].owner);
    }
    free(items);
}

int ort_list(const struct ort_context *ctx, struct ort_list_item **items, size_t *n,
             struct oci_error **err)
{
    *items = NULL;
    *n = 0;
    struct oci_error *e = NULL;
    int rootfd = rt_root_open(ctx, false, &e);
    if (rootfd < 0) {
        bool missing = e && e->code == OCI_ERR_NOT_FOUND;
        if (missing) {
            oci_error_free(e);
            return 0;
        }
        if (err && !*err)
            *err = e;
        else
            oci_error_free(e);
        return rootfd;
    }
    DIR *d = fdopendir(rootfd);
    if (!d) {
        close(rootfd);
        return oci_error_setsys(err, OCI_ERR_IO, errno, "list state root");
    }
    size_t cap = 0, count = 0;
    struct ort_list_item *v = NULL;
    struct dirent *de;
    int bound = 100000;
    while ((de = readdir(d)) && bound-- > 0) {
        if (!ort_id_valid(de->d_name))
            continue;
        struct rt_container *ct = NULL;
        if (rt_container_open(ctx, de->d_name, false, &ct, NULL) < 0)
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            struct ort_list_item *nv = realloc(v, cap * sizeof(*v));
            if (!nv) {
                rt_container_free(ct);
                break;
            }
            v = nv;
        }
        const char *status = rt_container_status(ct);
        struct ort_list_item *it = &v[count++];
        it->id = strdup(ct->id);
        it->pid = strcmp(status, "stopped") == 0 ? 0 : ct->pid;
        it->status = strdup(status);
        it->bundle = strdup(ct->bundle ? ct->bundle : "");
        it->created = strdup(ct->created ? ct->created : "");
        it->owner = strdup(ct->owner ? ct->owner : "");
        rt_container_free(ct);
    }
    closedir(d);
    *items = v;
    *n = count;
    return 0;
}

/* ---- run ---- */

static int wait_exec(struct launched *l, struct oci_error **err)
{
    struct rt_msg m;
    int n = rt_msg_recv(l->sync, &m, NULL);
    if (n == 0)
        return 0; /* the socket closed on exec */
    if (n > 0 && m.type == RT_MSG_ERROR) {
        int r = oci_error_set(err, OCI_ERR_IO, "%s", m.text);
        if (err && *err)
            (*err)->sys_errno = m.err;
        return r;
    }
    return oci_error_set(err, OCI_ERR_INTERNAL, "container init: lost before exec");
}

/* Copies what is readable on from to to; false once from is done. */
static bool pump(int from, int to)
{
    char buf[16384];
    for (int rounds = 0; rounds < 64; rounds++) {
        ssize_t n = read(from, buf, sizeof(buf));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            return false; /* EOF, or EIO once the pty's last slave closed */
        if (n < 0)
            return true;
        if (oimg_fs_write_all(to, buf, (size_t)n) < 0)
            return false;
    }
    return true;
}

static void copy_winsize(int console)
{
    struct winsize ws;
    if (ioctl(0, TIOCGWINSZ, &ws) == 0)
        ioctl(console, TIOCSWINSZ, &ws);
}

/* Forwards every signal to the container's init and, with a terminal,
 * relays our stdin/stdout to the pty master, until the init exits. */
static int forward_and_wait(struct launched *l, int *status)
{
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGCHLD);
    sigprocmask(SIG_BLOCK, &all, &old);
    int sfd = signalfd(-1, &all, SFD_CLOEXEC | SFD_NONBLOCK);
    struct termios saved;
    bool raw = false;
    bool in_open = l->console >= 0, out_open = l->console >= 0;
    if (l->console >= 0) {
        fcntl(l->console, F_SETFL, O_NONBLOCK);
        if (isatty(0) && tcgetattr(0, &saved) == 0) {
            struct termios t = saved;
            cfmakeraw(&t);
            raw = tcsetattr(0, TCSANOW, &t) == 0;
            copy_winsize(l->console);
        }
    }
    siginfo_t info;
    for (;;) {
        struct pollfd pfd[4] = {{.fd = l->pidfd, .events = POLLIN},
                                {.fd = sfd, .events = POLLIN},
                                {.fd = out_open ? l->console : -1, .events = POLLIN},
                                {.fd = in_open ? 0 : -1, .events = POLLIN}};
        int n = poll(pfd, 4, -1);
        if (n < 0 && errno != EINTR)
            break;
        if (sfd >= 0 && (pfd[1].revents & POLLIN)) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo == SIGWINCH && l->console >= 0)
                    copy_winsize(l->console);
                else
                    rt_pidfd_send_signal(l->pidfd, (int)si.ssi_signo);
            }
        }
        if (out_open && (pfd[2].revents & (POLLIN | POLLHUP | POLLERR)))
            out_open = pump(l->console, 1);
        if (in_open && (pfd[3].revents & (POLLIN | POLLHUP | POLLERR)))
            in_open = pump(0, l->console);
        if (pfd[0].revents & (POLLIN | POLLHUP)) {
            /* What the container wrote just before exiting is still queued. */
            while (out_open && pump(l->console, 1)) {
                struct pollfd q = {.fd = l->console, .events = POLLIN};
                if (poll(&q, 1, 0) <= 0)
                    break;
            }
            break;
        }
    }
    if (raw)
        tcsetattr(0, TCSANOW, &saved);
    memset(&info, 0, sizeof(info));
    int r = waitid((idtype_t)P_PIDFD, (id_t)l->pidfd, &info, WEXITED);
    if (r < 0 && errno == EINVAL)
        r = waitid(P_PID, (id_t)l->pid, &info, WEXITED);
    int e = errno;
    if (sfd >= 0)
        close(sfd);
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (r < 0)
        return -e;
    if (info.si_code == CLD_EXITED)
        *status = info.si_status;
    else
        *status = 128 + info.si_status;
    return 0;
}

int ort_run(const struct ort_context *ctx, const char *id, const struct ort_create_opts *o,
            bool detach, int *status, struct oci_error **err)
{
    struct launched l = {.pidfd = -1, .sync = -1, .console = -1};
    *status = 0;
    int r = do_create(ctx, id, o, true, detach, &l, err);
    if (r < 0)
        return r;
    rt_msg_send(l.sync, RT_MSG_START, 0, 0, NULL);
    r = wait_exec(&l, err);
    close(l.sync);
    struct rt_container *ct = NULL;
    if (r < 0) {
        waitpid(l.pid, NULL, 0);
        close(l.pidfd);
        if (l.console >= 0)
            close(l.console);
        if (rt_container_open(ctx, id, true, &ct, NULL) == 0) {
            destroy(ctx, ct, NULL);
            rt_container_free(ct);
        }
        return r;
    }
    if (rt_container_open(ctx, id, false, &ct, NULL) == 0) {
        run_hooks_warn(ctx, ct, RT_HOOK_POSTSTART, "poststart", "running");
        rt_container_free(ct);
        ct = NULL;
    }
    if (detach) {
        close(l.pidfd);
        if (l.console >= 0)
            close(l.console);
        return 0;
    }
    int fr = forward_and_wait(&l, status);
    close(l.pidfd);
    if (l.console >= 0)
        close(l.console);
    if (fr < 0)
        return oci_error_setsys(err, OCI_ERR_IO, -fr, "wait for container `%s`", id);
    r = rt_container_open(ctx, id, true, &ct, err);
    if (r < 0) {
        /* Someone deleted it meanwhile: nothing left to clean. */
        if (err && *err && (*err)->code == OCI_ERR_NOT_FOUND) {
            oci_error_clear(err);
            return 0;
        }
        return r;
    }
    r = destroy(ctx, ct, err);
    rt_container_free(ct);
    return r;
}
