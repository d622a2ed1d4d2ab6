/* apply.c: applies batches of hit-stream entries exactly once, in three
 * pipelined stages (reads of watermarks and nonces; one script call per
 * campaign; their replies), and raises overdue-signup alerts. */
#include "clock.h"
#include "apply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys.h"
#include "log.h"
#include "resp.h"
#include "scripts.h"

#define ALERTS_MAXLEN "100000"

static char sha_apply[41], sha_alert[41];

/* ---------------------------------------------------------------- scripts */

/* Loads one script and stores its sha. Returns 0 or -1 (logged). */
static int load_one(redisContext *rc, const char *src, char sha[41])
{
    redisReply *r = redisCommand(rc, "SCRIPT LOAD %s", src);
    int ok = r && r->type == REDIS_REPLY_STRING && r->len == 40;
    if (ok)
        memcpy(sha, r->str, 41);
    else
        sys_error("redis: SCRIPT LOAD failed", "err=\"%s\"",
                    r && r->type == REDIS_REPLY_ERROR ? r->str : rc->errstr);
    freeReplyObject(r);
    return ok ? 0 : -1;
}

/* Loads the apply and alert scripts. Returns 0 or -1 (logged). */
int agg_scripts_load(redisContext *rc)
{
    if (load_one(rc, AGG_LUA_APPLY, sha_apply) < 0 || load_one(rc, AGG_LUA_ALERT, sha_alert) < 0)
        return -1;
    return 0;
}

/* Returns 1 if reply is a NOSCRIPT error (Redis restarted and lost the cache). */
static int noscript(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

/* ---------------------------------------------------------------- apply */


/* Reads n replies and frees them, returning how many were errors; -1 if
 * the connection failed. */
static int drain(redisContext *rc, size_t n)
{
    int errors = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(rc, (void **)&r) != REDIS_OK)
            return -1;
        errors += r->type == REDIS_REPLY_ERROR;
        freeReplyObject(r);
    }
    return errors;
}


/* Writes rc's pending output. Returns 0, or -1 on a connection error. */
int agg_flush(redisContext *rc)
{
    int done = 0;
    while (!done)
        if (redisBufferWrite(rc, &done) != REDIS_OK)
            return -1;
    return 0;
}

/* Appends raw commands to rc's output. Returns 0 or -1 (no memory). */
static int append(redisContext *rc, const proto_resp *out)
{
    if (out->oom)
        return -1;
    return out->len == 0 || redisAppendFormattedCommand(rc, out->data, out->len) == REDIS_OK ? 0 : -1;
}

/* Appends the batch's watermark and nonce reads. Returns 0 or -1. */
int agg_apply_send_reads(redisContext *rc, agg_batch *b)
{
    proto_resp out = {0};
    int rc_out = agg_batch_reads(b, &out) == 0 && append(rc, &out) == 0 ? 0 : -1;
    proto_resp_free(&out);
    return rc_out;
}

/* Reads the watermark and nonce replies, pre-aggregates, appends the apply
 * calls and activity updates. Returns 0 or -1 (logged). */
int agg_apply_send_calls(redisContext *rc, agg_batch *b, const proto_conf *conf,
                         agg_apply_result *res)
{
    for (size_t c = 0; c < agg_batch_ncamps(b); c++) {
        redisReply *wm = NULL, *ns = NULL;
        if (redisGetReply(rc, (void **)&wm) != REDIS_OK || redisGetReply(rc, (void **)&ns) != REDIS_OK ||
            wm->type == REDIS_REPLY_ERROR || ns->type != REDIS_REPLY_ARRAY) {
            sys_error("redis: reading watermarks failed", "err=\"%s\"",
                        wm && wm->type == REDIS_REPLY_ERROR ? wm->str : rc->errstr);
            freeReplyObject(wm);
            freeReplyObject(ns);
            return -1;
        }
        int frc = agg_batch_filter(b, c, wm, ns, res);
        freeReplyObject(wm);
        freeReplyObject(ns);
        if (frc < 0)
            return -1;
    }
    proto_resp out = {0};
    char key[PROTO_KEY_MAX];
    proto_key_campaigns(key, sizeof key, conf->prefix);
    int rc_out = agg_batch_calls(b, sha_apply, ALERTS_MAXLEN, sys_now_ms(), &out) >= 0 &&
                         agg_batch_activity(b, key, &out) >= 0 && append(rc, &out) == 0
                     ? 0
                     : -1;
    proto_resp_free(&out);
    return rc_out;
}

