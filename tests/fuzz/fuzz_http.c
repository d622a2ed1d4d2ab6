/* fuzz_http.c: libFuzzer target for the collector's whole request path
 * without sockets — bytes → coll_http_parse (+ coll_http_dechunk) → the
 * real handler coll_handle → a response whose fields are checked. Requests
 * are taken in order like the connection layer does (pipelining). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "collector.h"
#include "conf.h"
#include "fuzz_common.h"
#include "http.h"
#include "log.h"
#include "sign.h"
#include "url.h"

#define MAX_REQUESTS 32          /* pipelined requests handled per input */
#define TOKEN "fuzz-api-token"

static coll_ctx g_ctx;
static coll_worker g_worker;
static int g_trace;              /* AG_FUZZ_TRACE set: print each answer on stderr */
static const coll_http_req *g_req; /* the request being handled */

/* Returns 1 if header value v (n bytes) is exactly "1". */
static int is_one(const char *v, size_t n)
{
    return v && n == 1 && v[0] == '1';
}

/* Checks every hit the handlers accept (the worker's sink table sends them here):
 * SPEC 2 rules for its endpoint, followup only through the API, stored IPs
 * truncated, Sec-GPC/DNT honoured, and with require_signature = all a
 * pixel or click hit only with a valid signature of its query. */
static int checked_push(coll_sink *s, proto_hit *hit)
{
    const proto_conf *c = &g_ctx.conf;
    FUZZ_CHECK(g_req != NULL);
    fuzz_check_finished(hit, hit->via);
    FUZZ_CHECK(hit->agent >= 0 && hit->agent < PROTO_AGENT_COUNT);
    if (hit->via == PROTO_VIA_API)
        FUZZ_CHECK(hit->agent == PROTO_AGENT_HUMAN);
    if (strchr(hit->ip, '.') && !strchr(hit->ip, ':'))
        FUZZ_CHECK(strlen(hit->ip) >= 2 && strcmp(hit->ip + strlen(hit->ip) - 2, ".0") == 0);
    if (hit->via != PROTO_VIA_API &&
        (is_one(g_req->sec_gpc, g_req->sec_gpc_len) || is_one(g_req->dnt, g_req->dnt_len)))
        FUZZ_CHECK(!hit->subject[0] && !hit->ip[0] && !hit->ua[0]);
    if (c->require_signature == PROTO_SIG_ALL &&
        (hit->via == PROTO_VIA_PIXEL || hit->via == PROTO_VIA_CLICK))
        FUZZ_CHECK(proto_sign_verify(c->signing_key, strlen(c->signing_key), g_req->query,
                                     g_req->query_len) == 1);
    if (c->require_signature == PROTO_SIG_ALL && hit->via == PROTO_VIA_BEACON)
        FUZZ_CHECK(hit->sig[0] != 0);
    return coll_sink_push(s, hit);
}

/* The real sink behind checked_push. */
static const coll_sink_api g_api = {checked_push, coll_sink_room, coll_sink_reject};

/* Frees the worker and removes its spool directory at exit. */
static void teardown(void)
{
    char cmd[PATH_MAX + 32];
    coll_sink_free(g_worker.sink);
    g_worker.sink = NULL;
    if (g_worker.base)
        event_base_free(g_worker.base);
    g_worker.base = NULL;
    proto_buf_free(&g_worker.scratch);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_tmpdir());
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_http: could not remove %s\n", fuzz_tmpdir());
}

/* Builds the context once: defaults plus a key, a token and allow lists;
 * one worker whose loop never runs and whose sink points at a Redis that
 * refuses connections, so hits go to a small spool (or are dropped). */
