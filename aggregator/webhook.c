/* webhook.c: the alert delivery thread — Redis connection, consumer group, and each alert's channels (webhook, e-mail) sent side by side and retried. */
#include "webhook.h"
#include "alert_format.h"
#include "clock.h"
#include "redis.h"
#include "webhook_int.h"

#include <curl/curl.h>
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
#define WH_MAIL_TIMEOUT_MS 30000
#define WH_READ_COUNT 50
#define WH_CLAIM_IDLE_MS 30000
#define WH_CLAIM_EVERY_MS 10000
#define WH_RETRY_MIN_MS 1000
#define WH_RETRY_MAX_MS 60000
#define WH_RETRY_CAP 10000      /* entries held for retry before reading stops */
#define WH_BUSY_MS 50           /* longest Redis wait while transfers run */

/* ---------------------------------------------------------------- delivery thread */

enum { CH_HOOK, CH_MAIL, CH_N };
static const char *const ch_names[CH_N] = {"webhook", "email"};

typedef struct wh_item wh_item;

/* One channel of an alert: sent once, retried alone. */
typedef struct {
    wh_item *it;
    int kind;               /* CH_HOOK or CH_MAIL */
    char *dest;             /* URL, or the addresses; NULL: channel unused */
    int done;               /* sent */
    agg_xfer *x;            /* running transfer, or NULL */
    unsigned attempts;
    int64_t next_at, backoff_ms;
} wh_chan;

struct wh_item {
    char *id;
    int n;
    char **names, **values;
    proto_webhook_format fmt;   /* of the webhook, never auto */
    wh_chan ch[CH_N];
};

struct agg_webhook {
    const proto_conf *conf;
    agg_metrics *m;
    pthread_t th;
    atomic_int stop;
    sys_redis *r;               /* the thread's own connection */
    agg_curl *curl;             /* the thread's transfers */
    int running;                /* transfers under way */
    char key[PROTO_KEY_MAX], consumer[128], from[256];
    int down;
    int64_t backoff_ms, next_connect, next_claim, next_touch;
    int pending_done;
    char pending_from[64], claim_cursor[64];
    wh_item **items;        /* held until every channel is sent, in stream order */
    size_t nitems, capitems;
};

/* Frees an item and stops its transfers; NULL is a no-op. */
static void item_free(agg_webhook *w, wh_item *it)
{
    if (!it)
        return;
    for (int c = 0; c < CH_N; c++) {
        if (it->ch[c].x) {
            agg_xfer_free(w->curl, it->ch[c].x);
            w->running--;
        }
        free(it->ch[c].dest);
    }
    for (int i = 0; i < it->n; i++) {
        free(it->names[i]);
        free(it->values[i]);
    }
    free(it->names);
    free(it->values);
    free(it->id);
    free(it);
}

