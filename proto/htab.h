/* htab.h: the one hash table of every program — an open-addressing index
 * (linear probing, grown at half full) of items the caller keeps in its
 * own array, keyed by 64-bit hashes (proto_hash64); the caller's eq
 * decides between items whose hashes collide. Pure. */
#ifndef PROTO_HTAB_H
#define PROTO_HTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t *hash;
    uint32_t *slot;     /* item index + 1; 0 is empty */
    size_t cap, n;
} proto_htab;

/* Returns 1 if item idx is the one sought (arg: what the caller looks for). */
typedef int (*proto_htab_eq)(const void *arg, uint32_t idx);

/* Returns the index of an item with hash h that eq accepts (eq NULL: the
 * hash alone decides), or -1 if there is none. */
long proto_htab_find(const proto_htab *t, uint64_t h, proto_htab_eq eq, const void *arg);

/* Adds item idx under hash h (the caller checked it is new). Returns 0,
 * or -1 when out of memory (nothing changed). */
int proto_htab_add(proto_htab *t, uint64_t h, uint32_t idx);

/* Returns the index found as proto_htab_find, or adds idx and returns -1;
 * -2 when out of memory. One probe for a lookup-or-insert. */
long proto_htab_find_or_add(proto_htab *t, uint64_t h, proto_htab_eq eq, const void *arg,
                            uint32_t idx);

/* Empties the table, keeping its memory; never fails. */
void proto_htab_clear(proto_htab *t);

/* Frees the table's memory and zeroes it; never fails. */
void proto_htab_free(proto_htab *t);

#endif
