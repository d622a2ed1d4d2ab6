/* http.c: the collector's HTTP/1.1 connection layer on libevent: listening,
 * accepting, keep-alive, pipelining, bodies, timeouts and responses. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* accept4 */
#endif
#include "http.h"
#include "clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#define OUT_INIT        1024        /* first output buffer of a response */
#define OUT_HIGH        65536       /* stop taking pipelined requests beyond this */
#define READ_ROOM       1024        /* grow or compact below this free space */
#define CHUNK_SLACK     16384       /* > the parser's 4 KiB chunk line limit */
#define LINGER_MS       2000        /* drain time after an error answer */
#define ACCEPT_BATCH    64
#define ACCEPT_PAUSE_MS 100         /* after EMFILE and friends */

enum { ST_IDLE, ST_HEAD, ST_BODY, ST_LINGER };

typedef struct conn conn;

/* One client connection; hdr and need are offsets from off, the start of
 * the current request in the input buffer. */
struct conn {
    coll_http *srv;
    conn *prev, *next;
    int fd;
    struct event *rev, *wev, *tmo;
    char *in;  size_t cap, len, off;
    char *out; size_t ocap, olen, opos;
    int state, closing, wblocked, eof, moved, tarmed, stalled, errored;
    unsigned long served;             /* responses queued on this connection */
    int64_t deadline;                 /* absolute ms of the current HEAD/BODY */
    size_t hdr, need;
    coll_http_chunked ch;             /* offsets from off + hdr */
    coll_http_req req;
    char peer[INET6_ADDRSTRLEN];
};

struct coll_http {
    struct event_base *base;
    int lfd;
    struct event *lev, *pause;
    coll_http_limits lim;
    coll_http_handler handler;
    void *arg;
    const struct timeval *tv_header, *tv_body, *tv_idle, *tv_linger;
    int nconns, stopping;
    conn *live;
};

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);
static void on_timer(evutil_socket_t fd, short what, void *arg);

/* ---- helpers ---- */

/* Converts ms to a timeval; cannot fail. */
static struct timeval ms_tv(int64_t ms)
{
    struct timeval tv;

    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
    return tv;
}

/* Writes v in decimal at p; returns the digit count (cannot fail). */
static size_t put_u(char *p, size_t v)
{
    char t[24];
    size_t n = 0, i;

    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (i = 0; i < n; i++)
        p[i] = t[n - 1 - i];
    return n;
}

/* Copies n bytes of s to p; returns p + n (cannot fail). */
static char *put(char *p, const char *s, size_t n)
{
    if (n)
        memcpy(p, s, n);
    return p + n;
}

/* Formats the peer address of ss into out (IPv4-mapped IPv6 as dotted
 * IPv4); leaves "" for another family. */
static void peer_text(const struct sockaddr_storage *ss, char *out, size_t n)
{
    const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)(const void *)ss;
    const struct sockaddr_in *a4 = (const struct sockaddr_in *)(const void *)ss;

    out[0] = '\0';
    if (ss->ss_family == AF_INET)
        inet_ntop(AF_INET, &a4->sin_addr, out, (socklen_t)n);
    else if (ss->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr))
        inet_ntop(AF_INET, &a6->sin6_addr.s6_addr[12], out, (socklen_t)n);
    else if (ss->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &a6->sin6_addr, out, (socklen_t)n);
}

/* ---- connection lifecycle ---- */

/* Allocates a connection bound to fd and links it live; returns NULL on
 * allocation failure. */
