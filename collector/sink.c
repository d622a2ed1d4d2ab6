/* sink.c: one thread's hits into Redis streams — the queue, sending, drain and the tick. */
#include "sink.h"
#include "clock.h"
#include "sink_int.h"

#include <event2/event.h>
#include <fcntl.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "keys.h"
#include "log.h"
#include "resp.h"
#include "spool.h"

#define TICK_MS 100
#define PUMP_BUDGET 128        /* spooled hits read per pump call */
#define REPLAY_WINDOW 1024      /* spooled hits in flight at once */
#define TRIM_PEAK 256           /* a queue this long makes a burst */
#define TRIM_MS 1000            /* after a burst, memory goes back to the system at most this often */
#define TRIM_BUSY 10            /* ... or after this many ticks with hits in flight */
#define REJECTS_MAXLEN "100000" /* the rejects stream is trimmed to about this */

/* ---------------------------------------------------------------- queue */

/* Takes the head entry out of flight with its stream id (len bytes, kept
 * if it fits): acknowledges a spooled one in spool order, records the id
 * as its partition's last acknowledged one. Never fails. */
static void release_head(coll_sink *s, const char *id, size_t len)
{
    inflight *e = s->head;
    s->head = e->next;
    if (!s->head)
        s->tail = NULL;
    s->ninflight--;
    if (e->from_spool) {
        coll_spool_ack(s->spool, &e->pos);
        if (s->partial)
            s->spooled[e->partition]--;
    } else {
        s->ndirect--;
    }
    if (len < ID_MAX) {
        memcpy(s->acked[e->partition], id, len);
        s->acked[e->partition][len] = 0;
    }
    coll_slab_free(&s->slab, e);
}

/* Keeps the stream id of e's XADD reply in e (one too long to keep: its
 * partition's last one); never fails. */
static void keep_id(coll_sink *s, inflight *e, const redisReply *reply)
{
    if (reply->len < ID_MAX)
        memcpy(e->id, reply->str, reply->len + 1);
    else
        memcpy(e->id, s->acked[e->partition], ID_MAX);
}

/* Returns 1 if e's write is confirmed by replicas_ack replicas (always
 * when replicas_ack is 0). */
static int confirmed(const coll_sink *s, const inflight *e)
{
    return !s->conf->replicas_ack || (int32_t)(s->node[e->wnode].durable - e->wgen) > 0;
}

/* Releases, from the head, every entry acknowledged and confirmed; never
 * fails. */
void coll_sink_release_ready(coll_sink *s)
{
    while (s->head && s->head->done && confirmed(s, s->head))
        release_head(s, s->head->id, strlen(s->head->id));
}

/* Has the WAITs sent once the current callbacks are over; never fails. */
static void wait_soon(coll_sink *s)
{
    if (!s->wait_pending) {
        s->wait_pending = 1;
        event_active(s->wait_ev, EV_TIMEOUT, 0);
    }
}

/* Takes a WAIT reply (priv: node index << 32 | the generation it covers):
 * enough replicas confirm every write of that node up to it; fewer, and
 * the hits stay in flight and the tick asks again. */
static void on_wait(redisAsyncContext *ac, void *r, void *priv)
{
    coll_sink *s = coll_sink_of(ac);
    redisReply *reply = r;
    uintptr_t v = (uintptr_t)priv;
    if (!s || !reply)
        return;
    sink_node *n = &s->node[(v >> 32) & 0xff];
    uint32_t upto = (uint32_t)v;
    n->wait_sent_ms = 0;
    if (n->unwaited)
        wait_soon(s);           /* written while this WAIT was out */
    if (reply->type == REDIS_REPLY_INTEGER && reply->integer >= s->conf->replicas_ack) {
        if ((int32_t)(upto + 1 - n->durable) > 0)
            n->durable = upto + 1;
        coll_sink_release_ready(s);
        return;
    }
    n->rewait = 1;
    coll_inc(s->m->replicas_short);
    int64_t now = sys_now_ms();
    if (now - s->short_logged_ms >= 10000) {
        sys_warn("redis: replicas did not confirm the writes in time; the hits stay held",
                 "thread=%d node=%s:%d replicas_ack=%d reached=%lld", s->index, n->host, n->port,
                 s->conf->replicas_ack, reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1LL);
        s->short_logged_ms = now;
    }
}

