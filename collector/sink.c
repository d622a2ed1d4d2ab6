/* sink.c: one thread's hits into Redis streams, never lost, never twice. */
#include "sink.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "keys.h"
#include "log.h"
#include "spool.h"

#define TICK_MS 100
#define REPLAY_WINDOW 4096      /* spooled hits in flight at once */
#define SCAN_PAGE 1000
#define MAX_INSTS 32
#define ID_MAX 48

enum { S_DOWN, S_CONNECTING, S_SYNC, S_UP };

/* A hit sent to Redis and not yet acknowledged, in send order. */
typedef struct inflight {
    struct inflight *next;
    int64_t sent_ms;
    int from_spool;
    coll_spool_pos pos;
    unsigned partition;
    uint32_t len;
    unsigned char data[];   /* proto_hit_pack() bytes */
} inflight;

/* A set of 64-bit hashes of hit ids found in Redis (open addressing). */
typedef struct {
    uint64_t *slot;
    size_t cap, n;
} hidset;

struct coll_sink {
    struct event_base *base;
    const proto_conf *conf;
    coll_metrics *m;
    int index;
    char inst[24];              /* hid prefix of this thread: 8 hex . index */
    uint64_t seq;

    /* connection */
    redisAsyncContext *ac;
    uintptr_t gen;              /* bumps on each connection; stale replies are ignored */
    int state;
    int64_t state_since;        /* ms of the last state change or control command */
    int backoff_ms;
    int64_t next_connect;
    long long client_id;        /* CLIENT ID of the live connection */
    char laddr[64];             /* its local address as Redis sees it */
    long long kill_id;          /* a hung connection to kill before reconciling */
    char kill_addr[64];
    int down_logged;

    /* sync: partition being prepared, scan cursor */
    unsigned sync_part;
    char (*acked)[ID_MAX];      /* per partition: last acknowledged id, "" if unknown */
    char (*scan_from)[ID_MAX];  /* per partition: where the reconcile scan starts */
    int need_scan;
    char insts[MAX_INSTS][24];  /* hid prefixes to reconcile; n > MAX_INSTS: any */
    int ninsts;
    hidset found;
    uint64_t scan_found;

    /* queue */
    inflight *head, *tail;
    int64_t ninflight, ndirect;
    coll_spool *spool;
    int64_t last_flush;
    int64_t drop_logged_ms;
    uint64_t drops_since_log;

    /* drain */
    int draining;
    int64_t drain_deadline;
    void (*drained)(void *);
    void *drained_arg;

    struct event *tick;

    /* gauges for other threads */
    _Atomic int g_up;
    _Atomic int64_t g_queued, g_spool_records, g_spool_bytes;

    proto_redis_addr addr;
};

static void sink_connect(coll_sink *s);
static void sink_fail(coll_sink *s, const char *why, int hung, int free_ctx);
static void sink_pump(coll_sink *s);
static void sync_step(coll_sink *s);

/* Returns the wall-clock time in ms. */
static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Returns the 64-bit FNV-1a hash of s (len bytes), never 0. */
static uint64_t hash64(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ? h : 1;
}

/* ---------------------------------------------------------------- hidset */

/* Inserts h. Returns 0, or -1 on allocation failure. */
static int hidset_add(hidset *set, uint64_t h)
{
    if ((set->n + 1) * 2 > set->cap) {
        size_t ncap = set->cap ? set->cap * 2 : 1024;
        uint64_t *ns = calloc(ncap, sizeof *ns);
        if (!ns)
            return -1;
        for (size_t i = 0; i < set->cap; i++) {
            if (!set->slot[i])
                continue;
            size_t j = set->slot[i] & (ncap - 1);
            while (ns[j])
                j = (j + 1) & (ncap - 1);
            ns[j] = set->slot[i];
        }
        free(set->slot);
        set->slot = ns;
        set->cap = ncap;
    }
    size_t j = h & (set->cap - 1);
    while (set->slot[j]) {
        if (set->slot[j] == h)
            return 0;
        j = (j + 1) & (set->cap - 1);
    }
    set->slot[j] = h;
    set->n++;
    return 0;
}

