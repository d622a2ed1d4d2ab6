/* schema.h: the counter schema of SPEC 3 in one place — the built-in
 * events and their classes, the fields of a campaign's totals and buckets,
 * the follow-up latency and scroll buckets, and (keys.h) the name of every
 * key. Pure. Adding a counter touches this module, the aggregator's op
 * encoder (aggregator/ops.c) and SPEC — nothing else. */
#ifndef PROTO_SCHEMA_H
#define PROTO_SCHEMA_H

#include <stddef.h>

/* The built-in events of SPEC 2; any other valid event is custom. */
typedef enum {
    PROTO_EV_OPEN,
    PROTO_EV_VIEW,
    PROTO_EV_CLICK,
    PROTO_EV_SCROLL,
    PROTO_EV_SIGNUP,
    PROTO_EV_DONATE,
    PROTO_EV_CONVERT,
    PROTO_EV_FOLLOWUP,
    PROTO_EV_CUSTOM,            /* not built-in; also the count of built-ins */
} proto_event;

#define PROTO_EV_BUILTIN PROTO_EV_CUSTOM

/* Returns the name of a built-in event ("open" …), NULL for PROTO_EV_CUSTOM. */
const char *proto_event_name(proto_event e);

/* Returns the built-in event named name, or PROTO_EV_CUSTOM. */
proto_event proto_event_of(const char *name);

/* Returns 1 if e counts toward reach (open, view, click). */
int proto_event_reach(proto_event e);

/* Returns 1 if e is an action: signup, donate, convert, or custom. */
int proto_event_action(proto_event e);

/* ---- fields of the totals hash and the hour/day buckets ---- */

/* Counts of event E are field E for human hits and machine_E for the rest. */
#define PROTO_FIELD_MACHINE "machine_"
#define PROTO_FIELD_VALUE "value"       /* sum of donation/conversion values */
#define PROTO_FIELD_DUP "dup"           /* hits repeated within 24 h (nonce) */
#define PROTO_FIELD_ANON "anonymous"    /* human hits with no subject, ip or ua (GPC/DNT) */
#define PROTO_FIELD_UNVERIFIED "unverified" /* actions credited only by an unsigned ?via= */
#define PROTO_FIELD_ADV_CLICK "adv_click:"   /* daily buckets: clicks on an advocate's links */
#define PROTO_FIELD_ADV_ACTION "adv_action:" /* daily buckets: actions an advocate brought */
#define PROTO_FIELD_FIRST_TS "first_ts"
#define PROTO_FIELD_LAST_TS "last_ts"

/* Writes the count field of event (human: the event; else machine_<event>)
 * into buf. Returns its length, or 0 if it does not fit. */
size_t proto_field_event(char *buf, size_t cap, const char *event, int human);

/* Returns 1 if field is a totals field of the schema (an event count of a
 * built-in event, human or machine, value, dup, anonymous, unverified,
 * first_ts or last_ts), 0
 * if it is a custom event's count. */
int proto_field_builtin(const char *field);

/* Writes the daily field of an advocate's clicks (click) or actions
 * (adv_click:<ref>, adv_action:<ref>) into buf. Returns its length, or 0
 * if it does not fit. */
size_t proto_field_adv(char *buf, size_t cap, int click, const char *ref);

/* Returns 1 if field counts machine hits (machine_<event>). */
int proto_field_is_machine(const char *field);

/* ---- a campaign's settings (the cfg hash, written by `actiongap campaign`) ---- */

#define PROTO_CFG_NAME "name"                   /* shown in alerts */
#define PROTO_CFG_SLA "followup_sla_s"          /* overrides followup_sla_s */
#define PROTO_CFG_WEBHOOK "webhook"             /* overrides webhook */
#define PROTO_CFG_WEBHOOK_FORMAT "webhook_format" /* overrides webhook_format */
#define PROTO_CFG_ALERT_EMAIL_TO "alert_email_to" /* overrides alert_email_to */

/* ---- unique-subject HyperLogLogs (keys.h: proto_key_uniq) ---- */

/* Writes the HLL element of a hit into buf: s:<subject>, or a:<ip>|<ua>
 * where there is no subject. Returns its length, or 0 for an anonymous hit
 * (no subject, ip or ua: counted in totals only) or if it does not fit. */
size_t proto_uniq_elem(char *buf, size_t cap, const char *subject, const char *ip,
                       const char *ua);

/* ---- audiences: who was reached and who acted (keys.h: proto_key_aud) ----
 * One subject's record in its campaign's audience: the events seen (a bit
 * each), the first and last time (seconds), and the first advocate who
 * brought it. Kept in PROTO_AUD_BUCKETS hashes a campaign, the bucket
 * chosen by the subject, so that each stays a small listpack. */

#define PROTO_AUD_BUCKETS 1024
#define PROTO_AUD_FULL "audience_full"          /* totals: subjects left out, a bucket full */

enum {
    PROTO_AUD_OPEN = 1, PROTO_AUD_VIEW = 2, PROTO_AUD_CLICK = 4, PROTO_AUD_SIGNUP = 8,
    PROTO_AUD_DONATE = 16, PROTO_AUD_CONVERT = 32, PROTO_AUD_CUSTOM = 64, PROTO_AUD_FOLLOWUP = 128,
    PROTO_AUD_ACTED = PROTO_AUD_SIGNUP | PROTO_AUD_DONATE | PROTO_AUD_CONVERT | PROTO_AUD_CUSTOM,
    PROTO_AUD_REACHED = PROTO_AUD_OPEN | PROTO_AUD_VIEW | PROTO_AUD_CLICK | PROTO_AUD_ACTED,
};

/* Returns the audience bit of event e (a scroll is a view; custom events
 * PROTO_AUD_CUSTOM). */
int proto_aud_bit(proto_event e);

/* Returns the audience bucket of a subject (0 .. PROTO_AUD_BUCKETS - 1). */
unsigned proto_aud_bucket(const char *subject, size_t len);

/* One subject's audience record. */
typedef struct {
    unsigned mask;              /* PROTO_AUD_* bits */
    long long first_s, last_s;  /* seconds since 1970 */
    char ref[64 + 1];           /* the first advocate, or "" */
} proto_aud;

/* Parses a stored record "mask.first.delta[.ref]" (first in seconds since
 * 1970, delta = last - first). Returns 0, or -1 if it is not one. */
int proto_aud_parse(const char *text, size_t len, proto_aud *out);

/* ---- scroll depth buckets (keys.h: proto_key_scroll, one HLL each) ---- */

#define PROTO_SCROLL_BUCKETS 4

/* Returns the depth (percent) of scroll bucket i: 25, 50, 75, 100. */
int proto_scroll_mark(int i);

/* Returns the field of scroll bucket i: "25" … "100". */
const char *proto_scroll_field(int i);

/* ---- follow-up latency (the fl hash) ---- */

#define PROTO_FL_BUCKETS 6              /* finite buckets; le_inf follows */
#define PROTO_FL_COUNT "count"
#define PROTO_FL_SUM_MS "sum_ms"
#define PROTO_FL_MAX_MS "max_ms"
#define PROTO_FL_UNMATCHED "unmatched"  /* follow-ups with no pending signup */

/* Returns the upper bound in seconds of latency bucket i (< PROTO_FL_BUCKETS):
 * 60, 300, 900, 3600, 14400, 86400. */
int proto_fl_bound_s(int i);

/* Returns the cumulative field of bucket i: le_<bound>s, or le_inf for
 * i == PROTO_FL_BUCKETS. */
const char *proto_fl_field(int i);

#endif
