/* webhook_http.c: the webhook HTTP(S) client (URL, DNS, TLS, POST) and an alert's JSON body. */
#include "webhook.h"
#include "clock.h"
#include "webhook_int.h"
#include "text.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

/* Formats a one-line reason into err; always returns -1 (the failure). */
static int fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t cap, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
        for (char *p = err; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
    }
    return -1;
}

/* Reports whether the stop flag (may be NULL) is set; cannot fail. */
static int stopped(const atomic_int *stop)
{
    return stop && atomic_load(stop);
}

/* ---------------------------------------------------------------- URL */

/* Splits an http:// or https:// URL. Returns 0, or -1 with the reason in err. */
int agg_http_url_parse(const char *url, wh_url *u, char *err, size_t cap)
{
    memset(u, 0, sizeof *u);
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return fail(err, cap, "URL holds a space or control character");
    const char *a;
    if (strncasecmp(url, "http://", 7) == 0) {
        a = url + 7;
    } else if (strncasecmp(url, "https://", 8) == 0) {
        a = url + 8;
        u->tls = 1;
    } else {
        return fail(err, cap, "unsupported URL scheme (want http:// or https://)");
    }
    size_t alen = strcspn(a, "/?#");
    const char *rest = a + alen, *end = a + alen, *h = a, *hend, *pp = NULL;
    if (memchr(a, '@', alen))
        return fail(err, cap, "user info in URL is not supported");
    if (*h == '[') {
        hend = memchr(h, ']', alen);
        if (!hend)
            return fail(err, cap, "URL has an unterminated IPv6 literal");
        h++;
        if (hend + 1 < end && hend[1] != ':')
            return fail(err, cap, "URL has junk after the IPv6 literal");
        if (hend + 1 < end)
            pp = hend + 2;
    } else {
        hend = memchr(h, ':', alen);
        if (hend)
            pp = hend + 1;
        else
            hend = end;
    }
    size_t hl = (size_t)(hend - h);
    if (hl == 0 || hl >= sizeof u->host)
        return fail(err, cap, "URL has an empty or overlong host");
    memcpy(u->host, h, hl);
    long port = u->tls ? 443 : 80;
    if (pp) {
        char *e;
        if (pp == end || (size_t)(end - pp) > 5)
            return fail(err, cap, "URL has an invalid port");
        port = strtol(pp, &e, 10);
        if (e != end || port < 1 || port > 65535)
            return fail(err, cap, "URL has an invalid port");
    }
    snprintf(u->port, sizeof u->port, "%ld", port);
    unsigned char tmp[16];
    u->is_ip = inet_pton(AF_INET, u->host, tmp) == 1 || inet_pton(AF_INET6, u->host, tmp) == 1;
    if (*a == '[' && !u->is_ip)
        return fail(err, cap, "URL has an invalid IPv6 literal");
    int v6 = strchr(u->host, ':') != NULL;
    if (port == (u->tls ? 443 : 80))
        snprintf(u->hosthdr, sizeof u->hosthdr, v6 ? "[%s]" : "%s", u->host);
    else
        snprintf(u->hosthdr, sizeof u->hosthdr, v6 ? "[%s]:%ld" : "%s:%ld", u->host, port);
    size_t pl = strcspn(rest, "#");
    if (pl + 2 > sizeof u->path)
        return fail(err, cap, "URL path is too long");
    snprintf(u->path, sizeof u->path, "%s%.*s", *rest == '/' ? "" : "/", (int)pl, rest);
    return 0;
}

/* ---------------------------------------------------------------- resolving */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, abandoned, rc;
    struct addrinfo *res;
    char host[256], port[8];
} wh_resolve;

