/* test_coll_http.c: unit tests of the collector's libevent HTTP server (an
 * in-process server driven over loopback) and its listen/reason helpers. */
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
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "guard.h"

/* ---- server harness: the loop runs in a thread, driven over a socketpair ---- */

typedef struct {
    struct event_base *base;
    coll_http *srv;
    struct event *ctl_ev;
    int ctl[2], port;
    pthread_t th;
    char out[4096];          /* handler scratch, loop thread only */
    atomic_int handled;
} tsrv;

#define BIG (1 << 20)
static char g_big[BIG];

/* Echoes method, path, query, body length and start and peer; "/close"
 * asks to close, "/nc" answers 204, "/big" sends BIG bytes. */
static void echo(void *arg, const coll_http_req *q, coll_http_resp *resp)
{
    tsrv *t = arg;
    int n;

    atomic_fetch_add(&t->handled, 1);
    n = snprintf(t->out, sizeof(t->out), "m=%.*s p=%.*s q=%.*s b=%zu peer=%s body=%.*s",
                 (int)q->method_len, q->method_str, (int)q->path_len, q->path,
                 (int)q->query_len, q->query, q->body_len, q->peer,
                 (int)(q->body_len < 64 ? q->body_len : 64), q->body);
    resp->status = seq(q->path, q->path_len, "/nc") ? 204 : 200;
    resp->content_type = "text/plain";
    resp->headers = "X-Test: 1\r\n";
    resp->body = t->out;
    resp->body_len = (size_t)n;
    resp->close = seq(q->path, q->path_len, "/close");
    if (seq(q->path, q->path_len, "/big")) {
        resp->body = g_big;
        resp->body_len = BIG;
    }
}

/* Serves control commands in the loop thread: q(uit), c(onns), s(top). */
static void on_ctl(evutil_socket_t fd, short what, void *arg)
{
    tsrv *t = arg;
    char cmd;
    int v;

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

/* Starts a server on 127.0.0.1:0 in a loop thread: SPEC sizes, 2 s
 * timeouts, 64 connections, then the given overrides (0: keep). */
static void srv_start(tsrv *t, int header_ms, int body_ms, int idle_ms, int max_conns)
{
    coll_http_limits l = { 8192, 65536, 2000, 2000, 2000, 64 };
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int fd;

    if (header_ms) l.header_timeout_ms = header_ms;
    if (body_ms) l.body_timeout_ms = body_ms;
    if (idle_ms) l.idle_timeout_ms = idle_ms;
    if (max_conns) l.max_conns = max_conns;
    memset(t, 0, sizeof(*t));
    t->base = event_base_new();
    ck_assert_ptr_nonnull(t->base);
    fd = coll_http_listen("127.0.0.1:0");
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    t->port = ntohs(sa.sin_port);
    ck_assert_int_gt(t->port, 0);
    t->srv = coll_http_new(t->base, fd, &l, echo, t);
    ck_assert_ptr_nonnull(t->srv);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, t->ctl), 0);
    t->ctl_ev = event_new(t->base, t->ctl[1], EV_READ | EV_PERSIST, on_ctl, t);
    event_add(t->ctl_ev, NULL);
    ck_assert_int_eq(pthread_create(&t->th, NULL, loop_main, t), 0);
}

/* Sends a control command; returns the open connection count after it. */
static int srv_cmd(tsrv *t, char cmd)
{
    int v = -1;

    ck_assert_int_eq(write(t->ctl[0], &cmd, 1), 1);
    ck_assert_int_eq(read(t->ctl[0], &v, sizeof(v)), (int)sizeof(v));
    return v;
}

/* Waits up to 2 s for want open connections; returns the last count. */
static int wait_conns(tsrv *t, int want)
{
    int i, v = -1;

    for (i = 0; i < 200 && (v = srv_cmd(t, 'c')) != want; i++)
        usleep(10000);
    return v;
}

/* Stops the loop thread and frees everything. */
static void srv_finish(tsrv *t)
{
    ck_assert_int_eq(write(t->ctl[0], "q", 1), 1);
    pthread_join(t->th, NULL);
    coll_http_free(t->srv);
    event_free(t->ctl_ev);
    event_base_free(t->base);
    close(t->ctl[0]);
    close(t->ctl[1]);
}