/* Copies a stream entry (id, flat field array). Returns it, or NULL out of memory. */
static wh_item *item_new(agg_webhook *w, const char *id, const redisReply *f)
{
    wh_item *it = calloc(1, sizeof *it);
    size_t n = f->elements / 2;
    if (!it || !(it->id = strdup(id)) || !(it->names = calloc(n + 1, sizeof(char *))) ||
        !(it->values = calloc(n + 1, sizeof(char *))))
        goto fail;
    for (int c = 0; c < CH_N; c++) {
        it->ch[c].it = it;
        it->ch[c].kind = c;
    }
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
    item_free(w, it);
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

/* Appends an item to the held list. Returns 0, or -1 out of memory. */
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

/* Removes and frees item i of the held list; cannot fail. */
static void item_drop(agg_webhook *w, size_t i)
{
    item_free(w, w->items[i]);
    memmove(w->items + i, w->items + i + 1, (w->nitems - i - 1) * sizeof *w->items);
    w->nitems--;
}

/* Reports whether every channel of an item is sent; cannot fail. */
static int item_sent(const wh_item *it)
{
    for (int c = 0; c < CH_N; c++)
        if (it->ch[c].dest && !it->ch[c].done)
            return 0;
    return 1;
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

/* Sets an item's channels from its campaign's cfg (webhook, webhook_format,
 * alert_email_to) or the defaults. Returns 0 (no channel may be set: none
 * configured), or -1 on a Redis or memory failure. */
static int resolve(agg_webhook *w, wh_item *it)
{
    const char *c = agg_webhook_field(it->n, (const char *const *)it->names,
                                      (const char *const *)it->values, "campaign");
    const char *url = w->conf->webhook, *to = w->conf->alert_email_to, *fmt = NULL;
    char key[PROTO_KEY_MAX], qc[200], qv[200];
    redisReply *r = NULL;
    int fmt_i = (int)w->conf->webhook_format;
    if (c && *c && proto_key_of(key, sizeof key, w->conf->prefix, c, PROTO_CK_CFG) >= 0) {
        if (!(r = checked(w, sys_redis_cmd(w->r, "HMGET %s " PROTO_CFG_WEBHOOK " "
                                           PROTO_CFG_WEBHOOK_FORMAT " " PROTO_CFG_ALERT_EMAIL_TO, key))))
            return -1;
        const redisReply *const *e = r->type == REDIS_REPLY_ARRAY && r->elements == 3
                                         ? (const redisReply *const *)r->element : NULL;
        if (e && e[0]->type == REDIS_REPLY_STRING && e[0]->len > 0)
            url = e[0]->str;
        if (e && e[1]->type == REDIS_REPLY_STRING && e[1]->len > 0)
            fmt = e[1]->str;
        if (e && e[2]->type == REDIS_REPLY_STRING && e[2]->len > 0)
            to = e[2]->str;
    }
    if (fmt && agg_alert_format_parse(fmt) < 0)
        sys_warn("webhook: unknown " PROTO_CFG_WEBHOOK_FORMAT " in a campaign's cfg, using the default",
                 "campaign=%s value=%s", q(qc, sizeof qc, c), q(qv, sizeof qv, fmt));
    else if (fmt)
        fmt_i = agg_alert_format_parse(fmt);
    it->fmt = fmt_i == PROTO_WH_AUTO ? agg_alert_detect(url) : (proto_webhook_format)fmt_i;
    if (*to && proto_conf_emails(to, 100) < 0) {
        sys_warn("webhook: malformed " PROTO_CFG_ALERT_EMAIL_TO " in a campaign's cfg, using the default",
                 "campaign=%s value=%s", q(qc, sizeof qc, c), q(qv, sizeof qv, to));
        to = w->conf->alert_email_to;
    }
    it->ch[CH_HOOK].dest = *url ? strdup(url) : NULL;
    it->ch[CH_MAIL].dest = *to ? strdup(to) : NULL;
    int bad = (*url && !it->ch[CH_HOOK].dest) || (*to && !it->ch[CH_MAIL].dest);
    if (r)
        freeReplyObject(r);
    return bad ? -1 : 0;
}

/* Writes a channel's host (webhook) or addresses (e-mail), logfmt-safe, into out; returns out. */
static const char *dest_of(char *out, size_t cap, const wh_chan *ch)
{
    char host[256] = "?";
    if (ch->kind == CH_MAIL)
        return q(out, cap, ch->dest);
    CURLU *u = curl_url();
    char *h = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, ch->dest, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK)
        snprintf(host, sizeof host, "%s", h);
    curl_free(h);
    curl_url_cleanup(u);
    return q(out, cap, host);
}

/* Records the outcome of one attempt on a channel: status 2xx (or 250 for
 * e-mail) marks it sent, anything else schedules a retry; cannot fail. */
static void finish(agg_webhook *w, wh_chan *ch, int status, const char *err)
{
    wh_item *it = ch->it;
    const char *const *nm = (const char *const *)it->names, *const *vl = (const char *const *)it->values;
    char qe[300], qh[300], qc[200], qk[64];
    int ok = ch->kind == CH_MAIL ? status == 250 : status >= 200 && status < 300;
    q(qc, sizeof qc, agg_webhook_field(it->n, nm, vl, "campaign"));
    q(qk, sizeof qk, agg_webhook_field(it->n, nm, vl, "kind"));
    dest_of(qh, sizeof qh, ch);
    ch->attempts++;
    if (ok) {
        agg_inc(w->m->alerts_sent);
        sys_info("webhook: alert sent", "id=%s channel=%s kind=%s campaign=%s %s=%s status=%d "
                 "attempts=%u", it->id, ch_names[ch->kind], qk, qc, ch->kind == CH_MAIL ? "to" : "host",
                 qh, status, ch->attempts);
        ch->done = 1;
        return;
    }
    agg_inc(w->m->alerts_failed);
    ch->backoff_ms = ch->backoff_ms ? ch->backoff_ms * 2 : WH_RETRY_MIN_MS;
    if (ch->backoff_ms > WH_RETRY_MAX_MS)
        ch->backoff_ms = WH_RETRY_MAX_MS;
    ch->next_at = sys_mono_ms() + ch->backoff_ms;
    if (status >= 0)
        sys_warn("webhook: alert not accepted", "id=%s channel=%s kind=%s campaign=%s %s=%s "
                 "status=%d attempts=%u retry_in_ms=%lld", it->id, ch_names[ch->kind], qk, qc,
                 ch->kind == CH_MAIL ? "to" : "host", qh, status, ch->attempts,
                 (long long)ch->backoff_ms);
    else
        sys_warn("webhook: alert not sent", "id=%s channel=%s kind=%s campaign=%s %s=%s error=%s "
                 "attempts=%u retry_in_ms=%lld", it->id, ch_names[ch->kind], qk, qc,
                 ch->kind == CH_MAIL ? "to" : "host", qh, q(qe, sizeof qe, err), ch->attempts,
                 (long long)ch->backoff_ms);
}

/* Starts the transfer of one channel (the body built for its format, or
 * the e-mail); a failure to start counts as a failed attempt. Returns 0,
 * or -1 out of memory (nothing started, retried later). */
static int start(agg_webhook *w, wh_chan *ch)
{
    wh_item *it = ch->it;
    char link[1200] = "", err[256] = "";
    const char *c = agg_webhook_field(it->n, (const char *const *)it->names,
                                      (const char *const *)it->values, "campaign");
    agg_alert a = {it->n, (const char *const *)it->names, (const char *const *)it->values, NULL};
    if (agg_alert_link(link, sizeof link, w->conf->dashboard_url, c) == 0)
        a.link = link;
    if (ch->kind == CH_HOOK) {
        agg_alert_msg m;
        if (agg_alert_build(it->fmt, &a, &m) < 0)
            return -1;
        ch->x = agg_xfer_post(w->curl, ch->dest, m.ctype, (const char *const *)m.hdr, m.nhdr,
                              m.body, m.len, WH_POST_TIMEOUT_MS, ch, err, sizeof err);
        agg_alert_msg_free(&m);
    } else {
        size_t len = 0;
        char *msg = agg_alert_mail(&a, it->id, w->from, ch->dest, sys_now_ms() / 1000, &len);
        if (!msg)
            return -1;
        ch->x = agg_xfer_mail(w->curl, w->conf->smtp_url, w->from, ch->dest, msg, len,
                              WH_MAIL_TIMEOUT_MS, ch, err, sizeof err);
        free(msg);
    }
    if (ch->x && agg_xfer_start(w->curl, ch->x, err, sizeof err) < 0) {
        agg_xfer_free(w->curl, ch->x);
        ch->x = NULL;
    }
    if (!ch->x) {
        finish(w, ch, -1, err);
        return 0;
    }
    w->running++;
    return 0;
}

/* Takes the finished transfers' outcomes; cannot fail. */
static void collect(agg_webhook *w)
{
    agg_xfer *x;
    int status;
    char err[512] = "";
    while ((x = agg_curl_done(w->curl, &status, err, sizeof err)) != NULL) {
        wh_chan *ch = agg_xfer_user(x);
        agg_xfer_free(w->curl, x);
        ch->x = NULL;
        w->running--;
        if (status < 0 && atomic_load(&w->stop))
            continue;   /* interrupted by shutdown: not a failure of the receiver */
        finish(w, ch, status, err);
    }
}

/* Starts the channels that are due, the oldest first per destination (a
 * newer alert to a URL or inbox waits for the older one); cannot fail. */
static void dispatch(agg_webhook *w)
{
    const wh_chan **blocked = w->nitems ? calloc(w->nitems * CH_N, sizeof *blocked) : NULL;
    size_t nb = 0;
    int64_t now = sys_mono_ms();
    if (!blocked)
        return;
    for (size_t i = 0; i < w->nitems && !atomic_load(&w->stop); i++) {
        for (int c = 0; c < CH_N; c++) {
            wh_chan *ch = &w->items[i]->ch[c];
            int is_blocked = 0;
            if (!ch->dest || ch->done)
                continue;
            for (size_t k = 0; k < nb && !is_blocked; k++)
                is_blocked = blocked[k]->kind == c && strcmp(blocked[k]->dest, ch->dest) == 0;
            if (is_blocked)
                continue;
            blocked[nb++] = ch;
            if (!ch->x && ch->next_at <= now && start(w, ch) < 0)
                goto done;
        }
    }
done:
    free(blocked);
}

/* Acknowledges the items whose every channel is sent and lets them go.
 * Returns 0, or -1 on a Redis failure. */
static int sweep(agg_webhook *w)
{
    for (size_t i = 0; i < w->nitems;) {
        if (!item_sent(w->items[i])) {
            i++;
            continue;
        }
        if (xack(w, w->items[i]->id) < 0)
            return -1;
        item_drop(w, i);
    }
    return 0;
}

/* Moves the transfers on for up to wait_ms, then starts what is due and
 * acknowledges what is sent. Returns 0, or -1 on a Redis failure. */
static int pump(agg_webhook *w, int wait_ms)
{
    agg_curl_run(w->curl, w->running ? wait_ms : 0);
    collect(w);
    dispatch(w);
    agg_curl_run(w->curl, 0);
    collect(w);
    return sys_redis_connected(w->r) ? sweep(w) : 0;
}

/* Handles entries ([id, fields] pairs) of a read or claim: each new one is
 * held and its channels started; records the last id in last (may be
 * NULL). Returns how many there were, or -1 on a Redis failure. */
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
            continue;       /* already held */
        if (f->type != REDIS_REPLY_ARRAY) {
            if (xack(w, id) < 0)    /* trimmed from the stream: nothing to send */
                return -1;
            continue;
        }
        wh_item *it = item_new(w, id, f);
        if (!it || resolve(w, it) < 0) {
            item_free(w, it);
            return -1;
        }
        if (item_sent(it)) {        /* no channel configured */
            item_free(w, it);
            if (xack(w, id) < 0)
                return -1;
            continue;
        }
        if (item_hold(w, it) < 0) {
            item_free(w, it);
            return -1;
        }
    }
    if (seen && pump(w, 0) < 0)
        return -1;
    return seen;
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

