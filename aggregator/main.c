/* main.c: actiongap-aggregator — partition leases, the read/apply/ack
 * loop, overdue-signup alerts, stream trimming, lag. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "arena.h"
#include "conf.h"
#include "hit.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "redis.h"
#include "resp.h"
#include "server.h"
#include "webhook.h"

#define LEASE_MS 5000
#define LEASE_EVERY_MS 1000
#define ALERT_EVERY_MS 500
#define RESCAN_EVERY_MS 60000
#define TRIM_EVERY_MS 10000
#define BLOCK_MS 200
#define GROUP "aggregator"
#define MAX_READS 256           /* XREADGROUP replies in one round */
#define PIPELINE_MS 500         /* rounds of a backlog run back to back this long */

static volatile sig_atomic_t stopping;

/* A campaign known to the alert scan. */
typedef struct {
    char name[PROTO_CAMPAIGN_MAX + 1];
    long long cursor;       /* pending signups at or below were examined */
} scan_camp;

/* The entries of one round: its XREADGROUP replies (in its arena) and,
 * per partition, the entries, their batch and what applying it did. */
typedef struct {
    agg_arena *arena;
    redisReply *rs[MAX_READS];
    size_t nr, total;
    int backlog;                /* stopped at batch_max with entries waiting */
    size_t per[AGG_MAX_PARTITIONS], n[AGG_MAX_PARTITIONS];
    const redisReply **ents[AGG_MAX_PARTITIONS];
    agg_batch *b[AGG_MAX_PARTITIONS];
    agg_apply_result res[AGG_MAX_PARTITIONS];
} agg_round;

typedef struct {
    proto_conf conf;
    agg_metrics m;
    redisContext *rc;
    agg_round round[2];         /* the round being applied and the next */
    char me[96];
    char keys[AGG_MAX_PARTITIONS][PROTO_KEY_MAX];
    int owned[AGG_MAX_PARTITIONS];
    int need_claim[AGG_MAX_PARTITIONS];
    int need_pel[AGG_MAX_PARTITIONS];
    long long last_lease, last_alert, last_rescan, last_trim;
    int backoff_ms;
    scan_camp *camps;
    size_t ncamps;
} agg;

/* Records the stop signal. */
static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

/* Returns the wall-clock time in ms. */
static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Returns the monotonic time in ns. */
static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---------------------------------------------------------------- redis */

/* Drops the connection after an error, so the next round reconnects and
 * re-reads every unacknowledged entry; never fails. */
static void disconnect(agg *a, const char *why)
{
    if (!a->rc)
        return;
    proto_warn("redis: connection dropped", "why=\"%s\"", why);
    agg_inc(a->m.redis_failures);
    redisFree(a->rc);
    a->rc = NULL;
    atomic_store(&a->m.redis_up, 0);
    for (int p = 0; p < a->conf.partitions; p++)
        a->need_pel[p] = 1;
}

/* Runs one command, dropping the connection on a transport error.
 * Returns the reply (caller frees) or NULL. */
static redisReply *cmd(agg *a, const char *fmt, ...)
{
    va_list ap;
    if (!a->rc)
        return NULL;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(a->rc, fmt, ap);
    va_end(ap);
    if (!r)
        disconnect(a, a->rc->errstr);
    return r;
}

/* Connects, authenticates, loads scripts and creates the consumer groups.
 * Returns 0, or -1 (logged once per outage). */
static int connect_redis(agg *a)
{
    char where[300], err[256];
    agg_redis_failure why;
    a->rc = agg_redis_connect(&a->conf, 2000, 5000, where, sizeof where, &why, err, sizeof err);
    if (!a->rc) {
        if (atomic_load(&a->m.redis_up) || a->backoff_ms == 0 || why == AGG_REDIS_REFUSED)
            proto_warn("redis: cannot connect", "redis=%s err=\"%s\"", where, err);
        return -1;
    }
    redisReply *r = NULL;
    if (agg_scripts_load(a->rc) < 0)
        goto fail;
    for (int p = 0; p < a->conf.partitions; p++) {
        /* from 0: hits written before the first start are counted too */
        if (!(r = cmd(a, "XGROUP CREATE %s %s 0 MKSTREAM", a->keys[p], GROUP)))
            goto fail;
        if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0)
            goto fail;
        freeReplyObject(r);
        r = NULL;
    }
    atomic_store(&a->m.redis_up, 1);
    proto_info("redis: connected", "consumer=%s partitions=%d", a->me, a->conf.partitions);
    a->backoff_ms = 0;
    return 0;
