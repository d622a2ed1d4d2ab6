/* links.c: the collector's short-link table and the thread that keeps it
 * current from Redis (collector/links.h). */
#include "links.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "htab.h"
#include "keys.h"
#include "log.h"
#include "logfmt.h"
#include "redis.h"

#define QUEUE_MAX 64            /* unknown codes waiting for a fetch */
#define BATCH 500               /* HGETALLs pipelined at once in a full load */
#define SLICE_MS 100            /* longest wait before the stop flag is looked at */
#define ABSENT_MAX 256          /* codes found missing, not asked for again ... */
#define ABSENT_MS 10000         /* ... for this long (a stream of random codes costs Redis little) */

/* One link, packed: the strings follow the header. */
typedef struct {
    int64_t expires_ms;
    uint16_t ref, subject, channel, to;     /* offsets into s; the campaign is at 0 */
    uint8_t disabled;
    char code[PROTO_LINK_CODE_MAX + 1];
    char s[];
} item;

typedef struct {
    proto_htab idx;
    item **items;
    size_t n, cap, bytes;
} table;

struct coll_links {
    const proto_conf *conf;
    pthread_t th;
    atomic_int stop;
    pthread_rwlock_t lock;
    table *t;                               /* the current table, under lock */
    pthread_mutex_t qlock;
    char queue[QUEUE_MAX][PROTO_LINK_CODE_MAX + 1];
    int nq;
    char absent[ABSENT_MAX][PROTO_LINK_CODE_MAX + 1];     /* under qlock */
    int64_t absent_until[ABSENT_MAX];
    unsigned nabsent;
    int wake[2];                            /* a byte here wakes the thread */
    sys_redis *cmd, *sub;
    char key[PROTO_KEY_MAX];                /* ag:links: the index and the channel */
    int64_t next_full, next_connect, backoff_ms;
    int down, subscribed;
    atomic_uint_least64_t loads;
};

/* ---------------------------------------------------------------- the table */

/* Frees a table and its items; NULL is a no-op. */
static void table_free(table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->items[i]);
    free(t->items);
    proto_htab_free(&t->idx);
    free(t);
}

typedef struct {
    const table *t;
    const char *code;
    size_t len;
} find_arg;

/* Reports whether item idx has the code sought (proto_htab_eq). */
static int same_code(const void *arg, uint32_t idx)
{
    const find_arg *f = arg;
    const char *c = f->t->items[idx]->code;
    return strlen(c) == f->len && memcmp(c, f->code, f->len) == 0;
}

/* Returns the index of code in t, or -1. */
static long table_find(const table *t, const char *code, size_t len)
{
    find_arg f = {t, code, len};
    return proto_htab_find(&t->idx, proto_hash64(code, len), same_code, &f);
}

/* Packs a link into a new item. Returns it, or NULL out of memory. */
static item *item_new(const proto_link *l)
{
    size_t lc = strlen(l->campaign) + 1, lr = strlen(l->ref) + 1, ls = strlen(l->subject) + 1,
           lh = strlen(l->channel) + 1, lt = strlen(l->to) + 1;
    item *it = malloc(sizeof *it + lc + lr + ls + lh + lt);
    if (!it)
        return NULL;
    it->expires_ms = l->expires_ms;
    it->disabled = (uint8_t)l->disabled;
    memcpy(it->code, l->code, sizeof it->code);
    it->ref = (uint16_t)lc;
    it->subject = (uint16_t)(lc + lr);
    it->channel = (uint16_t)(lc + lr + ls);
    it->to = (uint16_t)(lc + lr + ls + lh);
    memcpy(it->s, l->campaign, lc);
    memcpy(it->s + it->ref, l->ref, lr);
    memcpy(it->s + it->subject, l->subject, ls);
    memcpy(it->s + it->channel, l->channel, lh);
    memcpy(it->s + it->to, l->to, lt);
    return it;
}

/* Returns the bytes an item takes; cannot fail. */
static size_t item_bytes(const item *it)
{
    return sizeof *it + it->to + strlen(it->s + it->to) + 1;
}

