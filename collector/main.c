/* main.c: actiongap-collector — configuration, threads, signals, shutdown. */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector.h"
#include "links.h"
#include "conffile.h"
#include "spool.h"
#include "keys.h"
#include "log.h"
#include "notify.h"
#include "redis.h"

#define DRAIN_TIMEOUT_MS 5000

/* Ends a worker's loop once its sink has drained. */
static void on_drained(void *arg)
{
    coll_worker *w = arg;
    event_base_loopexit(w->base, NULL);
}

/* Stops a worker: no new connections, then drains its sink (runs in the
 * worker's thread, activated from main). */
static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    coll_worker *w = arg;
    (void)fd;
    (void)what;
    coll_http_stop(w->http);
    coll_sink_drain(w->sink, DRAIN_TIMEOUT_MS, on_drained, w);
}

/* Runs one worker's event loop until it is stopped. */
static void *worker_main(void *arg)
{
    coll_worker *w = arg;
    event_base_dispatch(w->base);
    return NULL;
}

/* Sets up worker i: loop, sink, listener. Returns 0, or -1 (logged). */
static int worker_init(coll_ctx *ctx, int i)
{
    coll_worker *w = &ctx->workers[i];
    const proto_conf *c = &ctx->conf;
    coll_http_limits lim = {
        .max_header = (size_t)c->max_header_bytes,
        .max_body = (size_t)c->max_body_bytes,
        .header_timeout_ms = c->header_timeout_s * 1000,
        .body_timeout_ms = c->header_timeout_s * 1000,
        .idle_timeout_ms = c->idle_timeout_s * 1000,
        .max_conns = c->max_connections / c->threads > 0 ? c->max_connections / c->threads : 1,
    };
    w->index = i;
    w->ctx = ctx;
    proto_buf_init(&w->scratch);
    if (!(w->base = event_base_new()))
        return -1;
    int fd = coll_http_listen(c->listen);
    if (fd < 0) {
        sys_error("cannot listen", "listen=%s err=\"%s\"", c->listen, strerror(errno));
        return -1;
    }
    w->http = coll_http_new(w->base, fd, &lim, coll_handle, w);
    w->sink = coll_sink_new(w->base, c, i, &ctx->m);
    w->sink_api = &coll_sink_real;
    w->stop_ev = event_new(w->base, -1, 0, on_stop, w);
    if (!w->http || !w->sink || !w->stop_ev)
        return -1;
    return 0;
}

/* Frees worker i; safe on a partly initialised worker. */
static void worker_free(coll_worker *w)
{
    coll_http_free(w->http);
    coll_sink_free(w->sink);
    if (w->stop_ev)
        event_free(w->stop_ev);
    if (w->base)
        event_base_free(w->base);
    proto_buf_free(&w->scratch);
}

/* Raises the open-file limit to the hard limit, so max_connections can be
 * reached; logs when the limit stays below what the configuration needs. */
static void raise_nofile(const proto_conf *c)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)c->max_connections + 64)
        sys_warn("open-file limit below max_connections", "nofile=%llu max_connections=%d",
                   (unsigned long long)rl.rlim_cur, c->max_connections);
}

/* Prints usage. */
static void usage(FILE *out)
{
    fprintf(out, "usage: actiongap-collector [--config FILE] [--key value ...]\n"
                 "Serves the pixel, beacon, tracked-link and API endpoints and appends every\n"
                 "accepted hit to a Redis stream (see docs/SPEC.md).\n\n");
    sys_conf_usage(out);
}

/* Checks, when Redis answers at start, what it must never do silently:
 * evict keys (the hits and counters would vanish) and refuse a command the
 * collector needs (an ACL user without XADD or XREVRANGE on a key it
 * writes would hold every hit in the spool). Returns 0 (also when Redis is
 * away: the spool takes the hits) or -1 (one line logged). */
