/* Internals of libimage/model.
 *
 * Every rule lives in one walker per document kind (mv_descriptor,
 * mv_manifest, ...).  A walker both checks a JSON value and fills the struct
 * it describes, recording each problem in a `struct mv` instead of stopping.
 * The parsers run a walker and fail with its first problem; the validator
 * runs the same walker and reports all of them.  So there is exactly one set
 * of rules. */
#ifndef OCIIMG_MODEL_PRIVATE_H
#define OCIIMG_MODEL_PRIVATE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include <ociimg/model.h>

/* Count caps, checked before any per-item work.  The byte caps
 * (OIMG_MAX_MANIFEST_SIZE, OIMG_MAX_CONFIG_SIZE) already bound the counts;
 * these make the limit explicit and the error clear. */
#define MV_MAX_LAYERS 10000u /* far above what overlay filesystems can stack */
#define MV_MAX_ITEMS 65536u  /* any other array or map in a document */
/* Problems kept per validation; the rest are only counted. */
#define MV_MAX_PROBLEMS 1000u
/* Longest field path we print ("manifests[12].platform.os.features[3]"). */
#define MV_PATH_MAX 256

struct mv {
    struct oimg_problems *p;
    int first_code;   /* negative OCI_ERR_* of the first problem, 0 if none */
    size_t n_dropped; /* problems beyond MV_MAX_PROBLEMS */
    bool nomem;
};

/* Records "<path>: <message>" (just the message when path is NULL or "").
 * code is a positive or negative OCI_ERR_*. */
void mv_add(struct mv *v, int code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void mv_oom(struct mv *v);
bool mv_failed(const struct mv *v);
/* Ends a parser's walk: 0 if there were no problems, else the first problem
 * as an error (prefixed with `what` unless it is an "unsupported" one). */
int mv_finish(struct mv *v, const char *what, struct oci_error **err);

/* Path building into a caller buffer of MV_PATH_MAX bytes. */
const char *mv_key(char *buf, const char *base, const char *key);
const char *mv_idx(char *buf, const char *base, size_t i);
/* base["key"] for keys taken from a document (quoted, cut if long). */
const char *mv_keyq(char *buf, const char *base, const char *key);

/* Quotes untrusted text for a message: printable ASCII kept, the rest
 * escaped, cut after 64 characters.  buf needs MV_QUOTE_MAX bytes. */
#define MV_QUOTE_MAX 300
const char *mv_q(char *buf, const char *s);

/* "a string", "an integer", ... for messages. */
const char *mv_jtype(json_object *o);

/* Field helpers.  All record a problem for a wrong type and return false;
 * they return true only when the field is present with the right type.
 * allow_null treats a JSON null as absent (Docker writes nil slices and
 * maps that way). */
bool mv_get(json_object *obj, const char *key, json_object **out);
bool mv_string(struct mv *v, json_object *obj, const char *key, bool required, const char *base,
               const char **out);
/* As mv_string, and strdup()s into *out. */
bool mv_string_dup(struct mv *v, json_object *obj, const char *key, bool required, const char *base,
                   char **out);
bool mv_bool(struct mv *v, json_object *obj, const char *key, const char *base, bool *out);
/* An array of strings; each accepted element is copied.  check (optional)
 * returns NULL for a good element or a message for a bad one. */
typedef const char *(*mv_str_check)(const char *s);
bool mv_string_array(struct mv *v, json_object *obj, const char *key, bool required,
                     bool allow_null, const char *base, char ***out, size_t *n_out,
                     mv_str_check check);
/* A non-negative int64 JSON integer (no fraction, no exponent, no string). */
bool mv_size(struct mv *v, json_object *obj, const char *key, const char *base, int64_t *out);
/* The schemaVersion field of manifests and indexes: required, exactly 2.
 * Returns the value read (0 if absent or not an integer). */
int mv_schema_version(struct mv *v, json_object *root);
/* A media type field (RFC 6838 shape). */
bool mv_media_type(struct mv *v, json_object *obj, const char *key, bool required, const char *base,
                   char **out);
/* A digest field: the descriptor grammar, and the exact encoding for the
 * registered algorithms. */
bool mv_digest(struct mv *v, json_object *obj, const char *key, const char *base,
               struct oimg_digest *out);
bool mv_digest_string(struct mv *v, const char *s, const char *path, struct oimg_digest *out);

/* Walkers: check `o` (the value itself, possibly of the wrong type) and
 * fill the output as far as it is valid. */
void mv_annotations(struct mv *v, json_object *o, const char *path, struct oimg_annotations *out);
void mv_platform(struct mv *v, json_object *o, const char *path, struct oimg_platform **out);
void mv_descriptor(struct mv *v, json_object *o, const char *path, struct oimg_descriptor *out);
void mv_manifest(struct mv *v, json_object *root, const char *media_type,
                 struct oimg_manifest *out);
void mv_index(struct mv *v, json_object *root, const char *media_type, struct oimg_index *out);
void mv_config(struct mv *v, json_object *root, struct oimg_image_config *out);
void mv_layout(struct mv *v, json_object *root);

/* Docker schema1: by schemaVersion 1, its media types, or its fields.
 * Records the one "unsupported" problem and returns true. */
extern const char mv_schema1_msg[];
bool mv_is_schema1(json_object *root);
bool mv_media_type_is_schema1(const char *mt);

/* Classifies a parsed document (see oimg_doc_detect). */
enum oimg_doc_type mv_detect(json_object *root, bool *schema1);

/* Parses buf as one JSON object within `max` bytes; problems (too large,
 * malformed, not an object) are recorded, not returned. */
json_object *mv_parse_json(struct mv *v, const char *buf, size_t len, size_t max);

/* Writes the canonical arch and variant of (arch, variant) into buffers of
 * sz bytes: lowercase, aliases resolved ("aarch64" -> "arm64", "armhf" ->
 * "arm" + "v7"), "7"/"armv7" -> "v7".  variant_out is "" when none is given
 * or implied.  False for names that do not fit. */
bool mv_platform_canon(const char *arch, const char *variant, char *arch_out, char *variant_out,
                       size_t sz);

/* Copies and frees. */
int mv_platform_copy(struct oimg_platform **dst, const struct oimg_platform *src);
int mv_annotations_copy(struct oimg_annotations *dst, const struct oimg_annotations *src);
void mv_strv_free(char **v, size_t n);
int mv_strv_copy(char ***dst, char *const *src, size_t n);

/* RFC 3339 date-time (the JSON schema's "date-time"). */
bool mv_rfc3339_valid(const char *s);

#endif
