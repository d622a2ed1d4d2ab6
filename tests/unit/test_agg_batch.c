/* test_agg_batch.c: unit tests of aggregator/batch.c — stream entries fed as RESP through hiredis' own reader, and the reads and apply calls the batch builds parsed back and checked argument by argument. */
#include <check.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "conf.h"
#include "hit.h"
#include "resp.h"

/* ---------------------------------------------------------------- fixtures */

#define SHA "0123456789abcdef0123456789abcdef01234567"
#define MAXLEN "100000"
/* 2026-11-23T17:50:35.426Z, the server time of README's XRANGE example */
#define TS 1795456235426LL
/* the apply's clock: a minute after TS; the nonce cutoff is NOW - 24 h */
#define NOW 1795456295426LL
#define CUTOFF "1795369895426"

#define HUMAN_UA "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"
#define CURL_UA "curl/7.88.1"
#define PROXY_UA "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"

/* Keys of campaign spring under the default prefix "ag:" */
#define SP "ag:c:{spring}"
#define SP_H17 SP ":h:2026112317"
#define SP_D23 SP ":d:20261123"
/* Retention with the defaults: the hour 2026-11-23T17 starts at
 * 1795453200000, + 2160 h = 1803229200000; the day starts at 1795392000000,
 * + 730 days = 1858464000000. */
#define X_H17 "X " SP_H17 " 1803229200000"
#define X_D23 "X " SP_D23 " 1858464000000"

/* Everything a test allocated: replies (freeReplyObject) and plain memory. */
static redisReply **g_replies;
static size_t g_nreplies, g_capreplies;
static void **g_mem;
static size_t g_nmem, g_capmem;

/* Keeps p until the test ends; returns p. */
static void *track(void *p)
{
    ck_assert_ptr_nonnull(p);
    if (g_nmem == g_capmem) {
        g_capmem = g_capmem ? 2 * g_capmem : 64;
        g_mem = realloc(g_mem, g_capmem * sizeof *g_mem);
        ck_assert_ptr_nonnull(g_mem);
    }
    g_mem[g_nmem++] = p;
    return p;
}

/* Returns zeroed memory freed when the test ends; never NULL. */
static void *tcalloc(size_t n, size_t size)
{
    return track(calloc(n ? n : 1, size));
}

/* Keeps reply r until the test ends; returns it. */
static redisReply *keep(redisReply *r)
{
    ck_assert_ptr_nonnull(r);
    if (g_nreplies == g_capreplies) {
        g_capreplies = g_capreplies ? 2 * g_capreplies : 64;
        g_replies = realloc(g_replies, g_capreplies * sizeof *g_replies);
        ck_assert_ptr_nonnull(g_replies);
    }
    g_replies[g_nreplies++] = r;
    return r;
}

/* Frees what the test allocated (checked fixture); never fails. */
static void teardown(void)
{
    for (size_t i = 0; i < g_nreplies; i++)
        freeReplyObject(g_replies[i]);
    for (size_t i = 0; i < g_nmem; i++)
        free(g_mem[i]);
    free(g_replies);
    free(g_mem);
    g_replies = NULL;
    g_mem = NULL;
    g_nreplies = g_capreplies = g_nmem = g_capmem = 0;
}

/* ---------------------------------------------------------------- RESP in */

/* A growable byte string. */
typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

/* Appends n bytes of s; fails the test when out of memory. */
static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n + 1)
            nc *= 2;
        b->p = realloc(b->p, nc);
        ck_assert_ptr_nonnull(b->p);
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

