/* sink_node.c: on a Redis Cluster, one master failing alone — its in-flight hits spooled, its partitions' hits spooled while it is away, the map checked and the node reconnected and reconciled by itself. */
#include "sink.h"
#include "clock.h"
#include "sink_int.h"

#include <hiredis/async.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "spool.h"

#define BACKOFF_MAX_MS 2000

/* Takes e off the list of replies node n owes; never fails (e not in it:
 * nothing changes). */
void coll_sink_owed_drop(sink_node *n, inflight *e)
{
    inflight *prev = NULL;
    for (inflight *o = n->ohead; o; prev = o, o = o->onext) {
        if (o != e)
            continue;
        if (prev)
            prev->onext = e->onext;
        else
            n->ohead = e->onext;
        if (n->otail == e)
            n->otail = prev;
        e->onext = NULL;
        return;
    }
}

/* Returns 1 if hits of partition p may be sent now rather than spooled:
 * its node up, and none of its hits waiting in the spool (which keeps each
 * partition's hits in order between the spool and direct sends). */
int coll_sink_part_direct(const coll_sink *s, unsigned p)
{
    return s->node[s->part_node[p]].state == S_UP &&
           (coll_spool_empty(s->spool) || (!s->spooled_unknown && s->spooled[p] == 0));
}

/* Returns 1 if node n may fail alone: a cluster whose sink is up, no
 * replayed hit in flight (their acks must keep spool order: the whole
 * sink rewinds instead), no hit followed through ASK (a slot moving:
 * which node has it is not plain), and another node still up. */
static int fails_alone(const coll_sink *s, const sink_node *n)
{
    if (!s->partial || s->state != S_UP || s->ninflight > s->ndirect)
        return 0;
    int others = 0;
    for (int i = 0; i < s->nnodes; i++)
        others += i != n->idx && s->node[i].state == S_UP;
    if (!others)
        return 0;
    for (const inflight *e = s->head; e; e = e->next)
        if (e->asks)
            return 0;
    return 1;
}

/* Moves every in-flight hit written to node n (acknowledged ones too: the
 * reconcile finds those) out of the list, keeping the others in send
 * order, and into the spool ahead of every record; plans the reconcile of
 * n's partitions. Returns how many hits it moved; never fails (a spool out
 * of memory drops them, counted). */
static size_t persist_node(coll_sink *s, const sink_node *n)
{
    inflight *gone = NULL, **gt = &gone, **pp = &s->head, *last = NULL;
    size_t cnt = 0;
    while (*pp) {
        inflight *e = *pp;
        if (e->wnode == n->idx) {
            *pp = e->next;
            e->next = NULL;
            *gt = e;
            gt = &e->next;
            cnt++;
        } else {
            last = e;
            pp = &e->next;
        }
    }
    s->tail = last;
    if (!cnt)
        return 0;
    s->ninflight -= (int64_t)cnt;
    s->ndirect -= (int64_t)cnt;     /* all direct: fails_alone */
    for (int p = 0; p < s->conf->partitions; p++)
        if (s->part_node[p] == n->idx)
            coll_sink_plan_scan(s, p);
    const unsigned char **recs = malloc(cnt * sizeof *recs);
    size_t *lens = malloc(cnt * sizeof *lens), i = 0;
    int ok = 0;
    if (recs && lens) {
        char hdr[COLL_SPOOL_HDR_MAX];
        for (inflight *e = gone; e; e = e->next, i++) {
            recs[i] = e->data;
            lens[i] = e->len;
        }
        coll_sink_make_header(s, hdr, sizeof hdr);
        ok = coll_spool_prepend(s->spool, hdr, recs, lens, cnt, sys_now_ms()) == 0;
    }
    while (gone) {
        inflight *e = gone;
        gone = e->next;
        if (ok)
            s->spooled[e->partition]++;
        else
            coll_sink_note_drop(s, COLL_DROP_OUT_OF_MEMORY);
        coll_slab_free(&s->slab, e);
    }
    free(recs);
    free(lens);
    return cnt;
}

/* Takes node n down for why: alone when fails_alone says so, else the
 * whole sink. Never fails. */
