/* sink_conn.c: the sink's Redis connection life cycle and the reconcile that keeps hits unique. */
#include "sink.h"
#include "clock.h"
#include "sink_int.h"

#include <arpa/inet.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "htab.h"
#include "keys.h"
#include "log.h"
#include "spool.h"

#define SCAN_PAGE 1000

static void sync_step(sink_node *n);

/* Writes the spool header naming this writer and where a reconcile scan
 * must start: the acknowledged ids, or ten minutes before now where none is
 * known yet. Never fails (truncates). */
void coll_sink_make_header(coll_sink *s, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "inst=%s parts=%d ids=", s->inst, s->conf->partitions);
    int64_t floor_ms = sys_now_ms() - 600000;
    for (int p = 0; p < s->conf->partitions && n < cap; p++) {
        if (s->acked[p][0])
            n += (size_t)snprintf(out + n, cap - n, "%s%s", p ? "," : "", s->acked[p]);
        else
            n += (size_t)snprintf(out + n, cap - n, "%s%" PRId64 "-0", p ? "," : "",
                                  floor_ms > 0 ? floor_ms : 0);
    }
}

/* Adds a hid prefix to reconcile; past MAX_INSTS, any prefix matches. */
static void add_inst(coll_sink *s, const char *inst, size_t len)
{
    if (len >= sizeof s->insts[0])
        len = sizeof s->insts[0] - 1;
    for (int i = 0; i < s->ninsts && i < MAX_INSTS; i++)
        if (strlen(s->insts[i]) == len && memcmp(s->insts[i], inst, len) == 0)
            return;
    if (s->ninsts < MAX_INSTS) {
        memcpy(s->insts[s->ninsts], inst, len);
        s->insts[s->ninsts][len] = 0;
    }
    s->ninsts++;
}

/* Lowers scan_from to the earlier of it and id for partition p. */
static void lower_scan(coll_sink *s, int p, const char *id)
{
    if (!s->scan_from[p][0] || proto_stream_id_cmp(id, s->scan_from[p]) < 0)
        snprintf(s->scan_from[p], ID_MAX, "%s", id);
}

/* Plans a reconcile from a spool file header (callback of each_header). */
void coll_sink_plan_from_header(void *arg, const char *hdr)
{
    coll_sink *s = arg;
    const char *inst = strstr(hdr, "inst="), *parts = strstr(hdr, "parts="),
               *ids = strstr(hdr, "ids=");
    s->need_scan = 1;
    if (inst) {
        inst += 5;
        add_inst(s, inst, strcspn(inst, " "));
    } else {
        s->ninsts = MAX_INSTS + 1;
    }
    if (!parts || !ids || atoi(parts + 6) != s->conf->partitions) {
        for (int p = 0; p < s->conf->partitions; p++)
            snprintf(s->scan_from[p], ID_MAX, "0-0");
        return;
    }
    ids += 4;
    for (int p = 0; p < s->conf->partitions && *ids; p++) {
        char id[ID_MAX];
        size_t n = strcspn(ids, ", ");
        if (n >= sizeof id)
            n = sizeof id - 1;
        memcpy(id, ids, n);
        id[n] = 0;
        lower_scan(s, p, id);
        ids += n;
        if (*ids == ',')
            ids++;
    }
}

/* Plans a reconcile of partition p from its last acknowledged id (ten
 * minutes back if none) and of this writer's hits; never fails. */
void coll_sink_plan_scan(coll_sink *s, int p)
{
    if (s->acked[p][0])
        lower_scan(s, p, s->acked[p]);
    else
        snprintf(s->scan_from[p], ID_MAX, "%" PRId64 "-0", sys_now_ms() - 600000);
    add_inst(s, s->inst, strlen(s->inst));
    s->need_scan = 1;
}

/* Persists the unacknowledged in-flight hits so they are resent (after a
 * reconcile) before anything newer: replayed ones by rewinding the spool
 * to the oldest, direct ones ahead of every record (on a cluster the two
 * mix: the pump runs while other partitions' hits go direct). Never fails
 * (errors are logged and the hits counted as dropped). */
