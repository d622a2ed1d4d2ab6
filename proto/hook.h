/* hook.h: inbound webhooks (SPEC 2, POST /api/hooks/<name>) — the named
 * hooks' configuration, each source's signature scheme and payload shape,
 * and the hits an accepted payload becomes.
 *
 * Nothing here does I/O or reads a clock: the caller passes the request's
 * parts and the time. A hook's items become hits `via=api` whose nonce is
 * derived from the source's own event id, so a source's retries are
 * counted once. */
#ifndef PROTO_HOOK_H
#define PROTO_HOOK_H

#include <stddef.h>
#include <stdint.h>

#include "hit.h"

#define PROTO_HOOKS_MAX 16
#define PROTO_HOOK_NAME_MAX 32
#define PROTO_HOOK_MAPS_MAX 16
#define PROTO_HOOK_KIND_MAX 64
#define PROTO_HOOK_PTR_MAX 128

/* Where a hook's payloads come from. */
typedef enum {
    PROTO_HOOK_NONE = 0,
    PROTO_HOOK_HUBSPOT,         /* X-HubSpot-Signature-v3, arrays of subscription events */
    PROTO_HOOK_ACTIONNETWORK,   /* HAL+JSON arrays of osdi:* items; secret in ?key= */
    PROTO_HOOK_LISTMONK,        /* {event, timestamp, data}; X-Listmonk-Signature */
    PROTO_HOOK_GENERIC          /* JSON pointers; HMAC header or bearer token */
} proto_hook_source;

/* What an item's subject is taken from. */
typedef enum { PROTO_HOOK_SUBJ_DEFAULT = 0, PROTO_HOOK_SUBJ_ID, PROTO_HOOK_SUBJ_EMAIL } proto_hook_subj;

/* The JSON pointers (RFC 6901) of an item's parts; a preset fills the
 * ones of its source, `generic` takes the configured ones. */
enum { PROTO_HP_KIND = 0, PROTO_HP_ID, PROTO_HP_EMAIL, PROTO_HP_TS, PROTO_HP_VALUE, PROTO_HP_KEY,
       PROTO_HP_REF, PROTO_HP_CAMPAIGN, PROTO_HP_COUNT };

typedef struct {
    char kind[PROTO_HOOK_KIND_MAX + 1];
    char event[PROTO_EVENT_MAX + 1];
} proto_hook_map;

/* One named hook (hook.<name>.<field> in the configuration). */
typedef struct {
    char name[PROTO_HOOK_NAME_MAX + 1];
    proto_hook_source source;
    char secret[256];
    char campaign[PROTO_CAMPAIGN_MAX + 1];
    proto_hook_subj subject;
    char event[PROTO_EVENT_MAX + 1];    /* for items that carry no kind ("" : such items are rejected) */
    char url[512];                      /* the public URL HubSpot signs ("" : base_url + path) */
    int bearer;                         /* generic: Authorization: Bearer <secret> instead of an HMAC */
    char header[64];                    /* generic: the HMAC's header (default X-Signature) */
    char ts_header[64];                 /* generic: a timestamp header; signs "<ts>.<body>" */
    proto_hook_map map[PROTO_HOOK_MAPS_MAX];
    int nmap;
    char ptr[PROTO_HP_COUNT][PROTO_HOOK_PTR_MAX + 1];
} proto_hook;

typedef struct {
    proto_hook h[PROTO_HOOKS_MAX];
    int n;
} proto_hooks;

/* One field a hook's keys may set (hook.<name>.<field>), for --help and the
 * manual: the field (map.KIND and ptr.PART stand for their families), an
 * example "<field> = <value>" it accepts, and one line of help. */
typedef struct {
    const char *field;
    const char *example;
    const char *help;
} proto_hook_field_doc;

/* Every field, in the order the manual lists them; ends with a NULL field. */
extern const proto_hook_field_doc proto_hook_fields[];

/* Sets field `key` ("<name>.<field>", what follows "hook." in the
 * configuration) of the hook it names, creating the hook on its first key.
 * Returns 0, or -1 with one line naming the key in err. */
