/* handlers.c: the collector's endpoints (SPEC 2) — each takes a parsed
 * request, turns it into hits for the sink and answers with one status. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "clock.h"
#include "collector.h"
#include "hit.h"
#include "links.h"
#include "log.h"
#include "net.h"
#include "sign.h"
#include "ua.h"
#include "url.h"

/* ---------------------------------------------------------------- pixel */

/* The smallest transparent GIF: 43 bytes (after nginx's empty_gif). */
static const unsigned char pixel_gif[43] = {
    'G', 'I', 'F', '8', '9', 'a',   /* header: GIF89a */
    0x01, 0x00,                     /* logical screen width: 1 */
    0x01, 0x00,                     /* logical screen height: 1 */
    0x80,                           /* global colour table present, 2 entries */
    0x00,                           /* background colour index 0 */
    0x00,                           /* no pixel aspect ratio */
    0x00, 0x00, 0x00,               /* colour 0: black */
    0xff, 0xff, 0xff,               /* colour 1: white */
    0x21, 0xf9,                     /* graphic control extension */
    0x04,                           /* block size 4 */
    0x01,                           /* transparent colour flag */
    0x00, 0x00,                     /* delay time */
    0x00,                           /* transparent colour index 0 */
    0x00,                           /* block terminator */
    0x2c,                           /* image descriptor */
    0x00, 0x00, 0x00, 0x00,         /* left, top */
    0x01, 0x00, 0x01, 0x00,         /* width 1, height 1 */
    0x00,                           /* no local colour table */
    0x02,                           /* LZW minimum code size 2 */
    0x02,                           /* data sub-block of 2 bytes */
    0x44, 0x01,                     /* LZW data: clear, pixel 0, end */
    0x00,                           /* block terminator */
    0x3b                            /* trailer */
};

/* What a refused client is told: the spool's longest back-off. */
#define RETRY_AFTER "Retry-After: 5\r\n"

#define NO_CACHE "Cache-Control: no-store, no-cache, must-revalidate, max-age=0\r\n" \
                 "Pragma: no-cache\r\nExpires: 0\r\n"

/* The page snippet (SPEC 7; collector/ag.js): ag_js, ag_js_gz, ag_js_etag,
 * and its variant for attribution = first, ag_js_first*. */
#include "ag_js.h"
#include "ag_js_first.h"

/* ---------------------------------------------------------------- helpers */

/* Returns 1 if header value v (len bytes) is exactly "1". */
static int is_one(const char *v, size_t len)
{
    return v && len == 1 && v[0] == '1';
}

/* Fills the server-side fields of a hit: time, stored ip, ua, class, and
 * the privacy rule for Sec-GPC/DNT. Never fails. */
static void server_fields(coll_worker *w, const coll_http_req *req, proto_hit *hit,
                          proto_via via)
{
    const proto_conf *conf = &w->ctx->conf;
    char ip[PROTO_IP_MAX + 1];
    hit->ts = sys_now_ms();
    hit->via = via;
    hit->agent = via == PROTO_VIA_API ? PROTO_AGENT_HUMAN
                                      : proto_ua_classify(req->user_agent, req->user_agent_len, via);
    hit->ip[0] = 0;
    if (proto_net_client_ip(req->peer ? req->peer : "", req->xff, req->xff_len,
                            &conf->trusted_proxies, ip, sizeof ip) == 0)
        proto_net_store(ip, conf->store_ip, hit->ip, sizeof hit->ip);
    size_t ul = req->user_agent_len < PROTO_UA_MAX ? req->user_agent_len : PROTO_UA_MAX;
    if (req->user_agent)
        memcpy(hit->ua, req->user_agent, ul);
    hit->ua[req->user_agent ? ul : 0] = 0;
    if (via != PROTO_VIA_API && conf->honor_gpc &&
        (is_one(req->sec_gpc, req->sec_gpc_len) || is_one(req->dnt, req->dnt_len))) {
        hit->subject[0] = 0;
        hit->ip[0] = 0;
        hit->ua[0] = 0;
    }
}

/* Builds "name=value&..." from the SPEC 2 parameters a JSON hit carries, so
 * that its signature is checked like a query's. Returns the length, or -1. */