/* Puts an item in t, replacing the one of the same code. Returns 0, or -1
 * out of memory (the item is freed). */
static int table_put(table *t, item *it)
{
    long i = table_find(t, it->code, strlen(it->code));
    if (i >= 0) {
        t->bytes += item_bytes(it) - item_bytes(t->items[i]);
        free(t->items[i]);
        t->items[i] = it;
        return 0;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        item **p = realloc(t->items, cap * sizeof *p);
        if (!p)
            goto fail;
        t->items = p;
        t->cap = cap;
    }
    if (proto_htab_add(&t->idx, proto_hash64(it->code, strlen(it->code)), (uint32_t)t->n) < 0)
        goto fail;
    t->items[t->n++] = it;
    t->bytes += item_bytes(it);
    return 0;
fail:
    free(it);
    return -1;
}

/* ---------------------------------------------------------------- lookups */

/* Looks a code up without blocking on Redis. Returns what it found. */
coll_link_find coll_links_get(coll_links *l, const char *code, size_t len, int64_t now_ms,
                              proto_link *out)
{
    coll_link_find r = COLL_LINK_UNKNOWN;
    if (!l)
        return r;
    pthread_rwlock_rdlock(&l->lock);
    long i = l->t ? table_find(l->t, code, len) : -1;
    if (i >= 0) {
        const item *it = l->t->items[i];
        memset(out, 0, offsetof(proto_link, to));
        memcpy(out->code, it->code, sizeof out->code);
        snprintf(out->campaign, sizeof out->campaign, "%s", it->s);
        snprintf(out->ref, sizeof out->ref, "%s", it->s + it->ref);
        snprintf(out->subject, sizeof out->subject, "%s", it->s + it->subject);
        snprintf(out->channel, sizeof out->channel, "%s", it->s + it->channel);
        snprintf(out->to, sizeof out->to, "%s", it->s + it->to);
        out->name[0] = out->email[0] = 0;
        out->disabled = it->disabled;
        out->expires_ms = it->expires_ms;
        r = proto_link_state_at(out, now_ms) == PROTO_LINK_ACTIVE ? COLL_LINK_FOUND : COLL_LINK_GONE;
    }
    pthread_rwlock_unlock(&l->lock);
    if (r != COLL_LINK_UNKNOWN)
        return r;
    /* not known: the thread fetches it, so the next request finds it */
    pthread_mutex_lock(&l->qlock);
    int queued = 0;
    int64_t now_mono = sys_mono_ms();
    for (int k = 0; k < ABSENT_MAX && !queued; k++)
        queued = l->absent_until[k] > now_mono && strncmp(l->absent[k], code, len) == 0 &&
                 !l->absent[k][len];
    for (int k = 0; k < l->nq && !queued; k++)
        queued = strncmp(l->queue[k], code, len) == 0 && !l->queue[k][len];
    if (!queued && l->nq < QUEUE_MAX) {
        memcpy(l->queue[l->nq], code, len);
        l->queue[l->nq++][len] = 0;
        queued = -1;
    }
    pthread_mutex_unlock(&l->qlock);
    if (queued < 0 && write(l->wake[1], "q", 1) < 0 && errno != EAGAIN)
        sys_warn("links: cannot wake the link thread", "error=%s", strerror(errno));
    return r;
}

/* Returns the links held and their bytes. */
size_t coll_links_count(coll_links *l, size_t *bytes)
{
    if (!l) {
        if (bytes)
            *bytes = 0;
        return 0;
    }
    pthread_rwlock_rdlock(&l->lock);
    size_t n = l->t ? l->t->n : 0;
    if (bytes)
        *bytes = l->t ? l->t->bytes + l->t->cap * sizeof(item *) +
                            l->t->idx.cap * (sizeof(uint64_t) + sizeof(uint32_t)) : 0;
    pthread_rwlock_unlock(&l->lock);
    return n;
}

