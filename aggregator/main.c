/* main.c: actiongap-aggregator — the Redis connection, partition leases,
 * overdue-signup alerts, stream trimming, lag, and the main loop (the
 * read/apply/acknowledge rounds are in rounds.c). */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "agg.h"
#include "conffile.h"
#include "log.h"
#include "redis.h"
#include "server.h"
#include "webhook.h"

#define LEASE_MS 5000
#define LEASE_EVERY_MS 1000
#define ALERT_EVERY_MS 500
#define RESCAN_EVERY_MS 60000
#define TRIM_EVERY_MS 10000

volatile sig_atomic_t agg_stopping;

/* Records the stop signal. */
static void on_signal(int sig)
{
    (void)sig;
    agg_stopping = 1;
}

/* ---------------------------------------------------------------- redis */

/* Drops the connection after an error, so the next round reconnects and
 * re-reads every unacknowledged entry; never fails. */
void agg_disconnect(agg *a, const char *why)
{
    if (!a->rc)
        return;
    sys_warn("redis: connection dropped", "why=\"%s\"", why);
    agg_inc(a->m.redis_failures);
    redisFree(a->rc);
    a->rc = NULL;
    atomic_store(&a->m.redis_up, 0);
    for (int p = 0; p < a->conf.partitions; p++)
        a->need_pel[p] = 1;
}

/* Runs one command, dropping the connection on a transport error.
 * Returns the reply (caller frees) or NULL. */
redisReply *agg_cmd(agg *a, const char *fmt, ...)
{
    va_list ap;
    if (!a->rc)
        return NULL;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(a->rc, fmt, ap);
    va_end(ap);
    if (!r)
        agg_disconnect(a, a->rc->errstr);
    return r;
}

/* Connects, authenticates, loads scripts and creates the consumer groups.
 * Returns 0, or -1 (logged once per outage). */
static int connect_redis(agg *a)
{
    char where[300], err[256];
    agg_redis_failure why;
    a->rc = agg_redis_connect(&a->conf, 2000, 5000, where, sizeof where, &why, err, sizeof err);
    if (!a->rc) {
        if (atomic_load(&a->m.redis_up) || a->backoff_ms == 0 || why == AGG_REDIS_REFUSED)
            sys_warn("redis: cannot connect", "redis=%s err=\"%s\"", where, err);
        return -1;
    }
    redisReply *r = NULL;
    if (agg_scripts_load(a->rc) < 0)
        goto fail;
    for (int p = 0; p < a->conf.partitions; p++) {
        /* from 0: hits written before the first start are counted too */
        if (!(r = agg_cmd(a, "XGROUP CREATE %s %s 0 MKSTREAM", a->keys[p], AGG_GROUP)))
            goto fail;
        if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0)
            goto fail;
        freeReplyObject(r);
        r = NULL;
    }
    atomic_store(&a->m.redis_up, 1);
    sys_info("redis: connected", "consumer=%s partitions=%d", a->me, a->conf.partitions);
    a->backoff_ms = 0;
    return 0;
fail:
    sys_error("redis: set-up failed", "err=\"%s\"",
                r && r->type == REDIS_REPLY_ERROR ? r->str : (a->rc ? a->rc->errstr : "connection lost"));
    freeReplyObject(r);
    if (a->rc) {
        redisFree(a->rc);
        a->rc = NULL;
    }
    return -1;
}

/* ---------------------------------------------------------------- leases */

/* Renews held leases and takes free ones (or ones held under this
 * consumer's own name: a restarted aggregator takes over at once); never
 * fails (errors drop the connection). */
static void leases(agg *a)
{
    char key[PROTO_KEY_MAX];
    static const char take[] =
        "local v = redis.call('GET', KEYS[1]) "
        "if not v or v == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end "
        "return 0";
    for (int p = 0; p < a->conf.partitions && a->rc; p++) {
        proto_key_lease(key, sizeof key, a->conf.prefix, (unsigned)p);
        redisReply *r = agg_cmd(a, "EVAL %s 1 %s %s %d", take, key, a->me, LEASE_MS);
        if (!r)
            return;
        int held = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
        if (held && !a->owned[p]) {
            sys_info("partition taken", "partition=%d consumer=%s", p, a->me);
            a->need_claim[p] = a->need_pel[p] = 1;
        } else if (!held && a->owned[p]) {
            sys_warn("partition lost to another aggregator", "partition=%d", p);
        }
        a->owned[p] = held;
        atomic_store(&a->m.owned[p], held);
        freeReplyObject(r);
    }
}