static long hit_query(const proto_hit *h, char *out, size_t cap)
{
    const char *names[PROTO_HIT_FIELDS], *values[PROTO_HIT_FIELDS];
    static const struct { const char *param, *field; } map[] = {
        {"c", "campaign"}, {"e", "event"}, {"s", "subject"}, {"ref", "ref"}, {"uref", "uref"}, {"ch", "channel"},
        {"d", "depth"}, {"v", "value"}, {"g", "goal"}, {"t", "client_ts"}, {"n", "nonce"}};
    size_t vlens[PROTO_HIT_FIELDS], o = 0;
    char scratch[128];
    proto_hit tmp = *h;
    tmp.hid[0] = tmp.ip[0] = tmp.ua[0] = 0;
    int n = proto_hit_fields(&tmp, names, values, vlens, scratch, sizeof scratch);
    for (int i = 0; i < n; i++) {
        for (size_t j = 0; j < sizeof map / sizeof map[0]; j++) {
            if (strcmp(names[i], map[j].field) != 0)
                continue;
            int w = snprintf(out + o, cap - o, "%s%s=", o ? "&" : "", map[j].param);
            if (w < 0 || (size_t)w >= cap - o)
                return -1;
            o += (size_t)w;
            long e = proto_url_encode(out + o, cap - o, values[i], vlens[i]);
            if (e < 0)
                return -1;
            o += (size_t)e;
        }
    }
    if (h->to[0]) {
        int w = snprintf(out + o, cap - o, "%sto=", o ? "&" : "");
        if (w < 0 || (size_t)w >= cap - o)
            return -1;
        o += (size_t)w;
        long e = proto_url_encode(out + o, cap - o, h->to, strlen(h->to));
        if (e < 0)
            return -1;
        o += (size_t)e;
    }
    if (h->sig[0]) {
        int w = snprintf(out + o, cap - o, "%ssig=%s", o ? "&" : "", h->sig);
        if (w < 0 || (size_t)w >= cap - o)
            return -1;
        o += (size_t)w;
    }
    return (long)o;
}

/* Checks a signature where require_signature = all. q is the raw query, or
 * NULL for a JSON hit. Returns PROTO_OK or the reason. */
static proto_reason check_sig_all(coll_worker *w, const proto_hit *hit, const char *q, size_t len)
{
    const proto_conf *conf = &w->ctx->conf;
    char buf[8192];
    if (conf->require_signature != PROTO_SIG_ALL)
        return PROTO_OK;
    if (!hit->sig[0])
        return PROTO_ERR_NO_SIG;
    if (!q) {
        long n = hit_query(hit, buf, sizeof buf);
        if (n < 0)
            return PROTO_ERR_SIG;
        q = buf;
        len = (size_t)n;
    }
    return proto_sign_verify(conf->signing_key, strlen(conf->signing_key), q, len) ? PROTO_OK
                                                                                   : PROTO_ERR_SIG;
}

/* Applies a hit's attribution token (at, from a tracked link's landing
 * page): when it verifies and names the hit's campaign, the advocate (and
 * the subject, if the hit has none) are the token's; a token that does
 * not verify credits nobody. Counted either way; never fails. */
static void attribute(coll_worker *w, proto_hit *hit)
{
    const proto_conf *conf = &w->ctx->conf;
    proto_attr a;
    if (hit->ref[0])
        hit->uref[0] = 0;   /* the hit names its advocate itself */
    if (hit->uref[0] && conf->accept_unsigned_ref && !hit->at[0]) {
        memcpy(hit->ref, hit->uref, sizeof hit->ref);   /* accept_unsigned_ref = yes */
        hit->uref[0] = 0;
    }
    if (!hit->at[0] && !hit->at_bad)
        return;
    if (hit->at_bad || !proto_attr_verify(conf->signing_key, strlen(conf->signing_key), hit->at,
                                          strlen(hit->at), &a)) {
        coll_inc(w->ctx->m.attribution[1]);
        return;
    }
    if (strcmp(a.campaign, hit->campaign) != 0) {
        coll_inc(w->ctx->m.attribution[2]);
        return;
    }
    if (a.ref[0]) {
        snprintf(hit->ref, sizeof hit->ref, "%s", a.ref);
        hit->uref[0] = 0;   /* a verified advocate outranks an unsigned one */
    }
    if (a.subject[0] && !hit->subject[0])
        snprintf(hit->subject, sizeof hit->subject, "%s", a.subject);
    coll_inc(w->ctx->m.attribution[0]);
}

