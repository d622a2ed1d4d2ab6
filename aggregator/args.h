/* args.h: growable lists of argument strings stored back to back, the
 * building blocks of the aggregator's RESP commands; no I/O. */
#ifndef AGG_ARGS_H
#define AGG_ARGS_H

#include <stddef.h>

#include "resp.h"

/* A list of arguments; zero-initialise, free with agg_args_free. */
typedef struct {
    char *buf;
    size_t len, cap;
    struct agg_arg {
        size_t off, len;    /* where in buf, how long */
    } *at;
    size_t n, ncap;
    int oom;                /* an append failed: the list is incomplete */
} agg_args;

/* Returns p (capacity *cap items of size bytes) grown to hold need items,
 * doubling from first; NULL when out of memory (p is then unchanged). */
void *agg_grow(void *p, size_t *cap, size_t need, size_t size, size_t first);

/* Appends one argument of len bytes; sets a->oom on allocation failure. */
void agg_args_add(agg_args *a, const char *s, size_t len);

/* Appends a decimal integer argument; see agg_args_add. */
void agg_args_ll(agg_args *a, long long v);

/* Appends arguments [from, from + n) of a to r as RESP; sets r->oom on failure. */
void agg_args_to_resp(proto_resp *r, const agg_args *a, size_t from, size_t n);

/* Frees the list; never fails. */
void agg_args_free(agg_args *a);

#endif
