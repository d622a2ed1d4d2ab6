/* expiry.c: the aggregator's memory of its audience keys' expiries (one
 * entry a campaign: a day and a bit a bucket). */
#include <stdlib.h>
#include <string.h>

#include "expiry.h"
#include "htab.h"
#include "keys.h"

#define AGG_EXPIRY_MAX 100000       /* campaigns remembered; past it, all are forgotten */

typedef struct {
    char *name;
    size_t len;
    long long at;                   /* every bucket whose bit is set expires at or after it */
    uint64_t bits[PROTO_AUD_BUCKETS / 64];
} memo;

struct agg_expiry {
    proto_htab idx;
    memo *ms;
    size_t n, cap;
};

typedef struct {
    const agg_expiry *e;
    const char *name;
    size_t len;
} want;

agg_expiry *agg_expiry_new(void)
{
    return calloc(1, sizeof(agg_expiry));
}

/* Forgets every campaign, keeping the table; never fails. */
static void forget(agg_expiry *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->ms[i].name);
    e->n = 0;
    proto_htab_clear(&e->idx);
}

void agg_expiry_free(agg_expiry *e)
{
    if (!e)
        return;
    forget(e);
    proto_htab_free(&e->idx);
    free(e->ms);
    free(e);
}

long long agg_expiry_at(long long ts_ms, long long days)
{
    return (ts_ms / PROTO_DAY_MS + days + 1) * PROTO_DAY_MS;
}

/* Returns 1 if memo idx is the campaign sought. */
static int eq(const void *arg, uint32_t idx)
{
    const want *w = arg;
    const memo *m = &w->e->ms[idx];
    return m->len == w->len && memcmp(m->name, w->name, w->len) == 0;
}

int agg_expiry_known(const agg_expiry *e, const char *name, size_t len, uint64_t hash, unsigned bucket,
                     long long at)
{
    if (!e || bucket >= PROTO_AUD_BUCKETS)
        return 0;
    want w = {e, name, len};
    long i = proto_htab_find(&e->idx, hash, eq, &w);
    if (i < 0)
        return 0;
    const memo *m = &e->ms[i];
    return m->at >= at && (m->bits[bucket / 64] >> (bucket % 64) & 1);
}

void agg_expiry_note(agg_expiry_call *call, unsigned bucket, long long at)
{
    if (bucket >= PROTO_AUD_BUCKETS)
        return;
    call->bits[bucket / 64] |= 1ull << (bucket % 64);
    if (!call->at_min || at < call->at_min)
        call->at_min = at;
}

void agg_expiry_confirm(agg_expiry *e, const char *name, size_t len, uint64_t h,
                        const agg_expiry_call *call)
{
    if (!e || !call->at_min)
        return;
    want w = {e, name, len};
    long i = proto_htab_find(&e->idx, h, eq, &w);
    if (i < 0) {
        if (e->n >= AGG_EXPIRY_MAX)
            forget(e);
        if (e->n == e->cap) {
            size_t cap = e->cap ? e->cap * 2 : 64;
            memo *ms = realloc(e->ms, cap * sizeof *ms);
            if (!ms)
                return;
            e->ms = ms;
            e->cap = cap;
        }
        memo *m = &e->ms[e->n];
        memset(m, 0, sizeof *m);
        if (!(m->name = malloc(len ? len : 1)))
            return;
        memcpy(m->name, name, len);
        m->len = len;
        if (proto_htab_add(&e->idx, h, (uint32_t)e->n) < 0) {
            free(m->name);
            return;
        }
        i = (long)e->n++;
    }
    memo *m = &e->ms[i];
    if (call->at_min < m->at)
        return;     /* late hits: their keys are known only to expire after an earlier day */
    if (call->at_min > m->at) {
        memset(m->bits, 0, sizeof m->bits);
        m->at = call->at_min;
    }
    for (size_t k = 0; k < PROTO_AUD_BUCKETS / 64; k++)
        m->bits[k] |= call->bits[k];
}
