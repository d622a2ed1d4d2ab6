/* batch.c: a batch of hit-stream entries pre-aggregated per campaign, and
 * the RESP commands that read its watermarks and apply it; no I/O, nothing
 * allocated per hit. */
#include "batch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "expiry.h"
#include "hit.h"
#include "htab.h"
#include "keys.h"
#include "log.h"
#include "ops.h"
#include "schema.h"

#define NONCE_WINDOW_MS (24LL * 3600 * 1000)
#define CHUNK 2000              /* elements per PFADD / ZADD op (Lua's unpack takes ~8000) */
#define UKEYS 12                /* cached HLL keys per campaign (events, scroll buckets) */

/* ---------------------------------------------------------------- batch state */

/* One stream entry of the batch: the reply it came in, located fields. */
typedef struct {
    const redisReply *fields;       /* [name, value, ...] */
    const char *id;
    uint64_t ms, seq;               /* id, parsed once */
    const char *campaign, *nonce;   /* raw values inside the reply */
    size_t campaign_len, nonce_len;
    int accepted;                   /* the filter took it: above the watermark, new, decodes */
    int camp;                       /* its campaign's index, -1 if it has none */
} entry;

/* A counter increment being pre-aggregated: KEYS[key] field += n, for one
 * campaign; the increments of a campaign are chained through next. */
typedef struct {
    uint64_t hash;
    int camp, key, next;
    unsigned char flen, zset;
    char field[PROTO_REF_MAX + 16];
    long long n;
} incr;

/* An HLL key with the elements to add. */
typedef struct {
    int key;
    agg_args elems;
} hll;

/* Everything one campaign's script call needs. */
typedef struct {
    char name[PROTO_CAMPAIGN_MAX + 1];
    size_t nlen;
    uint64_t hash;
    char wm[48];                    /* watermark read from Redis */
    uint64_t wm_ms, wm_seq;
    const char *last_id;            /* last entry of this batch (in the reply) */
    int *entries;                   /* indexes into the batch, stream order */
    size_t nentries, capentries;
    agg_args keys;                      /* KEYS of the call */
    long long hour, day;            /* cached bucket numbers, -1 if none */
    int hour_key, day_key;          /* ... and their KEYS indexes */
    struct {
        char event[PROTO_EVENT_MAX + 1];
        int kind, key;
    } ukey[UKEYS];                  /* HLL keys by kind and name */
    int nukey;
    int incr_head, incr_tail;       /* this campaign's increments, or -1 */
    hll *hlls;
    size_t nhlls, caphlls;
    proto_resp xops;                /* X ops: bucket expiries */
    proto_resp sfops;               /* S/F ops, in stream order */
    proto_resp aops;                /* A ops: the audience, in stream order */
    agg_expiry_call aud_exp;        /* the audience buckets of the call, for b->expiry */
    agg_args nonces;                    /* ts, nonce pairs to record */
    long long first_ts, last_ts;
    size_t applied;
    int called;                     /* an apply call was built */
    int held;                       /* a poisoned key holds it: no call, its entries unacknowledged */
} camp;

/* The whole batch being applied. */
struct agg_batch {
    const proto_conf *conf;
    unsigned p;
    char part[16];                  /* p in decimal: the watermark's field */
    proto_htab seen;                /* scratch: in-batch nonces of a campaign (entry indexes) */
    proto_hit *hit;                 /* scratch: the entry being decoded */
    entry *es;
    camp *cs;
    size_t ncamps, capcamps;
    proto_htab ctab;                /* campaigns by name */
    incr *is;
    size_t nincrs, capincrs;
    proto_htab itab;                /* increments by (campaign, key, field) */
    long nactive;                   /* activity updates appended (replies owed) */
    agg_expiry *expiry;             /* the audience expiries known, or NULL */
};
typedef struct agg_batch batch;

/* Returns the hash of (campaign, key, field) for the increment table. */
static uint64_t incr_hash(int c, int key, const char *f, size_t fl)
{
    return proto_hash64(f, fl) ^ ((uint64_t)(unsigned)c * 0x9E3779B97F4A7C15ULL) ^
           ((uint64_t)(unsigned)key * 0xC2B2AE3D27D4EB4FULL);
}

