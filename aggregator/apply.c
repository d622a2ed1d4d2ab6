/* apply.c: applies batches of hit-stream entries exactly once, in three
 * pipelined stages on the reply ledger (reads of watermarks and nonces; one
 * script call per campaign; their replies), and loads the scripts. */
#include "apply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "keys.h"
#include "log.h"
#include "resp.h"

#define DEAD_LOG_MS 10000       /* at most one dead-letter log line this often */

static char shas[AGG_SCRIPT_COUNT][41];

/* ---------------------------------------------------------------- scripts */

/* Loads every script and stores its sha. Returns 0 or -1 (logged). */
int agg_scripts_load(sys_redis *r)
{
    for (int s = 0; s < AGG_SCRIPT_COUNT; s++) {
        const char *src = agg_ops_script((agg_script)s);
        if (!src)
            return -1;
        redisReply *rep = sys_redis_cmd(r, "SCRIPT LOAD %s", src);
        int ok = rep && rep->type == REDIS_REPLY_STRING && rep->len == 40;
        if (ok)
            memcpy(shas[s], rep->str, 41);
        else if (rep || strncmp(sys_redis_err(r), "NOPERM", 6) != 0)   /* NOPERM: the caller says */
            sys_error("redis: SCRIPT LOAD failed", "err=\"%s\"",
                      rep ? "unexpected reply" : sys_redis_err(r));
        freeReplyObject(rep);
        if (!ok)
            return -1;
    }
    return 0;
}

/* Returns a loaded script's sha. */
const char *agg_scripts_sha(agg_script s)
{
    return shas[s];
}

/* Returns 1 if reply is a NOSCRIPT error. */
int agg_noscript(const redisReply *reply)
{
    return reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0;
}

/* ---------------------------------------------------------------- stages */

/* Starts a job; never fails. */
void agg_apply_job_init(agg_apply_job *j, agg_batch *b, unsigned p, const proto_conf *conf,
                        agg_apply_result *res)
{
    memset(j, 0, sizeof *j);
    j->b = b;
    j->p = p;
    j->conf = conf;
    j->res = res;
}

/* Frees a held reply; never fails. */
void agg_apply_job_clear(agg_apply_job *j)
{
    if (j->wm)
        freeReplyObject(j->wm);
    j->wm = NULL;
}

/* Returns 1 if rep says a key of campaign c holds a value of another type
 * (marking the job poisoned: nothing is written, the calls are not sent),
 * else 0. */
static int poisoned_read(agg_apply_job *j, const redisReply *rep, size_t c)
{
    if (rep->type != REDIS_REPLY_ERROR || strncmp(rep->str, "WRONGTYPE", 9) != 0)
        return 0;
    if (agg_batch_held(j->b, c))        /* its nonce read refused too: said once */
        return 1;
    j->res->poisoned++;
    j->res->held++;
    agg_batch_hold(j->b, c);
    sys_error("campaign poisoned: its watermark key refuses the apply, nothing written; campaign held",
              "campaign=%s partition=%u err=\"%s\"", agg_batch_name(j->b, c), j->p, rep->str);
    return 1;
}

/* Holds campaign c when rep says its keys cannot be reached now: its Redis
 * Cluster node is unreachable (NODEDOWN), or its slot is half-moved between
 * masters (TRYAGAIN, once its short back-off ran out; the script did not
 * run). Nothing more is sent for it, its entries stay pending and are read
 * again after the hold's back-off; the other campaigns go on. Returns 1 if
 * held so, else 0. */
static int hold_unreachable(agg_apply_job *j, const redisReply *rep, size_t c)
{
    int moving = sys_redis_tryagain(rep);
    if (!moving && !sys_redis_nodedown(rep))
        return 0;
    if (!agg_batch_held(j->b, c)) {
        j->res->held++;
        agg_batch_hold(j->b, c);
        sys_warn(moving ? "redis: the campaign's slot is moving between cluster nodes; campaign held, its hits wait"
                        : "redis: the campaign's cluster node is unreachable; campaign held, its hits wait",
                 "campaign=%s partition=%u err=\"%s\"", agg_batch_name(j->b, c), j->p, rep->str);
    }
    return 1;
}

/* Takes a stage-1 reply: watermark (even index), then nonces (odd), and
 * filters that campaign. Returns 0, or -1 (logged) out of protocol. */
