/* test_proto_sign.c: unit tests of proto/sign.c — canonical query and link signatures (SPEC 6). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hit.h"
#include "sign.h"
#include "guard.h"

static const char KEY[] = "s3cret-signing-key";

/* Computes the expected signature independently: OpenSSL's one-shot HMAC
 * over canon, first 16 bytes, standard base64 turned into base64url without
 * padding. Never fails (asserts instead). */
static void expected_sig(const char *key, const char *canon, char out[23])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    unsigned char b64[64];
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), key, (int)strlen(key),
                               (const unsigned char *)canon, strlen(canon), md, &mdlen));
    ck_assert_uint_eq(mdlen, 32);
    int n = EVP_EncodeBlock(b64, md, 16);          /* 24 chars, "==" padded */
    ck_assert_int_eq(n, 24);
    ck_assert_int_eq(b64[22], '=');
    ck_assert_int_eq(b64[23], '=');
    for (int i = 0; i < 22; i++)
        out[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
    out[22] = '\0';
}

/* Canonicalises a NUL-terminated query; returns proto_sign_canonical's result. */
static long canon(char *dst, size_t cap, const char *q)
{
    return proto_sign_canonical(dst, cap, q, strlen(q));
}

/* Checks canonical queries written by hand; fails on any difference. */
START_TEST(canonical_known)
{
    char c[512];
    /* unsorted, '+' as space, lower-case escapes, a sig to drop, reserved characters */
    const char *q = "to=https%3a%2F%2Fexample.org%2Fa%3Fb%3D1&c=spring&sig=AAAAAAAAAAAAAAAAAAAAAA"
                    "&ref=ann&s=J%C3%BCrgen+M%C3%BCller&e=click";
    const char *want = "c=spring&e=click&ref=ann&s=J%C3%BCrgen%20M%C3%BCller"
                       "&to=https%3A%2F%2Fexample.org%2Fa%3Fb%3D1";
    ck_assert_int_eq(canon(c, sizeof c, q), (long)strlen(want));
    ck_assert_str_eq(c, want);
    /* unreserved characters stay; '~' encoded on input is decoded then kept */
    ck_assert_int_eq(canon(c, sizeof c, "x=a-b.c_d%7Ee&w=%21%2A"), 20);
    ck_assert_str_eq(c, "w=%21%2A&x=a-b.c_d~e");
    /* sorted by name, then by value; bare names get '=' */
    ck_assert_int_gt(canon(c, sizeof c, "b=2&a=z&b=1&a=y&flag"), 0);
    ck_assert_str_eq(c, "a=y&a=z&b=1&b=2&flag=");
    /* a name that is a prefix of another sorts first */
    ck_assert_int_gt(canon(c, sizeof c, "ch=web&c=x"), 0);
    ck_assert_str_eq(c, "c=x&ch=web");
    /* empty query, only sig */
    ck_assert_int_eq(canon(c, sizeof c, ""), 0);
    ck_assert_str_eq(c, "");
    ck_assert_int_eq(canon(c, sizeof c, "sig=abc"), 0);
}
END_TEST

/* Checks canonicalisation failures; fails if one succeeds. */
START_TEST(canonical_errors)
{
    char c[16];
    ck_assert_int_eq(canon(c, sizeof c, "a=%zz"), -1);
    ck_assert_int_eq(canon(c, sizeof c, "a=%C3"), -1);
    ck_assert_int_eq(canon(c, sizeof c, "%00=1"), -1);
    ck_assert_int_eq(canon(c, sizeof c, "a=0123456789abcd"), -1);     /* too small */
    ck_assert_int_eq(canon(c, sizeof c, "a=0123456789abc"), 15);      /* exact fit */
    /* more than PROTO_PARAMS_MAX parameters */
    char q[PROTO_PARAMS_MAX * 8 + 8];
    q[0] = '\0';
    for (int i = 0; i <= PROTO_PARAMS_MAX; i++) {
        char one[16];
        snprintf(one, sizeof one, "%sp%d=1", i ? "&" : "", i);
        strcat(q, one);
    }
    char big[4096];
    ck_assert_int_eq(canon(big, sizeof big, q), -1);
    char out[23];
    ck_assert_int_eq(proto_sign_query(KEY, strlen(KEY), q, strlen(q), out), -1);
}
END_TEST

