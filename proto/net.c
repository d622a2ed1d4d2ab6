/* net.c: owns client-address handling — storage truncation, CIDR lists and the X-Forwarded-For rule. */
#include "net.h"

#include <arpa/inet.h>
#include <string.h>

/* One parsed address; IPv4-mapped IPv6 is folded into IPv4. */
typedef struct {
    int family;                     /* 4 or 6 */
    uint8_t a[16];
} addr_t;

/* Parses textual address s (n bytes) into out; returns 0 or -1 if it is not
 * an IPv4 or IPv6 address. */
static int addr_parse(const char *s, size_t n, addr_t *out)
{
    char tmp[INET6_ADDRSTRLEN + 1];

    if (!s || n == 0 || n >= sizeof tmp || memchr(s, '\0', n))
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, tmp, out->a) == 1) {
        out->family = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, tmp, out->a) == 1) {
        static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        out->family = 6;
        if (memcmp(out->a, mapped, sizeof mapped) == 0) {
            memmove(out->a, out->a + 12, 4);
            memset(out->a + 4, 0, 12);
            out->family = 4;
        }
        return 0;
    }
    return -1;
}

/* Formats addr into out (cap bytes); returns 0 or -1 if it does not fit. */
static int addr_format(const addr_t *addr, char *out, size_t cap)
{
    char tmp[INET6_ADDRSTRLEN];

    if (!inet_ntop(addr->family == 4 ? AF_INET : AF_INET6, addr->a, tmp, sizeof tmp))
        return -1;
    size_t n = strlen(tmp);
    if (!out || n + 1 > cap)
        return -1;
    memcpy(out, tmp, n + 1);
    return 0;
}

/* Keeps the first bits of addr and zeroes the rest; never fails. */
static void addr_mask(uint8_t *a, int bits, int total)
{
    for (int i = 0; i < total / 8; i++) {
        int keep = bits - i * 8;
        if (keep >= 8)
            continue;
        a[i] = keep <= 0 ? 0 : (uint8_t)(a[i] & (0xFF << (8 - keep)));
    }
}

/* Writes the stored form of ip; returns 0, or -1 if ip is not an address or
 * out is too small. */
int proto_net_store(const char *ip, proto_store_ip mode, char *out, size_t cap)
{
    addr_t a;

    if (!ip || addr_parse(ip, strlen(ip), &a) < 0)
        return -1;
    switch (mode) {
    case PROTO_STORE_IP_NONE:
        if (!out || cap == 0)
            return -1;
        out[0] = '\0';
        return 0;
    case PROTO_STORE_IP_FULL:
        return addr_format(&a, out, cap);
    case PROTO_STORE_IP_TRUNCATED:
        addr_mask(a.a, a.family == 4 ? 24 : 48, a.family == 4 ? 32 : 128);
        return addr_format(&a, out, cap);
    }
    return -1;
}

/* Parses one "addr" or "addr/bits" entry (n bytes) into slot i of c;
 * returns 0 or -1 on a bad entry. */
static int cidr_parse_one(proto_cidrs *c, int i, const char *s, size_t n)
{
    const char *slash = memchr(s, '/', n);
    size_t al = slash ? (size_t)(slash - s) : n;
    addr_t a;
    int bits, max;

    if (addr_parse(s, al, &a) < 0)
        return -1;
    /* a mapped "::ffff:a.b.c.d/N" entry becomes a.b.c.d/(N-96) */
    int mapped = a.family == 4 && memchr(s, ':', al) != NULL;
    max = mapped ? 128 : (a.family == 4 ? 32 : 128);
    if (slash) {
        const char *d = slash + 1;
        size_t dl = n - al - 1;
        if (dl == 0 || dl > 3)
            return -1;
        bits = 0;
        for (size_t k = 0; k < dl; k++) {
            if (d[k] < '0' || d[k] > '9')
                return -1;
            bits = bits * 10 + (d[k] - '0');
        }
        if (bits > max)
            return -1;
    } else {
        bits = max;
    }
    if (mapped) {
        if (bits < 96)
            return -1;              /* a range wider than the mapped block */
        bits -= 96;
    }
    addr_mask(a.a, bits, a.family == 4 ? 32 : 128);
    c->e[i].family = a.family;
    memcpy(c->e[i].addr, a.a, 16);
    c->e[i].bits = bits;
    return 0;
}

