/* Our default seccomp profile: an allowlist in the manner of docker's
 * default profile, for the default capability set of a bundle (so nothing
 * that needs CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_SYS_TIME, CAP_SYS_MODULE, ...
 * is allowed; chroot is, since CAP_SYS_CHROOT is granted).
 *
 *   defaultAction SCMP_ACT_ERRNO, defaultErrnoRet EPERM;
 *   allowed: the syscalls below (names a kernel or architecture lacks are
 *     skipped by runc and crun);
 *   clone: only without namespace flags (CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|
 *     NEWUSER|NEWPID|NEWNET; the flags are argument 1 on s390);
 *   clone3: ENOSYS, so libcs fall back to clone, whose flags can be checked;
 *   personality: only the query (0xffffffff), PER_LINUX, PER_LINUX32 and
 *     UNAME26 combinations (no ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, ...).
 * Not allowed, on purpose: mount/umount/pivot_root and the new mount API,
 * unshare/setns, bpf, perf_event_open, userfaultfd, io_uring, keyrings
 * (add_key, request_key, keyctl: not namespaced), kexec, modules, reboot,
 * swap, quotas, clock setting, acct, open_by_handle_at/name_to_handle_at,
 * kcmp, NUMA policy calls, iopl/ioperm, syslog, vhangup, fanotify_init,
 * lookup_dcookie, sethostname/setdomainname, and obsolete calls (uselib,
 * ustat, sysfs, _sysctl, vm86, nfsservctl, ...).
 * Unlike docker, the profile is fixed: it does not grow with capabilities a
 * user adds to config.json later (edit linux.seccomp, or unpack with
 * --no-seccomp). */
#include <string.h>

#include <ociimg/bundle.h>
#include <ociimg/cleanup.h>

#include "bundle_private.h"

#define CLONE_NS_FLAGS 0x7E020000ull
#define ENOSYS_ERRNO 38

static const char *const allowed[] = {
    /* files and directories */
    "access",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "close",
    "close_range",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "file_getattr",
    "file_setattr",
    "flock",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futimesat",
    "getcwd",
    "getdents",
    "getdents64",
    "lchown",
    "lchown32",
    "link",
    "linkat",
    "_llseek",
    "lseek",
    "lstat",
    "lstat64",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "newfstatat",
    "open",
    "openat",
    "openat2",
    "pipe",
    "pipe2",
    "pread64",
    "preadv",
    "preadv2",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "rename",
    "renameat",
    "renameat2",
    "rmdir",
    "sendfile",
    "sendfile64",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "tee",
    "truncate",
    "truncate64",
    "umask",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vmsplice",
    "write",
    "writev",
    /* extended attributes */
    "fgetxattr",
    "flistxattr",
    "fremovexattr",
    "fsetxattr",
    "getxattr",
    "getxattrat",
    "lgetxattr",
    "listxattr",
    "listxattrat",
    "llistxattr",
    "lremovexattr",
    "lsetxattr",
    "removexattr",
    "removexattrat",
    "setxattr",
    "setxattrat",
    /* polling, events, notification */
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "fanotify_mark",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "_newselect",
    "pause",
    "poll",
    "ppoll",
    "ppoll_time64",
    "pselect6",
    "pselect6_time64",
    "select",
    "signalfd",
    "signalfd4",
    /* asynchronous I/O (not io_uring) */
    "io_cancel",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "io_setup",
    "io_submit",
    "ioctl",
    "ioprio_get",
    "ioprio_set",
    /* memory */
    "brk",
    "cachestat",
    "madvise",
    "map_shadow_stack",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mremap",
    "mseal",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "process_madvise",
    "process_mrelease",
    "remap_file_pages",
    /* processes, threads, signals */
    "capget",
    "capset",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "fork",
    "futex",
    "futex_requeue",
    "futex_time64",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "get_robust_list",
    "get_thread_area",
    "getcpu",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrlimit",
    "getrusage",
    "getsid",
    "gettid",
    "kill",
    "pidfd_getfd",
    "pidfd_open",
    "pidfd_send_signal",
    "prctl",
    "prlimit64",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "restart_syscall",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "seccomp",
    "set_robust_list",
    "set_thread_area",
    "set_tid_address",
    "setpgid",
    "setpriority",
    "setrlimit",
    "setsid",
    "sigaltstack",
    "sigprocmask",
    "sigreturn",
    "tgkill",
    "tkill",
    "ugetrlimit",
    "uretprobe",
    "vfork",
    "wait4",
    "waitid",
    "waitpid",
    /* credentials */
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getuid",
    "getuid32",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setuid",
    "setuid32",
    /* time (reading it; setting needs CAP_SYS_TIME and is denied) */
    "adjtimex",
    "alarm",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "getitimer",
    "gettimeofday",
    "nanosleep",
    "setitimer",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    /* sockets */
    "accept",
    "accept4",
    "bind",
    "connect",
    "getpeername",
    "getsockname",
    "getsockopt",
    "listen",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "send",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setsockopt",
    "shutdown",
    "socket",
    "socketcall",
    "socketpair",
    /* System V and POSIX IPC (namespaced) */
    "ipc",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    /* system information, LSM attributes, mount information (read-only) */
    "getrandom",
    "listmount",
    "lsm_get_self_attr",
    "lsm_list_modules",
    "lsm_set_self_attr",
    "statmount",
    "sysinfo",
    "uname",
    /* granted by CAP_SYS_CHROOT, which the default capability set has */
    "chroot",
};