/* What incr_add looks for (the eq argument of its table). */
typedef struct {
    const batch *b;
    int camp, key;
    const char *field;
    size_t flen;
} incr_want;

/* Returns 1 if increment idx is the one sought. */
static int incr_eq(const void *arg, uint32_t idx)
{
    const incr_want *w = arg;
    const incr *x = &w->b->is[idx];
    return x->camp == w->camp && x->key == w->key && x->flen == w->flen &&
           memcmp(x->field, w->field, w->flen) == 0;
}

/* Adds n to KEYS[key] field of campaign c (a sorted set when zset).
 * Returns 0 or -1 (no memory). */
static int incr_add(batch *b, int c, int key, int zset, const char *f, size_t fl, long long n)
{
    if (fl >= sizeof b->is[0].field)
        return -1;
    uint64_t h = incr_hash(c, key, f, fl);
    incr_want want = {b, c, key, f, fl};
    long found = proto_htab_find(&b->itab, h, incr_eq, &want);
    if (found >= 0) {
        b->is[found].n += n;
        return 0;
    }
    incr *ni = agg_grow(b->is, &b->capincrs, b->nincrs + 1, sizeof *ni, 1024);
    if (!ni)
        return -1;
    b->is = ni;
    int idx = (int)b->nincrs++;
    incr *x = &b->is[idx];
    x->hash = h;
    x->camp = c;
    x->key = key;
    x->next = -1;
    x->flen = (unsigned char)fl;
    x->zset = (unsigned char)zset;
    memcpy(x->field, f, fl);
    x->field[fl] = 0;
    x->n = n;
    if (proto_htab_add(&b->itab, h, (uint32_t)idx) < 0) {
        b->nincrs--;
        return -1;
    }
    camp *cp = &b->cs[c];
    if (cp->incr_tail >= 0)
        b->is[cp->incr_tail].next = idx;
    else
        cp->incr_head = idx;
    cp->incr_tail = idx;
    return 0;
}

/* What camp_find looks for (the eq argument of its table). */
typedef struct {
    const batch *b;
    const char *name;
    size_t len;
} camp_want;

/* Returns 1 if campaign idx is the one sought. */
static int camp_eq(const void *arg, uint32_t idx)
{
    const camp_want *w = arg;
    const camp *c = &w->b->cs[idx];
    return c->nlen == w->len && memcmp(c->name, w->name, w->len) == 0;
}

/* Returns the index of the campaign named s (len bytes), adding it if new,
 * or -1 on allocation failure or a name too long. */
static int camp_find(batch *b, const char *s, size_t len)
{
    if (len > PROTO_CAMPAIGN_MAX)
        return -1;
    uint64_t h = proto_hash64(s, len);
    camp_want want = {b, s, len};
    long found = proto_htab_find(&b->ctab, h, camp_eq, &want);
    if (found >= 0)
        return (int)found;
    camp *nc = agg_grow(b->cs, &b->capcamps, b->ncamps + 1, sizeof *nc, 64);
    if (!nc)
        return -1;
    b->cs = nc;
    camp *c = &b->cs[b->ncamps];
    memset(c, 0, sizeof *c);
    memcpy(c->name, s, len);
    c->nlen = len;
    c->hash = h;
    c->hour = c->day = -1;
    c->incr_head = c->incr_tail = -1;
    if (proto_htab_add(&b->ctab, h, (uint32_t)b->ncamps) < 0)
        return -1;
    return (int)b->ncamps++;
}

/* Adds entry index e to campaign c. Returns 0 or -1. */
static int camp_entry(camp *c, int e)
{
    int *ne = agg_grow(c->entries, &c->capentries, c->nentries + 1, sizeof *ne, 16);
    if (!ne)
        return -1;
    c->entries = ne;
    c->entries[c->nentries++] = e;
    return 0;
}

/* Frees a campaign's batch state; never fails. */
static void camp_free(camp *c)
{
    free(c->entries);
    agg_args_free(&c->keys);
    for (size_t i = 0; i < c->nhlls; i++)
        agg_args_free(&c->hlls[i].elems);
    free(c->hlls);
    proto_resp_free(&c->xops);
    proto_resp_free(&c->sfops);
    proto_resp_free(&c->aops);
    agg_args_free(&c->nonces);
}

