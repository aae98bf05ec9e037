/* The messages between the runtime and the container's init (a
 * SOCK_SEQPACKET socketpair: one datagram per message, EOF when either side
 * dies or the init execs), and descriptor passing for the pty master. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <ociimg/cleanup.h>

#include "rt_private.h"

int rt_msg_send(int fd, int type, int err, int64_t val, const char *fmt, ...)
{
    struct rt_msg m;
    memset(&m, 0, offsetof(struct rt_msg, text));
    m.type = type;
    m.err = err;
    m.val = val;
    m.text[0] = '\0';
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m.text, sizeof(m.text), fmt, ap);
        va_end(ap);
    }
    size_t len = offsetof(struct rt_msg, text) + strlen(m.text) + 1;
    for (;;) {
        ssize_t n = send(fd, &m, len, MSG_NOSIGNAL);
        if (n >= 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

static int send_with_fd(int sock, const void *buf, size_t len, int passfd)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof(u));
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &passfd, sizeof(int));
    for (;;) {
        if (sendmsg(sock, &mh, MSG_NOSIGNAL) >= 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

int rt_msg_send_fd(int fd, int type, int passfd)
{
    struct rt_msg m;
    memset(&m, 0, offsetof(struct rt_msg, text) + 1);
    m.type = type;
    return send_with_fd(fd, &m, offsetof(struct rt_msg, text) + 1, passfd);
}

int rt_msg_recv(int fd, struct rt_msg *m, int *passed)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    if (passed)
        *passed = -1;
    for (;;) {
        struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = u.buf,
                            .msg_controllen = sizeof(u.buf)};
        ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
            if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                continue;
            int got;
            memcpy(&got, CMSG_DATA(cm), sizeof(int));
            if (passed && *passed < 0)
                *passed = got;
            else
                close(got);
        }
        if (n == 0)
            return 0;
        if ((size_t)n < offsetof(struct rt_msg, text))
            return -EPROTO;
        if ((size_t)n == offsetof(struct rt_msg, text))
            m->text[0] = '\0';
        m->text[sizeof(m->text) - 1] = '\0';
        return 1;
    }
}

int rt_console_socket_send(const char *path, int passfd, struct oci_error **err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return oci_error_set(err, OCI_ERR_INVALID, "--console-socket %s: path too long", path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    _cleanup_close_ int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "--console-socket %s: connect", path);
    /* runc sends the terminal's name as the payload; some receivers log it. */
    static const char name[] = "/dev/ptmx";
    int r = send_with_fd(s, name, sizeof(name) - 1, passfd);
    if (r < 0)
        return oci_error_setsys(err, OCI_ERR_IO, -r, "--console-socket %s: send", path);
    return 0;
}