/* ---- client helpers ---- */

typedef struct {
    int fd;
    size_t len;
    char buf[2 << 20];
} client;

typedef struct {
    int status, close, keep_alive_hdr;
    long clen;
    char head[4096], body[4096];
} resp;

/* Returns the monotonic clock in ms. */
static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connects to 127.0.0.1:port (5 s receive timeout) and sends req unless
 * NULL; returns the client (asserts on failure). */
static client *cl_open(int port, const char *req)
{
    client *c = calloc(1, sizeof(*c));
    struct sockaddr_in sa;
    struct timeval tv = { 5, 0 };

    ck_assert_ptr_nonnull(c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (req)
        send(c->fd, req, strlen(req), MSG_NOSIGNAL);
    return c;
}

/* Closes and frees a client. */
static void cl_close(client *c)
{
    close(c->fd);
    free(c);
}

/* Sends n bytes; errors are ignored (the server may have closed). */
static void cl_send(client *c, const char *s, size_t n)
{
    ssize_t k;

    while (n && (k = send(c->fd, s, n, MSG_NOSIGNAL)) > 0) {
        s += k;
        n -= (size_t)k;
    }
}

/* Sends a string. */
static void cl_sends(client *c, const char *s)
{
    cl_send(c, s, strlen(s));
}

/* Reads one response (no body for HEAD, 1xx, 204, 304); returns 1, or 0
 * when the connection ended or timed out first. */
static int cl_resp(client *c, resp *r, int head)
{
    for (memset(r, 0, sizeof(*r));;) {
        char *e = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
        const char *p;
        size_t hl, need;
        ssize_t k;

        if (e && (hl = (size_t)(e - c->buf) + 4) < sizeof(r->head)) {
            memcpy(r->head, c->buf, hl);
            r->head[hl] = '\0';
            if (sscanf(r->head, "HTTP/1.1 %d ", &r->status) != 1)
                return 0;
            p = strstr(r->head, "\r\nContent-Length: ");
            r->clen = p ? atol(p + 18) : -1;
            r->close = strstr(r->head, "\r\nConnection: close\r\n") != NULL;
            r->keep_alive_hdr = strstr(r->head, "\r\nConnection: keep-alive\r\n") != NULL;
            need = (head || r->status < 200 || r->status == 204 || r->clen < 0)
                 ? 0 : (size_t)r->clen;
            if (c->len >= hl + need) {
                memcpy(r->body, c->buf + hl, need < sizeof(r->body) ? need : sizeof(r->body) - 1);
                c->len -= hl + need;
                memmove(c->buf, c->buf + hl + need, c->len);
                return 1;
            }
        }
        if (c->len == sizeof(c->buf))
            return 0;
        if ((k = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0)) <= 0)
            return 0;
        c->len += (size_t)k;
    }
}

/* Reads one response and checks its status, its body unless body is NULL
 * and its "Connection: close" unless close is -1. */
static void expect(client *c, int head, int status, const char *body, int close)
{
    resp r;

    ck_assert_int_eq(cl_resp(c, &r, head), 1);
    ck_assert_int_eq(r.status, status);
    if (body)
        ck_assert_str_eq(r.body, body);
    if (close >= 0)
        ck_assert_int_eq(r.close, close);
}

/* Waits up to ms for the server to close; returns 1 on EOF or reset, 0
 * when data came instead, -1 on timeout. */
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

#define ECHO(m, p, q, b, body) "m=" m " p=" p " q=" q " b=" b " peer=127.0.0.1 body=" body
#define B64 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* ---- server tests ---- */

