/* Platforms: the `platform` object of index entries, "os/arch[/variant]"
 * strings from users, the host's platform and canonical spellings.
 * Matching and selection are in platform_match.c. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <ociimg/cleanup.h>

#include "model_private.h"

/* Longest os, architecture or variant a user may type. */
#define PLATFORM_PART_MAX 32

void mv_platform(struct mv *v, json_object *o, const char *path, struct oimg_platform **out)
{
    char fpath[MV_PATH_MAX];
    if (!json_object_is_type(o, json_type_object)) {
        mv_add(v, OCI_ERR_INVALID, path, "must be an object, not %s", mv_jtype(o));
        return;
    }
    struct oimg_platform *p = calloc(1, sizeof(*p));
    if (!p) {
        mv_oom(v);
        return;
    }
    /* An empty os or architecture says nothing a platform match could use. */
    if (mv_string_dup(v, o, "architecture", true, path, &p->architecture) && !*p->architecture)
        mv_add(v, OCI_ERR_INVALID, mv_key(fpath, path, "architecture"), "must not be empty");
    if (mv_string_dup(v, o, "os", true, path, &p->os) && !*p->os)
        mv_add(v, OCI_ERR_INVALID, mv_key(fpath, path, "os"), "must not be empty");
    mv_string_dup(v, o, "os.version", false, path, &p->os_version);
    mv_string_array(v, o, "os.features", false, false, path, &p->os_features, &p->n_os_features,
                    NULL);
    mv_string_dup(v, o, "variant", false, path, &p->variant);
    if (*out) {
        oimg_platform_clear(*out);
        free(*out);
    }
    *out = p;
}

/* Replaces *s by val; shrinking happens in place so that normalisation
 * cannot fail for the names it maps to (all shorter than their aliases). */
static void set_str(char **s, const char *val)
{
    if (*s && strlen(*s) >= strlen(val)) {
        memmove(*s, val, strlen(val) + 1);
        return;
    }
    char *d = strdup(val);
    if (!d)
        return; /* keep the old spelling: matching still understands it */
    free(*s);
    *s = d;
}

