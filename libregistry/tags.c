/* Tag listing: GET /v2/<name>/tags/list, page after page as the Link header
 * says (distribution spec "Listing Tags"), bounded in pages and tags. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/cleanup.h>
#include <ociimg/json.h>

#include "client_private.h"
#include "registry_private.h"

#define TAGS_PAGE_MAX (16u * 1024 * 1024)

void oreg_tags_free(char **tags, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(tags[i]);
    free(tags);
}

struct tag_list {
    char **v;
    size_t n, cap;
};

static int push_tag(struct tag_list *l, const char *t, struct oci_error **err)
{
    if (l->n >= OREG_TAGS_MAX)
        return oci_error_set(err, OCI_ERR_TOO_LARGE, "more than %d tags", OREG_TAGS_MAX);
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        char **nv = realloc(l->v, nc * sizeof(*nv));
        if (!nv)
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        l->v = nv;
        l->cap = nc;
    }
    if (!(l->v[l->n] = strdup(t)))
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    l->n++;
    return 0;
}

static bool tag_ok(const char *t)
{
    size_t n = strlen(t);
    return n > 0 && n <= OREG_TAG_MAX && !oreg_has_ctl(t) && !strchr(t, ' ');
}

static int parse_page(struct tag_list *l, const char *body, size_t len, const char *host,
                      struct oci_error **err)
{
    struct oimg_json_limits lim = {.max_size = TAGS_PAGE_MAX, .max_depth = 8};
    _cleanup_json_ json_object *o = NULL;
    int r = oimg_json_parse(&o, body ? body : "", len, &lim, err);
    if (r < 0)
        return oci_error_wrap(err, "%s: tag list", host);
    json_object *tags = NULL;
    if (!json_object_is_type(o, json_type_object))
        return oci_error_set(err, OCI_ERR_INVALID, "%s: tag list is not a JSON object", host);
    if (!json_object_object_get_ex(o, "tags", &tags) || !tags)
        return 0; /* null or absent: no tags */
    if (!json_object_is_type(tags, json_type_array))
        return oci_error_set(err, OCI_ERR_INVALID, "%s: tag list: `tags` is not an array", host);
    for (size_t i = 0; i < json_object_array_length(tags); i++) {
        json_object *t = json_object_array_get_idx(tags, i);
        if (!json_object_is_type(t, json_type_string) || !tag_ok(json_object_get_string(t)))
            return oci_error_set(err, OCI_ERR_INVALID, "%s: tag list: entry %zu is not a tag", host,
                                 i);
        if ((r = push_tag(l, json_object_get_string(t), err)) < 0)
            return r;
    }
    return 0;
}

static int list_at(struct tag_list *l, struct oreg_client *c, const struct endpoint *ep,
                   int page_size, struct oci_error **err)
{
    _cleanup_free_ char *path = NULL, *what = NULL, *url = NULL;
    if (page_size > 0) {
        if (asprintf(&path, "/v2/%s/tags/list?n=%d", ep->repo, page_size) < 0)
            path = NULL;
    } else if (asprintf(&path, "/v2/%s/tags/list", ep->repo) < 0) {
        path = NULL;
    }
    if (!path || asprintf(&what, "tag list of %s", ep->repo) < 0)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    for (int page = 0; page < OREG_TAG_PAGES_MAX; page++) {
        struct call_spec s = {
            .host = ep->host,
            .repo = ep->repo,
            .path = url ? NULL : path,
            .url = url,
            .accept = "application/json",
            .body_max = TAGS_PAGE_MAX,
            .what = what,
        };
        struct reg_call call;
        int r = call_do(&call, c, &s, err);
        if (r < 0)
            return r;
        r = parse_page(l, call.req->body, call.req->body_len, ep->host->host, err);
        _cleanup_free_ char *next =
            r >= 0 && call.req->h.link ? http_link_next(call.req->h.link) : NULL;
        char *resolved = NULL;
        if (r >= 0 && next)
            r = http_url_resolve(&resolved, call.url, next, err);
        _cleanup_free_ char *here_origin = http_url_origin(call.url);
        call_clear(&call);
        if (r < 0)
            return r;
        if (!resolved)
            return 0;
        /* The next page must stay on the registry (it gets our token). */
        _cleanup_free_ char *next_origin = http_url_origin(resolved);
        if (!next_origin || !here_origin || strcmp(next_origin, here_origin) != 0 ||
            (url && strcmp(url, resolved) == 0)) {
            free(resolved);
            return oci_error_set(err, OCI_ERR_INVALID,
                                 "%s: the tag list's next page points elsewhere or back",
                                 ep->host->host);
        }
        free(url);
        url = resolved;
    }
    return oci_error_set(err, OCI_ERR_TOO_LARGE, "%s: more than %d pages of tags", ep->host->host,
                         OREG_TAG_PAGES_MAX);
}

int oreg_list_tags(char ***out, size_t *n_out, struct oreg_client *c, const struct oreg_ref *ref,
                   int page_size, struct oci_error **err)
{
    _cleanup_free_ char *name = oreg_ref_name(ref);
    if (!name)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    struct endpoint_list eps = {0};
    int r = client_endpoints(&eps, c, ref, err);
    if (r < 0)
        return oci_error_wrap(err, "%s", name);
    struct tag_list l = {0};
    struct oci_error *last = NULL;
    for (size_t i = 0; i < eps.n; i++) {
        struct oci_error *e = NULL;
        r = list_at(&l, c, &eps.v[i], page_size, &e);
        if (r >= 0) {
            oci_error_free(last);
            last = NULL;
            break;
        }
        oreg_tags_free(l.v, l.n);
        l = (struct tag_list){0};
        oci_error_free(last);
        last = e;
        if (i + 1 < eps.n)
            client_note(c, eps.v[i].host->host, "%s: %s; trying the next endpoint",
                        eps.v[i].host->host, e->msg);
    }
    endpoint_list_clear(&eps);
    if (r < 0) {
        if (err && !*err)
            *err = last;
        else
            oci_error_free(last);
        return oci_error_wrap(err, "%s", name);
    }
    *out = l.v;
    *n_out = l.n;
    return 0;
}