fail:
    proto_error("redis: set-up failed", "err=\"%s\"",
                r && r->type == REDIS_REPLY_ERROR ? r->str : (a->rc ? a->rc->errstr : "connection lost"));
    freeReplyObject(r);
    if (a->rc) {
        redisFree(a->rc);
        a->rc = NULL;
    }
    return -1;
}

/* ---------------------------------------------------------------- leases */

/* Renews held leases and takes free ones (or ones held under this
 * consumer's own name: a restarted aggregator takes over at once); never
 * fails (errors drop the connection). */
static void leases(agg *a)
{
    char key[PROTO_KEY_MAX];
    static const char take[] =
        "local v = redis.call('GET', KEYS[1]) "
        "if not v or v == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end "
        "return 0";
    for (int p = 0; p < a->conf.partitions && a->rc; p++) {
        proto_key_lease(key, sizeof key, a->conf.prefix, (unsigned)p);
        redisReply *r = cmd(a, "EVAL %s 1 %s %s %d", take, key, a->me, LEASE_MS);
        if (!r)
            return;
        int held = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
        if (held && !a->owned[p]) {
            proto_info("partition taken", "partition=%d consumer=%s", p, a->me);
            a->need_claim[p] = a->need_pel[p] = 1;
        } else if (!held && a->owned[p]) {
            proto_warn("partition lost to another aggregator", "partition=%d", p);
        }
        a->owned[p] = held;
        atomic_store(&a->m.owned[p], held);
        freeReplyObject(r);
    }
}

/* Moves every pending entry of the partition (a dead consumer's too) to
 * this consumer. Returns 0 or -1. */
static int claim(agg *a, int p)
{
    char start[64] = "0-0";
    for (int guard = 0; guard < 100000; guard++) {
        redisReply *r = cmd(a, "XAUTOCLAIM %s %s %s 0 %s COUNT 1000 JUSTID", a->keys[p], GROUP,
                            a->me, start);
        if (!r)
            return -1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
            r->element[0]->type != REDIS_REPLY_STRING) {
            proto_error("XAUTOCLAIM failed", "partition=%d err=\"%s\"", p,
                        r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
            freeReplyObject(r);
            return -1;
        }
        snprintf(start, sizeof start, "%s", r->element[0]->str);
        freeReplyObject(r);
        if (strcmp(start, "0-0") == 0)
            return 0;
    }
    return 0;
}

/* ---------------------------------------------------------------- apply loop */

/* Appends the XACK of n entries of partition p (one reply owed, even
 * for none). Returns 0 or -1 (out of memory). */
static int append_ack(agg *a, int p, const redisReply *const *ents, size_t n)
{
    proto_resp args = {0}, out = {0};
    proto_resp_str(&args, "XACK");
    proto_resp_str(&args, a->keys[p]);
    proto_resp_str(&args, GROUP);
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = ents[i];
        if (e->type == REDIS_REPLY_ARRAY && e->elements == 2 && e->element[0]->type == REDIS_REPLY_STRING)
            proto_resp_arg(&args, e->element[0]->str, e->element[0]->len);
    }
    if (args.nargs < 4)
        proto_resp_str(&args, "0-0"); /* keep one reply per XACK */
    proto_resp_command(&out, &args);
    int rc = out.oom || redisAppendFormattedCommand(a->rc, out.data, out.len) != REDIS_OK ? -1 : 0;
    proto_resp_free(&args);
    proto_resp_free(&out);
    return rc;
}

/* Reads n XACK replies. Returns 0, or -1 (logged; connection dropped). */
static int take_acks(agg *a, int n)
{
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(a->rc, (void **)&r) != REDIS_OK || r->type == REDIS_REPLY_ERROR) {
            proto_error("XACK failed", "err=\"%s\"", r ? r->str : a->rc->errstr);
            freeReplyObject(r);
            disconnect(a, "XACK failed");
            return -1;
        }
        freeReplyObject(r);
    }
    return 0;
}