/* Returns the index of key name in c->keys (1-based, as Lua's KEYS), adding
 * it if new (*added = 1). Returns 0 on allocation failure. */
static int camp_key(camp *c, const char *name, int *added)
{
    *added = 0;
    for (size_t i = 0; i < c->keys.n; i++)
        if (strcmp(c->keys.buf + c->keys.at[i].off, name) == 0)
            return (int)i + 1;
    agg_args_add(&c->keys, name, strlen(name));
    *added = 1;
    return c->keys.oom ? 0 : (int)c->keys.n;
}

/* Registers the fixed keys of the apply script (ops.h). Returns 0 or -1. */
static int camp_fixed_keys(camp *c, const proto_conf *conf)
{
    char key[PROTO_KEY_MAX];
    int added;
    for (int k = AGG_K_TOTALS; k <= AGG_K_FIXED; k++)
        if (agg_ops_key(key, sizeof key, conf->prefix, c->name, k) < 0 ||
            camp_key(c, key, &added) != k)
            return -1;
    return 0;
}

/* Returns the KEYS index of the hourly (or daily) bucket holding ts,
 * registering it and its expiry when new; 0 on failure. */
static int bucket_key(camp *c, const proto_conf *conf, long long ts, int hourly)
{
    long long span = hourly ? PROTO_HOUR_MS : PROTO_DAY_MS, num = ts / span;
    if (num == (hourly ? c->hour : c->day))
        return hourly ? c->hour_key : c->day_key;
    char key[PROTO_KEY_MAX];
    if ((hourly ? proto_key_hour : proto_key_day)(key, sizeof key, conf->prefix, c->name, ts) < 0)
        return 0;
    int added, k = camp_key(c, key, &added);
    if (!k)
        return 0;
    if (added) { /* X k at: expire the bucket retention after its start */
        long long ttl = hourly ? (long long)conf->retention_hours * PROTO_HOUR_MS
                               : (long long)conf->retention_days * PROTO_DAY_MS;
        agg_op_expire(&c->xops, k, num * span + ttl);
    }
    if (hourly) {
        c->hour = num;
        c->hour_key = k;
    } else {
        c->day = num;
        c->day_key = k;
    }
    return k;
}

/* Returns the KEYS index of campaign key k, registering it when new (keys
 * only some batches touch: top pages, top referrers); 0 on failure. */
static int named_key(camp *c, const proto_conf *conf, proto_ckey k)
{
    char key[PROTO_KEY_MAX];
    int added;
    if (proto_key_of(key, sizeof key, conf->prefix, c->name, k) < 0)
        return 0;
    return camp_key(c, key, &added);
}

/* Returns the KEYS index of HLL kind of name (an event's unique people, or
 * the viewers of a scroll bucket), registering it when new; 0 on failure. */
static int hll_key(camp *c, const proto_conf *conf, agg_hll_key kind, const char *name)
{
    for (int i = 0; i < c->nukey; i++)
        if (c->ukey[i].kind == (int)kind && strcmp(c->ukey[i].event, name) == 0)
            return c->ukey[i].key;
    char key[PROTO_KEY_MAX];
    int rc = -1;
    if (kind == AGG_HLL_EVENT) {
        rc = proto_key_uniq(key, sizeof key, conf->prefix, c->name, name);
    } else {
        for (int i = 0; i < PROTO_SCROLL_BUCKETS; i++)
            if (strcmp(proto_scroll_field(i), name) == 0)
                rc = proto_key_scroll(key, sizeof key, conf->prefix, c->name, i);
    }
    if (rc < 0)
        return 0;
    int added, k = camp_key(c, key, &added);
    if (k && c->nukey < UKEYS) {
        snprintf(c->ukey[c->nukey].event, sizeof c->ukey[0].event, "%s", name);
        c->ukey[c->nukey].kind = (int)kind;
        c->ukey[c->nukey++].key = k;
    }
    return k;
}

