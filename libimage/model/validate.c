/* Whole-document validation: the parsers' walkers, run to the end so that
 * every problem is reported, plus the oci-layout file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/cleanup.h>
#include <ociimg/json.h>

#include "model_private.h"

void oimg_problems_clear(struct oimg_problems *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->lines[i]);
    free(p->lines);
    p->lines = NULL;
    p->n = 0;
}

/* image-layout.md: {"imageLayoutVersion": "1.0.0"}; other fields ignored. */
void mv_layout(struct mv *v, json_object *root)
{
    char q[MV_QUOTE_MAX];
    const char *ver;
    if (mv_string(v, root, "imageLayoutVersion", true, "", &ver) && strcmp(ver, "1.0.0") != 0)
        mv_add(v, OCI_ERR_INVALID, "imageLayoutVersion", "must be \"1.0.0\", not %s", mv_q(q, ver));
}

static void walk(struct mv *v, enum oimg_doc_type type, json_object *root)
{
    switch (type) {
    case OIMG_DOC_MANIFEST: {
        struct oimg_manifest *m = calloc(1, sizeof(*m));
        if (!m) {
            mv_oom(v);
            return;
        }
        mv_manifest(v, root, NULL, m);
        oimg_manifest_free(m);
        return;
    }
    case OIMG_DOC_INDEX: {
        struct oimg_index *idx = calloc(1, sizeof(*idx));
        if (!idx) {
            mv_oom(v);
            return;
        }
        mv_index(v, root, NULL, idx);
        oimg_index_free(idx);
        return;
    }
    case OIMG_DOC_CONFIG: {
        struct oimg_image_config *c = calloc(1, sizeof(*c));
        if (!c) {
            mv_oom(v);
            return;
        }
        mv_config(v, root, c);
        oimg_config_free(c);
        return;
    }
    case OIMG_DOC_DESCRIPTOR: {
        struct oimg_descriptor d = {0};
        mv_descriptor(v, root, "", &d);
        oimg_descriptor_clear(&d);
        return;
    }
    case OIMG_DOC_LAYOUT:
        mv_layout(v, root);
        return;
    case OIMG_DOC_UNKNOWN:
        break;
    }
    bool schema1;
    enum oimg_doc_type t = mv_detect(root, &schema1);
    if (schema1)
        mv_add(v, OCI_ERR_UNSUPPORTED, NULL, "%s", mv_schema1_msg);
    else if (t == OIMG_DOC_UNKNOWN)
        mv_add(v, OCI_ERR_INVALID, NULL,
               "not a document this tool knows (no mediaType or fields of a manifest, index, "
               "config, descriptor or oci-layout)");
    else
        walk(v, t, root);
}

int oimg_validate_document(struct oimg_problems *p, enum oimg_doc_type type, const char *buf,
                           size_t len, struct oci_error **err)
{
    if (!p)
        return oci_error_set(err, OCI_ERR_INVALID, "validate: no problem list");
    struct mv v = {.p = p};
    size_t max = type == OIMG_DOC_CONFIG || type == OIMG_DOC_UNKNOWN ? OIMG_MAX_CONFIG_SIZE
                                                                     : OIMG_MAX_MANIFEST_SIZE;
    json_object *root = mv_parse_json(&v, buf, len, max);
    if (root)
        walk(&v, type, root);
    json_object_put(root);
    if (v.nomem)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory validating a document");
    if (v.n_dropped) {
        /* Past the cap mv_add only counts; the summary line goes in anyway. */
        char *line = NULL;
        if (asprintf(&line, "... and %zu more problems", v.n_dropped) >= 0) {
            char **nl = realloc(p->lines, (p->n + 1) * sizeof(*nl));
            if (nl) {
                p->lines = nl;
                p->lines[p->n++] = line;
            } else {
                free(line);
            }
        }
    }
    return 0;
}
