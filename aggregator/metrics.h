/* metrics.h: the aggregator's counters (relaxed atomics, shared by its
 * threads) and their Prometheus rendering. */
#ifndef AGG_METRICS_H
#define AGG_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "prom.h"

#define AGG_MAX_PARTITIONS 1024

typedef struct agg_metrics {
    _Atomic uint64_t applied;          /* stream entries applied to counters */
    _Atomic uint64_t skipped;          /* entries already applied (watermark) */
    _Atomic uint64_t duplicates;       /* hits dropped as retries (same nonce) */
    _Atomic uint64_t malformed;        /* entries that do not decode */
    _Atomic uint64_t batches;
    _Atomic uint64_t conflicts;        /* apply scripts refused: watermark moved */
    _Atomic uint64_t dead;             /* entries moved to a campaign's dead-letter stream */
    _Atomic uint64_t poisoned;         /* apply scripts refused: a key of the wrong type or value */
    _Atomic int held;                  /* 1 while a poisoned campaign holds a partition back */
    _Atomic uint64_t trimmed;          /* entries trimmed from the streams */
    _Atomic uint64_t alerts_raised;    /* followup_overdue alerts written */
    _Atomic uint64_t alerts_resolved;  /* followup_resolved alerts written */
    _Atomic uint64_t alerts_moved;     /* alerts moved from outboxes to ag:alerts */
    _Atomic uint64_t alerts_sent;      /* channel deliveries: webhook 2xx, e-mail taken */
    _Atomic uint64_t alerts_failed;    /* channel attempts that failed */
    _Atomic uint64_t redis_failures;
    _Atomic uint64_t replicas_short;   /* WAIT reached fewer than replicas_ack replicas */
    _Atomic uint64_t cluster_moved, cluster_ask, cluster_tryagain, cluster_clusterdown,
        cluster_refreshes, cluster_node_failures; /* Redis Cluster: copied from the Redis layer */
    _Atomic int redis_up;
    _Atomic int evicts;                /* Redis may evict keys (allow_eviction = yes) */
    _Atomic int owned[AGG_MAX_PARTITIONS];     /* 1 if this process holds the lease */
    _Atomic int64_t lag[AGG_MAX_PARTITIONS];   /* entries not yet applied */
    proto_hist batch_latency;
} agg_metrics;

#define agg_inc(c) atomic_fetch_add_explicit(&(c), 1, memory_order_relaxed)
#define agg_add(c, n) atomic_fetch_add_explicit(&(c), (n), memory_order_relaxed)
#define agg_get(c) atomic_load_explicit(&(c), memory_order_relaxed)

#endif