static void persist_inflight(coll_sink *s)
{
    if (!s->head)
        return;
    for (int p = 0; p < s->conf->partitions; p++)
        coll_sink_plan_scan(s, p);
    const inflight *first = NULL;
    size_t n = 0, i = 0;
    for (inflight *e = s->head; e; e = e->next) {
        proto_hit hit;
        if (!e->from_spool) {
            n++;
            continue;
        }
        if (!first)
            first = e;
        /* unpack the hids of other writers' records we were replaying */
        if (proto_hit_unpack(&hit, e->data, e->len) == 0) {
            const char *dash = strrchr(hit.hid, '-');
            if (dash)
                add_inst(s, hit.hid, (size_t)(dash - hit.hid));
        }
    }
    if (first)
        coll_spool_rewind(s->spool, &first->pos);
    if (n) {
        const unsigned char **recs = malloc(n * sizeof *recs);
        size_t *lens = malloc(n * sizeof *lens);
        char hdr[COLL_SPOOL_HDR_MAX];
        int ok = 0;
        if (recs && lens) {
            for (inflight *e = s->head; e; e = e->next)
                if (!e->from_spool) {
                    recs[i] = e->data;
                    lens[i++] = e->len;
                }
            coll_sink_make_header(s, hdr, sizeof hdr);
            ok = coll_spool_prepend(s->spool, hdr, recs, lens, n, sys_now_ms()) == 0;
        }
        for (inflight *e = s->head; e; e = e->next) {
            if (e->from_spool)
                continue;
            if (!ok)
                coll_sink_note_drop(s, COLL_DROP_OUT_OF_MEMORY);
            else if (s->partial)
                s->spooled[e->partition]++;
        }
        free(recs);
        free(lens);
    }
    coll_sink_inflight_clear(s);
}

/* ---------------------------------------------------------------- state */

static const char *const degraded_names[] = {"disk_full", "disk_error", "spool_full"};

/* Updates the gauges other threads read, and counts the spooled records
 * found lost on replay as dropped; never fails. */
void coll_sink_gauges(coll_sink *s)
{
    coll_spool_stats st;
    coll_spool_stats_get(s->spool, &st);
    if (st.lost > s->lost_seen) {
        s->spooled_unknown = 1;     /* whose partitions: unknown */
        coll_add(s->m->dropped[COLL_DROP_CORRUPT], (uint64_t)(st.lost - s->lost_seen));
        s->lost_seen = st.lost;
    }
    int degraded = st.disk == COLL_SPOOL_DISK_FULL ? 1
                 : st.disk == COLL_SPOOL_DISK_ERROR || st.held ? 2
                 : st.full ? 3 : 0;
    atomic_store_explicit(&s->g_up, s->state == S_UP, memory_order_relaxed);
    atomic_store_explicit(&s->g_queued, s->ninflight, memory_order_relaxed);
    atomic_store_explicit(&s->g_spool_records, st.records, memory_order_relaxed);
    atomic_store_explicit(&s->g_spool_held, st.held, memory_order_relaxed);
    atomic_store_explicit(&s->g_spool_bytes, st.disk_bytes, memory_order_relaxed);
    atomic_store_explicit(&s->g_spool_mem_bytes, st.mem_bytes, memory_order_relaxed);
    atomic_store_explicit(&s->g_spool_written, st.written, memory_order_relaxed);
    atomic_store_explicit(&s->g_spool_damaged, st.damaged, memory_order_relaxed);
    atomic_store_explicit(&s->g_degraded, degraded, memory_order_relaxed);
    atomic_store_explicit(&s->g_nodes_down, s->partial && s->state == S_UP ? s->nnodes - s->nsynced : 0,
                          memory_order_relaxed);
}

/* Frees every in-flight entry; never fails. */
void coll_sink_inflight_clear(coll_sink *s)
{
    while (s->head) {
        inflight *e = s->head;
        s->head = e->next;
        coll_slab_free(&s->slab, e);
    }
    s->tail = NULL;
    s->ninflight = s->ndirect = 0;
}