/* Adds an element to the HLL at KEYS[key]. Returns 0 or -1. */
static int camp_pfadd(camp *c, int key, const char *elem, size_t len)
{
    hll *h = NULL;
    for (size_t i = 0; i < c->nhlls && !h; i++)
        if (c->hlls[i].key == key)
            h = &c->hlls[i];
    if (!h) {
        hll *nh = agg_grow(c->hlls, &c->caphlls, c->nhlls + 1, sizeof *nh, 8);
        if (!nh)
            return -1;
        c->hlls = nh;
        h = &c->hlls[c->nhlls++];
        memset(h, 0, sizeof *h);
        h->key = key;
    }
    agg_args_add(&h->elems, elem, len);
    return h->elems.oom ? -1 : 0;
}

/* The campaign a hit is being counted for (the arg of the agg_counts
 * callbacks). */
typedef struct {
    batch *b;
    int ci;
    long long ts;
} counting;

/* Adds n to field of counter k (agg_counts.incr). Returns 0 or -1. */
static int count_incr(void *arg, agg_counter_key k, const char *field, size_t flen, long long n)
{
    counting *x = arg;
    camp *c = &x->b->cs[x->ci];
    int key = k == AGG_CK_TOTALS ? AGG_K_TOTALS
            : k == AGG_CK_REF ? AGG_K_REF
            : k == AGG_CK_REACH ? AGG_K_REACH
            : k == AGG_CK_PAGES ? named_key(c, x->b->conf, PROTO_CK_PAGES)
            : k == AGG_CK_REFERRERS ? named_key(c, x->b->conf, PROTO_CK_REFERRERS)
            : k == AGG_CK_REF_CLICK ? named_key(c, x->b->conf, PROTO_CK_REF_CLICK)
            : k == AGG_CK_UNVERIFIED ? named_key(c, x->b->conf, PROTO_CK_REF_UNVERIFIED)
            : bucket_key(c, x->b->conf, x->ts, k == AGG_CK_HOUR);
    return key ? incr_add(x->b, x->ci, key, agg_ops_zset(k), field, flen, n) : -1;
}

/* Adds elem to an HLL (agg_counts.hll). Returns 0 or -1. */
static int count_hll(void *arg, agg_hll_key kind, const char *name, const char *elem, size_t len)
{
    counting *x = arg;
    camp *c = &x->b->cs[x->ci];
    int k = hll_key(c, x->b->conf, kind, name);
    return k && camp_pfadd(c, k, elem, len) == 0 ? 0 : -1;
}

/* Records a signup or follow-up op, in stream order. Returns 0 or -1. */
static int count_sf(void *arg, int signup, const char *subject, long long ts)
{
    counting *x = arg;
    camp *c = &x->b->cs[x->ci];
    (signup ? agg_op_signup : agg_op_followup)(&c->sfops, subject, ts);
    return c->sfops.oom ? -1 : 0;
}

/* Records a subject seen doing an event (agg_counts.aud): an A op on its
 * audience bucket, kept until agg_expiry_at (negated when b->expiry knows
 * the key expires no earlier). Returns 0 or -1. */
static int count_aud(void *arg, const char *subject, unsigned bit, const char *ref, long long ts)
{
    counting *x = arg;
    camp *c = &x->b->cs[x->ci];
    const proto_conf *conf = x->b->conf;
    char key[PROTO_KEY_MAX];
    int added;
    size_t sl = strlen(subject);
    unsigned bucket = proto_aud_bucket(subject, sl);
    if (proto_key_aud(key, sizeof key, conf->prefix, c->name, bucket) < 0)
        return -1;
    int k = camp_key(c, key, &added);
    if (!k)
        return -1;
    long long cap = (conf->audience_max + PROTO_AUD_BUCKETS - 1) / PROTO_AUD_BUCKETS;
    long long at = agg_expiry_at(ts, conf->audience_days);
    int known = agg_expiry_known(x->b->expiry, c->name, c->nlen, c->hash, bucket, at);
    agg_expiry_note(&c->aud_exp, bucket, at);
    agg_op_aud(&c->aops, k, subject, bit, ts / 1000, ref, known ? -at : at, cap);
    return c->aops.oom ? -1 : 0;
}

/* Widens the campaign's first/last hit times; never fails. */
static int count_seen(void *arg, long long ts)
{
    counting *x = arg;
    camp *c = &x->b->cs[x->ci];
    if (ts < c->first_ts || !c->first_ts)
        c->first_ts = ts;
    if (ts > c->last_ts)
        c->last_ts = ts;
    return 0;
}

