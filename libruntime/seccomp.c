/* linux.seccomp through libseccomp.  The filter is compiled to BPF in the
 * container's init while the runtime moves it into its cgroups (libseccomp's
 * rule database and BPF generation take milliseconds for a default profile)
 * and loaded, one seccomp(2) call, as late as the credentials allow (see
 * init.c), so as few runtime syscalls as possible run under it. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <seccomp.h>

#include <ociimg/cleanup.h>
#include <ociimg/fs.h>

#include "rt_private.h"

struct rt_seccomp_prog {
    struct sock_filter *insns;
    unsigned short len;
    unsigned flags; /* SECCOMP_FILTER_FLAG_* */
};

/* The config's names for libseccomp's constants. */
struct name_val {
    const char *name;
    uint32_t val;
};

static int lookup(const struct name_val *t, size_t n, const char *name, uint32_t *out)
{
    for (size_t i = 0; name && i < n; i++)
        if (strcmp(t[i].name, name) == 0) {
            *out = t[i].val;
            return 0;
        }
    return -1;
}

static const struct name_val actions[] = {
    {"SCMP_ACT_KILL", SCMP_ACT_KILL},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0)},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0)},
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG},
    {"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY},
};

int rt_seccomp_action(const char *name, uint32_t *action)
{
    return lookup(actions, OCI_ARRAY_SIZE(actions), name, action);
}

