/* test_proto_url.c: unit tests of proto/url.c — decoding, encoding, splitting, redirect targets. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"
#include "guard.h"

/* Decodes a NUL-terminated string with '+' as space; returns decode's result. */
static long dec(char *dst, size_t cap, const char *s)
{
    return proto_url_decode(dst, cap, s, strlen(s), 1);
}

/* Decodes plain text, escapes and UTF-8; fails on a wrong result. */
START_TEST(decode_plain_and_escapes)
{
    char out[64];
    long n = dec(out, sizeof out, "a%20b+c%2Bd%7e");
    ck_assert_int_eq(n, 8);
    ck_assert_mem_eq(out, "a b c+d~", 8);
    n = dec(out, sizeof out, "%C3%A9t%C3%A9");    /* "été" */
    ck_assert_int_eq(n, 5);
    ck_assert_mem_eq(out, "\xC3\xA9t\xC3\xA9", 5);
    n = dec(out, sizeof out, "%F0%9F%98%80");     /* U+1F600 */
    ck_assert_int_eq(n, 4);
    n = dec(out, sizeof out, "");
    ck_assert_int_eq(n, 0);
    /* lower-case hex is accepted */
    n = dec(out, sizeof out, "%2f%2F");
    ck_assert_int_eq(n, 2);
    ck_assert_mem_eq(out, "//", 2);
}
END_TEST

/* Checks '+' stays literal when plus_is_space is 0; fails otherwise. */
START_TEST(decode_plus_literal)
{
    char out[8];
    ck_assert_int_eq(proto_url_decode(out, sizeof out, "a+b", 3, 0), 3);
    ck_assert_mem_eq(out, "a+b", 3);
}
END_TEST

/* Checks malformed escapes and NUL are refused; fails if one passes. */
START_TEST(decode_rejects_bad_escapes)
{
    char out[64];
    ck_assert_int_eq(dec(out, sizeof out, "%"), -1);
    ck_assert_int_eq(dec(out, sizeof out, "%4"), -1);
    ck_assert_int_eq(dec(out, sizeof out, "abc%"), -1);
    ck_assert_int_eq(dec(out, sizeof out, "abc%2"), -1);
    ck_assert_int_eq(dec(out, sizeof out, "%G1"), -1);
    ck_assert_int_eq(dec(out, sizeof out, "%1G"), -1);
    ck_assert_int_eq(dec(out, sizeof out, "%%41"), -1);
    ck_assert_int_eq(dec(out, sizeof out, "%00"), -1);      /* decoded NUL */
}
END_TEST

/* Checks invalid UTF-8 is refused and valid passes; fails on a wrong verdict. */
START_TEST(decode_rejects_bad_utf8)
{
    char out[64];
    ck_assert_int_eq(dec(out, sizeof out, "%C0%AF"), -1);          /* overlong '/' */
    ck_assert_int_eq(dec(out, sizeof out, "%E0%80%AF"), -1);       /* overlong */
    ck_assert_int_eq(dec(out, sizeof out, "%F0%80%80%AF"), -1);    /* overlong */
    ck_assert_int_eq(dec(out, sizeof out, "%ED%A0%80"), -1);       /* surrogate D800 */
    ck_assert_int_eq(dec(out, sizeof out, "%F4%90%80%80"), -1);    /* > U+10FFFF */
    ck_assert_int_eq(dec(out, sizeof out, "%C3"), -1);             /* truncated */
    ck_assert_int_eq(dec(out, sizeof out, "%E2%82"), -1);          /* truncated */
    ck_assert_int_eq(dec(out, sizeof out, "%80"), -1);             /* stray continuation */
    ck_assert_int_eq(dec(out, sizeof out, "%FF"), -1);
    ck_assert_int_eq(dec(out, sizeof out, "\xC3("), -1);           /* raw invalid */
    ck_assert_int_eq(dec(out, sizeof out, "%C3%28"), -1);
    ck_assert_int_eq(dec(out, sizeof out, "%E2%82%AC"), 3);        /* euro sign ok */
    ck_assert_int_eq(dec(out, sizeof out, "%F4%8F%BF%BF"), 4);     /* U+10FFFF ok */
}
END_TEST

/* Checks the -2 result and validate-only mode; fails on a wrong result. */
START_TEST(decode_small_dst_and_validate_only)
{
    char out[4];
    ck_assert_int_eq(dec(out, sizeof out, "abcd"), 4);
    ck_assert_int_eq(dec(out, sizeof out, "abcde"), -2);
    ck_assert_int_eq(proto_url_decode(NULL, 0, "abc%41%42", 9, 1), 5);
    ck_assert_int_eq(proto_url_decode(NULL, 0, "abc%4", 5, 1), -1);
}
END_TEST