/* Accepts or rejects one parsed hit: finishes it for via, checks the
 * signature rule, fills server fields, and hands it to the sink. Returns
 * PROTO_OK if accepted, the reject reason, or COLL_TAKE_REFUSED (refusable only)
 * when the sink has no room: nothing is recorded and the client is told
 * to retry. */
int coll_take_hit(coll_worker *w, const coll_http_req *req, proto_hit *hit, proto_reason r,
                  proto_via via, const char *q, size_t qlen, const char *raw, size_t rawlen,
                  int flags, int64_t when_ms)
{
    coll_metrics *m = &w->ctx->m;
    if (r == PROTO_OK)
        attribute(w, hit);
    if (r == PROTO_OK)
        r = proto_hit_finish(hit, via);
    if (r == PROTO_OK && via != PROTO_VIA_API && !(flags & COLL_TAKE_TRUSTED))
        r = check_sig_all(w, hit, q, qlen);
    server_fields(w, req, hit, via);
    if (when_ms > 0)
        hit->ts = when_ms;
    if (r != PROTO_OK) {
        coll_inc(m->rejected[via]);
        coll_inc(m->reasons[r]);
        w->sink_api->reject(w->sink, hit, r, raw, rawlen);
        return r;
    }
    if ((flags & COLL_TAKE_REFUSABLE) && !w->sink_api->room(w->sink, 1)) {
        coll_inc(m->refused[via]);
        return COLL_TAKE_REFUSED;
    }
    coll_inc(m->accepted[via]);
    coll_inc(m->agents[hit->agent]);
    w->sink_api->push(w->sink, hit);
    return PROTO_OK;
}

/* Records a body rejected as a whole (bad JSON, too large a batch) in
 * ag:rejects and the metrics; never fails. */
void coll_reject_body(coll_worker *w, const coll_http_req *req, proto_via via, proto_reason r)
{
    proto_hit hit;
    coll_inc(w->ctx->m.rejected[via]);
    coll_inc(w->ctx->m.reasons[r]);
    proto_hit_init(&hit);
    server_fields(w, req, &hit, via);
    w->sink_api->reject(w->sink, &hit, r, req->body, req->body_len);
}

/* Answers with a short plain-text body. */
static void answer(coll_http_resp *resp, int status, const char *text)
{
    resp->status = status;
    resp->content_type = "text/plain; charset=utf-8";
    resp->body = text;
    resp->body_len = strlen(text);
}

/* Answers 405 with the allowed methods. */
static void not_allowed(coll_http_resp *resp, const char *allow)
{
    static _Thread_local char hdr[96];
    snprintf(hdr, sizeof hdr, "Allow: %s\r\n", allow);
    answer(resp, 405, "method not allowed\n");
    resp->headers = hdr;
}

/* ---------------------------------------------------------------- endpoints */

/* GET /p.gif: records a hit (or a reject) and always returns the GIF. */
static void do_pixel(coll_worker *w, const coll_http_req *req, coll_http_resp *resp)
{
    proto_hit hit;
    if (req->method == COLL_M_GET) {
        proto_hit_init(&hit);
        proto_reason r = proto_hit_parse_query(&hit, req->query, req->query_len);
        coll_take_hit(w, req, &hit, r, PROTO_VIA_PIXEL, req->query, req->query_len, req->query,
                      req->query_len, 0, 0);
    }
    resp->status = 200;
    resp->content_type = "image/gif";
    resp->headers = NO_CACHE;
    resp->body = (const char *)pixel_gif;
    resp->body_len = sizeof pixel_gif;
}

/* Returns the origin to echo in Access-Control-Allow-Origin, "*", or NULL
 * if the request's origin is not allowed. */
