/* Platform matching and selection from an index.
 *
 * Rules (documented for users in the same words):
 * - os and architecture must be equal after normalisation (aarch64 = arm64,
 *   x86_64 = amd64, armhf = arm/v7, ...).
 * - Variants with a version order fall back downwards: arm (no variant
 *   means v7) accepts v8 > v7 > v6 > v5 images up to the wanted one; arm64
 *   (no variant means v8) and amd64 (no variant means v1, levels v1..v4)
 *   likewise accept images at or below the wanted level.  An exact variant
 *   always wins over a fallback.
 * - For other architectures a wanted variant must be equal; wanting none
 *   accepts any, preferring an image without one.
 * - os.version is compared only for windows, and only when both sides give
 *   one: the build (first three components) must be equal.
 * - Selection skips entries that are not runnable images: nested indexes,
 *   entries with an artifactType, BuildKit attestations (annotation
 *   vnd.docker.reference.type, or platform unknown/unknown).  Entries with
 *   no platform are skipped too, except that an index whose only runnable
 *   entry has no platform selects it (a single-image layout written without
 *   platforms); the caller still checks the image config's platform.
 * - Among equally good candidates the first in the index wins. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/cleanup.h>

#include "model_private.h"

#define CANON_MAX 128
/* How many distinct platforms an error message lists. */
#define LIST_MAX 32

struct canon {
    char os[CANON_MAX];
    char arch[CANON_MAX];
    char variant[CANON_MAX];
    const char *os_version;
};

static bool canon(struct canon *c, const struct oimg_platform *p)
{
    if (!p || !p->os || !p->architecture || strlen(p->os) >= CANON_MAX)
        return false;
    snprintf(c->os, sizeof(c->os), "%s", p->os);
    for (char *s = c->os; *s; s++)
        *s = (char)tolower((unsigned char)*s);
    c->os_version = p->os_version;
    return mv_platform_canon(p->architecture, p->variant, c->arch, c->variant, CANON_MAX);
}

/* "v7" -> 70, "v8.2" -> 82; -1 for anything else. */
static int level(const char *v)
{
    if (v[0] != 'v' || !isdigit((unsigned char)v[1]))
        return -1;
    int major = 0, minor = 0;
    size_t i = 1;
    for (; i < 4 && isdigit((unsigned char)v[i]); i++)
        major = major * 10 + (v[i] - '0');
    if (v[i] == '.' && isdigit((unsigned char)v[i + 1]) && v[i + 2] == '\0') {
        minor = v[i + 1] - '0';
        i += 2;
    }
    return v[i] == '\0' ? major * 10 + minor : -1;
}

static const char *default_variant(const char *arch)
{
    if (strcmp(arch, "arm") == 0)
        return "v7";
    if (strcmp(arch, "arm64") == 0)
        return "v8";
    if (strcmp(arch, "amd64") == 0)
        return "v1";
    return NULL;
}

/* Windows builds: "10.0.17763.1234" runs images of "10.0.17763.*". */
static bool same_build(const char *a, const char *b)
{
    int dots = 0;
    for (size_t i = 0;; i++) {
        if (a[i] != b[i])
            return (a[i] == '\0' || a[i] == '.') && (b[i] == '\0' || b[i] == '.') && dots == 2;
        if (a[i] == '\0')
            return true;
        if (a[i] == '.' && ++dots == 3)
            return true;
    }
}

