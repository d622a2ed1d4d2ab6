/* batch_fixture.c: the shared fixture of the aggregator/batch.c unit tests (batch_fixture.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_fixture.h"
#include "slot.h"

/* ---------------------------------------------------------------- fixtures */




/* Fails the test with msg unless cond holds. For the helpers called per
 * hit and per argument: ck_assert records its place on every call (a
 * write(2) each, 350,000 in test_agg_batch_calls, minutes under valgrind);
 * this costs nothing until it fails. */
#define REQUIRE(cond, ...) do { if (!(cond)) ck_abort_msg(__VA_ARGS__); } while (0)

/* Everything a test allocated: replies (freeReplyObject) and plain memory. */
static redisReply **g_replies;
static size_t g_nreplies, g_capreplies;
static void **g_mem;
static size_t g_nmem, g_capmem;

/* Keeps p until the test ends; returns p. */
static void *track(void *p)
{
    REQUIRE(p, "out of memory");
    if (g_nmem == g_capmem) {
        g_capmem = g_capmem ? 2 * g_capmem : 64;
        g_mem = realloc(g_mem, g_capmem * sizeof *g_mem);
        REQUIRE(g_mem, "out of memory");
    }
    g_mem[g_nmem++] = p;
    return p;
}

/* Returns zeroed memory freed when the test ends; never NULL. */
void *tcalloc(size_t n, size_t size)
{
    return track(calloc(n ? n : 1, size));
}

/* Keeps reply r until the test ends; returns it. */
redisReply *keep(redisReply *r)
{
    REQUIRE(r, "no reply");
    if (g_nreplies == g_capreplies) {
        g_capreplies = g_capreplies ? 2 * g_capreplies : 64;
        g_replies = realloc(g_replies, g_capreplies * sizeof *g_replies);
        REQUIRE(g_replies, "out of memory");
    }
    g_replies[g_nreplies++] = r;
    return r;
}

/* Frees what the test allocated (checked fixture); never fails. */
void teardown(void)
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


/* Appends n bytes of s; fails the test when out of memory. */
void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n + 1)
            nc *= 2;
        b->p = realloc(b->p, nc);
        REQUIRE(b->p, "out of memory");
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

/* Appends printf output; fails the test on overflow of 512 bytes. */
void sb_fmt(sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    REQUIRE(n >= 0 && (size_t)n < sizeof tmp, "sb_fmt: %d bytes do not fit", n);
    sb_put(b, tmp, (size_t)n);
}

/* Appends a RESP bulk string of n bytes. */
void sb_bulkn(sbuf *b, const char *s, size_t n)
{
    sb_fmt(b, "$%zu\r\n", n);
    sb_put(b, s, n);
    sb_put(b, "\r\n", 2);
}

/* Appends a RESP bulk string. */
void sb_bulk(sbuf *b, const char *s)
{
    sb_bulkn(b, s, strlen(s));
}

/* Returns the one reply that hiredis' reader makes of len bytes of RESP;
 * fails the test unless they hold exactly one whole reply. */
redisReply *parse1(const char *buf, size_t len)
{
    redisReader *rd = redisReaderCreate();
    REQUIRE(rd, "out of memory");
    REQUIRE(redisReaderFeed(rd, buf, len) == REDIS_OK, "RESP not taken");
    void *r = NULL, *more = NULL;
    REQUIRE(redisReaderGetReply(rd, &r) == REDIS_OK && r != NULL, "incomplete RESP: %.*s", (int)len, buf);
    REQUIRE(redisReaderGetReply(rd, &more) == REDIS_OK && !more, "more than one reply in: %.*s", (int)len, buf);
    REQUIRE(rd->len == rd->pos, "bytes left over in: %.*s", (int)len, buf);
    redisReaderFree(rd);
    return keep(r);
}

/* Returns the reply of a RESP literal. */
const redisReply *raw(const char *resp)
{
    return parse1(resp, strlen(resp));
}


/* Returns a bulk-string reply (an HGET that found s). */
const redisReply *bulk(const char *s)
{
    sbuf b = {0};
    sb_bulk(&b, s);
    redisReply *r = parse1(b.p, b.len);
    free(b.p);
    return r;
}

/* Returns an array reply of n scores (a ZMSCORE): each a decimal string,
 * or NULL for a nonce never seen (nil). */
const redisReply *scores(size_t n, ...)
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


/* Returns the stream entry [id, [hid, …, via, …]] of h, built in RESP
 * and read back by hiredis, fields in the collector's order. */
const redisReply *ent(const hitspec *h)
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
    F("uref", h->uref);
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

/* Returns the default configuration (prefix "ag:", 2160 h, 730 days, SLA 900 s). */
proto_conf defconf(void)
{
    proto_conf c;
    proto_conf_defaults(&c);
    return c;
}

/* ---------------------------------------------------------------- RESP out */

/* Returns the commands in out (RESP a proto_resp accumulated), read back
 * by hiredis' reader; *n gets their count. Fails the test unless out is
 * whole commands of bulk strings and nothing else. */
const redisReply **commands(const proto_resp *out, size_t *n)
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
        REQUIRE(c->type == REDIS_REPLY_ARRAY && c->elements >= 1, "command %zu: not an array of arguments", *n);
        for (size_t i = 0; i < c->elements; i++)
            REQUIRE(c->element[i]->type == REDIS_REPLY_STRING, "command %zu: argument %zu not a bulk string",
                    *n, i);
        if (*n == cap) {
            cap *= 2;
            v = realloc(v, cap * sizeof *v);
            REQUIRE(v, "out of memory");
        }
        v[(*n)++] = c;
    }
    ck_assert_uint_eq(rd->len, rd->pos); /* no partial command at the end */
    redisReaderFree(rd);
    return track(v);
}

