/* rounds.c: the aggregator's read/apply/acknowledge loop — pending entries
 * first, then rounds of new entries, pipelined on the reply ledger while a
 * backlog lasts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agg.h"
#include "clock.h"
#include "log.h"
#include "resp.h"

#define PIPELINE_MS 500         /* rounds of a backlog run back to back this long */

/* What the reads of one round share with their handler. */
typedef struct {
    agg *a;
    agg_round *r;
    int full;                   /* the last read came back full */
    int group, left;            /* replies of the last read (one per partition on a
                                   cluster); left of them to come before full resets */
    int part[AGG_MAX_READS];    /* cluster: the partition of each read, in send order */
    int nsent, ntaken;
} reads;

/* Moves every pending entry of the partition (a dead consumer's too) to
 * this consumer. Returns 0 or -1. */
static int claim(agg *a, int p)
{
    char start[64] = "0-0";
    for (int guard = 0; guard < 100000; guard++) {
        redisReply *r = agg_cmd(a, "XAUTOCLAIM %s %s %s 0 %s COUNT 1000 JUSTID", a->keys[p],
                                AGG_GROUP, a->me, start);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
            r->element[0]->type != REDIS_REPLY_STRING) {
            sys_error("XAUTOCLAIM failed", "partition=%d err=\"%s\"", p,
                      r ? "unexpected reply" : sys_redis_err(a->r));
            if (r)
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

/* Takes the reply of an XACK, or of a round's XCLAIM or cursor move; an
 * error stops the run. */
static int on_ack(void *arg, redisReply *rep, size_t i)
{
    (void)arg;
    (void)i;
    /* NODEDOWN: a cluster node went away; the entries stay pending, or
     * above the cursor, and are read again (and skipped by the watermark)
     * when it is back */
    int ok = rep->type != REDIS_REPLY_ERROR || sys_redis_nodedown(rep);
    if (!ok)
        sys_error("acknowledging applied entries failed", "err=\"%s\"", rep->str);
    freeReplyObject(rep);
    return ok ? 0 : -1;
}

/* Returns the id of stream entry e ([id, fields]), or NULL if e is not one. */
static const redisReply *entry_id(const redisReply *e)
{
    return e && e->type == REDIS_REPLY_ARRAY && e->elements == 2 && e->element[0]->type == REDIS_REPLY_STRING
               ? e->element[0]
               : NULL;
}

/* Queues the XACK of n entries of partition p, but those for which
 * held(arg, i) says a held campaign keeps them pending (held may be NULL).
 * Returns how many it queued, or -1. */
static long queue_ack(agg *a, int p, const redisReply *const *ents, size_t n,
                      int (*held)(const void *arg, size_t i), const void *arg)
{
    proto_resp args = {0}, out = {0};
    proto_resp_str(&args, "XACK");
    proto_resp_str(&args, a->keys[p]);
    proto_resp_str(&args, AGG_GROUP);
    for (size_t i = 0; i < n; i++) {
        const redisReply *id = entry_id(ents[i]);
        if (id && !(held && held(arg, i)))
            proto_resp_arg(&args, id->str, id->len);
    }
    long queued = (long)args.nargs - 3;
    if (args.nargs < 4) {               /* no id: nothing to acknowledge */
        proto_resp_free(&args);
        return 0;
    }
    proto_resp_command(&out, &args);
    long rc = out.oom || sys_redis_send(a->r, out.data, out.len, 1, on_ack, NULL, NULL, NULL) < 0
                  ? -1
                  : queued;
    proto_resp_free(&args);
    proto_resp_free(&out);
    return rc;
}

/* Queues what ends a round of partition p whose n entries (read with
 * NOACK) are applied: the done script (scripts.lua), which, while this
 * consumer holds the lease, makes the held campaigns' entries pending (read
 * again when the hold is retried) and moves the cursor to the last entry.
 * Returns 0 or -1. */
static int queue_done(agg *a, int p, const redisReply *const *ents, size_t n, const agg_batch *b)
{
    proto_resp args = {0}, out = {0};
    char lease[PROTO_KEY_MAX], cursor[PROTO_KEY_MAX];
    const redisReply *last = n ? entry_id(ents[n - 1]) : NULL;
    if (!last)
        return 0;
    proto_key_lease(lease, sizeof lease, a->conf.prefix, (unsigned)p);
    proto_key_applied(cursor, sizeof cursor, a->conf.prefix, (unsigned)p);
    proto_resp_str(&args, "EVALSHA");
    proto_resp_str(&args, agg_scripts_sha(AGG_SCRIPT_DONE));
    proto_resp_str(&args, "3");
    proto_resp_str(&args, lease);
    proto_resp_str(&args, a->keys[p]);
    proto_resp_str(&args, cursor);
    proto_resp_str(&args, a->me);
    proto_resp_str(&args, AGG_GROUP);
    proto_resp_arg(&args, last->str, last->len);
    for (size_t i = 0; i < n; i++) {
        const redisReply *id = entry_id(ents[i]);
        if (id && agg_batch_entry_held(b, i))
            proto_resp_arg(&args, id->str, id->len);
    }
    proto_resp_command(&out, &args);
    int rc = out.oom || sys_redis_send(a->r, out.data, out.len, 1, on_ack, NULL, NULL, NULL) < 0 ? -1 : 0;
    proto_resp_free(&args);
    proto_resp_free(&out);
    return rc;
}

/* Says whether flag i of an array (arg) is set. */
static int flag_held(const void *arg, size_t i)
{
    return ((const unsigned char *)arg)[i] != 0;
}

/* Says whether campaign c of partition p is held (agg_hold.known). */
static int hold_known(void *arg, unsigned p, const char *c)
{
    const agg *a = arg;
    for (int i = 0; i < a->nheld; i++)
        if (a->held_list[i].p == p && strcmp(a->held_list[i].name, c) == 0)
            return 1;
    return 0;
}

/* Records campaign c of partition p as held (agg_hold.report). Returns 0,
 * or -1 when AGG_HELD_MAX are held already. */
static int hold_report(void *arg, unsigned p, const char *c)
{
    agg *a = arg;
    a->poisoned = 1;
    a->held[p] = 1;
    if (hold_known(a, p, c))
        return 0;
    if (a->nheld == AGG_HELD_MAX)
        return -1;
    a->held_list[a->nheld].p = p;
    snprintf(a->held_list[a->nheld++].name, sizeof a->held_list[0].name, "%s", c);
    return 0;
}

void agg_held_retry(agg *a)
{
    for (int p = 0; p < a->conf.partitions; p++)
        if (a->held[p]) {
            a->held[p] = 0;
            a->need_pel[p] = 1;
        }
    a->nheld = 0;       /* tried again: held again if still poisoned */
}

/* Adds what applying a batch did to the metrics; never fails. */
static void count(agg *a, const agg_apply_result *res)
{
    agg_add(a->m.applied, res->applied);
    agg_add(a->m.skipped, res->skipped);
    agg_add(a->m.duplicates, res->duplicates);
    agg_add(a->m.malformed, res->malformed);
    agg_add(a->m.dead, res->dead);
    agg_add(a->m.poisoned, res->poisoned);
    agg_add(a->m.alerts_resolved, res->resolved);
    agg_inc(a->m.batches);
    if (res->resolved)
        a->outbox_due = 1;      /* the next alert scan moves them to ag:alerts */
}

/* Waits, when replicas_ack asks, until that many replicas of every node
 * written hold what was applied, so that a failover cannot take back a
 * count whose entries are acknowledged. Returns 0; 1 when they fell short
 * (a->unconfirmed set for the episode, said once: the caller leaves the
 * entries pending, to be read again, skipped by the watermark and
 * acknowledged once replicas confirm); -1 when Redis failed. */static int replicas_hold(agg *a)
{
    if (a->conf.replicas_ack == 0)
        return 0;
    int n = sys_redis_wait(a->r, a->conf.replicas_ack, a->conf.redis_timeout_ms);
    if (n >= a->conf.replicas_ack) {
        if (a->unconfirmed)
            sys_info("redis: replicas confirm the writes again", "replicas_ack=%d", a->conf.replicas_ack);
        a->unconfirmed = 0;
        return 0;
    }
    agg_inc(a->m.replicas_short);
    if (n >= 0 && !a->unconfirmed)
        sys_warn("redis: replicas did not confirm the writes in time; not acknowledging",
                 "replicas_ack=%d reached=%d timeout_ms=%d", a->conf.replicas_ack, n,
                 a->conf.redis_timeout_ms);
    a->unconfirmed = n >= 0;
    return n >= 0 ? 1 : -1;
}

/* Applies and acknowledges n entries of partition p (stream order), but
 * those of held campaigns. Returns how many were acknowledged, or -1 (the
 * connection is dropped). */
static long process(agg *a, int p, const redisReply *const *ents, size_t n)
{
    agg_apply_result res;
    uint64_t t0 = sys_mono_ns();
    unsigned char *held = calloc(n + 1, 1);
    const agg_hold h = {hold_known, hold_report, a};
    long acked;
    if (!held || agg_apply(a->r, &a->conf, (unsigned)p, ents, n, &res, held, &h) < 0) {
        agg_add(a->m.conflicts, held ? res.conflicts : 0);
        free(held);
        agg_disconnect(a, "apply failed");
        return -1;
    }
    /* acknowledge only now that every update is durable in Redis (and
     * its replicas, with replicas_ack: else they stay pending) */
    int rh = replicas_hold(a);
    if (rh == 1) {
        free(held);
        count(a, &res);
        return 0;
    }
    if (rh < 0 || (acked = queue_ack(a, p, ents, n, flag_held, held)) < 0 || sys_redis_run(a->r, 0) < 0) {
        free(held);
        agg_disconnect(a, "XACK failed");
        return -1;
    }
    free(held);
    count(a, &res);
    proto_hist_observe(&a->m.batch_latency, sys_mono_ns() - t0);
    return acked;
}

/* Returns the partition whose stream key is name, or -1. */
static int part_of(const agg *a, const char *name)
{
    for (int p = 0; p < a->conf.partitions; p++)
        if (strcmp(a->keys[p], name) == 0)
            return p;
    return -1;
}

/* Reads an XREADGROUP reply into the round's arena (the ledger's reader). */
static redisReply *arena_read(void *arg, redisContext *ctx)
{
    return agg_arena_reply(arg, ctx);
}

/* Takes the reply of a read of new entries into its round: records which
 * partition's entries came, and whether it came back full. Returns 0, or -1
 * (logged) on an error reply. */
static int on_read(void *arg, redisReply *rep, size_t i)
{
    reads *rd = arg;
    agg_round *r = rd->r;
    (void)i;
    if (rd->left-- <= 0) {              /* the first reply of a read */
        rd->full = 0;
        rd->left = rd->group - 1;
    }
    int p_of = rd->ntaken < rd->nsent ? rd->part[rd->ntaken++ % AGG_MAX_READS] : -1;
    if (p_of >= 0 && sys_redis_nodedown(rep)) {
        agg_partition_away(rd->a, p_of, rep->str);     /* the other partitions go on */
        return 0;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        /* NOGROUP: a deleted stream; reconnecting recreates the group */
        sys_error("XREADGROUP failed", "err=\"%s\"", rep->str);
        return -1;
    }
    if (rep->type != REDIS_REPLY_ARRAY)
        return 0;                       /* nil: BLOCK timed out */
    if (r->nr == AGG_MAX_READS)         /* never: callers read at most that many */
        return -1;
    r->rs[r->nr++] = rep;
    for (size_t k = 0; k < rep->elements; k++) {
        const redisReply *s = rep->element[k];
        int p = part_of(rd->a, s->element[0]->str);
        if (p < 0)
            continue;
        r->per[p] += s->element[1]->elements;
        r->total += s->element[1]->elements;
        rd->full |= s->element[1]->elements >= (size_t)rd->a->conf.batch;
    }
    return 0;
}

/* Queues one XREADGROUP NOACK for new entries of the owned partitions (only
 * partition `only` if >= 0), blocking up to block_ms if > 0, read into
 * rd's round. Returns 0 or -1. */
static int queue_read_of(agg *a, reads *rd, int block_ms, int only)
{
    proto_resp args = {0}, out = {0};
    proto_resp_str(&args, "XREADGROUP");
    proto_resp_str(&args, "GROUP");
    proto_resp_str(&args, AGG_GROUP);
    proto_resp_str(&args, a->me);
    proto_resp_str(&args, "COUNT");
    proto_resp_ll(&args, a->conf.batch);
    proto_resp_str(&args, "NOACK");     /* no pending entry each: the cursor says what is applied */
    if (block_ms > 0) {
        proto_resp_str(&args, "BLOCK");
        proto_resp_ll(&args, block_ms);
    }
    proto_resp_str(&args, "STREAMS");
    for (int p = 0; p < a->conf.partitions; p++)
        if (a->owned[p] && (only < 0 || p == only))
            proto_resp_str(&args, a->keys[p]);
    for (int p = 0; p < a->conf.partitions; p++)
        if (a->owned[p] && (only < 0 || p == only))
            proto_resp_str(&args, ">");
    proto_resp_command(&out, &args);
    int rc = out.oom || sys_redis_send(a->r, out.data, out.len, 1, on_read, rd, arena_read,
                                       rd->r->arena) < 0
                 ? -1
                 : 0;
    proto_resp_free(&args);
    proto_resp_free(&out);
    return rc;
}

/* Queues the reads of new entries of every owned partition: one
 * XREADGROUP on one node; on a cluster, where each partition's stream has
 * its own slot, one per partition, never blocking (the caller naps
 * instead). Returns the reads queued, or -1. */
static int queue_read(agg *a, reads *rd, int block_ms)
{
    rd->group = 1;
    if (!sys_redis_is_cluster(a->r))
        return queue_read_of(a, rd, block_ms, -1) < 0 ? -1 : 1;
    int n = 0;
    for (int p = 0; p < a->conf.partitions; p++)
        if (a->owned[p] && rd->r->nr + rd->nsent - rd->ntaken < AGG_MAX_READS) {
            if (queue_read_of(a, rd, 0, p) < 0)
                return -1;
            rd->part[rd->nsent++ % AGG_MAX_READS] = p;
            n++;
        }
    rd->group = n;
    return n;
}

/* Gathers a round: after the first read (blocking AGG_BLOCK_MS if block),
 * keeps reading for batch_wait_ms or until batch_max entries, so that a
 * campaign's hits of the round share one script call. Sets r->backlog when
 * it stopped at batch_max with entries still waiting. Returns 0 or -1 (the
 * connection is dropped). */
static int gather(agg *a, agg_round *r, int block)
{
    reads rd = {.a = a, .r = r};
    uint64_t until = 0;
    for (;;) {
        int wait = 0;
        if (r->nr == 0) {
            wait = block ? AGG_BLOCK_MS : 0;
        } else {
            uint64_t now = sys_mono_ns();
            wait = now < until ? (int)((until - now + 999999) / 1000000) : 0;
        }
        size_t before = r->total;
        if (queue_read(a, &rd, wait) < 0 || sys_redis_run(a->r, 0) < 0) {
            agg_disconnect(a, sys_redis_err(a->r));
            return -1;
        }
        if (wait > 0 && r->total == before && sys_redis_is_cluster(a->r))
            usleep((useconds_t)(wait < AGG_POLL_MS ? wait : AGG_POLL_MS) * 1000);  /* reads do not block */
        if (!r->total)
            return 0;                   /* nothing new: the round is over */
        if (r->total >= (size_t)a->conf.batch_max || r->nr == AGG_MAX_READS || agg_stopping) {
            r->backlog = rd.full;
            return 0;
        }
        if (!until)                     /* the first entries start the window */
            until = sys_mono_ns() + (uint64_t)a->conf.batch_wait_ms * 1000000u;
        if (!rd.full && sys_mono_ns() >= until)
            return 0;
    }
}

/* Makes one batch per owned partition of round r, with its job. Returns 0
 * or -1 (out of memory; the connection is dropped). */
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
        agg_batch_expiry(r->b[p], a->expiry);
        agg_apply_job_init(&r->job[p], r->b[p], (unsigned)p, &a->conf, &r->res[p]);
        const agg_hold h = {hold_known, hold_report, a};
        agg_apply_hold_known(r->b[p], &h, &r->res[p]);
    }
    return 0;
}