/* Reads the apply replies. Returns 0 if the batch may be acknowledged,
 * -1 if not (logged). */
int agg_apply_finish(redisContext *rc, agg_batch *b, unsigned p, agg_apply_result *res)
{
    int failed = 0;
    for (size_t c = 0; c < agg_batch_ncamps(b); c++) {
        if (!agg_batch_called(b, c))
            continue;
        redisReply *r = NULL;
        if (redisGetReply(rc, (void **)&r) != REDIS_OK) {
            sys_error("redis: apply failed", "err=\"%s\"", rc->errstr);
            return -1;
        }
        if (noscript(r)) {
            failed = 1;
            sys_warn("apply script missing (Redis restarted?): reconnecting loads it", "partition=%u", p);
        } else if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
            res->applied += agg_batch_applied(b, c);
        } else if (r->type == REDIS_REPLY_INTEGER) {
            res->conflicts++;
            failed = 1;
            sys_warn("apply refused: watermark moved (another aggregator applied it)",
                       "campaign=%s partition=%u", agg_batch_name(b, c), p);
        } else {
            failed = 1;
            sys_error("apply script failed", "campaign=%s err=\"%s\"", agg_batch_name(b, c),
                        r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        }
        freeReplyObject(r);
    }
    /* last activity, outside the campaign's slot: a max, safe to repeat;
     * an error here (a Redis without ZADD GT) does not undo the apply */
    if (drain(rc, (size_t)agg_batch_nactive(b)) < 0)
        return -1;
    return failed ? -1 : 0;
}

/* Applies a batch of entries of partition p, waiting for each stage.
 * Returns 0 if they may be acknowledged, -1 if not (logged). */
int agg_apply(redisContext *rc, const proto_conf *conf, unsigned p, const redisReply *const *ents,
              size_t n, agg_apply_result *res)
{
    memset(res, 0, sizeof *res);
    agg_batch *b = agg_batch_new(conf, p, ents, n, res);
    int rc_out = b && agg_apply_send_reads(rc, b) == 0 && agg_apply_send_calls(rc, b, conf, res) == 0 &&
                         agg_apply_finish(rc, b, p, res) == 0
                     ? 0
                     : -1;
    agg_batch_free(b);
    return rc_out;
}

/* Builds campaign c's key with suffix sfx into buf. Returns 0 or -1. */
static int ckey(char *buf, size_t cap, const proto_conf *conf, const char *c, const char *sfx)
{
    return proto_key_campaign_sub(buf, cap, conf->prefix, c, sfx) < 0 ? -1 : 0;
}

/* Raises one overdue alert. Returns 1 raised, 0 not, -1 on error (logged). */
int agg_alert_raise(redisContext *rc, const proto_conf *conf, const char *c,
                    const char *subject, long long signup_ts, long long now, int sla_s)
{
    char pending[PROTO_KEY_MAX], alerted[PROTO_KEY_MAX], alerts[PROTO_KEY_MAX], cfg[PROTO_KEY_MAX];
    if (ckey(pending, sizeof pending, conf, c, "pending") < 0 ||
        ckey(alerted, sizeof alerted, conf, c, "alerted") < 0 ||
        ckey(cfg, sizeof cfg, conf, c, "cfg") < 0 ||
        proto_key_alerts(alerts, sizeof alerts, conf->prefix) < 0)
        return -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        redisReply *r = redisCommand(rc, "EVALSHA %s 4 %s %s %s %s %s %lld %lld %d %s %s", sha_alert,
                                     pending, alerted, alerts, cfg, subject, signup_ts, now, sla_s,
                                     c, ALERTS_MAXLEN);
        if (!r)
            return -1;
        if (noscript(r) && attempt == 0) {
            freeReplyObject(r);
            if (agg_scripts_load(rc) < 0)
                return -1;
            continue;
        }
        int out = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -1;
        if (out < 0)
            sys_error("alert script failed", "campaign=%s err=\"%s\"", c,
                        r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        return out;
    }
    return -1;
}
