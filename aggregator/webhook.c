/* webhook.c: the webhook delivery thread — Redis connection, consumer group, retry list. */
#include "webhook.h"
#include "clock.h"
#include "redis.h"
#include "webhook_int.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "keys.h"
#include "schema.h"
#include "log.h"

#define WH_GROUP "webhook"
#define WH_POST_TIMEOUT_MS 5000
#define WH_READ_COUNT 50
#define WH_CLAIM_IDLE_MS 30000
#define WH_CLAIM_EVERY_MS 10000
#define WH_RETRY_MIN_MS 1000
#define WH_RETRY_MAX_MS 60000
#define WH_RETRY_CAP 10000      /* entries held for retry before reading stops */

/* ---------------------------------------------------------------- delivery thread */

typedef struct {
    char *id, *url;         /* url NULL until resolved */
    int n;
    char **names, **values;
    int delivered;          /* posted 2xx, XACK still owed */
    unsigned attempts;
    int64_t next_at, backoff_ms;
} wh_item;

struct agg_webhook {
    const proto_conf *conf;
    agg_metrics *m;
    pthread_t th;
    atomic_int stop;
    sys_redis *r;               /* the thread's own connection */
    char key[PROTO_KEY_MAX], consumer[128];
    int down;
    int64_t backoff_ms, next_connect, next_claim, next_touch;
    int pending_done;
    char pending_from[64], claim_cursor[64];
    wh_item **items;        /* held for retry, in stream order */
    size_t nitems, capitems;
};

/* Frees an item; NULL is a no-op. */
static void item_free(wh_item *it)
{
    if (!it)
        return;
    for (int i = 0; i < it->n; i++) {
        free(it->names[i]);
        free(it->values[i]);
    }
    free(it->names);
    free(it->values);
    free(it->id);
    free(it->url);
    free(it);
}

