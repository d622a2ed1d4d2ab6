/* apply.h: turns a batch of hit-stream entries into counter updates and
 * applies them exactly once: per campaign, one Lua script call updates
 * every counter of SPEC 3 and the campaign's watermark for the partition
 * atomically, and refuses (conflict) if the watermark moved since it was
 * read. Entries at or below the watermark were applied before: skipped. */
#ifndef AGG_APPLY_H
#define AGG_APPLY_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "conf.h"
#include "metrics.h"

/* Loads the apply and alert scripts into Redis (SCRIPT LOAD). Returns 0, or
 * -1 on a Redis error (logged). */
int agg_scripts_load(redisContext *rc);

/* The result of applying one batch. */
typedef struct {
    size_t applied, skipped, duplicates, malformed, conflicts;
} agg_apply_result;

/* Applies n entries of partition p, in stream order (each an [id, [field,
 * value, ...]] element of an XREADGROUP reply; the replies stay owned by
 * the caller). Returns 0 when every campaign's update is durable in Redis
 * (or was already: watermark) and the entries may be acknowledged; -1 on a
 * Redis error or a conflict (the entries must not be acknowledged; a later
 * read retries them, and the connection holds unread replies: drop it). */
int agg_apply(redisContext *rc, const proto_conf *conf, unsigned p,
              const redisReply *const *entries, size_t n, agg_apply_result *res);

/* Raises at most one followup_overdue alert for a pending signup of
 * campaign c: atomically checks it is still pending with signup_ts and not
 * alerted, marks it alerted, appends to the alerts stream and publishes.
 * Returns 1 if raised, 0 if not due or already alerted, -1 on error. */
int agg_alert_raise(redisContext *rc, const proto_conf *conf, const char *c,
                    const char *subject, long long signup_ts, long long now_ms, int sla_s);

#endif
