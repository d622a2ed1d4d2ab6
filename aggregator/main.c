/* main.c: actiongap-aggregator — start-up and the main loop (the
 * connection, leases, trimming and lag are in streams.c, the alert scan in
 * alerts.c, the read/apply/acknowledge rounds in rounds.c). */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <malloc.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "agg.h"
#include "schema.h"
#include "conffile.h"
#include "log.h"
#include "notify.h"
#include "server.h"
#include "webhook.h"

#define LEASE_EVERY_MS 1000
#define ALERT_EVERY_MS 500
#define RESCAN_EVERY_MS 60000
#define TRIM_EVERY_MS 10000
#define TRYAGAIN_MS 30      /* a campaign whose slot is half-moved is held after this, not waited for */
#define POISON_MIN_MS 100   /* back-off after a poisoned campaign: 100 ms doubling to 5 s */
#define POISON_MAX_MS 5000

volatile sig_atomic_t agg_stopping;

/* Records the stop signal. */
static void on_signal(int sig)
{
    (void)sig;
    agg_stopping = 1;
}

/* ---------------------------------------------------------------- main */

/* Prints usage. */
static void usage(FILE *out)
{
    fprintf(out, "usage: actiongap-aggregator [--config FILE] [--key value ...]\n"
                 "Rolls the hit streams into per-campaign counters exactly once and raises\n"
                 "follow-up alerts (see docs/SPEC.md).\n\n");
    sys_conf_usage(out);
}

int main(int argc, char **argv)
{
    static agg a;
    char err[512], host[64] = "host";
    int rest[16], nrest;
    sys_log_set_prog("aggregator");
    /* A batch allocates and frees megabytes at once: keep them in the heap
     * instead of fresh mmaps that the kernel zeroes each time. */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    if (sys_conf_version(stdout, "actiongap-aggregator", argc, argv))
        return 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    }
    if (sys_conf_load(&a.conf, argc, argv, rest, 16, &nrest, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (nrest) {
        fprintf(stderr, "config: %s: unknown option\n", argv[rest[0]]);
        return 2;
    }
    if (a.conf.partitions > AGG_MAX_PARTITIONS) {
        fprintf(stderr, "config: partitions: at most %d\n", AGG_MAX_PARTITIONS);
        return 2;
    }
    sys_log_set_level(a.conf.log_level);
    gethostname(host, sizeof host - 1);
    if (a.conf.consumer[0])
        snprintf(a.me, sizeof a.me, "%s", a.conf.consumer);
    else
        snprintf(a.me, sizeof a.me, "%s-%d", host, (int)getpid());
    for (int p = 0; p < a.conf.partitions; p++)
        proto_key_hits(a.keys[p], sizeof a.keys[p], a.conf.prefix, (unsigned)p);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {   /* once, before any thread */
        sys_error("cannot initialise libcurl", NULL);
        return 1;
    }

    a.round[0].arena = agg_arena_new();
    a.round[1].arena = agg_arena_new();
    a.r = sys_redis_new(a.conf.redis, 2000, 5000);
    if (a.r)
        sys_redis_set_tryagain_ms(a.r, TRYAGAIN_MS);
    a.expiry = agg_expiry_new();
    agg_server *srv = a.round[0].arena && a.round[1].arena && a.r && a.expiry
                          ? agg_server_new(&a.conf, &a.m)
                          : NULL;
    if (!srv) {
        agg_expiry_free(a.expiry);
        agg_arena_free(a.round[0].arena);
        agg_arena_free(a.round[1].arena);
        sys_redis_free(a.r);
        return 1;
    }
    agg_webhook *wh = agg_webhook_new(&a.conf, &a.m);
    sys_info("started", "consumer=%s metrics_listen=%s partitions=%d batch=%d", a.me,
               a.conf.metrics_listen, a.conf.partitions, a.conf.batch);
    sys_notify_ready();     /* the metrics server listens */
    int status = 0;
    while (!agg_stopping) {
        if (!a.up) {
            if (a.retry_ms)
                usleep((useconds_t)a.retry_ms * 1000);
            int rc = agg_connect(&a);
            if (rc == -2) {
                status = 1;
                break;
            }
            if (rc < 0) {
                agg_outage(&a);
                continue;
            }
            a.last_lease = 0;
        }
        long long t = sys_now_ms();
        if (t - a.last_lease >= LEASE_EVERY_MS) {
            agg_leases(&a);
            agg_update_lag(&a);
            a.last_lease = t;
        }
        /* a held campaign's pending entries are read again after the
         * back-off; the other campaigns go on meanwhile */
        t = sys_now_ms();
        int retry = a.held_retry_at && t >= a.held_retry_at;
        if (retry) {
            a.held_retry_at = 0;
            agg_held_retry(&a);
        }
        agg_round_once(&a);
        sys_redis_cluster_stats cs;
        sys_redis_cluster_stats_get(a.r, &cs);
        atomic_store(&a.m.cluster_moved, cs.moved);
        atomic_store(&a.m.cluster_ask, cs.ask);
        atomic_store(&a.m.cluster_tryagain, cs.tryagain);
        atomic_store(&a.m.cluster_clusterdown, cs.clusterdown);
        atomic_store(&a.m.cluster_refreshes, cs.refreshes);
        atomic_store(&a.m.cluster_node_failures, cs.node_failures);
        if (a.up)
            agg_recovered(&a);
        if (a.poisoned) {
            /* nothing of the held campaign was written; logged once a step */
            a.poisoned = 0;
            if (!a.held_retry_at) {
                a.poison_ms = a.poison_ms ? a.poison_ms * 2 : POISON_MIN_MS;
                if (a.poison_ms > POISON_MAX_MS)
                    a.poison_ms = POISON_MAX_MS;
                a.held_retry_at = sys_now_ms() + a.poison_ms;
            }
            atomic_store(&a.m.held, 1);
        } else if (retry && a.poison_ms) {
            int still = 0;
            for (int p = 0; p < a.conf.partitions; p++)
                still |= a.held[p];
            if (!still) {
                a.poison_ms = 0;
                atomic_store(&a.m.held, 0);
                sys_info("poisoned campaign applied again", NULL);
            }
        }
        t = sys_now_ms();
        if (a.up && t - a.last_alert >= ALERT_EVERY_MS) {
            int full = t - a.last_rescan >= RESCAN_EVERY_MS;
            agg_alerts_scan(&a, full);
            if (full)
                a.last_rescan = t;
            a.last_alert = t;
        }
        if (a.up && t - a.last_trim >= TRIM_EVERY_MS) {
            agg_trim(&a);
            a.last_trim = t;
        }
    }
    sys_notify_stopping();
    sys_info("stopping", "applied=%llu", (unsigned long long)agg_get(a.m.applied));
    agg_leases_release(&a);   /* another aggregator takes over at once */
    agg_webhook_free(wh);
    curl_global_cleanup();
    agg_server_free(srv);
    sys_redis_free(a.r);
    free(a.camps);
    agg_expiry_free(a.expiry);
    agg_arena_free(a.round[0].arena);
    agg_arena_free(a.round[1].arena);
    return status;
}
