/* outbox.c: the alert mover — takes the alerts the apply and alert scripts
 * raised to campaigns' outboxes (ag:c:{C}:outbox, the campaign's slot) to
 * ag:alerts (its own slot) exactly once: the move script skips entries at
 * or below the campaign's moved id, so a mover that died between the move
 * and the XDEL from the outbox never adds an alert twice (SPEC 4, Alerts). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "clock.h"
#include "log.h"
#include "resp.h"

#define MOVE_CHUNK 100              /* outbox entries moved per campaign and pass */
#define POISON_LOG_MS 10000         /* at most one line on a bad key this often */

/* One pass over the selected campaigns: their outbox pages and what
 * became of each. */
typedef struct {
    const agg *a;
    const size_t *idx;          /* indexes in a->camps */
    size_t n;
    redisReply **page;          /* XRANGE reply of each (NULL: none) */
    int *moved;                 /* entries moved (>= 0), or -1: not moved */
    size_t *call;               /* the campaign of each move call */
} pass;

/* Logs a key that refuses the move, at most once every POISON_LOG_MS;
 * never fails. */
static void log_poison(const char *campaign, const char *err)
{
    static long long last_ms;           /* the aggregator moves in one thread */
    long long now = sys_now_ms();
    if (now - last_ms < POISON_LOG_MS)
        return;
    last_ms = now;
    sys_error("alerts not moved: a key refuses the move, the alerts wait in the outbox; repair "
              "the key", "campaign=%s err=\"%s\"", campaign, err);
}

/* Keeps campaign i's outbox page; an error reply (a key of another type)
 * leaves that campaign out (logged). Returns 0, or -1 on a reply out of
 * protocol. */
static int on_page(void *arg, redisReply *rep, size_t i)
{
    pass *p = arg;
    int rc = 0;
    if (rep->type == REDIS_REPLY_ARRAY) {
        p->page[i] = rep;
        return 0;
    }
    if (rep->type == REDIS_REPLY_ERROR && !sys_redis_nodedown(rep))  /* its node away: moved later */
        log_poison(p->a->camps[p->idx[i]].name, rep->str);
    else
        rc = -1;
    freeReplyObject(rep);
    return rc;
}

/* Takes the move script's reply for the i-th campaign moved. Returns 0,
 * or -1 (logged) on NOSCRIPT or a reply out of protocol. */
static int on_move(void *arg, redisReply *rep, size_t k)
{
    pass *p = arg;
    size_t i = p->call[k];
    const char *c = p->a->camps[p->idx[i]].name;
    int rc = 0;
    if (rep->type == REDIS_REPLY_INTEGER) {
        p->moved[i] = (int)rep->integer;
    } else if (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "POISON ", 7) == 0) {
        log_poison(c, rep->str + 7);        /* nothing written: left in the outbox */
    } else {
        sys_error("move script failed", "campaign=%s err=\"%s\"", c,
                  rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
        rc = -1;
    }
    freeReplyObject(rep);
    return rc;
}

