/* server.c: the aggregator's /metrics and /healthz (evhttp in a thread). */
#include "server.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct agg_server {
    const proto_conf *conf;
    agg_metrics *m;
    struct event_base *base;
    struct evhttp *http;
    pthread_t tid;
    int running;
};

/* Writes the Prometheus exposition of m into b; never fails (see oom). */
static void render(const proto_conf *conf, agg_metrics *m, proto_buf *b)
{
    char l[64];
#define COUNTER(name, field, help) proto_prom_one(b, name, "counter", help, (double)agg_get(m->field))
    COUNTER("ag_agg_applied_total", applied, "Stream entries applied to counters.");
    COUNTER("ag_agg_skipped_total", skipped, "Entries found already applied (watermark).");
    COUNTER("ag_agg_duplicates_total", duplicates, "Hits dropped as retries (same nonce within 24 h).");
    COUNTER("ag_agg_malformed_total", malformed, "Entries that do not decode.");
    COUNTER("ag_agg_batches_total", batches, "Batches applied.");
    COUNTER("ag_agg_conflicts_total", conflicts, "Apply calls refused: watermark moved.");
    COUNTER("ag_agg_dead_lettered_total", dead,
            "Entries of poisoned campaigns moved to their dead-letter stream (actiongap repair).");
    COUNTER("ag_agg_poisoned_total", poisoned,
            "Apply calls refused before any write: a campaign key of the wrong type or value.");
    COUNTER("ag_agg_trimmed_total", trimmed, "Entries trimmed from the hit streams.");
    COUNTER("ag_alerts_raised_total", alerts_raised, "followup_overdue alerts raised.");
    COUNTER("ag_alerts_resolved_total", alerts_resolved, "followup_resolved alerts raised.");
    COUNTER("ag_alerts_moved_total", alerts_moved, "Alerts moved from campaigns' outboxes to ag:alerts.");
    COUNTER("ag_alerts_sent_total", alerts_sent, "Alert deliveries per channel: webhook answered 2xx, e-mail taken by the server.");
    COUNTER("ag_alerts_failed_total", alerts_failed, "Alert delivery attempts (webhook or e-mail) that failed.");
    COUNTER("ag_agg_redis_failures_total", redis_failures, "Redis errors and reconnects.");
    COUNTER("ag_agg_replicas_short_total", replicas_short,
            "Rounds not acknowledged: fewer replicas than replicas_ack confirmed the writes in time.");
    COUNTER("ag_agg_cluster_map_refreshes_total", cluster_refreshes,
            "Redis Cluster slot maps read (at connect, after MOVED, CLUSTERDOWN and connection errors).");
    COUNTER("ag_agg_cluster_node_failures_total", cluster_node_failures,
            "Redis Cluster nodes found unreachable, broken or hung (their commands failed alone).");
#undef COUNTER
    proto_prom_head(b, "ag_agg_cluster_redirects_total", "counter",
                    "Redis Cluster replies followed or retried, by kind.");
    proto_prom_sample(b, "ag_agg_cluster_redirects_total", "kind=\"moved\"", (double)agg_get(m->cluster_moved));
    proto_prom_sample(b, "ag_agg_cluster_redirects_total", "kind=\"ask\"", (double)agg_get(m->cluster_ask));
    proto_prom_sample(b, "ag_agg_cluster_redirects_total", "kind=\"tryagain\"",
                      (double)agg_get(m->cluster_tryagain));
    proto_prom_sample(b, "ag_agg_cluster_redirects_total", "kind=\"clusterdown\"",
                      (double)agg_get(m->cluster_clusterdown));
    proto_prom_head(b, "ag_agg_redis_up", "gauge", "1 if Redis answers.");
    proto_prom_sample(b, "ag_agg_redis_up", NULL, agg_get(m->redis_up));
    proto_prom_head(b, "ag_agg_redis_evicts", "gauge",
                    "1 if Redis's maxmemory-policy evicts keys (running with allow_eviction = yes).");
    proto_prom_sample(b, "ag_agg_redis_evicts", NULL, agg_get(m->evicts));
    proto_prom_head(b, "ag_agg_poison_held", "gauge",
                    "1 while a poisoned campaign key holds its partition back (see the log).");
    proto_prom_sample(b, "ag_agg_poison_held", NULL, agg_get(m->held));
    proto_prom_head(b, "ag_agg_partition_owned", "gauge", "1 if this aggregator holds the partition's lease.");
    for (int p = 0; p < conf->partitions; p++) {
        snprintf(l, sizeof l, "partition=\"%d\"", p);
        proto_prom_sample(b, "ag_agg_partition_owned", l, agg_get(m->owned[p]));
    }
    proto_prom_head(b, "ag_agg_lag", "gauge", "Entries of the partition not yet applied (owned partitions).");
    for (int p = 0; p < conf->partitions; p++) {
        snprintf(l, sizeof l, "partition=\"%d\"", p);
        proto_prom_sample(b, "ag_agg_lag", l, (double)agg_get(m->lag[p]));
    }
    proto_prom_hist(b, "ag_agg_batch_duration_seconds", "Time to apply one batch.", &m->batch_latency);
}

