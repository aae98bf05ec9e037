/* cgroup v2 device control: linux.resources.devices as an eBPF program of
 * type BPF_PROG_TYPE_CGROUP_DEVICE attached to the container's cgroup2
 * directory.  cgroup2 has no devices.allow file: the kernel asks every
 * attached program on each open/mknod of a device node, and denies unless
 * all of them return 1.
 *
 * The program walks the rules from the last to the first and returns at the
 * first that matches, which gives the runtime-spec's "applied in order"
 * (the last matching rule wins); nothing matching is denied.  A rule
 * matches a request when the device type and numbers match and:
 *   - allow: every access asked for is in the rule's access (as a v1
 *     exception entry is checked);
 *   - deny:  any access asked for is in the rule's access (a v1 deny takes
 *     those bits away from what earlier rules allowed).
 * We emit the instructions ourselves with raw bpf(2) calls: no libbpf. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/bpf.h>

#include <ociimg/cleanup.h>

#include "rt_private.h"

#define INSNS_PER_RULE 8
#define LOG_SIZE (64 * 1024)

/* The few instruction forms the program needs.  Registers: r1 = context
 * (then scratch), r2 = device type, r3 = access asked for, r4 = major,
 * r5 = minor, r0 = verdict. */
static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
    struct bpf_insn i;
    memset(&i, 0, sizeof(i));
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    return i;
}
#define LDX_W(dst, src, off) insn(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0)
#define MOV_REG(dst, src) insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0)
#define MOV_IMM(dst, imm) insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
#define AND_IMM(dst, imm) insn(BPF_ALU64 | BPF_AND | BPF_K, dst, 0, 0, imm)
#define RSH_IMM(dst, imm) insn(BPF_ALU64 | BPF_RSH | BPF_K, dst, 0, 0, imm)
#define JNE_IMM(dst, imm, off) insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm)
#define JEQ_IMM(dst, imm, off) insn(BPF_JMP | BPF_JEQ | BPF_K, dst, 0, off, imm)
#define EXIT() insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

static uint32_t access_bits(const char *a)
{
    uint32_t bits = 0;
    for (; *a; a++)
        bits |= *a == 'r'   ? BPF_DEVCG_ACC_READ
                : *a == 'w' ? BPF_DEVCG_ACC_WRITE
                : *a == 'm' ? BPF_DEVCG_ACC_MKNOD
                            : 0;
    return bits;
}

#define ACC_ALL (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)

/* One rule's block: checks that jump past the block on a mismatch, then
 * the verdict.  Returns the number of instructions written (0: the rule can
 * match no device, e.g. a major beyond 32 bits, and is left out). */
static size_t emit_rule(struct bpf_insn *out, const struct rt_dev_rule *r)
{
    if (r->major > INT32_MAX || r->minor > INT32_MAX)
        return 0;
    uint32_t acc = access_bits(r->access);
    if (acc == 0)
        return 0; /* an empty access list allows or denies nothing */
    struct bpf_insn body[INSNS_PER_RULE];
    /* The jump offsets are filled in once the block's length is known:
     * off = -1 marks "to the end of the block". */
    size_t n = 0;
    if (r->type == 'c' || r->type == 'b')
        body[n++] = JNE_IMM(2, r->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK, -1);
    if (acc != ACC_ALL) {
        body[n++] = MOV_REG(1, 3);
        if (r->allow) {
            body[n++] = AND_IMM(1, (int32_t)(~acc & ACC_ALL));
            body[n++] = JNE_IMM(1, 0, -1);
        } else {
            body[n++] = AND_IMM(1, (int32_t)acc);
            body[n++] = JEQ_IMM(1, 0, -1);
        }
    }
    if (r->major >= 0)
        body[n++] = JNE_IMM(4, (int32_t)r->major, -1);
    if (r->minor >= 0)
        body[n++] = JNE_IMM(5, (int32_t)r->minor, -1);
    body[n++] = MOV_IMM(0, r->allow ? 1 : 0);
    body[n++] = EXIT();
    for (size_t i = 0; i < n; i++) {
        if (body[i].off == -1)
            body[i].off = (int16_t)(n - i - 1);
        out[i] = body[i];
    }
    return n;
}

