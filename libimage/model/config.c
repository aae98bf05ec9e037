/* Image configs (config.md).  Docker's image JSON has the same fields (and
 * many more, ignored); Docker writes empty slices and maps as null, which
 * is accepted where Docker does so and read as "absent". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/cleanup.h>
#include <ociimg/json.h>

#include "model_private.h"

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* RFC 3339 section 5.6 date-time, with its calendar ranges:
 * YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM); 'T' and 'Z' may be lower
 * case; second 60 is a leap second. */
bool mv_rfc3339_valid(const char *s)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!s || strlen(s) < 20)
        return false;
    if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2))
        return false;
    if (s[10] != 'T' && s[10] != 't')
        return false;
    if (!digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' ||
        !digits(s + 17, 2))
        return false;
    int year = num(s, 4), month = num(s + 5, 2), day = num(s + 8, 2);
    int hour = num(s + 11, 2), min = num(s + 14, 2), sec = num(s + 17, 2);
    if (month < 1 || month > 12 || day < 1 || day > mdays[month - 1])
        return false;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month == 2 && day == 29 && !leap)
        return false;
    if (hour > 23 || min > 59 || sec > 60)
        return false;
    const char *p = s + 19;
    if (*p == '.') {
        size_t n = 0;
        while (p[1 + n] >= '0' && p[1 + n] <= '9')
            n++;
        if (n == 0)
            return false;
        p += 1 + n;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
        return true;
    if ((*p != '+' && *p != '-') || strlen(p) != 6 || !digits(p + 1, 2) || p[3] != ':' ||
        !digits(p + 4, 2))
        return false;
    return num(p + 1, 2) <= 23 && num(p + 4, 2) <= 59;
}

static void created_field(struct mv *v, json_object *obj, const char *base, char **out)
{
    char path[MV_PATH_MAX], q[MV_QUOTE_MAX];
    if (!mv_string_dup(v, obj, "created", false, base, out))
        return;
    if (!mv_rfc3339_valid(*out)) {
        mv_add(v, OCI_ERR_INVALID, mv_key(path, base, "created"),
               "must be an RFC 3339 date-time (e.g. 2015-10-31T22:22:56.015925234Z), not %s",
               mv_q(q, *out));
        free(*out);
        *out = NULL;
    }
}

static const char *env_problem(const char *s)
{
    /* The image-spec validator's ^[^=]+=.*$ */
    if (s[0] == '=' || !strchr(s, '='))
        return "must be NAME=VALUE with a non-empty NAME";
    return NULL;
}

/* ExposedPorts keys: "port/tcp", "port/udp", "port/sctp" or "port". */
static const char *port_problem(const char *s)
{
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9')
        n++;
    if (n == 0 || n > 5 || num(s, n) > 65535)
        return "must be PORT[/PROTO] with PORT in 0-65535";
    if (s[n] == '\0')
        return NULL;
    if (s[n] == '/' && (strcmp(s + n + 1, "tcp") == 0 || strcmp(s + n + 1, "udp") == 0 ||
                        strcmp(s + n + 1, "sctp") == 0))
        return NULL;
    return "must be PORT[/PROTO] with PROTO one of tcp, udp, sctp";
}

/* A JSON object used as a set (ExposedPorts, Volumes): keys checked, values
 * must be objects (conventionally {}).  Null means absent. */
static void string_set(struct mv *v, json_object *obj, const char *key, const char *base,
                       mv_str_check check, char ***out, size_t *n_out)
{
    char path[MV_PATH_MAX], kpath[MV_PATH_MAX];
    json_object *f;
    if (!mv_get(obj, key, &f) || !f)
        return;
    mv_key(path, base, key);
    if (!json_object_is_type(f, json_type_object)) {
        mv_add(v, OCI_ERR_INVALID, path, "must be an object, not %s", mv_jtype(f));
        return;
    }
    size_t n = (size_t)json_object_object_length(f);
    if (n > MV_MAX_ITEMS) {
        mv_add(v, OCI_ERR_TOO_LARGE, path, "has %zu entries, more than the limit of %u", n,
               MV_MAX_ITEMS);
        return;
    }
    char **arr = n ? calloc(n, sizeof(*arr)) : NULL;
    if (n && !arr) {
        mv_oom(v);
        return;
    }
    size_t k = 0;
    json_object_object_foreach(f, name, val)
    {
        mv_keyq(kpath, path, name);
        const char *why = !*name ? "keys must not be empty" : check ? check(name) : NULL;
        if (why) {
            mv_add(v, OCI_ERR_INVALID, kpath, "%s", why);
            continue;
        }
        if (!json_object_is_type(val, json_type_object)) {
            mv_add(v, OCI_ERR_INVALID, kpath, "must be an object ({}), not %s", mv_jtype(val));
            continue;
        }
        if (k >= n)
            break;
        arr[k] = strdup(name);
        if (!arr[k]) {
            mv_oom(v);
            break;
        }
        k++;
    }
    mv_strv_free(*out, *n_out);
    *out = arr;
    *n_out = k;
}