/* Appends printf output; fails the test on overflow of 512 bytes. */
static void sb_fmt(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_fmt(sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    ck_assert(n >= 0 && (size_t)n < sizeof tmp);
    sb_put(b, tmp, (size_t)n);
}

/* Appends a RESP bulk string of n bytes. */
static void sb_bulkn(sbuf *b, const char *s, size_t n)
{
    sb_fmt(b, "$%zu\r\n", n);
    sb_put(b, s, n);
    sb_put(b, "\r\n", 2);
}

/* Appends a RESP bulk string. */
static void sb_bulk(sbuf *b, const char *s)
{
    sb_bulkn(b, s, strlen(s));
}

/* Returns the one reply that hiredis' reader makes of len bytes of RESP;
 * fails the test unless they hold exactly one whole reply. */
static redisReply *parse1(const char *buf, size_t len)
{
    redisReader *rd = redisReaderCreate();
    ck_assert_ptr_nonnull(rd);
    ck_assert_int_eq(redisReaderFeed(rd, buf, len), REDIS_OK);
    void *r = NULL, *more = NULL;
    ck_assert_int_eq(redisReaderGetReply(rd, &r), REDIS_OK);
    ck_assert_msg(r != NULL, "incomplete RESP: %.*s", (int)len, buf);
    ck_assert_int_eq(redisReaderGetReply(rd, &more), REDIS_OK);
    ck_assert_ptr_null(more);
    ck_assert_uint_eq(rd->len, rd->pos); /* nothing left over */
    redisReaderFree(rd);
    return keep(r);
}

/* Returns the reply of a RESP literal. */
static const redisReply *raw(const char *resp)
{
    return parse1(resp, strlen(resp));
}

/* Returns the reply of a RESP literal that may hold NUL bytes. */
#define RAWN(lit) parse1(lit, sizeof lit - 1)

/* Returns a bulk-string reply (an HGET that found s). */
static const redisReply *bulk(const char *s)
{
    sbuf b = {0};
    sb_bulk(&b, s);
    redisReply *r = parse1(b.p, b.len);
    free(b.p);
    return r;
}

/* Returns an array reply of n scores (a ZMSCORE): each a decimal string,
 * or NULL for a nonce never seen (nil). */
static const redisReply *scores(size_t n, ...)
{
    sbuf b = {0};
    va_list ap;
    va_start(ap, n);
    sb_fmt(&b, "*%zu\r\n", n);
    for (size_t i = 0; i < n; i++) {
        const char *s = va_arg(ap, const char *);
        if (s)
            sb_bulk(&b, s);
        else
            sb_put(&b, "$-1\r\n", 5);
    }
    va_end(ap);
    redisReply *r = parse1(b.p, b.len);
    free(b.p);
    return r;
}

/* One hit as the collector writes it to the stream (proto_hit_fields):
 * NULL (or ts 0) fields are omitted; agent defaults to human, via to
 * pixel; hid is numbered per test run. */
typedef struct {
    const char *id;                 /* stream entry id */
    long long ts;
    const char *campaign, *event, *subject, *ref, *channel, *depth, *value, *goal, *nonce, *ip,
        *agent, *ua, *via;
} hitspec;

/* Returns the stream entry [id, [hid, …, via, …]] of h, built in RESP
 * and read back by hiredis, fields in the collector's order. */
static const redisReply *ent(const hitspec *h)
{
    static unsigned seq;
    char hid[32], ts[24];
    const char *f[2 * PROTO_HIT_FIELDS];
    int n = 0;
    snprintf(hid, sizeof hid, "17593765.0-%u", ++seq);
    snprintf(ts, sizeof ts, "%lld", h->ts);
#define F(name, v)              \
    do {                        \
        if (v) {                \
            f[n++] = name;      \
            f[n++] = (v);       \
        }                       \
    } while (0)
    f[n++] = "hid";
    f[n++] = hid;
    if (h->ts) {
        f[n++] = "ts";
        f[n++] = ts;
    }
    F("campaign", h->campaign);
    F("event", h->event);
    F("subject", h->subject);
    F("ref", h->ref);
    F("channel", h->channel);
    F("depth", h->depth);
    F("value", h->value);
    F("goal", h->goal);
    F("nonce", h->nonce);
    F("ip", h->ip);
    f[n++] = "agent";
    f[n++] = h->agent ? h->agent : "human";
    F("ua", h->ua);
    f[n++] = "via";
    f[n++] = h->via ? h->via : "pixel";
#undef F
    sbuf b = {0};
    sb_fmt(&b, "*2\r\n");
    sb_bulk(&b, h->id);
    sb_fmt(&b, "*%d\r\n", n);
    for (int i = 0; i < n; i++)
        sb_bulk(&b, f[i]);
    redisReply *r = parse1(b.p, b.len);
    free(b.p);
    return r;
}
#define HIT(...) ent(&(const hitspec){__VA_ARGS__})
#define NENTS(a) (sizeof(a) / sizeof(a)[0])

/* Returns the default configuration (prefix "ag:", 2160 h, 730 days, SLA 900 s). */
static proto_conf defconf(void)
{
    proto_conf c;
    proto_conf_defaults(&c);
    return c;
}

/* ---------------------------------------------------------------- RESP out */

/* Returns the commands in out (RESP a proto_resp accumulated), read back
 * by hiredis' reader; *n gets their count. Fails the test unless out is
 * whole commands of bulk strings and nothing else. */
static const redisReply **commands(const proto_resp *out, size_t *n)
{
    ck_assert_int_eq(out->oom, 0);
    size_t cap = 16;
    const redisReply **v = malloc(cap * sizeof *v);
    ck_assert_ptr_nonnull(v);
    *n = 0;
    redisReader *rd = redisReaderCreate();
    ck_assert_ptr_nonnull(rd);
    if (out->len)
        ck_assert_int_eq(redisReaderFeed(rd, out->data, out->len), REDIS_OK);
    for (;;) {
        void *r = NULL;
        ck_assert_int_eq(redisReaderGetReply(rd, &r), REDIS_OK);
        if (!r)
            break;
        redisReply *c = keep(r);
        ck_assert_int_eq(c->type, REDIS_REPLY_ARRAY);
        ck_assert_uint_ge(c->elements, 1);
        for (size_t i = 0; i < c->elements; i++)
            ck_assert_int_eq(c->element[i]->type, REDIS_REPLY_STRING);
        if (*n == cap) {
            cap *= 2;
            v = realloc(v, cap * sizeof *v);
            ck_assert_ptr_nonnull(v);
        }
        v[(*n)++] = c;
    }
    ck_assert_uint_eq(rd->len, rd->pos); /* no partial command at the end */
    redisReaderFree(rd);
    return track(v);
}

/* Checks command c is exactly the NULL-terminated argv; fails on any
 * difference of count, byte or length. */
static void expect_cmd(const redisReply *c, const char *const argv[])
{
    size_t n = 0;
    while (argv[n])
        n++;
    ck_assert_uint_eq(c->elements, n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(c->element[i]->str, argv[i]);
        ck_assert_uint_eq(c->element[i]->len, strlen(argv[i]));
    }
}
#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Returns s parsed as a whole decimal integer; fails the test otherwise. */
static long long num(const char *s)
{
    char *end;
    ck_assert_msg(*s && (*s == '-' || (*s >= '0' && *s <= '9')), "not a number: \"%s\"", s);
    long long v = strtoll(s, &end, 10);
    ck_assert_msg(*end == 0, "not a number: \"%s\"", s);
    return v;
}

/* An EVALSHA of the apply script, decoded along scripts.h's grammar. */
typedef struct {
    const redisReply *r;
    size_t nkeys;
    size_t argv1;                   /* r->element index of ARGV[1] */
    const char **ops;               /* each op as text, KEYS indexes as names */
    size_t nops;
} call;

/* Returns KEYS[k] of v for the op argument s; fails unless 1 <= k <= nkeys. */
static const char *key_of(const call *v, const char *s)
{
    long long k = num(s);
    ck_assert_msg(k >= 1 && (size_t)k <= v->nkeys, "KEYS index %s of %zu", s, v->nkeys);
    return v->r->element[2 + (size_t)k]->str;
}

/* Returns element i of v's command; fails past the end (an op cut short). */
static const char *at(const call *v, size_t i)
{
    ck_assert_msg(i < v->r->elements, "op cut short at argument %zu of %zu", i, v->r->elements);
    return v->r->element[i]->str;
}

/* Decodes an apply EVALSHA: checks EVALSHA SHA numkeys, that the keys are
 * distinct and that the ops after ARGV[7] follow the grammar of scripts.h
 * exactly to the last argument; writes each op as text: "H key field n",
 * "Z key member n", "X key at", "P key e1 e2 …", "NZ t1 n1 t2 n2 …",
 * "T cutoff", "lo field v", "hi field v", "S subject ts", "F subject ts". */
static call decode(const redisReply *r)
{
    call v = {.r = r};
    ck_assert_uint_ge(r->elements, 3);
    ck_assert_str_eq(r->element[0]->str, "EVALSHA");
    ck_assert_str_eq(r->element[1]->str, SHA);
    long long nk = num(r->element[2]->str);
    ck_assert(nk >= 10);
    v.nkeys = (size_t)nk;
    v.argv1 = 3 + v.nkeys;
    ck_assert_uint_ge(r->elements, v.argv1 + 7);
    for (size_t i = 0; i < v.nkeys; i++)
        for (size_t j = i + 1; j < v.nkeys; j++)
            ck_assert_str_ne(r->element[3 + i]->str, r->element[3 + j]->str);
    v.ops = tcalloc(r->elements, sizeof *v.ops);
    for (size_t i = v.argv1 + 7; i < r->elements;) {
        const char *op = at(&v, i);
        sbuf s = {0};
        sb_put(&s, op, strlen(op));
        if (!strcmp(op, "H") || !strcmp(op, "Z")) {
            sb_fmt(&s, " %s %s %lld", key_of(&v, at(&v, i + 1)), at(&v, i + 2), num(at(&v, i + 3)));
            i += 4;
        } else if (!strcmp(op, "X")) {
            sb_fmt(&s, " %s %lld", key_of(&v, at(&v, i + 1)), num(at(&v, i + 2)));
            i += 3;
        } else if (!strcmp(op, "P")) {
            long long c = num(at(&v, i + 2));
            ck_assert(c >= 1);
            sb_fmt(&s, " %s", key_of(&v, at(&v, i + 1)));
            for (long long j = 0; j < c; j++) {
                sb_put(&s, " ", 1);
                sb_put(&s, at(&v, i + 3 + (size_t)j), strlen(at(&v, i + 3 + (size_t)j)));
            }
            i += 3 + (size_t)c;
        } else if (!strcmp(op, "NZ")) {
            long long c = num(at(&v, i + 1));
            ck_assert(c >= 1);
            for (long long j = 0; j < c; j++)
                sb_fmt(&s, " %lld %s", num(at(&v, i + 2 + 2 * (size_t)j)), at(&v, i + 3 + 2 * (size_t)j));
            i += 2 + 2 * (size_t)c;
        } else if (!strcmp(op, "T")) {
            sb_fmt(&s, " %lld", num(at(&v, i + 1)));
            i += 2;
        } else if (!strcmp(op, "lo") || !strcmp(op, "hi") || !strcmp(op, "S") || !strcmp(op, "F")) {
            sb_fmt(&s, " %s %lld", at(&v, i + 1), num(at(&v, i + 2)));
            i += 3;
        } else {
            ck_abort_msg("unknown op \"%s\" at argument %zu", op, i);
        }
        v.ops[v.nops++] = track(s.p);
    }
    return v;
}

/* Checks ARGV[1..7] of v: partition, expected and new watermark, campaign,
 * now, default SLA, alerts MAXLEN; fails on any difference. */
static void expect_argv(const call *v, const char *part, const char *wm, const char *last,
                        const char *campaign, long long now, const char *sla)
{
    char nowbuf[24];
    snprintf(nowbuf, sizeof nowbuf, "%lld", now);
    const char *want[7] = {part, wm, last, campaign, nowbuf, sla, MAXLEN};
    for (size_t i = 0; i < 7; i++) {
        ck_assert_str_eq(v->r->element[v->argv1 + i]->str, want[i]);
        ck_assert_uint_eq(v->r->element[v->argv1 + i]->len, strlen(want[i]));
    }
}

/* Checks v's KEYS: the ten fixed ones of ops.h in place for
 * campaign key base ck (e.g. "ag:c:{spring}") and alerts stream alerts,
 * then exactly the NULL-terminated extra (bucket and HLL keys, in any
 * order); fails on any difference. */
static void expect_keys(const call *v, const char *ck, const char *alerts, const char *const extra[])
{
    static const char *const sfx[] = {"", ":wm", ":nonce", ":ref", ":ref:reach",
                                      ":pending", ":fl", ":alerted", NULL, ":cfg"};
    for (size_t i = 0; i < 10; i++) {
        char want[300];
        if (sfx[i])
            snprintf(want, sizeof want, "%s%s", ck, sfx[i]);
        else
            snprintf(want, sizeof want, "%s", alerts);
        ck_assert_str_eq(v->r->element[3 + i]->str, want);
    }
    size_t n = 0;
    while (extra[n])
        n++;
    ck_assert_uint_eq(v->nkeys, 10 + n);
    for (size_t j = 0; j < n; j++) {
        int found = 0;
        for (size_t i = 10; i < v->nkeys; i++)
            found += !strcmp(v->r->element[3 + i]->str, extra[j]);
        ck_assert_msg(found == 1, "KEYS lacks %s", extra[j]);
    }
}

/* Returns the order group of op text s: increments 0, expiries 1, PFADDs
 * 2, lo/hi 3, nonces 4, trim 5, signups and follow-ups 6. */
static int group(const char *s)
{
    static const char *const g[] = {"H ", "Z ", "X ", "P ", "lo ", "hi ", "NZ ", "T ", "S ", "F "};
    static const int gi[] = {0, 0, 1, 2, 3, 3, 4, 5, 6, 6};
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
        if (!strncmp(s, g[i], strlen(g[i])))
            return gi[i];
    ck_abort_msg("no group for op \"%s\"", s);
    return -1;
}

/* An op text and where it stands. */
typedef struct {
    int g;
    size_t i;
    const char *s;
} opref;

/* Orders ops: by group; increments, expiries and PFADDs (whose order the
 * script does not depend on within their group) by text; the rest as
 * emitted. */
static int opref_cmp(const void *a, const void *b)
{
    const opref *x = a, *y = b;
    if (x->g != y->g)
        return x->g < y->g ? -1 : 1;
    if (x->g <= 2)
        return strcmp(x->s, y->s);
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Returns 1 if s starts with one of the NULL-terminated prefixes (NULL: all). */
static int selected(const char *s, const char *const only[])
{
    if (!only)
        return 1;
    for (size_t i = 0; only[i]; i++)
        if (!strncmp(s, only[i], strlen(only[i])))
            return 1;
    return 0;
}

/* Checks the ops of v: the groups come in batch.c's order (increments,
 * then the expiries of buckets they created, PFADDs, lo/hi, NZ, T, then
 * S/F in stream order); and those starting with one of only (NULL: every
 * op) are exactly want — increments, expiries and PFADDs in any order,
 * the others in order. Fails on any difference. */
static void expect_ops(const call *v, const char *const only[], const char *const want[])
{
    for (size_t i = 1; i < v->nops; i++)
        ck_assert_msg(group(v->ops[i - 1]) <= group(v->ops[i]), "op \"%s\" after \"%s\"", v->ops[i],
                      v->ops[i - 1]);
    size_t nw = 0, ng = 0;
    while (want[nw])
        nw++;
    opref *got = tcalloc(v->nops, sizeof *got), *exp = tcalloc(nw, sizeof *exp);
    for (size_t i = 0; i < v->nops; i++)
        if (selected(v->ops[i], only))
            got[ng++] = (opref){group(v->ops[i]), i, v->ops[i]};
    for (size_t i = 0; i < nw; i++) {
        ck_assert_msg(selected(want[i], only), "expected op \"%s\" outside the selection", want[i]);
        exp[i] = (opref){group(want[i]), i, want[i]};
    }
    qsort(got, ng, sizeof *got, opref_cmp);
    qsort(exp, nw, sizeof *exp, opref_cmp);
    for (size_t i = 0; i < ng && i < nw; i++)
        ck_assert_str_eq(got[i].s, exp[i].s);
    if (ng > nw)
        ck_abort_msg("unexpected op \"%s\"", got[nw].s);
    if (nw > ng)
        ck_abort_msg("missing op \"%s\"", exp[ng].s);
}
#define ALL NULL
#define ONLY(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---------------------------------------------------------------- driving */

/* Appends the reads to a fresh buffer, checks there are two per campaign,
 * and filters every campaign c as apply.c does: with the watermark wm[c]
 * (wm or wm[c] NULL: none, a nil reply) and the ZMSCORE reply ns[c] (ns
 * or ns[c] NULL: nonces never seen, a nil per ZMSCORE member). */
static void filter_all(agg_batch *b, const char *const wm[], const redisReply *const ns[],
                       agg_apply_result *res)
{
    proto_resp out = {0};
    size_t n;
    ck_assert_int_eq(agg_batch_reads(b, &out), 0);
    const redisReply **rd = commands(&out, &n);
    proto_resp_free(&out);
    ck_assert_uint_eq(n, 2 * agg_batch_ncamps(b));
    for (size_t c = 0; c < agg_batch_ncamps(b); c++) {
        const redisReply *w = wm && wm[c] ? bulk(wm[c]) : raw("$-1\r\n");
        const redisReply *s = ns && ns[c] ? ns[c] : NULL;
        if (!s) {
            sbuf z = {0};
            sb_fmt(&z, "*%zu\r\n", rd[2 * c + 1]->elements - 2);
            for (size_t i = 2; i < rd[2 * c + 1]->elements; i++)
                sb_put(&z, "$-1\r\n", 5);
            s = parse1(z.p, z.len);
            free(z.p);
        }
        ck_assert_int_eq(agg_batch_filter(b, c, w, s, res), 0);
    }
}

/* Returns the apply calls of b (after filter_all) decoded, *n their count;
 * checks agg_batch_calls counted what it appended. */
static call *calls(agg_batch *b, long long now, size_t *n)
{
    proto_resp out = {0};
    long k = agg_batch_calls(b, SHA, MAXLEN, now, &out);
    const redisReply **c = commands(&out, n);
    proto_resp_free(&out);
    ck_assert_int_eq(k, (long)*n);
    call *v = tcalloc(*n, sizeof *v);
    for (size_t i = 0; i < *n; i++)
        v[i] = decode(c[i]);
    return v;
}

/* Returns a batch of the entries; fails the test if agg_batch_new fails. */
static agg_batch *batch_of(const proto_conf *conf, unsigned p, const redisReply *const *ents, size_t n,
                           agg_apply_result *res)
{
    agg_batch *b = agg_batch_new(conf, p, ents, n, res);
    ck_assert_ptr_nonnull(b);
    return b;
}

/* ---------------------------------------------------------------- tests */

/* Checks agg_batch_reads appends, per campaign in stream order, HGET of
 * the watermark field of the batch's partition and ZMSCORE of its nonces
 * (a placeholder member when there are none, so there is still one reply);
 * fails if a read is missing, reordered, mis-keyed or carries a wrong
 * nonce. */
START_TEST(reads_per_campaign)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "open",
            .subject = "contact-1", .channel = "email", .nonce = "n-1", .ip = "127.0.0.0",
            .ua = HUMAN_UA),
        HIT(.id = "1795456235427-1", .ts = TS, .campaign = "autumn", .event = "view", .ip = "127.0.0.0",
            .ua = HUMAN_UA),
        raw("*2\r\n$15\r\n1795456235427-2\r\n$-1\r\n"), /* a deleted entry: malformed */
        HIT(.id = "1795456235427-3", .ts = TS + 1, .campaign = "spring", .event = "click",
            .subject = "contact-1", .nonce = "n-2", .via = "click"),
        HIT(.id = "1795456235427-4", .ts = TS + 2, .campaign = "winter", .event = "open", .nonce = "n-1"),
    };
    agg_batch *b = batch_of(&conf, 3, ents, NENTS(ents), &res);
    ck_assert_uint_eq(res.malformed, 1);
    ck_assert_uint_eq(agg_batch_ncamps(b), 3);
    ck_assert_str_eq(agg_batch_name(b, 0), "spring");
    ck_assert_str_eq(agg_batch_name(b, 1), "autumn");
    ck_assert_str_eq(agg_batch_name(b, 2), "winter");
    /* appends: what the buffer already holds stays first */
    proto_resp out = {0}, ping = {0};
    proto_resp_str(&ping, "PING");
    proto_resp_command(&out, &ping);
    ck_assert_int_eq(agg_batch_reads(b, &out), 0);
    size_t n;
    const redisReply **c = commands(&out, &n);
    ck_assert_uint_eq(n, 7);
    expect_cmd(c[0], ARGS("PING"));
    expect_cmd(c[1], ARGS("HGET", "ag:c:{spring}:wm", "3"));
    expect_cmd(c[2], ARGS("ZMSCORE", "ag:c:{spring}:nonce", "n-1", "n-2"));
    expect_cmd(c[3], ARGS("HGET", "ag:c:{autumn}:wm", "3"));
    expect_cmd(c[4], ARGS("ZMSCORE", "ag:c:{autumn}:nonce", "\x01"));
    expect_cmd(c[5], ARGS("HGET", "ag:c:{winter}:wm", "3"));
    expect_cmd(c[6], ARGS("ZMSCORE", "ag:c:{winter}:nonce", "n-1"));
    proto_resp_free(&out);
    proto_resp_free(&ping);
    agg_batch_free(b);
}
END_TEST

