/* redis_cluster.c: the Redis layer on a Redis Cluster — the slot map from
 * CLUSTER SLOTS, one connection and one reply ledger per node, MOVED / ASK
 * / TRYAGAIN / CLUSTERDOWN handled behind the calls of redis.h. */
#include "redis_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "conf.h"
#include "slot.h"

#define NODES_MAX 64            /* masters, replicas met in redirects, seeds */
#define NONE 0xffff
#define REDIRECTS_MAX 5         /* MOVED/ASK followed for one command */
#define RETRY_MS_MAX 2000       /* TRYAGAIN / CLUSTERDOWN retried this long */
#define NODE_BACKOFF_MIN_MS 200 /* a failed node is dialled again after this, doubling */
#define NODE_BACKOFF_MAX_MS 5000
#define PROBE_MS 250            /* a node dialled again after failing must answer PING this fast */

/* One command sent on a node's pipeline, owing one reply. */
typedef struct {
    uint64_t seq;               /* global send order: replies are taken in it */
    size_t index;               /* its place among the replies of its send */
    sys_redis_handler fn;
    void *arg;
    sys_redis_reader read;
    void *read_arg;
    char *cmd;                  /* its bytes, sent again on a redirect */
    size_t len;
    int dead;                   /* its node failed: it gets a NODEDOWN error reply */
} centry;

typedef struct {
    char host[256];
    int port;
    int master;                 /* a master in the last map */
    int dirty;                  /* bits: 1 pipeline, 2 side written since the last WAIT */
    redisContext *ctx;          /* the pipeline */
    redisContext *side;         /* map reads, redirected and retried commands */
    int64_t retry_at;           /* a failed node is not dialled again before (mono ms) */
    int backoff_ms;
    char why[160];              /* why it failed last */
    centry *q;                  /* ring of commands awaiting replies */
    size_t qhead, qlen, qcap;
} cnode;

struct sys_cluster {
    sys_redis *r;
    const char *seeds;          /* the handle's seed list (its proto_redis_addr) */
    cnode node[NODES_MAX];
    int nnodes;
    int masters[NODES_MAX];     /* node indexes of the masters, by their lowest slot */
    int nmasters;
    int have_map;
    int cmd_ms;
    int tryagain_ms;            /* how long a pipelined command's TRYAGAIN is retried */
    uint16_t owner[PROTO_SLOTS];
    uint64_t seq;
    size_t owed;
    sys_redis_cluster_stats st;
};

