/* The container's init: the process clone3 made, running the config from
 * inside the new namespaces until it becomes the user's program.  Every
 * failure is sent back to the runtime over the sync socket with its cause
 * ("mount proc on /proc: Permission denied") before the init exits, so
 * `create` and `run` report what really went wrong. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <termios.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/keyctl.h>
#include <linux/sched.h>

#include <ociimg/cleanup.h>
#include <ociimg/fs.h>

#include "rt_private.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define WHY_LEN (RT_MAX_MSG - 64)

static __attribute__((noreturn)) void die(struct rt_plan *p, int e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void die(struct rt_plan *p, int e, const char *fmt, ...)
{
    char buf[RT_MAX_MSG];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (p->sync_fd >= 0)
        rt_msg_send(p->sync_fd, RT_MSG_ERROR, e < 0 ? -e : e, 0, "%s", buf);
    else
        dprintf(2, "ocirun: %s\n", buf);
    _exit(1);
}

static void wait_go(struct rt_plan *p)
{
    struct rt_msg m;
    int r = rt_msg_recv(p->sync_fd, &m, NULL);
    if (r <= 0 || m.type != RT_MSG_GO)
        _exit(1); /* the runtime is gone or gave up: nothing to report to */
}

/* process.terminal: a pty from the container's own devpts, the slave also
 * at /dev/console, the master handed to the runtime. */
static int setup_console(struct rt_plan *p)
{
    struct ort_config *c = p->c;
    int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0)
        die(p, errno, "terminal: open /dev/ptmx: %s", strerror(errno));
    int unlock = 0;
    unsigned num = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &num) < 0)
        die(p, errno, "terminal: unlock the pty: %s", strerror(errno));
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0)
        die(p, errno, "terminal: open the pty slave: %s", strerror(errno));
    if (c->has_console_size) {
        struct winsize ws = {.ws_row = (unsigned short)c->console_height,
                             .ws_col = (unsigned short)c->console_width};
        ioctl(slave, TIOCSWINSZ, &ws);
    }
    if (fchown(slave, c->uid, c->gid) < 0 && errno != EINVAL)
        die(p, errno, "terminal: chown the pty: %s", strerror(errno));
    char pts[32];
    snprintf(pts, sizeof(pts), "/dev/pts/%u", num);
    int fd = open("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST)
        die(p, errno, "terminal: create /dev/console: %s", strerror(errno));
    if (fd >= 0)
        close(fd);
    if (mount(pts, "/dev/console", NULL, MS_BIND, NULL) < 0)
        die(p, errno, "terminal: bind %s on /dev/console: %s", pts, strerror(errno));
    int r = rt_msg_send_fd(p->sync_fd, RT_MSG_CONSOLE, master);
    if (r < 0)
        die(p, r, "terminal: send the pty master: %s", strerror(-r));
    close(master);
    return slave;
}

static void become_console(struct rt_plan *p, int slave)
{
    if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
        die(p, errno, "terminal: make the pty the controlling terminal: %s", strerror(errno));
    for (int i = 0; i < 3; i++)
        if (dup2(slave, i) < 0)
            die(p, errno, "terminal: dup2: %s", strerror(errno));
    if (slave > 2)
        close(slave);
}

static const char *env_get(const char *const *env, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; env && env[i]; i++)
        if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
            return env[i] + n + 1;
    return NULL;
}

static bool is_executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static int find_exec(const char *arg0, const char *const *env, char *out, size_t outlen)
{
    if (strchr(arg0, '/')) {
        snprintf(out, outlen, "%s", arg0);
        if (is_executable(out))
            return 0;
        return errno ? -errno : -EACCES;
    }
    const char *path = env_get(env, "PATH");
    if (!path)
        path = DEFAULT_PATH;
    for (const char *d = path;;) {
        const char *e = strchr(d, ':');
        size_t len = e ? (size_t)(e - d) : strlen(d);
        if (len == 0)
            snprintf(out, outlen, "./%s", arg0);
        else
            snprintf(out, outlen, "%.*s/%s", (int)len, d, arg0);
        if (is_executable(out))
            return 0;
        if (!e)
            break;
        d = e + 1;
    }
    return -ENOENT;
}