/* Checks 600 campaigns (past the first sizes of batch.c's tables) keep
 * stream order, a campaign seen again keeps its first place, and the reads
 * follow that order; fails on a lost, doubled or reordered campaign. */
START_TEST(campaigns_in_stream_order)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    enum { N = 600 };
    const redisReply **ents = tcalloc(N + 2, sizeof *ents);
    char id[32], name[16];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "1795456235427-%d", i);
        snprintf(name, sizeof name, "c%d", (i * 7) % N); /* c0 c7 c14 … every name once */
        ents[i] = HIT(.id = id, .ts = TS, .campaign = name, .event = "view");
    }
    ents[N] = HIT(.id = "1795456235428-0", .ts = TS, .campaign = "c7", .event = "view");
    ents[N + 1] = HIT(.id = "1795456235428-1", .ts = TS, .campaign = "c0", .event = "view");
    agg_batch *b = batch_of(&conf, 0, ents, N + 2, &res);
    ck_assert_uint_eq(res.malformed, 0);
    ck_assert_uint_eq(agg_batch_ncamps(b), N);
    proto_resp out = {0};
    ck_assert_int_eq(agg_batch_reads(b, &out), 0);
    size_t n;
    const redisReply **c = commands(&out, &n);
    ck_assert_uint_eq(n, 2 * N);
    for (int i = 0; i < N; i++) {
        char key[64];
        snprintf(name, sizeof name, "c%d", (i * 7) % N);
        ck_assert_str_eq(agg_batch_name(b, (size_t)i), name);
        snprintf(key, sizeof key, "ag:c:{%s}:wm", name);
        expect_cmd(c[2 * i], ARGS("HGET", key, "0"));
    }
    proto_resp_free(&out);
    /* c0 and c7 got two entries each, the others one */
    filter_all(b, NULL, NULL, &res);
    ck_assert_uint_eq(agg_batch_applied(b, 0), 2);
    ck_assert_uint_eq(agg_batch_applied(b, 1), 2);
    ck_assert_uint_eq(agg_batch_applied(b, 2), 1);
    agg_batch_free(b);
}
END_TEST

