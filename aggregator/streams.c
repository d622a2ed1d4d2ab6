/* streams.c: the aggregator's connection and its hit streams — consumer
 * groups, partition leases, trimming and lag. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "clock.h"
#include "log.h"

#define LEASE_MS 5000
#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 5000

/* ---------------------------------------------------------------- connection */

/* Drops the connection after an error; never fails. */
void agg_disconnect(agg *a, const char *why)
{
    if (!a->up)
        return;
    sys_warn("redis: connection dropped", "why=\"%s\"", why);
    agg_outage(a);
    agg_inc(a->m.redis_failures);
    sys_redis_close(a->r);
    a->up = 0;
    atomic_store(&a->m.redis_up, 0);
    for (int p = 0; p < a->conf.partitions; p++)
        a->need_pel[p] = a->need_rewind[p] = 1;
}

/* Notes a failure of the Redis path: the first of an outage was logged,
 * the rest are held back (sys_log_hush), and the next connect waits on a
 * back-off of RETRY_MIN_MS doubling to RETRY_MAX_MS, so a Redis that
 * answers every retry with an error (OOM, BUSY, LOADING, READONLY…) is
 * neither flooded nor logged in a loop. Never fails. */
void agg_outage(agg *a)
{
    if (!a->retry_ms)
        a->outage_since = sys_now_ms();
    a->retry_ms = a->retry_ms ? a->retry_ms * 2 : RETRY_MIN_MS;
    if (a->retry_ms > RETRY_MAX_MS)
        a->retry_ms = RETRY_MAX_MS;
    sys_log_hush();
}

/* Ends an outage after a round that kept the connection: says how long it
 * lasted and how many lines were held back. Never fails. */
void agg_recovered(agg *a)
{
    if (!a->retry_ms)
        return;
    int held = sys_log_speak();
    sys_info("redis: working again", "after_ms=%lld lines_held_back=%d", sys_now_ms() - a->outage_since,
             a->held_lines + (held > 0 ? held : 0));
    a->retry_ms = 0;
    a->held_lines = 0;
}

/* Runs one command; returns the reply or NULL (a transport error drops
 * the connection). */
redisReply *agg_cmd(agg *a, const char *fmt, ...)
{
    va_list ap;
    if (!a->up)
        return NULL;
    va_start(ap, fmt);
    redisReply *r = sys_redis_vcmd(a->r, fmt, ap);
    va_end(ap);
    if (!r && sys_redis_last(a->r) != SYS_REDIS_REPLY && !agg_node_lost(a))
        agg_disconnect(a, sys_redis_err(a->r));
    return r;
}

/* Says whether the last failure was one cluster node alone. */
int agg_node_lost(const agg *a)
{
    return sys_redis_is_cluster(a->r) && sys_redis_last(a->r) == SYS_REDIS_LOST;
}

/* Lets partition p go while its node is unreachable; never fails. */
void agg_partition_away(agg *a, int p, const char *why)
{
    if (a->owned[p])
        sys_warn("redis: the partition's cluster node is unreachable; left until it answers",
                 "partition=%d err=\"%s\"", p, why);
    a->owned[p] = 0;
    atomic_store(&a->m.owned[p], 0);
}