/* Counts and logs (at most once a second) a dropped hit; never fails. */
void coll_sink_note_drop(coll_sink *s, coll_drop why)
{
    int64_t t = sys_now_ms();
    coll_inc(s->m->dropped[why]);
    s->drops_since_log++;
    if (t - s->drop_logged_ms >= 1000) {
        coll_spool_stats st;
        coll_spool_stats_get(s->spool, &st);
        sys_error("hit dropped: cannot spool", "reason=%s dropped=%" PRIu64 " spool_bytes=%"
                    PRId64 " spool_max_bytes=%" PRId64 " held=%" PRId64 " queue_max=%" PRId64,
                    coll_drop_name(why), s->drops_since_log, st.disk_bytes + st.mem_bytes,
                    s->conf->spool_max_bytes, st.held, s->conf->queue_max);
        s->drop_logged_ms = t;
        s->drops_since_log = 0;
    }
}

/* ---------------------------------------------------------------- connection */

/* Returns the sink of a context's callback, or NULL if the context is no
 * longer ours (stale replies are ignored). */
coll_sink *coll_sink_of(const redisAsyncContext *ac)
{
    const sink_node *n = ac->data;
    return n && n->ac == ac ? n->s : NULL;
}

/* Closes every connection but keep (hiredis frees that one itself),
 * remembering on a hang which connections to kill on the next connect;
 * never fails. */
static void close_all(coll_sink *s, int hung, const redisAsyncContext *keep)
{
    for (int i = 0; i < s->nnodes; i++) {
        sink_node *n = &s->node[i];
        redisAsyncContext *ac = n->ac;
        if (hung && n->client_id > 0) {
            /* every node's: a reply owed by a slow node may still run */
            n->kill_id = n->client_id;
            snprintf(n->kill_addr, sizeof n->kill_addr, "%s", n->laddr);
        }
        n->client_id = 0;
        n->synced = 0;
        n->ac = NULL;
        n->unwaited = 0;        /* what it owed is persisted: confirmed or sent again */
        n->rewait = 0;
        n->wait_sent_ms = 0;
        n->ohead = n->otail = NULL;
        n->state = S_DOWN;
        n->down_logged = 0;
        n->backoff_ms = 0;
        n->gen++;
        if (ac) {
            ac->data = NULL;
            if (ac != keep)
                redisAsyncFree(ac);
        }
    }
    if (s->map_ac) {
        redisAsyncContext *ac = s->map_ac;
        s->map_ac = NULL;
        ac->data = NULL;
        if (ac != keep)
            redisAsyncFree(ac);
    }
    s->map_check = 0;
    s->nsynced = 0;
}

/* Takes every connection down: persists in-flight hits, frees the
 * contexts (but keep), and schedules a reconnect; never fails. */
void coll_sink_fail(coll_sink *s, const char *why, int hung, const redisAsyncContext *keep)
{
    if (s->state == S_DOWN)
        return;
    coll_inc(s->m->redis_failures);
    if (!s->down_logged)
        sys_warn("redis: down, spooling hits", "thread=%d why=\"%s\" in_flight=%" PRId64,
                   s->index, why, s->ninflight);
    s->down_logged = 1;
    persist_inflight(s);
    close_all(s, hung, keep);
    s->state = S_DOWN;
    s->next_connect = sys_now_ms() + s->backoff_ms;
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : 100;
    if (s->backoff_ms > 2000)
        s->backoff_ms = 2000;
    coll_sink_gauges(s);
}

/* Ends an outage once Redis took a write (or had nothing to take): resets
 * the back-off and says "up" if "down" was said. Never fails. */
void coll_sink_working(coll_sink *s)
{
    s->backoff_ms = 0;
    if (!s->down_logged)
        return;
    coll_spool_stats st;
    coll_spool_stats_get(s->spool, &st);
    sys_info("redis: up", "thread=%d spooled=%" PRId64 " held=%" PRId64, s->index, st.records - st.held,
             st.held);
    s->down_logged = 0;
}

/* Handles the end of a connection that hiredis reports. */
static void on_disconnect(const redisAsyncContext *ac, int status)
{
    coll_sink *s = coll_sink_of(ac);
    if (s)
        coll_sink_node_fail(ac->data, status == REDIS_OK ? "closed" : ac->errstr, 0, ac);
}