/* Sends a WAIT on every node written since its last one (or whose last
 * fell short). */
static void on_wait_ev(evutil_socket_t fd, short what, void *arg)
{
    coll_sink *s = arg;
    (void)fd;
    (void)what;
    s->wait_pending = 0;
    for (int i = 0; i < s->nnodes && s->state == S_UP; i++) {
        sink_node *n = &s->node[i];
        if (!n->ac || n->wait_sent_ms || (!n->unwaited && !n->rewait))
            continue;
        uintptr_t v = (uintptr_t)i << 32 | n->wgen;
        if (redisAsyncCommand(n->ac, on_wait, (void *)v, "WAIT %d %d", s->conf->replicas_ack,
                              s->conf->redis_timeout_ms / 2) != REDIS_OK)
            continue;
        n->wgen++;
        n->unwaited = 0;
        n->rewait = 0;
        n->wait_sent_ms = sys_now_ms();
    }
}

/* Marks e written to node i now: owed by it (a cluster's per-node
 * timeout), and for its WAIT; never fails. */
void coll_sink_written(coll_sink *s, inflight *e, int i)
{
    e->wnode = (uint8_t)i;
    if (s->partial) {
        sink_node *n = &s->node[i];
        e->onext = NULL;
        if (n->otail)
            n->otail->onext = e;
        else
            n->ohead = e;
        n->otail = e;
    }
    if (!s->conf->replicas_ack)
        return;
    e->wgen = s->node[i].wgen;
    s->node[i].unwaited++;
    wait_soon(s);
}

/* Called with each XADD reply of a hit (priv: its entry), in send order on
 * each connection; on a cluster, connections answer in any order. */
void coll_sink_on_xadd(redisAsyncContext *ac, void *r, void *priv)
{
    coll_sink *s = coll_sink_of(ac);
    redisReply *reply = r;
    inflight *e = priv;
    if (!s || !reply || !s->head)
        return;
    sink_node *n = ac->data;
    if (s->partial) {
        coll_sink_owed_drop(n, e);      /* the head of n's list */
        n->backoff_ms = 0;
    }
    if (reply->type != REDIS_REPLY_STRING) {
        /* OOM, BUSY, LOADING, READONLY, MASTERDOWN, NOPERM…: the hits stay
         * in the spool and the connection is retried on a back-off; said
         * once an outage, not once a retry. On a cluster, that node alone
         * (sink_node.c); ASK is followed with the hit still in flight;
         * MOVED, TRYAGAIN and CLUSTERDOWN take the sink down and the map
         * is read again. */
        const char *err = reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply";
        int kind = reply->type == REDIS_REPLY_ERROR ? coll_sink_cluster_count(s, err) : -1;
        if (kind == CL_ASK && coll_sink_ask(s, e, reply->str, reply->len) == 0)
            return;
        if (s->down_logged || n->down_logged || kind >= 0)
            ;
        else if (strncmp(err, "NOPERM", 6) == 0)
            sys_error("redis: the user may not run XADD; grant it (hits are spooled)", "err=\"%s\"", err);
        else
            sys_error("redis: XADD failed", "err=\"%s\"", err);
        if (kind >= 0)
            coll_sink_fail(s, err, 0, NULL);
        else
            coll_sink_node_fail(n, "XADD error", 0, NULL);
        return;
    }
    coll_inc(s->m->stored);
    if (s->conf->replicas_ack) {
        /* held until a WAIT on its node confirms it */
        e->done = 1;
        keep_id(s, e, reply);
        coll_sink_release_ready(s);
    } else if (e == s->head) {
        /* always so on one node: no copy of the id through the entry */
        release_head(s, reply->str, reply->len);
        while (s->head && s->head->done)    /* those it held back */
            release_head(s, s->head->id, strlen(s->head->id));
    } else {
        /* an earlier hit on another node is still owed: e waits for it, so
         * that spool acks and each partition's acked id keep send order */
        e->done = 1;
        keep_id(s, e, reply);
    }
    if (s->down_logged || s->backoff_ms)
        coll_sink_working(s);
    /* not from inside hiredis' read loop: a burst of replies would otherwise
     * read thousands of spooled hits before the next HTTP request is served */
    if ((!s->head || s->ninflight < REPLAY_WINDOW / 2) && !s->pump_pending) {
        s->pump_pending = 1;
        event_active(s->pump_ev, EV_TIMEOUT, 0);
    }
}

