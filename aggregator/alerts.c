/* alerts.c: the overdue-signup scan — every ALERT_EVERY_MS the pending
 * signups of the campaigns of owned partitions that waited past their SLA
 * are read in one pipeline each for SLAs and signups, and each raises one
 * followup_overdue alert to its campaign's outbox through the alert script
 * (exactly once: the script marks it alerted); then the outboxes that may
 * hold alerts are moved to ag:alerts (outbox.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "clock.h"
#include "log.h"
#include "resp.h"
#include "schema.h"

#define SCAN_LIMIT 1000         /* pending signups read per campaign and scan */

/* One scan's view of the campaigns it covers. */
typedef struct {
    agg *a;
    size_t n;           /* campaigns covered */
    size_t *idx;        /* their indexes in a->camps */
    int *sla;           /* their SLA in seconds */
    redisReply **due;   /* their overdue pending signups */
} scan;

/* Refreshes the campaigns list from ag:campaigns, keeping cursors. Returns
 * 0 or -1. */
static int refresh_campaigns(agg *a)
{
    char key[PROTO_KEY_MAX];
    proto_key_campaigns(key, sizeof key, a->conf.prefix);
    redisReply *r = agg_cmd(a, "ZRANGE %s 0 -1", key);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject(r);
        return -1;
    }
    agg_scan_camp *n = calloc(r->elements ? r->elements : 1, sizeof *n);
    if (!n) {
        freeReplyObject(r);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < r->elements; i++) {
        proto_hit h;
        unsigned seen = 0;
        proto_hit_init(&h);
        if (r->element[i]->type != REDIS_REPLY_STRING ||
            proto_hit_set(&h, &seen, "c", 1, r->element[i]->str, r->element[i]->len) != PROTO_OK)
            continue; /* never build a key from a name that is not a campaign id */
        snprintf(n[k].name, sizeof n[k].name, "%s", r->element[i]->str);
        n[k].cursor = -1;
        for (size_t j = 0; j < a->ncamps; j++)
            if (strcmp(a->camps[j].name, n[k].name) == 0)
                n[k].cursor = a->camps[j].cursor;
        k++;
    }
    freeReplyObject(r);
    free(a->camps);
    a->camps = n;
    a->ncamps = k;
    return 0;
}

/* Takes campaign i's SLA reply (its cfg, else the default). */
static int on_sla(void *arg, redisReply *rep, size_t i)
{
    scan *s = arg;
    int v = rep->type == REDIS_REPLY_STRING ? atoi(rep->str) : 0;
    s->sla[i] = v > 0 ? v : s->a->conf.followup_sla_s;
    freeReplyObject(rep);
    return 0;
}

/* Takes campaign i's overdue signups (kept for raising). */
static int on_due(void *arg, redisReply *rep, size_t i)
{
    scan *s = arg;
    s->due[i] = rep;
    return 0;
}

/* Raises one overdue alert. Returns 1 raised, 0 not (or a key of another
 * type refused it: logged, retried next scan), -1 on error (logged). */
static int raise_one(agg *a, const char *c, const char *subject, long long signup_ts,
                     long long now, int sla_s)
{
    char k[AGG_AK_COUNT + 1][PROTO_KEY_MAX];
    for (int i = 1; i <= AGG_AK_COUNT; i++)
        if (agg_ops_alert_key(k[i], sizeof k[i], a->conf.prefix, c, i) < 0)
            return -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        redisReply *r = sys_redis_cmd(a->r, "EVALSHA %s %d %s %s %s %s %s %lld %lld %d %s %s",
                                      agg_scripts_sha(AGG_SCRIPT_ALERT), AGG_AK_COUNT,
                                      k[AGG_AK_PENDING], k[AGG_AK_ALERTED], k[AGG_AK_OUTBOX],
                                      k[AGG_AK_CFG], subject, signup_ts, now, sla_s, c,
                                      AGG_OUTBOX_MAXLEN);
        if (!r && attempt == 0 && sys_redis_last(a->r) == SYS_REDIS_REPLY &&
            strncmp(sys_redis_err(a->r), "NOSCRIPT", 8) == 0) {
            if (agg_scripts_load(a->r) < 0)
                return -1;
            continue;
        }
        if (!r && sys_redis_last(a->r) == SYS_REDIS_REPLY &&
            strncmp(sys_redis_err(a->r), "POISON ", 7) == 0) {
            sys_error("alert not raised: a key of the campaign refuses it; repair the key",
                      "campaign=%s err=\"%s\"", c, sys_redis_err(a->r) + 7);
            return 0;
        }
        if (!r) {
            sys_error("alert script failed", "campaign=%s err=\"%s\"", c, sys_redis_err(a->r));
            return -1;
        }
        int out = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -1;
        if (out < 0)
            sys_error("alert script failed", "campaign=%s err=\"unexpected reply\"", c);
        freeReplyObject(r);
        return out;
    }
    return -1;
}

/* Queues one command per covered campaign (SLA reads when sla, else the
 * overdue signups), owing one reply each to fn. Returns 0 or -1. */
