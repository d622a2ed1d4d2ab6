/* hook_auth.c: the inbound hooks' authentication — each source's own
 * signature scheme and replay window, compared in constant time; no I/O. */
#include "hook.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "sign.h"
#include "url.h"

static const char *const auth_names[] = {"ok", "missing", "bad", "stale"};

/* Returns a verdict's name; never fails. */
const char *proto_hook_auth_name(proto_hook_auth a)
{
    return (unsigned)a < 4 ? auth_names[a] : "bad";
}

/* Decodes hex (even length) or standard/url base64 (padding optional) into
 * out. Returns the length, or -1. */
static long decode_mac(const char *s, size_t n, unsigned char *out, size_t cap)
{
    size_t o = 0;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 2 * cap && strspn(s, "0123456789abcdefABCDEF") >= n) {
        for (size_t i = 0; i < n; i += 2) {
            char b[3] = {s[i], s[i + 1], 0};
            out[o++] = (unsigned char)strtoul(b, NULL, 16);
        }
        return (long)o;
    }
    return proto_sign_b64_decode(s, n, 1, out, cap);
}

/* Compares a given MAC text (hex or base64) with want, in constant time. Returns 1 if equal. */
static int mac_equal(const char *given, size_t n, const unsigned char want[32])
{
    unsigned char got[32];
    return decode_mac(given, n, got, sizeof got) == 32 && CRYPTO_memcmp(got, want, 32) == 0;
}

/* Returns header name's value (NUL-free copy into buf, cap bytes), or NULL if absent or too long. */
static const char *hdr(const proto_hook_req *r, const char *name, char *buf, size_t cap)
{
    size_t n = 0;
    const char *v = r->header ? r->header(r->arg, name, &n) : NULL;
    if (!v || n >= cap)
        return NULL;
    memcpy(buf, v, n);
    buf[n] = 0;
    return buf;
}

/* Parses a timestamp header (seconds, or ms from 1e11 up) and checks it
 * against the window. Returns AUTH_OK, MISSING or STALE. */
static proto_hook_auth window(const char *ts, int64_t now_ms, int window_s)
{
    char *end;
    if (!ts || !isdigit((unsigned char)*ts))
        return PROTO_HOOK_AUTH_MISSING;
    long long t = strtoll(ts, &end, 10);
    if (*end)
        return PROTO_HOOK_AUTH_MISSING;
    int64_t ms = t >= 100000000000LL ? t : t * 1000;
    int64_t d = now_ms - ms;
    return d > (int64_t)window_s * 1000 || -d > (int64_t)window_s * 1000 ? PROTO_HOOK_AUTH_STALE
                                                                        : PROTO_HOOK_AUTH_OK;
}

/* Checks Authorization: Bearer <secret>, or ?key=<secret> when in_query. Returns the verdict. */
static proto_hook_auth token(const proto_hook *h, const proto_hook_req *r, int in_query)
{
    char buf[300], key[300];
    size_t sl = strlen(h->secret);
    const char *a = hdr(r, "Authorization", buf, sizeof buf);
    if (a && strncasecmp(a, "Bearer ", 7) == 0)
        return strlen(a + 7) == sl && CRYPTO_memcmp(a + 7, h->secret, sl) == 0 ? PROTO_HOOK_AUTH_OK
                                                                               : PROTO_HOOK_AUTH_BAD;
    if (!in_query || !r->query)
        return PROTO_HOOK_AUTH_MISSING;
    proto_url_pair pairs[PROTO_PARAMS_MAX];
    int n = proto_url_split(r->query, r->query_len, pairs, PROTO_PARAMS_MAX);
    for (int i = 0; i < n; i++) {
        if (pairs[i].name_len != 3 || memcmp(pairs[i].name, "key", 3) != 0)
            continue;
        long kl = proto_url_decode(key, sizeof key, pairs[i].value, pairs[i].value_len, 1);
        return kl >= 0 && (size_t)kl == sl && CRYPTO_memcmp(key, h->secret, sl) == 0
                   ? PROTO_HOOK_AUTH_OK : PROTO_HOOK_AUTH_BAD;
    }
    return PROTO_HOOK_AUTH_MISSING;
}

/* Appends "<ts>." and the body to the parts of a MAC; returns the new count. */
static int ts_dot_body(const void *parts[], size_t lens[], int np, const char *ts,
                       const proto_hook_req *r)
{
    parts[np] = ts, lens[np++] = strlen(ts);
    parts[np] = ".", lens[np++] = 1;
    parts[np] = r->body, lens[np++] = r->body_len;
    return np;
}

/* Verifies a request by its hook's scheme. Returns the verdict. */
proto_hook_auth proto_hook_verify(const proto_hook *h, const proto_hook_req *r, int64_t now_ms,
                                  int window_s)
{
    char sig[512], ts[64];
    unsigned char want[32];
    const char *s, *t;
    const void *parts[5];
    size_t lens[5];
    int np = 0;
    proto_hook_auth w;
    switch (h->source) {
    case PROTO_HOOK_HUBSPOT:    /* base64(HMAC(secret, method + uri + body + timestamp)) */
        s = hdr(r, "X-HubSpot-Signature-v3", sig, sizeof sig);
        t = hdr(r, "X-HubSpot-Request-Timestamp", ts, sizeof ts);
        if (!s)
            return PROTO_HOOK_AUTH_MISSING;
        if ((w = window(t, now_ms, window_s)) != PROTO_HOOK_AUTH_OK)
            return w;
        parts[np] = r->method, lens[np++] = strlen(r->method);
        parts[np] = r->uri, lens[np++] = r->uri_len;
        parts[np] = r->body, lens[np++] = r->body_len;
        parts[np] = t, lens[np++] = strlen(t);
        break;
    case PROTO_HOOK_LISTMONK:   /* "sha256=" hex(HMAC(secret, ts + "." + body)) */
        s = hdr(r, "X-Listmonk-Signature", sig, sizeof sig);
        t = hdr(r, "X-Listmonk-Timestamp", ts, sizeof ts);
        if (!s)
            return PROTO_HOOK_AUTH_MISSING;
        if ((w = window(t, now_ms, window_s)) != PROTO_HOOK_AUTH_OK)
            return w;
        if (strncmp(s, "sha256=", 7) != 0)
            return PROTO_HOOK_AUTH_BAD;
        s += 7;
        np = ts_dot_body(parts, lens, np, t, r);
        break;
    case PROTO_HOOK_ACTIONNETWORK:  /* no signature: the secret rides in the URL (or a bearer) */
        return token(h, r, 1);
    case PROTO_HOOK_GENERIC:
        if (h->bearer)
            return token(h, r, 0);
        s = hdr(r, h->header, sig, sizeof sig);
        if (!s)
            return PROTO_HOOK_AUTH_MISSING;
        if (strncmp(s, "sha256=", 7) == 0)
            s += 7;
        if (h->ts_header[0]) {
            t = hdr(r, h->ts_header, ts, sizeof ts);
            if ((w = window(t, now_ms, window_s)) != PROTO_HOOK_AUTH_OK)
                return w;
            np = ts_dot_body(parts, lens, np, t, r);
        } else {
            parts[np] = r->body, lens[np++] = r->body_len;
        }
        break;
    default:
        return PROTO_HOOK_AUTH_BAD;
    }
    if (proto_sign_hmac(h->secret, strlen(h->secret), parts, lens, np, want) < 0)
        return PROTO_HOOK_AUTH_BAD;
    return mac_equal(s, strlen(s), want) ? PROTO_HOOK_AUTH_OK : PROTO_HOOK_AUTH_BAD;
}