START_TEST(srv_keep_alive_pipeline)
{
    tsrv t;
    client *c;
    resp r;

    srv_start(&t, 0, 0, 0, 0);
    c = cl_open(t.port, "GET /p.gif?c=a HTTP/1.1\r\nHost: x\r\n\r\n");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, ECHO("GET", "/p.gif", "c=a", "0", ""));
    ck_assert_ptr_nonnull(strstr(r.head, "\r\nContent-Type: text/plain\r\nX-Test: 1\r\n"));
    cl_sends(c, "GET /two HTTP/1.1\r\nHost: x\r\n\r\n");            /* same connection */
    expect(c, 0, 200, ECHO("GET", "/two", "", "0", ""), 0);
    ck_assert_int_eq(srv_cmd(&t, 'c'), 1);
    cl_sends(c, "GET /a?x=1 HTTP/1.1\r\n\r\n"                        /* 3 in one write */
                "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
                "GET /c HTTP/1.1\r\n\r\n");
    expect(c, 0, 200, ECHO("GET", "/a", "x=1", "0", ""), 0);
    expect(c, 0, 200, ECHO("POST", "/b", "", "3", "xyz"), 0);
    expect(c, 0, 200, ECHO("GET", "/c", "", "0", ""), 0);
    ck_assert_int_eq(cl_closed(c, 100), -1);
    ck_assert_int_eq(atomic_load(&t.handled), 5);
    cl_sends(c, "GET /close HTTP/1.1\r\n\r\n");                      /* handler closes */
    expect(c, 0, 200, NULL, 1);
    ck_assert_int_eq(cl_closed(c, 2000), 1);
    ck_assert_int_eq(wait_conns(&t, 0), 0);
    cl_close(c);
    srv_finish(&t);
}
END_TEST

START_TEST(srv_slow_reader)
{
    tsrv t;
    client *c;
    resp r;
    int i;

    srv_start(&t, 0, 0, 0, 0);
    memset(g_big, 'B', BIG);
    c = cl_open(t.port, NULL);
    for (i = 0; i < 8; i++)                         /* 8 MiB of answers, unread at first */
        cl_sends(c, "GET /big HTTP/1.1\r\n\r\n");
    cl_sends(c, "GET /end HTTP/1.1\r\n\r\n");
    usleep(200000);
    for (i = 0; i < 8; i++) {
        ck_assert_int_eq(cl_resp(c, &r, 0), 1);
        ck_assert_int_eq(r.status, 200);
        ck_assert_int_eq(r.clen, BIG);
        ck_assert_int_eq(r.body[0], 'B');
    }
    expect(c, 0, 200, ECHO("GET", "/end", "", "0", ""), 0);
    ck_assert_int_eq(atomic_load(&t.handled), 9);
    cl_close(c);
    srv_finish(&t);
}
END_TEST

