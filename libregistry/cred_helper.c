/* docker-credential-<name> helpers: `get` with the server key on stdin and
 * {"ServerURL","Username","Secret"} on stdout.
 *
 * The helper is found in $PATH by us and started with fork + execve (no
 * shell, argv fixed), its stdio on O_CLOEXEC pipes so no other fd of ours
 * leaks into it.  It gets a deadline and a cap on its output; stderr is
 * captured (bounded) so a library never prints through the child. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ociimg/cleanup.h>
#include <ociimg/fs.h>
#include <ociimg/json.h>
#include <ociimg/registry.h>

#include "registry_private.h"

extern char **environ;

#define HELPER_PREFIX "docker-credential-"
#define HELPER_NAME_MAX 64
#define STDERR_KEEP 512
/* The helpers' shared "not found" message (docker-credential-helpers). */
#define NOT_FOUND_TEXT "credentials not found"

static bool valid_helper_name(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > HELPER_NAME_MAX || n[0] == '.' || n[0] == '-')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= 'A' && n[i] <= 'Z') ||
              (n[i] >= '0' && n[i] <= '9') || n[i] == '-' || n[i] == '_' || n[i] == '.'))
            return false;
    return true;
}

/* First executable regular file named prog in $PATH.  Empty and relative
 * PATH entries are skipped: they would run whatever is in the current
 * directory. */
static char *find_in_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    const char *p = path;
    /* Bounded by strlen(path): each turn moves past one ':'. */
    for (;;) {
        size_t n = strcspn(p, ":");
        if (n > 0 && p[0] == '/') {
            char *cand = NULL;
            if (asprintf(&cand, "%.*s/%s", (int)n, p, prog) >= 0) {
                struct stat st;
                if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
                    return cand;
                free(cand);
            }
        }
        if (!p[n])
            return NULL;
        p += n + 1;
    }
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Moves fd to >= 3 so the child's dup2 onto 0..2 cannot clobber another of
 * our pipe ends (possible when the caller runs with stdin/stdout closed). */
static int above_stdio(int fd)
{
    if (fd > 2)
        return fd;
    int n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int e = errno;
    close(fd);
    errno = e;
    return n;
}

static int make_pipe(int p[2])
{
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    p[0] = above_stdio(p[0]);
    p[1] = above_stdio(p[1]);
    if (p[0] < 0 || p[1] < 0) {
        if (p[0] >= 0)
            close(p[0]);
        if (p[1] >= 0)
            close(p[1]);
        return -1;
    }
    return 0;
}

static void close_pair(int p[2])
{
    for (int i = 0; i < 2; i++)
        if (p[i] >= 0) {
            close(p[i]);
            p[i] = -1;
        }
}