void coll_sink_node_fail(sink_node *n, const char *why, int hung, const redisAsyncContext *keep)
{
    coll_sink *s = n->s;
    if (!fails_alone(s, n)) {
        coll_sink_fail(s, why, hung, keep);
        return;
    }
    int64_t now = sys_now_ms();
    coll_inc(s->m->redis_failures);
    size_t moved = persist_node(s, n);
    redisAsyncContext *ac = n->ac;
    if (hung && n->client_id > 0) {     /* killed before its reconcile */
        n->kill_id = n->client_id;
        snprintf(n->kill_addr, sizeof n->kill_addr, "%s", n->laddr);
    }
    n->client_id = 0;
    if (n->synced) {
        n->synced = 0;
        s->nsynced--;
    }
    n->ac = NULL;
    n->unwaited = 0;        /* what it owed is persisted: confirmed or sent again */
    n->rewait = 0;
    n->wait_sent_ms = 0;
    n->ohead = n->otail = NULL;
    n->gen++;
    n->state = S_DOWN;
    n->state_since = now;
    n->next_connect = now + n->backoff_ms;
    n->backoff_ms = n->backoff_ms ? n->backoff_ms * 2 : 100;
    if (n->backoff_ms > BACKOFF_MAX_MS)
        n->backoff_ms = BACKOFF_MAX_MS;
    if (ac) {
        ac->data = NULL;
        if (ac != keep)
            redisAsyncFree(ac);
    }
    if (!n->down_logged)
        sys_warn("redis: a master is down, spooling its partitions' hits; the other masters take theirs",
                 "thread=%d node=%s:%d why=\"%s\" in_flight=%zu", s->index, n->host, n->port, why, moved);
    n->down_logged = 1;
    coll_sink_release_ready(s);     /* hits it held back at the head */
    coll_sink_gauges(s);
}

/* Connects the down nodes whose back-off passed (the map check found the
 * map unchanged); one that cannot start waits for its next turn. Never
 * fails. */
void coll_sink_nodes_reconnect(coll_sink *s)
{
    int64_t now = sys_now_ms();
    for (int i = 0; i < s->nnodes && s->state == S_UP; i++) {
        sink_node *n = &s->node[i];
        char err[128];
        if (n->state != S_DOWN || now < n->next_connect || coll_sink_node_connect(n, err, sizeof err) == 0)
            continue;
        n->next_connect = now + (n->backoff_ms ? n->backoff_ms : 100);
    }
}

/* Times out nodes, ends a hung map check, and starts a map check when a
 * down node is due; never fails. */
void coll_sink_nodes_tick(coll_sink *s, int64_t now)
{
    int64_t limit = s->conf->redis_timeout_ms;
    int due = 0;
    for (int i = 0; i < s->nnodes && s->state == S_UP; i++) {
        sink_node *n = &s->node[i];
        int hung = n->state == S_UP
            ? (n->ohead && now - n->ohead->sent_ms > limit) ||
              (n->wait_sent_ms && now - n->wait_sent_ms > limit)
            : n->state != S_DOWN && now - n->state_since > limit;
        if (hung) {
            if (!n->down_logged)    /* said once an outage of it, not once a retry */
                sys_warn("redis: no reply in time from a master, dropping its connection",
                         "thread=%d node=%s:%d timeout_ms=%d", s->index, n->host, n->port,
                         s->conf->redis_timeout_ms);
            coll_sink_node_fail(n, "timeout", 1, NULL);
        } else if (n->state == S_DOWN && !s->draining && now >= n->next_connect) {
            due = 1;
        }
    }
    if (s->state != S_UP)
        return;
    if (s->map_ac && s->map_check && now - s->map_since > limit)
        coll_sink_map_check_end(s, 1);
    if (due && !s->map_ac)
        coll_sink_map_check(s);
}

/* Marks node n up once its sync is over: the sink goes up when every node
 * is; on a cluster whose sink is up, n rejoins and the spool replays once
 * every node is up. Never fails. */
void coll_sink_node_synced(sink_node *n)
{
    coll_sink *s = n->s;
    int rejoin = s->state == S_UP;
    n->synced = 1;
    n->state = S_UP;
    n->state_since = sys_now_ms();
    ++s->nsynced;
    if (rejoin) {
        sys_info("redis: master back, its partitions reconciled", "thread=%d node=%s:%d found_in_redis=%"
                 PRIu64, s->index, n->host, n->port, s->scan_found);
        n->down_logged = 0;
    }
    if (s->nsynced < s->nnodes) {
        coll_sink_gauges(s);
        return;             /* the others are still at it */
    }
    if (s->need_scan && !rejoin)
        sys_info("redis: reconciled", "thread=%d found_in_redis=%" PRIu64, s->index,
                   s->scan_found);
    s->need_scan = 0;
    s->scan_found = 0;
    if (!rejoin) {
        s->state = S_UP;
        coll_spool_stats st;
        coll_spool_stats_get(s->spool, &st);
        if (st.records == 0)        /* nothing to send: up for sure */
            coll_sink_working(s);
        /* else the first XADD acknowledged says so: a Redis that connects
         * but refuses writes (OOM, READONLY…) is still one outage, retried
         * on the same back-off and logged once */
    }
    coll_sink_gauges(s);
    s->kick(s);     /* sink.c sends what the spool holds */
}
