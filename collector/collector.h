/* collector.h: the collector's process-wide context and its per-thread
 * workers; the request handlers' entry point. */
#ifndef COLL_COLLECTOR_H
#define COLL_COLLECTOR_H

#include <pthread.h>
#include <stdint.h>

#include "conf.h"
#include "http.h"
#include "metrics.h"
#include "prom.h"
#include "sink.h"

struct event_base;
struct event;
struct coll_ctx;

/* One event loop thread: its HTTP server and its sink. */
typedef struct coll_worker {
    int index;
    struct event_base *base;
    coll_http *http;
    coll_sink *sink;
    const coll_sink_api *sink_api;  /* how the endpoints reach the sink (coll_sink_real) */
    struct event *stop_ev;
    pthread_t tid;
    struct coll_ctx *ctx;
    proto_buf scratch;          /* response bodies built per request */
} coll_worker;

/* The whole process. */
typedef struct coll_ctx {
    proto_conf conf;
    coll_metrics m;
    int nworkers;
    coll_worker *workers;
    int64_t started_ms;
    struct coll_links *links;   /* short links in memory (links.h) */
} coll_ctx;

/* Answers one HTTP request (coll_http_handler; arg is the coll_worker). */
void coll_handle(void *arg, const coll_http_req *req, coll_http_resp *resp);

/* coll_take_hit's answer for a valid hit that neither Redis nor the spool
 * can take now (only where the client can retry: the beacon and the API). */
#define COLL_TAKE_REFUSED (-1)

/* coll_take_hit's flags: the client can retry (beacon, API, hooks), and
 * the hit comes from a record the collector trusts (a short link), so
 * require_signature does not apply. */
#define COLL_TAKE_REFUSABLE 1
#define COLL_TAKE_TRUSTED 2

/* Accepts or rejects one parsed hit (handlers.c): finishes it for via,
 * checks the signature rule, fills the server fields (its time is when_ms
 * if > 0, else now), and hands it to the sink; raw (rawlen bytes) is what
 * a reject records. Returns PROTO_OK if accepted, the reject reason, or
 * COLL_TAKE_REFUSED (COLL_TAKE_REFUSABLE only) when the sink has no room: nothing is
 * recorded and the client is told to retry. */
int coll_take_hit(coll_worker *w, const coll_http_req *req, proto_hit *hit, proto_reason r,
                  proto_via via, const char *q, size_t qlen, const char *raw, size_t rawlen,
                  int flags, int64_t when_ms);

/* Records a request body rejected as a whole with reason r (handlers.c); never fails. */
void coll_reject_body(coll_worker *w, const coll_http_req *req, proto_via via, proto_reason r);

/* Answers POST /api/hooks/<name>: an inbound hook (hooks.c). */
void coll_hook_handle(coll_worker *w, const coll_http_req *req, coll_http_resp *resp);

/* Writes the Prometheus exposition of the whole collector into b (status.c). */
void coll_metrics_render(const coll_ctx *ctx, proto_buf *b);

/* Writes the /healthz body into b; returns its HTTP status, 200 or 503
 * (status.c). */
int coll_status_health(const coll_ctx *ctx, proto_buf *b);

#endif