/* Frees a resolve request; cannot fail. */
static void resolve_free(wh_resolve *r)
{
    if (r->res)
        freeaddrinfo(r->res);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* Runs getaddrinfo for a waiting caller, or frees the request if it gave up; returns NULL. */
static void *resolve_main(void *arg)
{
    wh_resolve *r = arg;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res = NULL;
    int rc = getaddrinfo(r->host, r->port, &hints, &res);
    pthread_mutex_lock(&r->mu);
    r->rc = rc;
    r->res = res;
    r->done = 1;
    int abandoned = r->abandoned;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (abandoned)
        resolve_free(r);
    return NULL;
}

/* Resolves u's host by the deadline (a name in a thread of its own, which is
 * left behind on timeout). Returns the list, or NULL with the reason in err. */
static struct addrinfo *resolve(const wh_url *u, int64_t deadline, const atomic_int *stop,
                                char *err, size_t cap)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_NUMERICHOST}, *res = NULL;
    if (u->is_ip) {
        int rc = getaddrinfo(u->host, u->port, &hints, &res);
        if (rc)
            fail(err, cap, "resolve %s: %s", u->host, gai_strerror(rc));
        return rc ? NULL : res;
    }
    wh_resolve *r = calloc(1, sizeof *r);
    pthread_condattr_t ca;
    pthread_attr_t ta;
    pthread_t th;
    if (!r) {
        fail(err, cap, "out of memory");
        return NULL;
    }
    snprintf(r->host, sizeof r->host, "%s", u->host);
    snprintf(r->port, sizeof r->port, "%s", u->port);
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_attr_init(&ta);
    pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
    int started = pthread_create(&th, &ta, resolve_main, r) == 0;
    pthread_attr_destroy(&ta);
    if (!started) {
        resolve_free(r);
        fail(err, cap, "resolve %s: cannot start a thread", u->host);
        return NULL;
    }
    pthread_mutex_lock(&r->mu);
    int64_t t;
    while (!r->done && (t = sys_mono_ms()) < deadline && !stopped(stop)) {
        int64_t until = t + WH_SLICE_MS < deadline ? t + WH_SLICE_MS : deadline;
        struct timespec ts = {(time_t)(until / 1000), (long)(until % 1000) * 1000000};
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    if (!r->done) {
        r->abandoned = 1;
        pthread_mutex_unlock(&r->mu);
        fail(err, cap, "resolve %s: timed out", u->host);
        return NULL;
    }
    pthread_mutex_unlock(&r->mu);
    if (r->rc)
        fail(err, cap, "resolve %s: %s", u->host, gai_strerror(r->rc));
    else
        res = r->res;
    r->res = NULL;
    resolve_free(r);
    return res;
}

/* ---------------------------------------------------------------- connection */

typedef struct {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    int64_t deadline;
    const atomic_int *stop;
} wh_conn;

/* Waits until fd is ready for ev, in slices that notice stop. Returns 1 when
 * ready, or -1 on timeout, stop or poll error (reason in err). */
static int wait_fd(wh_conn *c, short ev, const char *what, char *err, size_t cap)
{
    for (;;) {
        if (stopped(c->stop))
            return fail(err, cap, "stopped while %s", what);
        int64_t left = c->deadline - sys_mono_ms();
        if (left <= 0)
            return fail(err, cap, "timed out %s", what);
        struct pollfd p = {.fd = c->fd, .events = ev};
        int n = poll(&p, 1, (int)(left < WH_SLICE_MS ? left : WH_SLICE_MS));
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return fail(err, cap, "poll: %s", strerror(errno));
    }
}

/* Connects to the first address of u that answers, non-blocking. Returns 0,
 * or -1 with the reason in err. */
static int conn_open(wh_conn *c, const wh_url *u, char *err, size_t cap)
{
    struct addrinfo *res = resolve(u, c->deadline, c->stop, err, cap);
    if (!res)
        return -1;
    fail(err, cap, "connect %s: no address", u->host);
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);
        if (fd < 0) {
            fail(err, cap, "socket: %s", strerror(errno));
            continue;
        }
        c->fd = fd;
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen), e = errno;
        if (rc < 0 && e == EINPROGRESS && wait_fd(c, POLLOUT, "connecting", err, cap) == 1) {
            socklen_t sl = sizeof e;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) < 0)
                e = errno;
            rc = e ? -1 : 0;
        } else if (rc < 0 && e == EINPROGRESS) {
            e = 0;      /* timed out or stopped: err says so */
        }
        if (rc == 0) {
            freeaddrinfo(res);
            return 0;
        }
        if (e)
            fail(err, cap, "connect %s port %s: %s", u->host, u->port, strerror(e));
        close(fd);
        c->fd = -1;
        if (sys_mono_ms() >= c->deadline || stopped(c->stop))
            break;
    }
    freeaddrinfo(res);
    return -1;
}

