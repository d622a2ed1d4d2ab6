/* sign.c: owns link signatures — the canonical query and its truncated
 * HMAC-SHA256 (SPEC 6) — and the attribution tokens built on them (SPEC 7). */
#include "sign.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "hit.h"
#include "url.h"

#define SIG_BYTES 16                /* HMAC-SHA256 truncated to 16 bytes */

/* Where the canonical query goes: a caller buffer or a running MAC. */
typedef struct {
    char *dst;                      /* buffer sink, or NULL */
    size_t cap;
    size_t n;                       /* bytes emitted so far */
    int overflow;
    EVP_MAC_CTX *mac;               /* MAC sink, or NULL */
    unsigned char chunk[512];
    size_t used;
    int failed;
} sink_t;

/* Appends bytes to the sink; records overflow or MAC failure (never returns one). */
static void sink_put(sink_t *k, const char *p, size_t n)
{
    if (k->mac) {
        while (n > 0) {
            size_t take = sizeof k->chunk - k->used;
            if (take > n)
                take = n;
            memcpy(k->chunk + k->used, p, take);
            k->used += take;
            p += take;
            n -= take;
            if (k->used == sizeof k->chunk) {
                if (EVP_MAC_update(k->mac, k->chunk, k->used) != 1)
                    k->failed = 1;
                k->used = 0;
            }
        }
        return;
    }
    if (k->n + n + 1 > k->cap) {
        k->overflow = 1;
        return;
    }
    memcpy(k->dst + k->n, p, n);
    k->n += n;
}

/* Returns the next decoded byte of validated raw text s at *i, advancing *i;
 * the input is pre-validated, so it cannot fail. */
static unsigned char next_byte(const char *s, size_t *i)
{
    unsigned char c = (unsigned char)s[*i];
    if (c == '%') {
        unsigned char h = (unsigned char)s[*i + 1], l = (unsigned char)s[*i + 2];
        *i += 3;
        h = (unsigned char)(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
        l = (unsigned char)(l <= '9' ? l - '0' : (l | 0x20) - 'a' + 10);
        return (unsigned char)(h * 16 + l);
    }
    *i += 1;
    return c == '+' ? ' ' : c;
}

/* Compares two validated raw strings by their decoded bytes; returns <0, 0
 * or >0 like memcmp (no failure). */
static int raw_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    size_t i = 0, j = 0;
    while (i < al && j < bl) {
        unsigned char x = next_byte(a, &i), y = next_byte(b, &j);
        if (x != y)
            return x < y ? -1 : 1;
    }
    if (i < al)
        return 1;
    if (j < bl)
        return -1;
    return 0;
}

/* Emits validated raw text re-encoded per RFC 3986 (no failure return). */
static void emit_encoded(sink_t *k, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i = 0;
    while (i < len) {
        unsigned char c = next_byte(s, &i);
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            char one = (char)c;
            sink_put(k, &one, 1);
        } else {
            char three[3] = { '%', hex[c >> 4], hex[c & 15] };
            sink_put(k, three, 3);
        }
    }
}

/* Reports whether raw name (validated) decodes to "sig"; returns 0 when not. */
static int is_sig(const proto_url_pair *p)
{
    return raw_cmp(p->name, p->name_len, "sig", 3) == 0;
}

/* Splits and validates q; returns the pair count, or -1 on bad encoding or
 * too many parameters. */
static int split_valid(const char *q, size_t len, proto_url_pair *pairs)
{
    int n = proto_url_split(q, len, pairs, PROTO_PARAMS_MAX);

    for (int i = 0; i < n; i++) {
        if (proto_url_decode(NULL, 0, pairs[i].name, pairs[i].name_len, 1) < 0 ||
            proto_url_decode(NULL, 0, pairs[i].value, pairs[i].value_len, 1) < 0)
            return -1;
    }
    return n;
}

/* Sorts pairs by decoded name then value and emits the canonical query of
 * all but `sig` into k; never fails (sink errors are recorded in k). */
