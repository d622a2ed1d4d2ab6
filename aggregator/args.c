/* args.c: growable lists of argument strings for the aggregator's RESP
 * commands (args.h); no I/O. */
#include "args.h"

#include <stdlib.h>
#include <string.h>

/* Returns p (capacity *cap items of size bytes) grown to hold need items,
 * doubling from first; NULL when out of memory (p is then unchanged). */
void *agg_grow(void *p, size_t *cap, size_t need, size_t size, size_t first)
{
    if (need <= *cap)
        return p;
    size_t nc = *cap ? *cap : first;
    while (nc < need)
        nc *= 2;
    void *np = realloc(p, nc * size);
    if (np)
        *cap = nc;
    return np;
}

/* Appends one argument of len bytes; sets a->oom on allocation failure. */
void agg_args_add(agg_args *a, const char *s, size_t len)
{
    if (a->oom)
        return;
    char *nb = agg_grow(a->buf, &a->cap, a->len + len + 1, 1, 1024);
    if (nb)
        a->buf = nb;
    struct agg_arg *na = nb ? agg_grow(a->at, &a->ncap, a->n + 1, sizeof *na, 32) : NULL;
    if (!na) {
        a->oom = 1;
        return;
    }
    a->at = na;
    memcpy(a->buf + a->len, s, len);
    a->buf[a->len + len] = 0;
    a->at[a->n].off = a->len;
    a->at[a->n++].len = len;
    a->len += len + 1;
}

/* Appends a decimal integer argument; see args_add. */
void agg_args_ll(agg_args *a, long long v)
{
    char tmp[24];
    agg_args_add(a, tmp, (size_t)(proto_resp_put_ll(tmp, v) - tmp));
}

/* Appends arguments [from, from + n) of a to r as RESP; sets r->oom on failure. */
void agg_args_to_resp(proto_resp *r, const agg_args *a, size_t from, size_t n)
{
    for (size_t i = from; i < from + n; i++)
        proto_resp_arg(r, a->buf + a->at[i].off, a->at[i].len);
}

/* Frees the list; never fails. */
void agg_args_free(agg_args *a)
{
    free(a->buf);
    free(a->at);
    memset(a, 0, sizeof *a);
}
