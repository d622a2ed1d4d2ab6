/* sink_int.h: the sink's state and what its two files share, not part of
 * the API: sink_conn.c (the lower layer: the connection, reconciliation,
 * persisting in-flight hits, gauges and drop accounting) never calls
 * sink.c (the queue, sending, the pump, drain and the tick); it reaches the
 * pump only through s->kick. */
#ifndef COLL_SINK_INT_H
#define COLL_SINK_INT_H

#include <hiredis/async.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "htab.h"
#include "sink.h"
#include "resp.h"
#include "spool.h"

#define MAX_INSTS 32
#define ID_MAX 48

enum { S_DOWN, S_CONNECTING, S_SYNC, S_UP };

/* A hit sent to Redis and not yet acknowledged, in send order. */
typedef struct inflight {
    struct inflight *next;
    int64_t sent_ms;
    int from_spool;
    coll_spool_pos pos;
    unsigned partition;
    uint32_t len;
    uint32_t cap;           /* bytes data[] can hold (ENTRY_DATA for recycled entries) */
    unsigned char data[];   /* proto_hit_pack() bytes */
} inflight;

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

    /* connection */
    redisAsyncContext *ac;
    uintptr_t gen;              /* bumps on each connection; stale replies are ignored */
    int state;
    int64_t state_since;        /* ms of the last state change or control command */
    int backoff_ms;
    int64_t next_connect;
    long long client_id;        /* CLIENT ID of the live connection */
    char laddr[64];             /* its local address as Redis sees it */
    long long kill_id;          /* a hung connection to kill before reconciling */
    char kill_addr[64];
    int down_logged;

    /* sync: partition being prepared, scan cursor */
    unsigned sync_part;
    char (*acked)[ID_MAX];      /* per partition: last acknowledged id, "" if unknown */
    char (*scan_from)[ID_MAX];  /* per partition: where the reconcile scan starts */
    int need_scan;
    int tail_done;              /* the sync read sync_part's tail on this connection */
    char insts[MAX_INSTS][24];  /* hid prefixes to reconcile; n > MAX_INSTS: any */
    int ninsts;
    proto_htab found;           /* hashes of the hit ids found in Redis (a set) */
    uint64_t scan_found;

    /* queue */
    inflight *head, *tail;
    int64_t ninflight, ndirect;
    inflight *spare;            /* acknowledged entries kept for reuse (no malloc per hit) */
    int nspare;
    coll_spool *spool;
    int64_t last_flush;
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

    /* gauges for other threads */
    _Atomic int g_up;
    _Atomic int64_t g_queued, g_spool_records, g_spool_held, g_spool_bytes, g_spool_mem_bytes;
    _Atomic int64_t g_spool_written, g_spool_damaged;
    _Atomic int g_degraded;     /* 0, or 1 + the index of a reason in sink.c */

    proto_redis_addr addr;
};

/* Updates the gauges other threads read; never fails. */
void coll_sink_gauges(coll_sink *s);

/* Frees every in-flight entry and the spare ones; never fails. */
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

/* Plans a reconcile from a spool file header (callback of each_header). */
void coll_sink_plan_from_header(void *arg, const char *hdr);

/* Takes the connection down: persists in-flight hits, frees the context
 * (unless free_ctx is 0: hiredis is about to), and schedules a reconnect;
 * never fails. */
void coll_sink_fail(coll_sink *s, const char *why, int hung, int free_ctx);

/* Starts a connection attempt; failures schedule another. */
void coll_sink_connect(coll_sink *s);

/* Ends an outage once Redis took a write: resets the back-off, says "up". */
void coll_sink_working(coll_sink *s);

#endif
