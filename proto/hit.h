/* hit.h: the hit schema — fields, limits, parsing of query strings, form and
 * JSON bodies into a hit, strict validation, and the stream/packed encodings.
 *
 * Nothing here does I/O. Parsers write only into caller-owned structs. */
#ifndef PROTO_HIT_H
#define PROTO_HIT_H

#include <stddef.h>
#include <stdint.h>

#include "resp.h"

/* Field limits from SPEC 2 (bytes, excluding the terminating NUL). */
#define PROTO_CAMPAIGN_MAX 64
#define PROTO_EVENT_MAX 32
#define PROTO_SUBJECT_MAX 128
#define PROTO_REF_MAX 64
#define PROTO_CHANNEL_MAX 32
#define PROTO_GOAL_MAX 64
#define PROTO_NONCE_MAX 64
#define PROTO_TO_MAX 2048
#define PROTO_PAGE_MAX 256      /* p: page path, no query */
#define PROTO_HOST_MAX 253      /* rh: referrer host */
#define PROTO_AT_MAX 300        /* at: attribution token of a tracked link */
#define PROTO_SIG_LEN 22
#define PROTO_HID_MAX 47
#define PROTO_IP_MAX 45
#define PROTO_UA_MAX 256
#define PROTO_BATCH_MAX 100
#define PROTO_PARAMS_MAX 64 /* parameters in one query; more is a reject */

/* Where a hit came in. */
typedef enum {
    PROTO_VIA_PIXEL = 0,
    PROTO_VIA_BEACON,
    PROTO_VIA_CLICK,
    PROTO_VIA_API,
    PROTO_VIA_COUNT
} proto_via;

/* User-agent class (SPEC 2). */
typedef enum {
    PROTO_AGENT_HUMAN = 0,
    PROTO_AGENT_BOT,
    PROTO_AGENT_MAILPROXY,
    PROTO_AGENT_COUNT
} proto_agent;

/* Why a hit was rejected. The names (proto_reason_name) are the `reason`
 * field of ag:rejects and the `reason` label on /metrics; they are part of the
 * contract and documented in docs/SPEC.md. */
typedef enum {
    PROTO_OK = 0,
    PROTO_ERR_ENCODING,       /* bad_encoding: invalid %-escape, NUL, bad UTF-8 */
    PROTO_ERR_TOO_MANY,       /* too_many_params: more than PROTO_PARAMS_MAX */
    PROTO_ERR_DUPLICATE,      /* duplicate_param: a known parameter twice */
    PROTO_ERR_NO_CAMPAIGN,    /* missing_campaign */
    PROTO_ERR_CAMPAIGN,       /* bad_campaign */
    PROTO_ERR_EVENT,          /* bad_event */
    PROTO_ERR_NO_SUBJECT,     /* missing_subject: signup/followup without s */
    PROTO_ERR_SUBJECT,        /* bad_subject */
    PROTO_ERR_REF,            /* bad_ref */
    PROTO_ERR_CHANNEL,        /* bad_channel */
    PROTO_ERR_DEPTH,          /* bad_depth: missing/invalid on scroll, or d on another event */
    PROTO_ERR_VALUE,          /* bad_value */
    PROTO_ERR_GOAL,           /* bad_goal */
    PROTO_ERR_CLIENT_TS,      /* bad_client_ts */
    PROTO_ERR_NONCE,          /* bad_nonce */
    PROTO_ERR_TO,             /* bad_to: not an absolute http(s) URL, or too long */
    PROTO_ERR_NO_TO,          /* missing_to: /r without to */
    PROTO_ERR_NO_SIG,         /* missing_signature */
    PROTO_ERR_SIG,            /* bad_signature */
    PROTO_ERR_FOLLOWUP,       /* followup_forbidden: followup outside the API */
    PROTO_ERR_BODY,           /* bad_body: unparsable body or wrong content type */
    PROTO_ERR_JSON,           /* bad_json: JSON that is not an object/array of objects, or wrong types */
    PROTO_ERR_BATCH,          /* batch_too_large: more than PROTO_BATCH_MAX objects */
    PROTO_ERR_ORIGIN,         /* origin_not_allowed: a beacon from an Origin not on cors_allow */
    PROTO_ERR_PAGE,           /* bad_page: p is not a path (/…, printable, no ? or #) */
    PROTO_ERR_REFERRER,       /* bad_referrer: rh is not a host name */
    PROTO_ERR_UNMAPPED,       /* unmapped_event: a hook item whose kind the hook does not map */
    PROTO_ERR_STALE,          /* stale_item: a hook item whose own time is over 24 h old (a replay) */
    PROTO_ERR_SPOOL_FULL,     /* spool_full: accepted but dropped (not a validation reason) */
    PROTO_REASON_COUNT
} proto_reason;