/* Decodes inputs that end at a PROT_NONE page; crashes on any over-read. */
START_TEST(decode_guard_page)
{
    static const char *cases[] = { "abc%", "abc%4", "abc%41", "%C3", "a+b", "%E2%82%AC", "x" };
    char out[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i]);
        char *p = guarded(cases[i], len);
        ck_assert_ptr_nonnull(p);
        long want = proto_url_decode(out, sizeof out, cases[i], len, 1);
        ck_assert_int_eq(proto_url_decode(out, sizeof out, p, len, 1), want);
        ck_assert_int_eq(proto_url_decode(NULL, 0, p, len, 1), want);
        proto_url_pair pairs[4];
        ck_assert_int_ge(proto_url_split(p, len, pairs, 4), 1);
        char host[64];
        ck_assert_int_eq(proto_url_target(p, len, host, sizeof host), -1);
    }
    /* a valid target ending at the guard */
    const char *u = "https://example.org:8443";
    char host[64];
    char *p = guarded(u, strlen(u));
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(proto_url_target(p, strlen(u), host, sizeof host), 0);
    ck_assert_str_eq(host, "example.org");
}
END_TEST

/* Checks RFC 3986 encoding and its buffer limits; fails on a wrong result. */
START_TEST(encode_rfc3986)
{
    char out[64];
    ck_assert_int_eq(proto_url_encode(out, sizeof out, "aZ09-._~", 8), 8);
    ck_assert_str_eq(out, "aZ09-._~");
    ck_assert_int_eq(proto_url_encode(out, sizeof out, "a b/+&=\xC3\xA9", 9), 23);
    ck_assert_str_eq(out, "a%20b%2F%2B%26%3D%C3%A9");
    ck_assert_int_eq(proto_url_encode(out, sizeof out, "", 0), 0);
    ck_assert_str_eq(out, "");
    /* exact fit and one short */
    ck_assert_int_eq(proto_url_encode(out, 4, " ", 1), 3);
    ck_assert_int_eq(proto_url_encode(out, 3, " ", 1), -1);
    ck_assert_int_eq(proto_url_encode(out, 2, "ab", 2), -1);
    ck_assert_int_eq(proto_url_encode(out, 3, "ab", 2), 2);
}
END_TEST

/* Checks query splitting, empty segments and the cap; fails on a wrong pair. */
START_TEST(split_pairs)
{
    proto_url_pair p[8];
    const char *q = "a=1&&b=&c&=x&d=2=3&";
    int n = proto_url_split(q, strlen(q), p, 8);
    ck_assert_int_eq(n, 5);
    ck_assert_int_eq(p[0].name_len, 1);
    ck_assert_mem_eq(p[0].name, "a", 1);
    ck_assert_mem_eq(p[0].value, "1", 1);
    ck_assert_int_eq(p[1].value_len, 0);
    ck_assert_mem_eq(p[2].name, "c", 1);
    ck_assert_int_eq(p[2].value_len, 0);
    ck_assert_int_eq(p[3].name_len, 0);
    ck_assert_mem_eq(p[3].value, "x", 1);
    ck_assert_int_eq(p[4].value_len, 3);
    ck_assert_mem_eq(p[4].value, "2=3", 3);
    ck_assert_int_eq(proto_url_split("", 0, p, 8), 0);
    ck_assert_int_eq(proto_url_split("&&&", 3, p, 8), 0);
    ck_assert_int_eq(proto_url_split("a&b&c", 5, p, 2), -1);
    ck_assert_int_eq(proto_url_split("a&b", 3, p, 2), 2);
}
END_TEST

/* Runs proto_url_target on a NUL-terminated URL; returns its result. */
static int target(const char *u, char *host, size_t cap)
{
    return proto_url_target(u, strlen(u), host, cap);
}

/* Checks valid redirect targets and their hosts; fails on a refusal. */
START_TEST(target_accepts)
{
    char h[256];
    ck_assert_int_eq(target("https://example.org/", h, sizeof h), 0);
    ck_assert_str_eq(h, "example.org");
    ck_assert_int_eq(target("http://Example.ORG", h, sizeof h), 0);
    ck_assert_str_eq(h, "example.org");
    ck_assert_int_eq(target("HTTPS://www.example.org:8443/a/b?x=1&y=2#frag", h, sizeof h), 0);
    ck_assert_str_eq(h, "www.example.org");
    ck_assert_int_eq(target("https://example.org?q=1", h, sizeof h), 0);
    ck_assert_int_eq(target("https://example.org#top", h, sizeof h), 0);
    ck_assert_int_eq(target("https://example.org/path@with-at", h, sizeof h), 0);
    ck_assert_str_eq(h, "example.org");
    ck_assert_int_eq(target("http://[2001:DB8::1]:8080/x", h, sizeof h), 0);
    ck_assert_str_eq(h, "2001:db8::1");
    ck_assert_int_eq(target("http://[::1]", h, sizeof h), 0);
    ck_assert_str_eq(h, "::1");
    ck_assert_int_eq(target("http://192.0.2.1:80/", h, sizeof h), 0);
    ck_assert_str_eq(h, "192.0.2.1");
    ck_assert_int_eq(target("https://a.example:65535", h, sizeof h), 0);
    ck_assert_int_eq(target("https://example.org/%7Euser", h, sizeof h), 0);
}
END_TEST