/* Connects, loads the scripts and creates the groups. Returns 0 or -1. */
int agg_connect(agg *a)
{
    if (sys_redis_connect(a->r) < 0) {
        if (atomic_load(&a->m.redis_up) || sys_redis_backoff_ms(a->r) <= 100 ||
            sys_redis_last(a->r) == SYS_REDIS_REFUSED)
            sys_warn("redis: cannot connect", "redis=%s err=\"%s\"", sys_redis_where(a->r),
                     sys_redis_err(a->r));
        return -1;
    }
    int evicts;
    /* a refusal that stops the daemon is said even in an outage */
    int hushed = sys_log_hushed();
    if (hushed)
        a->held_lines += sys_log_speak();
    int ev = sys_redis_check_eviction(a->r, a->conf.allow_eviction, "aggregator", &evicts);
    if (hushed && ev != 1)
        sys_log_hush();
    if (ev == 1) {
        sys_redis_close(a->r);
        return -2;
    }
    if (ev < 0 && sys_redis_last(a->r) != SYS_REDIS_REPLY)
        goto fail;
    if (ev < 0)     /* INFO refused (an ACL) or without the line: say so, run */
        sys_warn("redis: cannot read maxmemory-policy, eviction not checked", "err=\"%s\"",
                 sys_redis_err(a->r));
    atomic_store(&a->m.evicts, evicts);
    if (agg_scripts_load(a->r) < 0)
        goto fail;
    for (int p = 0; p < a->conf.partitions; p++) {
        /* from 0: hits written before the first start are counted too */
        redisReply *r = sys_redis_cmd(a->r, "XGROUP CREATE %s %s 0 MKSTREAM", a->keys[p], AGG_GROUP);
        a->need_group[p] = 0;
        if (r)
            freeReplyObject(r);
        else if (agg_node_lost(a))
            a->need_group[p] = 1;   /* its node is down: the group is made when the lease is taken */
        else if (sys_redis_last(a->r) != SYS_REDIS_REPLY ||
                 strncmp(sys_redis_err(a->r), "BUSYGROUP", 9) != 0)
            goto fail;
    }
    a->up = 1;
    a->outbox_due = 1;          /* a move cut short by the outage is finished */
    atomic_store(&a->m.redis_up, 1);
    sys_info("redis: connected", "consumer=%s partitions=%d", a->me, a->conf.partitions);
    return 0;
fail:
    if (sys_redis_last(a->r) == SYS_REDIS_REPLY && strncmp(sys_redis_err(a->r), "NOPERM", 6) == 0) {
        /* an ACL user without a command it needs: retrying cannot help */
        if (sys_log_hushed())
            sys_log_speak();
        sys_error("redis: the user may not run a command the aggregator needs; grant it",
                  "redis=%s err=\"%s\"", sys_redis_where(a->r), sys_redis_err(a->r));
        sys_redis_close(a->r);
        return -2;
    }
    sys_error("redis: set-up failed", "err=\"%s\"", sys_redis_err(a->r));
    sys_redis_close(a->r);
    return -1;
}

/* ---------------------------------------------------------------- leases */

/* What the heartbeat's last reply says: how many run, and this one's place. */
typedef struct {
    const char *me;
    int n, rank;
} live;

/* Takes the ZRANGE of the aggregators alive (a ledger handler). */
static int on_live(void *arg, redisReply *rep, size_t i)
{
    live *l = arg;
    (void)i;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 1) {
        l->n = (int)rep->elements;
        for (size_t k = 0; k < rep->elements; k++)  /* names before mine */
            l->rank += rep->element[k]->type == REDIS_REPLY_STRING && strcmp(rep->element[k]->str, l->me) < 0;
    }
    freeReplyObject(rep);
    return 0;
}

/* Says this aggregator is alive (ag:aggregators) and forgets those silent
 * for a lease's length, in one round trip. Returns how many run, this one
 * included, and its place among their names in *rank (1 and 0 when Redis
 * does not say: then every free lease is taken, as alone). */
static int live_aggregators(agg *a, int *rank)
{
    char key[PROTO_KEY_MAX];
    long long now = sys_now_ms();
    live l = {a->me, 1, 0};
    proto_key_aggregators(key, sizeof key, a->conf.prefix);
    if (sys_redis_sendf(a->r, NULL, NULL, "ZADD %s %lld %s", key, now, a->me) < 0 ||
        sys_redis_sendf(a->r, NULL, NULL, "ZREMRANGEBYSCORE %s -inf (%lld", key, now - LEASE_MS) < 0 ||
        sys_redis_sendf(a->r, on_live, &l, "ZRANGE %s 0 -1", key) < 0 || sys_redis_flush(a->r) < 0 ||
        sys_redis_run(a->r, 0) < 0) {
        if (!agg_node_lost(a))
            agg_disconnect(a, sys_redis_err(a->r));
        l.n = 1, l.rank = 0;
    }
    *rank = l.n > 1 ? l.rank : 0;
    return l.n;
}

/* Marks partition p as taken anew: before its next round it is read again
 * from its cursor, a dead consumer's pending entries claimed and its own
 * read; never fails. */
static void catch_up_all(agg *a, int p)
{
    a->need_claim[p] = a->need_pel[p] = a->need_rewind[p] = 1;
}

/* Renews held leases and takes free ones (or ones held under this
 * consumer's own name: a restarted aggregator takes over at once), up to
 * this aggregator's share of the partitions (partitions / aggregators
 * running, one more for the first partitions % aggregators of them by
 * name: 6/5/5 for 16 on three); one holding more than its share, because
 * another started, gives the rest back for it to take. Never fails
 * (errors drop the connection). */