static void container_config(struct mv *v, json_object *c, struct oimg_image_config *cfg)
{
    const char *base = "config";
    json_object *f;
    if (!json_object_is_type(c, json_type_object)) {
        mv_add(v, OCI_ERR_INVALID, base, "must be an object, not %s", mv_jtype(c));
        return;
    }
    mv_string_dup(v, c, "User", false, base, &cfg->config.user);
    string_set(v, c, "ExposedPorts", base, port_problem, &cfg->config.exposed_ports,
               &cfg->config.n_exposed_ports);
    mv_string_array(v, c, "Env", false, true, base, &cfg->config.env, &cfg->config.n_env,
                    env_problem);
    cfg->config.has_entrypoint =
        mv_string_array(v, c, "Entrypoint", false, true, base, &cfg->config.entrypoint,
                        &cfg->config.n_entrypoint, NULL);
    cfg->config.has_cmd =
        mv_string_array(v, c, "Cmd", false, true, base, &cfg->config.cmd, &cfg->config.n_cmd, NULL);
    string_set(v, c, "Volumes", base, NULL, &cfg->config.volumes, &cfg->config.n_volumes);
    mv_string_dup(v, c, "WorkingDir", false, base, &cfg->config.working_dir);
    if (mv_get(c, "Labels", &f) && f)
        mv_annotations(v, f, "config.Labels", &cfg->config.labels);
    mv_string_dup(v, c, "StopSignal", false, base, &cfg->config.stop_signal);
    mv_bool(v, c, "ArgsEscaped", base, &cfg->config.args_escaped);
}

static void rootfs(struct mv *v, json_object *root, struct oimg_image_config *cfg)
{
    char path[MV_PATH_MAX], q[MV_QUOTE_MAX];
    json_object *r, *ids;
    if (!mv_get(root, "rootfs", &r)) {
        mv_add(v, OCI_ERR_INVALID, "rootfs", "required");
        return;
    }
    if (!json_object_is_type(r, json_type_object)) {
        mv_add(v, OCI_ERR_INVALID, "rootfs", "must be an object, not %s", mv_jtype(r));
        return;
    }
    if (mv_string_dup(v, r, "type", true, "rootfs", &cfg->rootfs.type) &&
        strcmp(cfg->rootfs.type, "layers") != 0)
        mv_add(v, OCI_ERR_INVALID, "rootfs.type", "must be \"layers\", not %s",
               mv_q(q, cfg->rootfs.type));
    if (!mv_get(r, "diff_ids", &ids)) {
        mv_add(v, OCI_ERR_INVALID, "rootfs.diff_ids", "required");
        return;
    }
    if (!json_object_is_type(ids, json_type_array)) {
        mv_add(v, OCI_ERR_INVALID, "rootfs.diff_ids", "must be an array of digests, not %s",
               mv_jtype(ids));
        return;
    }
    size_t n = json_object_array_length(ids);
    if (n > MV_MAX_LAYERS) {
        mv_add(v, OCI_ERR_TOO_LARGE, "rootfs.diff_ids",
               "has %zu entries, more than the limit of %u", n, MV_MAX_LAYERS);
        return;
    }
    if (n == 0)
        return;
    cfg->rootfs.diff_ids = calloc(n, sizeof(*cfg->rootfs.diff_ids));
    if (!cfg->rootfs.diff_ids) {
        mv_oom(v);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(ids, i);
        mv_idx(path, "rootfs.diff_ids", i);
        if (!json_object_is_type(e, json_type_string))
            mv_add(v, OCI_ERR_INVALID, path, "must be a digest string, not %s", mv_jtype(e));
        else if (mv_digest_string(v, json_object_get_string(e), path,
                                  &cfg->rootfs.diff_ids[cfg->rootfs.n_diff_ids]))
            cfg->rootfs.n_diff_ids++;
    }
}