START_TEST(srv_chunked)
{
    const char *body = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
    tsrv t;
    client *c;
    size_t i;

    srv_start(&t, 0, 0, 0, 0);
    c = cl_open(t.port, "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    cl_sends(c, body);
    cl_sends(c, "GET /after HTTP/1.1\r\n\r\n");
    expect(c, 0, 200, ECHO("POST", "/b", "", "11", "hello world"), 0);
    expect(c, 0, 200, ECHO("GET", "/after", "", "0", ""), 0);
    cl_sends(c, "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (i = 0; body[i]; i++) {                     /* one byte per write */
        cl_send(c, body + i, 1);
        usleep(1000);
    }
    expect(c, 0, 200, ECHO("POST", "/b", "", "11", "hello world"), 0);
    cl_sends(c, "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    expect(c, 0, 400, NULL, 1);
    ck_assert_int_eq(cl_closed(c, 3000), 1);
    cl_close(c);
    srv_finish(&t);
}
END_TEST

START_TEST(srv_body_limits)
{
    static char big[70 * 1024];
    char h[256];
    tsrv t;
    client *c;
    resp r;
    size_t i;

    memset(big, 'b', sizeof(big));
    srv_start(&t, 0, 0, 0, 0);
    c = cl_open(t.port, "POST /b HTTP/1.1\r\nContent-Length: 65536\r\n\r\n");
    cl_send(c, big, 30000);                         /* exactly max_body, in two parts */
    usleep(20000);
    cl_send(c, big, 65536 - 30000);
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, " b=65536 "));
    snprintf(h, sizeof(h), "POST /b HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", sizeof(big));
    cl_sends(c, h);                                 /* 70 KiB: 413 */
    cl_send(c, big, sizeof(big));
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_int_eq(r.status, 413);
    ck_assert_int_eq(r.close, 1);
    ck_assert_int_eq(r.clen, 0);
    ck_assert_int_eq(cl_closed(c, 3000), 1);
    cl_close(c);
    c = cl_open(t.port, "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (i = 0; i < 70; i++) {                      /* 70 KiB chunked: 413 */
        cl_sends(c, "400\r\n");
        cl_send(c, big, 1024);
        cl_sends(c, "\r\n");
    }
    expect(c, 0, 413, NULL, 1);
    ck_assert_int_eq(cl_closed(c, 3000), 1);
    cl_close(c);
    /* a body behind a pipelined request: the buffer compacts and grows
     * under the parsed head, which must still read right */
    c = cl_open(t.port, "GET /a HTTP/1.1\r\n\r\n"
                        "POST /b?k=v HTTP/1.1\r\nContent-Length: 5000\r\n\r\n");
    cl_send(c, big, 3000);
    usleep(20000);
    cl_send(c, big, 2000);
    expect(c, 0, 200, ECHO("GET", "/a", "", "0", ""), 0);
    expect(c, 0, 200, ECHO("POST", "/b", "k=v", "5000", B64), 0);
    cl_sends(c, "GET /a HTTP/1.1\r\n\r\n"
                "POST /c?k=w HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (i = 0; i < 6; i++) {
        cl_sends(c, "7d0\r\n");
        cl_send(c, big, 2000);
        cl_sends(c, "\r\n");
        usleep(5000);
    }
    cl_sends(c, "0\r\n\r\n");
    expect(c, 0, 200, ECHO("GET", "/a", "", "0", ""), 0);
    expect(c, 0, 200, ECHO("POST", "/c", "k=w", "12000", B64), 0);
    cl_close(c);
    ck_assert_int_eq(atomic_load(&t.handled), 5);
    srv_finish(&t);
}
END_TEST