/* Returns 1 if h is in the set, else 0. */
static int hidset_has(const hidset *set, uint64_t h)
{
    if (!set->cap)
        return 0;
    size_t j = h & (set->cap - 1);
    while (set->slot[j]) {
        if (set->slot[j] == h)
            return 1;
        j = (j + 1) & (set->cap - 1);
    }
    return 0;
}

/* Empties the set and frees its memory; never fails. */
static void hidset_clear(hidset *set)
{
    free(set->slot);
    memset(set, 0, sizeof *set);
}

/* ---------------------------------------------------------------- ids */

/* Compares two stream ids "ms-seq". Returns <0, 0 or >0. */
static int id_cmp(const char *a, const char *b)
{
    unsigned long long am = 0, as = 0, bm = 0, bs = 0;
    sscanf(a, "%llu-%llu", &am, &as);
    sscanf(b, "%llu-%llu", &bm, &bs);
    if (am != bm)
        return am < bm ? -1 : 1;
    return as < bs ? -1 : as > bs;
}

/* Writes the spool header naming this writer and where a reconcile scan
 * must start: the acknowledged ids, or ten minutes before now where none is
 * known yet. Never fails (truncates). */
static void make_header(coll_sink *s, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "inst=%s parts=%d ids=", s->inst, s->conf->partitions);
    int64_t floor_ms = now_ms() - 600000;
    for (int p = 0; p < s->conf->partitions && n < cap; p++) {
        if (s->acked[p][0])
            n += (size_t)snprintf(out + n, cap - n, "%s%s", p ? "," : "", s->acked[p]);
        else
            n += (size_t)snprintf(out + n, cap - n, "%s%" PRId64 "-0", p ? "," : "",
                                  floor_ms > 0 ? floor_ms : 0);
    }
}

/* Adds a hid prefix to reconcile; past MAX_INSTS, any prefix matches. */
static void add_inst(coll_sink *s, const char *inst, size_t len)
{
    if (len >= sizeof s->insts[0])
        len = sizeof s->insts[0] - 1;
    for (int i = 0; i < s->ninsts && i < MAX_INSTS; i++)
        if (strlen(s->insts[i]) == len && memcmp(s->insts[i], inst, len) == 0)
            return;
    if (s->ninsts < MAX_INSTS) {
        memcpy(s->insts[s->ninsts], inst, len);
        s->insts[s->ninsts][len] = 0;
    }
    s->ninsts++;
}

/* Lowers scan_from to the earlier of it and id for partition p. */
static void lower_scan(coll_sink *s, int p, const char *id)
{
    if (!s->scan_from[p][0] || id_cmp(id, s->scan_from[p]) < 0)
        snprintf(s->scan_from[p], ID_MAX, "%s", id);
}

/* Plans a reconcile from a spool file header (callback of each_header). */
static void plan_from_header(void *arg, const char *hdr)
{
    coll_sink *s = arg;
    const char *inst = strstr(hdr, "inst="), *parts = strstr(hdr, "parts="),
               *ids = strstr(hdr, "ids=");
    s->need_scan = 1;
    if (inst) {
        inst += 5;
        add_inst(s, inst, strcspn(inst, " "));
    } else {
        s->ninsts = MAX_INSTS + 1;
    }
    if (!parts || !ids || atoi(parts + 6) != s->conf->partitions) {
        for (int p = 0; p < s->conf->partitions; p++)
            snprintf(s->scan_from[p], ID_MAX, "0-0");
        return;
    }
    ids += 4;
    for (int p = 0; p < s->conf->partitions && *ids; p++) {
        char id[ID_MAX];
        size_t n = strcspn(ids, ", ");
        if (n >= sizeof id)
            n = sizeof id - 1;
        memcpy(id, ids, n);
        id[n] = 0;
        lower_scan(s, p, id);
        ids += n;
        if (*ids == ',')
            ids++;
    }
}

/* ---------------------------------------------------------------- queue */

/* Updates the gauges other threads read; never fails. */
static void gauges(coll_sink *s)
{
    atomic_store_explicit(&s->g_up, s->state == S_UP, memory_order_relaxed);
    atomic_store_explicit(&s->g_queued, s->ninflight, memory_order_relaxed);
    atomic_store_explicit(&s->g_spool_records, coll_spool_records(s->spool), memory_order_relaxed);
    atomic_store_explicit(&s->g_spool_bytes, coll_spool_bytes(s->spool), memory_order_relaxed);
}