/* Applies and acknowledges n entries of partition p (stream order).
 * Returns 0 or -1 (the connection is dropped). */
static int process(agg *a, int p, const redisReply *const *ents, size_t n)
{
    agg_apply_result res;
    uint64_t t0 = mono_ns();
    if (agg_apply(a->rc, &a->conf, (unsigned)p, ents, n, &res) < 0) {
        agg_add(a->m.conflicts, res.conflicts);
        disconnect(a, "apply failed");
        return -1;
    }
    /* acknowledge only now that every update is durable in Redis */
    if (append_ack(a, p, ents, n) < 0) {
        disconnect(a, "out of memory");
        return -1;
    }
    if (take_acks(a, 1) < 0)
        return -1;
    agg_add(a->m.applied, res.applied);
    agg_add(a->m.skipped, res.skipped);
    agg_add(a->m.duplicates, res.duplicates);
    agg_add(a->m.malformed, res.malformed);
    agg_inc(a->m.batches);
    proto_hist_observe(&a->m.batch_latency, mono_ns() - t0);
    return 0;
}

/* Returns the partition whose stream key is name, or -1. */
static int part_of(const agg *a, const char *name)
{
    for (int p = 0; p < a->conf.partitions; p++)
        if (strcmp(a->keys[p], name) == 0)
            return p;
    return -1;
}

/* Appends one XREADGROUP for new entries of every owned partition
 * (blocking up to block_ms if > 0) to rc's output. Returns 0 or -1. */
static int append_read(agg *a, int block_ms)
{
    const char *av[8 + 2 * AGG_MAX_PARTITIONS];
    size_t al[8 + 2 * AGG_MAX_PARTITIONS];
    char count[16], blk[16];
    int ac = 0;
    snprintf(count, sizeof count, "%d", a->conf.batch);
    snprintf(blk, sizeof blk, "%d", block_ms);
    av[ac++] = "XREADGROUP";
    av[ac++] = "GROUP";
    av[ac++] = GROUP;
    av[ac++] = a->me;
    av[ac++] = "COUNT";
    av[ac++] = count;
    if (block_ms > 0) {
        av[ac++] = "BLOCK";
        av[ac++] = blk;
    }
    av[ac++] = "STREAMS";
    for (int p = 0; p < a->conf.partitions; p++)
        if (a->owned[p])
            av[ac++] = a->keys[p];
    for (int p = 0; p < a->conf.partitions; p++)
        if (a->owned[p])
            av[ac++] = ">";
    for (int i = 0; i < ac; i++)
        al[i] = strlen(av[i]);
    return redisAppendCommandArgv(a->rc, ac, av, al) == REDIS_OK ? 0 : -1;
}

/* Reads the reply of an appended XREADGROUP into round r. Returns 1 if it
 * came back full (more entries are waiting), 0 if not, -1 on an error
 * (logged; the connection is dropped). */
static int take_read(agg *a, agg_round *r)
{
    redisReply *rep = agg_arena_reply(r->arena, a->rc);
    if (!rep) {
        disconnect(a, a->rc->err ? a->rc->errstr : "out of memory");
        return -1;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        proto_error("XREADGROUP failed", "err=\"%s\"", rep->str);
        /* a deleted stream: reconnecting recreates the group */
        disconnect(a, strncmp(rep->str, "NOGROUP", 7) == 0 ? "consumer group missing" : "read failed");
        return -1;
    }
    if (rep->type != REDIS_REPLY_ARRAY)
        return 0;                       /* nil: BLOCK timed out */
    if (r->nr == MAX_READS) {           /* never: callers read at most that many */
        disconnect(a, "too many reads in a round");
        return -1;
    }
    int full = 0;
    r->rs[r->nr++] = rep;
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *s = rep->element[i];
        int p = part_of(a, s->element[0]->str);
        if (p < 0)
            continue;
        r->per[p] += s->element[1]->elements;
        r->total += s->element[1]->elements;
        full |= s->element[1]->elements >= (size_t)a->conf.batch;
    }
    return full;
}

