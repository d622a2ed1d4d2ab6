/* bench_ua.c: the user-agent classifier's cost per UA, beside a case-folded hash of the same bytes. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ua.h"

#define MAXUA 4096
#define ROUNDS 7

static char *g_ua[MAXUA];
static size_t g_len[MAXUA];
static size_t g_n;

/* Adds the third column of every row of a labelled TSV to the set; returns -1 if unreadable. */
static int load(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[8192];
    while (g_n < MAXUA && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *t = strchr(line, '\t');
        t = t ? strchr(t + 1, '\t') : NULL;
        if (!t)
            continue;
        g_ua[g_n] = strdup(t + 1);
        if (!g_ua[g_n])
            break;
        g_len[g_n] = strlen(g_ua[g_n]);
        g_n++;
    }
    fclose(f);
    return 0;
}

/* Returns the monotonic clock in nanoseconds. */
static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The baseline: one case-folded pass over the bytes (FNV-1a), the floor of any case-insensitive matcher. */
static unsigned fold_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint32_t)tolower((unsigned char)s[i])) * 16777619u;
    return h;
}

/* Times reps passes of one method over every UA; returns ns per UA. */
static double run(int classify, long reps, volatile unsigned *sink)
{
    uint64_t t0 = now_ns();
    unsigned acc = 0;
    for (long r = 0; r < reps; r++)
        for (size_t i = 0; i < g_n; i++)
            acc += classify ? (unsigned)proto_ua_classify(g_ua[i], g_len[i], (proto_via)(i & 1 ? PROTO_VIA_CLICK
                                                                                           : PROTO_VIA_PIXEL))
                            : fold_hash(g_ua[i], g_len[i]);
    *sink += acc;
    return (double)(now_ns() - t0) / ((double)reps * (double)g_n);
}

/* Sorts doubles ascending (qsort). */
static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Loads the TSVs named on the command line and prints the median ns per UA
 * of the classifier and of the baseline, alternated over ROUNDS rounds, and
 * their ratio; exits 2 if no file could be read. */
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (load(argv[i]) != 0)
            fprintf(stderr, "bench_ua: cannot read %s\n", argv[i]);
    if (g_n == 0) {
        fprintf(stderr, "usage: bench_ua FILE.tsv... (class<TAB>hit<TAB>user-agent rows)\n");
        return 2;
    }
    size_t bytes = 0;
    for (size_t i = 0; i < g_n; i++)
        bytes += g_len[i];
    long reps = (long)(2000000 / g_n) + 1;
    volatile unsigned sink = 0;
    double c[ROUNDS], b[ROUNDS];
    run(1, reps / 10 + 1, &sink);               /* warm the caches */
    for (int k = 0; k < ROUNDS; k++) {
        b[k] = run(0, reps, &sink);
        c[k] = run(1, reps, &sink);
    }
    qsort(c, ROUNDS, sizeof c[0], cmp_d);
    qsort(b, ROUNDS, sizeof b[0], cmp_d);
    printf("bench_ua: %zu UAs (mean %zu bytes), %ld passes x %d rounds, medians:\n", g_n, bytes / g_n, reps,
           ROUNDS);
    printf("  classify        %7.1f ns/UA (min %.1f, max %.1f)\n", c[ROUNDS / 2], c[0], c[ROUNDS - 1]);
    printf("  fold+hash base  %7.1f ns/UA (min %.1f, max %.1f)\n", b[ROUNDS / 2], b[0], b[ROUNDS - 1]);
    printf("  ratio classify/baseline %.2f\n", c[ROUNDS / 2] / b[ROUNDS / 2]);
    for (size_t i = 0; i < g_n; i++)
        free(g_ua[i]);
    return 0;
}