/* Pre-aggregates one accepted (not duplicate) hit of campaign ci by the
 * counting rules of ops.c. Returns 0 or -1 (no memory). */
static int camp_hit(batch *b, int ci, const proto_hit *h)
{
    counting x = {b, ci, h->ts};
    const agg_counts out = {&x, count_incr, count_hll, count_sf, count_seen, count_aud};
    return agg_ops_count(h, &out);
}

/* Appends campaign c's apply call (EVALSHA, KEYS, ARGV, ops) to out as one
 * command, using call as scratch. Returns 0 or -1 (no memory). */
static int camp_call(const batch *b, const camp *c, const char *sha, const char *outbox_maxlen,
                     long long now, proto_resp *call, proto_resp *out)
{
    proto_resp_reset(call);
    proto_resp_str(call, "EVALSHA");
    proto_resp_str(call, sha);
    proto_resp_ll(call, (long long)c->keys.n);
    agg_args_to_resp(call, &c->keys, 0, c->keys.n);
    agg_op_args(call, b->part, c->wm, c->last_id, c->name, c->nlen, now,
                b->conf->followup_sla_s, outbox_maxlen);
    for (int i = c->incr_head; i >= 0; i = b->is[i].next) {
        const incr *x = &b->is[i];
        agg_op_incr(call, x->zset, x->key, x->field, x->flen, x->n);
    }
    /* expiries after the increments: PEXPIREAT of a bucket the increments
     * just created (a campaign's first hit of the hour) */
    proto_resp_cat(call, &c->xops);
    for (size_t i = 0; i < c->nhlls; i++) {
        const hll *h = &c->hlls[i];
        for (size_t j = 0; j < h->elems.n; j += CHUNK) {
            size_t n = h->elems.n - j < CHUNK ? h->elems.n - j : CHUNK;
            agg_op_pfadd(call, h->key, n);
            agg_args_to_resp(call, &h->elems, j, n);
        }
    }
    if (c->first_ts) {
        agg_op_lo(call, PROTO_FIELD_FIRST_TS, c->first_ts);
        agg_op_hi(call, PROTO_FIELD_LAST_TS, c->last_ts);
    }
    for (size_t j = 0; j < c->nonces.n; j += 2 * CHUNK) {
        size_t n = c->nonces.n - j < 2 * CHUNK ? c->nonces.n - j : 2 * CHUNK;
        agg_op_nonces(call, n / 2);
        agg_args_to_resp(call, &c->nonces, j, n);
    }
    agg_op_trim_nonces(call, now - NONCE_WINDOW_MS);
    proto_resp_cat(call, &c->sfops);
    proto_resp_cat(call, &c->aops);
    proto_resp_command(out, call);
    return out->oom ? -1 : 0;
}


/* ---------------------------------------------------------------- filtering */

/* Returns 1 if id (ms, seq) is above the watermark (wms, wseq), else 0. */
static int id_above(uint64_t ms, uint64_t seq, uint64_t wms, uint64_t wseq)
{
    return ms > wms || (ms == wms && seq > wseq);
}

/* Returns 1 if entry b->es[want] has the nonce of entry idx. */
static int nonce_eq(const void *arg, uint32_t idx)
{
    const entry *const *pair = arg;     /* {entries, the entry sought} */
    const entry *o = &pair[0][idx], *e = pair[1];
    return o->nonce_len == e->nonce_len && memcmp(o->nonce, e->nonce, e->nonce_len) == 0;
}

/* Returns 1 if entry idx's nonce was already seen in this batch (seen
 * holds entry indexes), adding it if not; -1 when out of memory. */
static int batch_nonce_seen(proto_htab *seen, const entry *es, int idx)
{
    const entry *pair[2] = {es, &es[idx]};
    long r = proto_htab_find_or_add(seen, proto_hash64(es[idx].nonce, es[idx].nonce_len),
                                    nonce_eq, pair, (uint32_t)idx);
    return r == -2 ? -1 : r >= 0;
}

/* Locates the id, campaign and nonce of stream entry r into e. Returns 0,
 * or -1 if r is not [id, [name, value, ...]] or names no valid-length
 * campaign (e->id is set when r has one). */
