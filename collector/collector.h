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
} coll_ctx;

/* Answers one HTTP request (coll_http_handler; arg is the coll_worker). */
void coll_handle(void *arg, const coll_http_req *req, coll_http_resp *resp);

/* Writes the Prometheus exposition of the whole collector into b (status.c). */
void coll_metrics_render(const coll_ctx *ctx, proto_buf *b);

/* Writes the /healthz body into b; returns its HTTP status, 200 or 503
 * (status.c). */
int coll_status_health(const coll_ctx *ctx, proto_buf *b);

#endif
