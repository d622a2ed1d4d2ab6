/* slab.c: the in-flight entries' memory: pieces carved in order from
 * mapped blocks, a block unmapped once its last piece is released. */
#include <stdint.h>
#include <sys/mman.h>

#include "slab.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define BLOCK ((size_t)256 * 1024)  /* a block's size: about 1,000 entries */
#define ALIGN 16
#define ROUND(n, a) (((n) + (a) - 1) / (a) * (a))

struct coll_slab_blk {
    coll_slab_blk *prev, *next;     /* every block of the slab */
    size_t cap;                     /* bytes mapped, this header included */
    size_t used;                    /* bytes carved, this header included */
    size_t live;                    /* pieces not released */
};

/* What precedes each piece: its block and size. */
typedef struct {
    coll_slab_blk *blk;
    size_t n;
} piece;

#define BLK_HDR ROUND(sizeof(coll_slab_blk), ALIGN)
#define PIECE_HDR ROUND(sizeof(piece), ALIGN)

/* Maps a block of cap bytes and links it in. Returns it, or NULL. */
static coll_slab_blk *block_map(coll_slab *sl, size_t cap)
{
    void *m = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    coll_slab_blk *b = m;
    *b = (coll_slab_blk){.prev = NULL, .next = sl->blocks, .cap = cap, .used = BLK_HDR, .live = 0};
    if (sl->blocks)
        sl->blocks->prev = b;
    sl->blocks = b;
    POISON((char *)b + BLK_HDR, cap - BLK_HDR);
    sl->mapped += cap;
    return b;
}

/* Unlinks and unmaps block b; never fails. */
static void block_unmap(coll_slab *sl, coll_slab_blk *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        sl->blocks = b->next;
    if (b->next)
        b->next->prev = b->prev;
    sl->mapped -= b->cap;
    UNPOISON(b, b->cap);
    munmap(b, b->cap);
}

/* Takes an emptied block out of use: kept as the spare when there is none
 * and it has the usual size, else unmapped. Never fails. */
static void block_retire(coll_slab *sl, coll_slab_blk *b)
{
    if (!sl->spare && b->cap == BLOCK) {
        b->used = BLK_HDR;
        sl->spare = b;
        return;
    }
    block_unmap(sl, b);
}

/* Carves need bytes (header included) of b for a piece of n bytes. */
static void *carve(coll_slab *sl, coll_slab_blk *b, size_t need, size_t n)
{
    piece *pc = (piece *)((char *)b + b->used);
    UNPOISON(pc, PIECE_HDR + n);
    pc->blk = b;
    pc->n = n;
    b->used += need;
    b->live++;
    sl->live++;
    return (char *)pc + PIECE_HDR;
}

void *coll_slab_alloc(coll_slab *sl, size_t n)
{
    if (n > SIZE_MAX / 2)
        return NULL;
    size_t need = PIECE_HDR + ROUND(n, ALIGN);
    if (need > BLOCK - BLK_HDR) {
        /* a piece of its own block, unmapped when it is released */
        coll_slab_blk *b = block_map(sl, ROUND(BLK_HDR + need, (size_t)4096));
        return b ? carve(sl, b, need, n) : NULL;
    }
    if (!sl->cur || sl->cur->used + need > sl->cur->cap) {
        /* the full block keeps live pieces (an emptied one is carved again
         * from its start): it is retired when its last piece is freed */
        coll_slab_blk *b = sl->spare;
        if (b)
            sl->spare = NULL;
        else if (!(b = block_map(sl, BLOCK)))
            return NULL;
        sl->cur = b;
    }
    return carve(sl, sl->cur, need, n);
}

void coll_slab_free(coll_slab *sl, void *p)
{
    if (!p)
        return;
    piece *pc = (piece *)((char *)p - PIECE_HDR);
    coll_slab_blk *b = pc->blk;
    POISON(pc, PIECE_HDR + pc->n);
    sl->live--;
    if (--b->live)
        return;
    if (b == sl->cur)
        b->used = BLK_HDR;      /* carved again from its start */
    else
        block_retire(sl, b);
}

void coll_slab_clear(coll_slab *sl)
{
    coll_slab_blk *b = sl->blocks;
    while (b) {
        coll_slab_blk *next = b->next;
        block_unmap(sl, b);
        b = next;
    }
    *sl = (coll_slab){0};
}

size_t coll_slab_mapped(const coll_slab *sl)
{
    return sl->mapped;
}
