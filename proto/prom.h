/* prom.h: Prometheus text exposition (version 0.0.4) into a growable
 * buffer, and a fixed-bucket latency histogram safe to update from many
 * threads. */
#ifndef PROTO_PROM_H
#define PROTO_PROM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* A growable text buffer. */
typedef struct {
    char *data;
    size_t len, cap;
    int oom;            /* set once an allocation failed; later appends are dropped */
} proto_buf;

void proto_buf_init(proto_buf *b);
void proto_buf_free(proto_buf *b);
/* Appends formatted text; on allocation failure sets b->oom. */
void proto_buf_printf(proto_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes "# HELP name help\n# TYPE name type\n". */
void proto_prom_head(proto_buf *b, const char *name, const char *type, const char *help);
/* Writes one sample: name{labels} value. labels may be NULL or "" (no braces). */
void proto_prom_sample(proto_buf *b, const char *name, const char *labels, double value);

/* Writes a whole single-sample metric: HELP, TYPE (type is "counter" or
 * "gauge") and its value. */
void proto_prom_one(proto_buf *b, const char *name, const char *type, const char *help,
                    double value);

/* Latency histogram, in seconds, with fixed buckets. */
#define PROTO_HIST_BUCKETS 12
typedef struct {
    _Atomic uint64_t bucket[PROTO_HIST_BUCKETS]; /* non-cumulative */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_ns;
} proto_hist;

/* Records one observation of ns nanoseconds. */
void proto_hist_observe(proto_hist *h, uint64_t ns);
/* Writes the histogram (HELP/TYPE, cumulative _bucket{le}, _sum, _count). */
void proto_prom_hist(proto_buf *b, const char *name, const char *help, const proto_hist *h);

#endif
