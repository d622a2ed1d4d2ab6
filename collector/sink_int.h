/* sink_int.h: the sink's state and what its four files share, not part
 * of the API: sink_conn.c (the lower layer: the connections, reconciliation,
 * persisting in-flight hits, gauges and drop accounting), sink_cluster.c
 * (a cluster's slot map, the node of each partition, redirects) and
 * sink_node.c (on a cluster: one master failing, spooled and reconnected
 * alone while the others take hits) serve sink.c (the queue, sending, the
 * pump, drain and the tick); they reach the pump only through s->kick and
 * release acknowledged hits through coll_sink_release_ready. One node (a
 * plain redis:// URL) is a table of one node that owns every partition,
 * and any failure takes the whole sink down. */
#ifndef COLL_SINK_INT_H
#define COLL_SINK_INT_H

#include <hiredis/async.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "htab.h"
#include "sink.h"
#include "resp.h"
#include "slab.h"
#include "spool.h"

#define MAX_INSTS 32
#define ID_MAX 48
#define NODES_MAX 64            /* masters of a cluster the sink connects to */
#define ASKS_MAX 5              /* ASK redirects followed for one hit */

enum { S_DOWN, S_CONNECTING, S_SYNC, S_UP };

/* A hit sent to Redis and not yet acknowledged, in send order. */
typedef struct inflight {
    struct inflight *next;
    struct inflight *onext; /* cluster: the next hit owed a reply by the same node */
    int64_t sent_ms;
    int from_spool;
    coll_spool_pos pos;
    unsigned partition;
    uint32_t len;
    uint8_t done;           /* acknowledged, released once every earlier entry is */
    uint8_t asks;           /* ASK redirects followed */
    uint8_t wnode;          /* the node it was written to (that owes its reply) */
    uint32_t wgen;          /* replicas_ack: that node's WAIT generation when written */
    char id[ID_MAX];        /* the stream id Redis gave it, while done and not released */
    unsigned char data[];   /* proto_hit_pack() bytes */
} inflight;

/* One Redis node: the single node, or a master of a cluster. */
typedef struct sink_node {
    struct coll_sink *s;
    int idx;
    char host[256];
    int port;
    redisAsyncContext *ac;      /* ac->data points back here while it is ours */
    int synced;                 /* set up and reconciled on this connection */
    long long client_id;        /* CLIENT ID of the live connection */
    char laddr[64];             /* its local address as Redis sees it */
    long long kill_id;          /* a hung connection to kill before reconciling */
    char kill_addr[64];
    unsigned sync_part;         /* the partition this node's sync is at */
    int tail_done;              /* the sync read sync_part's tail on this connection */
    /* replicas_ack: writes of generation g are confirmed once durable > g */
    uint32_t wgen, durable;
    uint32_t unwaited;          /* XADDs sent since the last WAIT */
    int rewait;                 /* the last WAIT fell short: ask again on the tick */
    int64_t wait_sent_ms;       /* a WAIT is owed since (0: none) */
    /* cluster, while the sink is up: this node's own life (sink_node.c) */
    int state;                  /* S_DOWN, S_CONNECTING, S_SYNC, S_UP */
    int64_t state_since;
    int backoff_ms;
    int64_t next_connect;
    int down_logged;
    uintptr_t gen;              /* bumps on each of its connections: stale sync replies */
    inflight *ohead, *otail;    /* the hits it owes a reply, in send order */
} sink_node;

/* Cluster events counted on /metrics (coll_metrics.cluster). */
enum { CL_MOVED, CL_ASK, CL_TRYAGAIN, CL_CLUSTERDOWN, CL_REFRESH };

struct coll_sink {
    struct event_base *base;
    const proto_conf *conf;
    coll_metrics *m;
    int index;
    char inst[24];              /* hid prefix of this thread: 8 hex . index */
    size_t inst_len;
    proto_resp xargs, xcmd;     /* the XADD being built: arguments, framed command */
    proto_resp rcmd;            /* a reject's XADD */
    uint64_t seq;

