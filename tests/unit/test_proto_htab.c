/* test_proto_htab.c: unit tests of proto/htab.c — the one hash table:
 * lookups, colliding hashes told apart by eq, growth, clearing. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "keys.h"
#include "guard.h"

static char names[20000][16];

/* Returns 1 if item idx holds the name arg; the eq of these tests. */
static int name_eq(const void *arg, uint32_t idx)
{
    return strcmp(names[idx], arg) == 0;
}

/* Checks 20,000 names in, each found at its index, absent ones not;
 * fails on a wrong index. */
START_TEST(find_and_grow)
{
    proto_htab t = {0};
    for (uint32_t i = 0; i < 20000; i++) {
        snprintf(names[i], sizeof names[i], "c-%u", i);
        uint64_t h = proto_hash64(names[i], strlen(names[i]));
        ck_assert_int_eq(proto_htab_find(&t, h, name_eq, names[i]), -1);
        ck_assert_int_eq(proto_htab_add(&t, h, i), 0);
    }
    ck_assert_uint_eq(t.n, 20000);
    ck_assert_uint_ge(t.cap, 40000);            /* grown, at most half full */
    for (uint32_t i = 0; i < 20000; i++) {
        uint64_t h = proto_hash64(names[i], strlen(names[i]));
        ck_assert_int_eq(proto_htab_find(&t, h, name_eq, names[i]), (long)i);
    }
    ck_assert_int_eq(proto_htab_find(&t, proto_hash64("c-20000", 7), name_eq, "c-20000"), -1);
    proto_htab_free(&t);
    ck_assert_uint_eq(t.cap, 0);
}
END_TEST

/* Checks items with one hash are told apart by eq; fails otherwise. */
START_TEST(collisions)
{
    proto_htab t = {0};
    strcpy(names[0], "a");
    strcpy(names[1], "b");
    strcpy(names[2], "c");
    for (uint32_t i = 0; i < 3; i++)
        ck_assert_int_eq(proto_htab_find_or_add(&t, 42, name_eq, names[i], i), -1);
    ck_assert_int_eq(proto_htab_find(&t, 42, name_eq, "b"), 1);
    ck_assert_int_eq(proto_htab_find(&t, 42, name_eq, "c"), 2);
    ck_assert_int_eq(proto_htab_find(&t, 42, name_eq, "d"), -1);
    ck_assert_int_eq(proto_htab_find_or_add(&t, 42, name_eq, "a", 9), 0);
    ck_assert_uint_eq(t.n, 3);
    /* eq NULL: a set of hashes */
    ck_assert_int_eq(proto_htab_find(&t, 42, NULL, NULL), 0);
    ck_assert_int_eq(proto_htab_find(&t, 43, NULL, NULL), -1);
    proto_htab_free(&t);
}
END_TEST

/* Checks clear empties the table and keeps it usable; fails otherwise. */
START_TEST(clear_reuse)
{
    proto_htab t = {0};
    ck_assert_int_eq(proto_htab_find(&t, 7, NULL, NULL), -1);   /* empty, never allocated */
    for (uint32_t i = 0; i < 100; i++)
        ck_assert_int_eq(proto_htab_add(&t, i * 1024, i), 0);   /* one probe run */
    ck_assert_int_eq(proto_htab_find(&t, 99 * 1024, NULL, NULL), 99);
    size_t cap = t.cap;
    proto_htab_clear(&t);
    ck_assert_uint_eq(t.n, 0);
    ck_assert_uint_eq(t.cap, cap);
    ck_assert_int_eq(proto_htab_find(&t, 5 * 1024, NULL, NULL), -1);
    ck_assert_int_eq(proto_htab_add(&t, 5 * 1024, 7), 0);
    ck_assert_int_eq(proto_htab_find(&t, 5 * 1024, NULL, NULL), 7);
    proto_htab_free(&t);
}
END_TEST

static Suite *htab_suite(void)
{
    Suite *s = suite_create("proto_htab");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, find_and_grow);
    tcase_add_test(tc, collisions);
    tcase_add_test(tc, clear_reuse);
    suite_add_tcase(s, tc);
    return s;
}

/* Runs the suite; returns non-zero if any test failed. */
int main(void)
{
    return unit_run(htab_suite());
}