/* Checks every entry that is not [id, [field, value, …]] with a valid
 * campaign is counted malformed by agg_batch_new and kept out of the
 * campaigns, and that 64 pairs are still taken; fails if a bad shape is
 * grouped or a good one is not. */
START_TEST(malformed_shapes)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    sbuf many = {0}, max = {0};
    /* 65 pairs (over 64) and exactly 64: campaign, event, ts, then
     * unknown fields (utm_*-like, ignored) */
    static const char *const head[] = {"campaign", "spring", "event", "open", "ts", "1795456235426"};
    sb_fmt(&many, "*2\r\n$3\r\n5-0\r\n*130\r\n");
    sb_fmt(&max, "*2\r\n$3\r\n6-0\r\n*128\r\n");
    for (size_t i = 0; i < 6; i++) {
        sb_bulk(&many, head[i]);
        sb_bulk(&max, head[i]);
    }
    for (int i = 0; i < 62; i++)
        sb_fmt(&many, "$5\r\nutm%02d\r\n$1\r\nx\r\n", i);
    for (int i = 0; i < 61; i++)
        sb_fmt(&max, "$5\r\nutm%02d\r\n$1\r\nx\r\n", i);
    const redisReply *ents[] = {
        raw("+OK\r\n"),                                           /* a status */
        raw("$15\r\n1795456235427-0\r\n"),                        /* a bare id */
        raw("*1\r\n$3\r\n1-0\r\n"),                               /* [id] */
        raw("*3\r\n$3\r\n1-0\r\n*2\r\n$8\r\ncampaign\r\n$6\r\nspring\r\n$1\r\nx\r\n"), /* 3 items */
        raw("*2\r\n:1\r\n*2\r\n$8\r\ncampaign\r\n$6\r\nspring\r\n"), /* integer id */
        raw("*2\r\n$3\r\n1-0\r\n$-1\r\n"),                        /* deleted: nil fields */
        raw("*2\r\n$3\r\n1-0\r\n*3\r\n$8\r\ncampaign\r\n$6\r\nspring\r\n$5\r\nevent\r\n"), /* odd */
        raw("*2\r\n$3\r\n1-0\r\n*2\r\n$8\r\ncampaign\r\n:7\r\n"), /* integer value */
        raw("*2\r\n$3\r\n1-0\r\n*4\r\n$5\r\nevent\r\n$4\r\nopen\r\n$2\r\nts\r\n$1\r\n1\r\n"), /* no campaign */
        raw("*2\r\n$3\r\n1-0\r\n*2\r\n$8\r\ncampaign\r\n$13\r\nspring appeal\r\n"), /* a space */
        RAWN("*2\r\n$3\r\n1-0\r\n*2\r\n$8\r\ncampaign\r\n$6\r\nspr\0ng\r\n"), /* a NUL */
        raw("*2\r\n$3\r\n1-0\r\n*2\r\n$8\r\ncampaign\r\n$0\r\n\r\n"), /* empty */
        HIT(.id = "2-0", .ts = TS, .event = "open",               /* 65 characters */
            .campaign = "a123456789b123456789c123456789d123456789e123456789f123456789abcde"),
        parse1(many.p, many.len),
        parse1(max.p, max.len),
        HIT(.id = "7-0", .ts = TS, .event = "open", /* 64 characters: valid */
            .campaign = "a123456789b123456789c123456789d123456789e123456789f123456789abcd"),
    };
    free(many.p);
    free(max.p);
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    ck_assert_uint_eq(res.malformed, 14);
    ck_assert_uint_eq(res.applied + res.skipped + res.duplicates + res.conflicts, 0);
    ck_assert_uint_eq(agg_batch_ncamps(b), 2);
    ck_assert_str_eq(agg_batch_name(b, 0), "spring");
    ck_assert_str_eq(agg_batch_name(b, 1),
                     "a123456789b123456789c123456789d123456789e123456789f123456789abcd");
    filter_all(b, NULL, NULL, &res);
    ck_assert_uint_eq(res.malformed, 14);
    ck_assert_uint_eq(agg_batch_applied(b, 0), 1); /* the 64-pair entry */
    ck_assert_uint_eq(agg_batch_applied(b, 1), 1);
    agg_batch_free(b);
}
END_TEST

/* Checks entries whose fields do not decode are counted malformed by
 * agg_batch_filter (only above the watermark: below, skipped), are not
 * applied, and still move the watermark; fails if one is counted, applied
 * or left unacknowledged. */
START_TEST(malformed_fields)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        /* at the watermark: skipped before it is decoded */
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "Open"),
        HIT(.id = "1795456235427-1", .ts = TS, .campaign = "spring", .event = "Open"), /* bad event */
        HIT(.id = "1795456235427-2", .ts = TS, .campaign = "spring", .event = "open",
            .agent = "robot"),                                                         /* bad agent */
        HIT(.id = "1795456235427-3", .ts = TS, .campaign = "spring", .event = "scroll",
            .depth = "101"),                                                           /* bad depth */
        HIT(.id = "1795456235427-4", .ts = TS, .campaign = "spring", .event = "open",
            .via = "smoke"),                                                           /* bad via */
        HIT(.id = "1795456235427-5", .ts = TS, .campaign = "spring", .event = "open",
            .subject = "contact-1"),
        /* autumn: nothing but a bad hit, its nonce must not be recorded */
        HIT(.id = "1795456235427-6", .ts = TS, .campaign = "autumn", .event = "donate",
            .value = "-5", .nonce = "n-1"),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    ck_assert_uint_eq(res.malformed, 0);
    filter_all(b, ARGS("1795456235427-0", NULL), NULL, &res);
    ck_assert_uint_eq(res.skipped, 1);
    ck_assert_uint_eq(res.malformed, 5);
    ck_assert_uint_eq(res.duplicates, 0);
    ck_assert_uint_eq(agg_batch_applied(b, 0), 1);
    ck_assert_uint_eq(agg_batch_applied(b, 1), 0);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 2);
    expect_argv(&v[0], "0", "1795456235427-0", "1795456235427-5", "spring", NOW, "900");
    expect_ops(&v[0], ALL,
               ARGS("H " SP " open 1", "H " SP_H17 " open 1", "H " SP_D23 " open 1", X_H17, X_D23,
                    "P " SP ":u:open s:contact-1", "lo first_ts 1795456235426",
                    "hi last_ts 1795456235426", "T " CUTOFF));
    /* autumn's call only moves the watermark over its bad entry */
    expect_argv(&v[1], "0", "", "1795456235427-6", "autumn", NOW, "900");
    expect_keys(&v[1], "ag:c:{autumn}", "ag:alerts", ARGS(NULL));
    expect_ops(&v[1], ALL, ARGS("T " CUTOFF));
    agg_batch_free(b);
}
END_TEST

/* Checks the totals, hourly and daily counts of human and machine (bot,
 * mailproxy) hits, value summed from human hits only, the buckets'
 * expiries and KEYS, the whole op stream of one realistic campaign; fails
 * on any counter the encoder adds, drops or miscounts. */
