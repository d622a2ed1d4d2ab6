/* guard.h: helpers shared by the unit tests — inputs that end exactly at a guard page, span
 * comparison, and the suite runner. */
#ifndef TESTS_UNIT_GUARD_H
#define TESTS_UNIT_GUARD_H

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- guard page: inputs end exactly where reading faults ---- */

#define GUARD_AREA (64 * 1024)

/* Copies n bytes of s to end at the guard page; returns the copy. */
static inline char *guarded(const char *s, size_t n)
{
    static char *g_area;

    if (!g_area) {
        long pg = sysconf(_SC_PAGESIZE);
        char *m = mmap(NULL, GUARD_AREA + (size_t)pg, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        ck_assert_ptr_ne(m, MAP_FAILED);
        ck_assert_int_eq(mprotect(m + GUARD_AREA, (size_t)pg, PROT_NONE), 0);
        g_area = m;
    }
    ck_assert_uint_le(n, GUARD_AREA);
    if (n)
        memcpy(g_area + GUARD_AREA - n, s, n);
    return g_area + GUARD_AREA - n;
}

/* ---- spans ---- */

/* Returns 1 if (p, n) holds exactly lit, 0 otherwise. */
static inline int seq(const char *p, size_t n, const char *lit)
{
    return p && n == strlen(lit) && memcmp(p, lit, n) == 0;
}

/* Runs suite s (check's runner, freed after). Returns the exit status:
 * EXIT_FAILURE if any test failed. */
static inline int unit_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
