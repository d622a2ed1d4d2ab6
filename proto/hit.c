/* hit.c: owns the hit schema — names, parameter validation, query/form and JSON parsing and the finish rules. */
#include "hit.h"
#include "schema.h"
#include "text.h"

#include <stddef.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hit_int.h"
#include "url.h"

/* ---- names ---- */

static const char *const reason_names[PROTO_REASON_COUNT] = {
    [PROTO_OK] = "ok",
    [PROTO_ERR_ENCODING] = "bad_encoding",
    [PROTO_ERR_TOO_MANY] = "too_many_params",
    [PROTO_ERR_DUPLICATE] = "duplicate_param",
    [PROTO_ERR_NO_CAMPAIGN] = "missing_campaign",
    [PROTO_ERR_CAMPAIGN] = "bad_campaign",
    [PROTO_ERR_EVENT] = "bad_event",
    [PROTO_ERR_NO_SUBJECT] = "missing_subject",
    [PROTO_ERR_SUBJECT] = "bad_subject",
    [PROTO_ERR_REF] = "bad_ref",
    [PROTO_ERR_CHANNEL] = "bad_channel",
    [PROTO_ERR_DEPTH] = "bad_depth",
    [PROTO_ERR_VALUE] = "bad_value",
    [PROTO_ERR_GOAL] = "bad_goal",
    [PROTO_ERR_CLIENT_TS] = "bad_client_ts",
    [PROTO_ERR_NONCE] = "bad_nonce",
    [PROTO_ERR_TO] = "bad_to",
    [PROTO_ERR_NO_TO] = "missing_to",
    [PROTO_ERR_NO_SIG] = "missing_signature",
    [PROTO_ERR_SIG] = "bad_signature",
    [PROTO_ERR_FOLLOWUP] = "followup_forbidden",
    [PROTO_ERR_BODY] = "bad_body",
    [PROTO_ERR_JSON] = "bad_json",
    [PROTO_ERR_BATCH] = "batch_too_large",
    [PROTO_ERR_ORIGIN] = "origin_not_allowed",
    [PROTO_ERR_PAGE] = "bad_page",
    [PROTO_ERR_REFERRER] = "bad_referrer",
    [PROTO_ERR_UNMAPPED] = "unmapped_event",
    [PROTO_ERR_STALE] = "stale_item",
    [PROTO_ERR_SPOOL_FULL] = "spool_full",
};

const char *const proto_hit_via_names[PROTO_VIA_COUNT] = { "pixel", "beacon", "click", "api" };
const char *const proto_hit_agent_names[PROTO_AGENT_COUNT] = { "human", "bot", "mailproxy" };

/* Returns the name of reason r, or "unknown" (the failure) if out of range. */
const char *proto_reason_name(proto_reason r)
{
    return ((unsigned)r < PROTO_REASON_COUNT) ? reason_names[r] : "unknown";
}

/* Returns the name of via v, or "unknown" (the failure) if out of range. */
const char *proto_via_name(proto_via v)
{
    return ((unsigned)v < PROTO_VIA_COUNT) ? proto_hit_via_names[v] : "unknown";
}

/* Returns the name of agent class a, or "unknown" (the failure) if out of range. */
const char *proto_agent_name(proto_agent a)
{
    return ((unsigned)a < PROTO_AGENT_COUNT) ? proto_hit_agent_names[a] : "unknown";
}

/* ---- validators ---- */

