/* agg.h: the aggregator daemon's state, shared by main.c (connection,
 * leases, alerts, trimming) and rounds.c (the read/apply/acknowledge
 * loop). Internal to actiongap-aggregator; one thread uses it. */
#ifndef AGG_AGG_H
#define AGG_AGG_H

#include <hiredis/hiredis.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "apply.h"
#include "arena.h"
#include "conf.h"
#include "hit.h"
#include "keys.h"
#include "metrics.h"

#define AGG_GROUP "aggregator"  /* the consumer group on every hit stream */
#define AGG_BLOCK_MS 200        /* a read of new entries blocks this long */
#define AGG_MAX_READS 256       /* XREADGROUP replies in one round */

/* A campaign known to the alert scan. */
typedef struct {
    char name[PROTO_CAMPAIGN_MAX + 1];
    long long cursor;       /* pending signups at or below were examined */
} agg_scan_camp;

/* The entries of one round: its XREADGROUP replies (in its arena) and,
 * per partition, the entries, their batch and what applying it did. */
typedef struct {
    agg_arena *arena;
    redisReply *rs[AGG_MAX_READS];
    size_t nr, total;
    int backlog;                /* stopped at batch_max with entries waiting */
    size_t per[AGG_MAX_PARTITIONS], n[AGG_MAX_PARTITIONS];
    const redisReply **ents[AGG_MAX_PARTITIONS];
    agg_batch *b[AGG_MAX_PARTITIONS];
    agg_apply_result res[AGG_MAX_PARTITIONS];
} agg_round;

/* The daemon. */
typedef struct {
    proto_conf conf;
    agg_metrics m;
    redisContext *rc;           /* NULL while disconnected */
    agg_round round[2];         /* the round being applied and the next */
    char me[96];                /* consumer name */
    char keys[AGG_MAX_PARTITIONS][PROTO_KEY_MAX];
    int owned[AGG_MAX_PARTITIONS];
    int need_claim[AGG_MAX_PARTITIONS];
    int need_pel[AGG_MAX_PARTITIONS];
    long long last_lease, last_alert, last_rescan, last_trim;
    int backoff_ms;
    agg_scan_camp *camps;
    size_t ncamps;
} agg;

/* Set by SIGTERM/SIGINT: finish what was read, then stop. */
extern volatile sig_atomic_t agg_stopping;

/* Drops the connection after an error, so the next round reconnects and
 * re-reads every unacknowledged entry; never fails. */
void agg_disconnect(agg *a, const char *why);
/* Runs one command, dropping the connection on a transport error.
 * Returns the reply (caller frees) or NULL. */
redisReply *agg_cmd(agg *a, const char *fmt, ...);

/* Reads and applies one round (rounds.c): each owned partition's own
 * pending entries first, then new entries of all owned partitions.
 * Returns the number of entries applied and acknowledged. */
size_t agg_round_once(agg *a);

#endif