/* Returns the full loads completed. */
uint64_t coll_links_loads(coll_links *l)
{
    return l ? atomic_load(&l->loads) : 0;
}

/* ---------------------------------------------------------------- Redis */

/* Marks Redis unavailable after a failure (one line per outage) and closes both connections. */
static void redis_down(coll_links *l, const char *why)
{
    char q[200];
    if (!l->down)
        sys_warn("links: redis unavailable, serving the links held", "links=%zu error=%s",
                 coll_links_count(l, NULL), proto_logfmt_quote(q, sizeof q, why, strlen(why)));
    l->down = 1;
    l->subscribed = 0;
    sys_redis_close(l->cmd);
    sys_redis_close(l->sub);
    l->backoff_ms = l->backoff_ms ? (l->backoff_ms * 2 > 2000 ? 2000 : l->backoff_ms * 2) : 100;
    l->next_connect = sys_mono_ms() + l->backoff_ms;
}

/* Parses an HGETALL reply of code into a new item. Returns it; NULL if the
 * link does not exist, or is malformed (*malformed set, logged), or out of
 * memory (*oom set). */
static item *item_of(const char *code, const redisReply *r, int *oom, int *malformed)
{
    const char *names[32], *values[32];
    size_t nl[32], vl[32];
    proto_link lk;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0)
        return NULL;
    int n = sys_redis_pairs(r, names, nl, values, vl, 32);
    if (proto_link_from_fields(&lk, code, n, names, nl, values, vl) < 0) {
        sys_warn("links: a malformed link answers 410", "code=%s", code);
        *malformed = 1;
        return NULL;
    }
    item *it = item_new(&lk);
    *oom = !it;
    return it;
}

typedef struct {
    table *t;
    char code[PROTO_LINK_CODE_MAX + 1];
    int oom;
} load_arg;

/* Adds one link of a full load to the new table (sys_redis_handler). Returns 0. */
static int on_link(void *arg, redisReply *reply, size_t index)
{
    load_arg *a = arg;
    int malformed = 0;
    (void)index;
    item *it = item_of(a->code, reply, &a->oom, &malformed);
    if (it && table_put(a->t, it) < 0)
        a->oom = 1;
    freeReplyObject(reply);
    return 0;
}

/* Reads every link into a new table and makes it current. Returns 0, or -1
 * on a Redis failure (connections closed) or out of memory. */
static int full_load(coll_links *l)
{
    int64_t t0 = sys_mono_ms();
    redisReply *codes = sys_redis_cmd(l->cmd, "ZRANGE %s 0 -1", l->key);
    table *t = calloc(1, sizeof *t);
    load_arg *args = calloc(BATCH, sizeof *args);
    int rc = -1;
    if (!codes) {
        redis_down(l, sys_redis_err(l->cmd));
        goto done;
    }
    if (!t || !args || codes->type != REDIS_REPLY_ARRAY)
        goto done;
    for (size_t at = 0; at < codes->elements; at += BATCH) {
        size_t n = codes->elements - at < BATCH ? codes->elements - at : BATCH;
        for (size_t i = 0; i < n; i++) {
            const redisReply *c = codes->element[at + i];
            char key[PROTO_KEY_MAX];
            args[i].t = t;
            args[i].code[0] = 0;
            if (c->type != REDIS_REPLY_STRING || !proto_link_code_valid(c->str, c->len))
                continue;
            memcpy(args[i].code, c->str, c->len + 1);
            if (proto_key_link(key, sizeof key, l->conf->prefix, args[i].code) < 0)
                continue;
            if (sys_redis_sendf(l->cmd, on_link, &args[i], "HGETALL %s", key) < 0) {
                redis_down(l, "cannot queue a command");
                goto done;
            }
        }
        if (sys_redis_run(l->cmd, 0) < 0) {
            redis_down(l, sys_redis_err(l->cmd));
            goto done;
        }
        for (size_t i = 0; i < n; i++)
            if (args[i].oom)
                goto done;
    }
    pthread_rwlock_wrlock(&l->lock);
    table *old = l->t;
    l->t = t;
    pthread_rwlock_unlock(&l->lock);
    table_free(old);
    t = NULL;
    if (l->down)            /* one outage, one line: over once everything is read again */
        sys_info("links: redis available again", "links=%zu", (size_t)codes->elements);
    l->down = 0;
    if (atomic_fetch_add(&l->loads, 1) == 0)
        sys_info("links: loaded", "links=%zu ms=%lld", (size_t)codes->elements,
                 (long long)(sys_mono_ms() - t0));
    rc = 0;
done:
    if (rc < 0 && sys_redis_connected(l->cmd) && codes)
        sys_error("links: full load failed (out of memory)", NULL);
    if (codes)
        freeReplyObject(codes);
    table_free(t);
    free(args);
    return rc;
}