static void setup(void)
{
    char err[256];
    proto_conf *c = &g_ctx.conf;
    proto_conf_defaults(c);
    sys_log_set_level("error");
    g_trace = getenv("AG_FUZZ_TRACE") != NULL;
    snprintf(c->signing_key, sizeof c->signing_key, "fuzz-signing-key");
    snprintf(c->api_token, sizeof c->api_token, TOKEN);
    snprintf(c->redirect_allow, sizeof c->redirect_allow, "example.org,.example.com");
    snprintf(c->redis, sizeof c->redis, "redis://127.0.0.1:1/0");
    snprintf(c->spool_dir, sizeof c->spool_dir, "%s/spool", fuzz_tmpdir());
    c->spool_max_bytes = 32768;  /* stays in the write buffer: no disk I/O per hit */
    if (proto_conf_set(c, "cors_allow", "https://www.example.org, https://app.example.com", err,
                       sizeof err) < 0 ||
        proto_conf_set(c, "trusted_proxies", "10.0.0.0/8, ::1", err, sizeof err) < 0) {
        fprintf(stderr, "fuzz_http: conf: %s\n", err);
        abort();
    }
    g_ctx.nworkers = 1;
    g_ctx.workers = &g_worker;
    g_worker.index = 0;
    g_worker.ctx = &g_ctx;
    proto_buf_init(&g_worker.scratch);
    g_worker.base = event_base_new();
    FUZZ_CHECK(g_worker.base != NULL);
    g_worker.sink = coll_sink_new(g_worker.base, c, 0, &g_ctx.m);
    g_worker.sink_api = &g_api;
    FUZZ_CHECK(g_worker.sink != NULL);
    atexit(teardown);
}

/* Returns 1 if (p, n) equals the string s. */
static int eq(const char *p, size_t n, const char *s)
{
    return p && strlen(s) == n && memcmp(p, s, n) == 0;
}

/* Returns 1 if p (n bytes) lies inside [lo, lo + len). */
static int inside(const char *p, size_t n, const char *lo, size_t len)
{
    return !p || (p >= lo && p + n <= lo + len);
}

/* Checks that every pointer of a parsed head lies inside it. */
static void check_req_ptrs(const coll_http_req *q, const char *head, size_t hdr)
{
    FUZZ_CHECK(inside(q->method_str, q->method_len, head, hdr));
    FUZZ_CHECK(inside(q->path, q->path_len, head, hdr));
    FUZZ_CHECK(q->query_len == 0 || inside(q->query, q->query_len, head, hdr));
    FUZZ_CHECK(inside(q->host, q->host_len, head, hdr));
    FUZZ_CHECK(inside(q->user_agent, q->user_agent_len, head, hdr));
    FUZZ_CHECK(inside(q->content_type, q->content_type_len, head, hdr));
    FUZZ_CHECK(inside(q->authorization, q->authorization_len, head, hdr));
    FUZZ_CHECK(inside(q->origin, q->origin_len, head, hdr));
    FUZZ_CHECK(inside(q->xff, q->xff_len, head, hdr));
    FUZZ_CHECK(inside(q->dnt, q->dnt_len, head, hdr));
    FUZZ_CHECK(inside(q->sec_gpc, q->sec_gpc_len, head, hdr));
    FUZZ_CHECK(inside(q->acr_headers, q->acr_headers_len, head, hdr));
    FUZZ_CHECK(q->minor == 0 || q->minor == 1);
    FUZZ_CHECK(!(q->chunked && q->content_length >= 0));
    FUZZ_CHECK(q->content_length >= -1);
    FUZZ_CHECK(q->header_bytes == hdr);
}

/* Checks the head the server relies on: a shorter prefix is incomplete
 * (a request split across reads is never refused), and re-parsing exactly
 * the head (after the buffer moved) gives the same request. */
static void check_reparse(const char *head, size_t hdr, size_t max, const coll_http_req *q)
{
    coll_http_req again;
    size_t cuts[3] = {hdr - 1, hdr / 2, hdr > 4 ? hdr - 3 : 0};
    for (int i = 0; i < 3; i++)
        FUZZ_CHECK(coll_http_parse(head, cuts[i], max, max, &again) == 0);
    FUZZ_CHECK(coll_http_parse(head, hdr, max, max, &again) == (int)hdr);
    FUZZ_CHECK(again.method == q->method && again.path == q->path &&
               again.path_len == q->path_len && again.query_len == q->query_len &&
               again.content_length == q->content_length && again.chunked == q->chunked &&
               again.keep_alive == q->keep_alive && again.authorization == q->authorization);
}

/* De-chunks body (len bytes) in place like the server, and again on a copy
 * fed in three growing pieces; both must agree. Returns what the in-place
 * call returned, with *st its state. */
