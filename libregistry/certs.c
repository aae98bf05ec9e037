/* TLS material in docker's certs.d layout: in a directory, every *.crt is a
 * CA to trust besides the system's, every *.cert with its *.key (same base
 * name) a client certificate.  Looked up per host in
 * /etc/containers/certs.d/<host:port>/ and /etc/docker/certs.d/<host:port>/,
 * or in --cert-dir for the registry an operation names (a certs.d tree with
 * a <host:port> subdirectory works there too). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/cleanup.h>

#include "client_private.h"
#include "registry_private.h"

#define CERTS_DIR_ENTRIES_MAX 256
#define CERTS_FILES_MAX 32

static const char *const default_dirs[] = {"/etc/containers/certs.d", "/etc/docker/certs.d"};

void certs_clear(struct http_tls *t)
{
    for (size_t i = 0; i < t->n_ca; i++)
        free(t->ca_files[i]);
    free(t->ca_files);
    free(t->cert);
    free(t->key);
    memset(t, 0, sizeof(*t));
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n > m && strcmp(s + n - m, suf) == 0;
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int add_ca(struct http_tls *t, const char *path, struct oci_error **err)
{
    if (t->n_ca >= CERTS_FILES_MAX)
        return 0;
    char **nv = realloc(t->ca_files, (t->n_ca + 1) * sizeof(*nv));
    if (!nv)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    t->ca_files = nv;
    if (!(t->ca_files[t->n_ca] = strdup(path)))
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    t->n_ca++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads one directory; client pairs only when clients is set. */
static int load_dir(struct http_tls *t, const char *dir, bool clients, struct oci_error **err)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT || errno == ENOTDIR
                   ? 0
                   : oci_error_setsys(err, OCI_ERR_IO, errno, "read certificate directory `%s`",
                                      dir);
    char *names[CERTS_DIR_ENTRIES_MAX];
    size_t n = 0;
    struct dirent *de;
    int r = 0;
    while ((de = readdir(d)) && n < CERTS_DIR_ENTRIES_MAX) {
        if (!has_suffix(de->d_name, ".crt") && !has_suffix(de->d_name, ".cert"))
            continue;
        if (!(names[n] = strdup(de->d_name))) {
            r = oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    /* Sorted, so the same directory always gives the same choice. */
    if (n > 1)
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n && r >= 0; i++) {
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/%s", dir, names[i]) < 0) {
            r = oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
            break;
        }
        if (!is_file(path))
            continue;
        if (has_suffix(names[i], ".crt")) {
            r = add_ca(t, path, err);
            continue;
        }
        if (!clients || t->cert)
            continue;
        _cleanup_free_ char *key = NULL;
        if (asprintf(&key, "%.*s.key", (int)(strlen(path) - 5), path) < 0) {
            r = oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
            break;
        }
        if (!is_file(key)) {
            r = oci_error_set(err, OCI_ERR_NOT_FOUND,
                              "client certificate `%s` has no key `%s` beside it", path, key);
            break;
        }
        t->cert = TAKE_PTR(path);
        t->key = TAKE_PTR(key);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    return r;
}

int certs_load(struct http_tls *out, const char *cert_dir, const char *host, bool named,
               bool insecure, struct oci_error **err)
{
    struct http_tls t = {.verify = !insecure};
    /* host comes from a validated reference or URL; still, it becomes a
     * path component here. */
    bool host_ok = host && *host && !strchr(host, '/') && strcmp(host, ".") != 0 &&
                   strcmp(host, "..") != 0 && strlen(host) < 512;
    int r = 0;
    if (cert_dir) {
        _cleanup_free_ char *sub = NULL;
        if (host_ok && asprintf(&sub, "%s/%s", cert_dir, host) < 0)
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        const char *dir = sub && is_dir(sub) ? sub : cert_dir;
        if (named && !is_dir(cert_dir))
            r = oci_error_set(err, OCI_ERR_NOT_FOUND, "--cert-dir `%s` is not a directory",
                              cert_dir);
        else
            r = load_dir(&t, dir, named, err);
    }
    if (r >= 0 && host_ok && !(cert_dir && named)) {
        for (size_t i = 0; i < OCI_ARRAY_SIZE(default_dirs) && r >= 0; i++) {
            _cleanup_free_ char *dir = NULL;
            if (asprintf(&dir, "%s/%s", default_dirs[i], host) < 0)
                r = oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
            else
                r = load_dir(&t, dir, true, err);
        }
    }
    if (r < 0) {
        certs_clear(&t);
        return r;
    }
    *out = t;
    return 0;
}