/* Checks every refused redirect form; fails if one is accepted. */
START_TEST(target_refuses)
{
    static const char *bad[] = {
        "//evil.example",
        "//evil.example/path",
        "/local/path",
        "evil.example",
        "https://allowed.example@evil.example",
        "https://allowed.example:pw@evil.example/",
        "https://@evil.example",
        "https:\\\\evil.example",
        "https://evil.example\\@allowed.example",
        "https://allowed.example/\\evil",
        "javascript:alert(1)",
        "JavaScript://example.org/%0Aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://example.org/",
        "file:///etc/passwd",
        "http:///x",
        "https://",
        "http://",
        "https:example.org",
        "https:/example.org",
        "https://exa mple.org/",
        "https://example.org/ x",
        "https://example.org/\r\nSet-Cookie: x",
        "https://example.org/\n",
        "https://example.org/\t",
        "https://example.org\x7f/",
        "https://ex_ample.org/",
        "https://ex%41mple.org/",
        "https://exämple.org/",
        "https://[::1/",
        "https://[]/",
        "https://[not-v6]/",
        "https://[::1]x/",
        "https://example.org:/",
        "https://example.org:99999/",
        "https://example.org:123456/",
        "https://example.org:8a/",
        " https://example.org/",
        "",
    };
    char h[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(target(bad[i], h, sizeof h) == -1, "accepted %s", bad[i]);
    /* control byte and NUL inside the given length */
    ck_assert_int_eq(proto_url_target("https://a.org/\0x", 16, h, sizeof h), -1);
    /* length limit: 2048 ok, 2049 refused */
    char *u = malloc(2050);
    ck_assert_ptr_nonnull(u);
    memcpy(u, "https://example.org/", 20);
    memset(u + 20, 'a', 2030);
    ck_assert_int_eq(proto_url_target(u, 2048, h, sizeof h), 0);
    ck_assert_int_eq(proto_url_target(u, 2049, h, sizeof h), -1);
    free(u);
    /* host buffer too small */
    ck_assert_int_eq(target("https://example.org/", h, 5), -1);
    ck_assert_int_eq(target("https://example.org/", h, 12), 0);
}
END_TEST

/* Checks allow-list matching; fails on a wrong verdict. */
START_TEST(host_allow_list)
{
    const char *list = "example.org, .trusted.net ,Other.COM";
    ck_assert_int_eq(proto_url_host_allowed("example.org", list), 1);
    ck_assert_int_eq(proto_url_host_allowed("EXAMPLE.org", list), 1);
    ck_assert_int_eq(proto_url_host_allowed("other.com", list), 1);
    ck_assert_int_eq(proto_url_host_allowed("www.example.org", list), 0);
    ck_assert_int_eq(proto_url_host_allowed("example.org.evil", list), 0);
    ck_assert_int_eq(proto_url_host_allowed("trusted.net", list), 1);
    ck_assert_int_eq(proto_url_host_allowed("a.b.trusted.net", list), 1);
    ck_assert_int_eq(proto_url_host_allowed("eviltrusted.net", list), 0);
    ck_assert_int_eq(proto_url_host_allowed("trusted.net.evil", list), 0);
    ck_assert_int_eq(proto_url_host_allowed("", list), 0);
    ck_assert_int_eq(proto_url_host_allowed("example.org", ""), 0);
    ck_assert_int_eq(proto_url_host_allowed("example.org", ",,"), 0);
    ck_assert_int_eq(proto_url_host_allowed("x", "*"), 0);
}
END_TEST

/* Builds the url suite; never fails. */
static Suite *url_suite(void)
{
    Suite *s = suite_create("proto_url");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, decode_plain_and_escapes);
    tcase_add_test(tc, decode_plus_literal);
    tcase_add_test(tc, decode_rejects_bad_escapes);
    tcase_add_test(tc, decode_rejects_bad_utf8);
    tcase_add_test(tc, decode_small_dst_and_validate_only);
    tcase_add_test(tc, decode_guard_page);
    tcase_add_test(tc, encode_rfc3986);
    tcase_add_test(tc, split_pairs);
    tcase_add_test(tc, target_accepts);
    tcase_add_test(tc, target_refuses);
    tcase_add_test(tc, host_allow_list);
    suite_add_tcase(s, tc);
    return s;
}

/* Runs the suite; returns non-zero if any test failed. */
int main(void)
{
    return unit_run(url_suite());
}