/* Runs the pump once it was scheduled by a reply. */
static void on_pump(evutil_socket_t fd, short what, void *arg)
{
    coll_sink *s = arg;
    (void)fd;
    (void)what;
    s->pump_pending = 0;
    coll_sink_pump(s);
}

/* Builds the XADD of hit to partition p's stream into s->xcmd. Returns 0,
 * or -1 if the key does not fit or memory ran out. */
static int build_xadd(coll_sink *s, const proto_hit *hit, unsigned p)
{
    char key[PROTO_KEY_MAX];
    int kl = proto_key_hits(key, sizeof key, s->conf->prefix, p);
    if (kl < 0)
        return -1;
    /* RESP built in buffers kept across hits: no printf, no malloc once warm */
    proto_resp_reset(&s->xcmd);
    proto_hit_xadd(&s->xcmd, &s->xargs, key, (size_t)kl, hit, NULL, NULL, 0, NULL, 0);
    return s->xcmd.oom ? -1 : 0;
}

/* Builds the XADD of a packed hit for partition p into s->xcmd. Returns
 * 0, or -1 if it does not decode or fit. */
int coll_sink_xadd_of(coll_sink *s, unsigned p, const unsigned char *data, size_t len)
{
    proto_hit hit;
    if (proto_hit_unpack(&hit, data, len) < 0)
        return -1;
    return build_xadd(s, &hit, p);
}

/* Sends one hit (packed in e) of partition part with XADD on the
 * partition's node. Returns 0, or -1 if the command could not be queued
 * (the entry is freed by the caller). */
static int send_hit(coll_sink *s, inflight *e, const proto_hit *hit, unsigned part)
{
    e->partition = part;
    int node = s->part_node[e->partition];
    redisAsyncContext *ac = s->node[node].ac;
    if (!ac || build_xadd(s, hit, e->partition) < 0 ||
        redisAsyncFormattedCommand(ac, coll_sink_on_xadd, e, s->xcmd.data, s->xcmd.len) != REDIS_OK)
        return -1;
    coll_sink_written(s, e, node);
    e->sent_ms = sys_now_ms();
    e->next = NULL;
    if (s->tail)
        s->tail->next = e;
    else
        s->head = e;
    s->tail = e;
    s->ninflight++;
    return 0;
}

/* Builds an in-flight entry for packed bytes, in the sink's slab. Returns
 * NULL on allocation failure. */
static inflight *entry_new(coll_sink *s, const unsigned char *data, size_t len)
{
    inflight *e = coll_slab_alloc(&s->slab, offsetof(inflight, data) + len);
    if (!e)
        return NULL;
    memset(e, 0, offsetof(inflight, id) + 1);
    e->len = (uint32_t)len;
    memcpy(e->data, data, len);
    return e;
}

/* Sends spooled hits while the window has room; finishes a drain when all
 * is acknowledged. Never fails (problems are logged and counted). */