/* Fetches one code into the current table. Returns 0 (also when it does
 * not exist), or -1 on a Redis failure. */
static int fetch_one(coll_links *l, const char *code)
{
    char key[PROTO_KEY_MAX];
    int oom = 0;
    if (proto_key_link(key, sizeof key, l->conf->prefix, code) < 0)
        return 0;
    redisReply *r = sys_redis_cmd(l->cmd, "HGETALL %s", key);
    if (!r) {
        redis_down(l, sys_redis_err(l->cmd));
        return -1;
    }
    int malformed = 0;
    item *it = item_of(code, r, &oom, &malformed);
    freeReplyObject(r);
    if (it) {
        pthread_rwlock_wrlock(&l->lock);
        if (!l->t)
            l->t = calloc(1, sizeof *l->t);
        int bad = !l->t || table_put(l->t, it) < 0;
        pthread_rwlock_unlock(&l->lock);
        if (bad)
            sys_error("links: out of memory", "code=%s", code);
    } else if (malformed) {     /* never the old target of a record that went bad */
        pthread_rwlock_wrlock(&l->lock);
        long i = l->t ? table_find(l->t, code, strlen(code)) : -1;
        if (i >= 0)
            l->t->items[i]->disabled = 1;
        pthread_rwlock_unlock(&l->lock);
    } else if (!oom) {          /* not there: asked again only after a while */
        pthread_mutex_lock(&l->qlock);
        int k = l->nabsent++ % ABSENT_MAX;
        memcpy(l->absent[k], code, sizeof l->absent[k]);
        l->absent_until[k] = sys_mono_ms() + ABSENT_MS;
        pthread_mutex_unlock(&l->qlock);
    }
    return 0;
}

/* Connects both connections and subscribes. Returns 0, or -1 (down). */
static int connect_all(coll_links *l)
{
    if ((!sys_redis_connected(l->cmd) && sys_redis_connect(l->cmd) < 0) ||
        (!sys_redis_connected(l->sub) && sys_redis_connect(l->sub) < 0)) {
        redis_down(l, sys_redis_err(sys_redis_connected(l->cmd) ? l->sub : l->cmd));
        return -1;
    }
    redisReply *r = sys_redis_cmd(l->sub, "SUBSCRIBE %s", l->key);
    if (!r) {
        redis_down(l, sys_redis_err(l->sub));
        return -1;
    }
    freeReplyObject(r);
    l->subscribed = 1;
    l->backoff_ms = 0;
    l->next_full = 0;       /* what changed while unsubscribed: a full load now, which ends the outage */
    return 0;
}

/* Reads the published changes waiting on the subscription and fetches
 * each code. Returns 0, or -1 on a Redis failure. */
static int read_changes(coll_links *l)
{
    redisContext *c = sys_redis_context(l->sub);
    void *reply = NULL;
    if (!c || redisBufferRead(c) != REDIS_OK) {
        redis_down(l, c && c->errstr[0] ? c->errstr : "subscription lost");
        return -1;
    }
    while (redisGetReplyFromReader(c, &reply) == REDIS_OK && reply) {
        redisReply *m = reply;
        if (m->type == REDIS_REPLY_ARRAY && m->elements == 3 && m->element[2]->type == REDIS_REPLY_STRING &&
            proto_link_code_valid(m->element[2]->str, m->element[2]->len) &&
            fetch_one(l, m->element[2]->str) < 0) {
            freeReplyObject(m);
            return -1;
        }
        freeReplyObject(m);
        reply = NULL;
    }
    return 0;
}