/* Parses a comma-separated CIDR list (a blank list is empty); returns 0, or
 * -1 (with c emptied) on a bad or empty entry or too many entries. */
int proto_net_cidrs_parse(proto_cidrs *c, const char *list)
{
    const char *p = list;

    if (!c)
        return -1;
    memset(c, 0, sizeof *c);
    if (!list)
        return 0;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!*p)
        return 0;
    for (;;) {
        const char *s = p;
        while (*p && *p != ',')
            p++;
        const char *e = p;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e == s || c->n >= PROTO_CIDR_MAX ||
            cidr_parse_one(c, c->n, s, (size_t)(e - s)) < 0)
            goto fail;
        c->n++;
        if (!*p)
            return 0;
        p++;
    }
fail:
    memset(c, 0, sizeof *c);
    return -1;
}

/* Reports whether a lies inside one of c's ranges; returns 0 when not. */
static int cidrs_match_addr(const proto_cidrs *c, const addr_t *a)
{
    for (int i = 0; c && i < c->n; i++) {
        if (c->e[i].family != a->family)
            continue;
        int bits = c->e[i].bits, k = 0;
        for (; bits >= 8; bits -= 8, k++)
            if (a->a[k] != c->e[i].addr[k])
                break;
        if (bits >= 8)
            continue;
        if (bits == 0 || ((a->a[k] ^ c->e[i].addr[k]) & (0xFF << (8 - bits))) == 0)
            return 1;
    }
    return 0;
}

/* Reports whether textual ip is inside one of c's ranges; returns 0 when not
 * (also when ip is not an address). */
int proto_net_cidrs_match(const proto_cidrs *c, const char *ip)
{
    addr_t a;

    if (!c || !ip || addr_parse(ip, strlen(ip), &a) < 0)
        return 0;
    return cidrs_match_addr(c, &a);
}

/* Parses one X-Forwarded-For element (n bytes, trimmed), allowing an
 * optional port ("1.2.3.4:80", "[::1]:80"); returns 0 or -1. */
static int xff_parse(const char *s, size_t n, addr_t *out)
{
    if (n > 0 && s[0] == '[') {
        const char *rb = memchr(s, ']', n);
        if (!rb)
            return -1;
        size_t rest = n - (size_t)(rb - s) - 1;
        if (rest > 0 && rb[1] != ':')
            return -1;
        return addr_parse(s + 1, (size_t)(rb - s) - 1, out);
    }
    const char *colon = memchr(s, ':', n);
    if (colon && !memchr(colon + 1, ':', n - (size_t)(colon - s) - 1))
        n = (size_t)(colon - s);    /* IPv4 with a port */
    return addr_parse(s, n, out);
}

/* Picks the client address by the trusted-proxy rule (SPEC 6); returns 0,
 * or -1 if the peer is not an address or out is too small. */
int proto_net_client_ip(const char *peer, const char *xff, size_t xff_len,
                        const proto_cidrs *trusted, char *out, size_t cap)
{
    addr_t pa, best;

    if (!peer || addr_parse(peer, strlen(peer), &pa) < 0)
        return -1;
    best = pa;
    if (!trusted || !xff || xff_len == 0 || !cidrs_match_addr(trusted, &pa))
        return addr_format(&best, out, cap);
    /* walk right to left: the first untrusted hop is the client; an
     * unparsable hop ends the walk at the last trusted one */
    size_t end = xff_len;
    for (;;) {
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',')
            start--;
        size_t s = start, e = end;
        while (s < e && (xff[s] == ' ' || xff[s] == '\t'))
            s++;
        while (e > s && (xff[e - 1] == ' ' || xff[e - 1] == '\t'))
            e--;
        if (e > s) {
            addr_t a;
            if (xff_parse(xff + s, e - s, &a) < 0)
                break;
            best = a;
            if (!cidrs_match_addr(trusted, &a))
                break;
        }
        if (start == 0)
            break;                  /* all trusted: the left-most stays */
        end = start - 1;
    }
    return addr_format(&best, out, cap);
}