/* Sleeps ms milliseconds; never fails. */
static void nap(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Creates the cluster half of r from its seed list (kept by r, checked by
 * proto_conf_redis_addr). Returns NULL when out of memory. */
sys_cluster *sys_cluster_new(sys_redis *r, const char *seeds)
{
    sys_cluster *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->r = r;
    c->cmd_ms = 1000;
    c->tryagain_ms = RETRY_MS_MAX;
    c->seeds = seeds;
    memset(c->owner, 0xff, sizeof c->owner);
    return c;
}

/* Frees the ledger entries of node n (abandoning them); never fails. */
static void node_abandon(sys_cluster *c, cnode *n)
{
    for (size_t i = 0; i < n->qlen; i++)
        free(n->q[(n->qhead + i) % n->qcap].cmd);
    c->owed -= n->qlen;
    n->qhead = n->qlen = 0;
}

/* Closes node n's connections; never fails. */
static void node_hangup(cnode *n)
{
    if (n->ctx)
        redisFree(n->ctx);
    if (n->side)
        redisFree(n->side);
    n->ctx = n->side = NULL;
    n->dirty = 0;
}

/* Closes every connection and abandons every owed reply; the map is read
 * again on the next call. Never fails. */
void sys_cluster_close(sys_cluster *c)
{
    for (int i = 0; i < c->nnodes; i++) {
        node_hangup(&c->node[i]);
        node_abandon(c, &c->node[i]);
    }
    c->owed = 0;
    c->have_map = 0;
}

/* Frees c; NULL is a no-op. */
void sys_cluster_free(sys_cluster *c)
{
    if (!c)
        return;
    sys_cluster_close(c);       /* a no-op after sys_redis_close, but free may come alone */
    for (int i = 0; i < c->nnodes; i++)
        free(c->node[i].q);
    free(c);
}

/* Returns the node host:port, adding it. Returns its index, or -1 when
 * the table is full. */
static int node_add(sys_cluster *c, const char *host, int port)
{
    for (int i = 0; i < c->nnodes; i++)
        if (c->node[i].port == port && strcmp(c->node[i].host, host) == 0)
            return i;
    if (c->nnodes == NODES_MAX)
        return -1;
    cnode *n = &c->node[c->nnodes];
    memset(n, 0, sizeof *n);
    snprintf(n->host, sizeof n->host, "%s", host);
    n->port = port;
    return c->nnodes++;
}

/* Takes node i down: closes its connections, turns every command queued
 * on it into a NODEDOWN reply (handed over in order by sys_cluster_run),
 * backs off dialling it and has the map read again. The other nodes go
 * on. Never fails. */
static void node_fail(sys_cluster *c, int i, const char *why)
{
    cnode *n = &c->node[i];
    snprintf(n->why, sizeof n->why, "%s", why);     /* why may live in a context freed here */
    node_hangup(n);
    for (size_t k = 0; k < n->qlen; k++)
        n->q[(n->qhead + k) % n->qcap].dead = 1;
    n->backoff_ms = n->backoff_ms ? n->backoff_ms * 2 : NODE_BACKOFF_MIN_MS;
    if (n->backoff_ms > NODE_BACKOFF_MAX_MS)
        n->backoff_ms = NODE_BACKOFF_MAX_MS;
    n->retry_at = sys_mono_ms() + n->backoff_ms;
    c->have_map = 0;
    c->st.node_failures++;
    sys_redis_fail(c->r, SYS_REDIS_LOST, "%s:%d: %s", n->host, n->port, n->why);
}

/* Returns node i's pipeline (connecting it unless it failed within its
 * back-off), or NULL (recorded; the node is taken down). */
static redisContext *node_ctx(sys_cluster *c, int i)
{
    cnode *n = &c->node[i];
    if (n->ctx)
        return n->ctx;
    if (n->retry_at && sys_mono_ms() < n->retry_at) {
        sys_redis_fail(c->r, SYS_REDIS_LOST, "%s:%d: %s (backing off)", n->host, n->port, n->why);
        return NULL;
    }
    if (!(n->ctx = sys_redis_open(c->r, n->host, n->port))) {
        char why[160];
        snprintf(why, sizeof why, "%s", sys_redis_err(c->r));
        node_fail(c, i, why);
        return NULL;
    }
    if (n->retry_at) {
        /* it failed before: a frozen process still accepts connections, so
         * ask it something first, briefly, not for a whole command timeout */
        redisSetTimeout(n->ctx, sys_redis_tv_ms(c->cmd_ms < PROBE_MS ? c->cmd_ms : PROBE_MS));
        redisReply *pong = redisCommand(n->ctx, "PING");
        int ok = pong && pong->type == REDIS_REPLY_STATUS;
        freeReplyObject(pong);
        if (!ok) {
            node_fail(c, i, pong ? "refused PING" : "no answer to PING");
            return NULL;
        }
        redisSetTimeout(n->ctx, sys_redis_tv_ms(c->cmd_ms));
    }
    n->backoff_ms = 0;
    n->retry_at = 0;
    return n->ctx;
}

/* Returns node i's side connection (connecting it), or NULL (recorded). */
static redisContext *side_ctx(sys_cluster *c, int i)
{
    cnode *n = &c->node[i];
    if (!n->side && !(n->side = sys_redis_open(c->r, n->host, n->port)))
        c->have_map = 0;
    return n->side;
}

/* Drops a broken side connection of node i; never fails. */
static void side_drop(sys_cluster *c, int i)
{
    if (c->node[i].side)
        redisFree(c->node[i].side);
    c->node[i].side = NULL;
}

/* Calls fn(arg, range) for each slot range of a CLUSTER SLOTS reply got
 * from host `from`. Returns 0, -1 if rep is not such a reply, or fn's
 * first non-zero return. */
int sys_redis_slots_each(const redisReply *rep, const char *from,
                         int (*fn)(void *arg, const sys_redis_slots *range), void *arg)
{
    if (!rep || rep->type != REDIS_REPLY_ARRAY)
        return -1;
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 || e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER || e->element[2]->type != REDIS_REPLY_ARRAY ||
            e->element[2]->elements < 2 || e->element[2]->element[0]->type != REDIS_REPLY_STRING ||
            e->element[2]->element[1]->type != REDIS_REPLY_INTEGER)
            return -1;
        sys_redis_slots r = {e->element[0]->integer, e->element[1]->integer,
                             e->element[2]->element[0]->str, (int)e->element[2]->element[1]->integer};
        if (!*r.host || strcmp(r.host, "?") == 0)
            r.host = from;      /* "the node you asked" */
        if (r.lo < 0 || r.hi >= PROTO_SLOTS || r.lo > r.hi)
            return -1;
        int rc = fn(arg, &r);
        if (rc)
            return rc;
    }
    return 0;
}

