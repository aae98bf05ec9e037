/* The OCI content model: descriptors, manifests, indexes and image configs,
 * parsed and validated by the image-spec's rules (not only its JSON schema).
 * Docker schema2 manifests and manifest lists map onto the same structs
 * (`docker` set); Docker schema1 is refused as unsupported. */
#ifndef OCIIMG_MODEL_H
#define OCIIMG_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "digest.h"
#include "error.h"

#define OIMG_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OIMG_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define OIMG_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define OIMG_MT_OCI_LAYOUT_HEADER "application/vnd.oci.layout.header.v1+json"
#define OIMG_MT_OCI_EMPTY "application/vnd.oci.empty.v1+json"
#define OIMG_MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define OIMG_MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define OIMG_MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define OIMG_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define OIMG_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define OIMG_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define OIMG_MT_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define OIMG_MT_DOCKER_SCHEMA1 "application/vnd.docker.distribution.manifest.v1+json"
#define OIMG_MT_DOCKER_SCHEMA1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"

#define OIMG_ANNOT_REF_NAME "org.opencontainers.image.ref.name"

/* Default cap for manifests and indexes (the distribution spec's 4 MiB);
 * oimg_manifest_parse, oimg_index_parse and oimg_validate_document refuse
 * larger documents with -OCI_ERR_TOO_LARGE. */
#define OIMG_MAX_MANIFEST_SIZE (4u * 1024 * 1024)
/* Default cap for image configs: larger than for manifests because long
 * histories and environments are legitimate.  Used by oimg_config_parse,
 * oimg_doc_detect and validation of configs. */
#define OIMG_MAX_CONFIG_SIZE (8u * 1024 * 1024)
/* Besides the byte caps, every parser refuses with -OCI_ERR_TOO_LARGE: JSON
 * nested deeper than OIMG_JSON_DEFAULT_MAX_DEPTH, more than 10000 layers or
 * diff_ids, and more than 65536 entries in any other array or map. */

struct oimg_kv {
    char *key;
    char *value;
};

struct oimg_annotations {
    struct oimg_kv *items;
    size_t n;
};
/* Value for key, or NULL. */
const char *oimg_annotations_get(const struct oimg_annotations *a, const char *key);

struct oimg_platform {
    char *os;
    char *architecture;
    char *variant;    /* NULL if absent */
    char *os_version; /* NULL if absent */
    char **os_features;
    size_t n_os_features;
};

struct oimg_descriptor {
    char *media_type;
    struct oimg_digest digest; /* alg may be UNKNOWN (grammatical only) */
    int64_t size;
    char **urls;
    size_t n_urls;
    struct oimg_annotations annotations;
    unsigned char *data; /* decoded "data" field, NULL if absent */
    size_t data_len;
    struct oimg_platform *platform; /* NULL if absent */
    char *artifact_type;            /* NULL if absent */
};

struct oimg_manifest {
    int schema_version;
    char *media_type; /* as written in the document (may be NULL for OCI) */
    bool docker;      /* Docker schema2 */
    char *artifact_type;
    struct oimg_descriptor config;
    struct oimg_descriptor *layers;
    size_t n_layers;
    struct oimg_descriptor *subject; /* NULL if absent */
    struct oimg_annotations annotations;
};

struct oimg_index {
    int schema_version;
    char *media_type;
    bool docker; /* Docker manifest list */
    char *artifact_type;
    struct oimg_descriptor *manifests;
    size_t n_manifests;
    struct oimg_descriptor *subject;
    struct oimg_annotations annotations;
};

struct oimg_history {
    char *created;
    char *created_by;
    char *author;
    char *comment;
    bool empty_layer;
};

struct oimg_image_config {
    char *created; /* RFC 3339, validated */
    char *author;
    char *architecture;
    char *os;
    char *os_version;
    char **os_features;
    size_t n_os_features;
    char *variant;
    struct {
        char *user;
        char **exposed_ports; /* keys of ExposedPorts */
        size_t n_exposed_ports;
        char **env;
        size_t n_env;
        char **entrypoint;
        size_t n_entrypoint;
        bool has_entrypoint; /* present (possibly empty) vs absent */
        char **cmd;
        size_t n_cmd;
        bool has_cmd;
        char **volumes; /* keys of Volumes */
        size_t n_volumes;
        char *working_dir;
        struct oimg_annotations labels;
        char *stop_signal;
        bool args_escaped;
    } config;
    struct {
        char *type; /* "layers" */
        struct oimg_digest *diff_ids;
        size_t n_diff_ids;
    } rootfs;
    struct oimg_history *history;
    size_t n_history;
};