void agg_leases(agg *a)
{
    char key[PROTO_KEY_MAX];
    int rank, live = live_aggregators(a, &rank), mine = 0;
    int share = a->conf.partitions / live + (rank < a->conf.partitions % live);
    if (share == 0)
        share = 1;          /* more aggregators than partitions: standbys, each ready to take one */
    for (int p = 0; p < a->conf.partitions; p++)
        mine += a->owned[p];
    for (int p = 0; p < a->conf.partitions && a->up; p++) {
        if (!a->owned[p] && mine >= share)
            continue;           /* left for the others */
        proto_key_lease(key, sizeof key, a->conf.prefix, (unsigned)p);
        if (a->owned[p] && mine > share) {
            redisReply *g = agg_cmd(a, "EVALSHA %s 1 %s %s", agg_scripts_sha(AGG_SCRIPT_LEASE_GIVE),
                                    key, a->me);
            freeReplyObject(g);
            sys_info("partition handed over: another aggregator runs", "partition=%d share=%d aggregators=%d",
                     p, share, live);
            a->owned[p] = 0;
            atomic_store(&a->m.owned[p], 0);
            mine--;
            continue;
        }
        redisReply *r = agg_cmd(a, "EVALSHA %s 1 %s %s %d", agg_scripts_sha(AGG_SCRIPT_LEASE_TAKE),
                                key, a->me, LEASE_MS);
        if (!r && agg_node_lost(a)) {
            agg_partition_away(a, p, sys_redis_err(a->r));
            continue;
        }
        if (!r) {
            agg_disconnect(a, sys_redis_err(a->r));
            return;
        }
        int held = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
        if (held && !a->owned[p] && a->need_group[p]) {
            /* its node was down at connect: the group first */
            redisReply *g = agg_cmd(a, "XGROUP CREATE %s %s 0 MKSTREAM", a->keys[p], AGG_GROUP);
            freeReplyObject(g);
            if (!g && sys_redis_last(a->r) != SYS_REDIS_REPLY) {
                freeReplyObject(r);
                agg_partition_away(a, p, sys_redis_err(a->r));
                continue;
            }
            a->need_group[p] = 0;
        }
        long long now = sys_now_ms();
        if (held && a->owned[p] && now - a->lease_at[p] > LEASE_MS) {
            /* renewed after it lapsed (this process was stalled): another
             * aggregator may have owned it meanwhile, so as if taken anew */
            sys_warn("partition lease lapsed and taken again: reading from its cursor", "partition=%d", p);
            catch_up_all(a, p);
        }
        if (held)
            a->lease_at[p] = now;
        if (held && !a->owned[p]) {
            mine++;
            sys_info("partition taken", "partition=%d consumer=%s", p, a->me);
            catch_up_all(a, p);
            a->outbox_due = 1;  /* alerts its last owner raised and did not move */
        } else if (!held && a->owned[p]) {
            mine--;
            sys_warn("partition lost to another aggregator", "partition=%d", p);
        }
        a->owned[p] = held;
        atomic_store(&a->m.owned[p], held);
        freeReplyObject(r);
    }
}

/* Gives the held leases back so another aggregator takes over at once;
 * never fails. */
