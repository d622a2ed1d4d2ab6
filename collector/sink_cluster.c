/* sink_cluster.c: the sink on a Redis Cluster — the slot map read with CLUSTER SLOTS (or checked while a node is down), each partition's node, ASK followed and redirects counted. */
#include "sink.h"
#include "clock.h"
#include "sink_int.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "keys.h"
#include "log.h"
#include "redis.h"
#include "slot.h"

/* Returns the sink of a map-read callback, or NULL if the context is stale. */
static coll_sink *map_sink(const redisAsyncContext *ac)
{
    coll_sink *s = ac->data;
    return s && s->map_ac == ac ? s : NULL;
}

/* Ends a map check: closes its connection; a failed one puts the down
 * nodes' next attempt one back-off later. Never fails. */
void coll_sink_map_check_end(coll_sink *s, int failed)
{
    redisAsyncContext *ac = s->map_ac;
    s->map_ac = NULL;
    s->map_check = 0;
    if (ac) {
        ac->data = NULL;
        redisAsyncFree(ac);     /* deferred by hiredis inside its callback */
    }
    if (!failed)
        return;
    int64_t now = sys_now_ms();
    for (int i = 0; i < s->nnodes; i++)
        if (s->node[i].state == S_DOWN && s->node[i].next_connect <= now)
            s->node[i].next_connect = now + (s->node[i].backoff_ms ? s->node[i].backoff_ms : 100);
}

/* Ends a failed map check whose context hiredis frees itself; never fails. */
static void check_lost(coll_sink *s, const redisAsyncContext *ac)
{
    ((redisAsyncContext *)ac)->data = NULL;
    s->map_ac = NULL;
    coll_sink_map_check_end(s, 1);
}

/* Fails the sink from the map read (once-an-outage log), or ends a failed
 * map check; never fails. */
static void map_fail(coll_sink *s, const char *why, const char *detail)
{
    if (s->map_check) {
        coll_sink_map_check_end(s, 1);
        return;
    }
    if (!s->down_logged)
        sys_warn("redis: cannot read the cluster's slot map", "thread=%d why=\"%s\" detail=\"%s\"",
                 s->index, why, detail ? detail : "");
    coll_sink_fail(s, why, 0, NULL);
}

/* The node table being built from a CLUSTER SLOTS reply. */
typedef struct {
    coll_sink *s;
    sink_node *old;             /* the last table: its nodes' kill orders carry over */
    int nold;
    unsigned *slot;             /* per partition, then the rejects stream: its slot */
    int missing;                /* partitions without a master yet */
    int rej;
    const char *why;
} map_build;

/* Returns the index of master host:port in the table being built (adding
 * it, with the kill order it had in the last table). Returns -1 when the
 * table is full. */
static int node_of(map_build *m, const char *host, int port)
{
    coll_sink *s = m->s;
    int i = 0;
    while (i < s->nnodes && !(s->node[i].port == port && strcmp(s->node[i].host, host) == 0))
        i++;
    if (i < s->nnodes || i == NODES_MAX)
        return i < s->nnodes ? i : -1;
    sink_node *n = &s->node[s->nnodes++];
    *n = (sink_node){.s = s, .idx = i, .port = port};
    snprintf(n->host, sizeof n->host, "%s", host);
    for (int k = 0; k < m->nold; k++)
        if (m->old[k].port == port && strcmp(m->old[k].host, host) == 0) {
            n->kill_id = m->old[k].kill_id;
            memcpy(n->kill_addr, m->old[k].kill_addr, sizeof n->kill_addr);
        }
    return i;
}

/* Gives the partitions (and the rejects stream) whose slot is in range its
 * master (sys_redis_slots_each callback). Returns 0, or -1. */
static int map_range(void *arg, const sys_redis_slots *r)
{
    map_build *m = arg;
    int np = m->s->conf->partitions, n = node_of(m, r->host, r->port);
    if (n < 0) {
        m->why = "more masters than the sink connects to";
        return -1;
    }
    for (int p = 0; p <= np; p++) {
        if ((long long)m->slot[p] < r->lo || (long long)m->slot[p] > r->hi)
            continue;
        if (p == np) {
            m->rej = n;
        } else if (m->s->part_node[p] == UINT8_MAX) {
            m->s->part_node[p] = (uint8_t)n;
            m->missing--;
        }
    }
    return 0;
}

/* Builds the node table and each partition's node from a CLUSTER SLOTS
 * reply got from host `from`. Returns 0, or -1 with *why set (the table is
 * then empty). */
