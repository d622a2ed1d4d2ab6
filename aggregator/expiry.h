/* expiry.h: what the aggregator knows of its audience keys' expiries, so
 * that the apply script sets a bucket's expiry once a day, not once a call.
 * An audience key expires at the end of the UTC day audience_days after its
 * last hit (agg_expiry_at); once an apply call that set it is confirmed,
 * the key's (campaign, bucket) is remembered against that time. A key that
 * is new in Redis always gets its expiry from the script, whatever this
 * says (scripts.lua, op A). In memory only, no I/O. */
#ifndef AGG_EXPIRY_H
#define AGG_EXPIRY_H
#include <stddef.h>
#include <stdint.h>

#include "schema.h"

typedef struct agg_expiry agg_expiry;

/* The buckets of one campaign's apply call, and the expiry they asked. */
typedef struct {
    uint64_t bits[PROTO_AUD_BUCKETS / 64];
    long long at_min;               /* the least expiry asked, 0 if none */
} agg_expiry_call;

/* Returns a new, empty memory, or NULL when out of memory. */
agg_expiry *agg_expiry_new(void);

/* Frees it; agg_expiry_free(NULL) is a no-op. */
void agg_expiry_free(agg_expiry *e);

/* Returns the expiry (ms) of an audience key last hit at ts_ms: the end of
 * the UTC day days after it. */
long long agg_expiry_at(long long ts_ms, long long days);

/* Returns 1 if campaign (name, len)'s bucket is known to expire at or after
 * at, else 0 (e NULL: 0). hash is proto_hash64(name, len), which the
 * caller keeps, not computed again a hit. */
int agg_expiry_known(const agg_expiry *e, const char *name, size_t len, uint64_t hash, unsigned bucket,
                     long long at);

/* Notes in call that bucket asked for expiry at; never fails. */
void agg_expiry_note(agg_expiry_call *call, unsigned bucket, long long at);

/* Remembers a confirmed call of campaign (name, len; hash as above): its buckets now
 * expire at or after call->at_min. Never fails (out of memory, or past
 * AGG_EXPIRY_MAX campaigns, it forgets instead). */
void agg_expiry_confirm(agg_expiry *e, const char *name, size_t len, uint64_t hash,
                        const agg_expiry_call *call);

#endif