static int entry_scan(const redisReply *r, entry *e)
{
    memset(e, 0, sizeof *e);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING)
        return -1;
    e->id = r->element[0]->str;
    proto_stream_id_parse(e->id, &e->ms, &e->seq);
    const redisReply *f = r->element[1];
    if (f->type != REDIS_REPLY_ARRAY || f->elements % 2 || f->elements / 2 > 64)
        return -1;
    for (size_t i = 0; i < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            return -1;
        if (k->len == 8 && memcmp(k->str, "campaign", 8) == 0) {
            e->campaign = v->str;
            e->campaign_len = v->len;
        } else if (k->len == 5 && memcmp(k->str, "nonce", 5) == 0) {
            e->nonce = v->str;
            e->nonce_len = v->len;
        }
    }
    e->fields = f;
    /* a campaign that is not a valid id (a NUL inside, say) would name
     * another campaign's keys: malformed, kept out of every group */
    return e->campaign && proto_hit_valid_id(e->campaign, e->campaign_len, PROTO_CAMPAIGN_MAX) ? 0 : -1;
}

/* Decodes and validates every field of e into hit. Returns 0 or -1. */
static int entry_decode(const entry *e, proto_hit *hit)
{
    const char *names[64], *values[64];
    size_t nl[64], vl[64];
    int n = (int)e->fields->elements / 2;
    for (int i = 0; i < n; i++) {
        names[i] = e->fields->element[2 * i]->str;
        nl[i] = e->fields->element[2 * i]->len;
        values[i] = e->fields->element[2 * i + 1]->str;
        vl[i] = e->fields->element[2 * i + 1]->len;
    }
    return proto_hit_from_fields(hit, n, names, nl, values, vl) == PROTO_OK ? 0 : -1;
}

/* Filters campaign ci's entries (applied before: skipped; nonce seen in
 * 24 h or earlier in the batch: duplicate) and pre-aggregates the rest.
 * Returns 0 or -1 (no memory). */
int agg_batch_filter(agg_batch *b, size_t ci, const redisReply *wm, const redisReply *ns,
                     agg_apply_result *res)
{
    camp *cp = &b->cs[ci];
    proto_hit *hit = b->hit;
    snprintf(cp->wm, sizeof cp->wm, "%s", wm->type == REDIS_REPLY_STRING ? wm->str : "");
    proto_stream_id_parse(cp->wm, &cp->wm_ms, &cp->wm_seq);
    if (camp_fixed_keys(cp, b->conf) < 0)
        return -1;
    proto_htab_clear(&b->seen);
    size_t ni = 0;
    for (size_t j = 0; j < cp->nentries; j++) {
        const entry *e = &b->es[cp->entries[j]];
        cp->last_id = e->id;
        const char *score = NULL;
        if (e->nonce_len) {
            const redisReply *sc = ni < ns->elements ? ns->element[ni] : NULL;
            ni++;
            score = sc && sc->type == REDIS_REPLY_STRING ? sc->str : NULL;
        }
        if (cp->wm[0] && !id_above(e->ms, e->seq, cp->wm_ms, cp->wm_seq)) {
            res->skipped++;
            continue;
        }
        if (entry_decode(e, hit) < 0) {
            res->malformed++;
            sys_warn("stream entry does not decode, acknowledged unapplied", "partition=%u id=%s",
                       b->p, e->id);
            continue;
        }
        if (hit->nonce[0]) {
            /* seen within 24 h before, or earlier in this batch */
            int dup = score && hit->ts - atoll(score) < NONCE_WINDOW_MS;
            if (!dup && (dup = batch_nonce_seen(&b->seen, b->es, cp->entries[j])) < 0)
                return -1;
            if (dup) {
                counting x = {b, (int)ci, hit->ts};
                const agg_counts out = {&x, count_incr, count_hll, count_sf, count_seen, count_aud};
                if (agg_ops_count_dup(&out) < 0)
                    return -1;
                res->duplicates++;
                continue;
            }
            agg_args_ll(&cp->nonces, hit->ts);
            agg_args_add(&cp->nonces, hit->nonce, strlen(hit->nonce));
        }
        if (camp_hit(b, (int)ci, hit) < 0 || cp->nonces.oom)
            return -1;
        b->es[cp->entries[j]].accepted = 1;
        cp->applied++;
    }
    return 0;
}