/* Handles the outcome of a node's connect attempt. */
static void on_connect(const redisAsyncContext *ac, int status)
{
    coll_sink *s = coll_sink_of(ac);
    sink_node *n = ac->data;
    if (!s)
        return;
    if (status != REDIS_OK) {
        coll_sink_node_fail(n, ac->errstr, 0, ac);
        return;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    n->laddr[0] = 0;
    if (getsockname(ac->c.fd, (struct sockaddr *)&ss, &sl) == 0) {
        char ip[INET6_ADDRSTRLEN];
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
            snprintf(n->laddr, sizeof n->laddr, "%s:%d", ip, ntohs(a->sin_port));
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
            snprintf(n->laddr, sizeof n->laddr, "%s:%d", ip, ntohs(a->sin6_port));
        }
    }
    if (s->state != S_UP) {     /* the sink connecting; else one node again */
        s->state = S_SYNC;
        s->state_since = sys_now_ms();
    }
    n->state = S_SYNC;
    n->state_since = sys_now_ms();
    n->sync_part = 0;
    sync_step(n);
}

/* Schedules the next connect attempt after a failure to start one, saying
 * so once an outage; never fails. */
void coll_sink_retry_later(coll_sink *s, const char *err)
{
    if (!s->down_logged)
        sys_warn("redis: cannot connect", "thread=%d err=\"%s\"", s->index, err);
    s->down_logged = 1;
    s->next_connect = sys_now_ms() + (s->backoff_ms ? s->backoff_ms : 100);
}

