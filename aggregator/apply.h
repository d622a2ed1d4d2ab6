/* apply.h: turns a batch of hit-stream entries into counter updates and
 * applies them exactly once: per campaign, one Lua script call updates
 * every counter of SPEC 3 and the campaign's watermark for the partition
 * atomically, and refuses (conflict) if the watermark moved since it was
 * read. Entries at or below the watermark were applied before: skipped. */
#ifndef AGG_APPLY_H
#define AGG_APPLY_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "batch.h"
#include "conf.h"
#include "metrics.h"

/* Loads the apply and alert scripts into Redis (SCRIPT LOAD). Returns 0, or
 * -1 on a Redis error (logged). */
int agg_scripts_load(redisContext *rc);

/* Applying a batch takes three stages on one connection, so that a caller
 * can pipeline them with other work (the commands of a stage are only
 * appended to rc's output: agg_flush or the next reply read sends them):
 *   1. agg_apply_send_reads: HGET of each campaign's watermark and ZMSCORE
 *      of its nonces;
 *   2. agg_apply_send_calls: reads those replies, filters and pre-aggregates
 *      in C, appends one EVALSHA per campaign and the last-activity updates;
 *   3. agg_apply_finish: reads their replies.
 * Stage 2's reads must be the next replies on rc after stage 1's commands
 * and anything sent before them, and so on; commands appended between the
 * stages run after them in Redis (a next batch's reads then see this
 * batch's updates). Each returns 0, or -1 on a Redis error, a conflict or
 * no memory (logged): the entries must not be acknowledged, and rc holds
 * unread replies: drop the connection (a later read retries the entries). */
int agg_apply_send_reads(redisContext *rc, agg_batch *b);
int agg_apply_send_calls(redisContext *rc, agg_batch *b, const proto_conf *conf,
                         agg_apply_result *res);
int agg_apply_finish(redisContext *rc, agg_batch *b, unsigned p, agg_apply_result *res);

/* Runs the three stages for n entries of partition p, in stream order (the
 * [id, [field, value, ...]] elements of XREADGROUP replies, owned by the
 * caller). Returns 0 when every campaign's update is durable in Redis (or
 * was already: watermark) and the entries may be acknowledged; -1 as the
 * stages. */
int agg_apply(redisContext *rc, const proto_conf *conf, unsigned p,
              const redisReply *const *entries, size_t n, agg_apply_result *res);

/* Writes rc's appended commands to the socket. Returns 0, or -1 on a
 * connection error. */
int agg_flush(redisContext *rc);

/* Raises at most one followup_overdue alert for a pending signup of
 * campaign c: atomically checks it is still pending with signup_ts and not
 * alerted, marks it alerted, appends to the alerts stream and publishes.
 * Returns 1 if raised, 0 if not due or already alerted, -1 on error. */
int agg_alert_raise(redisContext *rc, const proto_conf *conf, const char *c,
                    const char *subject, long long signup_ts, long long now_ms, int sla_s);

#endif