/* Checks command c is exactly the NULL-terminated argv; fails on any
 * difference of count, byte or length. */
void expect_cmd(const redisReply *c, const char *const argv[])
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

/* Returns s parsed as a whole decimal integer; fails the test otherwise. */
long long num(const char *s)
{
    char *end;
    REQUIRE(*s && (*s == '-' || (*s >= '0' && *s <= '9')), "not a number: \"%s\"", s);
    long long v = strtoll(s, &end, 10);
    REQUIRE(*end == 0, "not a number: \"%s\"", s);
    return v;
}


/* Returns KEYS[k] of v for the op argument s; fails unless 1 <= k <= nkeys. */
const char *key_of(const call *v, const char *s)
{
    long long k = num(s);
    REQUIRE(k >= 1 && (size_t)k <= v->nkeys, "KEYS index %s of %zu", s, v->nkeys);
    return v->r->element[2 + (size_t)k]->str;
}

/* Returns element i of v's command; fails past the end (an op cut short). */
const char *at(const call *v, size_t i)
{
    REQUIRE(i < v->r->elements, "op cut short at argument %zu of %zu", i, v->r->elements);
    return v->r->element[i]->str;
}

/* Decodes an apply EVALSHA: checks EVALSHA SHA numkeys, that the keys are
 * distinct and that the ops after ARGV[7] follow the grammar of scripts.h
 * exactly to the last argument; writes each op as text: "H key field n",
 * "Z key member n", "X key at", "P key e1 e2 …", "NZ t1 n1 t2 n2 …",
 * "T cutoff", "lo field v", "hi field v", "S subject ts", "F subject ts",
 * "A key subject bit ts_s ref at cap". */
call decode(const redisReply *r)
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
            REQUIRE(strcmp(r->element[3 + i]->str, r->element[3 + j]->str) != 0, "KEYS %zu and %zu are both %s",
                    i + 1, j + 1, r->element[3 + i]->str);
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
        } else if (!strcmp(op, "A")) {
            sb_fmt(&s, " %s %s %lld %lld %s %lld %lld", key_of(&v, at(&v, i + 1)), at(&v, i + 2),
                   num(at(&v, i + 3)), num(at(&v, i + 4)), at(&v, i + 5), num(at(&v, i + 6)),
                   num(at(&v, i + 7)));
            i += 8;
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
 * now, default SLA, outbox MAXLEN; fails on any difference. */
void expect_argv(const call *v, const char *part, const char *wm, const char *last,
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
 * campaign key base ck (e.g. "ag:c:{spring}"), then exactly the
 * NULL-terminated extra (bucket and HLL keys, in any order), every one in
 * the campaign's hash slot; fails on any difference. */
void expect_keys(const call *v, const char *ck, const char *const extra[])
{
    static const char *const sfx[] = {"", ":wm", ":nonce", ":ref", ":ref:reach",
                                      ":pending", ":fl", ":alerted", ":outbox", ":cfg"};
    for (size_t i = 0; i < 10; i++) {
        char want[300];
        snprintf(want, sizeof want, "%s%s", ck, sfx[i]);
        ck_assert_str_eq(v->r->element[3 + i]->str, want);
    }
    /* one call, one hash slot (Redis Cluster refuses CROSSSLOT) */
    for (size_t i = 1; i < v->nkeys; i++)
        ck_assert_uint_eq(proto_slot(v->r->element[3 + i]->str, v->r->element[3 + i]->len),
                          proto_slot(v->r->element[3]->str, v->r->element[3]->len));
    size_t n = 0, naud = 0;
    while (extra[n])
        n++;
    for (size_t i = 10; i < v->nkeys; i++)     /* audience buckets: audience_ops checks them */
        naud += strstr(v->r->element[3 + i]->str, ":aud:") != NULL;
    for (size_t j = 0; j < n; j++)
        naud -= strstr(extra[j], ":aud:") != NULL;
    ck_assert_uint_eq(v->nkeys, 10 + n + naud);
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
    static const char *const g[] = {"H ", "Z ", "X ", "P ", "lo ", "hi ", "NZ ", "T ", "S ", "F ", "A "};
    static const int gi[] = {0, 0, 1, 2, 3, 3, 4, 5, 6, 6, 7};
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
    if (!only)          /* ALL: every op but the audience's (audience_ops checks those) */
        return strncmp(s, "A ", 2) != 0;
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
void expect_ops(const call *v, const char *const only[], const char *const want[])
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

/* ---------------------------------------------------------------- driving */

/* Appends the reads to a fresh buffer, checks there are two per campaign,
 * and filters every campaign c as apply.c does: with the watermark wm[c]
 * (wm or wm[c] NULL: none, a nil reply) and the ZMSCORE reply ns[c] (ns
 * or ns[c] NULL: nonces never seen, a nil per ZMSCORE member). */
void filter_all(agg_batch *b, const char *const wm[], const redisReply *const ns[],
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
call *calls(agg_batch *b, long long now, size_t *n)
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
agg_batch *batch_of(const proto_conf *conf, unsigned p, const redisReply *const *ents, size_t n,
                           agg_apply_result *res)
{
    agg_batch *b = agg_batch_new(conf, p, ents, n, res);
    ck_assert_ptr_nonnull(b);
    return b;
}