void coll_sink_pump(coll_sink *s)
{
    static _Thread_local unsigned char buf[COLL_SPOOL_REC_MAX];
    int budget = PUMP_BUDGET; /* bounded, so the loop serves requests between batches */
    /* one node: replays once direct hits are in; a cluster: while every
     * node is up, beside the direct hits (of partitions with nothing
     * spooled: coll_sink_part_direct) */
    while (s->state == S_UP && !s->draining &&
           (s->partial ? s->nsynced == s->nnodes : s->ndirect == 0) &&
           s->ninflight < REPLAY_WINDOW && budget-- > 0) {
        size_t len;
        coll_spool_pos pos;
        proto_hit hit;
        if (coll_spool_read(s->spool, buf, sizeof buf, &len, &pos, NULL) != 1)
            break;
        int bad = proto_hit_unpack(&hit, buf, len) < 0;
        int known = !bad && proto_htab_find(&s->found, proto_hash64(hit.hid, strlen(hit.hid)), NULL, NULL) >= 0;
        if ((bad || known) && s->ninflight > s->ndirect) {
            /* acknowledged only once every record before it is: acks stay
             * in spool order, so a rewind never skips or repeats one */
            coll_spool_unread(s->spool, &pos);
            break;
        }
        if (bad) {
            sys_error("spool: record does not decode, skipped", "offset=%" PRId64, pos.off);
            coll_inc(s->m->dropped[COLL_DROP_CORRUPT]);
            coll_spool_ack(s->spool, &pos);
            s->spooled_unknown = 1;     /* its partition is not known */
            continue;
        }
        unsigned part = proto_partition(hit.campaign, (unsigned)s->conf->partitions);
        if (known) {
            coll_inc(s->m->reconciled);
            coll_spool_ack(s->spool, &pos);
            if (s->partial)
                s->spooled[part]--;
            continue;
        }
        inflight *e = entry_new(s, buf, len);
        if (e) {
            e->from_spool = 1;
            e->pos = pos;
        }
        if (!e || send_hit(s, e, &hit, part) < 0) {
            coll_slab_free(&s->slab, e);
            coll_spool_unread(s->spool, &pos); /* read again on the next pump */
            break;
        }
        coll_inc(s->m->replayed);
    }
    if (coll_spool_empty(s->spool) && s->found.cap) {
        proto_htab_free(&s->found);
        s->ninsts = 0;
    }
    if (s->spooled_unknown && coll_spool_empty(s->spool)) {
        /* nothing spooled: every count is 0 again */
        memset(s->spooled, 0, (size_t)s->conf->partitions * sizeof *s->spooled);
        s->spooled_unknown = 0;
    }
    coll_sink_gauges(s);
    if (s->draining && s->drained && (s->ninflight == 0 || s->state != S_UP)) {
        void (*done)(void *) = s->drained;
        s->drained = NULL;
        int64_t lost = coll_spool_finish(s->spool);
        if (lost > 0) {
            coll_spool_stats st;
            coll_spool_stats_get(s->spool, &st);
            coll_add(s->m->dropped[st.disk == COLL_SPOOL_DISK_FULL ? COLL_DROP_DISK_FULL
                                                                    : COLL_DROP_DISK_ERROR],
                     (uint64_t)lost);
            coll_add(s->m->lost_at_exit, (uint64_t)lost);
        }
        coll_sink_gauges(s);
        done(s->drained_arg);
    }
}

/* ---------------------------------------------------------------- tick */

/* Gives freed memory back to the system once a burst is over: glibc keeps
 * what a thread's arena freed, so a collector that queued hits under load
 * would hold that peak while idle. At most once every TRIM_MS, when the
 * queue is empty after it grew past TRIM_PEAK or was busy for TRIM_BUSY
 * ticks (the connections of a burst are freed after its queue empties);
 * never fails. */
static void trim(coll_sink *s, int64_t t)
{
    if (s->ninflight > s->trim_peak)
        s->trim_peak = s->ninflight;
    s->trim_busy += s->ninflight > 0;
    if (s->ninflight || (s->trim_peak < TRIM_PEAK && s->trim_busy < TRIM_BUSY) || t - s->last_trim < TRIM_MS)
        return;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    s->trim_peak = s->trim_busy = 0;
    s->last_trim = t;
}

