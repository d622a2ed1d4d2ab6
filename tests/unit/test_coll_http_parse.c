/* test_coll_http_parse.c: unit tests of the collector's HTTP parser and chunk
 * decoder, with inputs against a guard page (guard.h). */
#include "http.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"

/* Parses n bytes of s placed against the guard page; returns the result. */
static int gp(const char *s, size_t n, size_t max_line, size_t max_header, coll_http_req *r)
{
    return coll_http_parse(guarded(s, n), n, max_line, max_header, r);
}

/* Parses the string s with the SPEC limits (8 KiB); returns the result. */
static int gps(const char *s, coll_http_req *r)
{
    return gp(s, strlen(s), 8192, 8192, r);
}

/* ---- parser: accepted requests ---- */

START_TEST(parse_get_query)
{
    const char *s = "GET /p.gif?c=camp&e=open HTTP/1.1\r\nHost: example.org\r\n"
                    "User-Agent: Mozilla/5.0 (X11)\r\nX-Forwarded-For: 10.0.0.1, 10.0.0.2\r\n"
                    "DNT: 1\r\nSec-GPC: 1\r\nOrigin: https://a.example\r\n"
                    "Authorization: Bearer t0k\r\n\r\n";
    coll_http_req r;

    ck_assert_int_eq(gps(s, &r), (int)strlen(s));
    ck_assert_int_eq(r.method, COLL_M_GET);
    ck_assert(seq(r.method_str, r.method_len, "GET"));
    ck_assert(seq(r.path, r.path_len, "/p.gif"));
    ck_assert(seq(r.query, r.query_len, "c=camp&e=open"));
    ck_assert_int_eq(r.minor, 1);
    ck_assert_int_eq(r.keep_alive, 1);
    ck_assert(seq(r.host, r.host_len, "example.org"));
    ck_assert(seq(r.user_agent, r.user_agent_len, "Mozilla/5.0 (X11)"));
    ck_assert(seq(r.xff, r.xff_len, "10.0.0.1, 10.0.0.2"));
    ck_assert(seq(r.dnt, r.dnt_len, "1"));
    ck_assert(seq(r.sec_gpc, r.sec_gpc_len, "1"));
    ck_assert(seq(r.origin, r.origin_len, "https://a.example"));
    ck_assert(seq(r.authorization, r.authorization_len, "Bearer t0k"));
    ck_assert_ptr_null(r.content_type);
    ck_assert_ptr_null(r.acr_headers);
    ck_assert_int_eq(r.content_length, -1);
    ck_assert_int_eq(r.chunked, 0);
    ck_assert_int_eq(r.expect_continue, 0);
    ck_assert_uint_eq(r.header_bytes, strlen(s));
    ck_assert_ptr_null(r.body);
    ck_assert_ptr_null(r.peer);
    /* path and query split at the first '?'; no '?' gives an empty query */
    ck_assert_int_gt(gps("GET /x HTTP/1.1\r\n\r\n", &r), 0);
    ck_assert(seq(r.path, r.path_len, "/x"));
    ck_assert_ptr_nonnull(r.query);
    ck_assert_uint_eq(r.query_len, 0);
    ck_assert_int_gt(gps("GET /x? HTTP/1.1\r\n\r\n", &r), 0);
    ck_assert(seq(r.path, r.path_len, "/x"));
    ck_assert_uint_eq(r.query_len, 0);
    ck_assert_int_gt(gps("GET /r?to=a?b&c HTTP/1.1\r\n\r\n", &r), 0);
    ck_assert(seq(r.path, r.path_len, "/r"));
    ck_assert(seq(r.query, r.query_len, "to=a?b&c"));
}
END_TEST