/* Copies a stream entry (id, flat field array). Returns it, or NULL out of memory. */
static wh_item *item_new(const char *id, const redisReply *f)
{
    wh_item *it = calloc(1, sizeof *it);
    size_t n = f->elements / 2;
    if (!it || !(it->id = strdup(id)) || !(it->names = calloc(n + 1, sizeof(char *))) ||
        !(it->values = calloc(n + 1, sizeof(char *))))
        goto fail;
    for (size_t i = 0; i < n; i++) {
        const redisReply *k = f->element[2 * i], *v = f->element[2 * i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        it->names[it->n] = strdup(k->str);
        it->values[it->n] = strdup(v->str);
        it->n++;
        if (!it->names[it->n - 1] || !it->values[it->n - 1])
            goto fail;
    }
    return it;
fail:
    item_free(it);
    return NULL;
}

/* Returns the item held with this id, or NULL. */
static wh_item *item_find(const agg_webhook *w, const char *id)
{
    for (size_t i = 0; i < w->nitems; i++)
        if (strcmp(w->items[i]->id, id) == 0)
            return w->items[i];
    return NULL;
}

/* Appends an item to the retry list. Returns 0, or -1 out of memory. */
static int item_hold(agg_webhook *w, wh_item *it)
{
    if (w->nitems == w->capitems) {
        size_t cap = w->capitems ? w->capitems * 2 : 16;
        wh_item **p = realloc(w->items, cap * sizeof *p);
        if (!p)
            return -1;
        w->items = p;
        w->capitems = cap;
    }
    w->items[w->nitems++] = it;
    return 0;
}

/* Removes and frees item i of the retry list; cannot fail. */
static void item_drop(agg_webhook *w, size_t i)
{
    item_free(w->items[i]);
    memmove(w->items + i, w->items + i + 1, (w->nitems - i - 1) * sizeof *w->items);
    w->nitems--;
}

/* Writes a logfmt-safe copy of s into out; returns out. */
static const char *q(char *out, size_t cap, const char *s)
{
    return proto_logfmt_quote(out, cap, s ? s : "", s ? strlen(s) : 0);
}

/* Drops the Redis connection after a failure and schedules a reconnect; cannot fail. */
static void redis_drop(agg_webhook *w, const char *why)
{
    char qw[256];
    if (!w->down)
        sys_warn("webhook: redis unavailable, reconnecting", "error=%s", q(qw, sizeof qw, why));
    w->down = 1;
    sys_redis_close(w->r);
    w->backoff_ms = w->backoff_ms ? (w->backoff_ms * 2 > 5000 ? 5000 : w->backoff_ms * 2) : 100;
    w->next_connect = sys_mono_ms() + w->backoff_ms;
}

/* Checks a reply of the Redis layer: a failure (transport or error reply)
 * drops the connection, so the thread backs off and reconnects. Returns r,
 * or NULL. */
static redisReply *checked(agg_webhook *w, redisReply *r)
{
    if (!r)
        redis_drop(w, sys_redis_err(w->r));
    return r;
}

/* Connects to Redis, authenticates, selects the db and creates the group.
 * Returns 0, or -1 (connection dropped, reconnect scheduled). */
static int redis_connect(agg_webhook *w)
{
    redisReply *r = NULL;
    if (sys_redis_connect(w->r) < 0) {
        redis_drop(w, sys_redis_err(w->r));
        return -1;
    }
    r = sys_redis_cmd(w->r, "XGROUP CREATE %s %s $ MKSTREAM", w->key, WH_GROUP);
    if (!r && sys_redis_last(w->r) == SYS_REDIS_REPLY &&
        strncmp(sys_redis_err(w->r), "BUSYGROUP", 9) == 0)
        r = sys_redis_cmd(w->r, "PING");
    if (!(r = checked(w, r)))
        return -1;
    freeReplyObject(r);
    if (w->down)
        sys_info("webhook: redis available again", NULL);
    w->down = 0;
    w->backoff_ms = 0;
    w->pending_done = 0;
    snprintf(w->pending_from, sizeof w->pending_from, "0");
    return 0;
}

/* Acknowledges one entry. Returns 0, or -1 on a Redis failure (dropped). */
static int xack(agg_webhook *w, const char *id)
{
    redisReply *r = checked(w, sys_redis_cmd(w->r, "XACK %s %s %s", w->key, WH_GROUP, id));
    if (!r)
        return -1;
    freeReplyObject(r);
    return 0;
}

/* Sets it->url from its campaign's cfg or the default. Returns 0 (url may
 * stay NULL: none configured), or -1 on a Redis or memory failure. */
static int resolve_url(agg_webhook *w, wh_item *it)
{
    const char *c = agg_webhook_field(it->n, (const char *const *)it->names,
                                      (const char *const *)it->values, "campaign");
    char key[PROTO_KEY_MAX];
    const char *url = w->conf->webhook;
    redisReply *r = NULL;
    if (c && *c && proto_key_of(key, sizeof key, w->conf->prefix, c, PROTO_CK_CFG) >= 0) {
        if (!(r = checked(w, sys_redis_cmd(w->r, "HGET %s " PROTO_CFG_WEBHOOK, key))))
            return -1;
        if (r->type == REDIS_REPLY_STRING && r->len > 0)
            url = r->str;
    }
    it->url = *url ? strdup(url) : NULL;
    int bad = *url && !it->url;
    if (r)
        freeReplyObject(r);
    return bad ? -1 : 0;
}

/* Posts one item. Returns 1 when it is done (delivered and acked, or
 * undeliverable), 0 when it failed (retry scheduled) or its XACK is owed,
 * -1 on a Redis failure. */
static int attempt(agg_webhook *w, wh_item *it)
{
    const char *const *nm = (const char *const *)it->names, *const *vl = (const char *const *)it->values;
    char small[4096], *body = small, err[256], qe[300], qh[300], qc[200], qk[64];
    long len = agg_webhook_body(it->n, nm, vl, small, sizeof small);
    wh_url u;
    const char *host = agg_http_url_parse(it->url, &u, err, sizeof err) == 0 ? u.host : "?";
    q(qh, sizeof qh, host);
    q(qc, sizeof qc, agg_webhook_field(it->n, nm, vl, "campaign"));
    q(qk, sizeof qk, agg_webhook_field(it->n, nm, vl, "kind"));
    if (len < 0 && (body = malloc(1 << 20)) != NULL)
        len = agg_webhook_body(it->n, nm, vl, body, 1 << 20);
    if (len < 0) {
        sys_error("webhook: alert too large to send, dropped", "id=%s kind=%s campaign=%s",
                    it->id, qk, qc);
        agg_inc(w->m->alerts_failed);
        if (body != small)
            free(body);
        return xack(w, it->id) < 0 ? -1 : 1;
    }
    int st = agg_http_post(it->url, body, (size_t)len, WH_POST_TIMEOUT_MS, &w->stop, err, sizeof err);
    if (body != small)
        free(body);
    it->attempts++;
    if (st >= 200 && st < 300) {
        agg_inc(w->m->alerts_sent);
        sys_info("webhook: alert sent", "id=%s kind=%s campaign=%s host=%s status=%d attempts=%u",
                   it->id, qk, qc, qh, st, it->attempts);
        it->delivered = 1;
        return xack(w, it->id) < 0 ? -1 : 1;
    }
    if (st < 0 && atomic_load(&w->stop))
        return 0;       /* interrupted by shutdown: not a failure of the receiver */
    agg_inc(w->m->alerts_failed);
    it->backoff_ms = it->backoff_ms ? it->backoff_ms * 2 : WH_RETRY_MIN_MS;
    if (it->backoff_ms > WH_RETRY_MAX_MS)
        it->backoff_ms = WH_RETRY_MAX_MS;
    it->next_at = sys_mono_ms() + it->backoff_ms;
    if (st >= 0)
        sys_warn("webhook: alert not accepted", "id=%s kind=%s campaign=%s host=%s status=%d "
                   "attempts=%u retry_in_ms=%lld", it->id, qk, qc, qh, st, it->attempts,
                   (long long)it->backoff_ms);
    else
        sys_warn("webhook: alert not sent", "id=%s kind=%s campaign=%s host=%s error=%s "
                   "attempts=%u retry_in_ms=%lld", it->id, qk, qc, qh, q(qe, sizeof qe, err),
                   it->attempts, (long long)it->backoff_ms);
    return 0;
}

/* Reports whether an item held for retry goes to url; cannot fail. */
static int url_busy(const agg_webhook *w, const char *url)
{
    for (size_t i = 0; i < w->nitems; i++)
        if (strcmp(w->items[i]->url, url) == 0)
            return 1;
    return 0;
}

/* Handles entries ([id, fields] pairs) of a read or claim; records the last
 * id in last (may be NULL). Returns how many there were, or -1 on a Redis failure. */
static int take_entries(agg_webhook *w, const redisReply *arr, char *last, size_t cap)
{
    int seen = 0;
    for (size_t i = 0; arr && arr->type == REDIS_REPLY_ARRAY && i < arr->elements; i++) {
        const redisReply *e = arr->element[i];
        if (atomic_load(&w->stop))
            return seen;
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        const char *id = e->element[0]->str;
        const redisReply *f = e->element[1];
        seen++;
        if (last)
            snprintf(last, cap, "%s", id);
        if (item_find(w, id))
            continue;       /* already held for retry */
        if (f->type != REDIS_REPLY_ARRAY) {
            if (xack(w, id) < 0)    /* trimmed from the stream: nothing to send */
                return -1;
            continue;
        }
        wh_item *it = item_new(id, f);
        if (!it || resolve_url(w, it) < 0) {
            item_free(it);
            return -1;
        }
        int rc = !it->url ? (xack(w, id) < 0 ? -1 : 1) : url_busy(w, it->url) ? 0 : attempt(w, it);
        if ((rc == 0 || it->delivered) && rc != 1 && item_hold(w, it) == 0) {
            if (rc < 0)
                return -1;      /* posted, XACK owed: held so it is not posted twice */
            continue;
        }
        item_free(it);
        if (rc <= 0)
            return -1;
    }
    return seen;
}

/* Retries the held items that are due, the oldest first per URL. Returns 0,
 * or -1 on a Redis failure. */
static int run_due(agg_webhook *w)
{
    const char **blocked = w->nitems ? calloc(w->nitems, sizeof *blocked) : NULL;
    size_t nb = 0;
    int rc = 0;
    if (w->nitems && !blocked)
        return 0;
    for (size_t i = 0; i < w->nitems && !atomic_load(&w->stop);) {
        wh_item *it = w->items[i];
        int is_blocked = 0;
        for (size_t k = 0; k < nb && !is_blocked; k++)
            is_blocked = strcmp(blocked[k], it->url) == 0;
        if (it->delivered) {
            if ((rc = xack(w, it->id)) < 0)
                break;
            item_drop(w, i);
            continue;
        }
        if (is_blocked) {
            i++;
            continue;
        }
        int r = it->next_at <= sys_mono_ms() ? attempt(w, it) : 0;
        if (r < 0) {
            rc = -1;
            break;
        }
        if (r == 1) {
            item_drop(w, i);
            continue;
        }
        blocked[nb++] = it->url;
        i++;
    }
    free(blocked);
    return rc;
}

/* Keeps the held items' entries ours (resets their idle time) so no other
 * consumer claims them. Returns 0, or -1 on a Redis failure. */
static int touch_held(agg_webhook *w)
{
    for (size_t at = 0; at < w->nitems; at += 100) {
        size_t n = w->nitems - at < 100 ? w->nitems - at : 100;
        const char *argv[106];
        int argc = 0;
        argv[argc++] = "XCLAIM";
        argv[argc++] = w->key;
        argv[argc++] = WH_GROUP;
        argv[argc++] = w->consumer;
        argv[argc++] = "0";
        for (size_t i = 0; i < n; i++)
            argv[argc++] = w->items[at + i]->id;
        argv[argc++] = "JUSTID";
        redisReply *r = checked(w, sys_redis_cmdv(w->r, argc, argv, NULL));
        if (!r)
            return -1;
        freeReplyObject(r);
    }
    return 0;
}

/* Returns the entries of a one-stream XREADGROUP reply, or NULL if none. */
static const redisReply *read_entries(const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1)
        return NULL;
    const redisReply *st = r->element[0];
    return st->type == REDIS_REPLY_ARRAY && st->elements == 2 ? st->element[1] : NULL;
}

