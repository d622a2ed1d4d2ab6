/* test_coll_http.c: unit tests of the collector's HTTP parser (against a
 * guard page) and of its libevent server (in-process, real sockets). */
#include "http.h"

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

/* ------------------------------------------------------------------ */
/* parser harness: inputs end exactly at a PROT_NONE page              */
/* ------------------------------------------------------------------ */

#define GUARD_AREA (64 * 1024)

static char *g_area;

/* Copies s (n bytes) so it ends at the guard page and parses it; returns
 * coll_http_parse's result (an over-read crashes the test). */
static int gp(const char *s, size_t n, size_t max_line, size_t max_header, coll_http_req *r)
{
    char *dst;

    if (!g_area) {
        long pg = sysconf(_SC_PAGESIZE);
        char *m = mmap(NULL, GUARD_AREA + (size_t)pg, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        ck_assert_ptr_ne(m, MAP_FAILED);
        ck_assert_int_eq(mprotect(m + GUARD_AREA, (size_t)pg, PROT_NONE), 0);
        g_area = m;
    }
    ck_assert_uint_le(n, GUARD_AREA);
    dst = g_area + GUARD_AREA - n;
    if (n)
        memcpy(dst, s, n);
    return coll_http_parse(dst, n, max_line, max_header, r);
}

/* Parses the NUL-terminated s with the SPEC limits (8 KiB); returns the result. */
static int gps(const char *s, coll_http_req *r)
{
    return gp(s, strlen(s), 8192, 8192, r);
}

/* Returns 1 if (p, n) holds exactly lit, 0 otherwise. */
static int seq(const char *p, size_t n, const char *lit)
{
    return p && n == strlen(lit) && memcmp(p, lit, n) == 0;
}

/* ------------------------------------------------------------------ */
/* parser: accepted requests                                           */
/* ------------------------------------------------------------------ */

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
}
END_TEST