static int on_read(void *arg, redisReply *rep, size_t i)
{
    agg_apply_job *j = arg;
    if (hold_unreachable(j, rep, i / 2)) {
        freeReplyObject(rep);
        if (i % 2 == 1)
            agg_apply_job_clear(j);
        return 0;
    }
    if (i % 2 == 1 && j->wm && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "WRONGTYPE", 9) == 0) {
        /* a bad nonce key under a good watermark: filtered as if no nonce
         * were seen, the apply's check refuses the key, and the campaign
         * is dead-lettered like any other poisoned key */
        int rc = agg_batch_filter(j->b, i / 2, j->wm, rep, j->res);
        freeReplyObject(rep);
        agg_apply_job_clear(j);
        return rc;
    }
    if (poisoned_read(j, rep, i / 2)) {
        freeReplyObject(rep);
        agg_apply_job_clear(j);
        return 0;
    }
    if (i % 2 == 0) {
        if (rep->type == REDIS_REPLY_ERROR) {
            sys_error("redis: reading watermarks failed", "err=\"%s\"", rep->str);
            freeReplyObject(rep);
            return -1;
        }
        j->wm = rep;
        return 0;
    }
    int rc = -1;
    if (!j->wm)                     /* its watermark read was poisoned */
        rc = 0;
    else if (rep->type != REDIS_REPLY_ARRAY)
        sys_error("redis: reading nonces failed", "err=\"%s\"",
                  rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
    else
        rc = agg_batch_filter(j->b, i / 2, j->wm, rep, j->res);
    freeReplyObject(rep);
    agg_apply_job_clear(j);
    return rc;
}

/* Queues the watermark and nonce reads. Returns 0 or -1. */
int agg_apply_send_reads(sys_redis *r, agg_apply_job *j)
{
    proto_resp out = {0};
    size_t n = agg_batch_ncamps(j->b);
    int rc = agg_batch_reads(j->b, &out) == 0 && !out.oom &&
                     sys_redis_send(r, out.data, out.len, 2 * n, on_read, j, NULL, NULL) == 0
                 ? 0
                 : -1;
    proto_resp_free(&out);
    return rc;
}

/* Takes a stage-3 reply: the called campaigns' results in order, then the
 * last-activity updates (a max, safe to repeat: an error there does not
 * undo the apply). Never stops the run. */
static int on_call(void *arg, redisReply *rep, size_t i)
{
    agg_apply_job *j = arg;
    if (i >= j->ncalled) {
        freeReplyObject(rep);
        return 0;
    }
    while (j->call < agg_batch_ncamps(j->b) && !agg_batch_called(j->b, j->call))
        j->call++;
    size_t c = j->call++;
    if (hold_unreachable(j, rep, c)) {
        /* it may have run before the node went: the watermark then skips it */
    } else if (agg_noscript(rep)) {
        j->failed = 1;
        sys_warn("apply script missing (Redis restarted?): reconnecting loads it", "partition=%u",
                 j->p);
    } else if (rep->type == REDIS_REPLY_INTEGER && rep->integer >= 1) {
        j->res->applied += agg_batch_applied(j->b, c);
        agg_batch_confirm(j->b, c);
        j->res->resolved += (size_t)(rep->integer - 1);     /* alerts raised to its outbox */
    } else if (rep->type == REDIS_REPLY_INTEGER) {
        j->res->conflicts++;
        j->failed = 1;
        sys_warn("apply refused: watermark moved (another aggregator applied it)",
                 "campaign=%s partition=%u", agg_batch_name(j->b, c), j->p);
    } else if (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "POISON ", 7) == 0) {
        /* the script checked before writing: nothing of this call was applied */
        j->res->poisoned++;
        if (j->ndead < AGG_DEAD_MAX) {
            j->dead[j->ndead].c = c;
            snprintf(j->dead[j->ndead++].why, sizeof j->dead[0].why, "%s", rep->str + 7);
        } else {
            j->res->held++;
            agg_batch_hold(j->b, c);
            sys_error("campaign poisoned: a key refuses the apply, nothing written; campaign held",
                      "campaign=%s partition=%u err=\"%s\"", agg_batch_name(j->b, c), j->p,
                      rep->str + 7);
        }
    } else {
        j->failed = 1;
        sys_error("apply script failed", "campaign=%s err=\"%s\"", agg_batch_name(j->b, c),
                  rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
    }
    freeReplyObject(rep);
    return 0;
}

/* Logs a dead-lettered batch, at most once every DEAD_LOG_MS (a poisoned
 * campaign with steady traffic is dead-lettered every round); never fails. */
static void log_dead(const char *campaign, unsigned p, long long n, const char *why)
{
    static long long last_ms, quiet;    /* the aggregator applies in one thread */
    long long now = sys_now_ms();
    if (now - last_ms < DEAD_LOG_MS) {
        quiet += n;
        return;
    }
    sys_error("campaign poisoned: its entries go to the dead-letter stream; repair the key, "
              "then run: actiongap repair CAMPAIGN",
              "campaign=%s partition=%u entries=%lld since_last_line=%lld err=\"%s\"", campaign, p,
              n, quiet, why);
    last_ms = now;
    quiet = 0;
}

/* Takes a stage-4 reply: how many entries went to the dead-letter stream,
 * -1 (the watermark moved), or an error (the watermark or dead-letter key
 * itself is bad: that campaign is held). Never stops the run. */