/* Gathers a round: after the first read (blocking BLOCK_MS if block),
 * keeps reading for batch_wait_ms or until batch_max entries, so that a
 * campaign's hits of the round share one script call. Sets r->backlog when
 * it stopped at batch_max with entries still waiting. Returns 0 or -1. */
static int gather(agg *a, agg_round *r, int block)
{
    uint64_t until = 0;
    for (;;) {
        int wait = 0;
        if (r->nr == 0) {
            wait = block ? BLOCK_MS : 0;
        } else {
            uint64_t now = mono_ns();
            wait = now < until ? (int)((until - now + 999999) / 1000000) : 0;
        }
        if (append_read(a, wait) < 0) {
            disconnect(a, "out of memory");
            return -1;
        }
        int full = take_read(a, r);
        if (full < 0)
            return -1;
        if (!r->total)
            return 0;                   /* nothing new: the round is over */
        if (r->total >= (size_t)a->conf.batch_max || r->nr == MAX_READS || stopping) {
            r->backlog = full;
            return 0;
        }
        if (!until)                     /* the first entries start the window */
            until = mono_ns() + (uint64_t)a->conf.batch_wait_ms * 1000000u;
        if (!full && mono_ns() >= until)
            return 0;
    }
}

/* Makes one batch per owned partition of round r (stage 0). Returns 0 or
 * -1 (out of memory; the connection is dropped). */
static int round_batches(agg *a, agg_round *r)
{
    for (int p = 0; p < a->conf.partitions; p++) {
        if (!r->per[p] || !a->owned[p])
            continue;
        r->ents[p] = malloc(r->per[p] * sizeof *r->ents[p]);
        if (!r->ents[p]) {
            disconnect(a, "out of memory");
            return -1;
        }
        size_t n = 0;
        for (size_t k = 0; k < r->nr; k++) {
            for (size_t i = 0; i < r->rs[k]->elements; i++) {
                const redisReply *s = r->rs[k]->element[i];
                if (part_of(a, s->element[0]->str) != p)
                    continue;
                for (size_t j = 0; j < s->element[1]->elements; j++)
                    r->ents[p][n++] = s->element[1]->element[j];
            }
        }
        r->n[p] = n;
        r->b[p] = agg_batch_new(&a->conf, (unsigned)p, r->ents[p], n, &r->res[p]);
        if (!r->b[p]) {
            disconnect(a, "out of memory");
            return -1;
        }
    }
    return 0;
}

/* Empties round r for reuse (its replies and batches); never fails. */
static void round_clear(agg_round *r)
{
    for (int p = 0; p < AGG_MAX_PARTITIONS; p++) {
        agg_batch_free(r->b[p]);
        free(r->ents[p]);
    }
    agg_arena *keep = r->arena;
    agg_arena_reset(keep);
    memset(r, 0, sizeof *r);
    r->arena = keep;
}

/* Reads new entries and applies them, round after round while a backlog
 * lasts (at most PIPELINE_MS, so leases are renewed), pipelined on the one
 * connection: the next round is read while this one is pre-aggregated in
 * C, and parsed while Redis runs this one's scripts; its watermark reads
 * are sent after those scripts, so they see their updates; a round's XACK
 * goes once its scripts succeeded, ahead of the next round's reads.
 * Returns the number of entries applied and acknowledged. */