START_TEST(parse_path_query_split)
{
    coll_http_req r;

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

START_TEST(parse_post_content_length)
{
    const char *h = "POST /b HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\n"
                    "Content-Length: 11\r\n\r\n";
    char s[256];
    coll_http_req r;

    snprintf(s, sizeof(s), "%shello world", h);
    ck_assert_int_eq(gps(s, &r), (int)strlen(h));
    ck_assert_int_eq(r.method, COLL_M_POST);
    ck_assert_int_eq(r.content_length, 11);
    ck_assert(seq(r.content_type, r.content_type_len, "text/plain"));
    ck_assert_int_eq(gps("POST /b HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r), 39);
    ck_assert_int_eq(r.content_length, 0);
    ck_assert_int_gt(gps("POST /b HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\n", &r), 0);
    ck_assert(r.content_length == INT64_MAX);
}
END_TEST

START_TEST(parse_chunked_expect)
{
    coll_http_req r;

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
        { "GET / HTTP/1.0\r\n\r\n", 0, 0 },
        { "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, 1 },
        { "GET / HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n", 0, 1 },
        { "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", 0, 0 },
        { "GET / HTTP/1.0\r\nConnection: foo\r\nConnection: keep-alive\r\n\r\n", 0, 1 },
        { "GET / HTTP/1.1\r\nConnection: ,, close ,\r\n\r\n", 1, 0 },
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

START_TEST(parse_case_and_ows)
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
    /* obs-text and HTAB inside values are kept */
    ck_assert_int_gt(gps("GET / HTTP/1.1\r\nUser-Agent: a\tb \xc3\xa9\r\n\r\n", &r), 0);
    ck_assert(seq(r.user_agent, r.user_agent_len, "a\tb \xc3\xa9"));
}
END_TEST

START_TEST(parse_methods)
{
    coll_http_req r;

    ck_assert_int_gt(gps("HEAD / HTTP/1.1\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.method, COLL_M_HEAD);
    ck_assert_int_gt(gps("OPTIONS /b HTTP/1.1\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.method, COLL_M_OPTIONS);
    ck_assert_int_gt(gps("PUT /b HTTP/1.1\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.method, COLL_M_OTHER);
    ck_assert(seq(r.method_str, r.method_len, "PUT"));
    ck_assert_int_gt(gps("get / HTTP/1.1\r\n\r\n", &r), 0);   /* case-sensitive */
    ck_assert_int_eq(r.method, COLL_M_OTHER);
    /* leading empty lines are skipped and counted */
    ck_assert_int_eq(gps("\r\n\r\nGET / HTTP/1.1\r\n\r\n", &r), 22);
    ck_assert_int_eq(r.method, COLL_M_GET);
}
END_TEST

/* Valid heads for the incremental test. */
static const char *const valid_heads[] = {
    "GET /p.gif?c=x&e=open HTTP/1.1\r\nHost: a\r\nUser-Agent: UA 1\r\n\r\n",
    "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n",
    "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
    "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "\r\nOPTIONS /b HTTP/1.1\r\nOrigin: x\r\nAccess-Control-Request-Headers: a\r\n\r\n",
    "GET / HTTP/1.1\r\n\r\n",
};

START_TEST(parse_incremental)
{
    size_t k;

    for (k = 0; k < sizeof(valid_heads) / sizeof(valid_heads[0]); k++) {
        const char *s = valid_heads[k];
        size_t n = strlen(s), i;
        coll_http_req whole, part;

        ck_assert_int_eq(gps(s, &whole), (int)n);
        for (i = 0; i < n; i++)
            ck_assert_msg(gp(s, i, 8192, 8192, &part) == 0, "head %zu prefix %zu", k, i);
        ck_assert_int_eq(gp(s, n, 8192, 8192, &part), (int)n);
        ck_assert_int_eq(part.method, whole.method);
        ck_assert_uint_eq(part.path_len, whole.path_len);
        ck_assert_uint_eq(part.query_len, whole.query_len);
        ck_assert_int_eq(part.keep_alive, whole.keep_alive);
        ck_assert_int_eq(part.content_length, whole.content_length);
        ck_assert_int_eq(part.chunked, whole.chunked);
        ck_assert_int_eq(part.expect_continue, whole.expect_continue);
        ck_assert_uint_eq(part.host_len, whole.host_len);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* parser: rejections                                                  */
/* ------------------------------------------------------------------ */

static const struct { const char *s; int status; } bad_heads[] = {
    { "GET / HTTP/1.1\n\n", 400 },                              /* bare LF, line */
    { "GET / HTTP/1.1\r\nHost: a\n\r\n", 400 },                 /* bare LF, header */
    { "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", 400 },             /* bare CR */
    { "GET / HTTP/1.1\rX", 400 },
    { "GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n", 400 },          /* obs-fold */
    { "GET / HTTP/1.1\r\n\tX-A: a\r\n\r\n", 400 },
    { "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400 },              /* space before colon */
    { "GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", 400 },
    { "GET / HTTP/1.1\r\n: a\r\n\r\n", 400 },
    { "GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400 },
    { "GET / HTTP/1.1\r\nX-A: a\x01z\r\n\r\n", 400 },           /* CTL in value */
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
    { "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501 },
    { "GET / HTTP/2.0\r\n\r\n", 505 },
    { "GET / HTTP/1.2\r\n\r\n", 505 },
    { "GET / HTTP/0.9\r\n\r\n", 505 },
};

START_TEST(parse_rejections)
{
    size_t k;

    for (k = 0; k < sizeof(bad_heads) / sizeof(bad_heads[0]); k++) {
        const char *s = bad_heads[k].s;
        size_t n = strlen(s), i;
        coll_http_req r;
        int whole = gp(s, n, 8192, 8192, &r);

        ck_assert_msg(whole == -bad_heads[k].status, "case %zu: got %d", k, whole);
        for (i = 0; i < n; i++) {
            int x = gp(s, i, 8192, 8192, &r);

            ck_assert_msg(x == 0 || x == whole, "case %zu prefix %zu: %d", k, i, x);
        }
    }
}
END_TEST

/* Fills buf with a request whose target is tlen bytes, optionally without
 * its line end; returns the length. */
static size_t long_target(char *buf, size_t tlen, int complete)
{
    size_t n = 0;

    memcpy(buf, "GET /", 5);
    n = 5;
    memset(buf + n, 'a', tlen - 1);
    n += tlen - 1;
    if (complete) {
        memcpy(buf + n, " HTTP/1.1\r\n\r\n", 13);
        n += 13;
    }
    return n;
}

START_TEST(parse_limits)
{
    static char buf[20000];
    coll_http_req r;
    size_t n, i;

    /* 414: target over max_line, complete or not */
    n = long_target(buf, 101, 1);
    ck_assert_int_eq(gp(buf, n, 100, 8192, &r), -414);
    n = long_target(buf, 100, 1);
    ck_assert_int_eq(gp(buf, n, 100, 8192, &r), (int)n);
    n = long_target(buf, 101, 0);
    ck_assert_int_eq(gp(buf, n, 100, 8192, &r), -414);
    ck_assert_int_eq(gp(buf, n - 1, 100, 8192, &r), 0);
    n = long_target(buf, 9000, 1);                 /* SPEC limits */
    ck_assert_int_eq(gp(buf, n, 8192, 8192, &r), -414);
    n = long_target(buf, 8300, 0);
    ck_assert_int_eq(gp(buf, n, 8192, 8192, &r), -414);
    /* request line not done within max_header is 414 too */
    ck_assert_int_eq(gp("GET / HTTP/1.1", 14, 100, 10, &r), -414);

    /* 431: headers over max_header, complete or not */
    n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\n");
    for (i = 0; i < 90; i++)
        n += (size_t)sprintf(buf + n, "X-Pad-%03zu: %s\r\n", i,
                             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    memcpy(buf + n, "\r\n", 2);
    n += 2;
    ck_assert_uint_gt(n, 8192);
    ck_assert_int_eq(gp(buf, n, 8192, 8192, &r), -431);
    ck_assert_int_eq(gp(buf, 8193, 8192, 8192, &r), -431);
    ck_assert_int_eq(gp(buf, 8192, 8192, 8192, &r), 0);
    ck_assert_int_eq(gp(buf, n, 8192, n, &r), (int)n);      /* exactly at the limit */
    ck_assert_int_eq(gp(buf, n, 8192, n - 1, &r), -431);
    /* prefix property with small limits */
    n = long_target(buf, 300, 1);
    for (i = 0; i <= n; i++) {
        int x = gp(buf, i, 256, 4096, &r);

        ck_assert(x == 0 || x == -414);
    }
}
END_TEST

START_TEST(parse_empty)
{
    coll_http_req r;

    ck_assert_int_eq(gp("", 0, 8192, 8192, &r), 0);
    ck_assert_int_eq(gp("\r", 1, 8192, 8192, &r), 0);
    ck_assert_int_eq(gp("\n", 1, 8192, 8192, &r), -400);
}
END_TEST

/* ------------------------------------------------------------------ */
/* server harness: the loop runs in a thread, driven over a socketpair */
/* ------------------------------------------------------------------ */

typedef struct {
    struct event_base *base;
    coll_http *srv;
    struct event *ctl_ev;
    int ctl[2];
    int port;
    pthread_t th;
    char out[4096];          /* handler scratch, loop thread only */
    atomic_int handled;
} tsrv;

/* Echoes the request: method, path, query, body length and start, peer;
 * "/close" asks to close, "/nc" answers 204. */
static void echo(void *arg, const coll_http_req *q, coll_http_resp *resp)
{
    tsrv *t = arg;
    int n;

    atomic_fetch_add(&t->handled, 1);
    n = snprintf(t->out, sizeof(t->out), "m=%.*s p=%.*s q=%.*s b=%zu peer=%s body=%.*s",
                 (int)q->method_len, q->method_str, (int)q->path_len, q->path,
                 (int)q->query_len, q->query, q->body_len, q->peer,
                 (int)(q->body_len < 64 ? q->body_len : 64), q->body);
    resp->status = 200;
    resp->content_type = "text/plain";
    resp->headers = "X-Test: 1\r\n";
    resp->body = t->out;
    resp->body_len = (size_t)n;
    if (q->path_len == 6 && memcmp(q->path, "/close", 6) == 0)
        resp->close = 1;
    if (q->path_len == 3 && memcmp(q->path, "/nc", 3) == 0)
        resp->status = 204;
}

/* Serves control commands in the loop thread: q(uit), c(onns), s(top). */
static void on_ctl(evutil_socket_t fd, short what, void *arg)
{
    tsrv *t = arg;
    char cmd;
    int v = 0;

    (void)what;
    if (read(fd, &cmd, 1) != 1)
        return;
    if (cmd == 'q') {
        event_base_loopbreak(t->base);
        return;
    }
    if (cmd == 's')
        coll_http_stop(t->srv);
    v = coll_http_conns(t->srv);
    if (write(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
        return;
}

/* Runs the event loop (server thread). */
static void *loop_main(void *arg)
{
    tsrv *t = arg;

    event_base_dispatch(t->base);
    return NULL;
}

/* Starts a server on 127.0.0.1:0 with lim in a loop thread. */
static void srv_start(tsrv *t, const coll_http_limits *lim)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int fd;

    memset(t, 0, sizeof(*t));
    t->base = event_base_new();
    ck_assert_ptr_nonnull(t->base);
    fd = coll_http_listen("127.0.0.1:0");
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    t->port = ntohs(sa.sin_port);
    ck_assert_int_gt(t->port, 0);
    t->srv = coll_http_new(t->base, fd, lim, echo, t);
    ck_assert_ptr_nonnull(t->srv);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, t->ctl), 0);
    t->ctl_ev = event_new(t->base, t->ctl[1], EV_READ | EV_PERSIST, on_ctl, t);
    event_add(t->ctl_ev, NULL);
    ck_assert_int_eq(pthread_create(&t->th, NULL, loop_main, t), 0);
}

/* Sends a control command and returns the open connection count. */
static int srv_cmd(tsrv *t, char cmd)
{
    int v = -1;

    ck_assert_int_eq(write(t->ctl[0], &cmd, 1), 1);
    ck_assert_int_eq(read(t->ctl[0], &v, sizeof(v)), (int)sizeof(v));
    return v;
}

/* Stops the loop thread and frees everything. */
static void srv_finish(tsrv *t)
{
    char q = 'q';

    ck_assert_int_eq(write(t->ctl[0], &q, 1), 1);
    pthread_join(t->th, NULL);
    coll_http_free(t->srv);
    event_free(t->ctl_ev);
    event_base_free(t->base);
    close(t->ctl[0]);
    close(t->ctl[1]);
}

/* Returns limits for tests: SPEC sizes, short timeouts. */
static coll_http_limits test_limits(void)
{
    coll_http_limits l;

    l.max_header = 8192;
    l.max_body = 65536;
    l.header_timeout_ms = 2000;
    l.body_timeout_ms = 2000;
    l.idle_timeout_ms = 2000;
    l.max_conns = 64;
    return l;
}

/* ------------------------------------------------------------------ */
/* client helpers                                                      */
/* ------------------------------------------------------------------ */

typedef struct {
    int fd;
    size_t len;
    char buf[1 << 17];
} client;

typedef struct {
    int status, close, keep_alive_hdr;
    long clen;
    char head[4096];
    char body[4096];
    size_t body_len;
} resp;

/* Returns the monotonic clock in ms. */
static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connects a blocking client with a 5 s receive timeout; fails the test on error. */
static client *cl_open(int port)
{
    client *c = calloc(1, sizeof(*c));
    struct sockaddr_in sa;
    struct timeval tv = { 5, 0 };

    ck_assert_ptr_nonnull(c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(c->fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return c;
}

/* Closes and frees a client. */
static void cl_close(client *c)
{
    close(c->fd);
    free(c);
}

/* Sends n bytes (errors ignored: the server may have closed). */
static void cl_send(client *c, const char *s, size_t n)
{
    while (n) {
        ssize_t k = send(c->fd, s, n, MSG_NOSIGNAL);

        if (k <= 0)
            return;
        s += k;
        n -= (size_t)k;
    }
}

/* Sends a NUL-terminated string. */
static void cl_sends(client *c, const char *s)
{
    cl_send(c, s, strlen(s));
}

/* Reads one response (no body for HEAD, 1xx, 204, 304); returns 1, or 0
 * when the connection ended first. */
static int cl_resp(client *c, resp *r, int head)
{
    char *e;
    size_t hl, need;
    const char *p;

    memset(r, 0, sizeof(*r));
    for (;;) {
        ssize_t k;

        e = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
        if (e) {
            hl = (size_t)(e - c->buf) + 4;
            if (hl >= sizeof(r->head))
                return 0;
            memcpy(r->head, c->buf, hl);
            r->head[hl] = '\0';
            if (sscanf(r->head, "HTTP/1.1 %d ", &r->status) != 1)
                return 0;
            p = strstr(r->head, "\r\nContent-Length: ");
            r->clen = p ? atol(p + 18) : -1;
            r->close = strstr(r->head, "\r\nConnection: close\r\n") != NULL;
            r->keep_alive_hdr = strstr(r->head, "\r\nConnection: keep-alive\r\n") != NULL;
            need = (head || r->status < 200 || r->status == 204 || r->status == 304 ||
                    r->clen < 0) ? 0 : (size_t)r->clen;
            if (c->len >= hl + need) {
                r->body_len = need;
                memcpy(r->body, c->buf + hl, need < sizeof(r->body) - 1 ? need : sizeof(r->body) - 1);
                memmove(c->buf, c->buf + hl + need, c->len - hl - need);
                c->len -= hl + need;
                return 1;
            }
        }
        if (c->len == sizeof(c->buf))
            return 0;
        k = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
        if (k <= 0)
            return 0;
        c->len += (size_t)k;
    }
}

/* Waits up to ms for the server to close; returns 1 on EOF or reset, 0
 * when data arrived, -1 on timeout. */
static int cl_closed(client *c, int ms)
{
    struct pollfd pf = { c->fd, POLLIN, 0 };
    char b[256];
    ssize_t k;

    if (c->len)
        return 0;
    if (poll(&pf, 1, ms) <= 0)
        return -1;
    k = recv(c->fd, b, sizeof(b), 0);
    if (k == 0 || (k < 0 && errno == ECONNRESET))
        return 1;
    return k > 0 ? 0 : -1;
}

/* Waits until the server reports want open connections (up to 2 s);
 * returns the last count seen. */
static int wait_conns(tsrv *t, int want)
{
    int i, v = -1;

    for (i = 0; i < 200; i++) {
        v = srv_cmd(t, 'c');
        if (v == want)
            break;
        usleep(10000);
    }
    return v;
}

/* ------------------------------------------------------------------ */
/* server tests                                                        */
/* ------------------------------------------------------------------ */

START_TEST(srv_keep_alive)
{
    coll_http_limits l = test_limits();
    tsrv t;
    client *c;
    resp r;

    srv_start(&t, &l);
    c = cl_open(t.port);
    cl_sends(c, "GET /p.gif?c=a HTTP/1.1\r\nHost: x\r\n\r\n");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.close, 0);
    ck_assert_str_eq(r.body, "m=GET p=/p.gif q=c=a b=0 peer=127.0.0.1 body=");
    ck_assert_ptr_nonnull(strstr(r.head, "\r\nContent-Type: text/plain\r\nX-Test: 1\r\n"));
    cl_sends(c, "GET /two HTTP/1.1\r\nHost: x\r\n\r\n");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_str_eq(r.body, "m=GET p=/two q= b=0 peer=127.0.0.1 body=");
    ck_assert_int_eq(srv_cmd(&t, 'c'), 1);
    ck_assert_int_eq(atomic_load(&t.handled), 2);
    /* a handler's close is honoured and announced */
    cl_sends(c, "GET /close HTTP/1.1\r\n\r\n");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_int_eq(r.close, 1);
    ck_assert_int_eq(cl_closed(c, 2000), 1);
    ck_assert_int_eq(wait_conns(&t, 0), 0);
    cl_close(c);
    srv_finish(&t);
}
END_TEST

START_TEST(srv_pipeline)
{
    coll_http_limits l = test_limits();
    tsrv t;
    client *c;
    resp r;

    srv_start(&t, &l);
    c = cl_open(t.port);
    cl_sends(c, "GET /a?x=1 HTTP/1.1\r\n\r\n"
                "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
                "GET /c HTTP/1.1\r\n\r\n");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_str_eq(r.body, "m=GET p=/a q=x=1 b=0 peer=127.0.0.1 body=");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_str_eq(r.body, "m=POST p=/b q= b=3 peer=127.0.0.1 body=xyz");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_str_eq(r.body, "m=GET p=/c q= b=0 peer=127.0.0.1 body=");
    ck_assert_int_eq(cl_closed(c, 100), -1);
    ck_assert_int_eq(atomic_load(&t.handled), 3);
    cl_close(c);
    srv_finish(&t);
}
END_TEST

START_TEST(srv_chunked)
{
    coll_http_limits l = test_limits();
    const char *body = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
    tsrv t;
    client *c;
    resp r;
    size_t i;

    srv_start(&t, &l);
    c = cl_open(t.port);
    cl_sends(c, "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    cl_sends(c, body);
    cl_sends(c, "GET /after HTTP/1.1\r\n\r\n");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_str_eq(r.body, "m=POST p=/b q= b=11 peer=127.0.0.1 body=hello world");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_str_eq(r.body, "m=GET p=/after q= b=0 peer=127.0.0.1 body=");
    /* the same, one byte per write */
    cl_sends(c, "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (i = 0; body[i]; i++) {
        cl_send(c, body + i, 1);
        usleep(1000);
    }
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_str_eq(r.body, "m=POST p=/b q= b=11 peer=127.0.0.1 body=hello world");
    /* a malformed chunk size is 400 and closes */
    cl_sends(c, "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_int_eq(r.status, 400);
    ck_assert_int_eq(r.close, 1);
    ck_assert_int_eq(cl_closed(c, 3000), 1);
    cl_close(c);
    srv_finish(&t);
}
END_TEST

START_TEST(srv_body_limits)
{
    coll_http_limits l = test_limits();
    static char big[70 * 1024];
    char h[256];
    tsrv t;
    client *c;
    resp r;
    size_t i, n;

    memset(big, 'b', sizeof(big));
    srv_start(&t, &l);
    /* exactly max_body is taken (the buffer grows), split over writes */
    c = cl_open(t.port);
    cl_sends(c, "POST /b HTTP/1.1\r\nContent-Length: 65536\r\n\r\n");
    cl_send(c, big, 30000);
    usleep(20000);
    cl_send(c, big, 65536 - 30000);
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, " b=65536 "));
    /* 70 KiB by Content-Length: 413 and close */
    snprintf(h, sizeof(h), "POST /b HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", sizeof(big));
    cl_sends(c, h);
    cl_send(c, big, sizeof(big));
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_int_eq(r.status, 413);
    ck_assert_int_eq(r.close, 1);
    ck_assert_int_eq(r.clen, 0);
    ck_assert_int_eq(cl_closed(c, 3000), 1);
    cl_close(c);
    /* 70 KiB chunked: 413 */
    c = cl_open(t.port);
    cl_sends(c, "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (i = 0; i < 70; i++) {
        n = (size_t)snprintf(h, sizeof(h), "400\r\n");
        cl_send(c, h, n);
        cl_send(c, big, 1024);
        cl_send(c, "\r\n", 2);
    }
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_int_eq(r.status, 413);
    ck_assert_int_eq(cl_closed(c, 3000), 1);
    cl_close(c);
    ck_assert_int_eq(atomic_load(&t.handled), 1);
    srv_finish(&t);
}
END_TEST

START_TEST(srv_head_limits)
{
    coll_http_limits l = test_limits();
    static char buf[12000];
    tsrv t;
    client *c;
    resp r;
    size_t n;

    srv_start(&t, &l);
    /* 9 KiB of headers: 431 */
    n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nX-Big: ");
    memset(buf + n, 'h', 9 * 1024);
    n += 9 * 1024;
    memcpy(buf + n, "\r\n\r\n", 4);
    n += 4;
    c = cl_open(t.port);
    cl_send(c, buf, n);
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_int_eq(r.status, 431);
    ck_assert_int_eq(r.close, 1);
    ck_assert_int_eq(cl_closed(c, 3000), 1);
    cl_close(c);
    /* 9 KiB request line: 414 */
    memcpy(buf, "GET /", 5);
    memset(buf + 5, 'u', 9 * 1024);
    n = 5 + 9 * 1024;
    memcpy(buf + n, " HTTP/1.1\r\n\r\n", 13);
    n += 13;
    c = cl_open(t.port);
    cl_send(c, buf, n);
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_int_eq(r.status, 414);
    ck_assert_int_eq(r.close, 1);
    ck_assert_int_eq(cl_closed(c, 3000), 1);
    cl_close(c);
    ck_assert_int_eq(atomic_load(&t.handled), 0);
    srv_finish(&t);
}
END_TEST

START_TEST(srv_parse_errors)
{
    static const struct { const char *req; int status; } t_err[] = {
        { "GET / HTTP/1.1\n\n", 400 },
        { "GET / HTTP/2.0\r\n\r\n", 505 },
        { "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501 },
        { "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400 },
    };
    coll_http_limits l = test_limits();
    tsrv t;
    size_t i;

    srv_start(&t, &l);
    for (i = 0; i < sizeof(t_err) / sizeof(t_err[0]); i++) {
        client *c = cl_open(t.port);
        resp r;

        /* a good request first: the error answer still follows in order */
        cl_sends(c, "GET /ok HTTP/1.1\r\n\r\n");
        cl_sends(c, t_err[i].req);
        ck_assert_int_eq(cl_resp(c, &r, 0), 1);
        ck_assert_int_eq(r.status, 200);
        ck_assert_int_eq(cl_resp(c, &r, 0), 1);
        ck_assert_int_eq(r.status, t_err[i].status);
        ck_assert_int_eq(r.close, 1);
        ck_assert_int_eq(cl_closed(c, 3000), 1);
        cl_close(c);
    }
    ck_assert_int_eq(atomic_load(&t.handled), 4);
    srv_finish(&t);
}
END_TEST

START_TEST(srv_header_timeout_slowloris)
{
    coll_http_limits l = test_limits();
    const char *req = "GET / HTTP/1.1\r\nHost: slow\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    tsrv t;
    client *c;
    resp r;
    long long t0, dt = -1;
    size_t i;

    l.header_timeout_ms = 300;
    srv_start(&t, &l);
    c = cl_open(t.port);
    t0 = mono_ms();
    for (i = 0; req[i]; i++) {
        struct pollfd pf = { c->fd, POLLIN, 0 };

        cl_send(c, req + i, 1);
        if (poll(&pf, 1, 100) > 0) {
            dt = mono_ms() - t0;
            break;
        }
    }
    ck_assert_int_ge(dt, 250);
    ck_assert_int_le(dt, 900);
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_int_eq(r.status, 408);
    ck_assert_int_eq(r.close, 1);
    ck_assert_int_eq(cl_closed(c, 3000), 1);
    ck_assert_int_eq(atomic_load(&t.handled), 0);
    cl_close(c);
    srv_finish(&t);
}
END_TEST

START_TEST(srv_body_timeout)
{
    coll_http_limits l = test_limits();
    tsrv t;
    client *c;
    resp r;
    long long t0;

    l.body_timeout_ms = 300;
    srv_start(&t, &l);
    /* no answer yet on the connection: 408 */
    c = cl_open(t.port);
    t0 = mono_ms();
    cl_sends(c, "POST /b HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_int_eq(r.status, 408);
    ck_assert_int_ge(mono_ms() - t0, 250);
    ck_assert_int_eq(cl_closed(c, 3000), 1);
    cl_close(c);
    /* after an answer: a silent close */
    c = cl_open(t.port);
    cl_sends(c, "GET / HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(cl_closed(c, 3000), 1);
    cl_close(c);
    ck_assert_int_eq(atomic_load(&t.handled), 1);
    srv_finish(&t);
}
END_TEST

START_TEST(srv_idle_timeout)
{
    coll_http_limits l = test_limits();
    tsrv t;
    client *c;
    resp r;
    long long t0, dt;

    l.idle_timeout_ms = 300;
    srv_start(&t, &l);
    c = cl_open(t.port);
    cl_sends(c, "GET / HTTP/1.1\r\n\r\n");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    t0 = mono_ms();
    ck_assert_int_eq(cl_closed(c, 3000), 1);       /* closed without a 408 */
    dt = mono_ms() - t0;
    ck_assert_int_ge(dt, 200);
    ck_assert_int_le(dt, 1500);
    ck_assert_int_eq(wait_conns(&t, 0), 0);
    cl_close(c);
    srv_finish(&t);
}
END_TEST

START_TEST(srv_max_conns)
{
    coll_http_limits l = test_limits();
    tsrv t;
    client *a, *b, *x;
    resp r;
    int got;

    l.max_conns = 2;
    srv_start(&t, &l);
    a = cl_open(t.port);
    b = cl_open(t.port);
    cl_sends(a, "GET /a HTTP/1.1\r\n\r\n");
    cl_sends(b, "GET /b HTTP/1.1\r\n\r\n");
    ck_assert_int_eq(cl_resp(a, &r, 0), 1);
    ck_assert_int_eq(cl_resp(b, &r, 0), 1);
    ck_assert_int_eq(srv_cmd(&t, 'c'), 2);
    /* the third is answered 503 (or reset) and closed, never served */
    x = cl_open(t.port);
    cl_sends(x, "GET /x HTTP/1.1\r\n\r\n");
    got = cl_resp(x, &r, 0);
    if (got) {
        ck_assert_int_eq(r.status, 503);
        ck_assert_int_eq(r.close, 1);
    }
    ck_assert_int_eq(cl_closed(x, 3000), 1);
    cl_close(x);
    ck_assert_int_eq(srv_cmd(&t, 'c'), 2);
    ck_assert_int_eq(atomic_load(&t.handled), 2);
    /* after one leaves, a new one is served */
    cl_close(a);
    ck_assert_int_eq(wait_conns(&t, 1), 1);
    x = cl_open(t.port);
    cl_sends(x, "GET /y HTTP/1.1\r\n\r\n");
    ck_assert_int_eq(cl_resp(x, &r, 0), 1);
    ck_assert_int_eq(r.status, 200);
    cl_close(x);
    cl_close(b);
    srv_finish(&t);
}
END_TEST

START_TEST(srv_head_and_204)
{
    coll_http_limits l = test_limits();
    tsrv t;
    client *c;
    resp r;
    long glen;

    srv_start(&t, &l);
    c = cl_open(t.port);
    cl_sends(c, "GET /p HTTP/1.1\r\n\r\n");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    glen = r.clen;
    cl_sends(c, "HEAD /p HTTP/1.1\r\n\r\nGET /nc HTTP/1.1\r\n\r\nGET /z HTTP/1.1\r\n\r\n");
    ck_assert_int_eq(cl_resp(c, &r, 1), 1);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.clen, glen + 1);          /* "m=HEAD" is one longer than "m=GET" */
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);      /* 204: no length, no body */
    ck_assert_int_eq(r.status, 204);
    ck_assert_int_eq(r.clen, -1);
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);      /* framing intact: no stray body bytes */
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "m=GET p=/z q= b=0 peer=127.0.0.1 body=");
    ck_assert_uint_eq(c->len, 0);
    cl_close(c);
    srv_finish(&t);
}
END_TEST

START_TEST(srv_http10)
{
    coll_http_limits l = test_limits();
    tsrv t;
    client *c;
    resp r;

    srv_start(&t, &l);
    c = cl_open(t.port);
    cl_sends(c, "GET /a HTTP/1.0\r\n\r\n");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_int_eq(r.close, 1);
    ck_assert_int_eq(cl_closed(c, 2000), 1);
    cl_close(c);
    c = cl_open(t.port);
    cl_sends(c, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_int_eq(r.close, 0);
    ck_assert_int_eq(r.keep_alive_hdr, 1);
    cl_sends(c, "GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_int_eq(r.keep_alive_hdr, 1);
    cl_sends(c, "GET /c HTTP/1.1\r\nConnection: close\r\n\r\n");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_int_eq(r.close, 1);
    ck_assert_int_eq(cl_closed(c, 2000), 1);
    cl_close(c);
    srv_finish(&t);
}
END_TEST

START_TEST(srv_expect_continue)
{
    coll_http_limits l = test_limits();
    tsrv t;
    client *c;
    resp r;

    srv_start(&t, &l);
    c = cl_open(t.port);
    cl_sends(c, "POST /b HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_int_eq(r.status, 100);
    ck_assert_str_eq(r.head, "HTTP/1.1 100 Continue\r\n\r\n");
    cl_sends(c, "data");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "m=POST p=/b q= b=4 peer=127.0.0.1 body=data");
    /* body already sent with the head: no 100 */
    cl_sends(c, "POST /b HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nok");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_int_eq(r.status, 200);
    /* too large: 413 instead of 100 */
    cl_sends(c, "POST /b HTTP/1.1\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_int_eq(r.status, 413);
    cl_close(c);
    srv_finish(&t);
}
END_TEST

START_TEST(srv_stop)
{
    coll_http_limits l = test_limits();
    tsrv t;
    client *idle, *busy, *x;
    resp r;
    int port;

    srv_start(&t, &l);
    port = t.port;
    idle = cl_open(port);
    cl_sends(idle, "GET / HTTP/1.1\r\n\r\n");
    ck_assert_int_eq(cl_resp(idle, &r, 0), 1);
    busy = cl_open(port);
    cl_sends(busy, "POST /b HTTP/1.1\r\nContent-Length: 4\r\n\r\nab");
    ck_assert_int_eq(wait_conns(&t, 2), 2);
    usleep(50000);                                  /* let the head be read */
    ck_assert_int_eq(srv_cmd(&t, 's'), 1);         /* idle closed at once */
    ck_assert_int_eq(cl_closed(idle, 2000), 1);
    cl_sends(busy, "cd");
    ck_assert_int_eq(cl_resp(busy, &r, 0), 1);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.close, 1);
    ck_assert_int_eq(cl_closed(busy, 2000), 1);
    ck_assert_int_eq(wait_conns(&t, 0), 0);
    x = calloc(1, sizeof(*x));
    {
        struct sockaddr_in sa;

        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        x->fd = socket(AF_INET, SOCK_STREAM, 0);
        ck_assert_int_eq(connect(x->fd, (struct sockaddr *)&sa, sizeof(sa)), -1);
    }
    cl_close(x);
    cl_close(idle);
    cl_close(busy);
    srv_finish(&t);
}
END_TEST

/* ------------------------------------------------------------------ */
/* misc                                                                */
/* ------------------------------------------------------------------ */

START_TEST(misc_listen_reason_free)
{
    struct sockaddr_in6 sa;
    socklen_t sl = sizeof(sa);
    int fd;

    ck_assert_int_eq(coll_http_listen(NULL), -1);
    ck_assert_int_eq(coll_http_listen("127.0.0.1"), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coll_http_listen("127.0.0.1:99999"), -1);
    ck_assert_int_eq(coll_http_listen("127.0.0.1:x"), -1);
    ck_assert_int_eq(coll_http_listen("::1:80"), -1);
    ck_assert_int_eq(coll_http_listen("[::1:80"), -1);
    fd = coll_http_listen(":0");
    ck_assert_int_ge(fd, 0);
    close(fd);
    fd = coll_http_listen("[::1]:0");
    if (fd >= 0) {                                  /* IPv6 may be off in a container */
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
        ck_assert_int_eq(sa.sin6_family, AF_INET6);
        close(fd);
    }
    ck_assert_str_eq(coll_http_reason(200), "OK");
    ck_assert_str_eq(coll_http_reason(404), "Not Found");
    ck_assert_str_eq(coll_http_reason(405), "Method Not Allowed");
    ck_assert_str_eq(coll_http_reason(431), "Request Header Fields Too Large");
    ck_assert_str_eq(coll_http_reason(999), "Unknown");
    coll_http_free(NULL);
    coll_http_stop(NULL);
    ck_assert_int_eq(coll_http_conns(NULL), 0);
}
END_TEST

/* Builds the suite. */
static Suite *http_suite(void)
{
    Suite *s = suite_create("coll_http");
    TCase *p = tcase_create("parse"), *v = tcase_create("server");

    tcase_add_test(p, parse_get_query);
    tcase_add_test(p, parse_path_query_split);
    tcase_add_test(p, parse_post_content_length);
    tcase_add_test(p, parse_chunked_expect);
    tcase_add_test(p, parse_keep_alive_rules);
    tcase_add_test(p, parse_case_and_ows);
    tcase_add_test(p, parse_methods);
    tcase_add_test(p, parse_incremental);
    tcase_add_test(p, parse_rejections);
    tcase_add_test(p, parse_limits);
    tcase_add_test(p, parse_empty);
    tcase_add_test(p, misc_listen_reason_free);
    suite_add_tcase(s, p);

    tcase_set_timeout(v, 60);
    tcase_add_test(v, srv_keep_alive);
    tcase_add_test(v, srv_pipeline);
    tcase_add_test(v, srv_chunked);
    tcase_add_test(v, srv_body_limits);
    tcase_add_test(v, srv_head_limits);
    tcase_add_test(v, srv_parse_errors);
    tcase_add_test(v, srv_header_timeout_slowloris);
    tcase_add_test(v, srv_body_timeout);
    tcase_add_test(v, srv_idle_timeout);
    tcase_add_test(v, srv_max_conns);
    tcase_add_test(v, srv_head_and_204);
    tcase_add_test(v, srv_http10);
    tcase_add_test(v, srv_expect_continue);
    tcase_add_test(v, srv_stop);
    suite_add_tcase(s, v);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(http_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