/* Writes the key without dying of SIGPIPE if the helper exits unread. */
static void write_key(int fd, const char *key)
{
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    int r = oimg_fs_write_all(fd, key, strlen(key));
    if (r == -EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

struct run {
    char *out;
    size_t out_len;
    char err_text[STDERR_KEEP + 1];
    size_t err_len;
    int status;
    bool timed_out, too_big;
};

static void kill_and_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* Runs path with argv, feeding key and collecting output until exit. */
static int run_helper(struct run *res, const char *path, const char *key, int timeout_ms)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
    if (make_pipe(in) < 0 || make_pipe(out) < 0 || make_pipe(errp) < 0) {
        int e = errno;
        close_pair(in), close_pair(out), close_pair(errp);
        return -e;
    }
    char *argv[] = {(char *)path, (char *)"get", NULL};
    res->out = malloc(OREG_HELPER_OUTPUT_MAX + 1);
    if (!res->out) {
        close_pair(in), close_pair(out), close_pair(errp);
        return -ENOMEM;
    }

    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close_pair(in), close_pair(out), close_pair(errp);
        return -e;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls from here on. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(errp[1], 2) < 0)
            _exit(127);
        execve(path, argv, environ);
        _exit(127);
    }
    close(in[0]), close(out[1]), close(errp[1]);
    in[0] = out[1] = errp[1] = -1;

    write_key(in[1], key);
    close_pair(in);

    long long deadline = now_ms() + timeout_ms;
    struct pollfd pfd[2] = {{.fd = out[0], .events = POLLIN}, {.fd = errp[0], .events = POLLIN}};
    int open_fds = 2;
    char sink[4096];
    while (open_fds > 0) {
        long long left = deadline - now_ms();
        if (left <= 0) {
            res->timed_out = true;
            break;
        }
        int n = poll(pfd, 2, (int)(left > 1000 ? 1000 : left));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        for (int i = 0; i < 2; i++) {
            if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t got;
            if (i == 0) {
                size_t room = OREG_HELPER_OUTPUT_MAX + 1 - res->out_len;
                got = read(pfd[i].fd, res->out + res->out_len, room);
                if (got > 0) {
                    res->out_len += (size_t)got;
                    if (res->out_len > OREG_HELPER_OUTPUT_MAX) {
                        res->too_big = true;
                        open_fds = 0;
                        break;
                    }
                }
            } else {
                got = read(pfd[i].fd, sink, sizeof(sink));
                if (got > 0 && res->err_len < STDERR_KEEP) {
                    size_t keep = STDERR_KEEP - res->err_len;
                    if ((size_t)got < keep)
                        keep = (size_t)got;
                    memcpy(res->err_text + res->err_len, sink, keep);
                    res->err_len += keep;
                }
            }
            if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN)) {
                close(pfd[i].fd);
                pfd[i].fd = -1;
                open_fds--;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (pfd[i].fd >= 0)
            close(pfd[i].fd);
    explicit_bzero(sink, sizeof(sink));
    res->out[res->out_len < OREG_HELPER_OUTPUT_MAX ? res->out_len : OREG_HELPER_OUTPUT_MAX] = '\0';
    res->err_text[res->err_len] = '\0';

    if (res->timed_out || res->too_big) {
        kill_and_reap(pid);
        return 0;
    }
    /* Output closed: the helper should be exiting; it still gets only the
     * rest of the deadline. */
    for (;;) {
        pid_t w = waitpid(pid, &res->status, WNOHANG);
        if (w == pid)
            return 0;
        if (w < 0 && errno != EINTR) {
            int e = errno;
            kill_and_reap(pid);
            return -e;
        }
        if (now_ms() >= deadline) {
            res->timed_out = true;
            kill_and_reap(pid);
            return 0;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* One printable line of helper output for a message; empty if it looks like
 * a JSON document (which may carry the secret). */
static void first_line(char *dst, size_t dstsz, const char *s)
{
    dst[0] = '\0';
    while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
        s++;
    if (*s == '{' || *s == '[' || *s == '"')
        return;
    size_t n = strcspn(s, "\r\n");
    if (n >= dstsz)
        n = dstsz - 1;
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)((s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?');
    dst[n] = '\0';
}

static int parse_output(struct oreg_creds **out, const char *prog, const char *buf, size_t len,
                        struct oci_error **err)
{
    _cleanup_(oreg_json_wipe_putp) json_object *o = NULL;
    struct oimg_json_limits lim = {.max_size = OREG_HELPER_OUTPUT_MAX, .max_depth = 8};
    int r = oimg_json_parse(&o, buf, len, &lim, err);
    if (r < 0)
        return oci_error_wrap(err, "%s: output", prog);
    const char *user = NULL, *secret = NULL;
    if ((r = oimg_json_get_string(&user, o, "Username", false, prog, err)) < 0 ||
        (r = oimg_json_get_string(&secret, o, "Secret", false, prog, err)) < 0)
        return r;
    if ((!user || !*user) && (!secret || !*secret))
        return 0;

    struct oreg_creds *c = calloc(1, sizeof(*c));
    if (!c)
        return oci_error_set(err, OCI_ERR_NOMEM, "%s: out of memory", prog);
    bool ok = (c->source = strdup(prog)) != NULL;
    if (user && strcmp(user, "<token>") == 0) {
        ok = ok && (c->identity_token = strdup(secret ? secret : "")) != NULL;
    } else {
        ok = ok && (c->username = strdup(user ? user : "")) != NULL;
        ok = ok && (c->password = strdup(secret ? secret : "")) != NULL;
    }
    if (!ok) {
        oreg_creds_free(c);
        return oci_error_set(err, OCI_ERR_NOMEM, "%s: out of memory", prog);
    }
    *out = c;
    return 1;
}

int oreg_cred_helper_get(struct oreg_creds **out, const char *helper, const char *key,
                         int timeout_ms, struct oci_error **err)
{
    char q[OREG_QUOTE_BUF];
    if (!valid_helper_name(helper)) {
        oreg_quote(q, helper);
        return oci_error_set(err, OCI_ERR_INVALID,
                             "invalid credential helper name %s (letters, digits, . _ -)", q);
    }
    char prog[sizeof(HELPER_PREFIX) + HELPER_NAME_MAX];
    snprintf(prog, sizeof(prog), HELPER_PREFIX "%s", helper);
    _cleanup_free_ char *path = find_in_path(prog);
    if (!path)
        return oci_error_set(err, OCI_ERR_NOT_FOUND, "credential helper %s not found in $PATH",
                             prog);

    if (timeout_ms <= 0)
        timeout_ms = OREG_HELPER_TIMEOUT_MS_DEFAULT;
    struct run res = {0};
    int r = run_helper(&res, path, key, timeout_ms);
    if (r < 0) {
        oreg_wipe_free(res.out, res.out_len);
        return oci_error_setsys(err, r == -ENOMEM ? OCI_ERR_NOMEM : OCI_ERR_IO, -r, "run %s", prog);
    }
    if (res.timed_out)
        r = oci_error_set(err, OCI_ERR_IO, "%s did not finish within %d ms", prog, timeout_ms);
    else if (res.too_big)
        r = oci_error_set(err, OCI_ERR_TOO_LARGE, "%s wrote more than %u bytes", prog,
                          OREG_HELPER_OUTPUT_MAX);
    else if (!WIFEXITED(res.status) || WEXITSTATUS(res.status) != 0) {
        if (strstr(res.out, NOT_FOUND_TEXT) || strstr(res.err_text, NOT_FOUND_TEXT)) {
            r = 0;
        } else {
            char line[200];
            first_line(line, sizeof(line), res.out);
            if (!line[0])
                first_line(line, sizeof(line), res.err_text);
            if (WIFEXITED(res.status))
                r = oci_error_set(err, OCI_ERR_AUTH, "%s get failed (exit status %d)%s%s", prog,
                                  WEXITSTATUS(res.status), line[0] ? ": " : "", line);
            else
                r = oci_error_set(err, OCI_ERR_AUTH, "%s get killed by signal %d", prog,
                                  WTERMSIG(res.status));
        }
    } else {
        r = parse_output(out, prog, res.out, res.out_len, err);
    }
    oreg_wipe_free(res.out, res.out_len);
    explicit_bzero(res.err_text, sizeof(res.err_text));
    return r;
}