int rt_bpfdev_compile(const struct rt_dev_rule *rules, size_t n, struct bpf_insn **out,
                      size_t *n_out)
{
    if (n > 4 * RT_MAX_ARRAY)
        return -E2BIG;
    struct bpf_insn *v = calloc(n * INSNS_PER_RULE + 8, sizeof(*v));
    if (!v)
        return -ENOMEM;
    size_t k = 0;
    v[k++] = LDX_W(2, 1, (int16_t)offsetof(struct bpf_cgroup_dev_ctx, access_type));
    v[k++] = AND_IMM(2, 0xffff);
    v[k++] = LDX_W(3, 1, (int16_t)offsetof(struct bpf_cgroup_dev_ctx, access_type));
    v[k++] = RSH_IMM(3, 16);
    v[k++] = LDX_W(4, 1, (int16_t)offsetof(struct bpf_cgroup_dev_ctx, major));
    v[k++] = LDX_W(5, 1, (int16_t)offsetof(struct bpf_cgroup_dev_ctx, minor));
    /* A rule that matches every request ends the walk: the verifier
     * refuses unreachable instructions after it. */
    bool total = false;
    for (size_t i = n; i-- > 0 && !total;) {
        const struct rt_dev_rule *r = &rules[i];
        k += emit_rule(v + k, r);
        total = r->type == 'a' && r->major < 0 && r->minor < 0 && access_bits(r->access) == ACC_ALL;
    }
    if (!total) {
        v[k++] = MOV_IMM(0, 0);
        v[k++] = EXIT();
    }
    *out = v;
    *n_out = k;
    return 0;
}

static int sys_bpf(int cmd, union bpf_attr *attr)
{
    return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int prog_load(const struct bpf_insn *insns, size_t n, char *log, size_t loglen)
{
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    a.insns = (uint64_t)(uintptr_t)insns;
    a.insn_cnt = (uint32_t)n;
    a.license = (uint64_t)(uintptr_t) "GPL";
    snprintf(a.prog_name, sizeof(a.prog_name), "ocirun_devices");
    if (log) {
        a.log_buf = (uint64_t)(uintptr_t)log;
        a.log_size = (uint32_t)loglen;
        a.log_level = 1;
    }
    int fd = sys_bpf(BPF_PROG_LOAD, &a);
    if (fd >= 0)
        fcntl(fd, F_SETFD, FD_CLOEXEC); /* the kernel sets it; be sure */
    return fd;
}

/* The verifier's line that says what it refused: the last one, or the one
 * before its closing statistics ("processed N insns ..."). */
static const char *log_tail(char *log)
{
    char *line = log;
    for (int i = 0; i < 2; i++) {
        size_t len = strnlen(log, LOG_SIZE);
        while (len && (log[len - 1] == '\n' || log[len - 1] == ' '))
            log[--len] = '\0';
        char *nl = strrchr(log, '\n');
        line = nl ? nl + 1 : log;
        if (strncmp(line, "processed ", 10) != 0 || !nl)
            break;
        *nl = '\0';
    }
    return line;
}

int rt_bpfdev_attach(const char *cgroup_dir, const struct rt_dev_rule *rules, size_t n,
                     uint32_t *prog_id, struct oci_error **err)
{
    _cleanup_free_ struct bpf_insn *insns = NULL;
    size_t ni = 0;
    int r = rt_bpfdev_compile(rules, n, &insns, &ni);
    if (r < 0)
        return oci_error_setsys(err, OCI_ERR_INVALID, -r, "cgroup v2 device filter: compile");
    _cleanup_close_ int prog = prog_load(insns, ni, NULL, 0);
    if (prog < 0) {
        int e = errno;
        _cleanup_free_ char *log = calloc(1, LOG_SIZE);
        if (log && e != EPERM && e != ENOSYS && prog_load(insns, ni, log, LOG_SIZE) < 0 && *log)
            return oci_error_setsys(err, OCI_ERR_IO, e,
                                    "cgroup v2 device filter: load the eBPF program (%zu "
                                    "instructions; verifier: %s)",
                                    ni, log_tail(log));
        return oci_error_setsys(err, e == ENOSYS ? OCI_ERR_UNSUPPORTED : OCI_ERR_IO, e,
                                "cgroup v2 device filter: load the eBPF program");
    }
    _cleanup_close_ int dfd = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "cgroup v2 device filter: open %s",
                                cgroup_dir);
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.target_fd = (uint32_t)dfd;
    a.attach_bpf_fd = (uint32_t)prog;
    a.attach_type = BPF_CGROUP_DEVICE;
    /* Several programs may sit on one cgroup and its parents (systemd puts
     * its own): with ALLOW_MULTI every one of them must allow. */
    a.attach_flags = BPF_F_ALLOW_MULTI;
    if (sys_bpf(BPF_PROG_ATTACH, &a) < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "cgroup v2 device filter: attach to %s",
                                cgroup_dir);
    struct bpf_prog_info info;
    memset(&info, 0, sizeof(info));
    memset(&a, 0, sizeof(a));
    a.info.bpf_fd = (uint32_t)prog;
    a.info.info_len = sizeof(info);
    a.info.info = (uint64_t)(uintptr_t)&info;
    *prog_id = sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a) == 0 ? info.id : 0;
    return 0;
}