/* ---------------------------------------------------------------- alerts */

/* Refreshes the campaigns list from ag:campaigns, keeping cursors. Returns
 * 0 or -1. */
static int refresh_campaigns(agg *a)
{
    char key[PROTO_KEY_MAX];
    proto_key_campaigns(key, sizeof key, a->conf.prefix);
    redisReply *r = agg_cmd(a, "ZRANGE %s 0 -1", key);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
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

/* Raises due followup_overdue alerts for the campaigns of owned partitions;
 * never fails (errors drop the connection). */
static void scan_alerts(agg *a, int full)
{
    char key[PROTO_KEY_MAX];
    long long now = sys_now_ms();
    if (refresh_campaigns(a) < 0)
        return;
    size_t n = a->ncamps ? a->ncamps : 1;
    int *mine = calloc(n, sizeof *mine), *sla = calloc(n, sizeof *sla);
    redisReply **replies = calloc(n, sizeof *replies);
    if (!mine || !sla || !replies)
        goto out;                       /* nothing sent yet: the connection is in step */
    /* from here on, a failure drops the connection: replies would be out of step */
    for (size_t i = 0; i < a->ncamps; i++) {
        unsigned p = proto_partition(a->camps[i].name, (unsigned)a->conf.partitions);
        mine[i] = a->owned[p];
        if (!mine[i])
            continue;
        if (full)
            a->camps[i].cursor = -1;
        proto_key_campaign_sub(key, sizeof key, a->conf.prefix, a->camps[i].name, "cfg");
        if (redisAppendCommand(a->rc, "HGET %s followup_sla_s", key) != REDIS_OK) {
            agg_disconnect(a, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < a->ncamps; i++) {
        if (!mine[i])
            continue;
        redisReply *r = NULL;
        if (redisGetReply(a->rc, (void **)&r) != REDIS_OK) {
            agg_disconnect(a, a->rc->errstr);
            goto out;
        }
        int v = r->type == REDIS_REPLY_STRING ? atoi(r->str) : 0;
        sla[i] = v > 0 ? v : a->conf.followup_sla_s;
        freeReplyObject(r);
    }
    /* the overdue signups of every campaign, one pipeline */
    for (size_t i = 0; i < a->ncamps; i++) {
        if (!mine[i])
            continue;
        agg_scan_camp *c = &a->camps[i];
        long long cutoff = now - (long long)sla[i] * 1000;
        /* re-examine a minute behind the cursor: late (replayed) signups */
        long long from = c->cursor < 0 ? -1 : c->cursor - 60000;
        proto_key_campaign_sub(key, sizeof key, a->conf.prefix, c->name, "pending");
        int arc = from < 0 ? redisAppendCommand(a->rc, "ZRANGEBYSCORE %s -inf %lld WITHSCORES LIMIT 0 1000",
                                                key, cutoff)
                           : redisAppendCommand(a->rc, "ZRANGEBYSCORE %s %lld %lld WITHSCORES LIMIT 0 1000",
                                                key, from, cutoff);
        if (arc != REDIS_OK) {
            agg_disconnect(a, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < a->ncamps; i++) {
        if (!mine[i])
            continue;
        if (redisGetReply(a->rc, (void **)&replies[i]) != REDIS_OK) {
            agg_disconnect(a, a->rc->errstr);
            goto out;
        }
    }
    for (size_t i = 0; i < a->ncamps && a->rc; i++) {
        const redisReply *r = replies[i];
        if (!mine[i] || r->type != REDIS_REPLY_ARRAY)
            continue;
        agg_scan_camp *c = &a->camps[i];
        for (size_t j = 0; j + 1 < r->elements && a->rc; j += 2) {
            long long st = atoll(r->element[j + 1]->str);
            int raised = agg_alert_raise(a->rc, &a->conf, c->name, r->element[j]->str, st, now, sla[i]);
            if (raised == 1) {
                agg_inc(a->m.alerts_raised);
                sys_info("followup overdue: alert raised", "campaign=%s waited_s=%lld sla_s=%d",
                           c->name, (now - st) / 1000, sla[i]);
            } else if (raised < 0) {
                agg_disconnect(a, "alert failed");
            }
            if (st > c->cursor && r->elements < 2000)
                c->cursor = st;
        }
        if (r->elements == 0 && c->cursor < 0)
            c->cursor = now - (long long)sla[i] * 1000;
    }
out:
    for (size_t i = 0; replies && i < a->ncamps; i++)
        freeReplyObject(replies[i]);
    free(replies);
    free(mine);
    free(sla);
}

/* ---------------------------------------------------------------- trim, lag */

/* Reads the aggregator group's last delivered id (into last, cap bytes)
 * and lag of partition p. Returns 0, or -1 (no such group, or the
 * connection dropped). */
static int group_state(agg *a, int p, char *last, size_t cap, long long *lag)
{
    int found = -1;
    redisReply *r = agg_cmd(a, "XINFO GROUPS %s", a->keys[p]);
    if (!r)
        return -1;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && found < 0; i++) {
        redisReply *g = r->element[i];
        const char *name = NULL, *ld = NULL;
        long long lg = -1;
        for (size_t j = 0; j + 1 < g->elements; j += 2) {
            const char *f = g->element[j]->str;
            if (!strcmp(f, "name"))
                name = g->element[j + 1]->str;
            else if (!strcmp(f, "last-delivered-id"))
                ld = g->element[j + 1]->str;
            else if (!strcmp(f, "lag") && g->element[j + 1]->type == REDIS_REPLY_INTEGER)
                lg = g->element[j + 1]->integer;
        }
        if (name && ld && strcmp(name, AGG_GROUP) == 0) {
            snprintf(last, cap, "%s", ld);
            *lag = lg;
            found = 0;
        }
    }
    freeReplyObject(r);
    return found;
}

/* Trims owned streams below what is applied, acknowledged and older than
 * keep_hours (the safe MINID is computed here: XTRIM ignores pending
 * entries); never fails. */
static void trim(agg *a)
{
    long long keep = sys_now_ms() - (long long)a->conf.keep_hours * 3600000LL;
    for (int p = 0; p < a->conf.partitions && a->rc; p++) {
        char minid[64], last[64];
        long long lag;
        if (!a->owned[p])
            continue;
        snprintf(minid, sizeof minid, "%lld-0", keep > 0 ? keep : 0);
        /* nothing from the oldest pending entry on is applied for sure */
        redisReply *r = agg_cmd(a, "XPENDING %s %s", a->keys[p], AGG_GROUP);
        if (!r)
            return;
        if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 && r->element[0]->type == REDIS_REPLY_INTEGER &&
            r->element[0]->integer > 0 && r->element[1]->type == REDIS_REPLY_STRING &&
            proto_stream_id_cmp(r->element[1]->str, minid) < 0)
            snprintf(minid, sizeof minid, "%s", r->element[1]->str);
        freeReplyObject(r);
        /* nor anything above the group's last delivered id */
        if (group_state(a, p, last, sizeof last, &lag) < 0)
            continue;
        if (proto_stream_id_cmp(last, minid) < 0)
            snprintf(minid, sizeof minid, "%s", last);
        r = agg_cmd(a, "XTRIM %s MINID ~ %s", a->keys[p], minid);
        if (!r)
            return;
        if (r->type == REDIS_REPLY_INTEGER)
            agg_add(a->m.trimmed, (uint64_t)r->integer);
        freeReplyObject(r);
    }
}

/* Updates the lag gauge of every partition (0 where not owned); never fails. */
static void update_lag(agg *a)
{
    for (int p = 0; p < a->conf.partitions && a->rc; p++) {
        char last[64];
        long long lag = 0;
        if (a->owned[p] && (group_state(a, p, last, sizeof last, &lag) < 0 || lag < 0))
            continue;
        atomic_store(&a->m.lag[p], lag);
    }
}

/* ---------------------------------------------------------------- main */

/* Prints usage. */
static void usage(FILE *out)
{
    fprintf(out, "usage: actiongap-aggregator [--config FILE] [--key value ...]\n"
                 "Rolls the hit streams into per-campaign counters exactly once and raises\n"
                 "follow-up alerts (see docs/SPEC.md).\n\n");
    sys_conf_usage(out);
}

int main(int argc, char **argv)
{
    static agg a;
    char err[512], host[64] = "host";
    int rest[16], nrest;
    sys_log_set_prog("aggregator");
    /* A batch allocates and frees megabytes at once: keep them in the heap
     * instead of fresh mmaps that the kernel zeroes each time. */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    }
    if (sys_conf_load(&a.conf, argc, argv, rest, 16, &nrest, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (nrest) {
        fprintf(stderr, "config: %s: unknown option\n", argv[rest[0]]);
        return 2;
    }
    if (a.conf.partitions > AGG_MAX_PARTITIONS) {
        fprintf(stderr, "config: partitions: at most %d\n", AGG_MAX_PARTITIONS);
        return 2;
    }
    sys_log_set_level(a.conf.log_level);
    gethostname(host, sizeof host - 1);
    if (a.conf.consumer[0])
        snprintf(a.me, sizeof a.me, "%s", a.conf.consumer);
    else
        snprintf(a.me, sizeof a.me, "%s-%d", host, (int)getpid());
    for (int p = 0; p < a.conf.partitions; p++)
        proto_key_hits(a.keys[p], sizeof a.keys[p], a.conf.prefix, (unsigned)p);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    a.round[0].arena = agg_arena_new();
    a.round[1].arena = agg_arena_new();
    agg_server *srv = a.round[0].arena && a.round[1].arena ? agg_server_new(&a.conf, &a.m) : NULL;
    if (!srv) {
        agg_arena_free(a.round[0].arena);
        agg_arena_free(a.round[1].arena);
        return 1;
    }
    agg_webhook *wh = agg_webhook_new(&a.conf, &a.m);
    sys_info("started", "consumer=%s metrics_listen=%s partitions=%d batch=%d", a.me,
               a.conf.metrics_listen, a.conf.partitions, a.conf.batch);
    while (!agg_stopping) {
        if (!a.rc) {
            if (connect_redis(&a) < 0) {
                a.backoff_ms = a.backoff_ms ? (a.backoff_ms * 2 > 2000 ? 2000 : a.backoff_ms * 2) : 100;
                usleep((useconds_t)a.backoff_ms * 1000);
                continue;
            }
            a.last_lease = 0;
        }
        long long t = sys_now_ms();
        if (t - a.last_lease >= LEASE_EVERY_MS) {
            leases(&a);
            update_lag(&a);
            a.last_lease = t;
        }
        agg_round_once(&a);
        t = sys_now_ms();
        if (a.rc && t - a.last_alert >= ALERT_EVERY_MS) {
            int full = t - a.last_rescan >= RESCAN_EVERY_MS;
            scan_alerts(&a, full);
            if (full)
                a.last_rescan = t;
            a.last_alert = t;
        }
        if (a.rc && t - a.last_trim >= TRIM_EVERY_MS) {
            trim(&a);
            a.last_trim = t;
        }
    }
    sys_info("stopping", "applied=%llu", (unsigned long long)agg_get(a.m.applied));
    /* give the leases back so another aggregator takes over at once */
    for (int p = 0; p < a.conf.partitions && a.rc; p++) {
        if (!a.owned[p])
            continue;
        char key[PROTO_KEY_MAX];
        proto_key_lease(key, sizeof key, a.conf.prefix, (unsigned)p);
        redisReply *r = agg_cmd(&a, "EVAL %s 1 %s %s",
                            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
                            key, a.me);
        freeReplyObject(r);
    }
    agg_webhook_free(wh);
    agg_server_free(srv);
    if (a.rc)
        redisFree(a.rc);
    free(a.camps);
    agg_arena_free(a.round[0].arena);
    agg_arena_free(a.round[1].arena);
    return 0;
}