static void history(struct mv *v, json_object *root, struct oimg_image_config *cfg)
{
    char path[MV_PATH_MAX];
    json_object *h;
    if (!mv_get(root, "history", &h))
        return;
    if (!json_object_is_type(h, json_type_array)) {
        mv_add(v, OCI_ERR_INVALID, "history", "must be an array, not %s", mv_jtype(h));
        return;
    }
    size_t n = json_object_array_length(h);
    if (n > MV_MAX_ITEMS) {
        mv_add(v, OCI_ERR_TOO_LARGE, "history", "has %zu entries, more than the limit of %u", n,
               MV_MAX_ITEMS);
        return;
    }
    if (n == 0)
        return;
    cfg->history = calloc(n, sizeof(*cfg->history));
    if (!cfg->history) {
        mv_oom(v);
        return;
    }
    cfg->n_history = n;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(h, i);
        struct oimg_history *out = &cfg->history[i];
        mv_idx(path, "history", i);
        if (!json_object_is_type(e, json_type_object)) {
            mv_add(v, OCI_ERR_INVALID, path, "must be an object, not %s", mv_jtype(e));
            continue;
        }
        created_field(v, e, path, &out->created);
        mv_string_dup(v, e, "created_by", false, path, &out->created_by);
        mv_string_dup(v, e, "author", false, path, &out->author);
        mv_string_dup(v, e, "comment", false, path, &out->comment);
        mv_bool(v, e, "empty_layer", path, &out->empty_layer);
    }
}

void mv_config(struct mv *v, json_object *root, struct oimg_image_config *cfg)
{
    json_object *f;
    created_field(v, root, "", &cfg->created);
    mv_string_dup(v, root, "author", false, "", &cfg->author);
    if (mv_string_dup(v, root, "architecture", true, "", &cfg->architecture) && !*cfg->architecture)
        mv_add(v, OCI_ERR_INVALID, "architecture", "must not be empty");
    if (mv_string_dup(v, root, "os", true, "", &cfg->os) && !*cfg->os)
        mv_add(v, OCI_ERR_INVALID, "os", "must not be empty");
    mv_string_dup(v, root, "os.version", false, "", &cfg->os_version);
    mv_string_array(v, root, "os.features", false, false, "", &cfg->os_features,
                    &cfg->n_os_features, NULL);
    mv_string_dup(v, root, "variant", false, "", &cfg->variant);
    if (mv_get(root, "config", &f) && f)
        container_config(v, f, cfg);
    rootfs(v, root, cfg);
    history(v, root, cfg);
}

void oimg_config_free(struct oimg_image_config *c)
{
    if (!c)
        return;
    free(c->created);
    free(c->author);
    free(c->architecture);
    free(c->os);
    free(c->os_version);
    mv_strv_free(c->os_features, c->n_os_features);
    free(c->variant);
    free(c->config.user);
    mv_strv_free(c->config.exposed_ports, c->config.n_exposed_ports);
    mv_strv_free(c->config.env, c->config.n_env);
    mv_strv_free(c->config.entrypoint, c->config.n_entrypoint);
    mv_strv_free(c->config.cmd, c->config.n_cmd);
    mv_strv_free(c->config.volumes, c->config.n_volumes);
    free(c->config.working_dir);
    oimg_annotations_clear(&c->config.labels);
    free(c->config.stop_signal);
    free(c->rootfs.type);
    free(c->rootfs.diff_ids);
    for (size_t i = 0; i < c->n_history; i++) {
        free(c->history[i].created);
        free(c->history[i].created_by);
        free(c->history[i].author);
        free(c->history[i].comment);
    }
    free(c->history);
    free(c);
}

int oimg_config_parse(struct oimg_image_config **out, const char *buf, size_t len,
                      struct oci_error **err)
{
    struct oimg_problems p = {0};
    struct mv v = {.p = &p};
    struct oimg_image_config *c = calloc(1, sizeof(*c));
    if (!c)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    json_object *root = mv_parse_json(&v, buf, len, OIMG_MAX_CONFIG_SIZE);
    if (root)
        mv_config(&v, root, c);
    json_object_put(root);
    int r = mv_finish(&v, "image config", err);
    oimg_problems_clear(&p);
    if (r < 0) {
        oimg_config_free(c);
        return r;
    }
    *out = c;
    return 0;
}