/* Frees every in-flight entry; never fails. */
static void inflight_clear(coll_sink *s)
{
    while (s->head) {
        inflight *e = s->head;
        s->head = e->next;
        free(e);
    }
    s->tail = NULL;
    s->ninflight = s->ndirect = 0;
}

/* Called with each XADD reply of a hit, in send order. */
static void on_xadd(redisAsyncContext *ac, void *r, void *priv)
{
    coll_sink *s = ac->data;
    redisReply *reply = r;
    if (!s || (uintptr_t)priv != s->gen || !reply || !s->head)
        return;
    if (reply->type != REDIS_REPLY_STRING) {
        proto_error("redis: XADD failed", "err=\"%s\"",
                    reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        sink_fail(s, "XADD error", 0, 1);
        return;
    }
    inflight *e = s->head;
    s->head = e->next;
    if (!s->head)
        s->tail = NULL;
    s->ninflight--;
    if (e->from_spool)
        coll_spool_ack(s->spool, &e->pos);
    else
        s->ndirect--;
    if (reply->len < ID_MAX)
        memcpy(s->acked[e->partition], reply->str, reply->len + 1);
    coll_inc(s->m->stored);
    free(e);
    if (!s->head || s->ninflight < REPLAY_WINDOW / 2)
        sink_pump(s);
}

/* Sends one hit (packed in e) with XADD. Returns 0, or -1 if the command
 * could not be queued (the entry is freed by the caller). */
static int send_hit(coll_sink *s, inflight *e, const proto_hit *hit)
{
    const char *argv[3 + 2 * PROTO_HIT_FIELDS];
    size_t lens[3 + 2 * PROTO_HIT_FIELDS];
    const char *names[PROTO_HIT_FIELDS], *values[PROTO_HIT_FIELDS];
    size_t vlens[PROTO_HIT_FIELDS];
    char scratch[128], key[PROTO_KEY_MAX];
    int n = proto_hit_fields(hit, names, values, vlens, scratch, sizeof scratch);
    e->partition = proto_partition(hit->campaign, (unsigned)s->conf->partitions);
    int kl = proto_key_hits(key, sizeof key, s->conf->prefix, e->partition);
    if (kl < 0)
        return -1;
    argv[0] = "XADD";
    lens[0] = 4;
    argv[1] = key;
    lens[1] = (size_t)kl;
    argv[2] = "*";
    lens[2] = 1;
    for (int i = 0; i < n; i++) {
        argv[3 + 2 * i] = names[i];
        lens[3 + 2 * i] = strlen(names[i]);
        argv[4 + 2 * i] = values[i];
        lens[4 + 2 * i] = vlens[i];
    }
    if (redisAsyncCommandArgv(s->ac, on_xadd, (void *)s->gen, 3 + 2 * n, argv, lens) != REDIS_OK)
        return -1;
    e->sent_ms = now_ms();
    e->next = NULL;
    if (s->tail)
        s->tail->next = e;
    else
        s->head = e;
    s->tail = e;
    s->ninflight++;
    return 0;
}

/* Builds an in-flight entry for packed bytes. Returns NULL on allocation failure. */
static inflight *entry_new(const unsigned char *data, size_t len)
{
    inflight *e = malloc(sizeof *e + len);
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    e->len = (uint32_t)len;
    memcpy(e->data, data, len);
    return e;
}

/* Counts and logs (at most once a second) a dropped hit; never fails. */
static void note_drop(coll_sink *s, const char *why)
{
    int64_t t = now_ms();
    coll_inc(s->m->dropped);
    s->drops_since_log++;
    if (t - s->drop_logged_ms >= 1000) {
        proto_error("hit dropped: cannot spool", "reason=%s dropped=%" PRIu64 " spool_bytes=%" PRId64
                    " spool_max_bytes=%" PRId64, why, s->drops_since_log,
                    coll_spool_bytes(s->spool), s->conf->spool_max_bytes);
        s->drop_logged_ms = t;
        s->drops_since_log = 0;
    }
}

/* Sends spooled hits while the window has room; finishes a drain when all
 * is acknowledged. Never fails (problems are logged and counted). */
static void sink_pump(coll_sink *s)
{
    static _Thread_local unsigned char buf[COLL_SPOOL_REC_MAX];
    while (s->state == S_UP && !s->draining && s->ndirect == 0 && s->ninflight < REPLAY_WINDOW) {
        size_t len;
        coll_spool_pos pos;
        proto_hit hit;
        if (coll_spool_read(s->spool, buf, sizeof buf, &len, &pos, NULL) != 1)
            break;
        if (proto_hit_unpack(&hit, buf, len) < 0) {
            proto_error("spool: record does not decode, skipped", "offset=%" PRId64, pos.off);
            coll_inc(s->m->dropped);
            coll_spool_ack(s->spool, &pos);
            continue;
        }
        if (hidset_has(&s->found, hash64(hit.hid, strlen(hit.hid)))) {
            coll_inc(s->m->reconciled);
            coll_spool_ack(s->spool, &pos);
            continue;
        }
        inflight *e = entry_new(buf, len);
        if (!e)
            break;
        e->from_spool = 1;
        e->pos = pos;
        if (send_hit(s, e, &hit) < 0) {
            free(e);
            coll_spool_rewind(s->spool, &pos);
            break;
        }
        coll_inc(s->m->replayed);
    }
    if (coll_spool_empty(s->spool) && s->found.cap) {
        hidset_clear(&s->found);
        s->ninsts = 0;
    }
    gauges(s);
    if (s->draining && s->drained && (s->ninflight == 0 || s->state != S_UP)) {
        void (*done)(void *) = s->drained;
        s->drained = NULL;
        if (s->ninflight)
            sink_fail(s, "drain", 0, 1);
        coll_spool_flush(s->spool, 1);
        gauges(s);
        done(s->drained_arg);
    }
}

/* Persists the unacknowledged in-flight hits so they are resent (after a
 * reconcile) before anything newer; never fails (errors are logged and the
 * hits counted as dropped). */
static void persist_inflight(coll_sink *s)
{
    if (!s->head)
        return;
    for (int p = 0; p < s->conf->partitions; p++) {
        if (s->acked[p][0])
            lower_scan(s, p, s->acked[p]);
        else
            snprintf(s->scan_from[p], ID_MAX, "%" PRId64 "-0", now_ms() - 600000);
    }
    add_inst(s, s->inst, strlen(s->inst));
    s->need_scan = 1;
    if (s->head->from_spool) {
        coll_spool_rewind(s->spool, &s->head->pos);
        /* unpack the hids of other writers' records we were replaying */
        for (inflight *e = s->head; e; e = e->next) {
            proto_hit hit;
            if (proto_hit_unpack(&hit, e->data, e->len) == 0) {
                const char *dash = strrchr(hit.hid, '-');
                if (dash)
                    add_inst(s, hit.hid, (size_t)(dash - hit.hid));
            }
        }
    } else {
        size_t n = (size_t)s->ninflight, i = 0;
        const unsigned char **recs = malloc(n * sizeof *recs);
        size_t *lens = malloc(n * sizeof *lens);
        char hdr[COLL_SPOOL_HDR_MAX];
        if (recs && lens) {
            for (inflight *e = s->head; e; e = e->next, i++) {
                recs[i] = e->data;
                lens[i] = e->len;
            }
            make_header(s, hdr, sizeof hdr);
            if (coll_spool_prepend(s->spool, hdr, recs, lens, n) == 0) {
                coll_add(s->m->spooled, n);
            } else {
                for (i = 0; i < n; i++)
                    note_drop(s, "spool_unwritable");
            }
        } else {
            for (i = 0; i < n; i++)
                note_drop(s, "out_of_memory");
        }
        free(recs);
        free(lens);
    }
    inflight_clear(s);
}

/* ---------------------------------------------------------------- connection */

/* Takes the connection down: persists in-flight hits, frees the context
 * (unless hiredis is about to), and schedules a reconnect; never fails. */
static void sink_fail(coll_sink *s, const char *why, int hung, int free_ctx)
{
    redisAsyncContext *ac = s->ac;
    if (!ac && s->state == S_DOWN)
        return;
    coll_inc(s->m->redis_failures);
    if (!s->down_logged)
        proto_warn("redis: down, spooling hits", "thread=%d why=\"%s\" in_flight=%" PRId64,
                   s->index, why, s->ninflight);
    s->down_logged = 1;
    if (hung && s->client_id > 0) {
        s->kill_id = s->client_id;
        snprintf(s->kill_addr, sizeof s->kill_addr, "%s", s->laddr);
    }
    s->client_id = 0;
    persist_inflight(s);
    s->ac = NULL;
    s->gen++;
    s->state = S_DOWN;
    s->next_connect = now_ms() + s->backoff_ms;
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : 100;
    if (s->backoff_ms > 2000)
        s->backoff_ms = 2000;
    if (ac) {
        ac->data = NULL;
        if (free_ctx)
            redisAsyncFree(ac);
    }
    gauges(s);
}

/* Handles the end of a connection that hiredis reports. */
static void on_disconnect(const redisAsyncContext *ac, int status)
{
    coll_sink *s = ac->data;
    if (s && s->ac == ac)
        sink_fail(s, status == REDIS_OK ? "closed" : ac->errstr, 0, 0);
}

/* Handles the outcome of a connect attempt. */
static void on_connect(const redisAsyncContext *ac, int status)
{
    coll_sink *s = ac->data;
    if (!s || s->ac != ac)
        return;
    if (status != REDIS_OK) {
        sink_fail(s, ac->errstr, 0, 0);
        return;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    s->laddr[0] = 0;
    if (getsockname(ac->c.fd, (struct sockaddr *)&ss, &sl) == 0) {
        char ip[INET6_ADDRSTRLEN];
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
            snprintf(s->laddr, sizeof s->laddr, "%s:%d", ip, ntohs(a->sin_port));
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
            snprintf(s->laddr, sizeof s->laddr, "%s:%d", ip, ntohs(a->sin6_port));
        }
    }
    s->state = S_SYNC;
    s->state_since = now_ms();
    s->sync_part = 0;
    sync_step(s);
}

/* Starts a connection attempt; failures schedule another. */
static void sink_connect(coll_sink *s)
{
    redisAsyncContext *ac = s->addr.path[0] ? redisAsyncConnectUnix(s->addr.path)
                                       : redisAsyncConnect(s->addr.host, s->addr.port);
    if (!ac || ac->err) {
        if (!s->down_logged)
            proto_warn("redis: cannot connect", "thread=%d err=\"%s\"", s->index,
                       ac ? ac->errstr : "out of memory");
        s->down_logged = 1;
        if (ac)
            redisAsyncFree(ac);
        s->next_connect = now_ms() + (s->backoff_ms ? s->backoff_ms : 100);
        return;
    }
    ac->data = s;
    s->ac = ac;
    s->gen++;
    redisLibeventAttach(ac, s->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    s->state = S_CONNECTING;
    s->state_since = now_ms();
}

/* ---------------------------------------------------------------- sync */

/* Fails the connection if a control reply is an error; returns 1 if so. */
static int sync_error(coll_sink *s, redisReply *reply, const char *what)
{
    if (reply && reply->type != REDIS_REPLY_ERROR)
        return 0;
    proto_error("redis: command failed", "cmd=%s err=\"%s\"", what,
                reply ? reply->str : "no reply");
    sink_fail(s, what, 0, 1);
    return 1;
}

/* Checks AUTH/SELECT replies. */
static void on_setup(redisAsyncContext *ac, void *r, void *priv)
{
    coll_sink *s = ac->data;
    if (s && (uintptr_t)priv == s->gen && r)
        sync_error(s, r, "AUTH/SELECT");
}

/* Ignores the reply of CLIENT KILL (the connection may already be gone). */
static void on_ignore(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac;
    (void)r;
    (void)priv;
}

/* Stores CLIENT ID and goes on with the sync. */
static void on_client_id(redisAsyncContext *ac, void *r, void *priv)
{
    coll_sink *s = ac->data;
    redisReply *reply = r;
    if (!s || (uintptr_t)priv != s->gen || !reply || sync_error(s, reply, "CLIENT ID"))
        return;
    s->client_id = reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
    s->kill_id = 0;
    s->sync_part = 0;
    s->state_since = now_ms();
    sync_step(s);
}

/* Takes the newest id of a partition whose acknowledged id is unknown. */
static void on_tail(redisAsyncContext *ac, void *r, void *priv)
{
    coll_sink *s = ac->data;
    redisReply *reply = r;
    if (!s || (uintptr_t)priv != s->gen || !reply || sync_error(s, reply, "XREVRANGE"))
        return;
    unsigned p = s->sync_part;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
        reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements == 2 &&
        reply->element[0]->element[0]->type == REDIS_REPLY_STRING)
        snprintf(s->acked[p], ID_MAX, "%s", reply->element[0]->element[0]->str);
    else
        snprintf(s->acked[p], ID_MAX, "0-0");
    s->state_since = now_ms();
    sync_step(s);
}

/* Returns 1 if hid has a prefix being reconciled. */
static int inst_wanted(const coll_sink *s, const char *hid, size_t len)
{
    const char *dash = memchr(hid, '-', len);
    if (s->ninsts > MAX_INSTS)
        return 1;
    if (!dash)
        return 0;
    size_t n = (size_t)(dash - hid);
    for (int i = 0; i < s->ninsts; i++)
        if (strlen(s->insts[i]) == n && memcmp(s->insts[i], hid, n) == 0)
            return 1;
    return 0;
}

/* Collects hit ids from one page of the reconcile scan. */
static void on_scan(redisAsyncContext *ac, void *r, void *priv)
{
    coll_sink *s = ac->data;
    redisReply *reply = r;
    if (!s || (uintptr_t)priv != s->gen || !reply || sync_error(s, reply, "XRANGE"))
        return;
    unsigned p = s->sync_part;
    size_t n = reply->type == REDIS_REPLY_ARRAY ? reply->elements : 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *ent = reply->element[i];
        if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2)
            continue;
        snprintf(s->scan_from[p], ID_MAX, "%s", ent->element[0]->str);
        redisReply *f = ent->element[1];
        for (size_t j = 0; j + 1 < f->elements; j += 2) {
            if (f->element[j]->len == 3 && memcmp(f->element[j]->str, "hid", 3) == 0 &&
                inst_wanted(s, f->element[j + 1]->str, f->element[j + 1]->len)) {
                hidset_add(&s->found, hash64(f->element[j + 1]->str, f->element[j + 1]->len));
                s->scan_found++;
            }
        }
    }
    if (n < SCAN_PAGE) {
        s->scan_from[p][0] = 0;   /* partition done */
    } else {
        /* next page: exclusive of the last id seen */
        char tmp[ID_MAX];
        snprintf(tmp, sizeof tmp, "(%s", s->scan_from[p]);
        memcpy(s->scan_from[p], tmp, ID_MAX);
    }
    s->state_since = now_ms();
    sync_step(s);
}