/* Starts node n's connection. Returns 0, or -1 with err set. */
int coll_sink_node_connect(sink_node *n, char *err, size_t cap)
{
    coll_sink *s = n->s;
    redisAsyncContext *ac = s->addr.path[0] && !s->addr.cluster ? redisAsyncConnectUnix(s->addr.path)
                                                               : redisAsyncConnect(n->host, n->port);
    if (!ac || ac->err) {
        snprintf(err, cap, "%s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        return -1;
    }
    ac->data = n;
    n->ac = ac;
    n->client_id = 0;
    n->synced = 0;
    n->gen++;
    n->state = S_CONNECTING;
    n->state_since = sys_now_ms();
    redisLibeventAttach(ac, s->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    return 0;
}

/* Connects every node of the table; a failure to start one closes the
 * others and schedules another attempt. */
void coll_sink_connect_nodes(coll_sink *s)
{
    s->nsynced = 0;
    s->state = S_CONNECTING;
    s->state_since = sys_now_ms();
    for (int i = 0; i < s->nnodes; i++) {
        char err[128];
        if (coll_sink_node_connect(&s->node[i], err, sizeof err) < 0) {
            coll_sink_retry_later(s, err);
            close_all(s, 0, NULL);
            s->state = S_DOWN;
            return;
        }
    }
}

/* Starts a connection attempt: a cluster's map first; failures schedule
 * another. */
void coll_sink_connect(coll_sink *s)
{
    if (s->addr.cluster) {
        coll_sink_map_read(s);
        return;
    }
    if (s->nnodes == 0) {       /* one node: it owns every partition */
        s->nnodes = 1;
        s->node[0].s = s;
        snprintf(s->node[0].host, sizeof s->node[0].host, "%s", s->addr.host);
        s->node[0].port = s->addr.port;
    }
    coll_sink_connect_nodes(s);
}

/* ---------------------------------------------------------------- sync */

/* Queues AUTH on ac when the URL has a password (fn takes the reply);
 * never fails. */
void coll_sink_auth(coll_sink *s, redisAsyncContext *ac, redisCallbackFn *fn, void *priv)
{
    if (s->addr.pass[0] && s->addr.user[0])
        redisAsyncCommand(ac, fn, priv, "AUTH %s %s", s->addr.user, s->addr.pass);
    else if (s->addr.pass[0])
        redisAsyncCommand(ac, fn, priv, "AUTH %s", s->addr.pass);
}

/* Fails node n (or the sink) if a control reply is an error; returns 1
 * if so. */
static int sync_error(sink_node *n, redisReply *reply, const char *what)
{
    coll_sink *s = n->s;
    if (reply && reply->type != REDIS_REPLY_ERROR)
        return 0;
    /* a slot moving (ASK, MOVED) or a cluster not ready: counted, and the
     * map read again on the next attempt */
    int kind = reply ? coll_sink_cluster_count(s, reply->str) : -1;
    if (!s->down_logged && !n->down_logged && kind < 0)    /* once an outage (LOADING, MASTERDOWN… answer every retry) */
        sys_error("redis: command failed", "cmd=%s err=\"%s\"", what, reply ? reply->str : "no reply");
    /* CLUSTERDOWN from a node syncing alone (a restarted master before the
     * cluster's gossip reached it) is that node not ready: it alone waits */
    if (kind >= 0 && !(kind == CL_CLUSTERDOWN && s->partial && s->state == S_UP))
        coll_sink_fail(s, what, 0, NULL);
    else
        coll_sink_node_fail(n, what, 0, NULL);
    return 1;
}

/* Checks AUTH/SELECT replies. */
static void on_setup(redisAsyncContext *ac, void *r, void *priv)
{
    coll_sink *s = coll_sink_of(ac);
    sink_node *n = ac->data;
    if (s && (uintptr_t)priv == n->gen && r)
        sync_error(n, r, "AUTH/SELECT");
}

/* Ignores the reply of CLIENT KILL (the connection may already be gone). */
static void on_ignore(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac;
    (void)r;
    (void)priv;
}

/* Stores CLIENT ID and goes on with the sync. */
static void on_client_id(redisAsyncContext *ac, void *r, void *priv)
{
    coll_sink *s = coll_sink_of(ac);
    sink_node *n = ac->data;
    redisReply *reply = r;
    if (!s || (uintptr_t)priv != n->gen || !reply || sync_error(n, reply, "CLIENT ID"))
        return;
    n->client_id = reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
    n->kill_id = 0;
    n->sync_part = 0;
    n->tail_done = 0;
    s->state_since = n->state_since = sys_now_ms();
    sync_step(n);
}

/* Takes the newest id of a partition whose acknowledged id is unknown. */
static void on_tail(redisAsyncContext *ac, void *r, void *priv)
{
    coll_sink *s = coll_sink_of(ac);
    sink_node *n = ac->data;
    redisReply *reply = r;
    if (!s || (uintptr_t)priv != n->gen || !reply || sync_error(n, reply, "XREVRANGE"))
        return;
    unsigned p = n->sync_part;
    char tail[ID_MAX] = "0-0";
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
        reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements == 2 &&
        reply->element[0]->element[0]->type == REDIS_REPLY_STRING)
        snprintf(tail, sizeof tail, "%s", reply->element[0]->element[0]->str);
    if (s->acked[p][0] && proto_stream_id_cmp(tail, s->acked[p]) < 0) {
        /* a restart from an older snapshot, a FLUSHALL or a deleted stream:
         * what Redis acknowledged after its tail is gone from Redis */
        coll_inc(s->m->redis_rollbacks);
        sys_warn("redis: a hit stream went back in time; hits Redis acknowledged after its tail are "
                 "lost from Redis", "thread=%d partition=%u tail=%s acked=%s", s->index, p, tail,
                 s->acked[p]);
        if (s->scan_from[p][0] && proto_stream_id_cmp(tail, s->scan_from[p]) < 0)
            snprintf(s->scan_from[p], ID_MAX, "%s", tail);
    }
    snprintf(s->acked[p], ID_MAX, "%s", tail);
    n->tail_done = 1;
    s->state_since = n->state_since = sys_now_ms();
    sync_step(n);
}
/* Returns 1 if hid has a prefix being reconciled. */
static int inst_wanted(const coll_sink *s, const char *hid, size_t len)
{
    const char *dash = memchr(hid, '-', len);
    if (s->ninsts > MAX_INSTS)
        return 1;
    if (!dash)
        return 0;
    size_t n = (size_t)(dash - hid);
    for (int i = 0; i < s->ninsts; i++)
        if (strlen(s->insts[i]) == n && memcmp(s->insts[i], hid, n) == 0)
            return 1;
    return 0;
}

/* Collects hit ids from one page of the reconcile scan. */
static void on_scan(redisAsyncContext *ac, void *r, void *priv)
{
    coll_sink *s = coll_sink_of(ac);
    sink_node *node = ac->data;
    redisReply *reply = r;
    if (!s || (uintptr_t)priv != node->gen || !reply || sync_error(node, reply, "XRANGE"))
        return;
    unsigned p = node->sync_part;
    size_t n = reply->type == REDIS_REPLY_ARRAY ? reply->elements : 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *ent = reply->element[i];
        if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2)
            continue;
        snprintf(s->scan_from[p], ID_MAX, "%s", ent->element[0]->str);
        redisReply *f = ent->element[1];
        for (size_t j = 0; j + 1 < f->elements; j += 2) {
            if (f->element[j]->len == 3 && memcmp(f->element[j]->str, "hid", 3) == 0 &&
                inst_wanted(s, f->element[j + 1]->str, f->element[j + 1]->len)) {
                uint64_t h = proto_hash64(f->element[j + 1]->str, f->element[j + 1]->len);
                if (proto_htab_find(&s->found, h, NULL, NULL) < 0 &&
                    proto_htab_add(&s->found, h, 0) < 0) {
                    sync_error(node, NULL, "reconcile: out of memory"); /* retried on reconnect */
                    return;
                }
                s->scan_found++;
            }
        }
    }
    if (n < SCAN_PAGE) {
        s->scan_from[p][0] = 0;   /* partition done */
    } else {
        /* next page: exclusive of the last id seen */
        char tmp[ID_MAX];
        snprintf(tmp, sizeof tmp, "(%s", s->scan_from[p]);
        memcpy(s->scan_from[p], tmp, ID_MAX);
    }
    s->state_since = node->state_since = sys_now_ms();
    sync_step(node);
}