enum oimg_doc_type {
    OIMG_DOC_UNKNOWN = 0,
    OIMG_DOC_MANIFEST,   /* OCI manifest or Docker schema2 */
    OIMG_DOC_INDEX,      /* OCI index or Docker manifest list */
    OIMG_DOC_CONFIG,     /* image config */
    OIMG_DOC_DESCRIPTOR, /* a bare descriptor */
    OIMG_DOC_LAYOUT,     /* the oci-layout file */
};

/* Parsers.  Each validates fully; media_type is the type the document was
 * fetched or referenced as (NULL if unknown) and must agree with the
 * document's own mediaType when both are set.  len is capped by the
 * OIMG_MAX_* defaults. */
int oimg_manifest_parse(struct oimg_manifest **out, const char *buf, size_t len,
                        const char *media_type, struct oci_error **err);
int oimg_index_parse(struct oimg_index **out, const char *buf, size_t len, const char *media_type,
                     struct oci_error **err);
int oimg_config_parse(struct oimg_image_config **out, const char *buf, size_t len,
                      struct oci_error **err);
/* Parses a descriptor from an already-parsed JSON object; `where` names it in
 * errors ("manifests[2]").  out is filled (and must be cleared with
 * oimg_descriptor_clear) only on success. */
int oimg_descriptor_from_json(struct oimg_descriptor *out, json_object *obj, const char *where,
                              struct oci_error **err);
json_object *oimg_descriptor_to_json(const struct oimg_descriptor *d);
int oimg_descriptor_copy(struct oimg_descriptor *dst, const struct oimg_descriptor *src,
                         struct oci_error **err);

/* Classifies a document by its mediaType field and shape; a schema1 document
 * is OIMG_DOC_UNKNOWN with -OCI_ERR_UNSUPPORTED. */
int oimg_doc_detect(enum oimg_doc_type *out, const char *buf, size_t len, struct oci_error **err);

/* A list of validation problems, one line each ("layers[0].digest: ..."). */
struct oimg_problems {
    char **lines;
    size_t n;
};
void oimg_problems_clear(struct oimg_problems *p);

/* Validates a document of the given type and collects every problem found
 * rather than stopping at the first.  Returns 0 whether or not problems were
 * found (check p->n); negative only when validation itself failed. */
int oimg_validate_document(struct oimg_problems *p, enum oimg_doc_type type, const char *buf,
                           size_t len, struct oci_error **err);

/* OCI or Docker schema2 manifest (schema1 types are not: they are refused). */
bool oimg_media_type_is_manifest(const char *mt);
/* OCI index or Docker manifest list. */
bool oimg_media_type_is_index(const char *mt);
/* A tar layer we can apply: OCI tar/+gzip/+zstd (also nondistributable),
 * Docker gzip/uncompressed/foreign; not encrypted layers. */
bool oimg_media_type_is_layer(const char *mt);
/* RFC 6838 shape check used for every mediaType field. */
bool oimg_media_type_valid(const char *mt);

void oimg_descriptor_clear(struct oimg_descriptor *d);
void oimg_platform_clear(struct oimg_platform *p);
void oimg_annotations_clear(struct oimg_annotations *a);
void oimg_manifest_free(struct oimg_manifest *m);
void oimg_index_free(struct oimg_index *i);
void oimg_config_free(struct oimg_image_config *c);

/* Platforms: "os/arch[/variant]" strings, normalisation and selection. */
int oimg_platform_parse(struct oimg_platform *out, const char *s, struct oci_error **err);
/* The platform this process runs on (linux/amd64, linux/arm64/v8, ...). */
int oimg_platform_host(struct oimg_platform *out, struct oci_error **err);
/* Normalises in place: aarch64->arm64 (variant v8 implied), x86_64->amd64,
 * armhf->arm/v7, armel->arm/v6, i386/i686->386, lowercase. */
void oimg_platform_normalize(struct oimg_platform *p);
/* "linux/arm64/v8"; malloc'd. */
char *oimg_platform_format(const struct oimg_platform *p);
/* Does `have` (from an index) satisfy `want`?  arm64 with no variant equals
 * arm64/v8; arm/v7 accepts v6 and v5 images (and v6 accepts v5). */
bool oimg_platform_match(const struct oimg_platform *want, const struct oimg_platform *have);
/* Picks the best manifest of idx for want (NULL = this host) (exact variant before fallback);
 * -OCI_ERR_PLATFORM listing the available platforms when none matches
 * ("no manifest for linux/s390x; available: linux/amd64, linux/arm64/v8").
 * Attestations, artifacts (artifactType) and nested indexes are skipped; an
 * index whose only runnable entry has no platform selects that entry.  The
 * full rules are at the top of libimage/model/platform_match.c. */
int oimg_platform_select(size_t *out_index, const struct oimg_index *idx,
                         const struct oimg_platform *want, struct oci_error **err);

#endif
