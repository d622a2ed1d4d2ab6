/* hit_codec.c: owns the hit encodings — the SPEC 3 stream fields and the packed records. */
#include "hit.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hit_int.h"

/* ---- stream fields ---- */

/* Writes x as decimal into scratch at *used; returns the digits, or NULL
 * (the failure) if scratch is full. */
static const char *fmt_num(int64_t x, char *scratch, size_t cap, size_t *used, size_t *len)
{
    char rev[24];
    size_t n = 0;
    uint64_t u = x < 0 ? 0 : (uint64_t)x;

    do {
        rev[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (!scratch || cap - *used < n + 1)
        return NULL;
    char *out = scratch + *used;
    for (size_t i = 0; i < n; i++)
        out[i] = rev[n - 1 - i];
    out[n] = '\0';
    *used += n + 1;
    *len = n;
    return out;
}

/* Lists hit's non-empty fields in SPEC 3 order; returns the pair count
 * (numbers that do not fit in scratch are left out). */
int proto_hit_fields(const proto_hit *hit, const char *names[], const char *values[],
                     size_t value_lens[], char *scratch, size_t scratch_len)
{
    int k = 0;
    size_t used = 0, nl;
    const char *s;

#define STR(fname, member)                                  \
    do {                                                    \
        if (hit->member[0]) {                               \
            names[k] = fname;                               \
            values[k] = hit->member;                        \
            value_lens[k] = strlen(hit->member);            \
            k++;                                            \
        }                                                   \
    } while (0)
#define NUM(fname, member)                                                        \
    do {                                                                          \
        if (hit->member >= 0 &&                                                   \
            (s = fmt_num(hit->member, scratch, scratch_len, &used, &nl)) != NULL) { \
            names[k] = fname;                                                     \
            values[k] = s;                                                        \
            value_lens[k] = nl;                                                   \
            k++;                                                                  \
        }                                                                         \
    } while (0)

    STR("hid", hid);
    NUM("ts", ts);
    STR("campaign", campaign);
    STR("event", event);
    STR("subject", subject);
    STR("ref", ref);
    STR("uref", uref);
    STR("channel", channel);
    STR("page", page);
    STR("referrer", refhost);
    NUM("depth", depth);
    NUM("value", value);
    STR("goal", goal);
    NUM("client_ts", client_ts);
    STR("nonce", nonce);
    STR("ip", ip);
    names[k] = "agent";
    values[k] = proto_agent_name(hit->agent);
    value_lens[k] = strlen(values[k]);
    k++;
    STR("ua", ua);
    names[k] = "via";
    values[k] = proto_via_name(hit->via);
    value_lens[k] = strlen(values[k]);
    k++;
#undef STR
#undef NUM
    return k;
}

/* Copies a stream value into a string field of size max+1; returns 0, or -1
 * if it is too long or holds a NUL. */
static int copy_field(char *dst, size_t max, const char *v, size_t n)
{
    if (n > max || memchr(v, '\0', n))
        return -1;
    proto_hit_put(dst, v, n);
    return 0;
}

/* Looks name up in a table of count names; returns its index or -1 (the failure). */
static int name_lookup(const char *const *table, int count, const char *v, size_t n)
{
    for (int i = 0; i < count; i++)
        if (strlen(table[i]) == n && memcmp(table[i], v, n) == 0)
            return i;
    return -1;
}

/* Fills hit from stream field/value pairs; returns PROTO_OK, or
 * PROTO_ERR_BODY if a known field is malformed or campaign/event missing. */
proto_reason proto_hit_from_fields(proto_hit *hit, int n, const char *const names[],
                                   const size_t name_lens[], const char *const values[],
                                   const size_t value_lens[])
{
    static const struct {
        const char *name;
        size_t off, max;
    } strs[] = {
        { "hid", offsetof(proto_hit, hid), PROTO_HID_MAX },
        { "subject", offsetof(proto_hit, subject), PROTO_SUBJECT_MAX },
        { "ref", offsetof(proto_hit, ref), PROTO_REF_MAX },
        { "uref", offsetof(proto_hit, uref), PROTO_REF_MAX },
        { "channel", offsetof(proto_hit, channel), PROTO_CHANNEL_MAX },
        { "goal", offsetof(proto_hit, goal), PROTO_GOAL_MAX },
        { "nonce", offsetof(proto_hit, nonce), PROTO_NONCE_MAX },
        { "ip", offsetof(proto_hit, ip), PROTO_IP_MAX },
        { "ua", offsetof(proto_hit, ua), PROTO_UA_MAX },
        { "page", offsetof(proto_hit, page), PROTO_PAGE_MAX },
        { "referrer", offsetof(proto_hit, refhost), PROTO_HOST_MAX },
    };

    proto_hit_init(hit);
    for (int i = 0; i < n; i++) {
        const char *nm = names[i], *v = values[i];
        size_t nlen = name_lens[i], vl = value_lens[i];
        int64_t x;
        int j;
#define IS(s) (nlen == sizeof(s) - 1 && memcmp(nm, s, nlen) == 0)
        if (IS("campaign")) {
            if (!proto_hit_valid_id(v, vl, PROTO_CAMPAIGN_MAX))
                return PROTO_ERR_BODY;
            proto_hit_put(hit->campaign, v, vl);
        } else if (IS("event")) {
            if (!proto_hit_valid_event(v, vl))
                return PROTO_ERR_BODY;
            proto_hit_put(hit->event, v, vl);
        } else if (IS("ts") || IS("client_ts") || IS("value") || IS("depth")) {
            if (proto_hit_parse_uint(v, vl, 19, &x) < 0)
                return PROTO_ERR_BODY;
            if (IS("ts"))
                hit->ts = x;
            else if (IS("client_ts"))
                hit->client_ts = x;
            else if (IS("value"))
                hit->value = x;
            else if (x > 100)
                return PROTO_ERR_BODY;
            else
                hit->depth = (int)x;
        } else if (IS("agent")) {
            if ((j = name_lookup(proto_hit_agent_names, PROTO_AGENT_COUNT, v, vl)) < 0)
                return PROTO_ERR_BODY;
            hit->agent = (proto_agent)j;
        } else if (IS("via")) {
            if ((j = name_lookup(proto_hit_via_names, PROTO_VIA_COUNT, v, vl)) < 0)
                return PROTO_ERR_BODY;
            hit->via = (proto_via)j;
        } else {
            for (size_t k = 0; k < sizeof strs / sizeof strs[0]; k++) {
                if (strlen(strs[k].name) == nlen && memcmp(strs[k].name, nm, nlen) == 0) {
                    if (copy_field((char *)hit + strs[k].off, strs[k].max, v, vl) < 0)
                        return PROTO_ERR_BODY;
                    break;
                }
            }
        }
#undef IS
    }
    if (!hit->campaign[0] || !hit->event[0])
        return PROTO_ERR_BODY;
    return PROTO_OK;
}

/* ---- packed encoding ---- */

#define PACK_VERSION 1
#define PACK_END 0

enum {
    F_CAMPAIGN = 1, F_EVENT, F_SUBJECT, F_REF, F_CHANNEL, F_GOAL, F_NONCE, F_TO, F_SIG,
    F_HID, F_IP, F_UA, F_DEPTH, F_VALUE, F_CLIENT_TS, F_TS, F_AGENT, F_VIA, F_PAGE, F_REFHOST,
    F_UREF, F_LAST
};

static const struct {
    unsigned char id;
    size_t off, max;
} pack_strs[] = {
    { F_CAMPAIGN, offsetof(proto_hit, campaign), PROTO_CAMPAIGN_MAX },
    { F_EVENT, offsetof(proto_hit, event), PROTO_EVENT_MAX },
    { F_SUBJECT, offsetof(proto_hit, subject), PROTO_SUBJECT_MAX },
    { F_REF, offsetof(proto_hit, ref), PROTO_REF_MAX },
    { F_CHANNEL, offsetof(proto_hit, channel), PROTO_CHANNEL_MAX },
    { F_GOAL, offsetof(proto_hit, goal), PROTO_GOAL_MAX },
    { F_NONCE, offsetof(proto_hit, nonce), PROTO_NONCE_MAX },
    { F_TO, offsetof(proto_hit, to), PROTO_TO_MAX },
    { F_SIG, offsetof(proto_hit, sig), PROTO_SIG_LEN },
    { F_HID, offsetof(proto_hit, hid), PROTO_HID_MAX },
    { F_IP, offsetof(proto_hit, ip), PROTO_IP_MAX },
    { F_UA, offsetof(proto_hit, ua), PROTO_UA_MAX },
    { F_PAGE, offsetof(proto_hit, page), PROTO_PAGE_MAX },
    { F_REFHOST, offsetof(proto_hit, refhost), PROTO_HOST_MAX },
    { F_UREF, offsetof(proto_hit, uref), PROTO_REF_MAX },
};

/* Appends one record (id, 2-byte length, bytes); returns 0 or -1 if it does
 * not fit. */
static int pack_rec(unsigned char *buf, size_t cap, size_t *n, unsigned char id,
                    const void *p, size_t len)
{
    if (len > 0xFFFF || cap - *n < 3 + len)
        return -1;
    buf[(*n)++] = id;
    buf[(*n)++] = (unsigned char)(len >> 8);
    buf[(*n)++] = (unsigned char)(len & 0xFF);
    memcpy(buf + *n, p, len);
    *n += len;
    return 0;
}

/* Appends an int64 record (big-endian); returns 0 or -1 if it does not fit. */
static int pack_i64(unsigned char *buf, size_t cap, size_t *n, unsigned char id, int64_t x)
{
    unsigned char b[8];
    uint64_t u = (uint64_t)x;
    for (int i = 7; i >= 0; i--) {
        b[i] = (unsigned char)(u & 0xFF);
        u >>= 8;
    }
    return pack_rec(buf, cap, n, id, b, sizeof b);
}

/* Packs hit into buf; returns the length, or 0 if cap is too small. */
size_t proto_hit_pack(const proto_hit *hit, unsigned char *buf, size_t cap)
{
    size_t n = 0;
    unsigned char one;

    if (!buf || cap < 2)
        return 0;
    buf[n++] = PACK_VERSION;
    for (size_t i = 0; i < sizeof pack_strs / sizeof pack_strs[0]; i++) {
        const char *s = (const char *)hit + pack_strs[i].off;
        size_t len = strnlen(s, pack_strs[i].max + 1);
        if (len > pack_strs[i].max)
            return 0;               /* unterminated field */
        if (len > 0 && pack_rec(buf, cap, &n, pack_strs[i].id, s, len) < 0)
            return 0;
    }
    if ((hit->depth >= 0 && pack_i64(buf, cap, &n, F_DEPTH, hit->depth) < 0) ||
        (hit->value >= 0 && pack_i64(buf, cap, &n, F_VALUE, hit->value) < 0) ||
        (hit->client_ts >= 0 && pack_i64(buf, cap, &n, F_CLIENT_TS, hit->client_ts) < 0) ||
        (hit->ts >= 0 && pack_i64(buf, cap, &n, F_TS, hit->ts) < 0))
        return 0;
    one = (unsigned char)hit->agent;
    if (pack_rec(buf, cap, &n, F_AGENT, &one, 1) < 0)
        return 0;
    one = (unsigned char)hit->via;
    if (pack_rec(buf, cap, &n, F_VIA, &one, 1) < 0)
        return 0;
    if (cap - n < 1)
        return 0;
    buf[n++] = PACK_END;
    return n;
}

/* Unpacks what proto_hit_pack wrote; returns 0, or -1 if buf is malformed. */
int proto_hit_unpack(proto_hit *hit, const unsigned char *buf, size_t len)
{
    uint32_t seen = 0;
    size_t i = 1;

    proto_hit_init(hit);
    if (!buf || len < 2 || buf[0] != PACK_VERSION)
        return -1;
    for (;;) {
        if (i >= len)
            return -1;              /* no end marker */
        unsigned char id = buf[i++];
        if (id == PACK_END)
            return i == len ? 0 : -1;
        if (id >= F_LAST || (seen & (1u << id)) || len - i < 2)
            return -1;
        seen |= 1u << id;
        size_t fl = (size_t)buf[i] << 8 | buf[i + 1];
        i += 2;
        if (len - i < fl)
            return -1;
        const unsigned char *p = buf + i;
        i += fl;
        if (id >= F_DEPTH && id <= F_TS) {
            if (fl != 8)
                return -1;
            uint64_t u = 0;
            for (int k = 0; k < 8; k++)
                u = u << 8 | p[k];
            if (u > (uint64_t)INT64_MAX)
                return -1;
            int64_t x = (int64_t)u;
            if (id == F_DEPTH) {
                if (x > 100)
                    return -1;
                hit->depth = (int)x;
            } else if (id == F_VALUE) {
                hit->value = x;
            } else if (id == F_CLIENT_TS) {
                hit->client_ts = x;
            } else {
                hit->ts = x;
            }
        } else if (id == F_AGENT || id == F_VIA) {
            if (fl != 1 || p[0] >= (id == F_AGENT ? PROTO_AGENT_COUNT : PROTO_VIA_COUNT))
                return -1;
            if (id == F_AGENT)
                hit->agent = (proto_agent)p[0];
            else
                hit->via = (proto_via)p[0];
        } else {
            size_t k = 0;
            while (pack_strs[k].id != id)
                k++;
            if (fl == 0 || copy_field((char *)hit + pack_strs[k].off, pack_strs[k].max,
                                      (const char *)p, fl) < 0)
                return -1;
        }
    }
}

/* Builds a hit's XADD into out. Returns 0, or -1 when out of memory. */
int proto_hit_xadd(proto_resp *out, proto_resp *args, const char *key, size_t klen,
                   const proto_hit *hit, const char *maxlen, const proto_kv *pre, size_t npre,
                   const proto_kv *post, size_t npost)
{
    const char *names[PROTO_HIT_FIELDS], *values[PROTO_HIT_FIELDS];
    size_t vlens[PROTO_HIT_FIELDS];
    char scratch[128];
    int n = proto_hit_fields(hit, names, values, vlens, scratch, sizeof scratch);
    proto_resp_reset(args);
    proto_resp_str(args, "XADD");
    proto_resp_arg(args, key, klen);
    if (maxlen) {
        proto_resp_str(args, "MAXLEN");
        proto_resp_str(args, "~");
        proto_resp_str(args, maxlen);
    }
    proto_resp_str(args, "*");
    for (size_t i = 0; i < npre; i++) {
        proto_resp_str(args, pre[i].name);
        proto_resp_arg(args, pre[i].value, pre[i].len);
    }
    for (int i = 0; i < n; i++) {
        proto_resp_str(args, names[i]);
        proto_resp_arg(args, values[i], vlens[i]);
    }
    for (size_t i = 0; i < npost; i++) {
        proto_resp_str(args, post[i].name);
        proto_resp_arg(args, post[i].value, post[i].len);
    }
    proto_resp_command(out, args);
    return args->oom || out->oom ? -1 : 0;
}