/* Runs every TICK_MS: detects a hung Redis, reconnects, flushes the spool
 * each second, replays, and enforces the drain deadline. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    coll_sink *s = arg;
    int64_t t = sys_now_ms();
    (void)fd;
    (void)what;
    int64_t limit = s->conf->redis_timeout_ms;
    int wait_hung = 0;
    for (int i = 0; i < s->nnodes; i++) {
        wait_hung |= s->node[i].wait_sent_ms && t - s->node[i].wait_sent_ms > limit;
        if (s->node[i].rewait || (s->node[i].unwaited && !s->node[i].wait_sent_ms))
            wait_soon(s);       /* replicas fell short: ask again */
    }
    /* a head acknowledged and awaiting its replicas is no hang: its WAIT is
     * watched; on a cluster whose sink is up, each node is (sink_node.c) */
    if (s->partial && s->state == S_UP) {
        coll_sink_nodes_tick(s, t);
    } else if ((s->head && !s->head->done && t - s->head->sent_ms > limit) || wait_hung ||
        ((s->state == S_CONNECTING || s->state == S_SYNC) && t - s->state_since > limit)) {
        if (!s->down_logged)    /* said once an outage, not once a retry */
            sys_warn("redis: no reply in time, dropping the connection", "thread=%d timeout_ms=%d",
                     s->index, s->conf->redis_timeout_ms);
        coll_sink_fail(s, "timeout", 1, NULL);
    }
    if (s->state == S_DOWN && !s->draining && t >= s->next_connect)
        coll_sink_connect(s);
    if (t - s->last_flush >= 1000 || s->draining || s->flush_failed) {
        /* once a second: written, and synced unless spool_fsync = never */
        s->flush_failed =
            coll_spool_flush(s->spool, s->conf->spool_fsync != PROTO_FSYNC_NEVER, t) < 0;
        s->last_flush = t;
    }
    if (s->draining && s->drained && t >= s->drain_deadline && s->state == S_UP && s->ninflight)
        coll_sink_fail(s, "drain deadline", 0, NULL);
    coll_sink_pump(s);
    trim(s, t);
}

/* ---------------------------------------------------------------- public */

/* Creates a sink and starts connecting. Returns NULL (logged) on failure. */
coll_sink *coll_sink_new(struct event_base *base, const proto_conf *conf, int index,
                         coll_metrics *m)
{
    coll_sink *s = calloc(1, sizeof *s);
    unsigned char rnd[4] = {0};
    if (!s)
        return NULL;
    s->base = base;
    s->conf = conf;
    s->m = m;
    s->index = index;
    s->state = S_DOWN;
    proto_conf_redis_addr(conf->redis, &s->addr);
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, rnd, sizeof rnd) != (ssize_t)sizeof rnd) {
        uint32_t x = (uint32_t)sys_now_ms() ^ (uint32_t)getpid() << 16;
        memcpy(rnd, &x, 4);
    }
    if (fd >= 0)
        close(fd);
    snprintf(s->inst, sizeof s->inst, "%02x%02x%02x%02x.%d", rnd[0], rnd[1], rnd[2], rnd[3], index);
    s->inst_len = strlen(s->inst);
    s->acked = calloc((size_t)conf->partitions, sizeof *s->acked);
    s->part_node = calloc((size_t)conf->partitions, sizeof *s->part_node);
    s->scan_from = calloc((size_t)conf->partitions, sizeof *s->scan_from);
    s->spooled = calloc((size_t)conf->partitions, sizeof *s->spooled);
    s->partial = s->addr.cluster;
    s->spool = coll_spool_open(conf->spool_dir, index, conf->threads, conf->spool_max_bytes,
                               conf->queue_max);
    s->tick = event_new(base, -1, EV_PERSIST, on_tick, s);
    s->pump_ev = event_new(base, -1, 0, on_pump, s);
    s->wait_ev = event_new(base, -1, 0, on_wait_ev, s);
    s->kick = coll_sink_pump;
    if (!s->acked || !s->part_node || !s->scan_from || !s->spooled || !s->spool || !s->tick ||
        !s->pump_ev || !s->wait_ev)
        goto fail;
    s->spooled_unknown = !coll_spool_empty(s->spool);  /* an earlier run's files */
    coll_spool_each_header(s->spool, coll_sink_plan_from_header, s);
    struct timeval tv = {0, TICK_MS * 1000};
    event_add(s->tick, &tv);
    s->last_flush = sys_now_ms();
    coll_sink_gauges(s);
    coll_sink_connect(s);
    return s;