static int map_from(coll_sink *s, const redisReply *rep, const char *from, const char **why)
{
    int np = s->conf->partitions;
    char key[PROTO_KEY_MAX];
    map_build m = {s, malloc(sizeof s->node), s->nnodes, malloc(((size_t)np + 1) * sizeof *m.slot),
                   np, -1, "out of memory"};
    int rc = -1;
    if (!m.slot || !m.old)
        goto out;
    memcpy(m.old, s->node, sizeof s->node);
    for (int p = 0; p <= np; p++) { /* np: the rejects stream */
        int kl = p < np ? proto_key_hits(key, sizeof key, s->conf->prefix, (unsigned)p)
                        : proto_key_rejects(key, sizeof key, s->conf->prefix);
        m.slot[p] = kl < 0 ? 0 : proto_slot(key, (size_t)kl);
        if (p < np)
            s->part_node[p] = UINT8_MAX;
    }
    s->nnodes = 0;
    m.why = "not a map of the slots";
    if (sys_redis_slots_each(rep, from, map_range, &m) != 0)
        goto out;
    m.why = "a partition's slot has no master (CLUSTERDOWN)";
    if (m.missing || m.rej < 0)
        goto out;
    s->rej_node = m.rej;
    rc = 0;
out:
    if (rc < 0)
        s->nnodes = 0;
    *why = m.why;
    free(m.slot);
    free(m.old);
    return rc;
}

/* Compares the map of a CLUSTER SLOTS reply with the one in use (the
 * table is left as it was): the same, the down nodes are reconnected;
 * another (a replica promoted, slots moved), the whole sink fails and
 * reads it again; unreadable, the check is tried again later. */
static void map_compare(coll_sink *s, const redisReply *reply, const char *from)
{
    size_t np = (size_t)s->conf->partitions;
    sink_node *node = malloc(sizeof s->node);
    uint8_t *part = malloc(np);
    int nn = s->nnodes, rej = s->rej_node, same = 0, ok = 0;
    const char *why;
    if (node && part) {
        memcpy(node, s->node, sizeof s->node);
        memcpy(part, s->part_node, np);
        ok = map_from(s, reply, from, &why) == 0;
        same = ok && s->nnodes == nn && s->rej_node == rej && memcmp(part, s->part_node, np) == 0;
        for (int i = 0; same && i < nn; i++)
            same = s->node[i].port == node[i].port && strcmp(s->node[i].host, node[i].host) == 0;
        memcpy(s->node, node, sizeof s->node);
        memcpy(s->part_node, part, np);
        s->nnodes = nn;
        s->rej_node = rej;
    }
    free(node);
    free(part);
    coll_sink_map_check_end(s, !ok);
    if (!ok)
        return;
    if (same) {
        coll_sink_nodes_reconnect(s);
        return;
    }
    sys_info("redis: the cluster's slot map changed while a master was down, reading it again",
             "thread=%d", s->index);
    coll_sink_fail(s, "the slot map changed", 0, NULL);
}

/* Takes the CLUSTER SLOTS reply: builds the table, closes the map
 * connection and connects every master (or compares it: a check). */
static void on_slots(redisAsyncContext *ac, void *r, void *priv)
{
    coll_sink *s = map_sink(ac);
    redisReply *reply = r;
    const char *why;
    (void)priv;
    if (!s)
        return;
    if (s->map_check && reply && reply->type != REDIS_REPLY_ERROR) {
        map_compare(s, reply, ac->c.tcp.host ? ac->c.tcp.host : "");
        return;
    }
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        map_fail(s, "CLUSTER SLOTS refused", reply ? reply->str : "no reply");
        return;
    }
    if (map_from(s, reply, ac->c.tcp.host ? ac->c.tcp.host : "", &why) < 0) {
        if (strstr(why, "CLUSTERDOWN"))
            coll_inc(s->m->cluster[CL_CLUSTERDOWN]);
        map_fail(s, why, NULL);
        return;
    }
    coll_inc(s->m->cluster[CL_REFRESH]);
    s->map_try--;       /* the next read asks this node first again */
    s->map_ac = NULL;
    ac->data = NULL;
    redisAsyncFree(ac); /* after this callback returns */
    coll_sink_connect_nodes(s);
}

/* Checks the map connection's AUTH reply. */
static void on_map_auth(redisAsyncContext *ac, void *r, void *priv)
{
    coll_sink *s = map_sink(ac);
    redisReply *reply = r;
    (void)priv;
    if (s && reply && reply->type == REDIS_REPLY_ERROR)
        map_fail(s, "AUTH refused", reply->str);
}

/* Asks for the map once connected. */
static void on_map_connect(const redisAsyncContext *ac, int status)
{
    coll_sink *s = map_sink(ac);
    redisAsyncContext *c = (redisAsyncContext *)ac;
    if (!s)
        return;
    if (status != REDIS_OK) {
        if (s->map_check)
            check_lost(s, ac);
        else
            coll_sink_fail(s, ac->errstr, 0, ac);
        return;
    }
    coll_sink_auth(s, c, on_map_auth, NULL);
    redisAsyncCommand(c, on_slots, NULL, "CLUSTER SLOTS");
    s->state_since = sys_now_ms();
}