static void emit_canonical(sink_t *k, proto_url_pair *pairs, int n)
{
    for (int i = 1; i < n; i++) {   /* insertion sort: n <= PROTO_PARAMS_MAX */
        proto_url_pair p = pairs[i];
        int j = i - 1;
        while (j >= 0) {
            int c = raw_cmp(pairs[j].name, pairs[j].name_len, p.name, p.name_len);
            if (c == 0)
                c = raw_cmp(pairs[j].value, pairs[j].value_len, p.value, p.value_len);
            if (c <= 0)
                break;
            pairs[j + 1] = pairs[j];
            j--;
        }
        pairs[j + 1] = p;
    }
    int first = 1;
    for (int i = 0; i < n; i++) {
        if (is_sig(&pairs[i]))
            continue;
        if (!first)
            sink_put(k, "&", 1);
        first = 0;
        emit_encoded(k, pairs[i].name, pairs[i].name_len);
        sink_put(k, "=", 1);
        emit_encoded(k, pairs[i].value, pairs[i].value_len);
    }
}

/* Builds the canonical query of q into dst; returns its length or -1. */
long proto_sign_canonical(char *dst, size_t cap, const char *q, size_t len)
{
    proto_url_pair pairs[PROTO_PARAMS_MAX];
    sink_t k;

    if (!dst || cap == 0)
        return -1;
    dst[0] = '\0';
    int n = split_valid(q, len, pairs);
    if (n < 0)
        return -1;
    memset(&k, 0, sizeof k);
    k.dst = dst;
    k.cap = cap;
    emit_canonical(&k, pairs, n);
    if (k.overflow) {
        dst[0] = '\0';
        return -1;
    }
    dst[k.n] = '\0';
    return (long)k.n;
}

/* Returns a new HMAC-SHA256 context keyed with key (caller frees with
 * EVP_MAC_CTX_free), or NULL (empty key, OpenSSL failure). The HMAC
 * algorithm is fetched once per process: fetching it is a provider lookup
 * under a lock, dearer than the MAC of a short query. */
static EVP_MAC_CTX *hmac_new(const char *key, size_t key_len)
{
    static _Atomic(EVP_MAC *) shared;
    char digest[] = "SHA256";
    OSSL_PARAM params[2];
    if (!key || key_len == 0)
        return NULL;
    EVP_MAC *alg = atomic_load(&shared);
    if (!alg) {
        EVP_MAC *mine = EVP_MAC_fetch(NULL, "HMAC", NULL), *none = NULL;
        if (!mine)
            return NULL;
        if (atomic_compare_exchange_strong(&shared, &none, mine)) {
            alg = mine;             /* kept for the process's life */
        } else {
            EVP_MAC_free(mine);     /* another thread's won */
            alg = none;
        }
    }
    EVP_MAC_CTX *c = EVP_MAC_CTX_new(alg);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    if (c && EVP_MAC_init(c, (const unsigned char *)key, key_len, params) != 1) {
        EVP_MAC_CTX_free(c);
        c = NULL;
    }
    return c;
}

/* Computes the 16-byte truncated HMAC-SHA256 of q's canonical form into mac;
 * returns 0 or -1 (bad query, empty key, OpenSSL failure). */
static int sign_raw(const char *key, size_t key_len, const char *q, size_t len,
                    unsigned char mac[SIG_BYTES])
{
    proto_url_pair pairs[PROTO_PARAMS_MAX];
    unsigned char full[EVP_MAX_MD_SIZE];
    size_t full_len = 0;
    sink_t k;
    int rc = -1;

    int n = split_valid(q, len, pairs);
    if (n < 0)
        return -1;
    memset(&k, 0, sizeof k);
    k.mac = hmac_new(key, key_len);
    if (!k.mac)
        return -1;
    emit_canonical(&k, pairs, n);
    if (k.used > 0 && EVP_MAC_update(k.mac, k.chunk, k.used) != 1)
        k.failed = 1;
    if (k.failed || EVP_MAC_final(k.mac, full, &full_len, sizeof full) != 1 ||
        full_len < SIG_BYTES)
        goto done;
    memcpy(mac, full, SIG_BYTES);
    rc = 0;
done:
    EVP_MAC_CTX_free(k.mac);
    OPENSSL_cleanse(full, sizeof full);
    return rc;
}