/* Higher is better; negative means no match. */
static int score(const struct oimg_platform *want, const struct oimg_platform *have)
{
    struct canon w, h;
    if (!canon(&w, want) || !canon(&h, have))
        return -1;
    if (strcmp(w.os, h.os) != 0 || strcmp(w.arch, h.arch) != 0)
        return -1;
    int s = 1000;
    if (strcmp(w.os, "windows") == 0 && w.os_version && h.os_version) {
        if (!same_build(w.os_version, h.os_version))
            return -1;
        if (strcmp(w.os_version, h.os_version) == 0)
            s += 1;
    }
    const char *def = default_variant(w.arch);
    if (def) {
        const char *wv = *w.variant ? w.variant : def;
        const char *hv = *h.variant ? h.variant : def;
        if (strcmp(wv, hv) == 0)
            return s + 200;
        int wl = level(wv), hl = level(hv);
        if (wl < 0 || hl < 0 || hl > wl)
            return -1;
        return s + 100 - (wl - hl);
    }
    if (!*w.variant)
        return s + (*h.variant ? 100 : 200);
    return strcmp(w.variant, h.variant) == 0 ? s + 200 : -1;
}

bool oimg_platform_match(const struct oimg_platform *want, const struct oimg_platform *have)
{
    return score(want, have) >= 0;
}

static bool runnable(const struct oimg_descriptor *d)
{
    if (oimg_media_type_is_index(d->media_type) || d->artifact_type)
        return false;
    if (oimg_annotations_get(&d->annotations, "vnd.docker.reference.type"))
        return false;
    const struct oimg_platform *p = d->platform;
    if (p && p->os && p->architecture && strcmp(p->os, "unknown") == 0 &&
        strcmp(p->architecture, "unknown") == 0)
        return false;
    return true;
}

static int no_match(const struct oimg_index *idx, const struct oimg_platform *want,
                    struct oci_error **err)
{
    _cleanup_free_ char *w = oimg_platform_format(want);
    char *seen[LIST_MAX];
    size_t n_seen = 0;
    bool truncated = false;
    char list[4096];
    size_t o = 0;
    list[0] = '\0';
    for (size_t i = 0; i < idx->n_manifests; i++) {
        const struct oimg_descriptor *d = &idx->manifests[i];
        if (!runnable(d) || !d->platform)
            continue;
        char *f = oimg_platform_format(d->platform);
        if (!f)
            break;
        bool dup = false;
        for (size_t j = 0; j < n_seen && !dup; j++)
            dup = strcmp(seen[j], f) == 0;
        if (dup) {
            free(f);
            continue;
        }
        if (n_seen == LIST_MAX || o + strlen(f) + 8 >= sizeof(list)) {
            free(f);
            truncated = true;
            break;
        }
        o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", n_seen ? ", " : "", f);
        seen[n_seen++] = f;
    }
    for (size_t j = 0; j < n_seen; j++)
        free(seen[j]);
    if (n_seen == 0)
        return oci_error_set(err, OCI_ERR_PLATFORM,
                             "no manifest for %s; the index names no platforms", w ? w : "?");
    return oci_error_set(err, OCI_ERR_PLATFORM, "no manifest for %s; available: %s%s", w ? w : "?",
                         list, truncated ? ", ..." : "");
}

int oimg_platform_select(size_t *out_index, const struct oimg_index *idx,
                         const struct oimg_platform *want, struct oci_error **err)
{
    if (!idx)
        return oci_error_set(err, OCI_ERR_INVALID, "platform selection needs an index");
    if (!want) {
        struct oimg_platform host = {0};
        int r = oimg_platform_host(&host, err);
        if (r >= 0)
            r = oimg_platform_select(out_index, idx, &host, err);
        oimg_platform_clear(&host);
        return r;
    }
    int best = -1;
    size_t best_i = 0, n_runnable = 0, bare_i = 0;
    for (size_t i = 0; i < idx->n_manifests; i++) {
        const struct oimg_descriptor *d = &idx->manifests[i];
        if (!runnable(d))
            continue;
        n_runnable++;
        if (!d->platform) {
            bare_i = i;
            continue;
        }
        int s = score(want, d->platform);
        if (s > best) {
            best = s;
            best_i = i;
        }
    }
    if (best >= 0) {
        *out_index = best_i;
        return 0;
    }
    if (n_runnable == 1 && !idx->manifests[bare_i].platform) {
        *out_index = bare_i;
        return 0;
    }
    return no_match(idx, want, err);
}