/* Empties round r for reuse (its replies, batches and jobs); never fails. */
static void round_clear(agg_round *r)
{
    for (int p = 0; p < AGG_MAX_PARTITIONS; p++) {
        agg_apply_job_clear(&r->job[p]);
        agg_batch_free(r->b[p]);
        free(r->ents[p]);
    }
    agg_arena *keep = r->arena;
    agg_arena_reset(keep);
    memset(r, 0, sizeof *r);
    r->arena = keep;
}

/* Reads new entries and applies them, round after round while a backlog
 * lasts (at most PIPELINE_MS, so leases are renewed), pipelined on the
 * ledger of the one connection: the next round is read while this one is
 * pre-aggregated in C, and parsed while Redis runs this one's scripts; its
 * watermark reads are sent after those scripts, so they see their
 * updates; a round's XACK goes once its scripts succeeded, ahead of the
 * next round's reads. Returns the number of entries applied and
 * acknowledged. */
static size_t read_and_apply(agg *a, int block)
{
    agg_round *cur = &a->round[0], *nxt = &a->round[1];
    size_t done = 0, counted = 0;
    uint64_t t0 = sys_mono_ns();
    if (gather(a, cur, block) < 0 || !cur->total)
        goto out;
    while (cur->total && a->up) {
        uint64_t ts = sys_mono_ns();
        reads ahead_rd = {.a = a, .r = nxt};
        if (round_batches(a, cur) < 0)
            goto out;
        for (int p = 0; p < a->conf.partitions; p++)
            if (cur->b[p] && agg_apply_send_reads(a->r, &cur->job[p]) < 0)
                goto fail;
        int ahead = cur->backlog && !agg_stopping && sys_mono_ns() - t0 < PIPELINE_MS * 1000000ull;
        int owned = 0;
        for (int p = 0; p < a->conf.partitions; p++)
            owned += a->owned[p];
        /* each read returns up to batch entries per owned partition */
        int per_read = a->conf.batch * (owned ? owned : 1);
        int nreads = ahead ? (a->conf.batch_max + per_read - 1) / per_read : 0;
        if (nreads > AGG_MAX_READS)
            nreads = AGG_MAX_READS;
        size_t owed_ahead = 0;      /* replies: one a read, one a partition's read on a cluster */
        for (int i = 0; i < nreads; i++) {
            int k = queue_read(a, &ahead_rd, 0);
            if (k < 0)
                goto fail;
            owed_ahead += (size_t)k;
        }
        sys_debug("round", "entries=%zu reads_ahead=%d", cur->total, nreads);
        /* the last round's XACKs and this round's reads; the reads ahead stay owed */
        if (sys_redis_flush(a->r) < 0 || sys_redis_run(a->r, owed_ahead) < 0)
            goto fail;
        done += counted;
        counted = 0;
        for (int p = 0; p < a->conf.partitions; p++)
            if (cur->b[p] && !cur->job[p].failed && agg_apply_send_calls(a->r, &cur->job[p]) < 0)
                goto fail;
        /* the reads ahead, then this round's script calls */
        if (sys_redis_flush(a->r) < 0 || sys_redis_run(a->r, 0) < 0)
            goto fail;
        /* poisoned campaigns' entries to their dead-letter streams */
        long ndead = 0;
        for (int p = 0; p < a->conf.partitions; p++) {
            long k = cur->b[p] ? agg_apply_send_dead(a->r, &cur->job[p]) : 0;
            if (k < 0)
                goto fail;
            ndead += k;
        }
        if (ndead && (sys_redis_flush(a->r) < 0 || sys_redis_run(a->r, 0) < 0))
            goto fail;
        /* nothing is owed here: WAIT may go; falling short leaves the
         * round's entries pending, read again once replicas confirm */
        int rh = replicas_hold(a);
        if (rh < 0)
            goto fail;
        int unconfirmed = rh == 1;
        nxt->backlog = ahead_rd.full;
        for (int p = 0; p < a->conf.partitions; p++) {
            if (!cur->b[p])
                continue;
            agg_apply_result *res = &cur->res[p];
            if (cur->job[p].failed) {
                agg_add(a->m.conflicts, res->conflicts);
                agg_add(a->m.poisoned, res->poisoned);
                goto fail;
            }
            const agg_hold h = {hold_known, hold_report, a};
            if (agg_apply_hold_report(cur->b[p], &h) < 0)
                goto fail;
            if (unconfirmed) {
                a->need_rewind[p] = 1;  /* applied; read again (skipped) once replicas confirm */
                count(a, res);
                continue;
            }
            if (queue_done(a, p, (const redisReply *const *)cur->ents[p], cur->n[p], cur->b[p]) < 0)
                goto fail;
            counted += cur->n[p];
            count(a, res);
        }
        proto_hist_observe(&a->m.batch_latency, sys_mono_ns() - ts);
        if (unconfirmed) {
            /* the reads ahead too are read again: no backlog piled on unconfirmed writes */
            for (int p = 0; p < a->conf.partitions; p++)
                a->need_rewind[p] |= a->owned[p];
            break;
        }
        round_clear(cur);
        agg_round *t = cur;
        cur = nxt;
        nxt = t;
    }
    if (counted && sys_redis_flush(a->r) == 0 && sys_redis_run(a->r, 0) == 0)
        done += counted;
    else if (counted)
        agg_disconnect(a, "XACK failed");
    goto out;
fail:
    agg_disconnect(a, "apply failed");
out:
    round_clear(cur);
    round_clear(nxt);
    return done;
}