static int dechunk_checked(char *body, size_t len, size_t max_body, coll_http_chunked *st)
{
    coll_http_chunked inc;
    char *copy = malloc(len ? len : 1);
    int r, ri = 0;
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, body, len);
    memset(st, 0, sizeof *st);
    r = coll_http_dechunk(body, len, max_body, st);
    FUZZ_CHECK(r == 1 || r == 0 || r == -400 || r == -413);

    size_t h = 2166136261u;
    for (size_t i = 0; i < len && i < 64; i++)
        h = (h ^ (unsigned char)copy[i]) * 16777619u;
    size_t cut[3] = {len ? h % (len + 1) : 0, 0, len};
    cut[1] = cut[0] + (len - cut[0]) / 2;
    memset(&inc, 0, sizeof inc);
    for (int i = 0; i < 3; i++) {
        ri = coll_http_dechunk(copy, cut[i], max_body, &inc);
        if (ri != 0)
            break;
    }
    FUZZ_CHECK(ri == r);
    if (r == 1) {
        FUZZ_CHECK(st->r <= len && st->w <= st->r && st->w <= max_body);
        FUZZ_CHECK(inc.r == st->r && inc.w == st->w);
        FUZZ_CHECK(memcmp(copy, body, st->w) == 0);
    }
    free(copy);
    return r;
}

/* Returns 1 if header block h (lines ending "\r\n") is well formed: every
 * line "Name: value" with no other CR or LF and no empty line. */
static int headers_ok(const char *h)
{
    while (*h) {
        const char *e = strstr(h, "\r\n");
        if (!e || e == h)
            return 0;
        const char *colon = memchr(h, ':', (size_t)(e - h));
        if (!colon || colon == h)
            return 0;
        for (const char *p = h; p < e; p++)
            if (*p == '\r' || *p == '\n')
                return 0;
        h = e + 2;
    }
    return 1;
}

/* Copies a header's value (name with ": ") out of block h into out; returns
 * its length, or -1 if absent. */
static long header_value(const char *h, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = h; p && *p;) {
        const char *e = strstr(p, "\r\n");
        if (!e)
            return -1;
        if ((size_t)(e - p) > nl && strncasecmp(p, name, nl) == 0) {
            size_t vl = (size_t)(e - p) - nl;
            if (vl >= cap)
                return -1;
            memcpy(out, p + nl, vl);
            out[vl] = 0;
            return (long)vl;
        }
        p = e + 2;
    }
    return -1;
}

/* Checks the invariants of the handler's answer to q. */
static void check_resp(const coll_http_req *q, const coll_http_resp *r)
{
    static char sink[1 << 20];
    const proto_conf *c = &g_ctx.conf;
    int get = q->method == COLL_M_GET || q->method == COLL_M_HEAD;

    FUZZ_CHECK(r->status >= 100 && r->status <= 599);
    if (r->content_type)
        FUZZ_CHECK(strpbrk(r->content_type, "\r\n") == NULL);
    if (r->headers)
        FUZZ_CHECK(headers_ok(r->headers));
    FUZZ_CHECK(r->body_len == 0 || r->body != NULL);
    if (r->body_len) {  /* touch every byte: a dangling body is caught here */
        size_t n = r->body_len < sizeof sink ? r->body_len : sizeof sink;
        memcpy(sink, r->body, n);
    }
    if (eq(q->path, q->path_len, "/p.gif") && get) {
        /* an email must never show a broken image */
        FUZZ_CHECK(r->status == 200);
        FUZZ_CHECK(r->body_len == 43 && memcmp(r->body, "GIF89a", 6) == 0);
        FUZZ_CHECK(r->content_type && strcmp(r->content_type, "image/gif") == 0);
    }
    if (r->status == 405) {
        char allow[128];
        FUZZ_CHECK(r->headers && header_value(r->headers, "Allow: ", allow, sizeof allow) > 0);
    }
    if (r->status >= 300 && r->status < 400) {
        /* never an open redirect: only /r, to a valid target that is signed
         * or allow-listed */
        static char loc[PROTO_TO_MAX + PROTO_AT_MAX + 64];
        char host[256];
        FUZZ_CHECK(r->status == 302 && eq(q->path, q->path_len, "/r"));
        FUZZ_CHECK(r->headers);
        long n = header_value(r->headers, "Location: ", loc, sizeof loc);
        FUZZ_CHECK(n > 0);
        FUZZ_CHECK(proto_url_target(loc, (size_t)n, host, sizeof host) == 0);
        FUZZ_CHECK(proto_url_host_allowed(host, c->redirect_allow) ||
                   proto_sign_verify(c->signing_key, strlen(c->signing_key), q->query,
                                     q->query_len) == 1);
    }
    if (eq(q->path, q->path_len, "/api/hits") && r->status != 401 && r->status != 405) {
        /* the trusted endpoint answers nothing else without the token */
        FUZZ_CHECK(q->authorization && q->authorization_len == 7 + strlen(TOKEN) &&
                   strncasecmp(q->authorization, "Bearer ", 7) == 0 &&
                   memcmp(q->authorization + 7, TOKEN, strlen(TOKEN)) == 0);
    }
    if (eq(q->path, q->path_len, "/api/hits") && r->status == 401)
        FUZZ_CHECK(r->headers && strstr(r->headers, "WWW-Authenticate: Bearer\r\n"));
}