fail:
    coll_sink_free(s);
    return NULL;
}

/* Frees the sink; NULL is a no-op. */
void coll_sink_free(coll_sink *s)
{
    if (!s)
        return;
    if (s->tick)
        event_free(s->tick);
    if (s->pump_ev)
        event_free(s->pump_ev);
    if (s->wait_ev)
        event_free(s->wait_ev);
    for (int i = 0; i < s->nnodes; i++) {
        redisAsyncContext *ac = s->node[i].ac;
        s->node[i].ac = NULL;
        if (ac) {
            ac->data = NULL;
            redisAsyncFree(ac);
        }
    }
    if (s->map_ac) {
        s->map_ac->data = NULL;
        redisAsyncFree(s->map_ac);
    }
    coll_sink_inflight_clear(s);
    coll_slab_clear(&s->slab);
    coll_spool_free(s->spool);
    proto_htab_free(&s->found);
    free(s->acked);
    free(s->part_node);
    free(s->scan_from);
    free(s->spooled);
    proto_resp_free(&s->xargs);
    proto_resp_free(&s->xcmd);
    proto_resp_free(&s->rcmd);
    free(s);
}

/* Sends or spools one accepted hit. Returns 0, or -1 if dropped (counted). */
int coll_sink_push(coll_sink *s, proto_hit *hit)
{
    unsigned char buf[PROTO_HIT_PACKED_MAX];
    char *p = hit->hid;
    _Static_assert(sizeof s->inst - 1 + 1 + 20 <= PROTO_HID_MAX, "a hid always fits");
    memcpy(p, s->inst, s->inst_len);
    p += s->inst_len;
    *p++ = '-';
    *proto_resp_put_ll(p, (long long)++s->seq) = 0;
    size_t len = proto_hit_pack(hit, buf, sizeof buf);
    if (len == 0) {
        coll_sink_note_drop(s, COLL_DROP_UNPACKABLE);
        return -1;
    }
    /* a cluster: per partition (its node up, nothing of it spooled) */
    unsigned part = proto_partition(hit->campaign, (unsigned)s->conf->partitions);
    if (s->state == S_UP && !s->draining && s->ninflight < s->conf->queue_max &&
        (s->partial ? coll_sink_part_direct(s, part) : coll_spool_empty(s->spool))) {
        inflight *e = entry_new(s, buf, len);
        if (e && send_hit(s, e, hit, part) == 0) {
            s->ndirect++;
            atomic_store_explicit(&s->g_queued, s->ninflight, memory_order_relaxed);
            return 0;
        }
        coll_slab_free(&s->slab, e);
    }
    char hdr[COLL_SPOOL_HDR_MAX];
    if (!coll_spool_writing(s->spool))
        coll_sink_make_header(s, hdr, sizeof hdr);
    else
        hdr[0] = 0;
    int64_t now = sys_now_ms();
    int rc = coll_spool_append(s->spool, buf, len, hdr, now);
    /* always: the hit is on disk before the handler answers (a failure
     * leaves it held in memory, as any record the disk refuses) */
    if (rc == COLL_SPOOL_OK && s->conf->spool_fsync == PROTO_FSYNC_ALWAYS)
        s->flush_failed = coll_spool_flush(s->spool, 1, now) < 0;
    if (rc != COLL_SPOOL_OK) {
        coll_drop why = COLL_DROP_OUT_OF_MEMORY;
        if (rc == COLL_SPOOL_FULL) {
            why = COLL_DROP_SPOOL_FULL;
        } else if (rc == COLL_SPOOL_NOROOM) {
            coll_spool_stats st;
            coll_spool_stats_get(s->spool, &st);
            why = st.disk == COLL_SPOOL_DISK_FULL ? COLL_DROP_DISK_FULL : COLL_DROP_DISK_ERROR;
        }
        coll_sink_note_drop(s, why);
        coll_sink_gauges(s);
        return -1;
    }
    if (s->partial)
        s->spooled[part]++;
    coll_sink_gauges(s);
    return 0;
}