/* A map being built from a CLUSTER SLOTS reply. */
typedef struct {
    sys_cluster *c;
    uint16_t owner[PROTO_SLOTS];
    long covered;
} map_build;

/* Records one slot range's master (sys_redis_slots_each callback).
 * Returns 0, or -1 when the node table is full. */
static int map_range(void *arg, const sys_redis_slots *r)
{
    map_build *m = arg;
    int n = node_add(m->c, r->host, r->port);
    if (n < 0)
        return -1;
    m->c->node[n].master = 1;
    for (long long s = r->lo; s <= r->hi; s++)
        m->owner[s] = (uint16_t)n, m->covered++;
    return 0;
}

/* Builds the slot map from a CLUSTER SLOTS reply got from node `from`.
 * Returns 0, or -1 if the reply is not a map of every slot. */
static int map_from(sys_cluster *c, const redisReply *rep, int from)
{
    map_build m = {.c = c, .covered = 0};
    memset(m.owner, 0xff, sizeof m.owner);
    if (!rep || rep->type != REDIS_REPLY_ARRAY)
        return -1;
    for (int i = 0; i < c->nnodes; i++)
        c->node[i].master = 0;
    if (sys_redis_slots_each(rep, c->node[from].host, map_range, &m) != 0 || m.covered == 0)
        return -1;
    memcpy(c->owner, m.owner, sizeof m.owner);
    c->nmasters = 0;
    for (int s = 0; s < PROTO_SLOTS; s++) {     /* masters numbered by their lowest slot */
        int o = m.owner[s], known = 0;
        for (int k = 0; k < c->nmasters && !known; k++)
            known = c->masters[k] == o;
        if (o != NONE && !known)
            c->masters[c->nmasters++] = o;
    }
    c->have_map = 1;
    c->st.refreshes++;
    return 0;
}

/* Tries to read the map from node i. Returns 0 or -1. */
static int map_at(sys_cluster *c, int i)
{
    redisContext *s = side_ctx(c, i);
    redisReply *rep = s ? redisCommand(s, "CLUSTER SLOTS") : NULL;
    if (s && !rep)
        side_drop(c, i);
    if (rep && rep->type == REDIS_REPLY_ERROR)
        sys_redis_fail(c->r, SYS_REDIS_REFUSED, "CLUSTER SLOTS: %s", rep->str);
    int rc = rep ? map_from(c, rep, i) : -1;
    if (rep && rep->type != REDIS_REPLY_ERROR && rc < 0)
        sys_redis_fail(c->r, SYS_REDIS_REPLY, "CLUSTER SLOTS: not a map of the slots");
    freeReplyObject(rep);
    return rc;
}

/* Reads the slot map from a known master, else a seed, else any node met.
 * Returns 0, or -1 (recorded). */
static int map_refresh(sys_cluster *c)
{
    int tried[NODES_MAX] = {0};
    int64_t now = sys_mono_ms();
    for (int i = 0; i < c->nnodes; i++)         /* masters that did not just fail first */
        if (c->node[i].master && now >= c->node[i].retry_at && (tried[i] = 1) && map_at(c, i) == 0)
            return 0;
    char host[256];
    int port;
    for (int k = 0; proto_conf_seed(c->seeds, k, host, sizeof host, &port) == 0; k++) {
        int i = node_add(c, host, port);
        if (i >= 0 && !tried[i] && (tried[i] = 1) && map_at(c, i) == 0)
            return 0;
    }
    for (int i = 0; i < c->nnodes; i++)
        if (!tried[i] && map_at(c, i) == 0)
            return 0;
    if (sys_redis_last(c->r) == SYS_REDIS_OK)
        sys_redis_fail(c->r, SYS_REDIS_UNREACHABLE, "no cluster node answered CLUSTER SLOTS");
    return -1;
}