/* Encodes 16 bytes as 22 base64url characters plus NUL; never fails. */
static void b64url16(const unsigned char in[SIG_BYTES], char out[PROTO_SIG_LEN + 1])
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;

    for (; i + 3 <= SIG_BYTES; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    /* one byte left (16 = 5*3 + 1): two characters */
    unsigned v = (unsigned)in[i] << 16;
    out[o++] = tab[(v >> 18) & 63];
    out[o++] = tab[(v >> 12) & 63];
    out[o] = '\0';
}

/* Signs raw query q into out (23 bytes); returns 0 or -1. */
int proto_sign_query(const char *key, size_t key_len, const char *q, size_t len,
                     char out[23])
{
    unsigned char mac[SIG_BYTES];

    if (!out)
        return -1;
    out[0] = '\0';
    if (sign_raw(key, key_len, q, len, mac) < 0)
        return -1;
    b64url16(mac, out);
    return 0;
}

/* Verifies the `sig` parameter of raw query q in constant time; returns 1 if
 * valid, 0 if absent, repeated, malformed or wrong. */
int proto_sign_verify(const char *key, size_t key_len, const char *q, size_t len)
{
    proto_url_pair pairs[PROTO_PARAMS_MAX];
    char given[PROTO_SIG_LEN + 1], want[PROTO_SIG_LEN + 1];
    int n, found = -1;

    n = split_valid(q, len, pairs);
    if (n < 0)
        return 0;
    for (int i = 0; i < n; i++) {
        if (!is_sig(&pairs[i]))
            continue;
        if (found >= 0)
            return 0;               /* two signatures: refuse */
        found = i;
    }
    if (found < 0)
        return 0;
    long gl = proto_url_decode(given, sizeof given, pairs[found].value,
                               pairs[found].value_len, 1);
    if (gl != PROTO_SIG_LEN)
        return 0;
    if (proto_sign_query(key, key_len, q, len, want) < 0)
        return 0;
    return CRYPTO_memcmp(given, want, PROTO_SIG_LEN) == 0;
}

/* Computes HMAC-SHA256 over the concatenated parts. Returns 0, or -1. */
int proto_sign_hmac(const char *key, size_t key_len, const void *const parts[],
                    const size_t lens[], int n, unsigned char out[32])
{
    size_t len = 0;
    int rc = -1;
    EVP_MAC_CTX *c = hmac_new(key, key_len);
    if (!c)
        return -1;
    for (int i = 0; i < n; i++)
        if (lens[i] && EVP_MAC_update(c, parts[i], lens[i]) != 1)
            goto done;
    if (EVP_MAC_final(c, out, &len, 32) == 1 && len == 32)
        rc = 0;
done:
    EVP_MAC_CTX_free(c);
    return rc;
}

/* ---------------------------------------------------------------- tokens */

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Encodes n bytes as base64url without padding into out (cap bytes, NUL
 * included). Returns the length, or -1 if it does not fit. */
static long b64url_enc(const unsigned char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        size_t k = n - i >= 3 ? 4 : n - i + 1;
        if (o + k + 1 > cap)
            return -1;
        for (size_t j = 0; j < k; j++)
            out[o++] = b64chars[(v >> (18 - 6 * j)) & 63];
    }
    out[o] = 0;
    return (long)o;
}

