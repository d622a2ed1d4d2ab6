/* status.c: what the collector says about itself — /healthz (JSON, 503
 * "degraded" while accepted hits are at risk) and /metrics (Prometheus
 * text), from its counters and every thread's sink gauges. */
#include <inttypes.h>
#include <stdio.h>

#include "collector.h"
#include "links.h"

/* Returns the accepted hits lost for every reason together; never fails. */
uint64_t coll_dropped_total(const coll_metrics *m)
{
    uint64_t n = 0;
    for (int d = 0; d < COLL_DROP_COUNT; d++)
        n += coll_get(m->dropped[d]);
    return n;
}

/* Writes the /healthz body into b. Returns its HTTP status: 200, or 503
 * while accepted hits are at risk (disk full or failing, spool full). */
int coll_status_health(const coll_ctx *ctx, proto_buf *b)
{
    int up = 1;
    int64_t spooled = 0, held = 0;
    const char *degraded = NULL;
    for (int i = 0; i < ctx->nworkers; i++) {
        coll_sink_spool_info sp;
        if (!ctx->workers[i].sink)
            continue;
        up &= coll_sink_up(ctx->workers[i].sink);
        coll_sink_spool(ctx->workers[i].sink, &sp);
        spooled += sp.records - sp.held;
        held += sp.held;
        if (sp.degraded && !degraded)
            degraded = sp.degraded;
    }
    if (degraded)
        proto_buf_printf(b, "{\"status\":\"degraded\",\"reason\":\"%s\",", degraded);
    else
        proto_buf_printf(b, "{\"status\":\"ok\",");
    proto_buf_printf(b, "\"redis\":\"%s\",\"spooled\":%" PRId64 ",\"held\":%" PRId64 "}\n",
                     up ? "up" : "down", spooled, held);
    return degraded ? 503 : 200;
}