/* Reads the map if it is not known. Returns 0, or -1 (recorded). */
int sys_cluster_connect(sys_cluster *c)
{
    return c->have_map ? 0 : map_refresh(c);
}

/* Returns 1 once the map is known. */
int sys_cluster_connected(const sys_cluster *c)
{
    return c->have_map;
}

/* Returns the connection keyless commands use (connecting it), or NULL. */
redisContext *sys_cluster_context(sys_cluster *c)
{
    if (sys_cluster_connect(c) < 0)
        return NULL;
    return node_ctx(c, c->masters[0]);
}

/* Sets how long a pipelined command's TRYAGAIN is retried; never fails. */
void sys_cluster_set_tryagain(sys_cluster *c, int ms)
{
    c->tryagain_ms = ms < RETRY_MS_MAX ? ms : RETRY_MS_MAX;
}

/* Sets the command timeout of every connection; never fails. */
void sys_cluster_set_timeout(sys_cluster *c, int cmd_ms)
{
    c->cmd_ms = cmd_ms;
    for (int i = 0; i < c->nnodes; i++) {
        if (c->node[i].ctx)
            redisSetTimeout(c->node[i].ctx, sys_redis_tv_ms(cmd_ms));
        if (c->node[i].side)
            redisSetTimeout(c->node[i].side, sys_redis_tv_ms(cmd_ms));
    }
}

/* Finds the node cmd goes to. Returns its index, or -1 (recorded); *all is
 * set for commands that go to every master. */
static int route(sys_cluster *c, const char *cmd, size_t len, int *all)
{
    const char *k;
    size_t kl;
    *all = 0;
    if (sys_cluster_connect(c) < 0)
        return -1;
    int rt = proto_cmd_route(cmd, len, &k, &kl);
    if (rt < 0)
        return sys_redis_fail(c->r, SYS_REDIS_REPLY, "cluster: a command that cannot be routed");
    if (rt == PROTO_ROUTE_ALL)
        *all = 1;
    if (rt != PROTO_ROUTE_KEY)
        return c->masters[0];
    unsigned slot = proto_slot(k, kl);
    if (c->owner[slot] == NONE && map_refresh(c) < 0)
        return -1;
    if (c->owner[slot] == NONE)
        return sys_redis_fail(c->r, SYS_REDIS_REPLY, "cluster: slot %u has no master", slot);
    return c->owner[slot];
}

/* Runs cmd on node i's connection ctx (ASKING first if asking), its reply
 * read by read if set. Returns the reply, or NULL on a transport error (the
 * connection is then closed: the side one alone, or everything). */
static redisReply *exec_at(sys_cluster *c, int i, int side, int asking, const char *cmd,
                           size_t len, sys_redis_reader read, void *read_arg)
{
    redisContext *ctx = side ? side_ctx(c, i) : node_ctx(c, i);
    redisReply *rep = NULL, *ok = NULL;
    if (!ctx)
        return NULL;
    if ((asking && redisAppendCommand(ctx, "ASKING") != REDIS_OK) ||
        redisAppendFormattedCommand(ctx, cmd, len) != REDIS_OK)
        goto lost;
    if (asking) {
        if (redisGetReply(ctx, (void **)&ok) != REDIS_OK || !ok)
            goto lost;
        freeReplyObject(ok);
    }
    if (read)
        rep = read(read_arg, ctx);
    else if (redisGetReply(ctx, (void **)&rep) != REDIS_OK)
        rep = NULL;
    if (!rep)
        goto lost;
    c->node[i].dirty |= side ? 2 : 1;
    return rep;
lost:
    if (side) {
        sys_redis_fail(c->r, SYS_REDIS_LOST, "%s:%d: %s", c->node[i].host, c->node[i].port,
                       ctx->errstr[0] ? ctx->errstr : "no reply");
        side_drop(c, i);
    } else {
        node_fail(c, i, ctx->errstr[0] ? ctx->errstr : "no reply");
    }
    return NULL;
}

