/* test_coll_slab.c: unit tests of collector/slab.c — pieces keep their
 * bytes, are aligned, and the blocks go back to the system once their
 * pieces are released: in order, in reverse, scattered, oversized. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "slab.h"
#include "guard.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif
#include "guard.h"

#define N 20000
#define BLOCK (256 * 1024)

/* Fills piece i (n bytes) with a pattern of its own. */
static void fill(unsigned char *p, size_t n, unsigned i)
{
    for (size_t k = 0; k < n; k++)
        p[k] = (unsigned char)(i * 31u + k);
}

/* Returns 1 if piece i still holds its pattern. */
static int intact(const unsigned char *p, size_t n, unsigned i)
{
    for (size_t k = 0; k < n; k++)
        if (p[k] != (unsigned char)(i * 31u + k))
            return 0;
    return 1;
}

static unsigned char *piece[N];
static size_t size[N];

/* Carves N pieces of 40..439 bytes, each filled. */
static void carve_all(coll_slab *sl)
{
    for (unsigned i = 0; i < N; i++) {
        size[i] = 40 + (i * 7919u) % 400;
        piece[i] = coll_slab_alloc(sl, size[i]);
        ck_assert_ptr_nonnull(piece[i]);
        ck_assert_uint_eq((uintptr_t)piece[i] % 16, 0);
        fill(piece[i], size[i], i);
    }
    ck_assert_uint_eq(sl->live, N);
}

/* Releases piece i (slot cleared). */
static void release(coll_slab *sl, unsigned i)
{
    coll_slab_free(sl, piece[i]);
    piece[i] = NULL;
}

/* Counts the pieces still holding their pattern. */
static unsigned count_intact(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < N; i++)
        n += piece[i] && intact(piece[i], size[i], i);
    return n;
}

START_TEST(fifo_returns_every_block)
{
    coll_slab sl = {0};
    carve_all(&sl);
    ck_assert_uint_eq(count_intact(), N);
    /* N pieces of about 270 bytes with their headers: about 20 blocks */
    size_t full = coll_slab_mapped(&sl);
    ck_assert_uint_eq(full % BLOCK, 0);
    ck_assert_uint_ge(full, 15 * (size_t)BLOCK);
    ck_assert_uint_le(full, 25 * (size_t)BLOCK);
    uintptr_t page = sysconf(_SC_PAGESIZE), mid = (uintptr_t)piece[N / 2] / page * page;
    unsigned char vec;
    ck_assert_int_eq(mincore((void *)mid, page, &vec), 0);
    for (unsigned i = 0; i < N; i++) {
        release(&sl, i);
        /* the blocks emptied are unmapped as the queue drains (one kept) */
        if (i == N / 2)
            ck_assert_uint_le(coll_slab_mapped(&sl), full / 2 + 2 * (size_t)BLOCK);
    }
    ck_assert_uint_eq(sl.live, 0);
    /* the block carved from and one spare are kept, no more; a block of
     * the middle is gone from the address space */
    ck_assert_uint_eq(coll_slab_mapped(&sl), 2 * (size_t)BLOCK);
    errno = 0;
    ck_assert_int_eq(mincore((void *)mid, page, &vec), -1);
    ck_assert_int_eq(errno, ENOMEM);
    /* carving again takes the current block, then the spare: nothing mapped */
    for (unsigned i = 0; i < 1200; i++) {
        piece[i] = coll_slab_alloc(&sl, 300);
        ck_assert_ptr_nonnull(piece[i]);
    }
    ck_assert_uint_eq(coll_slab_mapped(&sl), 2 * (size_t)BLOCK);
    for (unsigned i = 0; i < 1200; i++)
        coll_slab_free(&sl, piece[i]);
    coll_slab_clear(&sl);
    ck_assert_uint_eq(coll_slab_mapped(&sl), 0);
}
END_TEST