static const char *cors_origin(coll_worker *w, const coll_http_req *req, char *buf, size_t cap)
{
    const char *allow = w->ctx->conf.cors_allow;
    if (strcmp(allow, "*") == 0)
        return "*";
    if (!req->origin || req->origin_len == 0 || req->origin_len >= cap)
        return NULL;
    memcpy(buf, req->origin, req->origin_len);
    buf[req->origin_len] = 0;
    for (const char *p = allow; *p;) {
        size_t n = strcspn(p, ",");
        const char *s = p, *e = p + n;
        while (s < e && *s == ' ')
            s++;
        while (e > s && e[-1] == ' ')
            e--;
        if ((size_t)(e - s) == req->origin_len && strncasecmp(s, buf, req->origin_len) == 0)
            return buf;
        p += n + (p[n] == ',');
    }
    return NULL;
}

/* The state of one beacon body parse, for the JSON callback. */
typedef struct {
    coll_worker *w;
    const coll_http_req *req;
    proto_via via;
    int accepted, rejected, refused;
    proto_buf *errors;  /* API: JSON array items of rejects and refusals */
    int index;
} batch;

/* Takes one hit of a JSON body (proto_hit_cb). */
static int batch_hit(void *arg, proto_hit *hit, proto_reason r)
{
    batch *b = arg;
    int t = coll_take_hit(b->w, b->req, hit, r, b->via, NULL, 0, b->req->body,
                          b->req->body_len, COLL_TAKE_REFUSABLE, 0);
    if (t == PROTO_OK) {
        b->accepted++;
    } else {
        if (t == COLL_TAKE_REFUSED)
            b->refused++;
        else
            b->rejected++;
        if (b->errors)
            proto_buf_printf(b->errors, "%s{\"index\":%d,\"reason\":\"%s\"}",
                             b->rejected + b->refused > 1 ? "," : "", b->index,
                             t == COLL_TAKE_REFUSED ? "unavailable" : proto_reason_name((proto_reason)t));
    }
    b->index++;
    return 0;
}

/* Returns 1 if the content type (without parameters) equals want. */
static int ctype_is(const coll_http_req *req, const char *want)
{
    size_t n = strlen(want);
    if (!req->content_type || req->content_type_len < n ||
        strncasecmp(req->content_type, want, n) != 0)
        return 0;
    return req->content_type_len == n || req->content_type[n] == ';' ||
           req->content_type[n] == ' ';
}

/* Parses a body of hits: a form (one hit) or JSON (object or array).
 * Returns 0, or the HTTP status for a body that is not acceptable as a
 * whole (400, 415) with *why set. */
static int parse_body(batch *b, const char **why)
{
    const coll_http_req *req = b->req;
    int form = ctype_is(req, "application/x-www-form-urlencoded");
    int json = ctype_is(req, "application/json") || ctype_is(req, "text/plain");
    if (!req->content_type) { /* sniff, as sendBeacon of a string may send none */
        size_t i = 0;
        while (i < req->body_len && (req->body[i] == ' ' || req->body[i] == '\n'))
            i++;
        json = i < req->body_len && (req->body[i] == '{' || req->body[i] == '[');
        form = !json;
    }
    if (!form && !json) {
        *why = "unsupported content type: use application/x-www-form-urlencoded, text/plain or application/json\n";
        return 415;
    }
    if (req->body_len == 0) {
        *why = "empty body\n";
        return 400;
    }
    if (form) {
        proto_hit hit;
        proto_hit_init(&hit);
        proto_reason r = proto_hit_parse_query(&hit, req->body, req->body_len);
        batch_hit(b, &hit, r);
        return 0;
    }
    proto_reason r = proto_hit_parse_json(req->body, req->body_len, batch_hit, b);
    if (r != PROTO_OK) {
        coll_reject_body(b->w, req, b->via, r);
        *why = r == PROTO_ERR_BATCH ? "batch of more than 100 hits\n" : "body is not a JSON object or array of objects\n";
        return 400;
    }
    return 0;
}