/* Returns 1 if rep is an error reply starting with word. */
static int err_is(const redisReply *rep, const char *word)
{
    return rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, word, strlen(word)) == 0;
}

/* Follows MOVED and ASK, retries TRYAGAIN and CLUSTERDOWN with a bounded
 * back-off (TRYAGAIN of a pipelined command, side set, at most
 * tryagain_ms), until rep is a final reply. Returns it (perhaps still an
 * error when the bounds ran out), or NULL on a transport error. */
static redisReply *resolve(sys_cluster *c, redisReply *rep, int side, const char *cmd, size_t len,
                           sys_redis_reader read, void *read_arg)
{
    int redirects = 0, waited = 0, wait = 10;
    while (rep && rep->type == REDIS_REPLY_ERROR) {
        proto_redirect rd;
        int i, asking = 0, all;
        if (proto_redirect_parse(rep->str, rep->len, &rd) == 0) {
            if (redirects++ == REDIRECTS_MAX)
                break;
            if (rd.ask) {
                c->st.ask++;
                asking = 1;
            }
            if ((i = node_add(c, rd.host, rd.port)) < 0)
                break;
            if (!rd.ask) {
                c->st.moved++;
                if (c->owner[rd.slot] != i)     /* the map is behind: read it once, not per command */
                    map_refresh(c);
            }
            if (!rd.ask)
                c->owner[rd.slot] = (uint16_t)i;    /* whatever the refresh found */
        } else if (err_is(rep, "TRYAGAIN") || err_is(rep, "CLUSTERDOWN")) {
            int tryagain = err_is(rep, "TRYAGAIN");
            if (tryagain)
                c->st.tryagain++;
            else
                c->st.clusterdown++;
            if (waited >= (tryagain && side ? c->tryagain_ms : RETRY_MS_MAX))
                break;
            nap(wait);
            waited += wait;
            wait = wait * 2 > 200 ? 200 : wait * 2;
            if (!tryagain)
                map_refresh(c);
            if ((i = route(c, cmd, len, &all)) < 0)
                break;
        } else {
            break;
        }
        if (!read)
            freeReplyObject(rep);
        rep = exec_at(c, i, side, asking, cmd, len, read, read_arg);
    }
    return rep;
}

/* Runs one command (no reply owed). Returns the reply, or NULL (recorded;
 * a transport error closes everything). */
redisReply *sys_cluster_cmd(sys_cluster *c, const char *cmd, size_t len)
{
    int all;
    int i = route(c, cmd, len, &all);
    if (i < 0)
        return NULL;
    if (all) {
        /* every master that answers; one that cannot be reached is left
         * (a later NOSCRIPT from it has the caller load the script again) */
        redisReply *first = NULL;
        for (int m = 0; m < c->nmasters; m++) {
            redisReply *rep = exec_at(c, c->masters[m], 0, 0, cmd, len, NULL, NULL);
            if (rep && rep->type == REDIS_REPLY_ERROR) {
                freeReplyObject(first);
                return rep;
            }
            if (!first)
                first = rep;
            else
                freeReplyObject(rep);
        }
        return first;
    }
    return resolve(c, exec_at(c, i, 0, 0, cmd, len, NULL, NULL), 0, cmd, len, NULL, NULL);
}

/* Runs one command on master `node` (0 .. sys_cluster_nodes-1, by their
 * lowest slot). Returns the reply, or NULL (recorded). */
redisReply *sys_cluster_cmd_node(sys_cluster *c, int node, const char *cmd, size_t len)
{
    if (sys_cluster_connect(c) < 0)
        return NULL;
    if (node < 0 || node >= c->nmasters) {
        sys_redis_fail(c->r, SYS_REDIS_REPLY, "cluster: no such node");
        return NULL;
    }
    return exec_at(c, c->masters[node], 0, 0, cmd, len, NULL, NULL);
}

/* Returns the number of masters in the map (0 if it cannot be read). */
int sys_cluster_nodes(sys_cluster *c)
{
    return sys_cluster_connect(c) < 0 ? 0 : c->nmasters;
}