/* Runs the next step of the sync: setup, CLIENT KILL of a hung predecessor
 * and CLIENT ID, per-partition tail ids, reconcile scans; then goes up.
 * Never fails (errors fail the connection). */
static void sync_step(coll_sink *s)
{
    char key[PROTO_KEY_MAX];
    void *g = (void *)s->gen;
    if (s->client_id == 0) {
        if (s->addr.pass[0]) {
            if (s->addr.user[0])
                redisAsyncCommand(s->ac, on_setup, g, "AUTH %s %s", s->addr.user, s->addr.pass);
            else
                redisAsyncCommand(s->ac, on_setup, g, "AUTH %s", s->addr.pass);
        }
        if (s->addr.db)
            redisAsyncCommand(s->ac, on_setup, g, "SELECT %d", s->addr.db);
        if (s->kill_id > 0) {
            if (s->kill_addr[0])
                redisAsyncCommand(s->ac, on_ignore, g, "CLIENT KILL ID %lld ADDR %s", s->kill_id,
                                  s->kill_addr);
            else
                redisAsyncCommand(s->ac, on_ignore, g, "CLIENT KILL ID %lld", s->kill_id);
        }
        redisAsyncCommand(s->ac, on_client_id, g, "CLIENT ID");
        return;
    }
    while (s->sync_part < (unsigned)s->conf->partitions) {
        unsigned p = s->sync_part;
        proto_key_hits(key, sizeof key, s->conf->prefix, p);
        if (!s->acked[p][0]) {
            /* tail first: the scan below rewrites scan_from, not acked */
            redisAsyncCommand(s->ac, on_tail, g, "XREVRANGE %s + - COUNT 1", key);
            return;
        }
        if (s->need_scan && s->scan_from[p][0]) {
            redisAsyncCommand(s->ac, on_scan, g, "XRANGE %s %s + COUNT %d", key, s->scan_from[p],
                              SCAN_PAGE);
            return;
        }
        s->sync_part++;
    }
    if (s->need_scan)
        proto_info("redis: reconciled", "thread=%d found_in_redis=%" PRIu64, s->index,
                   s->scan_found);
    s->need_scan = 0;
    s->scan_found = 0;
    s->state = S_UP;
    s->backoff_ms = 0;
    if (s->down_logged)
        proto_info("redis: up", "thread=%d spooled=%" PRId64, s->index,
                   coll_spool_records(s->spool));
    s->down_logged = 0;
    sink_pump(s);
}

