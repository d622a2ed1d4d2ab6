/* batch_fixture.h: what the aggregator/batch.c unit tests share — RESP built and read back through
 * hiredis' reader, the apply calls decoded, and a batch driven as apply.c drives it. */
#ifndef TESTS_BATCH_FIXTURE_H
#define TESTS_BATCH_FIXTURE_H

#include <check.h>
#include <hiredis/hiredis.h>
#include <stddef.h>

#include "batch.h"
#include "conf.h"
#include "hit.h"
#include "resp.h"

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

/* A growable byte string. */
typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

/* Returns the reply of a RESP literal that may hold NUL bytes. */
#define RAWN(lit) parse1(lit, sizeof lit - 1)

/* One hit as the collector writes it to the stream (proto_hit_fields):
 * NULL (or ts 0) fields are omitted; agent defaults to human, via to
 * pixel; hid is numbered per test run. */
typedef struct {
    const char *id;                 /* stream entry id */
    long long ts;
    const char *campaign, *event, *subject, *ref, *channel, *depth, *value, *goal, *nonce, *ip,
        *agent, *ua, *via, *uref;
} hitspec;

#define HIT(...) ent(&(const hitspec){__VA_ARGS__})
#define NENTS(a) (sizeof(a) / sizeof(a)[0])

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* An EVALSHA of the apply script, decoded along scripts.h's grammar. */
typedef struct {
    const redisReply *r;
    size_t nkeys;
    size_t argv1;                   /* r->element index of ARGV[1] */
    const char **ops;               /* each op as text, KEYS indexes as names */
    size_t nops;
} call;

#define ALL NULL         /* every op but the audience's A ops */
#define ONLY(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Returns zeroed memory freed when the test ends; never NULL. */
void *tcalloc(size_t n, size_t size);

/* Keeps reply r until the test ends; returns it. */
redisReply *keep(redisReply *r);

/* Frees what the test allocated (checked fixture); never fails. */
void teardown(void);

/* Appends n bytes of s; fails the test when out of memory. */
void sb_put(sbuf *b, const char *s, size_t n);

/* Appends printf output; fails the test on overflow of 512 bytes. */
void sb_fmt(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends a RESP bulk string of n bytes. */
void sb_bulkn(sbuf *b, const char *s, size_t n);

/* Appends a RESP bulk string. */
void sb_bulk(sbuf *b, const char *s);

/* Returns the one reply that hiredis' reader makes of len bytes of RESP;
 * fails the test unless they hold exactly one whole reply. */
redisReply *parse1(const char *buf, size_t len);

/* Returns the reply of a RESP literal. */
const redisReply *raw(const char *resp);

/* Returns a bulk-string reply (an HGET that found s). */
const redisReply *bulk(const char *s);

/* Returns an array reply of n scores (a ZMSCORE): each a decimal string,
 * or NULL for a nonce never seen (nil). */
const redisReply *scores(size_t n, ...);

/* Returns the stream entry [id, [hid, …, via, …]] of h, built in RESP
 * and read back by hiredis, fields in the collector's order. */
const redisReply *ent(const hitspec *h);

/* Returns the default configuration (prefix "ag:", 2160 h, 730 days, SLA 900 s). */
proto_conf defconf(void);

/* Returns the commands in out (RESP a proto_resp accumulated), read back
 * by hiredis' reader; *n gets their count. Fails the test unless out is
 * whole commands of bulk strings and nothing else. */
const redisReply **commands(const proto_resp *out, size_t *n);

/* Checks command c is exactly the NULL-terminated argv; fails on any
 * difference of count, byte or length. */
void expect_cmd(const redisReply *c, const char *const argv[]);

/* Returns s parsed as a whole decimal integer; fails the test otherwise. */
long long num(const char *s);

/* Returns KEYS[k] of v for the op argument s; fails unless 1 <= k <= nkeys. */
const char *key_of(const call *v, const char *s);

/* Returns element i of v's command; fails past the end (an op cut short). */
const char *at(const call *v, size_t i);

/* Decodes an apply EVALSHA: checks EVALSHA SHA numkeys, that the keys are
 * distinct and that the ops after ARGV[7] follow the grammar of scripts.h
 * exactly to the last argument; writes each op as text: "H key field n",
 * "Z key member n", "X key at", "P key e1 e2 …", "NZ t1 n1 t2 n2 …",
 * "T cutoff", "lo field v", "hi field v", "S subject ts", "F subject ts". */
call decode(const redisReply *r);

/* Checks ARGV[1..7] of v: partition, expected and new watermark, campaign,
 * now, default SLA, outbox MAXLEN; fails on any difference. */
void expect_argv(const call *v, const char *part, const char *wm, const char *last,
                        const char *campaign, long long now, const char *sla);

/* Checks v's KEYS: the ten fixed ones of ops.h in place for
 * campaign key base ck (e.g. "ag:c:{spring}"), then exactly the
 * NULL-terminated extra (bucket and HLL keys, in any order), every one in
 * the campaign's hash slot; fails on any difference. */
void expect_keys(const call *v, const char *ck, const char *const extra[]);

/* Checks the ops of v: the groups come in batch.c's order (increments,
 * then the expiries of buckets they created, PFADDs, lo/hi, NZ, T, then
 * S/F in stream order); and those starting with one of only (NULL: every
 * op) are exactly want — increments, expiries and PFADDs in any order,
 * the others in order. Fails on any difference. */
void expect_ops(const call *v, const char *const only[], const char *const want[]);

/* Appends the reads to a fresh buffer, checks there are two per campaign,
 * and filters every campaign c as apply.c does: with the watermark wm[c]
 * (wm or wm[c] NULL: none, a nil reply) and the ZMSCORE reply ns[c] (ns
 * or ns[c] NULL: nonces never seen, a nil per ZMSCORE member). */
void filter_all(agg_batch *b, const char *const wm[], const redisReply *const ns[],
                       agg_apply_result *res);

/* Returns the apply calls of b (after filter_all) decoded, *n their count;
 * checks agg_batch_calls counted what it appended. */
call *calls(agg_batch *b, long long now, size_t *n);

/* Returns a batch of the entries; fails the test if agg_batch_new fails. */
agg_batch *batch_of(const proto_conf *conf, unsigned p, const redisReply *const *ents, size_t n,
                           agg_apply_result *res);

#endif