/* Compares signatures with OpenSSL HMAC computed here; fails on a mismatch. */
START_TEST(sign_fixed_vector)
{
    const char *q = "c=spring&e=click&to=https%3A%2F%2Fexample.org%2Fdonate&ref=ann";
    const char *hand = "c=spring&e=click&ref=ann&to=https%3A%2F%2Fexample.org%2Fdonate";
    char c[256], got[23], want[23];
    ck_assert_int_gt(canon(c, sizeof c, q), 0);
    ck_assert_str_eq(c, hand);
    expected_sig(KEY, hand, want);
    ck_assert_int_eq(proto_sign_query(KEY, strlen(KEY), q, strlen(q), got), 0);
    ck_assert_int_eq((int)strlen(got), PROTO_SIG_LEN);
    ck_assert_str_eq(got, want);
    /* a long query (canonical larger than any internal chunk) */
    char lq[3000], lc[4000];
    strcpy(lq, "c=x&n=");
    size_t l = strlen(lq);
    for (int i = 0; i < 600; i++) {
        memcpy(lq + l, "%2F+", 4);
        l += 4;
    }
    lq[l] = '\0';
    ck_assert_int_gt(canon(lc, sizeof lc, lq), 512);
    expected_sig(KEY, lc, want);
    ck_assert_int_eq(proto_sign_query(KEY, strlen(KEY), lq, strlen(lq), got), 0);
    ck_assert_str_eq(got, want);
    /* an empty key is refused */
    ck_assert_int_eq(proto_sign_query("", 0, q, strlen(q), got), -1);
}
END_TEST

/* Appends &sig=<signature of q> to q into out; never fails (asserts). */
static void signed_url(const char *q, char *out, size_t cap)
{
    char s[23];
    ck_assert_int_eq(proto_sign_query(KEY, strlen(KEY), q, strlen(q), s), 0);
    ck_assert_int_lt(snprintf(out, cap, "%s&sig=%s", q, s), (int)cap);
}

/* Verifies a NUL-terminated query with KEY; returns proto_sign_verify's result. */
static int verify(const char *q)
{
    return proto_sign_verify(KEY, strlen(KEY), q, strlen(q));
}

/* Checks signed links verify and tampered ones do not; fails otherwise. */
START_TEST(verify_roundtrip_and_tamper)
{
    char u[512];
    const char *q = "c=spring&e=click&to=https%3A%2F%2Fexample.org%2F&s=42";
    signed_url(q, u, sizeof u);
    ck_assert_int_eq(verify(u), 1);
    /* tampered value */
    char t[600];
    strcpy(t, u);
    char *p = strstr(t, "s=42");
    p[2] = '3';
    ck_assert_int_eq(verify(t), 0);
    /* tampered target */
    strcpy(t, u);
    p = strstr(t, "example.org");
    p[0] = 'E' == p[0] ? 'e' : 'x';
    ck_assert_int_eq(verify(t), 0);
    /* added parameter */
    snprintf(t, sizeof t, "%s&v=100", u);
    ck_assert_int_eq(verify(t), 0);
    /* tampered signature (one character) */
    strcpy(t, u);
    p = strstr(t, "sig=") + 4;
    p[0] = p[0] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(verify(t), 0);
    /* wrong key */
    ck_assert_int_eq(proto_sign_verify("other", 5, u, strlen(u)), 0);
}
END_TEST

/* Checks reordered, re-encoded parameters still verify; fails otherwise. */
START_TEST(verify_reordered_and_reencoded)
{
    char s[23], u[512];
    const char *q = "c=spring&e=click&to=https%3A%2F%2Fexample.org%2F&s=Ann+Lee";
    ck_assert_int_eq(proto_sign_query(KEY, strlen(KEY), q, strlen(q), s), 0);
    /* same parameters, another order, sig first, other escapes for the same bytes */
    snprintf(u, sizeof u, "sig=%s&s=Ann%%20Lee&to=https%%3a%%2f%%2fexample%%2Eorg%%2F&e=click&c=spring", s);
    ck_assert_int_eq(verify(u), 1);
    /* sig in the middle */
    snprintf(u, sizeof u, "e=click&sig=%s&c=spring&s=Ann+Lee&to=https%%3A%%2F%%2Fexample.org%%2F", s);
    ck_assert_int_eq(verify(u), 1);
}
END_TEST

