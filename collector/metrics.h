/* metrics.h: the collector's counters, shared by every thread (relaxed
 * atomics); status.c renders them. */
#ifndef COLL_METRICS_H
#define COLL_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "hit.h"
#include "hook.h"
#include "prom.h"

/* Why an accepted hit was lost (the reason label of ag_hits_dropped_total). */
typedef enum {
    COLL_DROP_SPOOL_FULL,       /* spool_max_bytes reached */
    COLL_DROP_DISK_FULL,        /* the disk has no space and memory holds queue_max hits */
    COLL_DROP_DISK_ERROR,       /* the disk fails otherwise, likewise */
    COLL_DROP_CORRUPT,          /* a spooled record unreadable or undecodable on replay */
    COLL_DROP_OUT_OF_MEMORY,
    COLL_DROP_UNPACKABLE,
    COLL_DROP_COUNT
} coll_drop;

typedef struct coll_metrics {
    _Atomic uint64_t accepted[PROTO_VIA_COUNT];     /* hits accepted, by endpoint */
    _Atomic uint64_t rejected[PROTO_VIA_COUNT];     /* hits rejected, by endpoint */
    _Atomic uint64_t reasons[PROTO_REASON_COUNT];   /* rejects by reason */
    _Atomic uint64_t refused[PROTO_VIA_COUNT];      /* valid hits answered 503: no room */
    _Atomic uint64_t agents[PROTO_AGENT_COUNT];     /* accepted hits by class */
    _Atomic uint64_t stored;            /* hits Redis acknowledged */
    _Atomic uint64_t replayed;          /* hits sent from the spool */
    _Atomic uint64_t reconciled;        /* spooled hits found already in Redis */
    _Atomic uint64_t dropped[COLL_DROP_COUNT]; /* accepted hits lost, by reason */
    _Atomic uint64_t lost_at_exit;      /* of which in no file when the process stopped */
    _Atomic uint64_t rejects_stored;    /* entries written to ag:rejects */
    _Atomic uint64_t rejects_unrecorded;/* rejects not written (Redis down) */
    _Atomic uint64_t redis_failures;    /* disconnects, errors and timeouts */
    _Atomic uint64_t replicas_short;    /* WAITs answered with fewer than replicas_ack replicas */
    _Atomic uint64_t redis_rollbacks;   /* hit streams found behind what Redis acknowledged */
    _Atomic uint64_t cluster[5];        /* MOVED, ASK, TRYAGAIN, CLUSTERDOWN met; map reads */
    _Atomic uint64_t attribution[3];    /* hits with a token: credited, invalid, other campaign */
    _Atomic uint64_t status[6];         /* responses by class: 1xx..5xx */
    _Atomic uint64_t short_links[3];    /* short-link requests: found, gone, unknown (coll_link_find) */
    _Atomic uint64_t hook_auth[PROTO_HOOKS_MAX][4]; /* hook requests by verdict (proto_hook_auth) */
    _Atomic uint64_t hook_items[PROTO_HOOKS_MAX][4]; /* hook items: accepted, rejected, ignored, refused */
    proto_hist latency;                 /* request handling time */
} coll_metrics;

/* Adds one to a counter. */
#define coll_inc(c) atomic_fetch_add_explicit(&(c), 1, memory_order_relaxed)
#define coll_add(c, n) atomic_fetch_add_explicit(&(c), (n), memory_order_relaxed)
#define coll_get(c) atomic_load_explicit(&(c), memory_order_relaxed)

/* Returns a drop reason's label value; never fails. */
static inline const char *coll_drop_name(coll_drop d)
{
    static const char *const names[COLL_DROP_COUNT] = {
        [COLL_DROP_SPOOL_FULL] = "spool_full", [COLL_DROP_DISK_FULL] = "disk_full",
        [COLL_DROP_DISK_ERROR] = "disk_error", [COLL_DROP_CORRUPT] = "corrupt",
        [COLL_DROP_OUT_OF_MEMORY] = "out_of_memory", [COLL_DROP_UNPACKABLE] = "unpackable",
    };
    return d < COLL_DROP_COUNT ? names[d] : "?";
}

/* Returns the accepted hits lost for every reason together (status.c). */
uint64_t coll_dropped_total(const coll_metrics *m);

#endif