/* Returns the stable snake_case name of a reason ("ok" for PROTO_OK). */
const char *proto_reason_name(proto_reason r);
const char *proto_via_name(proto_via v);
const char *proto_agent_name(proto_agent a);

/* One hit. Strings are NUL-terminated; an empty string means absent.
 * Integers use -1 for absent. */
typedef struct proto_hit {
    /* client-supplied (SPEC 2 parameters) */
    char campaign[PROTO_CAMPAIGN_MAX + 1];
    char event[PROTO_EVENT_MAX + 1];
    char subject[PROTO_SUBJECT_MAX + 1];
    char ref[PROTO_REF_MAX + 1];
    char uref[PROTO_REF_MAX + 1];       /* an advocate named unsigned (a landing page's ?via=) */
    char channel[PROTO_CHANNEL_MAX + 1];
    char goal[PROTO_GOAL_MAX + 1];
    char nonce[PROTO_NONCE_MAX + 1];
    char to[PROTO_TO_MAX + 1];
    char sig[PROTO_SIG_LEN + 1];
    char page[PROTO_PAGE_MAX + 1];      /* p: the page's path */
    char refhost[PROTO_HOST_MAX + 1];   /* rh: the referrer's host */
    char at[PROTO_AT_MAX + 1];          /* at: attribution token (checked, not stored) */
    int at_bad;                         /* an at that was not a token: ignored, counted */
    int no_carry;                       /* nc=1 on a tracked link: no attribution token */
    int depth;          /* d, 0..100 */
    int64_t value;      /* v, minor units */
    int64_t client_ts;  /* t, ms since epoch */
    /* server-side (set by the collector) */
    char hid[PROTO_HID_MAX + 1];
    int64_t ts;         /* server time, ms */
    char ip[PROTO_IP_MAX + 1];
    char ua[PROTO_UA_MAX + 1];
    proto_agent agent;
    proto_via via;
} proto_hit;

/* Resets every field of hit to absent. */
void proto_hit_init(proto_hit *hit);

/* Reports whether v (n bytes) matches [A-Za-z0-9._-]{1,max}, the form of a
 * campaign id (max PROTO_CAMPAIGN_MAX); returns 0 when not. */
int proto_hit_valid_id(const char *v, size_t n, size_t max);

/* Sets one parameter (already percent-decoded; value is not NUL-terminated)
 * by its SPEC 2 name. Validates the value's syntax for that field. Unknown
 * names are ignored (utm_*, cache busters) and return PROTO_OK. A known
 * name seen twice returns PROTO_ERR_DUPLICATE (tracked via `seen`, a bitmask
 * the caller zeroes per hit). Returns PROTO_OK or the reason. */
proto_reason proto_hit_set(proto_hit *hit, unsigned *seen, const char *name,
                           size_t name_len, const char *value, size_t value_len);

/* Parses an application/x-www-form-urlencoded string (a query string
 * without '?', or a form body) into hit, strictly percent-decoding ('+' is a
 * space). Does not apply defaults or cross-field rules: call
 * proto_hit_finish after. Returns PROTO_OK or the reason. */
proto_reason proto_hit_parse_query(proto_hit *hit, const char *q, size_t len);