/* Checks sig is not signed and bad sigs are refused; fails otherwise. */
START_TEST(verify_sig_excluded_and_missing)
{
    const char *q = "c=spring&e=click";
    char s1[23], s2[23], u[256];
    /* sig does not take part in the canonical form */
    ck_assert_int_eq(proto_sign_query(KEY, strlen(KEY), q, strlen(q), s1), 0);
    snprintf(u, sizeof u, "%s&sig=ZZZZZZZZZZZZZZZZZZZZZZ", q);
    ck_assert_int_eq(proto_sign_query(KEY, strlen(KEY), u, strlen(u), s2), 0);
    ck_assert_str_eq(s1, s2);
    /* absent, empty, short, long, doubled signatures */
    ck_assert_int_eq(verify(q), 0);
    ck_assert_int_eq(verify("c=spring&e=click&sig="), 0);
    snprintf(u, sizeof u, "%s&sig=%.21s", q, s1);
    ck_assert_int_eq(verify(u), 0);
    snprintf(u, sizeof u, "%s&sig=%sA", q, s1);
    ck_assert_int_eq(verify(u), 0);
    snprintf(u, sizeof u, "%s&sig=%s&sig=%s", q, s1, s1);
    ck_assert_int_eq(verify(u), 0);
    /* bad encoding anywhere: not valid */
    snprintf(u, sizeof u, "%s&x=%%zz&sig=%s", q, s1);
    ck_assert_int_eq(verify(u), 0);
    /* the good one */
    snprintf(u, sizeof u, "%s&sig=%s", q, s1);
    ck_assert_int_eq(verify(u), 1);
}
END_TEST

/* Builds the sign suite; never fails. */
/* Checks attribution tokens: a round trip, and that a changed byte of the
 * payload or signature, another key, or a link signature do not verify;
 * fails otherwise. */
START_TEST(attribution_tokens)
{
    const char *key = "k3y";
    proto_attr a = {.campaign = "spring", .ref = "ann", .subject = "contact 42/é"}, b;
    char tok[400];
    long n = proto_attr_token(key, 3, &a, tok, sizeof tok);
    ck_assert_int_gt(n, 0);
    ck_assert_uint_eq(strlen(tok), (size_t)n);
    ck_assert_ptr_nonnull(strchr(tok, '.'));
    ck_assert_int_eq(proto_attr_verify(key, 3, tok, (size_t)n, &b), 1);
    ck_assert_str_eq(b.campaign, "spring");
    ck_assert_str_eq(b.ref, "ann");
    ck_assert_str_eq(b.subject, "contact 42/é");
    /* another key: no */
    ck_assert_int_eq(proto_attr_verify("k3z", 3, tok, (size_t)n, &b), 0);
    ck_assert_str_eq(b.ref, "");
    /* a hand-edited payload (ann -> bob) keeps its old signature: no */
    proto_attr c = {.campaign = "spring", .ref = "bob"};
    char other[400];
    long m = proto_attr_token(key, 3, &c, other, sizeof other);
    ck_assert_int_gt(m, 0);
    char forged[800];
    const char *dot = strchr(other, '.'), *mydot = strchr(tok, '.');
    snprintf(forged, sizeof forged, "%.*s%s", (int)(dot - other), other, mydot);
    ck_assert_int_eq(proto_attr_verify(key, 3, forged, strlen(forged), &b), 0);
    /* a changed signature character: no */
    tok[n - 1] = tok[n - 1] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(proto_attr_verify(key, 3, tok, (size_t)n, &b), 0);
    /* a link signature of the same query is not a token signature */
    char canon[200], sig[23], link[400];
    long cl = proto_sign_canonical(canon, sizeof canon, "c=spring&ref=bob", 16);
    ck_assert_int_gt(cl, 0);
    ck_assert_int_eq(proto_sign_query(key, 3, canon, (size_t)cl, sig), 0);
    snprintf(link, sizeof link, "%.*s.%s", (int)(dot - other), other, sig);
    ck_assert_int_eq(proto_attr_verify(key, 3, link, strlen(link), &b), 0);
    /* garbage */
    ck_assert_int_eq(proto_attr_verify(key, 3, "x.y", 3, &b), 0);
    ck_assert_int_eq(proto_attr_verify(key, 3, "", 0, &b), 0);
    /* no campaign, or no key: no token */
    proto_attr none = {.ref = "ann"};
    ck_assert_int_eq(proto_attr_token(key, 3, &none, tok, sizeof tok), -1);
    ck_assert_int_eq(proto_attr_token("", 0, &a, tok, sizeof tok), -1);
    ck_assert_int_eq(proto_attr_token(key, 3, &a, tok, 20), -1);
}
END_TEST

static Suite *sign_suite(void)
{
    Suite *s = suite_create("proto_sign");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, canonical_known);
    tcase_add_test(tc, canonical_errors);
    tcase_add_test(tc, sign_fixed_vector);
    tcase_add_test(tc, verify_roundtrip_and_tamper);
    tcase_add_test(tc, verify_reordered_and_reencoded);
    tcase_add_test(tc, verify_sig_excluded_and_missing);
    tcase_add_test(tc, attribution_tokens);
    suite_add_tcase(s, tc);
    return s;
}

/* Runs the suite; returns non-zero if any test failed. */
int main(void)
{
    return unit_run(sign_suite());
}