static conn *conn_new(coll_http *s, int fd)
{
    conn *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->rev = event_new(s->base, fd, EV_READ | EV_PERSIST, on_read, c);
    c->wev = event_new(s->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
    c->tmo = evtimer_new(s->base, on_timer, c);
    /* no buffers yet: an idle connection holds none (in_room and
     * out_reserve make them when bytes come or go) */
    if (!c->rev || !c->wev || !c->tmo) {
        if (c->rev) event_free(c->rev);
        if (c->wev) event_free(c->wev);
        if (c->tmo) event_free(c->tmo);
        free(c);
        return NULL;
    }
    c->srv = s;
    c->fd = fd;
    c->next = s->live;
    if (s->live)
        s->live->prev = c;
    s->live = c;
    s->nconns++;
    return c;
}

/* Closes c's socket, unlinks and frees it; cannot fail. */
static void conn_close(conn *c)
{
    coll_http *s = c->srv;

    if (c->prev)
        c->prev->next = c->next;
    else
        s->live = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    event_free(c->rev);
    event_free(c->wev);
    event_free(c->tmo);
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
}

/* Arms c's timer for its state (fresh: header timeout); with remaining,
 * HEAD and BODY get what is left of their absolute deadline. Cannot fail. */
static void arm(conn *c, int remaining)
{
    coll_http *s = c->srv;
    const struct timeval *tv = s->tv_linger;
    struct timeval left;

    if (remaining && (c->state == ST_HEAD || c->state == ST_BODY)) {
        int64_t ms = c->deadline - sys_mono_ms();

        left = ms_tv(ms < 1 ? 1 : ms);
        tv = &left;
    } else if (c->state == ST_IDLE) {
        tv = c->served ? s->tv_idle : s->tv_header;
    } else if (c->state == ST_HEAD) {
        tv = s->tv_header;
    } else if (c->state == ST_BODY) {
        tv = s->tv_body;
    }
    event_add(c->tmo, tv);
    c->tarmed = 1;
}

/* Stops reading and marks c to close once its output is flushed; cannot fail. */
static void set_closing(conn *c)
{
    c->closing = 1;
    event_del(c->rev);
}

/* Closes a flushed connection, or after an error answer or with unread
 * input half-closes and drains it for LINGER_MS (no RST eating the answer);
 * cannot fail. */
static void finish(conn *c)
{
    if (c->eof || (!c->errored && c->off == c->len)) {
        conn_close(c);
        return;
    }
    shutdown(c->fd, SHUT_WR);
    c->state = ST_LINGER;
    event_add(c->rev, NULL);
    arm(c, 0);
}

/* ---- output ---- */

/* Ensures room for n more output bytes; returns 0, or -1 on allocation
 * failure. */
static int out_reserve(conn *c, size_t n)
{
    size_t cap = c->ocap ? c->ocap : OUT_INIT;
    char *p;

    if (c->olen + n <= c->ocap)
        return 0;
    if (c->opos) {
        memmove(c->out, c->out + c->opos, c->olen - c->opos);
        c->olen -= c->opos;
        c->opos = 0;
        if (c->olen + n <= c->ocap)
            return 0;
    }
    while (cap < c->olen + n)
        cap *= 2;
    if (!(p = realloc(c->out, cap)))
        return -1;
    c->out = p;
    c->ocap = cap;
    return 0;
}

/* Copies the handler's response to req into the output buffer: 204 and
 * 304 carry neither Content-Length nor body, HEAD gets the length without
 * the body, a status outside 200..999 becomes 500. Returns 0, or -1 on
 * allocation failure. */
static int append_resp(conn *c, const coll_http_req *req, const coll_http_resp *r, int close)
{
    int st = r->status < 200 || r->status > 999 ? 500 : r->status;
    const char *reason = coll_http_reason(st);
    int nobody = st == 204 || st == 304;
    int send_body = !nobody && req->method != COLL_M_HEAD;
    size_t rl = strlen(reason), blen = (nobody || !r->body) ? 0 : r->body_len;
    size_t ctl = r->content_type ? strlen(r->content_type) : 0;
    size_t hl = r->headers ? strlen(r->headers) : 0;
    char *p;

    if (out_reserve(c, 100 + rl + ctl + hl + (send_body ? blen : 0)) < 0)
        return -1;
    p = put(c->out + c->olen, "HTTP/1.1 ", 9);
    p += put_u(p, (size_t)st);
    *p++ = ' ';
    p = put(p, reason, rl);
    p = put(p, "\r\n", 2);
    if (r->content_type) {
        p = put(p, "Content-Type: ", 14);
        p = put(p, r->content_type, ctl);
        p = put(p, "\r\n", 2);
    }
    p = put(p, r->headers, hl);
    if (!nobody) {
        p = put(p, "Content-Length: ", 16);
        p += put_u(p, blen);
        p = put(p, "\r\n", 2);
    }
    if (close)
        p = put(p, "Connection: close\r\n", 19);
    else if (req->minor == 0)
        p = put(p, "Connection: keep-alive\r\n", 24);
    p = put(p, "\r\n", 2);
    if (send_body)
        p = put(p, r->body, blen);
    c->olen = (size_t)(p - c->out);
    return 0;
}

/* Queues a body-less error answer with "Connection: close" and stops
 * reading; on allocation failure just marks c closing. */
static void fail(conn *c, int status)
{
    coll_http_req q;
    coll_http_resp r;

    memset(&q, 0, sizeof(q));
    memset(&r, 0, sizeof(r));
    q.minor = 1;
    r.status = status;
    c->errored = 1;
    set_closing(c);
    append_resp(c, &q, &r, 1);
}

/* Frees a buffer a connection no longer needs (it is made again on
 * demand); cannot fail. */
static void release(char **buf, size_t *cap)
{
    free(*buf);
    *buf = NULL;
    *cap = 0;
}

/* Sends queued output; returns 1 when all is sent, 0 when the socket is
 * full (write event and write timeout armed, reading paused), -1 when c
 * was closed on a send error. */
static int flush(conn *c)
{
    while (c->opos < c->olen) {
        ssize_t n = send(c->fd, c->out + c->opos, c->olen - c->opos, MSG_NOSIGNAL);

        if (n >= 0) {
            c->opos += (size_t)n;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (!c->wblocked) {
                c->wblocked = 1;
                event_del(c->rev);
                event_add(c->wev, NULL);
                event_add(c->tmo, c->srv->tv_idle);
                c->tarmed = 0;
            }
            return 0;
        } else if (errno != EINTR) {
            conn_close(c);
            return -1;
        }
    }
    c->olen = c->opos = 0;
    release(&c->out, &c->ocap);     /* all sent: an idle connection keeps no buffer */
    if (c->wblocked) {
        c->wblocked = 0;
        event_del(c->wev);
        if (!c->closing) {
            if (!c->eof)
                event_add(c->rev, NULL);
            arm(c, 1);
        }
    }
    return 1;
}

/* ---- input buffer ---- */

/* Moves the current request to the start of the input buffer, marking a
 * parsed head stale; cannot fail. */
static void compact(conn *c)
{
    if (c->off == 0)
        return;
    memmove(c->in, c->in + c->off, c->len - c->off);
    c->len -= c->off;
    c->off = 0;
    c->moved = c->state == ST_BODY;
}

/* Grows the input buffer to cap bytes, marking a parsed head stale;
 * returns 0, or -1 on allocation failure. */
static int in_grow(conn *c, size_t cap)
{
    char *p;

    if (cap <= c->cap)
        return 0;
    if (!(p = realloc(c->in, cap)))
        return -1;
    c->in = p;
    c->cap = cap;
    if (c->state == ST_BODY)
        c->moved = 1;
    return 0;
}

/* Makes room to read into, within the state's bound (max_header + a
 * margin for a head, the declared length for a body, max_body + slack for
 * a chunked one); returns the free bytes, 0 when none can be made. */
static size_t in_room(conn *c)
{
    const coll_http_limits *l = &c->srv->lim;
    size_t hard, want;

    if (c->off == c->len && c->state == ST_IDLE)
        c->off = c->len = 0;
    if (c->cap - c->len >= READ_ROOM || (c->state == ST_BODY && !c->req.chunked))
        return c->cap - c->len;
    compact(c);
    if (c->cap - c->len >= READ_ROOM)
        return c->cap - c->len;
    hard = c->state == ST_BODY ? c->hdr + l->max_body + CHUNK_SLACK : l->max_header + READ_ROOM;
    want = c->cap * 2 < c->len + 4 * READ_ROOM ? c->len + 4 * READ_ROOM : c->cap * 2;
    if (in_grow(c, want > hard ? hard : want) < 0)
        return 0;
    return c->cap - c->len;
}

/* ---- requests ---- */

/* Sets up the body of a head of hdr bytes (state BODY unless there is
 * none; 100 Continue queued when asked for and no body byte is in yet);
 * returns 0, or -413 over max_body, -500 on allocation failure. */
static int start_body(conn *c, size_t hdr)
{
    const coll_http_req *q = &c->req;

    c->hdr = c->need = hdr;
    c->moved = 0;
    if (q->chunked) {
        memset(&c->ch, 0, sizeof(c->ch));
    } else if (q->content_length <= 0) {
        return 0;
    } else if ((uint64_t)q->content_length > c->srv->lim.max_body) {
        return -413;
    } else {
        c->need = hdr + (size_t)q->content_length;
    }
    c->state = ST_BODY;
    c->tarmed = 0;
    c->deadline = sys_mono_ms() + c->srv->lim.body_timeout_ms;
    if (!q->chunked && c->off + c->need > c->cap) {
        compact(c);
        if (in_grow(c, c->need) < 0)
            return -500;
    }
    if (q->expect_continue && q->minor == 1 && c->len - c->off == hdr) {
        if (out_reserve(c, 25) < 0)
            return -500;
        memcpy(c->out + c->olen, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        c->olen += 25;
    }
    return 0;
}

/* Runs the handler on the complete current request, queues its response
 * and moves past the request; on allocation failure marks c closing. */
static void dispatch(conn *c)
{
    coll_http *s = c->srv;
    coll_http_req *q = &c->req;
    coll_http_resp resp;
    int chunked = c->state == ST_BODY && q->chunked, close;
    size_t end = chunked ? c->hdr + c->ch.r : c->need;

    if (c->moved)       /* the buffer moved under the parsed pointers */
        coll_http_parse(c->in + c->off, c->hdr, s->lim.max_header, s->lim.max_header, q);
    c->moved = 0;
    q->body = c->in + c->off + c->hdr;
    q->body_len = chunked ? c->ch.w : c->need - c->hdr;
    q->peer = c->peer;
    memset(&resp, 0, sizeof(resp));
    resp.status = 200;
    s->handler(s->arg, q, &resp);
    close = resp.close || !q->keep_alive || s->stopping;
    if (append_resp(c, q, &resp, close) < 0)
        close = 1;
    c->served++;
    c->off += end;
    c->state = ST_IDLE;
    c->tarmed = 0;
    if (close)
        set_closing(c);
    if (c->off == c->len) {     /* nothing pipelined behind: the buffer goes until the next read */
        c->off = c->len = 0;
        release(&c->in, &c->cap);
    }
}

/* Runs every complete request in the input buffer, in order, until one
 * needs more input, an error answer closes c, or queued output passes
 * OUT_HIGH (stalled); arms the state's timer. Cannot fail. */
static void process(conn *c)
{
    const coll_http_limits *l = &c->srv->lim;

    c->stalled = 0;
    while (!c->closing) {
        int r;

        if (c->olen - c->opos >= OUT_HIGH) {
            c->stalled = 1;
            return;
        }
        if (c->state == ST_IDLE) {
            if (c->off == c->len)
                break;
            c->state = ST_HEAD;       /* the header deadline runs from here */
            c->tarmed = 0;
            c->deadline = sys_mono_ms() + l->header_timeout_ms;
        }
        if (c->state == ST_HEAD) {
            r = coll_http_parse(c->in + c->off, c->len - c->off, l->max_header,
                                l->max_header, &c->req);
            if (r == 0)
                break;
            if (r < 0 || (r = start_body(c, (size_t)r)) < 0) {
                fail(c, -r);
                return;
            }
        }
        if (c->state == ST_BODY) {
            r = !c->req.chunked ? c->len - c->off >= c->need
              : coll_http_dechunk(c->in + c->off + c->hdr, c->len - c->off - c->hdr,
                                  l->max_body, &c->ch);
            if (r == 0)
                break;
            if (r < 0) {
                fail(c, -r);
                return;
            }
        }
        dispatch(c);
    }
    if (!c->closing && !c->tarmed)
        arm(c, 0);
}

/* ---- event callbacks ---- */

/* Processes buffered input and flushes until c waits for the network;
 * c may be closed on return. Cannot fail. */
static void drive(conn *c)
{
    for (;;) {
        process(c);
        if (c->eof && !c->closing)
            set_closing(c);   /* answer what came before the EOF, then close */
        if (flush(c) <= 0)
            return;
        if (c->closing) {
            finish(c);
            return;
        }
        if (!c->stalled)
            return;
    }
}

/* Reads what the socket holds into c's buffer and drives c (a lingering
 * connection just discards it); closes c on a read error. */
static void on_read(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;
    ssize_t n;
    size_t room;

    (void)what;
    if (c->state == ST_LINGER) {
        char junk[4096];

        n = recv(fd, junk, sizeof(junk), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            conn_close(c);
        return;
    }
    room = in_room(c);
    if (room == 0) {
        fail(c, c->state == ST_BODY ? 413 : 431);
        drive(c);
        return;
    }
    n = recv(fd, c->in + c->len, room, 0);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            conn_close(c);
        return;
    }
    if (n == 0) {
        c->eof = 1;
        event_del(c->rev);
    }
    c->len += (size_t)n;
    drive(c);
}

/* Continues a stalled write; drives or finishes c once drained. */
static void on_write(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;

    (void)fd, (void)what;
    if (flush(c) != 1)
        return;
    if (c->closing)
        finish(c);
    else
        drive(c);
}

/* Handles an expired deadline: 408 for a request timing out on a
 * connection that has answered nothing yet, else a silent close. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;

    (void)fd, (void)what;
    if (!c->wblocked && !c->closing && c->served == 0 &&
        (c->state == ST_HEAD || c->state == ST_BODY)) {
        fail(c, 408);
        if (flush(c) == 1)
            finish(c);
        return;
    }
    conn_close(c);
}

/* Answers 503 on a connection over max_conns and closes it; cannot fail. */
static void refuse(int fd)
{
    static const char r503[] = "HTTP/1.1 503 Service Unavailable\r\n"
                               "Content-Length: 0\r\nConnection: close\r\n\r\n";
    char junk[2048];

    (void)recv(fd, junk, sizeof(junk), 0);   /* unread input would turn close into RST */
    (void)send(fd, r503, sizeof(r503) - 1, MSG_NOSIGNAL);
    shutdown(fd, SHUT_WR);
    close(fd);
}

/* Accepts up to ACCEPT_BATCH connections; pauses the listener for
 * ACCEPT_PAUSE_MS when out of descriptors or memory. */
static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
    coll_http *s = arg;
    int i, one = 1;

    (void)what;
    for (i = 0; i < ACCEPT_BATCH && !s->stopping; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        conn *c;

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                struct timeval tv = ms_tv(ACCEPT_PAUSE_MS);

                event_del(s->lev);
                evtimer_add(s->pause, &tv);
            }
            return;
        }
        if (s->nconns >= s->lim.max_conns || !(c = conn_new(s, fd))) {
            refuse(fd);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        peer_text(&ss, c->peer, sizeof(c->peer));
        event_add(c->rev, NULL);
        arm(c, 0);
    }
}

