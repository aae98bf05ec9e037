/* libruntime's cgroup v2 device filter (bpfdev.c): rule lists translated to
 * an eBPF program, checked by running it.  BPF_PROG_TEST_RUN does not exist
 * for cgroup device programs, so each case attaches the program to a fresh
 * cgroup2 directory and a forked child moves itself in and tries opens and
 * mknods: allowed ones must not fail with EPERM, denied ones must.  The
 * child makes its device nodes first, on a tmpfs in its own mount
 * namespace, so nothing is left on the host but the cgroup directory,
 * which the parent removes.  Needs root and a cgroup2 mount (skips). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/bpf.h>

#include <ociimg/cleanup.h>
#include <ociimg/runtime.h>

#include "libruntime/rt_private.h"
#include "t.h"

static char cg_root[512]; /* the cgroup2 mount */
static char scratch[512]; /* a temp dir the children mount a tmpfs on */
static int case_no;

/* What a probe does: open a node read-only, write-only or read-write, or
 * mknod one. */
enum op { OPEN_R, OPEN_W, OPEN_RW, MKNOD };

struct probe {
    enum op op;
    char type; /* c or b */
    unsigned maj, min;
    bool allowed;
};

static bool find_cgroup2(void)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        char *sep = strstr(line, " - cgroup2 ");
        if (!sep)
            continue;
        char mnt[512];
        if (sscanf(line, "%*s %*s %*s %*s %511s", mnt) == 1) {
            snprintf(cg_root, sizeof(cg_root), "%s", mnt);
            found = true;
        }
    }
    fclose(f);
    return found;
}