/* Runs one round: transfers, own pending entries, claims, then new
 * entries. Returns 0, or -1 on a Redis failure. */
static int step(agg_webhook *w)
{
    redisReply *r;
    int64_t now = sys_mono_ms(), block = 500;
    if (pump(w, 0) < 0)
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
    for (size_t i = 0; i < w->nitems; i++)
        for (int c = 0; c < CH_N; c++) {
            const wh_chan *ch = &w->items[i]->ch[c];
            int64_t wait = ch->dest && !ch->done && !ch->x ? ch->next_at - now : block;
            block = wait < block ? wait : block;
        }
    block = block < 1 ? 1 : block;
    if (w->running)     /* transfers under way: Redis is not waited on, curl is */
        block = block < WH_BUSY_MS ? block : WH_BUSY_MS;
    if (w->nitems >= WH_RETRY_CAP) {     /* no reading: wait for transfers or retries */
        int ms = (int)(block < WH_SLICE_MS ? block : WH_SLICE_MS);
        if (!w->running) {
            struct timespec ts = {0, ms * 1000000L};
            nanosleep(&ts, NULL);
        }
        return pump(w, ms);
    }
    if (w->running)
        r = checked(w, sys_redis_cmd(w->r, "XREADGROUP GROUP %s %s COUNT %d STREAMS %s >",
                                    WH_GROUP, w->consumer, WH_READ_COUNT, w->key));
    else
        r = checked(w, sys_redis_cmd(w->r, "XREADGROUP GROUP %s %s COUNT %d BLOCK %lld STREAMS %s >",
                                    WH_GROUP, w->consumer, WH_READ_COUNT, (long long)block, w->key));
    if (!r)
        return -1;
    int n = take_entries(w, read_entries(r), NULL, 0);
    freeReplyObject(r);
    if (n < 0)
        return -1;
    return w->running && n == 0 ? pump(w, (int)block) : 0;
}

