/* Internals shared by the files of libregistry. */
#ifndef OCIIMG_REGISTRY_PRIVATE_H
#define OCIIMG_REGISTRY_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include <ociimg/error.h>

/* Untrusted text in an error message: printable ASCII kept, the rest escaped,
 * cut after OREG_QUOTE_MAX input characters, surrounded by quotes. */
#define OREG_QUOTE_MAX 120
#define OREG_QUOTE_BUF (OREG_QUOTE_MAX * 4 + 16)
void oreg_quote(char dst[OREG_QUOTE_BUF], const char *s);
void oreg_quote_n(char dst[OREG_QUOTE_BUF], const char *s, size_t n);

/* Reads a whole user file (symlinks followed, unlike image files) of at most
 * max bytes; *out is NUL-terminated.  Callers holding secrets wipe it with
 * oreg_wipe_free(). */
int oreg_read_user_file(char **out, size_t *out_len, const char *path, size_t max,
                        struct oci_error **err);

/* explicit_bzero then free; NULL-safe.  len may be (size_t)-1 for strlen. */
void oreg_wipe_free(void *p, size_t len);
static inline void oreg_wipe_strp(char **p)
{
    oreg_wipe_free(*p, (size_t)-1);
}
#define _cleanup_wipe_str_ __attribute__((cleanup(oreg_wipe_strp)))

void oreg_ascii_lower(char *s);
bool oreg_has_ctl(const char *s);

/* The domain grammar of references: host [":" port], host a DNS-ish name
 * (components [A-Za-z0-9] with inner '-', joined by '.') or "[IPv6]", port
 * 1..65535.  Returns NULL if valid, else why not (a static string). */
const char *oreg_domain_check(const char *s, size_t len);

/* The repository path grammar (lowercase components joined by '/').
 * Returns NULL if valid, else why not. */
const char *oreg_path_check(const char *p);

/* Runs `docker-credential-<helper> get` with key on stdin: 1 and *out set,
 * 0 when the helper has nothing for key, or a negative code.  The helper's
 * name must be a plain word; it is found in $PATH and run without a shell. */
struct oreg_creds;
int oreg_cred_helper_get(struct oreg_creds **out, const char *helper, const char *key,
                         int timeout_ms, struct oci_error **err);

/* $DOCKER_CONFIG/config.json, else $HOME/.docker/config.json (home from the
 * passwd entry if $HOME is unset).  -OCI_ERR_NOT_FOUND if there is no home. */
int oreg_docker_config_path(char **out, struct oci_error **err);

/* Wipes every string in a JSON tree read from a credentials file; the
 * cleanup variant also drops the reference. */
void oreg_json_wipe_tree(json_object *o);
void oreg_json_wipe_putp(json_object **o);

/* Normalises a config.json auths/credHelpers key for host matching:
 * scheme and path stripped when a scheme is present, Docker Hub aliases
 * mapped to "docker.io".  Returns a malloc'd string or NULL (ENOMEM). */
char *oreg_authkey_normalize(const char *key);

#endif