/* HOME from the container's /etc/passwd when the config does not set it. */
static void home_of(uid_t uid, char *out, size_t outlen)
{
    snprintf(out, outlen, "/");
    char buf[65536];
    int n = rt_read_small_at(AT_FDCWD, "/etc/passwd", buf, sizeof(buf));
    if (n <= 0)
        return;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[7] = {0};
        int k = 0;
        for (char *s = line; k < 7; k++) {
            f[k] = s;
            s = strchr(s, ':');
            if (!s)
                break;
            *s++ = '\0';
        }
        if (k >= 6 && f[2] && strtoul(f[2], NULL, 10) == uid && f[5] && f[5][0]) {
            snprintf(out, outlen, "%s", f[5]);
            return;
        }
    }
}

static void join_namespaces(struct rt_plan *p)
{
    /* The user namespace first: the others are owned by it. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < p->n_join; i++) {
            bool user = p->join_types[i] == CLONE_NEWUSER;
            if ((pass == 0) != user || p->join_types[i] == CLONE_NEWPID)
                continue;
            if (setns(p->join_fds[i], p->join_types[i]) < 0)
                die(p, errno, "join namespace (type %#x): %s", (unsigned)p->join_types[i],
                    strerror(errno));
        }
    }
    for (size_t i = 0; i < p->n_join; i++)
        close(p->join_fds[i]);
}

/* A joined user namespace and a new pid namespace: setns(user) must come
 * first (what we create then belongs to it), but a pid namespace only takes
 * effect for children.  So this first process joins, clones the real init
 * into the new namespaces as its sibling - CLONE_PARENT makes it the
 * runtime's child, which the runtime can wait for - reports its pid and
 * exits. */
static void fork_into_pidns(struct rt_plan *p)
{
    join_namespaces(p);
    struct clone_args args;
    memset(&args, 0, sizeof(args));
    /* The cgroup namespace waits until the runtime has moved the init. */
    args.flags = CLONE_PARENT | CLONE_NEWPID | (p->unshare_flags & ~CLONE_NEWCGROUP);
    args.exit_signal = 0; /* CLONE_PARENT: the runtime gets our SIGCHLD */
    pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
    if (pid < 0)
        die(p, errno, "create the pid namespace in the joined user namespace: %s", strerror(errno));
    if (pid == 0) {
        /* Our parent is the runtime; if it is already gone, the sync
         * socket says so at the next wait_go. */
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        p->unshare_flags &= CLONE_NEWCGROUP;
        p->n_join = 0;
        return;
    }
    rt_msg_send(p->sync_fd, RT_MSG_PID, 0, pid, NULL);
    _exit(0);
}

static void set_ids(struct rt_plan *p)
{
    struct ort_config *c = p->c;
    _Static_assert(RT_MAX_GROUPS <= 65536, "the groups array lives on the stack");
    gid_t groups[RT_MAX_GROUPS];
    size_t ng = c->n_additional_gids;
    for (size_t i = 0; i < ng; i++)
        groups[i] = c->additional_gids[i];
    bool userns = rt_config_ns(c, CLONE_NEWUSER) != NULL;
    if (setgroups(ng, groups) < 0 && !(userns && errno == EPERM && ng == 0))
        die(p, errno, "setgroups: %s", strerror(errno));
    if (setresgid(c->gid, c->gid, c->gid) < 0)
        die(p, errno, "setgid %u: %s%s", c->gid, strerror(errno),
            errno == EINVAL ? " (gid not mapped in the user namespace)" : "");
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        die(p, errno, "keep capabilities: %s", strerror(errno));
    if (setresuid(c->uid, c->uid, c->uid) < 0)
        die(p, errno, "setuid %u: %s%s", c->uid, strerror(errno),
            errno == EINVAL ? " (uid not mapped in the user namespace)" : "");
    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
}

static void apply_rlimits(struct rt_plan *p)
{
    struct ort_config *c = p->c;
    for (size_t i = 0; i < c->n_rlimits; i++) {
        const struct rt_rlimit *l = &c->rlimits[i];
        struct rlimit rl = {.rlim_cur = l->soft, .rlim_max = l->hard};
        if (setrlimit(l->resource, &rl) < 0) {
            struct rlimit cur = {0};
            getrlimit(l->resource, &cur);
            die(p, errno, "setrlimit %s (soft %llu, hard %llu): %s%s", l->name,
                (unsigned long long)l->soft, (unsigned long long)l->hard, strerror(errno),
                errno == EPERM && l->hard > cur.rlim_max
                    ? " (raising the hard limit needs CAP_SYS_RESOURCE; the current hard limit "
                      "is lower)"
                    : "");
        }
    }
}

static const char **build_env(struct rt_plan *p, char *home_buf, size_t home_len)
{
    struct ort_config *c = p->c;
    size_t n = c->n_env;
    const char **env = calloc(n + 2, sizeof(*env));
    if (!env)
        die(p, ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        env[i] = c->env[i];
    if (!env_get(c->env, "HOME")) {
        char home[1024];
        home_of(c->uid, home, sizeof(home));
        snprintf(home_buf, home_len, "HOME=%s", home);
        env[n++] = home_buf;
    }
    env[n] = NULL;
    return env;
}

void rt_init_main(struct rt_plan *p)
{
    struct ort_config *c = p->c;
    char why[WHY_LEN];
    int r;

    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    /* Our copy of the state directory fd shares create's flock: holding it
     * would lock every later command out until we exec. */
    if (p->state_dirfd >= 0)
        close(p->state_dirfd);
    p->state_dirfd = -1;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* Only stdio and the preserved fds reach the container's program. */
    syscall(SYS_close_range, 3 + (unsigned)p->preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC);

    if (p->fork_pidns)
        fork_into_pidns(p);
    wait_go(p);
    if (p->n_join && !p->join_before_clone)
        join_namespaces(p);
    int later = p->unshare_flags & CLONE_NEWCGROUP;
    if ((p->unshare_flags & ~later) && unshare(p->unshare_flags & ~later) < 0)
        die(p, errno, "unshare namespaces: %s", strerror(errno));
    /* The runtime moves us into the container's cgroups meanwhile (a v1
     * migration waits for an RCU grace period), so the seccomp filter is
     * compiled now (milliseconds of libseccomp CPU for a default profile;
     * loaded just before exec) and the rootfs is built before the second GO.
     * Nothing forks or execs before that GO, and a cgroup namespace must be
     * rooted at the container's cgroup, so with one we wait first. */
    struct rt_seccomp_prog *filter = NULL;
    if (c->has_seccomp && (r = rt_seccomp_compile(&filter, &c->seccomp, why, sizeof(why))) < 0)
        die(p, r, "%s", why);
    bool attached = false;
    if (later) {
        wait_go(p);
        attached = true;
        if (unshare(later) < 0)
            die(p, errno, "unshare the cgroup namespace: %s", strerror(errno));
    }
    if (rt_config_ns(c, CLONE_NEWUSER)) {
        /* Act as the namespace's root while building the rootfs. */
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
            die(p, errno, "become root in the user namespace: %s (is 0 mapped?)", strerror(errno));
    }
    umask(022);

    int rootfd = -1;
    if ((r = rt_rootfs_setup(p, &rootfd, why, sizeof(why))) < 0)
        die(p, r, "%s", why);
    bool userns = rt_config_ns(c, CLONE_NEWUSER) != NULL;
    if ((r = rt_devices_setup(p, rootfd, userns, why, sizeof(why))) < 0)
        die(p, r, "%s", why);
    if (c->cwd && c->cwd[0] == '/') {
        int fd = rt_mkpath_in_root(rootfd, c->cwd, false, why, sizeof(why));
        if (fd < 0)
            die(p, fd, "process.cwd: %s", why);
        close(fd);
    }

    if (!attached)
        wait_go(p);

    if (c->hooks[RT_HOOK_PRESTART].n || c->hooks[RT_HOOK_CREATE_RUNTIME].n) {
        rt_msg_send(p->sync_fd, RT_MSG_HOOKS, 0, 0, NULL);
        wait_go(p);
    }
    if (c->hooks[RT_HOOK_CREATE_CONTAINER].n) {
        _cleanup_free_ char *state = rt_state_json(p, "creating", p->pid);
        if ((r = rt_hooks_run(&c->hooks[RT_HOOK_CREATE_CONTAINER], "createContainer", state, why,
                              sizeof(why))) < 0)
            die(p, r, "%s", why);
    }

    if (c->has_hostname && sethostname(c->hostname, strlen(c->hostname)) < 0)
        die(p, errno, "sethostname: %s", strerror(errno));
    if (c->has_domainname && setdomainname(c->domainname, strlen(c->domainname)) < 0)
        die(p, errno, "setdomainname: %s", strerror(errno));
    if (c->has_oom_score_adj) {
        char buf[16];
        int n = snprintf(buf, sizeof(buf), "%d", c->oom_score_adj);
        if ((r = rt_write_file_at(AT_FDCWD, "/proc/self/oom_score_adj", buf, (size_t)n)) < 0)
            die(p, r, "oomScoreAdj %d: %s", c->oom_score_adj, strerror(-r));
    }
    if ((r = rt_rootfs_finish(p, rootfd, why, sizeof(why))) < 0)
        die(p, r, "%s", why);
    close(rootfd);
    int console = c->terminal ? setup_console(p) : -1;

    if (!p->no_new_keyring)
        syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL, 0, 0, 0); /* best effort */
    apply_rlimits(p);
    if (c->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        die(p, errno, "noNewPrivileges: %s", strerror(errno));

    if (filter) {
        /* Without no_new_privs loading a filter needs CAP_SYS_ADMIN: do it
         * while we still have it (runc does the same). */
        if (!c->no_new_privileges) {
            if ((r = rt_seccomp_load(filter, why, sizeof(why))) < 0)
                die(p, r, "%s", why);
            filter = NULL;
        }
    }

    if ((r = rt_caps_drop_bounding(p->caps[RT_CAP_BOUNDING], why, sizeof(why))) < 0)
        die(p, r, "%s", why);
    set_ids(p);
    if ((r = rt_caps_set(p->caps, why, sizeof(why))) < 0)
        die(p, r, "%s", why);

    if (c->cwd && chdir(c->cwd) < 0)
        die(p, errno, "chdir to process.cwd %s: %s", c->cwd, strerror(errno));
    char home[1100];
    const char **env = build_env(p, home, sizeof(home));
    const char *const *args = p->args ? p->args : c->args;
    char exe[4096];
    if (!args || !args[0])
        die(p, EINVAL, "process.args: empty");
    if ((r = find_exec(args[0], env, exe, sizeof(exe))) < 0) {
        if (r == -ENOENT && !strchr(args[0], '/'))
            die(p, ENOENT, "exec: \"%s\": executable file not found in $PATH", args[0]);
        die(p, r, "exec: \"%s\": %s", args[0], strerror(-r));
    }
    umask(c->has_umask ? (mode_t)c->umask : 022);

    if (console >= 0)
        become_console(p, console);
    /* create returns once we are ready, and run may detach: outlive the
     * runtime from here on (a parent-death signal would also survive
     * execve into the container's process). */
    prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
    rt_msg_send(p->sync_fd, RT_MSG_READY, 0, 0, NULL);
    if (p->fifo_fd >= 0) {
        /* create: block until `start` writes its byte into exec.fifo; our
         * O_RDWR descriptor keeps the fifo open for start's O_WRONLY. */
        close(p->sync_fd);
        p->sync_fd = -1;
        char b;
        ssize_t n;
        do
            n = read(p->fifo_fd, &b, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1)
            _exit(1);
        close(p->fifo_fd);
    } else {
        struct rt_msg m;
        if (rt_msg_recv(p->sync_fd, &m, NULL) <= 0 || m.type != RT_MSG_START)
            _exit(1);
    }

    if (c->hooks[RT_HOOK_START_CONTAINER].n) {
        _cleanup_free_ char *state = rt_state_json(p, "running", p->pid);
        if ((r = rt_hooks_run(&c->hooks[RT_HOOK_START_CONTAINER], "startContainer", state, why,
                              sizeof(why))) < 0)
            die(p, r, "%s", why);
    }
    if (filter && (r = rt_seccomp_load(filter, why, sizeof(why))) < 0)
        die(p, r, "%s", why);
    execve(exe, (char *const *)args, (char *const *)env);
    die(p, errno, "exec %s: %s", exe, strerror(errno));
}