START_TEST(parse_bodies_and_expect)
{
    const char *h = "POST /b HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\n"
                    "Content-Length: 11\r\n\r\n";
    char s[256];
    coll_http_req r;

    snprintf(s, sizeof(s), "%shello world", h);
    ck_assert_int_eq(gps(s, &r), (int)strlen(h));   /* the body is not the head's */
    ck_assert_int_eq(r.method, COLL_M_POST);
    ck_assert_int_eq(r.content_length, 11);
    ck_assert(seq(r.content_type, r.content_type_len, "text/plain"));
    ck_assert_int_eq(gps("POST /b HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r), 39);
    ck_assert_int_eq(r.content_length, 0);
    ck_assert_int_gt(gps("POST /b HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\n", &r), 0);
    ck_assert(r.content_length == INT64_MAX);
    ck_assert_int_gt(gps("POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                         "Expect: 100-continue\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.chunked, 1);
    ck_assert_int_eq(r.content_length, -1);
    ck_assert_int_eq(r.expect_continue, 1);
    ck_assert_int_gt(gps("POST /b HTTP/1.1\r\ntransfer-encoding: Chunked\r\n"
                         "EXPECT: 100-Continue\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.chunked, 1);
    ck_assert_int_eq(r.expect_continue, 1);
    ck_assert_int_gt(gps("POST /b HTTP/1.1\r\nExpect: something\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.expect_continue, 0);
}
END_TEST

START_TEST(parse_keep_alive_rules)
{
    static const struct { const char *s; int minor, ka; } t[] = {
        { "GET / HTTP/1.1\r\n\r\n", 1, 1 },
        { "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 1, 0 },
        { "GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n\r\n", 1, 0 },
        { "GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n", 1, 1 },
        { "GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", 1, 1 },
        { "GET / HTTP/1.1\r\nConnection: ,, close ,\r\n\r\n", 1, 0 },
        { "GET / HTTP/1.0\r\n\r\n", 0, 0 },
        { "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, 1 },
        { "GET / HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n", 0, 1 },
        { "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", 0, 0 },
        { "GET / HTTP/1.0\r\nConnection: foo\r\nConnection: keep-alive\r\n\r\n", 0, 1 },
    };
    coll_http_req r;
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        ck_assert_int_eq(gps(t[i].s, &r), (int)strlen(t[i].s));
        ck_assert_int_eq(r.minor, t[i].minor);
        ck_assert_msg(r.keep_alive == t[i].ka, "case %zu", i);
    }
}
END_TEST

START_TEST(parse_case_ows_methods)
{
    coll_http_req r;

    ck_assert_int_gt(gps("GET / HTTP/1.1\r\nhOsT: \t a.b \t \r\nuser-AGENT:x\r\n"
                         "CONTENT-LENGTH: 3\r\nX-Empty:\r\nACCESS-CONTROL-REQUEST-HEADERS:"
                         "  content-type  \r\nContent-type:   \r\n\r\nabc", &r), 0);
    ck_assert(seq(r.host, r.host_len, "a.b"));
    ck_assert(seq(r.user_agent, r.user_agent_len, "x"));
    ck_assert_int_eq(r.content_length, 3);
    ck_assert(seq(r.acr_headers, r.acr_headers_len, "content-type"));
    ck_assert_ptr_nonnull(r.content_type);
    ck_assert_uint_eq(r.content_type_len, 0);
    ck_assert_int_gt(gps("GET / HTTP/1.1\r\nUser-Agent: a\tb \xc3\xa9\r\n\r\n", &r), 0);
    ck_assert(seq(r.user_agent, r.user_agent_len, "a\tb \xc3\xa9"));   /* HTAB, obs-text */
    ck_assert_int_gt(gps("HEAD / HTTP/1.1\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.method, COLL_M_HEAD);
    ck_assert_int_gt(gps("OPTIONS /b HTTP/1.1\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.method, COLL_M_OPTIONS);
    ck_assert_int_gt(gps("PUT /b HTTP/1.1\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.method, COLL_M_OTHER);
    ck_assert(seq(r.method_str, r.method_len, "PUT"));
    ck_assert_int_gt(gps("get / HTTP/1.1\r\n\r\n", &r), 0);     /* methods are case-sensitive */
    ck_assert_int_eq(r.method, COLL_M_OTHER);
    ck_assert_int_eq(gps("\r\n\r\nGET / HTTP/1.1\r\n\r\n", &r), 22);   /* leading CRLFs */
    ck_assert_int_eq(r.method, COLL_M_GET);
    ck_assert_int_eq(gp("", 0, 8192, 8192, &r), 0);
    ck_assert_int_eq(gp("\r", 1, 8192, 8192, &r), 0);
    ck_assert_int_eq(gp("\n", 1, 8192, 8192, &r), -400);
}
END_TEST

START_TEST(parse_incremental)
{
    static const char *const heads[] = {
        "GET /p.gif?c=x&e=open HTTP/1.1\r\nHost: a\r\nUser-Agent: UA 1\r\n\r\n",
        "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n",
        "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
        "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "\r\nOPTIONS /b HTTP/1.1\r\nOrigin: x\r\nAccess-Control-Request-Headers: a\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
    };
    size_t k, i;

    for (k = 0; k < sizeof(heads) / sizeof(heads[0]); k++) {
        size_t n = strlen(heads[k]);
        coll_http_req whole, part;

        ck_assert_int_eq(gps(heads[k], &whole), (int)n);
        for (i = 0; i < n; i++)
            ck_assert_msg(gp(heads[k], i, 8192, 8192, &part) == 0, "head %zu at %zu", k, i);
        ck_assert_int_eq(gp(heads[k], n, 8192, 8192, &part), (int)n);
        ck_assert_int_eq(part.method, whole.method);
        ck_assert_uint_eq(part.path_len, whole.path_len);
        ck_assert_uint_eq(part.query_len, whole.query_len);
        ck_assert_uint_eq(part.host_len, whole.host_len);
        ck_assert_int_eq(part.keep_alive, whole.keep_alive);
        ck_assert_int_eq(part.content_length, whole.content_length);
        ck_assert_int_eq(part.chunked, whole.chunked);
        ck_assert_int_eq(part.expect_continue, whole.expect_continue);
    }
}
END_TEST

/* ---- parser: rejections ---- */

START_TEST(parse_rejections)
{
    static const struct { const char *s; int status; } t[] = {
        { "GET / HTTP/1.1\n\n", 400 },                              /* bare LF, line */
        { "GET / HTTP/1.1\r\nHost: a\n\r\n", 400 },                 /* bare LF, header */
        { "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", 400 },             /* bare CR */
        { "GET / HTTP/1.1\rX", 400 },
        { "\rXGET / HTTP/1.1\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nContent-Lengtx: 1\r\n\rX", 400 },
        { "GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n", 400 },          /* obs-fold */
        { "GET / HTTP/1.1\r\n\tX-A: a\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400 },              /* space before colon */
        { "GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\n: a\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nX-A: a\x01z\r\n\r\n", 400 },           /* CTLs in values */
        { "GET / HTTP/1.1\r\nX-A: a\x7fz\r\n\r\n", 400 },
        { "G(T / HTTP/1.1\r\n\r\n", 400 },
        { " GET / HTTP/1.1\r\n\r\n", 400 },
        { "GET  / HTTP/1.1\r\n\r\n", 400 },
        { "GET http://a/ HTTP/1.1\r\n\r\n", 400 },                  /* absolute-form */
        { "OPTIONS * HTTP/1.1\r\n\r\n", 400 },                      /* asterisk-form */
        { "GET /a\x01 HTTP/1.1\r\n\r\n", 400 },
        { "GET /\xc3\xa9 HTTP/1.1\r\n\r\n", 400 },
        { "GET /\r\n\r\n", 400 },                                   /* HTTP/0.9 */
        { "GET / http/1.1\r\n\r\n", 400 },
        { "GET / HTTP/1.1 \r\n\r\n", 400 },
        { "GET / HTTP/11\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nContent-Length: 12a\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400 },
        { "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
        { "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\n", 400 },
        { "POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400 },
        { "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501 },
        { "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501 },
        { "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
          "Transfer-Encoding: chunked\r\n\r\n", 501 },
        { "GET / HTTP/2.0\r\n\r\n", 505 },
        { "GET / HTTP/1.2\r\n\r\n", 505 },
        { "GET / HTTP/0.9\r\n\r\n", 505 },
    };
    size_t k, i;

    for (k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
        size_t n = strlen(t[k].s);
        coll_http_req r;
        int whole = gp(t[k].s, n, 8192, 8192, &r);

        ck_assert_msg(whole == -t[k].status, "case %zu: got %d", k, whole);
        for (i = 0; i < n; i++) {          /* a prefix is incomplete or already wrong */
            int x = gp(t[k].s, i, 8192, 8192, &r);

            ck_assert_msg(x == 0 || x == whole, "case %zu prefix %zu: %d", k, i, x);
        }
    }
}
END_TEST

/* Writes a request with a target of tlen bytes into buf, with or without
 * the rest of its head; returns the length. */
static size_t long_target(char *buf, size_t tlen, int complete)
{
    memcpy(buf, "GET /", 5);
    memset(buf + 5, 'a', tlen - 1);
    if (!complete)
        return 4 + tlen;
    memcpy(buf + 4 + tlen, " HTTP/1.1\r\n\r\n", 13);
    return 17 + tlen;
}

START_TEST(parse_limits)
{
    static char buf[20000];
    coll_http_req r;
    size_t n, i;

    n = long_target(buf, 101, 1);                  /* 414: target over max_line */
    ck_assert_int_eq(gp(buf, n, 100, 8192, &r), -414);
    n = long_target(buf, 100, 1);
    ck_assert_int_eq(gp(buf, n, 100, 8192, &r), (int)n);
    n = long_target(buf, 101, 0);                  /* ... decided while incomplete */
    ck_assert_int_eq(gp(buf, n, 100, 8192, &r), -414);
    ck_assert_int_eq(gp(buf, n - 1, 100, 8192, &r), 0);
    n = long_target(buf, 9000, 1);
    ck_assert_int_eq(gp(buf, n, 8192, 8192, &r), -414);
    n = long_target(buf, 8300, 0);
    ck_assert_int_eq(gp(buf, n, 8192, 8192, &r), -414);
    ck_assert_int_eq(gp("GET / HTTP/1.1", 14, 100, 10, &r), -414);  /* line over max_header */
    for (i = 0, n = long_target(buf, 300, 1); i <= n; i++) {
        int x = gp(buf, i, 256, 4096, &r);

        ck_assert(x == 0 || x == -414);
    }

    n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\n");   /* 431: headers over max_header */
    for (i = 0; i < 90; i++)
        n += (size_t)sprintf(buf + n, "X-Pad-%03zu: %090d\r\n", i, 0);
    n += (size_t)sprintf(buf + n, "\r\n");
    ck_assert_uint_gt(n, 8192);
    ck_assert_int_eq(gp(buf, n, 8192, 8192, &r), -431);
    ck_assert_int_eq(gp(buf, 8193, 8192, 8192, &r), -431);   /* ... while incomplete */
    ck_assert_int_eq(gp(buf, 8192, 8192, 8192, &r), 0);
    ck_assert_int_eq(gp(buf, n, 8192, n, &r), (int)n);       /* exactly at the limit */
    ck_assert_int_eq(gp(buf, n, 8192, n - 1, &r), -431);
}
END_TEST

/* ---- chunk decoder ---- */

/* De-chunks n bytes of s against the guard page whole, as fresh prefixes
 * and byte by byte on one buffer (left decoded in *out); returns the result. */
static int dechunk_all(const char *s, size_t n, size_t max_body, coll_http_chunked *st,
                       char **out)
{
    coll_http_chunked inc;
    char *b;
    size_t i;
    int whole, r = 0;

    memset(st, 0, sizeof(*st));
    whole = coll_http_dechunk(guarded(s, n), n, max_body, st);
    for (i = 0; i < n; i++) {                  /* every prefix, fresh, is 0 or the same */
        memset(&inc, 0, sizeof(inc));
        r = coll_http_dechunk(guarded(s, i), i, max_body, &inc);
        ck_assert_msg(r == 0 || r == whole, "prefix %zu: %d", i, r);
    }
    b = guarded(s, n);
    memset(&inc, 0, sizeof(inc));
    for (i = 0, r = 0; i <= n && r == 0; i++)  /* byte by byte on the same buffer */
        r = coll_http_dechunk(b, i, max_body, &inc);
    ck_assert_int_eq(r, whole);
    if (whole == 1) {
        ck_assert_uint_eq(inc.w, st->w);
        ck_assert_uint_eq(inc.r, st->r);
    }
    *out = b;
    return whole;
}

START_TEST(dechunk_cases)
{
    static const struct {
        const char *s; size_t max; int ret; const char *body; size_t used;
    } t[] = {
        { "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 64, 1, "hello world", 26 },
        { "5;a=b\r\nhello\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n", 64, 1, "hello", 33 },
        { "A\r\n0123456789\r\n0 \r\n\r\nGET /", 64, 1, "0123456789", 21 },
        { "0\r\n\r\n", 64, 1, "", 5 },
        { "10\r\n0123456789abcdef\r\n0\r\n\r\n", 16, 1, "0123456789abcdef", 27 },
        { "11\r\n", 16, -413, NULL, 0 },
        { "8\r\n12345678\r\n9\r\n123456789\r\n0\r\n\r\n", 16, -413, NULL, 0 },
        { "ffffffffffffffffffffff\r\n", 64, -413, NULL, 0 },
        { "zz\r\n", 64, -400, NULL, 0 },
        { "5\rX\nhello\r\n0\r\n\r\n", 64, -400, NULL, 0 },
        { "\r\n", 64, -400, NULL, 0 },
        { "5\nhello\r\n0\r\n\r\n", 64, -400, NULL, 0 },
        { "5\r\nhelloXX0\r\n\r\n", 64, -400, NULL, 0 },
        { "5\r\nhello\r\r0\r\n\r\n", 64, -400, NULL, 0 },
        { "5x\r\nhello\r\n0\r\n\r\n", 64, -400, NULL, 0 },
        { "5;a\x01\r\nhello\r\n0\r\n\r\n", 64, -400, NULL, 0 },
        { "5\r\nhello\r\n0\r\n bad\r\n\r\n", 64, -400, NULL, 0 },
        { "5\r\nhello\r\n0\r\nX: 1\n\r\n", 64, -400, NULL, 0 },
    };
    static char longline[6000];
    coll_http_chunked st;
    size_t k;
    char *b;

    for (k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
        size_t n = strlen(t[k].s);
        int r = dechunk_all(t[k].s, n, t[k].max, &st, &b);

        ck_assert_msg(r == t[k].ret, "case %zu: %d", k, r);
        if (r == 1) {
            ck_assert_uint_eq(st.w, strlen(t[k].body));
            ck_assert_int_eq(memcmp(b, t[k].body, st.w), 0);
            ck_assert_uint_eq(st.r, t[k].used);
        }
    }
    memcpy(longline, "1;", 2);                 /* a chunk line over 4 KiB */
    memset(longline + 2, 'x', sizeof(longline) - 2);
    memset(&st, 0, sizeof(st));
    ck_assert_int_eq(coll_http_dechunk(guarded(longline, sizeof(longline)), sizeof(longline),
                                       64, &st), -400);
}
END_TEST

/* Builds the suite. */
static Suite *http_parse_suite(void)
{
    Suite *s = suite_create("coll_http_parse");
    TCase *p = tcase_create("parse");

    tcase_add_test(p, parse_get_query);
    tcase_add_test(p, parse_bodies_and_expect);
    tcase_add_test(p, parse_keep_alive_rules);
    tcase_add_test(p, parse_case_ows_methods);
    tcase_add_test(p, parse_incremental);
    tcase_add_test(p, parse_rejections);
    tcase_add_test(p, parse_limits);
    tcase_add_test(p, dechunk_cases);
    suite_add_tcase(s, p);
    return s;
}

/* Runs the suite; returns non-zero when a test failed. */
int main(void)
{
    SRunner *sr = srunner_create(http_parse_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