/* Runs the next step of node n's sync: setup, CLIENT KILL of a hung
 * predecessor and CLIENT ID, the tail ids and reconcile scans of the
 * partitions it holds; then the node is up (coll_sink_node_synced). Never
 * fails (errors fail the node or the sink). */
static void sync_step(sink_node *n)
{
    char key[PROTO_KEY_MAX];
    coll_sink *s = n->s;
    redisAsyncContext *ac = n->ac;
    void *g = (void *)n->gen;
    if (n->client_id == 0) {
        coll_sink_auth(s, ac, on_setup, g);
        if (s->addr.db && !s->addr.cluster)
            redisAsyncCommand(ac, on_setup, g, "SELECT %d", s->addr.db);
        if (n->kill_id > 0) {
            if (n->kill_addr[0])
                redisAsyncCommand(ac, on_ignore, g, "CLIENT KILL ID %lld ADDR %s", n->kill_id,
                                  n->kill_addr);
            else
                redisAsyncCommand(ac, on_ignore, g, "CLIENT KILL ID %lld", n->kill_id);
        }
        redisAsyncCommand(ac, on_client_id, g, "CLIENT ID");
        return;
    }
    while (n->sync_part < (unsigned)s->conf->partitions) {
        unsigned p = n->sync_part;
        if (s->part_node[p] != n->idx) {
            n->sync_part++;
            continue;
        }
        proto_key_hits(key, sizeof key, s->conf->prefix, p);
        if (!n->tail_done) {
            /* tail first, on every connect: a stream that went back in time
             * is seen and said (the scan below rewrites scan_from, not acked) */
            redisAsyncCommand(ac, on_tail, g, "XREVRANGE %s + - COUNT 1", key);
            return;
        }
        if (s->need_scan && s->scan_from[p][0]) {
            redisAsyncCommand(ac, on_scan, g, "XRANGE %s %s + COUNT %d", key, s->scan_from[p],
                              SCAN_PAGE);
            return;
        }
        n->sync_part++;
        n->tail_done = 0;
    }
    coll_sink_node_synced(n);
}

/* Returns the name of a degraded code of g_degraded (1-based), or NULL. */
const char *coll_sink_degraded_name(int d)
{
    return d > 0 && d <= 3 ? degraded_names[d - 1] : NULL;
}