START_TEST(reverse_and_scattered)
{
    coll_slab sl = {0};
    carve_all(&sl);
    /* every other piece first: nothing is unmapped, the rest intact */
    size_t before = coll_slab_mapped(&sl);
    for (unsigned i = 0; i < N; i += 2)
        release(&sl, i);
    ck_assert_uint_eq(coll_slab_mapped(&sl), before);
    ck_assert_uint_eq(count_intact(), N / 2);
    for (unsigned i = N; i-- > 0;)
        release(&sl, i);
    ck_assert_uint_le(coll_slab_mapped(&sl), 2 * BLOCK);
    /* carved again: the kept blocks are used, the bytes hold */
    carve_all(&sl);
    ck_assert_uint_eq(count_intact(), N);
    for (unsigned i = 0; i < N; i++)
        coll_slab_free(&sl, piece[i]);
    coll_slab_clear(&sl);
    ck_assert_uint_eq(coll_slab_mapped(&sl), 0);
}
END_TEST

START_TEST(oversized_pieces)
{
    coll_slab sl = {0};
    unsigned char *small = coll_slab_alloc(&sl, 100);
    fill(small, 100, 1);
    size_t one = coll_slab_mapped(&sl);
    unsigned char *big = coll_slab_alloc(&sl, 3 * BLOCK);
    ck_assert_ptr_nonnull(big);
    fill(big, 3 * BLOCK, 2);
    size_t two = coll_slab_mapped(&sl);
    ck_assert_uint_ge(two, one + 3 * BLOCK);
    unsigned char *after = coll_slab_alloc(&sl, 100);
    fill(after, 100, 3);
    ck_assert_uint_eq(coll_slab_mapped(&sl), two);      /* no new block for it */
    ck_assert(intact(small, 100, 1) && intact(big, 3 * BLOCK, 2) && intact(after, 100, 3));
    ck_assert_ptr_eq(after, small + 128);   /* next to the first (112 bytes + a 16-byte header) */
    coll_slab_free(&sl, big);
    ck_assert_uint_eq(coll_slab_mapped(&sl), one);
    ck_assert_ptr_null(coll_slab_alloc(&sl, SIZE_MAX - 8));
    coll_slab_free(&sl, small);
    coll_slab_free(&sl, after);
    coll_slab_free(&sl, NULL);
    ck_assert_uint_eq(sl.live, 0);
    coll_slab_clear(&sl);
}
END_TEST

START_TEST(emptied_block_carved_again)
{
    coll_slab sl = {0};
    unsigned char *a = coll_slab_alloc(&sl, 64), *b = coll_slab_alloc(&sl, 64);
    coll_slab_free(&sl, a);
    coll_slab_free(&sl, b);
    /* the block was emptied: carved again from its start */
    unsigned char *c = coll_slab_alloc(&sl, 64);
    ck_assert_ptr_eq(c, a);
    ck_assert_uint_eq(coll_slab_mapped(&sl), (size_t)BLOCK);
#if defined(__SANITIZE_ADDRESS__)
    /* a released piece is poisoned, a live one is not */
    ck_assert_int_eq(__asan_address_is_poisoned(b), 1);
    ck_assert_int_eq(__asan_address_is_poisoned(c + 63), 0);
    ck_assert_int_eq(__asan_address_is_poisoned(c + 64), 1);
#endif
    coll_slab_free(&sl, c);
    coll_slab_clear(&sl);
}
END_TEST

START_TEST(clear_with_live_pieces)
{
    coll_slab sl = {0};
    carve_all(&sl);
    for (unsigned i = 0; i < N; i += 3)
        coll_slab_free(&sl, piece[i]);
    coll_slab_clear(&sl);
    ck_assert_uint_eq(coll_slab_mapped(&sl), 0);
    ck_assert_ptr_nonnull(coll_slab_alloc(&sl, 64));
    coll_slab_clear(&sl);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("coll_slab");
    TCase *tc = tcase_create("slab");
    tcase_add_test(tc, fifo_returns_every_block);
    tcase_add_test(tc, reverse_and_scattered);
    tcase_add_test(tc, oversized_pieces);
    tcase_add_test(tc, emptied_block_carved_again);
    tcase_add_test(tc, clear_with_live_pieces);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
