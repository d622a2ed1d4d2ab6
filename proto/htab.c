/* htab.c: the open-addressing index of htab.h; pure. */
#include "htab.h"

#include <stdlib.h>
#include <string.h>

/* Doubles the table (1024 slots first), rehashing every item. Returns 0,
 * or -1 when out of memory (unchanged). */
static int grow(proto_htab *t)
{
    size_t nc = t->cap ? t->cap * 2 : 1024;
    uint64_t *nh = malloc(nc * sizeof *nh);
    uint32_t *ns = calloc(nc, sizeof *ns);
    if (!nh || !ns) {
        free(nh);
        free(ns);
        return -1;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slot[i])
            continue;
        size_t j = t->hash[i] & (nc - 1);
        while (ns[j])
            j = (j + 1) & (nc - 1);
        ns[j] = t->slot[i];
        nh[j] = t->hash[i];
    }
    free(t->hash);
    free(t->slot);
    t->hash = nh;
    t->slot = ns;
    t->cap = nc;
    return 0;
}

/* Returns the slot of the first match for h, or of the empty slot that
 * ends its run (*found 0); the table must not be empty. */
static size_t probe(const proto_htab *t, uint64_t h, proto_htab_eq eq, const void *arg, int *found)
{
    size_t j = h & (t->cap - 1);
    for (; t->slot[j]; j = (j + 1) & (t->cap - 1)) {
        if (t->hash[j] == h && (!eq || eq(arg, t->slot[j] - 1))) {
            *found = 1;
            return j;
        }
    }
    *found = 0;
    return j;
}

/* Returns the index of the matching item, or -1. */
long proto_htab_find(const proto_htab *t, uint64_t h, proto_htab_eq eq, const void *arg)
{
    int found;
    if (!t->n)
        return -1;
    size_t j = probe(t, h, eq, arg, &found);
    return found ? (long)t->slot[j] - 1 : -1;
}

/* Finds the matching item, or adds idx. Returns its index, -1 if added,
 * -2 when out of memory. */
long proto_htab_find_or_add(proto_htab *t, uint64_t h, proto_htab_eq eq, const void *arg,
                            uint32_t idx)
{
    int found;
    if ((t->n + 1) * 2 > t->cap && grow(t) < 0)
        return -2;
    size_t j = probe(t, h, eq, arg, &found);
    if (found)
        return (long)t->slot[j] - 1;
    t->slot[j] = idx + 1;
    t->hash[j] = h;
    t->n++;
    return -1;
}

/* Adds item idx under h. Returns 0 or -1. */
int proto_htab_add(proto_htab *t, uint64_t h, uint32_t idx)
{
    if ((t->n + 1) * 2 > t->cap && grow(t) < 0)
        return -1;
    size_t j = h & (t->cap - 1);
    while (t->slot[j])
        j = (j + 1) & (t->cap - 1);
    t->slot[j] = idx + 1;
    t->hash[j] = h;
    t->n++;
    return 0;
}

/* Empties the table; never fails. */
void proto_htab_clear(proto_htab *t)
{
    if (t->cap)
        memset(t->slot, 0, t->cap * sizeof *t->slot);
    t->n = 0;
}

/* Frees the table; never fails. */
void proto_htab_free(proto_htab *t)
{
    free(t->hash);
    free(t->slot);
    memset(t, 0, sizeof *t);
}