    /* connections: one per node; all up, or the sink is down */
    sink_node node[NODES_MAX];
    int nnodes;
    int nsynced;                /* nodes whose sync is over (cluster: the nodes up) */
    int partial;                /* cluster: a node fails alone (sink_node.c) */
    int32_t *spooled;           /* cluster: per partition, its records in the spool */
    int spooled_unknown;        /* the counts are not known: direct only if the spool is empty */
    int map_check;              /* map_ac reads the map to compare it, not to connect */
    int64_t map_since;
    uint8_t *part_node;         /* per partition: its node, set once per map */
    int rej_node;               /* the node of the rejects stream */
    redisAsyncContext *map_ac;  /* cluster: the connection reading CLUSTER SLOTS */
    unsigned map_try;           /* cluster: which candidate the next map read asks */
    int state;
    int64_t state_since;        /* ms of the last state change or control command */
    int backoff_ms;
    int64_t next_connect;
    int down_logged;

    /* sync: scan cursors */
    char (*acked)[ID_MAX];      /* per partition: last released id, "" if unknown */
    char (*scan_from)[ID_MAX];  /* per partition: where the reconcile scan starts */
    int need_scan;
    char insts[MAX_INSTS][24];  /* hid prefixes to reconcile; n > MAX_INSTS: any */
    int ninsts;
    proto_htab found;           /* hashes of the hit ids found in Redis (a set) */
    uint64_t scan_found;

    /* queue */
    inflight *head, *tail;
    int64_t ninflight, ndirect;
    coll_slab slab;             /* the in-flight entries' memory (no malloc per hit) */
    coll_spool *spool;
    int64_t last_flush;
    int64_t trim_peak, last_trim;   /* the queue's peak since memory was last given back */
    int trim_busy;                  /* ... and the ticks with hits in flight */
    int64_t drop_logged_ms;
    uint64_t drops_since_log;
    int flush_failed;           /* records wait in memory: retry on every tick */
    int64_t lost_seen;          /* spool records lost on replay, already counted */

    /* drain */
    int draining;
    int64_t drain_deadline;
    void (*drained)(void *);
    void *drained_arg;

    void (*kick)(struct coll_sink *s); /* sink.c's pump, run when Redis is up */
    struct event *tick;
    struct event *pump_ev;      /* runs the pump after the current I/O callbacks */
    int pump_pending;
    struct event *wait_ev;      /* replicas_ack: sends WAITs after the current callbacks */
    int wait_pending;
    int64_t short_logged_ms;    /* a WAIT that fell short was last said then */

    /* gauges for other threads */
    _Atomic int g_up;
    _Atomic int64_t g_queued, g_spool_records, g_spool_held, g_spool_bytes, g_spool_mem_bytes;
    _Atomic int64_t g_spool_written, g_spool_damaged;
    _Atomic int g_degraded;     /* 0, or 1 + the index of a reason in sink.c */
    _Atomic int g_nodes_down;   /* cluster: masters down while the others take hits */

    proto_redis_addr addr;
};

/* Marks e as written to node i now: owed by it, and for replicas_ack's
 * WAIT (sink.c); never fails. */
void coll_sink_written(coll_sink *s, inflight *e, int i);

/* Releases, from the head, every entry acknowledged and confirmed
 * (sink.c); never fails. */
void coll_sink_release_ready(coll_sink *s);

/* Takes e off the list of replies node n owes (cluster); never fails. */
void coll_sink_owed_drop(sink_node *n, inflight *e);

/* Takes node n down for why (a connection error, its timeout, an error
 * reply): alone on a cluster whose sink is up, its in-flight hits spooled
 * and its partitions' hits spooled until it is back; else (one node, the
 * sink connecting, replayed hits in flight, an ASK followed, no other node
 * up) the whole sink (coll_sink_fail). keep: a context hiredis is about to
 * free. Never fails. */
void coll_sink_node_fail(sink_node *n, const char *why, int hung, const redisAsyncContext *keep);

/* Starts node n's connection (its sync follows). Returns 0, or -1 with
 * the reason in err (cap bytes) if it could not be started (n is left as
 * it was). */
int coll_sink_node_connect(sink_node *n, char *err, size_t cap);

/* Cluster, sink up: times out nodes owing a reply, a WAIT, or a sync for
 * longer than redis_timeout_ms, and has the map checked (then the node
 * reconnected) once a down node's back-off passed. Never fails. */
void coll_sink_nodes_tick(coll_sink *s, int64_t now);

/* A node's sync is over: marks it up; the sink goes up once every node
 * is, or (cluster, sink up) the node rejoins. Never fails. */
