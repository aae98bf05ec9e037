/* Capability names and the raw capset/prctl calls (no libcap: five bit masks
 * are all the state there is). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include <ociimg/cleanup.h>

#include "rt_private.h"

static const char *const cap_names[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

int rt_cap_from_name(const char *name)
{
    for (size_t i = 0; i < OCI_ARRAY_SIZE(cap_names); i++)
        if (strcasecmp(cap_names[i], name) == 0)
            return (int)i;
    return -1;
}

const char *rt_cap_name(int cap)
{
    if (cap < 0 || (size_t)cap >= OCI_ARRAY_SIZE(cap_names))
        return NULL;
    return cap_names[cap];
}

int rt_cap_last(void)
{
    static int last = -1;
    if (last >= 0)
        return last;
    char buf[16];
    int n = rt_read_small_at(AT_FDCWD, "/proc/sys/kernel/cap_last_cap", buf, sizeof(buf));
    char *end = NULL;
    long v = n > 0 ? strtol(buf, &end, 10) : -1;
    last = end && end != buf && (*end == '\n' || *end == '\0') ? (int)v : -1;
    if (last < 0 || last > 63)
        last = (int)OCI_ARRAY_SIZE(cap_names) - 1;
    return last;
}

uint64_t rt_cap_bounding_now(void)
{
    uint64_t m = 0;
    int last = rt_cap_last();
    for (int c = 0; c <= last; c++)
        if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
            m |= 1ULL << c;
    return m;
}

int rt_caps_drop_bounding(uint64_t keep, char *why, size_t whylen)
{
    int last = rt_cap_last();
    for (int c = 0; c <= last; c++) {
        if (keep & (1ULL << c))
            continue;
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) {
            snprintf(why, whylen, "drop %s from the bounding set: %s",
                     rt_cap_name(c) ? rt_cap_name(c) : "capability", strerror(errno));
            return -errno;
        }
    }
    return 0;
}

int rt_caps_set(const uint64_t sets[RT_CAP__N], char *why, size_t whylen)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    for (int i = 0; i < 2; i++) {
        data[i].effective = (uint32_t)(sets[RT_CAP_EFFECTIVE] >> (32 * i));
        data[i].permitted = (uint32_t)(sets[RT_CAP_PERMITTED] >> (32 * i));
        data[i].inheritable = (uint32_t)(sets[RT_CAP_INHERITABLE] >> (32 * i));
    }
    if (syscall(SYS_capset, &hdr, data) < 0) {
        snprintf(why, whylen, "capset: %s", strerror(errno));
        return -errno;
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
        snprintf(why, whylen, "clear ambient capabilities: %s", strerror(errno));
        return -errno;
    }
    int last = rt_cap_last();
    for (int c = 0; c <= last; c++) {
        if (!(sets[RT_CAP_AMBIENT] & (1ULL << c)))
            continue;
        /* The kernel refuses an ambient cap that is not both permitted and
         * inheritable; runc and crun skip those silently too. */
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0 && errno != EPERM) {
            snprintf(why, whylen, "raise ambient %s: %s",
                     rt_cap_name(c) ? rt_cap_name(c) : "capability", strerror(errno));
            return -errno;
        }
    }
    return 0;
}
