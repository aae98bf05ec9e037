/* Config.User -> process.user: numeric ids range-checked, names looked up in
 * the rootfs' own /etc/passwd and /etc/group.  Those files come from the
 * image: they are opened through the rootfs fd (a symlink cannot lead to a
 * host file), must be regular files (a device node is never opened: some,
 * like a watchdog, act on open), and are size- and line-capped. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/bundle.h>
#include <ociimg/cleanup.h>
#include <ociimg/fs.h>

#include "bundle_private.h"

#define MAX_FIELDS 7

int oimg_bundle_parse_id(const char *s, size_t len, uint32_t *out, struct oci_error **err)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        v = v * 10 + (uint64_t)(s[i] - '0');
        /* (uint32_t)-1 is "no id" to chown and setresuid: never a real id. */
        if (v > 0xFFFFFFFEull)
            return oci_error_set(err, OCI_ERR_INVALID,
                                 "id `%.*s` is out of range (0 to 4294967294)",
                                 (int)(len > 40 ? 40 : len), s);
    }
    *out = (uint32_t)v;
    return 1;
}

int bundle_read_in_root(char **out, size_t *len, int rootfd, const char *path, size_t max,
                        struct oci_error **err)
{
    struct oci_error *e = NULL;
    /* O_PATH first: nothing is opened for reading before we know it is a
     * regular file. */
    _cleanup_close_ int pfd = oimg_fs_open_in_root(rootfd, path, O_PATH, 0, &e);
    if (pfd < 0) {
        if (e && (e->sys_errno == ENOENT || e->sys_errno == ENOTDIR)) {
            oci_error_free(e);
            return 0;
        }
        if (err)
            *err = e;
        else
            oci_error_free(e);
        return oci_error_wrap(err, "read `/%s` of the rootfs", path);
    }
    struct stat st;
    if (fstat(pfd, &st) < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "stat `/%s` of the rootfs", path);
    if (!S_ISREG(st.st_mode))
        return oci_error_set(err, OCI_ERR_INVALID, "`/%s` of the rootfs is not a regular file",
                             path);
    if ((uint64_t)st.st_size > max)
        return oci_error_set(err, OCI_ERR_TOO_LARGE,
                             "`/%s` of the rootfs is larger than the limit of %zu bytes", path,
                             max);
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
    _cleanup_close_ int fd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT) /* no /proc: open again, then compare */
        fd = oimg_fs_open_in_root(rootfd, path, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0, err);
    if (fd < 0)
        return err && *err
                   ? oci_error_wrap(err, "read `/%s` of the rootfs", path)
                   : oci_error_setsys(err, OCI_ERR_IO, errno, "open `/%s` of the rootfs", path);
    struct stat st2;
    if (fstat(fd, &st2) < 0 || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino ||
        !S_ISREG(st2.st_mode))
        return oci_error_set(err, OCI_ERR_IO, "`/%s` of the rootfs changed while being opened",
                             path);
    _cleanup_free_ char *buf = malloc(max + 1);
    if (!buf)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    /* The size was checked, but a file can grow: read one byte past max. */
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, max + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "read `/%s` of the rootfs", path);
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max)
            return oci_error_set(err, OCI_ERR_TOO_LARGE,
                                 "`/%s` of the rootfs is larger than the limit of %zu bytes", path,
                                 max);
    }
    buf[n] = '\0';
    *out = TAKE_PTR(buf);
    *len = n;
    return 1;
}

/* ---- passwd/group lines ---- */

struct idfile {
    const char *name; /* "etc/passwd" */
    char *buf;
    size_t len;
    bool present;
    /* iteration */
    size_t pos;
    size_t lineno;
    char line[OIMG_BUNDLE_MAX_ID_LINE + 1];
};

static int idfile_load(struct idfile *f, int rootfd, const char *name, struct oci_error **err)
{
    f->name = name;
    if (rootfd < 0)
        return 0;
    int r = bundle_read_in_root(&f->buf, &f->len, rootfd, name, OIMG_BUNDLE_MAX_ID_FILE, err);
    if (r < 0)
        return r;
    f->present = r > 0;
    return 0;
}

static void idfile_free(struct idfile *f)
{
    if (f)
        free(f->buf);
    free(f);
}
OCI_DEFINE_CLEANUP(struct idfile *, idfile_free)

/* The next entry's fields (split at ':', at most MAX_FIELDS; the last keeps
 * any further ':').  Blank lines, comments and NIS "+"/"-" lines are
 * skipped.  Returns the field count, 0 at the end, negative on error. */
