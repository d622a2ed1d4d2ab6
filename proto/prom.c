/* prom.c: Prometheus text exposition into a growable buffer; histograms. */
#include "prom.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds of the histogram buckets, seconds; the last is +Inf. */
static const double hist_le[PROTO_HIST_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0, INFINITY};

/* Initialises an empty buffer; never fails. */
void proto_buf_init(proto_buf *b)
{
    memset(b, 0, sizeof *b);
}

/* Frees the buffer's memory; safe on an initialised empty buffer. */
void proto_buf_free(proto_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* Appends formatted text; sets b->oom and drops the text on allocation failure. */
void proto_buf_printf(proto_buf *b, const char *fmt, ...)
{
    va_list ap;
    if (b->oom)
        return;
    for (;;) {
        size_t room = b->cap - b->len;
        va_start(ap, fmt);
        int n = vsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = b->cap ? b->cap * 2 : 4096;
        while (ncap - b->len <= (size_t)n)
            ncap *= 2;
        char *p = realloc(b->data, ncap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->data = p;
        b->cap = ncap;
    }
}

/* Writes the HELP and TYPE lines of a metric; never fails (see oom). */
void proto_prom_head(proto_buf *b, const char *name, const char *type, const char *help)
{
    proto_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Writes one sample line; never fails (see oom). */
void proto_prom_sample(proto_buf *b, const char *name, const char *labels, double value)
{
    if (labels && *labels)
        proto_buf_printf(b, "%s{%s} %.17g\n", name, labels, value);
    else
        proto_buf_printf(b, "%s %.17g\n", name, value);
}

/* Writes HELP, TYPE and the one sample of a metric; never fails (see oom). */
void proto_prom_one(proto_buf *b, const char *name, const char *type, const char *help,
                    double value)
{
    proto_prom_head(b, name, type, help);
    proto_prom_sample(b, name, NULL, value);
}

/* Records one observation of ns nanoseconds; never fails. */
void proto_hist_observe(proto_hist *h, uint64_t ns)
{
    double s = (double)ns / 1e9;
    int i = 0;
    while (i < PROTO_HIST_BUCKETS - 1 && s > hist_le[i])
        i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

/* Writes a histogram with cumulative buckets; never fails (see oom). */
void proto_prom_hist(proto_buf *b, const char *name, const char *help, const proto_hist *h)
{
    uint64_t cum = 0;
    proto_prom_head(b, name, "histogram", help);
    for (int i = 0; i < PROTO_HIST_BUCKETS; i++) {
        cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        if (i == PROTO_HIST_BUCKETS - 1)
            proto_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
        else
            proto_buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, hist_le[i],
                             (unsigned long long)cum);
    }
    proto_buf_printf(b, "%s_sum %.9f\n", name,
                     (double)atomic_load_explicit(&h->sum_ns, memory_order_relaxed) / 1e9);
    proto_buf_printf(b, "%s_count %llu\n", name,
                     (unsigned long long)atomic_load_explicit(&h->count, memory_order_relaxed));
}