/* Fails the sink when the map connection ends before the map is read. */
static void on_map_disconnect(const redisAsyncContext *ac, int status)
{
    coll_sink *s = map_sink(ac);
    if (s && s->map_check)
        check_lost(s, ac);
    else if (s)
        coll_sink_fail(s, status == REDIS_OK ? "closed" : ac->errstr, 0, ac);
}

/* Picks candidate k of the masters of the last map, then the seeds.
 * Returns 0, or -1 if there is none. */
static int candidate(const coll_sink *s, unsigned k, char *host, size_t cap, int *port)
{
    int nseeds = 0;
    while (proto_conf_seed(s->addr.seeds, nseeds, host, cap, port) == 0)
        nseeds++;
    if (s->nnodes + nseeds == 0)
        return -1;
    k %= (unsigned)(s->nnodes + nseeds);
    if (k < (unsigned)s->nnodes) {
        snprintf(host, cap, "%s", s->node[k].host);
        *port = s->node[k].port;
        return 0;
    }
    return proto_conf_seed(s->addr.seeds, (int)(k - (unsigned)s->nnodes), host, cap, port);
}

/* Starts reading the slot map from the next candidate node, to connect
 * (check 0) or to compare (check 1). Returns 0, or -1 with err set if no
 * connection could be started. */
static int map_start(coll_sink *s, int check, char *err, size_t cap)
{
    char host[256];
    int port;
    if (candidate(s, s->map_try++, host, sizeof host, &port) < 0) {
        snprintf(err, cap, "no cluster node to ask for the map");
        return -1;
    }
    redisAsyncContext *ac = redisAsyncConnect(host, port);
    if (!ac || ac->err) {
        snprintf(err, cap, "%s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        return -1;
    }
    ac->data = s;
    s->map_ac = ac;
    s->map_check = check;
    s->map_since = sys_now_ms();
    redisLibeventAttach(ac, s->base);
    redisAsyncSetConnectCallback(ac, on_map_connect);
    redisAsyncSetDisconnectCallback(ac, on_map_disconnect);
    return 0;
}

/* Starts reading the slot map from the next candidate node. Returns 0, or
 * -1 if no connection could be started (another attempt is scheduled). */
int coll_sink_map_read(coll_sink *s)
{
    char err[128];
    if (map_start(s, 0, err, sizeof err) < 0) {
        coll_sink_retry_later(s, err);
        return -1;
    }
    s->state = S_CONNECTING;
    s->state_since = sys_now_ms();
    return 0;
}

/* Starts reading the map to compare it with the one in use. Returns 0,
 * or -1 (the down nodes wait one back-off more). */
int coll_sink_map_check(coll_sink *s)
{
    char err[128];
    if (map_start(s, 1, err, sizeof err) < 0) {
        coll_sink_map_check_end(s, 1);
        return -1;
    }
    return 0;
}

/* Counts a cluster error reply by its kind; returns the kind, or -1. */
int coll_sink_cluster_count(coll_sink *s, const char *err)
{
    static const struct {
        const char *word;
        int kind;
    } kinds[] = {{"MOVED ", CL_MOVED}, {"ASK ", CL_ASK}, {"TRYAGAIN", CL_TRYAGAIN},
                 {"CLUSTERDOWN", CL_CLUSTERDOWN}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strncmp(err, kinds[i].word, strlen(kinds[i].word)) == 0) {
            coll_inc(s->m->cluster[kinds[i].kind]);
            return kinds[i].kind;
        }
    return -1;
}

/* Follows an ASK reply to e's XADD: ASKING and the XADD on the named
 * node's connection. Returns 0, or -1 (the caller fails the sink). */
int coll_sink_ask(coll_sink *s, inflight *e, const char *err, size_t len)
{
    proto_redirect rd;
    if (proto_redirect_parse(err, len, &rd) < 0 || !rd.ask || e->asks >= ASKS_MAX)
        return -1;
    for (int i = 0; i < s->nnodes; i++) {
        sink_node *n = &s->node[i];
        if (!n->synced || !n->ac || n->port != rd.port || (rd.host[0] && strcmp(n->host, rd.host) != 0))
            continue;
        if (coll_sink_xadd_of(s, e->partition, e->data, e->len) < 0 ||
            redisAsyncCommand(n->ac, NULL, NULL, "ASKING") != REDIS_OK ||
            redisAsyncFormattedCommand(n->ac, coll_sink_on_xadd, e, s->xcmd.data, s->xcmd.len) != REDIS_OK)
            return -1;
        e->asks++;
        coll_sink_written(s, e, i);
        return 0;
    }
    return -1;      /* a master the map does not know: read it again */
}
