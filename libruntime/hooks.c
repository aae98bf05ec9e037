/* Hooks: each runs with the state JSON on stdin, its own args and env, and
 * is killed when its timeout passes.  The same code runs in the runtime
 * (prestart, createRuntime, poststart, poststop) and in the container's init
 * (createContainer, startContainer), so it reports through a text buffer. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ociimg/cleanup.h>

#include "rt_private.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int run_one(const struct rt_hook *h, const char *kind, size_t idx, const char *state,
                   char *why, size_t whylen)
{
    int sv[2];
    /* A socket, not a pipe: send(MSG_NOSIGNAL) survives a hook that never
     * reads stdin, without touching SIGPIPE (the container inherits it). */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        int e = errno;
        snprintf(why, whylen, "%s hook %zu: socketpair: %s", kind, idx, strerror(e));
        return -e;
    }
    static const char *const empty[] = {NULL};
    const char *argv0[] = {h->path, NULL};
    const char *const *argv = h->args && h->args[0] ? h->args : argv0;
    const char *const *envp = h->env ? h->env : empty;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        snprintf(why, whylen, "%s hook %zu: fork: %s", kind, idx, strerror(e));
        return -e;
    }
    if (pid == 0) {
        shutdown(sv[1], SHUT_WR);
        if (dup2(sv[1], 0) < 0)
            _exit(127);
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        execve(h->path, (char *const *)argv, (char *const *)envp);
        dprintf(2, "ocirun: %s hook %s: exec: %s\n", kind, h->path, strerror(errno));
        _exit(127);
    }
    close(sv[1]);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    size_t len = strlen(state), off = 0;
    while (off < len) {
        ssize_t n = send(sv[0], state + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the hook does not read it, or not all: its business */
        off += (size_t)n;
    }
    close(sv[0]);

    int pidfd = rt_pidfd_open(pid);
    long long deadline = h->timeout > 0 ? now_ms() + h->timeout * 1000LL : 0;
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            int e = errno;
            if (pidfd >= 0)
                close(pidfd);
            snprintf(why, whylen, "%s hook %s: wait: %s", kind, h->path, strerror(e));
            return -e;
        }
        int wait_ms = -1;
        if (deadline) {
            long long left = deadline - now_ms();
            if (left <= 0) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                if (pidfd >= 0)
                    close(pidfd);
                snprintf(why, whylen, "%s hook %s: timed out after %d s", kind, h->path,
                         h->timeout);
                return -ETIMEDOUT;
            }
            wait_ms = left > 100000 ? 100000 : (int)left;
        }
        if (pidfd >= 0) {
            struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
            poll(&pfd, 1, wait_ms);
        } else {
            struct timespec ts = {0, 5 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    if (pidfd >= 0)
        close(pidfd);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        snprintf(why, whylen, "%s hook %s: exited with status %d", kind, h->path,
                 WEXITSTATUS(status));
    else
        snprintf(why, whylen, "%s hook %s: killed by signal %d", kind, h->path, WTERMSIG(status));
    return -ECHILD;
}

int rt_hooks_run(const struct rt_hooks *h, const char *kind, const char *state_json, char *why,
                 size_t whylen)
{
    for (size_t i = 0; i < h->n; i++) {
        int r = run_one(&h->v[i], kind, i, state_json ? state_json : "{}", why, whylen);
        if (r < 0)
            return r;
    }
    return 0;
}