/* ---------------------------------------------------------------- tick */

/* Runs every TICK_MS: detects a hung Redis, reconnects, flushes the spool
 * each second, replays, and enforces the drain deadline. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    coll_sink *s = arg;
    int64_t t = now_ms();
    (void)fd;
    (void)what;
    int64_t limit = s->conf->redis_timeout_ms;
    if ((s->head && t - s->head->sent_ms > limit) ||
        ((s->state == S_CONNECTING || s->state == S_SYNC) && t - s->state_since > limit)) {
        proto_warn("redis: no reply in time, dropping the connection", "thread=%d timeout_ms=%d",
                   s->index, s->conf->redis_timeout_ms);
        sink_fail(s, "timeout", 1, 1);
    }
    if (s->state == S_DOWN && !s->draining && t >= s->next_connect)
        sink_connect(s);
    if (t - s->last_flush >= 1000 || s->draining) {
        coll_spool_flush(s->spool, 0);
        s->last_flush = t;
    }
    if (s->draining && s->drained && t >= s->drain_deadline && s->state == S_UP && s->ninflight)
        sink_fail(s, "drain deadline", 0, 1);
    sink_pump(s);
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
        uint32_t x = (uint32_t)now_ms() ^ (uint32_t)getpid() << 16;
        memcpy(rnd, &x, 4);
    }
    if (fd >= 0)
        close(fd);
    snprintf(s->inst, sizeof s->inst, "%02x%02x%02x%02x.%d", rnd[0], rnd[1], rnd[2], rnd[3], index);
    s->acked = calloc((size_t)conf->partitions, sizeof *s->acked);
    s->scan_from = calloc((size_t)conf->partitions, sizeof *s->scan_from);
    s->spool = coll_spool_open(conf->spool_dir, index, conf->threads, conf->spool_max_bytes);
    s->tick = event_new(base, -1, EV_PERSIST, on_tick, s);
    if (!s->acked || !s->scan_from || !s->spool || !s->tick)
        goto fail;
    coll_spool_each_header(s->spool, plan_from_header, s);
    struct timeval tv = {0, TICK_MS * 1000};
    event_add(s->tick, &tv);
    s->last_flush = now_ms();
    gauges(s);
    sink_connect(s);
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
    if (s->ac) {
        redisAsyncContext *ac = s->ac;
        s->ac = NULL;
        ac->data = NULL;
        redisAsyncFree(ac);
    }
    inflight_clear(s);
    coll_spool_free(s->spool);
    hidset_clear(&s->found);
    free(s->acked);
    free(s->scan_from);
    free(s);
}

/* Sends or spools one accepted hit. Returns 0, or -1 if dropped (counted). */
int coll_sink_push(coll_sink *s, proto_hit *hit)
{
    unsigned char buf[PROTO_HIT_PACKED_MAX];
    snprintf(hit->hid, sizeof hit->hid, "%s-%" PRIu64, s->inst, ++s->seq);
    size_t len = proto_hit_pack(hit, buf, sizeof buf);
    if (len == 0) {
        note_drop(s, "unpackable");
        return -1;
    }
    if (s->state == S_UP && !s->draining && coll_spool_empty(s->spool) &&
        s->ninflight < s->conf->queue_max) {
        inflight *e = entry_new(buf, len);
        if (e && send_hit(s, e, hit) == 0) {
            s->ndirect++;
            atomic_store_explicit(&s->g_queued, s->ninflight, memory_order_relaxed);
            return 0;
        }
        free(e);
    }
    char hdr[COLL_SPOOL_HDR_MAX];
    if (!coll_spool_writing(s->spool))
        make_header(s, hdr, sizeof hdr);
    else
        hdr[0] = 0;
    int rc = coll_spool_append(s->spool, buf, len, hdr);
    if (rc < 0) {
        note_drop(s, rc == -1 ? "spool_full" : "spool_unwritable");
        return -1;
    }
    coll_inc(s->m->spooled);
    atomic_store_explicit(&s->g_spool_records, coll_spool_records(s->spool), memory_order_relaxed);
    atomic_store_explicit(&s->g_spool_bytes, coll_spool_bytes(s->spool), memory_order_relaxed);
    return 0;
}