/* Reports whether v (n bytes) matches [A-Za-z0-9._-]{1,max}; returns 0 when not. */
int proto_hit_valid_id(const char *v, size_t n, size_t max)
{
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* Reports whether v matches [a-z0-9_-]{1,32}; returns 0 when not. */
static int valid_channel(const char *v, size_t n)
{
    if (n == 0 || n > PROTO_CHANNEL_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* Reports whether v is a built-in event or a custom [a-z][a-z0-9_]{0,31};
 * returns 0 when not. */
int proto_hit_valid_event(const char *v, size_t n)
{
    if (n == 0 || n > PROTO_EVENT_MAX || v[0] < 'a' || v[0] > 'z')
        return 0;
    for (size_t i = 1; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;                       /* built-ins match the custom pattern too */
}

/* Reports whether v (n bytes) is printable: 0x20-0x7E or valid UTF-8
 * multibyte sequences other than C1 controls; returns 0 when not. */
static int valid_printable(const char *v, size_t n)
{
    const unsigned char *s = (const unsigned char *)v;
    size_t i = 0;

    while (i < n) {
        if (s[i] < 0x20 || s[i] == 0x7F)
            return 0;               /* C0 controls, DEL */
        if (s[i] == 0xC2 && i + 1 < n && s[i + 1] < 0xA0)
            return 0;               /* U+0080-U+009F are C1 controls */
        size_t k = proto_utf8_seq(s + i, n - i);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

/* Parses ASCII digits (no sign, at most maxdig) into *out without overflow;
 * returns 0, or -1 on anything else. */
int proto_hit_parse_uint(const char *v, size_t n, size_t maxdig, int64_t *out)
{
    int64_t x = 0;

    if (n == 0 || n > maxdig)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        int d = v[i] - '0';
        if (x > (INT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *out = x;
    return 0;
}

/* Reports whether v is 22 base64url characters; returns 0 when not. */
static int valid_sig(const char *v, size_t n)
{
    if (n != PROTO_SIG_LEN)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

/* ---- parameters ---- */

enum { P_C, P_E, P_S, P_REF, P_CH, P_D, P_V, P_G, P_T, P_N, P_TO, P_SIG, P_P, P_RH, P_AT, P_NC,
       P_UREF, P_COUNT };

static const struct {
    const char *name;
    proto_reason bad;               /* reason for an invalid or over-long value */
} params[P_COUNT] = {
    [P_C] = { "c", PROTO_ERR_CAMPAIGN },
    [P_E] = { "e", PROTO_ERR_EVENT },
    [P_S] = { "s", PROTO_ERR_SUBJECT },
    [P_REF] = { "ref", PROTO_ERR_REF },
    [P_CH] = { "ch", PROTO_ERR_CHANNEL },
    [P_D] = { "d", PROTO_ERR_DEPTH },
    [P_V] = { "v", PROTO_ERR_VALUE },
    [P_G] = { "g", PROTO_ERR_GOAL },
    [P_T] = { "t", PROTO_ERR_CLIENT_TS },
    [P_N] = { "n", PROTO_ERR_NONCE },
    [P_TO] = { "to", PROTO_ERR_TO },
    [P_SIG] = { "sig", PROTO_ERR_SIG },
    [P_P] = { "p", PROTO_ERR_PAGE },
    [P_RH] = { "rh", PROTO_ERR_REFERRER },
    [P_AT] = { "at", PROTO_OK },        /* a bad token is ignored, not a reject */
    [P_NC] = { "nc", PROTO_ERR_TO },
    [P_UREF] = { "uref", PROTO_ERR_REF },
};

/* Reports whether v (n bytes) is a page path: '/' then printable ASCII
 * without '?', '#' or space; returns 0 when not. */
static int valid_page(const char *v, size_t n)
{
    if (n == 0 || n > PROTO_PAGE_MAX || v[0] != '/')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] <= ' ' || v[i] >= 0x7f || v[i] == '?' || v[i] == '#')
            return 0;
    return 1;
}

/* Reports whether v (n bytes) is a host name (letters, digits, '-', '.')
 * or a bracketed IPv6 literal; returns 0 when not. */
static int valid_host(const char *v, size_t n)
{
    if (n == 0 || n > PROTO_HOST_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '[' || c == ']' || c == ':'))
            return 0;
    }
    return 1;
}

/* Reports whether v (n bytes) has the form of an attribution token
 * (base64url, a dot, base64url); returns 0 when not. */
static int valid_token(const char *v, size_t n)
{
    int dots = 0;
    if (n == 0 || n > PROTO_AT_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (c == '.')
            dots++;
        else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_'))
            return 0;
    }
    return dots == 1;
}

/* Returns the index of parameter name, or -1 (the failure) if unknown. */
static int param_index(const char *name, size_t len)
{
    for (int i = 0; i < P_COUNT; i++)
        if (strlen(params[i].name) == len && memcmp(params[i].name, name, len) == 0)
            return i;
    return -1;
}

/* Resets every field of hit to absent; never fails. */
void proto_hit_init(proto_hit *hit)
{
    memset(hit, 0, sizeof *hit);
    hit->depth = -1;
    hit->value = -1;
    hit->client_ts = -1;
    hit->ts = -1;
    hit->agent = PROTO_AGENT_HUMAN;
    hit->via = PROTO_VIA_PIXEL;
}

/* Marks parameter idx seen; returns PROTO_OK or PROTO_ERR_DUPLICATE if it
 * was already seen. */
static proto_reason mark_seen(unsigned *seen, int idx)
{
    unsigned bit = 1u << idx;
    if (*seen & bit)
        return PROTO_ERR_DUPLICATE;
    *seen |= bit;
    return PROTO_OK;
}

/* Validates and stores a known parameter's value; returns PROTO_OK or the
 * field's reason. */
static proto_reason set_value(proto_hit *hit, int idx, const char *v, size_t n)
{
    char host[256];
    int64_t x;

    if (n == 0)
        return PROTO_OK;            /* empty = absent (c= ends as missing_campaign) */
    switch (idx) {
    case P_C:
        if (!proto_hit_valid_id(v, n, PROTO_CAMPAIGN_MAX))
            return PROTO_ERR_CAMPAIGN;
        proto_hit_put(hit->campaign, v, n);
        break;
    case P_E:
        if (!proto_hit_valid_event(v, n))
            return PROTO_ERR_EVENT;
        proto_hit_put(hit->event, v, n);
        break;
    case P_S:
        if (n > PROTO_SUBJECT_MAX || !valid_printable(v, n))
            return PROTO_ERR_SUBJECT;
        proto_hit_put(hit->subject, v, n);
        break;
    case P_REF:
        if (!proto_hit_valid_id(v, n, PROTO_REF_MAX))
            return PROTO_ERR_REF;
        proto_hit_put(hit->ref, v, n);
        break;
    case P_UREF:    /* an unsigned claim: a malformed one is dropped, the hit kept */
        if (proto_hit_valid_id(v, n, PROTO_REF_MAX))
            proto_hit_put(hit->uref, v, n);
        break;
    case P_CH:
        if (!valid_channel(v, n))
            return PROTO_ERR_CHANNEL;
        proto_hit_put(hit->channel, v, n);
        break;
    case P_D:
        if (proto_hit_parse_uint(v, n, 3, &x) < 0 || x > 100)
            return PROTO_ERR_DEPTH;
        hit->depth = (int)x;
        break;
    case P_V:
        if (proto_hit_parse_uint(v, n, 19, &x) < 0)
            return PROTO_ERR_VALUE;
        hit->value = x;
        break;
    case P_G:
        if (!proto_hit_valid_id(v, n, PROTO_GOAL_MAX))
            return PROTO_ERR_GOAL;
        proto_hit_put(hit->goal, v, n);
        break;
    case P_T:
        if (proto_hit_parse_uint(v, n, 16, &x) < 0)
            return PROTO_ERR_CLIENT_TS;
        hit->client_ts = x;
        break;
    case P_N:
        if (n > PROTO_NONCE_MAX || !valid_printable(v, n))
            return PROTO_ERR_NONCE;
        proto_hit_put(hit->nonce, v, n);
        break;
    case P_TO:
        if (n > PROTO_TO_MAX || proto_url_target(v, n, host, sizeof host) < 0)
            return PROTO_ERR_TO;
        proto_hit_put(hit->to, v, n);
        break;
    case P_SIG:
        if (!valid_sig(v, n))
            return PROTO_ERR_SIG;
        proto_hit_put(hit->sig, v, n);
        break;
    case P_P:
        if (!valid_page(v, n))
            return PROTO_ERR_PAGE;
        proto_hit_put(hit->page, v, n);
        break;
    case P_RH:
        if (!valid_host(v, n))
            return PROTO_ERR_REFERRER;
        proto_hit_put(hit->refhost, v, n);
        break;
    case P_AT:
        if (valid_token(v, n))
            proto_hit_put(hit->at, v, n);
        else
            hit->at_bad = 1;
        break;
    case P_NC:
        if (n != 1 || (v[0] != '0' && v[0] != '1'))
            return PROTO_ERR_TO;
        hit->no_carry = v[0] == '1';
        break;
    default:
        break;
    }
    return PROTO_OK;
}

/* Sets one decoded parameter by name; returns PROTO_OK (also for unknown
 * names) or the reason. */
proto_reason proto_hit_set(proto_hit *hit, unsigned *seen, const char *name,
                           size_t name_len, const char *value, size_t value_len)
{
    int idx = param_index(name, name_len);
    if (idx < 0)
        return PROTO_OK;
    proto_reason r = mark_seen(seen, idx);
    if (r != PROTO_OK)
        return r;
    return set_value(hit, idx, value, value_len);
}

/* Parses a form-encoded string into hit; returns PROTO_OK or the reason of
 * the first bad parameter. */
proto_reason proto_hit_parse_query(proto_hit *hit, const char *q, size_t len)
{
    proto_url_pair pairs[PROTO_PARAMS_MAX];
    char name[8];
    char val[PROTO_TO_MAX + 1];
    unsigned seen = 0;
    int n;

    n = proto_url_split(q, len, pairs, PROTO_PARAMS_MAX);
    if (n < 0)
        return PROTO_ERR_TOO_MANY;
    for (int i = 0; i < n; i++) {
        long nl = proto_url_decode(name, sizeof name, pairs[i].name, pairs[i].name_len, 1);
        int idx = -1;
        if (nl == -1)
            return PROTO_ERR_ENCODING;
        if (nl == -2) {             /* longer than any known name */
            if (proto_url_decode(NULL, 0, pairs[i].name, pairs[i].name_len, 1) < 0)
                return PROTO_ERR_ENCODING;
        } else {
            idx = param_index(name, (size_t)nl);
        }
        if (idx < 0) {              /* unknown: the value must still decode */
            if (proto_url_decode(NULL, 0, pairs[i].value, pairs[i].value_len, 1) < 0)
                return PROTO_ERR_ENCODING;
            continue;
        }
        long vl = proto_url_decode(val, sizeof val, pairs[i].value, pairs[i].value_len, 1);
        if (vl == -2 && proto_url_decode(NULL, 0, pairs[i].value, pairs[i].value_len, 1) < 0)
            vl = -1;
        if (vl == -1)
            return PROTO_ERR_ENCODING;
        proto_reason r = mark_seen(&seen, idx);
        if (r != PROTO_OK)
            return r;
        if (vl == -2)               /* longer than any field allows */
            return params[idx].bad;
        r = set_value(hit, idx, val, (size_t)vl);
        if (r != PROTO_OK)
            return r;
    }
    return PROTO_OK;
}

/* Reports whether event is one of the built-ins that never carry a value v;
 * returns 0 when it may carry one. */
static int valueless_event(const char *e)
{
    proto_event ev = proto_event_of(e);
    return ev != PROTO_EV_CUSTOM && ev != PROTO_EV_DONATE && ev != PROTO_EV_CONVERT;
}

/* Applies defaults and cross-field rules; returns PROTO_OK or the reason. */
proto_reason proto_hit_finish(proto_hit *hit, proto_via via)
{
    hit->via = via;
    if (!hit->campaign[0])
        return PROTO_ERR_NO_CAMPAIGN;
    if (!hit->event[0])
        strcpy(hit->event, proto_event_name(via == PROTO_VIA_CLICK ? PROTO_EV_CLICK : PROTO_EV_VIEW));
    proto_event ev = proto_event_of(hit->event);
    int followup = ev == PROTO_EV_FOLLOWUP;
    if (followup && via != PROTO_VIA_API)
        return PROTO_ERR_FOLLOWUP;
    if ((followup || ev == PROTO_EV_SIGNUP) && !hit->subject[0])
        return PROTO_ERR_NO_SUBJECT;
    if ((ev == PROTO_EV_SCROLL) != (hit->depth >= 0))
        return PROTO_ERR_DEPTH;
    if (hit->value >= 0 && valueless_event(hit->event))
        return PROTO_ERR_VALUE;
    if (via == PROTO_VIA_CLICK && !hit->to[0])
        return PROTO_ERR_NO_TO;
    return PROTO_OK;
}

/* ---- JSON ---- */

/* Checks a raw JSON body before cJSON sees it: no NUL byte, no \u0000
 * escape, nesting at most max_depth; returns 0 or -1. */
int proto_hit_json_prescan(const char *b, size_t len, int max_depth)
{
    int depth = 0, in_str = 0;

    for (size_t i = 0; i < len; i++) {
        char c = b[i];
        if (c == '\0')
            return -1;
        if (in_str) {
            if (c == '\\') {
                if (i + 5 < len && b[i + 1] == 'u' && memcmp(b + i + 2, "0000", 4) == 0)
                    return -1;
                i++;                /* skip the escaped character */
            } else if (c == '"') {
                in_str = 0;
            }
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max_depth)
                return -1;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 0;
}

/* Converts a JSON number for d, v or t to digits and stores it; returns
 * PROTO_OK or the field's reason (negative, fractional, over 2^53). */
static proto_reason json_number(proto_hit *hit, int idx, double d)
{
    char digits[24];
    size_t n = 0;

    if (!(d >= 0) || d > 9007199254740992.0)
        return params[idx].bad;
    int64_t x = (int64_t)d;
    if ((double)x != d)
        return params[idx].bad;
    char rev[24];
    do {
        rev[n++] = (char)('0' + x % 10);
        x /= 10;
    } while (x > 0);
    for (size_t i = 0; i < n; i++)
        digits[i] = rev[n - 1 - i];
    return set_value(hit, idx, digits, n);
}

/* Fills hit from one JSON object; returns PROTO_OK or the reason. */
static proto_reason json_object(proto_hit *hit, const cJSON *obj)
{
    unsigned seen = 0;
    int count = 0;

    for (const cJSON *it = obj->child; it; it = it->next) {
        if (++count > PROTO_PARAMS_MAX)
            return PROTO_ERR_TOO_MANY;
        if (!it->string)
            return PROTO_ERR_JSON;
        int idx = param_index(it->string, strlen(it->string));
        if (idx < 0)
            continue;
        proto_reason r = mark_seen(&seen, idx);
        if (r != PROTO_OK)
            return r;
        if (cJSON_IsString(it) && it->valuestring)
            r = set_value(hit, idx, it->valuestring, strlen(it->valuestring));
        else if (cJSON_IsNumber(it) && (idx == P_D || idx == P_V || idx == P_T))
            r = json_number(hit, idx, it->valuedouble);
        else
            r = PROTO_ERR_JSON;     /* wrong type */
        if (r != PROTO_OK)
            return r;
    }
    return PROTO_OK;
}

/* Parses a JSON body of one object or an array of objects, calling cb per
 * object; returns PROTO_OK, PROTO_ERR_JSON or PROTO_ERR_BATCH. */
proto_reason proto_hit_parse_json(const char *body, size_t len, proto_hit_cb cb, void *arg)
{
    const char *end = NULL;
    cJSON *root = NULL;
    proto_reason rc = PROTO_ERR_JSON;
    proto_hit hit;

    if (!body || len == 0 || proto_hit_json_prescan(body, len, 2) < 0)
        return PROTO_ERR_JSON;
    root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!root || !end || end < body || end > body + len)
        goto done;
    for (const char *p = end; p < body + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            goto done;              /* trailing garbage */
    if (cJSON_IsObject(root)) {
        rc = PROTO_OK;
        proto_hit_init(&hit);
        if (cb)
            cb(arg, &hit, json_object(&hit, root));
        goto done;
    }
    if (!cJSON_IsArray(root))
        goto done;
    int n = 0;
    for (const cJSON *it = root->child; it; it = it->next) {
        if (!cJSON_IsObject(it))
            goto done;
        n++;
    }
    if (n > PROTO_BATCH_MAX) {
        rc = PROTO_ERR_BATCH;
        goto done;
    }
    rc = PROTO_OK;
    for (const cJSON *it = root->child; it; it = it->next) {
        proto_hit_init(&hit);
        proto_reason r = json_object(&hit, it);
        if (cb && cb(arg, &hit, r) != 0)
            break;
    }
done:
    cJSON_Delete(root);
    return rc;
}
