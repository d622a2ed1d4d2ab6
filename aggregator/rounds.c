/* rounds.c: the aggregator's read/apply/acknowledge loop: pending entries
 * first, then rounds of new entries, pipelined while a backlog lasts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "agg.h"
#include "log.h"
#include "resp.h"

#define PIPELINE_MS 500         /* rounds of a backlog run back to back this long */

/* Moves every pending entry of the partition (a dead consumer's too) to
 * this consumer. Returns 0 or -1. */
static int claim(agg *a, int p)
{
    char start[64] = "0-0";
    for (int guard = 0; guard < 100000; guard++) {
        redisReply *r = agg_cmd(a, "XAUTOCLAIM %s %s %s 0 %s COUNT 1000 JUSTID", a->keys[p],
                                AGG_GROUP, a->me, start);
        if (!r)
            return -1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
            r->element[0]->type != REDIS_REPLY_STRING) {
            sys_error("XAUTOCLAIM failed", "partition=%d err=\"%s\"", p,
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

/* Appends the XACK of n entries of partition p (one reply owed, even
 * for none). Returns 0 or -1 (out of memory). */
static int append_ack(agg *a, int p, const redisReply *const *ents, size_t n)
{
    proto_resp args = {0}, out = {0};
    proto_resp_str(&args, "XACK");
    proto_resp_str(&args, a->keys[p]);
    proto_resp_str(&args, AGG_GROUP);
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
            sys_error("XACK failed", "err=\"%s\"", r ? r->str : a->rc->errstr);
            freeReplyObject(r);
            agg_disconnect(a, "XACK failed");
            return -1;
        }
        freeReplyObject(r);
    }
    return 0;
}

/* Adds what applying a batch did to the metrics; never fails. */
static void count(agg *a, const agg_apply_result *res)
{
    agg_add(a->m.applied, res->applied);
    agg_add(a->m.skipped, res->skipped);
    agg_add(a->m.duplicates, res->duplicates);
    agg_add(a->m.malformed, res->malformed);
    agg_inc(a->m.batches);
}

/* Applies and acknowledges n entries of partition p (stream order).
 * Returns 0 or -1 (the connection is dropped). */
static int process(agg *a, int p, const redisReply *const *ents, size_t n)
{
    agg_apply_result res;
    uint64_t t0 = sys_mono_ns();
    if (agg_apply(a->rc, &a->conf, (unsigned)p, ents, n, &res) < 0) {
        agg_add(a->m.conflicts, res.conflicts);
        agg_disconnect(a, "apply failed");
        return -1;
    }
    /* acknowledge only now that every update is durable in Redis */
    if (append_ack(a, p, ents, n) < 0) {
        agg_disconnect(a, "out of memory");
        return -1;
    }
    if (take_acks(a, 1) < 0)
        return -1;
    count(a, &res);
    proto_hist_observe(&a->m.batch_latency, sys_mono_ns() - t0);
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
    av[ac++] = AGG_GROUP;
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
        agg_disconnect(a, a->rc->err ? a->rc->errstr : "out of memory");
        return -1;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        sys_error("XREADGROUP failed", "err=\"%s\"", rep->str);
        /* a deleted stream: reconnecting recreates the group */
        agg_disconnect(a, strncmp(rep->str, "NOGROUP", 7) == 0 ? "consumer group missing" : "read failed");
        return -1;
    }
    if (rep->type != REDIS_REPLY_ARRAY)
        return 0;                       /* nil: BLOCK timed out */
    if (r->nr == AGG_MAX_READS) {           /* never: callers read at most that many */
        agg_disconnect(a, "too many reads in a round");
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

/* Gathers a round: after the first read (blocking AGG_BLOCK_MS if block),
 * keeps reading for batch_wait_ms or until batch_max entries, so that a
 * campaign's hits of the round share one script call. Sets r->backlog when
 * it stopped at batch_max with entries still waiting. Returns 0 or -1. */
static int gather(agg *a, agg_round *r, int block)
{
    uint64_t until = 0;
    for (;;) {
        int wait = 0;
        if (r->nr == 0) {
            wait = block ? AGG_BLOCK_MS : 0;
        } else {
            uint64_t now = sys_mono_ns();
            wait = now < until ? (int)((until - now + 999999) / 1000000) : 0;
        }
        if (append_read(a, wait) < 0) {
            agg_disconnect(a, "out of memory");
            return -1;
        }
        int full = take_read(a, r);
        if (full < 0)
            return -1;
        if (!r->total)
            return 0;                   /* nothing new: the round is over */
        if (r->total >= (size_t)a->conf.batch_max || r->nr == AGG_MAX_READS || agg_stopping) {
            r->backlog = full;
            return 0;
        }
        if (!until)                     /* the first entries start the window */
            until = sys_mono_ns() + (uint64_t)a->conf.batch_wait_ms * 1000000u;
        if (!full && sys_mono_ns() >= until)
            return 0;
    }
}

/* Makes one batch per owned partition of round r (stage 0). Returns 0 or
 * -1 (out of memory; the connection is dropped). */
static int round_batches(agg *a, agg_round *r)
{
    for (int p = 0; p < a->conf.partitions; p++) {
        if (r->per[p] && a->owned[p] && !(r->ents[p] = malloc(r->per[p] * sizeof *r->ents[p]))) {
            agg_disconnect(a, "out of memory");
            return -1;
        }
    }
    /* one pass over the replies, each stream's entries to its partition */
    for (size_t k = 0; k < r->nr; k++) {
        for (size_t i = 0; i < r->rs[k]->elements; i++) {
            const redisReply *s = r->rs[k]->element[i];
            int p = part_of(a, s->element[0]->str);
            if (p < 0 || !r->ents[p])
                continue;
            for (size_t j = 0; j < s->element[1]->elements; j++)
                r->ents[p][r->n[p]++] = s->element[1]->element[j];
        }
    }
    for (int p = 0; p < a->conf.partitions; p++) {
        if (!r->ents[p])
            continue;
        r->b[p] = agg_batch_new(&a->conf, (unsigned)p, r->ents[p], r->n[p], &r->res[p]);
        if (!r->b[p]) {
            agg_disconnect(a, "out of memory");
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
    uint64_t t0 = sys_mono_ns();
    if (gather(a, cur, block) < 0 || !cur->total)
        goto out;
    while (cur->total && a->rc) {
        uint64_t ts = sys_mono_ns();
        if (round_batches(a, cur) < 0)
            goto out;
        for (int p = 0; p < a->conf.partitions; p++)
            if (cur->b[p] && agg_apply_send_reads(a->rc, cur->b[p]) < 0)
                goto fail;
        int ahead = cur->backlog && !agg_stopping && sys_mono_ns() - t0 < PIPELINE_MS * 1000000ull;
        int owned = 0;
        for (int p = 0; p < a->conf.partitions; p++)
            owned += a->owned[p];
        /* each read returns up to batch entries per owned partition */
        int per_read = a->conf.batch * (owned ? owned : 1);
        int reads = ahead ? (a->conf.batch_max + per_read - 1) / per_read : 0;
        if (reads > AGG_MAX_READS)
            reads = AGG_MAX_READS;
        for (int i = 0; i < reads; i++)
            if (append_read(a, 0) < 0)
                goto fail;
        sys_debug("round", "entries=%zu reads_ahead=%d", cur->total, reads);
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
            count(a, res);
        }
        proto_hist_observe(&a->m.batch_latency, sys_mono_ns() - ts);
        round_clear(cur);
        agg_round *t = cur;
        cur = nxt;
        nxt = t;
    }
    if (acks && agg_flush(a->rc) == 0 && take_acks(a, acks) == 0)
        done += counted;
    goto out;
fail:
    agg_disconnect(a, "apply failed");
out:
    round_clear(cur);
    round_clear(nxt);
    return done;
}

/* Reads and applies one round: each owned partition's own pending entries
 * first, then new entries of all owned partitions. Returns the number of
 * entries handled. */
size_t agg_round_once(agg *a)
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
        while (a->need_pel[p] && a->rc && !agg_stopping) {
            redisReply *r = agg_cmd(a, "XREADGROUP GROUP %s %s COUNT %d STREAMS %s 0", AGG_GROUP, a->me,
                                a->conf.batch_max, a->keys[p]);
            if (!r)
                return done;
            if (r->type == REDIS_REPLY_ERROR) { /* keep need_pel: read them after reconnecting */
                sys_error("XREADGROUP of pending entries failed", "partition=%d err=\"%s\"", p, r->str);
                freeReplyObject(r);
                agg_disconnect(a, "pending read failed");
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
            usleep(AGG_BLOCK_MS * 1000);
        return done;
    }
    return done + read_and_apply(a, !done);
}