/* Returns 1 if n more hits would be taken now without a drop, else 0. */
int coll_sink_room(const coll_sink *s, int n)
{
    if (s->state == S_UP && !s->draining && coll_spool_empty(s->spool) &&
        s->ninflight + n <= s->conf->queue_max)
        return 1;
    return coll_spool_room(s->spool, n, PROTO_HIT_PACKED_MAX);
}

/* Counts a reject reply. */
static void on_reject(redisAsyncContext *ac, void *r, void *priv)
{
    coll_sink *s = coll_sink_of(ac);
    redisReply *reply = r;
    (void)priv;
    if (s && reply && reply->type == REDIS_REPLY_STRING)
        coll_inc(s->m->rejects_stored);
}

/* Writes a rejected hit to the rejects stream when Redis is up; never fails. */
void coll_sink_reject(coll_sink *s, const proto_hit *hit, proto_reason r, const char *raw,
                      size_t len)
{
    char key[PROTO_KEY_MAX];
    if (s->state != S_UP || s->draining || s->node[s->rej_node].state != S_UP) {
        coll_inc(s->m->rejects_unrecorded);
        return;
    }
    int kl = proto_key_rejects(key, sizeof key, s->conf->prefix);
    const char *reason = proto_reason_name(r);
    proto_kv pre = {"reason", reason, strlen(reason)};
    proto_kv post = {"raw", raw, len > 1024 ? 1024 : len};
    proto_resp_reset(&s->rcmd);
    if (kl < 0 || proto_hit_xadd(&s->rcmd, &s->xargs, key, (size_t)kl, hit, REJECTS_MAXLEN, &pre,
                                 1, &post, raw && len ? 1 : 0) < 0)
        return;
    redisAsyncFormattedCommand(s->node[s->rej_node].ac, on_reject, NULL, s->rcmd.data, s->rcmd.len);
}

/* Begins the drain; done(arg) runs from the loop when it is over. */
void coll_sink_drain(coll_sink *s, int timeout_ms, void (*done)(void *arg), void *arg)
{
    s->draining = 1;
    s->drained = done;
    s->drained_arg = arg;
    s->drain_deadline = sys_now_ms() + timeout_ms;
    coll_sink_pump(s);
}

const coll_sink_api coll_sink_real = {coll_sink_push, coll_sink_room, coll_sink_reject};

/* Thread-safe: returns 1 if Redis is up for this sink. */
int coll_sink_up(const coll_sink *s)
{
    return atomic_load_explicit(&s->g_up, memory_order_relaxed);
}

/* Thread-safe: returns the masters down while the others take hits. */
int coll_sink_nodes_down(const coll_sink *s)
{
    return atomic_load_explicit(&s->g_nodes_down, memory_order_relaxed);
}

/* Thread-safe: returns the hits awaiting a reply. */
int64_t coll_sink_queued(const coll_sink *s)
{
    return atomic_load_explicit(&s->g_queued, memory_order_relaxed);
}

/* Thread-safe: fills out with the spool's gauges. */
void coll_sink_spool(const coll_sink *s, coll_sink_spool_info *out)
{
    out->records = atomic_load_explicit(&s->g_spool_records, memory_order_relaxed);
    out->held = atomic_load_explicit(&s->g_spool_held, memory_order_relaxed);
    out->disk_bytes = atomic_load_explicit(&s->g_spool_bytes, memory_order_relaxed);
    out->mem_bytes = atomic_load_explicit(&s->g_spool_mem_bytes, memory_order_relaxed);
    out->written = atomic_load_explicit(&s->g_spool_written, memory_order_relaxed);
    out->damaged = atomic_load_explicit(&s->g_spool_damaged, memory_order_relaxed);
    int d = atomic_load_explicit(&s->g_degraded, memory_order_relaxed);
    out->degraded = coll_sink_degraded_name(d);
}