/* Maps an OpenSSL failure to a one-line reason. Always returns -1. */
static int tls_fail(wh_conn *c, int rc, const char *what, char *err, size_t cap)
{
    int e = SSL_get_error(c->ssl, rc);
    long vr = SSL_get_verify_result(c->ssl);
    unsigned long code = ERR_peek_last_error();
    char buf[256];
    if (vr != X509_V_OK)
        return fail(err, cap, "certificate verify failed: %s", X509_verify_cert_error_string(vr));
    if (e == SSL_ERROR_SYSCALL && !code)
        return fail(err, cap, "TLS %s: %s", what, errno ? strerror(errno) : "unexpected EOF");
    if (e == SSL_ERROR_ZERO_RETURN)
        return fail(err, cap, "TLS %s: connection closed", what);
    ERR_error_string_n(code, buf, sizeof buf);
    return fail(err, cap, "TLS %s: %s", what, code ? buf : "failed");
}

/* Runs one TLS step (f) until it completes. Returns its result (> 0), or -1
 * with the reason in err. */
static int tls_step(wh_conn *c, int (*f)(SSL *, void *, int), void *buf, int len,
                    const char *what, char *err, size_t cap)
{
    for (;;) {
        errno = 0;
        int rc = f(c->ssl, buf, len);
        if (rc > 0)
            return rc;
        int e = SSL_get_error(c->ssl, rc);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, what, err, cap) < 0)
                return -1;
            continue;
        }
        if (e == SSL_ERROR_ZERO_RETURN)
            return 0;
        return tls_fail(c, rc, what, err, cap);
    }
}

/* Adapts SSL_connect to tls_step; returns SSL_connect's result. */
static int ssl_connect_f(SSL *s, void *buf, int len)
{
    (void)buf;
    (void)len;
    return SSL_connect(s);
}

/* Adapts SSL_write to tls_step; returns SSL_write's result. */
static int ssl_write_f(SSL *s, void *buf, int len)
{
    return SSL_write(s, buf, len);
}

/* Starts TLS on the connection, verifying chain and host name. Returns 0, or
 * -1 with the reason in err. */
static int tls_start(wh_conn *c, const wh_url *u, char *err, size_t cap)
{
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx)
        return fail(err, cap, "TLS: cannot create a context");
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    SSL_CTX_set_default_verify_paths(c->ctx);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    c->ssl = SSL_new(c->ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
        return fail(err, cap, "TLS: cannot create a session");
    int ok = u->is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), u->host)
                      : SSL_set_tlsext_host_name(c->ssl, u->host) == 1 &&
                            SSL_set1_host(c->ssl, u->host) == 1;
    if (!ok)
        return fail(err, cap, "TLS: cannot set the expected host name");
    int rc = tls_step(c, ssl_connect_f, NULL, 0, "handshake", err, cap);
    if (rc == 0)
        return fail(err, cap, "TLS handshake: connection closed");
    return rc > 0 ? 0 : -1;
}