/* Applies defaults and cross-field rules for a hit arriving through `via`:
 * event defaults to "view" (pixel, beacon, api) or "click" (click); campaign
 * required; subject required for signup and followup; d only and required on
 * scroll; followup only through PROTO_VIA_API; `to` required for click.
 * Sets hit->via. Returns PROTO_OK or the reason. */
proto_reason proto_hit_finish(proto_hit *hit, proto_via via);

/* Callback for each hit of a body: called with a parsed (not finished) hit
 * or with the reason it failed to parse. Return non-zero to stop. */
typedef int (*proto_hit_cb)(void *arg, proto_hit *hit, proto_reason r);

/* Parses a JSON body: one object, or an array of at most PROTO_BATCH_MAX
 * objects, whose keys are the SPEC 2 parameter names and whose values are
 * strings or (for d, v, t) integers; strings are taken literally (no
 * percent-decoding). Calls cb once per object, in order, with a scratch hit
 * valid only during the call. Returns PROTO_OK when the body's shape was
 * acceptable (individual objects may still have been reported bad through
 * cb), else PROTO_ERR_JSON or PROTO_ERR_BATCH and cb is not called. */
proto_reason proto_hit_parse_json(const char *body, size_t len,
                                  proto_hit_cb cb, void *arg);

/* Checks a raw JSON body before a JSON parser sees it: no NUL byte, no
 * \u0000 escape, objects and arrays nested at most max_depth deep.
 * Returns 0, or -1. */
int proto_hit_json_prescan(const char *b, size_t len, int max_depth);

/* ---- stream encoding (SPEC 3 hit entry fields) ---- */

/* A field/value pair written beside a hit's own fields (e.g. a reject's
 * reason and raw input). */
typedef struct {
    const char *name;
    const char *value;
    size_t len;
} proto_kv;

#define PROTO_HIT_FIELDS 20 /* field/value pairs at most */

/* Field/value pairs for XADD, in SPEC 3 order, empty fields omitted.
 * Pointers in names/values point into hit or into scratch (numbers), which
 * must hold at least 96 bytes; they are valid while both live. Returns the
 * number of pairs written (at most PROTO_HIT_FIELDS). */
int proto_hit_fields(const proto_hit *hit, const char *names[],
                     const char *values[], size_t value_lens[],
                     char *scratch, size_t scratch_len);

/* Appends to out the one command that writes hit to stream key:
 * XADD key [MAXLEN ~ maxlen] * <pre pairs> <hit fields> <post pairs>
 * (maxlen NULL: no trimming). args is scratch, reset first. The only
 * place a hit's XADD is built. Returns 0, or -1 (out->oom) when out of
 * memory. */
int proto_hit_xadd(proto_resp *out, proto_resp *args, const char *key, size_t klen,
                   const proto_hit *hit, const char *maxlen, const proto_kv *pre, size_t npre,
                   const proto_kv *post, size_t npost);

/* Fills hit from a stream entry's field/value pairs (as read back by the
 * aggregator). Unknown fields are ignored. Returns PROTO_OK, or
 * PROTO_ERR_BODY if a known field is malformed or campaign/event missing. */
proto_reason proto_hit_from_fields(proto_hit *hit, int n, const char *const names[],
                                   const size_t name_lens[], const char *const values[],
                                   const size_t value_lens[]);

/* ---- packed encoding (in-memory queue and spool records) ---- */

/* Packs hit into buf as a compact, self-delimiting byte string (field id,
 * length, bytes; absent fields omitted). Returns the length written, or 0 if
 * buf (cap bytes) is too small. PROTO_HIT_PACKED_MAX always suffices. */
#define PROTO_HIT_PACKED_MAX 4096
size_t proto_hit_pack(const proto_hit *hit, unsigned char *buf, size_t cap);

/* Unpacks what proto_hit_pack wrote. Returns 0 on success, -1 if buf is
 * malformed (unknown field id, length past the end, value over its limit). */
int proto_hit_unpack(proto_hit *hit, const unsigned char *buf, size_t len);

#endif