static int check_redis(const proto_conf *conf)
{
    int evicts = 0, rc = 0;
    char key[PROTO_KEY_MAX];
    sys_redis *r = sys_redis_new(conf->redis, 1000, 1000);
    if (!r)
        return -1;
    if (sys_redis_connect(r) < 0)
        goto out;
    rc = sys_redis_check_eviction(r, conf->allow_eviction, "collector", &evicts);
    for (int p = -1; p < conf->partitions && rc != 1; p++) {
        if ((p < 0 ? proto_key_rejects(key, sizeof key, conf->prefix)
                   : proto_key_hits(key, sizeof key, conf->prefix, (unsigned)p)) < 0)
            break;
        /* MAXLEN -1 is refused by XADD itself, once the ACL allowed it */
        const char *add[] = {"XADD", key, "MAXLEN", "-1", "*", "hid", "-"};
        const char *tail[] = {"XREVRANGE", key, "+", "-", "COUNT", "1"};
        rc = sys_redis_check_perm(r, "collector", 7, add);
        if (rc != 1 && p >= 0)
            rc = sys_redis_check_perm(r, "collector", 6, tail);
    }
out:
    sys_redis_free(r);
    return rc == 1 ? -1 : 0;
}

int main(int argc, char **argv)
{
    static coll_ctx ctx;
    char err[512];
    int rest[64], nrest, rc = 1;
    sigset_t sigs;

    sys_log_set_prog("collector");
    if (sys_conf_version(stdout, "actiongap-collector", argc, argv))
        return 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    }
    if (sys_conf_load(&ctx.conf, argc, argv, rest, 64, &nrest, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (nrest) {
        fprintf(stderr, "config: %s: unknown option\n", argv[rest[0]]);
        return 2;
    }
    if (ctx.conf.require_signature == PROTO_SIG_ALL && !ctx.conf.signing_key[0]) {
        fprintf(stderr, "config: signing_key: required when require_signature = all\n");
        return 2;
    }
    sys_log_set_level(ctx.conf.log_level);
    if (coll_spool_probe(ctx.conf.spool_dir) < 0 || check_redis(&ctx.conf) < 0)
        return 1;
    raise_nofile(&ctx.conf);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);   /* a file size limit is a full disk (EFBIG), not a crash */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    evthread_use_pthreads();

    ctx.nworkers = ctx.conf.threads;
    ctx.workers = calloc((size_t)ctx.nworkers, sizeof *ctx.workers);
    if (!ctx.workers || !(ctx.links = coll_links_new(&ctx.conf)))
        return 1;
    for (int i = 0; i < ctx.nworkers; i++) {
        if (worker_init(&ctx, i) < 0) {
            sys_error("start-up failed", "thread=%d", i);
            goto out;
        }
    }
    proto_redis_addr ra;
    proto_conf_redis_addr(ctx.conf.redis, &ra);
    if (ra.cluster)
        sys_info("listening", "listen=%s threads=%d redis=cluster:%s spool_dir=%s", ctx.conf.listen,
                 ctx.nworkers, ra.seeds, ctx.conf.spool_dir);
    else
        sys_info("listening", "listen=%s threads=%d redis=%s:%d%s spool_dir=%s", ctx.conf.listen,
                 ctx.nworkers, ra.path[0] ? "unix" : ra.host, ra.port, ra.path, ctx.conf.spool_dir);
    for (int i = 0; i < ctx.nworkers; i++)
        pthread_create(&ctx.workers[i].tid, NULL, worker_main, &ctx.workers[i]);
    sys_notify_ready();     /* every listener bound, every worker running */
    int sig = 0;
    sigwait(&sigs, &sig);
    sys_notify_stopping();
    sys_info("stopping: draining to Redis or the spool", "signal=%d", sig);
    for (int i = 0; i < ctx.nworkers; i++)
        event_active(ctx.workers[i].stop_ev, EV_TIMEOUT, 0);
    for (int i = 0; i < ctx.nworkers; i++)
        pthread_join(ctx.workers[i].tid, NULL);
    uint64_t dropped = coll_dropped_total(&ctx.m), lost = coll_get(ctx.m.lost_at_exit);
    int64_t spooled = 0;
    for (int i = 0; i < ctx.nworkers; i++) {
        coll_sink_spool_info sp;
        coll_sink_spool(ctx.workers[i].sink, &sp);
        spooled += sp.records;
    }
    sys_info("stopped", "stored=%llu spooled=%lld dropped=%llu lost_at_exit=%llu",
               (unsigned long long)coll_get(ctx.m.stored), (long long)spooled,
               (unsigned long long)dropped, (unsigned long long)lost);
    rc = lost ? 1 : 0;  /* hits the disk refused to the end: a supervisor must know */
out:
    for (int i = 0; i < ctx.nworkers; i++)
        worker_free(&ctx.workers[i]);
    free(ctx.workers);
    coll_links_free(ctx.links);
    return rc;
}