/* POST /b (and its OPTIONS preflight): the beacon. */
static void do_beacon(coll_worker *w, const coll_http_req *req, coll_http_resp *resp)
{
    static _Thread_local char hdr[1536];
    char obuf[512];
    const char *origin = cors_origin(w, req, obuf, sizeof obuf);
    if (origin)
        snprintf(hdr, sizeof hdr,
                 "Access-Control-Allow-Origin: %s\r\n%s"
                 "Access-Control-Allow-Methods: POST, OPTIONS\r\n"
                 "Access-Control-Allow-Headers: Content-Type\r\n"
                 "Access-Control-Max-Age: 86400\r\n" NO_CACHE,
                 origin, strcmp(origin, "*") ? "Vary: Origin\r\n" : "");
    else
        snprintf(hdr, sizeof hdr, NO_CACHE);
    if (req->method == COLL_M_OPTIONS) {
        resp->status = 204;
        resp->headers = hdr;
        return;
    }
    if (req->method != COLL_M_POST) {
        not_allowed(resp, "POST, OPTIONS");
        return;
    }
    if (!origin && req->origin && req->origin_len) {
        /* beacons ignore CORS answers: a foreign Origin is refused here */
        coll_reject_body(w, req, PROTO_VIA_BEACON, PROTO_ERR_ORIGIN);
        answer(resp, 403, "origin not allowed (cors_allow)\n");
        resp->headers = hdr;
        return;
    }
    batch b = {.w = w, .req = req, .via = PROTO_VIA_BEACON};
    const char *why = NULL;
    int st = parse_body(&b, &why);
    if (st) {
        answer(resp, st, why);
        resp->headers = hdr;
        return;
    }
    if (b.refused) {
        static _Thread_local char hdr503[1600];
        snprintf(hdr503, sizeof hdr503, "%s" RETRY_AFTER, hdr);
        answer(resp, 503, "cannot store hits now (disk full or failing); retry later\n");
        resp->headers = hdr503;
        return;
    }
    resp->status = 204;
    resp->headers = hdr;
}

/* Records a click and answers 302 to its target, handing the landing page
 * the attribution token; raw is what a reject records, flags as for
 * coll_take_hit. Never fails. */
static void redirect(coll_worker *w, const coll_http_req *req, coll_http_resp *resp,
                     proto_hit *hit, proto_reason r, const char *raw, size_t rawlen, int flags)
{
    static _Thread_local char hdr[PROTO_TO_MAX + PROTO_AT_MAX + 256];
    const proto_conf *conf = &w->ctx->conf;
    char to[PROTO_TO_MAX + 1], token[PROTO_AT_MAX + 1] = "";
    memcpy(to, hit->to, sizeof to);
    int accepted = coll_take_hit(w, req, hit, r, PROTO_VIA_CLICK, raw, rawlen, raw, rawlen, flags, 0) == PROTO_OK;
    /* the token carries what the click kept (a GPC click keeps no subject) */
    proto_attr a = {{0}, {0}, {0}};
    snprintf(a.campaign, sizeof a.campaign, "%s", hit->campaign);
    snprintf(a.ref, sizeof a.ref, "%s", hit->ref);
    snprintf(a.subject, sizeof a.subject, "%s", hit->subject);
    int carry = accepted && conf->carry_attribution && !hit->no_carry &&
                (a.ref[0] || a.subject[0]) &&
                proto_attr_token(conf->signing_key, strlen(conf->signing_key), &a, token,
                                 sizeof token) > 0;
    if (carry) {    /* ag_attr=<token> before any fragment */
        size_t frag = strcspn(to, "#");
        snprintf(hdr, sizeof hdr, "Location: %.*s%cag_attr=%s%s\r\n" NO_CACHE, (int)frag, to,
                 memchr(to, '?', frag) ? '&' : '?', token, to + frag);
    } else {
        snprintf(hdr, sizeof hdr, "Location: %s\r\n" NO_CACHE, to);
    }
    answer(resp, 302, "");
    resp->headers = hdr;
}

/* GET /r: records a click and redirects, but only to a signed or
 * allow-listed target (never an open redirect). */
