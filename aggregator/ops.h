/* ops.h: the calling convention of the aggregator's Lua (scripts.lua), in
 * one module: the KEYS layout of the apply and alert scripts, the ops the
 * apply script reads from its ARGV, and the script texts with the schema
 * substituted. batch.c decides which counters a hit moves; this encodes
 * them; no I/O. */
#ifndef AGG_OPS_H
#define AGG_OPS_H

#include <stddef.h>

#include "keys.h"
#include "resp.h"

/* KEYS of the apply script: the fixed ones, then hour/day buckets and HLLs
 * in the order the batch first needs them. */
enum {
    AGG_K_TOTALS = 1,
    AGG_K_WM,
    AGG_K_NONCE,
    AGG_K_SCROLL,
    AGG_K_REF,          /* advocate leaderboard: Z ops */
    AGG_K_REACH,        /* advocate reach: Z ops */
    AGG_K_PENDING,
    AGG_K_FL,
    AGG_K_ALERTED,
    AGG_K_ALERTS,
    AGG_K_CFG,
    AGG_K_FIXED = AGG_K_CFG
};

/* KEYS of the alert script. */
enum { AGG_AK_PENDING = 1, AGG_AK_ALERTED, AGG_AK_ALERTS, AGG_AK_CFG, AGG_AK_COUNT = AGG_AK_CFG };

/* The scripts of scripts.lua. */
typedef enum {
    AGG_SCRIPT_APPLY,       /* one campaign's batch */
    AGG_SCRIPT_ALERT,       /* one followup_overdue alert */
    AGG_SCRIPT_LEASE_TAKE,  /* take or renew a partition lease */
    AGG_SCRIPT_LEASE_GIVE,  /* give it back */
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

/* Appends ARGV 1..7 of an apply call: partition, expected and new
 * watermark, campaign, now (ms), default SLA (s), alerts MAXLEN. */
void agg_op_args(proto_resp *r, const char *partition, const char *wm, const char *new_wm,
                 const char *campaign, size_t clen, long long now_ms, long long sla_s,
                 const char *alerts_maxlen);

/* The ops; each appends its arguments to r (r->oom on failure). */
void agg_op_incr(proto_resp *r, int key, const char *field, size_t flen, long long n);
                                                /* H (HINCRBY), or Z (ZINCRBY) on a leaderboard */
void agg_op_expire(proto_resp *r, int key, long long at_ms);              /* X */
void agg_op_pfadd(proto_resp *r, int key, size_t n);       /* P: the n elements follow */
void agg_op_nonces(proto_resp *r, size_t n);               /* NZ: n (ts, nonce) pairs follow */
void agg_op_trim_nonces(proto_resp *r, long long cutoff_ms);              /* T */
void agg_op_lo(proto_resp *r, const char *field, long long v);            /* lo */
void agg_op_hi(proto_resp *r, const char *field, long long v);            /* hi */
void agg_op_signup(proto_resp *r, const char *subject, long long ts);     /* S */
void agg_op_followup(proto_resp *r, const char *subject, long long ts);   /* F */

#endif