static size_t read_and_apply(agg *a, int block)
{
    agg_round *cur = &a->round[0], *nxt = &a->round[1];
    size_t done = 0, counted = 0;
    int acks = 0;
    uint64_t t0 = mono_ns();
    if (gather(a, cur, block) < 0 || !cur->total)
        goto out;
    while (cur->total && a->rc) {
        uint64_t ts = mono_ns();
        if (round_batches(a, cur) < 0)
            goto out;
        for (int p = 0; p < a->conf.partitions; p++)
            if (cur->b[p] && agg_apply_send_reads(a->rc, cur->b[p]) < 0)
                goto fail;
        int ahead = cur->backlog && !stopping && mono_ns() - t0 < PIPELINE_MS * 1000000ull;
        int owned = 0;
        for (int p = 0; p < a->conf.partitions; p++)
            owned += a->owned[p];
        /* each read returns up to batch entries per owned partition */
        int per_read = a->conf.batch * (owned ? owned : 1);
        int reads = ahead ? (a->conf.batch_max + per_read - 1) / per_read : 0;
        if (reads > MAX_READS)
            reads = MAX_READS;
        for (int i = 0; i < reads; i++)
            if (append_read(a, 0) < 0)
                goto fail;
        proto_debug("round", "entries=%zu reads_ahead=%d", cur->total, reads);
        if (agg_flush(a->rc) < 0 || take_acks(a, acks) < 0)
            goto fail;
        done += counted;
        acks = 0;
        counted = 0;
        for (int p = 0; p < a->conf.partitions; p++)
            if (cur->b[p] && agg_apply_send_calls(a->rc, cur->b[p], &a->conf, &cur->res[p]) < 0)
                goto fail;
        if (agg_flush(a->rc) < 0)
            goto fail;
        int full = 0;
        for (int i = 0; i < reads; i++) {
            full = take_read(a, nxt);
            if (full < 0)
                goto out;
        }
        nxt->backlog = full;
        for (int p = 0; p < a->conf.partitions; p++) {
            if (!cur->b[p])
                continue;
            agg_apply_result *res = &cur->res[p];
            if (agg_apply_finish(a->rc, cur->b[p], (unsigned)p, res) < 0) {
                agg_add(a->m.conflicts, res->conflicts);
                goto fail;
            }
            if (append_ack(a, p, cur->ents[p], cur->n[p]) < 0)
                goto fail;
            acks++;
            counted += cur->n[p];
            agg_add(a->m.applied, res->applied);
            agg_add(a->m.skipped, res->skipped);
            agg_add(a->m.duplicates, res->duplicates);
            agg_add(a->m.malformed, res->malformed);
            agg_inc(a->m.batches);
        }
        proto_hist_observe(&a->m.batch_latency, mono_ns() - ts);
        round_clear(cur);
        agg_round *t = cur;
        cur = nxt;
        nxt = t;
    }
    if (acks && agg_flush(a->rc) == 0 && take_acks(a, acks) == 0)
        done += counted;
    goto out;
fail:
    disconnect(a, "apply failed");
out:
    round_clear(cur);
    round_clear(nxt);
    return done;
}

/* Reads and applies one round: each owned partition's own pending entries
 * first, then new entries of all owned partitions. Returns the number of
 * entries handled. */
static size_t round_once(agg *a)
{
    size_t done = 0;
    int nowned = 0;
    for (int p = 0; p < a->conf.partitions && a->rc; p++) {
        if (!a->owned[p])
            continue;
        nowned++;
        if (a->need_claim[p]) {
            if (claim(a, p) < 0)
                return done;
            a->need_claim[p] = 0;
        }
        while (a->need_pel[p] && a->rc && !stopping) {
            redisReply *r = cmd(a, "XREADGROUP GROUP %s %s COUNT %d STREAMS %s 0", GROUP, a->me,
                                a->conf.batch_max, a->keys[p]);
            if (!r)
                return done;
            if (r->type == REDIS_REPLY_ERROR) { /* keep need_pel: read them after reconnecting */
                proto_error("XREADGROUP of pending entries failed", "partition=%d err=\"%s\"", p, r->str);
                freeReplyObject(r);
                disconnect(a, "pending read failed");
                return done;
            }
            const redisReply *es = r->type == REDIS_REPLY_ARRAY && r->elements == 1
                                       ? r->element[0]->element[1] : NULL;
            if (!es || es->elements == 0) {
                a->need_pel[p] = 0;
            } else if (process(a, p, (const redisReply *const *)es->element, es->elements) == 0) {
                done += es->elements;
            }
            freeReplyObject(r);
        }
    }
    if (!a->rc || !nowned) {
        if (!nowned)
            usleep(BLOCK_MS * 1000);
        return done;
    }
    return done + read_and_apply(a, !done);
}

/* ---------------------------------------------------------------- alerts */

/* Refreshes the campaigns list from ag:campaigns, keeping cursors. Returns
 * 0 or -1. */