static const struct name_val archs[] = {
    {"SCMP_ARCH_X86", SCMP_ARCH_X86},
    {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
    {"SCMP_ARCH_X32", SCMP_ARCH_X32},
    {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
    {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
    {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
    {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
    {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
    {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
    {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
    {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
    {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
    {"SCMP_ARCH_S390", SCMP_ARCH_S390},
    {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
    {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
    {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
};

int rt_seccomp_arch(const char *name, uint32_t *arch)
{
    return lookup(archs, OCI_ARRAY_SIZE(archs), name, arch);
}

static const struct name_val ops[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

int rt_seccomp_op(const char *name, int *op)
{
    uint32_t v = SCMP_CMP_EQ;
    int r = lookup(ops, OCI_ARRAY_SIZE(ops), name, &v);
    *op = (int)v;
    return r;
}

static uint32_t with_errno(uint32_t action, bool has, uint32_t e)
{
    if (action == SCMP_ACT_ERRNO(0))
        return SCMP_ACT_ERRNO(has ? e : EPERM);
    if (action == SCMP_ACT_TRACE(0))
        return SCMP_ACT_TRACE(has ? e : EPERM);
    return action;
}

static void prog_free(struct rt_seccomp_prog *p)
{
    if (!p)
        return;
    free(p->insns);
    free(p);
}

static void prog_freep(struct rt_seccomp_prog **p)
{
    prog_free(*p);
}

static void ctx_releasep(scmp_filter_ctx *ctx)
{
    if (*ctx)
        seccomp_release(*ctx);
}

/* libseccomp 2.5 exports BPF only to a file descriptor. */
static int export_bpf(struct rt_seccomp_prog *p, scmp_filter_ctx ctx, char *why, size_t whylen)
{
    _cleanup_close_ int fd = memfd_create("ocirun-seccomp", MFD_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(why, whylen, "seccomp: memfd_create: %s", strerror(e));
        return -e;
    }
    int r = seccomp_export_bpf(ctx, fd);
    if (r < 0) {
        snprintf(why, whylen, "seccomp: generate the filter: %s", strerror(-r));
        return r;
    }
    off_t size = lseek(fd, 0, SEEK_END);
    if (size < 0 || lseek(fd, 0, SEEK_SET) < 0) {
        int e = errno;
        snprintf(why, whylen, "seccomp: size the filter: %s", strerror(e));
        return -e;
    }
    size_t n = (size_t)size / sizeof(struct sock_filter);
    if (n == 0 || n > BPF_MAXINSNS || (size_t)size % sizeof(struct sock_filter)) {
        snprintf(why, whylen, "seccomp: the filter has %lld bytes, not 1 to %d instructions",
                 (long long)size, BPF_MAXINSNS);
        return -E2BIG;
    }
    p->insns = malloc((size_t)size);
    if (!p->insns) {
        snprintf(why, whylen, "seccomp: out of memory");
        return -ENOMEM;
    }
    ssize_t got = oimg_fs_read_all(fd, p->insns, (size_t)size);
    if (got != size) {
        int e = got < 0 ? (int)-got : EIO;
        snprintf(why, whylen, "seccomp: read the filter back: %s", strerror(e));
        return -e;
    }
    p->len = (unsigned short)n;
    return 0;
}

/* Several conditions on one argument are alternatives (runc's reading of the
 * spec): each becomes its own rule; distinct arguments AND in one rule. */
static bool args_distinct(const struct rt_seccomp_rule *r)
{
    for (size_t i = 0; i < r->n_args; i++)
        for (size_t j = i + 1; j < r->n_args; j++)
            if (r->args[i].index == r->args[j].index)
                return false;
    return true;
}

static struct scmp_arg_cmp to_cmp(const struct rt_seccomp_arg *a)
{
    struct scmp_arg_cmp c = {.arg = a->index,
                             .op = (enum scmp_compare)a->op,
                             .datum_a = a->value,
                             .datum_b = a->value_two};
    return c;
}

int rt_seccomp_compile(struct rt_seccomp_prog **out, const struct rt_seccomp *s, char *why,
                       size_t whylen)
{
    uint32_t def = with_errno(s->default_action, s->has_default_errno, s->default_errno);
    _cleanup_(ctx_releasep) scmp_filter_ctx ctx = seccomp_init(def);
    if (!ctx) {
        snprintf(why, whylen, "seccomp: cannot initialise a filter");
        return -EINVAL;
    }
    for (size_t i = 0; i < s->n_archs; i++) {
        int r = seccomp_arch_add(ctx, s->archs[i]);
        if (r < 0 && r != -EEXIST) {
            snprintf(why, whylen, "seccomp: add architecture: %s", strerror(-r));
            return r;
        }
    }
    for (size_t i = 0; i < s->n_rules; i++) {
        const struct rt_seccomp_rule *rule = &s->rules[i];
        uint32_t act = with_errno(rule->action, rule->has_errno, rule->errno_ret);
        if (act == def)
            continue; /* libseccomp refuses rules that repeat the default */
        for (size_t k = 0; k < rule->n_names; k++) {
            int nr = seccomp_syscall_resolve_name(rule->names[k]);
            if (nr == __NR_SCMP_ERROR)
                continue; /* unknown on this kernel/arch: runc and crun skip it */
            int r;
            if (rule->n_args == 0) {
                r = seccomp_rule_add(ctx, act, nr, 0);
            } else if (args_distinct(rule)) {
                struct scmp_arg_cmp cmps[6];
                for (size_t j = 0; j < rule->n_args; j++)
                    cmps[j] = to_cmp(&rule->args[j]);
                r = seccomp_rule_add_array(ctx, act, nr, (unsigned)rule->n_args, cmps);
            } else {
                r = 0;
                for (size_t j = 0; j < rule->n_args && r == 0; j++) {
                    struct scmp_arg_cmp c = to_cmp(&rule->args[j]);
                    r = seccomp_rule_add_array(ctx, act, nr, 1, &c);
                }
            }
            if (r < 0) {
                snprintf(why, whylen, "seccomp: add rule for %s: %s", rule->names[k], strerror(-r));
                return r;
            }
        }
    }
    _cleanup_(prog_freep) struct rt_seccomp_prog *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(why, whylen, "seccomp: out of memory");
        return -ENOMEM;
    }
    int r = export_bpf(p, ctx, why, whylen);
    if (r < 0)
        return r;
    p->flags = s->flags & ~RT_SECCOMP_FLAG_UNKNOWN;
    *out = TAKE_PTR(p);
    return 0;
}

int rt_seccomp_load(struct rt_seccomp_prog *p, char *why, size_t whylen)
{
    struct sock_fprog prog = {.len = p->len, .filter = p->insns};
    long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->flags, &prog);
    if (rc < 0) {
        int e = errno;
        snprintf(why, whylen, "seccomp: load filter: %s", strerror(e));
        return -e;
    }
    if (rc > 0) { /* TSYNC: the id of a thread that could not take the filter */
        snprintf(why, whylen, "seccomp: load filter: thread %ld cannot be synchronised", rc);
        return -ESRCH;
    }
    prog_free(p);
    return 0;
}