int rt_bpfdev_detach(const char *cgroup_dir, uint32_t prog_id, struct oci_error **err)
{
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.prog_id = prog_id;
    _cleanup_close_ int prog = sys_bpf(BPF_PROG_GET_FD_BY_ID, &a);
    if (prog < 0)
        return errno == ENOENT ? 0
                               : oci_error_setsys(err, OCI_ERR_IO, errno,
                                                  "cgroup v2 device filter: program %u", prog_id);
    _cleanup_close_ int dfd = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return errno == ENOENT ? 0
                               : oci_error_setsys(err, OCI_ERR_IO, errno, "open %s", cgroup_dir);
    memset(&a, 0, sizeof(a));
    a.target_fd = (uint32_t)dfd;
    a.attach_bpf_fd = (uint32_t)prog;
    a.attach_type = BPF_CGROUP_DEVICE;
    if (sys_bpf(BPF_PROG_DETACH, &a) < 0 && errno != ENOENT)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "cgroup v2 device filter: detach from %s",
                                cgroup_dir);
    return 0;
}

int rt_dev_rules_effective(const struct ort_config *c, struct rt_dev_rule **out, size_t *n_out)
{
    /* What every runtime allows on top of the config's rules: mknod of
     * anything, and the nodes it creates itself (/dev/null, zero, full,
     * random, urandom, tty, console, ptmx, the pty slaves, tun). */
    static const struct rt_dev_rule defaults[] = {
        {true, 'c', -1, -1, "m"}, {true, 'b', -1, -1, "m"},    {true, 'c', 1, 3, "rwm"},
        {true, 'c', 1, 5, "rwm"}, {true, 'c', 1, 7, "rwm"},    {true, 'c', 1, 8, "rwm"},
        {true, 'c', 1, 9, "rwm"}, {true, 'c', 5, 0, "rwm"},    {true, 'c', 5, 1, "rwm"},
        {true, 'c', 5, 2, "rwm"}, {true, 'c', 136, -1, "rwm"}, {true, 'c', 10, 200, "rwm"},
    };
    size_t max = c->res.n_devices + OCI_ARRAY_SIZE(defaults) + c->n_devices;
    struct rt_dev_rule *v = calloc(max ? max : 1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < c->res.n_devices; i++)
        v[k++] = c->res.devices[i];
    for (size_t i = 0; i < OCI_ARRAY_SIZE(defaults); i++)
        v[k++] = defaults[i];
    for (size_t i = 0; i < c->n_devices; i++) {
        const struct rt_device *d = &c->devices[i];
        if (d->type == 'p')
            continue;
        v[k] = (struct rt_dev_rule){true, (char)(d->type == 'u' ? 'c' : d->type), d->major,
                                    d->minor, "rwm"};
        k++;
    }
    *out = v;
    *n_out = k;
    return 0;
}