/* Counts a reject reply. */
static void on_reject(redisAsyncContext *ac, void *r, void *priv)
{
    coll_sink *s = ac->data;
    redisReply *reply = r;
    (void)priv;
    if (s && reply && reply->type == REDIS_REPLY_STRING)
        coll_inc(s->m->rejects_stored);
}

/* Writes a rejected hit to the rejects stream when Redis is up; never fails. */
void coll_sink_reject(coll_sink *s, const proto_hit *hit, proto_reason r, const char *raw,
                      size_t len)
{
    const char *argv[8 + 2 * PROTO_HIT_FIELDS + 4];
    size_t lens[8 + 2 * PROTO_HIT_FIELDS + 4];
    const char *names[PROTO_HIT_FIELDS], *values[PROTO_HIT_FIELDS];
    size_t vlens[PROTO_HIT_FIELDS];
    char scratch[128], key[PROTO_KEY_MAX];
    int argc = 0;
    if (s->state != S_UP || s->draining) {
        coll_inc(s->m->rejects_unrecorded);
        return;
    }
    int kl = proto_key_rejects(key, sizeof key, s->conf->prefix);
    const char *reason = proto_reason_name(r);
#define ARG(p, l) (argv[argc] = (p), lens[argc++] = (l))
    ARG("XADD", 4);
    ARG(key, (size_t)kl);
    ARG("MAXLEN", 6);
    ARG("~", 1);
    ARG("100000", 6);
    ARG("*", 1);
    ARG("reason", 6);
    ARG(reason, strlen(reason));
    int n = proto_hit_fields(hit, names, values, vlens, scratch, sizeof scratch);
    for (int i = 0; i < n; i++) {
        ARG(names[i], strlen(names[i]));
        ARG(values[i], vlens[i]);
    }
    if (raw && len) {
        ARG("raw", 3);
        ARG(raw, len > 1024 ? 1024 : len);
    }
#undef ARG
    redisAsyncCommandArgv(s->ac, on_reject, NULL, argc, argv, lens);
}

/* Begins the drain; done(arg) runs from the loop when it is over. */
void coll_sink_drain(coll_sink *s, int timeout_ms, void (*done)(void *arg), void *arg)
{
    s->draining = 1;
    s->drained = done;
    s->drained_arg = arg;
    s->drain_deadline = now_ms() + timeout_ms;
    sink_pump(s);
}

/* Thread-safe: returns 1 if Redis is up for this sink. */
int coll_sink_up(const coll_sink *s)
{
    return atomic_load_explicit(&s->g_up, memory_order_relaxed);
}

/* Thread-safe: returns the hits awaiting a reply. */
int64_t coll_sink_queued(const coll_sink *s)
{
    return atomic_load_explicit(&s->g_queued, memory_order_relaxed);
}

/* Thread-safe: returns the records waiting in the spool. */
int64_t coll_sink_spool_records(const coll_sink *s)
{
    return atomic_load_explicit(&s->g_spool_records, memory_order_relaxed);
}

/* Thread-safe: returns the spool's bytes. */
int64_t coll_sink_spool_bytes(const coll_sink *s)
{
    return atomic_load_explicit(&s->g_spool_bytes, memory_order_relaxed);
}
