/* keys.c: owns every Redis key name of SPEC 3 and the campaign partition hash. */
#include "keys.h"
#include "schema.h"

#include <stdlib.h>

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#define PFX(p) ((p) ? (p) : "")

/* Computes CRC16-XMODEM (poly 0x1021, init 0) as Redis Cluster does; never fails. */
uint16_t proto_crc16(const char *buf, size_t len)
{
    uint16_t crc = 0;

    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((uint16_t)(unsigned char)buf[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

/* Maps campaign to its partition; returns 0 when partitions is 0 or 1. */
unsigned proto_partition(const char *campaign, unsigned partitions)
{
    size_t n = 0;

    if (partitions <= 1 || !campaign)
        return 0;
    while (campaign[n])
        n++;
    return proto_crc16(campaign, n) % partitions;
}

/* Formats a key into buf; returns its length, or -1 if it does not fit. */
static int key_fmt(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (!buf || cap == 0)
        return -1;
    va_start(ap, fmt);
    n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) {
        buf[0] = '\0';
        return -1;
    }
    return n;
}

/* Builds <prefix>hits:{P}; returns the length or -1. */
int proto_key_hits(char *buf, size_t cap, const char *prefix, unsigned partition)
{
    return key_fmt(buf, cap, "%shits:{%u}", PFX(prefix), partition);
}

/* Builds <prefix>rejects; returns the length or -1. */
int proto_key_rejects(char *buf, size_t cap, const char *prefix)
{
    return key_fmt(buf, cap, "%srejects", PFX(prefix));
}

/* Builds <prefix>alerts; returns the length or -1. */
int proto_key_alerts(char *buf, size_t cap, const char *prefix)
{
    return key_fmt(buf, cap, "%salerts", PFX(prefix));
}

/* Builds <prefix>alerts:moved{<prefix>alerts} (a prefix has no braces, so
 * the tag is the alerts key's whole name); returns the length or -1. */
int proto_key_alerts_moved(char *buf, size_t cap, const char *prefix)
{
    return key_fmt(buf, cap, "%salerts:moved{%salerts}", PFX(prefix), PFX(prefix));
}

/* Builds <prefix>campaigns; returns the length or -1. */
int proto_key_campaigns(char *buf, size_t cap, const char *prefix)
{
    return key_fmt(buf, cap, "%scampaigns", PFX(prefix));
}

/* Builds <prefix>links; returns the length or -1. */
int proto_key_links(char *buf, size_t cap, const char *prefix)
{
    return key_fmt(buf, cap, "%slinks", PFX(prefix));
}

/* Builds <prefix>link:<code>; returns the length or -1. */
int proto_key_link(char *buf, size_t cap, const char *prefix, const char *code)
{
    if (!code || !*code)
        return -1;
    return key_fmt(buf, cap, "%slink:%s", PFX(prefix), code);
}

/* Builds <prefix>c:{C}:<suffix> (no suffix: <prefix>c:{C}); returns the
 * length or -1 (also for an empty campaign). */
static int campaign_key(char *buf, size_t cap, const char *prefix, const char *c,
                        const char *suffix)
{
    if (!c || !*c)
        return -1;
    if (!suffix)
        return key_fmt(buf, cap, "%sc:{%s}", PFX(prefix), c);
    return key_fmt(buf, cap, "%sc:{%s}:%s", PFX(prefix), c, suffix);
}

static const char *const ckey_suffix[PROTO_CK_COUNT] = {
    [PROTO_CK_TOTALS] = NULL,        [PROTO_CK_WM] = "wm",
    [PROTO_CK_NONCE] = "nonce",
    [PROTO_CK_REF] = "ref",          [PROTO_CK_REF_REACH] = "ref:reach",
    [PROTO_CK_PENDING] = "pending",  [PROTO_CK_FL] = "fl",
    [PROTO_CK_ALERTED] = "alerted",  [PROTO_CK_CFG] = "cfg",
    [PROTO_CK_PAGES] = "pages",      [PROTO_CK_REFERRERS] = "referrers",
    [PROTO_CK_DEAD] = "dead",        [PROTO_CK_LINKS] = "links",
    [PROTO_CK_REF_CLICK] = "ref:click", [PROTO_CK_REF_UNVERIFIED] = "ref:unverified",
    [PROTO_CK_OUTBOX] = "outbox",
};

/* Builds fixed key k of campaign c; returns the length or -1. */
int proto_key_of(char *buf, size_t cap, const char *prefix, const char *c, proto_ckey k)
{
    if (k < 0 || k >= PROTO_CK_COUNT)
        return -1;
    return campaign_key(buf, cap, prefix, c, ckey_suffix[k]);
}

/* Builds <prefix>c:{C}:u:<event>; returns the length or -1. */
int proto_key_uniq(char *buf, size_t cap, const char *prefix, const char *c, const char *event)
{
    char sfx[80];
    if (!event || !*event || snprintf(sfx, sizeof sfx, "u:%s", event) >= (int)sizeof sfx)
        return -1;
    return campaign_key(buf, cap, prefix, c, sfx);
}

/* Builds <prefix>c:{C}:scroll:<depth> of bucket i; returns the length or -1. */
int proto_key_scroll(char *buf, size_t cap, const char *prefix, const char *c, int i)
{
    char sfx[32];
    if (i < 0 || i >= PROTO_SCROLL_BUCKETS)
        return -1;
    snprintf(sfx, sizeof sfx, "scroll:%s", proto_scroll_field(i));
    return campaign_key(buf, cap, prefix, c, sfx);
}

/* Builds the hourly or daily bucket key of ts_ms; returns the length or -1. */
static int bucket_key(char *buf, size_t cap, const char *prefix, const char *c, long long ts_ms,
                      int hourly)
{
    long long span = hourly ? PROTO_HOUR_MS : PROTO_DAY_MS;
    time_t t = (time_t)(ts_ms / span * (span / 1000));
    struct tm tm;
    char sfx[24];
    if (ts_ms < 0 || !gmtime_r(&t, &tm))
        return -1;
    strftime(sfx, sizeof sfx, hourly ? "h:%Y%m%d%H" : "d:%Y%m%d", &tm);
    return campaign_key(buf, cap, prefix, c, sfx);
}

/* Builds <prefix>c:{C}:h:<YYYYMMDDHH>; returns the length or -1. */
int proto_key_hour(char *buf, size_t cap, const char *prefix, const char *c, long long ts_ms)
{
    return bucket_key(buf, cap, prefix, c, ts_ms, 1);
}

/* Builds <prefix>c:{C}:d:<YYYYMMDD>; returns the length or -1. */
int proto_key_day(char *buf, size_t cap, const char *prefix, const char *c, long long ts_ms)
{
    return bucket_key(buf, cap, prefix, c, ts_ms, 0);
}

/* Builds <prefix>c:{C}:aud:<B>; returns the length or -1. */
int proto_key_aud(char *buf, size_t cap, const char *prefix, const char *c, unsigned bucket)
{
    char sfx[32];
    snprintf(sfx, sizeof sfx, "aud:%u", bucket);
    return campaign_key(buf, cap, prefix, c, sfx);
}

/* Builds <prefix>shares; returns the length or -1. */
int proto_key_shares(char *buf, size_t cap, const char *prefix)
{
    return key_fmt(buf, cap, "%sshares", PFX(prefix));
}

/* Builds <prefix>aggregators; returns the length or -1. */
int proto_key_aggregators(char *buf, size_t cap, const char *prefix)
{
    return key_fmt(buf, cap, "%saggregators", PFX(prefix));
}

/* Builds <prefix>repaired:{P}; returns the length or -1. */
int proto_key_repaired(char *buf, size_t cap, const char *prefix, unsigned partition)
{
    return key_fmt(buf, cap, "%srepaired:{%u}", PFX(prefix), partition);
}

/* Builds <prefix>lease:{P}; returns the length or -1. */
int proto_key_lease(char *buf, size_t cap, const char *prefix, unsigned partition)
{
    return key_fmt(buf, cap, "%slease:{%u}", PFX(prefix), partition);
}

/* Builds <prefix>applied:{P}; returns the length or -1. */
int proto_key_applied(char *buf, size_t cap, const char *prefix, unsigned partition)
{
    return key_fmt(buf, cap, "%sapplied:{%u}", PFX(prefix), partition);
}

/* Parses a stream id into its two numbers; never fails (garbage is 0-0). */
void proto_stream_id_parse(const char *id, uint64_t *ms, uint64_t *seq)
{
    char *end;
    if (*id == '(')
        id++;
    *ms = strtoull(id, &end, 10);
    *seq = *end == '-' ? strtoull(end + 1, NULL, 10) : 0;
}

int proto_stream_id_valid(const char *id)
{
    for (int part = 0; part < 2; part++) {
        size_t n = 0;
        uint64_t v = 0;
        for (; id[n] >= '0' && id[n] <= '9'; n++) {
            if (v > (UINT64_MAX - (uint64_t)(id[n] - '0')) / 10)
                return 0;
            v = v * 10 + (uint64_t)(id[n] - '0');
        }
        if (n == 0 || id[n] != (part ? '\0' : '-'))
            return 0;
        id += n + 1;
    }
    return 1;
}

/* Compares two stream ids by value; never fails ("" is the lowest). */
int proto_stream_id_cmp(const char *a, const char *b)
{
    uint64_t am, as, bm, bs;
    if (!*a || !*b)
        return (*a != 0) - (*b != 0);
    proto_stream_id_parse(a, &am, &as);
    proto_stream_id_parse(b, &bm, &bs);
    if (am != bm)
        return am < bm ? -1 : 1;
    return as < bs ? -1 : as > bs;
}

/* Returns the FNV-1a hash of buf, never 0; never fails. */
uint64_t proto_hash64(const char *buf, size_t len)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)buf[i];
        h *= 1099511628211ull;
    }
    return h ? h : 1;
}