START_TEST(srv_head_limits_and_errors)
{
    static const struct { const char *req; int status; } bad[] = {
        { "GET / HTTP/1.1\n\n", 400 },
        { "GET / HTTP/2.0\r\n\r\n", 505 },
        { "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501 },
        { "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400 },
    };
    static char buf[12000];
    tsrv t;
    client *c;
    size_t n, i;

    srv_start(&t, 0, 0, 0, 0);
    n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nX-Big: ");     /* 9 KiB of headers: 431 */
    memset(buf + n, 'h', 9 * 1024);
    memcpy(buf + n + 9 * 1024, "\r\n\r\n", 5);
    c = cl_open(t.port, buf);
    expect(c, 0, 431, NULL, 1);
    ck_assert_int_eq(cl_closed(c, 3000), 1);
    cl_close(c);
    n = (size_t)sprintf(buf, "GET /");                         /* 9 KiB request line: 414 */
    memset(buf + n, 'u', 9 * 1024);
    memcpy(buf + n + 9 * 1024, " HTTP/1.1\r\n\r\n", 14);
    c = cl_open(t.port, buf);
    expect(c, 0, 414, NULL, 1);
    ck_assert_int_eq(cl_closed(c, 3000), 1);
    cl_close(c);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {      /* answered after a good one */
        c = cl_open(t.port, "GET /ok HTTP/1.1\r\n\r\n");
        cl_sends(c, bad[i].req);
        expect(c, 0, 200, NULL, 0);
        expect(c, 0, bad[i].status, NULL, 1);
        ck_assert_int_eq(cl_closed(c, 3000), 1);
        cl_close(c);
    }
    ck_assert_int_eq(atomic_load(&t.handled), 4);
    srv_finish(&t);
}
END_TEST

START_TEST(srv_header_timeout_slowloris)
{
    const char *req = "GET / HTTP/1.1\r\nHost: slow\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    tsrv t;
    client *c;
    long long t0, dt = -1;
    size_t i;

    srv_start(&t, 300, 0, 0, 0);
    c = cl_open(t.port, NULL);
    t0 = mono_ms();
    for (i = 0; req[i]; i++) {                      /* one byte every 100 ms */
        struct pollfd pf = { c->fd, POLLIN, 0 };

        cl_send(c, req + i, 1);
        if (poll(&pf, 1, 100) > 0) {
            dt = mono_ms() - t0;
            break;
        }
    }
    ck_assert_int_ge(dt, 250);                      /* not reset by each byte */
    ck_assert_int_le(dt, 2500);                     /* 65 bytes would take 6.5 s */
    expect(c, 0, 408, NULL, 1);
    ck_assert_int_eq(cl_closed(c, 3000), 1);
    ck_assert_int_eq(atomic_load(&t.handled), 0);
    cl_close(c);
    srv_finish(&t);
}
END_TEST

START_TEST(srv_body_and_idle_timeouts)
{
    tsrv t;
    client *c;
    long long t0;

    srv_start(&t, 0, 300, 300, 0);
    t0 = mono_ms();                                 /* nothing answered yet: 408 */
    c = cl_open(t.port, "POST /b HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    expect(c, 0, 408, NULL, 1);
    ck_assert_int_ge(mono_ms() - t0, 250);
    ck_assert_int_eq(cl_closed(c, 3000), 1);
    cl_close(c);
    c = cl_open(t.port, "GET / HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    expect(c, 0, 200, NULL, 0);                     /* after an answer: silent close */
    ck_assert_int_eq(cl_closed(c, 3000), 1);
    cl_close(c);
    c = cl_open(t.port, "GET / HTTP/1.1\r\n\r\n");  /* idle keep-alive: silent close */
    expect(c, 0, 200, NULL, 0);
    t0 = mono_ms();
    ck_assert_int_eq(cl_closed(c, 3000), 1);
    ck_assert_int_ge(mono_ms() - t0, 200);
    ck_assert_int_le(mono_ms() - t0, 2500);
    ck_assert_int_eq(wait_conns(&t, 0), 0);
    cl_close(c);
    ck_assert_int_eq(atomic_load(&t.handled), 2);
    srv_finish(&t);
}
END_TEST

START_TEST(srv_max_conns)
{
    tsrv t;
    client *a, *b, *x;
    resp r;

    srv_start(&t, 0, 0, 0, 2);
    a = cl_open(t.port, "GET /a HTTP/1.1\r\n\r\n");
    b = cl_open(t.port, "GET /b HTTP/1.1\r\n\r\n");
    expect(a, 0, 200, NULL, 0);
    expect(b, 0, 200, NULL, 0);
    ck_assert_int_eq(srv_cmd(&t, 'c'), 2);
    x = cl_open(t.port, "GET /x HTTP/1.1\r\n\r\n");  /* answered 503 (or reset), closed */
    if (cl_resp(x, &r, 0)) {
        ck_assert_int_eq(r.status, 503);
        ck_assert_int_eq(r.close, 1);
    }
    ck_assert_int_eq(cl_closed(x, 3000), 1);
    cl_close(x);
    ck_assert_int_eq(srv_cmd(&t, 'c'), 2);
    ck_assert_int_eq(atomic_load(&t.handled), 2);
    cl_close(a);                                    /* after one leaves, served again */
    ck_assert_int_eq(wait_conns(&t, 1), 1);
    x = cl_open(t.port, "GET /y HTTP/1.1\r\n\r\n");
    expect(x, 0, 200, ECHO("GET", "/y", "", "0", ""), 0);
    cl_close(x);
    cl_close(b);
    srv_finish(&t);
}
END_TEST

START_TEST(srv_head_204_http10)
{
    tsrv t;
    client *c;
    resp r;
    long glen;

    srv_start(&t, 0, 0, 0, 0);
    c = cl_open(t.port, "GET /p HTTP/1.1\r\n\r\n");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    glen = r.clen;
    cl_sends(c, "HEAD /p HTTP/1.1\r\n\r\nGET /nc HTTP/1.1\r\n\r\nGET /z HTTP/1.1\r\n\r\n");
    ck_assert_int_eq(cl_resp(c, &r, 1), 1);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.clen, glen + 1);             /* "m=HEAD" is one longer than "m=GET" */
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_int_eq(r.status, 204);                /* 204: no length, no body */
    ck_assert_int_eq(r.clen, -1);
    expect(c, 0, 200, ECHO("GET", "/z", "", "0", ""), 0);   /* no stray body bytes */
    ck_assert_uint_eq(c->len, 0);
    cl_close(c);
    c = cl_open(t.port, "GET /a HTTP/1.0\r\n\r\n");          /* 1.0: close */
    expect(c, 0, 200, NULL, 1);
    ck_assert_int_eq(cl_closed(c, 2000), 1);
    cl_close(c);
    c = cl_open(t.port, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_int_eq(r.close, 0);
    ck_assert_int_eq(r.keep_alive_hdr, 1);
    cl_sends(c, "GET /c HTTP/1.1\r\nConnection: close\r\n\r\n");
    expect(c, 0, 200, NULL, 1);
    ck_assert_int_eq(cl_closed(c, 2000), 1);
    cl_close(c);
    srv_finish(&t);
}
END_TEST

START_TEST(srv_expect_continue)
{
    tsrv t;
    client *c;
    resp r;

    srv_start(&t, 0, 0, 0, 0);
    c = cl_open(t.port, "POST /b HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    ck_assert_int_eq(cl_resp(c, &r, 0), 1);
    ck_assert_str_eq(r.head, "HTTP/1.1 100 Continue\r\n\r\n");
    cl_sends(c, "data");
    expect(c, 0, 200, ECHO("POST", "/b", "", "4", "data"), 0);
    cl_sends(c, "POST /b HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nok");
    expect(c, 0, 200, ECHO("POST", "/b", "", "2", "ok"), 0);   /* body already in: no 100 */
    cl_sends(c, "POST /b HTTP/1.1\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n");
    expect(c, 0, 413, NULL, 1);                                /* too large: 413, not 100 */
    cl_close(c);
    srv_finish(&t);
}
END_TEST

START_TEST(srv_stop)
{
    struct sockaddr_in sa;
    tsrv t;
    client *idle, *busy;
    int fd;

    srv_start(&t, 0, 0, 0, 0);
    idle = cl_open(t.port, "GET / HTTP/1.1\r\n\r\n");
    expect(idle, 0, 200, NULL, 0);
    busy = cl_open(t.port, "POST /b HTTP/1.1\r\nContent-Length: 4\r\n\r\nab");
    ck_assert_int_eq(wait_conns(&t, 2), 2);
    srv_cmd(&t, 'c');                               /* a later loop pass: the head is read */
    ck_assert_int_eq(srv_cmd(&t, 's'), 1);         /* the idle one is closed at once */
    ck_assert_int_eq(cl_closed(idle, 2000), 1);
    cl_sends(busy, "cd");                           /* the busy one finishes, then closes */
    expect(busy, 0, 200, ECHO("POST", "/b", "", "4", "abcd"), 1);
    ck_assert_int_eq(cl_closed(busy, 2000), 1);
    ck_assert_int_eq(wait_conns(&t, 0), 0);
    memset(&sa, 0, sizeof(sa));                     /* and the listener is gone */
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)t.port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), -1);
    close(fd);
    cl_close(idle);
    cl_close(busy);
    srv_finish(&t);
}
END_TEST

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
    TCase *m = tcase_create("misc"), *v = tcase_create("server");

    tcase_add_test(m, misc_listen_reason_free);
    suite_add_tcase(s, m);
    tcase_set_timeout(v, 60);
    tcase_add_test(v, srv_keep_alive_pipeline);
    tcase_add_test(v, srv_slow_reader);
    tcase_add_test(v, srv_chunked);
    tcase_add_test(v, srv_body_limits);
    tcase_add_test(v, srv_head_limits_and_errors);
    tcase_add_test(v, srv_header_timeout_slowloris);
    tcase_add_test(v, srv_body_and_idle_timeouts);
    tcase_add_test(v, srv_max_conns);
    tcase_add_test(v, srv_head_204_http10);
    tcase_add_test(v, srv_expect_continue);
    tcase_add_test(v, srv_stop);
    suite_add_tcase(s, v);
    return s;
}

/* Runs the suite; returns non-zero when a test failed. */
int main(void)
{
    SRunner *sr = srunner_create(http_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
