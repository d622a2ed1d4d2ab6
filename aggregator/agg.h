/* agg.h: the aggregator daemon's state, shared by its rooms — streams.c
 * (the connection, consumer groups, partition leases, trimming, lag),
 * alerts.c (the overdue-signup scan), outbox.c (the alert mover), rounds.c (the read/apply/acknowledge
 * loop) and main.c (start-up and the loop). Internal to
 * actiongap-aggregator; one thread uses it. */
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
#include "redis.h"

#define AGG_GROUP "aggregator"  /* the consumer group on every hit stream */
#define AGG_BLOCK_MS 200        /* a read of new entries blocks this long */
#define AGG_POLL_MS 50          /* on a cluster, where reads do not block: idle naps */
#define AGG_MAX_READS 256       /* XREADGROUP replies in one round */
#define AGG_HELD_MAX 64         /* campaigns held at once; past that a batch is held whole */

/* A campaign known to the alert scan. */
typedef struct {
    char name[PROTO_CAMPAIGN_MAX + 1];
    long long cursor;       /* pending signups at or below were examined */
} agg_scan_camp;

/* The entries of one round: its XREADGROUP replies (in its arena) and,
 * per partition, the entries, their batch, its job through the stages and
 * what applying it did. */
typedef struct {
    agg_arena *arena;
    redisReply *rs[AGG_MAX_READS];
    size_t nr, total;
    int backlog;                /* stopped at batch_max with entries waiting */
    size_t per[AGG_MAX_PARTITIONS], n[AGG_MAX_PARTITIONS];
    const redisReply **ents[AGG_MAX_PARTITIONS];
    agg_batch *b[AGG_MAX_PARTITIONS];
    agg_apply_job job[AGG_MAX_PARTITIONS];
    agg_apply_result res[AGG_MAX_PARTITIONS];
} agg_round;

/* The daemon. */
typedef struct {
    proto_conf conf;
    agg_metrics m;
    sys_redis *r;               /* the connection */
    int up;                     /* connected, scripts loaded, groups made */
    agg_round round[2];         /* the round being applied and the next */
    char me[96];                /* consumer name */
    char keys[AGG_MAX_PARTITIONS][PROTO_KEY_MAX];
    int owned[AGG_MAX_PARTITIONS];
    int need_claim[AGG_MAX_PARTITIONS];
    int need_pel[AGG_MAX_PARTITIONS];
    int need_rewind[AGG_MAX_PARTITIONS];    /* read again from its cursor (agg_rewind) */
    long long lease_at[AGG_MAX_PARTITIONS]; /* when its lease was last taken or renewed (ms) */
    int need_group[AGG_MAX_PARTITIONS];     /* its node was away at connect: no group made */
    long long last_lease, last_alert, last_rescan, last_trim;
    int poisoned;               /* the last round held a poisoned campaign */
    int unconfirmed;            /* replicas_ack: the last WAIT fell short (nothing acknowledged) */
    int poison_ms;              /* back-off before retrying it (0: none) */
    long long held_retry_at;    /* when to read held campaigns' pending entries again (ms; 0: none) */
    int held[AGG_MAX_PARTITIONS];   /* the partition has a held campaign */
    struct {
        unsigned p;
        char name[PROTO_CAMPAIGN_MAX + 1];
    } held_list[AGG_HELD_MAX];      /* the held campaigns (rounds.c) */
    int nheld;
    int retry_ms;               /* back-off before the next connect (0: no outage) */
    long long outage_since;     /* when the outage began (ms) */
    int held_lines;             /* log lines held back in it before a sys_log_speak */
    agg_scan_camp *camps;
    size_t ncamps;
    int outbox_due;             /* outboxes may hold alerts: the next scan moves them all */
    agg_expiry *expiry;         /* the audience expiries set (expiry.h) */
} agg;

/* ---- rounds.c ---- */

/* Lets the held campaigns' pending entries be read again (after the
 * back-off); never fails. */
void agg_held_retry(agg *a);

/* Set by SIGTERM/SIGINT: finish what was read, then stop. */
extern volatile sig_atomic_t agg_stopping;

/* ---- streams.c ---- */

/* Notes a failure: holds back further log lines, backs the next connect off. */
void agg_outage(agg *a);

/* Ends an outage after a good round (logs once); no-op without one. */
void agg_recovered(agg *a);

/* Connects, checks the eviction policy, loads the scripts and creates the
 * consumer groups. Returns 0, -1 (logged once per outage;
 * sys_redis_backoff_ms says when to retry), or -2 when Redis evicts keys
 * and allow_eviction is off, or the ACL user lacks a command the
 * aggregator needs (logged, one line; the daemon must stop). */
int agg_connect(agg *a);

/* Drops the connection after an error, so the next round reconnects and
 * re-reads every unacknowledged entry; never fails. */
void agg_disconnect(agg *a, const char *why);

/* Runs one command. Returns the reply (caller frees), or NULL: after a
 * transport error the connection is dropped; after an error reply
 * sys_redis_err(a->r) holds it. */
redisReply *agg_cmd(agg *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Returns 1 if the last failure was one node of a Redis Cluster (the
 * layer failed its commands alone): the partition or campaign it serves
 * waits for it, the others go on. */
int agg_node_lost(const agg *a);

/* Lets partition p go (not owned) while its Redis node cannot be reached;
 * the lease takes it back, pending entries and all, once it answers.
 * Never fails. */
void agg_partition_away(agg *a, int p, const char *why);

/* Renews held partition leases and takes free ones; never fails. */
void agg_leases(agg *a);

/* Gives the held leases back (at exit); never fails. */
void agg_leases_release(agg *a);

/* Moves partition p's group back to its cursor (ag:applied:{P}), so that
 * entries read and not applied before a crash, a dropped connection or a
 * takeover are read again (the watermarks skip those applied since): new
 * entries are read with NOACK, only the cursor says what is applied. A
 * partition without one (a first start) gets the group's last delivered
 * id. Returns 0 or -1 (the connection or its node failed). */
int agg_rewind(agg *a, int p);

/* Trims owned streams below what is applied, acknowledged and older than
 * keep_hours; never fails. */
void agg_trim(agg *a);

/* Updates the lag gauge of every partition; never fails. */
void agg_update_lag(agg *a);

/* ---- alerts.c ---- */

/* Raises due followup_overdue alerts for the campaigns of owned partitions
 * (full: re-examines every pending signup); never fails. */
void agg_alerts_scan(agg *a, int full);

/* ---- outbox.c ---- */

/* Moves the outboxes of campaigns idx[0..n) (indexes in a->camps) to
 * ag:alerts, each alert exactly once. Returns 0, or -1 on a Redis failure
 * (drop the connection; a later call finishes the move). */
int agg_outbox_move(agg *a, const size_t *idx, size_t n);

/* ---- rounds.c ---- */

/* Reads and applies one round: each owned partition's own pending entries
 * first, then new entries of all owned partitions. Returns the number of
 * entries applied and acknowledged. */
size_t agg_round_once(agg *a);

#endif