/* Fetches the codes requests asked for. Returns 0, or -1 on a Redis failure. */
static int drain_queue(coll_links *l)
{
    char q[QUEUE_MAX][PROTO_LINK_CODE_MAX + 1];
    pthread_mutex_lock(&l->qlock);
    int n = l->nq;
    memcpy(q, l->queue, sizeof q[0] * (size_t)n);
    l->nq = 0;
    pthread_mutex_unlock(&l->qlock);
    for (int i = 0; i < n; i++)
        if (fetch_one(l, q[i]) < 0)
            return -1;
    return 0;
}

/* Keeps the table current until stopped; returns NULL. */
static void *links_main(void *arg)
{
    coll_links *l = arg;
    char buf[64];
    while (!atomic_load(&l->stop)) {
        int64_t now = sys_mono_ms();
        if (!l->subscribed && now >= l->next_connect)
            connect_all(l);
        if (l->subscribed && now >= l->next_full) {
            int ok = full_load(l) == 0;
            l->next_full = now + (ok ? (int64_t)l->conf->link_refresh_s * 1000 : 1000);
        }
        if (l->subscribed)
            drain_queue(l);     /* takes the queue's lock: nothing read without it */
        struct pollfd p[2] = {{l->wake[0], POLLIN, 0}, {-1, POLLIN, 0}};
        redisContext *c = l->subscribed ? sys_redis_context(l->sub) : NULL;
        if (c)
            p[1].fd = c->fd;
        if (poll(p, 2, SLICE_MS) <= 0)
            continue;
        if (p[0].revents)
            while (read(l->wake[0], buf, sizeof buf) > 0)
                ;
        if (c && p[1].revents && l->subscribed)
            read_changes(l);
    }
    return NULL;
}

/* Starts the table and its thread. Returns it, or NULL (logged). */
coll_links *coll_links_new(const proto_conf *conf)
{
    coll_links *l = calloc(1, sizeof *l);
    int ms = conf->redis_timeout_ms > 0 ? conf->redis_timeout_ms : 2000;
    if (!l || pipe(l->wake) < 0) {
        sys_error("links: cannot start", "error=%s", l ? strerror(errno) : "out of memory");
        free(l);
        return NULL;
    }
    l->conf = conf;
    atomic_init(&l->stop, 0);
    atomic_init(&l->loads, 0);
    pthread_rwlock_init(&l->lock, NULL);
    pthread_mutex_init(&l->qlock, NULL);
    fcntl(l->wake[0], F_SETFL, O_NONBLOCK);
    fcntl(l->wake[1], F_SETFL, O_NONBLOCK);
    if (proto_key_links(l->key, sizeof l->key, conf->prefix) < 0 ||
        !(l->cmd = sys_redis_new(conf->redis, ms, ms + 500)) ||
        !(l->sub = sys_redis_new(conf->redis, ms, ms + 500)) ||
        pthread_create(&l->th, NULL, links_main, l) != 0) {
        sys_error("links: cannot start the link thread", NULL);
        sys_redis_free(l->cmd);
        sys_redis_free(l->sub);
        close(l->wake[0]);
        close(l->wake[1]);
        free(l);
        return NULL;
    }
    return l;
}

/* Stops the thread and frees everything; NULL is a no-op. */
void coll_links_free(coll_links *l)
{
    if (!l)
        return;
    atomic_store(&l->stop, 1);
    pthread_join(l->th, NULL);
    sys_redis_free(l->cmd);
    sys_redis_free(l->sub);
    table_free(l->t);
    pthread_rwlock_destroy(&l->lock);
    pthread_mutex_destroy(&l->qlock);
    close(l->wake[0]);
    close(l->wake[1]);
    free(l);
}