static int refresh_campaigns(agg *a)
{
    char key[PROTO_KEY_MAX];
    proto_key_campaigns(key, sizeof key, a->conf.prefix);
    redisReply *r = cmd(a, "ZRANGE %s 0 -1", key);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }
    scan_camp *n = calloc(r->elements ? r->elements : 1, sizeof *n);
    if (!n) {
        freeReplyObject(r);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < r->elements; i++) {
        proto_hit h;
        unsigned seen = 0;
        proto_hit_init(&h);
        if (r->element[i]->type != REDIS_REPLY_STRING ||
            proto_hit_set(&h, &seen, "c", 1, r->element[i]->str, r->element[i]->len) != PROTO_OK)
            continue; /* never build a key from a name that is not a campaign id */
        snprintf(n[k].name, sizeof n[k].name, "%s", r->element[i]->str);
        n[k].cursor = -1;
        for (size_t j = 0; j < a->ncamps; j++)
            if (strcmp(a->camps[j].name, n[k].name) == 0)
                n[k].cursor = a->camps[j].cursor;
        k++;
    }
    freeReplyObject(r);
    free(a->camps);
    a->camps = n;
    a->ncamps = k;
    return 0;
}

/* Raises due followup_overdue alerts for the campaigns of owned partitions;
 * never fails (errors drop the connection). */
