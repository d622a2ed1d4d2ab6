/* fuzz_redirect.c: libFuzzer target for tracked-link safety —
 * proto_url_target, proto_url_host_allowed and the link signature
 * (proto_sign_canonical, proto_sign_query, proto_sign_verify). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "fuzz_common.h"
#include "hit.h"
#include "sign.h"
#include "url.h"

#define KEY "fuzz-signing-key"

/* Returns 1 if host matches entry e (n bytes, trimmed) by SPEC 6 rules:
 * equal, or e is ".domain" and host is domain or ends with ".domain". */
static int ref_match(const char *host, const char *e, size_t n)
{
    size_t hl = strlen(host);
    if (n == 0 || hl == 0)
        return 0;
    if (e[0] == '.') {
        if (hl == n - 1 && n > 1 && strncasecmp(host, e + 1, n - 1) == 0)
            return 1;
        return hl > n && strncasecmp(host + hl - n, e, n) == 0;
    }
    return hl == n && strncasecmp(host, e, n) == 0;
}

/* Returns the reference answer of proto_url_host_allowed: entries split on
 * ',' with spaces and tabs trimmed. */
static int ref_allowed(const char *host, const char *list)
{
    const char *p = list;
    for (;;) {
        const char *s = p, *e;
        while (*p && *p != ',')
            p++;
        e = p;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (ref_match(host, s, (size_t)(e - s)))
            return 1;
        if (!*p)
            return 0;
        p++;
    }
}

/* Checks a redirect target and, if it is accepted, its host against the
 * allow list (NUL-terminated). */
static void check_target(const char *url, size_t len, const char *allow)
{
    char host[256], small[8];
    int r = proto_url_target(url, len, host, sizeof host);
    FUZZ_CHECK(r == 0 || r == -1);
    if (r < 0)
        return;
    size_t hl = strlen(host);
    FUZZ_CHECK(len <= PROTO_TO_MAX);
    FUZZ_CHECK(hl > 0 && hl < sizeof host);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        FUZZ_CHECK(c > 0x20 && c < 0x7f && c != '\\');  /* nothing a header could split on */
    }
    FUZZ_CHECK(strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0);
    for (size_t i = 0; i < hl; i++) {
        char c = host[i];
        FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
        FUZZ_CHECK(c != '@' && c != '/' && c != '?' && c != '#' && c != '\\');
    }
    /* the host is exactly what follows the scheme (no userinfo trick) */
    const char *auth = url + (url[4] == ':' ? 7 : 8);
    FUZZ_CHECK(strncasecmp(auth + (auth[0] == '['), host, hl) == 0);
    /* a host that does not fit is refused, not truncated */
    if (hl + 1 > sizeof small)
        FUZZ_CHECK(proto_url_target(url, len, small, sizeof small) == -1);

    int a = proto_url_host_allowed(host, allow);
    FUZZ_CHECK(a == ref_allowed(host, allow));
    if (host[0] != '.')
        FUZZ_CHECK(proto_url_host_allowed(host, host) == 1);
}

/* Returns 1 if raw query q has a parameter whose name decodes to "sig". */
static int has_sig(const char *q, size_t len)
{
    proto_url_pair pairs[PROTO_PARAMS_MAX];
    char name[4];
    int n = proto_url_split(q, len, pairs, PROTO_PARAMS_MAX);
    for (int i = 0; i < n; i++)
        if (proto_url_decode(name, sizeof name, pairs[i].name, pairs[i].name_len, 1) == 3 &&
            memcmp(name, "sig", 3) == 0)
            return 1;
    return 0;
}

/* Checks the canonical query and the signature of raw query q. */
static void check_sign(const char *q, size_t len)
{
    static char canon[8 * 8192 + 1], again[8 * 8192 + 1], signed_q[8192 + 64];
    char sig[23];
    long c = proto_sign_canonical(canon, sizeof canon, q, len);
    int s = proto_sign_query(KEY, strlen(KEY), q, len, sig);
    FUZZ_CHECK(c >= -1);
    FUZZ_CHECK((c >= 0) == (s == 0));
    if (c < 0) {
        FUZZ_CHECK(proto_sign_verify(KEY, strlen(KEY), q, len) == 0);
        return;
    }
    FUZZ_CHECK(strlen(canon) == (size_t)c);
    for (long i = 0; i < c; i++) {
        char ch = canon[i];
        FUZZ_CHECK((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                   ch == '-' || ch == '.' || ch == '_' || ch == '~' || ch == '%' || ch == '=' ||
                   ch == '&');
    }
    /* the exact-size buffer works, one byte less does not */
    FUZZ_CHECK(proto_sign_canonical(again, (size_t)c + 1, q, len) == c);
    FUZZ_CHECK(proto_sign_canonical(again, (size_t)c, q, len) == -1);
    /* canonicalising is idempotent and keeps the signature */
    long c2 = proto_sign_canonical(again, sizeof again, canon, (size_t)c);
    FUZZ_CHECK(c2 == c && memcmp(again, canon, (size_t)c) == 0);
    char sig2[23];
    FUZZ_CHECK(proto_sign_query(KEY, strlen(KEY), canon, (size_t)c, sig2) == 0);
    FUZZ_CHECK(strcmp(sig, sig2) == 0);
    FUZZ_CHECK(strlen(sig) == PROTO_SIG_LEN);

    /* q plus its own signature verifies; a changed signature does not */
    proto_url_pair pairs[PROTO_PARAMS_MAX];
    int np = proto_url_split(q, len, pairs, PROTO_PARAMS_MAX);
    if (has_sig(q, len)) {
        int v = proto_sign_verify(KEY, strlen(KEY), q, len);
        FUZZ_CHECK(v == 0 || v == 1);
        return;
    }
    FUZZ_CHECK(proto_sign_verify(KEY, strlen(KEY), q, len) == 0);
    if (np < 0 || np >= PROTO_PARAMS_MAX || len + 64 > sizeof signed_q)
        return;
    memcpy(signed_q, q, len);
    int n = snprintf(signed_q + len, sizeof signed_q - len, "&sig=%s", sig);
    FUZZ_CHECK(proto_sign_verify(KEY, strlen(KEY), signed_q, len + (size_t)n) == 1);
    signed_q[len + (size_t)n - 1] = signed_q[len + (size_t)n - 1] == 'A' ? 'B' : 'A';
    FUZZ_CHECK(proto_sign_verify(KEY, strlen(KEY), signed_q, len + (size_t)n) == 0);
}

/* Runs one input as "URL\nallow-list" and as a link query. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char allow[8192 + 1];
    const char *in = (const char *)data;

    if (size > 8192)
        return 0;
    /* "URL\nallow-list": the URL is also tried alone, the whole input too */
    const char *nl = memchr(in, '\n', size);
    size_t ul = nl ? (size_t)(nl - in) : size;
    size_t al = nl ? size - ul - 1 : 0;
    memcpy(allow, nl ? nl + 1 : "", al);
    allow[al] = 0;
    if (!nl)
        strcpy(allow, "example.org, .example.com,\t.co.uk ,localhost");
    check_target(in, ul, allow);
    if (nl)
        check_target(in, size, allow);

    /* the query of a link: the whole input, and the part before '\n' */
    check_sign(in, size);
    if (nl)
        check_sign(in, ul);
    return 0;
}