/* ---------------------------------------------------------------- API */

/* Groups entries by campaign. Returns the batch, or NULL (no memory). */
agg_batch *agg_batch_new(const proto_conf *conf, unsigned p, const redisReply *const *ents,
                         size_t n, agg_apply_result *res)
{
    batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->conf = conf;
    b->p = p;
    snprintf(b->part, sizeof b->part, "%u", p);
    b->es = malloc((n ? n : 1) * sizeof *b->es);
    b->hit = malloc(sizeof *b->hit);
    if (!b->es || !b->hit)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        int bad = entry_scan(ents[i], &b->es[i]) < 0;
        b->es[i].camp = -1;     /* entry_scan fills the rest */
        if (bad) {
            res->malformed++;
            sys_warn("stream entry does not decode, acknowledged unapplied", "partition=%u id=%s",
                       p, b->es[i].id ? b->es[i].id : "?");
            continue;
        }
        int ci = camp_find(b, b->es[i].campaign, b->es[i].campaign_len);
        if (ci < 0 || camp_entry(&b->cs[ci], (int)i) < 0)
            goto fail;
        b->es[i].camp = ci;
    }
    return b;
fail:
    agg_batch_free(b);
    return NULL;
}

/* Frees the batch; never fails. */
void agg_batch_free(agg_batch *b)
{
    if (!b)
        return;
    for (size_t c = 0; c < b->ncamps; c++)
        camp_free(&b->cs[c]);
    free(b->cs);
    proto_htab_free(&b->ctab);
    free(b->is);
    proto_htab_free(&b->itab);
    free(b->es);
    proto_htab_free(&b->seen);
    free(b->hit);
    free(b);
}

/* Returns the number of campaigns. */
size_t agg_batch_ncamps(const agg_batch *b)
{
    return b->ncamps;
}

/* Appends the HGET/ZMSCORE pairs. Returns 0 or -1 (no memory). */
int agg_batch_reads(const agg_batch *b, proto_resp *out)
{
    proto_resp q = {0};
    char key[PROTO_KEY_MAX];
    int rc = 0;
    for (size_t c = 0; c < b->ncamps && rc == 0; c++) {
        const camp *cp = &b->cs[c];
        if (agg_ops_key(key, sizeof key, b->conf->prefix, cp->name, AGG_K_WM) < 0) {
            rc = -1;
            break;
        }
        proto_resp_reset(&q);
        proto_resp_str(&q, "HGET");
        proto_resp_str(&q, key);
        proto_resp_str(&q, b->part);
        proto_resp_command(out, &q);
        if (agg_ops_key(key, sizeof key, b->conf->prefix, cp->name, AGG_K_NONCE) < 0) {
            rc = -1;
            break;
        }
        proto_resp_reset(&q);
        proto_resp_str(&q, "ZMSCORE");
        proto_resp_str(&q, key);
        for (size_t j = 0; j < cp->nentries; j++) {
            const entry *e = &b->es[cp->entries[j]];
            if (e->nonce_len)
                proto_resp_arg(&q, e->nonce, e->nonce_len);
        }
        if (q.nargs < 3)
            proto_resp_str(&q, "\x01"); /* keep one reply per campaign */
        proto_resp_command(out, &q);
        rc = out->oom ? -1 : 0;
    }
    proto_resp_free(&q);
    return rc;
}

/* Appends the apply calls. Returns how many, or -1 (no memory). */
long agg_batch_calls(agg_batch *b, const char *sha, const char *outbox_maxlen, long long now,
                     proto_resp *out)
{
    proto_resp call = {0};
    long n = 0;
    for (size_t c = 0; c < b->ncamps; c++) {
        camp *cp = &b->cs[c];
        cp->called = !cp->held && cp->last_id && proto_stream_id_cmp(cp->last_id, cp->wm) > 0;
        if (!cp->called)
            continue;
        if (camp_call(b, cp, sha, outbox_maxlen, now, &call, out) < 0) {
            n = -1;
            break;
        }
        n++;
    }
    proto_resp_free(&call);
    return n;
}

/* Appends EVALSHA sha of the dead-letter script for campaign c: every entry
 * the filter accepted (duplicates and malformed ones are acknowledged as
 * usual), with reason why. Returns 0, or -1 when out of
 * memory or a key name does not fit. */
