/* link.h: short links (SPEC 2, GET /s/<code>) — the record a code names,
 * its fields in the hash ag:link:<code>, the codes themselves and the
 * identity that makes minting idempotent. No I/O: the caller brings the
 * random bytes and the Redis replies. */
#ifndef PROTO_LINK_H
#define PROTO_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "hit.h"

#define PROTO_LINK_CODE_MIN 7
#define PROTO_LINK_CODE_MAX 12

/* The fields of ag:link:<code> (HASH). */
#define PROTO_LINK_F_CAMPAIGN "c"
#define PROTO_LINK_F_REF "ref"
#define PROTO_LINK_F_TO "to"
#define PROTO_LINK_F_SUBJECT "s"
#define PROTO_LINK_F_CHANNEL "ch"
#define PROTO_LINK_F_STATE "state"      /* "active" | "disabled" */
#define PROTO_LINK_F_EXPIRES "exp"      /* ms since the epoch; absent: never */
#define PROTO_LINK_F_CREATED "ts"       /* ms since the epoch */
#define PROTO_LINK_F_NAME "name"        /* the advocate's name, for the digest */
#define PROTO_LINK_F_EMAIL "email"      /* the advocate's e-mail, for the digest */

typedef struct {
    char code[PROTO_LINK_CODE_MAX + 1];
    char campaign[PROTO_CAMPAIGN_MAX + 1];
    char ref[PROTO_REF_MAX + 1];
    char subject[PROTO_SUBJECT_MAX + 1];
    char channel[PROTO_CHANNEL_MAX + 1];
    char to[PROTO_TO_MAX + 1];
    char name[129];
    char email[129];
    int disabled;
    int64_t expires_ms;         /* 0: never */
    int64_t created_ms;
} proto_link;

/* What a code answers at a time. */
typedef enum { PROTO_LINK_ACTIVE = 0, PROTO_LINK_GONE } proto_link_state;

/* Reports whether s (n bytes) has the form of a code: 7-12 of [0-9A-Za-z]. */
int proto_link_code_valid(const char *s, size_t n);

/* Writes a code of len characters (7..12) into out (len + 1 bytes) from
 * len random bytes (rejection-free: each byte mod 62, whose bias of under
 * 2 % is of no consequence for a code that is checked for collision).
 * Returns 0, or -1 for a bad length. */
int proto_link_code(const unsigned char *random, size_t len, char *out);

/* Checks a link before it is stored: campaign, ref, subject and channel as a
 * hit would take them, an absolute http(s) target. Returns PROTO_OK or the
 * reason of the first bad field. */
proto_reason proto_link_check(const proto_link *l);

/* Writes the identity of a link within its campaign (advocate, target,
 * subject, channel, joined by 0x1f) into out: the field of
 * ag:c:{C}:links that makes minting idempotent. Returns its length, or -1
 * if it does not fit. */
long proto_link_ident(const proto_link *l, char *out, size_t cap);

/* Fills l from the field/value pairs of HGETALL ag:link:<code> (code given
 * apart). Returns 0, or -1 if a field is malformed or the campaign or target
 * is missing. */
int proto_link_from_fields(proto_link *l, const char *code, int n, const char *const names[],
                           const size_t name_lens[], const char *const values[],
                           const size_t value_lens[]);

/* Returns whether a link answers at now_ms (disabled or expired: gone). */
proto_link_state proto_link_state_at(const proto_link *l, int64_t now_ms);

#endif
