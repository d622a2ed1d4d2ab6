/* url.c: owns strict percent-decoding, RFC 3986 encoding, query splitting and redirect-target checks. */
#include "url.h"
#include "text.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#define TARGET_MAX 2048 /* SPEC 2: `to` at most 2048 bytes */

/* Returns the value of hex digit c, or -1 (the failure) if c is not one. */
static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Lower-cases one ASCII byte; never fails. */
static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Decodes src into dst like proto_url_decode; with dst NULL only validates
 * and counts. Returns the decoded length, -1 on bad encoding, -2 if dst is
 * too small. */
static long decode(char *dst, size_t cap, const char *src, size_t len, int plus_is_space)
{
    const unsigned char *s = (const unsigned char *)src;
    proto_utf8 st = {0, 0, 0};
    size_t i = 0, n = 0;

    while (i < len) {
        unsigned char b = s[i];
        if (b == '%') {
            if (len - i < 3)
                return -1;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            b = (unsigned char)(h * 16 + l);
            i += 3;
        } else {
            if (b == '+' && plus_is_space)
                b = ' ';
            i++;
        }
        if (b == 0 || proto_utf8_feed(&st, b) < 0)
            return -1;
        if (dst) {
            if (n >= cap)
                return -2;
            dst[n] = (char)b;
        }
        n++;
    }
    if (!proto_utf8_done(&st))
        return -1;                  /* truncated sequence */
    return (long)n;
}

/* Decodes a form-encoded string strictly (dst NULL: validates only);
 * returns the length, -1 on bad encoding, -2 if dst is too small. */
long proto_url_decode(char *dst, size_t cap, const char *src, size_t len,
                      int plus_is_space)
{
    return decode(dst, cap, src, len, plus_is_space);
}

/* Reports whether byte c is RFC 3986 unreserved; never fails. */
static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

/* Percent-encodes src into dst, NUL-terminated; returns the length or -1 if
 * dst is too small. */
long proto_url_encode(char *dst, size_t cap, const char *src, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        if (unreserved(c)) {
            if (cap - n < 2)
                return -1;
            dst[n++] = (char)c;
        } else {
            if (cap - n < 4)
                return -1;
            dst[n++] = '%';
            dst[n++] = hex[c >> 4];
            dst[n++] = hex[c & 15];
        }
    }
    if (cap - n < 1)
        return -1;
    dst[n] = '\0';
    return (long)n;
}

/* Splits q on '&' into raw pairs; returns the count, or -1 if over max. */
int proto_url_split(const char *q, size_t len, proto_url_pair *pairs, int max)
{
    int n = 0;
    size_t i = 0;

    while (i < len) {
        size_t start = i;
        while (i < len && q[i] != '&')
            i++;
        size_t seg = i - start;
        if (i < len)
            i++;                    /* skip '&' */
        if (seg == 0)
            continue;
        if (n >= max)
            return -1;
        const char *p = q + start;
        const char *eq = memchr(p, '=', seg);
        pairs[n].name = p;
        if (eq) {
            pairs[n].name_len = (size_t)(eq - p);
            pairs[n].value = eq + 1;
            pairs[n].value_len = seg - pairs[n].name_len - 1;
        } else {
            pairs[n].name_len = seg;
            pairs[n].value = p + seg;
            pairs[n].value_len = 0;
        }
        n++;
    }
    return n;
}

/* Reports whether s (n bytes) starts with lower-case prefix p, ignoring
 * case; returns 0 when it does not. */
static int starts_ci(const char *s, size_t n, const char *p)
{
    size_t pl = strlen(p);
    if (n < pl)
        return 0;
    for (size_t i = 0; i < pl; i++)
        if (lower((unsigned char)s[i]) != (unsigned char)p[i])
            return 0;
    return 1;
}

/* Validates an absolute http(s) redirect target and extracts its host;
 * returns 0, or -1 if the URL is refused or host does not fit. */
int proto_url_target(const char *url, size_t len, char *host, size_t cap)
{
    size_t i, a, hs, he;

    if (!url || len == 0 || len > TARGET_MAX || !host || cap == 0)
        return -1;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7F || c == '\\')
            return -1;              /* controls, space, DEL, non-ASCII, backslash */
    }
    if (starts_ci(url, len, "https://"))
        a = 8;
    else if (starts_ci(url, len, "http://"))
        a = 7;
    else
        return -1;
    /* authority: up to the first '/', '?' or '#' */
    size_t ae = a;
    while (ae < len && url[ae] != '/' && url[ae] != '?' && url[ae] != '#')
        ae++;
    if (memchr(url + a, '@', ae - a))
        return -1;                  /* userinfo */
    if (a < ae && url[a] == '[') {
        const char *rb = memchr(url + a, ']', ae - a);
        if (!rb)
            return -1;
        hs = a + 1;
        he = (size_t)(rb - url);
        i = he + 1;
        char tmp[64];
        unsigned char addr[16];
        if (he - hs == 0 || he - hs >= sizeof tmp)
            return -1;
        memcpy(tmp, url + hs, he - hs);
        tmp[he - hs] = '\0';
        if (inet_pton(AF_INET6, tmp, addr) != 1)
            return -1;
    } else {
        hs = a;
        i = a;
        while (i < ae && url[i] != ':') {
            unsigned char c = (unsigned char)url[i];
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  (c >= '0' && c <= '9') || c == '.' || c == '-'))
                return -1;
            i++;
        }
        he = i;
        if (he == hs)
            return -1;              /* empty host, e.g. http:///x */
    }
    if (i < ae) {                   /* port */
        if (url[i] != ':')
            return -1;
        i++;
        size_t ps = i;
        unsigned long port = 0;
        while (i < ae && url[i] >= '0' && url[i] <= '9' && i - ps < 5) {
            port = port * 10 + (unsigned long)(url[i] - '0');
            i++;
        }
        if (i != ae || i == ps || port > 65535)
            return -1;
    }
    if (he - hs + 1 > cap)
        return -1;
    for (i = hs; i < he; i++)
        host[i - hs] = (char)lower((unsigned char)url[i]);
    host[he - hs] = '\0';
    return 0;
}

/* Reports whether host is on the comma-separated allow list (".x.org" also
 * matches x.org and its subdomains); returns 0 when it is not. */
int proto_url_host_allowed(const char *host, const char *allow_list)
{
    if (!host || !allow_list || !*host)
        return 0;
    size_t hl = strlen(host);
    const char *p = allow_list;

    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *s = p;
        while (*p && *p != ',')
            p++;
        const char *e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        size_t el = (size_t)(e - s);
        if (el == 0)
            continue;
        if (s[0] == '.') {
            /* ".example.org": example.org itself or any subdomain */
            if (el > 1 && hl == el - 1 &&
                strncasecmp(host, s + 1, el - 1) == 0)
                return 1;
            if (hl > el && strncasecmp(host + hl - el, s, el) == 0)
                return 1;
        } else if (hl == el && strncasecmp(host, s, el) == 0) {
            return 1;
        }
    }
    return 0;
}
