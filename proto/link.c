/* link.c: short links — codes, the link record's checks and its hash
 * fields (proto/link.h); no I/O. */
#include "link.h"

#include <stdio.h>
#include <string.h>

#include "hit_int.h"
#include "url.h"

static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* Reports whether s (n bytes) has the form of a code. */
int proto_link_code_valid(const char *s, size_t n)
{
    if (n < PROTO_LINK_CODE_MIN || n > PROTO_LINK_CODE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !memchr(b62, s[i], 62))
            return 0;
    return 1;
}

/* Writes a code from random bytes. Returns 0, or -1 for a bad length. */
int proto_link_code(const unsigned char *random, size_t len, char *out)
{
    if (len < PROTO_LINK_CODE_MIN || len > PROTO_LINK_CODE_MAX)
        return -1;
    for (size_t i = 0; i < len; i++)
        out[i] = b62[random[i] % 62];
    out[len] = 0;
    return 0;
}

/* Sets one parameter through the hit's own validation. Returns PROTO_OK or the reason. */
static proto_reason as_hit(proto_hit *h, unsigned *seen, const char *name, const char *v)
{
    return proto_hit_set(h, seen, name, strlen(name), v, strlen(v));
}

/* Checks a link's fields. Returns PROTO_OK or the reason. */
proto_reason proto_link_check(const proto_link *l)
{
    proto_hit h;
    unsigned seen = 0;
    proto_reason r;
    proto_hit_init(&h);
    if (!l->campaign[0])
        return PROTO_ERR_NO_CAMPAIGN;
    if (!l->to[0])
        return PROTO_ERR_NO_TO;
    if ((r = as_hit(&h, &seen, "c", l->campaign)) != PROTO_OK ||
        (r = as_hit(&h, &seen, "ref", l->ref)) != PROTO_OK ||
        (r = as_hit(&h, &seen, "s", l->subject)) != PROTO_OK ||
        (r = as_hit(&h, &seen, "ch", l->channel)) != PROTO_OK ||
        (r = as_hit(&h, &seen, "to", l->to)) != PROTO_OK)
        return r;
    return PROTO_OK;
}

/* Writes the identity of a link. Returns its length, or -1. */
long proto_link_ident(const proto_link *l, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s\x1f%s\x1f%s\x1f%s", l->ref, l->to, l->subject, l->channel);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* Copies a value into a field of cap bytes. Returns 0, or -1 if too long. */
static int put(char *dst, size_t cap, const char *v, size_t n)
{
    if (n >= cap)
        return -1;
    memcpy(dst, v, n);
    dst[n] = 0;
    return 0;
}

/* Parses a non-negative decimal of n bytes. Returns 0, or -1. */
static int num(const char *v, size_t n, int64_t *out)
{
    return proto_hit_parse_uint(v, n, 18, out);
}

/* Fills l from HGETALL's pairs. Returns 0, or -1. */
int proto_link_from_fields(proto_link *l, const char *code, int n, const char *const names[],
                           const size_t name_lens[], const char *const values[],
                           const size_t value_lens[])
{
    memset(l, 0, sizeof *l);
    if (!proto_link_code_valid(code, strlen(code)))
        return -1;
    memcpy(l->code, code, strlen(code) + 1);
    for (int i = 0; i < n; i++) {
        const char *k = names[i], *v = values[i];
        size_t kl = name_lens[i], vl = value_lens[i];
        int rc = 0;
#define IS(f) (kl == sizeof f - 1 && memcmp(k, f, kl) == 0)
        if (IS(PROTO_LINK_F_CAMPAIGN))
            rc = put(l->campaign, sizeof l->campaign, v, vl);
        else if (IS(PROTO_LINK_F_REF))
            rc = put(l->ref, sizeof l->ref, v, vl);
        else if (IS(PROTO_LINK_F_TO))
            rc = put(l->to, sizeof l->to, v, vl);
        else if (IS(PROTO_LINK_F_SUBJECT))
            rc = put(l->subject, sizeof l->subject, v, vl);
        else if (IS(PROTO_LINK_F_CHANNEL))
            rc = put(l->channel, sizeof l->channel, v, vl);
        else if (IS(PROTO_LINK_F_NAME))
            rc = put(l->name, sizeof l->name, v, vl);
        else if (IS(PROTO_LINK_F_EMAIL))
            rc = put(l->email, sizeof l->email, v, vl);
        else if (IS(PROTO_LINK_F_STATE))
            l->disabled = !(vl == 6 && memcmp(v, "active", 6) == 0);
        else if (IS(PROTO_LINK_F_EXPIRES))
            rc = num(v, vl, &l->expires_ms);
        else if (IS(PROTO_LINK_F_CREATED))
            rc = num(v, vl, &l->created_ms);
#undef IS
        if (rc < 0)
            return -1;
    }
    return proto_link_check(l) == PROTO_OK ? 0 : -1;
}

/* Returns whether a link answers at now_ms. */
proto_link_state proto_link_state_at(const proto_link *l, int64_t now_ms)
{
    if (l->disabled || (l->expires_ms > 0 && now_ms >= l->expires_ms))
        return PROTO_LINK_GONE;
    return PROTO_LINK_ACTIVE;
}