/* Answers /metrics, /healthz and 404. */
static void on_request(struct evhttp_request *req, void *arg)
{
    agg_server *s = arg;
    const char *uri = evhttp_request_get_uri(req);
    struct evbuffer *out = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    if (!out) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    if (strcmp(uri, "/metrics") == 0) {
        proto_buf b;
        proto_buf_init(&b);
        render(s->conf, s->m, &b);
        evbuffer_add(out, b.data, b.len);
        proto_buf_free(&b);
        evhttp_add_header(h, "Content-Type", "text/plain; version=0.0.4");
        evhttp_send_reply(req, 200, "OK", out);
    } else if (strcmp(uri, "/healthz") == 0) {
        int64_t lag = 0;
        int owned = 0;
        for (int p = 0; p < s->conf->partitions; p++) {
            lag += agg_get(s->m->lag[p]);
            owned += agg_get(s->m->owned[p]);
        }
        evbuffer_add_printf(out,
                            "{\"status\":\"ok\",\"redis\":\"%s\",\"partitions_owned\":%d,"
                            "\"lag\":%lld,\"applied\":%llu}\n",
                            agg_get(s->m->redis_up) ? "up" : "down", owned, (long long)lag,
                            (unsigned long long)agg_get(s->m->applied));
        evhttp_add_header(h, "Content-Type", "application/json");
        evhttp_send_reply(req, 200, "OK", out);
    } else {
        evbuffer_add_printf(out, "not found\n");
        evhttp_send_reply(req, 404, "Not Found", out);
    }
    evbuffer_free(out);
}

/* Runs the server's loop. */
static void *serve(void *arg)
{
    agg_server *s = arg;
    event_base_dispatch(s->base);
    return NULL;
}

/* Starts the server thread. Returns NULL (logged) on failure. */
agg_server *agg_server_new(const proto_conf *conf, agg_metrics *m)
{
    char host[128];
    int port;
    agg_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->conf = conf;
    s->m = m;
    evthread_use_pthreads();
    if (proto_conf_hostport(conf->metrics_listen, host, sizeof host, &port) < 0 ||
        !(s->base = event_base_new()) || !(s->http = evhttp_new(s->base)) ||
        evhttp_bind_socket(s->http, host[0] ? host : "0.0.0.0", (ev_uint16_t)port) < 0) {
        sys_error("cannot listen", "metrics_listen=%s", conf->metrics_listen);
        agg_server_free(s);
        return NULL;
    }
    evhttp_set_gencb(s->http, on_request, s);
    if (pthread_create(&s->tid, NULL, serve, s) != 0) {
        agg_server_free(s);
        return NULL;
    }
    s->running = 1;
    return s;
}

/* Stops and frees the server; NULL is a no-op. */
void agg_server_free(agg_server *s)
{
    if (!s)
        return;
    if (s->running) {
        event_base_loopbreak(s->base);
        pthread_join(s->tid, NULL);
    }
    if (s->http)
        evhttp_free(s->http);
    if (s->base)
        event_base_free(s->base);
    free(s);
}
