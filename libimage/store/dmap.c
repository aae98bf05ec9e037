/* A set of digest strings with a small record each (open addressing): the
 * "seen" and "marked" sets of walks, verify and gc. */
#include <stdlib.h>
#include <string.h>

#include "store_private.h"

static size_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return (size_t)h;
}

static struct store_dmap_entry *find_slot(struct store_dmap_entry *slots, size_t cap,
                                          const char *key)
{
    size_t i = hash_str(key) & (cap - 1);
    while (slots[i].key && strcmp(slots[i].key, key) != 0)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

struct store_dmap_entry *store_dmap_get(const struct store_dmap *m, const char *key)
{
    if (!m->cap)
        return NULL;
    struct store_dmap_entry *e = find_slot(m->slots, m->cap, key);
    return e->key ? e : NULL;
}

static int grow(struct store_dmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    struct store_dmap_entry *ns = calloc(ncap, sizeof(*ns));
    if (!ns)
        return -1;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            *find_slot(ns, ncap, m->slots[i].key) = m->slots[i];
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}

struct store_dmap_entry *store_dmap_put(struct store_dmap *m, const char *key, bool *created)
{
    struct store_dmap_entry *e = store_dmap_get(m, key);
    if (e) {
        *created = false;
        return e;
    }
    /* Keep the load under one half so probes stay short. */
    if ((m->n + 1) * 2 > m->cap && grow(m) < 0)
        return NULL;
    e = find_slot(m->slots, m->cap, key);
    e->key = strdup(key);
    if (!e->key)
        return NULL;
    e->size = -1;
    e->flags = 0;
    m->n++;
    *created = true;
    return e;
}

void store_dmap_clear(struct store_dmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}