/* Runs one round: retries, own pending entries, claims, then new entries.
 * Returns 0, or -1 on a Redis failure. */
static int step(agg_webhook *w)
{
    redisReply *r;
    int64_t now = sys_mono_ms(), block = 500;
    if (run_due(w) < 0)
        return -1;
    if (!w->pending_done) {
        r = checked(w, sys_redis_cmd(w->r, "XREADGROUP GROUP %s %s COUNT %d STREAMS %s %s",
                                    WH_GROUP, w->consumer, WH_READ_COUNT, w->key, w->pending_from));
        if (!r)
            return -1;
        int n = take_entries(w, read_entries(r), w->pending_from, sizeof w->pending_from);
        freeReplyObject(r);
        w->pending_done = n == 0;
        return n < 0 ? -1 : 0;
    }
    if (now >= w->next_touch && w->nitems) {
        if (touch_held(w) < 0)
            return -1;
        w->next_touch = now + WH_CLAIM_EVERY_MS;
    }
    if (now >= w->next_claim && w->nitems < WH_RETRY_CAP) {
        r = checked(w, sys_redis_cmd(w->r, "XAUTOCLAIM %s %s %s %d %s COUNT %d", w->key, WH_GROUP,
                                    w->consumer, WH_CLAIM_IDLE_MS, w->claim_cursor, WH_READ_COUNT));
        if (!r)
            return -1;
        int n = r->type == REDIS_REPLY_ARRAY && r->elements >= 2
                    ? take_entries(w, r->element[1], NULL, 0) : 0;
        int more = n >= 0 && r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
                   r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "0-0") != 0;
        snprintf(w->claim_cursor, sizeof w->claim_cursor, "%s", more ? r->element[0]->str : "0-0");
        freeReplyObject(r);
        if (n > 0)
            sys_info("webhook: claimed alerts of a dead consumer", "count=%d", n);
        w->next_claim = more ? now : now + WH_CLAIM_EVERY_MS;
        return n < 0 ? -1 : 0;
    }
    for (size_t i = 0; i < w->nitems; i++) {
        int64_t wait = w->items[i]->delivered ? 1 : w->items[i]->next_at - now;
        block = wait < block ? wait : block;
    }
    block = block < 1 ? 1 : block;
    if (w->nitems >= WH_RETRY_CAP) {
        struct timespec ts = {0, (long)(block < WH_SLICE_MS ? block : WH_SLICE_MS) * 1000000};
        nanosleep(&ts, NULL);
        return 0;
    }
    r = checked(w, sys_redis_cmd(w->r, "XREADGROUP GROUP %s %s COUNT %d BLOCK %lld STREAMS %s >",
                                WH_GROUP, w->consumer, WH_READ_COUNT, (long long)block, w->key));
    if (!r)
        return -1;
    int n = take_entries(w, read_entries(r), NULL, 0);
    freeReplyObject(r);
    return n < 0 ? -1 : 0;
}