/* Takes an XDEL reply. Returns 0, or -1 on an error reply. */
static int on_del(void *arg, redisReply *rep, size_t i)
{
    (void)arg;
    (void)i;
    int ok = rep->type == REDIS_REPLY_INTEGER;
    if (!ok)
        sys_error("outbox XDEL failed", "err=\"%s\"",
                  rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
    freeReplyObject(rep);
    return ok ? 0 : -1;
}

/* Appends the move call of one campaign's page (every entry, in order) to
 * out; never fails (out->oom). */
static void move_call(const char *sha, const char *alerts, const char *moved, const char *c,
                      const redisReply *page, proto_resp *out)
{
    proto_resp args = {0};
    proto_resp_str(&args, "EVALSHA");
    proto_resp_str(&args, sha);
    proto_resp_ll(&args, AGG_MK_COUNT);
    proto_resp_str(&args, alerts);
    proto_resp_str(&args, moved);
    proto_resp_str(&args, c);
    proto_resp_str(&args, AGG_ALERTS_MAXLEN);
    for (size_t e = 0; e < page->elements; e++) {
        const redisReply *ent = page->element[e], *f = ent->element[1];
        size_t nf = f->type == REDIS_REPLY_ARRAY ? f->elements & ~(size_t)1 : 0;
        proto_resp_arg(&args, ent->element[0]->str, ent->element[0]->len);
        proto_resp_ll(&args, (long long)nf);
        for (size_t j = 0; j < nf; j++)
            proto_resp_arg(&args, f->element[j]->str, f->element[j]->len);
    }
    proto_resp_command(out, &args);
    out->oom |= args.oom;
    proto_resp_free(&args);
}

/* Appends XDEL of every entry of a page to out; never fails (out->oom). */
static void del_call(const char *outbox, const redisReply *page, proto_resp *out)
{
    proto_resp args = {0};
    proto_resp_str(&args, "XDEL");
    proto_resp_str(&args, outbox);
    for (size_t e = 0; e < page->elements; e++)
        proto_resp_arg(&args, page->element[e]->element[0]->str, page->element[e]->element[0]->len);
    proto_resp_command(out, &args);
    out->oom |= args.oom;
    proto_resp_free(&args);
}

/* Drops the entries of a page that are not [id, fields] (never written by
 * the scripts; a hand-made entry is left in the outbox); never fails. */
static void keep_entries(redisReply *page)
{
    size_t k = 0;
    for (size_t e = 0; e < page->elements; e++) {
        redisReply *ent = page->element[e];
        if (ent->type == REDIS_REPLY_ARRAY && ent->elements == 2 &&
            ent->element[0]->type == REDIS_REPLY_STRING)
            page->element[k++] = ent;
        else
            freeReplyObject(ent);
    }
    page->elements = k;
}

/* Runs one pass: reads a page of each campaign's outbox, moves the
 * non-empty ones (one script call each), then deletes from each outbox
 * what its call took or skipped. Three round trips. Returns 1 if a page
 * came back full (call again), 0 when done, -1 on a Redis failure. */
static int move_pass(agg *a, pass *p)
{
    char alerts[PROTO_KEY_MAX], moved[PROTO_KEY_MAX], key[PROTO_KEY_MAX];
    proto_resp out = {0};
    size_t calls = 0, dels = 0;
    int rc = -1, more = 0;
    if (agg_ops_move_key(alerts, sizeof alerts, a->conf.prefix, AGG_MK_ALERTS) < 0 ||
        agg_ops_move_key(moved, sizeof moved, a->conf.prefix, AGG_MK_MOVED) < 0)
        return -1;
    for (size_t i = 0; i < p->n; i++) {
        proto_resp args = {0};
        proto_key_of(key, sizeof key, a->conf.prefix, a->camps[p->idx[i]].name, PROTO_CK_OUTBOX);
        proto_resp_str(&args, "XRANGE");
        proto_resp_str(&args, key);
        proto_resp_str(&args, "-");
        proto_resp_str(&args, "+");
        proto_resp_str(&args, "COUNT");
        proto_resp_ll(&args, MOVE_CHUNK);
        proto_resp_command(&out, &args);
        out.oom |= args.oom;
        proto_resp_free(&args);
    }
    if (out.oom || sys_redis_send(a->r, out.data, out.len, p->n, on_page, p, NULL, NULL) < 0 ||
        sys_redis_flush(a->r) < 0 || sys_redis_run(a->r, 0) < 0)
        goto done;
    proto_resp_reset(&out);
    for (size_t i = 0; i < p->n; i++) {
        p->moved[i] = -1;
        if (!p->page[i])
            continue;
        keep_entries(p->page[i]);
        if (!p->page[i]->elements)
            continue;
        move_call(agg_scripts_sha(AGG_SCRIPT_MOVE), alerts, moved, a->camps[p->idx[i]].name,
                  p->page[i], &out);
        p->call[calls++] = i;
    }
    if (calls && (out.oom || sys_redis_send(a->r, out.data, out.len, calls, on_move, p, NULL, NULL) < 0 ||
                  sys_redis_flush(a->r) < 0 || sys_redis_run(a->r, 0) < 0))
        goto done;
    /* only now, each move durable in ag:alerts's slot: out of the outboxes */
    proto_resp_reset(&out);
    for (size_t i = 0; i < p->n; i++) {
        if (p->moved[i] < 0)
            continue;
        proto_key_of(key, sizeof key, a->conf.prefix, a->camps[p->idx[i]].name, PROTO_CK_OUTBOX);
        del_call(key, p->page[i], &out);
        agg_add(a->m.alerts_moved, (uint64_t)p->moved[i]);
        more |= p->page[i]->elements >= MOVE_CHUNK;     /* a refused one is not retried now */
        dels++;
    }
    if (dels && (out.oom || sys_redis_send(a->r, out.data, out.len, dels, on_del, NULL, NULL, NULL) < 0 ||
                 sys_redis_flush(a->r) < 0 || sys_redis_run(a->r, 0) < 0))
        goto done;
    rc = more;
done:
    proto_resp_free(&out);
    return rc;
}

/* Moves the outboxes of campaigns idx[0..n) (indexes in a->camps) to
 * ag:alerts, pass after pass while pages come back full. Returns 0, or -1
 * on a Redis failure (the caller drops the connection; what was not
 * deleted from an outbox is moved, or skipped, by a later call). */
int agg_outbox_move(agg *a, const size_t *idx, size_t n)
{
    int rc = 0;
    if (!n)
        return 0;
    pass p = {a, idx, n, calloc(n, sizeof(redisReply *)), calloc(n, sizeof(int)),
              calloc(n, sizeof(size_t))};
    if (!p.page || !p.moved || !p.call)
        rc = -1;
    for (int guard = 0; rc == 0 && guard < 1000; guard++) {
        memset(p.page, 0, n * sizeof *p.page);
        int more = move_pass(a, &p);
        for (size_t i = 0; i < n; i++)
            if (p.page[i])
                freeReplyObject(p.page[i]);
        if (more <= 0) {
            rc = more;
            break;
        }
    }
    free(p.page);
    free(p.moved);
    free(p.call);
    return rc;
}