/* Runs one input as the bytes of a connection: every complete request in
 * order, until one is incomplete, refused, or closes the connection. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *peers[] = {"198.51.100.7", "10.1.2.3", "::1", "2001:db8::5"};
    const proto_conf *c;
    size_t off = 0, n = size;

    if (!g_worker.sink)
        setup();
    c = &g_ctx.conf;
    if (size > 65536 + 8192)
        return 0;
    /* a leading byte 1..3 selects require_signature = none | links | all */
    g_ctx.conf.require_signature = PROTO_SIG_LINKS;
    if (n && data[0] >= 1 && data[0] <= 3) {
        g_ctx.conf.require_signature = (proto_require_sig)(data[0] - 1);
        data++;
        n--;
    }
    /* the connection's input buffer: writable (chunked bodies are decoded in place) */
    char *buf = malloc(n ? n : 1);
    FUZZ_CHECK(buf != NULL);
    memcpy(buf, data, n);

    size_t maxh = (size_t)c->max_header_bytes, maxb = (size_t)c->max_body_bytes;
    for (int k = 0; k < MAX_REQUESTS && off < n; k++) {
        coll_http_req req;
        coll_http_resp resp;
        char *head = buf + off;
        size_t avail = n - off, end;
        int r = coll_http_parse(head, avail, maxh, maxh, &req);
        if (r == 0) {
            FUZZ_CHECK(avail <= maxh);  /* an endless head is refused, not awaited */
            break;
        }
        if (r < 0) {
            FUZZ_CHECK(r == -400 || r == -414 || r == -431 || r == -501 || r == -505);
            break;
        }
        size_t hdr = (size_t)r;
        FUZZ_CHECK(hdr <= avail && hdr <= maxh);
        check_req_ptrs(&req, head, hdr);
        check_reparse(head, hdr, maxh, &req);
        if (req.chunked) {
            coll_http_chunked st;
            int d = dechunk_checked(head + hdr, avail - hdr, maxb, &st);
            if (d <= 0)
                break;
            end = hdr + st.r;
            req.body_len = st.w;
        } else if (req.content_length > 0) {
            if ((uint64_t)req.content_length > maxb || (uint64_t)req.content_length > avail - hdr)
                break;  /* 413, or waiting for the rest of the body */
            end = hdr + (size_t)req.content_length;
            req.body_len = (size_t)req.content_length;
        } else {
            end = hdr;
            req.body_len = 0;
        }
        req.body = head + hdr;
        req.peer = peers[(off + (size_t)k) % 4];
        memset(&resp, 0, sizeof resp);
        resp.status = 200;
        g_req = &req;
        coll_handle(&g_worker, &req, &resp);
        g_req = NULL;
        if (g_trace)
            fprintf(stderr, "fuzz_http: %.*s %.*s -> %d %s\n", (int)req.method_len,
                    req.method_str, (int)req.path_len, req.path, resp.status,
                    resp.headers ? resp.headers : "");
        check_resp(&req, &resp);
        off += end;
        if (resp.close || !req.keep_alive)
            break;
    }
    free(buf);
    return 0;
}