START_TEST(counts_human_and_machine)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "open",
            .subject = "contact-1", .channel = "email", .ip = "127.0.0.0", .ua = HUMAN_UA),
        /* README's curl open: a bot */
        HIT(.id = "1795456235427-1", .ts = TS + 1, .campaign = "spring", .event = "open",
            .subject = "contact-1", .channel = "email", .ip = "127.0.0.0", .agent = "bot", .ua = CURL_UA),
        HIT(.id = "1795456235427-2", .ts = TS + 2, .campaign = "spring", .event = "open",
            .subject = "contact-2", .channel = "email", .ip = "66.249.84.0", .agent = "mailproxy",
            .ua = PROXY_UA),
        HIT(.id = "1795456235427-3", .ts = TS + 3, .campaign = "spring", .event = "view",
            .subject = "contact-2", .ip = "198.51.100.0", .ua = HUMAN_UA, .via = "beacon"),
        HIT(.id = "1795456235427-4", .ts = TS + 4, .campaign = "spring", .event = "click",
            .subject = "contact-1", .ip = "127.0.0.0", .ua = HUMAN_UA, .via = "click"),
        HIT(.id = "1795456235427-5", .ts = TS + 5, .campaign = "spring", .event = "donate",
            .subject = "contact-2", .value = "2500", .ip = "198.51.100.0", .ua = HUMAN_UA, .via = "beacon"),
        HIT(.id = "1795456235427-6", .ts = TS + 6, .campaign = "spring", .event = "donate",
            .value = "9900", .ip = "127.0.0.0", .agent = "bot", .ua = CURL_UA),
        HIT(.id = "1795456235427-7", .ts = TS + 7, .campaign = "spring", .event = "petition_signed",
            .subject = "contact-3", .value = "500", .via = "api"),
        HIT(.id = "1795456235427-8", .ts = TS + 8, .campaign = "spring", .event = "petition_signed",
            .agent = "bot", .ua = CURL_UA),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    filter_all(b, NULL, NULL, &res);
    ck_assert_uint_eq(agg_batch_applied(b, 0), 9);
    ck_assert_uint_eq(res.skipped + res.duplicates + res.malformed, 0);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(agg_batch_called(b, 0), 1);
    expect_argv(&v[0], "0", "", "1795456235427-8", "spring", NOW, "900");
    expect_keys(&v[0], SP, "ag:alerts",
                ARGS(SP_H17, SP_D23, SP ":u:open", SP ":u:view", SP ":u:click", SP ":u:donate",
                     SP ":u:petition_signed"));
    expect_ops(&v[0], ALL,
               ARGS(/* totals: human events, machine_<event>, value = 2500 + 500 (not the bot's 9900) */
                    "H " SP " open 1", "H " SP " machine_open 2", "H " SP " view 1", "H " SP " click 1",
                    "H " SP " donate 1", "H " SP " machine_donate 1", "H " SP " petition_signed 1",
                    "H " SP " machine_petition_signed 1", "H " SP " value 3000",
                    /* the hour and the day: the same event fields, no value */
                    "H " SP_H17 " open 1", "H " SP_H17 " machine_open 2", "H " SP_H17 " view 1",
                    "H " SP_H17 " click 1", "H " SP_H17 " donate 1", "H " SP_H17 " machine_donate 1",
                    "H " SP_H17 " petition_signed 1", "H " SP_H17 " machine_petition_signed 1",
                    "H " SP_D23 " open 1", "H " SP_D23 " machine_open 2", "H " SP_D23 " view 1",
                    "H " SP_D23 " click 1", "H " SP_D23 " donate 1", "H " SP_D23 " machine_donate 1",
                    "H " SP_D23 " petition_signed 1", "H " SP_D23 " machine_petition_signed 1",
                    X_H17, X_D23,
                    /* uniques: human hits only, per event */
                    "P " SP ":u:open s:contact-1", "P " SP ":u:view s:contact-2",
                    "P " SP ":u:click s:contact-1", "P " SP ":u:donate s:contact-2",
                    "P " SP ":u:petition_signed s:contact-3",
                    /* first_ts/last_ts span machine hits too */
                    "lo first_ts 1795456235426", "hi last_ts 1795456235434", "T " CUTOFF));
    agg_batch_free(b);
}
END_TEST

/* Checks unique elements: "s:<subject>", else "a:<ip>|<ua>", nothing for
 * an anonymous hit (it still counts in the totals) or a machine hit, one
 * HLL per event, in stream order; fails on a wrong, missing or extra
 * element. */
START_TEST(uniques_and_anonymous)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "open",
            .subject = "contact-1", .ip = "127.0.0.0", .ua = HUMAN_UA),
        HIT(.id = "1795456235427-1", .ts = TS, .campaign = "spring", .event = "open", .ip = "127.0.0.0",
            .ua = HUMAN_UA),
        HIT(.id = "1795456235427-2", .ts = TS, .campaign = "spring", .event = "open", .ip = "198.51.100.0"),
        HIT(.id = "1795456235427-3", .ts = TS, .campaign = "spring", .event = "open", .ua = HUMAN_UA),
        /* Sec-GPC: neither subject nor ip nor ua */
        HIT(.id = "1795456235427-4", .ts = TS, .campaign = "spring", .event = "open"),
        HIT(.id = "1795456235427-5", .ts = TS, .campaign = "spring", .event = "open",
            .subject = "contact-1", .ip = "127.0.0.0", .ua = HUMAN_UA),
        HIT(.id = "1795456235427-6", .ts = TS, .campaign = "spring", .event = "open",
            .subject = "contact-9", .ip = "66.249.84.0", .agent = "mailproxy", .ua = PROXY_UA),
        HIT(.id = "1795456235427-7", .ts = TS, .campaign = "spring", .event = "view",
            .subject = "contact-1", .via = "beacon"),
        HIT(.id = "1795456235427-8", .ts = TS, .campaign = "spring", .event = "view"),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    filter_all(b, NULL, NULL, &res);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 1);
    expect_keys(&v[0], SP, "ag:alerts", ARGS(SP_H17, SP_D23, SP ":u:open", SP ":u:view"));
    expect_ops(&v[0], ONLY("P "),
               ARGS("P " SP ":u:open s:contact-1 a:127.0.0.0|" HUMAN_UA " a:198.51.100.0| a:|" HUMAN_UA
                    " s:contact-1",
                    "P " SP ":u:view s:contact-1"));
    /* all six human opens count, the anonymous one too */
    expect_ops(&v[0], ONLY("H " SP " "),
               ARGS("H " SP " open 6", "H " SP " machine_open 1", "H " SP " view 2",
                    "H " SP " anonymous 2")); /* the open and the view with no identity */
    agg_batch_free(b);
}
END_TEST

/* Checks scroll buckets: a human scroll of depth d counts in 25, 50, 75,
 * 100 up to d; machine scrolls count none; fails on an off-by-one bucket
 * or a machine hit counted. */
START_TEST(scroll_buckets)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "scroll", .depth = "0",
            .subject = "visitor-7", .via = "beacon"),
        HIT(.id = "1795456235427-1", .ts = TS, .campaign = "spring", .event = "scroll", .depth = "24",
            .subject = "visitor-7", .via = "beacon"),
        HIT(.id = "1795456235427-2", .ts = TS, .campaign = "spring", .event = "scroll", .depth = "25",
            .subject = "visitor-7", .via = "beacon"),
        HIT(.id = "1795456235427-3", .ts = TS, .campaign = "spring", .event = "scroll", .depth = "74",
            .subject = "visitor-7", .via = "beacon"),
        HIT(.id = "1795456235427-4", .ts = TS, .campaign = "spring", .event = "scroll", .depth = "100",
            .subject = "visitor-7", .via = "beacon"),
        HIT(.id = "1795456235427-5", .ts = TS, .campaign = "spring", .event = "scroll", .depth = "100",
            .agent = "bot", .ua = CURL_UA, .via = "beacon"),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    filter_all(b, NULL, NULL, &res);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 1);
    /* one reader, counted once per bucket up to the deepest hit (100);
     * depth 0 and 24 reach none; the machine scroll none */
    expect_ops(&v[0], ONLY("P " SP ":scroll:"),
               ARGS("P " SP ":scroll:25 s:visitor-7 s:visitor-7 s:visitor-7",
                    "P " SP ":scroll:50 s:visitor-7 s:visitor-7", "P " SP ":scroll:75 s:visitor-7",
                    "P " SP ":scroll:100 s:visitor-7"));
    expect_ops(&v[0], ONLY("H " SP " "), ARGS("H " SP " scroll 5", "H " SP " machine_scroll 1"));
    agg_batch_free(b);
}
END_TEST

/* Checks the advocate leaderboards: ref on open/view/click counts in
 * ref:reach, on signup/donate/convert/custom in ref, on scroll or followup
 * in neither, and never from a machine hit; fails on a ref misfiled,
 * miscounted or counted from a bot. */
START_TEST(ref_leaderboards)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "open",
            .subject = "contact-2", .ref = "ann"),
        HIT(.id = "1795456235427-1", .ts = TS, .campaign = "spring", .event = "view",
            .subject = "contact-3", .ref = "ann"),
        HIT(.id = "1795456235427-2", .ts = TS, .campaign = "spring", .event = "click",
            .subject = "contact-4", .ref = "ann", .via = "click"),
        HIT(.id = "1795456235427-3", .ts = TS, .campaign = "spring", .event = "signup",
            .subject = "contact-2", .ref = "ann"),
        HIT(.id = "1795456235427-4", .ts = TS, .campaign = "spring", .event = "donate",
            .subject = "contact-2", .ref = "ann", .value = "2500"),
        HIT(.id = "1795456235427-5", .ts = TS, .campaign = "spring", .event = "convert",
            .subject = "contact-3", .ref = "ann"),
        HIT(.id = "1795456235427-6", .ts = TS, .campaign = "spring", .event = "petition_signed",
            .subject = "contact-4", .ref = "ann"),
        HIT(.id = "1795456235427-7", .ts = TS, .campaign = "spring", .event = "scroll", .depth = "50",
            .subject = "contact-5", .ref = "bob"),
        HIT(.id = "1795456235427-8", .ts = TS, .campaign = "spring", .event = "followup",
            .subject = "contact-2", .ref = "bob", .via = "api"),
        HIT(.id = "1795456235427-9", .ts = TS, .campaign = "spring", .event = "click",
            .ref = "bob", .agent = "bot", .ua = CURL_UA, .via = "click"),
        HIT(.id = "1795456235427-10", .ts = TS, .campaign = "spring", .event = "signup",
            .subject = "contact-6", .ref = "bob", .agent = "bot", .ua = CURL_UA),
        HIT(.id = "1795456235427-11", .ts = TS, .campaign = "spring", .event = "view",
            .subject = "contact-7", .ref = "bob"),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    filter_all(b, NULL, NULL, &res);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 1);
    /* ann: reach open + view + click = 3, actions signup + donate +
     * convert + petition_signed = 4; bob: reach from the human view only */
    expect_ops(&v[0], ONLY("Z "),
               ARGS("Z " SP ":ref:reach ann 3", "Z " SP ":ref ann 4", "Z " SP ":ref:reach bob 1"));
    agg_batch_free(b);
}
END_TEST