/* Returns "host:port" of master `node`, or "?". */
const char *sys_cluster_node_name(const sys_cluster *c, int node)
{
    static _Thread_local char buf[300];
    if (node < 0 || node >= c->nmasters)
        return "?";
    const cnode *n = &c->node[c->masters[node]];
    snprintf(buf, sizeof buf, "%s:%d", n->host, n->port);
    return buf;
}

/* Returns the master (as sys_cluster_node_name counts) holding key, or -1
 * if the map cannot be read. */
int sys_cluster_node_of(sys_cluster *c, const char *key, size_t len)
{
    if (sys_cluster_connect(c) < 0)
        return -1;
    unsigned o = c->owner[proto_slot(key, len)];
    for (int m = 0; m < c->nmasters; m++)
        if ((unsigned)c->masters[m] == o)
            return m;
    return -1;
}

/* Queues one command on node i's ledger; when the node cannot be reached
 * the command is queued dead (it gets a NODEDOWN reply in its turn).
 * Returns 0, or -1 (out of memory, recorded). */
static int push(sys_cluster *c, int i, const char *cmd, size_t len, size_t index,
                sys_redis_handler fn, void *arg, sys_redis_reader read, void *read_arg)
{
    cnode *n = &c->node[i];
    redisContext *ctx = node_ctx(c, i);
    if (n->qlen == n->qcap) {
        size_t nc = n->qcap ? n->qcap * 2 : 64;
        centry *nq = malloc(nc * sizeof *nq);
        if (!nq)
            return sys_redis_fail(c->r, SYS_REDIS_NOMEM, "out of memory");
        for (size_t k = 0; k < n->qlen; k++)
            nq[k] = n->q[(n->qhead + k) % n->qcap];
        free(n->q);
        n->q = nq;
        n->qcap = nc;
        n->qhead = 0;
    }
    char *copy = malloc(len);
    if (!copy || (ctx && redisAppendFormattedCommand(ctx, cmd, len) != REDIS_OK)) {
        free(copy);
        return sys_redis_fail(c->r, SYS_REDIS_NOMEM, "out of memory");
    }
    memcpy(copy, cmd, len);
    n->q[(n->qhead + n->qlen++) % n->qcap] =
        (centry){c->seq++, index, fn, arg, read, read_arg, copy, len, ctx == NULL};
    n->dirty |= ctx != NULL;
    c->owed++;
    return 0;
}

/* Queues the commands of resp, each to its node, owing one reply each.
 * Returns 0, or -1 (recorded). */
int sys_cluster_send(sys_cluster *c, const char *resp, size_t len, size_t nreplies,
                     sys_redis_handler fn, void *arg, sys_redis_reader read, void *read_arg)
{
    size_t off = 0, index = 0;
    while (off < len) {
        size_t cl;
        int all;
        if (proto_cmd_span(resp + off, len - off, &cl) < 0)
            return sys_redis_fail(c->r, SYS_REDIS_REPLY, "cluster: a malformed command");
        int i = route(c, resp + off, cl, &all);
        if (i < 0)
            return -1;
        if (all)
            return sys_redis_fail(c->r, SYS_REDIS_REPLY, "cluster: SCRIPT in a pipeline");
        if (push(c, i, resp + off, cl, index++, fn, arg, read, read_arg) < 0)
            return -1;
        off += cl;
    }
    if (index != nreplies)
        return sys_redis_fail(c->r, SYS_REDIS_REPLY, "cluster: %zu commands owe %zu replies", index,
                              nreplies);
    return 0;
}

/* Writes every node's queued commands; a node that fails is taken down
 * (its commands get NODEDOWN replies). Returns 0. */
int sys_cluster_flush(sys_cluster *c)
{
    for (int i = 0; i < c->nnodes; i++) {
        redisContext *ctx = c->node[i].ctx;
        int done = 0;
        while (ctx && !done)
            if (redisBufferWrite(ctx, &done) != REDIS_OK) {
                node_fail(c, i, ctx->errstr[0] ? ctx->errstr : "write failed");
                break;
            }
    }
    return 0;
}

/* Returns the replies owed. */
size_t sys_cluster_owed(const sys_cluster *c)
{
    return c->owed;
}

/* Returns a NODEDOWN error reply for a command of a failed node (free it
 * with freeReplyObject), or NULL when out of memory. */