static int on_dead(void *arg, redisReply *rep, size_t i)
{
    agg_apply_job *j = arg;
    (void)i;
    size_t c = j->dead[j->dead_reply].c;
    const char *why = j->dead[j->dead_reply++].why;
    if (hold_unreachable(j, rep, c)) {
        /* held: its entries wait for the node */
    } else if (agg_noscript(rep)) {
        j->failed = 1;
        sys_warn("dead-letter script missing (Redis restarted?): reconnecting loads it",
                 "partition=%u", j->p);
    } else if (rep->type == REDIS_REPLY_INTEGER && rep->integer >= 0) {
        j->res->dead += (size_t)rep->integer;
        log_dead(agg_batch_name(j->b, c), j->p, rep->integer, why);
    } else if (rep->type == REDIS_REPLY_INTEGER) {
        j->res->conflicts++;
        j->failed = 1;
    } else if (rep->type != REDIS_REPLY_ERROR || strncmp(rep->str, "POISON ", 7) != 0) {
        j->failed = 1;
        sys_error("dead-letter script failed", "campaign=%s partition=%u err=\"%s\"",
                  agg_batch_name(j->b, c), j->p,
                  rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
    } else {
        j->res->held++;
        agg_batch_hold(j->b, c);
        sys_error("campaign poisoned and its dead-letter keys too: campaign held",
                  "campaign=%s partition=%u err=\"%s\" dead_letter_err=\"%s\"",
                  agg_batch_name(j->b, c), j->p, why,
                  rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
    }
    freeReplyObject(rep);
    return 0;
}

/* Queues stage 4. Returns how many calls, or -1. */
long agg_apply_send_dead(sys_redis *r, agg_apply_job *j)
{
    if (!j->ndead)
        return 0;
    proto_resp out = {0};
    int rc = 0;
    for (size_t k = 0; k < j->ndead && rc == 0; k++)
        rc = agg_batch_dead(j->b, j->dead[k].c, agg_scripts_sha(AGG_SCRIPT_DEAD), j->dead[k].why,
                            &out);
    j->dead_reply = 0;
    if (rc == 0 && sys_redis_send(r, out.data, out.len, j->ndead, on_dead, j, NULL, NULL) < 0)
        rc = -1;
    proto_resp_free(&out);
    return rc < 0 ? -1 : (long)j->ndead;
}

/* Queues the apply calls and activity updates. Returns 0 or -1. */
int agg_apply_send_calls(sys_redis *r, agg_apply_job *j)
{
    proto_resp out = {0};
    char key[PROTO_KEY_MAX];
    proto_key_campaigns(key, sizeof key, j->conf->prefix);
    long calls = agg_batch_calls(j->b, agg_scripts_sha(AGG_SCRIPT_APPLY), AGG_OUTBOX_MAXLEN,
                                 sys_now_ms(), &out);
    long active = calls >= 0 ? agg_batch_activity(j->b, key, &out) : -1;
    j->call = 0;
    j->ncalled = calls > 0 ? (size_t)calls : 0;
    int rc = calls >= 0 && active >= 0 && !out.oom &&
                     sys_redis_send(r, out.data, out.len, (size_t)(calls + active), on_call, j,
                                    NULL, NULL) == 0
                 ? 0
                 : -1;
    proto_resp_free(&out);
    return rc;
}

/* Applies a batch of entries of partition p, waiting for each stage.
 * Returns 0 if they may be acknowledged, -1 if not (logged). */
void agg_apply_hold_known(agg_batch *b, const agg_hold *h, agg_apply_result *res)
{
    for (size_t c = 0; h && c < agg_batch_ncamps(b); c++)
        if (h->known(h->arg, agg_batch_part(b), agg_batch_name(b, c))) {
            agg_batch_hold(b, c);
            res->held++;
        }
}

int agg_apply_hold_report(const agg_batch *b, const agg_hold *h)
{
    int rc = 0;
    for (size_t c = 0; h && c < agg_batch_ncamps(b); c++)
        if (agg_batch_held(b, c) && h->report(h->arg, agg_batch_part(b), agg_batch_name(b, c)) < 0)
            rc = -1;
    return rc;
}

int agg_apply(sys_redis *r, const proto_conf *conf, unsigned p, const redisReply *const *ents,
              size_t n, agg_apply_result *res, unsigned char *held, const agg_hold *h)
{
    agg_apply_job j;
    memset(res, 0, sizeof *res);
    agg_batch *b = agg_batch_new(conf, p, ents, n, res);
    if (!b)
        return -1;
    agg_apply_job_init(&j, b, p, conf, res);
    agg_apply_hold_known(b, h, res);
    int rc = agg_apply_send_reads(r, &j) == 0 && sys_redis_run(r, 0) == 0 && !j.failed &&
                     agg_apply_send_calls(r, &j) == 0 && sys_redis_run(r, 0) == 0 &&
                     agg_apply_send_dead(r, &j) >= 0 && sys_redis_run(r, 0) == 0 && !j.failed
                 ? 0
                 : -1;
    if (rc == 0 && agg_apply_hold_report(b, h) < 0)
        rc = -1;
    for (size_t i = 0; held && i < n; i++)
        held[i] = (unsigned char)agg_batch_entry_held(b, i);
    agg_apply_job_clear(&j);
    agg_batch_free(b);
    return rc;
}