/* Runs fn(a, p) if *need, then clears it. Returns 0; 1 if p's cluster
 * node is lost (p is let go); -1 if the connection was dropped (why). */
static int catch_up(agg *a, int p, int *need, int (*fn)(agg *, int), const char *why)
{
    if (!*need)
        return 0;
    if (fn(a, p) < 0) {
        if (agg_node_lost(a)) {
            agg_partition_away(a, p, sys_redis_err(a->r));
            return 1;
        }
        agg_disconnect(a, why);
        return -1;
    }
    *need = 0;
    return 0;
}

/* Reads and applies one round: each owned partition's own pending entries
 * first, then new entries of all owned partitions. Returns the number of
 * entries handled. */
size_t agg_round_once(agg *a)
{
    size_t done = 0;
    int nowned = 0;
    for (int p = 0; p < a->conf.partitions && a->up; p++) {
        if (!a->owned[p])
            continue;
        nowned++;
        /* back to the cursor, then the pending entries of a dead consumer */
        int st = catch_up(a, p, &a->need_rewind[p], agg_rewind, "rewind failed");
        if (st == 0)
            st = catch_up(a, p, &a->need_claim[p], claim, "claim failed");
        if (st == 1)
            continue;
        if (st < 0)
            return done;
        /* pending entries, page after page: a held campaign's stay pending,
         * so each page starts after the last one's last entry */
        char from[64] = "0";
        while (a->need_pel[p] && a->up && !agg_stopping) {
            redisReply *r = agg_cmd(a, "XREADGROUP GROUP %s %s COUNT %d STREAMS %s %s", AGG_GROUP,
                                    a->me, a->conf.batch_max, a->keys[p], from);
            if (!r && agg_node_lost(a)) {
                agg_partition_away(a, p, sys_redis_err(a->r));
                break;
            }
            if (!r) { /* keep need_pel: read them after reconnecting */
                sys_error("XREADGROUP of pending entries failed", "partition=%d err=\"%s\"", p,
                          sys_redis_err(a->r));
                agg_disconnect(a, "pending read failed");
                return done;
            }
            const redisReply *es = r->type == REDIS_REPLY_ARRAY && r->elements == 1
                                       ? r->element[0]->element[1] : NULL;
            long acked;
            if (!es || es->elements == 0) {
                a->need_pel[p] = 0;
            } else if ((acked = process(a, p, (const redisReply *const *)es->element, es->elements)) >= 0 &&
                       a->unconfirmed) {
                freeReplyObject(r);
                break;          /* still pending: read again once replicas confirm */
            } else if (acked >= 0) {
                done += (size_t)acked;
                const redisReply *last = es->element[es->elements - 1];
                if (last->type == REDIS_REPLY_ARRAY && last->elements >= 1 && last->element[0]->str)
                    snprintf(from, sizeof from, "%s", last->element[0]->str);
            }
            freeReplyObject(r);
        }
    }
    if (!a->up || !nowned) {
        if (!nowned)
            usleep(AGG_BLOCK_MS * 1000);
        return done;
    }
    return done + read_and_apply(a, !done);
}