/* In the child: a tmpfs of our own holding every node the probes open. */
static int make_nodes(const struct probe *pr, size_t n)
{
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("tmpfs", scratch, "tmpfs", 0, "mode=0700") < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (pr[i].op == MKNOD)
            continue;
        char path[600];
        snprintf(path, sizeof(path), "%s/%c%u_%u", scratch, pr[i].type, pr[i].maj, pr[i].min);
        mode_t kind = pr[i].type == 'b' ? S_IFBLK : S_IFCHR;
        if (mknod(path, kind | 0600, makedev(pr[i].maj, pr[i].min)) < 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

static int try_probe(const struct probe *p)
{
    char path[600];
    if (p->op == MKNOD) {
        snprintf(path, sizeof(path), "%s/new", scratch);
        mode_t kind = p->type == 'b' ? S_IFBLK : S_IFCHR;
        if (mknod(path, kind | 0600, makedev(p->maj, p->min)) < 0)
            return errno;
        unlink(path);
        return 0;
    }
    snprintf(path, sizeof(path), "%s/%c%u_%u", scratch, p->type, p->maj, p->min);
    int flags = p->op == OPEN_R ? O_RDONLY : p->op == OPEN_W ? O_WRONLY : O_RDWR;
    int fd = open(path, flags | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return errno; /* ENXIO and friends: the cgroup let it through */
    close(fd);
    return 0;
}

/* Attaches the rules to a new cgroup, runs the probes in a child inside it
 * (after detaching it again, with detach) and compares. */
static void run_case_d(const char *name, const struct rt_dev_rule *rules, size_t n_rules,
                       const struct probe *pr, size_t n, bool detach)
{
    if (n > 64) {
        CHECK(!"at most 64 probes per case");
        return;
    }
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/ociimg-test-bpfdev-%d-%d", cg_root, (int)getpid(), case_no++);
    if (mkdir(dir, 0755) < 0) {
        fprintf(stderr, "%s: mkdir %s: %s\n", name, dir, strerror(errno));
        CHECK(!"cgroup directory");
        return;
    }
    uint32_t id = 0;
    CHECK_OK(rt_bpfdev_attach(dir, rules, n_rules, &id, T_ERR));
    CHECK(id != 0);
    if (detach)
        CHECK_OK(rt_bpfdev_detach(dir, id, T_ERR));
    int pfd[2];
    CHECK(pipe2(pfd, O_CLOEXEC) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        int res[64] = {0};
        char procs[700], me[32];
        snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
        snprintf(me, sizeof(me), "%d", (int)getpid());
        if (make_nodes(pr, n) < 0)
            _exit(2);
        int fd = open(procs, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, me, strlen(me)) < 0)
            _exit(3);
        close(fd);
        for (size_t i = 0; i < n; i++)
            res[i] = try_probe(&pr[i]);
        ssize_t w = write(pfd[1], res, sizeof(res));
        _exit(w == (ssize_t)sizeof(res) ? 0 : 4);
    }
    close(pfd[1]);
    int res[64] = {0};
    ssize_t got = pid > 0 ? read(pfd[0], res, sizeof(res)) : -1;
    close(pfd[0]);
    int status = -1;
    if (pid > 0)
        waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != (ssize_t)sizeof(res)) {
        fprintf(stderr, "%s: probe child failed (status %#x)\n", name, status);
        CHECK(!"probe child");
    } else {
        static const char *const ops[] = {"open r", "open w", "open rw", "mknod"};
        for (size_t i = 0; i < n; i++) {
            bool denied = res[i] == EPERM;
            t_checks++;
            if (denied == pr[i].allowed) {
                t_failed++;
                t_case_failed = 1;
                fprintf(stderr, "%s: %s %c %u:%u: %s (errno %d), expected %s\n", name,
                        ops[pr[i].op], pr[i].type, pr[i].maj, pr[i].min,
                        denied ? "denied" : "allowed", res[i], pr[i].allowed ? "allowed" : "EPERM");
            }
        }
    }
    /* Removing the directory detaches the program. */
    if (rmdir(dir) < 0) {
        fprintf(stderr, "%s: rmdir %s: %s\n", name, dir, strerror(errno));
        CHECK(!"rmdir");
    }
}

static void run_case(const char *name, const struct rt_dev_rule *rules, size_t n_rules,
                     const struct probe *pr, size_t n)
{
    run_case_d(name, rules, n_rules, pr, n, false);
}

#define RULE(allow, type, maj, min, acc)                                                           \
    {                                                                                              \
        allow, type, maj, min, acc                                                                 \
    }
#define RUN(name, rules, probes)                                                                   \
    run_case(name, rules, OCI_ARRAY_SIZE(rules), probes, OCI_ARRAY_SIZE(probes))

static void test_compile(void)
{
    struct bpf_insn *v = NULL;
    size_t n = 0;
    /* Loads of the context, then "deny" and exit. */
    CHECK_INT(rt_bpfdev_compile(NULL, 0, &v, &n), 0);
    CHECK_INT(n, 8);
    CHECK_INT(v[n - 2].code, BPF_ALU64 | BPF_MOV | BPF_K);
    CHECK_INT(v[n - 2].imm, 0);
    CHECK_INT(v[n - 1].code, BPF_JMP | BPF_EXIT);
    free(v);
    /* A full rule: type, access (3), major, minor, verdict (2); "a *:* rwm"
     * is only the verdict and ends the program (what comes before it in the
     * config can never be reached); a rule that can match no device (major
     * beyond 32 bits, empty access) is left out. */
    struct rt_dev_rule r[] = {
        RULE(true, 'c', 4, 1, "rwm"), RULE(false, 'a', -1, -1, "rwm"),
        RULE(true, 'c', 1, 3, "rw"),  RULE(true, 'c', 1LL << 40, 3, "rwm"),
        RULE(true, 'c', 1, 3, ""),
    };
    CHECK_INT(rt_bpfdev_compile(r, OCI_ARRAY_SIZE(r), &v, &n), 0);
    CHECK_INT(n, 6 + 8 + 2);
    /* Rules are emitted last first: c 1:3 rw, then the deny-all. */
    CHECK_INT(v[6].code, BPF_JMP | BPF_JNE | BPF_K);
    CHECK_INT(v[6].imm, BPF_DEVCG_DEV_CHAR);
    CHECK_INT(v[6].off, 7); /* to the next block */
    CHECK_INT(v[12].imm, 1);
    CHECK_INT(v[14].code, BPF_ALU64 | BPF_MOV | BPF_K);
    CHECK_INT(v[14].imm, 0);
    CHECK_INT(v[15].code, BPF_JMP | BPF_EXIT);
    free(v);
    /* The rule count is capped before anything is allocated or read. */
    v = NULL;
    CHECK_INT(rt_bpfdev_compile(NULL, 4 * RT_MAX_ARRAY + 1, &v, &n), -E2BIG);
    CHECK(v == NULL);
}

static void test_empty_denies_all(void)
{
    struct rt_dev_rule *none = NULL;
    struct probe p[] = {
        {OPEN_R, 'c', 1, 3, false},
        {MKNOD, 'c', 1, 3, false},
        {OPEN_RW, 'b', 7, 0, false},
    };
    run_case("empty", none, 0, p, OCI_ARRAY_SIZE(p));
}

static void test_allowlist(void)
{
    struct rt_dev_rule r[] = {
        RULE(false, 'a', -1, -1, "rwm"),
        RULE(true, 'c', 1, 3, "rwm"),
    };
    struct probe p[] = {
        {OPEN_R, 'c', 1, 3, true}, {OPEN_RW, 'c', 1, 3, true}, {OPEN_R, 'c', 1, 5, false},
        {MKNOD, 'c', 1, 3, true},  {MKNOD, 'c', 1, 5, false},  {OPEN_R, 'b', 1, 3, false},
    };
    RUN("allowlist", r, p);
}

static void test_last_rule_wins(void)
{
    struct rt_dev_rule r[] = {
        RULE(true, 'a', -1, -1, "rwm"),
        RULE(false, 'c', 1, 5, "rwm"),
        RULE(true, 'c', 1, 5, "r"),
    };
    struct probe p[] = {
        {OPEN_R, 'c', 1, 5, true},                              /* the last rule */
        {OPEN_W, 'c', 1, 5, false},                             /* not in it: the deny before it */
        {MKNOD, 'c', 1, 5, false},  {OPEN_RW, 'c', 1, 3, true}, /* the first rule */
        {MKNOD, 'b', 8, 0, true},
    };
    RUN("last wins", r, p);
}

static void test_partial_access(void)
{
    /* A deny takes away the accesses it names: asking for any of them is
     * refused, asking for only the others is not. */
    struct rt_dev_rule r[] = {
        RULE(true, 'a', -1, -1, "rwm"),
        RULE(false, 'c', 1, 3, "w"),
    };
    struct probe p[] = {
        {OPEN_R, 'c', 1, 3, true}, {OPEN_W, 'c', 1, 3, false}, {OPEN_RW, 'c', 1, 3, false},
        {MKNOD, 'c', 1, 3, true},  {OPEN_W, 'c', 1, 5, true},
    };
    RUN("partial access", r, p);
    /* An allow covers a request only when it has every access asked for. */
    struct rt_dev_rule r2[] = {
        RULE(true, 'c', 1, 3, "r"),
        RULE(true, 'c', 1, 3, "w"),
    };
    struct probe p2[] = {
        {OPEN_R, 'c', 1, 3, true},
        {OPEN_W, 'c', 1, 3, true},
        {OPEN_RW, 'c', 1, 3, false},
        {MKNOD, 'c', 1, 3, false},
    };
    RUN("split allows", r2, p2);
}

static void test_wildcards(void)
{
    struct rt_dev_rule r[] = {
        RULE(false, 'a', -1, -1, "rwm"), RULE(true, 'c', 1, -1, "rw"), RULE(true, 'c', -1, -1, "m"),
        RULE(true, 'b', 7, -1, "rwm"),   RULE(true, 'a', -1, 42, "r"),
    };
    struct probe p[] = {
        {OPEN_RW, 'c', 1, 3, true}, {OPEN_R, 'c', 1, 9, true},  {OPEN_R, 'c', 2, 3, false},
        {MKNOD, 'c', 99, 1, true},  {MKNOD, 'b', 7, 3, true},   {MKNOD, 'b', 8, 0, false},
        {OPEN_R, 'b', 7, 1, true},  {OPEN_R, 'b', 9, 42, true}, {OPEN_W, 'b', 9, 42, false},
        {OPEN_R, 'c', 9, 42, true},
    };
    RUN("wildcards", r, p);
}

/* The list a container gets: its rules, then the runtime's defaults, then
 * each linux.devices node. */
static void test_effective_rules(void)
{
    const char *doc =
        "{\"ociVersion\": \"1.2.0\", \"root\": {\"path\": \"rootfs\"},"
        " \"linux\": {\"devices\": [{\"path\": \"/dev/fuse\", \"type\": \"c\", \"major\": 10,"
        " \"minor\": 229}, {\"path\": \"/dev/fifo\", \"type\": \"p\"}],"
        " \"resources\": {\"devices\": [{\"allow\": false, \"access\": \"rwm\"},"
        " {\"allow\": false, \"type\": \"c\", \"major\": 1, \"minor\": 3}]}}}";
    struct ort_config *c = NULL;
    CHECK_OK(ort_config_parse(&c, doc, strlen(doc), T_ERR));
    if (!c)
        return;
    struct rt_dev_rule *rules = NULL;
    size_t n = 0;
    CHECK_INT(rt_dev_rules_effective(c, &rules, &n), 0);
    CHECK_INT(n, 2 + 12 + 1);
    CHECK(!rules[0].allow && rules[0].type == 'a');
    CHECK(rules[n - 1].allow && rules[n - 1].major == 10 && rules[n - 1].minor == 229);
    struct probe p[] = {
        {OPEN_RW, 'c', 1, 3, true},    /* /dev/null: a default wins over the deny */
        {OPEN_RW, 'c', 5, 0, true},    /* /dev/tty */
        {OPEN_RW, 'c', 136, 4, true},  /* a pty slave */
        {OPEN_RW, 'c', 10, 229, true}, /* linux.devices */
        {OPEN_R, 'c', 1, 1, false},    /* /dev/mem */
        {OPEN_R, 'b', 8, 0, false},    /* a disk */
        {MKNOD, 'c', 1, 1, true},      /* mknod is allowed, opening is not */
    };
    run_case("effective", rules, n, p, OCI_ARRAY_SIZE(p));
    free(rules);
    ort_config_free(c);
}

/* A cgroup directory the runtime did not create keeps its programs: delete
 * detaches ours by id. */
static void test_detach(void)
{
    struct rt_dev_rule r[] = {RULE(false, 'a', -1, -1, "rwm")};
    struct probe p[] = {{OPEN_R, 'c', 1, 3, true}, {MKNOD, 'c', 1, 5, true}};
    run_case_d("detach", r, OCI_ARRAY_SIZE(r), p, OCI_ARRAY_SIZE(p), true);
    /* A program that is gone already is not an error. */
    CHECK_OK(rt_bpfdev_detach("/nonexistent", 0x7ffffff0u, T_ERR));
}

int main(void)
{
    T_RUN(test_compile);
    if (geteuid() != 0) {
        fprintf(stderr, "SKIP: running the device filter needs root (bpf, cgroups)\n");
        return t_failed ? 1 : 77;
    }
    if (!find_cgroup2()) {
        fprintf(stderr, "SKIP: no cgroup2 mount to attach a device filter to\n");
        return t_failed ? 1 : 77;
    }
    /* Can we make a cgroup and load a program at all (a container without
     * CAP_BPF, a kernel without CONFIG_CGROUP_BPF)? */
    char probe_dir[600];
    snprintf(probe_dir, sizeof(probe_dir), "%s/ociimg-test-bpfdev-%d-probe", cg_root,
             (int)getpid());
    if (mkdir(probe_dir, 0755) < 0) {
        fprintf(stderr, "SKIP: cannot create a cgroup in %s: %s\n", cg_root, strerror(errno));
        return t_failed ? 1 : 77;
    }
    uint32_t id = 0;
    struct oci_error *e = NULL;
    int r = rt_bpfdev_attach(probe_dir, NULL, 0, &id, &e);
    rmdir(probe_dir);
    if (r < 0) {
        fprintf(stderr, "SKIP: cannot attach a cgroup device program: %s\n", e ? e->msg : "?");
        oci_error_free(e);
        return t_failed ? 1 : 77;
    }
    snprintf(scratch, sizeof(scratch), "/tmp/ociimg-test-bpfdev.XXXXXX");
    if (!mkdtemp(scratch)) {
        perror("mkdtemp");
        return 1;
    }
    T_RUN(test_empty_denies_all);
    T_RUN(test_allowlist);
    T_RUN(test_last_rule_wins);
    T_RUN(test_partial_access);
    T_RUN(test_wildcards);
    T_RUN(test_effective_rules);
    T_RUN(test_detach);
    rmdir(scratch);
    return t_done();
}