static void do_click(coll_worker *w, const coll_http_req *req, coll_http_resp *resp)
{
    const proto_conf *conf = &w->ctx->conf;
    char host[256];
    proto_hit hit;
    if (req->method != COLL_M_GET) {
        not_allowed(resp, "GET");
        return;
    }
    proto_hit_init(&hit);
    proto_reason r = proto_hit_parse_query(&hit, req->query, req->query_len);
    const char *why = NULL;
    proto_reason safety = PROTO_OK;
    if (!hit.to[0]) {
        safety = r != PROTO_OK ? r : PROTO_ERR_NO_TO;
        why = "missing or invalid redirect target\n";
    } else if (proto_url_target(hit.to, strlen(hit.to), host, sizeof host) < 0) {
        safety = PROTO_ERR_TO;
        why = "redirect target is not an absolute http(s) URL\n";
    } else if (hit.sig[0] || r == PROTO_ERR_SIG) { /* present, even if malformed */
        if (!proto_sign_verify(conf->signing_key, strlen(conf->signing_key), req->query,
                               req->query_len)) {
            safety = PROTO_ERR_SIG;
            why = "bad link signature\n";
        }
    } else if (!proto_url_host_allowed(host, conf->redirect_allow)) {
        safety = PROTO_ERR_NO_SIG;
        why = "unsigned link to a host that is not allow-listed\n";
    }
    if (safety != PROTO_OK) {
        server_fields(w, req, &hit, PROTO_VIA_CLICK);
        coll_inc(w->ctx->m.rejected[PROTO_VIA_CLICK]);
        coll_inc(w->ctx->m.reasons[safety]);
        w->sink_api->reject(w->sink, &hit, safety, req->query, req->query_len);
        answer(resp, 400, why);
        return;
    }
    redirect(w, req, resp, &hit, r, req->query, req->query_len, 0);
}

/* Short-link answers: a plain page, never a redirect. */
#define GONE_PAGE "<!doctype html><meta charset=utf-8><title>Link no longer active</title>" \
    "<h1>This link is no longer active</h1><p>Whoever shared it has switched it off.</p>\n"
#define UNKNOWN_PAGE "<!doctype html><meta charset=utf-8><title>Link not found</title>" \
    "<h1>This link does not exist</h1><p>Check the address: short links are case-sensitive.</p>\n"

/* GET /s/<code> (or /<code> on a short host): a short link, resolved from
 * the table in memory, behaves as a signed /r; 404 or 410 otherwise. */
static void do_short(coll_worker *w, const coll_http_req *req, coll_http_resp *resp,
                     const char *code, size_t len)
{
    proto_link lk;
    proto_hit hit;
    unsigned seen = 0;
    if (req->method != COLL_M_GET) {
        not_allowed(resp, "GET");
        return;
    }
    coll_link_find f = proto_link_code_valid(code, len)
        ? coll_links_get(w->ctx->links, code, len, sys_now_ms(), &lk) : COLL_LINK_UNKNOWN;
    coll_inc(w->ctx->m.short_links[f]);
    if (f != COLL_LINK_FOUND) {
        answer(resp, f == COLL_LINK_GONE ? 410 : 404, f == COLL_LINK_GONE ? GONE_PAGE : UNKNOWN_PAGE);
        resp->content_type = "text/html; charset=utf-8";
        resp->headers = NO_CACHE;
        return;
    }
    proto_hit_init(&hit);
    proto_reason r = PROTO_OK;
    static const char *const names[] = {"c", "e", "ref", "s", "ch", "to"};
    const char *values[] = {lk.campaign, "click", lk.ref, lk.subject, lk.channel, lk.to};
    for (size_t i = 0; i < 6 && r == PROTO_OK; i++)
        r = proto_hit_set(&hit, &seen, names[i], strlen(names[i]), values[i], strlen(values[i]));
    redirect(w, req, resp, &hit, r, code, len, COLL_TAKE_TRUSTED);
}

/* Returns 1 if the request carries the configured bearer token. */
static int authorized(coll_worker *w, const coll_http_req *req)
{
    const char *tok = w->ctx->conf.api_token;
    size_t tl = strlen(tok);
    if (!tl || !req->authorization || req->authorization_len != 7 + tl ||
        strncasecmp(req->authorization, "Bearer ", 7) != 0)
        return 0;
    return CRYPTO_memcmp(req->authorization + 7, tok, tl) == 0;
}