/* Checks S (signup) and F (follow-up) ops carry subject and ts, in stream
 * order, from human hits with a subject only; fails if one is lost,
 * reordered, mislabelled or made from a bot's signup. */
START_TEST(signup_followup_ops)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "signup",
            .subject = "contact-2", .ref = "ann"),
        HIT(.id = "1795456235427-1", .ts = TS + 1000, .campaign = "spring", .event = "followup",
            .subject = "contact-1", .via = "api"),
        HIT(.id = "1795456235427-2", .ts = TS + 2000, .campaign = "spring", .event = "signup",
            .subject = "contact-3"),
        HIT(.id = "1795456235427-3", .ts = TS + 3000, .campaign = "spring", .event = "signup",
            .subject = "contact-4", .agent = "bot", .ua = CURL_UA),
        /* a signup without subject (no collector writes one: proto_hit_finish
         * refuses it, but the stream decodes it): counted, no S op */
        HIT(.id = "1795456235427-5", .ts = TS + 4000, .campaign = "spring", .event = "signup",
            .via = "api"),
        /* a follow-up stamped before the signup that precedes it in the stream */
        HIT(.id = "1795456235427-6", .ts = TS - 500, .campaign = "spring", .event = "followup",
            .subject = "contact-2", .via = "api"),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    filter_all(b, NULL, NULL, &res);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 1);
    expect_ops(&v[0], ONLY("S ", "F "),
               ARGS("S contact-2 1795456235426", "F contact-1 1795456236426", "S contact-3 1795456237426",
                    "F contact-2 1795456234926"));
    expect_ops(&v[0], ONLY("H " SP " "),
               ARGS("H " SP " signup 3", "H " SP " machine_signup 1", "H " SP " followup 2",
                    "H " SP " anonymous 1"));
    expect_ops(&v[0], ONLY("lo ", "hi "), ARGS("lo first_ts 1795456234926", "hi last_ts 1795456239426"));
    agg_batch_free(b);
}
END_TEST

/* Checks hourly and daily buckets follow the hit's ts across an hour and
 * a midnight, revisited out of order, each expiring retention_hours or
 * retention_days after it begins, once; with another prefix; fails on a
 * wrong bucket, expiry or count, or an expiry repeated. */
START_TEST(buckets_and_expiry)
{
    proto_conf conf = defconf();
    snprintf(conf.prefix, sizeof conf.prefix, "t:");
    conf.retention_hours = 48;
    conf.retention_days = 30;
    conf.followup_sla_s = 60;
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = 1795456235426LL, .campaign = "spring", .event = "open"),  /* 17:50:35 */
        HIT(.id = "1795456235427-1", .ts = 1795456800000LL, .campaign = "spring", .event = "open"),  /* 18:00:00 */
        HIT(.id = "1795456235427-2", .ts = 1795456799999LL, .campaign = "spring", .event = "open"),  /* 17:59:59.999 */
        HIT(.id = "1795456235427-3", .ts = 1795478700000LL, .campaign = "spring", .event = "click"), /* 11-24 00:05 */
    };
    agg_batch *b = batch_of(&conf, 2, ents, NENTS(ents), &res);
    filter_all(b, NULL, NULL, &res);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 1);
    expect_argv(&v[0], "2", "", "1795456235427-3", "spring", NOW, "60");
    expect_keys(&v[0], "t:c:{spring}", "t:alerts",
                ARGS("t:c:{spring}:h:2026112317", "t:c:{spring}:d:20261123", "t:c:{spring}:h:2026112318",
                     "t:c:{spring}:h:2026112400", "t:c:{spring}:d:20261124"));
    expect_ops(&v[0], ONLY("H ", "X "),
               ARGS("H t:c:{spring} open 3", "H t:c:{spring} click 1", "H t:c:{spring} anonymous 4",
                    "H t:c:{spring}:h:2026112317 open 2", "H t:c:{spring}:h:2026112318 open 1",
                    "H t:c:{spring}:h:2026112400 click 1", "H t:c:{spring}:d:20261123 open 3",
                    "H t:c:{spring}:d:20261124 click 1",
                    /* hour start + 48 h: 1795453200000 + 172800000, … */
                    "X t:c:{spring}:h:2026112317 1795626000000", "X t:c:{spring}:h:2026112318 1795629600000",
                    "X t:c:{spring}:h:2026112400 1795651200000",
                    /* day start + 30 days: 1795392000000 + 2592000000, … */
                    "X t:c:{spring}:d:20261123 1797984000000", "X t:c:{spring}:d:20261124 1798070400000"));
    agg_batch_free(b);
}
END_TEST

/* Checks first_ts/last_ts span the applied hits by ts (not stream order),
 * machine hits included, duplicates and malformed entries excluded, and
 * that last activity is the latest applied ts; fails on a wrong bound. */
START_TEST(first_last_ts)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "open", .nonce = "n-1"),
        /* another collector's clock: earlier ts, later id */
        HIT(.id = "1795456235427-1", .ts = 1795456200000LL, .campaign = "spring", .event = "view"),
        HIT(.id = "1795456235427-2", .ts = 1795456299999LL, .campaign = "spring", .event = "open",
            .agent = "bot", .ua = CURL_UA),
        /* a retry of n-1, earliest of all: a dup, no bound */
        HIT(.id = "1795456235427-3", .ts = 1795456100000LL, .campaign = "spring", .event = "open",
            .nonce = "n-1"),
        /* malformed, latest of all: no bound */
        HIT(.id = "1795456235427-4", .ts = 1795459999999LL, .campaign = "spring", .event = "Open"),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    filter_all(b, NULL, NULL, &res);
    ck_assert_uint_eq(res.duplicates, 1);
    ck_assert_uint_eq(res.malformed, 1);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 1);
    expect_ops(&v[0], ONLY("lo ", "hi "), ARGS("lo first_ts 1795456200000", "hi last_ts 1795456299999"));
    proto_resp out = {0};
    ck_assert_int_eq(agg_batch_activity(b, "ag:campaigns", &out), 1);
    const redisReply **c = commands(&out, &n);
    ck_assert_uint_eq(n, 1);
    expect_cmd(c[0], ARGS("ZADD", "ag:campaigns", "GT", "1795456299999", "spring"));
    proto_resp_free(&out);
    agg_batch_free(b);
}
END_TEST

/* Checks a nonce repeated inside the batch is a dup (counted in totals
 * dup, nothing else), recorded once with its first ts, and that the same
 * nonce in another campaign is not; fails if a retry is counted twice or
 * another campaign's hit is dropped. */
START_TEST(dup_in_batch)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "open",
            .subject = "contact-1", .nonce = "n-1"),
        HIT(.id = "1795456235427-1", .ts = TS + 10, .campaign = "autumn", .event = "open",
            .subject = "contact-1", .nonce = "n-1"),
        /* the beacon's retry of the first hit, half a second later */
        HIT(.id = "1795456235427-2", .ts = TS + 500, .campaign = "spring", .event = "open",
            .subject = "contact-1", .nonce = "n-1"),
        HIT(.id = "1795456235427-3", .ts = TS + 600, .campaign = "spring", .event = "view",
            .subject = "contact-1", .nonce = "n-2"),
        HIT(.id = "1795456235427-4", .ts = TS + 700, .campaign = "spring", .event = "view",
            .subject = "contact-1", .nonce = "n-2", .agent = "bot", .ua = CURL_UA),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    filter_all(b, NULL, NULL, &res);
    ck_assert_uint_eq(res.duplicates, 2);
    ck_assert_uint_eq(agg_batch_applied(b, 0), 2);
    ck_assert_uint_eq(agg_batch_applied(b, 1), 1);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 2);
    expect_argv(&v[0], "0", "", "1795456235427-4", "spring", NOW, "900");
    expect_ops(&v[0], ALL,
               ARGS("H " SP " open 1", "H " SP " view 1", "H " SP " dup 2", "H " SP_H17 " open 1",
                    "H " SP_H17 " view 1", "H " SP_D23 " open 1", "H " SP_D23 " view 1", X_H17, X_D23,
                    "P " SP ":u:open s:contact-1", "P " SP ":u:view s:contact-1",
                    "lo first_ts 1795456235426", "hi last_ts 1795456236026",
                    "NZ 1795456235426 n-1 1795456236026 n-2", "T " CUTOFF));
    expect_ops(&v[1], ONLY("H ag:c:{autumn} ", "NZ "),
               ARGS("H ag:c:{autumn} open 1", "NZ 1795456235436 n-1"));
    agg_batch_free(b);
}
END_TEST

