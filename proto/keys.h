/* keys.h: every Redis key name of SPEC 3, built in one place. Each builder
 * writes a NUL-terminated name into buf (cap bytes) and returns its length,
 * or -1 if it does not fit. Campaign ids passed here must be valid (they
 * come from a validated hit), so key names never hold raw input. */
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
int proto_key_campaigns(char *buf, size_t cap, const char *prefix);                 /* ag:campaigns */
int proto_key_campaign(char *buf, size_t cap, const char *prefix, const char *c);   /* ag:c:{C} */
/* ag:c:{C}:<suffix>, e.g. suffix "u:open", "h:2026112317", "scroll", "ref", "ref:reach", "pending", "fl", "cfg" */
int proto_key_campaign_sub(char *buf, size_t cap, const char *prefix, const char *c,
                           const char *suffix);

/* Parses a stream entry id "ms-seq" (an exclusive "(ms-seq" too); "" or
 * garbage reads as 0-0. Never fails. */
void proto_stream_id_parse(const char *id, uint64_t *ms, uint64_t *seq);

/* Compares two stream entry ids by value ("" is the lowest). Returns <0,
 * 0 or >0. */
int proto_stream_id_cmp(const char *a, const char *b);

/* ag:lease:{P}: the aggregator's ownership lease of partition P (internal). */
int proto_key_lease(char *buf, size_t cap, const char *prefix, unsigned partition);

#endif
