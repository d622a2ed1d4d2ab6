/* slab.h: memory for the sink's in-flight entries, carved in order from
 * blocks mapped from the system and unmapped whole once every piece in
 * them is released. A burst's queue goes back to the system when it
 * drains, and leaves no holes in the heap the connections live in.
 *
 * One slab a sink (a thread); not thread-safe. Pieces are 16-byte aligned.
 * The slab owns its blocks; a piece is the caller's from coll_slab_alloc
 * until coll_slab_free, and is gone with coll_slab_clear. */
#ifndef COLL_SLAB_H
#define COLL_SLAB_H

#include <stddef.h>

typedef struct coll_slab_blk coll_slab_blk;

/* Zero-initialised it is an empty slab; its fields are the slab's own. */
typedef struct {
    coll_slab_blk *blocks;  /* every block, linked */
    coll_slab_blk *cur;     /* the block pieces are carved from */
    coll_slab_blk *spare;   /* one emptied block kept (no map/unmap per block at a steady rate) */
    size_t mapped;          /* bytes mapped, every block */
    size_t live;            /* pieces not released */
} coll_slab;

/* Carves n bytes. Returns them, or NULL when the system refuses memory. */
void *coll_slab_alloc(coll_slab *sl, size_t n);

/* Releases a piece of sl (NULL is a no-op); unmaps its block once it is
 * the last of a block no longer carved from. Never fails. */
void coll_slab_free(coll_slab *sl, void *p);

/* Unmaps every block, live pieces or not; sl is empty after. Never fails. */
void coll_slab_clear(coll_slab *sl);

/* Returns the bytes mapped (what the slab costs in memory at most). */
size_t coll_slab_mapped(const coll_slab *sl);

#endif
