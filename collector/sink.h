/* sink.h: one thread's path from an accepted hit into Redis — hiredis async
 * on the thread's event loop, pipelined XADDs, the in-memory queue of hits
 * awaiting a reply, the spool while Redis is away, reconciliation so that a
 * reconnect never stores a hit twice, and drain on shutdown (SPEC 9).
 *
 * Every call is made from the thread that owns the sink's event base,
 * except the coll_sink_*() getters marked thread-safe. */
#ifndef COLL_SINK_H
#define COLL_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "hit.h"
#include "metrics.h"

struct event_base;
typedef struct coll_sink coll_sink;

/* Creates the sink of thread index (of conf->threads), opens its spool
 * (queuing the files a previous run left) and starts connecting. conf and m
 * must outlive the sink. Returns NULL (logged) on failure. */
coll_sink *coll_sink_new(struct event_base *base, const proto_conf *conf, int index,
                         coll_metrics *m);

/* Frees the sink; call coll_sink_drain first to keep in-flight hits. NULL
 * is a no-op. */
void coll_sink_free(coll_sink *s);

/* Takes an accepted, finished hit: gives it a hid, then sends it or spools
 * it. Never blocks on Redis. Returns 0, or -1 if it had to be dropped
 * (spool full, disk refusing with memory full: counted and logged). */
int coll_sink_push(coll_sink *s, proto_hit *hit);

/* Returns 1 if n more hits would be taken now without a drop (sent, or
 * spooled to disk or memory), else 0: endpoints whose clients can retry
 * answer 503 instead of accepting. */
int coll_sink_room(const coll_sink *s, int n);

/* Records a rejected hit with its reason in the rejects stream when Redis is
 * up; counts it as unrecorded otherwise. raw (len bytes) is the offending
 * query or body, stored truncated. */
void coll_sink_reject(coll_sink *s, const proto_hit *hit, proto_reason r, const char *raw,
                      size_t len);

/* Stops taking new work toward Redis once in-flight replies are in or
 * timeout_ms passed, persists what is unacknowledged to the spool, syncs it,
 * and calls done(arg) from the loop. */
void coll_sink_drain(coll_sink *s, int timeout_ms, void (*done)(void *arg), void *arg);

/* The spool as /healthz and /metrics show it. */
typedef struct {
    int64_t records;        /* hits in the spool, held ones included */
    int64_t held;           /* of which the disk refused (in memory or a sealed file) */
    int64_t disk_bytes, mem_bytes;
    int64_t written;        /* hits written to spool files (cumulative) */
    int64_t damaged;        /* damaged files or tails found (cumulative) */
    const char *degraded;   /* NULL, or why accepted hits are at risk: "disk_full",
                             * "disk_error", "spool_full" */
} coll_sink_spool_info;

/* The sink as the endpoints call it: a table, so that a fuzz target can put
 * its checks between the handlers and the real sink. */
typedef struct {
    int (*push)(coll_sink *s, proto_hit *hit);
    int (*room)(const coll_sink *s, int n);
    void (*reject)(coll_sink *s, const proto_hit *hit, proto_reason r, const char *raw,
                   size_t len);
} coll_sink_api;

/* The real sink's table: coll_sink_push, coll_sink_room, coll_sink_reject. */
extern const coll_sink_api coll_sink_real;

/* Thread-safe getters for /healthz and /metrics. */
int coll_sink_up(const coll_sink *s);
int coll_sink_nodes_down(const coll_sink *s);      /* cluster: masters down, the others up */
int64_t coll_sink_queued(const coll_sink *s);       /* hits awaiting a reply */
void coll_sink_spool(const coll_sink *s, coll_sink_spool_info *out);

#endif