static int idfile_next(struct idfile *f, char *fields[MAX_FIELDS], size_t flen[MAX_FIELDS],
                       struct oci_error **err)
{
    while (f->pos < f->len) {
        const char *start = f->buf + f->pos;
        const char *nl = memchr(start, '\n', f->len - f->pos);
        size_t n = nl ? (size_t)(nl - start) : f->len - f->pos;
        f->pos += n + (nl ? 1 : 0);
        f->lineno++;
        if (n > OIMG_BUNDLE_MAX_ID_LINE)
            return oci_error_set(err, OCI_ERR_TOO_LARGE,
                                 "/%s of the rootfs: line %zu is longer than %u bytes", f->name,
                                 f->lineno, OIMG_BUNDLE_MAX_ID_LINE);
        if (n && start[n - 1] == '\r')
            n--;
        if (n == 0 || start[0] == '#' || start[0] == '+' || start[0] == '-')
            continue;
        memcpy(f->line, start, n);
        f->line[n] = '\0';
        int nf = 0;
        char *p = f->line;
        for (;;) {
            fields[nf] = p;
            char *c = nf + 1 < MAX_FIELDS ? strchr(p, ':') : NULL;
            flen[nf] = c ? (size_t)(c - p) : strlen(p);
            nf++;
            if (!c)
                break;
            *c = '\0';
            p = c + 1;
        }
        return nf;
    }
    return 0;
}

static bool field_is(const char *field, size_t flen, const char *s, size_t slen)
{
    return flen == slen && memcmp(field, s, slen) == 0;
}

/* A passwd entry's numeric field; an invalid one on the entry we need is an
 * error (a wrapped-around id must never become root). */
static int entry_id(uint32_t *out, const char *field, size_t flen, const struct idfile *f,
                    const char *what, struct oci_error **err)
{
    int r = oimg_bundle_parse_id(field, flen, out, err);
    if (r < 0)
        return oci_error_wrap(err, "/%s of the rootfs, line %zu: %s", f->name, f->lineno, what);
    if (r == 0)
        return oci_error_set(err, OCI_ERR_INVALID,
                             "/%s of the rootfs, line %zu: %s `%.*s` is not "
                             "a number",
                             f->name, f->lineno, what, (int)(flen > 40 ? 40 : flen), field);
    return 0;
}

struct pwmatch {
    bool found;
    uint32_t uid, gid;
    char *home;
};

/* The first passwd entry with this name (name != NULL) or uid. */
static int passwd_find(struct pwmatch *m, struct idfile *f, const char *name, size_t name_len,
                       uint32_t uid, struct oci_error **err)
{
    f->pos = f->lineno = 0;
    char *fl[MAX_FIELDS];
    size_t ln[MAX_FIELDS];
    int nf;
    while ((nf = idfile_next(f, fl, ln, err)) > 0) {
        if (nf < 4)
            continue;
        uint32_t id;
        if (name) {
            if (!field_is(fl[0], ln[0], name, name_len))
                continue;
            if (entry_id(&id, fl[2], ln[2], f, "uid", err) < 0)
                return -OCI_ERR_INVALID;
        } else {
            struct oci_error *ignore = NULL;
            int r = oimg_bundle_parse_id(fl[2], ln[2], &id, &ignore);
            oci_error_free(ignore);
            if (r <= 0 || id != uid)
                continue;
        }
        m->uid = id;
        if (entry_id(&m->gid, fl[3], ln[3], f, "gid", err) < 0)
            return -OCI_ERR_INVALID;
        if (nf >= 6 && ln[5] > 0) {
            m->home = strndup(fl[5], ln[5]);
            if (!m->home)
                return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        }
        m->found = true;
        return 1;
    }
    return nf;
}

static int group_find(bool *found, uint32_t *gid, struct idfile *f, const char *name,
                      size_t name_len, struct oci_error **err)
{
    f->pos = f->lineno = 0;
    char *fl[MAX_FIELDS];
    size_t ln[MAX_FIELDS];
    int nf;
    while ((nf = idfile_next(f, fl, ln, err)) > 0) {
        if (nf < 3 || !field_is(fl[0], ln[0], name, name_len))
            continue;
        if (entry_id(gid, fl[2], ln[2], f, "gid", err) < 0)
            return -OCI_ERR_INVALID;
        *found = true;
        return 1;
    }
    return nf;
}

static int add_gid(struct oimg_bundle_user *u, uint32_t gid, struct oci_error **err)
{
    for (size_t i = 0; i < u->n_additional_gids; i++)
        if (u->additional_gids[i] == gid)
            return 0;
    if (u->n_additional_gids >= OIMG_BUNDLE_MAX_GROUPS)
        return oci_error_set(err, OCI_ERR_TOO_LARGE, "the user is a member of more than %d groups",
                             OIMG_BUNDLE_MAX_GROUPS);
    uint32_t *n = realloc(u->additional_gids, (u->n_additional_gids + 1) * sizeof(*n));
    if (!n)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    n[u->n_additional_gids++] = gid;
    u->additional_gids = n;
    return 0;
}