static void scan_alerts(agg *a, int full)
{
    char key[PROTO_KEY_MAX];
    long long now = now_ms();
    if (refresh_campaigns(a) < 0)
        return;
    size_t n = a->ncamps ? a->ncamps : 1;
    int *mine = calloc(n, sizeof *mine), *sla = calloc(n, sizeof *sla);
    redisReply **replies = calloc(n, sizeof *replies);
    if (!mine || !sla || !replies)
        goto out;                       /* nothing sent yet: the connection is in step */
    /* from here on, a failure drops the connection: replies would be out of step */
    for (size_t i = 0; i < a->ncamps; i++) {
        unsigned p = proto_partition(a->camps[i].name, (unsigned)a->conf.partitions);
        mine[i] = a->owned[p];
        if (!mine[i])
            continue;
        if (full)
            a->camps[i].cursor = -1;
        proto_key_campaign_sub(key, sizeof key, a->conf.prefix, a->camps[i].name, "cfg");
        if (redisAppendCommand(a->rc, "HGET %s followup_sla_s", key) != REDIS_OK) {
            disconnect(a, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < a->ncamps; i++) {
        if (!mine[i])
            continue;
        redisReply *r = NULL;
        if (redisGetReply(a->rc, (void **)&r) != REDIS_OK) {
            disconnect(a, a->rc->errstr);
            goto out;
        }
        int v = r->type == REDIS_REPLY_STRING ? atoi(r->str) : 0;
        sla[i] = v > 0 ? v : a->conf.followup_sla_s;
        freeReplyObject(r);
    }
    /* the overdue signups of every campaign, one pipeline */
    for (size_t i = 0; i < a->ncamps; i++) {
        if (!mine[i])
            continue;
        scan_camp *c = &a->camps[i];
        long long cutoff = now - (long long)sla[i] * 1000;
        /* re-examine a minute behind the cursor: late (replayed) signups */
        long long from = c->cursor < 0 ? -1 : c->cursor - 60000;
        proto_key_campaign_sub(key, sizeof key, a->conf.prefix, c->name, "pending");
        int arc = from < 0 ? redisAppendCommand(a->rc, "ZRANGEBYSCORE %s -inf %lld WITHSCORES LIMIT 0 1000",
                                                key, cutoff)
                           : redisAppendCommand(a->rc, "ZRANGEBYSCORE %s %lld %lld WITHSCORES LIMIT 0 1000",
                                                key, from, cutoff);
        if (arc != REDIS_OK) {
            disconnect(a, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < a->ncamps; i++) {
        if (!mine[i])
            continue;
        if (redisGetReply(a->rc, (void **)&replies[i]) != REDIS_OK) {
            disconnect(a, a->rc->errstr);
            goto out;
        }
    }
    for (size_t i = 0; i < a->ncamps && a->rc; i++) {
        const redisReply *r = replies[i];
        if (!mine[i] || r->type != REDIS_REPLY_ARRAY)
            continue;
        scan_camp *c = &a->camps[i];
        for (size_t j = 0; j + 1 < r->elements && a->rc; j += 2) {
            long long st = atoll(r->element[j + 1]->str);
            int raised = agg_alert_raise(a->rc, &a->conf, c->name, r->element[j]->str, st, now, sla[i]);
            if (raised == 1) {
                agg_inc(a->m.alerts_raised);
                proto_info("followup overdue: alert raised", "campaign=%s waited_s=%lld sla_s=%d",
                           c->name, (now - st) / 1000, sla[i]);
            } else if (raised < 0) {
                disconnect(a, "alert failed");
            }
            if (st > c->cursor && r->elements < 2000)
                c->cursor = st;
        }
        if (r->elements == 0 && c->cursor < 0)
            c->cursor = now - (long long)sla[i] * 1000;
    }
out:
    for (size_t i = 0; replies && i < a->ncamps; i++)
        freeReplyObject(replies[i]);
    free(replies);
    free(mine);
    free(sla);
}

/* ---------------------------------------------------------------- trim, lag */

/* Reads the aggregator group's last delivered id (into last, cap bytes)
 * and lag of partition p. Returns 0, or -1 (no such group, or the
 * connection dropped). */
static int group_state(agg *a, int p, char *last, size_t cap, long long *lag)
{
    int found = -1;
    redisReply *r = cmd(a, "XINFO GROUPS %s", a->keys[p]);
    if (!r)
        return -1;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && found < 0; i++) {
        redisReply *g = r->element[i];
        const char *name = NULL, *ld = NULL;
        long long lg = -1;
        for (size_t j = 0; j + 1 < g->elements; j += 2) {
            const char *f = g->element[j]->str;
            if (!strcmp(f, "name"))
                name = g->element[j + 1]->str;
            else if (!strcmp(f, "last-delivered-id"))
                ld = g->element[j + 1]->str;
            else if (!strcmp(f, "lag") && g->element[j + 1]->type == REDIS_REPLY_INTEGER)
                lg = g->element[j + 1]->integer;
        }
        if (name && ld && strcmp(name, GROUP) == 0) {
            snprintf(last, cap, "%s", ld);
            *lag = lg;
            found = 0;
        }
    }
    freeReplyObject(r);
    return found;
}

/* Trims owned streams below what is applied, acknowledged and older than
 * keep_hours (the safe MINID is computed here: XTRIM ignores pending
 * entries); never fails. */
static void trim(agg *a)
{
    long long keep = now_ms() - (long long)a->conf.keep_hours * 3600000LL;
    for (int p = 0; p < a->conf.partitions && a->rc; p++) {
        char minid[64], last[64];
        long long lag;
        if (!a->owned[p])
            continue;
        snprintf(minid, sizeof minid, "%lld-0", keep > 0 ? keep : 0);
        /* nothing from the oldest pending entry on is applied for sure */
        redisReply *r = cmd(a, "XPENDING %s %s", a->keys[p], GROUP);
        if (!r)
            return;
        if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 && r->element[0]->type == REDIS_REPLY_INTEGER &&
            r->element[0]->integer > 0 && r->element[1]->type == REDIS_REPLY_STRING &&
            proto_stream_id_cmp(r->element[1]->str, minid) < 0)
            snprintf(minid, sizeof minid, "%s", r->element[1]->str);
        freeReplyObject(r);
        /* nor anything above the group's last delivered id */
        if (group_state(a, p, last, sizeof last, &lag) < 0)
            continue;
        if (proto_stream_id_cmp(last, minid) < 0)
            snprintf(minid, sizeof minid, "%s", last);
        r = cmd(a, "XTRIM %s MINID ~ %s", a->keys[p], minid);
        if (!r)
            return;
        if (r->type == REDIS_REPLY_INTEGER)
            agg_add(a->m.trimmed, (uint64_t)r->integer);
        freeReplyObject(r);
    }
}

/* Updates the lag gauge of every partition (0 where not owned); never fails. */
static void update_lag(agg *a)
{
    for (int p = 0; p < a->conf.partitions && a->rc; p++) {
        char last[64];
        long long lag = 0;
        if (a->owned[p] && (group_state(a, p, last, sizeof last, &lag) < 0 || lag < 0))
            continue;
        atomic_store(&a->m.lag[p], lag);
    }
}

/* ---------------------------------------------------------------- main */

/* Prints usage. */
static void usage(FILE *out)
{
    fprintf(out, "usage: actiongap-aggregator [--config FILE] [--key value ...]\n"
                 "Rolls the hit streams into per-campaign counters exactly once and raises\n"
                 "follow-up alerts (see docs/SPEC.md).\n\n");
    proto_conf_usage(out);
}

int main(int argc, char **argv)
{
    static agg a;
    char err[512], host[64] = "host";
    int rest[16], nrest;
    proto_log_set_prog("aggregator");
    /* A batch allocates and frees megabytes at once: keep them in the heap
     * instead of fresh mmaps that the kernel zeroes each time. */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    }
    if (proto_conf_load(&a.conf, argc, argv, rest, 16, &nrest, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (nrest) {
        fprintf(stderr, "config: %s: unknown option\n", argv[rest[0]]);
        return 2;
    }
    if (a.conf.partitions > AGG_MAX_PARTITIONS) {
        fprintf(stderr, "config: partitions: at most %d\n", AGG_MAX_PARTITIONS);
        return 2;
    }
    proto_log_set_level(a.conf.log_level);
    gethostname(host, sizeof host - 1);
    if (a.conf.consumer[0])
        snprintf(a.me, sizeof a.me, "%s", a.conf.consumer);
    else
        snprintf(a.me, sizeof a.me, "%s-%d", host, (int)getpid());
    for (int p = 0; p < a.conf.partitions; p++)
        proto_key_hits(a.keys[p], sizeof a.keys[p], a.conf.prefix, (unsigned)p);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    a.round[0].arena = agg_arena_new();
    a.round[1].arena = agg_arena_new();
    agg_server *srv = a.round[0].arena && a.round[1].arena ? agg_server_new(&a.conf, &a.m) : NULL;
    if (!srv) {
        agg_arena_free(a.round[0].arena);
        agg_arena_free(a.round[1].arena);
        return 1;
    }
    agg_webhook *wh = agg_webhook_new(&a.conf, &a.m);
    proto_info("started", "consumer=%s metrics_listen=%s partitions=%d batch=%d", a.me,
               a.conf.metrics_listen, a.conf.partitions, a.conf.batch);
    while (!stopping) {
        if (!a.rc) {
            if (connect_redis(&a) < 0) {
                a.backoff_ms = a.backoff_ms ? (a.backoff_ms * 2 > 2000 ? 2000 : a.backoff_ms * 2) : 100;
                usleep((useconds_t)a.backoff_ms * 1000);
                continue;
            }
            a.last_lease = 0;
        }
        long long t = now_ms();
        if (t - a.last_lease >= LEASE_EVERY_MS) {
            leases(&a);
            update_lag(&a);
            a.last_lease = t;
        }
        round_once(&a);
        t = now_ms();
        if (a.rc && t - a.last_alert >= ALERT_EVERY_MS) {
            int full = t - a.last_rescan >= RESCAN_EVERY_MS;
            scan_alerts(&a, full);
            if (full)
                a.last_rescan = t;
            a.last_alert = t;
        }
        if (a.rc && t - a.last_trim >= TRIM_EVERY_MS) {
            trim(&a);
            a.last_trim = t;
        }
    }
    proto_info("stopping", "applied=%llu", (unsigned long long)agg_get(a.m.applied));
    /* give the leases back so another aggregator takes over at once */
    for (int p = 0; p < a.conf.partitions && a.rc; p++) {
        if (!a.owned[p])
            continue;
        char key[PROTO_KEY_MAX];
        proto_key_lease(key, sizeof key, a.conf.prefix, (unsigned)p);
        redisReply *r = cmd(&a, "EVAL %s 1 %s %s",
                            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
                            key, a.me);
        freeReplyObject(r);
    }
    agg_webhook_free(wh);
    agg_server_free(srv);
    if (a.rc)
        redisFree(a.rc);
    free(a.camps);
    agg_arena_free(a.round[0].arena);
    agg_arena_free(a.round[1].arena);
    return 0;
}