static void lower(char *s)
{
    for (; s && *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

struct arch_alias {
    const char *alias;
    const char *arch;
    const char *variant; /* implied when the platform names none */
};

static const struct arch_alias arch_aliases[] = {
    {"x86_64", "amd64", NULL},  {"x86-64", "amd64", NULL}, {"aarch64", "arm64", NULL},
    {"armhf", "arm", "v7"},     {"armel", "arm", "v6"},    {"armv8l", "arm", "v8"},
    {"armv7l", "arm", "v7"},    {"armv7", "arm", "v7"},    {"armv6l", "arm", "v6"},
    {"armv6", "arm", "v6"},     {"armv5l", "arm", "v5"},   {"armv5tel", "arm", "v5"},
    {"armv5tejl", "arm", "v5"}, {"i386", "386", NULL},     {"i486", "386", NULL},
    {"i586", "386", NULL},      {"i686", "386", NULL},     {"x86", "386", NULL},
};

bool mv_platform_canon(const char *arch, const char *variant, char *arch_out, char *variant_out,
                       size_t sz)
{
    if (!arch || strlen(arch) >= sz || (variant && strlen(variant) >= sz))
        return false;
    snprintf(arch_out, sz, "%s", arch);
    snprintf(variant_out, sz, "%s", variant ? variant : "");
    lower(arch_out);
    lower(variant_out);
    for (size_t i = 0; i < OCI_ARRAY_SIZE(arch_aliases); i++) {
        if (strcmp(arch_out, arch_aliases[i].alias) == 0) {
            snprintf(arch_out, sz, "%s", arch_aliases[i].arch);
            if (!*variant_out && arch_aliases[i].variant)
                snprintf(variant_out, sz, "%s", arch_aliases[i].variant);
            break;
        }
    }
    /* Variants as some tools write them: "7", "armv7" -> "v7". */
    if (strcmp(arch_out, "arm") == 0 || strcmp(arch_out, "arm64") == 0 ||
        strcmp(arch_out, "amd64") == 0) {
        const char *num = variant_out;
        if (strncmp(num, "armv", 4) == 0)
            num += 4;
        if (num[0] >= '0' && num[0] <= '9') {
            char tmp[PLATFORM_PART_MAX * 2];
            snprintf(tmp, sizeof(tmp), "v%s", num);
            if (strlen(tmp) < sz)
                snprintf(variant_out, sz, "%s", tmp);
        }
    }
    return true;
}

void oimg_platform_normalize(struct oimg_platform *p)
{
    if (!p)
        return;
    lower(p->os);
    if (p->architecture) {
        char arch[128], variant[128];
        if (mv_platform_canon(p->architecture, p->variant, arch, variant, sizeof(arch))) {
            set_str(&p->architecture, arch);
            if (*variant)
                set_str(&p->variant, variant);
        }
    }
    lower(p->variant);
}

char *oimg_platform_format(const struct oimg_platform *p)
{
    char *s = NULL;
    if (!p)
        return NULL;
    const char *os = p->os ? p->os : "";
    const char *arch = p->architecture ? p->architecture : "";
    int r = p->variant && *p->variant ? asprintf(&s, "%s/%s/%s", os, arch, p->variant)
                                      : asprintf(&s, "%s/%s", os, arch);
    return r < 0 ? NULL : s;
}

static bool part_valid(const char *s, size_t n)
{
    if (n == 0 || n > PLATFORM_PART_MAX || !isalnum((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '_' && c != '-' && c != '.')
            return false;
    }
    return true;
}

int oimg_platform_parse(struct oimg_platform *out, const char *s, struct oci_error **err)
{
    char q[MV_QUOTE_MAX];
    if (!s)
        return oci_error_set(err, OCI_ERR_INVALID, "no platform given");
    const char *parts[4];
    size_t lens[4], n = 0;
    const char *p = s;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 3)
            return oci_error_set(err, OCI_ERR_INVALID,
                                 "invalid platform %s: expected OS/ARCH[/VARIANT], e.g. "
                                 "linux/arm64/v8",
                                 mv_q(q, s));
        parts[n] = p;
        lens[n++] = len;
        if (!slash)
            break;
        p = slash + 1;
    }
    if (n < 2)
        return oci_error_set(err, OCI_ERR_INVALID,
                             "invalid platform %s: expected OS/ARCH[/VARIANT], e.g. linux/amd64",
                             mv_q(q, s));
    for (size_t i = 0; i < n; i++)
        if (!part_valid(parts[i], lens[i]))
            return oci_error_set(err, OCI_ERR_INVALID,
                                 "invalid platform %s: each part must be 1-%d characters from "
                                 "a-z, 0-9, '_', '-', '.' starting with a letter or digit",
                                 mv_q(q, s), PLATFORM_PART_MAX);

    struct oimg_platform r = {0};
    r.os = strndup(parts[0], lens[0]);
    r.architecture = strndup(parts[1], lens[1]);
    r.variant = n == 3 ? strndup(parts[2], lens[2]) : NULL;
    if (!r.os || !r.architecture || (n == 3 && !r.variant)) {
        oimg_platform_clear(&r);
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    oimg_platform_normalize(&r);
    *out = r;
    return 0;
}

int oimg_platform_host(struct oimg_platform *out, struct oci_error **err)
{
    struct utsname u;
    if (uname(&u) < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "uname");
    struct oimg_platform r = {0};
    r.os = strdup(u.sysname);
    r.architecture = strdup(u.machine);
    if (!r.os || !r.architecture) {
        oimg_platform_clear(&r);
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    oimg_platform_normalize(&r);
    /* Spelled out for arm64 hosts so that messages show what we run. */
    if (strcmp(r.architecture, "arm64") == 0 && !r.variant) {
        r.variant = strdup("v8");
        if (!r.variant) {
            oimg_platform_clear(&r);
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        }
    }
    *out = r;
    return 0;
}
