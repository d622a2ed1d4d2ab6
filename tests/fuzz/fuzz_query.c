/* fuzz_query.c: libFuzzer target for query strings — proto_url_split,
 * proto_url_decode and proto_hit_parse_query + proto_hit_finish per via. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "hit.h"
#include "url.h"

/* Checks proto_url_decode's contract on src in both '+' modes: validation
 * alone, an exact-size destination, and a destination one byte short. */
static void check_decode(const char *src, size_t len)
{
    static char dst[8192 + 1];
    for (int plus = 0; plus < 2; plus++) {
        long n = proto_url_decode(NULL, 0, src, len, plus);
        FUZZ_CHECK(n >= -1 && n <= (long)len);
        if (n < 0) {
            FUZZ_CHECK(proto_url_decode(dst, sizeof dst, src, len, plus) == -1);
            continue;
        }
        FUZZ_CHECK(proto_url_decode(dst, (size_t)n, src, len, plus) == n);
        FUZZ_CHECK(memchr(dst, 0, (size_t)n) == NULL);  /* a decoded NUL is rejected */
        if (n > 0)
            FUZZ_CHECK(proto_url_decode(dst, (size_t)n - 1, src, len, plus) == -2);
        /* re-encoding then decoding gives the same bytes back */
        static char enc[3 * 8192 + 1], back[8192];
        long e = proto_url_encode(enc, sizeof enc, dst, (size_t)n);
        FUZZ_CHECK(e >= n);
        FUZZ_CHECK(proto_url_decode(back, sizeof back, enc, (size_t)e, 0) == n);
        FUZZ_CHECK(memcmp(back, dst, (size_t)n) == 0);
    }
}

/* Checks that every split pair lies inside q and holds no '&'. */
static void check_split(const char *q, size_t len)
{
    proto_url_pair pairs[PROTO_PARAMS_MAX];
    int n = proto_url_split(q, len, pairs, PROTO_PARAMS_MAX);
    FUZZ_CHECK(n >= -1 && n <= PROTO_PARAMS_MAX);
    for (int i = 0; i < n; i++) {
        const proto_url_pair *p = &pairs[i];
        if (p->name_len)
            FUZZ_CHECK(p->name >= q && p->name + p->name_len <= q + len);
        FUZZ_CHECK(memchr(p->name, '&', p->name_len) == NULL);
        FUZZ_CHECK(memchr(p->name, '=', p->name_len) == NULL);
        if (p->value_len) {
            FUZZ_CHECK(p->value >= q && p->value + p->value_len <= q + len);
            FUZZ_CHECK(memchr(p->value, '&', p->value_len) == NULL);
        }
        check_decode(p->name, p->name_len);
        check_decode(p->value, p->value_len);
    }
    /* a smaller max must fail exactly when there are more pairs */
    if (n > 1)
        FUZZ_CHECK(proto_url_split(q, len, pairs, n - 1) == -1);
}

/* Runs one input as a query string: decode, split, parse, finish per via. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *q = (const char *)data;
    proto_hit parsed, hit;

    if (size > 8192)
        return 0;
    check_decode(q, size);
    check_split(q, size);

    proto_hit_init(&parsed);
    proto_reason r = proto_hit_parse_query(&parsed, q, size);
    FUZZ_CHECK(r >= PROTO_OK && r < PROTO_REASON_COUNT);
    FUZZ_CHECK(proto_reason_name(r) != NULL);
    fuzz_check_hit_strings(&parsed);
    if (r != PROTO_OK)
        return 0;
    for (int via = 0; via < PROTO_VIA_COUNT; via++) {
        memcpy(&hit, &parsed, sizeof hit);
        proto_reason f = proto_hit_finish(&hit, (proto_via)via);
        FUZZ_CHECK(f >= PROTO_OK && f < PROTO_REASON_COUNT);
        if (f == PROTO_OK)
            fuzz_check_finished(&hit, (proto_via)via);
        else
            fuzz_check_hit_strings(&hit);
    }
    return 0;
}
