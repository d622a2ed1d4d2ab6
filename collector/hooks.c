/* hooks.c: POST /api/hooks/<name> — an inbound hook of a CRM or mailing
 * tool, verified by its source's scheme and turned into hits (proto/hook.h). */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "collector.h"
#include "hook.h"
#include "log.h"
#include "logfmt.h"

/* What one request's items came to, for the item callback. */
typedef struct {
    coll_worker *w;
    const coll_http_req *req;
    int hook;                   /* index in conf.hooks */
    int accepted, rejected, ignored, refused;
    proto_buf *errors;
} hook_batch;

/* Looks up a request header for proto_hook_verify (arg: the request). */
static const char *req_header(void *arg, const char *name, size_t *len)
{
    return coll_http_header(arg, name, len);
}

/* Takes one item's hit (proto_hook_cb). Returns 0 (never stops). */
static int hook_item(void *arg, int index, proto_hit *hit, proto_reason r, const char *why,
                     int64_t when_ms)
{
    hook_batch *b = arg;
    coll_metrics *m = &b->w->ctx->m;
    if (!hit) {
        b->ignored++;
        coll_inc(m->hook_items[b->hook][2]);
        return 0;
    }
    int t = coll_take_hit(b->w, b->req, hit, r, PROTO_VIA_API, NULL, 0, b->req->body,
                          b->req->body_len, COLL_TAKE_REFUSABLE, when_ms);
    if (t == PROTO_OK) {
        b->accepted++;
        coll_inc(m->hook_items[b->hook][0]);
        return 0;
    }
    if (t == COLL_TAKE_REFUSED) {
        b->refused++;
        coll_inc(m->hook_items[b->hook][3]);
    } else {
        b->rejected++;
        coll_inc(m->hook_items[b->hook][1]);
    }
    proto_buf_printf(b->errors, "%s{\"index\":%d,\"reason\":\"%s\"", b->errors->len ? "," : "",
                     index, t == COLL_TAKE_REFUSED ? "unavailable" : proto_reason_name((proto_reason)t));
    if (why && t == (int)r)
        proto_buf_printf(b->errors, ",\"detail\":\"%s\"", why);
    proto_buf_printf(b->errors, "}");
    return 0;
}

/* Answers with a JSON body built in the worker's scratch buffer. */
static void json(coll_worker *w, coll_http_resp *resp, int status, const char *headers)
{
    resp->status = w->scratch.oom ? 500 : status;
    resp->content_type = "application/json";
    resp->headers = headers;
    resp->body = w->scratch.data;
    resp->body_len = w->scratch.len;
}

/* Writes the URL a request was made to (what HubSpot signs): the hook's
 * url, or base_url and the path, with the request's query. Returns its length. */
static size_t public_uri(const coll_worker *w, const proto_hook *h, const coll_http_req *req,
                         char *out, size_t cap)
{
    const char *base = h->url[0] ? h->url : w->ctx->conf.base_url;
    size_t bl = strlen(base);
    int n;
    if (!h->url[0] && bl && base[bl - 1] == '/')
        bl--;
    if (h->url[0])
        n = snprintf(out, cap, "%s%s%.*s", base, req->query_len && !strchr(base, '?') ? "?" : "",
                     strchr(base, '?') ? 0 : (int)req->query_len, req->query);
    else
        n = snprintf(out, cap, "%.*s%.*s%s%.*s", (int)bl, base, (int)req->path_len, req->path,
                     req->query_len ? "?" : "", (int)req->query_len, req->query);
    return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

/* Answers POST /api/hooks/<name>: verifies, parses and takes the items. */
void coll_hook_handle(coll_worker *w, const coll_http_req *req, coll_http_resp *resp)
{
    static _Thread_local char uri[1024];
    const proto_conf *conf = &w->ctx->conf;
    const char *name = req->path + 11;
    size_t nl = req->path_len - 11;
    const proto_hook *h = proto_hook_find(&conf->hooks, name, nl);
    char qn[80], qp[80];
    w->scratch.len = 0;
    if (!h) {
        proto_buf_printf(&w->scratch, "{\"error\":\"no such hook\"}\n");
        json(w, resp, 404, NULL);
        return;
    }
    if (req->method != COLL_M_POST) {
        proto_buf_printf(&w->scratch, "{\"error\":\"method not allowed\"}\n");
        json(w, resp, 405, "Allow: POST\r\n");
        return;
    }
    int hi = (int)(h - conf->hooks.h);
    proto_hook_req hr = {"POST", uri, public_uri(w, h, req, uri, sizeof uri), req->query,
                         req->query_len, req->body, req->body_len, req_header, (void *)req};
    int64_t now = sys_now_ms();
    proto_hook_auth a = proto_hook_verify(h, &hr, now, conf->hook_window_s);
    coll_inc(w->ctx->m.hook_auth[hi][a]);
    if (a != PROTO_HOOK_AUTH_OK) {
        sys_warn("hook: request refused", "hook=%s source=%s auth=%s peer=%s",
                 proto_logfmt_quote(qn, sizeof qn, h->name, strlen(h->name)),
                 proto_hook_source_name(h->source), proto_hook_auth_name(a),
                 proto_logfmt_quote(qp, sizeof qp, req->peer ? req->peer : "",
                                    req->peer ? strlen(req->peer) : 0));
        proto_buf_printf(&w->scratch, "{\"error\":\"%s\"}\n",
                         a == PROTO_HOOK_AUTH_STALE ? "timestamp outside the replay window"
                         : a == PROTO_HOOK_AUTH_MISSING ? "missing signature" : "bad signature");
        json(w, resp, 401, NULL);
        return;
    }
    proto_buf errors;
    proto_buf_init(&errors);
    proto_buf_printf(&errors, "%s", "");
    hook_batch b = {w, req, hi, 0, 0, 0, 0, &errors};
    char delivery[128] = "";
    size_t dl = 0;
    const char *d = h->source == PROTO_HOOK_LISTMONK ? coll_http_header(req, "X-Listmonk-Delivery", &dl) : NULL;
    if (d && dl < sizeof delivery)
        snprintf(delivery, sizeof delivery, "%.*s", (int)dl, d);
    proto_reason r = proto_hook_parse(h, req->body, req->body_len, delivery, conf->subject_hash,
                                      now, hook_item, &b);
    if (r != PROTO_OK) {
        coll_reject_body(w, req, PROTO_VIA_API, r);
        proto_buf_printf(&w->scratch, "{\"error\":\"%s\"}\n", r == PROTO_ERR_BATCH
                         ? "more than 100 items" : "body is not a JSON object or array of objects");
        proto_buf_free(&errors);
        json(w, resp, 400, NULL);
        return;
    }
    proto_buf_printf(&w->scratch, "{\"accepted\":%d,\"rejected\":%d,\"ignored\":%d,", b.accepted,
                     b.rejected, b.ignored);
    if (b.refused)
        proto_buf_printf(&w->scratch, "\"refused\":%d,", b.refused);
    proto_buf_printf(&w->scratch, "\"errors\":[%s]}\n", errors.data ? errors.data : "");
    proto_buf_free(&errors);
    /* a refusal asks the source to retry the whole body: what was taken has its nonce */
    json(w, resp, b.refused ? 503 : 202, b.refused ? "Retry-After: 5\r\n" : NULL);
}
