/* apply.h: applies a batch of hit-stream entries exactly once: per
 * campaign, one Lua script call updates every counter of SPEC 3 and the
 * campaign's watermark for the partition atomically, and refuses (a
 * conflict) if the watermark moved since it was read. Entries at or below
 * the watermark were applied before: skipped.
 *
 * A batch is applied in three stages on one connection, queued on its
 * reply ledger (proto/sys/redis.h) so that a caller can pipeline them with
 * other work:
 *   1. agg_apply_send_reads queues HGET of each campaign's watermark and
 *      ZMSCORE of its nonces; their handler filters and pre-aggregates;
 *   2. once those replies are taken (sys_redis_run), agg_apply_send_calls
 *      queues one EVALSHA per campaign and the last-activity updates;
 *   3. their handler counts what was applied; a campaign whose script
 *      answered POISON (a key of the wrong type or value: nothing written)
 *      is noted, and
 *   4. agg_apply_send_dead queues, per noted campaign, the dead-letter
 *      script: its entries go to ag:c:{C}:dead and its watermark moves past
 *      them in one step, so the rest of the partition keeps counting.
 * Commands queued between the stages run after them in Redis (a next
 * batch's reads then see this batch's updates). After the replies of stage
 * 3 are taken, job->failed says whether the entries must not be
 * acknowledged (a conflict, a script error, NOSCRIPT): drop the connection,
 * a later read retries them. A campaign held by a poisoned key that cannot
 * be dead-lettered (its watermark, or its dead-letter keys) is left out:
 * the others are applied, its entries stay pending (agg_batch_entry_held)
 * and are retried on a back-off. A handler that meets a reply out of protocol
 * stops the run (sys_redis_run returns -1): drop the connection too. */
#ifndef AGG_APPLY_H
#define AGG_APPLY_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "batch.h"
#include "conf.h"
#include "ops.h"
#include "redis.h"

#define AGG_OUTBOX_MAXLEN "100000"  /* alerts a campaign's outbox keeps unmoved */
#define AGG_ALERTS_MAXLEN "100000"  /* ag:alerts is capped at about this (SPEC 3) */

#define AGG_DEAD_MAX 32     /* poisoned campaigns dead-lettered per batch; more are held */

/* One batch going through the stages. */
typedef struct {
    agg_batch *b;
    unsigned p;
    const proto_conf *conf;
    agg_apply_result *res;
    redisReply *wm;     /* stage 1: a watermark reply awaiting its nonce reply */
    size_t call;        /* stage 3: the campaign whose reply comes next */
    size_t ncalled;     /* stage 3: call replies owed before the activity ones */
    int failed;         /* the entries must not be acknowledged */
    size_t ndead, dead_reply;   /* stage 4: campaigns to dead-letter, replies taken */
    struct {
        size_t c;
        char why[200];
    } dead[AGG_DEAD_MAX];       /* stage 3 → 4: campaigns whose script answered POISON */
} agg_apply_job;

/* Loads the scripts of scripts.lua into Redis (SCRIPT LOAD). Returns 0, or
 * -1 on a Redis error (logged). */
int agg_scripts_load(sys_redis *r);

/* Returns the sha of a loaded script ("" before agg_scripts_load). */
const char *agg_scripts_sha(agg_script s);

/* Returns 1 if reply is a NOSCRIPT error (Redis restarted, its cache lost). */
int agg_noscript(const redisReply *reply);

/* Starts job j for batch b of partition p; never fails. */
void agg_apply_job_init(agg_apply_job *j, agg_batch *b, unsigned p, const proto_conf *conf,
                        agg_apply_result *res);

/* Queues stage 4: the dead-letter call of each campaign noted in stage 3.
 * Returns how many (0: nothing to run), or -1 (out of memory). */
long agg_apply_send_dead(sys_redis *r, agg_apply_job *j);

/* Frees what the job holds (not the batch); never fails. */
void agg_apply_job_clear(agg_apply_job *j);

/* Stage 1: queues the reads. Returns 0, or -1 (no memory, not connected). */
int agg_apply_send_reads(sys_redis *r, agg_apply_job *j);

/* Stage 2: queues the calls (after stage 1's replies were taken). Returns
 * 0, or -1 (no memory, not connected). */
int agg_apply_send_calls(sys_redis *r, agg_apply_job *j);

/* The campaigns held by a poisoned key that cannot be dead-lettered, as
 * the caller keeps them: known ones are held before their batch is read,
 * so that no later entry of theirs is applied before the earlier ones
 * waiting in the pending list; newly held ones are reported. */
typedef struct {
    int (*known)(void *arg, unsigned p, const char *campaign);     /* 1 if held */
    int (*report)(void *arg, unsigned p, const char *campaign);    /* 0, or -1: no room */
    void *arg;
} agg_hold;

/* Holds b's campaigns that h knows as held (counted in res->held); a NULL
 * h holds nothing. Never fails. */
void agg_apply_hold_known(agg_batch *b, const agg_hold *h, agg_apply_result *res);

/* Reports b's held campaigns to h. Returns 0, or -1 if h had no room (the
 * caller must then not acknowledge the batch). */
int agg_apply_hold_report(const agg_batch *b, const agg_hold *h);

/* Runs the stages for n entries of partition p (stream order; the
 * [id, [field, value, ...]] elements of XREADGROUP replies, owned by the
 * caller), waiting for each. Returns 0 when every campaign's update is
 * durable in Redis (or was already: watermark) and the entries may be
 * acknowledged — but those whose held[i] it sets to 1 (a campaign held by
 * a poisoned key; held may be NULL); -1 if not (logged). */
int agg_apply(sys_redis *r, const proto_conf *conf, unsigned p, const redisReply *const *entries,
              size_t n, agg_apply_result *res, unsigned char *held, const agg_hold *h);

#endif