static redisReply *node_down_reply(const cnode *n)
{
    char buf[480];
    void *rep = NULL;
    int len = snprintf(buf, sizeof buf, "-NODEDOWN %s:%d %s\r\n", n->host, n->port,
                       n->why[0] ? n->why : "unreachable");
    redisReader *rd = redisReaderCreate();
    if (len >= (int)sizeof buf)
        len = (int)sizeof buf - 1, buf[len - 2] = '\r', buf[len - 1] = '\n';
    if (rd && redisReaderFeed(rd, buf, (size_t)len) == REDIS_OK)
        redisReaderGetReply(rd, &rep);
    redisReaderFree(rd);
    return rep;
}

/* Reads replies in send order across the nodes, each to its handler,
 * until at most leave are owed; the commands of a node that fails get
 * NODEDOWN error replies and the other nodes go on. Returns 0, or -1
 * (recorded: a handler refused its reply, or out of memory). */
int sys_cluster_run(sys_cluster *c, size_t leave)
{
    while (c->owed > leave) {
        int best = -1;
        for (int i = 0; i < c->nnodes; i++)
            if (c->node[i].qlen &&
                (best < 0 || c->node[i].q[c->node[i].qhead].seq < c->node[best].q[c->node[best].qhead].seq))
                best = i;
        if (best < 0)
            return sys_redis_fail(c->r, SYS_REDIS_LOST, "cluster: ledger out of step");
        cnode *n = &c->node[best];
        centry e = n->q[n->qhead];
        redisReply *rep = NULL;
        int synthetic = e.dead;
        if (!e.dead) {
            if (e.read)
                rep = e.read(e.read_arg, n->ctx);
            else if (redisGetReply(n->ctx, (void **)&rep) != REDIS_OK)
                rep = NULL;
            if (!rep) {
                node_fail(c, best, n->ctx->errstr[0] ? n->ctx->errstr : "no reply");
                continue;                   /* this entry is dead now */
            }
        }
        n->qhead = (n->qhead + 1) % n->qcap;
        n->qlen--;
        c->owed--;
        if (rep && rep->type == REDIS_REPLY_ERROR &&
            !(rep = resolve(c, rep, 1, e.cmd, e.len, e.read, e.read_arg)))
            synthetic = 1;                  /* its redirect target could not be reached */
        if (synthetic && !(rep = node_down_reply(n))) {
            free(e.cmd);
            return sys_redis_fail(c->r, SYS_REDIS_NOMEM, "out of memory");
        }
        free(e.cmd);
        int rc = 0;
        if (e.fn)
            rc = e.fn(e.arg, rep, e.index);
        else if (!e.read)
            freeReplyObject(rep);
        if (synthetic && e.read)            /* the reader owns its replies, not this one */
            freeReplyObject(rep);
        if (rc < 0)
            return sys_redis_fail(c->r, SYS_REDIS_REPLY, "a reply handler refused its reply");
    }
    return 0;
}

/* Waits until replicas replicas of every node written since the last call
 * have what it acknowledged. Returns the fewest replicas any node reached,
 * or -1 (recorded). */
int sys_cluster_wait(sys_cluster *c, int replicas, int timeout_ms)
{
    long long least = replicas;
    for (int i = 0; i < c->nnodes; i++) {
        cnode *n = &c->node[i];
        for (int k = 0; k < 2; k++) {
            redisContext *ctx = k ? n->side : n->ctx;
            if (!(n->dirty & (1 << k)) || !ctx)
                continue;
            redisReply *rep = redisCommand(ctx, "WAIT %d %d", replicas, timeout_ms);
            if (!rep) {
                node_fail(c, i, ctx->errstr[0] ? ctx->errstr : "no reply to WAIT");
                least = 0;
                break;
            }
            if (rep->type != REDIS_REPLY_INTEGER)
                least = 0;
            else if (rep->integer < least)
                least = rep->integer;
            freeReplyObject(rep);
        }
        n->dirty = 0;
    }
    return (int)least;
}

/* Copies the redirect and retry counts; never fails. */
void sys_cluster_stats(const sys_cluster *c, sys_redis_cluster_stats *st)
{
    *st = c->st;
}
