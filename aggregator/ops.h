/* ops.h: the counters a hit moves and how they reach Redis, in one module:
 * the counting rules (which counter of the schema each hit moves), the
 * KEYS layout of the apply and alert scripts, the ops the apply script
 * reads from its ARGV, and the script texts (scripts.lua) with the schema
 * substituted. batch.c holds the containers that aggregate the moves of a
 * batch; no I/O here. Adding a counter touches proto/schema.c, this module
 * (and scripts.lua if it needs an op) and SPEC. */
#ifndef AGG_OPS_H
#define AGG_OPS_H

#include <stddef.h>

#include "hit.h"
#include "keys.h"
#include "resp.h"

/* ---- the counting rules (SPEC 3, SPEC 12 "Counting rules") ---- */

/* Where a counter lives, as the rules name it; the batch maps it to KEYS. */
typedef enum {
    AGG_CK_TOTALS,      /* the campaign's totals hash */
    AGG_CK_HOUR,        /* the hourly bucket of the hit's time */
    AGG_CK_DAY,         /* the daily bucket */
    AGG_CK_REF,         /* advocate leaderboard (actions) */
    AGG_CK_REACH,       /* advocate reach */
    AGG_CK_PAGES,       /* top pages (views) */
    AGG_CK_REFERRERS,   /* top referrer hosts (views) */
    AGG_CK_REF_CLICK,   /* clicks on each advocate's links */
    AGG_CK_UNVERIFIED,  /* actions credited by an unsigned ?via= only (never the leaderboard) */
} agg_counter_key;

/* The HyperLogLogs the rules add people to: the unique subjects of an
 * event (name: the event), and the viewers who reached a scroll bucket
 * (name: its field, "25" … "100"). */
typedef enum { AGG_HLL_EVENT, AGG_HLL_SCROLL } agg_hll_key;

/* What the rules emit for a hit; the batch aggregates it. Each callback
 * returns 0, or -1 when out of memory. */
typedef struct {
    void *arg;
    int (*incr)(void *arg, agg_counter_key k, const char *field, size_t flen, long long n);
    int (*hll)(void *arg, agg_hll_key k, const char *name, const char *elem, size_t len);
    int (*sf)(void *arg, int signup, const char *subject, long long ts);   /* S or F op */
    int (*seen)(void *arg, long long ts);   /* widen first_ts/last_ts */
    /* a subject seen doing an event (bit, PROTO_AUD_*), through ref or "" */
    int (*aud)(void *arg, const char *subject, unsigned bit, const char *ref, long long ts);
} agg_counts;

/* Applies the counting rules to one accepted, non-duplicate hit. Returns
 * 0, or -1 when a callback failed. */
int agg_ops_count(const proto_hit *h, const agg_counts *out);

/* Counts one hit dropped as a duplicate (the dup rule). Returns 0 or -1. */
int agg_ops_count_dup(const agg_counts *out);

/* KEYS of the apply script: the fixed ones, then hour/day buckets and HLLs
 * in the order the batch first needs them. */
enum {
    AGG_K_TOTALS = 1,
    AGG_K_WM,
    AGG_K_NONCE,
    AGG_K_REF,          /* advocate leaderboard: Z ops */
    AGG_K_REACH,        /* advocate reach: Z ops */
    AGG_K_PENDING,
    AGG_K_FL,
    AGG_K_ALERTED,
    AGG_K_OUTBOX,       /* the campaign's outbox: followup_resolved alerts */
    AGG_K_CFG,
    AGG_K_FIXED = AGG_K_CFG
};

/* KEYS of the alert script (all of one campaign). */
enum { AGG_AK_PENDING = 1, AGG_AK_ALERTED, AGG_AK_OUTBOX, AGG_AK_CFG, AGG_AK_COUNT = AGG_AK_CFG };

/* KEYS of the move script (both in ag:alerts's slot). */
enum { AGG_MK_ALERTS = 1, AGG_MK_MOVED, AGG_MK_COUNT = AGG_MK_MOVED };

/* The scripts of scripts.lua. */
typedef enum {
    AGG_SCRIPT_APPLY,       /* one campaign's batch */
    AGG_SCRIPT_ALERT,       /* one followup_overdue alert */
    AGG_SCRIPT_LEASE_TAKE,  /* take or renew a partition lease */
    AGG_SCRIPT_LEASE_GIVE,  /* give it back */
    AGG_SCRIPT_DEAD,        /* dead-letter one campaign's batch */
    AGG_SCRIPT_REPAIR,      /* move one dead-letter entry back (actiongap repair) */
    AGG_SCRIPT_MOVE,        /* move a campaign's outbox entries to ag:alerts */
    AGG_SCRIPT_DONE,        /* end a partition's round: held entries pending, the cursor on */
    AGG_SCRIPT_COUNT
} agg_script;

/* Returns the text of a script, the common section and the schema's
 * values substituted (built once; valid for the process), or NULL when
 * out of memory or if scripts.lua lacks a section or names an unknown
 * @NAME@ (logged). */
const char *agg_ops_script(agg_script s);

/* Builds fixed KEYS[k] (AGG_K_TOTALS … AGG_K_FIXED) of the apply script
 * for campaign c into buf. Returns its length, or -1. */
int agg_ops_key(char *buf, size_t cap, const char *prefix, const char *c, int k);

/* Builds KEYS[k] (AGG_AK_PENDING … AGG_AK_COUNT) of the alert script. */
int agg_ops_alert_key(char *buf, size_t cap, const char *prefix, const char *c, int k);

/* Builds KEYS[k] (AGG_MK_ALERTS … AGG_MK_COUNT) of the move script. */
int agg_ops_move_key(char *buf, size_t cap, const char *prefix, int k);

/* Appends ARGV 1..7 of an apply call: partition, expected and new
 * watermark, campaign, now (ms), default SLA (s), outbox MAXLEN. */
void agg_op_args(proto_resp *r, const char *partition, const char *wm, const char *new_wm,
                 const char *campaign, size_t clen, long long now_ms, long long sla_s,
                 const char *outbox_maxlen);

/* The ops; each appends its arguments to r (r->oom on failure). */
void agg_op_incr(proto_resp *r, int zset, int key, const char *field, size_t flen, long long n);
                                                /* H (HINCRBY), or Z (ZINCRBY) on a sorted set */

/* Returns 1 if counter k lives in a sorted set (Z ops), 0 for a hash. */
int agg_ops_zset(agg_counter_key k);
void agg_op_expire(proto_resp *r, int key, long long at_ms);              /* X */
void agg_op_pfadd(proto_resp *r, int key, size_t n);       /* P: the n elements follow */
void agg_op_nonces(proto_resp *r, size_t n);               /* NZ: n (ts, nonce) pairs follow */
void agg_op_trim_nonces(proto_resp *r, long long cutoff_ms);              /* T */
void agg_op_lo(proto_resp *r, const char *field, long long v);            /* lo */
void agg_op_hi(proto_resp *r, const char *field, long long v);            /* hi */
void agg_op_signup(proto_resp *r, const char *subject, long long ts);     /* S */
void agg_op_followup(proto_resp *r, const char *subject, long long ts);   /* F */
/* A k subject bit ts_s ref expire_at_ms cap: merge into audience bucket KEYS[k] */
void agg_op_aud(proto_resp *r, int key, const char *subject, unsigned bit, long long ts_s, const char *ref,
                long long expire_at_ms, long long cap);

#endif