/* Runs the delivery loop until stopped, reconnecting on failures; returns NULL. */
static void *wh_main(void *arg)
{
    agg_webhook *w = arg;
    while (!atomic_load(&w->stop)) {
        if (!sys_redis_connected(w->r) && (sys_mono_ms() < w->next_connect || redis_connect(w) < 0)) {
            struct timespec ts = {0, WH_SLICE_MS * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        step(w);
    }
    return NULL;
}

/* Starts the delivery thread. Returns NULL on failure (logged). */
agg_webhook *agg_webhook_new(const proto_conf *conf, agg_metrics *m)
{
    agg_webhook *w = calloc(1, sizeof *w);
    char host[64] = "localhost";
    if (!w) {
        sys_error("webhook: out of memory", NULL);
        return NULL;
    }
    w->conf = conf;
    w->m = m;
    atomic_init(&w->stop, 0);
    snprintf(w->claim_cursor, sizeof w->claim_cursor, "0-0");
    if (proto_key_alerts(w->key, sizeof w->key, conf->prefix) < 0) {
        sys_error("webhook: alerts key too long", NULL);
        free(w);
        return NULL;
    }
    if (conf->consumer[0]) {
        snprintf(w->consumer, sizeof w->consumer, "%s", conf->consumer);
    } else {
        gethostname(host, sizeof host - 1);
        snprintf(w->consumer, sizeof w->consumer, "%s-%ld", host, (long)getpid());
    }
    int ms = conf->redis_timeout_ms > 0 ? conf->redis_timeout_ms : 2000;
    if (!(w->r = sys_redis_new(conf->redis, ms, ms + 500))) {
        sys_error("webhook: out of memory", NULL);
        free(w);
        return NULL;
    }
    redis_connect(w);   /* the group exists before the first alert, if Redis is up */
    if (pthread_create(&w->th, NULL, wh_main, w) != 0) {
        sys_error("webhook: cannot start the delivery thread", NULL);
        sys_redis_free(w->r);
        free(w);
        return NULL;
    }
    return w;
}

/* Stops and joins the thread, then frees everything; NULL is a no-op. */
void agg_webhook_free(agg_webhook *w)
{
    if (!w)
        return;
    atomic_store(&w->stop, 1);
    pthread_join(w->th, NULL);
    for (size_t i = 0; i < w->nitems; i++)
        item_free(w->items[i]);
    free(w->items);
    sys_redis_free(w->r);
    free(w);
}