/* POST /api/hits: trusted ingestion, followups included. */
static void do_api(coll_worker *w, const coll_http_req *req, coll_http_resp *resp)
{
    if (req->method != COLL_M_POST) {
        not_allowed(resp, "POST");
        return;
    }
    if (!authorized(w, req)) {
        answer(resp, 401, "{\"error\":\"missing or wrong bearer token\"}\n");
        resp->content_type = "application/json";
        resp->headers = "WWW-Authenticate: Bearer\r\n";
        return;
    }
    proto_buf *out = &w->scratch;
    proto_buf errors;
    proto_buf_init(&errors);
    proto_buf_printf(&errors, "%s", "");
    batch b = {.w = w, .req = req, .via = PROTO_VIA_API, .errors = &errors};
    const char *why = NULL;
    int st = parse_body(&b, &why);
    out->len = 0;
    if (st) {
        proto_buf_printf(out, "{\"error\":\"%.*s\"}\n", (int)strcspn(why, "\n"), why);
    } else {
        st = b.accepted ? 202 : b.refused ? 503 : 400;
        proto_buf_printf(out, "{\"accepted\":%d,\"rejected\":%d,", b.accepted, b.rejected);
        if (b.refused)  /* only while the disk refuses: the usual answer stays as it was */
            proto_buf_printf(out, "\"refused\":%d,", b.refused);
        proto_buf_printf(out, "\"errors\":[%s]}\n", errors.data ? errors.data : "");
    }
    proto_buf_free(&errors);
    resp->status = st;
    if (st == 503)
        resp->headers = RETRY_AFTER;
    resp->content_type = "application/json";
    resp->body = out->data;
    resp->body_len = out->len;
}

/* Returns 1 if header value v (len bytes) lists token (comma-separated,
 * case-insensitive, parameters after ';' ignored), else 0. */
static int lists(const char *v, size_t len, const char *token)
{
    size_t tl = strlen(token);
    for (size_t i = 0; v && i < len;) {
        while (i < len && (v[i] == ' ' || v[i] == ','))
            i++;
        size_t j = i;
        while (j < len && v[j] != ',' && v[j] != ';' && v[j] != ' ')
            j++;
        if (j - i == tl && strncasecmp(v + i, token, tl) == 0)
            return 1;
        while (j < len && v[j] != ',')
            j++;
        i = j;
    }
    return 0;
}

/* GET /ag.js: the snippet, cacheable, fingerprinted (304 on a matching
 * If-None-Match), gzip when accepted, loadable from any origin (SRI). */
static void do_snippet(const coll_worker *w, const coll_http_req *req, coll_http_resp *resp)
{
    int first = w->ctx->conf.attribution_first;
    const char *js = first ? ag_js_first : ag_js, *etag = first ? ag_js_first_etag : ag_js_etag;
    const unsigned char *js_gz = first ? ag_js_first_gz : ag_js_gz;
    size_t js_len = first ? sizeof ag_js_first - 1 : sizeof ag_js - 1;
    size_t gz_len = first ? sizeof ag_js_first_gz : sizeof ag_js_gz;
#define SNIPPET_HDRS "Cache-Control: public, max-age=3600\r\nAccess-Control-Allow-Origin: *\r\n" \
                     "Vary: Accept-Encoding\r\n"
    static _Thread_local char hdr[256];
    int gz = lists(req->accept_encoding, req->accept_encoding_len, "gzip");
    snprintf(hdr, sizeof hdr, SNIPPET_HDRS "ETag: %s\r\n%s", etag,
             gz ? "Content-Encoding: gzip\r\n" : "");
    resp->headers = hdr;
    if (req->if_none_match && (lists(req->if_none_match, req->if_none_match_len, etag) ||
                               lists(req->if_none_match, req->if_none_match_len, "*"))) {
        snprintf(hdr, sizeof hdr, SNIPPET_HDRS "ETag: %s\r\n", etag);
        resp->status = 304;
        return;
    }
    resp->status = 200;
    resp->content_type = "application/javascript; charset=utf-8";
    resp->body = gz ? (const char *)js_gz : js;
    resp->body_len = gz ? gz_len : js_len;
#undef SNIPPET_HDRS
}