int agg_batch_dead(const agg_batch *b, size_t c, const char *sha, const char *why,
                   proto_resp *out)
{
    const camp *cp = &b->cs[c];
    char wm[PROTO_KEY_MAX], dead[PROTO_KEY_MAX];
    if (proto_key_of(wm, sizeof wm, b->conf->prefix, cp->name, PROTO_CK_WM) < 0 ||
        proto_key_of(dead, sizeof dead, b->conf->prefix, cp->name, PROTO_CK_DEAD) < 0)
        return -1;
    proto_resp call = {0};
    proto_resp_str(&call, "EVALSHA");
    proto_resp_str(&call, sha);
    proto_resp_str(&call, "2");
    proto_resp_str(&call, wm);
    proto_resp_str(&call, dead);
    proto_resp_str(&call, b->part);
    proto_resp_str(&call, cp->wm);
    proto_resp_str(&call, cp->last_id ? cp->last_id : cp->wm);
    proto_resp_str(&call, why);
    for (size_t j = 0; j < cp->nentries; j++) {
        const entry *e = &b->es[cp->entries[j]];
        if (!e->accepted)
            continue;
        proto_resp_str(&call, e->id);
        proto_resp_ll(&call, (long long)e->fields->elements);
        for (size_t f = 0; f < e->fields->elements; f++)
            proto_resp_arg(&call, e->fields->element[f]->str, e->fields->element[f]->len);
    }
    proto_resp_command(out, &call);
    int rc = call.oom || out->oom ? -1 : 0;
    proto_resp_free(&call);
    return rc;
}

/* Returns how many activity updates the last agg_batch_activity appended. */
long agg_batch_nactive(const agg_batch *b)
{
    return b->nactive;
}

/* Holds campaign c: no call is built for it and its entries are not to be
 * acknowledged (a poisoned key that cannot be dead-lettered). */
void agg_batch_hold(agg_batch *b, size_t c)
{
    b->cs[c].held = 1;
    b->cs[c].called = 0;
}

/* Returns the batch's partition. */
unsigned agg_batch_part(const agg_batch *b)
{
    return b->p;
}

/* Returns 1 if campaign c is held. */
int agg_batch_held(const agg_batch *b, size_t c)
{
    return b->cs[c].held;
}

/* Returns 1 if entry i (of the entries the batch was made of) belongs to a
 * held campaign and must stay pending. */
int agg_batch_entry_held(const agg_batch *b, size_t i)
{
    return b->es[i].camp >= 0 && b->cs[b->es[i].camp].held;
}

/* Returns 1 if campaign c has a call. */
int agg_batch_called(const agg_batch *b, size_t c)
{
    return b->cs[c].called;
}

/* Returns campaign c's name. */
const char *agg_batch_name(const agg_batch *b, size_t c)
{
    return b->cs[c].name;
}

/* Returns campaign c's applied hits. */
size_t agg_batch_applied(const agg_batch *b, size_t c)
{
    return b->cs[c].applied;
}

void agg_batch_expiry(agg_batch *b, agg_expiry *e)
{
    b->expiry = e;
}

void agg_batch_confirm(agg_batch *b, size_t c)
{
    agg_expiry_confirm(b->expiry, b->cs[c].name, b->cs[c].nlen, b->cs[c].hash, &b->cs[c].aud_exp);
}

/* Appends the last-activity updates. Returns how many, or -1 (no memory). */
long agg_batch_activity(agg_batch *b, const char *key, proto_resp *out)
{
    proto_resp q = {0};
    long n = 0;
    for (size_t c = 0; c < b->ncamps; c++) {
        if (!b->cs[c].last_ts)
            continue;
        proto_resp_reset(&q);
        proto_resp_str(&q, "ZADD");
        proto_resp_str(&q, key);
        proto_resp_str(&q, "GT");
        proto_resp_ll(&q, b->cs[c].last_ts);
        proto_resp_arg(&q, b->cs[c].name, b->cs[c].nlen);
        proto_resp_command(out, &q);
        n++;
    }
    proto_resp_free(&q);
    b->nactive = n;
    return out->oom ? -1 : n;
}