int proto_hook_conf_set(proto_hooks *hs, const char *key, const char *value, char *err,
                        size_t cap);

/* Checks every hook once the configuration is complete (source and secret
 * set, campaign valid, generic pointers present), filling the presets.
 * Returns 0, or -1 with one line naming the key in err. */
int proto_hook_conf_check(proto_hooks *hs, char *err, size_t cap);

/* Returns the hook called name (len bytes), or NULL. */
const proto_hook *proto_hook_find(const proto_hooks *hs, const char *name, size_t len);

/* Returns the name of a source ("hubspot", …). */
const char *proto_hook_source_name(proto_hook_source s);

/* ---- authentication ---- */

/* What verification needs of a request. header() returns a header's value
 * (and its length), or NULL if absent. */
typedef struct {
    const char *method;
    const char *uri; size_t uri_len;        /* the full public URL, for HubSpot v3 */
    const char *query; size_t query_len;    /* the raw query, for ?key= */
    const char *body; size_t body_len;
    const char *(*header)(void *arg, const char *name, size_t *len);
    void *arg;
} proto_hook_req;

typedef enum {
    PROTO_HOOK_AUTH_OK = 0,
    PROTO_HOOK_AUTH_MISSING,    /* no signature, token or key */
    PROTO_HOOK_AUTH_BAD,        /* present but wrong */
    PROTO_HOOK_AUTH_STALE       /* signed, but its timestamp is outside the window */
} proto_hook_auth;

/* Verifies a request by its hook's scheme (HubSpot v3 with its timestamp;
 * listmonk's sha256= over "<ts>.<body>"; Action Network's ?key=; generic's
 * HMAC header, optionally timestamped, or bearer token), comparing in
 * constant time; a timestamp further than window_s from now_ms is stale.
 * Returns the verdict. */
proto_hook_auth proto_hook_verify(const proto_hook *h, const proto_hook_req *r, int64_t now_ms,
                                  int window_s);

/* Returns a verdict's name ("ok", "missing", "bad", "stale"). */
const char *proto_hook_auth_name(proto_hook_auth a);

/* ---- payloads ---- */

/* Called once per item, in order: with the item's hit (not finished) and
 * PROTO_OK, or with the reason the item does not become a hit and a short
 * text; an item whose kind the hook maps to `ignore` comes with hit NULL,
 * PROTO_OK and why "ignored". An item whose own time is over 24 h old is
 * PROTO_ERR_STALE (a replay past the nonces' memory). when_ms is the
 * item's own time (0 if it has none or it is over 60 s ahead). Return
 * non-zero to stop. */
typedef int (*proto_hook_cb)(void *arg, int index, proto_hit *hit, proto_reason r,
                             const char *why, int64_t when_ms);

/* Turns a verified body into hits: an array (at most PROTO_BATCH_MAX items)
 * or one object. delivery (may be NULL) is the source's delivery id when it
 * names the whole body (listmonk's X-Listmonk-Delivery). subject_key (may
 * be empty) makes an e-mail subject its keyed hash (proto_hook_subject).
 * Returns PROTO_OK when the body's shape was acceptable (items may still be
 * reported bad through cb), else PROTO_ERR_JSON or PROTO_ERR_BATCH and cb is
 * not called. */
proto_reason proto_hook_parse(const proto_hook *h, const char *body, size_t len,
                              const char *delivery, const char *subject_key, int64_t now_ms,
                              proto_hook_cb cb, void *arg);

/* Writes the subject an e-mail address becomes into out (cap bytes): the
 * address trimmed and lower-cased, or with key set the first 32 hex digits
 * of HMAC-SHA256(key, that address). Returns its length, or -1 if it is not
 * an address or does not fit. */
long proto_hook_subject(const char *email, size_t len, const char *key, char *out, size_t cap);

/* Parses an RFC 3339 / ISO 8601 UTC time ("2026-03-18T22:25:31Z", fraction
 * and ±hh:mm offset allowed) into ms since the epoch. Returns 0, or -1. */
int proto_hook_iso_ms(const char *s, size_t len, int64_t *out);

#endif
