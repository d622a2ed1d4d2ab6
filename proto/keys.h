/* keys.h: every Redis key name of SPEC 3, built in one place (with
 * schema.h, the counter schema). Each builder writes a NUL-terminated name
 * into buf (cap bytes) and returns its length, or -1 if it does not fit.
 * Campaign ids passed here must be valid (they come from a validated hit),
 * so key names never hold raw input. */
#ifndef PROTO_KEYS_H
#define PROTO_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_KEY_MAX 256

/* Returns the Redis Cluster CRC16 (XMODEM) of buf. */
uint16_t proto_crc16(const char *buf, size_t len);

/* Returns the 64-bit FNV-1a hash of buf (len bytes), never 0 (so 0 can
 * mark an empty slot in a hash set). */
uint64_t proto_hash64(const char *buf, size_t len);

/* Returns the partition of campaign: crc16(campaign) mod partitions. */
unsigned proto_partition(const char *campaign, unsigned partitions);

int proto_key_hits(char *buf, size_t cap, const char *prefix, unsigned partition);  /* ag:hits:{P} */
int proto_key_rejects(char *buf, size_t cap, const char *prefix);                   /* ag:rejects */
int proto_key_alerts(char *buf, size_t cap, const char *prefix);                    /* ag:alerts (stream and channel) */
/* ag:alerts:moved{ag:alerts}: HASH campaign -> the last outbox entry id moved
 * to ag:alerts; its hash tag is the alerts key's name, so both share a slot. */
int proto_key_alerts_moved(char *buf, size_t cap, const char *prefix);
int proto_key_campaigns(char *buf, size_t cap, const char *prefix);                 /* ag:campaigns */
int proto_key_links(char *buf, size_t cap, const char *prefix);                     /* ag:links (ZSET and channel) */
int proto_key_link(char *buf, size_t cap, const char *prefix, const char *code);    /* ag:link:<code> */

/* The fixed keys of one campaign C (all in hash slot {C}). */
typedef enum {
    PROTO_CK_TOTALS,    /* ag:c:{C}            HASH counters */
    PROTO_CK_WM,        /* ag:c:{C}:wm         HASH partition -> last applied id (§12) */
    PROTO_CK_NONCE,     /* ag:c:{C}:nonce      ZSET nonce -> last sighting ms (§12) */
    PROTO_CK_REF,       /* ag:c:{C}:ref        ZSET advocate -> actions */
    PROTO_CK_REF_REACH, /* ag:c:{C}:ref:reach  ZSET advocate -> reach hits */
    PROTO_CK_PENDING,   /* ag:c:{C}:pending    ZSET subject -> signup ms */
    PROTO_CK_FL,        /* ag:c:{C}:fl         HASH follow-up latency */
    PROTO_CK_ALERTED,   /* ag:c:{C}:alerted    HASH subject -> signup ms (§12) */
    PROTO_CK_CFG,       /* ag:c:{C}:cfg        HASH name, followup_sla_s, webhook, webhook_format, alert_email_to */
    PROTO_CK_PAGES,     /* ag:c:{C}:pages      ZSET page path -> human views */
    PROTO_CK_REFERRERS, /* ag:c:{C}:referrers  ZSET referrer host -> human views */
    PROTO_CK_DEAD,      /* ag:c:{C}:dead       STREAM entries a poisoned key refused */
    PROTO_CK_LINKS,     /* ag:c:{C}:links      HASH advocate, target, subject, channel -> short code */
    PROTO_CK_REF_CLICK, /* ag:c:{C}:ref:click  ZSET advocate -> clicks on their links */
    PROTO_CK_REF_UNVERIFIED, /* ag:c:{C}:ref:unverified ZSET advocate -> actions credited unsigned */
    PROTO_CK_OUTBOX,    /* ag:c:{C}:outbox     STREAM alerts raised, not yet moved to ag:alerts */
    PROTO_CK_COUNT
} proto_ckey;

/* Builds key k of campaign c. */
int proto_key_of(char *buf, size_t cap, const char *prefix, const char *c, proto_ckey k);
/* ag:c:{C}:u:<event>: the unique-subject HyperLogLog of event. */
int proto_key_uniq(char *buf, size_t cap, const char *prefix, const char *c, const char *event);
/* ag:c:{C}:scroll:<depth>: the HyperLogLog of the unique human viewers who
 * reached scroll bucket i (proto_scroll_field: 25, 50, 75, 100). */
int proto_key_scroll(char *buf, size_t cap, const char *prefix, const char *c, int i);
/* ag:c:{C}:h:<YYYYMMDDHH> / ag:c:{C}:d:<YYYYMMDD>: the hourly (daily) bucket
 * holding ts_ms (UTC). */
int proto_key_hour(char *buf, size_t cap, const char *prefix, const char *c, long long ts_ms);
int proto_key_day(char *buf, size_t cap, const char *prefix, const char *c, long long ts_ms);

/* Returns the length in ms of an hourly (daily) bucket. */
#define PROTO_HOUR_MS 3600000LL
#define PROTO_DAY_MS 86400000LL

/* Parses a stream entry id "ms-seq" (an exclusive "(ms-seq" too); "" or
 * garbage reads as 0-0. Never fails. */
void proto_stream_id_parse(const char *id, uint64_t *ms, uint64_t *seq);

/* Returns 1 if id is a whole stream id "<ms>-<seq>" (decimal, each fits 64
 * bits), else 0. */
int proto_stream_id_valid(const char *id);

/* Compares two stream entry ids by value ("" is the lowest). Returns <0,
 * 0 or >0. */
int proto_stream_id_cmp(const char *a, const char *b);

/* ag:c:{C}:aud:<B>: audience bucket B of campaign C (schema.h, "audiences"). */
int proto_key_aud(char *buf, size_t cap, const char *prefix, const char *c, unsigned bucket);

/* ag:shares: the dashboard's share links, a hash of token -> "c:<C>" (a
 * campaign) or "l:<C>" (its leaderboard); actiongap share writes it. */
int proto_key_shares(char *buf, size_t cap, const char *prefix);

/* ag:repaired:{P}: HASH campaign -> the last dead-letter entry id that
 * `actiongap repair` re-queued on ag:hits:{P} (internal; P's slot). */
int proto_key_repaired(char *buf, size_t cap, const char *prefix, unsigned partition);

/* ag:aggregators: ZSET consumer -> its last heartbeat (ms), so that the
 * aggregators running share the partitions evenly (internal). */
int proto_key_aggregators(char *buf, size_t cap, const char *prefix);

/* ag:lease:{P}: the aggregator's ownership lease of partition P (internal). */
int proto_key_lease(char *buf, size_t cap, const char *prefix, unsigned partition);

/* ag:applied:{P}: STRING, the entry id of ag:hits:{P} up to which every
 * entry is applied, dead-lettered or pending in the aggregator group (a
 * held campaign's): where reading resumes after a crash or a takeover
 * (internal; P's slot). */
int proto_key_applied(char *buf, size_t cap, const char *prefix, unsigned partition);

#endif
