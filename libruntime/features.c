/* `features` (runtime-spec features.md): what this build implements.  Every
 * list comes from the same tables the parser uses, so it cannot drift. */
#include <seccomp.h>
#include <stdio.h>
#include <string.h>

#include <ociimg/cleanup.h>
#include <ociimg/json.h>

#include "rt_private.h"

static json_object *strs(const char *const *v, size_t n)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(a, json_object_new_string(v[i]));
    return a;
}

static json_object *enabled(bool on)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "enabled", json_object_new_boolean(on));
    return o;
}

char *ort_features_json(void)
{
    static const char *const hooks[] = {"prestart",       "createRuntime", "createContainer",
                                        "startContainer", "poststart",     "poststop"};
    static const char *const mount_options[] = {"async",
                                                "atime",
                                                "bind",
                                                "defaults",
                                                "dev",
                                                "diratime",
                                                "dirsync",
                                                "exec",
                                                "iversion",
                                                "lazytime",
                                                "loud",
                                                "mand",
                                                "noatime",
                                                "nodev",
                                                "nodiratime",
                                                "noexec",
                                                "noiversion",
                                                "nolazytime",
                                                "nomand",
                                                "norelatime",
                                                "nostrictatime",
                                                "nosuid",
                                                "nosymfollow",
                                                "private",
                                                "ratime",
                                                "rbind",
                                                "rdev",
                                                "rdiratime",
                                                "relatime",
                                                "remount",
                                                "rexec",
                                                "rnoatime",
                                                "rnodev",
                                                "rnodiratime",
                                                "rnoexec",
                                                "rnorelatime",
                                                "rnostrictatime",
                                                "rnosuid",
                                                "rnosymfollow",
                                                "ro",
                                                "rprivate",
                                                "rrelatime",
                                                "rro",
                                                "rrw",
                                                "rshared",
                                                "rslave",
                                                "rstrictatime",
                                                "rsuid",
                                                "rsymfollow",
                                                "runbindable",
                                                "rw",
                                                "shared",
                                                "silent",
                                                "slave",
                                                "strictatime",
                                                "suid",
                                                "symfollow",
                                                "sync",
                                                "unbindable"};
    static const char *const namespaces[] = {"cgroup", "ipc",  "mount", "network",
                                             "pid",    "user", "uts"};
    static const char *const actions[] = {
        "SCMP_ACT_ALLOW",       "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",   "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"};
    static const char *const operators[] = {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
                                            "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ",
                                            "SCMP_CMP_NE"};
    static const char *const archs[] = {
        "SCMP_ARCH_AARCH64",   "SCMP_ARCH_ARM",      "SCMP_ARCH_MIPS",     "SCMP_ARCH_MIPS64",
        "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",   "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
        "SCMP_ARCH_PARISC",    "SCMP_ARCH_PARISC64", "SCMP_ARCH_PPC",      "SCMP_ARCH_PPC64",
        "SCMP_ARCH_PPC64LE",   "SCMP_ARCH_RISCV64",  "SCMP_ARCH_S390",     "SCMP_ARCH_S390X",
        "SCMP_ARCH_X32",       "SCMP_ARCH_X86",      "SCMP_ARCH_X86_64"};
    static const char *const known_flags[] = {
        "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
    static const char *const supported_flags[] = {
        "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"};

    json_object *o = json_object_new_object();
    json_object_object_add(o, "ociVersionMin", json_object_new_string(ORT_OCI_VERSION_MIN));
    json_object_object_add(o, "ociVersionMax", json_object_new_string(ORT_OCI_VERSION_MAX));
    json_object_object_add(o, "hooks", strs(hooks, OCI_ARRAY_SIZE(hooks)));
    json_object_object_add(o, "mountOptions", strs(mount_options, OCI_ARRAY_SIZE(mount_options)));

    json_object *lx = json_object_new_object();
    json_object_object_add(lx, "namespaces", strs(namespaces, OCI_ARRAY_SIZE(namespaces)));
    json_object *caps = json_object_new_array();
    for (int c = 0; rt_cap_name(c); c++)
        json_object_array_add(caps, json_object_new_string(rt_cap_name(c)));
    json_object_object_add(lx, "capabilities", caps);
    json_object *cg = json_object_new_object();
    json_object_object_add(cg, "v1", json_object_new_boolean(true));
    json_object_object_add(cg, "v2", json_object_new_boolean(true));
    json_object_object_add(cg, "systemd", json_object_new_boolean(false));
    json_object_object_add(cg, "systemdUser", json_object_new_boolean(false));
    json_object_object_add(cg, "rdma", json_object_new_boolean(false));
    json_object_object_add(lx, "cgroup", cg);
    json_object *sc = json_object_new_object();
    json_object_object_add(sc, "enabled", json_object_new_boolean(true));
    json_object_object_add(sc, "actions", strs(actions, OCI_ARRAY_SIZE(actions)));
    json_object_object_add(sc, "operators", strs(operators, OCI_ARRAY_SIZE(operators)));
    json_object_object_add(sc, "archs", strs(archs, OCI_ARRAY_SIZE(archs)));
    json_object_object_add(sc, "knownFlags", strs(known_flags, OCI_ARRAY_SIZE(known_flags)));
    json_object_object_add(sc, "supportedFlags",
                           strs(supported_flags, OCI_ARRAY_SIZE(supported_flags)));
    json_object_object_add(lx, "seccomp", sc);
    json_object_object_add(lx, "apparmor", enabled(false));
    json_object_object_add(lx, "selinux", enabled(false));
    json_object_object_add(lx, "intelRdt", enabled(false));
    json_object *me = json_object_new_object();
    json_object_object_add(me, "idmap", enabled(false));
    json_object_object_add(lx, "mountExtensions", me);
    json_object_object_add(lx, "netDevices", enabled(false));
    json_object_object_add(o, "linux", lx);

    json_object *ann = json_object_new_object();
    const struct scmp_version *v = seccomp_version();
    char buf[32];
    snprintf(buf, sizeof(buf), "%u.%u.%u", v ? v->major : 0, v ? v->minor : 0, v ? v->micro : 0);
    json_object_object_add(ann, "io.github.seccomp.libseccomp.version",
                           json_object_new_string(buf));
    json_object_object_add(o, "annotations", ann);
    char *s = oimg_json_dump(o, true);
    json_object_put(o);
    return s;
}