/* Writes all of buf. Returns 0, or -1 with the reason in err. */
static int conn_write(wh_conn *c, const char *buf, size_t len, char *err, size_t cap)
{
    while (len) {
        int chunk = len > (1u << 30) ? 1 << 30 : (int)len;
        ssize_t n;
        if (c->ssl) {
            n = tls_step(c, ssl_write_f, (void *)(uintptr_t)buf, chunk, "sending", err, cap);
            if (n <= 0)
                return n ? -1 : fail(err, cap, "connection closed while sending");
        } else {
            n = send(c->fd, buf, (size_t)chunk, MSG_NOSIGNAL);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                if (wait_fd(c, POLLOUT, "sending", err, cap) < 0)
                    return -1;
                continue;
            }
            if (n < 0)
                return fail(err, cap, "send: %s", strerror(errno));
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads some bytes. Returns their count, 0 at EOF, or -1 with the reason in err. */
static int conn_read(wh_conn *c, char *buf, size_t cap_buf, char *err, size_t cap)
{
    int want = cap_buf > 65536 ? 65536 : (int)cap_buf;
    for (;;) {
        if (c->ssl)
            return tls_step(c, SSL_read, buf, want, "reading", err, cap);
        ssize_t n = recv(c->fd, buf, (size_t)want, 0);
        if (n >= 0)
            return (int)n;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return fail(err, cap, "recv: %s", strerror(errno));
        if (wait_fd(c, POLLIN, "waiting for the response", err, cap) < 0)
            return -1;
    }
}

/* Reads the status line and returns its code, or -1 with the reason in err;
 * then drains the rest of a short answer briefly, so closing sends no reset. */
static int read_status(wh_conn *c, char *err, size_t cap)
{
    char buf[1024];
    size_t have = 0;
    int status = -1;
    while (status < 0) {
        int n = conn_read(c, buf + have, sizeof buf - 1 - have, err, cap);
        if (n < 0)
            return -1;
        if (n == 0)
            return fail(err, cap, "connection closed before the status line");
        have += (size_t)n;
        buf[have] = 0;
        if (!strchr(buf, '\n')) {
            if (have == sizeof buf - 1)
                return fail(err, cap, "status line too long");
            continue;
        }
        int d1, d2, d3;
        if (strncmp(buf, "HTTP/1.", 7) != 0 || have < 13 || buf[8] != ' ' ||
            sscanf(buf + 9, "%1d%1d%1d", &d1, &d2, &d3) != 3 || d1 < 1)
            return fail(err, cap, "malformed status line");
        status = d1 * 100 + d2 * 10 + d3;
    }
    int64_t drain = sys_mono_ms() + 250;
    if (drain < c->deadline)
        c->deadline = drain;
    char e2[8];
    for (int i = 0; i < 16 && conn_read(c, buf, sizeof buf, e2, sizeof e2) > 0; i++)
        ;
    return status;
}

/* Closes the connection and frees its TLS state; cannot fail. */
static void conn_close(wh_conn *c)
{
    if (c->ssl)
        SSL_free(c->ssl);
    if (c->ctx)
        SSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
    c->ssl = NULL;
    c->ctx = NULL;
    c->fd = -1;
}

/* Posts body to url by the deadline, giving up when *stop is set. Returns the
 * HTTP status, or -1 with the reason in err. */
int agg_http_post(const char *url, const char *body, size_t len, int timeout_ms,
                  const atomic_int *stop, char *err, size_t cap)
{
    wh_url u;
    wh_conn c = {.fd = -1, .deadline = sys_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0),
                 .stop = stop};
    char head[4096];
    sigset_t pipe_set, old;
    int rc = -1;
    if (agg_http_url_parse(url, &u, err, cap) < 0)
        return -1;
    int hl = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\nUser-Agent: actiongap-aggregator\r\n"
                      "Connection: close\r\n\r\n", u.path, u.hosthdr, len);
    if (hl < 0 || (size_t)hl >= sizeof head)
        return fail(err, cap, "request head too long");
    /* a write to a peer that is gone must fail, not raise SIGPIPE (TLS writes too) */
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigset_t pend;
    sigpending(&pend);
    int was_pending = sigismember(&pend, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    ERR_clear_error();
    if (conn_open(&c, &u, err, cap) < 0)
        goto done;
    if (u.tls && tls_start(&c, &u, err, cap) < 0)
        goto done;
    if (conn_write(&c, head, (size_t)hl, err, cap) < 0 || conn_write(&c, body, len, err, cap) < 0)
        goto done;
    rc = read_status(&c, err, cap);
done:
    conn_close(&c);
    ERR_clear_error();
    sigpending(&pend);
    if (!was_pending && sigismember(&pend, SIGPIPE)) {
        struct timespec zero = {0, 0};
        sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* Posts body to url within timeout_ms. Returns the HTTP status, or -1 with the reason in err. */
int agg_webhook_post(const char *url, const char *body, size_t len, int timeout_ms, char *err,
                     size_t cap)
{
    return agg_http_post(url, body, len, timeout_ms, NULL, err, cap);
}

/* ---------------------------------------------------------------- body */

typedef struct {
    char *p;
    size_t cap, len;    /* len counts what was wanted, even past cap */
} wh_buf;

/* Appends n bytes if they fit (len grows regardless); cannot fail. */
static void put(wh_buf *b, const char *s, size_t n)
{
    if (b->len + n < b->cap)
        memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* Appends a NUL-terminated string; cannot fail. */
static void puts_(wh_buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* Appends s escaped for a JSON string (no quotes), invalid UTF-8 as U+FFFD; cannot fail. */
static void put_esc(wh_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        char e[8];
        size_t n = 1;
        if (*p == '"' || *p == '\\') {
            e[0] = '\\', e[1] = (char)*p;
            put(b, e, 2);
        } else if (*p < 0x20) {
            const char *named = *p == '\n' ? "\\n" : *p == '\r' ? "\\r" : *p == '\t' ? "\\t"
                              : *p == '\b' ? "\\b" : *p == '\f' ? "\\f" : NULL;
            if (named)
                puts_(b, named);
            else {
                snprintf(e, sizeof e, "\\u%04x", *p);
                puts_(b, e);
            }
        } else if (*p < 0x80) {
            put(b, (const char *)p, 1);
        } else if ((n = proto_utf8_seq(p, strlen((const char *)p))) > 0) {
            put(b, (const char *)p, n);
        } else {
            n = 1;
            puts_(b, "\\ufffd");
        }
        p += n;
    }
}

/* Parses a whole decimal integer. Returns 0, or -1 if s is not one. */
static int parse_ll(const char *s, long long *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno || *end ? -1 : 0;
}

/* Writes seconds as a person reads them ("45 s", "17 min", "2 h 5 min",
 * "3 d 4 h"), or "?" if secs is not a number; cannot fail. */
static void human(char *out, size_t cap, const char *secs)
{
    long long s;
    if (parse_ll(secs, &s) < 0)
        snprintf(out, cap, "?");
    else
        proto_fmt_duration(out, cap, (double)s, PROTO_DUR_WORDS);
}

/* Returns the value of field name, or NULL if absent. */
const char *agg_webhook_field(int n, const char *const names[], const char *const values[],
                              const char *name)
{
    for (int i = 0; i < n; i++)
        if (names[i] && values[i] && strcmp(names[i], name) == 0)
            return values[i];
    return NULL;
}

/* Writes the JSON body of an alert into out. Returns its length, or -1 if it does not fit. */
long agg_webhook_body(int n, const char *const names[], const char *const values[], char *out,
                      size_t cap)
{
    static const char *const numeric[] = {"signup_ts", "waited_s", "sla_s", "ts", "followup_ts"};
    wh_buf b = {out, cap, 0};
    const char *kind = agg_webhook_field(n, names, values, "kind");
    const char *subject = agg_webhook_field(n, names, values, "subject");
    const char *label = agg_webhook_field(n, names, values, "name");
    char waited[48], sla[48];
    if (!label || !*label)
        label = agg_webhook_field(n, names, values, "campaign");
    put(&b, "{", 1);
    for (int i = 0; i < n; i++) {
        long long v;
        int num = 0;
        if (!names[i] || !values[i] || strcmp(names[i], "text") == 0)
            continue;
        for (size_t k = 0; k < sizeof numeric / sizeof numeric[0]; k++)
            num |= strcmp(names[i], numeric[k]) == 0;
        put(&b, "\"", 1);
        put_esc(&b, names[i]);
        put(&b, "\":", 2);
        if (num && parse_ll(values[i], &v) == 0) {
            char d[24];
            snprintf(d, sizeof d, "%lld", v);
            puts_(&b, d);
        } else {
            put(&b, "\"", 1);
            put_esc(&b, values[i]);
            put(&b, "\"", 1);
        }
        put(&b, ",", 1);
    }
    human(waited, sizeof waited, agg_webhook_field(n, names, values, "waited_s"));
    human(sla, sizeof sla, agg_webhook_field(n, names, values, "sla_s"));
    int overdue = kind && strcmp(kind, "followup_overdue") == 0;
    int resolved = kind && strcmp(kind, "followup_resolved") == 0;
    puts_(&b, "\"text\":\"");
    if (overdue || resolved) {
        puts_(&b, "Signup ");
        put_esc(&b, subject ? subject : "?");
        puts_(&b, " (");
        put_esc(&b, label ? label : "?");
        puts_(&b, overdue ? ") has waited " : ") was followed up after ");
        puts_(&b, waited);
        puts_(&b, overdue ? " for follow-up; SLA " : "; SLA ");
        puts_(&b, sla);
    } else {
        puts_(&b, "Alert ");
        put_esc(&b, kind ? kind : "?");
        puts_(&b, " for ");
        put_esc(&b, label ? label : "?");
        if (subject) {
            puts_(&b, ", subject ");
            put_esc(&b, subject);
        }
    }
    puts_(&b, "\"}");
    if (b.len >= cap)
        return -1;
    out[b.len] = 0;
    return (long)b.len;
}