/* Checks the ZMSCORE reply decides dups: a nonce last seen less than 24 h
 * before the hit's ts is a dup, exactly 24 h before or never is not, and
 * only new nonces are recorded; fails on a window off by one millisecond
 * or a score read for the wrong nonce. */
START_TEST(dup_seen_within_24h)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "open", .nonce = "n-1"),
        HIT(.id = "1795456235427-1", .ts = TS, .campaign = "spring", .event = "open"), /* no nonce */
        HIT(.id = "1795456235427-2", .ts = TS, .campaign = "spring", .event = "open", .nonce = "n-2"),
        HIT(.id = "1795456235427-3", .ts = TS, .campaign = "spring", .event = "open", .nonce = "n-3"),
        HIT(.id = "1795456235427-4", .ts = TS, .campaign = "spring", .event = "open", .nonce = "n-4"),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    /* n-1 a second before TS: dup; n-2 exactly 24 h before: not; n-3
     * never; n-4 24 h less 1 ms before: dup */
    filter_all(b, NULL,
               (const redisReply *const[]){scores(4, "1795456234426", "1795369835426", NULL, "1795369835427")},
               &res);
    ck_assert_uint_eq(res.duplicates, 2);
    ck_assert_uint_eq(agg_batch_applied(b, 0), 3);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 1);
    expect_ops(&v[0], ONLY("H " SP " ", "NZ ", "T "),
               ARGS("H " SP " open 3", "H " SP " dup 2", "H " SP " anonymous 3",
                    "NZ 1795456235426 n-2 1795456235426 n-3",
                    "T " CUTOFF));
    agg_batch_free(b);
}
END_TEST

/* Checks watermark filtering: entries at or below a campaign's watermark
 * are skipped and counted, ids compare by value ("9-0" < "10-0", seq
 * within a ms), ZMSCORE replies stay aligned past skipped entries, the
 * call carries old and new watermark, and a campaign with every entry
 * skipped gets no call and no activity; fails on a string comparison, a
 * misaligned score, or a call that would re-apply. */
START_TEST(watermark_skips)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        /* spring, watermark 9-0 (a new stream's first ids) */
        HIT(.id = "8-0", .ts = TS, .campaign = "spring", .event = "open", .nonce = "n-8"),
        HIT(.id = "9-0", .ts = TS, .campaign = "spring", .event = "open", .nonce = "n-9"),
        /* autumn, watermark 10-0: both below it, though "9-5" > "10-0" as strings */
        HIT(.id = "9-5", .ts = TS, .campaign = "autumn", .event = "open"),
        HIT(.id = "9-7", .ts = TS, .campaign = "autumn", .event = "open", .nonce = "a-9"),
        /* above 9-0, though "10-0" < "9-0" as strings */
        HIT(.id = "10-0", .ts = TS + 1, .campaign = "spring", .event = "view", .nonce = "n-10"),
        HIT(.id = "10-1", .ts = TS + 2, .campaign = "spring", .event = "click", .nonce = "n-11"),
        /* winter, watermark 1795456235427-1: seq compared within a ms */
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "winter", .event = "open"),
        HIT(.id = "1795456235427-1", .ts = TS, .campaign = "winter", .event = "open"),
        HIT(.id = "1795456235427-2", .ts = TS, .campaign = "winter", .event = "view"),
        /* summer, no watermark yet */
        HIT(.id = "1795456235427-3", .ts = TS, .campaign = "summer", .event = "open"),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    ck_assert_uint_eq(agg_batch_ncamps(b), 4);
    /* spring's n-8 and n-9 were recorded when they were applied: scores a
     * skipped entry consumes; n-10 and n-11 are new */
    filter_all(b, ARGS("9-0", "10-0", "1795456235427-1", NULL),
               (const redisReply *const[]){scores(4, "1795456235426", "1795456235426", NULL, NULL),
                                           scores(1, "1795456235426"), NULL, NULL},
               &res);
    ck_assert_uint_eq(res.skipped, 6);
    ck_assert_uint_eq(res.duplicates, 0);
    ck_assert_uint_eq(agg_batch_applied(b, 0), 2);
    ck_assert_uint_eq(agg_batch_applied(b, 1), 0);
    ck_assert_uint_eq(agg_batch_applied(b, 2), 1);
    ck_assert_uint_eq(agg_batch_applied(b, 3), 1);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(agg_batch_called(b, 0), 1);
    ck_assert_int_eq(agg_batch_called(b, 1), 0);
    ck_assert_int_eq(agg_batch_called(b, 2), 1);
    ck_assert_int_eq(agg_batch_called(b, 3), 1);
    expect_argv(&v[0], "0", "9-0", "10-1", "spring", NOW, "900");
    expect_ops(&v[0], ONLY("H " SP " ", "NZ "),
               ARGS("H " SP " view 1", "H " SP " click 1", "H " SP " anonymous 2",
                    "NZ 1795456235427 n-10 1795456235428 n-11"));
    expect_argv(&v[1], "0", "1795456235427-1", "1795456235427-2", "winter", NOW, "900");
    expect_ops(&v[1], ONLY("H ag:c:{winter} "),
               ARGS("H ag:c:{winter} view 1", "H ag:c:{winter} anonymous 1"));
    expect_argv(&v[2], "0", "", "1795456235427-3", "summer", NOW, "900");
    /* activity: the three campaigns with applied hits, not autumn */
    proto_resp out = {0};
    ck_assert_int_eq(agg_batch_nactive(b), 0);
    ck_assert_int_eq(agg_batch_activity(b, "ag:campaigns", &out), 3);
    ck_assert_int_eq(agg_batch_nactive(b), 3);
    const redisReply **c = commands(&out, &n);
    ck_assert_uint_eq(n, 3);
    expect_cmd(c[0], ARGS("ZADD", "ag:campaigns", "GT", "1795456235428", "spring"));
    expect_cmd(c[1], ARGS("ZADD", "ag:campaigns", "GT", "1795456235426", "winter"));
    expect_cmd(c[2], ARGS("ZADD", "ag:campaigns", "GT", "1795456235426", "summer"));
    proto_resp_free(&out);
    agg_batch_free(b);
}
END_TEST

/* Checks a batch already applied (every entry at or below the watermark,
 * as after a crash before XACK) appends no call and no activity; fails if
 * anything would be applied twice. */
START_TEST(replay_appends_nothing)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "open", .nonce = "n-1"),
        HIT(.id = "1795456235427-1", .ts = TS, .campaign = "autumn", .event = "open"),
        HIT(.id = "1795456235427-2", .ts = TS, .campaign = "spring", .event = "signup",
            .subject = "contact-2"),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    filter_all(b, ARGS("1795456235427-2", "1795456235427-1"), NULL, &res);
    ck_assert_uint_eq(res.skipped, 3);
    proto_resp out = {0};
    ck_assert_int_eq(agg_batch_calls(b, SHA, MAXLEN, NOW, &out), 0);
    ck_assert_int_eq(agg_batch_activity(b, "ag:campaigns", &out), 0);
    ck_assert_int_eq(agg_batch_nactive(b), 0);
    ck_assert_uint_eq(out.len, 0);
    ck_assert_int_eq(agg_batch_called(b, 0), 0);
    ck_assert_int_eq(agg_batch_called(b, 1), 0);
    ck_assert_uint_eq(agg_batch_applied(b, 0) + agg_batch_applied(b, 1), 0);
    proto_resp_free(&out);
    agg_batch_free(b);
}
END_TEST

/* Checks activity updates: one ZADD GT per campaign with applied hits, in
 * campaign order, none for a campaign whose hits were all dups or
 * malformed even though its call moves the watermark, and that
 * agg_batch_activity appends and nactive counts the last call; fails on a
 * missing, extra or wrong update. */
START_TEST(activity_updates)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "autumn", .event = "open", .nonce = "n-1"),
        HIT(.id = "1795456235427-1", .ts = TS, .campaign = "winter", .event = "Open"),
        HIT(.id = "1795456235427-2", .ts = TS + 5, .campaign = "spring", .event = "open",
            .agent = "bot", .ua = CURL_UA),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    filter_all(b, NULL, (const redisReply *const[]){scores(1, "1795456235000"), NULL, NULL}, &res);
    ck_assert_uint_eq(res.duplicates, 1);
    ck_assert_uint_eq(res.malformed, 1);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 3);
    expect_ops(&v[0], ALL, ARGS("H ag:c:{autumn} dup 1", "T " CUTOFF));
    expect_ops(&v[1], ALL, ARGS("T " CUTOFF));
    proto_resp out = {0}, ping = {0};
    proto_resp_str(&ping, "PING");
    proto_resp_command(&out, &ping);
    ck_assert_int_eq(agg_batch_activity(b, "t:campaigns", &out), 1);
    ck_assert_int_eq(agg_batch_nactive(b), 1);
    const redisReply **c = commands(&out, &n);
    ck_assert_uint_eq(n, 2);
    expect_cmd(c[0], ARGS("PING"));
    expect_cmd(c[1], ARGS("ZADD", "t:campaigns", "GT", "1795456235431", "spring"));
    proto_resp_free(&out);
    proto_resp_free(&ping);
    agg_batch_free(b);
}
END_TEST

