/* The applier's two lookup tables: the directory entries a layer created
 * (keyed by parent directory inode and name, so aliases through symlinks
 * find the same entry) and the directories whose attributes finish()
 * restores (keyed by inode).  Open addressing, grown at half load. */
#include <stdlib.h>
#include <string.h>

#include "apply_private.h"

#define MIN_SLOTS 256

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_key(dev_t dev, ino_t ino, const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull;
    if (name)
        for (const unsigned char *p = (const unsigned char *)name; *p; p++)
            h = (h ^ *p) * 0x100000001b3ull;
    return mix(h ^ mix((uint64_t)ino) ^ ((uint64_t)dev << 1));
}

/* ---- keyset ---- */

struct kslot {
    uint64_t hash;
    dev_t dev;
    ino_t ino;
    char *name; /* NULL = empty slot */
};

struct keyset {
    struct kslot *slots;
    size_t nslots, count;
};

int keyset_new(struct keyset **out)
{
    struct keyset *ks = calloc(1, sizeof(*ks));
    if (!ks)
        return -OCI_ERR_NOMEM;
    *out = ks;
    return 0;
}

void keyset_clear(struct keyset *ks)
{
    for (size_t i = 0; i < ks->nslots; i++)
        free(ks->slots[i].name);
    free(ks->slots);
    ks->slots = NULL;
    ks->nslots = ks->count = 0;
}

void keyset_free(struct keyset *ks)
{
    if (!ks)
        return;
    keyset_clear(ks);
    free(ks);
}

size_t keyset_count(const struct keyset *ks)
{
    return ks->count;
}

static struct kslot *ks_find(struct kslot *slots, size_t nslots, uint64_t h, dev_t dev, ino_t ino,
                             const char *name)
{
    size_t mask = nslots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct kslot *s = &slots[i];
        if (!s->name)
            return s;
        if (s->hash == h && s->dev == dev && s->ino == ino && strcmp(s->name, name) == 0)
            return s;
    }
}

static int ks_grow(struct keyset *ks)
{
    size_t n = ks->nslots ? ks->nslots * 2 : MIN_SLOTS;
    struct kslot *slots = calloc(n, sizeof(*slots));
    if (!slots)
        return -OCI_ERR_NOMEM;
    for (size_t i = 0; i < ks->nslots; i++) {
        struct kslot *o = &ks->slots[i];
        if (o->name)
            *ks_find(slots, n, o->hash, o->dev, o->ino, o->name) = *o;
    }
    free(ks->slots);
    ks->slots = slots;
    ks->nslots = n;
    return 0;
}

int keyset_add(struct keyset *ks, dev_t dev, ino_t dir, const char *name)
{
    if ((ks->count + 1) * 2 > ks->nslots) {
        int r = ks_grow(ks);
        if (r < 0)
            return r;
    }
    uint64_t h = hash_key(dev, dir, name);
    struct kslot *s = ks_find(ks->slots, ks->nslots, h, dev, dir, name);
    if (s->name)
        return 0;
    s->name = strdup(name);
    if (!s->name)
        return -OCI_ERR_NOMEM;
    s->hash = h;
    s->dev = dev;
    s->ino = dir;
    ks->count++;
    return 0;
}

bool keyset_has(const struct keyset *ks, dev_t dev, ino_t dir, const char *name)
{
    if (!ks->count)
        return false;
    uint64_t h = hash_key(dev, dir, name);
    return ks_find(ks->slots, ks->nslots, h, dev, dir, name)->name != NULL;
}

/* ---- dirmap ---- */

struct dirmap {
    struct dirrec **recs;
    size_t nrecs, cap;
    size_t *index; /* slot -> record number + 1; 0 = empty */
    size_t nslots;
};

int dirmap_new(struct dirmap **out)
{
    struct dirmap *m = calloc(1, sizeof(*m));
    if (!m)
        return -OCI_ERR_NOMEM;
    *out = m;
    return 0;
}

void dirmap_free(struct dirmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nrecs; i++) {
        free(m->recs[i]->path);
        free(m->recs[i]);
    }
    free(m->recs);
    free(m->index);
    free(m);
}

static size_t *dm_slot(size_t *index, size_t nslots, struct dirrec **recs, dev_t dev, ino_t ino)
{
    size_t mask = nslots - 1;
    for (size_t i = hash_key(dev, ino, NULL) & mask;; i = (i + 1) & mask) {
        if (!index[i])
            return &index[i];
        struct dirrec *r = recs[index[i] - 1];
        if (r->dev == dev && r->ino == ino)
            return &index[i];
    }
}

static int dm_grow(struct dirmap *m)
{
    size_t n = m->nslots ? m->nslots * 2 : MIN_SLOTS;
    size_t *index = calloc(n, sizeof(*index));
    if (!index)
        return -OCI_ERR_NOMEM;
    for (size_t i = 0; i < m->nrecs; i++)
        *dm_slot(index, n, m->recs, m->recs[i]->dev, m->recs[i]->ino) = i + 1;
    free(m->index);
    m->index = index;
    m->nslots = n;
    return 0;
}

static unsigned path_depth(const char *p)
{
    if (!*p)
        return 0;
    unsigned d = 1;
    for (; *p; p++)
        d += *p == '/';
    return d;
}

int dirmap_put(struct dirmap *m, dev_t dev, ino_t ino, const char *path, struct timespec mtime,
               mode_t mode)
{
    if ((m->nrecs + 1) * 2 > m->nslots) {
        int r = dm_grow(m);
        if (r < 0)
            return r;
    }
    size_t *slot = dm_slot(m->index, m->nslots, m->recs, dev, ino);
    char *p = strdup(path);
    if (!p)
        return -OCI_ERR_NOMEM;
    struct dirrec *rec;
    if (*slot) {
        rec = m->recs[*slot - 1];
        free(rec->path);
    } else {
        if (m->nrecs == m->cap) {
            size_t cap = m->cap ? m->cap * 2 : 256;
            struct dirrec **recs = realloc(m->recs, cap * sizeof(*recs));
            if (!recs) {
                free(p);
                return -OCI_ERR_NOMEM;
            }
            m->recs = recs;
            m->cap = cap;
        }
        rec = calloc(1, sizeof(*rec));
        if (!rec) {
            free(p);
            return -OCI_ERR_NOMEM;
        }
        rec->dev = dev;
        rec->ino = ino;
        m->recs[m->nrecs++] = rec;
        *slot = m->nrecs;
    }
    rec->path = p;
    rec->mtime = mtime;
    rec->mode = mode;
    rec->depth = path_depth(p);
    return 0;
}

static int by_depth_desc(const void *a, const void *b)
{
    const struct dirrec *x = *(struct dirrec *const *)a, *y = *(struct dirrec *const *)b;
    return x->depth < y->depth ? 1 : x->depth > y->depth ? -1 : 0;
}

struct dirrec **dirmap_sorted(struct dirmap *m, size_t *n)
{
    /* Sorting reorders recs; the index is rebuilt if more records come. */
    if (m->nrecs)
        qsort(m->recs, m->nrecs, sizeof(*m->recs), by_depth_desc);
    if (m->nslots)
        memset(m->index, 0, m->nslots * sizeof(*m->index));
    for (size_t i = 0; i < m->nrecs; i++)
        *dm_slot(m->index, m->nslots, m->recs, m->recs[i]->dev, m->recs[i]->ino) = i + 1;
    *n = m->nrecs;
    return m->recs;
}