void coll_sink_node_synced(sink_node *n);

/* Cluster: the map check found the slot map unchanged: connects the down
 * nodes whose back-off passed. Never fails. */
void coll_sink_nodes_reconnect(coll_sink *s);

/* Cluster: starts reading the map to compare it with the one in use (a
 * node is down: has its slots moved?). Returns 0, or -1. */
int coll_sink_map_check(coll_sink *s);

/* Ends a map check: closes its connection; a failed one (failed) puts
 * the down nodes' next attempt one back-off later. Never fails. */
void coll_sink_map_check_end(coll_sink *s, int failed);

/* Returns 1 if a hit of partition p may be sent now rather than spooled
 * (cluster: its node up and none of its hits in the spool). */
int coll_sink_part_direct(const coll_sink *s, unsigned p);

/* Updates the gauges other threads read; never fails. */
void coll_sink_gauges(coll_sink *s);

/* Frees every in-flight entry; never fails. */
void coll_sink_inflight_clear(coll_sink *s);

/* Counts and logs (at most once a second) a dropped hit; never fails. */
void coll_sink_note_drop(coll_sink *s, coll_drop why);

/* Sends spooled hits while the window has room; finishes a drain when all
 * is acknowledged. Never fails (problems are logged and counted). */
void coll_sink_pump(coll_sink *s);

/* Returns the name of a degraded code (g_degraded), or NULL for 0. */
const char *coll_sink_degraded_name(int d);

/* Writes the spool header naming this writer and where a reconcile scan
 * must start. Never fails (truncates). */
void coll_sink_make_header(coll_sink *s, char *out, size_t cap);

/* Plans a reconcile of partition p from its last acknowledged id (ten
 * minutes back if none) and of this writer's hits; never fails. */
void coll_sink_plan_scan(coll_sink *s, int p);

/* Plans a reconcile from a spool file header (callback of each_header). */
void coll_sink_plan_from_header(void *arg, const char *hdr);

/* Takes every connection down: persists in-flight hits, frees the
 * contexts (but keep: hiredis is about to), and schedules a reconnect (on a
 * cluster, with the map read again); never fails. */
void coll_sink_fail(coll_sink *s, const char *why, int hung, const redisAsyncContext *keep);

/* Starts a connection attempt: on a cluster the map first, then every
 * node; failures schedule another. */
void coll_sink_connect(coll_sink *s);

/* Schedules the next connect attempt after a failure to start one, saying
 * so once an outage; never fails. */
void coll_sink_retry_later(coll_sink *s, const char *err);

/* Queues AUTH on ac when the URL has a password (fn takes the reply);
 * never fails. */
void coll_sink_auth(coll_sink *s, redisAsyncContext *ac, redisCallbackFn *fn, void *priv);

/* Connects every node of the table (sink_cluster.c calls it once the map
 * is read); a failure fails the sink. */
void coll_sink_connect_nodes(coll_sink *s);

/* Returns the sink of a context's callback, or NULL if the context is no
 * longer ours (stale replies are ignored). */
coll_sink *coll_sink_of(const redisAsyncContext *ac);

/* Cluster: starts reading the slot map from the next candidate node
 * (sink_cluster.c). Returns 0, or -1 if no connection could be started. */
int coll_sink_map_read(coll_sink *s);

/* Counts a cluster error reply (MOVED, ASK, TRYAGAIN, CLUSTERDOWN) by its
 * kind; returns the kind, or -1 for any other text. */
int coll_sink_cluster_count(coll_sink *s, const char *err);

/* Follows an ASK reply to entry e's XADD: ASKING and the XADD again on the
 * named node's connection, e still in flight. Returns 0, or -1 if it
 * cannot (unknown node, too many redirects: the caller fails the sink). */
int coll_sink_ask(coll_sink *s, inflight *e, const char *err, size_t len);

/* The XADD reply handler of sink.c (ASK resends register it too). */
void coll_sink_on_xadd(redisAsyncContext *ac, void *r, void *priv);

/* Builds the XADD of a packed hit for partition p into s->xcmd. Returns
 * 0, or -1 if it does not decode or fit. */
int coll_sink_xadd_of(coll_sink *s, unsigned p, const unsigned char *data, size_t len);

/* Ends an outage once Redis took a write: resets the back-off, says "up". */
void coll_sink_working(coll_sink *s);

#endif