/* Decodes base64 into out (cap bytes). Returns the length, or -1. */
long proto_sign_b64_decode(const char *in, size_t n, int any, unsigned char *out, size_t cap)
{
    static const char std[] = "+/";
    size_t o = 0;
    uint32_t v = 0;
    int bits = 0;
    while (any && n && in[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *p = in[i] ? memchr(b64chars, in[i], 64) : NULL;
        const char *q = !p && any && in[i] ? memchr(std, in[i], 2) : NULL;
        if (!p && !q)
            return -1;
        v = v << 6 | (uint32_t)(p ? p - b64chars : 62 + (q - std));
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (unsigned char)(v >> bits);
        }
    }
    return (long)o;
}

/* Derives the token key from the link key into out; returns its length. */
static size_t token_key(const char *key, size_t key_len, char *out, size_t cap)
{
    static const char sep[] = "\0actiongap attribution";
    size_t n = key_len < cap - sizeof sep ? key_len : cap - sizeof sep;
    memcpy(out, key, n);
    memcpy(out + n, sep, sizeof sep - 1);
    return n + sizeof sep - 1;
}

/* Writes a's token into out. Returns its length, or -1. */
long proto_attr_token(const char *key, size_t key_len, const proto_attr *a, char *out,
                      size_t cap)
{
    char q[512], canon[512], kbuf[320], sig[PROTO_SIG_LEN + 1];
    size_t n = 0;
    const char *names[3] = {"c", "ref", "s"}, *vals[3] = {a->campaign, a->ref, a->subject};
    if (!a->campaign[0] || !key_len)
        return -1;
    for (int i = 0; i < 3; i++) {
        if (!vals[i][0])
            continue;
        int w = snprintf(q + n, sizeof q - n, "%s%s=", n ? "&" : "", names[i]);
        if (w < 0 || (size_t)w >= sizeof q - n)
            return -1;
        n += (size_t)w;
        long e = proto_url_encode(q + n, sizeof q - n, vals[i], strlen(vals[i]));
        if (e < 0)
            return -1;
        n += (size_t)e;
    }
    long cl = proto_sign_canonical(canon, sizeof canon, q, n);
    size_t kl = token_key(key, key_len, kbuf, sizeof kbuf);
    if (cl < 0 || proto_sign_query(kbuf, kl, canon, (size_t)cl, sig) < 0)
        return -1;
    long el = b64url_enc((const unsigned char *)canon, (size_t)cl, out, cap);
    if (el < 0 || (size_t)el + 1 + PROTO_SIG_LEN + 1 > cap)
        return -1;
    out[el] = '.';
    memcpy(out + el + 1, sig, PROTO_SIG_LEN + 1);
    return el + 1 + PROTO_SIG_LEN;
}

/* Checks a token and fills a. Returns 1 if valid, else 0. */
int proto_attr_verify(const char *key, size_t key_len, const char *token, size_t len,
                      proto_attr *a)
{
    unsigned char payload[400];
    char kbuf[320], sig[PROTO_SIG_LEN + 1];
    const char *dot = memchr(token, '.', len);
    memset(a, 0, sizeof *a);
    if (!key_len || !dot || (size_t)(token + len - dot - 1) != PROTO_SIG_LEN)
        return 0;
    long pl = proto_sign_b64_decode(token, (size_t)(dot - token), 0, payload, sizeof payload - 1);
    if (pl <= 0)
        return 0;
    size_t kl = token_key(key, key_len, kbuf, sizeof kbuf);
    if (proto_sign_query(kbuf, kl, (const char *)payload, (size_t)pl, sig) < 0 ||
        CRYPTO_memcmp(sig, dot + 1, PROTO_SIG_LEN) != 0)
        return 0;
    proto_hit h;
    proto_hit_init(&h);
    if (proto_hit_parse_query(&h, (const char *)payload, (size_t)pl) != PROTO_OK || !h.campaign[0])
        return 0;
    snprintf(a->campaign, sizeof a->campaign, "%s", h.campaign);
    snprintf(a->ref, sizeof a->ref, "%s", h.ref);
    snprintf(a->subject, sizeof a->subject, "%s", h.subject);
    return 1;
}