static int queue_all(scan *s, long long now, int sla, sys_redis_handler fn)
{
    agg *a = s->a;
    proto_resp args = {0}, out = {0};
    char key[PROTO_KEY_MAX];
    for (size_t i = 0; i < s->n; i++) {
        agg_scan_camp *c = &a->camps[s->idx[i]];
        proto_resp_reset(&args);
        if (sla) {
            proto_key_of(key, sizeof key, a->conf.prefix, c->name, PROTO_CK_CFG);
            proto_resp_str(&args, "HGET");
            proto_resp_str(&args, key);
            proto_resp_str(&args, PROTO_CFG_SLA);
        } else {
            long long cutoff = now - (long long)s->sla[i] * 1000;
            /* re-examine a minute behind the cursor: late (replayed) signups */
            long long from = c->cursor < 0 ? -1 : c->cursor - 60000;
            proto_key_of(key, sizeof key, a->conf.prefix, c->name, PROTO_CK_PENDING);
            proto_resp_str(&args, "ZRANGEBYSCORE");
            proto_resp_str(&args, key);
            if (from < 0)
                proto_resp_str(&args, "-inf");
            else
                proto_resp_ll(&args, from);
            proto_resp_ll(&args, cutoff);
            proto_resp_str(&args, "WITHSCORES");
            proto_resp_str(&args, "LIMIT");
            proto_resp_str(&args, "0");
            proto_resp_ll(&args, SCAN_LIMIT);
        }
        proto_resp_command(&out, &args);
    }
    int rc = out.oom || args.oom ||
                     sys_redis_send(a->r, out.data, out.len, s->n, fn, s, NULL, NULL) < 0 ||
                     sys_redis_flush(a->r) < 0 || sys_redis_run(a->r, 0) < 0
                 ? -1
                 : 0;
    proto_resp_free(&args);
    proto_resp_free(&out);
    return rc;
}

/* Raises due followup_overdue alerts; never fails (errors drop the
 * connection). */
void agg_alerts_scan(agg *a, int full)
{
    long long now = sys_now_ms();
    scan s = {a, 0, NULL, NULL, NULL};
    if (refresh_campaigns(a) < 0)
        return;
    size_t cap = a->ncamps ? a->ncamps : 1, nmove = 0;
    s.idx = calloc(2 * cap, sizeof *s.idx);    /* the covered, then those to move */
    s.sla = calloc(cap, sizeof *s.sla);
    s.due = calloc(cap, sizeof *s.due);
    if (!s.idx || !s.sla || !s.due)
        goto out;
    for (size_t i = 0; i < a->ncamps; i++) {
        if (!a->owned[proto_partition(a->camps[i].name, (unsigned)a->conf.partitions)])
            continue;
        if (full)
            a->camps[i].cursor = -1;
        s.idx[s.n++] = i;
    }
    if (!s.n)
        goto out;
    if (queue_all(&s, now, 1, on_sla) < 0 || queue_all(&s, now, 0, on_due) < 0) {
        agg_disconnect(a, "alert scan failed");
        goto out;
    }
    size_t nraised = 0;
    for (size_t i = 0; i < s.n && a->up; i++) {
        const redisReply *r = s.due[i];
        agg_scan_camp *c = &a->camps[s.idx[i]];
        size_t before = nraised;
        if (!r || r->type != REDIS_REPLY_ARRAY)
            continue;
        for (size_t j = 0; j + 1 < r->elements && a->up; j += 2) {
            long long st = atoll(r->element[j + 1]->str);
            int raised = raise_one(a, c->name, r->element[j]->str, st, now, s.sla[i]);
            if (raised == 1) {
                nraised++;
                agg_inc(a->m.alerts_raised);
                sys_info("followup overdue: alert raised", "campaign=%s waited_s=%lld sla_s=%d",
                         c->name, (now - st) / 1000, s.sla[i]);
            } else if (raised < 0) {
                agg_disconnect(a, "alert failed");
            }
            if (st > c->cursor && r->elements < 2 * SCAN_LIMIT)
                c->cursor = st;
        }
        if (r->elements == 0 && c->cursor < 0)
            c->cursor = now - (long long)s.sla[i] * 1000;
        if (nraised > before)       /* its outbox, moved below */
            s.idx[s.n + nmove++] = s.idx[i];
    }
    /* every covered outbox when one may hold alerts (a resolved alert
     * applied, a partition taken over, a start, the full rescan), else
     * those this scan raised to */
    if (a->up && (full || a->outbox_due)) {
        if (agg_outbox_move(a, s.idx, s.n) < 0)
            agg_disconnect(a, "alert move failed");
        else
            a->outbox_due = 0;
    } else if (a->up && nmove && agg_outbox_move(a, s.idx + s.n, nmove) < 0) {
        agg_disconnect(a, "alert move failed");
    }
out:
    for (size_t i = 0; s.due && i < s.n; i++)
        if (s.due[i])
            freeReplyObject(s.due[i]);
    free(s.idx);
    free(s.sla);
    free(s.due);
}