static const struct {
    const char *goarch;
    const char *const scmp[4];
    const char *const extra[7]; /* architecture-specific syscalls */
} arches[] = {
    {"amd64", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}, {"arch_prctl", "modify_ldt"}},
    {"386", {"SCMP_ARCH_X86"}, {"modify_ldt"}},
    {"arm64",
     {"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"},
     {"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush",
      "set_tls"}},
    {"arm",
     {"SCMP_ARCH_ARM"},
     {"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush",
      "set_tls"}},
    {"ppc64le", {"SCMP_ARCH_PPC64LE"}, {"sync_file_range2"}},
    {"ppc64", {"SCMP_ARCH_PPC64"}, {"sync_file_range2"}},
    {"s390x",
     {"SCMP_ARCH_S390X", "SCMP_ARCH_S390"},
     {"s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"}},
    {"mips64le", {"SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_MIPSEL"}, {0}},
    {"mips64", {"SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPS"}, {0}},
    {"mipsle", {"SCMP_ARCH_MIPSEL"}, {0}},
    {"mips", {"SCMP_ARCH_MIPS"}, {0}},
    {"riscv64", {"SCMP_ARCH_RISCV64"}, {"riscv_flush_icache", "riscv_hwprobe"}},
    {"loong64", {"SCMP_ARCH_LOONGARCH64"}, {0}},
};

static int find_arch(const char *arch)
{
    for (size_t i = 0; arch && i < OCI_ARRAY_SIZE(arches); i++)
        if (strcmp(arches[i].goarch, arch) == 0)
            return (int)i;
    return -1;
}

const char *const *bundle_seccomp_arches(const char *arch)
{
    int i = find_arch(arch);
    return i < 0 ? NULL : arches[i].scmp;
}

static json_object *names(const char *const *v, size_t n)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < n && v[i]; i++)
        json_object_array_add(a, json_object_new_string(v[i]));
    return a;
}

static json_object *rule(json_object *names_arr, const char *action)
{
    json_object *r = json_object_new_object();
    json_object_object_add(r, "names", names_arr);
    json_object_object_add(r, "action", json_object_new_string(action));
    return r;
}

static json_object *arg(unsigned index, uint64_t value, uint64_t value_two, const char *op)
{
    json_object *a = json_object_new_object();
    json_object_object_add(a, "index", json_object_new_int((int32_t)index));
    json_object_object_add(a, "value", json_object_new_uint64(value));
    if (value_two)
        json_object_object_add(a, "valueTwo", json_object_new_uint64(value_two));
    json_object_object_add(a, "op", json_object_new_string(op));
    return a;
}

static json_object *one_name(const char *n)
{
    return names(&n, 1);
}

json_object *oimg_bundle_seccomp_profile(const char *arch)
{
    int ai = find_arch(arch);
    json_object *p = json_object_new_object();
    json_object_object_add(p, "defaultAction", json_object_new_string("SCMP_ACT_ERRNO"));
    json_object_object_add(p, "defaultErrnoRet", json_object_new_int(1));
    if (ai >= 0)
        json_object_object_add(p, "architectures", names(arches[ai].scmp, 4));
    json_object *rules = json_object_new_array();
    json_object_array_add(rules, rule(names(allowed, OCI_ARRAY_SIZE(allowed)), "SCMP_ACT_ALLOW"));
    if (ai >= 0 && arches[ai].extra[0])
        json_object_array_add(rules, rule(names(arches[ai].extra, 7), "SCMP_ACT_ALLOW"));

    static const uint64_t personas[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffffull};
    for (size_t i = 0; i < OCI_ARRAY_SIZE(personas); i++) {
        json_object *r = rule(one_name("personality"), "SCMP_ACT_ALLOW");
        json_object *args = json_object_new_array();
        json_object_array_add(args, arg(0, personas[i], 0, "SCMP_CMP_EQ"));
        json_object_object_add(r, "args", args);
        json_object_array_add(rules, r);
    }

    /* s390's clone takes the stack first and the flags second. */
    bool s390 = arch && (strcmp(arch, "s390x") == 0 || strcmp(arch, "s390") == 0);
    json_object *r = rule(one_name("clone"), "SCMP_ACT_ALLOW");
    json_object *args = json_object_new_array();
    json_object_array_add(args, arg(s390 ? 1 : 0, CLONE_NS_FLAGS, 0, "SCMP_CMP_MASKED_EQ"));
    json_object_object_add(r, "args", args);
    json_object_array_add(rules, r);

    r = rule(one_name("clone3"), "SCMP_ACT_ERRNO");
    json_object_object_add(r, "errnoRet", json_object_new_int(ENOSYS_ERRNO));
    json_object_array_add(rules, r);

    json_object_object_add(p, "syscalls", rules);
    return p;
}