/* Checks a hit in every field the collector writes (proto_hit_fields, the
 * real encoder) is applied whole: KEYS, ARGV and every op; fails if a
 * field the collector writes is misread or a counter is added or lost. */
START_TEST(collector_hit)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    proto_hit h;
    proto_hit_init(&h);
    snprintf(h.hid, sizeof h.hid, "17593765.0-7");
    h.ts = TS;
    snprintf(h.campaign, sizeof h.campaign, "spring");
    snprintf(h.event, sizeof h.event, "donate");
    snprintf(h.subject, sizeof h.subject, "contact-2");
    snprintf(h.ref, sizeof h.ref, "ann");
    snprintf(h.channel, sizeof h.channel, "email");
    h.value = 2500;
    snprintf(h.goal, sizeof h.goal, "spring-goal");
    h.client_ts = 1795456235000;
    snprintf(h.nonce, sizeof h.nonce, "n-1");
    snprintf(h.ip, sizeof h.ip, "203.0.113.0");
    h.agent = PROTO_AGENT_HUMAN;
    snprintf(h.ua, sizeof h.ua, HUMAN_UA);
    h.via = PROTO_VIA_BEACON;
    const char *names[PROTO_HIT_FIELDS], *values[PROTO_HIT_FIELDS];
    size_t lens[PROTO_HIT_FIELDS];
    char scratch[128];
    int k = proto_hit_fields(&h, names, values, lens, scratch, sizeof scratch);
    ck_assert_int_eq(k, 15); /* everything but depth */
    sbuf s = {0};
    sb_fmt(&s, "*2\r\n$15\r\n1795456235427-0\r\n*%d\r\n", 2 * k);
    for (int i = 0; i < k; i++) {
        sb_bulk(&s, names[i]);
        sb_bulkn(&s, values[i], lens[i]);
    }
    const redisReply *ents[] = {parse1(s.p, s.len)};
    free(s.p);
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    filter_all(b, NULL, NULL, &res);
    ck_assert_uint_eq(agg_batch_applied(b, 0), 1);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(v[0].nkeys, 13);
    expect_keys(&v[0], SP, "ag:alerts", ARGS(SP_H17, SP_D23, SP ":u:donate"));
    expect_argv(&v[0], "0", "", "1795456235427-0", "spring", NOW, "900");
    expect_ops(&v[0], ALL,
               ARGS("H " SP " donate 1", "H " SP " value 2500", "H " SP_H17 " donate 1",
                    "H " SP_D23 " donate 1", "Z " SP ":ref ann 1", X_H17, X_D23,
                    "P " SP ":u:donate s:contact-2", "lo first_ts 1795456235426",
                    "hi last_ts 1795456235426", "NZ 1795456235426 n-1", "T " CUTOFF));
    agg_batch_free(b);
}
END_TEST

/* Checks big batches are cut for Lua's unpack: PFADD and nonce ops of at
 * most 2,000 elements or pairs, in stream order, none lost, and 4,500
 * advocates each counted once (past the increment table's first size);
 * fails on a lost, doubled or oversized chunk. */
START_TEST(chunks)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    enum { N = 4500 };
    const redisReply **ents = tcalloc(N, sizeof *ents);
    for (int i = 0; i < N; i++) {
        char id[32], subj[16], nonce[16], ref[16];
        snprintf(id, sizeof id, "1795456235427-%d", i);
        snprintf(subj, sizeof subj, "contact-%d", i);
        snprintf(nonce, sizeof nonce, "n-%d", i);
        snprintf(ref, sizeof ref, "adv%d", i);
        ents[i] = HIT(.id = id, .ts = TS + i, .campaign = "spring", .event = "open", .subject = subj,
                      .ref = ref, .nonce = nonce);
    }
    agg_batch *b = batch_of(&conf, 0, ents, N, &res);
    filter_all(b, NULL, NULL, &res);
    ck_assert_uint_eq(agg_batch_applied(b, 0), N);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 1);
    size_t p = 0, nz = 0, z = 0, pe = 0, ne = 0;
    char *seen = tcalloc(N, 1);
    for (size_t i = 0; i < v[0].nops; i++) {
        const char *o = v[0].ops[i];
        if (!strncmp(o, "P ", 2)) {
            size_t want = p < 2 ? 2000 : 500, cnt = 0;
            const char *q = o + strlen("P " SP ":u:open");
            ck_assert_msg(!strncmp(o, "P " SP ":u:open ", strlen("P " SP ":u:open ")), "%s", o);
            while (*q == ' ') {
                char elem[32];
                snprintf(elem, sizeof elem, " s:contact-%zu", pe++);
                ck_assert_msg(!strncmp(q, elem, strlen(elem)), "chunk %zu element %zu", p, cnt);
                q += strlen(elem);
                cnt++;
            }
            ck_assert_uint_eq(cnt, want);
            p++;
        } else if (!strncmp(o, "NZ ", 3)) {
            size_t want = nz < 2 ? 2000 : 500, cnt = 0;
            const char *q = o + 2;
            while (*q == ' ') {
                char pair[48];
                snprintf(pair, sizeof pair, " %lld n-%zu", TS + (long long)ne, ne);
                ne++;
                ck_assert_msg(!strncmp(q, pair, strlen(pair)), "nonce chunk %zu pair %zu", nz, cnt);
                q += strlen(pair);
                cnt++;
            }
            ck_assert_uint_eq(cnt, want);
            nz++;
        } else if (!strncmp(o, "Z ", 2)) {
            int a;
            char tail[8];
            ck_assert_int_eq(sscanf(o, "Z " SP ":ref:reach adv%d %7s", &a, tail), 2);
            ck_assert_str_eq(tail, "1");
            ck_assert(a >= 0 && a < N && !seen[a]);
            seen[a] = 1;
            z++;
        }
    }
    ck_assert_uint_eq(p, 3);
    ck_assert_uint_eq(nz, 3);
    ck_assert_uint_eq(pe, N);
    ck_assert_uint_eq(ne, N);
    ck_assert_uint_eq(z, N);
    expect_ops(&v[0], ONLY("H ", "lo ", "hi ", "T "),
               ARGS("H " SP " open 4500", "H " SP_H17 " open 4500", "H " SP_D23 " open 4500",
                    "lo first_ts 1795456235426", "hi last_ts 1795456239925", "T " CUTOFF));
    agg_batch_free(b);
}
END_TEST

/* Checks an empty batch builds nothing and agg_batch_free(NULL) is a
 * no-op; fails if an empty batch appends a command. */
START_TEST(empty_batch)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    agg_batch *b = batch_of(&conf, 0, NULL, 0, &res);
    ck_assert_uint_eq(agg_batch_ncamps(b), 0);
    proto_resp out = {0};
    ck_assert_int_eq(agg_batch_reads(b, &out), 0);
    ck_assert_int_eq(agg_batch_calls(b, SHA, MAXLEN, NOW, &out), 0);
    ck_assert_int_eq(agg_batch_activity(b, "ag:campaigns", &out), 0);
    ck_assert_int_eq(agg_batch_nactive(b), 0);
    ck_assert_uint_eq(out.len, 0);
    ck_assert_uint_eq(res.applied + res.skipped + res.duplicates + res.malformed + res.conflicts, 0);
    proto_resp_free(&out);
    agg_batch_free(b);
    agg_batch_free(NULL);
}
END_TEST

/* Builds the suite. */
static Suite *batch_suite(void)
{
    Suite *s = suite_create("agg_batch");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, reads_per_campaign);
    tcase_add_test(tc, campaigns_in_stream_order);
    tcase_add_test(tc, malformed_shapes);
    tcase_add_test(tc, malformed_fields);
    tcase_add_test(tc, counts_human_and_machine);
    tcase_add_test(tc, uniques_and_anonymous);
    tcase_add_test(tc, scroll_buckets);
    tcase_add_test(tc, ref_leaderboards);
    tcase_add_test(tc, signup_followup_ops);
    tcase_add_test(tc, buckets_and_expiry);
    tcase_add_test(tc, first_last_ts);
    tcase_add_test(tc, dup_in_batch);
    tcase_add_test(tc, dup_seen_within_24h);
    tcase_add_test(tc, watermark_skips);
    tcase_add_test(tc, replay_appends_nothing);
    tcase_add_test(tc, activity_updates);
    tcase_add_test(tc, collector_hit);
    tcase_add_test(tc, chunks);
    tcase_add_test(tc, empty_batch);
    suite_add_tcase(s, tc);
    return s;
}

/* Runs the suite. Returns 0 if every test passed, 1 otherwise. */
int main(void)
{
    SRunner *sr = srunner_create(batch_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