/* Runs the delivery loop until stopped, reconnecting on failures (the
 * transfers go on meanwhile); returns NULL. */
static void *wh_main(void *arg)
{
    agg_webhook *w = arg;
    while (!atomic_load(&w->stop)) {
        if (!sys_redis_connected(w->r) && (sys_mono_ms() < w->next_connect || redis_connect(w) < 0)) {
            if (w->running) {
                pump(w, WH_SLICE_MS);
            } else {
                struct timespec ts = {0, WH_SLICE_MS * 1000000L};
                nanosleep(&ts, NULL);
            }
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
    gethostname(host, sizeof host - 1);
    if (conf->consumer[0])
        snprintf(w->consumer, sizeof w->consumer, "%s", conf->consumer);
    else
        snprintf(w->consumer, sizeof w->consumer, "%s-%ld", host, (long)getpid());
    agg_mail_from(w->from, sizeof w->from, conf);
    int ms = conf->redis_timeout_ms > 0 ? conf->redis_timeout_ms : 2000;
    if (!(w->r = sys_redis_new(conf->redis, ms, ms + 500)) || !(w->curl = agg_curl_new(&w->stop))) {
        sys_error("webhook: out of memory", NULL);
        sys_redis_free(w->r);
        free(w);
        return NULL;
    }
    redis_connect(w);   /* the group exists before the first alert, if Redis is up */
    if (pthread_create(&w->th, NULL, wh_main, w) != 0) {
        sys_error("webhook: cannot start the delivery thread", NULL);
        agg_curl_free(w->curl);
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
        item_free(w, w->items[i]);
    free(w->items);
    agg_curl_free(w->curl);
    sys_redis_free(w->r);
    free(w);
}
