/* Small system helpers shared by the runtime's mechanisms. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <ociimg/cleanup.h>
#include <ociimg/fs.h>

#include "rt_private.h"

int rt_write_file_at(int dirfd, const char *path, const char *buf, size_t len)
{
    int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    int r = oimg_fs_write_all(fd, buf, len);
    if (close(fd) < 0 && r == 0)
        r = -errno;
    return r;
}

int rt_read_small_at(int dirfd, const char *path, char *buf, size_t size)
{
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = oimg_fs_read_all(fd, buf, size - 1);
    int saved = errno;
    close(fd);
    if (n < 0)
        return -saved;
    buf[n] = '\0';
    return (int)n;
}

unsigned long long rt_proc_start_time(pid_t pid, bool *zombie)
{
    char path[64], buf[1024];
    *zombie = false;
    if (pid <= 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (rt_read_small_at(AT_FDCWD, path, buf, sizeof(buf)) <= 0)
        return 0;
    /* comm may hold spaces and parentheses: fields start after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return 0;
    p += 2;
    *zombie = *p == 'Z' || *p == 'X';
    /* p is field 3 (state); starttime is field 22. */
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return 0;
        p++;
    }
    return strtoull(p, NULL, 10);
}

int rt_mkdir_p(const char *path, mode_t mode)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(buf))
        return -ENAMETOOLONG;
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

void rt_log(const struct ort_context *ctx, int level, const char *fmt, ...)
{
    if (!ctx || !ctx->log || (level == ORT_LOG_DEBUG && !ctx->debug))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ctx->log(ctx->log_data, level, msg);
}

char *rt_strdup_printf(const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

void rt_now_rfc3339(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%09ldZ", base, ts.tv_nsec);
}

int rt_pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int rt_pidfd_send_signal(int pidfd, int sig)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

size_t rt_strv_len(const char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

/* The initial user namespace maps all 2^32 ids onto themselves; any other
 * map means someone set us up in a namespace of theirs. */
static bool in_foreign_userns(void)
{
    char buf[512];
    if (rt_read_small_at(AT_FDCWD, "/proc/self/uid_map", buf, sizeof(buf)) <= 0)
        return false;
    unsigned long long v[3];
    char *p = buf;
    for (int i = 0; i < 3; i++) {
        char *end = NULL;
        errno = 0;
        v[i] = strtoull(p, &end, 10);
        if (end == p || errno)
            return false;
        p = end;
    }
    unsigned long long inside = v[0], outside = v[1], count = v[2];
    return !(inside == 0 && outside == 0 && count == 4294967295ULL);
}

bool rt_rootless(void)
{
    static int cached = -1;
    if (cached < 0)
        cached = geteuid() != 0 || in_foreign_userns();
    return cached == 1;
}