/* Every group listing name among its members. */
static int group_memberships(struct oimg_bundle_user *u, struct idfile *f, const char *name,
                             size_t name_len, struct oci_error **err)
{
    f->pos = f->lineno = 0;
    char *fl[MAX_FIELDS];
    size_t ln[MAX_FIELDS];
    int nf;
    while ((nf = idfile_next(f, fl, ln, err)) > 0) {
        if (nf < 4)
            continue;
        bool member = false;
        const char *p = fl[3], *end = fl[3] + ln[3];
        while (p < end && !member) {
            const char *c = memchr(p, ',', (size_t)(end - p));
            size_t n = c ? (size_t)(c - p) : (size_t)(end - p);
            member = field_is(p, n, name, name_len);
            p += n + 1;
        }
        if (!member)
            continue;
        uint32_t gid;
        if (entry_id(&gid, fl[2], ln[2], f, "gid", err) < 0)
            return -OCI_ERR_INVALID;
        if (add_gid(u, gid, err) < 0)
            return -OCI_ERR_TOO_LARGE;
    }
    return nf;
}

void oimg_bundle_user_clear(struct oimg_bundle_user *u)
{
    if (!u)
        return;
    free(u->additional_gids);
    free(u->home);
    memset(u, 0, sizeof(*u));
}

static int resolve(struct oimg_bundle_user *u, int rootfd, const char *spec, struct oci_error **err)
{
    const char *colon = strchr(spec, ':');
    size_t ulen = colon ? (size_t)(colon - spec) : strlen(spec);
    const char *group = colon ? colon + 1 : NULL;
    if (colon && (ulen == 0 || !*group || strchr(group, ':')))
        return oci_error_set(err, OCI_ERR_INVALID, "expected user, uid, user:group or uid:gid");

    uint32_t uid = 0;
    int unum = ulen ? oimg_bundle_parse_id(spec, ulen, &uid, err) : 1;
    if (unum < 0)
        return unum;
    if (!unum && rootfd < 0)
        return oci_error_set(err, OCI_ERR_INVALID,
                             "user `%.*s` is a name, and there is no rootfs "
                             "to look it up in",
                             (int)ulen, spec);

    _cleanup_(idfile_freep) struct idfile *pw = calloc(1, sizeof(*pw));
    if (!pw)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    int r = idfile_load(pw, rootfd, "etc/passwd", err);
    if (r < 0)
        return r;
    struct pwmatch m = {0};
    if (pw->present) {
        r = passwd_find(&m, pw, unum ? NULL : spec, ulen, uid, err);
        if (r < 0) {
            free(m.home);
            return r;
        }
    }
    if (!unum && !m.found) {
        free(m.home);
        return oci_error_set(err, OCI_ERR_INVALID,
                             "user `%.*s` is not in the image's /etc/passwd%s", (int)ulen, spec,
                             pw->present ? "" : " (the image has none)");
    }
    u->uid = unum ? uid : m.uid;
    u->gid = m.found ? m.gid : 0;
    u->home = m.home;

    _cleanup_(idfile_freep) struct idfile *gr = NULL;
    if (group || !unum) {
        gr = calloc(1, sizeof(*gr));
        if (!gr)
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        if ((r = idfile_load(gr, rootfd, "etc/group", err)) < 0)
            return r;
    }
    if (group) {
        size_t glen = strlen(group);
        uint32_t gid;
        int gnum = oimg_bundle_parse_id(group, glen, &gid, err);
        if (gnum < 0)
            return gnum;
        if (!gnum) {
            bool found = false;
            if (rootfd < 0)
                return oci_error_set(err, OCI_ERR_INVALID,
                                     "group `%s` is a name, and there is no "
                                     "rootfs to look it up in",
                                     group);
            if (gr->present && (r = group_find(&found, &gid, gr, group, glen, err)) < 0)
                return r;
            if (!found)
                return oci_error_set(err, OCI_ERR_INVALID,
                                     "group `%s` is not in the image's /etc/group%s", group,
                                     gr->present ? "" : " (the image has none)");
        }
        u->gid = gid;
    } else if (!unum && gr->present) {
        /* conversion.md: additionalGids only for a user name without group. */
        if ((r = group_memberships(u, gr, spec, ulen, err)) < 0)
            return r;
    }
    return 0;
}

int oimg_bundle_resolve_user(struct oimg_bundle_user *out, int rootfd, const char *spec,
                             struct oci_error **err)
{
    struct oimg_bundle_user u = {0};
    int r = resolve(&u, rootfd, spec ? spec : "", err);
    if (r < 0) {
        oimg_bundle_user_clear(&u);
        return oci_error_wrap(err, "Config.User `%.64s`", spec ? spec : "");
    }
    *out = u;
    return 0;
}