/* Resumes accepting after a pause; cannot fail. */
static void on_pause(evutil_socket_t fd, short what, void *arg)
{
    coll_http *s = arg;

    (void)fd, (void)what;
    if (!s->stopping && s->lev)
        event_add(s->lev, NULL);
}

/* ---- server ---- */

/* Returns libevent's O(1) "common timeout" for ms, or NULL on failure. */
static const struct timeval *common_tv(struct event_base *base, int ms)
{
    struct timeval tv = ms_tv(ms);

    return event_base_init_common_timeout(base, &tv);
}

/* Creates the server; zero limits take the SPEC defaults (8 KiB, 64 KiB,
 * 10 s, 10 s, 30 s, no cap). Returns NULL on allocation failure or bad
 * arguments, having closed listen_fd (the server owns it). */
coll_http *coll_http_new(struct event_base *base, int listen_fd,
                         const coll_http_limits *limits, coll_http_handler handler,
                         void *arg)
{
    coll_http *s = NULL;
    int fl;

    if (listen_fd < 0 || !base || !handler || !(s = calloc(1, sizeof(*s))))
        goto fail;
    if (limits)
        s->lim = *limits;
    if (s->lim.max_header == 0) s->lim.max_header = 8192;
    if (s->lim.max_body == 0) s->lim.max_body = 65536;
    if (s->lim.header_timeout_ms <= 0) s->lim.header_timeout_ms = 10000;
    if (s->lim.body_timeout_ms <= 0) s->lim.body_timeout_ms = 10000;
    if (s->lim.idle_timeout_ms <= 0) s->lim.idle_timeout_ms = 30000;
    if (s->lim.max_conns <= 0) s->lim.max_conns = 1 << 30;
    s->base = base;
    s->lfd = listen_fd;
    s->handler = handler;
    s->arg = arg;
    if ((fl = fcntl(listen_fd, F_GETFL)) >= 0)
        fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK);
    s->tv_header = common_tv(base, s->lim.header_timeout_ms);
    s->tv_body = common_tv(base, s->lim.body_timeout_ms);
    s->tv_idle = common_tv(base, s->lim.idle_timeout_ms);
    s->tv_linger = common_tv(base, LINGER_MS);
    s->lev = event_new(base, listen_fd, EV_READ | EV_PERSIST, on_accept, s);
    s->pause = evtimer_new(base, on_pause, s);
    if (s->tv_header && s->tv_body && s->tv_idle && s->tv_linger && s->lev && s->pause &&
        event_add(s->lev, NULL) == 0)
        return s;
