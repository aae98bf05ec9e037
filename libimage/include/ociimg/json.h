/* Bounded JSON reading on top of json-c.  Every document we read comes from
 * an image, a registry or a user, so size and nesting depth are capped before
 * json-c allocates anything for them. */
#ifndef OCIIMG_JSON_H
#define OCIIMG_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "error.h"

#define OIMG_JSON_DEFAULT_MAX_SIZE (4u * 1024 * 1024)
#define OIMG_JSON_DEFAULT_MAX_DEPTH 64

struct oimg_json_limits {
    size_t max_size; /* bytes; 0 = OIMG_JSON_DEFAULT_MAX_SIZE */
    int max_depth;   /* 0 = OIMG_JSON_DEFAULT_MAX_DEPTH */
};

/* Parses exactly one JSON value (strict RFC 8259: no comments, no trailing
 * garbage, valid UTF-8).  lim may be NULL for the defaults. */
int oimg_json_parse(json_object **out, const char *buf, size_t len,
                    const struct oimg_json_limits *lim, struct oci_error **err);

/* Reads a whole file below dirfd (no symlink following on the last
 * component) with a size cap; *out is NUL-terminated. */
int oimg_read_file_at(char **out, size_t *out_len, int dirfd, const char *path, size_t max,
                      struct oci_error **err);

/* Serialises compactly with '/' unescaped; the returned string is malloc'd. */
char *oimg_json_dump(json_object *o, bool pretty);

/* Typed accessors.  "opt" variants: absent key -> 0 and *out untouched;
 * present with the wrong type -> -OCI_ERR_INVALID naming `what`.key. */
int oimg_json_get_string(const char **out, json_object *obj, const char *key, bool required,
                         const char *what, struct oci_error **err);
int oimg_json_get_int64(int64_t *out, bool *present, json_object *obj, const char *key,
                        bool required, const char *what, struct oci_error **err);

static inline void oimg_json_putp(json_object **o)
{
    if (*o)
        json_object_put(*o);
}
#define _cleanup_json_ __attribute__((cleanup(oimg_json_putp)))

#endif