/* GET /healthz: liveness, Redis state and spooled hits (status.c). */
static void do_health(coll_worker *w, coll_http_resp *resp)
{
    w->scratch.len = 0;
    resp->status = coll_status_health(w->ctx, &w->scratch);
    resp->content_type = "application/json";
    resp->headers = NO_CACHE;
    resp->body = w->scratch.data;
    resp->body_len = w->scratch.len;
}

/* GET /metrics: Prometheus text. */
static void do_metrics(coll_worker *w, coll_http_resp *resp)
{
    w->scratch.len = 0;
    coll_metrics_render(w->ctx, &w->scratch);
    resp->status = w->scratch.oom ? 500 : 200;
    resp->content_type = "text/plain; version=0.0.4";
    resp->body = w->scratch.data;
    resp->body_len = w->scratch.len;
}

/* ---------------------------------------------------------------- router */

/* Returns 1 if the request path is exactly p. */
static int path_is(const coll_http_req *req, const char *p)
{
    size_t n = strlen(p);
    return req->path_len == n && memcmp(req->path, p, n) == 0;
}

/* Reports whether the request is GET /<code> on one of short_hosts. */
static int short_host(const coll_worker *w, const coll_http_req *req)
{
    char host[256];
    const char *hosts = w->ctx->conf.short_hosts;
    if (!hosts[0] || !req->host || req->path_len < 2 || memchr(req->path + 1, '/', req->path_len - 1))
        return 0;
    const char *colon = req->host_len && req->host[0] != '[' ? memchr(req->host, ':', req->host_len) : NULL;
    size_t hl = colon ? (size_t)(colon - req->host) : req->host_len;   /* the value is not NUL-terminated */
    if (hl == 0 || hl >= sizeof host)
        return 0;
    for (size_t i = 0; i < hl; i++)
        host[i] = (char)tolower((unsigned char)req->host[i]);
    host[hl] = 0;
    return proto_url_host_allowed(host, hosts);
}

/* Routes one request to its endpoint; never fails (answers 404/405). */
void coll_handle(void *arg, const coll_http_req *req, coll_http_resp *resp)
{
    coll_worker *w = arg;
    uint64_t t0 = sys_mono_ns();
    int get = req->method == COLL_M_GET || req->method == COLL_M_HEAD;
    memset(resp, 0, sizeof *resp);
    if (path_is(req, "/p.gif")) {
        if (get)
            do_pixel(w, req, resp);
        else
            not_allowed(resp, "GET, HEAD");
    } else if (path_is(req, "/b")) {
        do_beacon(w, req, resp);
    } else if (path_is(req, "/r")) {
        do_click(w, req, resp);
    } else if (path_is(req, "/api/hits")) {
        do_api(w, req, resp);
    } else if (req->path_len > 11 && memcmp(req->path, "/api/hooks/", 11) == 0) {
        coll_hook_handle(w, req, resp);
    } else if (req->path_len > 3 && memcmp(req->path, "/s/", 3) == 0) {
        do_short(w, req, resp, req->path + 3, req->path_len - 3);
    } else if (path_is(req, "/ag.js")) {
        if (get)
            do_snippet(w, req, resp);
        else
            not_allowed(resp, "GET, HEAD");
    } else if (path_is(req, "/healthz")) {
        if (get)
            do_health(w, resp);
        else
            not_allowed(resp, "GET, HEAD");
    } else if (path_is(req, "/metrics")) {
        if (get)
            do_metrics(w, resp);
        else
            not_allowed(resp, "GET, HEAD");
    } else if (short_host(w, req)) {
        do_short(w, req, resp, req->path + 1, req->path_len - 1);
    } else {
        answer(resp, 404, "not found\n");
    }
    if (resp->status >= 100 && resp->status < 600)
        coll_inc(w->ctx->m.status[resp->status / 100]);
    proto_hist_observe(&w->ctx->m.latency, sys_mono_ns() - t0);
}