fail:
    if (s) {
        if (s->lev) event_free(s->lev);
        if (s->pause) event_free(s->pause);
        free(s);
    }
    if (listen_fd >= 0)
        close(listen_fd);
    return NULL;
}

/* Stops accepting (closing the listener), closes idle connections and
 * lets busy ones finish their request, then close; NULL is a no-op. */
void coll_http_stop(coll_http *s)
{
    conn *c, *next;

    if (!s || s->stopping)
        return;
    s->stopping = 1;
    if (s->lev) {
        event_free(s->lev);
        s->lev = NULL;
    }
    event_del(s->pause);
    if (s->lfd >= 0) {
        close(s->lfd);
        s->lfd = -1;
    }
    for (c = s->live; c; c = next) {
        next = c->next;
        if (c->state != ST_IDLE || c->closing)
            continue;                 /* busy, lingering or already closing */
        if (c->opos == c->olen)
            conn_close(c);
        else
            set_closing(c);           /* stalled on output: close once sent */
    }
}

/* Returns the number of open connections (0 for NULL). */
int coll_http_conns(const coll_http *s)
{
    return s ? s->nconns : 0;
}

/* Frees the server, closing the listener and every connection; NULL is a
 * no-op. Must not be called from inside a handler. */
void coll_http_free(coll_http *s)
{
    if (!s)
        return;
    coll_http_stop(s);
    while (s->live)
        conn_close(s->live);
    event_free(s->pause);
    free(s);
}