/* Writes every collector metric into b; never fails (see b->oom). */
void coll_metrics_render(const coll_ctx *ctx, proto_buf *b)
{
    const coll_metrics *m = &ctx->m;
    char l[160];
    int64_t queued = 0, conns = 0;
    coll_sink_spool_info sp = {0};
    int up = 0, degraded = 0, nodes_down = 0;
    for (int i = 0; i < ctx->nworkers; i++) {
        const coll_worker *w = &ctx->workers[i];
        if (w->sink) {
            up += coll_sink_up(w->sink);
            nodes_down += coll_sink_nodes_down(w->sink);
            queued += coll_sink_queued(w->sink);
            coll_sink_spool_info one;
            coll_sink_spool(w->sink, &one);
            sp.records += one.records;
            sp.held += one.held;
            sp.disk_bytes += one.disk_bytes;
            sp.mem_bytes += one.mem_bytes;
            sp.written += one.written;
            sp.damaged += one.damaged;
            degraded += one.degraded != NULL;
        }
        if (w->http)
            conns += coll_http_conns(w->http);
    }
    proto_prom_head(b, "ag_hits_total", "counter", "Hits by endpoint and result.");
    for (int v = 0; v < PROTO_VIA_COUNT; v++) {
        snprintf(l, sizeof l, "endpoint=\"%s\",result=\"accepted\"", proto_via_name(v));
        proto_prom_sample(b, "ag_hits_total", l, (double)coll_get(m->accepted[v]));
        snprintf(l, sizeof l, "endpoint=\"%s\",result=\"rejected\"", proto_via_name(v));
        proto_prom_sample(b, "ag_hits_total", l, (double)coll_get(m->rejected[v]));
        snprintf(l, sizeof l, "endpoint=\"%s\",result=\"refused\"", proto_via_name(v));
        proto_prom_sample(b, "ag_hits_total", l, (double)coll_get(m->refused[v]));
    }
    proto_prom_head(b, "ag_rejects_total", "counter", "Rejected hits by reason.");
    for (int r = 1; r < PROTO_REASON_COUNT; r++) {
        snprintf(l, sizeof l, "reason=\"%s\"", proto_reason_name(r));
        proto_prom_sample(b, "ag_rejects_total", l, (double)coll_get(m->reasons[r]));
    }
    proto_prom_head(b, "ag_hits_agent_total", "counter", "Accepted hits by user-agent class.");
    for (int a = 0; a < PROTO_AGENT_COUNT; a++) {
        snprintf(l, sizeof l, "agent=\"%s\"", proto_agent_name(a));
        proto_prom_sample(b, "ag_hits_agent_total", l, (double)coll_get(m->agents[a]));
    }
#define COUNTER(name, field, help) proto_prom_one(b, name, "counter", help, (double)coll_get(m->field))
    COUNTER("ag_hits_stored_total", stored, "Hits Redis acknowledged.");
    proto_prom_one(b, "ag_hits_spooled_total", "counter", "Hits written to a spool file.",
                   (double)sp.written);
    COUNTER("ag_hits_replayed_total", replayed, "Spooled hits sent to Redis.");
    COUNTER("ag_hits_reconciled_total", reconciled, "Spooled hits found already in Redis, not resent.");
    proto_prom_head(b, "ag_hits_dropped_total", "counter", "Accepted hits lost, by reason.");
    for (int d = 0; d < COLL_DROP_COUNT; d++) {
        snprintf(l, sizeof l, "reason=\"%s\"", coll_drop_name(d));
        proto_prom_sample(b, "ag_hits_dropped_total", l, (double)coll_get(m->dropped[d]));
    }
    COUNTER("ag_rejects_stored_total", rejects_stored, "Entries written to the rejects stream.");
    COUNTER("ag_rejects_unrecorded_total", rejects_unrecorded, "Rejects not written: Redis down.");
    COUNTER("ag_redis_failures_total", redis_failures, "Redis disconnects, errors and timeouts.");
    COUNTER("ag_redis_replicas_short_total", replicas_short,
            "WAITs answered by fewer replicas than replicas_ack (the hits stay held and are asked for again).");
    COUNTER("ag_redis_rollbacks_total", redis_rollbacks,
            "Hit streams found behind what Redis had acknowledged (an older snapshot, a flush).");
#undef COUNTER
    static const char *const redirect[4] = {"moved", "ask", "tryagain", "clusterdown"};
    proto_prom_head(b, "ag_redis_cluster_redirects_total", "counter",
                    "Cluster replies the sinks met, by kind: MOVED and CLUSTERDOWN (and TRYAGAIN) "
                    "read the slot map again, ASK is followed.");
    for (int i = 0; i < 4; i++) {
        snprintf(l, sizeof l, "kind=\"%s\"", redirect[i]);
        proto_prom_sample(b, "ag_redis_cluster_redirects_total", l, (double)coll_get(m->cluster[i]));
    }
    proto_prom_one(b, "ag_redis_cluster_map_reads_total", "counter",
                   "Cluster slot maps the sinks read (CLUSTER SLOTS).", (double)coll_get(m->cluster[4]));
    static const char *const attr[3] = {"credited", "invalid", "other_campaign"};
    proto_prom_head(b, "ag_attribution_total", "counter",
                    "Hits carrying a tracked link's attribution token, by what became of it.");
    for (int i = 0; i < 3; i++) {
        snprintf(l, sizeof l, "result=\"%s\"", attr[i]);
        proto_prom_sample(b, "ag_attribution_total", l, (double)coll_get(m->attribution[i]));
    }
    static const char *const found[3] = {"found", "gone", "unknown"};
    proto_prom_head(b, "ag_short_link_requests_total", "counter",
                    "Short-link requests by what the table in memory answered (302, 410, 404).");
    for (int i = 0; i < 3; i++) {
        snprintf(l, sizeof l, "result=\"%s\"", found[i]);
        proto_prom_sample(b, "ag_short_link_requests_total", l, (double)coll_get(m->short_links[i]));
    }
    size_t link_bytes = 0, nlinks = coll_links_count(ctx->links, &link_bytes);
    proto_prom_one(b, "ag_short_links", "gauge", "Short links held in memory.", (double)nlinks);
    proto_prom_one(b, "ag_short_links_bytes", "gauge", "Bytes the short links in memory take.",
                   (double)link_bytes);
    proto_prom_one(b, "ag_short_link_loads_total", "counter", "Full loads of the short links from Redis.",
                   (double)coll_links_loads(ctx->links));
    const proto_hooks *hs = &ctx->conf.hooks;
    if (hs->n) {    /* hook names are [a-z0-9_-]: safe label values */
        static const char *const item[4] = {"accepted", "rejected", "ignored", "refused"};
        proto_prom_head(b, "ag_hook_requests_total", "counter",
                        "Inbound hook requests by hook and authentication verdict.");
        for (int i = 0; i < hs->n; i++)
            for (int a = 0; a < 4; a++) {
                snprintf(l, sizeof l, "hook=\"%s\",auth=\"%s\"", hs->h[i].name,
                         proto_hook_auth_name((proto_hook_auth)a));
                proto_prom_sample(b, "ag_hook_requests_total", l, (double)coll_get(m->hook_auth[i][a]));
            }
        proto_prom_head(b, "ag_hook_items_total", "counter",
                        "Items of authenticated hook requests by hook and what became of them.");
        for (int i = 0; i < hs->n; i++)
            for (int k = 0; k < 4; k++) {
                snprintf(l, sizeof l, "hook=\"%s\",result=\"%s\"", hs->h[i].name, item[k]);
                proto_prom_sample(b, "ag_hook_items_total", l, (double)coll_get(m->hook_items[i][k]));
            }
    }
    proto_prom_head(b, "ag_http_responses_total", "counter", "Responses by status class.");
    for (int c = 1; c < 6; c++) {
        snprintf(l, sizeof l, "code=\"%dxx\"", c);
        proto_prom_sample(b, "ag_http_responses_total", l, (double)coll_get(m->status[c]));
    }
    proto_prom_one(b, "ag_redis_up", "gauge", "Threads whose Redis connection is up, of ag_threads.", up);
    proto_prom_one(b, "ag_redis_nodes_down", "gauge",
                   "Cluster masters down while the thread's other masters take hits directly (their "
                   "partitions' hits go to the spool), summed over threads.", nodes_down);
    proto_prom_one(b, "ag_threads", "gauge", "Event-loop threads.", ctx->nworkers);
    proto_prom_one(b, "ag_queue_depth", "gauge", "Hits sent to Redis and awaiting a reply.", (double)queued);
    proto_prom_one(b, "ag_spool_records", "gauge",
                   "Hits waiting in spool files (or for their next write, within a second).",
                   (double)(sp.records - sp.held));
    proto_prom_one(b, "ag_spool_held_records", "gauge",
                   "Hits the disk refused, held in memory (or in a sealed file) until Redis takes them.",
                   (double)sp.held);
    proto_prom_one(b, "ag_spool_bytes", "gauge", "Bytes of the spool files.", (double)sp.disk_bytes);
    proto_prom_one(b, "ag_spool_memory_bytes", "gauge", "Bytes of spooled hits in memory.",
                   (double)sp.mem_bytes);
    proto_prom_one(b, "ag_spool_damaged_total", "counter",
                   "Spool files found damaged: write errors, torn or corrupt records, deleted files.",
                   (double)sp.damaged);
    proto_prom_one(b, "ag_spool_degraded", "gauge",
                   "Threads whose accepted hits are at risk (disk full or failing, spool full).",
                   degraded);
    proto_prom_one(b, "ag_http_connections", "gauge", "Open HTTP connections.", (double)conns);
    proto_prom_hist(b, "ag_request_duration_seconds", "Time to handle a request.", &m->latency);
}
