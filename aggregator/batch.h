/* batch.h: a batch of hit-stream entries of one partition, pre-aggregated
 * per campaign, and the RESP commands that apply it exactly once (see
 * apply.h for the protocol); no I/O. The entries (hiredis replies) stay
 * owned by the caller and must outlive the batch. */
#ifndef AGG_BATCH_H
#define AGG_BATCH_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "conf.h"
#include "expiry.h"
#include "resp.h"

/* What applying a batch did. */
typedef struct {
    size_t applied, skipped, duplicates, malformed, conflicts, poisoned, dead;
    size_t resolved;    /* followup_resolved alerts raised to outboxes */
    int held;           /* campaigns held: a poisoned key that could not be dead-lettered */
} agg_apply_result;

typedef struct agg_batch agg_batch;

/* Groups n entries of partition p by campaign, in stream order; entries
 * that are not [id, [field, value, ...]] with a campaign are counted in
 * res->malformed (and acknowledged unapplied). Returns NULL when out of
 * memory. */
agg_batch *agg_batch_new(const proto_conf *conf, unsigned p, const redisReply *const *entries,
                         size_t n, agg_apply_result *res);
/* Frees the batch; agg_batch_free(NULL) is a no-op. */
void agg_batch_free(agg_batch *b);

/* Returns the number of campaigns in the batch. */
size_t agg_batch_ncamps(const agg_batch *b);
/* Appends two commands per campaign, in campaign order: HGET of its
 * watermark for the partition, ZMSCORE of its entries' nonces. Returns 0,
 * or -1 when out of memory. */
int agg_batch_reads(const agg_batch *b, proto_resp *out);
/* Takes campaign c's two replies: skips entries at or below the watermark,
 * drops duplicate nonces, pre-aggregates the rest (counted in res).
 * Returns 0, or -1 when out of memory. */
int agg_batch_filter(agg_batch *b, size_t c, const redisReply *wm, const redisReply *ns,
                     agg_apply_result *res);
/* Appends one EVALSHA sha per campaign with entries above its watermark
 * (call after every campaign is filtered). Returns how many, or -1 when
 * out of memory. */
long agg_batch_calls(agg_batch *b, const char *sha, const char *outbox_maxlen, long long now,
                     proto_resp *out);
/* Appends one EVALSHA sha of the dead-letter script (scripts.lua "dead")
 * for campaign c, filtered: the entries it accepted (above the watermark,
 * not duplicates, decoded), with reason why. Returns 0, or -1 when out of memory. */
int agg_batch_dead(const agg_batch *b, size_t c, const char *sha, const char *why,
                   proto_resp *out);
/* Holds campaign c: no call for it; its entries stay pending (a poisoned
 * key that cannot be dead-lettered), the other campaigns go on. */
void agg_batch_hold(agg_batch *b, size_t c);

/* Returns the batch's partition. */
unsigned agg_batch_part(const agg_batch *b);

/* Returns 1 if campaign c is held. */
int agg_batch_held(const agg_batch *b, size_t c);

/* Returns 1 if entry i belongs to a held campaign (not to be acknowledged). */
int agg_batch_entry_held(const agg_batch *b, size_t i);

/* Returns 1 if campaign c got a call from agg_batch_calls, else 0. */
int agg_batch_called(const agg_batch *b, size_t c);
/* Returns campaign c's name (valid while the batch lives). */
const char *agg_batch_name(const agg_batch *b, size_t c);
/* Returns how many hits campaign c's call applies. */
size_t agg_batch_applied(const agg_batch *b, size_t c);

/* Lets the batch consult and feed e, the audience expiries known (not
 * owned; NULL: none known, every call checks them in Redis). Call before
 * agg_batch_filter. */
void agg_batch_expiry(agg_batch *b, agg_expiry *e);

/* Confirms campaign c's call, applied: its audience expiries are known. */
void agg_batch_confirm(agg_batch *b, size_t c);
/* Appends ZADD key GT <last hit ms> <campaign> per campaign with applied
 * hits. Returns how many, or -1 when out of memory. */
long agg_batch_activity(agg_batch *b, const char *key, proto_resp *out);
/* Returns how many ZADDs (replies owed) the last agg_batch_activity
 * appended. */
long agg_batch_nactive(const agg_batch *b);

#endif