void agg_leases_release(agg *a)
{
    for (int p = 0; p < a->conf.partitions && a->up; p++) {
        if (!a->owned[p])
            continue;
        char key[PROTO_KEY_MAX];
        proto_key_lease(key, sizeof key, a->conf.prefix, (unsigned)p);
        redisReply *r = agg_cmd(a, "EVALSHA %s 1 %s %s", agg_scripts_sha(AGG_SCRIPT_LEASE_GIVE),
                                key, a->me);
        if (r)
            freeReplyObject(r);
    }
    if (a->up) {            /* the others' share grows at once */
        char key[PROTO_KEY_MAX];
        proto_key_aggregators(key, sizeof key, a->conf.prefix);
        freeReplyObject(agg_cmd(a, "ZREM %s %s", key, a->me));
    }
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

/* Reads partition p's cursor (ag:applied:{P}) into id (cap bytes), "" if
 * it has none. Returns 0, or -1 (the connection or its node failed). */
static int cursor_get(agg *a, int p, char *id, size_t cap)
{
    char key[PROTO_KEY_MAX];
    proto_key_applied(key, sizeof key, a->conf.prefix, (unsigned)p);
    redisReply *r = agg_cmd(a, "GET %s", key);
    id[0] = 0;
    if (!r)
        return -1;
    snprintf(id, cap, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
    return 0;
}

/* Sets partition p's cursor to the group's last delivered id, up to which
 * every entry was acknowledged or is pending (reads before the cursor
 * existed), into cur (cap bytes); only if it has none, unless force.
 * Returns 0 or -1. */
static int cursor_from_group(agg *a, int p, int force, char *cur, size_t cap)
{
    char key[PROTO_KEY_MAX], last[64];
    long long lag;
    if (group_state(a, p, last, sizeof last, &lag) < 0)
        return -1;
    proto_key_applied(key, sizeof key, a->conf.prefix, (unsigned)p);
    /* NX GET: the cursor another aggregator set meanwhile, else ours */
    redisReply *r = force ? agg_cmd(a, "SET %s %s", key, last) : agg_cmd(a, "SET %s %s NX GET", key, last);
    if (!r)
        return -1;
    snprintf(cur, cap, "%s", r->type == REDIS_REPLY_STRING ? r->str : last);
    freeReplyObject(r);
    return cur[0] ? 0 : -1;
}

int agg_rewind(agg *a, int p)
{
    char cur[64];
    int bad = 0;
    if (cursor_get(a, p, cur, sizeof cur) < 0) {
        if (sys_redis_last(a->r) != SYS_REDIS_REPLY)
            return -1;
        bad = 1;                        /* an error reply: not a string */
    } else if (cur[0] && !proto_stream_id_valid(cur)) {
        bad = 1;
    }
    if (bad)
        sys_error("partition cursor unusable: taken from the group's last delivered id",
                  "partition=%d cursor=\"%.40s\"", p, cur);
    if ((bad || !cur[0]) && cursor_from_group(a, p, bad, cur, sizeof cur) < 0)
        return -1;
    redisReply *r = agg_cmd(a, "XGROUP SETID %s %s %s", a->keys[p], AGG_GROUP, cur);
    if (!r)
        return -1;
    freeReplyObject(r);
    return 0;
}

/* Trims owned streams below what is applied, acknowledged and older than
 * keep_hours (the safe MINID is computed here: XTRIM ignores pending
 * entries); never fails. */
void agg_trim(agg *a)
{
    long long keep = sys_now_ms() - (long long)a->conf.keep_hours * 3600000LL;
    for (int p = 0; p < a->conf.partitions && a->up; p++) {
        char minid[64], last[64];
        if (!a->owned[p])
            continue;
        snprintf(minid, sizeof minid, "%lld-0", keep > 0 ? keep : 0);
        /* nothing from the oldest pending entry on is applied for sure */
        redisReply *r = agg_cmd(a, "XPENDING %s %s", a->keys[p], AGG_GROUP);
        if (!r && agg_node_lost(a))
            continue;
        if (!r)
            return;
        if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 && r->element[0]->type == REDIS_REPLY_INTEGER &&
            r->element[0]->integer > 0 && r->element[1]->type == REDIS_REPLY_STRING &&
            proto_stream_id_cmp(r->element[1]->str, minid) < 0)
            snprintf(minid, sizeof minid, "%s", r->element[1]->str);
        freeReplyObject(r);
        /* nor anything above the cursor (never above the group's last
         * delivered id: it moves only to entries read) */
        if (cursor_get(a, p, last, sizeof last) < 0) {
            if (agg_node_lost(a))
                continue;
            return;
        }
        if (!last[0])
            continue;           /* no cursor yet: nothing known applied */
        if (proto_stream_id_cmp(last, minid) < 0)
            snprintf(minid, sizeof minid, "%s", last);
        r = agg_cmd(a, "XTRIM %s MINID ~ %s", a->keys[p], minid);
        if (!r && agg_node_lost(a))
            continue;
        if (!r)
            return;
        if (r->type == REDIS_REPLY_INTEGER)
            agg_add(a->m.trimmed, (uint64_t)r->integer);
        freeReplyObject(r);
    }
}

/* Updates the lag gauge of every partition (0 where not owned); never fails. */
void agg_update_lag(agg *a)
{
    for (int p = 0; p < a->conf.partitions && a->up; p++) {
        char last[64];
        long long lag = 0;
        if (a->owned[p] && (group_state(a, p, last, sizeof last, &lag) < 0 || lag < 0))
            continue;
        if (lag > 0) {
            /* Redis 7.0 miscounts the lag after reloading its AOF: nothing
             * past the last delivered id is no lag, whatever it says */
            redisReply *r = agg_cmd(a, "XRANGE %s (%s + COUNT 1", a->keys[p], last);
            if (!r && agg_node_lost(a))
                continue;
            if (!r)
                return;
            if (r->type == REDIS_REPLY_ARRAY && r->elements == 0)
                lag = 0;
            freeReplyObject(r);
        }
        atomic_store(&a->m.lag[p], lag);
    }
}
